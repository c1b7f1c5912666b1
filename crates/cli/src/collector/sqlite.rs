//! The embedded event store: one SQLite file in WAL mode, one transaction per ingested batch,
//! duplicate event ids ignored (a retried batch never double counts).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};

use super::events::Event;
use super::store::{EventStore, GroupKey, InferenceRow, MinuteCount, StoreError};

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

/// The SQLite sink.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

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
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
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
                    e.time_unix_nano as i64,
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

    fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, COUNT(*) FROM events GROUP BY name ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn inferences(&self) -> Result<Vec<InferenceRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT COALESCE(model_name,''), COALESCE(model_version,''), COALESCE(backend,''), COALESCE(variant,''),
                    latency_ms, predicted_class, confidence, time_unix_nano / 60000000000
             FROM events WHERE name = 'burn_edge.inference'",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(InferenceRow {
                group: GroupKey { model: r.get(0)?, version: r.get(1)?, backend: r.get(2)?, variant: r.get(3)? },
                latency_ms: r.get(4)?,
                predicted_class: r.get(5)?,
                confidence: r.get(6)?,
                minute: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn counts_by_version(&self, event: &str) -> Result<Vec<(GroupKey, i64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT COALESCE(model_name,''), COALESCE(model_version,''), COALESCE(backend, json_extract(attributes, '$.\"burn_edge.fallback.from\"'), ''), COALESCE(variant,''), COUNT(*)
             FROM events WHERE name = ?1 GROUP BY 1, 2, 3, 4",
        )?;
        let rows = stmt.query_map([event], |r| {
            Ok((GroupKey { model: r.get(0)?, version: r.get(1)?, backend: r.get(2)?, variant: r.get(3)? }, r.get(4)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn per_minute(&self, event: &str) -> Result<Vec<MinuteCount>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT COALESCE(model_name,''), COALESCE(model_version,''), time_unix_nano / 60000000000, COUNT(*)
             FROM events WHERE name = ?1 GROUP BY 1, 2, 3 ORDER BY 3",
        )?;
        let rows =
            stmt.query_map([event], |r| Ok(MinuteCount { model: r.get(0)?, version: r.get(1)?, minute: r.get(2)?, count: r.get(3)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn load_times(&self) -> Result<Vec<(GroupKey, f64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT COALESCE(model_name,''), COALESCE(model_version,''), COALESCE(backend,''), COALESCE(variant,''), ttfp_ms
             FROM events WHERE name = 'burn_edge.model.load' AND ttfp_ms IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((GroupKey { model: r.get(0)?, version: r.get(1)?, backend: r.get(2)?, variant: r.get(3)? }, r.get(4)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn feedback(&self) -> Result<Vec<(GroupKey, i64, i64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT COALESCE(i.model_name,''), COALESCE(i.model_version,''), COALESCE(i.backend,''), COALESCE(i.variant,''),
                    i.predicted_class, f.true_label
             FROM events f JOIN events i ON i.prediction_id = f.prediction_id AND i.name = 'burn_edge.inference'
             WHERE f.name = 'burn_edge.feedback' AND i.predicted_class IS NOT NULL AND f.true_label IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((GroupKey { model: r.get(0)?, version: r.get(1)?, backend: r.get(2)?, variant: r.get(3)? }, r.get(4)?, r.get(5)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
