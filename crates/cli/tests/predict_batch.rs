//! `burn-edge predict --batch`: a folder of digit images, the MNIST IDX test file and a CSV of
//! rows run through the runtime's native session; CSV and JSON lines written with one row per
//! example in order, the summary's counts right, results equal across batch sizes and to the
//! committed native reference, and a file that cannot be decoded named in the error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest() -> PathBuf {
    root().join("models/mnist/1.0.0/manifest.json")
}

fn batch(input: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burn-edge"))
        .args(["predict", "--batch"])
        .arg(input)
        .arg("--model")
        .arg(manifest())
        .args(extra)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The first `n` digit PNGs of the shared samples, copied into a fresh folder.
fn digit_folder(n: usize) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(root().join("../shared/datasets/digits"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    names.truncate(n);
    for name in &names {
        std::fs::copy(root().join("../shared/datasets/digits").join(name), dir.path().join(name)).unwrap();
    }
    (dir, names)
}

#[test]
fn a_folder_of_digits_gives_one_result_per_image_in_csv_and_jsonl() {
    let (dir, names) = digit_folder(6);
    assert_eq!(names.len(), 6);
    let out_dir = tempfile::tempdir().unwrap();
    let (csv, jsonl, summary) = (out_dir.path().join("r.csv"), out_dir.path().join("r.jsonl"), out_dir.path().join("s.json"));
    let printed = ok(batch(
        dir.path(),
        &["--batch-size", "4", "--out", csv.to_str().unwrap(), "--summary-json", summary.to_str().unwrap()],
    ));
    assert!(printed.contains("6 examples of mnist@1.0.0 in batches of 4") && printed.contains("examples/s"), "{printed}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!((summary["examples"].as_u64(), summary["batchSize"].as_u64()), (Some(6), Some(4)));
    assert!(summary["seconds"].as_f64().unwrap() > 0.0 && summary["perSecond"].as_f64().unwrap() > 0.0, "{summary}");
    assert_eq!(summary["kernels"], "burn-edge");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "index,source,class,label,confidence");
    assert_eq!(lines.len(), 7);
    // Names carry their label: mnist_test_0000_label7.png.
    for (i, (line, name)) in lines[1..].iter().zip(&names).enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], i.to_string());
        assert!(fields[1].ends_with(name.as_str()), "{line}");
        let label = name.split("label").nth(1).unwrap().trim_end_matches(".png");
        assert_eq!(fields[3], label, "{line}");
    }
    // The same images in batches of 1, as JSON lines, have the same probabilities, and those
    // are the committed native reference's.
    ok(batch(dir.path(), &["--batch-size", "1", "--out", jsonl.to_str().unwrap()]));
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/fixtures/digits_reference.json")).unwrap()).unwrap();
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 6);
    for (row, name) in rows.iter().zip(&names) {
        let probs: Vec<f64> = row["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
        let expected: Vec<f64> = reference["digits"][name].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
        let diff = probs.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(diff < 1e-5, "{name}: {diff}");
        assert_eq!(row["confidence"].as_f64().unwrap(), probs[row["class"].as_u64().unwrap() as usize]);
    }
}

#[test]
fn idx_and_csv_rows_are_counted_and_a_bad_file_is_named() {
    let idx = root().join("../shared/datasets/mnist/t10k-images-idx3-ubyte.gz");
    let out_dir = tempfile::tempdir().unwrap();
    let summary = out_dir.path().join("s.json");
    ok(batch(&idx, &["--batch-size", "256", "--summary-json", summary.to_str().unwrap()]));
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(summary["examples"].as_u64(), Some(10_000));
    let rows = out_dir.path().join("rows.csv");
    std::fs::write(&rows, [vec!["0"; 784].join(","), vec!["1"; 784].join(",")].join("\n")).unwrap();
    let jsonl = out_dir.path().join("r.jsonl");
    ok(batch(&rows, &["--out", jsonl.to_str().unwrap()]));
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.lines().next().unwrap().contains("\"source\":\"rows.csv#1\""), "{text}");
    // One undecodable image among good ones: the error names it.
    let (dir, _) = digit_folder(2);
    std::fs::write(dir.path().join("broken.png"), b"not a png").unwrap();
    let out = batch(dir.path(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.png: cannot decode image"), "{err}");
    let out = batch(&out_dir.path().join("nothing.csv"), &[]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("nothing.csv"));
    let bad_out = batch(&rows, &["--out", out_dir.path().join("r.txt").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&bad_out.stderr).contains("name a .csv or .jsonl file"));
}
