//! Everything that can go wrong in the runtime, with messages meant for the page's developer.

use burn_edge_formats::FormatError;
use burn_edge_model::{DigitInputError, ImageInputError, InputError, PlanError, WeightsError};

/// A runtime failure; crosses to JavaScript as an `Error` carrying this message.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The backend preference is not one of the known names.
    #[error("unknown backend {0:?}: use \"auto\", \"webgpu\" or \"cpu\"")]
    UnknownBackend(String),
    /// The CPU kernel choice is not one of the known names.
    #[error("unknown CPU kernels {0:?}: use \"auto\" or \"burn\"")]
    UnknownCpuKernels(String),
    /// A step of the compiled plan failed (an operation run through Burn inside it).
    #[error("burn-edge's CPU kernels failed: {0}")]
    CpuPlan(#[from] PlanError),
    /// `"webgpu"` was requested and could not be provided.
    #[error("WebGPU was requested but is unavailable: {0}")]
    WebGpuUnavailable(String),
    /// The weight bytes do not decode for this architecture.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The input batch has the wrong length or values.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A digit image could not be prepared as model input.
    #[error(transparent)]
    Image(#[from] DigitInputError),
    /// A photo could not be prepared, or the input schema is not one this runtime knows.
    #[error(transparent)]
    Photo(#[from] ImageInputError),
    /// The architecture id is not compiled into this runtime.
    #[error("this runtime has no architecture {found:?} (it has: {known})")]
    UnknownArchitecture {
        /// The id asked for.
        found: String,
        /// The ids this build contains.
        known: String,
    },
    /// Reading results back from the device failed.
    #[error("reading the result back from the {backend} backend failed: {detail}")]
    Readback {
        /// Backend that failed.
        backend: &'static str,
        /// The backend's own words.
        detail: String,
    },
    /// A manifest is malformed, or names a model this runtime cannot run.
    #[error(transparent)]
    Manifest(#[from] FormatError),
    /// The model produced NaN or infinity (a broken device or broken weights).
    #[error("the {0} backend produced non-finite probabilities")]
    NonFinite(&'static str),
}
