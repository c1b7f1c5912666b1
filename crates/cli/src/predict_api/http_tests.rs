//! The predict endpoint over real HTTP: `serve`'s whole router (CDN, collector, panic and
//! timeout layers) on a loopback port, requests written by hand on a TCP socket, on copies of
//! the committed MNIST releases. Every error of the spec, JSON and binary batches equal to the
//! session run directly, one load under concurrent first requests, the LRU bound.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use burn_edge_formats::predict::{ErrorBody, ErrorCode, PredictResponse};

use super::{routes_with_rate, PredictApi, PredictConfig};
use crate::collector::limits::RateConfig;
use crate::collector::{CollectorConfig, Origin, OriginPolicy, KEY_HEADER};
use crate::native_session::NativeModel;
use crate::server::ConnLimits;

/// The committed MNIST folder copied under `dir/models/<as_name>`.
fn copy_mnist(dir: &Path, as_name: &str) {
    let from = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/mnist"));
    let to = dir.join("models").join(as_name);
    for rel in ["channel.json", "1.0.0/manifest.json", "1.1.0/manifest.json"] {
        std::fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), to.join(rel)).unwrap();
    }
    std::fs::create_dir_all(to.join("files")).unwrap();
    for entry in std::fs::read_dir(from.join("files")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join("files").join(entry.file_name())).unwrap();
    }
}

struct Server {
    addr: SocketAddr,
    api: Arc<PredictApi>,
    dir: tempfile::TempDir,
}

/// `serve`'s router with the predict routes for `collector`'s apps on a free port; models:
/// `mnist` and `broken` (1.0.0's weights with one byte changed).
async fn start(collector: CollectorConfig, rate: RateConfig, config: PredictConfig) -> Server {
    let dir = tempfile::tempdir().unwrap();
    copy_mnist(dir.path(), "mnist");
    copy_mnist(dir.path(), "broken");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("models/broken/1.0.0/manifest.json")).unwrap()).unwrap();
    let weights = dir.path().join("models/broken/1.0.0").join(manifest["files"][0]["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).unwrap();
    let models = dir.path().join("models");
    let (predict, api) = routes_with_rate(&collector, rate, config, models.clone());
    let app = crate::serve::router(dir.path(), &models, predict, Duration::from_secs(30));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(crate::server::run(listener, app, ConnLimits { header_timeout: Duration::from_secs(5), max_connections: 64 }));
    Server { addr, api, dir }
}

async fn start_default() -> Server {
    let collector = CollectorConfig::default();
    start(collector.clone(), collector.rate, PredictConfig { max_batch: 8, max_body_bytes: 256 << 10, workers: 2, cached_models: 4 }).await
}

/// A response: status, headers (lowercase names), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn error(&self) -> ErrorBody {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not an error body ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn ok(&self) -> PredictResponse {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One request on a fresh connection (`Connection: close`); `headers` may hold
/// `content-length` to declare another length than the body's.
async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        // The server may answer (and close) before taking the whole body.
        let _ = s.write_all(&body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
        Answer { status, headers, body: raw[split + 4..].to_vec() }
    })
    .await
    .unwrap()
}

const JSON: (&str, &str) = ("content-type", "application/json");
const BINARY: (&str, &str) = ("content-type", "application/octet-stream");
const KEY: (&str, &str) = (KEY_HEADER, "demo-key");

async fn post(addr: SocketAddr, path: &str, content_type: (&str, &str), body: Vec<u8>) -> Answer {
    send(addr, "POST", path, &[KEY, content_type], body).await
}

/// `n` MNIST-sized examples of seeded values in 0..1.
fn digits(n: usize, seed: u32) -> Vec<Vec<f32>> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            (0..784)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x % 1000) as f32 / 999.0
                })
                .collect()
        })
        .collect()
}

fn le(rows: &[Vec<f32>]) -> Vec<u8> {
    rows.iter().flatten().flat_map(|v| v.to_le_bytes()).collect()
}

