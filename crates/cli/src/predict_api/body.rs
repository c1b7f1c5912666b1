//! A request body to flat model input: JSON (`{"inputs": [[..], ..]}` or `{"input": [..]}`) or
//! little-endian f32 bytes, checked against the model's input length and the batch maximum,
//! every value finite. Each failure names the example and value.

use burn_edge_formats::predict::{ErrorCode, PredictRequest};

use super::error::ApiError;

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Binary,
}

/// The format a `Content-Type` names (parameters such as `charset` allowed), if one we take.
pub fn format_of(content_type: &str) -> Option<Format> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Some(Format::Json)
    } else if essence.eq_ignore_ascii_case("application/octet-stream") {
        Some(Format::Binary)
    } else {
        None
    }
}

/// What the model takes, for the checks and their messages.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub architecture: &'a str,
    pub input_len: usize,
    pub max_batch: usize,
}

/// The examples of `body`, flat and back to back, and how many there are.
pub fn decode(format: Format, body: &[u8], expect: Expect<'_>) -> Result<(Vec<f32>, usize), ApiError> {
    match format {
        Format::Json => decode_json(body, expect),
        Format::Binary => decode_binary(body, expect),
    }
}

fn too_many(batch: usize, expect: Expect<'_>) -> ApiError {
    ApiError::new(ErrorCode::BatchTooLarge, format!("a batch of {batch} examples is over this server's maximum of {}", expect.max_batch))
}

fn empty() -> ApiError {
    ApiError::new(ErrorCode::EmptyBatch, "the request has no examples")
}

fn not_finite(at: String, value: f32) -> ApiError {
    let what = if value.is_nan() { "NaN" } else { "infinite (or out of f32 range)" };
    ApiError::new(ErrorCode::NotFinite, format!("{at} is {what}: every value must be a finite number"))
}

fn decode_json(body: &[u8], expect: Expect<'_>) -> Result<(Vec<f32>, usize), ApiError> {
    let request: PredictRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(ErrorCode::MalformedJson, format!("not a predict request ({{\"inputs\": [[numbers]]}} or {{\"input\": [numbers]}}): {e}"))
    })?;
    let (rows, single) = match request {
        PredictRequest { inputs: Some(rows), input: None } => (rows, false),
        PredictRequest { inputs: None, input: Some(row) } => (vec![row], true),
        PredictRequest { inputs: Some(_), input: Some(_) } => {
            return Err(ApiError::new(ErrorCode::MalformedJson, "give either \"inputs\" (a batch) or \"input\" (one example), not both"))
        }
        PredictRequest { inputs: None, input: None } => {
            return Err(ApiError::new(ErrorCode::MalformedJson, "the request has neither \"inputs\" (a batch) nor \"input\" (one example)"))
        }
    };
    if rows.is_empty() {
        return Err(empty());
    }
    if rows.len() > expect.max_batch {
        return Err(too_many(rows.len(), expect));
    }
    let name = |i: usize| if single { "input".to_string() } else { format!("inputs[{i}]") };
    let mut flat = Vec::with_capacity(rows.len() * expect.input_len);
    for (i, row) in rows.iter().enumerate() {
        if row.len() != expect.input_len {
            return Err(ApiError::new(
                ErrorCode::WrongLength,
                format!("{} has {} values; {} takes {} per example", name(i), row.len(), expect.architecture, expect.input_len),
            ));
        }
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(not_finite(format!("{}[{j}]", name(i)), row[j]));
        }
        flat.extend_from_slice(row);
    }
    Ok((flat, rows.len()))
}

