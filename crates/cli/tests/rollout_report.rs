//! `GET /api/rollout` over real HTTP against `burn-edge serve` with a real SQLite file and a
//! real ClickHouse server: traffic with a known canary, control, shadow pairs, interleave picks
//! and swaps gives exact counts, agreement, confusion cells and percentiles, the same in both
//! stores; malformed rollout attributes are refused per the vocabulary; hostile stored values
//! read back without harm; the read key, the model name and unknown models are handled.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::{record, request, start_with, Attr, ClickHouse, JSON, KEY, READ};

const T0: u64 = 1_764_000_000_000_000_000;
const RULE: &str = "mnist-1.1.0-canary";

fn s(v: &str) -> Attr {
    Attr::S(v.to_string())
}

/// A batch from one install.
fn from_install(install: &str, records: &[String]) -> String {
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"burn_edge.install_id","value":{{"stringValue":"{install}"}}}}]}},
        "scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
        records.join(",")
    )
}

/// A models folder with mnist's manifests (the drift references), a channel with a canary
/// rule and an interleave, and a guard log.
fn models_folder(dir: &Path) -> std::path::PathBuf {
    let models = dir.join("models");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/mnist");
    for version in ["1.0.0", "1.1.0"] {
        std::fs::create_dir_all(models.join("mnist").join(version)).unwrap();
        std::fs::copy(source.join(version).join("manifest.json"), models.join("mnist").join(version).join("manifest.json")).unwrap();
    }
    let channel = json!({
        "schemaVersion": 2, "name": "mnist", "aliases": { "stable": "1.0.0", "canary": "1.1.0" },
        "versions": ["1.0.0", "1.1.0"], "updatedAt": "2026-12-01T15:00:00Z",
        "rollout": {
            "rules": [{ "key": RULE, "kind": "rollout", "alias": "stable", "coverage": 0.4,
                        "arms": [{ "name": "canary", "version": "1.1.0", "weight": 1 }] }],
            "shadow": [{ "alias": "stable", "challenger": "1.1.0", "sampleRate": 0.2 }],
            "interleave": [{ "key": "mnist-il", "alias": "stable",
                             "arms": [{ "name": "a", "version": "1.0.0" }, { "name": "b", "version": "1.1.0" }] }]
        }
    });
    std::fs::write(models.join("mnist/channel.json"), channel.to_string()).unwrap();
    let log = json!([
        { "at": "2026-12-01T15:00:00Z", "action": "canary", "rule": RULE, "detail": "1.1.0 at 40%", "by": "cli" },
        { "at": "2026-12-01T15:10:00Z", "action": "rollback", "rule": RULE, "detail": "error rate 0.1 vs 0.016, p=0.001", "by": "guard" }
    ]);
    std::fs::write(models.join("mnist/rollout-log.json"), log.to_string()).unwrap();
    models
}

#[allow(clippy::too_many_arguments)]
fn inference(id: &str, version: &str, latency: f64, class: i64, t: u64, extra: &[(&str, Attr)]) -> String {
    let mut attrs = vec![
        ("event.id", s(id)),
        ("burn_edge.model.name", s("mnist")),
        ("burn_edge.model.version", s(version)),
        ("burn_edge.backend", s("cpu")),
        ("burn_edge.latency_ms", Attr::D(latency)),
        ("burn_edge.batch_size", Attr::I(1)),
        ("burn_edge.predicted_class", Attr::I(class)),
        ("burn_edge.confidence", Attr::D(0.9)),
    ];
    attrs.extend(extra.iter().map(|(k, v)| (*k, clone(v))));
    record("burn_edge.inference", t, &attrs)
}

fn clone(a: &Attr) -> Attr {
    match a {
        Attr::S(v) => Attr::S(v.clone()),
        Attr::I(v) => Attr::I(*v),
        Attr::D(v) => Attr::D(*v),
    }
}

