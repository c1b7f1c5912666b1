//! The collector's routes in-process, with a writer sink the test controls (slow, panicking):
//! backpressure, a store that panics, the summary's read key and CORS.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use super::events::Event;
use super::store::StoreError;
use super::writer::Sink;
use super::*;

/// Stores into SQLite after `delay`; panics on a batch holding the event id "boom".
struct TestSink {
    inner: Arc<SqliteStore>,
    delay: Duration,
    stored: Mutex<Vec<String>>,
}

impl Sink for TestSink {
    fn insert(&self, events: &[Event], received_unix_ms: i64) -> Result<(), StoreError> {
        std::thread::sleep(self.delay);
        if events.iter().any(|e| e.event_id == "boom") {
            panic!("store bug on boom");
        }
        self.inner.insert(events, received_unix_ms)?;
        self.stored.lock().unwrap().extend(events.iter().map(|e| e.event_id.clone()));
        Ok(())
    }
}

struct Fixture {
    router: Router,
    sink: Arc<TestSink>,
    _dir: tempfile::TempDir,
}

fn fixture(config: CollectorConfig, delay: Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.sqlite")).unwrap());
    let sink = Arc::new(TestSink { inner: store.clone(), delay, stored: Mutex::new(Vec::new()) });
    let router = routes_with_sink(config, store, sink.clone(), dir.path().join("models"));
    Fixture { router, sink, _dir: dir }
}

fn batch(id: &str) -> String {
    format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"1764000000000000000","eventName":"burn_edge.inference","attributes":[
        {{"key":"event.id","value":{{"stringValue":"{id}"}}}},
        {{"key":"burn_edge.model.name","value":{{"stringValue":"mnist"}}}},
        {{"key":"burn_edge.model.version","value":{{"stringValue":"1.0.0"}}}},
        {{"key":"burn_edge.backend","value":{{"stringValue":"cpu"}}}},
        {{"key":"burn_edge.latency_ms","value":{{"doubleValue":1.5}}}},
        {{"key":"burn_edge.batch_size","value":{{"intValue":"1"}}}},
        {{"key":"burn_edge.predicted_class","value":{{"intValue":"3"}}}},
        {{"key":"burn_edge.confidence","value":{{"doubleValue":0.9}}}}]}}]}}]}}]}}"#
    )
}

fn post(body: String) -> Request<Body> {
    Request::post("/v1/logs").header("content-type", "application/json").header(KEY_HEADER, DEMO_INGEST_KEY).body(Body::from(body)).unwrap()
}

async fn text(res: Response) -> String {
    String::from_utf8(axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_store_gets_503_with_retry_after_and_keeps_every_acknowledged_event() {
    let config = CollectorConfig { queue_batches: 2, ..Default::default() };
    let f = fixture(config, Duration::from_millis(100));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let router = f.router.clone();
            tokio::spawn(async move {
                let res = router.oneshot(post(batch(&format!("q{i}")))).await.unwrap();
                (format!("q{i}"), res.status(), res.headers().get("retry-after").cloned())
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (id, status, retry_after) = t.await.unwrap();
        match status {
            StatusCode::OK => acknowledged.push(id),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused > 0, "60 requests at once against a queue of 2 and a 100 ms store: some must be refused");
    assert!(!acknowledged.is_empty());
    let stored = f.sink.stored.lock().unwrap().clone();
    for id in &acknowledged {
        assert!(stored.contains(id), "{id} was acknowledged but not stored");
    }
}

#[tokio::test]
async fn a_panicking_store_fails_its_batch_with_503_and_the_next_is_stored() {
    let f = fixture(CollectorConfig::default(), Duration::ZERO);
    let res = f.router.clone().oneshot(post(batch("boom"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(res).await.contains("panic"));
    let res = f.router.clone().oneshot(post(batch("fine"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(*f.sink.stored.lock().unwrap(), vec!["fine".to_string()]);
}

fn summary_request(headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::get("/api/telemetry/summary");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_summary_needs_the_read_key_and_has_no_cors_by_default() {
    let config = CollectorConfig { read_key: "r34d".into(), ..Default::default() };
    let f = fixture(config, Duration::ZERO);
    for headers in [&[][..], &[(READ_KEY_HEADER, "wrong")], &[("authorization", "Bearer wrong")], &[(KEY_HEADER, DEMO_INGEST_KEY)]] {
        let res = f.router.clone().oneshot(summary_request(headers)).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{headers:?}");
        assert!(res.headers().contains_key("www-authenticate"));
    }
    let origin = ("origin", "https://evil.example");
    let res = f.router.clone().oneshot(summary_request(&[(READ_KEY_HEADER, "r34d"), origin])).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none(), "no CORS on the summary by default");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = f.router.clone().oneshot(summary_request(&[("authorization", "Bearer r34d")])).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(text(res).await.contains("\"events\""));
}

#[tokio::test]
async fn the_summary_answers_cors_for_the_dashboard_origin_only() {
    let config = CollectorConfig { dashboard_origin: Some(Origin::parse("https://dash.example").unwrap()), ..Default::default() };
    let f = fixture(config, Duration::ZERO);
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/api/telemetry/summary")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", READ_KEY_HEADER)
            .body(Body::empty())
            .unwrap()
    };
    let res = f.router.clone().oneshot(preflight("https://dash.example")).await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://dash.example");
    assert!(res.headers()["access-control-allow-headers"].to_str().unwrap().contains(READ_KEY_HEADER));
    let res =
        f.router.clone().oneshot(summary_request(&[(READ_KEY_HEADER, DEMO_READ_KEY), ("origin", "https://evil.example")])).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none_or(|v| v == "https://dash.example"));
}

#[tokio::test]
async fn ingest_preflight_allows_the_key_header_from_any_origin() {
    let f = fixture(CollectorConfig::default(), Duration::ZERO);
    let req = Request::builder()
        .method("OPTIONS")
        .uri("/v1/logs")
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-burn-edge-key")
        .body(Body::empty())
        .unwrap();
    let res = f.router.clone().oneshot(req).await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(res.headers()["access-control-allow-headers"].to_str().unwrap().contains(KEY_HEADER));
}
