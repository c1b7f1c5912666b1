//! SQLite's running feedback aggregate: the summary's accuracy joins, per app and prediction
//! id, the latest feedback to the latest inference (see `sqlite::LATEST_FEEDBACK`). Joined at
//! read time that is work per feedback event, seconds over millions; here the pair is kept in
//! `feedback_pairs` (one row per app and prediction id that got feedback) and its contribution,
//! (group, correct) -> count, in the `rollup` table (kind `feedback`), both updated in the
//! insert's transaction. A feedback event creates its pair (finding the latest inference so far
//! through the prediction id index) or replaces its side when later; an inference only looks its
//! pair up, and replaces its side when later. "Later" is (time, event id), as the join orders them.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::events::Event;
use super::store::{route_of, DEFAULT_ROUTE};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS feedback_pairs (
    app TEXT NOT NULL,
    pid TEXT NOT NULL,
    inf_time INTEGER,
    inf_id TEXT,
    m TEXT, v TEXT, b TEXT, x TEXT, r TEXT,
    predicted INTEGER,
    fb_time INTEGER,
    fb_id TEXT,
    label INTEGER,
    PRIMARY KEY (app, pid)
) WITHOUT ROWID;
";

/// One side of a pair: its (time, event id) and what it says.
#[derive(Debug, Clone, PartialEq)]
struct Inference {
    at: (i64, String),
    group: [String; 5],
    predicted: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Pair {
    inference: Option<Inference>,
    feedback: Option<((i64, String), i64)>,
}

impl Pair {
    /// What the pair adds to the rollup: (group, correct), once both sides are there.
    fn contribution(&self) -> Option<([String; 5], i64)> {
        let (i, (_, label)) = (self.inference.as_ref()?, self.feedback.as_ref()?);
        Some((i.group.clone(), i64::from(i.predicted == *label)))
    }
}

/// Changes to the `feedback` rollup rows of one batch.
#[derive(Default)]
pub struct Deltas(HashMap<([String; 5], i64), i64>);

impl Deltas {
    fn change(&mut self, before: Option<([String; 5], i64)>, after: Option<([String; 5], i64)>) {
        if before == after {
            return;
        }
        if let Some(k) = before {
            *self.0.entry(k).or_default() -= 1;
        }
        if let Some(k) = after {
            *self.0.entry(k).or_default() += 1;
        }
    }

    /// Adds the deltas to the rollup (inside the caller's transaction).
    pub fn write(self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO rollup (kind, m, v, b, x, r, minute, key, n) VALUES ('feedback', ?1, ?2, ?3, ?4, ?5, 0, ?6, ?7)
             ON CONFLICT (kind, m, v, b, x, r, minute, key) DO UPDATE SET n = n + excluded.n",
        )?;
        for (([m, v, b, x, r], correct), n) in self.0.into_iter().filter(|(_, n)| *n != 0) {
            stmt.execute(params![m, v, b, x, r, correct, n])?;
        }
        Ok(())
    }
}

fn load(conn: &Connection, app: &str, pid: &str) -> rusqlite::Result<Option<Pair>> {
    conn.prepare_cached(
        "SELECT inf_time, inf_id, m, v, b, x, r, predicted, fb_time, fb_id, label FROM feedback_pairs WHERE app = ?1 AND pid = ?2",
    )?
    .query_row(params![app, pid], |r| {
        let inference = match (r.get::<_, Option<i64>>(0)?, r.get::<_, Option<String>>(1)?) {
            (Some(t), Some(id)) => {
                Some(Inference { at: (t, id), group: [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?], predicted: r.get(7)? })
            }
            _ => None,
        };
        let feedback = match (r.get::<_, Option<i64>>(8)?, r.get::<_, Option<String>>(9)?) {
            (Some(t), Some(id)) => Some(((t, id), r.get(10)?)),
            _ => None,
        };
        Ok(Pair { inference, feedback })
    })
    .optional()
}

fn save(conn: &Connection, app: &str, pid: &str, p: &Pair) -> rusqlite::Result<()> {
    let i = p.inference.as_ref();
    let g = |k: usize| i.map(|i| i.group[k].as_str());
    let f = p.feedback.as_ref();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO feedback_pairs (app, pid, inf_time, inf_id, m, v, b, x, r, predicted, fb_time, fb_id, label)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        app,
        pid,
        i.map(|i| i.at.0),
        i.map(|i| i.at.1.as_str()),
        g(0),
        g(1),
        g(2),
        g(3),
        g(4),
        i.map(|i| i.predicted),
        f.map(|f| f.0 .0),
        f.map(|f| f.0 .1.as_str()),
        f.map(|f| f.1),
    ])?;
    Ok(())
}

