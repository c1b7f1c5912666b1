//! Accuracy of a model on a labelled split.

use burn::prelude::*;
use burn_edge_model::{images_tensor, MnistCnn, MNIST_CLASSES, MNIST_PIXELS};
use serde::Serialize;

use crate::dataset::Split;

const EVAL_BATCH: usize = 500;

/// Accuracy overall and per class.
#[derive(Debug, Serialize)]
pub struct Accuracy {
    /// Images classified correctly / all images.
    pub accuracy: f64,
    /// Correct predictions.
    pub correct: usize,
    /// Images seen.
    pub total: usize,
    /// Accuracy per true class 0..9.
    pub per_class: Vec<f64>,
}

/// Classifies every image of `split` with `model` (in inference mode) on `device`.
pub fn evaluate(model: &MnistCnn, split: &Split, device: &Device) -> anyhow::Result<Accuracy> {
    let model = model.valid();
    let mut correct = 0;
    let mut seen = [0usize; MNIST_CLASSES];
    let mut hit = [0usize; MNIST_CLASSES];
    for start in (0..split.len()).step_by(EVAL_BATCH) {
        let end = (start + EVAL_BATCH).min(split.len());
        let input = images_tensor(&split.pixels[start * MNIST_PIXELS..end * MNIST_PIXELS], device)?;
        let predicted: Vec<i64> = model.forward(input).argmax(1).into_data().convert::<i64>().try_to_vec::<i64>()
            .map_err(|e| anyhow::anyhow!("reading predictions: {e:?}"))?;
        for (i, &p) in predicted.iter().enumerate() {
            let truth = split.labels[start + i] as usize;
            seen[truth] += 1;
            if p as usize == truth {
                correct += 1;
                hit[truth] += 1;
            }
        }
    }
    let per_class = (0..MNIST_CLASSES).map(|c| hit[c] as f64 / seen[c].max(1) as f64).collect();
    Ok(Accuracy { accuracy: correct as f64 / split.len() as f64, correct, total: split.len(), per_class })
}
