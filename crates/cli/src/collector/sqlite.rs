//! The embedded event store: one SQLite file in WAL mode, one transaction per ingested batch,
//! duplicate event ids ignored (a retried batch never double counts).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};

use super::events::Event;

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

    /// Stores a batch in one transaction; returns how many were new.
    pub fn insert(&self, events: &[Event], received_unix_ms: i64) -> rusqlite::Result<usize> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let mut inserted = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (app, event_id, install_id, time_unix_nano, received_unix_ms, name,
                 model_name, model_version, backend, variant, role, latency_ms, batch_size, predicted_class,
                 confidence, prediction_id, true_label, ttfp_ms, attributes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            )?;
            for e in events {
                inserted += stmt.execute(params![
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
        Ok(inserted)
    }

    /// Events stored per event name.
    pub fn counts(&self) -> rusqlite::Result<Vec<(String, i64)>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare("SELECT name, COUNT(*) FROM events GROUP BY name ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// Inference latencies (ms) per model version x backend x variant, for the percentiles API.
    pub fn inference_latencies(&self) -> rusqlite::Result<Vec<(String, String, String, String, Vec<f64>)>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare(
            "SELECT COALESCE(model_name,''), COALESCE(model_version,''), COALESCE(backend,''), COALESCE(variant,''), latency_ms
             FROM events WHERE name = 'burn_edge.inference' AND latency_ms IS NOT NULL
             ORDER BY model_name, model_version, backend, variant, latency_ms",
        )?;
        let mut out: Vec<(String, String, String, String, Vec<f64>)> = Vec::new();
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, f64>(4)?))
        })?;
        for row in rows {
            let (m, v, b, var, ms) = row?;
            match out.last_mut() {
                Some(last) if last.0 == m && last.1 == v && last.2 == b && last.3 == var => last.4.push(ms),
                _ => out.push((m, v, b, var, vec![ms])),
            }
        }
        Ok(out)
    }
}
