//! OTLP log records -> validated events: each record must be one of the events in the shared
//! vocabulary (`burn_edge_formats::telemetry`) with its required attributes of the right kinds,
//! every string within its key's cap. Records that are not are rejected one by one (reported as
//! OTLP `partialSuccess`). Only the vocabulary is stored: other attributes are dropped (and
//! counted), an over-long install id is dropped, and a timestamp the store cannot hold or from
//! the future is replaced by the time received.

use std::collections::BTreeMap;

use burn_edge_formats::telemetry::{
    event_spec, resource_attribute, EventSpec, ValueKind, EVENT_ID, INSTALL_ID, ROLE_SHADOW, ROUTE, SHADOW_OF,
};

use super::otlp::{AnyValue, ExportLogsRequest, KeyValue, PartialSuccess};

/// One accepted event, flattened for storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: String,
    pub app: String,
    pub install_id: Option<String>,
    /// Nanoseconds since the Unix epoch, never negative and never in the future (see `parse_at`).
    pub time_unix_nano: i64,
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
    /// Where the prediction ran (`burn_edge.route`: `edge` or `cloud`); absent on events sent
    /// before routing existed, which count as `edge`.
    pub route: Option<String>,
    /// Which rollout rule and arm the event belongs to (see `Rollout`).
    pub rollout: Rollout,
    /// The event's vocabulary attributes, as compact JSON.
    pub attributes_json: String,
}

/// The rollout attributes of an event (channel schemaVersion 2), flattened for storage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollout {
    /// The alias the page asked for: `burn_edge.alias`, else (shells before rollouts sent the
    /// alias as the role) a `burn_edge.role` that is neither `served` nor `shadow`.
    pub alias: Option<String>,
    pub rule: Option<String>,
    pub arm: Option<String>,
    /// A shadow inference's served prediction id.
    pub shadow_of: Option<String>,
    /// A swap's time from new assignment to new version serving.
    pub swap_ms: Option<f64>,
    /// An interleaved pick's arm, or `tie`.
    pub winner: Option<String>,
}

/// Accepted events, the reasons for rejected records, and what was left out of accepted ones.
#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<Event>,
    pub rejected: Vec<String>,
    /// Attributes of accepted records outside their event's vocabulary: not stored.
    pub dropped_attributes: usize,
    /// Resources whose install id was over its cap: their events are stored without one.
    pub dropped_install_ids: usize,
    /// Accepted records timestamped in the future (or past what the store holds): stored at the
    /// time received.
    pub clamped_times: usize,
}

impl Parsed {
    /// The OTLP `partialSuccess` answer: rejected records (the first few reasons) and, as
    /// warnings, what was dropped; `None` when everything sent was kept.
    pub fn partial_success(&self) -> Option<PartialSuccess> {
        let mut notes: Vec<String> = self.rejected.iter().take(5).cloned().collect();
        if self.dropped_attributes > 0 {
            notes.push(format!("{} attributes outside the vocabulary were dropped", self.dropped_attributes));
        }
        if self.dropped_install_ids > 0 {
            notes.push(format!("{INSTALL_ID} over {} bytes was dropped", resource_max_len(INSTALL_ID)));
        }
        if self.clamped_times > 0 {
            notes.push(format!("{} records timestamped in the future were stored at the time received", self.clamped_times));
        }
        (!notes.is_empty()).then(|| PartialSuccess { rejected_log_records: self.rejected.len() as i64, error_message: notes.join("; ") })
    }
}

/// An attribute value, borrowed from the request.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Str(&'a str),
    Int(i64),
    Double(f64),
    Bool(bool),
}

fn value(v: &AnyValue) -> Option<Value<'_>> {
    v.string_value
        .as_deref()
        .map(Value::Str)
        .or(v.int_value.map(Value::Int))
        .or(v.double_value.map(Value::Double))
        .or(v.bool_value.map(Value::Bool))
}

/// As the stored JSON writes it.
impl serde::Serialize for Value<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Value::Str(v) => s.serialize_str(v),
            Value::Int(v) => s.serialize_i64(v),
            Value::Double(v) => s.serialize_f64(v),
            Value::Bool(v) => s.serialize_bool(v),
        }
    }
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

fn resource_max_len(key: &str) -> usize {
    resource_attribute(key).map_or(0, |a| a.max_len)
}

