//! MNIST weights carry the network's configuration (layer widths) in their Burnpack metadata,
//! so a file is self-describing; the widths are checked against the file's size before any
//! layer is built.

use std::collections::BTreeMap;

use burn::prelude::*;

use super::model::{MnistCnn, MnistConfig, MNIST_CLASSES};
use super::MNIST_ARCHITECTURE;
use crate::weight_source::{SliceSource, WeightSource};
use crate::weights::{load_checked, save_module, WeightBytes, WeightsError, KEY_ARCHITECTURE};
use crate::weights_check::{fits, inspect, Inspected};

const KEY_CONV1: &str = "burn_edge.mnist.conv1_channels";
const KEY_CONV2: &str = "burn_edge.mnist.conv2_channels";
const KEY_HIDDEN: &str = "burn_edge.mnist.hidden";

/// Encodes the MNIST model and its configuration to Burnpack bytes; the same weights always
/// give the same bytes.
pub fn save_to_bytes(model: &MnistCnn, config: &MnistConfig) -> Result<Vec<u8>, WeightsError> {
    save_module(
        model,
        MNIST_ARCHITECTURE,
        &[
            (KEY_CONV1, config.conv1_channels.to_string()),
            (KEY_CONV2, config.conv2_channels.to_string()),
            (KEY_HIDDEN, config.hidden.to_string()),
        ],
    )
}

/// Reads the configuration recorded in MNIST weight bytes without loading any tensor; refused
/// when the layers it describes could not fit in the file.
pub fn read_mnist_config(bytes: &[u8]) -> Result<MnistConfig, WeightsError> {
    mnist_config(&inspect(&SliceSource(bytes))?)
}

fn mnist_config(file: &Inspected) -> Result<MnistConfig, WeightsError> {
    let meta = &file.metadata;
    let architecture = meta.get(KEY_ARCHITECTURE).cloned().unwrap_or_default();
    if architecture != MNIST_ARCHITECTURE {
        return Err(WeightsError::WrongArchitecture { found: architecture, expected: MNIST_ARCHITECTURE });
    }
    let config = MnistConfig::new()
        .with_conv1_channels(number(meta, KEY_CONV1)?)
        .with_conv2_channels(number(meta, KEY_CONV2)?)
        .with_hidden(number(meta, KEY_HIDDEN)?);
    fits(mnist_parameters(&config), file)?;
    Ok(config)
}

/// Parameters of the MNIST CNN for `config` (see `MnistConfig::init`), `None` past 64 bits.
fn mnist_parameters(config: &MnistConfig) -> Option<u64> {
    let [c1, c2, hidden] = [config.conv1_channels, config.conv2_channels, config.hidden].map(|n| n as u64);
    let conv1 = c1.checked_mul(5 * 5)?.checked_add(c1)?;
    let conv2 = c2.checked_mul(c1)?.checked_mul(5 * 5)?.checked_add(c2)?;
    let fc1 = c2.checked_mul(4 * 4)?.checked_mul(hidden)?.checked_add(hidden)?;
    let fc2 = hidden.checked_mul(MNIST_CLASSES as u64)?.checked_add(MNIST_CLASSES as u64)?;
    conv1.checked_add(conv2)?.checked_add(fc1)?.checked_add(fc2)
}

fn number(meta: &BTreeMap<String, String>, key: &'static str) -> Result<usize, WeightsError> {
    meta.get(key).and_then(|v| v.parse().ok()).filter(|&n| n > 0).ok_or(WeightsError::BadMetadata { key })
}

/// Decodes MNIST weight bytes into a model on `device`.
pub fn load_mnist(bytes: &[u8], device: &Device) -> Result<MnistCnn, WeightsError> {
    load_with_config(&WeightBytes::from(bytes), device).map(|(model, _)| model)
}

/// Decodes MNIST weight bytes into a model on `device`, with the configuration they record.
pub fn load_with_config(bytes: &dyn WeightSource, device: &Device) -> Result<(MnistCnn, MnistConfig), WeightsError> {
    let file = inspect(bytes)?;
    let config = mnist_config(&file)?;
    // Parameters are lazy: building the module allocates nothing until the checked load.
    let model = load_checked(bytes, &file, MNIST_ARCHITECTURE, config.init(device))?;
    Ok((model, config))
}

#[cfg(test)]
mod tests {
    use burn::store::burn_pack::{Bytes, DType, Reader, Tensor as PackTensor, Writer};
    use burn::store::{BurnpackStore, ModuleSnapshot};

    use super::*;
    use crate::MNIST_SIDE;

