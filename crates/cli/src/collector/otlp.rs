//! The subset of OTLP logs (`ExportLogsServiceRequest`) the collector reads, as one set of types
//! for both OTLP/HTTP encodings: serde for JSON (the proto3 JSON mapping: lowerCamelCase names,
//! 64-bit integers as strings or numbers, as the OTLP spec requires) and prost for protobuf
//! (the field numbers of opentelemetry-proto's `logs.proto` and `common.proto`). Whatever the
//! encoding, a request decodes to the same values, and unknown fields are ignored in both.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(rename_all = "camelCase", default)]
pub struct ExportLogsRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_logs: Vec<ResourceLogs>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceLogs {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_logs: Vec<ScopeLogs>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(rename_all = "camelCase", default)]
pub struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(rename_all = "camelCase", default)]
pub struct ScopeLogs {
    #[prost(message, repeated, tag = "2")]
    pub log_records: Vec<LogRecord>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(rename_all = "camelCase", default)]
pub struct LogRecord {
    #[prost(fixed64, tag = "1")]
    #[serde(deserialize_with = "u64_lenient")]
    pub time_unix_nano: u64,
    #[prost(fixed64, tag = "11")]
    #[serde(deserialize_with = "u64_lenient")]
    pub observed_time_unix_nano: u64,
    /// The `SeverityNumber` enum, as its number.
    #[prost(int32, tag = "2")]
    pub severity_number: i32,
    #[prost(string, tag = "12")]
    pub event_name: String,
    #[prost(message, repeated, tag = "6")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(default)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

/// `AnyValue`: a oneof, here one optional field per scalar member (the same tags, so the same
/// wire format; were several set, the first of string, int, double, bool counts). Arrays, maps
/// and bytes (tags 5 to 7) are accepted and ignored.
#[derive(Clone, PartialEq, Deserialize, prost::Message)]
#[serde(rename_all = "camelCase", default)]
pub struct AnyValue {
    #[prost(string, optional, tag = "1")]
    pub string_value: Option<String>,
    #[prost(bool, optional, tag = "2")]
    pub bool_value: Option<bool>,
    #[prost(int64, optional, tag = "3")]
    #[serde(deserialize_with = "i64_lenient_opt")]
    pub int_value: Option<i64>,
    #[prost(double, optional, tag = "4")]
    pub double_value: Option<f64>,
}

/// What the collector answers (`ExportLogsServiceResponse`), in either encoding.
#[derive(Clone, PartialEq, Serialize, prost::Message)]
#[serde(rename_all = "camelCase")]
pub struct ExportLogsResponse {
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_success: Option<PartialSuccess>,
}

#[derive(Clone, PartialEq, Serialize, prost::Message)]
#[serde(rename_all = "camelCase")]
pub struct PartialSuccess {
    /// An int64, so a string in JSON.
    #[prost(int64, tag = "1")]
    #[serde(serialize_with = "i64_as_string")]
    pub rejected_log_records: i64,
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// `google.rpc.Status`, the body of an OTLP/HTTP protobuf failure (`details` never sent).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    /// A `google.rpc.Code`; OTLP receivers need not read it.
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

fn i64_as_string<S: Serializer>(n: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(n)
}

/// A 64-bit integer as OTLP JSON carries it: a number or a decimal string; null is none.
/// (A visitor, not an untagged enum: that buffers every value and builds an error per string.)
struct LenientInt {
    unsigned: bool,
}

impl<'de> serde::de::Visitor<'de> for LenientInt {
    type Value = Option<i128>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a 64-bit integer, as a number or a decimal string")
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.into()))
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
        let kind = if self.unsigned { "unsigned " } else { "" };
        s.trim().parse().map(Some).map_err(|_| E::custom(format!("{s:?} is not a 64-bit {kind}integer")))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match d.deserialize_any(LenientInt { unsigned: true })? {
        None => Ok(0),
        Some(n) if n < 0 => Err(serde::de::Error::custom("negative timestamp")),
        Some(n) => u64::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} is not a 64-bit unsigned integer"))),
    }
}

