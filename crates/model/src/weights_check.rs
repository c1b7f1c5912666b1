//! Weight bytes are untrusted: everything they claim is checked before it is used. The
//! Burnpack reader already checks each tensor's byte range against the file; this module adds
//! what it cannot know: that the layer sizes a file's metadata claims fit in the file at all
//! (checked arithmetic, before any layer is built), that every tensor is f32 (the reader does
//! not check the length of quantized data, whose shape could claim anything), and that each
//! tensor has exactly the shape the architecture expects for it, before any value is copied.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::store::burn_pack::{DType, Reader};

use crate::weights::{WeightBytes, WeightsError};

/// What a weights file says about itself, parsed once: metadata and each tensor's dtype and shape.
pub(crate) struct Inspected {
    pub(crate) metadata: BTreeMap<String, String>,
    tensors: BTreeMap<String, (DType, Vec<usize>)>,
    /// Size of the whole file in bytes.
    pub(crate) len: usize,
}

/// Parses the Burnpack header and metadata of `bytes` (no tensor data is read or copied).
pub(crate) fn inspect(bytes: &WeightBytes) -> Result<Inspected, WeightsError> {
    let reader = Reader::from_bytes(bytes.shared()).map_err(|e| WeightsError::NotBurnpack(e.to_string()))?;
    let metadata = reader.metadata().clone();
    let tensors = reader
        .into_tensors()
        .map_err(|e| WeightsError::NotBurnpack(e.to_string()))?
        .into_iter()
        .map(|t| (t.name, (t.dtype, t.shape.to_vec())))
        .collect();
    Ok(Inspected { metadata, tensors, len: bytes.len() })
}

/// Bytes that `parameters` f32 values take, refused when more than the file holds.
pub(crate) fn fits(parameters: Option<u64>, available: usize) -> Result<(), WeightsError> {
    let needed = parameters.and_then(|p| p.checked_mul(4));
    match needed {
        Some(n) if n <= available as u64 => Ok(()),
        _ => Err(WeightsError::TooLarge { needed, available }),
    }
}

/// Every parameter of `module` (built lazily: its shapes are known, nothing is allocated) must
/// be an f32 tensor of exactly that shape in the file, and the file must hold nothing else.
pub(crate) fn check_tensors(module: &impl Module, file: &Inspected, architecture: &'static str) -> Result<(), WeightsError> {
    let mismatch = |detail: String| Err(WeightsError::Mismatch { architecture, detail });
    let mut expected = Shapes::default();
    module.visit(&mut expected);
    for (name, shape) in &expected.found {
        let Some((dtype, found)) = file.tensors.get(name) else {
            return mismatch(format!("tensor {name} is missing"));
        };
        if *dtype != DType::F32 {
            return mismatch(format!("tensor {name} is {dtype:?}; this runtime reads f32 weights"));
        }
        if found != shape {
            return mismatch(format!("tensor {name} has shape {found:?}, the architecture needs {shape:?}"));
        }
    }
    if let Some(extra) = file.tensors.keys().find(|name| !expected.found.contains_key(*name)) {
        return mismatch(format!("tensor {extra} is not part of the architecture"));
    }
    Ok(())
}

/// Each float parameter's shape by its dotted path (`conv1.weight`), the names Burnpack uses.
#[derive(Default)]
struct Shapes {
    path: Vec<String>,
    found: BTreeMap<String, Vec<usize>>,
}

impl ModuleVisitor for Shapes {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // lazy_shape: the shape without initialising (allocating) the parameter.
        self.found.insert(self.path.join("."), param.lazy_shape().to_vec());
    }
}
