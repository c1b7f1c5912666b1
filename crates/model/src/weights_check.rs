//! Weight bytes are untrusted: everything they claim is checked before it is used. This module
//! parses the Burnpack header and metadata itself, reading only those bytes from a
//! [`WeightSource`] (in the browser the file stays in JavaScript), and checks each tensor's byte
//! range against the file and its dtype and shape; then that the layer sizes the metadata claims
//! fit in the file at all (checked arithmetic, before any layer is built), that every tensor is
//! f32, f16 or int8 with fitting scales (the length of Burn's packed quantized data is not
//! checked, so its shape could claim anything: it is refused), and
//! that each tensor has exactly the shape the architecture expects, before any value is copied.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::store::burn_pack::{
    aligned_data_section_start, DType, Header, FORMAT_VERSION, HEADER_SIZE, MAX_CBOR_RECURSION_DEPTH, MAX_METADATA_SIZE, MAX_TENSOR_COUNT,
};
use serde::Deserialize;

use crate::weight_source::WeightSource;
use crate::weight_variants::{scales_fit, INT8_SCALE_SUFFIX};
use crate::weights::WeightsError;

/// What a weights file says about itself, parsed once: metadata and each tensor's dtype, shape
/// and place in the file.
pub(crate) struct Inspected {
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) tensors: BTreeMap<String, TensorEntry>,
    /// Size of the whole file in bytes.
    pub(crate) len: usize,
}

/// One tensor of a weights file.
pub(crate) struct TensorEntry {
    pub(crate) dtype: DType,
    pub(crate) shape: Vec<usize>,
    /// Absolute byte range in the file, checked to lie within it.
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) param_id: Option<u64>,
}

