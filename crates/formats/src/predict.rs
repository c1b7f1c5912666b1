//! Wire types of server-side inference (`POST /v1/predict/<model>[@<version>]` in
//! `burn-edge serve`): the JSON request, the response and the error body, defined once here.
//! The server reads and writes them; the JS client is tested against
//! `schemas/predict.example.json`, generated from these types.
//!
//! A request body is either this JSON or `application/octet-stream`: little-endian `f32`s,
//! whole examples back to back (batch = values / the model's input length).

use serde::{Deserialize, Serialize};

/// Path prefix of the endpoint; the model (and `@version`) follows.
pub const PREDICT_PATH: &str = "/v1/predict/";
/// Media type of a JSON request.
pub const JSON_MEDIA_TYPE: &str = "application/json";
/// Media type of a binary request (little-endian f32 values).
pub const BINARY_MEDIA_TYPE: &str = "application/octet-stream";
/// Largest batch a server accepts unless configured otherwise (`--predict-max-batch`).
pub const DEFAULT_MAX_BATCH: usize = 256;
/// The alias a request without `@version` or `?alias=` is served from.
pub const DEFAULT_ALIAS: &str = "stable";

/// A JSON request: `inputs` (a batch) or `input` (one example), never both. Each example is
/// flat in the model's input shape, prepared as the manifest's input schema says.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<Vec<f32>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Vec<f32>>,
}

/// The answer to a request: one probability vector per example, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictResponse {
    /// Model name (the folder under `models/`).
    pub model: String,
    /// The version that ran (the alias resolved).
    pub version: String,
    /// Architecture id from the manifest.
    pub architecture: String,
    /// Always `"cpu"`: the server runs the browser's CPU path natively.
    pub backend: String,
    /// CPU kernels that ran: `"burn-edge"` (the compiled plan) or Burn's (`"flex"`).
    pub kernels: String,
    /// Examples in the request.
    pub batch: usize,
    /// `batch` probability vectors, one value per class.
    pub outputs: Vec<Vec<f32>>,
    /// Class names from the manifest, one per output.
    pub labels: Vec<String>,
    /// Milliseconds the inference took on the server (not counting the request's transfer).
    pub ms: f64,
}

/// What went wrong, as a stable machine-readable code; the HTTP status follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not the JSON request (syntax, an unknown field, both or neither of
    /// `input`/`inputs`).
    MalformedJson,
    /// 400: an example has the wrong number of values (binary: not whole f32s or examples).
    WrongLength,
    /// 400: a value is NaN or infinite.
    NotFinite,
    /// 400: no examples.
    EmptyBatch,
    /// 400: the body did not arrive intact.
    BadBody,
    /// 400: the query is contradictory (`@<version>` and `?alias=` together).
    InvalidQuery,
    /// 401: missing or unknown ingest key.
    Unauthorized,
    /// 403: the Origin is not allowed for the key's app.
    Forbidden,
    /// 404: no such model folder.
    UnknownModel,
    /// 404: no such version of the model.
    UnknownVersion,
    /// 404: the model's channel has no such alias.
    UnknownAlias,
    /// 404: not a predict path (`/v1/predict/<model>[@<version>]`).
    NotFound,
    /// 408: the body did not arrive in time.
    Timeout,
    /// 413: more examples than the server's maximum batch.
    BatchTooLarge,
    /// 413: the body is over the server's cap.
    BodyTooLarge,
    /// 415: not `application/json` or `application/octet-stream` (or an encoding it cannot read).
    UnsupportedMediaType,
    /// 429: over the rate limit (see `Retry-After`).
    RateLimited,
    /// 500: the published model cannot be run (weights do not match the manifest, ...).
    ModelBroken,
    /// 500: anything else on the server's side.
    Internal,
}

