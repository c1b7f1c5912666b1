//! The collector's ClickHouse sink against a real ClickHouse server (started by the test from
//! `scripts/clickhouse-server.sh`): the same events give the same summary as SQLite, duplicates
//! never count twice (retries, and inserts of one batch that overlap), the accuracy is reused
//! for its refresh interval, a restart keeps acknowledged events, and an outage answers 503 so
//! clients keep their batches.

mod support;

use support::{batch, record, request, start, start_with, summary, Attr, ClickHouse, JSON, KEY, READ};

const MINUTE: u64 = 60_000_000_000;
const T0: u64 = 1_764_000_000_000_000_000;

fn s(v: &str) -> Attr {
    Attr::S(v.to_string())
}

/// A day in the life of two versions: inferences on two backends over three minutes, loads,
/// a fallback, errors and feedback; every batch is sent twice (a retry).
fn traffic() -> Vec<String> {
    let mut batches = Vec::new();
    for minute in 0..3u64 {
        let mut records = Vec::new();
        for i in 0..40u64 {
            let (version, backend) = if i % 4 == 0 { ("1.1.0", "webgpu") } else { ("1.0.0", "cpu") };
            let id = format!("inf-{minute}-{i}");
            records.push(record(
                "burn_edge.inference",
                T0 + minute * MINUTE + i * 1_000_000,
                &[
                    ("event.id", s(&id)),
                    ("burn_edge.model.name", s("mnist")),
                    ("burn_edge.model.version", s(version)),
                    ("burn_edge.backend", s(backend)),
                    ("burn_edge.variant", s(if version == "1.1.0" { "canary" } else { "stable" })),
                    ("burn_edge.latency_ms", Attr::D(1.0 + (i * 7 % 23) as f64 + minute as f64)),
                    ("burn_edge.batch_size", Attr::I(1)),
                    ("burn_edge.predicted_class", Attr::I((i % 10) as i64)),
                    ("burn_edge.confidence", Attr::D(0.5 + (i % 5) as f64 / 10.0)),
                    ("burn_edge.prediction_id", s(&format!("p-{id}"))),
                ],
            ));
            if i % 3 == 0 {
                records.push(record(
                    "burn_edge.feedback",
                    T0 + minute * MINUTE + i * 1_000_000 + 1,
                    &[
                        ("event.id", s(&format!("fb-{id}"))),
                        ("burn_edge.prediction_id", s(&format!("p-{id}"))),
                        ("burn_edge.true_label", Attr::I((i % 7) as i64)),
                    ],
                ));
            }
        }
        records.push(record(
            "burn_edge.model.load",
            T0 + minute * MINUTE,
            &[
                ("event.id", s(&format!("load-{minute}"))),
                ("burn_edge.model.name", s("mnist")),
                ("burn_edge.model.version", s("1.0.0")),
                ("burn_edge.backend", s("cpu")),
                ("burn_edge.variant", s("stable")),
                ("burn_edge.load.time_to_first_prediction_ms", Attr::D(400.0 + minute as f64 * 100.0)),
            ],
        ));
        records.push(record(
            "burn_edge.backend.fallback",
            T0 + minute * MINUTE + 5,
            &[
                ("event.id", s(&format!("fallback-{minute}"))),
                ("burn_edge.model.name", s("mnist")),
                ("burn_edge.model.version", s("1.0.0")),
                ("burn_edge.fallback.from", s("webgpu")),
                ("burn_edge.fallback.to", s("cpu")),
                ("burn_edge.fallback.reason", s("no adapter")),
            ],
        ));
        for e in 0..minute {
            records.push(record(
                "burn_edge.error",
                T0 + minute * MINUTE + 9,
                &[
                    ("event.id", s(&format!("err-{minute}-{e}"))),
                    ("burn_edge.model.name", s("mnist")),
                    ("burn_edge.model.version", s("1.1.0")),
                    ("error.type", s("IntegrityError")),
                    ("error.message", s("sha256 mismatch")),
                ],
            ));
        }
        let body = batch(&records);
        batches.push(body.clone());
        batches.push(body);
    }
    batches
}

