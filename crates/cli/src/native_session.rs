//! A published model version run natively through the browser runtime's own `Session`
//! (`burn_edge::Session` on the CPU with burn-edge's kernels: the compiled plan), so the
//! server's predictions and `predict --batch` compute what the browser's CPU build computes.
//! The manifest is checked as the runtime checks it and the weights against its SHA-256 before
//! they are decoded.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn_edge::{BackendPreference, CpuKernels, RuntimeError, Session};
use burn_edge_formats::Manifest;
use burn_edge_model::Architecture;

/// Why a published version cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Manifest { path: PathBuf, source: RuntimeError },
    #[error("{path}: {problem}")]
    Inconsistent { path: PathBuf, problem: String },
    #[error("{path} has sha256 {found}, the manifest says {expected}")]
    Checksum { path: PathBuf, found: String, expected: String },
    #[error("creating the session for {model}: {source}")]
    Session { model: String, source: RuntimeError },
}

/// A model version loaded on the CPU, ready to predict.
pub struct NativeModel {
    pub manifest: Manifest,
    pub architecture: &'static dyn Architecture,
    /// `info().cpuKernels` of the session: `burn-edge` when the compiled plan runs.
    pub kernels: &'static str,
    /// A session is `Send` but not `Sync` (a network left on Burn's kernels is not), so one
    /// prediction at a time runs on it.
    session: Mutex<Session>,
}

impl std::fmt::Debug for NativeModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NativeModel({}@{}, {})", self.manifest.name, self.manifest.version, self.architecture.id())
    }
}

impl NativeModel {
    /// Opens the version whose manifest is at `manifest_path` (its weights path is relative to it).
    pub fn open(manifest_path: &Path) -> Result<Self, OpenError> {
        let read_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| OpenError::Read { path, source }
        };
        let text = std::fs::read_to_string(manifest_path).map_err(read_err(manifest_path))?;
        let manifest =
            burn_edge::check_manifest(&text).map_err(|source| OpenError::Manifest { path: manifest_path.to_path_buf(), source })?;
        let inconsistent = |problem: String| OpenError::Inconsistent { path: manifest_path.to_path_buf(), problem };
        let architecture = burn_edge::architecture(&manifest.architecture).map_err(|e| inconsistent(e.to_string()))?;
        if manifest.labels.len() != architecture.outputs() {
            return Err(inconsistent(format!(
                "the manifest has {} labels but {} has {} classes",
                manifest.labels.len(),
                architecture.id(),
                architecture.outputs()
            )));
        }
        if !manifest.input.shape.iter().map(|&d| d as usize).eq(architecture.input_shape().iter().copied()) {
            return Err(inconsistent(format!(
                "the manifest's input shape {:?} is not {}'s {:?}",
                manifest.input.shape,
                architecture.id(),
                architecture.input_shape()
            )));
        }
        let entry = manifest.weights().map_err(|e| inconsistent(e.to_string()))?;
        let weights_path = manifest_path.parent().unwrap_or(Path::new(".")).join(&entry.path);
        let bytes = std::fs::read(&weights_path).map_err(read_err(&weights_path))?;
        let found = crate::publish::sha256_hex(&bytes);
        if found != entry.sha256 {
            return Err(OpenError::Checksum { path: weights_path, found, expected: entry.sha256.clone() });
        }
        let model = format!("{}@{}", manifest.name, manifest.version);
        let created = Session::create(architecture, &bytes, BackendPreference::Cpu, CpuKernels::Auto, || async {
            Err::<burn_edge::WebGpuDevice, _>("the server runs on the CPU".to_string())
        });
        let session = pollster::block_on(created).map_err(|source| OpenError::Session { model, source })?;
        let kernels = session.info().cpu_kernels;
        Ok(NativeModel { manifest, architecture, kernels, session: Mutex::new(session) })
    }

    /// `batch * classes` probabilities for `batch` flat examples (checked: whole, finite).
    pub fn predict(&self, input: &[f32]) -> Result<Vec<f32>, RuntimeError> {
        // A panic in another prediction leaves nothing half-written the next one reads.
        let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        pollster::block_on(session.predict(input))
    }
}
