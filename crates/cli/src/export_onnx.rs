//! `burn-edge export-onnx`: a published model as an ONNX file (burn-onnx's experimental
//! exporter, which captures one forward pass), so the same weights can run in other runtimes,
//! e.g. ONNX Runtime Web for the side-by-side benchmark. The graph's output is what our runtime
//! returns (class probabilities), batch size dynamic. Each architecture says how it exports
//! ([`burn_edge_model::Network::export_onnx`]): the exporter has no Softmax operator yet, so
//! MNIST's graph spells it out, and a generated forward that calls Burn's softmax (SqueezeNet)
//! is refused with the exporter's message (its ONNX original is the file it was imported from).

use std::path::Path;

use anyhow::{Context, Result};
use burn::prelude::*;
use burn_edge_model::architecture_of;

/// Writes `out` from the Burnpack weights `weights`; returns the architecture id and file size.
pub fn export(weights: &Path, out: &Path) -> Result<(&'static str, usize)> {
    let bytes = std::fs::read(weights).with_context(|| format!("reading {}", weights.display()))?;
    let id = architecture_of(&bytes)?.context("the weights name no architecture (publish them first)")?;
    let architecture = crate::spec_release::find_architecture(&id)?;
    let network = architecture.load(&bytes, &Device::flex())?;
    let onnx = network.export_onnx().map_err(anyhow::Error::msg)?;
    std::fs::write(out, &onnx).with_context(|| format!("writing {}", out.display()))?;
    Ok((architecture.id(), onnx.len()))
}
