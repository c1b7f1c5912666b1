//! Compressed weights variants of a weights file, for any architecture: `f16` (every f32
//! tensor halved) and `int8` (every weight matrix or kernel quantised symmetrically per output
//! channel; biases and normalisation statistics, a small share of the bytes, stay f32). Both are
//! plain Burnpack files with the same tensor names. An int8 tensor `w` comes with `w.int8_scale`,
//! an f32 tensor of `w`'s rank that is 1 along every axis but the channel axis, so a reader needs
//! no knowledge of the layer to widen it: `w[i] = q[i] * scale[i broadcast]`.
//!
//! The runtime widens both to f32 as it loads them ([`widen`]): they download in a quarter or
//! half of the bytes and compute exactly as f32 weights do (the kernels are f32).

use burn::store::burn_pack::{Bytes, DType, Reader, Tensor as PackTensor, Writer};

use crate::weight_source::WeightSource;
use crate::weights::WeightsError;
use crate::weights_check::TensorEntry;

/// Suffix of an int8 tensor's companion scales.
pub const INT8_SCALE_SUFFIX: &str = ".int8_scale";
/// Metadata key naming the variant a file holds (absent: the f32 reference).
pub const KEY_VARIANT: &str = "burn_edge.variant";

/// A compressed variant the runtime can widen on load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Every f32 tensor as IEEE half precision.
    F16,
    /// Weight tensors (rank 2 and up) as int8 with per-channel f32 scales.
    Int8,
}

impl Variant {
    /// The manifest's name for it (`variant` and `dtype`).
    pub fn name(self) -> &'static str {
        match self {
            Self::F16 => "f16",
            Self::Int8 => "int8",
        }
    }
}

/// The channel axis of a weight tensor as Burn stores it: a convolution kernel is
/// `[out, in, k...]` (axis 0), a linear layer's weight `[in, out]` (axis 1).
fn channel_axis(shape: &[usize]) -> usize {
    if shape.len() == 2 {
        1
    } else {
        0
    }
}

