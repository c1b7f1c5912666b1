//! The ClickHouse sink, over ClickHouse's HTTP interface (works with Debian's 18.16 package and
//! current releases): events go in as `JSONEachRow`, one INSERT per ingested batch (atomic below
//! a million rows), into a `ReplacingMergeTree` keyed by (app, event id). The summary reads the
//! rollup that INSERT feeds (`clickhouse_rollup.rs`, which also keeps a retried batch from
//! counting twice) and a periodically refreshed accuracy (`clickhouse_accuracy.rs`); the rollout
//! report groups the events with `FINAL` (`clickhouse_rollout.rs`).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::events::Event;
use super::store::{Aggregates, Bucket, EventStore, GroupKey, Limits, MinuteCount, RolloutAggregates, RolloutLimits, StoreError};
use super::{clickhouse_accuracy, clickhouse_rollup};

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

/// How long a computed accuracy is reused while events keep arriving (see
/// `clickhouse_accuracy.rs`), unless `--clickhouse-accuracy-every` says otherwise.
pub const ACCURACY_REFRESH: Duration = Duration::from_secs(60);

/// `s` as a ClickHouse string literal.
pub(super) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn now_unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A ClickHouse server reached over HTTP.
pub struct ClickHouseStore {
    /// As given, e.g. `http://127.0.0.1:8123/?database=telemetry&user=u&password=p`.
    url: String,
    agent: ureq::Agent,
    max_result_bytes: u64,
    accuracy_refresh_ms: i64,
}

#[derive(Deserialize)]
struct JsonCompact<T> {
    data: Vec<T>,
}

