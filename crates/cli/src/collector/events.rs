//! OTLP log records -> validated events: each record must be one of the events in the shared
//! vocabulary (`burn_edge_formats::telemetry`) with its required attributes of the right kinds.
//! Records that are not are rejected one by one (reported as OTLP `partialSuccess`).

use std::collections::BTreeMap;

use burn_edge_formats::telemetry::{event_spec, ValueKind, EVENT_ID};

use super::otlp::{AnyValue, ExportLogsRequest, KeyValue};

/// One accepted event, flattened for storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: String,
    pub app: String,
    pub install_id: Option<String>,
    pub time_unix_nano: u64,
    pub name: String,
    pub model_name: Option<String>,
    pub model_version: Option<String>,
    pub backend: Option<String>,
    pub variant: Option<String>,
    pub role: Option<String>,
    pub latency_ms: Option<f64>,
    pub batch_size: Option<i64>,
    pub predicted_class: Option<i64>,
    pub confidence: Option<f64>,
    pub prediction_id: Option<String>,
    pub true_label: Option<i64>,
    pub ttfp_ms: Option<f64>,
    /// Every attribute, as compact JSON, so nothing sent is lost.
    pub attributes_json: String,
}

/// Accepted events and the reasons for rejected records.
#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<Event>,
    pub rejected: Vec<String>,
}

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

fn value(v: &AnyValue) -> Option<Value> {
    v.string_value
        .clone()
        .map(Value::Str)
        .or(v.int_value.map(Value::Int))
        .or(v.double_value.map(Value::Double))
        .or(v.bool_value.map(Value::Bool))
}

fn attribute_map(attrs: &[KeyValue]) -> BTreeMap<String, Value> {
    attrs.iter().filter_map(|kv| value(&kv.value).map(|v| (kv.key.clone(), v))).collect()
}

fn kind_matches(kind: ValueKind, v: &Value) -> bool {
    // An integer is also an acceptable double (JSON numbers like 3 for 3.0).
    matches!(
        (kind, v),
        (ValueKind::String, Value::Str(_))
            | (ValueKind::Int, Value::Int(_))
            | (ValueKind::Double, Value::Double(_) | Value::Int(_))
            | (ValueKind::Bool, Value::Bool(_))
    )
}

/// Longest string kept per attribute: events are metadata, never payloads.
const MAX_STRING: usize = 1024;

/// Validates every record of a request sent by `app`.
pub fn parse(request: &ExportLogsRequest, app: &str) -> Parsed {
    let mut out = Parsed::default();
    for resource_logs in &request.resource_logs {
        let resource = attribute_map(&resource_logs.resource.attributes);
        let install_id = str_of(&resource, "burn_edge.install_id");
        for (i, record) in resource_logs.scope_logs.iter().flat_map(|s| &s.log_records).enumerate() {
            match event(record.event_name.as_str(), &attribute_map(&record.attributes)) {
                Ok(mut e) => {
                    e.app = app.to_string();
                    e.install_id = install_id.clone();
                    e.time_unix_nano = if record.time_unix_nano != 0 { record.time_unix_nano } else { record.observed_time_unix_nano };
                    out.events.push(e);
                }
                Err(reason) => out.rejected.push(format!("record {i} ({:?}): {reason}", record.event_name)),
            }
        }
    }
    out
}

