//! A published model version run natively through the browser runtime's own `Session`
//! (`burn_edge::Session` on the CPU with burn-edge's kernels: the compiled plan), so the
//! server's predictions and `predict --batch` compute what the browser's CPU build computes.
//! The manifest is checked as the runtime checks it and the weights against its SHA-256 before
//! they are decoded. A session is `Send` but not `Sync` (a network left on Burn's kernels is
//! not), so concurrent predictions each take one from a small pool, created from the verified
//! weights as needed up to a maximum.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

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
    /// The verified weights, for more sessions.
    weights: Vec<u8>,
    pool: Mutex<Pool>,
    returned: Condvar,
}

/// Idle sessions, and how many exist (idle or predicting).
struct Pool {
    idle: Vec<Session>,
    created: usize,
    max: usize,
}

/// A session taken from the pool: back into it when done, dropped (and replaced later) when a
/// prediction panicked on it.
struct Taken<'a> {
    model: &'a NativeModel,
    session: Option<Session>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let mut pool = self.model.pool.lock().unwrap_or_else(|p| p.into_inner());
        match self.session.take() {
            Some(session) if !std::thread::panicking() => pool.idle.push(session),
            _ => pool.created -= 1,
        }
        self.model.returned.notify_one();
    }
}

impl std::fmt::Debug for NativeModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NativeModel({}@{}, {})", self.manifest.name, self.manifest.version, self.architecture.id())
    }
}

impl NativeModel {
    /// Opens the version whose manifest is at `manifest_path` (its weights path is relative to
    /// it), for at most `max_sessions` predictions at once.
    pub fn open(manifest_path: &Path, max_sessions: usize) -> Result<Self, OpenError> {
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
        let session = create(architecture, &bytes).map_err(|source| OpenError::Session { model, source })?;
        let kernels = session.info().cpu_kernels;
        let pool = Pool { idle: vec![session], created: 1, max: max_sessions.max(1) };
        Ok(NativeModel { manifest, architecture, kernels, weights: bytes, pool: Mutex::new(pool), returned: Condvar::new() })
    }

    /// An idle session, a new one while under the maximum, else the next one returned.
    fn take(&self) -> Result<Taken<'_>, RuntimeError> {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(session) = pool.idle.pop() {
                return Ok(Taken { model: self, session: Some(session) });
            }
            if pool.created < pool.max {
                pool.created += 1;
                drop(pool);
                // Counted before it exists, so a failure gives the slot back.
                let mut taken = Taken { model: self, session: None };
                taken.session = Some(create(self.architecture, &self.weights)?);
                return Ok(taken);
            }
            pool = self.returned.wait(pool).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Sessions that exist now.
    #[cfg(test)]
    pub fn sessions(&self) -> usize {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).created
    }

    /// `batch * classes` probabilities for `batch` flat examples (checked: whole, finite).
    pub fn predict(&self, input: &[f32]) -> Result<Vec<f32>, RuntimeError> {
        let taken = self.take()?;
        let session = taken.session.as_ref().expect("a taken session is there until dropped");
        pollster::block_on(session.predict(input))
    }
}

/// A CPU session on burn-edge's kernels (the compiled plan), as the browser's CPU build makes it.
fn create(architecture: &'static dyn Architecture, weights: &[u8]) -> Result<Session, RuntimeError> {
    pollster::block_on(Session::create(architecture, weights, BackendPreference::Cpu, CpuKernels::Auto, || async {
        Err::<burn_edge::WebGpuDevice, _>("the server runs on the CPU".to_string())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_predictions_get_sessions_of_their_own_up_to_the_maximum() {
        let manifest = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/mnist/1.0.0/manifest.json"));
        let model = NativeModel::open(manifest, 2).unwrap();
        let (a, b) = (model.take().unwrap(), model.take().unwrap());
        assert_eq!(model.sessions(), 2);
        let input = vec![0.25; 784];
        let expected = pollster::block_on(a.session.as_ref().unwrap().predict(&input)).unwrap();
        std::thread::scope(|s| {
            // At the maximum, a third prediction waits for a session to come back.
            let waiting = s.spawn(|| model.predict(&input).unwrap());
            std::thread::sleep(std::time::Duration::from_millis(200));
            assert!(!waiting.is_finished());
            drop(a);
            assert_eq!(waiting.join().unwrap(), expected);
        });
        drop(b);
        assert_eq!(model.sessions(), 2);
        // A prediction that panics loses its session; the next one makes a new one.
        let lost = std::thread::scope(|s| {
            s.spawn(|| {
                let _taken = model.take().unwrap();
                panic!("a bug in the middle of a prediction");
            })
            .join()
        });
        assert!(lost.is_err());
        assert_eq!(model.sessions(), 1);
        assert_eq!(model.predict(&input).unwrap(), expected);
    }
}
