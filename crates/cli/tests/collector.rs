//! The telemetry collector of `burn-edge serve` over real HTTP with a real SQLite file: auth,
//! origins, limits, malformed and hostile bodies, partial success, dedup, and a restart that
//! keeps every acknowledged event.

mod support;

use std::io::Write;

use support::{batch, inference, request, start, summary, JSON, KEY};

#[test]
fn auth_origin_and_content_checks() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &[]);
    let body = batch(&[inference("a1", 1.0)]);
    let (status, _, msg) = request(&s.addr, "POST", "/v1/logs", &[JSON], body.as_bytes());
    assert_eq!(status, 401, "{msg}");
    assert!(msg.contains("missing or unknown ingest key"), "{msg}");
    let (status, _, _) = request(&s.addr, "POST", "/v1/logs", &[JSON, ("x-burn-edge-key", "nope")], body.as_bytes());
    assert_eq!(status, 401);
    let (status, _, msg) = request(&s.addr, "POST", "/v1/logs", &[JSON, KEY, ("origin", "https://evil.example")], body.as_bytes());
    assert_eq!(status, 403, "{msg}");
    let (status, _, msg) = request(&s.addr, "POST", "/v1/logs", &[("content-type", "application/x-protobuf"), KEY], b"\x0a\x00");
    assert_eq!(status, 415, "{msg}");
    // The key in the query (sendBeacon cannot set headers), from a loopback page.
    let (status, _, msg) = request(&s.addr, "POST", "/v1/logs?key=demo-key", &[JSON, ("origin", "http://127.0.0.1:9")], body.as_bytes());
    assert_eq!((status, msg.as_str()), (200, "{}"));
    // A beacon's text/plain body (CORS-safelisted, so no preflight) is OTLP JSON all the same.
    let beacon = batch(&[inference("a2", 1.0)]);
    let (status, _, msg) =
        request(&s.addr, "POST", "/v1/logs?key=demo-key", &[("content-type", "text/plain;charset=UTF-8")], beacon.as_bytes());
    assert_eq!((status, msg.as_str()), (200, "{}"));
}

#[test]
fn malformed_and_hostile_bodies_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &["--max-body-bytes", "65536"]);
    let post = |headers: &[(&str, &str)], body: &[u8]| request(&s.addr, "POST", "/v1/logs", headers, body);
    let (status, _, msg) = post(&[JSON, KEY], b"{not json");
    assert_eq!(status, 400);
    assert!(msg.contains("not an OTLP JSON logs request"), "{msg}");
    let deep = "[".repeat(100_00) + &"]".repeat(100_00);
    assert_eq!(post(&[JSON, KEY], format!("{{\"resourceLogs\":{deep}}}").as_bytes()).0, 400);
    assert_eq!(post(&[JSON, KEY], &vec![b' '; 70_000]).0, 413);
    // A gzip bomb: 50 MB of spaces compress to ~50 KB; refused once 64 KiB are inflated.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 50 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    let (status, _, msg) = post(&[JSON, KEY, ("content-encoding", "gzip")], &bomb);
    assert_eq!(status, 413, "{msg}");
    assert!(msg.contains("after decompression"), "{msg}");
    assert_eq!(post(&[JSON, KEY, ("content-encoding", "gzip")], b"not gzip").0, 400);
    assert_eq!(post(&[JSON, KEY, ("content-encoding", "br")], b"x").0, 415);
    // Nothing above was stored.
    assert_eq!(summary(&s.addr)["events"], serde_json::json!({}));
}

#[test]
fn partial_success_dedup_gzip_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let records: Vec<String> = (1..=100).map(|i| inference(&format!("e{i}"), i as f64)).collect();
    let mut with_bad = records.clone();
    with_bad.push(r#"{"eventName":"burn_edge.inference","attributes":[]}"#.into());
    {
        let s = start(&db, &[]);
        let (status, _, body) = request(&s.addr, "POST", "/v1/logs", &[JSON, KEY], batch(&with_bad).as_bytes());
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["partialSuccess"]["rejectedLogRecords"], "1");
        assert!(v["partialSuccess"]["errorMessage"].as_str().unwrap().contains("missing attribute event.id"), "{v}");
        // The same batch again, gzipped: a retry, so nothing is counted twice.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(batch(&records).as_bytes()).unwrap();
        let (status, _, _) = request(&s.addr, "POST", "/v1/logs", &[JSON, KEY, ("content-encoding", "gzip")], &gz.finish().unwrap());
        assert_eq!(status, 200);
        let sum = summary(&s.addr);
        assert_eq!(sum["events"]["burn_edge.inference"], 100);
        let group = &sum["groups"][0];
        assert_eq!(
            (group["model"].as_str(), group["version"].as_str(), group["backend"].as_str()),
            (Some("mnist"), Some("1.0.0"), Some("cpu"))
        );
        let ms = &group["latencyMs"];
        assert_eq!((ms["p50"].as_f64(), ms["p95"].as_f64(), ms["p99"].as_f64()), (Some(50.0), Some(95.0), Some(99.0)));
        // Every prediction was a 7; against the published 1.0.0 reference that is an alert.
        assert_eq!(group["classDistribution"][7], 1.0);
        assert_eq!(group["drift"]["level"], "alert", "{group}");
        assert!(group["drift"]["jsDistance"].as_f64().unwrap() > 0.8, "{group}");
    }
    // Restarted on the same file: every acknowledged event is still there.
    let s = start(&db, &[]);
    assert_eq!(summary(&s.addr)["events"]["burn_edge.inference"], 100);
}

#[test]
fn a_key_over_its_rate_gets_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &["--rate-limit", "1"]);
    let body = batch(&[inference("r1", 1.0)]);
    let statuses: Vec<u16> = (0..4).map(|_| request(&s.addr, "POST", "/v1/logs", &[JSON, KEY], body.as_bytes()).0).collect();
    assert_eq!(&statuses[..2], &[200, 200], "burst of 2");
    assert_eq!(statuses[2], 429);
    let (_, head, _) = request(&s.addr, "POST", "/v1/logs", &[JSON, KEY], body.as_bytes());
    assert!(head.contains("retry-after: 1"), "{head}");
}
