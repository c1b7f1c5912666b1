//! The ClickHouse sink, over ClickHouse's HTTP interface (works with Debian's 18.16 package and
//! current releases): events go in as `JSONEachRow`, one INSERT per ingested batch (atomic below
//! a million rows). The table is a `ReplacingMergeTree` keyed by (app, event id) and every read
//! uses `FINAL`, so a retried batch never double counts even before background merges run.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::events::Event;
use super::store::{EventStore, GroupKey, InferenceRow, MinuteCount, StoreError};

/// The table events are stored in.
pub const TABLE: &str = "burn_edge_events";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS burn_edge_events (
    app String,
    event_id String,
    install_id Nullable(String),
    time_unix_nano Int64,
    received_unix_ms Int64,
    name String,
    model_name Nullable(String),
    model_version Nullable(String),
    backend Nullable(String),
    variant Nullable(String),
    role Nullable(String),
    latency_ms Nullable(Float64),
    batch_size Nullable(Int64),
    predicted_class Nullable(Int64),
    confidence Nullable(Float64),
    prediction_id Nullable(String),
    true_label Nullable(Int64),
    ttfp_ms Nullable(Float64),
    attributes String
) ENGINE = ReplacingMergeTree() ORDER BY (app, event_id)";

/// Largest query result read back (the report reads row-level inference data).
const MAX_RESULT_BYTES: u64 = 1 << 30;

const GROUP: &str = "ifNull(model_name, ''), ifNull(model_version, ''), ifNull(backend, ''), ifNull(variant, '')";

/// A ClickHouse server reached over HTTP.
pub struct ClickHouseStore {
    /// As given, e.g. `http://127.0.0.1:8123/?database=telemetry&user=u&password=p`.
    url: String,
    agent: ureq::Agent,
}

#[derive(Deserialize)]
struct JsonCompact<T> {
    data: Vec<T>,
}

impl ClickHouseStore {
    /// Connects to the server at `url` and creates the table if it is missing.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let config = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(30))).http_status_as_error(false).build();
        let store = ClickHouseStore { url: url.to_string(), agent: ureq::Agent::new_with_config(config) };
        store.execute(SCHEMA, None)?;
        Ok(store)
    }

    fn error(&self, message: impl Into<String>) -> StoreError {
        // The query string may hold a password: never show it.
        let shown = self.url.split('?').next().unwrap_or_default().to_string();
        StoreError::ClickHouse { url: shown, message: message.into() }
    }

    /// Runs `sql` (with `data` as the INSERT body, if any) and returns the response text.
    fn execute(&self, sql: &str, data: Option<Vec<u8>>) -> Result<String, StoreError> {
        let request = self.agent.post(&self.url).query("output_format_json_quote_64bit_integers", "0");
        let result = match data {
            Some(body) => request.query("query", sql).content_type("application/x-ndjson").send(body),
            None => request.content_type("text/plain").send(sql.as_bytes()),
        };
        let mut response = result.map_err(|e| self.error(e.to_string()))?;
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESULT_BYTES)
            .read_to_string()
            .map_err(|e| self.error(format!("reading the response: {e}")))?;
        if !status.is_success() {
            return Err(self.error(format!("HTTP {status}: {}", text.trim())));
        }
        Ok(text)
    }

    fn select<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        let text = self.execute(&format!("{sql} FORMAT JSONCompact"), None)?;
        let parsed: JsonCompact<T> = serde_json::from_str(&text).map_err(|e| self.error(format!("unexpected result: {e}")))?;
        Ok(parsed.data)
    }
}

/// A string literal for ClickHouse SQL (only our own event names reach it).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn group((model, version, backend, variant): (String, String, String, String)) -> GroupKey {
    GroupKey { model, version, backend, variant }
}

