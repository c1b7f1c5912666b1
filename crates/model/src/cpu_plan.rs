//! Networks on burn-edge's own CPU kernels ([`crate::cpu`]): a plan per architecture, built
//! from the loaded Burn module's parameters (by path), run on flat planar input.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use crate::classifier::{check_input, Architecture};
use crate::cpu::{Activation, Conv2d, ConvGeometry, Dense, KernelError};
use crate::mnist::InputError;
use crate::mnist_cpu::MnistCpu;
use crate::squeezenet_cpu::SqueezeNetCpu;

/// Why a loaded module cannot become a CPU plan (it always can for weights that loaded).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("parameter {0} is missing from the module")]
    Missing(String),
    #[error("parameter {name} has shape {found:?}, expected {expected:?}")]
    Shape { name: String, found: Vec<usize>, expected: Vec<usize> },
    #[error("parameter {name} has shape {found:?}, expected {rank} dimensions")]
    Rank { name: String, found: Vec<usize>, rank: usize },
    #[error("parameter {0} is not f32")]
    NotF32(String),
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// An architecture's graph on the hand-tuned CPU kernels ([`crate::cpu`]).
#[derive(Debug, Clone)]
pub enum CpuPlan {
    Mnist(Box<MnistCpu>),
    SqueezeNet(Box<SqueezeNetCpu>),
}

impl CpuPlan {
    /// Class probabilities (`batch * classes`) for flat planar input of whole examples.
    pub fn probabilities(&self, values: &[f32]) -> Result<Vec<f32>, InputError> {
        match self {
            CpuPlan::Mnist(plan) => {
                check_input(values, Architecture::MnistCnn.input_shape())?;
                Ok(plan.probabilities(values))
            }
            CpuPlan::SqueezeNet(plan) => {
                check_input(values, Architecture::SqueezeNet1_1.input_shape())?;
                Ok(plan.probabilities(values))
            }
        }
    }
}

/// A parameter's shape and its values (`Err` when they are not f32).
type Found = (Vec<usize>, Result<Vec<f32>, ()>);

/// Every float parameter of a module by its dotted path (`conv2d5.weight`).
#[derive(Default)]
pub(crate) struct Params {
    path: Vec<String>,
    found: HashMap<String, Found>,
}

impl Params {
    /// The parameters of `module`.
    pub(crate) fn of(module: &impl Module) -> Self {
        let mut params = Params::default();
        module.visit(&mut params);
        params
    }

    /// The shape of parameter `name`, which must have `N` dimensions.
    pub(crate) fn dims<const N: usize>(&self, name: &str) -> Result<[usize; N], PlanError> {
        let (shape, _) = self.found.get(name).ok_or_else(|| PlanError::Missing(name.into()))?;
        shape.as_slice().try_into().map_err(|_| PlanError::Rank { name: name.into(), found: shape.clone(), rank: N })
    }

    /// Convolution module `name` (weight `[out, in, kh, kw]` = `shape`, and its bias), ReLU fused.
    pub(crate) fn conv2d(&self, name: &str, shape: [usize; 4], stride: [usize; 2], padding: [usize; 2]) -> Result<Conv2d, PlanError> {
        let weight = self.values(&format!("{name}.weight"), &shape)?;
        let bias = self.values(&format!("{name}.bias"), &shape[..1])?;
        let geometry = ConvGeometry { stride, padding, ..ConvGeometry::default() };
        Ok(Conv2d::new(&weight, shape, Some(&bias), geometry, Activation::Relu)?)
    }

    /// Linear module `name` (weight `[in, out]` and its bias, any widths).
    pub(crate) fn dense(&self, name: &str, relu: bool) -> Result<Dense, PlanError> {
        let shape = self.dims::<2>(&format!("{name}.weight"))?;
        let weight = self.values(&format!("{name}.weight"), &shape)?;
        let bias = self.values(&format!("{name}.bias"), &shape[1..])?;
        let activation = if relu { Activation::Relu } else { Activation::None };
        Ok(Dense::new(&weight, shape, Some(&bias), activation)?)
    }

    /// A copy of parameter `name`'s values, checked against `shape`.
    pub(crate) fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, PlanError> {
        let (found, values) = self.found.get(name).ok_or_else(|| PlanError::Missing(name.into()))?;
        if found != shape {
            return Err(PlanError::Shape { name: name.into(), found: found.clone(), expected: shape.to_vec() });
        }
        values.clone().map_err(|()| PlanError::NotF32(name.into()))
    }
}

impl ModuleVisitor for Params {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let values = tensor.into_data().try_into_vec::<f32>().map_err(|_| ());
        self.found.insert(self.path.join("."), (shape, values));
    }
}
