//! Imported architectures: a module burn-onnx generated (`generated.rs` in the architecture's
//! folder, `Model::new(device)` and `Model::forward(Tensor<RANK>)`), registered with
//! [`imported_architecture!`](crate::imported_architecture). Everything else (weights load and
//! save, the checked forward, capture, ONNX export) is written once here, generic over the
//! module type and its input rank.

use core::marker::PhantomData;

use burn::backend::capture::CapturedGraph;
use burn::module::Module;
use burn::prelude::*;

use crate::input::{input_tensor, InputError};
use crate::registry::{capture_forward, Architecture, CaptureFailed, Network};
use crate::weight_source::WeightSource;
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

    fn load_from(&self, weights: &dyn WeightSource, device: &Device) -> Result<Box<dyn Network>, WeightsError> {
        let model = load_module(weights, self.id, || M::build(device))?;
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

    fn capture(self: Box<Self>) -> Result<CapturedGraph, CaptureFailed> {
        capture_forward(M::architecture(), self.model, |m: &M, x: Tensor<R>| m.run(x))
    }

    #[cfg(feature = "onnx")]
    fn export_onnx(&self) -> Result<Vec<u8>, String> {
        crate::registry::export_forward(M::architecture(), &self.model, |m: &M, x: Tensor<R>| m.run(x))
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
     $(,)?) => {
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
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for burn-onnx's output of a tabular model (`[N, 32]` in, `[N, 10]` out).
    mod generated {
        use burn::nn::{Linear, LinearConfig};
        use burn::prelude::*;
        use burn::tensor::activation::softmax;

        #[derive(Module, Debug)]
        pub struct Model {
            linear1: Linear,
        }

        impl Model {
            pub fn new(device: &Device) -> Self {
                Self { linear1: LinearConfig::new(32, 10).init(device) }
            }

            pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
                softmax(self.linear1.forward(input), 1)
            }
        }
    }

    crate::imported_architecture! { Tabular: id = "tabular-test", input = [32], outputs = 10, rank = 2 }

    #[test]
    fn the_macro_makes_a_rank_1_input_architecture() {
        let device = Device::flex();
        let a: &'static dyn Architecture = &ARCHITECTURE;
        assert_eq!((a.id(), a.input_shape(), a.input_len(), a.outputs()), ("tabular-test", &[32][..], 32, 10));
        let network = a.init(&device);
        let bytes = network.save().unwrap();
        let loaded = a.load(&bytes, &device).unwrap();
        assert_eq!(loaded.num_params(), 32 * 10 + 10);
        let rows: Vec<f32> = (0..3 * 32).map(|i| (i as f32 * 0.37).sin()).collect();
        let want = network.forward(&rows, &device).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let got = loaded.forward(&rows, &device).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!((want.len(), got), (30, want.clone()));
        let row_sums: Vec<f32> = want.chunks(10).map(|r| r.iter().sum()).collect();
        assert!(row_sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{row_sums:?}");
        assert_eq!(
            loaded.forward(&rows[..31], &device).unwrap_err().to_string(),
            "input length 31 is not a multiple of 32 (32 per example)"
        );
        let captured = loaded.capture().unwrap();
        assert_eq!((captured.graph.inputs.len(), captured.graph.outputs.len()), (1, 1));
        // Bytes without an id (import-onnx's output) load; another architecture's are refused.
        use burn::store::{BurnpackStore, ModuleSnapshot};
        let mut store = BurnpackStore::from_bytes(None);
        generated::Model::new(&device).save_into(&mut store).unwrap();
        assert!(a.load(&store.get_bytes().unwrap(), &device).is_ok());
        let mnist = crate::architectures::mnist_cnn::ARCHITECTURE.init(&device).save().unwrap();
        assert!(matches!(a.load(&mnist, &device), Err(WeightsError::WrongArchitecture { expected: "tabular-test", .. })));
    }
}
