//! The telemetry collector inside `burn-edge serve`: `POST /v1/logs` takes OTLP/HTTP logs, JSON
//! or protobuf, from the browser shell (or any OpenTelemetry exporter), authenticates the app by ingest key,
//! checks its Origin rule, limits rate per client and per app and body size (after
//! decompression), all before the body is read, validates each record against the shared
//! vocabulary, and stores accepted events in SQLite (the embedded default) or ClickHouse through
//! a bounded queue. `GET /api/telemetry/summary` reads them back for the dashboard (see
//! `report`) and `GET /api/rollout?model=` one model's rollout (see `rollout_report`), for
//! holders of the read key only.

pub(crate) mod auth;
pub mod backup;
#[cfg(test)]
mod backup_bench;
#[cfg(test)]
mod bench;
pub mod clickhouse;
mod clickhouse_accuracy;
mod clickhouse_rollout;
mod clickhouse_rollup;
mod drift;
mod encoding;
mod events;
mod feedback_rollup;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod http_tests;
pub(crate) mod ingest;
mod intern;
pub(crate) mod limits;
mod origin;
mod otlp;
mod report;
pub mod retention;
mod rollout_report;
mod rollout_rollup;
pub mod rollout_stats;
mod rollup;
mod sqlite;
mod store;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::cors::{Any, CorsLayer};

pub use clickhouse::ClickHouseStore;
pub use limits::RateConfig;
pub use origin::{Origin, OriginPolicy};
pub use retention::Retention;
pub(crate) use rollout_report::valid_model_name;
pub use sqlite::SqliteStore;
pub use store::EventStore;

/// Header carrying the ingest key (the `key` query parameter also works: `sendBeacon` cannot
/// set headers).
pub const KEY_HEADER: &str = "x-burn-edge-key";
/// Header carrying the key that reads the summary (`Authorization: Bearer` also works).
pub const READ_KEY_HEADER: &str = "x-burn-edge-read-key";
/// The demo app's ingest key, accepted only on a loopback address.
pub const DEMO_INGEST_KEY: &str = "demo-key";
/// The demo read key, accepted only on a loopback address.
pub const DEMO_READ_KEY: &str = "demo-read-key";

/// One app allowed to send telemetry.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub key: String,
    pub origins: OriginPolicy,
}

/// Collector settings.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    pub apps: Vec<App>,
    /// Key that reads `GET /api/telemetry/summary`.
    pub read_key: String,
    /// The one origin allowed to read the summary from another origin (CORS); none: no CORS.
    pub dashboard_origin: Option<Origin>,
    /// Largest body accepted, counted after decompression (and before it, for the raw body).
    pub max_body_bytes: usize,
    /// Time allowed for a request body to arrive in full.
    pub body_timeout: Duration,
    pub rate: RateConfig,
    /// Ingest batches that may wait for the writer; beyond that requests get 503.
    pub queue_batches: usize,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            apps: vec![App { name: "demo".into(), key: DEMO_INGEST_KEY.into(), origins: OriginPolicy::default() }],
            read_key: DEMO_READ_KEY.into(),
            dashboard_origin: None,
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(10),
            rate: RateConfig { client_rate: 200.0, client_burst: 400.0, app_rate: 2000.0, app_burst: 4000.0, max_clients: 10_000 },
            queue_batches: 256,
        }
    }
}

struct Collector {
    config: CollectorConfig,
    /// The apps' ingest keys, in `config.apps` order.
    ingest_keys: Vec<auth::Secret>,
    read_key: auth::Secret,
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
    let sink = Arc::new(writer::StoreSink(store.clone()));
    routes_with_sink(config, store, sink, models_root)
}

/// `routes` with the writer storing into `sink` (tests put a slow or failing one there).
fn routes_with_sink(config: CollectorConfig, store: Arc<dyn EventStore>, sink: Arc<dyn writer::Sink>, models_root: PathBuf) -> Router {
    // Pages on other origins send telemetry; which origins may is the ingest's own check.
    let ingest_cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::CONTENT_ENCODING, HeaderName::from_static(KEY_HEADER)])
        // Telemetry clients on other origins honour the collector's 429/503 back-off.
        .expose_headers([header::RETRY_AFTER]);
    let mut summary_route = get(summary);
    let mut rollout_route = get(rollout);
    if let Some(origin) = &config.dashboard_origin {
        let cors = CorsLayer::new()
            .allow_origin(origin.header_value())
            .allow_methods([Method::GET])
            .allow_headers([header::AUTHORIZATION, HeaderName::from_static(READ_KEY_HEADER)]);
        summary_route = summary_route.layer(cors.clone());
        rollout_route = rollout_route.layer(cors);
    }
    let state = Arc::new(Collector {
        ingest_keys: config.apps.iter().map(|a| auth::Secret::new(&a.key)).collect(),
        read_key: auth::Secret::new(&config.read_key),
        limiter: limits::RateLimiter::new(config.rate),
        writer: writer::Writer::spawn(sink, config.queue_batches),
        references: report::References::new(models_root),
        store,
        config,
    });
    Router::new()
        .route("/v1/logs", post(ingest::ingest).layer(ingest_cors))
        .route("/api/telemetry/summary", summary_route)
        .route("/api/rollout", rollout_route)
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// The 401 answer, unless `headers` carry the read key.
fn read_key_refusal(c: &Collector, headers: &HeaderMap) -> Option<Response> {
    if auth::read_key_from(headers, READ_KEY_HEADER).is_some_and(|k| c.read_key.matches(&k)) {
        return None;
    }
    let mut res =
        error(StatusCode::UNAUTHORIZED, format!("missing or wrong read key: send it in {READ_KEY_HEADER} or Authorization: Bearer"));
    res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"burn-edge telemetry\""));
    Some(res)
}

async fn summary(State(c): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    if let Some(res) = read_key_refusal(&c, &headers) {
        return res;
    }
    report_response(tokio::task::spawn_blocking(move || report::build(c.store.as_ref(), &c.references)).await)
}

/// `GET /api/rollout?model=<name>[&rule=<key>]`: see `rollout_report`.
async fn rollout(State(c): State<Arc<Collector>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if let Some(res) = read_key_refusal(&c, &headers) {
        return res;
    }
    let (mut model, mut rule) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "model" => model = Some(v.into_owned()),
            "rule" => rule = Some(v.into_owned()),
            _ => {}
        }
    }
    let Some(model) = model.filter(|m| rollout_report::valid_model_name(m)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "model must be a model folder name: letters, digits, '.', '_' or '-', not starting with '.'",
        );
    };
    if rule.as_ref().is_some_and(|r| r.is_empty() || r.len() > 256) {
        return error(StatusCode::BAD_REQUEST, "rule must be a rule key of 1 to 256 bytes");
    }
    let result = tokio::task::spawn_blocking(move || {
        let mut report = rollout_report::build(c.store.as_ref(), &c.references, &model, rule.as_deref())?;
        rollout_stats::annotate(&mut report);
        Ok(report)
    })
    .await;
    report_response(result)
}

fn report_response(result: Result<Result<serde_json::Value, store::StoreError>, tokio::task::JoinError>) -> Response {
    match result {
        Ok(Ok(v)) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(v)).into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, format!("reading the event store failed: {e}")),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "report task failed"),
    }
}
