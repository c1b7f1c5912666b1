//! Publishing any architecture of the registry from a model spec file: it says what the weights
//! cannot (name, architecture id, input schema, where the labels are) and optionally a labelled
//! evaluation set of images. Publishing evaluates the weights on it, so the manifest's metrics
//! and drift reference describe exactly these bytes. Without one (a tabular model, a
//! benchmark's random weights) the reference statistics come from seeded random inputs and the
//! metrics say there was no evaluation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use burn_edge_formats::{ConfidenceHistogram, InputSchema, Manifest, Metrics, ReferenceStats, SCHEMA_VERSION};
use burn_edge_model::{Architecture, ImageSpec, Network};
use serde::Deserialize;

use crate::evaluate::{confidence_bin, confidence_edges, CONFIDENCE_BINS};
use crate::publish::{weights_entry, MIN_RUNTIME_VERSION};

/// `models/<name>.model.json`. Paths are relative to the folder the command runs in.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub architecture: String,
    /// One class per line, in output order; a leading WordNet id (`n01440764 tench`) is dropped.
    pub labels: PathBuf,
    pub input: InputSchema,
    #[serde(default)]
    pub evaluation: Option<Evaluation>,
}

/// A labelled evaluation set: image files and the label each should get.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Evaluation {
    pub dataset: String,
    pub images: PathBuf,
    /// File name -> expected label (exactly as in the manifest's labels).
    pub expected: BTreeMap<String, String>,
}

/// Examples drawn for the reference statistics of a spec without an evaluation set.
const RANDOM_EXAMPLES: usize = 32;

impl ModelSpec {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a model spec", path.display()))
    }

    /// The registry's architecture of this spec, whose input shape must be the spec's.
    pub fn architecture(&self) -> Result<&'static dyn Architecture> {
        let architecture = find_architecture(&self.architecture)?;
        check_shape(&self.input, architecture)?;
        Ok(architecture)
    }

    pub fn labels(&self) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(&self.labels).with_context(|| format!("reading labels {}", self.labels.display()))?;
        Ok(text.lines().filter(|l| !l.trim().is_empty()).map(strip_wordnet_id).collect())
    }
}

/// The architecture `id` of this build.
pub fn find_architecture(id: &str) -> Result<&'static dyn Architecture> {
    burn_edge_model::architecture(id).with_context(|| {
        let known: Vec<&str> = burn_edge_model::architectures().iter().map(|a| a.id()).collect();
        format!("this build has no architecture {id:?} (it has: {})", known.join(", "))
    })
}

/// Refuses an input schema whose shape is not the architecture's.
pub fn check_shape(input: &InputSchema, architecture: &dyn Architecture) -> Result<()> {
    let shape: Vec<usize> = input.shape.iter().map(|&d| d as usize).collect();
    if shape != architecture.input_shape() {
        bail!("the input shape {:?} is not {}'s, {:?}", input.shape, architecture.id(), architecture.input_shape());
    }
    Ok(())
}

fn strip_wordnet_id(line: &str) -> String {
    match line.split_once(' ') {
        Some((id, rest)) if id.len() == 9 && id.starts_with('n') && id[1..].bytes().all(|b| b.is_ascii_digit()) => rest.trim().into(),
        _ => line.trim().into(),
    }
}

/// The image preprocessing an input schema describes (`None`: the model takes no images).
pub fn image_spec(input: &InputSchema) -> Result<Option<ImageSpec>> {
    input.preprocessing.as_ref().map(|_| ImageSpec::from_schema(input)).transpose().map_err(Into::into)
}

/// The network's outputs for a batch of flat examples, one row per example.
pub fn predict(network: &dyn Network, input: &[f32], device: &Device) -> Result<Vec<Vec<f32>>> {
    let outputs = network.architecture().outputs();
    let values =
        network.forward(input, device)?.into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("reading the outputs: {e:?}"))?;
    Ok(values.chunks(outputs).map(<[f32]>::to_vec).collect())
}

/// Class probabilities for one image file.
pub fn classify_file(network: &dyn Network, spec: &ImageSpec, path: &Path, device: &Device) -> Result<Vec<f32>> {
    let image = image::open(path).with_context(|| format!("{}: cannot decode image", path.display()))?.to_rgba8();
    let (w, h) = image.dimensions();
    let input =
        spec.prepare(image.as_raw(), w as usize, h as usize).with_context(|| format!("{}: cannot prepare image", path.display()))?;
    Ok(predict(network, &input, device)?.remove(0))
}

