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
