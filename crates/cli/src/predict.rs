//! Classifying image files: decode, frame the digit like MNIST, run the model.

use std::path::Path;

use anyhow::{Context, Result};
use burn::prelude::*;
use burn_edge_model::{digit_from_rgba, images_tensor, MnistCnn};

/// Class probabilities for one image file, best first.
pub fn classify_file(model: &MnistCnn, path: &Path, device: &Device) -> Result<Vec<(usize, f32)>> {
    let image = image::open(path).with_context(|| format!("{}: cannot decode image", path.display()))?;
    let rgba = image.to_rgba8();
    let (w, h) = rgba.dimensions();
    let pixels =
        digit_from_rgba(rgba.as_raw(), w as usize, h as usize).with_context(|| format!("{}: cannot prepare image", path.display()))?;
    let probs: Vec<f32> = model
        .probabilities(images_tensor(&pixels, device)?)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading probabilities: {e:?}"))?;
    let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(ranked)
}

/// A published model version read through its manifest, weights verified against it.
pub struct Published {
    pub manifest: burn_edge_formats::Manifest,
    network: Box<dyn burn_edge_model::Network>,
    /// How image files become input; `None` for a model that takes values (`--input`).
    prep: Option<burn_edge_model::ImageSpec>,
}

impl Published {
    pub fn open(manifest_path: &Path, device: &Device) -> Result<Self> {
        let text = std::fs::read_to_string(manifest_path).with_context(|| format!("reading {}", manifest_path.display()))?;
        let manifest = burn_edge_formats::Manifest::from_json(&text).with_context(|| format!("{}", manifest_path.display()))?;
        let entry = manifest.weights()?;
        let weights_path = manifest_path.parent().unwrap_or(Path::new(".")).join(&entry.path);
        let bytes = std::fs::read(&weights_path).with_context(|| format!("reading {}", weights_path.display()))?;
        let sha = crate::publish::sha256_hex(&bytes);
        if sha != entry.sha256 {
            anyhow::bail!("{} has sha256 {sha}, the manifest says {}", weights_path.display(), entry.sha256);
        }
        let architecture = crate::spec_release::find_architecture(&manifest.architecture)?;
        // The labels name the model's outputs: one per class, or the names printed are wrong.
        if manifest.labels.len() != architecture.outputs() {
            anyhow::bail!(
                "{}: the manifest has {} labels but {} has {} classes; publish it again with one label per class",
                manifest_path.display(),
                manifest.labels.len(),
                manifest.architecture,
                architecture.outputs()
            );
        }
        crate::spec_release::check_shape(&manifest.input, architecture).with_context(|| format!("{}", manifest_path.display()))?;
        let network = architecture.load(&bytes, device)?;
        let prep = crate::spec_release::image_spec(&manifest.input)?;
        Ok(Published { manifest, network, prep })
    }

    /// Class probabilities for one image file.
    pub fn classify(&self, path: &Path, device: &Device) -> Result<Vec<f32>> {
        let Some(prep) = &self.prep else {
            anyhow::bail!(
                "{} takes no images (its input schema has no preprocessing): pass its values with --input",
                self.manifest.architecture
            );
        };
        crate::spec_release::classify_file(self.network.as_ref(), prep, path, device)
    }

    /// Class probabilities for each example of a JSON or CSV file of values (`--input`).
    pub fn classify_rows(&self, path: &Path, device: &Device) -> Result<Vec<Vec<f32>>> {
        let rows = crate::rows::read_rows(path, self.network.architecture().input_len())?;
        crate::spec_release::predict(self.network.as_ref(), &rows.concat(), device)
    }

    /// The `top` most likely classes of `probs` as `label (p%)`, best first.
    pub fn describe(&self, probs: &[f32], top: usize) -> Vec<String> {
        describe(probs, &self.manifest.labels, top)
    }
}

/// The `top` most likely classes as `label (p%)`, best first; a class without a label shows
/// its index (`#1234`) instead of failing.
pub fn describe(probs: &[f32], labels: &[String], top: usize) -> Vec<String> {
    let mut ranked: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
        .iter()
        .take(top)
        .map(|&(c, p)| {
            let name = labels.get(c).cloned().unwrap_or_else(|| format!("#{c}"));
            format!("{name} ({:.1}%)", p * 100.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_past_the_labels_show_their_index() {
        let labels = vec!["cat".to_string(), "dog".to_string()];
        assert_eq!(describe(&[0.1, 0.2, 0.7], &labels, 2), ["#2 (70.0%)", "dog (20.0%)"]);
        assert_eq!(describe(&[0.5, 0.5], &[], 5), ["#0 (50.0%)", "#1 (50.0%)"]);
    }
}
