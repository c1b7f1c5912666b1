//! `burn-edge serve`: the demo page (`www/`), the wasm builds (`pkg/`) and the model CDN
//! (`models/`), served the way a CDN would: immutable caching for content-addressed files,
//! revalidation (ETag) for the mutable channel files, Range requests, brotli/gzip, CORS, and
//! cross-origin isolation for the demo so `performance.now()` keeps full resolution, and a strict
//! Content-Security-Policy on every page (`page_policy.rs`). A file
//! whose real path (symlinks resolved) leaves its folder is not served. A handler that panics
//! answers 500 and the server goes on; every request has a deadline (`server.rs` adds the
//! connection limits).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::page_policy::{with_policy, PagePolicy};
use crate::publish::sha256_hex;
use crate::server::ConnLimits;

/// Channel files are tiny; anything bigger is not one we wrote.
const CHANNEL_MAX_BYTES: usize = 1 << 20;

/// How the server protects itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeOptions {
    pub connections: ConnLimits,
    /// Time for a handler to produce its response (the body of a large file may stream on).
    pub request_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            connections: ConnLimits { header_timeout: Duration::from_secs(10), max_connections: 512 },
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// `Cache-Control` for a request path.
pub fn cache_control_for(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        // Named by content hash, or a published version's manifest: never changes.
        ["models", _, "files", _] | ["models", _, _, "manifest.json"] => "public, max-age=31536000, immutable",
        // The mutable pointer: short-lived, then revalidated with its ETag.
        // The channel's signature changes with it (manifest signatures stay revalidated: `sign`
        // may re-sign a published version with a new key).
        ["models", _, "channel.json" | "channel.json.sig"] => "public, max-age=60",
        // Builds and pages keep their names across rebuilds: always revalidate.
        _ => "no-cache",
    }
}

/// `dir` served as files, refusing any whose real path leaves `dir`.
fn files(
    dir: PathBuf,
) -> impl tower::Service<Request, Response = Response, Error = std::convert::Infallible, Future: Send + 'static> + Clone + Send + Sync + 'static
{
    middleware::from_fn_with_state(dir.clone(), confine).layer(ServeDir::new(dir))
}

/// 404 for a path that resolves (through symlinks) outside its root, or that names a file kept
/// beside the releases but not for the public (see `private`), before `ServeDir` opens it.
async fn confine(State(root): State<PathBuf>, req: Request, next: Next) -> Response {
    if escapes(&root, req.uri().path()) || private(req.uri().path()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    next.run(req).await
}

/// Files in a model folder that are the publisher's, not the CDN's: dot files (the rollout
/// lock, editors' leftovers) and the rollout log (`rollout-log.json`: who changed what and the
/// guard's numbers, read by the collector behind its read key).
fn private(uri_path: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(uri_path).decode_utf8_lossy();
    decoded.split('/').any(|segment| segment.starts_with('.') && segment != "." && segment != "..")
        || decoded.rsplit('/').next() == Some(crate::rollout::log::LOG_FILE)
}

/// Whether the file `ServeDir` would serve for `uri_path` under `root` lies outside `root` once
/// symlinks are resolved. A path that does not exist is left to `ServeDir` (a 404 there too);
/// one that does not decode is refused here.
fn escapes(root: &Path, uri_path: &str) -> bool {
    let Ok(decoded) = percent_encoding::percent_decode_str(uri_path).decode_utf8() else {
        return true;
    };
    let mut path = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            // ServeDir refuses these too.
            ".." => return true,
            s if s.contains('\\') || s.contains('\0') => return true,
            s => path.push(s),
        }
    }
    let Ok(real) = path.canonicalize() else {
        return false;
    };
    let Ok(real_root) = root.canonicalize() else {
        return true;
    };
    if !real.starts_with(&real_root) {
        return true;
    }
    // A folder is served as its index.html.
    real.is_dir() && real.join("index.html").canonicalize().is_ok_and(|index| !index.starts_with(&real_root))
}

