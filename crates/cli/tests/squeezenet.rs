//! SqueezeNet 1.1 imported from ONNX and published by `scripts/import-models.sh`, run natively
//! through `burn-edge predict --manifest`: every sample photo gets the class the datasets
//! README expects, and fish.png's 1000 probabilities match the upstream reference output.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn images() -> PathBuf {
    root().join("../shared/datasets/squeezenet/images")
}

/// The stable version's manifest, published by scripts/import-models.sh.
fn manifest() -> PathBuf {
    let channel = root().join("models/squeezenet/channel.json");
    let text = std::fs::read_to_string(&channel)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/import-models.sh first (npm test does)", channel.display()));
    let channel: serde_json::Value = serde_json::from_str(&text).unwrap();
    let version = channel["aliases"]["stable"].as_str().expect("a stable alias");
    root().join(format!("models/squeezenet/{version}/manifest.json"))
}

/// Probabilities per image, from one CLI run.
fn predict(files: &[&str]) -> Vec<Vec<f32>> {
    let out = Command::new(env!("CARGO_BIN_EXE_burn-edge"))
        .arg("predict")
        .arg("--json")
        .arg("--manifest")
        .arg(manifest())
        .args(files.iter().map(|f| images().join(f)))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["probabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0
}

#[test]
fn every_sample_photo_gets_the_expected_class() {
    // Output indices of the expectations in ../shared/datasets/README.md.
    let expected = [
        ("fish.png", 0, "tench"),
        ("kitten_224.png", 281, "tabby"),
        ("cat.jpg", 285, "Egyptian cat"),
        ("bridge.jpg", 839, "suspension bridge"),
        ("coyote.jpg", 272, "coyote"),
        ("flamingo.jpg", 130, "flamingo"),
    ];
    let files: Vec<&str> = expected.iter().map(|e| e.0).collect();
    let probs = predict(&files);
    for ((file, class, name), p) in expected.iter().zip(&probs) {
        assert_eq!(p.len(), 1000);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-3, "{file}: softmax sums to 1");
        assert_eq!(argmax(p), *class, "{file} should be {name}");
    }
}

/// The upstream reference comes from the fp16 original; we run the fp32 conversion. Measured
/// max difference: 1.1e-4 (at the top class).
const FISH_TOLERANCE: f32 = 1e-3;

#[test]
fn fish_probabilities_match_the_upstream_reference() {
    let csv = std::fs::read_to_string(root().join("../shared/datasets/squeezenet/Squeezenet_fp16_fish_input_CPU.csv")).unwrap();
    let reference: Vec<f32> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().trim().parse().unwrap()).collect();
    assert_eq!(reference.len(), 1000);
    let ours = &predict(&["fish.png"])[0];
    let (worst, diff) = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    println!("fish.png: max |ours - reference| = {diff:.2e} at class {worst}; top-1 {:.4} vs {:.4}", ours[0], reference[0]);
    assert!(diff < FISH_TOLERANCE, "max difference {diff} at class {worst}");
}

#[test]
fn tampered_weights_are_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let original = manifest();
    let published = original.parent().unwrap().parent().unwrap();
    let copy = dir.path().join("squeezenet");
    std::fs::create_dir_all(copy.join("1.0.0")).unwrap();
    std::fs::create_dir_all(copy.join("files")).unwrap();
    std::fs::copy(&original, copy.join("1.0.0/manifest.json")).unwrap();
    for f in std::fs::read_dir(published.join("files")).unwrap() {
        let f = f.unwrap().path();
        let mut bytes = std::fs::read(&f).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(copy.join("files").join(f.file_name().unwrap()), bytes).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_burn-edge"))
        .args(["predict", "--manifest"])
        .arg(copy.join("1.0.0/manifest.json"))
        .arg(images().join("fish.png"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the manifest says"), "{err}");
}

#[test]
fn a_manifest_with_fewer_labels_than_classes_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let original = manifest();
    let published = original.parent().unwrap().parent().unwrap();
    let copy = dir.path().join("squeezenet");
    std::fs::create_dir_all(copy.join("1.0.0")).unwrap();
    std::fs::create_dir_all(copy.join("files")).unwrap();
    // Three labels (and a reference distribution to match, so the manifest itself is consistent).
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&original).unwrap()).unwrap();
    m["labels"] = serde_json::json!(["tench", "goldfish", "great white shark"]);
    m["reference"]["classDistribution"] = serde_json::json!([0.4, 0.3, 0.3]);
    std::fs::write(copy.join("1.0.0/manifest.json"), m.to_string()).unwrap();
    for f in std::fs::read_dir(published.join("files")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, copy.join("files").join(f.file_name().unwrap())).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_burn-edge"))
        .args(["predict", "--top", "5", "--manifest"])
        .arg(copy.join("1.0.0/manifest.json"))
        .arg(images().join("cat.jpg"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "an error exit, not a crash: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("the manifest has 3 labels but squeezenet1.1 has 1000 classes"), "{err}");
}
