//! The `burn-edge` binary as a user runs it: reproducible training, clear errors on bad files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn burn_edge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burn-edge")).args(args).current_dir(repo_root()).output().expect("burn-edge runs")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mnist_dir() -> String {
    repo_root().join("../shared/datasets/mnist").display().to_string()
}

#[test]
fn training_with_the_same_seed_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut hashes = Vec::new();
    for run in ["a", "b"] {
        let out = dir.path().join(run);
        let o = burn_edge(&[
            "train",
            "--data",
            &mnist_dir(),
            "--out",
            out.to_str().unwrap(),
            "--limit",
            "300",
            "--epochs",
            "1",
            "--size",
            "4",
            "8",
            "16",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        hashes.push(std::fs::read(out.join("model.bpk")).unwrap());
        let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        assert_eq!(metrics["test"]["total"], 10000);
    }
    assert_eq!(hashes[0], hashes[1]);
}

#[test]
fn committed_weights_predict_the_sample_digits() {
    let digits = repo_root().join("../shared/datasets/digits");
    let mut files: Vec<_> = std::fs::read_dir(&digits).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let args: Vec<&str> = std::iter::once("predict").chain(files.iter().map(|p| p.to_str().unwrap())).collect();
    let o = burn_edge(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    for line in stdout.lines() {
        // ".../mnist_test_0000_label7.png: 7 (99.9%), ..."
        let label = line.split("_label").nth(1).unwrap().chars().next().unwrap();
        let top = line.split(": ").nth(1).unwrap().chars().next().unwrap();
        assert_eq!(top, label, "{line}");
    }
    assert_eq!(stdout.lines().count(), 10);
}

/// The published MNIST release through its manifest (`fit: "mnist-digit"`), as any model is
/// predicted: the sample digits get their labels.
#[test]
fn the_published_mnist_manifest_predicts_the_sample_digits() {
    let digits = repo_root().join("../shared/datasets/digits");
    let mut files: Vec<_> = std::fs::read_dir(&digits).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut args = vec!["predict", "--manifest", "models/mnist/1.0.0/manifest.json"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let o = burn_edge(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert_eq!(stdout.lines().count(), files.len(), "{stdout}");
    for line in stdout.lines() {
        let label = line.split("_label").nth(1).unwrap().chars().next().unwrap();
        let top = line.split(": ").nth(1).unwrap().chars().next().unwrap();
        assert_eq!(top, label, "{line}");
    }
}

#[test]
fn corrupt_weights_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.bpk");
    std::fs::write(&bad, b"not weights").unwrap();
    let o = burn_edge(&["eval", "--model", bad.to_str().unwrap(), "--data", &mnist_dir()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.bpk") && err.contains("not a valid Burnpack file"), "{err}");
}

#[test]
fn a_truncated_dataset_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::fs::copy(repo_root().join("../shared/datasets/mnist").join(name), dir.path().join(name)).unwrap();
    }
    // Cut the compressed image file in half.
    let images = dir.path().join("t10k-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&images).unwrap();
    std::fs::write(&images, &bytes[..bytes.len() / 2]).unwrap();
    let o = burn_edge(&["eval", "--data", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("t10k-images-idx3-ubyte.gz"), "{err}");
}

#[test]
fn an_unreadable_image_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.png");
    std::fs::write(&fake, b"no image here").unwrap();
    let o = burn_edge(&["predict", fake.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("fake.png: cannot decode image"));
}