/// The router: `/pkg/*` from `pkg/`, `/models/*` from `models` (`root/models` unless
/// `burn-edge serve --models` says otherwise), `/samples/*` (the image
/// classifier demo's sample photos) from `../shared/datasets/squeezenet/images` beside the
/// project, the `collector` routes (with their own CORS rules), everything else from `www/`.
pub fn router(root: &Path, models: &Path, collector: Router, request_timeout: Duration) -> Router {
    let header = |name: &'static str, value| {
        SetResponseHeaderLayer::overriding(header::HeaderName::from_static(name), HeaderValue::from_static(value))
    };
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers([header::RANGE, header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE])
        .expose_headers([header::CONTENT_LENGTH, header::CONTENT_RANGE, header::ETAG, header::ACCEPT_RANGES]);
    let cdn = Router::new()
        .nest_service("/pkg", files(root.join("pkg")))
        .nest_service("/models", files(models.to_path_buf()))
        .nest_service("/samples", files(root.join("../shared/datasets/squeezenet/images")))
        .fallback_service(files(root.join("www")))
        .layer(middleware::from_fn(channel_etag))
        .layer(cors);
    collector
        .merge(cdn)
        .layer(middleware::from_fn(cache_control))
        .layer(header("cross-origin-opener-policy", "same-origin"))
        .layer(header("cross-origin-embedder-policy", "require-corp"))
        // Other origins (pages using this server as their CDN) may embed what it serves.
        .layer(header("cross-origin-resource-policy", "cross-origin"))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, request_timeout))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// A handler's panic: logged, answered 500; the connection and the server go on.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
    eprintln!("request handler panicked: {}", message.as_deref().unwrap_or("(no message)"));
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({ "error": "internal error" }))).into_response()
}

/// Sets the path's cache policy on a success unless the handler chose one (the summary's
/// `no-store`).
async fn cache_control(req: Request, next: Next) -> Response {
    let policy = cache_control_for(req.uri().path());
    let mut res = next.run(req).await;
    if (res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED) && !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    res
}

/// Strong content ETag on the mutable small files (channel files and signatures), answering
/// `If-None-Match` with 304. No `Last-Modified`, and `If-Modified-Since` is ignored: its
/// one-second granularity answered 304 for a signature rewritten within the same second (a
/// promote and a rollback in quick succession), leaving a browser with a stale `.sig` beside a
/// fresh channel until its cache entry expired. A HEAD is served as a GET whose body is then
/// dropped, so both carry the same tag.
async fn channel_etag(mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !(path.ends_with("/channel.json") || path.ends_with(".sig")) {
        return next.run(req).await;
    }
    req.headers_mut().remove(header::IF_MODIFIED_SINCE);
    let head = req.method() == Method::HEAD;
    if head {
        *req.method_mut() = Method::GET;
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
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, if head { Body::empty() } else { Body::from(bytes) })
}

/// `If-None-Match` uses weak comparison: `W/` prefixes are ignored, `*` matches anything.
fn etag_matches(if_none_match: &HeaderValue, etag: &str) -> bool {
    if_none_match.to_str().unwrap_or("").split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == etag)
}