/// Burnpack's CBOR metadata, as burn-pack 0.22 writes it (its own type is private: a test
/// holds this one to the reader's view of every architecture's file).
#[derive(Deserialize)]
struct PackMetadata {
    tensors: BTreeMap<String, PackDescriptor>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct PackDescriptor {
    dtype: DType,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
    #[serde(default)]
    param_id: Option<u64>,
}

/// Parses the Burnpack header and metadata of `source`, reading nothing else: each tensor's
/// range is checked against the file and against its dtype and shape before anything trusts it.
pub(crate) fn inspect(source: &dyn WeightSource) -> Result<Inspected, WeightsError> {
    let bad = |why: String| WeightsError::NotBurnpack(why);
    let len = source.len();
    if len < HEADER_SIZE {
        return Err(bad(format!("{len} bytes is shorter than the {HEADER_SIZE}-byte header")));
    }
    let mut head = [0u8; HEADER_SIZE];
    source.read(0, &mut head).map_err(WeightsError::Read)?;
    let header = Header::from_bytes(&head).map_err(|e| bad(e.to_string()))?;
    if header.version > FORMAT_VERSION {
        return Err(bad(format!("format version {} is newer than this runtime's {FORMAT_VERSION}", header.version)));
    }
    if header.metadata_size > MAX_METADATA_SIZE {
        return Err(bad(format!("{} bytes of metadata is over the {MAX_METADATA_SIZE}-byte limit", header.metadata_size)));
    }
    let metadata_size = header.metadata_size as usize;
    if HEADER_SIZE + metadata_size > len {
        return Err(bad(format!("the metadata ({metadata_size} bytes) runs past the end of the {len}-byte file")));
    }
    let mut raw = vec![0u8; metadata_size];
    source.read(HEADER_SIZE, &mut raw).map_err(WeightsError::Read)?;
    let parsed: PackMetadata = ciborium::de::from_reader_with_recursion_limit(raw.as_slice(), MAX_CBOR_RECURSION_DEPTH)
        .map_err(|e| bad(format!("metadata: {e}")))?;
    if parsed.tensors.len() > MAX_TENSOR_COUNT {
        return Err(bad(format!("{} tensors is over the limit of {MAX_TENSOR_COUNT}", parsed.tensors.len())));
    }
    let data_offset = aligned_data_section_start(metadata_size);
    let mut tensors = BTreeMap::new();
    for (name, d) in parsed.tensors {
        let absolute = |offset: u64| usize::try_from(offset).ok().and_then(|o| o.checked_add(data_offset));
        let (Some(start), Some(end)) = (absolute(d.data_offsets.0), absolute(d.data_offsets.1)) else {
            return Err(bad(format!("tensor {name}: offsets {:?} overflow", d.data_offsets)));
        };
        if start > end || end > len {
            return Err(bad(format!("tensor {name}: bytes {start}..{end} are outside the {len}-byte file")));
        }
        let shape: Option<Vec<usize>> = d.shape.iter().map(|&n| usize::try_from(n).ok()).collect();
        let needed = shape.as_ref().and_then(|s| s.iter().try_fold(d.dtype.size(), |acc, &n| acc.checked_mul(n)));
        // Quantized data packs values and scales: its length is no product (burn-pack's rule).
        if !matches!(d.dtype, DType::QFloat(_)) && needed != Some(end - start) {
            return Err(bad(format!("tensor {name}: {} bytes do not hold shape {:?} of {:?}", end - start, d.shape, d.dtype)));
        }
        let shape = shape.ok_or_else(|| bad(format!("tensor {name}: shape {:?} overflows", d.shape)))?;
        tensors.insert(name, TensorEntry { dtype: d.dtype, shape, start, end, param_id: d.param_id });
    }
    Ok(Inspected { metadata: parsed.metadata, tensors, len })
}

/// Bytes that `parameters` values take at the file's smallest element size (int8: 1, f16: 2,
/// else 4), refused when more than the file holds.
pub(crate) fn fits(parameters: Option<u64>, file: &Inspected) -> Result<(), WeightsError> {
    let smallest = file.tensors.values().map(|t| t.dtype.size() as u64).min().unwrap_or(4).max(1);
    let needed = parameters.and_then(|p| p.checked_mul(smallest));
    match needed {
        Some(n) if n <= file.len as u64 => Ok(()),
        _ => Err(WeightsError::TooLarge { needed, available: file.len }),
    }
}

/// Every parameter of `module` (built lazily: its shapes are known, nothing is allocated) must
/// be a tensor of exactly that shape in the file: f32, f16, or int8 with its per-channel scales
/// (see `weight_variants`); and the file must hold nothing else.
pub(crate) fn check_tensors(module: &impl Module, file: &Inspected, architecture: &'static str) -> Result<(), WeightsError> {
    let mismatch = |detail: String| Err(WeightsError::Mismatch { architecture, detail });
    let mut expected = Shapes::default();
    module.visit(&mut expected);
    let mut scales = Vec::new();
    for (name, shape) in &expected.found {
        let Some(TensorEntry { dtype, shape: found, .. }) = file.tensors.get(name) else {
            return mismatch(format!("tensor {name} is missing"));
        };
        if found != shape {
            return mismatch(format!("tensor {name} has shape {found:?}, the architecture needs {shape:?}"));
        }
        match dtype {
            DType::F32 | DType::F16 => {}
            DType::I8 => {
                let scale_name = format!("{name}{INT8_SCALE_SUFFIX}");
                match file.tensors.get(&scale_name) {
                    Some(s) if s.dtype == DType::F32 && scales_fit(shape, &s.shape) => scales.push(scale_name),
                    Some(s) => {
                        return mismatch(format!("{scale_name} is {:?} of shape {:?}, not f32 scales fitting {shape:?}", s.dtype, s.shape))
                    }
                    None => return mismatch(format!("int8 tensor {name} has no {scale_name}")),
                }
            }
            other => return mismatch(format!("tensor {name} is {other:?}; this runtime reads f32, f16 and int8 weights")),
        }
    }
    if let Some(extra) = file.tensors.keys().find(|name| !expected.found.contains_key(*name) && !scales.contains(name)) {
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

#[cfg(test)]
mod tests {
    use burn::store::burn_pack::Reader;

    use super::*;
    use crate::registry::architectures;
    use crate::{SliceSource, WeightBytes};

    /// burn-pack's own reader and this parser see the same tensors, at the same bytes, in every
    /// architecture's file.
    #[test]
    fn the_parser_agrees_with_burn_packs_reader() {
        for architecture in architectures() {
            let file = architecture.init(&Device::flex()).save().unwrap();
            let mine = inspect(&SliceSource(&file)).unwrap();
            let reader = Reader::from_bytes(WeightBytes::from(file.clone()).shared()).unwrap();
            assert_eq!(&mine.metadata, reader.metadata());
            let theirs = reader.into_tensors().unwrap();
            assert_eq!(mine.tensors.len(), theirs.len(), "{}", architecture.id());
            for t in theirs {
                let e = &mine.tensors[&t.name];
                assert_eq!((e.dtype, &e.shape, e.param_id), (t.dtype, &t.shape.to_vec(), t.param_id), "{}", t.name);
                assert_eq!(&file[e.start..e.end], &t.into_bytes().unwrap()[..], "{}", e.start);
            }
        }
    }

    /// What a hostile file claims is refused before anything trusts it, with the reason.
    #[test]
    fn a_lying_header_or_range_is_refused() {
        let file = crate::registry::architectures()[0].init(&Device::flex()).save().unwrap();
        let refused = |bytes: &[u8]| match inspect(&SliceSource(bytes)) {
            Err(WeightsError::NotBurnpack(why)) => why,
            Err(other) => panic!("wrong error {other}"),
            Ok(_) => panic!("accepted"),
        };
        assert!(refused(&file[..4]).contains("shorter than the"), "{}", refused(&file[..4]));
        let mut big = file.clone();
        big[6..10].copy_from_slice(&(file.len() as u32).to_le_bytes());
        assert!(refused(&big).contains("runs past the end"), "{}", refused(&big));
        let mut magic = file.clone();
        magic[0] ^= 0xff;
        refused(&magic);
        // The data section cut off: the last tensor's range leaves the file.
        assert!(refused(&file[..file.len() - 1]).contains("outside the"), "{}", refused(&file[..file.len() - 1]));
    }
}
