//! The manifest of an MNIST model version, built from its weights and their evaluation on the
//! 10,000 test digits (so the metrics and drift reference describe exactly these bytes).

use burn_edge_formats::{ConfidenceHistogram, InputSchema, Manifest, Metrics, Preprocessing, ReferenceStats, SCHEMA_VERSION};
use burn_edge_model::{MNIST_ARCHITECTURE, MNIST_CLASSES, MNIST_SIDE};

use crate::evaluate::{confidence_edges, Accuracy};
use crate::publish::{weights_entry, MIN_RUNTIME_VERSION};

/// Manifest for `weights` published as `name@version` at `now` (RFC 3339).
pub fn mnist_manifest(name: &str, version: &str, weights: &[u8], eval: &Accuracy, now: &str) -> Manifest {
    let side = MNIST_SIDE as u32;
    Manifest {
        schema_version: SCHEMA_VERSION,
        name: name.into(),
        version: version.into(),
        created_at: now.into(),
        architecture: MNIST_ARCHITECTURE.into(),
        min_runtime_version: MIN_RUNTIME_VERSION.into(),
        files: vec![weights_entry(weights)],
        input: InputSchema {
            shape: vec![1, side, side],
            dtype: "f32".into(),
            preprocessing: Some(Preprocessing {
                color: "grayscale".into(),
                fit: "mnist-digit".into(),
                range: [0.0, 1.0],
                mean: None,
                std: None,
            }),
        },
        labels: (0..MNIST_CLASSES).map(|d| d.to_string()).collect(),
        metrics: Metrics { dataset: "mnist-t10k".into(), samples: eval.total as u64, accuracy: eval.accuracy },
        reference: ReferenceStats {
            class_distribution: eval.predicted_distribution.clone(),
            confidence_histogram: ConfidenceHistogram { edges: confidence_edges(), fractions: eval.confidence_histogram.clone() },
        },
    }
}
