//! SQLite's running aggregates for the rollout report, kept like `rollup.rs` in the insert's
//! transaction: per model and `ArmKey`, counts of exposures and served inferences, errors and
//! fallbacks, the served latency histogram and predicted classes; per model, the swap-time
//! histogram and interleave picks per (rule, winner); and the distinct install ids per key
//! (one row per unit and key, not per event). Shadow pairs are joined at read time, per shadow
//! inference (a sample), through the prediction id index. ClickHouse computes the same numbers
//! with GROUP BY (`clickhouse_rollout.rs`); both use `store`'s buckets, so they agree exactly.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection};

use super::intern::Interner;

use super::sqlite::{rows, LATEST_FEEDBACK};
use super::store::{
    bucket_of, class_of, ArmKey, Bucket, RolloutAggregates, RolloutLimits, ShadowPair, StoreError, ARM_EVENTS, CONFUSION_CLASSES, FINE,
    MAX_CLASSES, ROLE_SHADOW,
};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rollout_rollup (
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    alias TEXT NOT NULL,
    rule TEXT NOT NULL,
    arm TEXT NOT NULL,
    version TEXT NOT NULL,
    key INTEGER NOT NULL,
    n INTEGER NOT NULL,
    lo REAL,
    hi REAL,
    PRIMARY KEY (model, kind, alias, rule, arm, version, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollout_users (
    model TEXT NOT NULL,
    alias TEXT NOT NULL,
    rule TEXT NOT NULL,
    arm TEXT NOT NULL,
    install_id TEXT NOT NULL,
    PRIMARY KEY (model, alias, rule, arm, install_id)
) WITHOUT ROWID;
";

/// What one event contributes, borrowed from an `Event` or an `events` row.
pub struct Fields<'a> {
    pub name: &'a str,
    pub model: Option<&'a str>,
    pub version: Option<&'a str>,
    pub role: Option<&'a str>,
    pub install_id: Option<&'a str>,
    pub alias: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub arm: Option<&'a str>,
    pub latency_ms: Option<f64>,
    pub predicted_class: Option<i64>,
    pub swap_ms: Option<f64>,
    pub winner: Option<&'a str>,
}

/// A rollup row's key: its kind, (model, alias, rule, arm, version) numbered by the batch's
/// `Interner`, and key.
type Key = (&'static str, u32, i64);

/// Rollout rollup increments for a batch, merged before they are written.
#[derive(Default)]
pub struct Increments {
    arms: Interner<5>,
    /// (model, alias, rule, arm): a key without its version, as users are counted.
    unversioned: Interner<4>,
    installs: Interner<1>,
    rows: HashMap<Key, (i64, Option<f64>, Option<f64>)>,
    /// (unversioned key, install id).
    users: HashSet<(u32, u32)>,
}

impl Increments {
    fn add(&mut self, kind: &'static str, arm: u32, key: i64, value: Option<f64>) {
        let v = self.rows.entry((kind, arm, key)).or_insert((0, value, value));
        v.0 += 1;
        if let Some(x) = value {
            v.1 = Some(v.1.map_or(x, |lo| lo.min(x)));
            v.2 = Some(v.2.map_or(x, |hi| hi.max(x)));
        }
    }

    /// Adds one newly stored event.
    pub fn event(&mut self, e: &Fields<'_>) {
        let Some(model) = e.model else { return };
        match e.name {
            "burn_edge.swap" => {
                if let Some(ms) = e.swap_ms {
                    let none = self.arms.id([model, "", "", "", ""]);
                    self.add("swap", none, bucket_of(ms, FINE), Some(ms));
                }
                return;
            }
            "burn_edge.interleave" => {
                let pick = self.arms.id([model, "", e.rule.unwrap_or(""), e.winner.unwrap_or(""), ""]);
                self.add("pick", pick, 0, None);
                return;
            }
            _ => {}
        }
        let Some(kind) = ARM_EVENTS.iter().find(|n| **n == e.name) else { return };
        if e.role == Some(ROLE_SHADOW) {
            return;
        }
        let [alias, rule, arm, version] = ArmKey::cols(e.alias, e.rule, e.arm, e.version);
        let key = self.arms.id([model, alias, rule, arm, version]);
        self.add(kind, key, 0, None);
        if e.name == "burn_edge.inference" {
            if let Some(ms) = e.latency_ms {
                self.add("latency", key, bucket_of(ms, FINE), Some(ms));
            }
            if let Some(c) = e.predicted_class {
                self.add("class", key, class_of(c, MAX_CLASSES), None);
            }
        }
        if matches!(e.name, "burn_edge.exposure" | "burn_edge.inference") {
            if let Some(id) = e.install_id {
                let unversioned = self.unversioned.id([model, alias, rule, arm]);
                let install = self.installs.id([id]);
                self.users.insert((unversioned, install));
            }
        }
    }

    /// Adds the increments to the rollup rows (inside the caller's transaction).
    pub fn write(self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO rollout_rollup (model, kind, alias, rule, arm, version, key, n, lo, hi)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (model, kind, alias, rule, arm, version, key) DO UPDATE SET n = n + excluded.n,
               lo = CASE WHEN lo IS NULL OR excluded.lo < lo THEN excluded.lo ELSE lo END,
               hi = CASE WHEN hi IS NULL OR excluded.hi > hi THEN excluded.hi ELSE hi END",
        )?;
        for ((kind, arm, key), (n, lo, hi)) in self.rows {
            let [model, alias, rule, arm, version] = self.arms.get(arm);
            stmt.execute(params![model, kind, alias, rule, arm, version, key, n, lo, hi])?;
        }
        let mut users =
            conn.prepare_cached("INSERT OR IGNORE INTO rollout_users (model, alias, rule, arm, install_id) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for (arm, install) in self.users {
            let [model, alias, rule, arm] = self.unversioned.get(arm);
            users.execute(params![model, alias, rule, arm, self.installs.get(install)[0]])?;
        }
        Ok(())
    }
}

/// Builds the rollout rollup from every stored event (a database written before it existed).
pub fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    let mut inc = Increments::default();
    let mut stmt = conn.prepare(
        "SELECT name, model_name, model_version, role, install_id, rollout_alias, rollout_rule, rollout_arm, latency_ms, predicted_class,
                swap_ms, winner FROM events WHERE model_name IS NOT NULL",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let text = |i: usize| r.get::<_, Option<String>>(i);
        let (name, model, version, role, install) = (r.get::<_, String>(0)?, text(1)?, text(2)?, text(3)?, text(4)?);
        let (alias, rule, arm, winner) = (text(5)?, text(6)?, text(7)?, text(11)?);
        inc.event(&Fields {
            name: &name,
            model: model.as_deref(),
            version: version.as_deref(),
            role: role.as_deref(),
            install_id: install.as_deref(),
            alias: alias.as_deref(),
            rule: rule.as_deref(),
            arm: arm.as_deref(),
            latency_ms: r.get(8)?,
            predicted_class: r.get(9)?,
            swap_ms: r.get(10)?,
            winner: winner.as_deref(),
        });
        // Written in slices so a large database never needs it all in memory.
        if inc.rows.len() + inc.users.len() > 100_000 {
            std::mem::take(&mut inc).write(conn)?;
        }
    }
    inc.write(conn)
}