impl EventStore for ClickHouseStore {
    fn insert(&self, events: &[Event], received_unix_ms: i64) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(events.len() * 400);
        for e in events {
            let row = json!({
                "app": e.app, "event_id": e.event_id, "install_id": e.install_id,
                "time_unix_nano": e.time_unix_nano as i64, "received_unix_ms": received_unix_ms, "name": e.name,
                "model_name": e.model_name, "model_version": e.model_version, "backend": e.backend,
                "variant": e.variant, "role": e.role, "latency_ms": e.latency_ms, "batch_size": e.batch_size,
                "predicted_class": e.predicted_class, "confidence": e.confidence, "prediction_id": e.prediction_id,
                "true_label": e.true_label, "ttfp_ms": e.ttfp_ms, "attributes": e.attributes_json,
            });
            serde_json::to_writer(&mut body, &row).map_err(|e| self.error(e.to_string()))?;
            body.push(b'\n');
        }
        self.execute(&format!("INSERT INTO {TABLE} FORMAT JSONEachRow"), Some(body)).map(drop)
    }

    fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.select(&format!("SELECT name, toInt64(count()) FROM {TABLE} FINAL GROUP BY name ORDER BY name"))
    }

    fn inferences(&self) -> Result<Vec<InferenceRow>, StoreError> {
        type Row = (String, String, String, String, Option<f64>, Option<i64>, Option<f64>, i64);
        let rows: Vec<Row> = self.select(&format!(
            "SELECT {GROUP}, latency_ms, predicted_class, confidence, intDiv(time_unix_nano, 60000000000)
             FROM {TABLE} FINAL WHERE name = 'burn_edge.inference'"
        ))?;
        Ok(rows
            .into_iter()
            .map(|(m, v, b, x, latency_ms, predicted_class, confidence, minute)| InferenceRow {
                group: group((m, v, b, x)),
                latency_ms,
                predicted_class,
                confidence,
                minute,
            })
            .collect())
    }

    fn counts_by_version(&self, event: &str) -> Result<Vec<(GroupKey, i64)>, StoreError> {
        let rows: Vec<(String, String, String, String, i64)> = self.select(&format!(
            "SELECT ifNull(model_name, '') AS m, ifNull(model_version, '') AS v,
                    ifNull(backend, visitParamExtractString(attributes, 'burn_edge.fallback.from')) AS b,
                    ifNull(variant, '') AS x, toInt64(count())
             FROM {TABLE} FINAL WHERE name = {} GROUP BY m, v, b, x",
            literal(event)
        ))?;
        Ok(rows.into_iter().map(|(m, v, b, x, n)| (group((m, v, b, x)), n)).collect())
    }

    fn per_minute(&self, event: &str) -> Result<Vec<MinuteCount>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> = self.select(&format!(
            "SELECT ifNull(model_name, '') AS m, ifNull(model_version, '') AS v,
                    intDiv(time_unix_nano, 60000000000) AS minute, toInt64(count())
             FROM {TABLE} FINAL WHERE name = {} GROUP BY m, v, minute ORDER BY minute",
            literal(event)
        ))?;
        Ok(rows.into_iter().map(|(model, version, minute, count)| MinuteCount { model, version, minute, count }).collect())
    }

    fn load_times(&self) -> Result<Vec<(GroupKey, f64)>, StoreError> {
        let rows: Vec<(String, String, String, String, f64)> = self.select(&format!(
            "SELECT {GROUP}, assumeNotNull(ttfp_ms) FROM {TABLE} FINAL
             WHERE name = 'burn_edge.model.load' AND isNotNull(ttfp_ms)"
        ))?;
        Ok(rows.into_iter().map(|(m, v, b, x, ms)| (group((m, v, b, x)), ms)).collect())
    }

    fn feedback(&self) -> Result<Vec<(GroupKey, i64, i64)>, StoreError> {
        // Nullable join keys are not supported by older servers: join on non-null copies.
        let rows: Vec<(String, String, String, String, i64, i64)> = self.select(&format!(
            "SELECT m, v, b, x, predicted, truth FROM
               (SELECT assumeNotNull(prediction_id) AS pid, assumeNotNull(true_label) AS truth FROM {TABLE} FINAL
                WHERE name = 'burn_edge.feedback' AND isNotNull(prediction_id) AND isNotNull(true_label))
             ANY INNER JOIN
               (SELECT assumeNotNull(prediction_id) AS pid, ifNull(model_name, '') AS m, ifNull(model_version, '') AS v,
                       ifNull(backend, '') AS b, ifNull(variant, '') AS x, assumeNotNull(predicted_class) AS predicted
                FROM {TABLE} FINAL
                WHERE name = 'burn_edge.inference' AND isNotNull(prediction_id) AND isNotNull(predicted_class))
             USING pid"
        ))?;
        Ok(rows.into_iter().map(|(m, v, b, x, p, t)| (group((m, v, b, x)), p, t)).collect())
    }
}
