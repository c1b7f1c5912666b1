//! Weights as data: encode a model to Burnpack bytes and decode bytes back into a model.
//!
//! The Burnpack metadata carries the architecture id and its hyper-parameters, so a weights
//! file is self-describing: the runtime refuses bytes for another architecture with a clear
//! error instead of failing deep inside a tensor copy.

use std::collections::BTreeMap;

use burn::module::{ModuleMapper, Param, ParamId};
use burn::prelude::*;
use burn::store::burn_pack::{Bytes, Reader};
use burn::store::{BurnpackStore, ModuleSnapshot};

use crate::mnist::{MnistCnn, MnistConfig};
use crate::squeezenet::{SqueezeNet, SQUEEZENET_ARCHITECTURE};

/// Architecture id written into every MNIST weights file.
pub const MNIST_ARCHITECTURE: &str = "mnist-cnn";

const KEY_ARCHITECTURE: &str = "burn_edge.architecture";
const KEY_CONV1: &str = "burn_edge.mnist.conv1_channels";
const KEY_CONV2: &str = "burn_edge.mnist.conv2_channels";
const KEY_HIDDEN: &str = "burn_edge.mnist.hidden";

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
    /// Encoding the model failed.
    #[error("could not encode weights: {0}")]
    Encode(String),
}

/// Renumbers parameter ids 1, 2, 3, ... in module order. Burn draws ids at random and
/// Burnpack stores them, so without this the same weights would encode to different bytes and
/// content hashes.
struct SequentialIds(u64);

impl ModuleMapper for SequentialIds {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (_, value, mapper) = param.consume();
        self.0 += 1;
        Param::from_mapped_value(ParamId::from(self.0), value, mapper)
    }
}

/// Encodes the MNIST model and its configuration to Burnpack bytes; the same weights always
/// give the same bytes.
pub fn save_to_bytes(model: &MnistCnn, config: &MnistConfig) -> Result<Vec<u8>, WeightsError> {
    encode(
        model,
        &[
            (KEY_ARCHITECTURE, MNIST_ARCHITECTURE.to_string()),
            (KEY_CONV1, config.conv1_channels.to_string()),
            (KEY_CONV2, config.conv2_channels.to_string()),
            (KEY_HIDDEN, config.hidden.to_string()),
        ],
    )
}

/// Encodes SqueezeNet weights with their architecture id; the same weights always give the
/// same bytes.
pub fn save_squeezenet(model: &SqueezeNet) -> Result<Vec<u8>, WeightsError> {
    encode(model, &[(KEY_ARCHITECTURE, SQUEEZENET_ARCHITECTURE.to_string())])
}

fn encode<M: Module>(model: &M, metadata: &[(&str, String)]) -> Result<Vec<u8>, WeightsError> {
    let model = model.clone().map(&mut SequentialIds(0));
    let mut store = BurnpackStore::from_bytes(None);
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
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| WeightsError::NotBurnpack(e.to_string()))?;
    Ok(reader.metadata().get(KEY_ARCHITECTURE).cloned())
}

/// Decodes SqueezeNet weight bytes (published, or straight from `import-onnx`) on `device`.
pub fn load_squeezenet(bytes: &[u8], device: &Device) -> Result<SqueezeNet, WeightsError> {
    if let Some(found) = architecture_of(bytes)?.filter(|a| a != SQUEEZENET_ARCHITECTURE) {
        return Err(WeightsError::WrongArchitecture { found, expected: SQUEEZENET_ARCHITECTURE });
    }
    let mut model = SqueezeNet::new(device);
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())));
    model.load_from(&mut store).map_err(|e| WeightsError::Mismatch { architecture: SQUEEZENET_ARCHITECTURE, detail: e.to_string() })?;
    Ok(model)
}

/// Reads the configuration recorded in MNIST weight bytes without loading any tensor.
pub fn read_mnist_config(bytes: &[u8]) -> Result<MnistConfig, WeightsError> {
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| WeightsError::NotBurnpack(e.to_string()))?;
    let meta = reader.metadata();
    let architecture = meta.get(KEY_ARCHITECTURE).cloned().unwrap_or_default();
    if architecture != MNIST_ARCHITECTURE {
        return Err(WeightsError::WrongArchitecture { found: architecture, expected: MNIST_ARCHITECTURE });
    }
    Ok(MnistConfig::new()
        .with_conv1_channels(number(meta, KEY_CONV1)?)
        .with_conv2_channels(number(meta, KEY_CONV2)?)
        .with_hidden(number(meta, KEY_HIDDEN)?))
}

