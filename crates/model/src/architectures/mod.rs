//! Every architecture of this build, one folder each (model code, and the generated code of an
//! imported one), registered by ONE line in the list below: `pub mod <folder>;` declares the
//! folder and adds its `ARCHITECTURE` to [`crate::architectures()`]. `scripts/add-model.sh`
//! inserts the line before the end marker.

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
    // architectures: end
}