    /// A Burnpack file with `metadata` and zero-filled tensors of the given dtypes and shapes.
    fn crafted(metadata: &[(&str, &str)], tensors: &[(&str, DType, &[usize])]) -> Vec<u8> {
        let tensors = tensors
            .iter()
            .map(|(name, dtype, shape)| {
                let len = shape.iter().product::<usize>() * dtype.size();
                PackTensor::new(name.to_string(), *dtype, shape.to_vec(), None, Bytes::from_bytes_vec(vec![0; len]))
            })
            .collect();
        let writer = metadata.iter().fold(Writer::new(tensors), |w, (k, v)| w.with_metadata(k, v));
        writer.into_bytes().unwrap().to_vec()
    }

    /// MNIST metadata with these layer sizes.
    fn mnist_meta<'a>(c1: &'a str, c2: &'a str, hidden: &'a str) -> [(&'static str, &'a str); 4] {
        [(KEY_ARCHITECTURE, MNIST_ARCHITECTURE), (KEY_CONV1, c1), (KEY_CONV2, c2), (KEY_HIDDEN, hidden)]
    }

    #[test]
    fn layer_sizes_the_file_cannot_hold_are_refused_before_any_layer_is_built() {
        let device = Device::flex();
        let huge = (usize::MAX / 8).to_string();
        // A 4 TB hidden layer, a conv2 width whose flattened size overflows, and both.
        for (c1, c2, hidden) in [("2", "3", "1099511627776"), ("2", huge.as_str(), "4"), (huge.as_str(), huge.as_str(), huge.as_str())] {
            let bytes = crafted(&mnist_meta(c1, c2, hidden), &[("conv1.weight", DType::F32, &[2, 1, 5, 5])]);
            let err = load_mnist(&bytes, &device).unwrap_err();
            assert!(matches!(err, WeightsError::TooLarge { available, .. } if available == bytes.len()), "{c1}/{c2}/{hidden}: {err}");
            assert!(matches!(read_mnist_config(&bytes), Err(WeightsError::TooLarge { .. })));
        }
        let bytes = crafted(&mnist_meta("2", "3", "1099511627776"), &[]);
        assert_eq!(
            load_mnist(&bytes, &device).unwrap_err().to_string(),
            format!("weights metadata describes layers of 259484744155996 bytes but the file has {} bytes", bytes.len())
        );
    }

    #[test]
    fn tensors_of_an_unreadable_dtype_or_not_in_the_architecture_are_named() {
        let device = Device::flex();
        let good = save_to_bytes(&small().init(&device), &small()).unwrap();
        let shapes = |replace: &str, dtype: DType| -> Vec<(String, DType, Vec<usize>)> {
            let reader = Reader::from_bytes(Bytes::from_bytes_vec(good.clone())).unwrap();
            let mut out: Vec<_> = reader
                .into_tensors()
                .unwrap()
                .into_iter()
                .map(|t| (t.name.clone(), if t.name == replace { dtype } else { t.dtype }, t.shape.to_vec()))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        };
        let meta = mnist_meta("2", "3", "4");
        let build = |tensors: &[(String, DType, Vec<usize>)]| {
            crafted(&meta, &tensors.iter().map(|(n, d, s)| (n.as_str(), *d, s.as_slice())).collect::<Vec<_>>())
        };
        // Same shapes, one tensor in bf16: this runtime reads f32, f16 and int8 (with its scales).
        let err = load_mnist(&build(&shapes("fc1.weight", DType::BF16)), &device).unwrap_err();
        assert_eq!(
            err.to_string(),
            "weights do not match the mnist-cnn architecture: tensor fc1.weight is BF16; this runtime reads f32, f16 and int8 weights"
        );
        let err = load_mnist(&build(&shapes("fc1.weight", DType::I8)), &device).unwrap_err();
        assert!(err.to_string().ends_with("int8 tensor fc1.weight has no fc1.weight.int8_scale"), "{err}");
        // A tensor the architecture does not have.
        let mut extra = shapes("", DType::F32);
        extra.push(("zz.backdoor".into(), DType::F32, vec![3]));
        let err = load_mnist(&build(&extra), &device).unwrap_err();
        assert!(err.to_string().ends_with("tensor zz.backdoor is not part of the architecture"), "{err}");
        // One missing.
        let missing: Vec<_> = shapes("", DType::F32).into_iter().filter(|t| t.0 != "fc2.bias").collect();
        let err = load_mnist(&build(&missing), &device).unwrap_err();
        assert!(err.to_string().ends_with("tensor fc2.bias is missing"), "{err}");
    }

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
