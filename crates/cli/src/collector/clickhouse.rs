//! The ClickHouse sink, over ClickHouse's HTTP interface (works with Debian's 18.16 package and
//! current releases): events go in as `JSONEachRow`, one INSERT per ingested batch (atomic below
//! a million rows). The table is a `ReplacingMergeTree` keyed by (app, event id) and every read
//! uses `FINAL`, so a retried batch never double counts even before background merges run.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::events::Event;
use super::store::{
    bucket_sql, class_sql, decile_sql, Aggregates, Bucket, EventStore, GroupKey, Limits, MinuteCount, RolloutAggregates, RolloutLimits,
    StoreError, COARSE, FINE, MINUTE_NANOS, TIMELINE_EVENTS,
};

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
    attributes String,
    rollout_alias Nullable(String),
    rollout_rule Nullable(String),
    rollout_arm Nullable(String),
    shadow_of Nullable(String),
    swap_ms Nullable(Float64),
    winner Nullable(String),
    route Nullable(String)
) ENGINE = ReplacingMergeTree() ORDER BY (app, event_id)";

/// Columns added with rollouts (`events::Rollout`) and routing: added to a table created before them.
const ADDED_COLUMNS: [(&str, &str); 7] = [
    ("rollout_alias", "Nullable(String)"),
    ("rollout_rule", "Nullable(String)"),
    ("rollout_arm", "Nullable(String)"),
    ("shadow_of", "Nullable(String)"),
    ("swap_ms", "Nullable(Float64)"),
    ("winner", "Nullable(String)"),
    // Added with routing; old rows have none and count as `edge`.
    ("route", "Nullable(String)"),
];

/// Largest response read back: summaries are bounded (see `Limits`), so anything larger is a
/// misconfigured or hostile server, refused before it fills the collector's memory.
pub const MAX_RESULT_BYTES: u64 = 64 << 20;

/// The group columns, as the aggregates name them.
const GROUP: &str =
    "ifNull(model_name, '') AS m, ifNull(model_version, '') AS v, ifNull(backend, '') AS b, ifNull(variant, '') AS x, ifNull(route, 'edge') AS r";

/// A ClickHouse server reached over HTTP.
pub struct ClickHouseStore {
    /// As given, e.g. `http://127.0.0.1:8123/?database=telemetry&user=u&password=p`.
    url: String,
    agent: ureq::Agent,
    max_result_bytes: u64,
}

#[derive(Deserialize)]
struct JsonCompact<T> {
    data: Vec<T>,
}

impl ClickHouseStore {
    /// Connects to the server at `url` and creates the table if it is missing.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with_limit(url, MAX_RESULT_BYTES)
    }

    /// `open`, reading at most `max_result_bytes` of any response.
    pub fn open_with_limit(url: &str, max_result_bytes: u64) -> Result<Self, StoreError> {
        let config = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(30))).http_status_as_error(false).build();
        let store = ClickHouseStore { url: url.to_string(), agent: ureq::Agent::new_with_config(config), max_result_bytes };
        store.execute(SCHEMA, None)?;
        // Old servers have no ADD COLUMN IF NOT EXISTS: ask which columns are there.
        let have: Vec<(String,)> =
            store.select(&format!("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{TABLE}'"))?;
        for (column, kind) in ADDED_COLUMNS {
            if !have.iter().any(|(c,)| c == column) {
                store.execute(&format!("ALTER TABLE {TABLE} ADD COLUMN {column} {kind}"), None)?;
            }
        }
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
        let text = response.body_mut().with_config().limit(self.max_result_bytes).read_to_string().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                self.error(format!("the response is over {} bytes, the most the collector reads", self.max_result_bytes))
            }
            e => self.error(format!("reading the response: {e}")),
        })?;
        if !status.is_success() {
            return Err(self.error(format!("HTTP {status}: {}", text.trim())));
        }
        Ok(text)
    }

    pub(super) fn select<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        let text = self.execute(&format!("{sql} FORMAT JSONCompact"), None)?;
        let parsed: JsonCompact<T> = serde_json::from_str(&text).map_err(|e| self.error(format!("unexpected result: {e}")))?;
        Ok(parsed.data)
    }
}

