//! `burn-edge serve`: the local development server for the demo page, the wasm builds and the
//! model files, cross-origin isolated so `performance.now()` keeps full resolution.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use axum::http::{header, HeaderValue};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// The router: `/pkg/*` from `pkg/`, `/models/*` from `models/`, everything else from `www/`.
pub fn router(root: &Path) -> Router {
    let header = |name, value| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    Router::new()
        .nest_service("/pkg", ServeDir::new(root.join("pkg")))
        .nest_service("/models", ServeDir::new(root.join("models")))
        .fallback_service(ServeDir::new(root.join("www")))
        // Development server: builds change under the same names, so always revalidate.
        .layer(header(header::CACHE_CONTROL, "no-cache"))
        .layer(header(header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
        .layer(header(header::HeaderName::from_static("cross-origin-embedder-policy"), "require-corp"))
        .layer(header(header::HeaderName::from_static("cross-origin-resource-policy"), "same-origin"))
        .layer(CompressionLayer::new())
}

/// Serves `root` on `addr` until interrupted, printing the demo URL once listening.
pub async fn serve(root: &Path, addr: SocketAddr) -> Result<()> {
    if !root.join("pkg/cpu/burn_edge_bg.wasm").exists() {
        eprintln!("warning: {} has no wasm build yet; run `npm run build` first", root.join("pkg").display());
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    println!("burn-edge demo: http://{local}/");
    axum::serve(listener, router(root)).await.context("server failed")
}
