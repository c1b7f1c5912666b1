//! `burn-edge rollout guard` end to end: a copy of the MNIST CDN folder with a 50% canary,
//! `burn-edge serve` collecting real OTLP traffic into a real SQLite file, and the guard
//! judging the collector's numbers. A canary that answers fast and without errors but wrongly
//! (its feedback says so) is rolled back by the guard alone, with the reason logged for the
//! dashboard; the same traffic with a healthy canary leaves the rule in place.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use support::{record, request, start_with, Attr, JSON, KEY};

const RULE: &str = "mnist-1.1.0-canary";

fn s(v: &str) -> Attr {
    Attr::S(v.to_string())
}

/// A temporary models root holding a copy of models/mnist.
fn cdn() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    support::copy_mnist(dir.path());
    dir
}

fn burn_edge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burn-edge")).args(args).env_remove("BURN_EDGE_SIGNING_KEY").output().expect("burn-edge runs")
}

/// One install's telemetry: an exposure when in the canary, `n` predictions, feedback on each
/// (`wrong` of them mislabelled by the model).
fn install(id: &str, canary: bool, n: usize, wrong: usize, t0: u64) -> String {
    let rollout: Vec<(&str, Attr)> = if canary {
        vec![("burn_edge.rollout.rule", s(RULE)), ("burn_edge.rollout.arm", s("canary"))]
    } else {
        vec![("burn_edge.alias", s("stable"))]
    };
    let version = if canary { "1.1.0" } else { "1.0.0" };
    let mut records = Vec::new();
    if canary {
        let mut attrs =
            vec![("event.id", s(&format!("{id}-x"))), ("burn_edge.model.name", s("mnist")), ("burn_edge.model.version", s(version))];
        attrs.extend(rollout.iter().map(|(k, v)| (*k, clone(v))));
        records.push(record("burn_edge.exposure", t0, &attrs));
    }
    for i in 0..n {
        let pid = format!("{id}-p{i}");
        let mut attrs = vec![
            ("event.id", s(&format!("{id}-i{i}"))),
            ("burn_edge.model.name", s("mnist")),
            ("burn_edge.model.version", s(version)),
            ("burn_edge.backend", s("cpu")),
            ("burn_edge.role", s("served")),
            ("burn_edge.latency_ms", Attr::D(2.0 + (i % 7) as f64 * 0.1)),
            ("burn_edge.batch_size", Attr::I(1)),
            ("burn_edge.predicted_class", Attr::I(3)),
            ("burn_edge.confidence", Attr::D(0.9)),
            ("burn_edge.prediction_id", s(&pid)),
        ];
        attrs.extend(rollout.iter().map(|(k, v)| (*k, clone(v))));
        records.push(record("burn_edge.inference", t0 + i as u64 + 1, &attrs));
        let truth = if i < wrong { 5 } else { 3 };
        records.push(record(
            "burn_edge.feedback",
            t0 + i as u64 + 2,
            &[("event.id", s(&format!("{id}-f{i}"))), ("burn_edge.prediction_id", s(&pid)), ("burn_edge.true_label", Attr::I(truth))],
        ));
    }
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"burn_edge.install_id","value":{{"stringValue":"{id}"}}}}]}},
        "scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
        records.join(",")
    )
}

fn clone(a: &Attr) -> Attr {
    match a {
        Attr::S(v) => Attr::S(v.clone()),
        Attr::I(v) => Attr::I(*v),
        Attr::D(v) => Attr::D(*v),
    }
}

/// Serves `models`, sends 120 control and 120 canary installs of 5 predictions each (the
/// canary's `canary_wrong` of 5 mislabelled, control's 1 in 20 installs one), runs one guard
/// check and returns its output and the channel after it.
fn scenario(canary_wrong: usize) -> (Output, Value, Vec<Value>) {
    let cdn = cdn();
    let models = cdn.path().to_str().unwrap().to_string();
    let out = burn_edge(&["rollout", "canary", "mnist", "1.1.0", "--percent", "50", "--models", &models]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = cdn.path().join("telemetry.sqlite");
    let server = start_with(&["--models", &models, "--telemetry-db", db.to_str().unwrap()]);
    for n in 0..240 {
        let canary = n % 2 == 1;
        let wrong = if canary { canary_wrong } else { usize::from(n % 40 == 0) };
        let body = install(&format!("u{n}"), canary, 5, wrong, 1_764_000_000_000_000_000 + n as u64 * 100);
        let (status, _, text) = request(&server.addr, "POST", "/v1/logs", &[JSON, KEY], body.as_bytes());
        assert_eq!(status, 200, "{text}");
    }
    // The writer stores asynchronously: wait until every prediction is visible.
    let collector = format!("http://{}", server.addr);
    for _ in 0..100 {
        let out = burn_edge(&["rollout", "status", "mnist", "--collector", &collector, "--read-key", "demo-read-key", "--json"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let total: u64 =
            report["arms"].as_array().into_iter().flatten().chain([&report["control"]]).filter_map(|a| a["predictions"].as_u64()).sum();
        if total >= 1200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let state: PathBuf = cdn.path().join("guard-state.json");
    let out = burn_edge(&[
        "rollout",
        "guard",
        "mnist",
        "--models",
        &models,
        "--rule",
        RULE,
        "--once",
        "--collector",
        &collector,
        "--read-key",
        "demo-read-key",
        "--min-predictions",
        "300",
        "--min-feedback",
        "300",
        "--state",
        state.to_str().unwrap(),
    ]);
    let channel: Value = serde_json::from_str(&std::fs::read_to_string(cdn.path().join("mnist/channel.json")).unwrap()).unwrap();
    let log: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(cdn.path().join("mnist/rollout-log.json")).unwrap()).unwrap();
    drop(server);
    (out, channel, log)
}

#[test]
fn the_guard_rolls_back_a_canary_that_is_wrong_and_says_why() {
    let (out, channel, log) = scenario(3);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ROLLBACK") && stdout.contains("misprediction rate"), "{stdout}");
    let rules = channel["rollout"]["rules"].as_array().map_or(0, Vec::len);
    assert_eq!(rules, 0, "the canary rule is gone: {channel}");
    let last = log.last().unwrap();
    assert_eq!(last["by"], "guard", "{last}");
    assert_eq!(last["action"], "rollback");
    assert!(last["detail"].as_str().unwrap().contains("misprediction rate (from feedback): treatment 60.00% (360/600)"), "{last}");
    assert_eq!(last["numbers"]["decision"], "rollback");
}

#[test]
fn the_guard_leaves_a_healthy_canary_alone() {
    let (out, channel, log) = scenario(0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("continue"), "{stdout}");
    assert_eq!(channel["rollout"]["rules"][0]["key"], RULE, "{channel}");
    assert!(log.iter().all(|e| e["by"] != "guard"));
}
