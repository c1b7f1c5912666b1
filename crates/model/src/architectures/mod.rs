//! Every architecture of this build, one folder each (model code, and the generated code of an
//! imported one), registered by ONE line in the list below: `pub mod <folder>;` declares the
//! folder and adds its `ARCHITECTURE` to [`crate::architectures()`]. `scripts/add-model.sh`
//! inserts the line before the end marker. The folder is the id with anything outside
//! `[a-z0-9_]` as `_` (`squeezenet1.1` -> `squeezenet1_1`).
//!
//! - An ONNX model: `generated.rs` (burn-onnx's output, `burn-edge import-onnx --code`) and a
//!   `mod.rs` of two items, `#[rustfmt::skip] mod generated;` and
//!   `crate::imported_architecture! { Name: id = "my-model", input = [3, 224, 224], outputs = 1000, rank = 4 }`
//!   (see `squeezenet1_1/`).
//! - A Burn module written in Rust: the module, a unit struct implementing
//!   [`Architecture`] (id, shapes, load/init) and a network type implementing
//!   [`crate::Network`] (forward, save, and capture/export through
//!   [`crate::registry::capture_forward`] / `export_forward`), exposed as
//!   `pub static ARCHITECTURE` (see `mnist_cnn/`, whose layer widths travel in its weights).
//!   Fixed-shape modules can use [`crate::load_module`] / [`crate::save_module`] for the weights.

use crate::registry::Architecture;

pub mod imported;

/// Declares each folder's module and lists its `ARCHITECTURE`, in order.
macro_rules! architectures {
    ($(pub mod $folder:ident;)*) => {
        $(pub mod $folder;)*

        /// The one list of architectures, in registration order.
        pub(crate) static ARCHITECTURES: &[&'static dyn Architecture] = &[$(&$folder::ARCHITECTURE),*];
    };
}

architectures! {
    // architectures: begin
    pub mod mnist_cnn;
    pub mod squeezenet1_1;
    pub mod mobilenet_bench;
    pub mod resnet_bench;
    pub mod mlp_bench;
    // architectures: end
}
