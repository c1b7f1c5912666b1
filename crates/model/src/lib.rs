//! burn-edge model crate: architectures as plain Burn modules, with no I/O.
//!
//! The same code is compiled natively (training, evaluation, the CLI, tests) and to wasm
//! (the browser runtime). Every architecture sits in its own folder under [`architectures`]
//! behind the [`registry`]'s traits, listed once. Weights never live in code: they arrive as
//! Burnpack bytes and are decoded by [`weights`], and raw images become model input through
//! [`digit_input`] (digits) and [`image_input`] (photos).

pub mod architectures;
pub mod cpu;
pub mod digit_input;
pub mod image_input;
pub mod image_size;
pub mod input;
pub mod plan;
pub mod registry;
mod resample;
pub mod weight_source;
pub mod weight_variants;
pub mod weights;
mod weights_check;

pub use architectures::mnist_cnn::{
    images_tensor, load_mnist, read_mnist_config, save_to_bytes, MnistCnn, MnistConfig, MNIST_ARCHITECTURE, MNIST_CLASSES, MNIST_PIXELS,
    MNIST_SIDE,
};
pub use digit_input::{digit_from_luminance, digit_from_rgba, DigitInputError};
pub use image_input::{ColorOrder, Fit, ImageInputError, ImageSpec};
pub use image_size::{MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE};
pub use input::{check_input, input_tensor, InputError};
pub use plan::{Plan, PlanError, PlanSummary};
pub use registry::{architecture, architectures, Architecture, CaptureFailed, Network};
pub use weight_source::{SliceSource, WeightSource};
pub use weights::{architecture_of, load_module, save_module, WeightBytes, WeightsError};