fn decode_binary(body: &[u8], expect: Expect<'_>) -> Result<(Vec<f32>, usize), ApiError> {
    if body.is_empty() {
        return Err(empty());
    }
    let per_example = expect.input_len * 4;
    if body.len() % per_example != 0 {
        return Err(ApiError::new(
            ErrorCode::WrongLength,
            format!(
                "the body has {} bytes, not a whole number of examples: {} takes {} little-endian f32 values ({per_example} bytes) per example",
                body.len(),
                expect.architecture,
                expect.input_len
            ),
        ));
    }
    let batch = body.len() / per_example;
    if batch > expect.max_batch {
        return Err(too_many(batch, expect));
    }
    let values: Vec<f32> = body.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        let at = format!("value {i} (example {}, index {})", i / expect.input_len, i % expect.input_len);
        return Err(not_finite(at, values[i]));
    }
    Ok((values, batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: Expect<'static> = Expect { architecture: "toy", input_len: 3, max_batch: 4 };

    fn err(format: Format, body: &[u8]) -> ApiError {
        decode(format, body, E).unwrap_err()
    }

    fn le(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn json_batches_and_single_examples() {
        assert_eq!(decode(Format::Json, br#"{"inputs":[[1,2,3],[4,5,6.5]]}"#, E).unwrap(), (vec![1., 2., 3., 4., 5., 6.5], 2));
        assert_eq!(decode(Format::Json, br#"{"input":[0,0,1]}"#, E).unwrap(), (vec![0., 0., 1.], 1));
        assert_eq!(err(Format::Json, b"{").code, ErrorCode::MalformedJson);
        assert_eq!(err(Format::Json, br#"{"inputs":[[1,2,"3"]]}"#).code, ErrorCode::MalformedJson);
        assert_eq!(err(Format::Json, br#"{"input":[1,2,3],"inputs":[[1,2,3]]}"#).code, ErrorCode::MalformedJson);
        assert_eq!(err(Format::Json, br#"{}"#).code, ErrorCode::MalformedJson);
        assert_eq!(err(Format::Json, br#"{"inputs":[]}"#).code, ErrorCode::EmptyBatch);
        let e = err(Format::Json, br#"{"inputs":[[1,2,3],[1,2]]}"#);
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::WrongLength, "inputs[1] has 2 values; toy takes 3 per example"));
        let e = err(Format::Json, br#"{"inputs":[[1,2,3],[1,2,1e39]]}"#);
        assert_eq!(e.code, ErrorCode::NotFinite);
        assert!(e.message.starts_with("inputs[1][2] is infinite"), "{}", e.message);
        assert_eq!(err(Format::Json, br#"{"input":[1,2,NaN]}"#).code, ErrorCode::MalformedJson, "JSON has no NaN");
        let five = format!(r#"{{"inputs":[{}]}}"#, vec!["[1,2,3]"; 5].join(","));
        assert_eq!(err(Format::Json, five.as_bytes()).code, ErrorCode::BatchTooLarge);
    }

    #[test]
    fn binary_is_whole_examples_of_finite_little_endian_floats() {
        assert_eq!(decode(Format::Binary, &le(&[1., 2., 3., 4., 5., 6.]), E).unwrap(), (vec![1., 2., 3., 4., 5., 6.], 2));
        assert_eq!(err(Format::Binary, b"").code, ErrorCode::EmptyBatch);
        assert_eq!(err(Format::Binary, &le(&[1., 2.])).code, ErrorCode::WrongLength);
        assert_eq!(err(Format::Binary, &[0u8; 13]).code, ErrorCode::WrongLength);
        let e = err(Format::Binary, &le(&[1., 2., 3., 4., f32::NAN, 6.]));
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::NotFinite, "value 4 (example 1, index 1) is NaN: every value must be a finite number"));
        assert_eq!(err(Format::Binary, &le(&[f32::NEG_INFINITY, 0., 0.])).code, ErrorCode::NotFinite);
        assert_eq!(err(Format::Binary, &le(&[0.; 15])).code, ErrorCode::BatchTooLarge);
    }

    #[test]
    fn media_types_by_essence() {
        assert_eq!(format_of("application/json; charset=utf-8"), Some(Format::Json));
        assert_eq!(format_of("Application/Octet-Stream"), Some(Format::Binary));
        for other in ["text/plain", "application/jsonx", "", "multipart/form-data; boundary=x"] {
            assert_eq!(format_of(other), None, "{other}");
        }
    }
}
