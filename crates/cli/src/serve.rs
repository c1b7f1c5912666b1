//! `burn-edge serve`: the demo page (`www/`), the wasm builds (`pkg/`) and the model CDN
//! (`models/`), served the way a CDN would: immutable caching for content-addressed files,
//! revalidation (ETag) for the mutable channel files, Range requests, brotli/gzip, CORS, and
//! cross-origin isolation for the demo so `performance.now()` keeps full resolution.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::publish::sha256_hex;

/// Channel files are tiny; anything bigger is not one we wrote.
const CHANNEL_MAX_BYTES: usize = 1 << 20;

/// `Cache-Control` for a request path.
pub fn cache_control_for(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        // Named by content hash, or a published version's manifest: never changes.
        ["models", _, "files", _] | ["models", _, _, "manifest.json"] => "public, max-age=31536000, immutable",
        // The mutable pointer: short-lived, then revalidated with its ETag.
        ["models", _, "channel.json"] => "public, max-age=60",
        // Builds and pages keep their names across rebuilds: always revalidate.
        _ => "no-cache",
    }
}

/// The router: `/pkg/*` from `pkg/`, `/models/*` from `models/`, `/samples/*` (the image
/// classifier demo's sample photos) from `../shared/datasets/squeezenet/images` beside the
/// project, the `collector` routes, everything else from `www/`.
pub fn router(root: &Path, collector: Router) -> Router {
    let header = |name: &'static str, value| {
        SetResponseHeaderLayer::overriding(header::HeaderName::from_static(name), HeaderValue::from_static(value))
    };
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_headers([
            header::RANGE,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::HeaderName::from_static(crate::collector::KEY_HEADER),
        ])
        .expose_headers([
            header::CONTENT_LENGTH,
            header::CONTENT_RANGE,
            header::ETAG,
            header::ACCEPT_RANGES,
            // Telemetry clients on other origins honour the collector's 429/503 back-off.
            header::RETRY_AFTER,
        ]);
    collector
        .nest_service("/pkg", ServeDir::new(root.join("pkg")))
        .nest_service("/models", ServeDir::new(root.join("models")))
        .nest_service("/samples", ServeDir::new(root.join("../shared/datasets/squeezenet/images")))
        .fallback_service(ServeDir::new(root.join("www")))
        .layer(middleware::from_fn(channel_etag))
        .layer(middleware::from_fn(cache_control))
        .layer(header("cross-origin-opener-policy", "same-origin"))
        .layer(header("cross-origin-embedder-policy", "require-corp"))
        // Other origins (pages using this server as their CDN) may embed what it serves.
        .layer(header("cross-origin-resource-policy", "cross-origin"))
        .layer(cors)
        .layer(CompressionLayer::new())
}

async fn cache_control(req: Request, next: Next) -> Response {
    let policy = cache_control_for(req.uri().path());
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    res
}

/// Strong content ETag on channel files, answering `If-None-Match` with 304.
async fn channel_etag(req: Request, next: Next) -> Response {
    if !req.uri().path().ends_with("/channel.json") {
        return next.run(req).await;
    }
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, CHANNEL_MAX_BYTES).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "channel file too large").into_response();
    };
    let etag = format!("\"{}\"", &sha256_hex(&bytes)[..32]);
    let etag_value = HeaderValue::from_str(&etag).expect("hex is a valid header value");
    if if_none_match.is_some_and(|v| etag_matches(&v, &etag)) {
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, etag_value);
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    parts.headers.insert(header::ETAG, etag_value);
    parts.headers.remove(header::LAST_MODIFIED);
    Response::from_parts(parts, Body::from(bytes))
}

/// `If-None-Match` uses weak comparison: `W/` prefixes are ignored, `*` matches anything.
fn etag_matches(if_none_match: &HeaderValue, etag: &str) -> bool {
    if_none_match.to_str().unwrap_or("").split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == etag)
}

