//! The telemetry collector inside `burn-edge serve`: `POST /v1/logs` takes OTLP/HTTP JSON logs
//! from the browser shell (or any OpenTelemetry exporter), authenticates the app by ingest key,
//! checks the Origin allow-list, limits rate and body size (after decompression), validates
//! each record against the shared vocabulary, and stores accepted events in SQLite (the
//! embedded default) or ClickHouse.
//! `GET /api/telemetry/summary` reads them back for the dashboard (see `report`).

mod clickhouse;
mod drift;
#[cfg(test)]
mod bench;
mod events;
#[cfg(test)]
mod fuzz;
mod limits;
mod otlp;
mod report;
mod rollup;
mod sqlite;
mod store;
mod writer;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub use clickhouse::ClickHouseStore;
pub use sqlite::SqliteStore;
pub use store::EventStore;

/// Header carrying the ingest key (the `key` query parameter also works: `sendBeacon` cannot
/// set headers).
pub const KEY_HEADER: &str = "x-burn-edge-key";

/// One app allowed to send telemetry.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub key: String,
    /// Allowed `Origin`s; empty means loopback origins only (the local default).
    pub origins: Vec<String>,
}

/// Collector settings.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    pub apps: Vec<App>,
    /// Largest body accepted, counted after decompression.
    pub max_body_bytes: usize,
    /// Requests per second per key, and the burst above it.
    pub rate_per_sec: f64,
    pub burst: f64,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            apps: vec![App { name: "demo".into(), key: "demo-key".into(), origins: Vec::new() }],
            max_body_bytes: 1 << 20,
            rate_per_sec: 200.0,
            burst: 400.0,
        }
    }
}

struct Collector {
    config: CollectorConfig,
    /// Published manifests: the drift references.
    references: report::References,
    store: Arc<dyn EventStore>,
    /// Stores ingested batches, several per commit under load.
    writer: writer::Writer,
    limiter: limits::RateLimiter,
}

/// The collector's routes, storing into `store`; `models_root` holds the published manifests
/// whose reference distributions drift is measured against.
pub fn routes(config: CollectorConfig, store: Arc<dyn EventStore>, models_root: PathBuf) -> Router {
    let limiter = limits::RateLimiter::new(config.rate_per_sec, config.burst);
    // The raw body is capped too (a gzip body is never larger than what it expands to, mostly).
    let raw_limit = DefaultBodyLimit::max(config.max_body_bytes);
    let state = Arc::new(Collector {
        config,
        references: report::References::new(models_root),
        writer: writer::Writer::spawn(store.clone()),
        store,
        limiter,
    });
    Router::new().route("/v1/logs", post(ingest).layer(raw_limit)).route("/api/telemetry/summary", get(summary)).with_state(state)
}

#[derive(Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

fn loopback_origin(origin: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]", "https://127.0.0.1", "https://localhost"]
        .iter()
        .any(|base| origin == *base || origin.strip_prefix(base).is_some_and(|rest| rest.starts_with(':')))
}

async fn ingest(State(c): State<Arc<Collector>>, Query(q): Query<KeyQuery>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers.get(KEY_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string).or(q.key);
    let Some(app) = key.and_then(|k| c.config.apps.iter().find(|a| a.key == k)) else {
        return error(StatusCode::UNAUTHORIZED, format!("missing or unknown ingest key: send it in {KEY_HEADER} or ?key="));
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let allowed = if app.origins.is_empty() { loopback_origin(origin) } else { app.origins.iter().any(|o| o == origin || o == "*") };
        if !allowed {
            return error(StatusCode::FORBIDDEN, format!("origin {origin} is not allowed to send telemetry for app {:?}", app.name));
        }
    }
    if let Err(wait) = c.limiter.check(&app.key) {
        let mut res = error(StatusCode::TOO_MANY_REQUESTS, format!("rate limit for app {:?}; retry after {wait} s", app.name));
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return res;
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    // sendBeacon with a Blob may say text/plain; the body is still OTLP JSON.
    if !(content_type.starts_with("application/json") || content_type.starts_with("text/plain")) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "only OTLP/HTTP JSON is accepted (Content-Type: application/json)");
    }
    let max = c.config.max_body_bytes;
    let json = match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
        None | Some("identity") => body.to_vec(),
        Some("gzip") => {
            let mut out = Vec::new();
            let decoder = flate2::read::GzDecoder::new(&body[..]);
            if let Err(e) = decoder.take(max as u64 + 1).read_to_end(&mut out) {
                return error(StatusCode::BAD_REQUEST, format!("body is not valid gzip: {e}"));
            }
            out
        }
        Some(other) => return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("Content-Encoding {other} is not supported (use gzip)")),
    };
    if json.len() > max {
        return error(StatusCode::PAYLOAD_TOO_LARGE, format!("body is over {max} bytes after decompression"));
    }
    let request: otlp::ExportLogsRequest = match serde_json::from_slice(&json) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not an OTLP JSON logs request: {e}")),
    };
    let parsed = events::parse(&request, &app.name);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let partial_success = parsed.partial_success();
    if let Err(e) = c.writer.store(parsed.events, now_ms).await {
        // Not acknowledged: the client keeps the batch and retries.
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("storage failed: {e}"));
    }
    Json(otlp::ExportLogsResponse { partial_success }).into_response()
}

async fn summary(State(c): State<Arc<Collector>>) -> Response {
    let result = tokio::task::spawn_blocking(move || report::build(c.store.as_ref(), &c.references)).await;
    match result {
        Ok(Ok(v)) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(v)).into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, format!("reading the event store failed: {e}")),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "report task failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins() {
        assert!(loopback_origin("http://127.0.0.1:8080"));
        assert!(loopback_origin("http://localhost"));
        assert!(!loopback_origin("http://localhost.evil.example"));
        assert!(!loopback_origin("https://app.example"));
    }
}
