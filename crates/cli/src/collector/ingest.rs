//! `POST /v1/logs`. Everything that needs only the request head is checked first (key, origin,
//! rate, media type, encoding, declared length), so a request that will be refused never has
//! its body read; the body is then read with the size limit and a deadline, decompressed with
//! the same limit, parsed, and handed to the bounded writer queue.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use serde::Deserialize;

use super::encoding::{Encoding, PROTOBUF};
use super::otlp::ExportLogsResponse;
use super::writer::WriteError;
use super::{auth, events, Collector, KEY_HEADER};

#[derive(Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

pub(crate) fn with_retry_after(mut res: Response, seconds: u64) -> Response {
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    res
}

pub(crate) enum BodyError {
    TooLarge,
    TimedOut,
    Broken(String),
}

/// Reads at most `limit` bytes of `body` within `timeout`.
pub(crate) async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, BodyError> {
    let read = async move {
        let mut body = body;
        let mut buf = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(timeout, read).await.unwrap_or(Err(BodyError::TimedOut))
}

/// The ingest key from its header, else from `?key=` (the predict endpoint takes it the same way).
pub(crate) fn ingest_key(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| Query::<KeyQuery>::try_from_uri(uri).ok().and_then(|q| q.0.key))
}

pub(super) async fn ingest(State(c): State<Arc<Collector>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let encoding = Encoding::of(content_type);
    // Every answer in the request's encoding (JSON for a type not accepted).
    let fail = |status: StatusCode, message: String| encoding.unwrap_or(Encoding::Json).error(status, message);
    let app = ingest_key(headers, &parts.uri).and_then(|k| auth::find(&c.ingest_keys, &k)).map(|i| &c.config.apps[i]);
    let Some(app) = app else {
        return fail(StatusCode::UNAUTHORIZED, format!("missing or unknown ingest key: send it in {KEY_HEADER} or ?key="));
    };
    if let Err(why) = app.origins.check(headers.get(header::ORIGIN)) {
        return fail(StatusCode::FORBIDDEN, format!("{why} to send telemetry for app {:?}", app.name));
    }
    // No ConnectInfo only in-process (tests): all such requests are one client.
    let client = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ci| ci.0.ip());
    if let Err(wait) = c.limiter.check(&app.name, client) {
        let res = fail(StatusCode::TOO_MANY_REQUESTS, format!("rate limit for app {:?}; retry after {wait} s", app.name));
        return with_retry_after(res, wait);
    }
    let Some(encoding) = encoding else {
        return fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("only OTLP/HTTP JSON (Content-Type: application/json) or protobuf ({PROTOBUF}) is accepted"),
        );
    };
    let gzip = match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase()) {
        None => false,
        Some(e) if e == "identity" => false,
        Some(e) if e == "gzip" => true,
        Some(other) => return fail(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("Content-Encoding {other} is not supported (use gzip)")),
    };
    let max = c.config.max_body_bytes;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    // A compressed body is never larger than what it expands to, give or take gzip's framing.
    let raw_limit = max + max / 64 + 1024;
    if declared.is_some_and(|n| n > raw_limit as u64) {
        return fail(StatusCode::PAYLOAD_TOO_LARGE, format!("body is over {max} bytes"));
    }
    let raw = match read_body(body, raw_limit, c.config.body_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return fail(StatusCode::PAYLOAD_TOO_LARGE, format!("body is over {max} bytes")),
        Err(BodyError::TimedOut) => {
            let secs = c.config.body_timeout.as_secs_f64();
            return fail(StatusCode::REQUEST_TIMEOUT, format!("the request body did not arrive within {secs} s"));
        }
        Err(BodyError::Broken(e)) => return fail(StatusCode::BAD_REQUEST, format!("reading the body failed: {e}")),
    };
    let body = if gzip {
        let mut out = Vec::new();
        // Every member of a multi-member gzip stream, as RFC 1952 allows.
        let decoder = flate2::read::MultiGzDecoder::new(&raw[..]);
        if let Err(e) = decoder.take(max as u64 + 1).read_to_end(&mut out) {
            return fail(StatusCode::BAD_REQUEST, format!("body is not valid gzip: {e}"));
        }
        drop(raw);
        Bytes::from(out)
    } else {
        raw
    };
    if body.len() > max {
        return fail(StatusCode::PAYLOAD_TOO_LARGE, format!("body is over {max} bytes after decompression"));
    }
    // Only the events wait for the writer: the body and the decoded request are dropped here.
    let parsed = match encoding.decode(&body) {
        Ok(request) => events::parse(&request, &app.name),
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    drop(body);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let partial_success = parsed.partial_success();
    // Not acknowledged on any error: the client keeps the batch and retries.
    match c.writer.store(parsed.events, now_ms).await {
        Ok(()) => {}
        Err(e @ WriteError::Busy(_)) => return with_retry_after(fail(StatusCode::SERVICE_UNAVAILABLE, e.to_string()), 1),
        Err(WriteError::Failed(e)) => return with_retry_after(fail(StatusCode::SERVICE_UNAVAILABLE, format!("storage failed: {e}")), 5),
    }
    encoding.success(ExportLogsResponse { partial_success })
}
