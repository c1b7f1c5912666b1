//! Publishing an imported image classifier (e.g. SqueezeNet from ONNX). A model spec file says
//! what the import cannot know: name, architecture id, input schema, where the labels are, and
//! a labelled evaluation set; publishing evaluates the weights on it, so the manifest's
//! metrics and drift reference describe exactly these bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use burn_edge_formats::{ConfidenceHistogram, InputSchema, Manifest, Metrics, ReferenceStats, SCHEMA_VERSION};
use burn_edge_model::{save_squeezenet, Architecture, Classifier, ImageSpec};
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
    pub evaluation: Evaluation,
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

impl ModelSpec {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a model spec", path.display()))
    }

    pub fn architecture(&self) -> Result<Architecture> {
        Architecture::from_id(&self.architecture).with_context(|| format!("this build has no architecture {:?}", self.architecture))
    }

    pub fn labels(&self) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(&self.labels).with_context(|| format!("reading labels {}", self.labels.display()))?;
        Ok(text.lines().filter(|l| !l.trim().is_empty()).map(strip_wordnet_id).collect())
    }
}

fn strip_wordnet_id(line: &str) -> String {
    match line.split_once(' ') {
        Some((id, rest)) if id.len() == 9 && id.starts_with('n') && id[1..].bytes().all(|b| b.is_ascii_digit()) => rest.trim().into(),
        _ => line.trim().into(),
    }
}

/// The preprocessing an input schema describes.
pub fn image_spec(input: &InputSchema) -> Result<ImageSpec> {
    Ok(ImageSpec::from_schema(input)?)
}

/// Class probabilities for one image file.
pub fn classify_file(model: &Classifier, spec: &ImageSpec, path: &Path, device: &Device) -> Result<Vec<f32>> {
    let image = image::open(path).with_context(|| format!("{}: cannot decode image", path.display()))?.to_rgba8();
    let (w, h) = image.dimensions();
    let input =
        spec.prepare(image.as_raw(), w as usize, h as usize).with_context(|| format!("{}: cannot prepare image", path.display()))?;
    model
        .probabilities(model.input(&input, device)?)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading probabilities: {e:?}"))
}

/// Index of the largest value.
pub fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// Re-encodes imported weights reproducibly with their architecture id.
pub fn encode(model: &Classifier) -> Result<Vec<u8>> {
    match model {
        Classifier::SqueezeNet(m) => Ok(save_squeezenet(m)?),
        Classifier::Mnist(_) => bail!("MNIST weights are published without --spec"),
    }
}

/// Evaluates `model` on the spec's labelled images and builds the manifest for `weights`.
pub fn image_manifest(spec: &ModelSpec, version: &str, model: &Classifier, weights: &[u8], now: &str, device: &Device) -> Result<Manifest> {
    let labels = spec.labels()?;
    let architecture = spec.architecture()?;
    if labels.len() != architecture.classes() {
        bail!("{} has {} labels but {} has {} classes", spec.labels.display(), labels.len(), spec.architecture, architecture.classes());
    }
    let prep = image_spec(&spec.input)?;
    let mut distribution = vec![0.0; labels.len()];
    let mut confidence = [0.0; CONFIDENCE_BINS];
    let mut correct = 0;
    for (file, want) in &spec.evaluation.expected {
        let Some(want_index) = labels.iter().position(|l| l == want) else { bail!("expected label {want:?} for {file} is not a label") };
        let probs = classify_file(model, &prep, &spec.evaluation.images.join(file), device)?;
        let top = argmax(&probs);
        correct += usize::from(top == want_index);
        distribution[top] += 1.0;
        confidence[confidence_bin(probs[top])] += 1.0;
    }
    let n = spec.evaluation.expected.len().max(1) as f64;
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
        metrics: Metrics {
            dataset: spec.evaluation.dataset.clone(),
            samples: spec.evaluation.expected.len() as u64,
            accuracy: correct as f64 / n,
        },
        reference: ReferenceStats {
            class_distribution: distribution.into_iter().map(|c| c / n).collect(),
            confidence_histogram: ConfidenceHistogram {
                edges: confidence_edges(),
                fractions: confidence.into_iter().map(|c| c / n).collect(),
            },
        },
    })
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
}