/// The traffic, as (install id, batch records):
/// - control: 6 installs on alias stable (c5 an old shell that sent the alias as the role),
///   60 predictions of 1.0.0 at 1..=60 ms, classes i % 10, prediction ids p0..p59; 1 error;
/// - canary: 4 installs with 5 exposures (k0 twice), 20 predictions of 1.1.0 at 10..=200 ms,
///   2 errors and 1 fallback;
/// - shadow: 1.1.0 re-runs p0..p9 (classes equal but p3 -> 5 and p7 -> 1, 100+i ms), plus one
///   whose served prediction never arrived;
/// - interleave mnist-il: a 3, b 5, tie 2; swaps at 100, 200, 300, 400 ms.
fn traffic() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for u in 0..6u64 {
        let install = format!("c{u}");
        let mut records = Vec::new();
        for j in 0..10u64 {
            let i = u * 10 + j;
            let tag: (&str, Attr) = if u == 5 { ("burn_edge.role", s("stable")) } else { ("burn_edge.alias", s("stable")) };
            let mut extra = vec![tag, ("burn_edge.prediction_id", s(&format!("p{i}")))];
            if u != 5 {
                extra.push(("burn_edge.role", s("served")));
            }
            records.push(inference(&format!("ci{i}"), "1.0.0", (i + 1) as f64, (i % 10) as i64, T0 + i, &extra));
        }
        if u == 0 {
            records.push(record(
                "burn_edge.error",
                T0,
                &[
                    ("event.id", s("ce0")),
                    ("burn_edge.model.name", s("mnist")),
                    ("burn_edge.model.version", s("1.0.0")),
                    ("burn_edge.alias", s("stable")),
                    ("error.type", s("Error")),
                    ("error.message", s("x")),
                ],
            ));
        }
        out.push((install, records));
    }
    let rollout = |extra: &mut Vec<(&str, Attr)>| {
        extra.push(("burn_edge.alias", s("stable")));
        extra.push(("burn_edge.rollout.rule", s(RULE)));
        extra.push(("burn_edge.rollout.arm", s("canary")));
    };
    for u in 0..4u64 {
        let install = format!("k{u}");
        let mut records = Vec::new();
        for e in 0..(if u == 0 { 2 } else { 1 }) {
            records.push(record(
                "burn_edge.exposure",
                T0,
                &[
                    ("event.id", s(&format!("kx{u}-{e}"))),
                    ("burn_edge.model.name", s("mnist")),
                    ("burn_edge.model.version", s("1.1.0")),
                    ("burn_edge.rollout.rule", s(RULE)),
                    ("burn_edge.rollout.arm", s("canary")),
                    ("burn_edge.alias", s("stable")),
                    ("burn_edge.rollout.kind", s("rollout")),
                    ("burn_edge.rollout.bucket", Attr::D(0.1)),
                    ("burn_edge.rollout.bucket_version", Attr::I(1)),
                ],
            ));
        }
        for j in 0..5u64 {
            let i = u * 5 + j;
            let mut extra = vec![("burn_edge.role", s("served"))];
            rollout(&mut extra);
            records.push(inference(&format!("ki{i}"), "1.1.0", ((i + 1) * 10) as f64, 3, T0 + i, &extra));
        }
        if u < 2 {
            let mut attrs = vec![
                ("event.id", s(&format!("ke{u}"))),
                ("burn_edge.model.name", s("mnist")),
                ("burn_edge.model.version", s("1.1.0")),
                ("error.type", s("Error")),
                ("error.message", s("x")),
            ];
            rollout(&mut attrs);
            records.push(record("burn_edge.error", T0, &attrs));
        }
        if u == 0 {
            let mut attrs = vec![
                ("event.id", s("kf0")),
                ("burn_edge.model.name", s("mnist")),
                ("burn_edge.model.version", s("1.1.0")),
                ("burn_edge.fallback.from", s("webgpu")),
                ("burn_edge.fallback.to", s("cpu")),
                ("burn_edge.fallback.reason", s("lost")),
            ];
            rollout(&mut attrs);
            records.push(record("burn_edge.backend.fallback", T0, &attrs));
        }
        out.push((install, records));
    }
    // Shadows of c0's predictions, from c0.
    let mut shadows: Vec<String> = (0..10u64)
        .map(|i| {
            let class = match i {
                3 => 5,
                7 => 1,
                _ => i as i64,
            };
            let extra = [("burn_edge.role", s("shadow")), ("burn_edge.alias", s("stable")), ("burn_edge.shadow.of", s(&format!("p{i}")))];
            inference(&format!("sh{i}"), "1.1.0", (100 + i) as f64, class, T0 + 100 + i, &extra)
        })
        .collect();
    shadows.push(inference("sh-orphan", "1.1.0", 5.0, 1, T0, &[("burn_edge.role", s("shadow")), ("burn_edge.shadow.of", s("never"))]));
    let picks = [("a", 3), ("b", 5), ("tie", 2)];
    let mut n = 0;
    for (winner, count) in picks {
        for _ in 0..count {
            shadows.push(record(
                "burn_edge.interleave",
                T0,
                &[
                    ("event.id", s(&format!("il{n}"))),
                    ("burn_edge.model.name", s("mnist")),
                    ("burn_edge.rollout.rule", s("mnist-il")),
                    ("burn_edge.interleave.winner", s(winner)),
                    ("burn_edge.prediction_id", s(&format!("p{n}"))),
                ],
            ));
            n += 1;
        }
    }
    for (i, ms) in [100.0, 200.0, 300.0, 400.0].iter().enumerate() {
        shadows.push(record(
            "burn_edge.swap",
            T0,
            &[
                ("event.id", s(&format!("sw{i}"))),
                ("burn_edge.model.name", s("mnist")),
                ("burn_edge.swap.from", s("1.0.0")),
                ("burn_edge.swap.to", s("1.1.0")),
                ("burn_edge.swap.ms", Attr::D(*ms)),
                ("burn_edge.swap.reason", s("channel")),
            ],
        ));
    }
    out.push(("c0".into(), shadows));
    out
}

