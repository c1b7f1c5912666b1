//! Property-based fuzzing of the predict endpoint's body decoding: generated JSON requests
//! (right and wrong shapes, odd numbers) and little-endian bodies (NaN, infinities, odd
//! lengths), sometimes with bytes flipped, inserted, removed or cut off, go through the decoder
//! for both media types; a smaller share goes through the whole router to a loaded MNIST
//! session. Nothing may panic; an accepted body is whole, finite examples within the batch
//! maximum; every refusal is a JSON error body whose code gives its status.
//! `BURN_EDGE_FUZZ_CASES` sets the number of cases (default 200).

use std::cell::Cell;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::Request;
use burn_edge_formats::predict::{ErrorBody, PredictResponse};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::body::{decode, Expect, Format};
use super::{routes, PredictConfig};
use crate::collector::{CollectorConfig, RateConfig, DEMO_INGEST_KEY, KEY_HEADER};
use crate::fuzz_support::{cases, mutated};

/// A small input length, so generated examples are often whole.
const TOY: Expect<'static> = Expect { architecture: "toy", input_len: 4, max_batch: 6 };

/// A value that is not a plain in-range number: out of f32's range, huge, or no number at all.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![1e39, -1e39, 3.4e38, 1e-46, f64::MAX, -0.0]).prop_map(|x| json!(x)),
        prop_oneof![Just(json!("1")), Just(json!(null)), Just(json!(true)), Just(json!([1]))],
    ]
}

/// `len` numbers in -2..2, and now and then one odd value at a random place (so long examples
/// are often valid, and sometimes wrong in exactly one place).
fn row(len: impl Strategy<Value = usize>) -> impl Strategy<Value = Value> {
    let values = len.prop_flat_map(|n| prop::collection::vec((-2.0..2.0f64).prop_map(|x| json!(x)), n));
    (values, prop::option::weighted(0.25, (any::<prop::sample::Index>(), odd_value()))).prop_map(|(mut values, odd)| {
        if let (Some((at, value)), false) = (odd, values.is_empty()) {
            let i = at.index(values.len());
            values[i] = value;
        }
        Value::Array(values)
    })
}

/// Mostly the right shape for `input_len` values per example, sometimes not.
fn json_request(input_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let len = prop_oneof![8 => Just(input_len), 1 => 0..input_len * 2 + 2];
    let rows = prop::collection::vec(row(len.clone()), 0..9);
    prop_oneof![
        6 => rows.prop_map(|r| json!({ "inputs": r })),
        2 => row(len).prop_map(|r| json!({ "input": r })),
        1 => Just(json!({ "inputs": [], "input": [] })),
        1 => Just(json!({ "extra": 1 })),
        1 => Just(json!([1, 2, 3])),
    ]
    .prop_map(|v| v.to_string().into_bytes())
}

/// Little-endian f32 values of whole examples, now and then one NaN, infinity or any bit
/// pattern somewhere, sometimes not whole values.
fn binary_request(input_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let odd = prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), any::<f32>()];
    let examples = (0..9usize).prop_flat_map(move |n| prop::collection::vec(-2.0..2.0f32, n * input_len));
    (examples, prop::option::weighted(0.25, (any::<prop::sample::Index>(), odd)), 0..4usize).prop_map(|(mut values, odd, cut)| {
        if let (Some((at, value)), false) = (odd, values.is_empty()) {
            let i = at.index(values.len());
            values[i] = value;
        }
        let mut bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes.truncate(bytes.len().saturating_sub(cut % 2 * cut));
        bytes
    })
}

