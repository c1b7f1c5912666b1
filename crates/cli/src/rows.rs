//! Model input given as values rather than images (a tabular model's features): a JSON array
//! of numbers (one example), a JSON array of such arrays (several), or CSV with one example per
//! line (a first line that is not all numbers is a header and skipped).

use std::path::Path;

use anyhow::{bail, Context, Result};

/// The examples in `path`, each exactly `per` values.
pub fn read_rows(path: &Path, per: usize) -> Result<Vec<Vec<f32>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_rows(&text, per).with_context(|| format!("{}", path.display()))
}

/// The examples in `text` (JSON or CSV, see the module docs), each exactly `per` values.
pub fn parse_rows(text: &str, per: usize) -> Result<Vec<Vec<f32>>> {
    let rows = if text.trim_start().starts_with('[') { json_rows(text)? } else { csv_rows(text)? };
    if rows.is_empty() {
        bail!("no input rows");
    }
    for (i, row) in rows.iter().enumerate() {
        if row.len() != per {
            bail!("row {} has {} values, the model takes {per} per example", i + 1, row.len());
        }
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            bail!("row {}, value {}: not a finite number", i + 1, j + 1);
        }
    }
    Ok(rows)
}

fn json_rows(text: &str) -> Result<Vec<Vec<f32>>> {
    let value: serde_json::Value = serde_json::from_str(text).context("not valid JSON")?;
    let number = |v: &serde_json::Value| v.as_f64().map(|f| f as f32).context("JSON input values must be numbers");
    let serde_json::Value::Array(items) = value else { bail!("JSON input must be an array") };
    if items.iter().all(|v| v.is_array()) && !items.is_empty() {
        items.iter().map(|row| row.as_array().into_iter().flatten().map(number).collect()).collect()
    } else {
        Ok(vec![items.iter().map(number).collect::<Result<_>>()?])
    }
}

fn csv_rows(text: &str) -> Result<Vec<Vec<f32>>> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let parsed: Result<Vec<f32>, _> = line.split(',').map(|v| v.trim().parse::<f32>()).collect();
        match parsed {
            Ok(row) => rows.push(row),
            Err(_) if i == 0 => continue, // a header
            Err(e) => bail!("line {}: {e} in {line:?}", i + 1),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_csv_rows_are_read_and_checked() {
        assert_eq!(parse_rows("[1, 2.5, -3]", 3).unwrap(), [[1.0, 2.5, -3.0]]);
        assert_eq!(parse_rows("[[1, 2], [3, 4]]", 2).unwrap(), [[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(parse_rows("a,b\n1,2\n\n3, 4\n", 2).unwrap(), [[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(parse_rows("[1, 2]", 3).unwrap_err().to_string(), "row 1 has 2 values, the model takes 3 per example");
        assert!(parse_rows("1,2\n3,x\n", 2).unwrap_err().to_string().starts_with("line 2:"));
        assert!(parse_rows("[1, \"a\"]", 2).is_err());
        assert!(parse_rows("a,b\n", 2).unwrap_err().to_string().contains("no input rows"));
    }
}