/// The latest stored inference of (app, prediction id) with a predicted class.
fn latest_inference(conn: &Connection, app: &str, pid: &str) -> rusqlite::Result<Option<Inference>> {
    conn.prepare_cached(&format!(
        "SELECT time_unix_nano, event_id, COALESCE(model_name,''), COALESCE(model_version,''), COALESCE(backend,''),
                COALESCE(variant,''), COALESCE(route,'{DEFAULT_ROUTE}'), predicted_class FROM events
         WHERE prediction_id = ?2 AND app = ?1 AND name = 'burn_edge.inference' AND predicted_class IS NOT NULL
         ORDER BY time_unix_nano DESC, event_id DESC LIMIT 1"
    ))?
    .query_row(params![app, pid], |r| {
        Ok(Inference { at: (r.get(0)?, r.get(1)?), group: [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?], predicted: r.get(7)? })
    })
    .optional()
}

/// Takes one newly stored event (after it is in `events`) into its pair, if it has one.
pub fn event(conn: &Connection, e: &Event, deltas: &mut Deltas) -> rusqlite::Result<()> {
    let Some(pid) = e.prediction_id.as_deref() else { return Ok(()) };
    let at = (e.time_unix_nano, e.event_id.clone());
    match (e.name.as_str(), e.predicted_class, e.true_label) {
        ("burn_edge.inference", Some(predicted), _) => {
            let Some(mut pair) = load(conn, &e.app, pid)? else { return Ok(()) };
            if pair.inference.as_ref().is_some_and(|i| i.at >= at) {
                return Ok(());
            }
            let before = pair.contribution();
            let s = |v: &Option<String>| v.clone().unwrap_or_default();
            let group = [s(&e.model_name), s(&e.model_version), s(&e.backend), s(&e.variant), route_of(e.route.as_deref()).to_string()];
            pair.inference = Some(Inference { at, group, predicted });
            deltas.change(before, pair.contribution());
            save(conn, &e.app, pid, &pair)
        }
        ("burn_edge.feedback", _, Some(label)) => {
            let mut pair = match load(conn, &e.app, pid)? {
                Some(pair) => pair,
                None => Pair { inference: latest_inference(conn, &e.app, pid)?, feedback: None },
            };
            if pair.feedback.as_ref().is_some_and(|(t, _)| *t >= at) {
                return Ok(());
            }
            let before = pair.contribution();
            pair.feedback = Some((at, label));
            deltas.change(before, pair.contribution());
            save(conn, &e.app, pid, &pair)
        }
        _ => Ok(()),
    }
}

/// Builds the pairs and their rollup rows from every stored event, with the join the summary
/// used to run at read time (a database written before this table existed).
pub fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "DELETE FROM feedback_pairs;
         INSERT INTO feedback_pairs (app, pid, inf_time, inf_id, m, v, b, x, r, predicted, fb_time, fb_id, label)
         SELECT f.app, f.pid, i.time_unix_nano, i.event_id, COALESCE(i.model_name,''), COALESCE(i.model_version,''),
                COALESCE(i.backend,''), COALESCE(i.variant,''), COALESCE(i.route,'{DEFAULT_ROUTE}'), i.predicted_class,
                f.time_unix_nano, f.event_id, f.true_label
         FROM (SELECT app, prediction_id AS pid, true_label, time_unix_nano, event_id,
                 row_number() OVER (PARTITION BY app, prediction_id ORDER BY time_unix_nano DESC, event_id DESC) AS rn
               FROM events WHERE name = 'burn_edge.feedback' AND prediction_id IS NOT NULL AND true_label IS NOT NULL) f
         LEFT JOIN events i ON i.rowid = (SELECT rowid FROM events
             WHERE prediction_id = f.pid AND app = f.app AND name = 'burn_edge.inference' AND predicted_class IS NOT NULL
             ORDER BY time_unix_nano DESC, event_id DESC LIMIT 1)
         WHERE f.rn = 1;
         DELETE FROM rollup WHERE kind = 'feedback';
         INSERT INTO rollup (kind, m, v, b, x, r, minute, key, n)
         SELECT 'feedback', m, v, b, x, r, 0, predicted = label, COUNT(*) FROM feedback_pairs
         WHERE inf_id IS NOT NULL GROUP BY m, v, b, x, r, predicted = label;"
    ))
}
