//! Why a rollout command refused or failed. Each message is one line (no error sources, so
//! `anyhow` prints no "Caused by" block) naming the file, rule or version concerned.

use std::path::PathBuf;

use burn_edge_formats::FormatError;

use crate::signing::SigningError;

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: {error}")]
    Format { path: PathBuf, error: FormatError },
    #[error("refusing to write {path}: the changed channel would not validate: {error}")]
    Invalid { path: PathBuf, error: FormatError },
    #[error("refusing: {0}")]
    Refused(String),
    #[error("refusing: {model}@{version} does not verify: {problem}")]
    Unverified { model: String, version: String, problem: String },
    #[error("{0}")]
    Signing(String),
    #[error("{path} exists: another rollout command is changing this channel (remove the file if none is running)")]
    Locked { path: PathBuf },
}

impl RolloutError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RolloutError {
        let path = path.into();
        move |error| RolloutError::Io { path, error }
    }
}

/// Shorthand for a refusal.
pub(crate) fn refuse<T>(message: impl Into<String>) -> Result<T, RolloutError> {
    Err(RolloutError::Refused(message.into()))
}

impl From<SigningError> for RolloutError {
    fn from(e: SigningError) -> Self {
        RolloutError::Signing(e.to_string())
    }
}
