//! burn-edge wire formats, defined once here and shared by every side: the CLI writes them
//! (`burn-edge publish`), the server serves them, the wasm runtime checks them, and the JS
//! shell is tested against the JSON Schemas generated from these types (`schemas/`).
//!
//! A *manifest* describes one immutable model version; a *channel* file maps mutable aliases
//! (`stable`, `canary`, ...) to versions. Both are camelCase JSON, and each may carry a detached
//! Ed25519 *signature* file (`signature`).

pub mod bucketing;
pub mod channel;
pub mod manifest;
pub mod predict;
pub mod rollout;
mod schema;
pub mod signature;
pub mod telemetry;
pub mod variant;

pub use channel::{content_path, manifest_path, Channel, CHANNEL_FILE, CHANNEL_SCHEMA_VERSION};
pub use manifest::{
    ConfidenceHistogram, FileEntry, FileRole, InputSchema, Manifest, Metrics, Preprocessing, ReferenceStats, VariantEvaluation,
};
pub use rollout::{Assignment, AssignmentKind, Rollout, Rule, RuleKind, Unit};
pub use schema::{channel_schema, manifest_schema, signature_schema};
pub use signature::{signature_path, signed_message, Signature, SignedKind};
pub use variant::Preference;

/// The schema version of manifests and signatures, and of channels without a rollout section.
pub const SCHEMA_VERSION: u32 = 1;

/// Why a manifest or channel file is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FormatError {
    #[error("not valid {what} JSON: {message}")]
    Json { what: &'static str, message: String },
    #[error("{what} schema version {found} is not supported (this build reads version {SCHEMA_VERSION})")]
    SchemaVersion { what: &'static str, found: u32 },
    #[error("channel schema version {found} is not supported (this build reads versions 1 and 2)")]
    ChannelSchemaVersion { found: u32 },
    #[error("rollout {at}: {problem}")]
    Rollout { at: String, problem: String },
    #[error("{field} {value:?} is not a semantic version (like 1.2.0)")]
    Version { field: &'static str, value: String },
    #[error("file {path:?}: sha256 must be 64 lowercase hex digits, got {sha256:?}")]
    Sha256 { path: String, sha256: String },
    #[error("file path {0:?} must be a plain relative path inside the model folder (like ../files/<sha256>.bpk): segments of letters, digits, '.', '_' and '-', at most one leading '..', no '%', '\\', ':' or leading '/'")]
    Path(String),
    #[error("manifest lists no weights file")]
    NoWeights,
    #[error("{0}")]
    Inconsistent(String),
    #[error("model {model:?} needs runtime {required} or newer; this runtime is {runtime}")]
    RuntimeTooOld { model: String, required: String, runtime: String },
    #[error("model {model:?} has architecture {architecture:?}, which this runtime does not contain (it has: {available})")]
    UnsupportedArchitecture { model: String, architecture: String, available: String },
    #[error("model {model:?} has no weights variant {variant:?} (it has: {available})")]
    UnknownVariant { model: String, variant: String, available: String },
    #[error("weights variant {variant:?} of {model:?} needs {missing}, which this device lacks")]
    VariantNeeds { model: String, variant: String, missing: String },
    #[error("no weights variant of {model:?} runs on this device (each needs one of: {needs})")]
    NoRunnableVariant { model: String, needs: String },
    #[error("{0:?} is not a variant preference (use smallest, fastest or accurate)")]
    Preference(String),
    #[error("channel {channel:?} has no alias {alias:?} (it has: {available})")]
    UnknownAlias { channel: String, alias: String, available: String },
}

/// Parses a semantic version, naming the field on failure.
pub fn parse_version(field: &'static str, value: &str) -> Result<semver::Version, FormatError> {
    semver::Version::parse(value).map_err(|_| FormatError::Version { field, value: value.to_string() })
}
