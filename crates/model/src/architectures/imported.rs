//! Imported architectures: a module burn-onnx generated (`generated.rs` in the architecture's
//! folder, `Model::new(device)` and `Model::forward(Tensor<RANK>)`), registered with
//! [`imported_architecture!`](crate::imported_architecture). Everything else (weights load and
//! save, the checked forward, capture, ONNX export) is written once here, generic over the
//! module type and its input rank.

use core::marker::PhantomData;

use burn::backend::capture::CapturedGraph;
use burn::module::Module;
use burn::prelude::*;

use crate::cpu_plan::{CpuPlan, PlanError};
use crate::input::{input_tensor, InputError};
use crate::registry::{capture_forward, Architecture, CaptureFailed, Network};
use crate::weights::{load_module, save_module, WeightsError};

/// What [`imported_architecture!`](crate::imported_architecture) implements for a generated
/// module whose input has rank `R` (batch included).
pub trait ImportedModel<const R: usize>: Module + core::fmt::Debug + Send + Sized + 'static {
    /// The architecture's static.
    fn architecture() -> &'static Imported<Self, R>;
    /// `Model::new`: parameters are lazy, nothing is allocated until they are loaded or used.
    fn build(device: &Device) -> Self;
    /// `Model::forward`, its output reshaped to `[batch, outputs]`.
    fn run(&self, input: Tensor<R>) -> Tensor<2>;
    /// Temporary (see [`Network::hand_plan`]).
    fn hand_plan(&self) -> Result<Option<CpuPlan>, PlanError> {
        Ok(None)
    }
}

/// An imported architecture: its id and shapes; `M` is the generated module.
pub struct Imported<M, const R: usize> {
    id: &'static str,
    input: &'static [usize],
    outputs: usize,
    model: PhantomData<fn() -> M>,
}

impl<M, const R: usize> Imported<M, R> {
    /// `input` is one example's shape (no batch dimension): `R - 1` dimensions.
    pub const fn new(id: &'static str, input: &'static [usize], outputs: usize) -> Self {
        assert!(input.len() + 1 == R, "an imported architecture's input shape must have rank - 1 dimensions");
        Self { id, input, outputs, model: PhantomData }
    }
}

impl<M: ImportedModel<R>, const R: usize> Architecture for Imported<M, R> {
    fn id(&self) -> &'static str {
        self.id
    }

    fn input_shape(&self) -> &'static [usize] {
        self.input
    }

    fn outputs(&self) -> usize {
        self.outputs
    }

    fn load(&self, weights: &[u8], device: &Device) -> Result<Box<dyn Network>, WeightsError> {
        let model = load_module(weights, self.id, M::build(device))?;
        Ok(Box::new(ImportedNetwork::<M, R> { model }))
    }

    fn init(&self, device: &Device) -> Box<dyn Network> {
        Box::new(ImportedNetwork::<M, R> { model: M::build(device) })
    }
}

/// A loaded imported model.
#[derive(Debug)]
pub struct ImportedNetwork<M, const R: usize> {
    model: M,
}

impl<M: ImportedModel<R>, const R: usize> ImportedNetwork<M, R> {
    /// The generated module.
    pub fn model(&self) -> &M {
        &self.model
    }
}

impl<M: ImportedModel<R>, const R: usize> Network for ImportedNetwork<M, R> {
    fn architecture(&self) -> &'static dyn Architecture {
        M::architecture()
    }

    fn num_params(&self) -> usize {
        self.model.num_params()
    }

    fn forward(&self, values: &[f32], device: &Device) -> Result<Tensor<2>, InputError> {
        let input: Tensor<R> = input_tensor(values, M::architecture().input, device)?;
        Ok(self.model.run(input))
    }

    fn save(&self) -> Result<Vec<u8>, WeightsError> {
        save_module(&self.model, M::architecture().id, &[])
    }

    fn capture(&self) -> Result<CapturedGraph, CaptureFailed> {
        capture_forward(M::architecture(), &self.model, |m: &M, x: Tensor<R>| m.run(x))
    }

    #[cfg(feature = "onnx")]
    fn export_onnx(&self) -> Result<Vec<u8>, String> {
        crate::registry::export_forward(M::architecture(), &self.model, |m: &M, x: Tensor<R>| m.run(x))
    }

    fn hand_plan(&self) -> Result<Option<CpuPlan>, PlanError> {
        self.model.hand_plan()
    }
}

/// Registers the burn-onnx module `generated::Model` of the invoking folder as an
/// architecture: `imported_architecture! { Name: id = "my-model", input = [3, 224, 224],
/// outputs = 1000, rank = 4 }` defines the type `Name` and `pub static ARCHITECTURE`. `input`
/// is one example's shape, `rank` that of `Model::forward`'s input (batch included), `outputs`
/// the values per example its output reshapes to.
#[macro_export]
macro_rules! imported_architecture {
    ($name:ident: id = $id:literal, input = [$($dim:literal),+ $(,)?], outputs = $outputs:literal, rank = $rank:literal
     $(, hand_plan = $plan:path)? $(,)?) => {
        /// This architecture (the generated module behind the registry's trait).
        pub type $name = $crate::architectures::imported::Imported<generated::Model, $rank>;

        /// The registry's entry for this folder.
        pub static ARCHITECTURE: $name = $crate::architectures::imported::Imported::new($id, &[$($dim),+], $outputs);

        impl $crate::architectures::imported::ImportedModel<$rank> for generated::Model {
            fn architecture() -> &'static $name {
                &ARCHITECTURE
            }

            fn build(device: &::burn::prelude::Device) -> Self {
                generated::Model::new(device)
            }

            fn run(&self, input: ::burn::prelude::Tensor<$rank>) -> ::burn::prelude::Tensor<2> {
                let batch = input.dims()[0];
                generated::Model::forward(self, input).reshape([batch, $outputs])
            }

            $(
                fn hand_plan(&self) -> Result<Option<$crate::CpuPlan>, $crate::PlanError> {
                    $plan(self)
                }
            )?
        }
    };
}