/// Asserts a ClickHouse summary equals SQLite's: all but `feedbackAsOf`, which only ClickHouse
/// sets (it computes the accuracy periodically). Names the first field that differs.
fn assert_same(mut house: serde_json::Value, lite: &serde_json::Value) {
    assert!(lite["feedbackAsOf"].is_null());
    assert!(house["feedbackAsOf"].as_i64().is_some(), "{}", house["feedbackAsOf"]);
    house["feedbackAsOf"] = serde_json::Value::Null;
    if house != *lite {
        for key in lite.as_object().unwrap().keys() {
            assert_eq!(house[key], lite[key], "summaries differ in {key:?}");
        }
        panic!("summaries differ");
    }
}

fn send_all(addr: &str, batches: &[String]) {
    for body in batches {
        let (status, _, msg) = request(addr, "POST", "/v1/logs", &[JSON, KEY], body.as_bytes());
        assert_eq!((status, msg.as_str()), (200, "{}"));
    }
}

#[test]
fn clickhouse_and_sqlite_give_the_same_summary() {
    let ch = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    let lite = start(&dir.path().join("t.sqlite"), &[]);
    let house = start_with(&["--clickhouse", &ch.url]);
    let traffic = traffic();
    send_all(&lite.addr, &traffic);
    send_all(&house.addr, &traffic);

    let expected = summary(&lite.addr);
    let got = summary(&house.addr);
    assert_same(got.clone(), &expected);
    // And the summary says what the traffic was (so equality is not of two empty reports).
    assert_eq!(got["events"]["burn_edge.inference"], 120);
    assert_eq!(got["events"]["burn_edge.feedback"], 42);
    let groups = got["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{got}");
    let stable = groups.iter().find(|g| g["version"] == "1.0.0").unwrap();
    assert_eq!((stable["count"].as_u64(), stable["versionFallbacks"].as_u64()), (Some(90), Some(3)));
    assert_eq!(stable["timeToFirstPredictionMs"]["p50"], 500.0);
    assert!(stable["feedback"]["count"].as_u64().unwrap() > 0);
    let canary = &got["versionTimeline"].as_array().unwrap().iter().find(|v| v["version"] == "1.1.0").unwrap()["points"];
    let errors: Vec<u64> = canary.as_array().unwrap().iter().map(|p| p["errors"].as_u64().unwrap()).collect();
    assert_eq!(errors, [0, 1, 2]);
    // One row per event id in ClickHouse itself, after forcing the background merge.
    ch.query("OPTIMIZE TABLE burn_edge_events FINAL");
    assert_eq!(ch.query("SELECT count() FROM burn_edge_events").trim(), (120 + 42 + 3 + 3 + 3).to_string());
}

#[test]
fn clickhouse_keeps_events_across_restarts_and_an_outage_is_503() {
    let mut ch = ClickHouse::start();
    let traffic = traffic();
    {
        let house = start_with(&["--clickhouse", &ch.url]);
        send_all(&house.addr, &traffic[..2]);
    }
    let house = start_with(&["--clickhouse", &ch.url]);
    assert_eq!(summary(&house.addr)["events"]["burn_edge.inference"], 40);
    ch.stop();
    let (status, _, msg) = request(&house.addr, "POST", "/v1/logs", &[JSON, KEY], traffic[2].as_bytes());
    assert_eq!(status, 503, "{msg}");
    assert!(msg.contains("storage failed: clickhouse at http://127.0.0.1:"), "{msg}");
    let (status, _, msg) = request(&house.addr, "GET", "/api/telemetry/summary", &[READ], b"");
    assert_eq!(status, 503, "{msg}");
}

fn inference_in(id: &str, model: &str, class: i64, latency: f64, time: u64, pid: &str) -> String {
    record(
        "burn_edge.inference",
        time,
        &[
            ("event.id", s(id)),
            ("burn_edge.model.name", s(model)),
            ("burn_edge.model.version", s("1.0.0")),
            ("burn_edge.backend", s("cpu")),
            ("burn_edge.latency_ms", Attr::D(latency)),
            ("burn_edge.batch_size", Attr::I(1)),
            ("burn_edge.predicted_class", Attr::I(class)),
            ("burn_edge.confidence", Attr::D(0.7)),
            ("burn_edge.prediction_id", s(pid)),
        ],
    )
}

fn feedback_in(id: &str, pid: &str, label: i64, time: u64) -> String {
    record(
        "burn_edge.feedback",
        time,
        &[("event.id", s(id)), ("burn_edge.prediction_id", s(pid)), ("burn_edge.true_label", Attr::I(label))],
    )
}

