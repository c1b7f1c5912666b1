//! A model session: weights decoded on one backend, chosen by preference and proven by a
//! warm-up inference.

use std::future::Future;

use burn::prelude::*;
use burn_edge_model::{check_input, Architecture, Network, Plan, PlanSummary, WeightBytes, WeightSource};
use serde::Serialize;

use crate::backend::{cpu_device, BackendKind, BackendPreference, CpuKernels, Skipped, WebGpuDevice, BURN_EDGE_KERNELS, CPU_KERNELS};
use crate::{RuntimeError, RUNTIME_VERSION};

/// What a session tells about itself (serialised to JSON for `info()`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Backend that runs the predictions.
    pub backend: BackendKind,
    /// Kernels that run on the CPU: `"burn-edge"` (this runtime's own, through the network's
    /// compiled plan) or Burn's backend of this build (`"flex"`).
    pub cpu_kernels: &'static str,
    /// What the compiled plan runs where, when it runs the predictions.
    pub plan: Option<PlanInfo>,
    /// Why the network runs on Burn's CPU kernels although burn-edge's were asked for.
    pub plan_error: Option<String>,
    /// The runtime's wasm memory in bytes (`null` natively): once the session was created, and
    /// when `info()` was called. Wasm memory never shrinks, so the first is the creation peak.
    pub memory: Memory,
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

/// The compiled plan's summary in `info()`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanInfo {
    /// Steps on burn-edge's kernels.
    pub kernel_steps: usize,
    /// Operations fused into the kernel step before them.
    pub fused: usize,
    /// Operations that run through Burn's flex backend inside the plan.
    pub burn_ops: Vec<String>,
    /// Bytes of weights and constants the plan holds (the network's module is dropped).
    pub weight_bytes: usize,
    /// Bytes of the largest activation buffer for one example (the memory goal's other term).
    pub largest_activation_bytes: usize,
}

impl From<&PlanSummary> for PlanInfo {
    fn from(s: &PlanSummary) -> Self {
        Self {
            kernel_steps: s.kernel_steps,
            fused: s.fused,
            burn_ops: s.burn_ops.clone(),
            weight_bytes: s.weight_values * 4,
            largest_activation_bytes: s.largest_activation * 4,
        }
    }
}

/// Wasm memory of the runtime (see [`SessionInfo::memory`]).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub after_creation: Option<usize>,
    pub now: Option<usize>,
}

