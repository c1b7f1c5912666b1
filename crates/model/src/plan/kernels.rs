//! The plan's view of burn-edge's CPU kernels ([`crate::cpu`]): what each can take, so the
//! compiler fuses only what a kernel runs and leaves the rest to Burn.

pub(crate) use crate::cpu::{Conv2d, Dense};

/// An activation applied to each output value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Activation {
    None,
    Relu,
    Clamp { min: f32, max: f32 },
    Sigmoid,
}

impl Activation {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Clamp { min, max } => x.clamp(min, max),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        }
    }
}

/// Burn's convolution options, padding per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub stride: [usize; 2],
    /// `[(top, bottom), (left, right)]`.
    pub padding: [(usize, usize); 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

/// Whether the convolution kernel runs this geometry.
pub(crate) fn conv_supports(g: &Geometry) -> bool {
    g.groups == 1 && g.dilation == [1, 1] && g.padding[0].0 == g.padding[0].1 && g.padding[1].0 == g.padding[1].1
}

/// Whether an activation can be fused into a convolution or a dense layer.
pub(crate) fn epilogue_supports(a: Activation) -> bool {
    matches!(a, Activation::None | Activation::Relu)
}

/// Whether a residual addition can be fused into a convolution.
pub(crate) const EPILOGUE_RESIDUAL: bool = false;

/// A convolution on the kernels (`conv_supports` must hold).
pub(crate) fn conv(weight: &[f32], shape: [usize; 4], bias: &[f32], g: &Geometry, activation: Activation) -> Conv2d {
    Conv2d::new(weight, shape, Some(bias), g.stride, [g.padding[0].0, g.padding[1].0], activation == Activation::Relu)
}

/// A dense layer on the kernels (`weight` is `[in, out]`).
pub(crate) fn dense(weight: &[f32], shape: [usize; 2], bias: Option<&[f32]>, activation: Activation) -> Dense {
    Dense::new(weight, shape, bias, activation == Activation::Relu)
}

/// Runs one image through `conv`, adding `residual` before the activation.
pub(crate) fn run_conv(conv: &Conv2d, input: &[f32], [h, w]: [usize; 2], out: &mut [f32], residual: Option<&[f32]>) {
    debug_assert!(residual.is_none());
    conv.run(input, h, w, out);
}

/// Whether max pooling runs on the kernels with these options.
pub(crate) fn max_pool_supports(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> bool {
    kernel[0] == kernel[1] && stride[0] == stride[1] && padding == [0, 0]
}

/// Average pooling of one image.
pub(crate) fn avg_pool(
    input: &[f32],
    channels: usize,
    [h, w]: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    count_include_pad: bool,
) -> (Vec<f32>, [usize; 2]) {
    let oh = (h + 2 * padding[0] - kernel[0]) / stride[0] + 1;
    let ow = (w + 2 * padding[1] - kernel[1]) / stride[1] + 1;
    let mut out = vec![0.0; channels * oh * ow];
    for c in 0..channels {
        let plane = &input[c * h * w..][..h * w];
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut sum, mut count) = (0.0, 0usize);
                for ky in 0..kernel[0] {
                    for kx in 0..kernel[1] {
                        let (iy, ix) =
                            ((oy * stride[0] + ky) as isize - padding[0] as isize, (ox * stride[1] + kx) as isize - padding[1] as isize);
                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                            sum += plane[iy as usize * w + ix as usize];
                            count += 1;
                        }
                    }
                }
                let n = if count_include_pad { kernel[0] * kernel[1] } else { count.max(1) };
                out[(c * oh + oy) * ow + ox] = sum / n as f32;
            }
        }
    }
    (out, [oh, ow])
}

pub(crate) use crate::cpu::pool::{global_average, softmax};

/// `dst = activation(dst + src)`.
pub(crate) fn add(dst: &mut [f32], a: &[f32], b: &[f32], activation: Activation) {
    for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
        *d = activation.apply(x + y);
    }
}

/// `values = activation(values * scale[c] + shift[c])` per channel plane.
pub(crate) fn channel_affine(values: &mut [f32], plane: usize, scale: &[f32], shift: &[f32], activation: Activation) {
    for ((chunk, &s), &t) in values.chunks_exact_mut(plane).zip(scale).zip(shift) {
        for v in chunk {
            *v = activation.apply(*v * s + t);
        }
    }
}
