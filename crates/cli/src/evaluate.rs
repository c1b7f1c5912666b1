//! Accuracy of a model on a labelled split, plus the prediction statistics a manifest carries
//! as the reference for drift checks (predicted-class distribution, confidence histogram).

use burn::prelude::*;
use burn_edge_model::{images_tensor, MnistCnn, MNIST_CLASSES, MNIST_PIXELS};
use serde::Serialize;

use crate::dataset::Split;

const EVAL_BATCH: usize = 500;
/// Equal-width bins of the top-1 probability over `0..=1`.
pub const CONFIDENCE_BINS: usize = 10;

/// Accuracy overall and per class, and how predictions are distributed.
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
    /// Fraction of images predicted as each class 0..9.
    pub predicted_distribution: Vec<f64>,
    /// Fraction of images whose top-1 probability falls in each of `CONFIDENCE_BINS` bins.
    pub confidence_histogram: Vec<f64>,
}

/// Classifies every image of `split` with `model` (in inference mode) on `device`.
pub fn evaluate(model: &MnistCnn, split: &Split, device: &Device) -> anyhow::Result<Accuracy> {
    let model = model.valid();
    let mut correct = 0;
    let mut seen = [0usize; MNIST_CLASSES];
    let mut hit = [0usize; MNIST_CLASSES];
    let mut predicted_count = [0usize; MNIST_CLASSES];
    let mut confidence_count = [0usize; CONFIDENCE_BINS];
    for start in (0..split.len()).step_by(EVAL_BATCH) {
        let end = (start + EVAL_BATCH).min(split.len());
        let input = images_tensor(&split.pixels[start * MNIST_PIXELS..end * MNIST_PIXELS], device)?;
        let probs: Vec<f32> =
            model.probabilities(input).into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("reading probabilities: {e:?}"))?;
        for (i, row) in probs.chunks(MNIST_CLASSES).enumerate() {
            let (best, confidence) = row.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).expect("rows have 10 classes");
            let truth = split.labels[start + i] as usize;
            seen[truth] += 1;
            predicted_count[best] += 1;
            confidence_count[confidence_bin(confidence)] += 1;
            if best == truth {
                correct += 1;
                hit[truth] += 1;
            }
        }
    }
    let total = split.len().max(1) as f64;
    Ok(Accuracy {
        accuracy: correct as f64 / total,
        correct,
        total: split.len(),
        per_class: (0..MNIST_CLASSES).map(|c| hit[c] as f64 / seen[c].max(1) as f64).collect(),
        predicted_distribution: predicted_count.iter().map(|&n| n as f64 / total).collect(),
        confidence_histogram: confidence_count.iter().map(|&n| n as f64 / total).collect(),
    })
}

/// Bin of a probability; 1.0 belongs to the last bin.
pub fn confidence_bin(p: f32) -> usize {
    ((p.clamp(0.0, 1.0) * CONFIDENCE_BINS as f32) as usize).min(CONFIDENCE_BINS - 1)
}

/// The bin edges `0, 0.1, ..., 1`.
pub fn confidence_edges() -> Vec<f64> {
    (0..=CONFIDENCE_BINS).map(|i| i as f64 / CONFIDENCE_BINS as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_bins_cover_the_unit_interval() {
        assert_eq!(confidence_bin(0.0), 0);
        assert_eq!(confidence_bin(0.0999), 0);
        assert_eq!(confidence_bin(0.1), 1);
        assert_eq!(confidence_bin(0.95), 9);
        assert_eq!(confidence_bin(1.0), 9);
        assert_eq!(confidence_edges().len(), CONFIDENCE_BINS + 1);
    }
}