/// Index of the largest value.
pub fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// Builds the manifest for `weights` (the encoding of `network`): evaluated on the spec's
/// labelled images, or with reference statistics from seeded random inputs when it has none.
pub fn spec_manifest(
    spec: &ModelSpec,
    version: &str,
    network: &dyn Network,
    weights: &[u8],
    now: &str,
    device: &Device,
) -> Result<Manifest> {
    let labels = spec.labels()?;
    let architecture = spec.architecture()?;
    if labels.len() != architecture.outputs() {
        bail!("{} has {} labels but {} has {} classes", spec.labels.display(), labels.len(), spec.architecture, architecture.outputs());
    }
    let prep = image_spec(&spec.input)?;
    let (metrics, predictions) = match (&spec.evaluation, &prep) {
        (Some(evaluation), Some(prep)) => evaluate(evaluation, &labels, network, prep, device)?,
        (Some(_), None) => bail!("the spec's evaluation images need an image preprocessing in its input schema"),
        (None, prep) => {
            let input = random_inputs(architecture, prep.as_ref(), RANDOM_EXAMPLES)?;
            let predictions = predict(network, &input, device)?;
            let dataset = format!("none (no evaluation set; reference from {RANDOM_EXAMPLES} seeded random inputs)");
            (Metrics { dataset, samples: 0, accuracy: 0.0 }, predictions)
        }
    };
    Ok(Manifest {
        schema_version: SCHEMA_VERSION,
        name: spec.name.clone(),
        version: version.into(),
        created_at: now.into(),
        architecture: spec.architecture.clone(),
        min_runtime_version: MIN_RUNTIME_VERSION.into(),
        files: vec![weights_entry(weights)],
        input: spec.input.clone(),
        labels,
        metrics,
        reference: reference_stats(&predictions),
    })
}

/// Accuracy on the labelled images, and each image's probabilities.
fn evaluate(
    evaluation: &Evaluation,
    labels: &[String],
    network: &dyn Network,
    prep: &ImageSpec,
    device: &Device,
) -> Result<(Metrics, Vec<Vec<f32>>)> {
    let mut correct = 0;
    let mut predictions = Vec::new();
    for (file, want) in &evaluation.expected {
        let Some(want_index) = labels.iter().position(|l| l == want) else { bail!("expected label {want:?} for {file} is not a label") };
        let probs = classify_file(network, prep, &evaluation.images.join(file), device)?;
        correct += usize::from(argmax(&probs) == want_index);
        predictions.push(probs);
    }
    let n = evaluation.expected.len().max(1) as f64;
    let metrics = Metrics { dataset: evaluation.dataset.clone(), samples: evaluation.expected.len() as u64, accuracy: correct as f64 / n };
    Ok((metrics, predictions))
}

/// Predicted-class distribution and confidence histogram of `predictions` (at least one row).
fn reference_stats(predictions: &[Vec<f32>]) -> ReferenceStats {
    let classes = predictions.first().map_or(0, Vec::len);
    let mut distribution = vec![0.0; classes];
    let mut confidence = [0.0; CONFIDENCE_BINS];
    for probs in predictions {
        let top = argmax(probs);
        distribution[top] += 1.0;
        confidence[confidence_bin(probs[top])] += 1.0;
    }
    let n = predictions.len().max(1) as f64;
    ReferenceStats {
        class_distribution: distribution.into_iter().map(|c| c / n).collect(),
        confidence_histogram: ConfidenceHistogram { edges: confidence_edges(), fractions: confidence.into_iter().map(|c| c / n).collect() },
    }
}

/// `count` seeded random examples: noise images prepared per the schema, or standard normal
/// values for a model that takes no images.
fn random_inputs(architecture: &dyn Architecture, prep: Option<&ImageSpec>, count: usize) -> Result<Vec<f32>> {
    let mut random = SplitMix(0x5eed);
    let mut values = Vec::with_capacity(count * architecture.input_len());
    for _ in 0..count {
        match prep {
            Some(prep) => {
                let (w, h) = (64, 48);
                let rgba: Vec<u8> = (0..w * h * 4).map(|i| if i % 4 == 3 { 255 } else { (random.next() >> 56) as u8 }).collect();
                values.extend(prep.prepare(&rgba, w, h)?);
            }
            None => values.extend((0..architecture.input_len()).map(|_| random.normal())),
        }
    }
    Ok(values)
}

/// SplitMix64: reproducible on every platform and version, unlike a library's default RNG.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `(0, 1]`.
    pub(crate) fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit(), self.unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordnet_ids_are_dropped_from_labels() {
        assert_eq!(strip_wordnet_id("n01440764 tench, Tinca tinca"), "tench, Tinca tinca");
        assert_eq!(strip_wordnet_id("cat"), "cat");
        assert_eq!(strip_wordnet_id("nope label"), "nope label");
    }

    #[test]
    fn random_inputs_are_reproducible_and_shaped() {
        let mnist = find_architecture("mnist-cnn").unwrap();
        let a = random_inputs(mnist, None, 3).unwrap();
        assert_eq!(a.len(), 3 * 784);
        assert_eq!(a, random_inputs(mnist, None, 3).unwrap());
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!(find_architecture("resnet50").unwrap_err().to_string().contains("it has: mnist-cnn"));
    }
}