/// The runtime's linear memory in bytes, in wasm.
fn wasm_memory() -> Option<usize> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(core::arch::wasm32::memory_size::<0>() * 65536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// What runs the predictions.
enum Runner {
    /// The network compiled onto burn-edge's CPU kernels; the Burn module is gone.
    Plan(Plan),
    /// The network's own forward on a Burn device.
    Burn { network: Box<dyn Network>, device: Device },
}

/// A loaded model on its backend.
pub struct Session {
    architecture: &'static dyn Architecture,
    runner: Runner,
    info: SessionInfo,
}

impl Session {
    /// Creates a session from Burnpack weight bytes in memory (a `Vec` is taken without a
    /// copy: the model's tensors are views into it while it loads); see [`Session::create_from`].
    pub async fn create<F, Fut>(
        architecture: &'static dyn Architecture,
        weights: impl Into<WeightBytes>,
        preference: BackendPreference,
        kernels: CpuKernels,
        acquire_webgpu: F,
    ) -> Result<Self, RuntimeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<WebGpuDevice, String>>,
    {
        Self::create_from(architecture, weights.into(), preference, kernels, acquire_webgpu).await
    }

    /// Creates a session from a Burnpack weights file read through `weights`, dropped before
    /// the warm-up (the browser's stays in JavaScript: tensors are copied in one by one, so
    /// wasm memory never holds the file beside the weights the plan packs).
    ///
    /// `acquire_webgpu` is called only when WebGPU is wanted; it returns an initialised device or
    /// the reason there is none. With [`BackendPreference::Auto`] any WebGPU failure (no API, no
    /// adapter, no device, failed warm-up) is recorded in `info().skipped` and the CPU runs;
    /// with [`BackendPreference::WebGpu`] it is an error. Weights that do not decode are an
    /// error on every backend. On the CPU, `kernels` picks burn-edge's kernels or Burn's.
    pub async fn create_from<F, Fut>(
        architecture: &'static dyn Architecture,
        weights: impl WeightSource,
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
            match Self::on_webgpu(architecture, &weights, acquire_webgpu).await {
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
        let device = cpu_device();
        let network = architecture.load_from(&weights, &device)?;
        let mut info = Self::describe(architecture, network.as_ref(), BackendKind::Cpu, None, skipped);
        let runner = match kernels {
            CpuKernels::Auto => match compile_plan(network) {
                Ok(plan) => {
                    info.cpu_kernels = BURN_EDGE_KERNELS;
                    info.plan = Some(PlanInfo::from(plan.summary()));
                    Runner::Plan(plan)
                }
                // The capture consumed the module: a network that does not compile is loaded
                // again and runs on Burn, and `info().planError` says why.
                Err(reason) => {
                    info.plan_error = Some(reason);
                    Runner::Burn { network: architecture.load_from(&weights, &device)?, device }
                }
            },
            CpuKernels::Burn => Runner::Burn { network, device },
        };
        drop(weights);
        let mut session = Self { architecture, runner, info };
        session.warm_up().await?;
        session.info.memory.after_creation = wasm_memory();
        Ok(session)
    }

    async fn on_webgpu<F, Fut>(
        architecture: &'static dyn Architecture,
        weights: &dyn WeightSource,
        acquire: F,
    ) -> Result<Self, RuntimeError>
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
        let network = architecture.load_from(weights, &gpu.device)?;
        let info = Self::describe(architecture, network.as_ref(), BackendKind::WebGpu, Some(gpu.adapter), Vec::new());
        let mut session = Self { architecture, runner: Runner::Burn { network, device: gpu.device }, info };
        session.warm_up().await.map_err(|e| RuntimeError::WebGpuUnavailable(format!("warm-up inference failed: {e}")))?;
        session.info.memory.after_creation = wasm_memory();
        Ok(session)
    }

    fn describe(
        architecture: &'static dyn Architecture,
        network: &dyn Network,
        backend: BackendKind,
        adapter: Option<serde_json::Value>,
        skipped: Vec<Skipped>,
    ) -> SessionInfo {
        SessionInfo {
            backend,
            cpu_kernels: CPU_KERNELS,
            plan: None,
            plan_error: None,
            memory: Memory { after_creation: None, now: None },
            cpu_simd: if cfg!(feature = "relaxed-simd") { "relaxed" } else { "baseline" },
            adapter,
            skipped,
            architecture: architecture.id(),
            parameters: network.num_params(),
            webgpu_build: cfg!(feature = "webgpu"),
            runtime_version: RUNTIME_VERSION,
        }
    }

    /// One inference on a blank input: compiles kernels and proves the backend works.
    async fn warm_up(&self) -> Result<(), RuntimeError> {
        self.predict_owned(vec![0.0; self.architecture.input_len()]).await.map(|_| ())
    }

    /// The model's outputs (`batch * outputs` values: class probabilities) for a batch of
    /// examples, each flat in the architecture's input shape as the manifest's input schema
    /// says (MNIST: planar 1x28x28, `0..=1`, white on black; a tabular model: its features).
    pub async fn predict(&self, input: &[f32]) -> Result<Vec<f32>, RuntimeError> {
        self.predict_owned(input.to_vec()).await
    }

    /// [`Session::predict`] on an input it takes: the compiled plan computes from it without a
    /// copy, so a prediction holds the input once (the wasm module's memory never shrinks: its
    /// peak is what the page keeps).
    pub async fn predict_owned(&self, input: Vec<f32>) -> Result<Vec<f32>, RuntimeError> {
        let backend = self.info.backend.name();
        let architecture = self.architecture;
        let (network, device) = match &self.runner {
            Runner::Plan(plan) => {
                let batch = check_input(&input, architecture.input_shape())?;
                let out = plan.run_owned(input)?;
                if out.len() != batch * architecture.outputs() {
                    return Err(RuntimeError::Readback {
                        backend,
                        detail: format!("the plan gave {} values for {batch} examples", out.len()),
                    });
                }
                return finite(out, backend);
            }
            Runner::Burn { network, device } => (network, device),
        };
        let data = network
            .forward(&input, device)?
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

    /// What runs this session and why, with the memory as it is now.
    pub fn info(&self) -> SessionInfo {
        SessionInfo { memory: Memory { now: wasm_memory(), ..self.info.memory }, ..self.info.clone() }
    }
}

/// The network compiled onto burn-edge's CPU kernels; its module moves into the capture, so
/// each weight is held once.
fn compile_plan(network: Box<dyn Network>) -> Result<Plan, String> {
    let graph = network.capture().map_err(|e| e.to_string())?;
    Plan::compile(graph).map_err(|e| e.to_string())
}

/// The probabilities, unless the backend produced NaN or infinity.
fn finite(probs: Vec<f32>, backend: &'static str) -> Result<Vec<f32>, RuntimeError> {
    if probs.iter().any(|p| !p.is_finite()) {
        return Err(RuntimeError::NonFinite(backend));
    }
    Ok(probs)
}
