//! `POST /v1/predict/<model>[@<version>][?alias=]`. What needs only the request head is
//! checked first (key, origin, rate, media type, declared length, which version), so a request
//! that will be refused never has its body read; then the body is read with the cap and the
//! deadline, the version loaded (once, cached), the body decoded against its input length, and
//! the batch run on the blocking pool within the worker limit.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use burn_edge::RuntimeError;
use burn_edge_formats::predict::{ErrorCode, PredictResponse};

use super::body::{self, Expect, Format};
use super::error::ApiError;
use super::locate::{self, Located};
use super::PredictApi;
use crate::collector::ingest::{ingest_key, read_body, BodyError};
use crate::collector::{auth, KEY_HEADER};

pub(super) async fn predict(State(api): State<Arc<PredictApi>>, target: Result<Path<String>, PathRejection>, request: Request) -> Response {
    let Ok(Path(target)) = target else {
        return ApiError::new(ErrorCode::UnknownModel, "the model name in the path is not valid UTF-8").into_response();
    };
    if target.contains('/') {
        let e = ApiError::new(ErrorCode::NotFound, "predict paths are /v1/predict/<model> or /v1/predict/<model>@<version>");
        return e.into_response();
    }
    match run(&api, &target, request).await {
        Ok(res) => ([(header::CACHE_CONTROL, "no-store")], Json(res)).into_response(),
        Err(e) => e.into_response(),
    }
}


/// The `alias` query parameter (the key may be there too; other parameters are ignored).
fn alias_of(uri: &axum::http::Uri) -> Result<Option<String>, ApiError> {
    let mut alias = None;
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k == "alias" {
            if alias.is_some() || v.is_empty() || v.len() > 256 {
                return Err(ApiError::new(ErrorCode::InvalidQuery, "alias must be given once, 1 to 256 bytes"));
            }
            alias = Some(v.into_owned());
        }
    }
    Ok(alias)
}

/// The request's format, after the checks that need only its head.
fn check_head(api: &PredictApi, headers: &HeaderMap, uri: &axum::http::Uri, client: IpAddr) -> Result<Format, ApiError> {
    let app = ingest_key(headers, uri).and_then(|k| auth::find(&api.ingest_keys, &k)).map(|i| &api.apps[i]);
    let Some(app) = app else {
        return Err(ApiError::new(ErrorCode::Unauthorized, format!("missing or unknown ingest key: send it in {KEY_HEADER} or ?key=")));
    };
    if let Err(why) = app.origins.check(headers.get(header::ORIGIN)) {
        return Err(ApiError::new(ErrorCode::Forbidden, format!("{why} to request predictions for app {:?}", app.name)));
    }
    if let Err(wait) = api.limiter.check(&app.name, client) {
        let mut e = ApiError::new(ErrorCode::RateLimited, format!("rate limit for app {:?}; retry after {wait} s", app.name));
        e.retry_after = Some(wait);
        return Err(e);
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(format) = body::format_of(content_type) else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("Content-Type {content_type:?} is not accepted: send application/json or application/octet-stream (little-endian f32)"),
        ));
    };
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let encoding = encoding.to_str().unwrap_or("?").trim();
        if !encoding.eq_ignore_ascii_case("identity") {
            return Err(ApiError::new(ErrorCode::UnsupportedMediaType, format!("Content-Encoding {encoding} is not supported: send the body as it is")));
        }
    }
    let max = api.config.max_body_bytes;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(body_too_large(max));
    }
    Ok(format)
}

fn body_too_large(max: usize) -> ApiError {
    ApiError::new(ErrorCode::BodyTooLarge, format!("the body is over this server's cap of {max} bytes"))
}

async fn run(api: &PredictApi, target: &str, request: Request) -> Result<PredictResponse, ApiError> {
    let (parts, body) = request.into_parts();
    // No ConnectInfo only in-process (tests): all such requests are one client.
    let client = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ci| ci.0.ip());
    let format = check_head(api, &parts.headers, &parts.uri, client)?;
    let alias = alias_of(&parts.uri)?;
    let root = api.models_root.clone();
    let (target_owned, alias_owned) = (target.to_string(), alias.clone());
    let located: Located = tokio::task::spawn_blocking(move || locate::locate(&root, &target_owned, alias_owned.as_deref()))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("locating the model failed: {e}")))??;
    let max = api.config.max_body_bytes;
    let bytes = match read_body(body, max, api.body_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return Err(body_too_large(max)),
        Err(BodyError::TimedOut) => {
            let secs = api.body_timeout.as_secs_f64();
            return Err(ApiError::new(ErrorCode::Timeout, format!("the request body did not arrive within {secs} s")));
        }
        Err(BodyError::Broken(e)) => return Err(ApiError::new(ErrorCode::BadBody, format!("reading the body failed: {e}"))),
    };
    let model = api.sessions.get(&located).await?;
    let expect = Expect { architecture: model.architecture.id(), input_len: model.architecture.input_len(), max_batch: api.config.max_batch };
    let (input, batch) = body::decode(format, &bytes, expect)?;
    drop(bytes);
    let permit = api.workers.clone().acquire_owned().await.map_err(|_| ApiError::new(ErrorCode::Internal, "the worker pool is closed"))?;
    let runner = model.clone();
    let (outputs, ms) = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let started = Instant::now();
        let outputs = runner.predict(&input);
        (outputs, started.elapsed().as_secs_f64() * 1000.0)
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, format!("the inference task failed: {e}")))?;
    let outputs = outputs.map_err(|e| inference_error(&located, e))?;
    let classes = model.architecture.outputs();
    Ok(PredictResponse {
        model: located.model,
        version: located.version,
        architecture: model.architecture.id().to_string(),
        backend: "cpu".into(),
        kernels: model.kernels.to_string(),
        batch,
        outputs: outputs.chunks(classes).map(<[f32]>::to_vec).collect(),
        labels: model.manifest.labels.clone(),
        ms,
    })
}

/// The body was checked already, so a failure here is the server's (or the model's).
fn inference_error(located: &Located, e: RuntimeError) -> ApiError {
    let code = match e {
        RuntimeError::Input(_) => ErrorCode::WrongLength,
        RuntimeError::NonFinite(_) => ErrorCode::ModelBroken,
        _ => ErrorCode::Internal,
    };
    ApiError::new(code, format!("{}@{}: {e}", located.model, located.version))
}
