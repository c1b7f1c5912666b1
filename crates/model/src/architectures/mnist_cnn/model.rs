//! The MNIST digit classifier: a small LeNet-style CNN.
//!
//! Input: `[batch, 1, 28, 28]` grey levels in `0.0..=1.0` (white digit on black, as in MNIST).
//! The dataset mean/std normalisation happens inside [`MnistCnn::forward`], so every caller
//! (CLI, browser, tests) feeds the same plain pixel values.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::input::{input_tensor, InputError};

/// Side of the square input image, in pixels.
pub const MNIST_SIDE: usize = 28;
/// Pixels per input image.
pub const MNIST_PIXELS: usize = MNIST_SIDE * MNIST_SIDE;
/// Number of output classes (digits 0-9).
pub const MNIST_CLASSES: usize = 10;

/// Mean and standard deviation of the MNIST training pixels (scaled to 0..1).
pub(crate) const PIXEL_MEAN: f32 = 0.1307;
pub(crate) const PIXEL_STD: f32 = 0.3081;

/// A `[batch, 1, 28, 28]` tensor from flat row-major pixels, checking the length.
pub fn images_tensor(pixels: &[f32], device: &Device) -> Result<Tensor<4>, InputError> {
    input_tensor(pixels, &[1, MNIST_SIDE, MNIST_SIDE], device)
}

/// Hyper-parameters of [`MnistCnn`].
#[derive(Config, Debug)]
pub struct MnistConfig {
    /// Channels of the first convolution.
    #[config(default = 32)]
    pub conv1_channels: usize,
    /// Channels of the second convolution.
    #[config(default = 64)]
    pub conv2_channels: usize,
    /// Width of the hidden fully connected layer.
    #[config(default = 128)]
    pub hidden: usize,
    /// Dropout before the classifier (training only).
    #[config(default = 0.25)]
    pub dropout: f64,
}

/// Two 5x5 convolutions with max pooling, then two fully connected layers.
#[derive(Module, Debug)]
pub struct MnistCnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
    dropout: Dropout,
    relu: Relu,
}

impl MnistConfig {
    /// Creates a model with freshly initialised parameters on `device`.
    pub fn init(&self, device: &Device) -> MnistCnn {
        // 28 -conv5-> 24 -pool-> 12 -conv5-> 8 -pool-> 4
        let flat = self.conv2_channels * 4 * 4;
        MnistCnn {
            conv1: Conv2dConfig::new([1, self.conv1_channels], [5, 5]).init(device),
            conv2: Conv2dConfig::new([self.conv1_channels, self.conv2_channels], [5, 5]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: LinearConfig::new(flat, self.hidden).init(device),
            fc2: LinearConfig::new(self.hidden, MNIST_CLASSES).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            relu: Relu::new(),
        }
    }
}

impl MnistCnn {
    /// Class logits for a batch of images `[batch, 1, 28, 28]` with pixels in `0..=1`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = (images - PIXEL_MEAN) / PIXEL_STD;
        let x = self.pool.forward(self.relu.forward(self.conv1.forward(x)));
        let x = self.pool.forward(self.relu.forward(self.conv2.forward(x)));
        let x = x.flatten::<2>(1, 3);
        let x = self.dropout.forward(self.relu.forward(self.fc1.forward(x)));
        self.fc2.forward(x)
    }

    /// Class probabilities (softmax over the logits), `[batch, 10]`.
    pub fn probabilities(&self, images: Tensor<4>) -> Tensor<2> {
        softmax(self.forward(images), 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_gives_one_probability_row_per_image() {
        let device = Device::flex();
        let model = MnistConfig::new().init(&device);
        let images = images_tensor(&vec![0.0; 3 * MNIST_PIXELS], &device).unwrap();
        let probs = model.probabilities(images);
        assert_eq!(probs.dims(), [3, MNIST_CLASSES]);
        let sums: Vec<f32> = probs.sum_dim(1).into_data().try_to_vec::<f32>().unwrap();
        for s in sums {
            assert!((s - 1.0).abs() < 1e-5, "row sums to {s}");
        }
    }

    #[test]
    fn bad_input_lengths_are_named() {
        let device = Device::flex();
        assert_eq!(images_tensor(&[], &device).unwrap_err().to_string(), "input is empty: expected 784 values (1x28x28) per example");
        assert_eq!(
            images_tensor(&[0.0; 100], &device).unwrap_err().to_string(),
            "input length 100 is not a multiple of 784 (1x28x28 per example)"
        );
        let mut nan = vec![0.0; MNIST_PIXELS];
        nan[9] = f32::NAN;
        assert_eq!(images_tensor(&nan, &device).unwrap_err(), InputError::NotFinite(9));
    }
}
