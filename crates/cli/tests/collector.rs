//! The telemetry collector of `burn-edge serve` over real HTTP with a real SQLite file: auth,
//! origins, limits, malformed and hostile bodies, partial success, dedup, a restart that
//! keeps every acknowledged event, and the server's own defences (timeouts, connection cap,
//! key before body, the summary's read key, demo keys only on loopback).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{batch, connect_from, inference, request, request_on, serve_refused, start, summary, JSON, KEY, READ};

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
    let (status, _, msg) = request(&s.addr, "POST", "/v1/logs", &[("content-type", "application/xml"), KEY], b"<logs/>");
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
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
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

/// Reads what the server sends until it closes or `limit` passes; (text, time it took).
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset after the answer is a close too; a timeout means it never closed.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no close within {limit:?} ({e}); got {:?}", String::from_utf8_lossy(&out)),
        }
    }
    (String::from_utf8_lossy(&out).to_string(), started.elapsed())
}

#[test]
fn a_wrong_key_is_refused_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &[]);
    let before = s.rss_kib();
    // 100 uploads announcing 1 MiB each with a wrong key, whose bodies never come (the old
    // collector waited for every body before looking at the key).
    let mut streams: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut stream = TcpStream::connect(&s.addr).unwrap();
            write!(stream, "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-burn-edge-key: wrong\r\nContent-Length: 1048576\r\n\r\n").unwrap();
            stream
        })
        .collect();
    for stream in &mut streams {
        let (text, took) = read_until_closed(stream, Duration::from_secs(5));
        assert!(text.starts_with("HTTP/1.1 401"), "{text}");
        assert!(took < Duration::from_secs(3), "answered without waiting for the body: {took:?}");
    }
    let grown = s.rss_kib().saturating_sub(before);
    eprintln!("resident memory after 100 stalled 1 MiB uploads with a wrong key: +{grown} KiB");
    assert!(grown < 20 * 1024, "+{grown} KiB");
}

#[test]
fn half_a_header_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &["--header-timeout", "1"]);
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    stream.write_all(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: appl").unwrap();
    let (_, took) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(took >= Duration::from_millis(800) && took < Duration::from_secs(4), "closed after {took:?}");
    // An idle keep-alive connection is closed too.
    let mut idle = TcpStream::connect(&s.addr).unwrap();
    let (_, took) = read_until_closed(&mut idle, Duration::from_secs(10));
    assert!(took < Duration::from_secs(4), "idle connection closed after {took:?}");
}

#[test]
fn a_stalled_body_gets_408() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &["--body-timeout", "1"]);
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    write!(stream, "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-burn-edge-key: demo-key\r\nContent-Length: 1000\r\n\r\n{{\"resourceLogs\"").unwrap();
    let (text, took) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(summary(&s.addr)["events"], serde_json::json!({}));
}

#[test]
fn over_the_connection_cap_a_connection_gets_503_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &["--max-connections", "4", "--header-timeout", "30"]);
    // No wait needed: one accept loop takes connections in the order the kernel queued them and
    // gives each its permit at once, so the fifth connection is the one over the cap.
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&s.addr).unwrap()).collect();
    let mut extra = TcpStream::connect(&s.addr).unwrap();
    let (text, took) = read_until_closed(&mut extra, Duration::from_secs(5));
    assert!(text.starts_with("HTTP/1.1 503") && text.to_lowercase().contains("retry-after: 1"), "{text}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Once the slow ones go, there is room again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, _) = request(&s.addr, "GET", "/api/telemetry/summary", &[READ], b"");
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn origins_are_parsed_and_requests_without_one_follow_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let body = batch(&[inference("o1", 1.0)]);
    let post = |addr: &str, origin: Option<&str>| {
        let mut headers = vec![JSON, KEY];
        headers.extend(origin.map(|o| ("origin", o)));
        request(addr, "POST", "/v1/logs", &headers, body.as_bytes()).0
    };
    let local = start(&dir.path().join("a.sqlite"), &[]);
    assert_eq!(post(&local.addr, Some("http://localhost:evil.example")), 403);
    assert_eq!(post(&local.addr, Some("http://localhost.evil.example:8080")), 403);
    assert_eq!(post(&local.addr, Some("http://localhost:5173")), 200);
    assert_eq!(post(&local.addr, None), 200, "the loopback default accepts local non-browser clients");
    let listed = start(&dir.path().join("b.sqlite"), &["--allow-origin", "https://app.example"]);
    assert_eq!(post(&listed.addr, None), 403, "an allow-list refuses requests without Origin");
    assert_eq!(post(&listed.addr, Some("https://app.example")), 200);
    assert_eq!(post(&listed.addr, Some("https://app.example:8443")), 403);
    assert_eq!(post(&listed.addr, Some("http://127.0.0.1:8080")), 403);
    let with_none = start(&dir.path().join("c.sqlite"), &["--allow-origin", "https://app.example", "--allow-origin", "none"]);
    assert_eq!(post(&with_none.addr, None), 200);
}

