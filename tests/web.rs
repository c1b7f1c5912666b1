//! The runtime in headless Chromium, through the same exports JavaScript uses.
//!
//! Run twice by `scripts/test-browser.sh`: with WebGPU (`--enable-unsafe-webgpu`, the
//! SwiftShader software adapter) and without it. `BURN_EDGE_EXPECT_WEBGPU=1` at build time says
//! which run this is, so a run where WebGPU silently went missing fails instead of passing.
#![cfg(target_family = "wasm")]

mod common;

use burn_edge::web::{create_session, ensure_initialised, prepare_digit, Session};
use common::*;
use js_sys::Float32Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Whether this build runs in the browser with a WebGPU adapter (set by test-browser.sh).
fn expect_webgpu() -> bool {
    option_env!("BURN_EDGE_EXPECT_WEBGPU") == Some("1")
}

fn message(err: JsError) -> String {
    let value = JsValue::from(err);
    value.dyn_into::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_default()
}

async fn session(backend: &str) -> Result<Session, String> {
    session_with(backend, None).await
}

async fn session_with(backend: &str, cpu_kernels: Option<&str>) -> Result<Session, String> {
    ensure_initialised();
    create_session(js_sys::Uint8Array::from(WEIGHTS), backend.into(), None, cpu_kernels.map(String::from)).await.map_err(message)
}

async fn predict(session: &Session, input: Vec<f32>) -> Result<Vec<f32>, String> {
    match JsFuture::from(session.predict(input)).await {
        Ok(value) => Ok(Float32Array::from(value).to_vec()),
        Err(err) => Err(err.dyn_into::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_default()),
    }
}

fn info(session: &Session) -> serde_json::Value {
    let json = js_sys::JSON::stringify(&session.info().expect("info")).expect("stringify");
    serde_json::from_str(&String::from(json)).expect("info is JSON")
}

#[wasm_bindgen_test]
async fn auto_picks_webgpu_when_the_browser_has_it_and_says_why_not_otherwise() {
    let session = session("auto").await.expect("auto always gives a session");
    let info = info(&session);
    if expect_webgpu() {
        assert_eq!(info["backend"], "webgpu", "{info}");
        assert!(info["adapter"].is_object(), "{info}");
        assert_eq!(info["skipped"].as_array().unwrap().len(), 0, "{info}");
    } else {
        assert_eq!(info["backend"], "cpu", "{info}");
        assert_eq!(info["skipped"][0]["backend"], "webgpu", "{info}");
        let reason = info["skipped"][0]["reason"].as_str().unwrap();
        assert!(
            reason.contains("navigator.gpu is missing") || reason.contains("no WebGPU adapter available"),
            "unexpected reason: {reason}"
        );
    }
}

#[wasm_bindgen_test]
async fn forced_webgpu_is_webgpu_or_an_error_never_a_silent_cpu_run() {
    match session("webgpu").await {
        Ok(session) => {
            assert!(expect_webgpu(), "WebGPU came up in the run without an adapter");
            assert_eq!(info(&session)["backend"], "webgpu");
        }
        Err(msg) => {
            assert!(!expect_webgpu(), "WebGPU failed in the run with an adapter: {msg}");
            assert!(msg.starts_with("WebGPU was requested but is unavailable: "), "{msg}");
        }
    }
}

#[wasm_bindgen_test]
async fn every_backend_classifies_the_sample_digits_like_native() {
    let mut outputs = Vec::new();
    let backends: &[&str] = if expect_webgpu() { &["cpu", "webgpu"] } else { &["cpu"] };
    for backend in backends {
        let session = session(backend).await.expect("session");
        let probs = predict(&session, digit_batch()).await.expect("prediction");
        let labels: Vec<u8> = DIGITS.iter().map(|d| d.1).collect();
        assert_eq!(argmax_rows(&probs), labels, "{backend} misclassifies a sample digit");
        let diff = max_abs_diff(&probs, &reference());
        assert!(diff <= TOLERANCE, "{backend} differs from native by {diff}");
        outputs.push(probs);
    }
    if let [cpu, gpu] = outputs.as_slice() {
        let diff = max_abs_diff(cpu, gpu);
        assert!(diff <= TOLERANCE, "WebGPU and wasm CPU differ by {diff}");
    }
}

