//! burn-edge browser runtime.
//!
//! Plain Rust that `cargo test` runs natively: backend choice ([`backend`]), the model session
//! ([`session`]), photo preprocessing per input schema ([`preprocess`]) and the errors
//! ([`error`]). The only file that touches `wasm_bindgen`,
//! `js_sys` and the browser is `web.rs`, compiled for wasm32 alone.

pub mod backend;
pub mod error;
pub mod manifest_check;
pub mod preprocess;
pub mod session;

#[cfg(target_family = "wasm")]
pub mod web;

pub use backend::{BackendKind, BackendPreference, CpuKernels, Skipped, WebGpuDevice};
pub use error::RuntimeError;
pub use manifest_check::{architecture, architectures, check_manifest, choose_weights, runtime_capabilities};
pub use preprocess::prepare_image;
pub use session::{Session, SessionInfo};

/// Version of this runtime, as reported by `info()`.
pub const RUNTIME_VERSION: &str = env!("CARGO_PKG_VERSION");
