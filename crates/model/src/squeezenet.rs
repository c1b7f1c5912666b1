//! SqueezeNet 1.1 (ImageNet, 1000 classes), imported from ONNX with `burn-edge import-onnx`:
//! the architecture is the generated module below, the weights are published data. Input:
//! `[batch, 3, 224, 224]`, BGR, `0..=255`, no normalisation (the manifest's input schema says so).

// Generated code stays exactly as generated (scripts/import-models.sh compares it byte for byte).
#[rustfmt::skip]
#[path = "generated/squeezenet1_1.rs"]
mod generated;

use burn::prelude::*;

pub use generated::Model as SqueezeNet;

/// Architecture id in manifests and weight files.
pub const SQUEEZENET_ARCHITECTURE: &str = "squeezenet1.1";
/// Output classes (ImageNet-1k).
pub const SQUEEZENET_CLASSES: usize = 1000;
/// Input side in pixels.
pub const SQUEEZENET_SIDE: usize = 224;

/// Class probabilities `[batch, 1000]` (the network ends in a softmax).
pub fn squeezenet_probabilities(model: &SqueezeNet, input: Tensor<4>) -> Tensor<2> {
    let batch = input.dims()[0];
    model.forward(input).reshape([batch, SQUEEZENET_CLASSES])
}
