//! The architecture registry: what the runtime, the CLI, the publisher and the exporter need of
//! an architecture ([`Architecture`]) and of a loaded model ([`Network`]), and the one list of
//! the architectures this build contains (`architectures/mod.rs`). Nothing outside an
//! architecture's folder matches on its id.

use burn::backend::capture::CapturedGraph;
use burn::module::Module;
use burn::prelude::*;

use crate::input::InputError;
use crate::weight_source::WeightSource;
use crate::weights::WeightsError;

/// An architecture compiled into this build: its shapes, and how weight bytes become a
/// [`Network`].
pub trait Architecture: Sync + 'static {
    /// The manifest id (`mnist-cnn`, `squeezenet1.1`).
    fn id(&self) -> &'static str;
    /// One example's shape, without the batch dimension (`[1, 28, 28]`, `[3, 224, 224]`, `[32]`).
    fn input_shape(&self) -> &'static [usize];
    /// Values per example.
    fn input_len(&self) -> usize {
        self.input_shape().iter().product()
    }
    /// Output values per example (classes).
    fn outputs(&self) -> usize;
    /// Decodes an (untrusted) Burnpack weights file on `device`. A file in memory
    /// ([`crate::WeightBytes`]) is shared, not copied: the model's tensors may be views into it;
    /// any other source is read one tensor at a time.
    fn load_from(&self, weights: &dyn WeightSource, device: &Device) -> Result<Box<dyn Network>, WeightsError>;
    /// [`Architecture::load_from`] on a copy of `weights`.
    fn load(&self, weights: &[u8], device: &Device) -> Result<Box<dyn Network>, WeightsError> {
        self.load_from(&crate::WeightBytes::from(weights), device)
    }
    /// Fresh (random) weights, for tests and benchmarks.
    fn init(&self, device: &Device) -> Box<dyn Network>;
}

impl core::fmt::Debug for dyn Architecture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Architecture({:?})", self.id())
    }
}

/// A loaded model of some [`Architecture`].
pub trait Network: Send + core::fmt::Debug {
    fn architecture(&self) -> &'static dyn Architecture;
    /// Number of parameters.
    fn num_params(&self) -> usize;
    /// `[batch, outputs]` for flat examples of the architecture's `input_shape` (checked:
    /// whole examples, finite values).
    fn forward(&self, values: &[f32], device: &Device) -> Result<Tensor<2>, InputError>;
    /// Burnpack bytes with the architecture id; the same weights always give the same bytes.
    fn save(&self) -> Result<Vec<u8>, WeightsError>;
    /// The forward pass for one example (batch 1) recorded on a fresh `Device::capture()`:
    /// inputs = `[the input tensor]`, outputs = `[the [1, outputs] result]`; the weights are
    /// the graph's recorded values. It consumes the network, whose tensors move into the graph
    /// one by one, so the weights are not held twice. Implementations call [`capture_forward`].
    fn capture(self: Box<Self>) -> Result<CapturedGraph, CaptureFailed>;
    /// ONNX bytes of this network (burn-onnx's exporter over the same forward).
    #[cfg(feature = "onnx")]
    fn export_onnx(&self) -> Result<Vec<u8>, String>;
}

/// Why a forward pass could not be recorded.
#[derive(Debug, thiserror::Error)]
#[error("capturing the forward pass of {architecture} failed: {detail}")]
pub struct CaptureFailed {
    pub architecture: &'static str,
    pub detail: String,
}

/// Every architecture of this build.
pub fn architectures() -> &'static [&'static dyn Architecture] {
    crate::architectures::ARCHITECTURES
}

/// The architecture with manifest id `id`.
pub fn architecture(id: &str) -> Option<&'static dyn Architecture> {
    architectures().iter().copied().find(|a| a.id() == id)
}

/// Records `forward(module, input)` for one zero example of `architecture`'s input shape (rank
/// `D` with the batch dimension) on a fresh capture device: the capture code of every
/// architecture.
pub fn capture_forward<M: Module, const D: usize>(
    architecture: &'static dyn Architecture,
    module: M,
    forward: impl FnOnce(&M, Tensor<D>) -> Tensor<2>,
) -> Result<CapturedGraph, CaptureFailed> {
    let failed = |detail: String| CaptureFailed { architecture: architecture.id(), detail };
    let shape = architecture.input_shape();
    if shape.len() + 1 != D {
        return Err(failed(format!("input shape {shape:?} is not of rank {}", D - 1)));
    }
    let dims: [usize; D] = core::array::from_fn(|d| if d == 0 { 1 } else { shape[d - 1] });
    crate::plan::capture(module, dims, forward).map_err(|e| failed(e.to_string()))
}