fn send(addr: &str, traffic: &[(String, Vec<String>)]) {
    for (install, records) in traffic {
        let body = from_install(install, records);
        // Twice: a retried batch never counts twice.
        for _ in 0..2 {
            let (status, _, msg) = request(addr, "POST", "/v1/logs", &[JSON, KEY], body.as_bytes());
            assert_eq!((status, msg.as_str()), (200, "{}"));
        }
    }
}

fn rollout(addr: &str, model: &str) -> Value {
    let (status, _, body) = request(addr, "GET", &format!("/api/rollout?model={model}"), &[READ], b"");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn check_report(r: &Value) {
    assert_eq!(r["rule"], RULE);
    let arms = r["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 1, "{r:#}");
    let canary = &arms[0];
    assert_eq!((canary["arm"].as_str(), canary["version"].as_str(), canary["rule"].as_str()), (Some("canary"), Some("1.1.0"), Some(RULE)));
    assert_eq!((canary["users"].as_i64(), canary["exposures"].as_i64(), canary["predictions"].as_i64()), (Some(4), Some(5), Some(20)));
    assert_eq!((canary["p50Ms"].as_f64(), canary["p95Ms"].as_f64()), (Some(100.0), Some(190.0)));
    assert_eq!((canary["errors"].as_i64(), canary["fallbacks"].as_i64()), (Some(2), Some(1)));
    assert_eq!((canary["errorRate"].as_f64(), canary["fallbackRate"].as_f64()), (Some(0.1), Some(0.05)));
    // Control's p95 is 57 ms, in the bucket [56, 58): 60..=200 are slower (15 of 20).
    assert_eq!(canary["slowOverControlP95"], 15);
    assert_eq!(canary["kind"], "rollout");
    assert_eq!(canary["drift"]["level"], "alert", "every canary prediction is class 3");
    let control = &r["control"];
    assert_eq!((control["rule"].clone(), control["arm"].clone(), control["controlOf"].as_str()), (Value::Null, Value::Null, Some(RULE)));
    assert_eq!(
        (control["version"].as_str(), control["users"].as_i64(), control["predictions"].as_i64()),
        (Some("1.0.0"), Some(6), Some(60))
    );
    assert_eq!((control["p50Ms"].as_f64(), control["p95Ms"].as_f64(), control["errors"].as_i64()), (Some(30.0), Some(57.0), Some(1)));
    assert_eq!(control["slowOverControlP95"], 3, "58, 59 and 60 ms");
    assert_eq!(control["exposures"], 0);
    assert!(control["drift"]["psi"].as_f64().unwrap() < 0.1, "classes 0..9 evenly: {}", control["drift"]);
    assert_eq!(r["srm"]["observed"], json!({ "canary": 5, "control": 6 }));
    assert_eq!(r["srm"]["expectedShares"], json!({ "canary": 0.4, "control": 0.6 }));

    let shadow = r["shadow"].as_array().unwrap();
    assert_eq!(shadow.len(), 1, "{shadow:?}");
    let pair = &shadow[0];
    assert_eq!((pair["champion"].as_str(), pair["challenger"].as_str()), (Some("1.0.0"), Some("1.1.0")));
    assert_eq!((pair["pairs"].as_i64(), pair["agreement"].as_f64()), (Some(10), Some(0.8)));
    let confusion = pair["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 10, "mnist has 10 labels");
    assert_eq!(
        (confusion[3][5].as_i64(), confusion[7][1].as_i64(), confusion[3][3].as_i64(), confusion[0][0].as_i64()),
        (Some(1), Some(1), Some(0), Some(1))
    );
    let cells: i64 = confusion.iter().flat_map(|row| row.as_array().unwrap()).map(|c| c.as_i64().unwrap()).sum();
    assert_eq!(cells, 10);
    // Served side: p0..p9 at 1..=10 ms; shadow side 100..=109 ms.
    assert_eq!((pair["championP50Ms"].as_f64(), pair["championP95Ms"].as_f64()), (Some(5.0), Some(10.0)));
    assert_eq!((pair["challengerP50Ms"].as_f64(), pair["challengerP95Ms"].as_f64()), (Some(104.0), Some(109.0)));

    let mut interleave = r["interleave"].clone();
    // The Wilson interval of 5 wins of 8 decided picks (statistics added on top of the counts).
    let ci: Vec<f64> = interleave[0]["ci95"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!((ci[0] - 0.3057).abs() < 1e-3 && (ci[1] - 0.8632).abs() < 1e-3, "{ci:?}");
    interleave[0].as_object_mut().unwrap().remove("ci95");
    assert_eq!(
        interleave,
        json!([{ "rule": "mnist-il", "arms": ["a", "b"], "wins": { "a": 3, "b": 5 }, "ties": 2, "preferenceB": 0.625, "significant": false }])
    );
    assert_eq!(r["swaps"], json!({ "count": 4, "p50Ms": 200.0, "p95Ms": 400.0 }));
    let guard = r["guard"].as_array().unwrap();
    assert_eq!((guard.len(), guard[1]["by"].as_str()), (2, Some("guard")));
    assert_eq!(r["logError"], Value::Null);
    assert_eq!(r["channel"]["rollout"]["rules"][0]["key"], RULE);
}

#[test]
fn sqlite_and_clickhouse_give_the_same_exact_rollout_report() {
    let ch = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    let models = models_folder(dir.path());
    let models = models.to_str().unwrap();
    let db = dir.path().join("t.sqlite");
    let lite = start_with(&["--telemetry-db", db.to_str().unwrap(), "--models", models]);
    let house = start_with(&["--clickhouse", &ch.url, "--models", models]);
    let traffic = traffic();
    send(&lite.addr, &traffic);
    send(&house.addr, &traffic);
    let expected = rollout(&lite.addr, "mnist");
    check_report(&expected);
    assert_eq!(rollout(&house.addr, "mnist"), expected);
    // The shadow predictions are not the control's, and the summary still sees everything.
    let summary = support::summary(&lite.addr);
    assert_eq!(summary["events"]["burn_edge.inference"], 60 + 20 + 11);
    assert_eq!(summary["events"]["burn_edge.exposure"], 5);
    // The channel on disk is what /models/ serves.
    let (status, _, body) = request(&lite.addr, "GET", "/models/mnist/channel.json", &[], b"");
    assert_eq!(status, 200);
    assert!(body.contains(RULE));
    drop(lite);
    // Reopened after the rollout rollup was lost: rebuilt from the events, same report.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("DROP TABLE rollout_rollup; DROP TABLE rollout_users").unwrap();
    }
    let lite = start_with(&["--telemetry-db", db.to_str().unwrap(), "--models", models]);
    assert_eq!(rollout(&lite.addr, "mnist"), expected);
}

#[test]
fn malformed_rollout_attributes_are_refused_and_hostile_values_read_back_safely() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_folder(dir.path());
    let db = dir.path().join("t.sqlite");
    let args = ["--telemetry-db", db.to_str().unwrap(), "--models", models.to_str().unwrap()];
    let server = start_with(&args);
    let exposure = |id: &str, extra: &[(&str, Attr)], drop: &str| {
        let mut attrs = vec![
            ("event.id", s(id)),
            ("burn_edge.model.name", s("mnist")),
            ("burn_edge.model.version", s("1.1.0")),
            ("burn_edge.rollout.rule", s("r")),
            ("burn_edge.rollout.arm", s("canary")),
        ];
        attrs.retain(|(k, _)| *k != drop);
        attrs.extend(extra.iter().map(|(k, v)| (*k, clone(v))));
        record("burn_edge.exposure", T0, &attrs)
    };
    let records = vec![
        exposure("ok", &[("custom.attr", s("dropped"))], ""),
        exposure("no-rule", &[], "burn_edge.rollout.rule"),
        exposure("int-arm", &[("burn_edge.rollout.arm", Attr::I(3))], "burn_edge.rollout.arm"),
        exposure("bad-bucket", &[("burn_edge.rollout.bucket", s("half"))], ""),
        record(
            "burn_edge.swap",
            T0,
            &[
                ("event.id", s("sw")),
                ("burn_edge.model.name", s("mnist")),
                ("burn_edge.swap.from", s("1")),
                ("burn_edge.swap.to", s("2")),
                ("burn_edge.swap.ms", s("fast")),
            ],
        ),
        inference("long-of", "1.0.0", 1.0, 1, T0, &[("burn_edge.role", s("shadow")), ("burn_edge.shadow.of", s(&"p".repeat(129)))]),
        record(
            "burn_edge.interleave",
            T0,
            &[("event.id", s("il")), ("burn_edge.model.name", s("mnist")), ("burn_edge.rollout.rule", s("x"))],
        ),
    ];
    let (status, _, msg) = request(&server.addr, "POST", "/v1/logs", &[JSON, KEY], from_install("u", &records).as_bytes());
    assert_eq!(status, 200, "{msg}");
    let answer: Value = serde_json::from_str(&msg).unwrap();
    assert_eq!(answer["partialSuccess"]["rejectedLogRecords"], "6", "{msg}");
    let why = answer["partialSuccess"]["errorMessage"].as_str().unwrap();
    for reason in [
        "missing attribute burn_edge.rollout.rule",
        "burn_edge.rollout.arm must be String",
        "burn_edge.rollout.bucket must be Double",
        "burn_edge.swap.ms must be Double",
        "burn_edge.shadow.of is longer than 128 bytes",
    ] {
        assert!(why.contains(reason), "{reason}: {why}");
    }
    assert!(why.contains("1 attributes outside the vocabulary were dropped"), "{why}");

    // Hostile but valid values: quotes, backslashes, markup, 256-byte names.
    let hostile = "'\\\"<img src=x onerror=alert(1)>%00".to_string() + &"é".repeat(100);
    let hostile_rule: String = hostile.chars().take(120).collect();
    let records = vec![
        exposure(
            "h1",
            &[("burn_edge.rollout.rule", s(&hostile_rule)), ("burn_edge.rollout.arm", s(&"a".repeat(256)))],
            "burn_edge.rollout.rule",
        ),
        record(
            "burn_edge.interleave",
            T0,
            &[
                ("event.id", s("h2")),
                ("burn_edge.model.name", s("mnist")),
                ("burn_edge.rollout.rule", s(&hostile_rule)),
                ("burn_edge.interleave.winner", s("'; DROP TABLE events; --")),
            ],
        ),
    ];
    let (status, _, msg) = request(&server.addr, "POST", "/v1/logs", &[JSON, KEY], from_install("u", &records).as_bytes());
    assert_eq!((status, msg.as_str()), (200, "{}"));
    let r = rollout(&server.addr, "mnist");
    assert!(r["arms"].as_array().unwrap().iter().any(|a| a["rule"] == hostile_rule.as_str()), "{r:#}");
    assert_eq!(r["interleave"][0]["wins"]["'; DROP TABLE events; --"], 1);
    drop(server);

    // A row written straight into the file, past every check: a 1 MB rule and arm, an
    // impossible class and latency; and a guard log that is not JSON.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let huge = "\u{1F600}'\"\\".repeat(250_000);
        conn.execute(
            "INSERT INTO events (app, event_id, install_id, time_unix_nano, received_unix_ms, name, model_name, model_version, role,
               latency_ms, predicted_class, attributes, rollout_rule, rollout_arm) VALUES
             ('demo', 'raw', ?1, 1, 0, 'burn_edge.inference', 'mnist', ?1, 'served', -1e308, ?2, '{', ?1, ?1)",
            rusqlite::params![huge, i64::MIN],
        )
        .unwrap();
        conn.execute_batch("DROP TABLE rollout_rollup").unwrap();
    }
    std::fs::write(models.join("mnist/rollout-log.json"), "[{\"at\": ").unwrap();
    std::fs::write(models.join("mnist/channel.json"), b"\xff\xfe not json").unwrap();
    let server = start_with(&args);
    let r = rollout(&server.addr, "mnist");
    assert_eq!(r["guard"], json!([]));
    assert!(r["logError"].as_str().unwrap().contains("not JSON"), "{}", r["logError"]);
    assert!(r["channelError"].as_str().unwrap().contains("not JSON"), "{}", r["channelError"]);
    assert_eq!(r["channel"], Value::Null);
    assert!(r["arms"].as_array().unwrap().iter().any(|a| a["rule"].as_str().is_some_and(|s| s.len() > 900_000)));
}

#[test]
fn the_rollout_report_needs_the_read_key_a_plain_model_name_and_is_empty_for_an_unknown_model() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_folder(dir.path());
    let db = dir.path().join("t.sqlite");
    let server = start_with(&["--telemetry-db", db.to_str().unwrap(), "--models", models.to_str().unwrap()]);
    for headers in [&[][..], &[("x-burn-edge-read-key", "wrong")], &[KEY]] {
        let (status, head, _) = request(&server.addr, "GET", "/api/rollout?model=mnist", headers, b"");
        assert_eq!(status, 401, "{headers:?}");
        assert!(head.contains("www-authenticate"));
    }
    for bad in
        ["", "?model=", "?model=..", "?model=../mnist", "?model=%2e%2e%2fetc", "?model=a%2Fb", "?model=.hidden", "?model=a%00b", "?rule=x"]
    {
        let (status, _, body) = request(&server.addr, "GET", &format!("/api/rollout{bad}"), &[READ], b"");
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("model must be a model folder name"), "{body}");
    }
    let (status, _, body) = request(&server.addr, "GET", "/api/rollout?model=mnist&rule=", &[READ], b"");
    assert_eq!(status, 400, "{body}");
    let r = rollout(&server.addr, "nothing-here");
    assert_eq!(
        (r["arms"].clone(), r["shadow"].clone(), r["guard"].clone(), r["channel"].clone(), r["control"].clone()),
        (json!([]), json!([]), json!([]), Value::Null, Value::Null)
    );
    assert_eq!((r["swaps"]["count"].as_i64(), r["logError"].clone(), r["channelError"].clone()), (Some(0), Value::Null, Value::Null));
    // A known model with no events yet: its channel and log, no numbers.
    let r = rollout(&server.addr, "mnist");
    assert_eq!((r["rule"].as_str(), r["arms"].clone(), r["guard"].as_array().map(Vec::len)), (Some(RULE), json!([]), Some(2)));
    assert_eq!(r["control"]["predictions"], 0);
}

