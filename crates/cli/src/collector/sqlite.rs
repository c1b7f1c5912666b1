//! The embedded event store: one SQLite file in WAL mode, one transaction per ingested batch,
//! duplicate event ids ignored (a retried batch never double counts), the summary's aggregates
//! kept as running rollups (`rollup.rs`) in the same transactions.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};

use super::events::Event;
use super::feedback_rollup;
use super::rollout_rollup;
use super::rollup;
use super::store::{Aggregates, Bucket, EventStore, GroupKey, Limits, MinuteCount, RolloutAggregates, RolloutLimits, StoreError};

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
CREATE INDEX IF NOT EXISTS events_by_prediction ON events (prediction_id) WHERE prediction_id IS NOT NULL;
-- The feedback events, which the rollout report's accuracy reads (most events are inferences).
CREATE INDEX IF NOT EXISTS events_feedback ON events (app, prediction_id) WHERE name = 'burn_edge.feedback';
-- Was on every event, for queries the rollups now answer: one B-tree insert less per event.
DROP INDEX IF EXISTS events_by_version;
";

/// Columns added with rollouts (`events::Rollout`): added to a database created before them.
const ROLLOUT_COLUMNS: [(&str, &str); 6] = [
    ("rollout_alias", "TEXT"),
    ("rollout_rule", "TEXT"),
    ("rollout_arm", "TEXT"),
    ("shadow_of", "TEXT"),
    ("swap_ms", "REAL"),
    ("winner", "TEXT"),
];

/// The column added with routing (`burn_edge.route`); old rows have none and count as `edge`.
const ROUTE_COLUMN: (&str, &str) = ("route", "TEXT");

/// The names of `table`'s columns.
fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let have = stmt.query_map([table], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(have)
}

/// Adds the rollout and route columns a database lacks, then their index.
fn add_rollout_columns(conn: &Connection) -> rusqlite::Result<()> {
    let have = columns(conn, "events")?;
    for (column, kind) in ROLLOUT_COLUMNS.into_iter().chain([ROUTE_COLUMN]) {
        if !have.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE events ADD COLUMN {column} {kind}"))?;
        }
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS events_by_shadow ON events (model_name, shadow_of) WHERE shadow_of IS NOT NULL")
}

/// The SQLite sink: one connection for the writer, another for summaries (in WAL mode a
/// reader never blocks the writer, so ingest does not wait for a summary). Summaries read the
/// rollup (`rollup.rs`), kept in step by every insert in the same transaction.
/// SQL CTE `f(app, pid, true_label)`: the latest feedback of every (app, prediction id), which
/// the summary's accuracy and the rollout report's misprediction counts join to inferences.
pub const LATEST_FEEDBACK: &str = "f AS (SELECT app, pid, true_label FROM
    (SELECT app, prediction_id AS pid, true_label,
       row_number() OVER (PARTITION BY app, prediction_id ORDER BY time_unix_nano DESC, event_id DESC) AS rn
     FROM events WHERE name = 'burn_edge.feedback' AND prediction_id IS NOT NULL AND true_label IS NOT NULL)
    WHERE rn = 1)";

