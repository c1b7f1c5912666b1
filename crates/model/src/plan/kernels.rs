//! The plan's view of burn-edge's CPU kernels ([`crate::cpu`]): what each can take, so the
//! compiler fuses only what a kernel runs and leaves the rest to Burn.

pub(crate) use crate::cpu::pool::{avg_pool2d, global_average, max_pool2d, softmax};
pub(crate) use crate::cpu::{Activation, Conv2d, ConvGeometry, Dense, KernelError};

use crate::cpu::elementwise::{activate_in_place, add_in_place, channel_affine_in_place};

/// Burn's convolution options, padding per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub stride: [usize; 2],
    /// `[(top, bottom), (left, right)]`.
    pub padding: [(usize, usize); 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Geometry {
    /// The kernels' geometry, when the padding is the same on both sides (as the kernels take it).
    fn symmetric(&self) -> Option<ConvGeometry> {
        let [(top, bottom), (left, right)] = self.padding;
        (top == bottom && left == right).then_some(ConvGeometry {
            stride: self.stride,
            padding: [top, left],
            dilation: self.dilation,
            groups: self.groups,
        })
    }
}

/// Whether the convolution kernels run this geometry.
pub(crate) fn conv_supports(g: &Geometry) -> bool {
    g.symmetric().is_some()
}

/// Every activation the plan recognises fuses into an epilogue.
pub(crate) fn epilogue_supports(_: Activation) -> bool {
    true
}

/// Residual additions fuse into convolutions.
pub(crate) const EPILOGUE_RESIDUAL: bool = true;

/// A convolution on the kernels (`conv_supports` must hold); `winograd: false` refuses the
/// Winograd path's extra memory.
pub(crate) fn conv(
    weight: &[f32],
    shape: [usize; 4],
    bias: &[f32],
    g: &Geometry,
    activation: Activation,
    winograd: bool,
) -> Result<Conv2d, KernelError> {
    let geometry = g.symmetric().unwrap_or_default();
    Conv2d::with_winograd(weight, shape, Some(bias), geometry, activation, winograd)
}

/// Values the Winograd path holds beyond the plain one for a layer of weight shape `shape`,
/// when it would take that path.
pub(crate) fn winograd_extra(shape: [usize; 4], g: &Geometry) -> Option<usize> {
    let geometry = g.symmetric()?;
    crate::cpu::conv::suits_winograd(shape, &geometry).then(|| 7 * shape[0] * shape[1])
}

/// A dense layer on the kernels (`weight` is `[in, out]`).
pub(crate) fn dense(weight: &[f32], shape: [usize; 2], bias: Option<&[f32]>, activation: Activation) -> Result<Dense, KernelError> {
    Dense::new(weight, shape, bias, activation)
}

/// Runs one image through `conv`, adding `residual` before the activation.
pub(crate) fn run_conv(conv: &Conv2d, input: &[f32], [h, w]: [usize; 2], out: &mut [f32], residual: Option<&[f32]>) {
    conv.run(input, h, w, out, residual);
}

/// Whether pooling runs on the kernels with these options.
pub(crate) fn pool_supports(kernel: [usize; 2], stride: [usize; 2], _padding: [usize; 2]) -> bool {
    kernel.iter().chain(&stride).all(|&d| d > 0)
}

/// `dst = activation(a + b)`.
pub(crate) fn add(dst: &mut [f32], a: &[f32], b: &[f32], activation: Activation) {
    dst.copy_from_slice(a);
    add_in_place(dst, b);
    activate_in_place(dst, activation);
}

/// `values = activation(values * scale[c] + shift[c])` per channel plane.
pub(crate) fn channel_affine(values: &mut [f32], plane: usize, scale: &[f32], shift: &[f32], activation: Activation) {
    channel_affine_in_place(values, scale.len(), plane, scale, shift);
    activate_in_place(values, activation);
}
