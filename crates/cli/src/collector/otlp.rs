//! The subset of OTLP/HTTP JSON logs (`ExportLogsServiceRequest`) the collector reads. Field
//! names are the proto3 JSON mapping (lowerCamelCase); unknown fields are ignored, and 64-bit
//! integers are accepted as JSON strings or numbers, as the OTLP spec requires.

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExportLogsRequest {
    pub resource_logs: Vec<ResourceLogs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceLogs {
    pub resource: Resource,
    pub scope_logs: Vec<ScopeLogs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resource {
    pub attributes: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScopeLogs {
    pub log_records: Vec<LogRecord>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogRecord {
    #[serde(deserialize_with = "u64_lenient")]
    pub time_unix_nano: u64,
    #[serde(deserialize_with = "u64_lenient")]
    pub observed_time_unix_nano: u64,
    pub severity_number: i32,
    pub event_name: String,
    pub attributes: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    pub key: String,
    pub value: AnyValue,
}

/// `AnyValue`: exactly one of the fields is set; arrays and maps are accepted and ignored.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnyValue {
    pub string_value: Option<String>,
    pub bool_value: Option<bool>,
    #[serde(deserialize_with = "i64_lenient_opt")]
    pub int_value: Option<i64>,
    pub double_value: Option<f64>,
}

/// What the collector answers (`ExportLogsServiceResponse`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportLogsResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_success: Option<PartialSuccess>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialSuccess {
    /// An int64, so a string in JSON.
    pub rejected_log_records: String,
    pub error_message: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IntRepr {
    Num(i64),
    Text(String),
}

fn parse_int<E: serde::de::Error>(repr: IntRepr) -> Result<i64, E> {
    match repr {
        IntRepr::Num(n) => Ok(n),
        IntRepr::Text(s) => s.trim().parse().map_err(|_| E::custom(format!("{s:?} is not a 64-bit integer"))),
    }
}

fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Option::<IntRepr>::deserialize(d)? {
        None => Ok(0),
        Some(IntRepr::Text(s)) => s.trim().parse().map_err(|_| serde::de::Error::custom(format!("{s:?} is not a 64-bit unsigned integer"))),
        Some(IntRepr::Num(n)) => u64::try_from(n).map_err(|_| serde::de::Error::custom("negative timestamp")),
    }
}

fn i64_lenient_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<IntRepr>::deserialize(d)?.map(parse_int).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_strings_or_numbers_and_unknown_fields() {
        let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"a","value":{"intValue":"7"}}],"droppedAttributesCount":0},
            "scopeLogs":[{"scope":{"name":"x"},"logRecords":[{"timeUnixNano":1700000000000000000,"eventName":"e",
            "attributes":[{"key":"n","value":{"intValue":42}},{"key":"arr","value":{"arrayValue":{"values":[]}}}],"futureField":1}]}]}]}"#;
        let req: ExportLogsRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.resource_logs[0].resource.attributes[0].value.int_value, Some(7));
        let rec = &req.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(rec.time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(rec.attributes[0].value.int_value, Some(42));
        assert!(serde_json::from_str::<ExportLogsRequest>(
            r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}"#
        )
        .is_err());
    }
}