#[wasm_bindgen_test]
async fn burn_edge_cpu_kernels_agree_with_burns_in_wasm_simd() {
    // The kernels' SIMD path only exists in wasm: hold it to Burn's flex here, on a batch of
    // 10 (panels wider than the batch) and on 37 (ragged panels).
    let ours = session_with("cpu", Some("auto")).await.expect("session");
    let burn = session_with("cpu", Some("burn")).await.expect("session");
    assert_eq!(info(&ours)["cpuKernels"], "burn-edge");
    assert_eq!(info(&burn)["cpuKernels"], "flex");
    for batch in [digit_batch(), (0..37 * 784).map(|i| ((i * 7919) % 256) as f32 / 255.0).collect()] {
        let (a, b) = (predict(&ours, batch.clone()).await.unwrap(), predict(&burn, batch).await.unwrap());
        let diff = max_abs_diff(&a, &b);
        assert!(diff <= 1e-5, "burn-edge and Burn kernels differ by {diff}");
    }
    assert_eq!(session_with("cpu", Some("fast")).await.err().unwrap(), "unknown CPU kernels \"fast\": use \"auto\" or \"burn\"");
}

#[wasm_bindgen_test]
async fn batch_of_one_works_on_every_backend() {
    for backend in if expect_webgpu() { vec!["webgpu", "cpu"] } else { vec!["cpu"] } {
        let session = session(backend).await.expect("session");
        let probs = predict(&session, decode_digit(DIGITS[7].2)).await.expect("prediction");
        assert_eq!(probs.len(), 10);
        assert_eq!(argmax_rows(&probs), vec![7]);
    }
}

#[wasm_bindgen_test]
async fn bad_inputs_get_clear_errors() {
    assert_eq!(session("cuda").await.err().unwrap(), "unknown backend \"cuda\": use \"auto\", \"webgpu\" or \"cpu\"");
    let err = {
        ensure_initialised();
        message(create_session(js_sys::Uint8Array::from(&b"not weights"[..]), "cpu".into(), None, None).await.err().unwrap())
    };
    assert!(err.starts_with("weights are not a valid Burnpack file"), "{err}");

    let session = session("cpu").await.unwrap();
    assert_eq!(predict(&session, vec![0.0; 783]).await.unwrap_err(), "input length 783 is not a multiple of 784 (1x28x28 per example)");
    assert_eq!(predict(&session, vec![]).await.unwrap_err(), "input is empty: expected 784 values (1x28x28) per example");
    assert_eq!(message(prepare_digit(&[0; 10], 2, 2).err().unwrap()), "pixel buffer has 10 values, expected 16 for 2x2 with 4 channel(s)");
}

#[wasm_bindgen_test]
fn sizes_whose_product_wraps_in_32_bits_are_too_large_not_a_trap() {
    // Here usize is 32 bits: 65536 x 65536 x 4 wraps to 0, so an empty buffer matched it and
    // the framing then read far past the end (a trap that kills the worker).
    ensure_initialised();
    let err = message(prepare_digit(&[], 65_536, 65_536).err().unwrap());
    assert_eq!(err, "image is too large (65536x65536): at most 16384 pixels a side and 67108864 in all");
    let schema = r#"{"shape":[3,224,224],"dtype":"f32","preprocessing":{"color":"rgb","fit":"stretch","range":[0,1]}}"#;
    let err = message(burn_edge::web::prepare_image(&[], 32_768, 32_768, schema.into()).err().unwrap());
    assert!(err.starts_with("image is too large (32768x32768)"), "{err}");
}

#[wasm_bindgen_test]
async fn a_digit_drawn_on_a_large_canvas_is_recognised() {
    // Upscale the sample "3" 10x into white-on-black RGBA, as a drawing canvas would hold it.
    let small = decode_digit(DIGITS[3].2);
    let side = 280;
    let mut rgba = vec![0u8; side * side * 4];
    for y in 0..side {
        for x in 0..side {
            let v = (small[(y / 10) * 28 + x / 10] * 255.0) as u8;
            rgba[(y * side + x) * 4..][..4].copy_from_slice(&[v, v, v, 255]);
        }
    }
    let input = prepare_digit(&rgba, side, side).expect("prepared");
    let session = session("cpu").await.unwrap();
    let probs = predict(&session, input).await.unwrap();
    assert_eq!(argmax_rows(&probs), vec![3]);
}
