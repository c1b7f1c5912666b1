//! SqueezeNet 1.1 (ImageNet, 1000 classes), imported from ONNX with `burn-edge import-onnx`:
//! the architecture is the generated module, the weights are published data. Input:
//! `[batch, 3, 224, 224]`, BGR, `0..=255`, no normalisation (the manifest's input schema says
//! so); the network ends in a softmax.

// Generated code stays exactly as generated (scripts/import-models.sh compares it byte for byte).
#[rustfmt::skip]
mod generated;

pub use generated::Model as SqueezeNetModel;

crate::imported_architecture! {
    SqueezeNet: id = "squeezenet1.1", input = [3, 224, 224], outputs = 1000, rank = 4
}