fn event(name: &str, attrs: &BTreeMap<String, Value>) -> Result<Event, String> {
    let spec = event_spec(name).ok_or_else(|| "unknown eventName".to_string())?;
    for a in spec.attributes {
        match attrs.get(a.key) {
            Some(v) if !kind_matches(a.kind, v) => return Err(format!("attribute {} must be {:?}", a.key, a.kind)),
            None if a.required => return Err(format!("missing attribute {}", a.key)),
            _ => {}
        }
    }
    if let Some((key, _)) = attrs.iter().find(|(_, v)| matches!(v, Value::Str(s) if s.len() > MAX_STRING)) {
        return Err(format!("attribute {key} is longer than {MAX_STRING} bytes"));
    }
    let event_id = str_of(attrs, EVENT_ID).unwrap_or_default();
    if event_id.is_empty() || event_id.len() > 128 {
        return Err("event.id must be 1 to 128 characters".into());
    }
    let json: serde_json::Map<String, serde_json::Value> = attrs
        .iter()
        .map(|(k, v)| {
            let j = match v {
                Value::Str(s) => serde_json::Value::from(s.clone()),
                Value::Int(n) => serde_json::Value::from(*n),
                Value::Double(x) => serde_json::Value::from(*x),
                Value::Bool(b) => serde_json::Value::from(*b),
            };
            (k.clone(), j)
        })
        .collect();
    Ok(Event {
        event_id,
        app: String::new(),
        install_id: None,
        time_unix_nano: 0,
        name: name.to_string(),
        model_name: str_of(attrs, "burn_edge.model.name"),
        model_version: str_of(attrs, "burn_edge.model.version"),
        backend: str_of(attrs, "burn_edge.backend"),
        variant: str_of(attrs, "burn_edge.variant"),
        role: str_of(attrs, "burn_edge.role"),
        latency_ms: f64_of(attrs, "burn_edge.latency_ms"),
        batch_size: i64_of(attrs, "burn_edge.batch_size"),
        predicted_class: i64_of(attrs, "burn_edge.predicted_class"),
        confidence: f64_of(attrs, "burn_edge.confidence"),
        prediction_id: str_of(attrs, "burn_edge.prediction_id"),
        true_label: i64_of(attrs, "burn_edge.true_label"),
        ttfp_ms: f64_of(attrs, "burn_edge.load.time_to_first_prediction_ms"),
        attributes_json: serde_json::Value::Object(json).to_string(),
    })
}

fn str_of(attrs: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    match attrs.get(key) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

fn i64_of(attrs: &BTreeMap<String, Value>, key: &str) -> Option<i64> {
    match attrs.get(key) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

fn f64_of(attrs: &BTreeMap<String, Value>, key: &str) -> Option<f64> {
    match attrs.get(key) {
        Some(Value::Double(x)) => Some(*x).filter(|x| x.is_finite()),
        Some(Value::Int(n)) => Some(*n as f64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(records: &str) -> ExportLogsRequest {
        serde_json::from_str(&format!(
            r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"burn_edge.install_id","value":{{"stringValue":"i1"}}}}]}},
            "scopeLogs":[{{"logRecords":[{records}]}}]}}]}}"#
        ))
        .unwrap()
    }

    const INFERENCE: &str = r#"{"timeUnixNano":"5","eventName":"burn_edge.inference","attributes":[
        {"key":"event.id","value":{"stringValue":"e1"}},
        {"key":"burn_edge.model.name","value":{"stringValue":"mnist"}},
        {"key":"burn_edge.model.version","value":{"stringValue":"1.0.0"}},
        {"key":"burn_edge.backend","value":{"stringValue":"cpu"}},
        {"key":"burn_edge.latency_ms","value":{"doubleValue":1.5}},
        {"key":"burn_edge.batch_size","value":{"intValue":"1"}},
        {"key":"burn_edge.predicted_class","value":{"intValue":7}},
        {"key":"burn_edge.confidence","value":{"doubleValue":0.99}}]}"#;

    #[test]
    fn a_valid_inference_is_flattened() {
        let parsed = parse(&request(INFERENCE), "demo");
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        let e = &parsed.events[0];
        assert_eq!((e.event_id.as_str(), e.app.as_str(), e.time_unix_nano), ("e1", "demo", 5));
        assert_eq!((e.predicted_class, e.batch_size, e.latency_ms), (Some(7), Some(1), Some(1.5)));
        assert_eq!(e.install_id.as_deref(), Some("i1"));
    }

    #[test]
    fn bad_records_are_rejected_one_by_one() {
        let missing = INFERENCE.replace(r#"{"key":"burn_edge.latency_ms","value":{"doubleValue":1.5}},"#, "");
        let wrong_kind = INFERENCE.replace(r#"{"intValue":7}"#, r#"{"stringValue":"seven"}"#);
        let unknown = r#"{"eventName":"something.else","attributes":[]}"#;
        let parsed = parse(&request(&[INFERENCE, &missing, &wrong_kind, unknown].join(",")), "demo");
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(parsed.rejected.len(), 3);
        assert!(parsed.rejected[0].contains("missing attribute burn_edge.latency_ms"), "{:?}", parsed.rejected);
        assert!(parsed.rejected[1].contains("burn_edge.predicted_class must be Int"), "{:?}", parsed.rejected);
        assert!(parsed.rejected[2].contains("unknown eventName"), "{:?}", parsed.rejected);
    }
}