#[test]
fn media_types_are_matched_exactly_and_every_gzip_member_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &[]);
    let body = batch(&[inference("m1", 1.0), inference("m2", 2.0)]);
    for bad in ["application/jsonx", "application/json-seq", "text/plainly"] {
        assert_eq!(request(&s.addr, "POST", "/v1/logs", &[("content-type", bad), KEY], body.as_bytes()).0, 415, "{bad}");
    }
    // Two gzip members, each half of the JSON: decoders that stop after the first see half.
    let (a, b) = body.as_bytes().split_at(body.len() / 2);
    let mut two = Vec::new();
    for part in [a, b] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(part).unwrap();
        two.extend(gz.finish().unwrap());
    }
    let headers = [("content-type", "application/json; charset=utf-8"), KEY, ("content-encoding", "gzip")];
    let (status, _, msg) = request(&s.addr, "POST", "/v1/logs", &headers, &two);
    assert_eq!((status, msg.as_str()), (200, "{}"));
    assert_eq!(summary(&s.addr)["events"]["burn_edge.inference"], 2);
}

#[test]
fn the_summary_needs_the_read_key_and_sends_no_cors() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &[]);
    assert!(s.banner[1].ends_with("/dashboard.html#key=demo-read-key"), "{:?}", s.banner);
    let path = "/api/telemetry/summary";
    assert_eq!(request(&s.addr, "GET", path, &[], b"").0, 401);
    assert_eq!(request(&s.addr, "GET", path, &[KEY], b"").0, 401, "the ingest key does not read");
    let (status, head, _) = request(&s.addr, "GET", path, &[READ, ("origin", "https://evil.example")], b"");
    assert_eq!(status, 200);
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    let own = start(&dir.path().join("u.sqlite"), &["--read-key", "s3cret-read"]);
    assert!(!own.banner[1].contains("#key="), "a real key is never printed: {:?}", own.banner);
    assert_eq!(request(&own.addr, "GET", path, &[READ], b"").0, 401, "the demo read key is gone");
    assert_eq!(request(&own.addr, "GET", path, &[("authorization", "Bearer s3cret-read")], b"").0, 200);
}

#[test]
fn demo_keys_are_refused_on_a_non_loopback_address() {
    let (code, err) = serve_refused(&["--addr", "0.0.0.0:0"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("not a loopback address") && err.contains("--ingest-key") && err.contains("--read-key"), "{err}");
    let (_, err) = serve_refused(&["--addr", "0.0.0.0:0", "--ingest-key", "web=k3y"]);
    assert!(err.contains("--read-key"), "{err}");
}

#[test]
fn a_noisy_client_cannot_make_another_clients_requests_429() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &["--rate-limit", "1"]);
    let body = batch(&[inference("n1", 1.0)]);
    let from = |ip: &str| request_on(connect_from(ip, &s.addr), &s.addr, "POST", "/v1/logs", &[JSON, KEY], body.as_bytes()).0;
    let noisy: Vec<u16> = (0..10).map(|_| from("127.0.0.1")).collect();
    assert!(noisy.iter().filter(|&&st| st == 429).count() >= 7, "{noisy:?}");
    assert_eq!([from("127.0.0.2"), from("127.0.0.2")], [200, 200], "the quiet client gets its own burst");
}
