//! Weights as data: encode a model to Burnpack bytes and decode bytes back into a model.
//!
//! The Burnpack metadata carries the architecture id and its hyper-parameters, so a weights
//! file is self-describing: the runtime refuses bytes for another architecture with a clear
//! error instead of failing deep inside a tensor copy. Bytes are untrusted: sizes, dtypes and
//! shapes are checked ([`crate::weights_check`]) before a layer is built or a value copied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use burn::prelude::*;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::burn_pack::{Bytes, DType};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::store::{ModuleAdapter, ModuleContext};

use crate::weight_source::WeightSource;
use crate::weight_variants::{widen, INT8_SCALE_SUFFIX};
use crate::weights_check::{check_tensors, inspect, Inspected};

/// Weight bytes, shared rather than copied: a session, the Burnpack reader and the header check
/// all read the one buffer the caller handed over (from a `Vec` without a copy), so a model
/// being loaded costs its tensors plus the file, not two files.
#[derive(Clone, Debug)]
pub struct WeightBytes(bytes::Bytes);

impl WeightBytes {
    /// The file as Burn's byte container, sharing this buffer.
    pub(crate) fn shared(&self) -> Bytes {
        Bytes::from_shared(self.0.clone(), burn::tensor::AllocationProperty::Other)
    }
}

impl From<Vec<u8>> for WeightBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes::Bytes::from(bytes))
    }
}

impl From<&[u8]> for WeightBytes {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes::Bytes::copy_from_slice(bytes))
    }
}

impl From<&Vec<u8>> for WeightBytes {
    fn from(bytes: &Vec<u8>) -> Self {
        bytes.as_slice().into()
    }
}

impl std::ops::Deref for WeightBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Metadata key of the architecture id in every weights file burn-edge writes.
pub(crate) const KEY_ARCHITECTURE: &str = "burn_edge.architecture";

/// Why weight bytes could not become a model.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The bytes are not a Burnpack file at all (empty, truncated, another format).
    #[error("weights are not a valid Burnpack file ({0})")]
    NotBurnpack(String),
    /// A Burnpack file for some other architecture.
    #[error("weights are for architecture {found:?}, but this runtime expected {expected:?}")]
    WrongArchitecture {
        /// What the file says it holds.
        found: String,
        /// What the caller asked for.
        expected: &'static str,
    },
    /// A hyper-parameter in the metadata is missing or not a number.
    #[error("weights metadata field {key} is missing or invalid")]
    BadMetadata {
        /// The metadata key.
        key: &'static str,
    },
    /// The tensors do not fit the architecture (missing tensor, wrong shape or dtype).
    #[error("weights do not match the {architecture} architecture: {detail}")]
    Mismatch {
        /// Architecture id.
        architecture: &'static str,
        /// The decoder's own words.
        detail: String,
    },
    /// The metadata claims layers that more bytes than the file has could not hold (checked
    /// before anything is allocated).
    #[error(
        "weights metadata describes layers of {} but the file has {available} bytes",
        needed.map_or("more than 2^64 bytes".to_string(), |n| format!("{n} bytes"))
    )]
    TooLarge {
        /// Bytes the claimed layers take (`None`: the size overflows 64 bits).
        needed: Option<u64>,
        /// Size of the file.
        available: usize,
    },
    /// The weights file could not be read (a source that failed mid-file).
    #[error("could not read the weights file: {0}")]
    Read(String),
    /// Encoding the model failed.
    #[error("could not encode weights: {0}")]
    Encode(String),
}

/// Numbers the parameter ids 1, 2, 3, ... in the order the tensors are written. Burn draws ids
/// at random and Burnpack stores them, so without this the same weights would encode to
/// different bytes and content hashes. It renumbers as the file is written, not on the module:
/// a mapper over the module leaves batch norm's running statistics with their random ids.
#[derive(Clone, Default)]
struct SequentialIds(Arc<AtomicU64>);

