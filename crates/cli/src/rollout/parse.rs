//! Command-line values of the rollout commands: `--arm control=1.0.0:0.5`, `--namespace id:0:0.5`,
//! `--every 10m`, `--steps 5,25,50,100`, `--group attr=value`. Each error names the flag and
//! the expected shape.

use burn_edge_formats::rollout::{Arm, InterleaveArm, Namespace};

fn pair<'a>(flag: &str, text: &'a str, shape: &str) -> Result<(&'a str, &'a str), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k, v)),
        _ => Err(format!("{flag} {text:?} is not {shape}")),
    }
}

fn number(flag: &str, text: &str) -> Result<f64, String> {
    text.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| format!("{flag}: {text:?} is not a number"))
}

/// `attr=value` (`--group`, `--attr`, `--stored`).
pub fn key_value(text: &str) -> Result<(String, String), String> {
    pair("", text, "attr=value").map(|(k, v)| (k.to_string(), v.to_string()))
}

/// `name=version:weight` (an experiment arm).
pub fn weighted_arm(text: &str) -> Result<Arm, String> {
    let (name, rest) = pair("--arm", text, "name=version:weight (like control=1.0.0:0.5)")?;
    let Some((version, weight)) = rest.rsplit_once(':') else {
        return Err(format!("--arm {text:?} is not name=version:weight (like control=1.0.0:0.5)"));
    };
    Ok(Arm { name: name.into(), version: version.into(), weight: number("--arm weight", weight)? })
}

/// `name=version` (an interleave arm).
pub fn plain_arm(text: &str) -> Result<InterleaveArm, String> {
    let (name, version) = pair("--arm", text, "name=version (like a=1.0.0)")?;
    Ok(InterleaveArm { name: name.into(), version: version.into() })
}

/// `id:start:end`.
pub fn namespace(text: &str) -> Result<Namespace, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let [id, start, end] = parts[..] else {
        return Err(format!("--namespace {text:?} is not id:start:end (like mnist-exp:0:0.5)"));
    };
    Ok(Namespace { id: id.into(), range: [number("--namespace start", start)?, number("--namespace end", end)?] })
}

/// `5,25,50,100` (percentages).
pub fn percents(text: &str) -> Result<Vec<f64>, String> {
    text.split(',').map(|p| number("--steps", p)).collect()
}

/// `500ms`, `30s`, `10m`, `2h`, `1d` as milliseconds.
pub fn duration_ms(text: &str) -> Result<i64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let scale = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("--every {text:?} is not a duration (like 30s, 10m, 2h, 1d)")),
    };
    let n: i64 = digits.parse().map_err(|_| format!("--every {text:?} is not a duration (like 30s, 10m, 2h, 1d)"))?;
    n.checked_mul(scale).filter(|&ms| ms > 0).ok_or_else(|| format!("--every {text:?} must be above 0 and below 290 million years"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_or_say_the_expected_shape() {
        let arm = weighted_arm("control=1.0.0-rc.1:0.5").unwrap();
        assert_eq!((arm.name.as_str(), arm.version.as_str(), arm.weight), ("control", "1.0.0-rc.1", 0.5));
        assert!(weighted_arm("control=1.0.0").unwrap_err().contains("name=version:weight"));
        assert!(weighted_arm("b=1.1.0:half").unwrap_err().contains("\"half\" is not a number"));
        assert_eq!(plain_arm("a=1.0.0").unwrap().version, "1.0.0");
        assert!(plain_arm("a").is_err());
        assert_eq!(namespace("ns:0:0.5").unwrap().range, [0.0, 0.5]);
        assert!(namespace("ns:0").unwrap_err().contains("id:start:end"));
        assert_eq!(percents("5,25, 50,100").unwrap(), [5.0, 25.0, 50.0, 100.0]);
        assert!(percents("5,,10").is_err());
        assert_eq!(duration_ms("10m"), Ok(600_000));
        assert_eq!(duration_ms("1d"), Ok(86_400_000));
        assert!(duration_ms("10").is_err() && duration_ms("m").is_err() && duration_ms("0s").is_err() && duration_ms("-1m").is_err());
        assert_eq!(key_value("group=internal").unwrap(), ("group".into(), "internal".into()));
        assert!(key_value("group").is_err());
    }
}
