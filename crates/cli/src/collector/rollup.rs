//! SQLite's running aggregates: every event newly stored adds to a handful of rollup rows (per
//! group: the latency histogram, the per-minute latency histogram, class and confidence counts,
//! the load-time histogram (a group: model, version, backend, variant, route); per model version and minute: inferences, errors and fallbacks; per
//! event name: a count). A summary reads those rows, never the events, so its work grows with
//! groups x minutes x buckets, not with the number of events. The buckets are `store`'s, the
//! same ClickHouse computes in its SQL, so both sinks give identical summaries.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::events::Event;
use super::intern::Interner;
use super::store::{bucket_of, class_of, decile_of, route_of, COARSE, FINE, MAX_CLASSES, MINUTE_NANOS};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rollup (
    kind TEXT NOT NULL,
    m TEXT NOT NULL,
    v TEXT NOT NULL,
    b TEXT NOT NULL,
    x TEXT NOT NULL,
    r TEXT NOT NULL,
    minute INTEGER NOT NULL,
    key INTEGER NOT NULL,
    n INTEGER NOT NULL,
    lo REAL,
    hi REAL,
    PRIMARY KEY (kind, m, v, b, x, r, minute, key)
) WITHOUT ROWID;
";

/// What one event contributes, borrowed from an `Event` or an `events` row.
pub struct Fields<'a> {
    pub name: &'a str,
    /// Model, version, backend, variant, route.
    pub group: [&'a str; 5],
    pub time_unix_nano: i64,
    pub latency_ms: Option<f64>,
    pub predicted_class: Option<i64>,
    pub confidence: Option<f64>,
    pub ttfp_ms: Option<f64>,
}

impl<'a> Fields<'a> {
    /// What `e` contributes.
    pub fn of(e: &'a Event) -> Self {
        fn s(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or("")
        }
        Fields {
            name: &e.name,
            group: [s(&e.model_name), s(&e.model_version), s(&e.backend), s(&e.variant), route_of(e.route.as_deref())],
            time_unix_nano: e.time_unix_nano,
            latency_ms: e.latency_ms,
            predicted_class: e.predicted_class,
            confidence: e.confidence,
            ttfp_ms: e.ttfp_ms,
        }
    }
}