/// Serves `root` on `addr` until interrupted, printing the demo URL once listening (and the
/// dashboard's, with `dashboard_key` in its fragment when given).
pub async fn serve(
    root: &Path,
    models: &Path,
    addr: SocketAddr,
    collector: Router,
    options: ServeOptions,
    policy: PagePolicy,
    dashboard_key: Option<&str>,
) -> Result<()> {
    if !root.join("pkg/cpu/burn_edge_bg.wasm").exists() {
        eprintln!("warning: {} has no wasm build yet; run `npm run build` first", root.join("pkg").display());
    }
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    println!("burn-edge demo: http://{local}/");
    // The key goes in the fragment, which the browser never sends to the server.
    let fragment = dashboard_key.map(|k| format!("#key={k}")).unwrap_or_default();
    // Two lines, no more: tests read these and close the pipe (a later print would fail).
    println!("telemetry collector: POST http://{local}/v1/logs (predictions: POST http://{local}/v1/predict/<model>); dashboard at http://{local}/dashboard.html{fragment}");
    let app = with_policy(router(root, models, collector, options.request_timeout), policy);
    crate::server::run(listener, app, options.connections).await;
    Ok(())
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
        router(root, &root.join("models"), Router::new(), Duration::from_secs(30)).oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn body(res: Response) -> Vec<u8> {
        axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec()
    }

    #[tokio::test]
    async fn every_response_carries_the_page_policy_the_ort_pages_theirs() {
        let dir = fixture();
        let policy = PagePolicy::new(&["https://cdn.example".into()]).unwrap();
        let app = with_policy(router(dir.path(), &dir.path().join("models"), Router::new(), Duration::from_secs(30)), policy.clone());
        for (path, status) in
            [("/", 200), ("/index.html", 200), ("/pkg/cpu/burn_edge_bg.wasm", 200), ("/missing.html", 404), ("/bench.html", 404)]
        {
            let res = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(res.status(), status, "{path}");
            assert_eq!(&res.headers()["content-security-policy"], policy.for_path(path), "{path}");
        }
        let csp = |path| policy.for_path(path).to_str().unwrap().to_string();
        assert!(csp("/").contains("script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self' https://cdn.example;"));
        assert!(csp("/bench.html").contains("'unsafe-eval'"));
    }

    #[test]
    fn cache_policies_by_path() {
        assert_eq!(cache_control_for("/models/mnist/files/ab.bpk"), "public, max-age=31536000, immutable");
        assert_eq!(cache_control_for("/models/mnist/1.1.0/manifest.json"), "public, max-age=31536000, immutable");
        assert_eq!(cache_control_for("/models/mnist/channel.json"), "public, max-age=60");
        assert_eq!(cache_control_for("/models/mnist/channel.json.sig"), "public, max-age=60");
        assert_eq!(cache_control_for("/models/mnist/1.1.0/manifest.json.sig"), "no-cache");
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
    async fn the_rollout_log_and_dot_files_are_not_served() {
        let dir = fixture();
        for (file, url) in [
            ("models/mnist/rollout-log.json", "/models/mnist/rollout-log.json"),
            ("models/mnist/rollout-log.json", "/models/mnist/rollout%2Dlog.json"),
            ("models/mnist/.channel.lock", "/models/mnist/.channel.lock"),
            ("models/mnist/.channel.lock", "/models/mnist/%2Echannel.lock"),
        ] {
            std::fs::write(dir.path().join(file), b"[]").unwrap();
            assert_eq!(get(dir.path(), url, &[]).await.status(), 404, "{url}");
        }
        assert_eq!(get(dir.path(), "/models/mnist/channel.json", &[]).await.status(), 200);
    }

    #[tokio::test]
    async fn a_signature_rewritten_within_the_same_second_is_never_a_304() {
        let dir = fixture();
        let sig = dir.path().join("models/mnist/channel.json.sig");
        std::fs::write(&sig, b"{\"signature\":\"old\"}\n").unwrap();
        let res = get(dir.path(), "/models/mnist/channel.json.sig", &[]).await;
        assert!(res.headers().get("last-modified").is_none(), "no second-granular validator");
        let etag = res.headers()["etag"].to_str().unwrap().to_string();
        let then = httpdate_now();
        // The publisher re-signs moments later (same second): both validators a browser could
        // send must miss.
        std::fs::write(&sig, b"{\"signature\":\"new\"}\n").unwrap();
        let res = get(dir.path(), "/models/mnist/channel.json.sig", &[("if-none-match", &etag), ("if-modified-since", &then)]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(body(res).await, b"{\"signature\":\"new\"}\n");
    }

    /// Now as an HTTP date (the format of `If-Modified-Since`), rounded up a second.
    fn httpdate_now() -> String {
        (chrono::Utc::now() + chrono::Duration::seconds(1)).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
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

    #[tokio::test]
    async fn head_and_get_of_a_channel_carry_the_same_etag() {
        let dir = fixture();
        let get_res = get(dir.path(), "/models/mnist/channel.json", &[]).await;
        let app = router(dir.path(), &dir.path().join("models"), Router::new(), Duration::from_secs(30));
        let head = app.oneshot(Request::head("/models/mnist/channel.json").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["etag"], get_res.headers()["etag"]);
        assert_eq!(head.headers()["content-length"], "15");
        assert!(body(head).await.is_empty(), "a HEAD has no body");
        // A HEAD revalidates like a GET.
        let etag = get_res.headers()["etag"].to_str().unwrap().to_string();
        let app = router(dir.path(), &dir.path().join("models"), Router::new(), Duration::from_secs(30));
        let req = Request::head("/models/mnist/channel.json").header("if-none-match", &etag).body(Body::empty()).unwrap();
        assert_eq!(app.oneshot(req).await.unwrap().status(), 304);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinks_out_of_a_served_folder_are_404() {
        let dir = fixture();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), b"private").unwrap();
        std::fs::create_dir(outside.path().join("sub")).unwrap();
        std::fs::write(outside.path().join("sub/index.html"), b"private").unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("www/leak.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("models/mnist/out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("sub"), root.join("pkg/sub")).unwrap();
        std::fs::create_dir(root.join("www/docs")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("sub/index.html"), root.join("www/docs/index.html")).unwrap();
        // A link that stays inside its folder is fine.
        std::os::unix::fs::symlink(root.join("www/index.html"), root.join("www/home.html")).unwrap();
        for path in [
            "/leak.txt",
            "/models/mnist/out/secret.txt",
            "/models/mnist/out/sub/index.html",
            "/pkg/sub/",
            "/pkg/sub/index.html",
            "/docs/",
            "/%6ceak.txt",
        ] {
            let res = get(root, path, &[]).await;
            assert_eq!(res.status(), 404, "{path}");
            assert!(!String::from_utf8_lossy(&body(res).await).contains("private"), "{path}");
        }
        let res = get(root, "/home.html", &[]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(body(res).await, b"<!doctype html>");
        assert_eq!(get(root, "/models/mnist/files/abc.bpk", &[]).await.status(), 200);
    }

    #[test]
    fn escapes_resolves_like_serve_dir() {
        let dir = fixture();
        let www = dir.path().join("www");
        assert!(!escapes(&www, "/index.html"));
        assert!(!escapes(&www, "/missing/file"), "a missing file is ServeDir's 404");
        assert!(escapes(&www, "/../models/mnist/channel.json"));
        assert!(escapes(&www, "/%2e%2e/models/mnist/channel.json"));
        assert!(escapes(&www, "/%ff"), "not UTF-8");
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
        use std::io::{Read, Write};
        let dir = fixture();
        async fn boom() -> &'static str {
            panic!("handler bug")
        }
        let collector = Router::new().route("/boom", axum::routing::get(boom)).route("/ok", axum::routing::get(|| async { "fine" }));
        let app = router(dir.path(), &dir.path().join("models"), collector, Duration::from_secs(30));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = ConnLimits { header_timeout: Duration::from_secs(5), max_connections: 8 };
        tokio::spawn(crate::server::run(listener, app, limits));
        let fetch = move |path: &'static str| {
            tokio::task::spawn_blocking(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                out
            })
        };
        let res = fetch("/boom").await.unwrap();
        assert!(res.starts_with("HTTP/1.1 500"), "{res}");
        for _ in 0..3 {
            let res = fetch("/ok").await.unwrap();
            assert!(res.starts_with("HTTP/1.1 200") && res.ends_with("fine"), "{res}");
        }
    }

    #[tokio::test]
    async fn a_handler_past_the_request_timeout_gets_503() {
        let dir = fixture();
        let collector = Router::new().route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
        let app = router(dir.path(), &dir.path().join("models"), collector, Duration::from_millis(100));
        let started = std::time::Instant::now();
        let res = app.oneshot(Request::get("/slow").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), 503);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