impl ClickHouseStore {
    /// Connects to the server at `url` and creates the tables if they are missing.
    #[cfg(test)]
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, MAX_RESULT_BYTES, ACCURACY_REFRESH)
    }

    /// `open`, reading at most `max_result_bytes` of any response and reusing a computed
    /// accuracy for `accuracy_refresh` while events arrive.
    pub fn open_with(url: &str, max_result_bytes: u64, accuracy_refresh: Duration) -> Result<Self, StoreError> {
        let config = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(30))).http_status_as_error(false).build();
        let store = ClickHouseStore {
            url: url.to_string(),
            agent: ureq::Agent::new_with_config(config),
            max_result_bytes,
            accuracy_refresh_ms: accuracy_refresh.as_millis().min(i64::MAX as u128) as i64,
        };
        store.execute(SCHEMA, None)?;
        // Old servers have no ADD COLUMN IF NOT EXISTS: ask which columns are there.
        let have: Vec<(String,)> =
            store.select(&format!("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{TABLE}'"))?;
        for (column, kind) in ADDED_COLUMNS {
            if !have.iter().any(|(c,)| c == column) {
                store.execute(&format!("ALTER TABLE {TABLE} ADD COLUMN {column} {kind}"), None)?;
            }
        }
        clickhouse_rollup::create(&store, now_unix_ms())?;
        store.execute(clickhouse_accuracy::SCHEMA, None)?;
        Ok(store)
    }

    pub(super) fn error(&self, message: impl Into<String>) -> StoreError {
        // The query string may hold a password: never show it.
        let shown = self.url.split('?').next().unwrap_or_default().to_string();
        StoreError::ClickHouse { url: shown, message: message.into() }
    }

    /// Runs `sql` (with `data` as the INSERT body, if any) and returns the response text.
    pub(super) fn execute(&self, sql: &str, data: Option<Vec<u8>>) -> Result<String, StoreError> {
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
        // Ids already stored are dropped first: the rollup's views count every inserted row.
        let events = clickhouse_rollup::fresh(self, events)?;
        if events.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(events.len() * 400);
        for e in &events {
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
        self.execute(&format!("INSERT INTO {TABLE} FORMAT JSONEachRow"), Some(body))?;
        clickhouse_rollup::check(self, &events)
    }

    fn aggregates(&self, limits: &Limits) -> Result<Aggregates, StoreError> {
        // Every figure comes from the rollup (`clickhouse_rollup.rs`), as SQLite's do, with the
        // same queries: rows of groups x minutes x buckets, never the events.
        let rows = clickhouse_rollup::rows;
        let mut out = Aggregates {
            counts: self.select(&format!("SELECT m, toInt64(sum(n)) FROM {} GROUP BY m ORDER BY m", rows("kind = 'events'")))?,
            ..Aggregates::default()
        };
        let latest: Vec<(i64, i64)> =
            self.select(&format!("SELECT toInt64(count()), toInt64(max(minute)) FROM {}", rows("kind = 'version_minute'")))?;
        out.latest_minute = latest.first().filter(|(n, _)| *n > 0).map(|&(_, m)| m);
        let since = out.latest_minute.map_or(0, |m| (m - (limits.timeline_minutes - 1)).max(0));
        let window = rows(&format!("kind = 'version_minute' AND minute >= {since}"));
        let rows_of_window: Vec<(String, String, String, i64, i64)> = self.select(&format!(
            "SELECT b, m, v, minute, n FROM {window} WHERE (m, v) IN
               (SELECT m, v FROM (SELECT m, v, sum(n) AS t FROM {window} GROUP BY m, v ORDER BY t DESC, m, v LIMIT {}))",
            limits.versions
        ))?;
        out.version_timeline = rows_of_window
            .into_iter()
            .map(|(event, model, version, minute, count)| MinuteCount { event, model, version, minute, count })
            .collect();
        let top_rows: Vec<(String, String, String, String, String, i64)> = self.select(&format!(
            "SELECT m, v, b, x, r, toInt64(sum(n)) AS total FROM {} GROUP BY m, v, b, x, r ORDER BY total DESC, m, v, b, x, r LIMIT {}",
            rows("kind = 'latency'"),
            limits.groups
        ))?;
        out.groups = top_rows.into_iter().map(|(m, v, b, x, r, n)| (group((m, v, b, x, r)), n)).collect();
        if out.groups.is_empty() {
            return Ok(out);
        }
        let keys: Vec<GroupKey> = out.groups.iter().map(|(k, _)| k.clone()).collect();
        let in_top = format!("(m, v, b, x, r) IN ({})", clickhouse_accuracy::tuples(&keys));
        let histogram = |kind: &str, extra: &str| -> Result<Vec<(GroupKey, i64, Bucket)>, StoreError> {
            let found: Vec<BucketRow> = self.select(&format!(
                "SELECT m, v, b, x, r, minute, key, n, lo, hi FROM {}",
                rows(&format!("kind = '{kind}' AND {in_top}{extra}"))
            ))?;
            Ok(found.into_iter().map(bucket_row).collect())
        };
        out.latency = histogram("latency", "")?.into_iter().map(|(k, _, b)| (k, b)).collect();
        out.latency_timeline = histogram("latency_minute", &format!(" AND minute >= {since}"))?;
        out.load_times = histogram("load", "")?.into_iter().map(|(k, _, b)| (k, b)).collect();
        let per_value = |sql: String| -> Result<Vec<(GroupKey, i64, i64)>, StoreError> {
            let found: Vec<(String, String, String, String, String, i64, i64)> = self.select(&sql)?;
            Ok(found.into_iter().map(|(m, v, b, x, r, value, n)| (group((m, v, b, x, r)), value, n)).collect())
        };
        out.classes = per_value(format!(
            "SELECT m, v, b, x, r, toInt64(if(key >= 0 AND key < {}, key, -1)) AS class, toInt64(sum(n)) FROM {} GROUP BY m, v, b, x, r, class",
            limits.classes,
            rows(&format!("kind = 'class' AND {in_top}"))
        ))?;
        out.confidence = per_value(format!("SELECT m, v, b, x, r, key, n FROM {}", rows(&format!("kind = 'confidence' AND {in_top}"))))?;
        let versions: Vec<String> = keys.iter().map(|k| format!("({}, {})", quote(&k.model), quote(&k.version))).collect();
        out.version_counts = self.select(&format!(
            "SELECT b, m, v, toInt64(sum(n)) FROM {} GROUP BY b, m, v",
            rows(&format!(
                "kind = 'version_minute' AND b IN ('burn_edge.error', 'burn_edge.backend.fallback') AND (m, v) IN ({})",
                versions.join(", ")
            ))
        ))?;
        let stored = out.counts.iter().map(|(_, n)| n).sum();
        let accuracy = clickhouse_accuracy::read(self, &keys, stored, self.accuracy_refresh_ms, now_unix_ms())?;
        out.feedback = accuracy.rows;
        out.feedback_as_of_unix_ms = Some(accuracy.taken_unix_ms);
        Ok(out)
    }

    fn rollout(&self, model: &str, limits: &RolloutLimits) -> Result<RolloutAggregates, StoreError> {
        super::clickhouse_rollout::read(self, model, limits)
    }

    /// `ALTER TABLE ... DELETE` mutations (ClickHouse 1.1.54388 and later) on the events and
    /// the rollup's tables, unless one is still running: several collectors on one table, or a
    /// pass while the last one runs, queue no second one. The rollup keeps hours, so the cutoff
    /// is taken down to the hour (retention's own is a UTC midnight): the summary then covers
    /// exactly the events kept, once the mutations have run.
    fn expire(&self, before_unix_nano: i64) -> Result<u64, StoreError> {
        let hour = before_unix_nano.div_euclid(clickhouse_rollup::HOUR_NANOS);
        let before = hour * clickhouse_rollup::HOUR_NANOS;
        let old: Vec<(i64,)> = self.select(&format!("SELECT toInt64(count()) FROM {TABLE} WHERE time_unix_nano < {before}"))?;
        let old = old.first().map_or(0, |r| r.0);
        if old == 0 {
            return Ok(0);
        }
        let running: Vec<(i64,)> = self.select(
            "SELECT toInt64(count()) FROM system.mutations WHERE database = currentDatabase() AND startsWith(table, 'burn_edge_') AND is_done = 0",
        )?;
        if running.first().is_none_or(|r| r.0 == 0) {
            self.execute(&format!("ALTER TABLE {TABLE} DELETE WHERE time_unix_nano < {before}"), None)?;
            clickhouse_rollup::expire(self, hour)?;
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
        assert!(ClickHouseStore::open_with(&serve(1000), 4096, ACCURACY_REFRESH).is_ok());
        let err = ClickHouseStore::open_with(&serve(10 << 20), 1 << 20, ACCURACY_REFRESH).err().unwrap().to_string();
        assert!(err.contains("the response is over 1048576 bytes, the most the collector reads"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }
}
