//! OTLP/HTTP protobuf into `burn-edge serve` over real HTTP with a real SQLite file: plain and
//! gzip bodies stored exactly as the same events sent as JSON, the same validation (partial
//! success), and protobuf answers to protobuf requests: `ExportLogsServiceResponse` on success,
//! `google.rpc.Status` on 400, 401, 413; 415 for media types that are neither.
//!
//! The requests are encoded here with message types of this test's own, laid out as
//! opentelemetry-proto's `.proto` files are (`AnyValue` a oneof), not with the collector's.

mod support;

use std::io::Write;

use prost::Message;
use support::{batch, record, request, request_bytes, start, summary, Attr, JSON, KEY};

#[derive(Clone, PartialEq, prost::Message)]
struct ExportLogsServiceRequest {
    #[prost(message, repeated, tag = "1")]
    resource_logs: Vec<ResourceLogs>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ResourceLogs {
    #[prost(message, optional, tag = "1")]
    resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    scope_logs: Vec<ScopeLogs>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Resource {
    #[prost(message, repeated, tag = "1")]
    attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct InstrumentationScope {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ScopeLogs {
    #[prost(message, optional, tag = "1")]
    scope: Option<InstrumentationScope>,
    #[prost(message, repeated, tag = "2")]
    log_records: Vec<LogRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LogRecord {
    #[prost(fixed64, tag = "1")]
    time_unix_nano: u64,
    #[prost(int32, tag = "2")]
    severity_number: i32,
    #[prost(message, optional, tag = "5")]
    body: Option<AnyValue>,
    #[prost(message, repeated, tag = "6")]
    attributes: Vec<KeyValue>,
    #[prost(bytes = "vec", tag = "9")]
    trace_id: Vec<u8>,
    #[prost(fixed64, tag = "11")]
    observed_time_unix_nano: u64,
    #[prost(string, tag = "12")]
    event_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct KeyValue {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(message, optional, tag = "2")]
    value: Option<AnyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct AnyValue {
    #[prost(oneof = "Value", tags = "1, 2, 3, 4, 7")]
    value: Option<Value>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Value {
    #[prost(string, tag = "1")]
    String(String),
    #[prost(bool, tag = "2")]
    Bool(bool),
    #[prost(int64, tag = "3")]
    Int(i64),
    #[prost(double, tag = "4")]
    Double(f64),
    #[prost(bytes, tag = "7")]
    Bytes(Vec<u8>),
}

#[derive(Clone, PartialEq, prost::Message)]
struct ExportLogsServiceResponse {
    #[prost(message, optional, tag = "1")]
    partial_success: Option<PartialSuccess>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PartialSuccess {
    #[prost(int64, tag = "1")]
    rejected_log_records: i64,
    #[prost(string, tag = "2")]
    error_message: String,
}

/// google.rpc.Status
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");
const TIME: u64 = 1_764_000_000_000_000_000;

/// An inference's attributes (`support::inference`'s, with a class of its own).
fn inference_attrs(id: &str, latency: f64, class: i64) -> Vec<(&'static str, Attr)> {
    vec![
        ("event.id", Attr::S(id.into())),
        ("burn_edge.model.name", Attr::S("mnist".into())),
        ("burn_edge.model.version", Attr::S("1.0.0".into())),
        ("burn_edge.backend", Attr::S("cpu".into())),
        ("burn_edge.latency_ms", Attr::D(latency)),
        ("burn_edge.batch_size", Attr::I(1)),
        ("burn_edge.predicted_class", Attr::I(class)),
        ("burn_edge.confidence", Attr::D(0.98)),
    ]
}

/// The protobuf of `support::record(name, time, attrs)`, with the fields a real SDK adds
/// (severity, body, trace id, observed time).
fn proto_record(name: &str, time: u64, attrs: &[(&str, Attr)]) -> LogRecord {
    let value = |v: &Attr| match v {
        Attr::S(s) => Value::String(s.clone()),
        Attr::I(i) => Value::Int(*i),
        Attr::D(d) => Value::Double(*d),
    };
    LogRecord {
        time_unix_nano: time,
        severity_number: 9,
        body: Some(AnyValue { value: Some(Value::String(name.into())) }),
        attributes: attrs.iter().map(|(k, v)| KeyValue { key: k.to_string(), value: Some(AnyValue { value: Some(value(v)) }) }).collect(),
        trace_id: vec![7; 16],
        observed_time_unix_nano: time,
        event_name: name.into(),
    }
}

/// A request as `support::batch` makes it (a `service.name` resource, one scope).
fn proto_batch(records: Vec<LogRecord>) -> Vec<u8> {
    let resource = Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue { value: Some(Value::String("burn-edge-web".into())) }),
        }],
    };
    let scope = ScopeLogs { scope: Some(InstrumentationScope { name: "burn-edge".into() }), log_records: records };
    ExportLogsServiceRequest { resource_logs: vec![ResourceLogs { resource: Some(resource), scope_logs: vec![scope] }] }.encode_to_vec()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Every stored event row but the time received, in event id order.
fn stored_rows(db: &std::path::Path) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT * FROM events ORDER BY event_id").unwrap();
    let names: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let rows = stmt
        .query_map([], |r| {
            Ok((0..names.len())
                .filter(|&i| names[i] != "received_unix_ms")
                .map(|i| format!("{}={:?}", names[i], r.get_ref(i).unwrap()))
                .collect::<Vec<_>>())
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn protobuf_plain_and_gzip_is_stored_exactly_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let (json_db, proto_db) = (dir.path().join("json.sqlite"), dir.path().join("proto.sqlite"));
    let events: Vec<(String, f64, i64)> = (0..40).map(|i| (format!("e{i}"), 0.25 + i as f64 * 1.5, i % 10)).collect();
    let (first, second) = events.split_at(25);
    {
        let json = start(&json_db, &[]);
        for part in [first, second] {
            let records: Vec<String> =
                part.iter().map(|(id, ms, c)| record("burn_edge.inference", TIME, &inference_attrs(id, *ms, *c))).collect();
            assert_eq!(request(&json.addr, "POST", "/v1/logs", &[JSON, KEY], batch(&records).as_bytes()).0, 200);
        }
        let proto = start(&proto_db, &[]);
        let body = |part: &[(String, f64, i64)]| {
            proto_batch(part.iter().map(|(id, ms, c)| proto_record("burn_edge.inference", TIME, &inference_attrs(id, *ms, *c))).collect())
        };
        let (status, head, answer) = request_bytes(&proto.addr, "POST", "/v1/logs", &[PROTOBUF, KEY], &body(first));
        assert_eq!(status, 200);
        assert!(head.contains("content-type: application/x-protobuf"), "{head}");
        assert_eq!(ExportLogsServiceResponse::decode(&answer[..]).unwrap(), ExportLogsServiceResponse::default());
        let gzipped = gzip(&body(second));
        let (status, _, answer) = request_bytes(&proto.addr, "POST", "/v1/logs", &[PROTOBUF, KEY, ("content-encoding", "gzip")], &gzipped);
        assert_eq!((status, answer.len()), (200, 0));
        // A retry in the other encoding changes nothing.
        assert_eq!(request(&proto.addr, "POST", "/v1/logs", &[PROTOBUF, KEY], &body(first)).0, 200);
        let (a, b) = (summary(&json.addr), summary(&proto.addr));
        assert_eq!(a["events"]["burn_edge.inference"], 40);
        assert_eq!(a["groups"], b["groups"]);
    }
    let rows = stored_rows(&proto_db);
    assert_eq!(rows.len(), 40);
    assert_eq!(rows, stored_rows(&json_db));
}

#[test]
fn protobuf_records_are_validated_like_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &[]);
    let good = proto_record("burn_edge.inference", TIME, &inference_attrs("ok", 1.0, 3));
    let mut missing = proto_record("burn_edge.inference", TIME, &inference_attrs("m", 1.0, 3));
    missing.attributes.retain(|kv| kv.key != "burn_edge.latency_ms");
    let mut wrong_kind = proto_record("burn_edge.inference", TIME, &inference_attrs("w", 1.0, 3));
    wrong_kind.attributes[6].value = Some(AnyValue { value: Some(Value::String("seven".into())) });
    let mut extra = proto_record("burn_edge.inference", TIME, &inference_attrs("x", 1.0, 3));
    extra.attributes.push(KeyValue { key: "custom.blob".into(), value: Some(AnyValue { value: Some(Value::Bytes(vec![1; 64])) }) });
    let unknown = proto_record("something.else", TIME, &[]);
    // Protobuf, unlike JSON, can carry a NaN.
    let nan = proto_record("burn_edge.inference", TIME, &inference_attrs("n", f64::NAN, 3));
    let records = vec![good, missing, wrong_kind, extra, unknown, nan];
    let (status, _, answer) = request_bytes(&s.addr, "POST", "/v1/logs", &[PROTOBUF, KEY], &proto_batch(records));
    assert_eq!(status, 200);
    let partial = ExportLogsServiceResponse::decode(&answer[..]).unwrap().partial_success.unwrap();
    assert_eq!(partial.rejected_log_records, 4);
    let reasons = [
        "missing attribute burn_edge.latency_ms",
        "burn_edge.predicted_class must be Int",
        "unknown eventName",
        "burn_edge.latency_ms must be a finite number",
        "1 attributes outside",
    ];
    for reason in reasons {
        assert!(partial.error_message.contains(reason), "{reason}: {}", partial.error_message);
    }
    assert_eq!(summary(&s.addr)["events"]["burn_edge.inference"], 2);
}

#[test]
fn bad_protobuf_requests_get_a_status_in_protobuf() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("t.sqlite"), &["--max-body-bytes", "65536"]);
    let post = |headers: &[(&str, &str)], body: &[u8]| {
        let (status, head, answer) = request_bytes(&s.addr, "POST", "/v1/logs", headers, body);
        assert!(head.contains("content-type: application/x-protobuf"), "{status}: {head}");
        (status, Status::decode(&answer[..]).unwrap())
    };
    let good = proto_batch(vec![proto_record("burn_edge.inference", TIME, &inference_attrs("a", 1.0, 3))]);
    let (status, answer) = post(&[PROTOBUF, KEY], &good[..good.len() - 5]);
    assert_eq!((status, answer.code), (400, 3));
    assert!(answer.message.starts_with("not an OTLP protobuf logs request"), "{}", answer.message);
    // Not UTF-8 where the proto says string: the error names the field.
    let mut bad = proto_record("burn_edge.inference", TIME, &inference_attrs("b", 1.0, 3)).encode_to_vec();
    let at = bad.windows(5).position(|w| w == b"mnist").unwrap();
    bad[at] = 0xff;
    // Wrapped by hand: the test's types would not encode it.
    let scope = [vec![0x12], varint(bad.len()), bad].concat();
    let resource_logs = [vec![0x12], varint(scope.len()), scope].concat();
    let nested = [vec![0x0a], varint(resource_logs.len()), resource_logs].concat();
    let (status, answer) = post(&[PROTOBUF, KEY], &nested);
    assert_eq!(status, 400);
    assert!(answer.message.contains("KeyValue") && answer.message.contains("UTF-8"), "{}", answer.message);
    // Over the cap, raw or once inflated.
    assert_eq!(post(&[PROTOBUF, KEY], &vec![0u8; 70_000]).0, 413);
    let (status, answer) = post(&[PROTOBUF, KEY, ("content-encoding", "gzip")], &gzip(&vec![0u8; 1 << 20]));
    assert!(status == 413 && answer.message.contains("after decompression"), "{status} {}", answer.message);
    // No key: 401, still in protobuf.
    let (status, answer) = post(&[PROTOBUF], &good);
    assert_eq!((status, answer.code), (401, 16));
    // Neither JSON nor protobuf: 415 (in JSON).
    for other in ["application/protobuf", "application/grpc", "application/x-protobuf-text"] {
        let (status, _, msg) = request(&s.addr, "POST", "/v1/logs", &[("content-type", other), KEY], &good);
        assert_eq!(status, 415, "{other}");
        assert!(msg.contains("application/x-protobuf"), "{msg}");
    }
    assert_eq!(summary(&s.addr)["events"], serde_json::json!({}));
}

fn varint(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_varint(n as u64, &mut out);
    out
}