fn number(meta: &BTreeMap<String, String>, key: &'static str) -> Result<usize, WeightsError> {
    meta.get(key).and_then(|v| v.parse().ok()).filter(|&n| n > 0).ok_or(WeightsError::BadMetadata { key })
}

/// Decodes MNIST weight bytes into a model on `device`.
pub fn load_mnist(bytes: &[u8], device: &Device) -> Result<MnistCnn, WeightsError> {
    let config = read_mnist_config(bytes)?;
    let mut model = config.init(device);
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())));
    model.load_from(&mut store).map_err(|e| WeightsError::Mismatch { architecture: MNIST_ARCHITECTURE, detail: e.to_string() })?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MNIST_SIDE;

    fn small() -> MnistConfig {
        MnistConfig::new().with_conv1_channels(2).with_conv2_channels(3).with_hidden(4)
    }

    #[test]
    fn round_trip_gives_identical_outputs() {
        let device = Device::flex();
        let model = small().init(&device);
        let bytes = save_to_bytes(&model, &small()).unwrap();
        let loaded = load_mnist(&bytes, &device).unwrap();
        let x = Tensor::<4>::ones([1, 1, MNIST_SIDE, MNIST_SIDE], &device) * 0.5;
        let a: Vec<f32> = model.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        let b: Vec<f32> = loaded.forward(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn the_same_weights_encode_to_the_same_bytes() {
        let device = Device::flex();
        let first = save_to_bytes(&small().init(&device), &small()).unwrap();
        let reloaded = load_mnist(&first, &device).unwrap();
        assert_eq!(save_to_bytes(&reloaded, &small()).unwrap(), first);
    }

    #[test]
    fn garbage_is_not_burnpack() {
        let err = load_mnist(b"definitely not weights", &Device::flex()).unwrap_err();
        assert!(matches!(err, WeightsError::NotBurnpack(_)), "{err}");
        let err = load_mnist(&[], &Device::flex()).unwrap_err();
        assert!(matches!(err, WeightsError::NotBurnpack(_)), "{err}");
    }

    #[test]
    fn truncated_weights_are_refused() {
        let device = Device::flex();
        let bytes = save_to_bytes(&small().init(&device), &small()).unwrap();
        let err = load_mnist(&bytes[..bytes.len() - 17], &device).unwrap_err();
        assert!(matches!(err, WeightsError::NotBurnpack(_) | WeightsError::Mismatch { .. }), "{err}");
    }

    #[test]
    fn other_architecture_is_named() {
        let device = Device::flex();
        let linear = burn::nn::LinearConfig::new(2, 2).init(&device);
        let mut store = BurnpackStore::from_bytes(None).metadata(KEY_ARCHITECTURE, "resnet");
        linear.save_into(&mut store).unwrap();
        let bytes = store.get_bytes().unwrap().to_vec();
        let err = load_mnist(&bytes, &device).unwrap_err();
        assert!(err.to_string().contains("\"resnet\""), "{err}");
    }

    #[test]
    fn tensors_of_the_wrong_shape_are_a_mismatch() {
        let device = Device::flex();
        let bytes = save_to_bytes(&small().init(&device), &small()).unwrap();
        // Same file, but metadata claiming a wider hidden layer than the tensors have.
        let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes)).unwrap();
        let mut meta = reader.metadata().clone();
        meta.insert(KEY_HIDDEN.into(), "9".into());
        let mut store = BurnpackStore::from_bytes(None).clear_metadata();
        for (k, v) in meta {
            store = store.metadata(k, v);
        }
        small().init(&device).save_into(&mut store).unwrap();
        let lying = store.get_bytes().unwrap().to_vec();
        let err = load_mnist(&lying, &device).unwrap_err();
        assert!(matches!(err, WeightsError::Mismatch { .. }), "{err}");
    }
}
