//! `burn-edge export-onnx`: a published model as an ONNX file (burn-onnx's experimental
//! exporter, which captures one forward pass), so the same weights can run in other runtimes,
//! e.g. ONNX Runtime Web for the side-by-side benchmark. The graph ends in the softmax: its
//! output is the class probabilities our runtime returns, batch size dynamic. The exporter has
//! no Softmax operator yet, so the MNIST graph spells it out (exp / sum / divide); SqueezeNet's
//! generated forward calls Burn's softmax and is refused with the exporter's message (its ONNX
//! original is the file it was imported from).

use std::path::Path;

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use burn_edge_model::squeezenet::squeezenet_probabilities;
use burn_edge_model::{architecture_of, Architecture, Classifier, MnistCnn};
use burn_onnx::export::{AxisSpec, InputSpec, OnnxExporter};

/// Writes `out` from the Burnpack weights `weights`; returns the architecture and file size.
pub fn export(weights: &Path, out: &Path) -> Result<(Architecture, usize)> {
    let bytes = std::fs::read(weights).with_context(|| format!("reading {}", weights.display()))?;
    let id = architecture_of(&bytes)?.context("the weights name no architecture (publish them first)")?;
    let Some(architecture) = Architecture::from_id(&id) else { bail!("unknown architecture {id:?}") };
    let device = Device::flex();
    let model = Classifier::load(architecture, &bytes, &device)?;
    let [c, h, w] = architecture.input_shape();
    let sample = Tensor::<4>::zeros([1, c, h, w], &device);
    let validation = Tensor::<4>::zeros([2, c, h, w], &device);
    let specs = [InputSpec::new([AxisSpec::dynamic("batch"), AxisSpec::Static, AxisSpec::Static, AxisSpec::Static])];
    let exporter = OnnxExporter::new();
    let onnx = match &model {
        Classifier::Mnist(m) => {
            exporter.export_dynamic(m, sample, validation, &specs, |m: &MnistCnn, x: Tensor<4>| spelled_softmax(m.forward(x)))
        }
        Classifier::SqueezeNet(m) => exporter.export_dynamic(&**m, sample, validation, &specs, squeezenet_probabilities),
    }
    .with_context(|| format!("exporting {id} to ONNX"))?;
    onnx.save(out).with_context(|| format!("writing {}", out.display()))?;
    Ok((architecture, onnx.as_bytes().len()))
}

/// Softmax over classes from operators the exporter lowers. Not shifted by the maximum (the
/// exporter has no ReduceMax yet either): exact for logits below ~88, where f32 `exp` overflows;
/// MNIST's stay far below.
fn spelled_softmax(logits: Tensor<2>) -> Tensor<2> {
    let e = logits.exp();
    e.clone() / e.sum_dim(1)
}
