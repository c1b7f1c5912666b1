//! Property-based fuzzing of the OTLP decoders: generated and byte-mutated OTLP bodies, JSON and
//! protobuf (the generated requests encoded by prost), go through the decoder, `events::parse`
//! and, when accepted, the SQLite store, the summary and the rollout report. Nothing may panic, every stored event must be one the vocabulary allows
//! (rollout events included: the generator draws from the whole vocabulary), and both reports
//! stay within their limits. `BURN_EDGE_FUZZ_CASES` sets the number of cases (default 200, so `cargo test`
//! stays fast; the reliability suite runs millions); the counts are printed at the end.

use std::cell::Cell;

use burn_edge_formats::telemetry::{AttributeSpec, ValueKind, EVENTS};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

use super::encoding::Encoding;
use super::events::{self, MAX_CLOCK_SKEW_NANOS};
use super::otlp::ExportLogsRequest;
use super::report::{build_within, References};
use super::rollout_report;
use super::sqlite::SqliteStore;
use super::store::{EventStore, Limits};
use crate::fuzz_support::{cases, mutated};

/// Mostly names that collide (so groups, classes and prediction ids repeat), sometimes long or
/// odd text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::sample::select(vec![
            "mnist", "1.0.0", "1.1.0", "cpu", "webgpu", "stable", "p1", "p2", "", "e1", "e2",
            // Rollout values, so arms, controls, shadow pairs and picks collide too.
            "shadow", "served", "canary", "control", "tie", "mnist-canary",
        ])
        .prop_map(String::from),
        4 => "[a-z0-9._-]{0,12}",
        1 => "\\PC{0,40}",
        1 => (0usize..1100).prop_map(|n| "x".repeat(n)),
    ]
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![4 => -2..12i64, 1 => any::<i64>(), 1 => Just(1i64 << 47), 1 => Just(i64::MIN), 1 => Just(i64::MAX)]
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0..200.0f64,
        1 => any::<f64>().prop_filter("JSON has no NaN or infinity", |x| x.is_finite()),
        1 => prop::sample::select(vec![0.0, -0.0, -1.0, 5e-324, 1e-300, 1e300, f64::MAX, f64::MIN, 1.0, 0.999_999_999_999_999_9]),
    ]
}

/// An OTLP `AnyValue`: one of each kind, and some that are no kind at all.
fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(|s| json!({ "stringValue": s })),
        int().prop_map(|n| json!({ "intValue": n.to_string() })),
        int().prop_map(|n| json!({ "intValue": n })),
        double().prop_map(|x| json!({ "doubleValue": x })),
        any::<bool>().prop_map(|b| json!({ "boolValue": b })),
        Just(json!({ "arrayValue": { "values": [{ "intValue": 1 }] } })),
        Just(json!({})),
    ]
}

/// Mostly a value of the attribute's kind, sometimes any value or none.
fn attribute(spec: &'static AttributeSpec) -> BoxedStrategy<Option<Value>> {
    let of_kind = match spec.kind {
        ValueKind::String => text().prop_map(|s| json!({ "stringValue": s })).boxed(),
        ValueKind::Int => int().prop_map(|n| json!({ "intValue": n.to_string() })).boxed(),
        ValueKind::Double => double().prop_map(|x| json!({ "doubleValue": x })).boxed(),
        ValueKind::Bool => any::<bool>().prop_map(|b| json!({ "boolValue": b })).boxed(),
    };
    let key = spec.key;
    prop_oneof![
        40 => of_kind.prop_map(Some),
        1 => any_value().prop_map(Some),
        1 => Just(None),
    ]
    .prop_map(move |v| v.map(|v| json!({ "key": key, "value": v })))
    .boxed()
}

fn time() -> impl Strategy<Value = Value> {
    let now = 1_764_000_000_000_000_000u64;
    prop_oneof![
        40 => (now..now + 3 * 3_600_000_000_000).prop_map(|t| json!(t.to_string())),
        1 => prop::sample::select(vec![0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX]).prop_map(|t| json!(t.to_string())),
        1 => any::<u64>().prop_map(|t| json!(t.to_string())),
        1 => any::<i64>().prop_map(|t| json!(t)),
        1 => Just(json!("soon")),
    ]
}