fn arm_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<ArmKey> {
    Ok(ArmKey { alias: r.get(0)?, rule: r.get(1)?, arm: r.get(2)?, version: r.get(3)? })
}

fn bucket(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Bucket> {
    Ok(Bucket { index: r.get(at)?, count: r.get(at + 1)?, min: r.get(at + 2)?, max: r.get(at + 3)? })
}

/// The shadow pairs of `model` as a CTE `p(champion, challenger, pc, cc, pl, cl)`: every shadow
/// inference of the model with the latest served inference of its app whose prediction id it
/// names, when that one is of the model too.
const PAIRS: &str = "WITH s AS (SELECT app, shadow_of, COALESCE(model_version, '') AS challenger, predicted_class AS cc, latency_ms AS cl
      FROM events WHERE name = 'burn_edge.inference' AND model_name = ?1 AND role = 'shadow' AND shadow_of IS NOT NULL
        AND predicted_class IS NOT NULL AND latency_ms IS NOT NULL),
    p AS (SELECT COALESCE(i.model_version, '') AS champion, s.challenger, i.predicted_class AS pc, s.cc, i.latency_ms AS pl, s.cl
      FROM s JOIN events i ON i.rowid = (SELECT rowid FROM events
        WHERE prediction_id = s.shadow_of AND app = s.app AND name = 'burn_edge.inference' AND COALESCE(role, '') != 'shadow'
          AND predicted_class IS NOT NULL AND latency_ms IS NOT NULL
        ORDER BY time_unix_nano DESC, event_id DESC LIMIT 1)
      WHERE i.model_name = ?1)";