impl ModuleAdapter for SequentialIds {
    fn adapt(&self, mut tensor: PackTensor, _: ModuleContext<'_>) -> PackTensor {
        tensor.param_id = Some(self.0.fetch_add(1, Ordering::Relaxed) + 1);
        tensor
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

/// Encodes `model` with its architecture id `architecture` and any further metadata
/// (hyper-parameters); the same weights always give the same bytes.
pub fn save_module<M: Module>(model: &M, architecture: &str, metadata: &[(&str, String)]) -> Result<Vec<u8>, WeightsError> {
    let mut store = BurnpackStore::from_bytes(None).with_to_adapter(SequentialIds::default()).metadata(KEY_ARCHITECTURE, architecture);
    for (key, value) in metadata {
        store = store.metadata(*key, value.clone());
    }
    model.save_into(&mut store).map_err(|e| WeightsError::Encode(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| WeightsError::Encode(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// The architecture id recorded in weight bytes, if any (an `import-onnx` output has none
/// until `publish` re-encodes it).
pub fn architecture_of(bytes: &[u8]) -> Result<Option<String>, WeightsError> {
    Ok(inspect(&crate::weight_source::SliceSource(bytes))?.metadata.get(KEY_ARCHITECTURE).cloned())
}

/// Decodes weight bytes of an architecture with fixed shapes (an imported one: the bytes come
/// from `publish` or straight from `import-onnx`, without an id) into the module `build`
/// makes once the file's header is read (its parameters are lazy: nothing is allocated until
/// the checked load).
pub fn load_module<M: Module>(bytes: &dyn WeightSource, architecture: &'static str, build: impl FnOnce() -> M) -> Result<M, WeightsError> {
    let file = inspect(bytes)?;
    if let Some(found) = file.metadata.get(KEY_ARCHITECTURE).filter(|a| *a != architecture) {
        return Err(WeightsError::WrongArchitecture { found: found.clone(), expected: architecture });
    }
    load_checked(bytes, &file, architecture, build())
}

/// Loads `source` (already inspected as `file`) into `model` once every tensor's dtype and
/// shape is checked against it. A file in memory is shared: the tensors are views into it. Any
/// other source is copied one tensor at a time, so the file is never whole in this memory.
pub(crate) fn load_checked<M: Module>(
    source: &dyn WeightSource,
    file: &Inspected,
    architecture: &'static str,
    mut model: M,
) -> Result<M, WeightsError> {
    check_tensors(&model, file, architecture)?;
    let mismatch = |detail: String| WeightsError::Mismatch { architecture, detail };
    let all_f32 = file.tensors.values().all(|t| t.dtype == DType::F32);
    if let (Some(bytes), true) = (source.resident(), all_f32) {
        let mut store = BurnpackStore::from_bytes(Some(bytes.shared()));
        model.load_from(&mut store).map_err(|e| mismatch(e.to_string()))?;
        return Ok(model);
    }
    // One tensor at a time: read (an f16 or int8 one widened to f32), applied to its parameter,
    // released, so the copies never coexist with the module's own (check_tensors: every tensor
    // has exactly its parameter's shape, and the file holds nothing the module lacks but scales).
    for (name, t) in file.tensors.iter().filter(|(name, _)| !name.ends_with(INT8_SCALE_SUFFIX)) {
        let scale = file.tensors.get(&format!("{name}{INT8_SCALE_SUFFIX}")).filter(|_| t.dtype == DType::I8);
        let values = widen(source, t, scale)?;
        // Shared (reference-counted): Burn's capture clones every recorded value when it
        // completes, which copies owned bytes but only counts shared ones.
        let tensor = PackTensor::new(name.clone(), DType::F32, t.shape.clone(), t.param_id, Bytes::from_elems(values).shared());
        let applied = model.apply(vec![tensor], None, None, false);
        if !applied.errors.is_empty() {
            return Err(mismatch(format!("{:?}", applied.errors)));
        }
        if applied.applied.len() != 1 {
            return Err(mismatch(format!("tensor {name} did not apply to the module")));
        }
    }
    Ok(model)
}