impl ErrorCode {
    /// Every code, for the generated example and the tests.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::MalformedJson,
        ErrorCode::WrongLength,
        ErrorCode::NotFinite,
        ErrorCode::EmptyBatch,
        ErrorCode::BadBody,
        ErrorCode::InvalidQuery,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::UnknownModel,
        ErrorCode::UnknownVersion,
        ErrorCode::UnknownAlias,
        ErrorCode::NotFound,
        ErrorCode::Timeout,
        ErrorCode::BatchTooLarge,
        ErrorCode::BodyTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RateLimited,
        ErrorCode::ModelBroken,
        ErrorCode::Internal,
    ];

    /// The HTTP status answered with this code.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MalformedJson | WrongLength | NotFinite | EmptyBatch | BadBody | InvalidQuery => 400,
            Unauthorized => 401,
            Forbidden => 403,
            UnknownModel | UnknownVersion | UnknownAlias | NotFound => 404,
            Timeout => 408,
            BatchTooLarge | BodyTooLarge => 413,
            UnsupportedMediaType => 415,
            RateLimited => 429,
            ModelBroken | Internal => 500,
        }
    }

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedJson => "malformed_json",
            WrongLength => "wrong_length",
            NotFinite => "not_finite",
            EmptyBatch => "empty_batch",
            BadBody => "bad_body",
            InvalidQuery => "invalid_query",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            UnknownModel => "unknown_model",
            UnknownVersion => "unknown_version",
            UnknownAlias => "unknown_alias",
            NotFound => "not_found",
            Timeout => "timeout",
            BatchTooLarge => "batch_too_large",
            BodyTooLarge => "body_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            RateLimited => "rate_limited",
            ModelBroken => "model_broken",
            Internal => "internal",
        }
    }
}

/// An error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The code and a message naming what was wrong (for the page's developer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { error: ErrorDetail { code, message: message.into() } }
    }
}

/// Examples of every wire type as pretty JSON, committed as `schemas/predict.example.json`
/// (the JS client's field names are checked against it).
pub fn predict_example_json() -> String {
    let request = PredictRequest { inputs: Some(vec![vec![0.0, 0.5, 1.0], vec![1.0, 0.5, 0.0]]), input: None };
    let single = PredictRequest { inputs: None, input: Some(vec![0.0, 0.5, 1.0]) };
    let response = PredictResponse {
        model: "mnist".into(),
        version: "1.0.0".into(),
        architecture: "mnist-cnn".into(),
        backend: "cpu".into(),
        kernels: "burn-edge".into(),
        batch: 2,
        outputs: vec![vec![0.25, 0.75], vec![0.5, 0.5]],
        labels: vec!["0".into(), "1".into()],
        ms: 1.5,
    };
    let error = ErrorBody::new(ErrorCode::WrongLength, "inputs[1] has 3 values; mnist-cnn takes 784 per example");
    let codes: Vec<serde_json::Value> =
        ErrorCode::ALL.iter().map(|c| serde_json::json!({ "code": c, "status": c.status() })).collect();
    let doc = serde_json::json!({
        "about": "burn-edge server-side inference wire format; generated from crates/formats/src/predict.rs",
        "path": format!("{PREDICT_PATH}<model>[@<version>][?alias=<alias>]"),
        "defaultAlias": DEFAULT_ALIAS,
        "mediaTypes": { "json": JSON_MEDIA_TYPE, "binary": BINARY_MEDIA_TYPE },
        "defaultMaxBatch": DEFAULT_MAX_BATCH,
        "request": request,
        "singleRequest": single,
        "response": response,
        "error": error,
        "errorCodes": codes,
    });
    serde_json::to_string_pretty(&doc).expect("serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_themselves_as_serde_does_with_their_status() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::Value::String(code.as_str().into()));
            assert!((400..=500).contains(&code.status()), "{code:?}");
        }
        assert_eq!(ErrorCode::BatchTooLarge.status(), 413);
        assert_eq!(ErrorCode::UnknownAlias.status(), 404);
        let body = serde_json::to_string(&ErrorBody::new(ErrorCode::NotFinite, "inputs[0][3] is NaN")).unwrap();
        assert_eq!(body, r#"{"error":{"code":"not_finite","message":"inputs[0][3] is NaN"}}"#);
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let r: PredictRequest = serde_json::from_str(r#"{"input":[1,2.5]}"#).unwrap();
        assert_eq!(r.input, Some(vec![1.0, 2.5]));
        assert!(serde_json::from_str::<PredictRequest>(r#"{"imputs":[[1]]}"#).is_err());
    }

    #[test]
    fn committed_example_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/predict.example.json");
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(path, predict_example_json()).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(committed == predict_example_json(), "{path} is stale: run `BLESS=1 cargo test --workspace committed_example`");
    }
}