/// ONNX bytes of `forward(module, input)` with a dynamic batch dimension (burn-onnx's
/// exporter, which captures a sample of batch 1 and validates on batch 2): the export code of
/// every architecture.
#[cfg(feature = "onnx")]
pub fn export_forward<M: Module, const D: usize>(
    architecture: &'static dyn Architecture,
    module: &M,
    forward: impl Fn(&M, Tensor<D>) -> Tensor<2>,
) -> Result<Vec<u8>, String> {
    use burn_onnx::export::{AxisSpec, InputSpec, OnnxExporter};
    let shape = architecture.input_shape();
    if shape.len() + 1 != D {
        return Err(format!("input shape {shape:?} is not of rank {}", D - 1));
    }
    let batch = |n: usize| -> Vec<usize> { std::iter::once(n).chain(shape.iter().copied()).collect() };
    let device = Device::flex();
    let sample = Tensor::<D>::zeros(batch(1).as_slice(), &device);
    let validation = Tensor::<D>::zeros(batch(2).as_slice(), &device);
    let axes: Vec<AxisSpec> = std::iter::once(AxisSpec::dynamic("batch")).chain(shape.iter().map(|_| AxisSpec::Static)).collect();
    let onnx = OnnxExporter::new()
        .export_dynamic(module, sample, validation, &[InputSpec::new(axes)], forward)
        .map_err(|e| format!("exporting {} to ONNX: {e}", architecture.id()))?;
    Ok(onnx.into_bytes())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn ids_are_unique_and_found_by_id() {
        let ids: BTreeSet<&str> = architectures().iter().map(|a| a.id()).collect();
        assert_eq!(ids.len(), architectures().len(), "duplicate architecture ids");
        for a in architectures() {
            assert_eq!(architecture(a.id()).map(|found| found.id()), Some(a.id()));
            assert_eq!(a.input_len(), a.input_shape().iter().product::<usize>());
        }
        assert!(architecture("resnet50").is_none());
        assert!(ids.contains("mnist-cnn") && ids.contains("squeezenet1.1"));
    }

    /// init -> save -> load gives the same bytes again, a `[2, outputs]` forward, and a capture
    /// of one input and one output, for every architecture of the build.
    #[test]
    fn every_architecture_round_trips_runs_and_captures() {
        let device = Device::flex();
        for a in architectures() {
            let network = a.init(&device);
            assert_eq!(network.architecture().id(), a.id());
            let bytes = network.save().unwrap();
            assert_eq!(crate::architecture_of(&bytes).unwrap().as_deref(), Some(a.id()));
            let loaded = a.load(&bytes, &device).unwrap();
            assert_eq!(loaded.save().unwrap(), bytes, "{}: reloaded weights encode differently", a.id());
            assert_eq!(loaded.num_params(), network.num_params());
            let input: Vec<f32> = (0..2 * a.input_len()).map(|i| ((i * 7919) % 256) as f32 / 255.0).collect();
            let output = loaded.forward(&input, &device).unwrap();
            assert_eq!(output.dims(), [2, a.outputs()], "{}", a.id());
            let err = loaded.forward(&input[1..], &device).unwrap_err();
            assert!(matches!(err, InputError::NotWholeExamples { .. }), "{}: {err}", a.id());
            let captured = loaded.capture().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((captured.graph.inputs.len(), captured.graph.outputs.len()), (1, 1), "{}", a.id());
            assert!(!captured.graph.operations.is_empty() && !captured.values.is_empty(), "{}", a.id());
        }
    }

    #[test]
    fn weights_of_another_architecture_are_refused_by_name() {
        let device = Device::flex();
        let [first, second, ..] = architectures() else { panic!("the build has fewer than two architectures") };
        let bytes = first.init(&device).save().unwrap();
        let err = second.load(&bytes, &device).unwrap_err().to_string();
        assert_eq!(err, format!("weights are for architecture {:?}, but this runtime expected {:?}", first.id(), second.id()));
        assert!(matches!(second.load(b"junk", &device), Err(WeightsError::NotBurnpack(_))));
    }
}