/// Serves `root` on `addr` until interrupted, printing the demo URL once listening.
pub async fn serve(root: &Path, addr: SocketAddr, collector: Router) -> Result<()> {
    if !root.join("pkg/cpu/burn_edge_bg.wasm").exists() {
        eprintln!("warning: {} has no wasm build yet; run `npm run build` first", root.join("pkg").display());
    }
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    println!("burn-edge demo: http://{local}/");
    println!("telemetry collector: POST http://{local}/v1/logs; dashboard at http://{local}/dashboard.html");
    axum::serve(listener, router(root, collector)).await.context("server failed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use tower::ServiceExt;

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, bytes) in [
            ("models/mnist/channel.json", &b"{\"aliases\":{}}\n"[..]),
            ("models/mnist/files/abc.bpk", &(0..=255u8).cycle().take(4096).collect::<Vec<_>>()[..]),
            ("models/mnist/1.0.0/manifest.json", &b"{}"[..]),
            ("pkg/cpu/burn_edge_bg.wasm", &b"\0asm\x01\0\0\0"[..]),
            ("www/index.html", &b"<!doctype html>"[..]),
        ] {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        dir
    }

    async fn get(root: &Path, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = Request::get(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        router(root, Router::new()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn body(res: Response) -> Vec<u8> {
        axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec()
    }

    #[test]
    fn cache_policies_by_path() {
        assert_eq!(cache_control_for("/models/mnist/files/ab.bpk"), "public, max-age=31536000, immutable");
        assert_eq!(cache_control_for("/models/mnist/1.1.0/manifest.json"), "public, max-age=31536000, immutable");
        assert_eq!(cache_control_for("/models/mnist/channel.json"), "public, max-age=60");
        assert_eq!(cache_control_for("/models/mnist/model.bpk"), "no-cache");
        assert_eq!(cache_control_for("/pkg/cpu/burn_edge_bg.wasm"), "no-cache");
        assert_eq!(cache_control_for("/"), "no-cache");
    }

    #[tokio::test]
    async fn content_addressed_files_are_immutable_and_cross_origin() {
        let dir = fixture();
        let res = get(dir.path(), "/models/mnist/files/abc.bpk", &[("origin", "https://app.example")]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        assert_eq!(res.headers()["cross-origin-resource-policy"], "cross-origin");
        assert_eq!(body(res).await.len(), 4096);
    }

    #[tokio::test]
    async fn range_requests_return_exactly_the_bytes_asked_for() {
        let dir = fixture();
        let res = get(dir.path(), "/models/mnist/files/abc.bpk", &[("range", "bytes=256-511"), ("accept-encoding", "br, gzip")]).await;
        assert_eq!(res.status(), 206);
        assert_eq!(res.headers()["content-range"], "bytes 256-511/4096");
        assert!(res.headers().get("content-encoding").is_none(), "a byte range must not be re-encoded");
        assert_eq!(body(res).await, (0..=255u8).collect::<Vec<_>>());
        let res = get(dir.path(), "/models/mnist/files/abc.bpk", &[("range", "bytes=5000-")]).await;
        assert_eq!(res.status(), 416);
    }

    #[tokio::test]
    async fn channel_files_revalidate_with_etags() {
        let dir = fixture();
        let res = get(dir.path(), "/models/mnist/channel.json", &[]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "public, max-age=60");
        let etag = res.headers()["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
        let res = get(dir.path(), "/models/mnist/channel.json", &[("if-none-match", &format!("W/{etag}"))]).await;
        assert_eq!(res.status(), 304);
        assert_eq!(res.headers()["etag"], etag.as_str());
        assert!(body(res).await.is_empty());
        // A changed channel gets a new tag, so the stale one no longer matches.
        std::fs::write(dir.path().join("models/mnist/channel.json"), b"{\"aliases\":{\"stable\":\"1.0.0\"}}\n").unwrap();
        let res = get(dir.path(), "/models/mnist/channel.json", &[("if-none-match", &etag)]).await;
        assert_eq!(res.status(), 200);
        assert_ne!(res.headers()["etag"], etag.as_str());
    }

    #[tokio::test]
    async fn wasm_is_served_as_application_wasm_and_compressed_on_request() {
        let dir = fixture();
        let res = get(dir.path(), "/pkg/cpu/burn_edge_bg.wasm", &[]).await;
        assert_eq!(res.headers()["content-type"], "application/wasm");
        assert_eq!(res.headers()["cache-control"], "no-cache");
        let res = get(dir.path(), "/models/mnist/files/abc.bpk", &[("accept-encoding", "br")]).await;
        assert_eq!(res.headers()["content-encoding"], "br");
        let res = get(dir.path(), "/", &[]).await;
        assert_eq!(res.headers()["cross-origin-embedder-policy"], "require-corp");
    }

    #[tokio::test]
    async fn missing_files_are_404_without_caching() {
        let dir = fixture();
        let res = get(dir.path(), "/models/mnist/files/nope.bpk", &[]).await;
        assert_eq!(res.status(), 404);
        assert!(res.headers().get("cache-control").is_none());
    }
}
