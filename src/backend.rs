//! Which backend runs a session: the preference, the result, and why others were skipped.

use burn::prelude::Device;
use serde::Serialize;

use crate::RuntimeError;

/// What the page asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendPreference {
    /// WebGPU if it proves itself with a warm-up inference, else the CPU.
    Auto,
    /// WebGPU or an error; never a silent CPU run.
    WebGpu,
    /// The CPU backend only.
    Cpu,
}

impl std::str::FromStr for BackendPreference {
    type Err = RuntimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "webgpu" => Ok(Self::WebGpu),
            "cpu" => Ok(Self::Cpu),
            other => Err(RuntimeError::UnknownBackend(other.to_string())),
        }
    }
}

/// Which kernels run a session on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuKernels {
    /// burn-edge's own kernels where the architecture has a plan for them, Burn's otherwise.
    Auto,
    /// Burn's CPU backend always (the reference, for comparisons).
    Burn,
}

impl std::str::FromStr for CpuKernels {
    type Err = RuntimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "burn" => Ok(Self::Burn),
            other => Err(RuntimeError::UnknownCpuKernels(other.to_string())),
        }
    }
}

/// Name of burn-edge's own CPU kernels in `info().cpuKernels`.
pub const BURN_EDGE_KERNELS: &str = "burn-edge";

/// A backend that can run a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// wgpu on the browser's WebGPU.
    WebGpu,
    /// Burn's CPU backend compiled to wasm (SIMD).
    Cpu,
}

impl BackendKind {
    /// Name used in messages and `info()`.
    pub fn name(self) -> &'static str {
        match self {
            Self::WebGpu => "webgpu",
            Self::Cpu => "cpu",
        }
    }
}

/// A backend that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The backend.
    pub backend: BackendKind,
    /// Why it was not used.
    pub reason: String,
}

/// An initialised WebGPU device with what the browser says about its adapter.
#[derive(Debug, Clone)]
pub struct WebGpuDevice {
    /// Burn device on the wgpu runtime.
    pub device: Device,
    /// Adapter description (vendor, architecture, device, description, fallback flag).
    pub adapter: serde_json::Value,
}

/// Name of the CPU kernel library compiled into this build.
pub const CPU_KERNELS: &str = if cfg!(feature = "cpu-flex") { "flex" } else { "ndarray" };

/// The CPU device of this build.
pub fn cpu_device() -> Device {
    #[cfg(feature = "cpu-flex")]
    {
        Device::flex()
    }
    #[cfg(all(feature = "cpu-ndarray", not(feature = "cpu-flex")))]
    #[allow(deprecated)]
    {
        Device::ndarray()
    }
    #[cfg(not(any(feature = "cpu-flex", feature = "cpu-ndarray")))]
    compile_error!("enable a CPU backend: feature `cpu-flex` or `cpu-ndarray`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_parse_and_others_are_refused() {
        assert_eq!("auto".parse::<BackendPreference>().unwrap(), BackendPreference::Auto);
        assert_eq!("webgpu".parse::<BackendPreference>().unwrap(), BackendPreference::WebGpu);
        assert_eq!("cpu".parse::<BackendPreference>().unwrap(), BackendPreference::Cpu);
        assert_eq!("burn".parse::<CpuKernels>().unwrap(), CpuKernels::Burn);
        assert_eq!("fast".parse::<CpuKernels>().unwrap_err().to_string(), "unknown CPU kernels \"fast\": use \"auto\" or \"burn\"");
        let err = "cuda".parse::<BackendPreference>().unwrap_err();
        assert_eq!(err.to_string(), "unknown backend \"cuda\": use \"auto\", \"webgpu\" or \"cpu\"");
    }
}
