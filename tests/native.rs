//! The runtime natively (CPU): backend choice, errors, and the committed weights on the sample
//! digits, against the reference file the browser tests also use.

mod common;

use burn_edge::{BackendKind, BackendPreference, CpuKernels, RuntimeError, Session, WebGpuDevice};
use burn_edge_model::architectures::mnist_cnn::ARCHITECTURE as MNIST;
use common::*;
use pollster::block_on;

async fn no_webgpu() -> Result<WebGpuDevice, String> {
    Err("no WebGPU adapter available (test)".into())
}

fn cpu_session() -> Session {
    block_on(Session::create(&MNIST, WEIGHTS, BackendPreference::Cpu, CpuKernels::Auto, no_webgpu)).expect("cpu session")
}

#[test]
fn cpu_preference_runs_on_the_cpu_and_says_why_webgpu_was_skipped() {
    let session = cpu_session();
    let info = session.info();
    assert_eq!(info.backend, BackendKind::Cpu);
    assert_eq!(info.skipped.len(), 1);
    assert_eq!(info.skipped[0].backend, BackendKind::WebGpu);
    assert!(info.skipped[0].reason.contains("not requested"));
    assert!(info.adapter.is_none());
}

#[test]
fn auto_falls_back_to_the_cpu_with_the_reason() {
    let session = block_on(Session::create(&MNIST, WEIGHTS, BackendPreference::Auto, CpuKernels::Auto, no_webgpu)).unwrap();
    assert_eq!(session.info().backend, BackendKind::Cpu);
    let reason = &session.info().skipped[0].reason;
    // The CPU-only build names itself; a WebGPU build passes the provider's reason through.
    if cfg!(feature = "webgpu") {
        assert_eq!(reason, "no WebGPU adapter available (test)");
    } else {
        assert!(reason.contains("CPU-only build"), "{reason}");
    }
}

#[test]
fn forced_webgpu_without_it_is_an_error_not_a_cpu_run() {
    let err = block_on(Session::create(&MNIST, WEIGHTS, BackendPreference::WebGpu, CpuKernels::Auto, no_webgpu)).err().expect("must fail");
    assert!(matches!(err, RuntimeError::WebGpuUnavailable(_)), "{err}");
    assert!(err.to_string().starts_with("WebGPU was requested but is unavailable: "), "{err}");
}

#[test]
fn weights_that_do_not_decode_are_an_error_on_every_preference() {
    for preference in [BackendPreference::Auto, BackendPreference::Cpu] {
        let err = block_on(Session::create(&MNIST, &b"garbage"[..], preference, CpuKernels::Auto, no_webgpu)).err().expect("must fail");
        assert!(err.to_string().starts_with("weights are not a valid Burnpack file"), "{err}");
    }
    let truncated = &WEIGHTS[..WEIGHTS.len() / 2];
    let err = block_on(Session::create(&MNIST, truncated, BackendPreference::Cpu, CpuKernels::Auto, no_webgpu)).err().expect("must fail");
    assert!(matches!(err, RuntimeError::Weights(_)), "{err}");
}

#[test]
fn wrong_input_lengths_are_errors() {
    let session = cpu_session();
    let err = block_on(session.predict(&[0.5; 100])).unwrap_err();
    assert_eq!(err.to_string(), "input length 100 is not a multiple of 784 (1x28x28 per example)");
    assert!(block_on(session.predict(&[])).is_err());
}

#[test]
fn sample_digits_are_classified_and_match_the_reference() {
    let session = cpu_session();
    let probs = block_on(session.predict(&digit_batch())).unwrap();
    let labels: Vec<u8> = DIGITS.iter().map(|d| d.1).collect();
    assert_eq!(argmax_rows(&probs), labels);

    if std::env::var_os("BLESS").is_some() {
        let digits: serde_json::Map<String, serde_json::Value> =
            DIGITS.iter().zip(probs.chunks(10)).map(|((file, _, _), row)| (file.to_string(), serde_json::json!(row))).collect();
        let json = serde_json::json!({
            "about": "native CPU probabilities of models/mnist/model.bpk on ../shared/datasets/digits",
            "digits": digits,
        });
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/digits_reference.json");
        std::fs::write(path, serde_json::to_string_pretty(&json).unwrap() + "\n").unwrap();
    }
    let diff = max_abs_diff(&probs, &reference());
    assert!(diff <= TOLERANCE, "native output differs from the reference by {diff}");
}

#[test]
fn batch_of_one_equals_the_same_row_of_a_batch() {
    let session = cpu_session();
    let batch = block_on(session.predict(&digit_batch())).unwrap();
    let single = block_on(session.predict(&decode_digit(DIGITS[3].2))).unwrap();
    assert!(max_abs_diff(&single, &batch[30..40]) <= 1e-6);
}

/// The published SqueezeNet version (scripts/import-models.sh): its manifest and weights.
fn squeezenet() -> (serde_json::Value, Vec<u8>) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/models/squeezenet");
    let channel: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/channel.json")).expect("models/squeezenet: run scripts/import-models.sh (npm test does)"),
    )
    .unwrap();
    let version = channel["aliases"]["stable"].as_str().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}/{version}/manifest.json")).unwrap()).unwrap();
    let file = manifest["files"][0]["path"].as_str().unwrap().trim_start_matches("../");
    let weights = std::fs::read(format!("{root}/{file}")).unwrap();
    (manifest, weights)
}