pub struct SqliteStore {
    conn: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut conn = Connection::open(path)?;
        // WAL: readers never block the writer. NORMAL: a committed batch survives a process
        // crash or restart (only an OS crash may lose the last commits).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 64 MiB of page cache (default 2 MiB): the (app, event id) index takes random inserts,
        // and past a few hundred thousand events it no longer fits the default.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let tx = conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        add_rollout_columns(&tx)?;
        // A rollup from before routing is keyed without the route: rebuilt from the events.
        if columns(&tx, "rollup")?.iter().any(|c| c == "m") && !columns(&tx, "rollup")?.iter().any(|c| c == "r") {
            tx.execute_batch("DROP TABLE rollup")?;
        }
        let has = |table: &str| tx.query_row("SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = ?1", [table], |r| r.get::<_, bool>(0));
        let (has_rollup, has_rollout, has_pairs) = (has("rollup")?, has("rollout_rollup")?, has("feedback_pairs")?);
        tx.execute_batch(rollup::SCHEMA)?;
        tx.execute_batch(rollout_rollup::SCHEMA)?;
        tx.execute_batch(feedback_rollup::SCHEMA)?;
        if !has_rollup {
            rollup::rebuild(&tx)?;
        }
        if !has_rollup || !has_pairs {
            feedback_rollup::rebuild(&tx)?;
        }
        if !has_rollout {
            rollout_rollup::rebuild(&tx)?;
        }
        tx.commit()?;
        let reader = Connection::open(path)?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        reader.pragma_update(None, "query_only", true)?;
        Ok(SqliteStore { conn: Mutex::new(conn), reader: Mutex::new(reader) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A group key from columns 0 to 4 (model, version, backend, variant, route).
fn key(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupKey> {
    Ok(GroupKey { model: r.get(0)?, version: r.get(1)?, backend: r.get(2)?, variant: r.get(3)?, route: r.get(4)? })
}

fn bucket(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Bucket> {
    Ok(Bucket { index: r.get(at)?, count: r.get(at + 1)?, min: r.get(at + 2)?, max: r.get(at + 3)? })
}

/// Runs `sql` with `params` and maps every row.
pub(crate) fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let mapped = stmt.query_map(params, f)?;
    Ok(mapped.collect::<rusqlite::Result<_>>()?)
}

/// `WITH top(m, v, b, x, r) AS (VALUES ...)` for `groups` (never empty), and its parameters.
fn top_cte(groups: &[(GroupKey, i64)]) -> (String, Vec<&dyn rusqlite::ToSql>) {
    let values = vec!["(?, ?, ?, ?, ?)"; groups.len()].join(", ");
    let params =
        groups.iter().flat_map(|(k, _)| [&k.model as &dyn rusqlite::ToSql, &k.version, &k.backend, &k.variant, &k.route]).collect();
    (format!("WITH top(m, v, b, x, r) AS (VALUES {values})"), params)
}

impl EventStore for SqliteStore {
    fn insert(&self, events: &[Event], received_unix_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut increments = rollup::Increments::default();
        let mut rollout = rollout_rollup::Increments::default();
        let mut feedback = feedback_rollup::Deltas::default();
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (app, event_id, install_id, time_unix_nano, received_unix_ms, name,
                 model_name, model_version, backend, variant, role, latency_ms, batch_size, predicted_class,
                 confidence, prediction_id, true_label, ttfp_ms, attributes,
                 rollout_alias, rollout_rule, rollout_arm, shadow_of, swap_ms, winner, route)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                   ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
            )?;
            for e in events {
                let stored = stmt.execute(params![
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
                    e.rollout.alias,
                    e.rollout.rule,
                    e.rollout.arm,
                    e.rollout.shadow_of,
                    e.rollout.swap_ms,
                    e.rollout.winner,
                    e.route,
                ])?;
                // A duplicate (a retried batch) adds nothing.
                if stored == 1 {
                    feedback_rollup::event(&tx, e, &mut feedback)?;
                    increments.event(&rollup::Fields::of(e));
                    let r = &e.rollout;
                    rollout.event(&rollout_rollup::Fields {
                        name: &e.name,
                        model: e.model_name.as_deref(),
                        version: e.model_version.as_deref(),
                        role: e.role.as_deref(),
                        install_id: e.install_id.as_deref(),
                        alias: r.alias.as_deref(),
                        rule: r.rule.as_deref(),
                        arm: r.arm.as_deref(),
                        latency_ms: e.latency_ms,
                        predicted_class: e.predicted_class,
                        swap_ms: r.swap_ms,
                        winner: r.winner.as_deref(),
                    });
                }
            }
        }
        increments.write(&tx)?;
        rollout.write(&tx)?;
        feedback.write(&tx)?;
        tx.commit()?;
        Ok(())
    }

    fn aggregates(&self, limits: &Limits) -> Result<Aggregates, StoreError> {
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        // One read transaction: every number comes from the same snapshot.
        let tx = guard.transaction()?;
        let conn: &Connection = &tx;
        let mut out = Aggregates {
            counts: rows(conn, "SELECT m, SUM(n) FROM rollup WHERE kind = 'events' GROUP BY m ORDER BY m", &[], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?,
            ..Aggregates::default()
        };
        out.latest_minute = conn.query_row("SELECT MAX(minute) FROM rollup WHERE kind = 'version_minute'", [], |r| r.get(0))?;
        let since = out.latest_minute.map_or(0, |m| (m - (limits.timeline_minutes - 1)).max(0));
        out.version_timeline = rows(
            conn,
            "WITH versions AS (SELECT m, v FROM rollup WHERE kind = 'version_minute' AND minute >= ?1
                GROUP BY m, v ORDER BY SUM(n) DESC, m, v LIMIT ?2)
             SELECT b, m, v, minute, n FROM rollup
             WHERE kind = 'version_minute' AND minute >= ?1 AND (m, v) IN (SELECT m, v FROM versions)",
            &[&since, &(limits.versions as i64)],
            |r| Ok(MinuteCount { event: r.get(0)?, model: r.get(1)?, version: r.get(2)?, minute: r.get(3)?, count: r.get(4)? }),
        )?;
        out.groups = rows(
            conn,
            "SELECT m, v, b, x, r, SUM(n) AS total FROM rollup WHERE kind = 'latency'
             GROUP BY m, v, b, x, r ORDER BY total DESC, m, v, b, x, r LIMIT ?1",
            &[&(limits.groups as i64)],
            |r| Ok((key(r)?, r.get(5)?)),
        )?;
        if out.groups.is_empty() {
            return Ok(out);
        }
        let (top, top_params) = top_cte(&out.groups);
        let per_group = |kind: &str, extra: &str| {
            format!(
                "{top} SELECT m, v, b, x, r, minute, key, n, lo, hi FROM rollup WHERE kind = '{kind}'{extra} AND (m, v, b, x, r) IN top"
            )
        };
        let histogram =
            |sql: String, params: &[&dyn rusqlite::ToSql]| rows(conn, &sql, params, |r| Ok((key(r)?, r.get::<_, i64>(5)?, bucket(r, 6)?)));
        let mut with_since = top_params.clone();
        with_since.push(&since);
        out.latency = histogram(per_group("latency", ""), &top_params)?.into_iter().map(|(k, _, b)| (k, b)).collect();
        out.latency_timeline = histogram(per_group("latency_minute", " AND minute >= ?"), &with_since)?;
        out.load_times = histogram(per_group("load", ""), &top_params)?.into_iter().map(|(k, _, b)| (k, b)).collect();
        let mut with_cap = top_params.clone();
        with_cap.push(&limits.classes);
        out.classes = rows(
            conn,
            &format!(
                "{top} SELECT m, v, b, x, r, CASE WHEN key >= 0 AND key < ? THEN key ELSE -1 END AS class, SUM(n) FROM rollup
                 WHERE kind = 'class' AND (m, v, b, x, r) IN top GROUP BY m, v, b, x, r, class"
            ),
            // The cap's parameter comes after the top groups' in the text too.
            &with_cap,
            |r| Ok((key(r)?, r.get(5)?, r.get(6)?)),
        )?;
        out.confidence = rows(conn, &per_group("confidence", ""), &top_params, |r| Ok((key(r)?, r.get(6)?, r.get(7)?)))?;
        out.version_counts = rows(
            conn,
            &format!(
                "{top} SELECT b, m, v, SUM(n) FROM rollup WHERE kind = 'version_minute'
                   AND b IN ('burn_edge.error', 'burn_edge.backend.fallback') AND (m, v) IN (SELECT m, v FROM top)
                 GROUP BY b, m, v"
            ),
            &top_params,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        // The latest feedback per (app, prediction id) joined to the latest inference of the
        // same app and prediction id, kept by `feedback_rollup` at ingest.
        out.feedback = rows(
            conn,
            &format!(
                "{top} SELECT m, v, b, x, r, SUM(n), SUM(CASE WHEN key = 1 THEN n ELSE 0 END) FROM rollup
                 WHERE kind = 'feedback' AND (m, v, b, x, r) IN top GROUP BY m, v, b, x, r HAVING SUM(n) > 0"
            ),
            &top_params,
            |r| Ok((key(r)?, r.get(5)?, r.get(6)?)),
        )?;
        Ok(out)
    }

    fn rollout(&self, model: &str, limits: &RolloutLimits) -> Result<RolloutAggregates, StoreError> {
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let tx = guard.transaction()?;
        rollout_rollup::read(&tx, model, limits)
    }

    /// Deletes the old events and rebuilds every rollup from the events kept, in one
    /// transaction: summaries then cover exactly the stored events, as ClickHouse's do. Whether
    /// there is anything to delete is asked on the reader, so a pass with nothing to do never
    /// holds the writer.
    fn expire(&self, before_unix_nano: i64) -> Result<u64, StoreError> {
        let old: bool = {
            let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
            reader.query_row("SELECT EXISTS (SELECT 1 FROM events WHERE time_unix_nano < ?1)", [before_unix_nano], |r| r.get(0))?
        };
        if !old {
            return Ok(0);
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let deleted = tx.execute("DELETE FROM events WHERE time_unix_nano < ?1", [before_unix_nano])?;
        rebuild_rollups(&tx)?;
        tx.commit()?;
        Ok(deleted as u64)
    }
}

/// Rebuilds every rollup from the events (inside the caller's transaction).
pub(crate) fn rebuild_rollups(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("DELETE FROM rollup; DELETE FROM rollout_rollup; DELETE FROM rollout_users;")?;
    rollup::rebuild(conn)?;
    // The feedback pairs (and their `feedback` rollup rows) are kept at ingest too.
    feedback_rollup::rebuild(conn)?;
    rollout_rollup::rebuild(conn)
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
            route: None,
            rollout: Default::default(),
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
    fn the_feedback_kept_at_ingest_is_the_join_whatever_the_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        // 30 prediction ids in two apps, several inferences and feedback events each, with
        // equal times now and then (the event id decides), arriving in scrambled batches.
        let mut events: Vec<Event> = (0..300i64)
            .map(|i| {
                let (app, pid, time) = (if i % 7 == 0 { "b" } else { "a" }, format!("p{}", i % 30), i * 53 % 97);
                if i % 4 == 0 {
                    feedback(app, &format!("f{i}"), &pid, i / 30 % 3, time)
                } else {
                    let backend = Some(if i / 30 % 2 == 0 { "cpu" } else { "webgpu" }.to_string());
                    Event { backend, ..inference(app, &format!("i{i}"), "mnist", i % 3, 1.0, time, Some(&pid)) }
                }
            })
            .collect();
        events.sort_by_key(|e| e.event_id.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
        for batch in events.chunks(17) {
            store.insert(batch, 0).unwrap();
        }
        store.insert(&events[..50], 0).unwrap(); // a retry adds nothing
        let feedback = |store: &SqliteStore| {
            let mut f = store.aggregates(&Limits::default()).unwrap().feedback;
            f.sort_by(|a, b| a.0.cmp(&b.0));
            f
        };
        let kept = feedback(&store);
        // The same numbers from the join over every stored event.
        feedback_rollup::rebuild(&store.conn()).unwrap();
        assert_eq!(kept, feedback(&store));
        assert!(kept.iter().any(|(_, n, correct)| *correct > 0 && correct < n), "{kept:?}");
    }

    #[test]
    fn the_summary_reads_the_rollups_never_the_events() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        let mut events: Vec<Event> = (0..200)
            .map(|i| inference("a", &format!("i{i}"), "mnist", i % 5, 0.5 + i as f64, i * 1_000_000_000, Some(&format!("p{i}"))))
            .collect();
        events.extend((0..50).map(|i| feedback("a", &format!("f{i}"), &format!("p{i}"), i % 5, 1)));
        store.insert(&events, 0).unwrap();
        let before = store.aggregates(&Limits::default()).unwrap();
        assert_eq!(before.feedback[0].1, 50);
        store.conn().execute_batch("DELETE FROM events").unwrap();
        assert_eq!(store.aggregates(&Limits::default()).unwrap(), before);
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

    #[test]
    fn routes_split_the_groups_and_a_database_from_before_routing_reads_as_edge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let body = |id: &str, route: Option<&str>| {
            let route = route.map(|r| format!(r#",{{"key":"burn_edge.route","value":{{"stringValue":"{r}"}}}}"#)).unwrap_or_default();
            format!(
                r#"{{"timeUnixNano":"5","eventName":"burn_edge.inference","attributes":[{{"key":"event.id","value":{{"stringValue":"{id}"}}}},
                {{"key":"burn_edge.model.name","value":{{"stringValue":"mnist"}}}},{{"key":"burn_edge.model.version","value":{{"stringValue":"1.0.0"}}}},
                {{"key":"burn_edge.backend","value":{{"stringValue":"cpu"}}}},{{"key":"burn_edge.latency_ms","value":{{"doubleValue":2.0}}}},
                {{"key":"burn_edge.batch_size","value":{{"intValue":"1"}}}},{{"key":"burn_edge.predicted_class","value":{{"intValue":"3"}}}},
                {{"key":"burn_edge.confidence","value":{{"doubleValue":0.5}}}}{route}]}}"#
            )
        };
        let records = [body("a", Some("cloud")), body("b", Some("cloud")), body("c", Some("edge")), body("d", None)];
        let request = format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#, records.join(","));
        let parsed = super::super::events::parse(&serde_json::from_str(&request).unwrap(), "a");
        assert_eq!(
            parsed.events.iter().map(|e| e.route.as_deref()).collect::<Vec<_>>(),
            [Some("cloud"), Some("cloud"), Some("edge"), None]
        );
        let routes = |store: &SqliteStore| {
            let mut groups: Vec<(String, i64)> =
                store.aggregates(&Limits::default()).unwrap().groups.into_iter().map(|(k, n)| (k.route, n)).collect();
            groups.sort();
            groups
        };
        {
            let store = SqliteStore::open(&path).unwrap();
            store.insert(&parsed.events, 0).unwrap();
            assert_eq!(routes(&store), [("cloud".to_string(), 2), ("edge".to_string(), 2)]);
            // As a database written before routing: no route column, a rollup keyed without it.
            let conn = store.conn();
            conn.execute_batch(
                "ALTER TABLE events DROP COLUMN route; DROP TABLE rollup;
                 CREATE TABLE rollup (kind TEXT NOT NULL, m TEXT NOT NULL, v TEXT NOT NULL, b TEXT NOT NULL, x TEXT NOT NULL,
                   minute INTEGER NOT NULL, key INTEGER NOT NULL, n INTEGER NOT NULL, lo REAL, hi REAL,
                   PRIMARY KEY (kind, m, v, b, x, minute, key)) WITHOUT ROWID;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(routes(&store), [("edge".to_string(), 4)], "old rows count as edge");
        store.insert(&parsed.events[..1].iter().map(|e| Event { event_id: "e".into(), ..e.clone() }).collect::<Vec<_>>(), 0).unwrap();
        assert_eq!(routes(&store), [("cloud".to_string(), 1), ("edge".to_string(), 4)]);
    }

    #[test]
    fn a_database_without_rollups_gets_them_rebuilt_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let events: Vec<Event> =
            (0..50).map(|i| inference("a", &i.to_string(), "mnist", i % 3, 1.0 + i as f64, i * 1_000_000_000, None)).collect();
        let before = {
            let store = SqliteStore::open(&path).unwrap();
            store.insert(&events, 0).unwrap();
            // A retried batch changes nothing.
            store.insert(&events, 0).unwrap();
            store.conn().execute_batch("DROP TABLE rollup").unwrap();
            store.aggregates(&Limits::default()).unwrap_or_default()
        };
        let store = SqliteStore::open(&path).unwrap();
        let after = store.aggregates(&Limits::default()).unwrap();
        assert_eq!(after.groups[0].1, 50);
        assert_eq!(after.latency.iter().map(|(_, b)| b.count).sum::<i64>(), 50);
        assert_eq!(after.classes.len(), 3);
        assert_ne!(before, after, "the summary read the rollup, which was gone");
    }
}
