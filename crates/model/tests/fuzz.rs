//! Property-based fuzzing of what the model crate takes from outside: weight bytes (arbitrary,
//! and the committed MNIST weights mutated at random offsets), and pixel buffers for the photo
//! and digit preprocessing with arbitrary sizes and lengths. Every input must give a result or
//! one of the crate's specific errors, never a panic or an abort.
//!
//! Cases per property: `BURN_EDGE_FUZZ_CASES` (default 32, so `cargo test` stays fast; the
//! reliability run sets millions). Each property prints its number of executions (visible with
//! `--nocapture`) and, when `BURN_EDGE_FUZZ_REPORT` names a file, appends it there as a line.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use burn::prelude::*;
use burn_edge_model::{
    digit_from_luminance, digit_from_rgba, load_mnist, read_mnist_config, DigitInputError, ImageInputError, ImageSpec, WeightsError,
    MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, MNIST_PIXELS,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("BURN_EDGE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32)
}

/// Runs `property` on `cases()` inputs from `strategy`; prints and reports the executions.
fn fuzz<S: Strategy>(name: &str, strategy: S, property: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let executions = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let result = runner.run(&strategy, |value| {
        executions.fetch_add(1, Ordering::Relaxed);
        property(value)
    });
    let line =
        format!("fuzz {name}: {} executions, {}", executions.load(Ordering::Relaxed), if result.is_ok() { "0 failures" } else { "FAILED" });
    println!("{line}");
    if let Ok(path) = std::env::var("BURN_EDGE_FUZZ_REPORT") {
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(file, "{line}");
        }
    }
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

/// The committed MNIST weights (what `loadModel` fetches for the demo).
fn mnist_weights() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/mnist/model.bpk");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// Every error a weights decoder may give for bad bytes (`Encode` is for saving only).
fn specific(err: &WeightsError) -> bool {
    matches!(
        err,
        WeightsError::NotBurnpack(_)
            | WeightsError::WrongArchitecture { .. }
            | WeightsError::BadMetadata { .. }
            | WeightsError::Mismatch { .. }
            | WeightsError::TooLarge { .. }
    )
}

/// Decodes `bytes` every way the runtime and CLI do; Ok or a specific error.
fn decode_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    let device = Device::flex();
    for result in
        [read_mnist_config(bytes).map(drop), load_mnist(bytes, &device).map(drop), burn_edge_model::architecture_of(bytes).map(drop)]
    {
        if let Err(err) = result {
            prop_assert!(specific(&err), "unexpected error {err:?}");
        }
    }
    // Every architecture of the registry; what loads must also run: its compiled CPU plan, and
    // one prediction on it.
    for architecture in burn_edge_model::architectures() {
        match architecture.load(bytes, &device) {
            Err(err) => prop_assert!(specific(&err), "{}: unexpected error {err:?}", architecture.id()),
            Ok(network) => {
                let captured = network.capture().map_err(|e| TestCaseError::fail(e.to_string()))?;
                let plan =
                    burn_edge_model::Plan::compile(captured).map_err(|e| TestCaseError::fail(format!("plan of loaded weights: {e}")))?;
                let probs = plan.run(&vec![0.5; architecture.input_len()]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(probs.len(), architecture.outputs());
            }
        }
    }
    Ok(())
}

#[test]
fn weights_decoder_survives_arbitrary_bytes() {
    // Raw noise, and noise behind a valid Burnpack magic so the metadata parser sees it.
    let noise = prop::collection::vec(any::<u8>(), 0..2048);
    let strategy = (noise, any::<bool>(), any::<u32>()).prop_map(|(mut bytes, magic, meta_len)| {
        if magic {
            let mut head = b"NRUB\x01\x00".to_vec();
            head.extend_from_slice(&(meta_len % 4096).to_le_bytes());
            head.append(&mut bytes);
            bytes = head;
        }
        bytes
    });
    fuzz("weights/arbitrary", strategy, |bytes| decode_all(&bytes));
}

/// Up to 8 byte edits of the real weights: mostly in the header and metadata (first 2 KiB),
/// where a flip changes what the file claims, some in the tensor data; sometimes truncated.
#[derive(Debug, Clone)]
struct Mutation {
    edits: Vec<(usize, u8, bool)>,
    truncate: Option<usize>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let edit = (any::<bool>(), any::<usize>(), any::<u8>(), any::<bool>());
    (prop::collection::vec(edit, 1..8), prop::option::weighted(0.1, any::<usize>())).prop_map(|(edits, truncate)| Mutation {
        edits: edits.into_iter().map(|(head, at, byte, xor)| (if head { at % 2048 } else { at }, byte, xor)).collect(),
        truncate,
    })
}

#[test]
fn weights_decoder_survives_mutated_real_weights() {
    let good = mnist_weights();
    assert!(load_mnist(good, &Device::flex()).is_ok(), "the unmutated weights load");
    fuzz("weights/mutated-mnist", mutation(), |m| {
        let mut bytes = good.to_vec();
        for (at, byte, xor) in &m.edits {
            let i = at % bytes.len();
            bytes[i] = if *xor { bytes[i] ^ byte.max(&1) } else { *byte };
        }
        if let Some(len) = m.truncate {
            bytes.truncate(len % bytes.len());
        }
        decode_all(&bytes)
    });
}

/// A side: mostly small, sometimes at or past the limits, sometimes absurd.
fn side() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..64,
        1 => Just(MAX_IMAGE_SIDE),
        1 => (MAX_IMAGE_SIDE - 2)..(MAX_IMAGE_SIDE + 2),
        1 => Just(65_536usize),
        1 => any::<usize>(),
    ]
}