fn json_body(rows: &[Vec<f32>]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "inputs": rows })).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_and_binary_batches_give_the_sessions_outputs() {
    let s = start_default().await;
    let rows = digits(3, 7);
    let json = post(s.addr, "/v1/predict/mnist", JSON, json_body(&rows)).await;
    assert_eq!(json.header("cache-control"), Some("no-store"));
    let json = json.ok();
    assert_eq!((json.model.as_str(), json.version.as_str(), json.architecture.as_str()), ("mnist", "1.0.0", "mnist-cnn"));
    assert_eq!((json.backend.as_str(), json.kernels.as_str(), json.batch), ("cpu", "burn-edge", 3));
    assert_eq!(json.labels, (0..10).map(|d| d.to_string()).collect::<Vec<_>>());
    assert!(json.ms > 0.0);
    let binary = post(s.addr, "/v1/predict/mnist", BINARY, le(&rows)).await.ok();
    assert_eq!(binary.outputs, json.outputs, "JSON and binary carry the same f32 values");
    // The same session code run directly, example by example.
    let direct = NativeModel::open(&s.dir.path().join("models/mnist/1.0.0/manifest.json")).unwrap();
    for (row, out) in rows.iter().zip(&json.outputs) {
        assert_eq!(out.len(), 10);
        assert_eq!(&direct.predict(row).unwrap(), out);
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
    let single = serde_json::to_vec(&serde_json::json!({ "input": rows[1] })).unwrap();
    let one = post(s.addr, "/v1/predict/mnist@1.1.0", JSON, single.clone()).await.ok();
    assert_eq!((one.version.as_str(), one.batch), ("1.1.0", 1));
    assert_ne!(one.outputs[0], json.outputs[1], "1.1.0 is other weights");
    let canary = post(s.addr, "/v1/predict/mnist?alias=canary", JSON, single).await.ok();
    assert_eq!((canary.version.as_str(), &canary.outputs), ("1.1.0", &one.outputs));
    // The key may come in the query, as for telemetry.
    let answer = send(s.addr, "POST", "/v1/predict/mnist?key=demo-key", &[JSON], json_body(&rows[..1])).await;
    assert_eq!(answer.ok().outputs[0], json.outputs[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_refusal_has_its_status_code_and_a_specific_message() {
    let s = start_default().await;
    let a = s.addr;
    let nan = le(&[vec![0.5; 783].into_iter().chain([f32::NAN]).collect()]);
    // 1e39 is past f32's range: it reads as infinity.
    let huge = format!("{{\"inputs\": [{}, [{}1e39]]}}", serde_json::to_string(&digits(1, 1)[0]).unwrap(), "0,".repeat(783)).into_bytes();
    let cases: Vec<(Answer, u16, ErrorCode, &str)> = vec![
        (post(a, "/v1/predict/mnist", JSON, b"{\"inputs\": [[1, 2".to_vec()).await, 400, ErrorCode::MalformedJson, "EOF"),
        (post(a, "/v1/predict/mnist", JSON, b"{\"imputs\": []}".to_vec()).await, 400, ErrorCode::MalformedJson, "unknown field `imputs`"),
        (post(a, "/v1/predict/mnist", JSON, b"{\"inputs\": [[1, 2, 3]]}".to_vec()).await, 400, ErrorCode::WrongLength, "inputs[0] has 3 values; mnist-cnn takes 784"),
        (post(a, "/v1/predict/mnist", BINARY, vec![0; 784 * 4 + 8]).await, 400, ErrorCode::WrongLength, "not a whole number of examples"),
        (post(a, "/v1/predict/mnist", BINARY, nan).await, 400, ErrorCode::NotFinite, "value 783 (example 0, index 783) is NaN"),
        (post(a, "/v1/predict/mnist", JSON, huge).await, 400, ErrorCode::NotFinite, "inputs[1][783] is infinite"),
        (post(a, "/v1/predict/mnist", JSON, b"{\"inputs\": []}".to_vec()).await, 400, ErrorCode::EmptyBatch, "no examples"),
        (post(a, "/v1/predict/mnist", BINARY, Vec::new()).await, 400, ErrorCode::EmptyBatch, "no examples"),
        (post(a, "/v1/predict/mnist@1.0.0?alias=canary", JSON, b"{}".to_vec()).await, 400, ErrorCode::InvalidQuery, "not both"),
        (post(a, "/v1/predict/resnet", JSON, b"{}".to_vec()).await, 404, ErrorCode::UnknownModel, "no model \"resnet\""),
        (post(a, "/v1/predict/%2E%2E", JSON, b"{}".to_vec()).await, 404, ErrorCode::UnknownModel, "no model \"..\""),
        (post(a, "/v1/predict/..%2Fmnist", JSON, b"{}".to_vec()).await, 404, ErrorCode::NotFound, "/v1/predict/<model>"),
        (post(a, "/v1/predict/mnist@2.0.0", JSON, b"{}".to_vec()).await, 404, ErrorCode::UnknownVersion, "no published version 2.0.0"),
        (post(a, "/v1/predict/mnist?alias=beta", JSON, b"{}".to_vec()).await, 404, ErrorCode::UnknownAlias, "no alias \"beta\" (it has: canary, stable)"),
        (post(a, "/v1/predict/mnist/extra", JSON, b"{}".to_vec()).await, 404, ErrorCode::NotFound, "/v1/predict/<model>"),
        (post(a, "/v1/predict/mnist", BINARY, le(&digits(9, 1))).await, 413, ErrorCode::BatchTooLarge, "batch of 9 examples is over this server's maximum of 8"),
        (post(a, "/v1/predict/mnist", JSON, json_body(&digits(9, 1))).await, 413, ErrorCode::BatchTooLarge, "over this server's maximum of 8"),
        (send(a, "POST", "/v1/predict/mnist", &[KEY, BINARY, ("content-length", "999999999")], Vec::new()).await, 413, ErrorCode::BodyTooLarge, "over this server's cap of 262144 bytes"),
        (post(a, "/v1/predict/mnist", ("content-type", "text/plain"), b"1,2,3".to_vec()).await, 415, ErrorCode::UnsupportedMediaType, "\"text/plain\" is not accepted"),
        (send(a, "POST", "/v1/predict/mnist", &[KEY, JSON, ("content-encoding", "gzip")], b"{}".to_vec()).await, 415, ErrorCode::UnsupportedMediaType, "gzip"),
        (send(a, "POST", "/v1/predict/mnist", &[JSON], b"{}".to_vec()).await, 401, ErrorCode::Unauthorized, "missing or unknown ingest key"),
        (send(a, "POST", "/v1/predict/mnist", &[JSON, (KEY_HEADER, "guess")], b"{}".to_vec()).await, 401, ErrorCode::Unauthorized, "ingest key"),
        (send(a, "POST", "/v1/predict/mnist", &[KEY, JSON, ("origin", "https://evil.example")], b"{}".to_vec()).await, 403, ErrorCode::Forbidden, "origin https://evil.example is not allowed"),
        (post(a, "/v1/predict/broken", JSON, json_body(&digits(1, 1))).await, 500, ErrorCode::ModelBroken, "broken@1.0.0 cannot be run: its weights do not match the manifest's sha256"),
    ];
    for (answer, status, code, message) in cases {
        let body = answer.error();
        assert_eq!((answer.status, body.error.code), (status, code), "{}", body.error.message);
        assert_eq!(code.status(), status);
        assert!(body.error.message.contains(message), "{:?}: {:?} lacks {message:?}", code, body.error.message);
        assert!(!body.error.message.contains(&*s.dir.path().to_string_lossy()), "a server path in {:?}", body.error.message);
    }
    // A loopback origin is the local default, and still works after all that.
    let ok = send(a, "POST", "/v1/predict/mnist", &[KEY, JSON, ("origin", "http://localhost:5173")], json_body(&digits(1, 2))).await;
    assert_eq!(ok.header("access-control-allow-origin"), Some("*"));
    assert_eq!(ok.ok().batch, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_the_rate_limit_is_429_with_retry_after_and_preflight_allows_the_key_header() {
    let collector = CollectorConfig {
        apps: vec![crate::collector::App {
            name: "web".into(),
            key: "k".into(),
            origins: OriginPolicy { loopback: false, any: false, without_origin: true, allowed: vec![Origin::parse("https://app.example").unwrap()] },
        }],
        ..Default::default()
    };
    let rate = RateConfig { client_rate: 0.01, client_burst: 2.0, app_rate: 100.0, app_burst: 100.0, max_clients: 10 };
    let s = start(collector, rate, PredictConfig::default()).await;
    let key = (KEY_HEADER, "k");
    let body = json_body(&digits(1, 3));
    for _ in 0..2 {
        assert_eq!(send(s.addr, "POST", "/v1/predict/mnist", &[key, JSON, ("origin", "https://app.example")], body.clone()).await.status, 200);
    }
    let limited = send(s.addr, "POST", "/v1/predict/mnist", &[key, JSON], body.clone()).await;
    assert_eq!((limited.status, limited.error().error.code), (429, ErrorCode::RateLimited));
    assert!(limited.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1), "{:?}", limited.headers);
    let preflight = send(
        s.addr,
        "OPTIONS",
        "/v1/predict/mnist",
        &[("origin", "https://app.example"), ("access-control-request-method", "POST"), ("access-control-request-headers", "content-type,x-burn-edge-key")],
        Vec::new(),
    )
    .await;
    assert!((200..300).contains(&preflight.status), "{preflight:?}");
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert!(preflight.header("access-control-allow-headers").is_some_and(|h| h.contains(KEY_HEADER)), "{preflight:?}");
    // A page served from another origin than the allowed one is refused even with the key.
    let other = send(s.addr, "POST", "/v1/predict/mnist", &[key, JSON, ("origin", "http://localhost:8080")], body).await;
    assert_eq!(other.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_load_a_version_once_and_the_cache_is_bounded() {
    let collector = CollectorConfig::default();
    let s = start(collector.clone(), collector.rate, PredictConfig { cached_models: 1, ..PredictConfig::default() }).await;
    let body = json_body(&digits(2, 4));
    let requests: Vec<_> = (0..8).map(|_| tokio::spawn(post(s.addr, "/v1/predict/mnist", JSON, body.clone()))).collect();
    let mut outputs = Vec::new();
    for r in requests {
        outputs.push(r.await.unwrap().ok().outputs);
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(s.api.sessions.loads(), 1, "eight concurrent first requests, one load");
    // One slot: another version evicts it, so coming back loads again.
    post(s.addr, "/v1/predict/mnist@1.1.0", JSON, body.clone()).await.ok();
    post(s.addr, "/v1/predict/mnist@1.1.0", JSON, body.clone()).await.ok();
    assert_eq!(s.api.sessions.loads(), 2);
    post(s.addr, "/v1/predict/mnist", JSON, body).await.ok();
    assert_eq!(s.api.sessions.loads(), 3);
    // A failed load is not cached: each request tries again (the file may have been fixed).
    for _ in 0..2 {
        assert_eq!(post(s.addr, "/v1/predict/broken", JSON, json_body(&digits(1, 1))).await.status, 500);
    }
    assert_eq!(s.api.sessions.loads(), 5);
}
