//! Server-side inference in `burn-edge serve`: `POST /v1/predict/<model>[@<version>]` runs a
//! published version natively through the browser runtime's CPU session (the same compiled
//! plan, so the same numbers as the browser's CPU build). The request rules are the telemetry
//! ingest's, with its code: the apps' ingest keys (header or `?key=`), their Origin rules with
//! CORS, a per-client and per-app rate limit (429 + Retry-After), a body cap (413). Inference
//! runs on the blocking pool, at most `workers` at once, never on the async threads.
//! Wire types: `burn_edge_formats::predict`.

mod body;
mod error;
#[cfg(test)]
mod fuzz;
mod handler;
#[cfg(test)]
mod http_tests;
mod locate;
mod sessions;

pub(crate) use locate::read_channel;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderName, Method};
use axum::routing::post;
use axum::Router;
use burn_edge_formats::predict::DEFAULT_MAX_BATCH;
use tower_http::cors::{Any, CorsLayer};

use crate::collector::limits::{RateConfig, RateLimiter};
use crate::collector::{auth, App, CollectorConfig, KEY_HEADER};

/// The endpoint's own limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictConfig {
    /// Most examples in one request.
    pub max_batch: usize,
    /// Largest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Inferences running at once (the rest wait their turn).
    pub workers: usize,
    /// Model versions kept loaded.
    pub cached_models: usize,
}

impl Default for PredictConfig {
    fn default() -> Self {
        PredictConfig {
            max_batch: DEFAULT_MAX_BATCH,
            max_body_bytes: 64 << 20,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cached_models: 4,
        }
    }
}

struct PredictApi {
    apps: Vec<App>,
    ingest_keys: Vec<auth::Secret>,
    /// Its own buckets (the telemetry's settings): predictions do not use up telemetry's budget.
    limiter: RateLimiter,
    body_timeout: Duration,
    config: PredictConfig,
    models_root: PathBuf,
    sessions: sessions::Sessions,
    workers: Arc<tokio::sync::Semaphore>,
}

/// The predict routes for the collector's apps (keys, origins, rate and body timeout from
/// `collector`), serving the model folders under `models_root`.
pub fn routes(collector: &CollectorConfig, config: PredictConfig, models_root: PathBuf) -> Router {
    routes_with_rate(collector, collector.rate, config, models_root).0
}

/// `routes` with another rate limit (tests), and its state.
fn routes_with_rate(
    collector: &CollectorConfig,
    rate: RateConfig,
    config: PredictConfig,
    models_root: PathBuf,
) -> (Router, Arc<PredictApi>) {
    let state = Arc::new(PredictApi {
        apps: collector.apps.clone(),
        ingest_keys: collector.apps.iter().map(|a| auth::Secret::new(&a.key)).collect(),
        limiter: RateLimiter::new(rate),
        body_timeout: collector.body_timeout,
        models_root,
        sessions: sessions::Sessions::new(config.cached_models, config.workers),
        workers: Arc::new(tokio::sync::Semaphore::new(config.workers.max(1))),
        config,
    });
    // Pages on other origins call it; which origins may is the handler's check (403).
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE, HeaderName::from_static(KEY_HEADER)])
        .expose_headers([header::RETRY_AFTER]);
    let router = Router::new().route("/v1/predict/{*target}", post(handler::predict)).layer(cors).with_state(state.clone());
    (router, state)
}