/// A buffer for `w x h x channels`: mostly the exact length (for small images), else arbitrary.
fn buffer(w: usize, h: usize, channels: usize) -> BoxedStrategy<Vec<u8>> {
    let exact = w.checked_mul(h).and_then(|p| p.checked_mul(channels)).filter(|&n| n <= 64 * 64 * 4);
    match exact {
        Some(n) => prop_oneof![3 => prop::collection::vec(any::<u8>(), n), 1 => prop::collection::vec(any::<u8>(), 0..(n + 8))].boxed(),
        None => prop::collection::vec(any::<u8>(), 0..64).boxed(),
    }
}

fn image_case() -> impl Strategy<Value = (usize, usize, Vec<u8>)> {
    (side(), side()).prop_flat_map(|(w, h)| (Just(w), Just(h), buffer(w, h, 4)))
}

/// Input schemas as a manifest may carry them, valid and not.
fn spec() -> impl Strategy<Value = Result<ImageSpec, ImageInputError>> {
    let dim = prop_oneof![4 => 1u32..40, 1 => Just(0u32), 1 => any::<u32>()];
    let shape = prop::collection::vec(dim, 2..5);
    let color = prop::sample::select(vec!["rgb", "bgr", "grayscale", "cmyk"]);
    let fit = prop::sample::select(vec!["stretch", "center-crop", "zoom"]);
    let stats = prop::option::of(prop::collection::vec(-2.0f32..2.0, 1..4));
    (shape, color, fit, stats.clone(), stats)
        .prop_map(|(shape, color, fit, mean, std)| ImageSpec::new(&shape, color, fit, [0.0, 1.0], mean, std))
}

#[test]
fn image_preprocessing_survives_any_size_and_buffer() {
    fuzz("image/prepare", (spec(), image_case()), |(spec, (w, h, rgba))| {
        let spec = match spec {
            Ok(spec) => spec,
            Err(err) => {
                prop_assert!(matches!(err, ImageInputError::Schema(_)), "{err:?}");
                return Ok(());
            }
        };
        match spec.prepare(&rgba, w, h) {
            Ok(values) => {
                prop_assert_eq!(values.len(), spec.len());
                prop_assert_eq!(rgba.len(), w * h * 4);
            }
            Err(ImageInputError::Empty { .. }) => prop_assert!(w == 0 || h == 0),
            Err(ImageInputError::TooLarge { .. }) => {
                prop_assert!(w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || w.checked_mul(h).is_none_or(|p| p > MAX_IMAGE_PIXELS))
            }
            Err(ImageInputError::WrongLength { actual, expected, .. }) => {
                prop_assert_eq!(actual, rgba.len());
                prop_assert_ne!(actual, expected);
            }
            Err(err) => prop_assert!(false, "unexpected {err:?}"),
        }
        Ok(())
    });
}

#[test]
fn digit_preprocessing_survives_any_size_and_buffer() {
    fuzz("digit/prepare", image_case(), |(w, h, rgba)| {
        let check = |result: Result<Vec<f32>, DigitInputError>, len: usize, channels: usize| -> Result<(), TestCaseError> {
            match result {
                Ok(values) => {
                    prop_assert_eq!(values.len(), MNIST_PIXELS);
                    prop_assert!(values.iter().all(|v| (0.0..=1.0).contains(v)), "values in 0..=1");
                }
                Err(DigitInputError::Empty { .. }) => prop_assert!(w == 0 || h == 0),
                Err(DigitInputError::TooLarge { .. }) => {
                    prop_assert!(w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || w.checked_mul(h).is_none_or(|p| p > MAX_IMAGE_PIXELS))
                }
                Err(DigitInputError::WrongLength { actual, expected, .. }) => {
                    prop_assert_eq!(actual, len);
                    prop_assert_ne!(actual, expected);
                    prop_assert_eq!(Some(expected), w.checked_mul(h).and_then(|p| p.checked_mul(channels)));
                }
            }
            Ok(())
        };
        check(digit_from_rgba(&rgba, w, h), rgba.len(), 4)?;
        // One value per pixel (exact when the RGBA buffer was), some outside 0..=1.
        let lum: Vec<f32> = rgba.chunks(4).map(|p| p[0] as f32 / 200.0 - 0.1).collect();
        check(digit_from_luminance(&lum, w, h), lum.len(), 1)
    });
}