fn i64_lenient_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let n = d.deserialize_any(LenientInt { unsigned: false })?;
    n.map(|n| i64::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} is not a 64-bit integer")))).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::encoding::{encode_key, encode_varint, WireType};
    use prost::Message;

    #[test]
    fn integers_as_strings_or_numbers_and_unknown_fields() {
        let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"a","value":{"intValue":"7"}}],"droppedAttributesCount":0},
            "scopeLogs":[{"scope":{"name":"x"},"logRecords":[{"timeUnixNano":1700000000000000000,"eventName":"e",
            "attributes":[{"key":"n","value":{"intValue":42}},{"key":"arr","value":{"arrayValue":{"values":[]}}}],"futureField":1}]}]}]}"#;
        let req: ExportLogsRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.resource_logs[0].resource.as_ref().unwrap().attributes[0].value.as_ref().unwrap().int_value, Some(7));
        let rec = &req.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(rec.time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(rec.attributes[0].value.as_ref().unwrap().int_value, Some(42));
        let record = |fields: &str| {
            let json = format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{{fields}}}]}}]}}]}}"#);
            serde_json::from_str::<ExportLogsRequest>(&json).map(|r| r.resource_logs[0].scope_logs[0].log_records[0].clone())
        };
        let int =
            |v: &str| record(&format!(r#""attributes":[{{"key":"k","value":{{"intValue":{v}}}}}]"#)).map(|r| r.attributes[0].value.clone());
        assert_eq!(record(r#""timeUnixNano":" 18446744073709551615 ""#).unwrap().time_unix_nano, u64::MAX);
        assert_eq!(record(r#""timeUnixNano":null"#).unwrap().time_unix_nano, 0);
        for bad in [r#""soon""#, "-1", r#""-1""#, "1.5", r#""18446744073709551616""#, "true"] {
            assert!(record(&format!(r#""timeUnixNano":{bad}"#)).is_err(), "{bad}");
        }
        assert_eq!(int(r#""-9223372036854775808""#).unwrap().unwrap().int_value, Some(i64::MIN));
        assert_eq!(int("null").unwrap().unwrap().int_value, None);
        for bad in ["9223372036854775808", r#""7a""#, "7.5"] {
            assert!(int(bad).is_err(), "{bad}");
        }
    }

    /// A length-delimited field `tag` holding `body`.
    fn field(tag: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(tag, WireType::LengthDelimited, &mut out);
        encode_varint(body.len() as u64, &mut out);
        out.extend_from_slice(body);
        out
    }

    /// Bytes written field by field from the numbers in opentelemetry-proto's `.proto` files
    /// (not by these types): the same request as JSON.
    #[test]
    fn protobuf_field_numbers_are_the_protos_and_unknown_fields_are_skipped() {
        let mut int_value = Vec::new();
        encode_key(3, WireType::Varint, &mut int_value);
        encode_varint(42, &mut int_value);
        let attribute = [field(1, b"n"), field(2, &int_value)].concat();
        // bytes_value (7) and an array (5) in an AnyValue: ignored like unknown fields.
        let ignored = [field(1, b"arr"), field(2, &[field(5, &[]), field(7, b"\x01")].concat())].concat();
        let mut record = Vec::new();
        encode_key(1, WireType::SixtyFourBit, &mut record);
        record.extend_from_slice(&1_700_000_000_000_000_000u64.to_le_bytes());
        encode_key(2, WireType::Varint, &mut record);
        encode_varint(9, &mut record);
        record.extend(field(6, &attribute));
        record.extend(field(6, &ignored));
        record.extend(field(9, &[0xab; 16])); // trace_id
        record.extend(field(12, b"e"));
        let scope_logs = [field(1, &field(1, b"x")), field(2, &record)].concat();
        let resource = field(1, &[field(1, b"a"), field(2, &[field(1, b"seven")].concat())].concat());
        let body = field(1, &[field(1, &resource), field(2, &scope_logs)].concat());
        let req = ExportLogsRequest::decode(&body[..]).unwrap();
        let json: ExportLogsRequest = serde_json::from_str(
            r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"a","value":{"stringValue":"seven"}}]},
            "scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":9,"eventName":"e",
            "attributes":[{"key":"n","value":{"intValue":"42"}},{"key":"arr","value":{}}]}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(req, json);
        // Cut short, or a string that is not UTF-8: an error naming the field.
        assert!(ExportLogsRequest::decode(&body[..body.len() - 3]).is_err());
        let bad = field(1, &field(2, &field(2, &field(12, &[0xff, 0xfe]))));
        let err = ExportLogsRequest::decode(&bad[..]).unwrap_err().to_string();
        assert!(err.contains("LogRecord.event_name") && err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn the_answer_is_the_same_in_both_encodings() {
        let answer = ExportLogsResponse { partial_success: Some(PartialSuccess { rejected_log_records: 3, error_message: "no".into() }) };
        assert_eq!(serde_json::to_string(&answer).unwrap(), r#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"no"}}"#);
        assert_eq!(answer.encode_to_vec(), field(1, &[vec![0x08, 3], field(2, b"no")].concat()));
        assert_eq!(serde_json::to_string(&ExportLogsResponse::default()).unwrap(), "{}");
        assert!(ExportLogsResponse::default().encode_to_vec().is_empty());
    }
}
