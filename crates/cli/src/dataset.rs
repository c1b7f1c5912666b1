//! The MNIST training and test sets, loaded from the IDX files into model-ready pixels.

use std::path::Path;

use anyhow::{ensure, Result};
use burn_edge_model::{MNIST_PIXELS, MNIST_SIDE};

use crate::idx::{read_images, read_labels};

/// One split of MNIST: pixels scaled to `0..=1`, image after image, and their labels.
pub struct Split {
    /// `len() * 784` pixel values.
    pub pixels: Vec<f32>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.pixels[i * MNIST_PIXELS..(i + 1) * MNIST_PIXELS]
    }
}

/// Loads `{prefix}-images-idx3-ubyte.gz` and `{prefix}-labels-idx1-ubyte.gz` from `dir`.
pub fn load_split(dir: &Path, prefix: &str) -> Result<Split> {
    let images_path = dir.join(format!("{prefix}-images-idx3-ubyte.gz"));
    let labels_path = dir.join(format!("{prefix}-labels-idx1-ubyte.gz"));
    let images = read_images(&images_path)?;
    let labels = read_labels(&labels_path)?;
    ensure!(
        images.rows == MNIST_SIDE && images.cols == MNIST_SIDE,
        "{}: images are {}x{}, expected {MNIST_SIDE}x{MNIST_SIDE}",
        images_path.display(),
        images.rows,
        images.cols
    );
    ensure!(
        images.count == labels.len(),
        "{} holds {} images but {} holds {} labels",
        images_path.display(),
        images.count,
        labels_path.display(),
        labels.len()
    );
    if let Some(bad) = labels.iter().find(|&&l| l > 9) {
        anyhow::bail!("{}: label {bad} is not a digit", labels_path.display());
    }
    let pixels = images.pixels.iter().map(|&p| p as f32 / 255.0).collect();
    Ok(Split { pixels, labels })
}
