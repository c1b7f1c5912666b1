//! Hand-tuned CPU kernels for the wasm runtime, per image, NCHW planar `f32`: convolution
//! (grouped, as a register-blocked product with weights packed once; depthwise on its own
//! kernel; 3x3 stride 1 as Winograd's F(2x2, 3x3)), fully connected layers, pooling and
//! elementwise steps, with bias, a residual and the activation fused into the store. Burn's
//! generic CPU backend stays the reference.

pub mod activation;
pub mod conv;
pub mod dense;
mod depthwise;
pub mod elementwise;
pub mod error;
pub mod gemm;
pub mod pool;
mod simd;
#[cfg(test)]
pub(crate) mod test_values;
mod winograd;

pub use activation::Activation;
pub use conv::{Conv2d, ConvGeometry};
pub use dense::Dense;
pub use error::KernelError;