/// Events that broke the summary or made the sinks disagree: a shared prediction id with many
/// inferences and feedback events in two apps, classes far out of range, latencies at and
/// beyond the histogram's edges.
#[test]
fn hostile_events_give_the_same_bounded_summary_in_both_sinks() {
    let ch = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    let keys = ["--ingest-key", "a=key-a", "--ingest-key", "b=key-b"];
    let lite = start(&dir.path().join("t.sqlite"), &keys);
    let mut args = vec!["--clickhouse", ch.url.as_str()];
    args.extend_from_slice(&keys);
    let house = start_with(&args);
    // App a: 200 inferences and 200 feedback events for one prediction id; the latest of each
    // (time 199: predicted 3, label 3) is the one that counts.
    let a: Vec<String> = (0..200u64)
        .flat_map(|i| {
            let class = if i == 199 { 3 } else { 1 };
            let label = if i == 199 { 3 } else { 2 };
            [
                inference_in(&format!("i{i}"), "shared", class, 1.0 + i as f64, T0 + i, "p"),
                feedback_in(&format!("f{i}"), "p", label, T0 + i),
            ]
        })
        .collect();
    // App b: the same id for its own prediction, wrong; and hostile values.
    let mut b = vec![inference_in("i", "other", 4, 2.0, T0, "p"), feedback_in("f", "p", 5, T0 + 1)];
    for (i, (class, latency)) in
        [(1i64 << 47, 0.0), (-5, -3.0), (i64::MAX, 1e300), (2, 5e-324), (999, 1048576.0), (1000, 0.0009765625)].iter().enumerate()
    {
        b.push(inference_in(&format!("h{i}"), "other", *class, *latency, T0 + MINUTE * i as u64, &format!("q{i}")));
    }
    for addr in [&lite.addr, &house.addr] {
        for (key, records) in [("key-a", &a), ("key-b", &b)] {
            let (status, _, msg) = request(addr, "POST", "/v1/logs", &[JSON, ("x-burn-edge-key", key)], batch(records).as_bytes());
            assert_eq!((status, msg.as_str()), (200, "{}"));
        }
    }
    let expected = summary(&lite.addr);
    assert_same(summary(&house.addr), &expected);
    let groups = expected["groups"].as_array().unwrap();
    let group = |model: &str| groups.iter().find(|g| g["model"] == model).unwrap();
    // One feedback per (app, prediction id): was 200 x 201 in SQLite.
    assert_eq!(group("shared")["feedback"], serde_json::json!({ "count": 1, "correct": 1, "accuracy": 1.0 }));
    assert_eq!(group("other")["feedback"]["count"], 1);
    let other = group("other");
    assert_eq!(other["count"], 7);
    assert_eq!(other["classesOutOfRange"], 4, "{other}");
    assert_eq!(other["classDistribution"].as_array().unwrap().len(), 1000);
    assert_eq!(group("shared")["latencyMs"]["p50"], 100.0);
}

#[test]
fn overlapping_inserts_of_one_batch_are_corrected_when_next_seen() {
    // Two inserts of one batch that overlapped (each checked before the other had stored it)
    // whose correction was never written: simulated by copying the stored rows once more,
    // which the rollup's views count again.
    let ch = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    let lite = start(&dir.path().join("t.sqlite"), &[]);
    let house = start_with(&["--clickhouse", &ch.url]);
    let traffic = traffic();
    send_all(&lite.addr, &traffic);
    send_all(&house.addr, &traffic);
    ch.query("INSERT INTO burn_edge_events SELECT * FROM burn_edge_events");
    assert_eq!(summary(&house.addr)["events"]["burn_edge.inference"], 240, "the copies count until corrected");
    // The client's retry of those batches finds every id stored twice and corrects it.
    send_all(&house.addr, &traffic);
    assert_same(summary(&house.addr), &summary(&lite.addr));
    assert_eq!(ch.query("SELECT count() FROM burn_edge_rollup_corrections FINAL WHERE kind = 'events'").trim(), "171");
    // Corrected once, however often it is seen again.
    send_all(&house.addr, &traffic);
    assert_same(summary(&house.addr), &summary(&lite.addr));
}

