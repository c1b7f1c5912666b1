//! The MNIST digit classifier, written in Rust ([`model`]), its layer widths recorded in its
//! weights ([`weights`]). Input: `[batch, 1, 28, 28]` grey levels in `0..=1`, white on black;
//! output: the 10 digit probabilities.

pub mod model;
pub mod weights;

use burn::backend::capture::CapturedGraph;
use burn::module::Module;
use burn::prelude::*;

pub use model::{images_tensor, MnistCnn, MnistConfig, MNIST_CLASSES, MNIST_PIXELS, MNIST_SIDE};
pub use weights::{load_mnist, read_mnist_config, save_to_bytes};

use crate::input::InputError;
use crate::weight_source::WeightSource;
use crate::registry::{capture_forward, Architecture, CaptureFailed, Network};
use crate::weights::WeightsError;

/// Architecture id in manifests and weight files.
pub const MNIST_ARCHITECTURE: &str = "mnist-cnn";

/// The MNIST CNN in the registry.
pub struct Mnist;

/// The registry's entry for this folder.
pub static ARCHITECTURE: Mnist = Mnist;

impl Architecture for Mnist {
    fn id(&self) -> &'static str {
        MNIST_ARCHITECTURE
    }

    fn input_shape(&self) -> &'static [usize] {
        &[1, MNIST_SIDE, MNIST_SIDE]
    }

    fn outputs(&self) -> usize {
        MNIST_CLASSES
    }

    fn load_from(&self, weights: &dyn WeightSource, device: &Device) -> Result<Box<dyn Network>, WeightsError> {
        let (model, config) = weights::load_with_config(weights, device)?;
        Ok(Box::new(MnistNetwork { model, config }))
    }

    fn init(&self, device: &Device) -> Box<dyn Network> {
        let config = MnistConfig::new();
        Box::new(MnistNetwork { model: config.init(device), config })
    }
}

/// Loaded MNIST weights and the configuration they were built with.
#[derive(Debug)]
pub struct MnistNetwork {
    model: MnistCnn,
    config: MnistConfig,
}

impl MnistNetwork {
    /// A network of `model`, built with `config`.
    pub fn new(model: MnistCnn, config: MnistConfig) -> Self {
        Self { model, config }
    }
}

impl Network for MnistNetwork {
    fn architecture(&self) -> &'static dyn Architecture {
        &ARCHITECTURE
    }

    fn num_params(&self) -> usize {
        self.model.num_params()
    }

    fn forward(&self, values: &[f32], device: &Device) -> Result<Tensor<2>, InputError> {
        Ok(self.model.probabilities(images_tensor(values, device)?))
    }

    fn save(&self) -> Result<Vec<u8>, WeightsError> {
        save_to_bytes(&self.model, &self.config)
    }

    fn capture(self: Box<Self>) -> Result<CapturedGraph, CaptureFailed> {
        capture_forward(&ARCHITECTURE, self.model, |m: &MnistCnn, x: Tensor<4>| m.probabilities(x))
    }

    /// The exporter lowers no Softmax (nor ReduceMax) yet, so the graph spells it out, not
    /// shifted by the maximum: exact for logits below ~88, where f32 `exp` overflows; MNIST's
    /// stay far below.
    #[cfg(feature = "onnx")]
    fn export_onnx(&self) -> Result<Vec<u8>, String> {
        crate::registry::export_forward(&ARCHITECTURE, &self.model, |m: &MnistCnn, x: Tensor<4>| {
            let e = m.forward(x).exp();
            e.clone() / e.sum_dim(1)
        })
    }
}
