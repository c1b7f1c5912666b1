//! Hand-tuned CPU kernels for the wasm runtime: convolution as a register-blocked product
//! with weights packed once, bias and ReLU fused into the store, concatenations written in
//! place. Burn's generic CPU backend stays the reference; these run the networks whose
//! whole graph they cover (see [`crate::squeezenet_cpu`] and [`crate::mnist_cpu`]).

pub mod conv;
pub mod dense;
pub mod gemm;
pub mod pool;
mod simd;

pub use conv::Conv2d;
pub use dense::Dense;
