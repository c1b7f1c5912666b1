//! The MNIST CNN ([`crate::mnist::MnistCnn`]) on burn-edge's CPU kernels: pixel normalisation,
//! two 5x5 convolutions with ReLU fused and 2x2 max pooling per image, then both fully
//! connected layers over the whole batch at once and the softmax. Burn's `forward` stays the
//! reference: tests hold the two within float rounding.

use crate::cpu::pool::{max_pool2d, softmax};
use crate::cpu::{Conv2d, Dense};
use crate::cpu_plan::{Params, PlanError};
use crate::mnist::{MnistCnn, MNIST_CLASSES, MNIST_PIXELS, MNIST_SIDE, PIXEL_MEAN, PIXEL_STD};

/// The MNIST CNN ready to run on the CPU kernels.
#[derive(Debug, Clone)]
pub struct MnistCpu {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Dense,
    fc2: Dense,
}

const POOL: usize = 2;

impl MnistCpu {
    /// Copies and packs the weights of a loaded module (any channel and hidden widths).
    pub fn from_model(model: &MnistCnn) -> Result<Self, PlanError> {
        let params = Params::of(model);
        let conv = |name: &str| params.conv2d(name, params.dims(&format!("{name}.weight"))?, [1, 1], [0, 0]);
        let plan = Self { conv1: conv("conv1")?, conv2: conv("conv2")?, fc1: params.dense("fc1", true)?, fc2: params.dense("fc2", false)? };
        if plan.fc2.outputs() != MNIST_CLASSES {
            return Err(PlanError::Shape { name: "fc2.weight".into(), found: vec![plan.fc2.outputs()], expected: vec![MNIST_CLASSES] });
        }
        Ok(plan)
    }

    /// Class probabilities (`batch * 10`) for `batch` 28x28 images, pixels in `0..=1`.
    pub fn probabilities(&self, pixels: &[f32]) -> Vec<f32> {
        assert!(!pixels.is_empty() && pixels.len().is_multiple_of(MNIST_PIXELS), "MNIST input must be whole 28x28 images");
        let features: Vec<f32> = pixels.chunks_exact(MNIST_PIXELS).flat_map(|image| self.features(image)).collect();
        let mut probs = self.fc2.run(&self.fc1.run(&features));
        for row in probs.chunks_exact_mut(MNIST_CLASSES) {
            softmax(row);
        }
        probs
    }

    /// The flattened output of the convolution stack for one image.
    fn features(&self, image: &[f32]) -> Vec<f32> {
        let normalised: Vec<f32> = image.iter().map(|p| (p - PIXEL_MEAN) / PIXEL_STD).collect();
        let mut size = [MNIST_SIDE, MNIST_SIDE];
        let mut x = normalised;
        for conv in [&self.conv1, &self.conv2] {
            let [oh, ow] = conv.out_size(size[0], size[1]);
            let mut out = vec![0.0; conv.out_channels() * oh * ow];
            conv.run(&x, size[0], size[1], &mut out, None);
            (x, size) = max_pool2d(&out, conv.out_channels(), [oh, ow], [POOL; 2], [POOL; 2], [0, 0]);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::*;
    use crate::MnistConfig;

    #[test]
    fn matches_burns_forward_on_random_weights() {
        let device = Device::flex();
        let model = MnistConfig::new().init(&device);
        let plan = MnistCpu::from_model(&model).unwrap();
        let pixels: Vec<f32> = (0..3 * MNIST_PIXELS).map(|i| ((i * 7919) % 256) as f32 / 255.0).collect();
        let want = model.probabilities(crate::images_tensor(&pixels, &device).unwrap()).into_data().try_to_vec::<f32>().unwrap();
        let got = plan.probabilities(&pixels);
        assert_eq!(got.len(), want.len());
        let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "max |diff| {diff}");
    }
}
