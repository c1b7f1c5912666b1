//! The embedded event store: one SQLite file in WAL mode, one transaction per ingested batch,
//! duplicate event ids ignored (a retried batch never double counts).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};

use super::events::Event;
use super::store::{
    bucket_sql, class_sql, decile_sql, Aggregates, Bucket, EventStore, GroupKey, Limits, MinuteCount, StoreError, COARSE, FINE,
    MINUTE_NANOS, TIMELINE_EVENTS,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    app TEXT NOT NULL,
    event_id TEXT NOT NULL,
    install_id TEXT,
    time_unix_nano INTEGER NOT NULL,
    received_unix_ms INTEGER NOT NULL,
    name TEXT NOT NULL,
    model_name TEXT,
    model_version TEXT,
    backend TEXT,
    variant TEXT,
    role TEXT,
    latency_ms REAL,
    batch_size INTEGER,
    predicted_class INTEGER,
    confidence REAL,
    prediction_id TEXT,
    true_label INTEGER,
    ttfp_ms REAL,
    attributes TEXT NOT NULL,
    PRIMARY KEY (app, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_version ON events (name, model_name, model_version, backend, variant);
CREATE INDEX IF NOT EXISTS events_by_prediction ON events (prediction_id) WHERE prediction_id IS NOT NULL;
";

/// The SQLite sink: one connection for the writer, another for summaries (in WAL mode a
/// reader never blocks the writer, so ingest does not wait for a summary).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    reader: Mutex<Connection>,
}

/// The group columns, as the aggregates name them.
const GROUP: &str = "COALESCE(model_name,'') AS m, COALESCE(model_version,'') AS v, COALESCE(backend,'') AS b, COALESCE(variant,'') AS x";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path)?;
        // WAL: readers never block the writer. NORMAL: a committed batch survives a process
        // crash or restart (only an OS crash may lose the last commits).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let reader = Connection::open(path)?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        reader.pragma_update(None, "query_only", true)?;
        Ok(SqliteStore { conn: Mutex::new(conn), reader: Mutex::new(reader) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn key(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupKey> {
    Ok(GroupKey { model: r.get(0)?, version: r.get(1)?, backend: r.get(2)?, variant: r.get(3)? })
}

fn bucket(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Bucket> {
    Ok(Bucket { index: r.get(at)?, count: r.get(at + 1)?, min: r.get(at + 2)?, max: r.get(at + 3)? })
}

/// Runs `sql` with `params` and maps every row.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let mapped = stmt.query_map(params, f)?;
    Ok(mapped.collect::<rusqlite::Result<_>>()?)
}

/// `WITH top(m, v, b, x) AS (VALUES ...)` for `groups` (never empty), and its parameters.
fn top_cte(groups: &[(GroupKey, i64)]) -> (String, Vec<&dyn rusqlite::ToSql>) {
    let values = vec!["(?, ?, ?, ?)"; groups.len()].join(", ");
    let params = groups
        .iter()
        .flat_map(|(k, _)| [&k.model as &dyn rusqlite::ToSql, &k.version, &k.backend, &k.variant])
        .collect();
    (format!("WITH top(m, v, b, x) AS (VALUES {values})"), params)
}

/// A histogram of `column` over `event` rows since `?` (after the top groups' parameters), per
/// top group, and per minute when `per_minute`.
fn histogram_sql(top: &str, event: &str, column: &str, sub: i64, per_minute: bool) -> String {
    let minute = if per_minute { "time_unix_nano / 60000000000" } else { "0" };
    format!(
        "{top} SELECT m, v, b, x, minute, bucket, COUNT(*), MIN(val), MAX(val) FROM
           (SELECT {GROUP}, {column} AS val, {minute} AS minute, {bucket} AS bucket
            FROM events WHERE name = '{event}' AND {column} IS NOT NULL AND time_unix_nano >= ?)
         WHERE (m, v, b, x) IN (SELECT m, v, b, x FROM top)
         GROUP BY m, v, b, x, minute, bucket",
        bucket = bucket_sql(column, sub),
    )
}

impl EventStore for SqliteStore {
    fn insert(&self, events: &[Event], received_unix_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (app, event_id, install_id, time_unix_nano, received_unix_ms, name,
                 model_name, model_version, backend, variant, role, latency_ms, batch_size, predicted_class,
                 confidence, prediction_id, true_label, ttfp_ms, attributes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            )?;
            for e in events {
                stmt.execute(params![
                    e.app,
                    e.event_id,
                    e.install_id,
                    e.time_unix_nano,
                    received_unix_ms,
                    e.name,
                    e.model_name,
                    e.model_version,
                    e.backend,
                    e.variant,
                    e.role,
                    e.latency_ms,
                    e.batch_size,
                    e.predicted_class,
                    e.confidence,
                    e.prediction_id,
                    e.true_label,
                    e.ttfp_ms,
                    e.attributes_json,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn aggregates(&self, limits: &Limits) -> Result<Aggregates, StoreError> {
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        // One read transaction: every number comes from the same snapshot.
        let tx = guard.transaction()?;
        let conn: &Connection = &tx;
        let mut out = Aggregates {
            counts: rows(conn, "SELECT name, COUNT(*) FROM events GROUP BY name ORDER BY name", &[], |r| Ok((r.get(0)?, r.get(1)?)))?,
            ..Aggregates::default()
        };
        let events_in = TIMELINE_EVENTS.map(|e| format!("'{e}'")).join(", ");
        out.latest_minute = conn.query_row(
            &format!("SELECT MAX(time_unix_nano) / {MINUTE_NANOS} FROM events WHERE name IN ({events_in})"),
            [],
            |r| r.get(0),
        )?;
        let since_ns = out.latest_minute.map_or(0, |m| (m - (limits.timeline_minutes - 1)).max(0).saturating_mul(MINUTE_NANOS));
        out.version_timeline = rows(
            conn,
            &format!(
                "WITH versions AS (SELECT COALESCE(model_name,'') AS m, COALESCE(model_version,'') AS v FROM events WHERE name IN ({events_in}) AND time_unix_nano >= ?1
                   GROUP BY m, v ORDER BY COUNT(*) DESC, m, v LIMIT ?2)
                 SELECT name, m, v, minute, COUNT(*) FROM
                   (SELECT name, {GROUP}, time_unix_nano / {MINUTE_NANOS} AS minute FROM events
                    WHERE name IN ({events_in}) AND time_unix_nano >= ?1)
                 WHERE (m, v) IN (SELECT m, v FROM versions) GROUP BY name, m, v, minute"
            ),
            &[&since_ns, &(limits.versions as i64)],
            |r| Ok(MinuteCount { event: r.get(0)?, model: r.get(1)?, version: r.get(2)?, minute: r.get(3)?, count: r.get(4)? }),
        )?;
        out.groups = rows(
            conn,
            &format!(
                "SELECT {GROUP}, COUNT(*) AS n FROM events WHERE name = 'burn_edge.inference'
                 GROUP BY m, v, b, x ORDER BY n DESC, m, v, b, x LIMIT ?1"
            ),
            &[&(limits.groups as i64)],
            |r| Ok((key(r)?, r.get(4)?)),
        )?;
        if out.groups.is_empty() {
            return Ok(out);
        }
        let (top, top_params) = top_cte(&out.groups);
        let mut with_since = top_params.clone();
        with_since.push(&since_ns);
        let mut all_time = top_params.clone();
        all_time.push(&i64::MIN);
        let histogram = |event: &str, column: &str, sub: i64, per_minute: bool, params: &[&dyn rusqlite::ToSql]| {
            rows(conn, &histogram_sql(&top, event, column, sub, per_minute), params, |r| Ok((key(r)?, r.get::<_, i64>(4)?, bucket(r, 5)?)))
        };
        out.latency = histogram("burn_edge.inference", "latency_ms", FINE, false, &all_time)?.into_iter().map(|(k, _, b)| (k, b)).collect();
        out.latency_timeline = histogram("burn_edge.inference", "latency_ms", COARSE, true, &with_since)?;
        out.load_times =
            histogram("burn_edge.model.load", "ttfp_ms", FINE, false, &all_time)?.into_iter().map(|(k, _, b)| (k, b)).collect();
        let per_value = |value: String| {
            rows(
                conn,
                &format!(
                    "{top} SELECT m, v, b, x, value, COUNT(*) FROM
                       (SELECT {GROUP}, {value} AS value FROM events WHERE name = 'burn_edge.inference')
                     WHERE value IS NOT NULL AND (m, v, b, x) IN (SELECT m, v, b, x FROM top) GROUP BY m, v, b, x, value"
                ),
                &top_params,
                |r| Ok((key(r)?, r.get(4)?, r.get(5)?)),
            )
        };
        out.classes = per_value(format!("CASE WHEN predicted_class IS NULL THEN NULL ELSE {} END", class_sql("predicted_class", limits.classes)))?;
        out.confidence = per_value(format!("CASE WHEN confidence IS NULL THEN NULL ELSE {} END", decile_sql("confidence")))?;
        out.version_counts = rows(
            conn,
            &format!(
                "{top} SELECT name, m, v, COUNT(*) FROM
                   (SELECT name, {GROUP} FROM events WHERE name IN ('burn_edge.error', 'burn_edge.backend.fallback'))
                 WHERE (m, v) IN (SELECT m, v FROM top) GROUP BY name, m, v"
            ),
            &top_params,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        // One inference and one feedback per (app, prediction id): the latest of each.
        let latest = |event: &str, columns: &str, not_null: &str| {
            format!(
                "SELECT * FROM (SELECT app, prediction_id AS pid, {columns},
                   row_number() OVER (PARTITION BY app, prediction_id ORDER BY time_unix_nano DESC, event_id DESC) AS rn
                 FROM events WHERE name = '{event}' AND prediction_id IS NOT NULL AND {not_null} IS NOT NULL) WHERE rn = 1"
            )
        };
        out.feedback = rows(
            conn,
            &format!(
                "{top}, i AS ({}), f AS ({})
                 SELECT i.m, i.v, i.b, i.x, COUNT(*), SUM(i.predicted_class = f.true_label)
                 FROM i JOIN f ON f.app = i.app AND f.pid = i.pid
                 WHERE (i.m, i.v, i.b, i.x) IN (SELECT m, v, b, x FROM top) GROUP BY i.m, i.v, i.b, i.x",
                latest("burn_edge.inference", &format!("{GROUP}, predicted_class"), "predicted_class"),
                latest("burn_edge.feedback", "true_label", "true_label"),
            ),
            &top_params,
            |r| Ok((key(r)?, r.get(4)?, r.get(5)?)),
        )?;
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An inference of `model` 1.0.0 on cpu in `app`.
    pub(crate) fn inference(app: &str, id: &str, model: &str, class: i64, latency_ms: f64, time: i64, pid: Option<&str>) -> Event {
        Event {
            event_id: id.into(),
            app: app.into(),
            install_id: None,
            time_unix_nano: time,
            name: "burn_edge.inference".into(),
            model_name: Some(model.into()),
            model_version: Some("1.0.0".into()),
            backend: Some("cpu".into()),
            variant: None,
            role: None,
            latency_ms: Some(latency_ms),
            batch_size: Some(1),
            predicted_class: Some(class),
            confidence: Some(0.9),
            prediction_id: pid.map(str::to_string),
            true_label: None,
            ttfp_ms: None,
            attributes_json: "{}".into(),
        }
    }

    pub(crate) fn feedback(app: &str, id: &str, pid: &str, label: i64, time: i64) -> Event {
        Event {
            name: "burn_edge.feedback".into(),
            model_name: None,
            model_version: None,
            backend: None,
            latency_ms: None,
            batch_size: None,
            predicted_class: None,
            confidence: None,
            prediction_id: Some(pid.into()),
            true_label: Some(label),
            ..inference(app, id, "", 0, 0.0, time, None)
        }
    }

    #[test]
    fn feedback_joins_one_inference_and_one_feedback_per_app_and_prediction_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        // App a: 1,000 inferences and 1,000 feedback events share one prediction id (was
        // 1,000,000 feedback). The latest of each counts: predicted 7 (time 999), label 7.
        let mut events: Vec<Event> =
            (0..1000).map(|i| inference("a", &format!("i{i}"), "mnist", if i == 999 { 7 } else { 1 }, 1.0, i, Some("p"))).collect();
        events.extend((0..1000).map(|i| feedback("a", &format!("f{i}"), "p", if i == 999 { 7 } else { 2 }, i)));
        // App b reuses the id for another model: its own pair, joined within b only.
        events.push(inference("b", "i", "other", 4, 1.0, 5, Some("p")));
        events.push(feedback("b", "f", "p", 5, 6));
        store.insert(&events, 0).unwrap();
        let agg = store.aggregates(&Limits::default()).unwrap();
        let mut feedback: Vec<_> = agg.feedback.iter().map(|(k, n, correct)| (k.model.as_str(), *n, *correct)).collect();
        feedback.sort();
        assert_eq!(feedback, [("mnist", 1, 1), ("other", 1, 0)]);
    }

    #[test]
    fn a_summary_in_progress_does_not_hold_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        store.insert(&[inference("a", "1", "mnist", 1, 1.0, 1, None)], 0).unwrap();
        // A summary's read transaction, held open.
        let mut reader = store.reader.lock().unwrap();
        let snapshot = reader.transaction().unwrap();
        let seen: i64 = snapshot.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
        let started = std::time::Instant::now();
        store.insert(&[inference("a", "2", "mnist", 1, 1.0, 2, None)], 0).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "the insert waited for the reader");
        // The summary goes on reading its snapshot; the next one sees the new event.
        let still: i64 = snapshot.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
        assert_eq!((seen, still), (1, 1));
        drop(snapshot);
        drop(reader);
        assert_eq!(store.aggregates(&Limits::default()).unwrap().groups[0].1, 2);
    }

    #[test]
    fn stored_times_are_never_negative() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        let body = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"18446744073709551615","eventName":"burn_edge.feedback",
            "attributes":[{"key":"event.id","value":{"stringValue":"f"}},{"key":"burn_edge.prediction_id","value":{"stringValue":"p"}},
            {"key":"burn_edge.true_label","value":{"intValue":"1"}}]}]}]}]}"#;
        let parsed = super::super::events::parse(&serde_json::from_str(body).unwrap(), "a");
        store.insert(&parsed.events, 0).unwrap();
        let t: i64 = store.conn().query_row("SELECT time_unix_nano FROM events", [], |r| r.get(0)).unwrap();
        assert!(t > 1_700_000_000_000_000_000, "{t}");
    }

    #[test]
    fn a_long_install_id_and_unknown_attributes_do_not_grow_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        let junk = "j".repeat(5000);
        let records: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    r#"{{"timeUnixNano":"5","eventName":"burn_edge.feedback","attributes":[{{"key":"event.id","value":{{"stringValue":"f{i}"}}}},
                    {{"key":"burn_edge.prediction_id","value":{{"stringValue":"p"}}}},{{"key":"burn_edge.true_label","value":{{"intValue":"1"}}}},
                    {{"key":"junk","value":{{"stringValue":"{junk}"}}}}]}}"#
                )
            })
            .collect();
        let body = format!(
            r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"burn_edge.install_id","value":{{"stringValue":"{}"}}}}]}},
            "scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
            "i".repeat(618_000),
            records.join(",")
        );
        let parsed = super::super::events::parse(&serde_json::from_str(&body).unwrap(), "a");
        assert_eq!((parsed.events.len(), parsed.dropped_attributes, parsed.dropped_install_ids), (100, 100, 1));
        store.insert(&parsed.events, 0).unwrap();
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let bytes = size(&path) + size(&dir.path().join("t.sqlite-wal"));
        // Was 100 copies of the id and of the junk: over 60 MB.
        assert!(bytes < 1 << 20, "{bytes} bytes for 100 small events");
    }
}
