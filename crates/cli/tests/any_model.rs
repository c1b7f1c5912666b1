//! `publish --spec` and `predict --input` for a model that takes values rather than images:
//! no preprocessing in the input schema, no evaluation set, rows of values in JSON or CSV. Run
//! on the committed MNIST weights treated as 784 plain values, the same path a tabular model's
//! `[32]` rows take (the runtime never looks at the rank).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn_edge_formats::Manifest;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burn-edge")).args(args).env_remove("BURN_EDGE_SIGNING_KEY").output().expect("burn-edge runs")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn failed(o: Output) -> String {
    assert_eq!(o.status.code(), Some(1), "an error exit: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stderr).unwrap()
}

/// A spec for the committed MNIST weights with no preprocessing and no evaluation set.
fn values_spec(dir: &Path, shape: &str) -> PathBuf {
    let labels = dir.join("labels.txt");
    std::fs::write(&labels, (0..10).map(|d| format!("digit {d}\n")).collect::<String>()).unwrap();
    let spec = dir.join("values.model.json");
    let json = format!(
        r#"{{ "name": "values", "architecture": "mnist-cnn", "labels": {:?}, "input": {{ "shape": {shape}, "dtype": "f32" }} }}"#,
        labels.to_str().unwrap()
    );
    std::fs::write(&spec, json).unwrap();
    spec
}

#[test]
fn a_model_without_image_preprocessing_publishes_and_predicts_rows() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let spec = values_spec(dir.path(), "[1, 28, 28]");
    let weights = repo_root().join("models/mnist/model.bpk");
    let (spec_arg, weights_arg, models_arg) = (spec.to_str().unwrap(), weights.to_str().unwrap(), models.to_str().unwrap());
    let publish = ["publish", "--spec", spec_arg, "--weights", weights_arg, "--version", "1.0.0", "--models", models_arg];
    let out = ok(cli(&publish));
    assert!(out.starts_with("published values@1.0.0"), "{out}");
    let manifest_path = models.join("values/1.0.0/manifest.json");
    let manifest = Manifest::from_json(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    assert!(manifest.input.preprocessing.is_none());
    assert_eq!(manifest.input.shape, [1, 28, 28]);
    assert_eq!((manifest.metrics.samples, manifest.labels.len()), (0, 10));
    assert!(manifest.metrics.dataset.starts_with("none"), "{}", manifest.metrics.dataset);
    let sum: f64 = manifest.reference.class_distribution.iter().sum();
    assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    // Published again: the same bytes (reproducible encoding, deterministic reference).
    assert!(ok(cli(&publish)).starts_with("already published"));

    // Two rows as JSON, the same two as CSV with a header: the same probabilities.
    let rows: Vec<Vec<f32>> = (0..2).map(|r| (0..784).map(|i| ((i * 31 + r * 7) % 97) as f32 / 96.0).collect()).collect();
    let json_rows = dir.path().join("rows.json");
    std::fs::write(&json_rows, serde_json::to_string(&rows).unwrap()).unwrap();
    let csv_rows = dir.path().join("rows.csv");
    let header = (0..784).map(|i| format!("x{i}")).collect::<Vec<_>>().join(",");
    let body: Vec<String> = rows.iter().map(|r| r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")).collect();
    std::fs::write(&csv_rows, format!("{header}\n{}\n", body.join("\n"))).unwrap();
    let m = manifest_path.to_str().unwrap();
    let predict = |input: &Path| -> Vec<Vec<f64>> {
        ok(cli(&["predict", "--manifest", m, "--json", "--input", input.to_str().unwrap()]))
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["probabilities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_f64().unwrap())
                    .collect()
            })
            .collect()
    };
    let from_json = predict(&json_rows);
    assert_eq!(from_json.len(), 2);
    for row in &from_json {
        assert_eq!(row.len(), 10);
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{row:?}");
    }
    assert_eq!(predict(&csv_rows), from_json);
    let text = ok(cli(&["predict", "--manifest", m, "--top", "2", "--input", json_rows.to_str().unwrap()]));
    assert!(text.lines().next().unwrap().contains("row 1: digit "), "{text}");

    // A short row, and an image for a model that takes none, are named errors.
    std::fs::write(&json_rows, "[1, 2, 3]").unwrap();
    let err = failed(cli(&["predict", "--manifest", m, "--input", json_rows.to_str().unwrap()]));
    assert!(err.contains("row 1 has 3 values, the model takes 784 per example"), "{err}");
    let digit = repo_root().join("../shared/datasets/digits").read_dir().unwrap().next().unwrap().unwrap().path();
    let err = failed(cli(&["predict", "--manifest", m, digit.to_str().unwrap()]));
    assert!(err.contains("mnist-cnn takes no images (its input schema has no preprocessing): pass its values with --input"), "{err}");
}

#[test]
fn a_spec_whose_shape_is_not_the_architectures_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = values_spec(dir.path(), "[32]");
    let weights = repo_root().join("models/mnist/model.bpk");
    let models = dir.path().join("models");
    let err = failed(cli(&[
        "publish",
        "--spec",
        spec.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--version",
        "1.0.0",
        "--models",
        models.to_str().unwrap(),
    ]));
    assert!(err.contains("the input shape [32] is not mnist-cnn's, [1, 28, 28]"), "{err}");
    let err = failed(cli(&["predict", "--input", "rows.json", "--manifest", "nowhere.json"]));
    assert!(err.contains("nowhere.json"), "{err}");
}