#[test]
fn two_collectors_inserting_the_same_batches_at_once_count_each_event_once() {
    let ch = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    let lite = start(&dir.path().join("t.sqlite"), &[]);
    let (a, b) = (start_with(&["--clickhouse", &ch.url]), start_with(&["--clickhouse", &ch.url]));
    let traffic = traffic();
    send_all(&lite.addr, &traffic);
    // Each batch to both collectors at the same moment, 20 rounds of fresh ids.
    for round in 0..20 {
        let renamed: Vec<String> = traffic.iter().map(|t| t.replace("\"inf-", &format!("\"r{round}-inf-"))).collect();
        std::thread::scope(|scope| {
            for addr in [&a.addr, &b.addr] {
                let renamed = &renamed;
                scope.spawn(move || send_all(addr, renamed));
            }
        });
    }
    let copies: u64 = ch.query("SELECT count() FROM burn_edge_copies").trim().parse().unwrap();
    let distinct: u64 = ch.query("SELECT uniqExact(app, event_id) FROM burn_edge_events").trim().parse().unwrap();
    eprintln!("{distinct} events, {copies} copies inserted");
    // The two inserts of a batch overlapped often (about 3 in 4 in runs here): what is tested.
    assert!(copies > distinct, "no insert overlapped another: {copies} copies of {distinct} events");
    let got = summary(&a.addr);
    assert_eq!(got["events"]["burn_edge.inference"], 120 * 20);
    assert_eq!(got["events"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>(), distinct);
    assert_eq!(got["groups"][0]["count"], 90 * 20);
}

#[test]
fn the_accuracy_is_reused_for_its_refresh_interval() {
    let ch = ClickHouse::start();
    let slow = start_with(&["--clickhouse", &ch.url, "--clickhouse-accuracy-every", "3600"]);
    let first = vec![inference_in("i1", "m", 3, 1.0, T0, "p1"), feedback_in("f1", "p1", 3, T0 + 1)];
    let (status, _, _) = request(&slow.addr, "POST", "/v1/logs", &[JSON, KEY], batch(&first).as_bytes());
    assert_eq!(status, 200);
    let before = summary(&slow.addr);
    assert_eq!(before["groups"][0]["feedback"]["count"], 1);
    let second = vec![inference_in("i2", "m", 3, 1.0, T0, "p2"), feedback_in("f2", "p2", 4, T0 + 1)];
    let (status, _, _) = request(&slow.addr, "POST", "/v1/logs", &[JSON, KEY], batch(&second).as_bytes());
    assert_eq!(status, 200);
    let stale = summary(&slow.addr);
    assert_eq!(stale["groups"][0]["count"], 2, "the rollup is current");
    assert_eq!(stale["groups"][0]["feedback"]["count"], 1, "the accuracy is an hour's");
    assert_eq!(stale["feedbackAsOf"], before["feedbackAsOf"]);
    // A collector that refreshes at once computes it for every collector.
    let eager = start_with(&["--clickhouse", &ch.url, "--clickhouse-accuracy-every", "0"]);
    let fresh = summary(&eager.addr);
    assert_eq!(fresh["groups"][0]["feedback"], serde_json::json!({ "count": 2, "correct": 1, "accuracy": 0.5 }));
    assert_eq!(summary(&slow.addr)["groups"][0]["feedback"], fresh["groups"][0]["feedback"]);
    // Nothing new: the stored result is current, so it is reused even at 0.
    assert_eq!(summary(&eager.addr)["feedbackAsOf"], fresh["feedbackAsOf"]);
}

#[test]
fn a_table_from_before_the_rollup_is_rolled_up_when_opened() {
    let ch = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    let lite = start(&dir.path().join("t.sqlite"), &[]);
    let traffic = traffic();
    send_all(&lite.addr, &traffic);
    {
        let house = start_with(&["--clickhouse", &ch.url]);
        send_all(&house.addr, &traffic);
    }
    // What a collector from before the rollup left: the events table alone.
    let views = ch.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'");
    for view in views.lines() {
        ch.query(&format!("DROP TABLE {view}"));
    }
    for table in ["burn_edge_rollup", "burn_edge_rollup_corrections", "burn_edge_copies", "burn_edge_accuracy"] {
        ch.query(&format!("DROP TABLE {table}"));
    }
    let house = start_with(&["--clickhouse", &ch.url]);
    assert_same(summary(&house.addr), &summary(&lite.addr));
    // And retries of what was stored before still count once.
    send_all(&house.addr, &traffic);
    assert_same(summary(&house.addr), &summary(&lite.addr));
}
