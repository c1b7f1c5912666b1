//! SqueezeNet 1.1 on the hand-tuned CPU kernels ([`crate::cpu`]): the graph of the generated
//! module (`generated/squeezenet1_1.rs`), with each convolution's ReLU fused into it, the two
//! expand convolutions of a fire module writing straight into their halves of the
//! concatenation, and the weights taken from the loaded Burn module by parameter path. The
//! generated `forward` stays the reference: tests hold the two within float rounding.

use crate::cpu::pool::{global_average, max_pool2d, softmax};
use crate::cpu::Conv2d;
use crate::cpu_plan::{Params, PlanError};
use crate::squeezenet::{SqueezeNet, SQUEEZENET_CLASSES, SQUEEZENET_SIDE};

/// One fire module: squeeze 1x1, then expand 1x1 and expand 3x3 side by side.
#[derive(Debug, Clone)]
struct Fire {
    squeeze: Conv2d,
    expand1: Conv2d,
    expand3: Conv2d,
}

impl Fire {
    fn run(&self, input: &[f32], [h, w]: [usize; 2]) -> Vec<f32> {
        let plane = h * w;
        let mut squeezed = vec![0.0; self.squeeze.out_channels() * plane];
        self.squeeze.run(input, h, w, &mut squeezed, None);
        let split = self.expand1.out_channels() * plane;
        let mut out = vec![0.0; split + self.expand3.out_channels() * plane];
        let (left, right) = out.split_at_mut(split);
        self.expand1.run(&squeezed, h, w, left, None);
        self.expand3.run(&squeezed, h, w, right, None);
        out
    }

    fn out_channels(&self) -> usize {
        self.expand1.out_channels() + self.expand3.out_channels()
    }
}

/// SqueezeNet 1.1 ready to run on the CPU kernels.
#[derive(Debug, Clone)]
pub struct SqueezeNetCpu {
    conv1: Conv2d,
    /// Fire modules 2..=9; max pooling precedes fires 2, 4 and 6 (indices 0, 2, 4).
    fires: Vec<Fire>,
    conv10: Conv2d,
}

/// (squeeze, expand 1x1, expand 3x3) parameter prefixes of the generated module, in order.
const FIRES: [[&str; 3]; 8] = [
    ["conv2d2", "conv2d3", "conv2d4"],
    ["conv2d5", "conv2d6", "conv2d7"],
    ["conv2d8", "conv2d9", "conv2d10"],
    ["conv2d11", "conv2d12", "conv2d13"],
    ["conv2d14", "conv2d15", "conv2d16"],
    ["conv2d17", "conv2d18", "conv2d19"],
    ["conv2d20", "conv2d21", "conv2d22"],
    ["conv2d23", "conv2d24", "conv2d25"],
];
const POOL_BEFORE_FIRE: [usize; 3] = [0, 2, 4];
const POOL_KERNEL: usize = 3;
const POOL_STRIDE: usize = 2;

impl SqueezeNetCpu {
    /// Copies and packs the weights of a loaded module.
    pub fn from_model(model: &SqueezeNet) -> Result<Self, PlanError> {
        let params = Params::of(model);
        let conv = |name: &str, [cout, cin]: [usize; 2], k: usize, stride: usize, padding: usize| {
            params.conv2d(name, [cout, cin, k, k], [stride; 2], [padding; 2])
        };
        let conv1 = conv("conv2d1", [64, 3], 3, 2, 0)?;
        let mut fires = Vec::new();
        let mut channels = conv1.out_channels();
        for (i, [s, e1, e3]) in FIRES.iter().enumerate() {
            // SqueezeNet 1.1's widths: squeeze 16, 16, 32, 32, 48, 48, 64, 64; expands 4x that.
            let squeeze = [16, 16, 32, 32, 48, 48, 64, 64][i];
            let fire = Fire {
                squeeze: conv(s, [squeeze, channels], 1, 1, 0)?,
                expand1: conv(e1, [4 * squeeze, squeeze], 1, 1, 0)?,
                expand3: conv(e3, [4 * squeeze, squeeze], 3, 1, 1)?,
            };
            channels = fire.out_channels();
            fires.push(fire);
        }
        let conv10 = conv("conv2d26", [SQUEEZENET_CLASSES, channels], 1, 1, 0)?;
        Ok(Self { conv1, fires, conv10 })
    }

    /// Class probabilities (`batch * 1000`) for planar `[batch, 3, 224, 224]` input.
    pub fn probabilities(&self, input: &[f32]) -> Vec<f32> {
        let per = 3 * SQUEEZENET_SIDE * SQUEEZENET_SIDE;
        assert!(!input.is_empty() && input.len().is_multiple_of(per), "SqueezeNet input must be whole 3x224x224 images");
        input.chunks_exact(per).flat_map(|image| self.one(image)).collect()
    }

    fn one(&self, image: &[f32]) -> Vec<f32> {
        let mut size = self.conv1.out_size(SQUEEZENET_SIDE, SQUEEZENET_SIDE);
        let mut x = vec![0.0; self.conv1.out_channels() * size[0] * size[1]];
        self.conv1.run(image, SQUEEZENET_SIDE, SQUEEZENET_SIDE, &mut x, None);
        let mut channels = self.conv1.out_channels();
        for (i, fire) in self.fires.iter().enumerate() {
            if POOL_BEFORE_FIRE.contains(&i) {
                (x, size) = max_pool2d(&x, channels, size, [POOL_KERNEL; 2], [POOL_STRIDE; 2], [0, 0]);
            }
            x = fire.run(&x, size);
            channels = fire.out_channels();
        }
        let plane = size[0] * size[1];
        let mut logits = vec![0.0; SQUEEZENET_CLASSES * plane];
        self.conv10.run(&x, size[0], size[1], &mut logits, None);
        let mut probs = global_average(&logits, SQUEEZENET_CLASSES, plane);
        softmax(&mut probs);
        probs
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::*;

    #[test]
    fn matches_the_generated_forward_on_random_weights() {
        let device = Device::flex();
        let model = SqueezeNet::new(&device);
        let plan = SqueezeNetCpu::from_model(&model).unwrap();
        let per = 3 * SQUEEZENET_SIDE * SQUEEZENET_SIDE;
        let input: Vec<f32> = (0..2 * per).map(|i| ((i * 7919) % 256) as f32).collect();
        let want = crate::squeezenet::squeezenet_probabilities(
            &model,
            Tensor::from_data(TensorData::new(input.clone(), [2, 3, 224, 224]), &device),
        )
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
        let got = plan.probabilities(&input);
        assert_eq!(got.len(), want.len());
        let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "max |diff| {diff}");
    }
}
