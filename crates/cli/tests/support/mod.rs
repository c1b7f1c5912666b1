//! Shared by the collector's integration tests: `burn-edge serve` as a child process, raw
//! HTTP/1.1 requests, OTLP batches built from the shared event vocabulary, and a throwaway
//! ClickHouse server (`scripts/clickhouse-server.sh`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    pub addr: String,
    /// What it printed on start: the demo URL, then the collector's and the dashboard's.
    pub banner: Vec<String>,
}

impl Server {
    /// The server's resident memory in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `burn-edge serve` storing telemetry in the SQLite file `db`.
pub fn start(db: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--telemetry-db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    start_with(&args)
}

/// `burn-edge serve` with `args` after the address and root.
pub fn start_with(args: &[&str]) -> Server {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_burn-edge"))
        .args(["serve", "--addr", "127.0.0.1:0", "--root", root.to_str().unwrap()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("burn-edge serve starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        banner.push(line.trim().to_string());
    }
    let addr = banner[0].trim_start_matches("burn-edge demo: http://").trim_end_matches('/').to_string();
    Server { child, addr, banner }
}

/// `burn-edge serve` with `args` that must make it exit at once: its exit code and stderr.
pub fn serve_refused(args: &[&str]) -> (Option<i32>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_burn-edge"))
        .args(["serve", "--root", root.to_str().unwrap()])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("burn-edge serve starts");
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.code(), err);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("burn-edge serve {args:?} kept running");
}

/// One HTTP/1.1 request; returns (status, lowercase head, body).
pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, String) {
    request_on(TcpStream::connect(addr).unwrap(), addr, method, path, headers, body)
}

/// A connection to `addr` from the local address `from` (any of 127.0.0.0/8 works on Linux),
/// to be another client.
pub fn connect_from(from: &str, addr: &str) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        socket.connect(addr.parse().unwrap()).await.unwrap().into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream
}

/// `request` on an open connection.
pub fn request_on(stream: TcpStream, addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, String) {
    let (status, head, body) = request_bytes_on(stream, addr, method, path, headers, body);
    (status, head, String::from_utf8_lossy(&body).to_string())
}

/// `request` with the response body as bytes (a protobuf answer).
pub fn request_bytes(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, Vec<u8>) {
    request_bytes_on(TcpStream::connect(addr).unwrap(), addr, method, path, headers, body)
}

fn request_bytes_on(
    mut stream: TcpStream,
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&response[..split]).trim_end().to_string();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_lowercase(), response[split..].to_vec())
}

pub const JSON: (&str, &str) = ("content-type", "application/json");
pub const KEY: (&str, &str) = ("x-burn-edge-key", "demo-key");
/// The demo read key, for the summary.
pub const READ: (&str, &str) = ("x-burn-edge-read-key", "demo-read-key");

pub fn inference(id: &str, latency: f64) -> String {
    format!(
        r#"{{"timeUnixNano":"1764000000000000000","eventName":"burn_edge.inference","attributes":[
        {{"key":"event.id","value":{{"stringValue":"{id}"}}}},
        {{"key":"burn_edge.model.name","value":{{"stringValue":"mnist"}}}},
        {{"key":"burn_edge.model.version","value":{{"stringValue":"1.0.0"}}}},
        {{"key":"burn_edge.backend","value":{{"stringValue":"cpu"}}}},
        {{"key":"burn_edge.latency_ms","value":{{"doubleValue":{latency}}}}},
        {{"key":"burn_edge.batch_size","value":{{"intValue":"1"}}}},
        {{"key":"burn_edge.predicted_class","value":{{"intValue":7}}}},
        {{"key":"burn_edge.confidence","value":{{"doubleValue":0.98}}}}]}}"#
    )
}

pub fn batch(records: &[String]) -> String {
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"burn-edge-web"}}}}]}},
        "scopeLogs":[{{"scope":{{"name":"burn-edge"}},"logRecords":[{}]}}]}}]}}"#,
        records.join(",")
    )
}

