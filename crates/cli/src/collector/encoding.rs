//! The two OTLP/HTTP encodings, chosen by the request's `Content-Type`: JSON (`application/json`,
//! and `text/plain` for `sendBeacon` with a string body, which is CORS-safelisted so needs no
//! preflight) and binary protobuf (`application/x-protobuf`, the OpenTelemetry SDKs' default).
//! Parameters such as `charset` are allowed. As the OTLP spec requires, a request is answered
//! in its own encoding: protobuf requests get a protobuf `ExportLogsServiceResponse`, or on
//! failure a protobuf `google.rpc.Status`; JSON requests get JSON.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use prost::Message;

use super::error;
use super::otlp::{ExportLogsRequest, ExportLogsResponse, RpcStatus};

pub const PROTOBUF: &str = "application/x-protobuf";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Protobuf,
}

impl Encoding {
    /// The encoding of a request with this `Content-Type`; `None`: a type not accepted (415).
    pub fn of(content_type: &str) -> Option<Encoding> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let is = |t: &str| essence.eq_ignore_ascii_case(t);
        if is("application/json") || is("text/plain") {
            Some(Encoding::Json)
        } else if is(PROTOBUF) {
            Some(Encoding::Protobuf)
        } else {
            None
        }
    }

    /// Decodes a (decompressed) body; the error says what is wrong, and where.
    pub fn decode(self, body: &[u8]) -> Result<ExportLogsRequest, String> {
        match self {
            Encoding::Json => serde_json::from_slice(body).map_err(|e| format!("not an OTLP JSON logs request: {e}")),
            Encoding::Protobuf => ExportLogsRequest::decode(body).map_err(|e| format!("not an OTLP protobuf logs request: {e}")),
        }
    }

    /// The 200 answer.
    pub fn success(self, answer: ExportLogsResponse) -> Response {
        match self {
            Encoding::Json => Json(answer).into_response(),
            Encoding::Protobuf => protobuf(StatusCode::OK, answer.encode_to_vec()),
        }
    }

    /// A failure: `{"error": message}` in JSON, a `google.rpc.Status` in protobuf.
    pub fn error(self, status: StatusCode, message: impl Into<String>) -> Response {
        match self {
            Encoding::Json => error(status, message),
            Encoding::Protobuf => protobuf(status, RpcStatus { code: rpc_code(status), message: message.into() }.encode_to_vec()),
        }
    }
}

fn protobuf(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))], body).into_response()
}

/// The `google.rpc.Code` closest to an HTTP status (the mapping gRPC gateways use).
fn rpc_code(status: StatusCode) -> i32 {
    match status.as_u16() {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        408 => 4,             // DEADLINE_EXCEEDED
        429 => 8,             // RESOURCE_EXHAUSTED
        503 => 14,            // UNAVAILABLE
        _ => 13,              // INTERNAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_compared_by_essence() {
        let json = ["application/json", "application/json; charset=utf-8", "Application/JSON", "text/plain;charset=UTF-8"];
        for ok in json {
            assert_eq!(Encoding::of(ok), Some(Encoding::Json), "{ok}");
        }
        for ok in ["application/x-protobuf", "Application/X-Protobuf; proto=opentelemetry"] {
            assert_eq!(Encoding::of(ok), Some(Encoding::Protobuf), "{ok}");
        }
        for bad in
            ["application/jsonx", "application/json-seq", "text/plainfoo", "application/protobuf", "application/x-protobuffer", "", "json"]
        {
            assert_eq!(Encoding::of(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn failures_are_answered_in_the_request_encoding() {
        let res = Encoding::Protobuf.error(StatusCode::TOO_MANY_REQUESTS, "slow down");
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::CONTENT_TYPE], PROTOBUF);
        let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        assert_eq!(RpcStatus::decode(body).unwrap(), RpcStatus { code: 8, message: "slow down".into() });
        let res = Encoding::Json.error(StatusCode::BAD_REQUEST, "bad");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], br#"{"error":"bad"}"#);
    }
}