/// The rollout aggregates of `model` from the rollup (and the shadow join).
pub fn read(conn: &Connection, model: &str, limits: &RolloutLimits) -> Result<RolloutAggregates, StoreError> {
    let mut out = RolloutAggregates::default();
    let events_in = ARM_EVENTS.map(|e| format!("'{e}'")).join(", ");
    let top = format!(
        "WITH top AS (SELECT alias, rule, arm, version FROM rollout_rollup WHERE model = ?1 AND kind IN ({events_in})
           GROUP BY alias, rule, arm, version ORDER BY SUM(n) DESC, alias, rule, arm, version LIMIT ?2)"
    );
    let groups = limits.groups as i64;
    let in_top = "(alias, rule, arm, version) IN top";
    out.counts = rows(
        conn,
        &format!("{top} SELECT alias, rule, arm, version, kind, SUM(n) FROM rollout_rollup WHERE model = ?1 AND kind IN ({events_in}) AND {in_top} GROUP BY alias, rule, arm, version, kind"),
        &[&model, &groups],
        |r| Ok((arm_key(r)?, r.get(4)?, r.get(5)?)),
    )?;
    out.users = rows(
        conn,
        &format!(
            "{top} SELECT alias, rule, arm, '', COUNT(*) FROM rollout_users WHERE model = ?1
               AND (alias, rule, arm) IN (SELECT alias, rule, arm FROM top) GROUP BY alias, rule, arm"
        ),
        &[&model, &groups],
        |r| Ok((arm_key(r)?, r.get(4)?)),
    )?;
    out.latency = rows(
        conn,
        &format!(
            "{top} SELECT alias, rule, arm, version, key, n, lo, hi FROM rollout_rollup WHERE model = ?1 AND kind = 'latency' AND {in_top}"
        ),
        &[&model, &groups],
        |r| Ok((arm_key(r)?, bucket(r, 4)?)),
    )?;
    out.classes = rows(
        conn,
        &format!("{top} SELECT alias, rule, arm, version, key, n FROM rollout_rollup WHERE model = ?1 AND kind = 'class' AND {in_top}"),
        &[&model, &groups],
        |r| Ok((arm_key(r)?, r.get(4)?, r.get(5)?)),
    )?;
    // Work per feedback event (as the summary's accuracy), not per inference.
    out.feedback = rows(
        conn,
        &format!(
            "{top}, {LATEST_FEEDBACK},
             j AS (SELECT CASE WHEN COALESCE(i.rollout_rule, '') = '' THEN COALESCE(i.rollout_alias, '') ELSE '' END AS alias,
                    COALESCE(i.rollout_rule, '') AS rule, COALESCE(i.rollout_arm, '') AS arm, COALESCE(i.model_version, '') AS version,
                    i.predicted_class = f.true_label AS correct
               FROM f JOIN events i ON i.rowid = (SELECT rowid FROM events
                 WHERE prediction_id = f.pid AND app = f.app AND name = 'burn_edge.inference' AND COALESCE(role, '') != 'shadow'
                   AND predicted_class IS NOT NULL
                 ORDER BY time_unix_nano DESC, event_id DESC LIMIT 1)
               WHERE i.model_name = ?1)
             SELECT alias, rule, arm, version, COUNT(*), SUM(correct) FROM j WHERE {in_top} GROUP BY alias, rule, arm, version"
        ),
        &[&model, &groups],
        |r| Ok((arm_key(r)?, r.get(4)?, r.get(5)?)),
    )?;
    out.swaps = rows(conn, "SELECT key, n, lo, hi FROM rollout_rollup WHERE model = ?1 AND kind = 'swap'", &[&model], |r| bucket(r, 0))?;
    out.picks = rows(
        conn,
        "SELECT rule, arm, SUM(n) AS total FROM rollout_rollup WHERE model = ?1 AND kind = 'pick'
         GROUP BY rule, arm ORDER BY total DESC, rule, arm LIMIT ?2",
        &[&model, &(limits.picks as i64)],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let pairs: Vec<(String, String, i64, i64)> = rows(
        conn,
        &format!(
            "{PAIRS} SELECT champion, challenger, COUNT(*) AS total, SUM(pc = cc) FROM p
             GROUP BY champion, challenger ORDER BY total DESC, champion, challenger LIMIT ?2"
        ),
        &[&model, &(limits.pairs as i64)],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    if pairs.is_empty() {
        return Ok(out);
    }
    let confusion = rows(
        conn,
        &format!(
            "{PAIRS} SELECT champion, challenger, CASE WHEN pc >= 0 AND pc < {CONFUSION_CLASSES} THEN pc ELSE -1 END AS a,
               CASE WHEN cc >= 0 AND cc < {CONFUSION_CLASSES} THEN cc ELSE -1 END AS b, COUNT(*) FROM p GROUP BY champion, challenger, a, b"
        ),
        &[&model],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?)),
    )?;
    let histogram = |column: &str| {
        let bucket_sql = super::store::bucket_sql(column, FINE);
        rows(
            conn,
            &format!(
                "{PAIRS} SELECT champion, challenger, {bucket_sql} AS bucket, COUNT(*), MIN({column}), MAX({column}) FROM p
                 GROUP BY champion, challenger, bucket"
            ),
            &[&model],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, bucket(r, 2)?)),
        )
    };
    let (served, shadow) = (histogram("pl")?, histogram("cl")?);
    out.shadow = pairs
        .into_iter()
        .map(|(champion, challenger, pairs, agreeing)| {
            let of = |c: &String, d: &String| *c == champion && *d == challenger;
            ShadowPair {
                confusion: confusion.iter().filter(|(c, d, ..)| of(c, d)).map(|&(_, _, a, b, n)| (a, b, n)).collect(),
                champion_latency: served.iter().filter(|(c, d, _)| of(c, d)).map(|(_, _, b)| *b).collect(),
                challenger_latency: shadow.iter().filter(|(c, d, _)| of(c, d)).map(|(_, _, b)| *b).collect(),
                champion,
                challenger,
                pairs,
                agreeing,
            }
        })
        .collect();
    Ok(out)
}