/// Encodes f32 weights `file` as `variant`: same tensor names, metadata kept, the variant named.
/// Deterministic: the same file gives the same bytes.
pub fn compress(file: &[u8], variant: Variant) -> Result<Vec<u8>, WeightsError> {
    let bad = |e: burn::store::burn_pack::Error| WeightsError::NotBurnpack(e.to_string());
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(file.to_vec())).map_err(bad)?;
    let metadata = reader.metadata().clone();
    let scalars = reader.scalars().clone();
    let mut out = Vec::new();
    for t in reader.into_tensors().map_err(bad)? {
        let (name, dtype, shape, param_id, bytes) = t.into_parts().map_err(bad)?;
        if dtype != DType::F32 {
            return Err(WeightsError::Encode(format!("tensor {name} is {dtype:?}: only f32 weights can be compressed")));
        }
        let values: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes[..]);
        let shape = shape.to_vec();
        match variant {
            Variant::F16 => {
                let halves: Vec<u16> = values.iter().map(|&v| half::f16::from_f32(v).to_bits()).collect();
                out.push(PackTensor::new(name, DType::F16, shape, param_id, Bytes::from_elems(halves)));
            }
            Variant::Int8 if shape.len() >= 2 => {
                let (q, scales, scale_shape) = quantize(&values, &shape);
                out.push(PackTensor::new(name.clone(), DType::I8, shape, param_id, Bytes::from_elems(q)));
                out.push(PackTensor::new(format!("{name}{INT8_SCALE_SUFFIX}"), DType::F32, scale_shape, None, Bytes::from_elems(scales)));
            }
            Variant::Int8 => out.push(PackTensor::new(name, DType::F32, shape, param_id, Bytes::from_elems(values))),
        }
    }
    let mut writer = Writer::new(out);
    for (key, value) in metadata.iter().filter(|(k, _)| k.as_str() != KEY_VARIANT) {
        writer = writer.with_metadata(key, value);
    }
    for (key, value) in scalars {
        writer = writer.with_scalar(&key, value);
    }
    let bytes = writer.with_metadata(KEY_VARIANT, variant.name()).into_bytes().map_err(|e| WeightsError::Encode(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// Symmetric per-channel int8: `scale = max|w| / 127` per channel, `q = round(w / scale)`.
fn quantize(values: &[f32], shape: &[usize]) -> (Vec<i8>, Vec<f32>, Vec<usize>) {
    let axis = channel_axis(shape);
    let channels = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let channel_of = |i: usize| (i / inner) % channels;
    let mut max = vec![0f32; channels];
    for (i, v) in values.iter().enumerate() {
        max[channel_of(i)] = max[channel_of(i)].max(v.abs());
    }
    // An all-zero channel keeps scale 1: its values quantise to 0 and widen back to 0.
    let scales: Vec<f32> = max.iter().map(|&m| if m > 0.0 && m.is_finite() { m / 127.0 } else { 1.0 }).collect();
    let q = values.iter().enumerate().map(|(i, &v)| (v / scales[channel_of(i)]).round().clamp(-127.0, 127.0) as i8).collect();
    let scale_shape = shape.iter().enumerate().map(|(a, &n)| if a == axis { n } else { 1 }).collect();
    (q, scales, scale_shape)
}

/// The shape an int8 tensor of `shape` needs its scales in, if `scale` is one: same rank, 1 or
/// the tensor's own size on each axis.
pub(crate) fn scales_fit(shape: &[usize], scale: &[usize]) -> bool {
    scale.len() == shape.len() && scale.iter().zip(shape).all(|(&s, &n)| s == 1 || s == n)
}

/// Reads tensor `t` of `source` as f32 values: f32 as is, f16 widened, int8 times its scales
/// (`scale`, checked by [`scales_fit`]).
pub(crate) fn widen(source: &dyn WeightSource, t: &TensorEntry, scale: Option<&TensorEntry>) -> Result<Vec<f32>, WeightsError> {
    let count = t.shape.iter().product::<usize>();
    let read = |e: &TensorEntry| {
        let mut raw = vec![0u8; e.end - e.start];
        source.read(e.start, &mut raw).map(|()| raw).map_err(WeightsError::Read)
    };
    match (t.dtype, scale) {
        (DType::F32, None) => {
            let mut values = vec![0f32; count];
            source.read(t.start, bytemuck::cast_slice_mut(&mut values)).map_err(WeightsError::Read)?;
            Ok(values)
        }
        (DType::F16, None) => {
            Ok(read(t)?.chunks_exact(2).map(|b| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32()).collect())
        }
        (DType::I8, Some(s)) => {
            let scales: Vec<f32> = bytemuck::pod_collect_to_vec(&read(s)?);
            // Strides of the scale tensor in the value tensor's index space (0 on broadcast axes).
            let mut strides = vec![0usize; t.shape.len()];
            let mut step = 1;
            for a in (0..t.shape.len()).rev() {
                if s.shape[a] != 1 {
                    strides[a] = step;
                    step *= s.shape[a];
                }
            }
            let q = read(t)?;
            let mut index = vec![0usize; t.shape.len()];
            let mut out = Vec::with_capacity(count);
            for &byte in &q {
                let at: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
                out.push(f32::from(byte as i8) * scales[at]);
                for a in (0..index.len()).rev() {
                    index[a] += 1;
                    if index[a] < t.shape[a] {
                        break;
                    }
                    index[a] = 0;
                }
            }
            Ok(out)
        }
        (dtype, _) => Err(WeightsError::Read(format!("tensor dtype {dtype:?} cannot be widened to f32"))),
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::*;
    use crate::registry::architectures;
    use crate::weights_check::inspect;
    use crate::{SliceSource, WeightBytes};

    fn outputs(network: &dyn crate::Network, input: &[f32]) -> Vec<f32> {
        network.forward(input, &Device::flex()).unwrap().into_data().try_to_vec::<f32>().unwrap()
    }

    /// Every architecture's file compresses to both variants, which load (in memory and tensor
    /// by tensor, as the browser reads) into networks that agree with the f32 one.
    #[test]
    fn every_architecture_round_trips_through_each_variant() {
        let device = Device::flex();
        for architecture in architectures() {
            let reference = architecture.init(&device).save().unwrap();
            let input: Vec<f32> = (0..architecture.input_len()).map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.5).collect();
            let expected = outputs(&*architecture.load(&reference, &device).unwrap(), &input);
            let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
            for (variant, ratio, tolerance) in [(Variant::F16, 0.51, 0.01), (Variant::Int8, 0.27, 0.08)] {
                let file = compress(&reference, variant).unwrap();
                assert_eq!(file, compress(&reference, variant).unwrap(), "deterministic");
                assert!(
                    file.len() as f64 <= reference.len() as f64 * ratio + 4096.0,
                    "{} {variant:?}: {} of {} bytes",
                    architecture.id(),
                    file.len(),
                    reference.len()
                );
                let meta = inspect(&SliceSource(&file)).unwrap().metadata;
                assert_eq!(meta.get(KEY_VARIANT).map(String::as_str), Some(variant.name()));
                for loaded in
                    [architecture.load_from(&WeightBytes::from(&file), &device), architecture.load_from(&SliceSource(&file), &device)]
                {
                    let got = outputs(&*loaded.unwrap(), &input);
                    let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                    assert!(worst <= tolerance * scale, "{} {variant:?}: off by {worst} (outputs up to {scale})", architecture.id());
                }
            }
        }
    }

    #[test]
    fn int8_is_symmetric_per_channel_on_the_layers_output_axis() {
        // A linear weight [in = 2, out = 3]: channels are columns.
        let (q, scales, shape) = quantize(&[1.0, -0.5, 0.0, -2.0, 0.25, 0.0], &[2, 3]);
        assert_eq!(shape, vec![1, 3]);
        assert_eq!(scales, vec![2.0 / 127.0, 0.5 / 127.0, 1.0]);
        assert_eq!(q, vec![64, -127, 0, -127, 64, 0]);
        // A conv kernel [out = 2, in = 1, 1, 2]: channels are the first axis.
        let (_, scales, shape) = quantize(&[1.0, 2.0, -4.0, 0.5], &[2, 1, 1, 2]);
        assert_eq!((scales, shape), (vec![2.0 / 127.0, 4.0 / 127.0], vec![2, 1, 1, 1]));
    }

    /// A tampered int8 file is refused with the reason, never widened with a wrong scale.
    #[test]
    fn int8_files_without_fitting_scales_are_refused() {
        let device = Device::flex();
        let architecture = architectures()[0];
        let file = compress(&architecture.init(&device).save().unwrap(), Variant::Int8).unwrap();
        let reader = Reader::from_bytes(Bytes::from_bytes_vec(file)).unwrap();
        let metadata = reader.metadata().clone();
        let tensors = reader.into_tensors().unwrap();
        let rewrite = |keep: &dyn Fn(&PackTensor) -> Option<PackTensor>| {
            let writer = Writer::new(tensors.iter().filter_map(keep).collect());
            metadata.iter().fold(writer, |w, (k, v)| w.with_metadata(k, v)).into_bytes().unwrap().to_vec()
        };
        let dropped = rewrite(&|t| (!t.name.ends_with(INT8_SCALE_SUFFIX)).then(|| t.clone()));
        let err = architecture.load(&dropped, &device).unwrap_err().to_string();
        assert!(err.contains("has no") && err.contains(INT8_SCALE_SUFFIX), "{err}");
        let reshaped = rewrite(&|t| {
            Some(if t.name.ends_with(INT8_SCALE_SUFFIX) {
                let n = t.shape.iter().product::<usize>();
                PackTensor::new(t.name.clone(), DType::F32, vec![n, 1, 1, 1, 1], None, Bytes::from_elems(vec![1f32; n]))
            } else {
                t.clone()
            })
        });
        let err = architecture.load(&reshaped, &device).unwrap_err().to_string();
        assert!(err.contains("not f32 scales fitting"), "{err}");
    }
}
