//! burn-edge model crate: architectures as plain Burn modules, with no I/O.
//!
//! The same code is compiled natively (training, evaluation, the CLI, tests) and to wasm
//! (the browser runtime). Weights never live in code: they arrive as Burnpack bytes and are
//! decoded by [`weights`], and raw images become model input through [`digit_input`] (digits)
//! and [`image_input`] (photos).

pub mod classifier;
pub mod cpu;
pub mod cpu_plan;
pub mod digit_input;
pub mod image_input;
pub mod image_size;
pub mod mnist;
pub mod mnist_cpu;
pub mod plan;
mod resample;
pub mod squeezenet;
pub mod squeezenet_cpu;
pub mod weights;
mod weights_check;

pub use classifier::{check_input, input_tensor, Architecture, Classifier};
pub use cpu_plan::{CpuPlan, PlanError};
pub use digit_input::{digit_from_luminance, digit_from_rgba, DigitInputError};
pub use image_input::{ColorOrder, Fit, ImageInputError, ImageSpec};
pub use image_size::{MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE};
pub use mnist::{images_tensor, InputError, MnistCnn, MnistConfig, MNIST_CLASSES, MNIST_PIXELS, MNIST_SIDE};
pub use mnist_cpu::MnistCpu;
pub use squeezenet::{SqueezeNet, SQUEEZENET_ARCHITECTURE, SQUEEZENET_CLASSES, SQUEEZENET_SIDE};
pub use squeezenet_cpu::SqueezeNetCpu;
pub use weights::{
    architecture_of, load_mnist, load_squeezenet, read_mnist_config, save_squeezenet, save_to_bytes, WeightsError, MNIST_ARCHITECTURE,
};