/// RGBA bytes of a PNG in ../shared/datasets/squeezenet/images.
fn photo(name: &str) -> (Vec<u8>, usize, usize) {
    let path = format!("{}/../shared/datasets/squeezenet/images/{name}", env!("CARGO_MANIFEST_DIR"));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let pixels = &buf[..info.buffer_size()];
    let rgba = match info.color_type {
        png::ColorType::Rgba => pixels.to_vec(),
        png::ColorType::Rgb => pixels.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (rgba, info.width as usize, info.height as usize)
}

#[test]
fn squeezenet_session_classifies_photos_prepared_per_the_manifest() {
    let (manifest, weights) = squeezenet();
    let architecture = burn_edge::architecture(manifest["architecture"].as_str().unwrap()).unwrap();
    let session = block_on(Session::create(architecture, &weights, BackendPreference::Auto, CpuKernels::Auto, no_webgpu)).unwrap();
    assert_eq!(session.info().architecture, "squeezenet1.1");
    assert_eq!(session.info().parameters, 1_235_496);
    assert_eq!(session.info().cpu_kernels, "burn-edge");
    let schema = manifest["input"].to_string();
    let mut batch = Vec::new();
    for (file, class) in [("fish.png", 0), ("kitten_224.png", 281)] {
        let (rgba, w, h) = photo(file);
        let input = burn_edge::prepare_image(&rgba, w, h, &schema).unwrap();
        let probs = block_on(session.predict(&input)).unwrap();
        let top = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
        assert_eq!(top.0, class, "{file}");
        if file == "fish.png" {
            assert!((top.1 - 0.737793).abs() < 1e-3, "tench probability {}", top.1);
        }
        batch.extend(input);
    }
    // A batch of two gives the same rows as two single runs, and burn-edge's kernels agree
    // with Burn's on both.
    let probs = block_on(session.predict(&batch)).unwrap();
    assert_eq!(probs.len(), 2000);
    let burn = block_on(Session::create(architecture, &weights, BackendPreference::Cpu, CpuKernels::Burn, no_webgpu)).unwrap();
    assert_eq!(burn.info().cpu_kernels, "flex");
    let reference = block_on(burn.predict(&batch)).unwrap();
    let diff = probs.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "burn-edge vs Burn kernels: max |diff| {diff}");
    // Bad inputs are named.
    let err = block_on(session.predict(&[0.0; 784])).unwrap_err().to_string();
    assert_eq!(err, "input length 784 is not a multiple of 150528 (3x224x224 per example)");
    assert!(burn_edge::prepare_image(&[0; 8], 2, 1, "{}").unwrap_err().to_string().contains("input schema is not valid JSON"));
    // Sizes past the limits (65536^2 x 4 wraps to 0 on wasm32) and schemas asking for huge inputs.
    let err = burn_edge::prepare_image(&[], 65_536, 65_536, &schema).unwrap_err().to_string();
    assert_eq!(err, "image is too large (65536x65536): at most 16384 pixels a side and 67108864 in all");
    // The same minimal schema tests/web.rs uses on wasm32 (where 32768^2 x 4 wraps to 0).
    let minimal = r#"{"shape":[3,224,224],"dtype":"f32","preprocessing":{"color":"rgb","fit":"stretch","range":[0,1]}}"#;
    let err = burn_edge::prepare_image(&[], 32_768, 32_768, minimal).unwrap_err().to_string();
    assert!(err.starts_with("image is too large (32768x32768)"), "{err}");
    let mut huge = manifest["input"].clone();
    huge["shape"] = serde_json::json!([3, 100_000, 100_000]);
    let err = burn_edge::prepare_image(&[0; 4], 1, 1, &huge.to_string()).unwrap_err().to_string();
    assert!(err.contains("is larger than 16384 a side"), "{err}");
    let err = burn_edge::architecture("resnet50").unwrap_err().to_string();
    assert!(err.contains(&format!("has no architecture \"resnet50\" (it has: {})", burn_edge::architectures().join(", "))), "{err}");
    assert!(err.contains("(it has: mnist-cnn, squeezenet1.1"), "{err}");
}

/// The browser's path (the file read a tensor at a time from outside the module) gives a session
/// identical to one over the bytes in memory, on burn-edge's kernels and on Burn's, for every
/// architecture; a source that fails mid-file is an error naming why, not a crash.
#[test]
fn a_session_read_from_a_source_equals_one_over_the_bytes() {
    use burn_edge_model::{registry::architectures, SliceSource, WeightSource};
    for architecture in architectures() {
        let weights = architecture.init(&burn::prelude::Device::flex()).save().unwrap();
        let input: Vec<f32> = (0..architecture.input_len()).map(|i| ((i * 7919) % 255) as f32 / 255.0).collect();
        for kernels in [CpuKernels::Auto, CpuKernels::Burn] {
            let resident = block_on(Session::create(*architecture, &weights, BackendPreference::Cpu, kernels, no_webgpu)).unwrap();
            let streamed =
                block_on(Session::create_from(*architecture, SliceSource(&weights), BackendPreference::Cpu, kernels, no_webgpu)).unwrap();
            let (a, b) = (block_on(resident.predict(&input)).unwrap(), block_on(streamed.predict(&input)).unwrap());
            assert_eq!(a, b, "{}", architecture.id());
        }
    }
    /// Delivers the header, then fails (a page whose buffer was detached, say).
    struct Failing<'a>(&'a [u8]);
    impl WeightSource for Failing<'_> {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), String> {
            if offset > 4096 {
                return Err("the buffer is gone".into());
            }
            SliceSource(self.0).read(offset, out)
        }
    }
    let weights = WEIGHTS.to_vec();
    let err = block_on(Session::create_from(&MNIST, Failing(&weights), BackendPreference::Cpu, CpuKernels::Auto, no_webgpu))
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("the buffer is gone"), "{err}");
}