/// One rollup row of a batch: its kind, its five text columns (unused ones ""), minute, key,
/// count and the smallest and largest value counted (kinds with values only).
pub struct RowRef<'a> {
    pub kind: &'static str,
    pub cols: [&'a str; 5],
    pub minute: i64,
    pub key: i64,
    pub n: i64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// A rollup row's key: its kind, columns (numbered by the kind's `Interner`), minute and key.
type Key = (&'static str, u32, i64, i64);

#[derive(Debug, Clone, Copy)]
struct Value {
    n: i64,
    lo: Option<f64>,
    hi: Option<f64>,
}

/// Rollup increments for a batch, merged before they are written.
#[derive(Default)]
pub struct Increments {
    /// Event names (kind `events`).
    names: Interner<1>,
    /// (model, version, event name) (kind `version_minute`).
    versions: Interner<3>,
    /// Groups (every other kind). One interner each, so an event's lookups hit the last tuple.
    groups: Interner<5>,
    rows: HashMap<Key, Value>,
}

impl Increments {
    fn add(&mut self, kind: &'static str, group: u32, minute: i64, key: i64, value: Option<f64>) {
        let v = self.rows.entry((kind, group, minute, key)).or_insert(Value { n: 0, lo: value, hi: value });
        v.n += 1;
        if let Some(x) = value {
            v.lo = Some(v.lo.map_or(x, |lo| lo.min(x)));
            v.hi = Some(v.hi.map_or(x, |hi| hi.max(x)));
        }
    }

    /// Adds one newly stored event.
    pub fn event(&mut self, e: &Fields<'_>) {
        let minute = e.time_unix_nano.div_euclid(MINUTE_NANOS);
        let named = self.names.id([e.name]);
        self.add("events", named, 0, 0, None);
        let [m, v, _, _, _] = e.group;
        if matches!(e.name, "burn_edge.inference" | "burn_edge.error" | "burn_edge.backend.fallback") {
            let version = self.versions.id([m, v, e.name]);
            self.add("version_minute", version, minute, 0, None);
        }
        match e.name {
            "burn_edge.inference" => {
                let g = self.groups.id(e.group);
                if let Some(ms) = e.latency_ms {
                    self.add("latency", g, 0, bucket_of(ms, FINE), Some(ms));
                    self.add("latency_minute", g, minute, bucket_of(ms, COARSE), Some(ms));
                }
                if let Some(c) = e.predicted_class {
                    self.add("class", g, 0, class_of(c, MAX_CLASSES), None);
                }
                if let Some(c) = e.confidence {
                    self.add("confidence", g, 0, decile_of(c), None);
                }
            }
            "burn_edge.model.load" => {
                if let Some(ms) = e.ttfp_ms {
                    let g = self.groups.id(e.group);
                    self.add("load", g, 0, bucket_of(ms, FINE), Some(ms));
                }
            }
            _ => {}
        }
    }

    /// The merged rows, in no particular order.
    pub fn rows(&self) -> impl Iterator<Item = RowRef<'_>> {
        self.rows.iter().map(|(&(kind, id, minute, key), v)| {
            let cols = match kind {
                "events" => [self.names.get(id)[0].as_str(), "", "", "", ""],
                "version_minute" => {
                    let [m, ver, name] = self.versions.get(id);
                    [m.as_str(), ver, name, "", ""]
                }
                _ => self.groups.get(id).each_ref().map(String::as_str),
            };
            RowRef { kind, cols, minute, key, n: v.n, lo: v.lo, hi: v.hi }
        })
    }

    /// Adds the increments to the rollup rows (inside the caller's transaction).
    pub fn write(self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO rollup (kind, m, v, b, x, r, minute, key, n, lo, hi) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (kind, m, v, b, x, r, minute, key) DO UPDATE SET n = n + excluded.n,
               lo = CASE WHEN lo IS NULL OR excluded.lo < lo THEN excluded.lo ELSE lo END,
               hi = CASE WHEN hi IS NULL OR excluded.hi > hi THEN excluded.hi ELSE hi END",
        )?;
        for RowRef { kind, cols: [m, ver, b, x, r], minute, key, n, lo, hi } in self.rows() {
            stmt.execute(params![kind, m, ver, b, x, r, minute, key, n, lo, hi])?;
        }
        Ok(())
    }
}

/// An `events` row as the rollup reads it.
struct Row {
    name: String,
    group: [String; 4],
    route: Option<String>,
    time_unix_nano: i64,
    latency_ms: Option<f64>,
    predicted_class: Option<i64>,
    confidence: Option<f64>,
    ttfp_ms: Option<f64>,
}

/// The increments of `rows`, written.
fn write_rows(rows: &[Row], conn: &Connection) -> rusqlite::Result<()> {
    let mut inc = Increments::default();
    for r in rows {
        let [m, v, b, x] = &r.group;
        inc.event(&Fields {
            name: &r.name,
            group: [m, v, b, x, route_of(r.route.as_deref())],
            time_unix_nano: r.time_unix_nano,
            latency_ms: r.latency_ms,
            predicted_class: r.predicted_class,
            confidence: r.confidence,
            ttfp_ms: r.ttfp_ms,
        });
    }
    inc.write(conn)
}

/// Builds the rollup from every stored event (a database written before rollups existed).
pub fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT name, COALESCE(model_name,''), COALESCE(model_version,''), COALESCE(backend,''), COALESCE(variant,''),
                time_unix_nano, latency_ms, predicted_class, confidence, ttfp_ms, route FROM events",
    )?;
    let mut rows = stmt.query([])?;
    let mut chunk = Vec::new();
    while let Some(r) = rows.next()? {
        chunk.push(Row {
            name: r.get(0)?,
            group: [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?],
            time_unix_nano: r.get(5)?,
            latency_ms: r.get(6)?,
            predicted_class: r.get(7)?,
            confidence: r.get(8)?,
            ttfp_ms: r.get(9)?,
            route: r.get(10)?,
        });
        // Written in slices so a large database never needs it all in memory.
        if chunk.len() == 100_000 {
            write_rows(&chunk, conn)?;
            chunk.clear();
        }
    }
    write_rows(&chunk, conn)
}