/// How far ahead of the collector's clock an event may be (browser clocks drift): later
/// timestamps would push the dashboard's timeline window past every real event.
pub const MAX_CLOCK_SKEW_NANOS: i64 = 5 * 60 * 1_000_000_000;

fn now_unix_nano() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

/// Validates every record of a request sent by `app`, now.
pub fn parse(request: &ExportLogsRequest, app: &str) -> Parsed {
    parse_at(request, app, now_unix_nano())
}

/// Validates every record of a request sent by `app`, received at `now_unix_nano`: a record
/// without a time, or timestamped more than `MAX_CLOCK_SKEW_NANOS` after it (which covers
/// every u64 past `i64::MAX`), gets `now_unix_nano`.
pub fn parse_at(request: &ExportLogsRequest, app: &str, now_unix_nano: i64) -> Parsed {
    let mut out = Parsed::default();
    let latest = now_unix_nano.saturating_add(MAX_CLOCK_SKEW_NANOS);
    for resource_logs in &request.resource_logs {
        let resource = resource_logs.resource.as_ref().map_or(&[][..], |r| &r.attributes);
        let install_id = match resource.iter().rev().find(|kv| kv.key == INSTALL_ID).and_then(|kv| kv.value.as_ref()?.string_value.as_ref())
        {
            Some(id) if id.len() > resource_max_len(INSTALL_ID) => {
                out.dropped_install_ids += 1;
                None
            }
            Some(id) if !id.is_empty() => Some(id.clone()),
            _ => None,
        };
        for (i, record) in resource_logs.scope_logs.iter().flat_map(|s| &s.log_records).enumerate() {
            match event(record.event_name.as_str(), &record.attributes) {
                Ok((mut e, dropped)) => {
                    e.app = app.to_string();
                    e.install_id = install_id.clone();
                    let sent = if record.time_unix_nano != 0 { record.time_unix_nano } else { record.observed_time_unix_nano };
                    e.time_unix_nano = match i64::try_from(sent) {
                        Ok(0) => now_unix_nano,
                        Ok(t) if t <= latest => t,
                        _ => {
                            out.clamped_times += 1;
                            now_unix_nano
                        }
                    };
                    out.dropped_attributes += dropped;
                    out.events.push(e);
                }
                Err(reason) => out.rejected.push(format!("record {i} ({:?}): {reason}", truncated(&record.event_name))),
            }
        }
    }
    out
}