#[test]
fn the_decoder_survives_any_body_and_accepts_only_whole_finite_batches() {
    let (accepted, refused) = (Cell::new(0u64), Cell::new(0u64));
    let mut runner = TestRunner::new(Config { cases: cases() * 10, failure_persistence: None, ..Config::default() });
    let bodies = prop_oneof![mutated(json_request(TOY.input_len)), mutated(binary_request(TOY.input_len))];
    let result = runner.run(&(bodies, any::<bool>()), |(bytes, as_json)| {
        let format = if as_json { Format::Json } else { Format::Binary };
        match decode(format, &bytes, TOY) {
            Ok((values, batch)) => {
                accepted.set(accepted.get() + 1);
                prop_assert!((1..=TOY.max_batch).contains(&batch));
                prop_assert_eq!(values.len(), batch * TOY.input_len);
                prop_assert!(values.iter().all(|v| v.is_finite()));
                if format == Format::Binary {
                    prop_assert_eq!(values.len() * 4, bytes.len());
                }
            }
            Err(e) => {
                refused.set(refused.get() + 1);
                prop_assert!(matches!(e.code.status(), 400 | 413), "{e}");
                prop_assert!(!e.message.is_empty() && e.message.len() < 4096, "{e}");
            }
        }
        Ok(())
    });
    println!(
        "fuzz predict decoder: {} accepted, {} refused, {}",
        accepted.get(),
        refused.get(),
        if result.is_ok() { "0 failures" } else { "FAILED" }
    );
    result.unwrap();
    assert!(accepted.get() > 0 && refused.get() > 0, "the generator reaches both outcomes");
}

#[test]
fn the_whole_endpoint_answers_any_body_with_a_prediction_or_a_json_error() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let models = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"));
    let config = PredictConfig { max_batch: 6, max_body_bytes: 1 << 20, workers: 2, cached_models: 2 };
    // One client sends every case at once: a rate limit it never reaches.
    let rate = RateConfig { client_rate: 1e9, client_burst: 1e9, app_rate: 1e9, app_burst: 1e9, max_clients: 10 };
    let app = routes(&CollectorConfig { rate, ..Default::default() }, config, models);
    let (ok, refused) = (Cell::new(0u64), Cell::new(0u64));
    let mut runner = TestRunner::new(Config { cases: cases() / 4 + 1, failure_persistence: None, ..Config::default() });
    // Mostly a body with its own media type on a published version; sometimes any of them.
    let any_type = prop::sample::select(vec!["application/json", "application/octet-stream", "text/plain", ""]);
    let requests = prop_oneof![
        4 => mutated(json_request(784)).prop_map(|b| (b, "application/json")),
        4 => mutated(binary_request(784)).prop_map(|b| (b, "application/octet-stream")),
        2 => (prop_oneof![mutated(json_request(784)), mutated(binary_request(784))], any_type),
    ];
    let path = prop_oneof![
        6 => prop::sample::select(vec!["/v1/predict/mnist", "/v1/predict/mnist@1.1.0", "/v1/predict/mnist?alias=canary"]),
        1 => prop::sample::select(vec!["/v1/predict/mnist?alias=x", "/v1/predict/x@y", "/v1/predict/mnist@1.0", "/v1/predict/mnist/x"]),
    ];
    let result = runner.run(&(requests, path), |((bytes, content_type), path)| {
        let mut req = Request::post(path).header(KEY_HEADER, DEMO_INGEST_KEY);
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        let res = rt.block_on(app.clone().oneshot(req.body(Body::from(bytes)).unwrap())).unwrap();
        let status = res.status().as_u16();
        let body = rt.block_on(axum::body::to_bytes(res.into_body(), 64 << 20)).unwrap();
        if status == 200 {
            ok.set(ok.get() + 1);
            let answer: PredictResponse = serde_json::from_slice(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(answer.batch >= 1 && answer.outputs.len() == answer.batch);
            prop_assert!(answer.outputs.iter().all(|o| o.len() == 10 && o.iter().all(|p| p.is_finite())));
        } else {
            refused.set(refused.get() + 1);
            let error: ErrorBody = serde_json::from_slice(&body).map_err(|e| TestCaseError::fail(format!("{status}: {e}")))?;
            prop_assert_eq!(error.error.code.status(), status);
            prop_assert!(status < 500, "{:?}", error);
        }
        Ok(())
    });
    println!(
        "fuzz predict endpoint: {} answered, {} refused, {}",
        ok.get(),
        refused.get(),
        if result.is_ok() { "0 failures" } else { "FAILED" }
    );
    result.unwrap();
    assert!(ok.get() > 0 && refused.get() > 0, "the generator reaches both outcomes");
}