/// One log record: an event of the vocabulary with its attributes (mostly right), extra
/// attributes, and sometimes a name that is no event.
fn record() -> impl Strategy<Value = Value> {
    let event = prop::sample::select(EVENTS).prop_flat_map(|spec| {
        let attrs: Vec<BoxedStrategy<Option<Value>>> = spec.attributes.iter().map(attribute).collect();
        (Just(spec.name.to_string()), attrs)
    });
    let extra = prop::collection::vec((text(), any_value()).prop_map(|(k, v)| json!({ "key": k, "value": v })), 0..4);
    let name = prop_oneof![8 => event, 1 => text().prop_map(|n| (n, Vec::new()))];
    (name, extra, time(), time()).prop_map(|((name, attrs), extra, t, observed)| {
        let attributes: Vec<Value> = attrs.into_iter().flatten().chain(extra).collect();
        json!({ "timeUnixNano": t, "observedTimeUnixNano": observed, "eventName": name, "attributes": attributes })
    })
}

/// A request: a few resources, each with an install id (sometimes far too long) and records.
fn request() -> impl Strategy<Value = String> {
    let install = prop_oneof![8 => "[0-9a-f-]{36}", 1 => (0usize..1000).prop_map(|n| "i".repeat(n))];
    let resource = (install, prop::collection::vec(record(), 0..12)).prop_map(|(id, records)| {
        json!({
            "resource": { "attributes": [{ "key": "burn_edge.install_id", "value": { "stringValue": id } }] },
            "scopeLogs": [{ "logRecords": records }],
        })
    });
    prop::collection::vec(resource, 0..3).prop_map(|r| json!({ "resourceLogs": r }).to_string())
}

/// A body: a generated request, sometimes with bytes flipped, inserted, removed or cut off.
fn body() -> impl Strategy<Value = Vec<u8>> {
    mutated(request().prop_map(String::into_bytes))
}

/// A generated request as protobuf (those JSON can express: no timestamp "soon"), then mutated.
fn protobuf_body() -> impl Strategy<Value = Vec<u8>> {
    mutated(request().prop_filter_map("not a valid request", |json| {
        serde_json::from_str::<ExportLogsRequest>(&json).ok().map(|r| prost::Message::encode_to_vec(&r))
    }))
}

/// Checks the rollout report's bounds (`store::RolloutLimits`, `CONFUSION_CLASSES`).
fn check_rollout(report: &Value) -> Result<(), TestCaseError> {
    let text = report.to_string();
    prop_assert!(text.len() < 4 << 20, "rollout report of {} bytes", text.len());
    prop_assert!(report["arms"].as_array().map_or(0, Vec::len) <= 50);
    let shadow = report["shadow"].as_array().cloned().unwrap_or_default();
    prop_assert!(shadow.len() <= 10);
    for pair in shadow {
        let agreeing = pair["agreeing"].as_i64().unwrap_or(-1);
        prop_assert!((0..=pair["pairs"].as_i64().unwrap_or(0)).contains(&agreeing));
        let rows = pair["confusion"].as_array().cloned().unwrap_or_default();
        prop_assert!(rows.len() <= 100 && rows.iter().all(|r| r.as_array().map_or(0, Vec::len) == rows.len()));
    }
    prop_assert!(report["interleave"].as_array().map_or(0, Vec::len) <= 100);
    Ok(())
}

/// Checks the summary's bounds.
fn check_summary(summary: &Value, limits: &Limits) -> Result<(), TestCaseError> {
    let text = summary.to_string();
    prop_assert!(text.len() < 4 << 20, "summary of {} bytes", text.len());
    let groups = summary["groups"].as_array().map_or(0, Vec::len);
    prop_assert!(groups <= limits.groups);
    for g in summary["groups"].as_array().into_iter().flatten() {
        prop_assert!(g["classDistribution"].as_array().map_or(0, Vec::len) <= limits.classes as usize);
        prop_assert!(g["timeline"].as_array().map_or(0, Vec::len) <= limits.timeline_minutes as usize);
    }
    let versions = summary["versionTimeline"].as_array().cloned().unwrap_or_default();
    prop_assert!(versions.len() <= limits.versions);
    for v in versions {
        prop_assert!(v["points"].as_array().map_or(0, Vec::len) <= limits.timeline_minutes as usize);
    }
    Ok(())
}