/// Tables created before rollouts get the new columns when the collector opens them.
#[test]
fn tables_from_before_rollouts_get_the_new_columns() {
    let old_columns = "app String, event_id String, install_id Nullable(String), time_unix_nano Int64, received_unix_ms Int64, name String,
        model_name Nullable(String), model_version Nullable(String), backend Nullable(String), variant Nullable(String),
        role Nullable(String), latency_ms Nullable(Float64), batch_size Nullable(Int64), predicted_class Nullable(Int64),
        confidence Nullable(Float64), prediction_id Nullable(String), true_label Nullable(Int64), ttfp_ms Nullable(Float64), attributes String";
    let ch = ClickHouse::start();
    ch.query(&format!("CREATE TABLE burn_edge_events ({old_columns}) ENGINE = ReplacingMergeTree() ORDER BY (app, event_id)"));
    ch.query("INSERT INTO burn_edge_events (app, event_id, time_unix_nano, received_unix_ms, name, model_name, model_version, latency_ms, predicted_class, attributes)
        VALUES ('demo', 'old', 1, 0, 'burn_edge.inference', 'mnist', '1.0.0', 2.0, 1, '{}')");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.sqlite");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let sqlite_columns = old_columns
            .replace("Nullable(String)", "TEXT")
            .replace("Nullable(Float64)", "REAL")
            .replace("Nullable(Int64)", "INTEGER")
            .replace("String", "TEXT")
            .replace("Int64", "INTEGER");
        conn.execute_batch(&format!(
            "CREATE TABLE events ({sqlite_columns}, PRIMARY KEY (app, event_id));
             INSERT INTO events (app, event_id, time_unix_nano, received_unix_ms, name, model_name, model_version, latency_ms, predicted_class, attributes)
             VALUES ('demo', 'old', 1, 0, 'burn_edge.inference', 'mnist', '1.0.0', 2.0, 1, '{{}}');"
        ))
        .unwrap();
    }
    let models = models_folder(dir.path());
    let models = models.to_str().unwrap();
    let lite = start_with(&["--telemetry-db", db.to_str().unwrap(), "--models", models]);
    let house = start_with(&["--clickhouse", &ch.url, "--models", models]);
    let traffic = traffic();
    send(&lite.addr, &traffic);
    send(&house.addr, &traffic);
    let expected = rollout(&lite.addr, "mnist");
    assert_eq!(rollout(&house.addr, "mnist"), expected);
    check_report(&expected);
    assert!(ch.query("SELECT name FROM system.columns WHERE table = 'burn_edge_events'").contains("shadow_of"));
}