fn group((model, version, backend, variant, route): (String, String, String, String, String)) -> GroupKey {
    GroupKey { model, version, backend, variant, route }
}

type BucketRow = (String, String, String, String, String, i64, i64, i64, f64, f64);

fn bucket_row((m, v, b, x, r, minute, index, count, min, max): BucketRow) -> (GroupKey, i64, Bucket) {
    (group((m, v, b, x, r)), minute, Bucket { index, count, min, max })
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
                "time_unix_nano": e.time_unix_nano, "received_unix_ms": received_unix_ms, "name": e.name,
                "model_name": e.model_name, "model_version": e.model_version, "backend": e.backend,
                "variant": e.variant, "role": e.role, "latency_ms": e.latency_ms, "batch_size": e.batch_size,
                "predicted_class": e.predicted_class, "confidence": e.confidence, "prediction_id": e.prediction_id,
                "true_label": e.true_label, "ttfp_ms": e.ttfp_ms, "attributes": e.attributes_json,
                "rollout_alias": e.rollout.alias, "rollout_rule": e.rollout.rule, "rollout_arm": e.rollout.arm,
                "shadow_of": e.rollout.shadow_of, "swap_ms": e.rollout.swap_ms, "winner": e.rollout.winner,
                "route": e.route,
            });
            serde_json::to_writer(&mut body, &row).map_err(|e| self.error(e.to_string()))?;
            body.push(b'\n');
        }
        self.execute(&format!("INSERT INTO {TABLE} FORMAT JSONEachRow"), Some(body)).map(drop)
    }

    fn aggregates(&self, limits: &Limits) -> Result<Aggregates, StoreError> {
        // Old servers have no table CTEs: the top groups' subquery is repeated where needed.
        let mut out = Aggregates {
            counts: self.select(&format!("SELECT name, toInt64(count()) FROM {TABLE} FINAL GROUP BY name ORDER BY name"))?,
            ..Aggregates::default()
        };
        let events_in = TIMELINE_EVENTS.map(|e| format!("'{e}'")).join(", ");
        let latest: Vec<(i64, i64)> = self.select(&format!(
            "SELECT toInt64(count()), toInt64(intDiv(max(time_unix_nano), {MINUTE_NANOS})) FROM {TABLE} FINAL WHERE name IN ({events_in})"
        ))?;
        out.latest_minute = latest.first().filter(|(n, _)| *n > 0).map(|&(_, m)| m);
        let since_ns = out.latest_minute.map_or(0, |m| (m - (limits.timeline_minutes - 1)).max(0).saturating_mul(MINUTE_NANOS));
        let versions = format!(
            "SELECT m, v FROM (SELECT ifNull(model_name, '') AS m, ifNull(model_version, '') AS v, count() AS n FROM {TABLE} FINAL
               WHERE name IN ({events_in}) AND time_unix_nano >= {since_ns} GROUP BY m, v ORDER BY n DESC, m, v LIMIT {})",
            limits.versions
        );
        let rows: Vec<(String, String, String, i64, i64)> = self.select(&format!(
            "SELECT name, m, v, minute, toInt64(count()) FROM
               (SELECT name, {GROUP}, intDiv(time_unix_nano, {MINUTE_NANOS}) AS minute FROM {TABLE} FINAL
                WHERE name IN ({events_in}) AND time_unix_nano >= {since_ns})
             WHERE (m, v) IN ({versions}) GROUP BY name, m, v, minute"
        ))?;
        out.version_timeline =
            rows.into_iter().map(|(event, model, version, minute, count)| MinuteCount { event, model, version, minute, count }).collect();
        let top_rows: Vec<(String, String, String, String, String, i64)> = self.select(&format!(
            "SELECT {GROUP}, toInt64(count()) AS n FROM {TABLE} FINAL WHERE name = 'burn_edge.inference'
             GROUP BY m, v, b, x, r ORDER BY n DESC, m, v, b, x, r LIMIT {}",
            limits.groups
        ))?;
        out.groups = top_rows.into_iter().map(|(m, v, b, x, r, n)| (group((m, v, b, x, r)), n)).collect();
        if out.groups.is_empty() {
            return Ok(out);
        }
        let top = format!(
            "SELECT m, v, b, x, r FROM (SELECT {GROUP}, count() AS n FROM {TABLE} FINAL WHERE name = 'burn_edge.inference'
               GROUP BY m, v, b, x, r ORDER BY n DESC, m, v, b, x, r LIMIT {})",
            limits.groups
        );
        // Per minute: in the timeline window only.
        let histogram = |event: &str, column: &str, sub: i64, per_minute: bool| -> Result<Vec<(GroupKey, i64, Bucket)>, StoreError> {
            let (minute, window) = if per_minute {
                (format!("intDiv(time_unix_nano, {MINUTE_NANOS})"), format!(" AND time_unix_nano >= {since_ns}"))
            } else {
                ("0".into(), String::new())
            };
            let rows: Vec<BucketRow> = self.select(&format!(
                "SELECT m, v, b, x, r, toInt64(minute), toInt64(bucket), toInt64(count()), min(val), max(val) FROM
                   (SELECT {GROUP}, assumeNotNull({column}) AS val, {minute} AS minute, {} AS bucket FROM {TABLE} FINAL
                    WHERE name = '{event}' AND isNotNull({column}){window})
                 WHERE (m, v, b, x, r) IN ({top}) GROUP BY m, v, b, x, r, minute, bucket",
                bucket_sql(&format!("assumeNotNull({column})"), sub)
            ))?;
            Ok(rows.into_iter().map(bucket_row).collect())
        };
        out.latency = histogram("burn_edge.inference", "latency_ms", FINE, false)?.into_iter().map(|(k, _, b)| (k, b)).collect();
        out.latency_timeline = histogram("burn_edge.inference", "latency_ms", COARSE, true)?;
        out.load_times = histogram("burn_edge.model.load", "ttfp_ms", FINE, false)?.into_iter().map(|(k, _, b)| (k, b)).collect();
        let per_value = |column: &str, value: String| -> Result<Vec<(GroupKey, i64, i64)>, StoreError> {
            let rows: Vec<(String, String, String, String, String, i64, i64)> = self.select(&format!(
                "SELECT m, v, b, x, r, toInt64(value), toInt64(count()) FROM
                   (SELECT {GROUP}, {value} AS value FROM {TABLE} FINAL WHERE name = 'burn_edge.inference' AND isNotNull({column}))
                 WHERE (m, v, b, x, r) IN ({top}) GROUP BY m, v, b, x, r, value"
            ))?;
            Ok(rows.into_iter().map(|(m, v, b, x, r, value, n)| (group((m, v, b, x, r)), value, n)).collect())
        };
        out.classes = per_value("predicted_class", class_sql("assumeNotNull(predicted_class)", limits.classes))?;
        out.confidence = per_value("confidence", decile_sql("assumeNotNull(confidence)"))?;
        out.version_counts = self.select(&format!(
            "SELECT name, m, v, toInt64(count()) FROM
               (SELECT name, {GROUP} FROM {TABLE} FINAL WHERE name IN ('burn_edge.error', 'burn_edge.backend.fallback'))
             WHERE (m, v) IN (SELECT m, v FROM ({top})) GROUP BY name, m, v"
        ))?;
        // One inference and one feedback per (app, prediction id): the latest of each. Nullable
        // join keys are not supported by older servers: join on non-null copies.
        // Only inferences that got feedback are sorted.
        let with_feedback = format!(
            "(app, assumeNotNull(prediction_id)) IN (SELECT app, assumeNotNull(prediction_id) FROM {TABLE}
               WHERE name = 'burn_edge.feedback' AND isNotNull(prediction_id))"
        );
        let latest = |event: &str, columns: &str, not_null: &str| {
            format!(
                "SELECT app, assumeNotNull(prediction_id) AS pid, {columns} FROM {TABLE} FINAL
                 WHERE name = '{event}' AND isNotNull(prediction_id) AND isNotNull({not_null}) AND {with_feedback}
                 ORDER BY app, pid, time_unix_nano DESC, event_id DESC LIMIT 1 BY app, pid"
            )
        };
        let rows: Vec<(String, String, String, String, String, i64, i64)> = self.select(&format!(
            "SELECT m, v, b, x, r, toInt64(count()), toInt64(sum(predicted = truth)) FROM
               ({}) ALL INNER JOIN ({}) USING (app, pid)
             WHERE (m, v, b, x, r) IN ({top}) GROUP BY m, v, b, x, r",
            latest("burn_edge.inference", &format!("{GROUP}, assumeNotNull(predicted_class) AS predicted"), "predicted_class"),
            latest("burn_edge.feedback", "assumeNotNull(true_label) AS truth", "true_label"),
        ))?;
        out.feedback = rows.into_iter().map(|(m, v, b, x, r, n, correct)| (group((m, v, b, x, r)), n, correct)).collect();
        Ok(out)
    }

    fn rollout(&self, model: &str, limits: &RolloutLimits) -> Result<RolloutAggregates, StoreError> {
        super::clickhouse_rollout::read(self, model, limits)
    }

    /// An `ALTER TABLE ... DELETE` mutation (ClickHouse 1.1.54388 and later; the summaries read
    /// the table, so they follow once it has run), unless one is still running: several
    /// collectors on one table, or a pass while the last one runs, queue no second one.
    fn expire(&self, before_unix_nano: i64) -> Result<u64, StoreError> {
        let old: Vec<(i64,)> = self.select(&format!("SELECT toInt64(count()) FROM {TABLE} WHERE time_unix_nano < {before_unix_nano}"))?;
        let old = old.first().map_or(0, |r| r.0);
        if old == 0 {
            return Ok(0);
        }
        let running: Vec<(i64,)> = self.select(&format!(
            "SELECT toInt64(count()) FROM system.mutations WHERE database = currentDatabase() AND table = '{TABLE}' AND is_done = 0"
        ))?;
        if running.first().is_none_or(|r| r.0 == 0) {
            self.execute(&format!("ALTER TABLE {TABLE} DELETE WHERE time_unix_nano < {before_unix_nano}"), None)?;
        }
        Ok(old as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A server that answers every request with `body_len` bytes (an empty result, then
    /// spaces), on a port of its own.
    fn serve(body_len: usize) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/?password=secret", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                // The whole request is read first: a socket closed with unread bytes sends a
                // reset, which can reach the client before the response it should read.
                if read_request(&mut stream).is_err() {
                    continue;
                }
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n");
                let _ = stream.write_all(head.as_bytes());
                // An empty JSONCompact result (what `open` asks for), padded with spaces.
                let empty = br#"{"data":[]}"#;
                let _ = stream.write_all(&empty[..empty.len().min(body_len)]);
                let chunk = vec![b' '; 1 << 16];
                let mut left = body_len.saturating_sub(empty.len());
                while left > 0 {
                    let n = left.min(chunk.len());
                    if stream.write_all(&chunk[..n]).is_err() {
                        break;
                    }
                    left -= n;
                }
            }
        });
        url
    }

    /// Reads one HTTP request: the head, then `Content-Length` bytes of body.
    fn read_request(stream: &mut std::net::TcpStream) -> std::io::Result<()> {
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            got.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
        let body_len: usize =
            head.lines().find_map(|line| line.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        let mut left = body_len.saturating_sub(got.len() - head_end);
        while left > 0 {
            let n = stream.read(&mut buf[..left.min(8192)])?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            left -= n;
        }
        Ok(())
    }

    #[test]
    fn a_response_over_the_limit_is_refused_with_a_clear_error() {
        const { assert!(MAX_RESULT_BYTES <= 64 << 20, "a read could pull 1 GiB") };
        assert!(ClickHouseStore::open_with_limit(&serve(1000), 4096).is_ok());
        let err = ClickHouseStore::open_with_limit(&serve(10 << 20), 1 << 20).err().unwrap().to_string();
        assert!(err.contains("the response is over 1048576 bytes, the most the collector reads"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }
}