pub fn summary(addr: &str) -> serde_json::Value {
    let (status, _, body) = request(addr, "GET", "/api/telemetry/summary", &[READ], b"");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// One OTLP log record: `name` at `time_ns` with string, int and double attributes.
pub fn record(name: &str, time_ns: u64, attrs: &[(&str, Attr)]) -> String {
    let attrs: Vec<String> = attrs
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Attr::S(s) => format!(r#"{{"stringValue":{}}}"#, serde_json::to_string(s).unwrap()),
                Attr::I(i) => format!(r#"{{"intValue":"{i}"}}"#),
                Attr::D(d) => format!(r#"{{"doubleValue":{d}}}"#),
            };
            format!(r#"{{"key":"{k}","value":{value}}}"#)
        })
        .collect();
    format!(r#"{{"timeUnixNano":"{time_ns}","eventName":"{name}","attributes":[{}]}}"#, attrs.join(","))
}

/// An attribute value for `record`.
pub enum Attr {
    S(String),
    I(i64),
    D(f64),
}

/// A ClickHouse server of its own, in a temporary folder, killed on drop.
pub struct ClickHouse {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl ClickHouse {
    /// Starts one and waits until it answers `/ping`. Fails (does not skip) when ClickHouse is
    /// not installed: `scripts/setup.sh` installs it. Its three ports are picked free just
    /// before it starts, so another test's socket can take one in between: a server that exits
    /// before answering is started again on fresh ports (three tries).
    pub fn start() -> ClickHouse {
        let mut last = String::new();
        for _ in 0..3 {
            match ClickHouse::try_start() {
                Ok(ch) => return ch,
                Err(err) => last = err,
            }
        }
        panic!("{last}");
    }

    fn try_start() -> Result<ClickHouse, String> {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/clickhouse-server.sh");
        let ports = [free_port(), free_port(), free_port()].map(|p| p.to_string());
        let mut child = Command::new("bash")
            .arg(&script)
            .arg(dir.path())
            .args(&ports)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs scripts/clickhouse-server.sh");
        let addr = format!("127.0.0.1:{}", ports[0]);
        for _ in 0..300 {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                let log = std::fs::read_to_string(dir.path().join("server.err.log")).unwrap_or_default();
                let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join("\n");
                return Err(format!("ClickHouse exited ({status}) before answering on ports {ports:?}: {err}{tail}"));
            }
            if pings(&addr) {
                return Ok(ClickHouse { child, url: format!("http://{addr}/"), _dir: dir });
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("ClickHouse did not answer on {addr} within 30 s");
    }

    /// Runs `sql` over the HTTP interface and returns the response body.
    pub fn query(&self, sql: &str) -> String {
        let addr = self.url.trim_start_matches("http://").trim_end_matches('/');
        let (status, head, body) = request(addr, "POST", "/", &[], sql.as_bytes());
        assert_eq!(status, 200, "{sql}: {body}");
        if head.contains("transfer-encoding: chunked") {
            dechunk(&body)
        } else {
            body
        }
    }

    /// Stops the server (to test an outage).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a server on `addr` answers `GET /ping` with 200; any connection error is a no.
fn pings(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else { return false };
    let head = format!("GET /ping HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut response = Vec::new();
    stream.write_all(head.as_bytes()).is_ok() && stream.read_to_end(&mut response).is_ok() && response.starts_with(b"HTTP/1.1 200")
}

/// The payload of a chunked HTTP/1.1 body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Copies the committed models/mnist CDN folder (channel, its signature when there is one,
/// both manifests and the content files) to `<root>/mnist`.
pub fn copy_mnist(root: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/mnist");
    for entry in ["channel.json", "channel.json.sig", "1.0.0/manifest.json", "1.1.0/manifest.json"] {
        let to = root.join("mnist").join(entry);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if entry.ends_with(".sig") && !from.join(entry).exists() {
            continue;
        }
        std::fs::copy(from.join(entry), to).unwrap();
    }
    std::fs::create_dir_all(root.join("mnist/files")).unwrap();
    for file in std::fs::read_dir(from.join("files")).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), root.join("mnist/files").join(file.file_name())).unwrap();
    }
}