/// The first bytes of a client's string, for an error message.
fn truncated(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The event, and how many of the record's attributes are outside its vocabulary.
fn event(name: &str, raw: &[KeyValue]) -> Result<(Event, usize), String> {
    let spec: &EventSpec = event_spec(name).ok_or_else(|| "unknown eventName".to_string())?;
    let mut attrs: BTreeMap<&'static str, Value<'_>> = BTreeMap::new();
    let mut dropped = 0;
    for kv in raw {
        match (spec.attributes.iter().find(|a| a.key == kv.key), kv.value.as_ref().and_then(value)) {
            (Some(a), Some(v)) => {
                attrs.insert(a.key, v);
            }
            // An array or map where the vocabulary has a scalar: as if missing.
            (Some(_), None) => {}
            (None, _) => dropped += 1,
        }
    }
    for a in spec.attributes {
        match attrs.get(a.key) {
            Some(v) if !kind_matches(a.kind, v) => return Err(format!("attribute {} must be {:?}", a.key, a.kind)),
            // JSON cannot carry these; protobuf can.
            Some(Value::Double(x)) if !x.is_finite() => return Err(format!("attribute {} must be a finite number", a.key)),
            Some(Value::Str(s)) if s.len() > a.max_len => return Err(format!("attribute {} is longer than {} bytes", a.key, a.max_len)),
            None if a.required => return Err(format!("missing attribute {}", a.key)),
            _ => {}
        }
    }
    let event_id = str_of(&attrs, EVENT_ID).unwrap_or_default();
    if event_id.is_empty() {
        return Err("event.id must not be empty".into());
    }
    let role = str_of(&attrs, "burn_edge.role");
    let event = Event {
        event_id,
        app: String::new(),
        install_id: None,
        time_unix_nano: 0,
        name: spec.name.to_string(),
        model_name: str_of(&attrs, "burn_edge.model.name"),
        model_version: str_of(&attrs, "burn_edge.model.version"),
        backend: str_of(&attrs, "burn_edge.backend"),
        variant: str_of(&attrs, "burn_edge.variant"),
        role: role.clone(),
        latency_ms: f64_of(&attrs, "burn_edge.latency_ms"),
        batch_size: i64_of(&attrs, "burn_edge.batch_size"),
        predicted_class: i64_of(&attrs, "burn_edge.predicted_class"),
        confidence: f64_of(&attrs, "burn_edge.confidence"),
        prediction_id: str_of(&attrs, "burn_edge.prediction_id"),
        true_label: i64_of(&attrs, "burn_edge.true_label"),
        ttfp_ms: f64_of(&attrs, "burn_edge.load.time_to_first_prediction_ms"),
        route: str_of(&attrs, ROUTE),
        rollout: Rollout {
            alias: str_of(&attrs, "burn_edge.alias").or_else(|| role.filter(|r| r != "served" && r != ROLE_SHADOW)),
            rule: str_of(&attrs, "burn_edge.rollout.rule"),
            arm: str_of(&attrs, "burn_edge.rollout.arm"),
            shadow_of: str_of(&attrs, SHADOW_OF),
            swap_ms: f64_of(&attrs, "burn_edge.swap.ms"),
            winner: str_of(&attrs, "burn_edge.interleave.winner"),
        },
        // Keys in order, as serde_json's own map writes them; only strings, finite numbers, bools.
        attributes_json: serde_json::to_string(&attrs).unwrap_or_default(),
    };
    Ok((event, dropped))
}

fn str_of(attrs: &BTreeMap<&str, Value<'_>>, key: &str) -> Option<String> {
    match attrs.get(key) {
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn i64_of(attrs: &BTreeMap<&str, Value<'_>>, key: &str) -> Option<i64> {
    match attrs.get(key) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

/// A finite double; subnormals and -0 as 0, since ClickHouse flushes subnormals to zero and
/// both sinks must give the same summary.
fn f64_of(attrs: &BTreeMap<&str, Value<'_>>, key: &str) -> Option<f64> {
    let x = match attrs.get(key) {
        Some(Value::Double(x)) => Some(*x).filter(|x| x.is_finite()),
        Some(Value::Int(n)) => Some(*n as f64),
        _ => None,
    }?;
    Some(if x.is_normal() { x } else { 0.0 })
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
        // What ClickHouse cannot hold the same way is 0 in both sinks.
        for tiny in ["5e-324", "-0.0"] {
            let record = INFERENCE.replace(r#"{"doubleValue":1.5}"#, &format!(r#"{{"doubleValue":{tiny}}}"#));
            let latency = parse(&request(&record), "demo").events[0].latency_ms.unwrap();
            assert!(latency == 0.0 && latency.is_sign_positive(), "{tiny}");
        }
    }

    #[test]
    fn rollout_attributes_are_flattened_and_an_old_role_is_the_alias() {
        let with = |extra: &str| {
            let record = INFERENCE.replace(r#"{"key":"event.id","#, &format!(r#"{extra},{{"key":"event.id","#));
            parse(&request(&record), "demo").events.remove(0).rollout
        };
        let attr = |k: &str, v: &str| format!(r#"{{"key":"{k}","value":{{"stringValue":"{v}"}}}}"#);
        let r = with(
            &[
                attr("burn_edge.alias", "stable"),
                attr("burn_edge.role", "shadow"),
                attr("burn_edge.rollout.rule", "r1"),
                attr("burn_edge.rollout.arm", "canary"),
                attr("burn_edge.shadow.of", "p9"),
            ]
            .join(","),
        );
        assert_eq!(
            (r.alias.as_deref(), r.rule.as_deref(), r.arm.as_deref(), r.shadow_of.as_deref()),
            (Some("stable"), Some("r1"), Some("canary"), Some("p9"))
        );
        // Shells before rollouts sent the alias as the role.
        assert_eq!(with(&attr("burn_edge.role", "canary")).alias.as_deref(), Some("canary"));
        assert_eq!(with(&attr("burn_edge.role", "served")).alias, None);
        assert_eq!(with(&attr("burn_edge.role", "shadow")).alias, None);
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

    fn with_resource(install_id: &str, records: &str) -> ExportLogsRequest {
        let json = format!(
            r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"burn_edge.install_id","value":{{"stringValue":"{install_id}"}}}},
            {{"key":"custom.resource","value":{{"stringValue":"r"}}}}]}},"scopeLogs":[{{"logRecords":[{records}]}}]}}]}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn only_the_vocabulary_is_stored_and_extra_attributes_are_counted() {
        let padding = "p".repeat(5000);
        let extra = INFERENCE.replace(
            r#"{"key":"event.id","#,
            &format!(
                r#"{{"key":"custom.one","value":{{"stringValue":"{padding}"}}}},{{"key":"burn_edge.true_label","value":{{"intValue":3}}}},
                {{"key":"custom.two","value":{{"arrayValue":{{}}}}}},{{"key":"event.id","#
            ),
        );
        let parsed = parse(&request(&extra), "demo");
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        assert_eq!(parsed.dropped_attributes, 3, "two unknown keys and one of another event");
        let e = &parsed.events[0];
        assert_eq!(e.true_label, None, "feedback's attribute is not an inference's");
        let stored: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&e.attributes_json).unwrap();
        assert_eq!(stored.len(), 8, "{stored:?}");
        assert!(!e.attributes_json.contains("custom") && !e.attributes_json.contains(&padding));
        let answer = parsed.partial_success().unwrap();
        assert_eq!(answer.rejected_log_records, 0);
        assert!(answer.error_message.contains("3 attributes outside the vocabulary were dropped"), "{}", answer.error_message);
        // Everything kept: no partial success at all.
        assert!(parse(&request(INFERENCE), "demo").partial_success().is_none());
    }

    #[test]
    fn string_caps_are_per_key_and_a_long_install_id_is_dropped() {
        // A 618 KB install id was copied into every event: now dropped, the events kept.
        let huge = "i".repeat(618_000);
        let parsed = parse(&with_resource(&huge, INFERENCE), "demo");
        assert_eq!((parsed.events.len(), parsed.dropped_install_ids), (1, 1));
        assert_eq!(parsed.events[0].install_id, None);
        assert!(parsed.partial_success().unwrap().error_message.contains("burn_edge.install_id over 64 bytes was dropped"));
        let ok = "0".repeat(64);
        assert_eq!(parse(&with_resource(&ok, INFERENCE), "demo").events[0].install_id.as_deref(), Some(ok.as_str()));
        // Ids are capped at 128 bytes, names at 256, messages at 1024.
        let long_id = INFERENCE.replace(r#""e1""#, &format!("\"{}\"", "e".repeat(129)));
        assert!(parse(&request(&long_id), "demo").rejected[0].contains("event.id is longer than 128 bytes"));
        let long_backend = INFERENCE.replace(r#""cpu""#, &format!("\"{}\"", "c".repeat(257)));
        assert!(parse(&request(&long_backend), "demo").rejected[0].contains("burn_edge.backend is longer than 256 bytes"));
        let error = |len: usize| {
            format!(
                r#"{{"eventName":"burn_edge.error","attributes":[{{"key":"event.id","value":{{"stringValue":"x"}}}},
                {{"key":"error.type","value":{{"stringValue":"E"}}}},{{"key":"error.message","value":{{"stringValue":"{}"}}}}]}}"#,
                "m".repeat(len)
            )
        };
        assert_eq!(parse(&request(&error(1024)), "demo").events.len(), 1);
        assert_eq!(parse(&request(&error(1025)), "demo").rejected.len(), 1);
    }

    #[test]
    fn timestamps_past_i64_or_in_the_future_become_the_time_received() {
        let now = 1_764_000_000_000_000_000i64;
        let at = |t: &str, observed: &str| {
            let record =
                INFERENCE.replace(r#""timeUnixNano":"5""#, &format!(r#""timeUnixNano":"{t}","observedTimeUnixNano":"{observed}""#));
            let parsed = parse_at(&request(&record), "demo", now);
            (parsed.events[0].time_unix_nano, parsed.clamped_times)
        };
        // u64::MAX was stored as -1, i64::MAX + 1 as i64::MIN.
        assert_eq!(at(&u64::MAX.to_string(), "0"), (now, 1));
        assert_eq!(at(&(i64::MAX as u64 + 1).to_string(), "0"), (now, 1));
        // A year ahead is a wrong clock; a few minutes ahead is ordinary skew.
        assert_eq!(at(&(now + 365 * 86_400_000_000_000).to_string(), "0"), (now, 1));
        assert_eq!(at(&(now + 60_000_000_000).to_string(), "0"), (now + 60_000_000_000, 0));
        assert_eq!(at("42", "0"), (42, 0));
        // No time at all: the observed time, else the time received.
        assert_eq!(at("0", "77"), (77, 0));
        assert_eq!(at("0", "0"), (now, 0));
    }
}