#[test]
fn otlp_json_decoder_store_and_summary_survive_any_body() {
    survive_any_body("otlp", Encoding::Json, body());
}

#[test]
fn otlp_protobuf_decoder_store_and_summary_survive_any_body() {
    survive_any_body("otlp-protobuf", Encoding::Protobuf, protobuf_body());
}

#[test]
fn json_and_protobuf_give_the_same_events() {
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let now = 1_764_000_000_000_000_000i64;
    runner
        .run(&request(), |json| {
            let Ok(from_json) = Encoding::Json.decode(json.as_bytes()) else { return Ok(()) };
            let from_protobuf = Encoding::Protobuf.decode(&prost::Message::encode_to_vec(&from_json)).unwrap();
            prop_assert_eq!(&from_json, &from_protobuf);
            let (a, b) = (events::parse_at(&from_json, "a", now), events::parse_at(&from_protobuf, "a", now));
            prop_assert_eq!((a.events, a.rejected), (b.events, b.rejected));
            Ok(())
        })
        .unwrap();
}

/// Runs `bodies` through `encoding`'s decoder, the store and the reports; prints "fuzz `name`: ...".
fn survive_any_body(name: &str, encoding: Encoding, bodies: impl Strategy<Value = Vec<u8>>) {
    let cases = cases();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("fuzz.sqlite")).unwrap();
    let references = References::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into());
    let limits = Limits { groups: 5, versions: 5, timeline_minutes: 30, classes: 50 };
    let (executions, decoded, stored, summaries) = (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&bodies, |bytes| {
        executions.set(executions.get() + 1);
        let Ok(request) = encoding.decode(&bytes) else {
            return Ok(());
        };
        decoded.set(decoded.get() + 1);
        let now = 1_764_000_000_000_000_000i64 + 3_600_000_000_000;
        let parsed = events::parse_at(&request, "fuzz", now);
        let records: usize = request.resource_logs.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum();
        prop_assert_eq!(parsed.events.len() + parsed.rejected.len(), records);
        for e in &parsed.events {
            prop_assert!(e.time_unix_nano > 0 && e.time_unix_nano <= now + MAX_CLOCK_SKEW_NANOS);
            prop_assert!(e.install_id.as_ref().is_none_or(|id| id.len() <= 64));
            prop_assert!(e.event_id.len() <= 128 && !e.event_id.is_empty());
            let attrs: serde_json::Map<String, Value> = serde_json::from_str(&e.attributes_json).unwrap();
            let spec = burn_edge_formats::telemetry::event_spec(&e.name).unwrap();
            prop_assert!(attrs.keys().all(|k| spec.attributes.iter().any(|a| a.key == k)), "{}", e.attributes_json);
        }
        if let Some(p) = parsed.partial_success() {
            prop_assert!(p.error_message.len() < 4096);
        }
        store.insert(&parsed.events, 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
        stored.set(stored.get() + parsed.events.len() as u64);
        // The summary of everything so far, now and then: it grows with the store, so less
        // often as the run goes on (every 16th body, then at powers of two).
        let n = decoded.get();
        if (n < 4096 && n % 16 == 1) || n.is_power_of_two() {
            summaries.set(summaries.get() + 1);
            let summary = build_within(&store, &references, &limits).map_err(|e| TestCaseError::fail(e.to_string()))?;
            check_summary(&summary, &limits)?;
            for model in ["mnist", "shadow", "x"] {
                let report = rollout_report::build(&store, &references, model, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
                check_rollout(&report)?;
            }
        }
        Ok(())
    });
    let summary = build_within(&store, &references, &limits).unwrap();
    println!(
        "fuzz {name}: {} executions, {} ({} bodies decoded, {} events stored, {} summaries)",
        executions.get(),
        if result.is_ok() { "0 failures" } else { "FAILED" },
        decoded.get(),
        stored.get(),
        summaries.get() + 1,
    );
    result.unwrap();
    check_summary(&summary, &limits).unwrap();
    assert!(stored.get() > 0 || cases < 20, "the generator reaches the store");
}
