//! A model session: weights decoded on one backend, chosen by preference and proven by a
//! warm-up inference.

use std::future::Future;

use burn::prelude::*;
use burn_edge_model::{Architecture, CpuPlan, Network};
use serde::Serialize;

use crate::backend::{cpu_device, BackendKind, BackendPreference, CpuKernels, Skipped, WebGpuDevice, BURN_EDGE_KERNELS, CPU_KERNELS};
use crate::{RuntimeError, RUNTIME_VERSION};

/// What a session tells about itself (serialised to JSON for `info()`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Backend that runs the predictions.
    pub backend: BackendKind,
    /// Kernels that run on the CPU: `"burn-edge"` (this runtime's own, for architectures that
    /// have them) or Burn's backend of this build (`"flex"`).
    pub cpu_kernels: &'static str,
    /// Wasm SIMD flavour of burn-edge's CPU kernels in this module: `"relaxed"` (fused
    /// multiply-add) or `"baseline"`.
    pub cpu_simd: &'static str,
    /// WebGPU adapter description, when WebGPU runs.
    pub adapter: Option<serde_json::Value>,
    /// Backends not used, with the reason.
    pub skipped: Vec<Skipped>,
    /// Architecture id of the model.
    pub architecture: &'static str,
    /// Number of model parameters.
    pub parameters: usize,
    /// Whether this build contains the WebGPU backend.
    pub webgpu_build: bool,
    /// Runtime version.
    pub runtime_version: &'static str,
}

/// A loaded model on its backend.
pub struct Session {
    network: Box<dyn Network>,
    /// The model on burn-edge's CPU kernels; when set, it runs the predictions.
    plan: Option<CpuPlan>,
    device: Device,
    info: SessionInfo,
}

impl Session {
    /// Creates a session from Burnpack weight bytes.
    ///
    /// `acquire_webgpu` is called only when WebGPU is wanted; it returns an initialised device or
    /// the reason there is none. With [`BackendPreference::Auto`] any WebGPU failure (no API, no
    /// adapter, no device, failed warm-up) is recorded in `info().skipped` and the CPU runs;
    /// with [`BackendPreference::WebGpu`] it is an error. Weights that do not decode are an
    /// error on every backend. On the CPU, `kernels` picks burn-edge's kernels or Burn's.
    pub async fn create<F, Fut>(
        architecture: &'static dyn Architecture,
        weights: &[u8],
        preference: BackendPreference,
        kernels: CpuKernels,
        acquire_webgpu: F,
    ) -> Result<Self, RuntimeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<WebGpuDevice, String>>,
    {
        let mut skipped = Vec::new();
        if preference == BackendPreference::Cpu {
            skipped.push(Skipped { backend: BackendKind::WebGpu, reason: "not requested (backend \"cpu\")".into() });
        } else {
            match Self::on_webgpu(architecture, weights, acquire_webgpu).await {
                Ok(session) => return Ok(session),
                Err(RuntimeError::WebGpuUnavailable(reason)) if preference == BackendPreference::Auto => {
                    skipped.push(Skipped { backend: BackendKind::WebGpu, reason });
                }
                Err(RuntimeError::WebGpuUnavailable(reason)) => {
                    return Err(RuntimeError::WebGpuUnavailable(reason));
                }
                Err(other) => return Err(other),
            }
        }
        let mut session = Self::on_device(architecture, weights, cpu_device(), BackendKind::Cpu, None, skipped)?;
        if kernels == CpuKernels::Auto {
            session.plan = session.network.hand_plan()?;
            if session.plan.is_some() {
                session.info.cpu_kernels = BURN_EDGE_KERNELS;
            }
        }
        session.warm_up().await?;
        Ok(session)
    }

    async fn on_webgpu<F, Fut>(architecture: &'static dyn Architecture, weights: &[u8], acquire: F) -> Result<Self, RuntimeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<WebGpuDevice, String>>,
    {
        if !cfg!(feature = "webgpu") {
            return Err(RuntimeError::WebGpuUnavailable(
                "this is the CPU-only build of the runtime; load the WebGPU build to use WebGPU".into(),
            ));
        }
        let gpu = acquire().await.map_err(RuntimeError::WebGpuUnavailable)?;
        let session = Self::on_device(architecture, weights, gpu.device, BackendKind::WebGpu, Some(gpu.adapter), Vec::new())?;
        session.warm_up().await.map_err(|e| RuntimeError::WebGpuUnavailable(format!("warm-up inference failed: {e}")))?;
        Ok(session)
    }

    fn on_device(
        architecture: &'static dyn Architecture,
        weights: &[u8],
        device: Device,
        backend: BackendKind,
        adapter: Option<serde_json::Value>,
        skipped: Vec<Skipped>,
    ) -> Result<Self, RuntimeError> {
        let network = architecture.load(weights, &device)?;
        let info = SessionInfo {
            backend,
            cpu_kernels: CPU_KERNELS,
            cpu_simd: if cfg!(feature = "relaxed-simd") { "relaxed" } else { "baseline" },
            adapter,
            skipped,
            architecture: architecture.id(),
            parameters: network.num_params(),
            webgpu_build: cfg!(feature = "webgpu"),
            runtime_version: RUNTIME_VERSION,
        };
        Ok(Self { network, plan: None, device, info })
    }

    /// One inference on a blank input: compiles kernels and proves the backend works.
    async fn warm_up(&self) -> Result<(), RuntimeError> {
        self.predict(&vec![0.0; self.network.architecture().input_len()]).await.map(|_| ())
    }

    /// The model's outputs (`batch * outputs` values: class probabilities) for a batch of
    /// examples, each flat in the architecture's input shape as the manifest's input schema
    /// says (MNIST: planar 1x28x28, `0..=1`, white on black; a tabular model: its features).
    pub async fn predict(&self, input: &[f32]) -> Result<Vec<f32>, RuntimeError> {
        let backend = self.info.backend.name();
        let architecture = self.network.architecture();
        if let Some(plan) = &self.plan {
            let probs = plan.probabilities(input)?;
            return finite(probs, backend);
        }
        let data = self
            .network
            .forward(input, &self.device)?
            .into_data_async()
            .await
            .map_err(|e| RuntimeError::Readback { backend, detail: format!("{e:?}") })?;
        let probs: Vec<f32> = data.try_to_vec::<f32>().map_err(|e| RuntimeError::Readback { backend, detail: format!("{e:?}") })?;
        if probs.len() != input.len() / architecture.input_len() * architecture.outputs() {
            return Err(RuntimeError::Readback {
                backend,
                detail: format!("{} probabilities for {} input values", probs.len(), input.len()),
            });
        }
        finite(probs, backend)
    }

    /// What runs this session and why.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }
}

/// The probabilities, unless the backend produced NaN or infinity.
fn finite(probs: Vec<f32>, backend: &'static str) -> Result<Vec<f32>, RuntimeError> {
    if probs.iter().any(|p| !p.is_finite()) {
        return Err(RuntimeError::NonFinite(backend));
    }
    Ok(probs)
}
