//! The rollout report's aggregates from ClickHouse: GROUP BY queries over the events table
//! (with `FINAL`, so duplicates never count) giving exactly what SQLite's rollout rollup and
//! shadow join give (`rollout_rollup.rs`): the same keys, filters, orderings, buckets and
//! limits. Old servers have no table CTEs, so shared subqueries are repeated as text.

use super::clickhouse::{quote, ClickHouseStore, TABLE};
use super::store::{
    bucket_sql, class_sql, ArmKey, Bucket, RolloutAggregates, RolloutLimits, ShadowPair, StoreError, ARM_EVENTS, CONFUSION_CLASSES, FINE,
    MAX_CLASSES,
};

/// An event's `ArmKey` columns (`a`, `r`, `arm`, `v`), as `ArmKey::cols` makes them.
const ARM: &str = "if(ifNull(rollout_rule, '') = '', ifNull(rollout_alias, ''), '') AS a, ifNull(rollout_rule, '') AS r,
    ifNull(rollout_arm, '') AS arm, ifNull(model_version, '') AS v";

type KeyRow = (String, String, String, String);

fn arm_key((alias, rule, arm, version): KeyRow) -> ArmKey {
    ArmKey { alias, rule, arm, version }
}

type PairBucket = (String, String, i64, i64, f64, f64);
type KeyBucket = (String, String, String, String, i64, i64, f64, f64);

pub fn read(store: &ClickHouseStore, model: &str, limits: &RolloutLimits) -> Result<RolloutAggregates, StoreError> {
    let m = quote(model);
    let events_in = ARM_EVENTS.map(|e| format!("'{e}'")).join(", ");
    let base = format!(
        "SELECT name, {ARM}, install_id, latency_ms, predicted_class FROM {TABLE} FINAL
         WHERE model_name = {m} AND name IN ({events_in}) AND ifNull(role, '') != 'shadow'"
    );
    let top = format!(
        "SELECT a, r, arm, v FROM (SELECT a, r, arm, v, count() AS n FROM ({base}) GROUP BY a, r, arm, v
           ORDER BY n DESC, a, r, arm, v LIMIT {})",
        limits.groups
    );
    let mut out = RolloutAggregates::default();
    let rows: Vec<(String, String, String, String, String, i64)> = store.select(&format!(
        "SELECT a, r, arm, v, name, toInt64(count()) FROM ({base}) WHERE (a, r, arm, v) IN ({top}) GROUP BY a, r, arm, v, name"
    ))?;
    out.counts = rows.into_iter().map(|(a, r, arm, v, name, n)| (arm_key((a, r, arm, v)), name, n)).collect();
    let rows: Vec<(String, String, String, i64)> = store.select(&format!(
        "SELECT a, r, arm, toInt64(uniqExact(assumeNotNull(install_id))) FROM ({base})
         WHERE name IN ('burn_edge.exposure', 'burn_edge.inference') AND isNotNull(install_id)
           AND (a, r, arm) IN (SELECT a, r, arm FROM ({top})) GROUP BY a, r, arm"
    ))?;
    out.users = rows.into_iter().map(|(a, r, arm, n)| (arm_key((a, r, arm, String::new())), n)).collect();
    let rows: Vec<KeyBucket> = store.select(&format!(
        "SELECT a, r, arm, v, toInt64(bucket), toInt64(count()), min(val), max(val) FROM
           (SELECT a, r, arm, v, val, {} AS bucket FROM
             (SELECT a, r, arm, v, assumeNotNull(latency_ms) AS val FROM ({base}) WHERE name = 'burn_edge.inference' AND isNotNull(latency_ms)))
         WHERE (a, r, arm, v) IN ({top}) GROUP BY a, r, arm, v, bucket",
        bucket_sql("val", FINE)
    ))?;
    out.latency = rows
        .into_iter()
        .map(|(a, r, arm, v, index, count, min, max)| (arm_key((a, r, arm, v)), Bucket { index, count, min, max }))
        .collect();
    let rows: Vec<(String, String, String, String, i64, i64)> = store.select(&format!(
        "SELECT a, r, arm, v, toInt64(class), toInt64(count()) FROM
           (SELECT a, r, arm, v, {} AS class FROM ({base}) WHERE name = 'burn_edge.inference' AND isNotNull(predicted_class))
         WHERE (a, r, arm, v) IN ({top}) GROUP BY a, r, arm, v, class",
        class_sql("assumeNotNull(predicted_class)", MAX_CLASSES)
    ))?;
    out.classes = rows.into_iter().map(|(a, r, arm, v, class, n)| (arm_key((a, r, arm, v)), class, n)).collect();
    // The latest feedback of every (app, prediction id) with its latest served inference, as
    // the summary's accuracy joins them (non-null copies of the keys: old servers).
    let with_feedback = format!(
        "(app, assumeNotNull(prediction_id)) IN (SELECT app, assumeNotNull(prediction_id) FROM {TABLE}
           WHERE name = 'burn_edge.feedback' AND isNotNull(prediction_id))"
    );
    let rows: Vec<(String, String, String, String, i64, i64)> = store.select(&format!(
        "SELECT a, r, arm, v, toInt64(count()), toInt64(sum(predicted = truth)) FROM
           (SELECT app, assumeNotNull(prediction_id) AS pid, {ARM}, assumeNotNull(predicted_class) AS predicted FROM {TABLE} FINAL
            WHERE name = 'burn_edge.inference' AND model_name = {m} AND ifNull(role, '') != 'shadow' AND isNotNull(prediction_id)
              AND isNotNull(predicted_class) AND {with_feedback}
            ORDER BY app, pid, time_unix_nano DESC, event_id DESC LIMIT 1 BY app, pid)
         ALL INNER JOIN
           (SELECT app, assumeNotNull(prediction_id) AS pid, assumeNotNull(true_label) AS truth FROM {TABLE} FINAL
            WHERE name = 'burn_edge.feedback' AND isNotNull(prediction_id) AND isNotNull(true_label)
            ORDER BY app, pid, time_unix_nano DESC, event_id DESC LIMIT 1 BY app, pid)
         USING (app, pid) WHERE (a, r, arm, v) IN ({top}) GROUP BY a, r, arm, v"
    ))?;
    out.feedback = rows.into_iter().map(|(a, r, arm, v, n, correct)| (arm_key((a, r, arm, v)), n, correct)).collect();
    let rows: Vec<(i64, i64, f64, f64)> = store.select(&format!(
        "SELECT toInt64(bucket), toInt64(count()), min(val), max(val) FROM
           (SELECT val, {} AS bucket FROM (SELECT assumeNotNull(swap_ms) AS val FROM {TABLE} FINAL
              WHERE name = 'burn_edge.swap' AND model_name = {m} AND isNotNull(swap_ms)))
         GROUP BY bucket",
        bucket_sql("val", FINE)
    ))?;
    out.swaps = rows.into_iter().map(|(index, count, min, max)| Bucket { index, count, min, max }).collect();
    out.picks = store.select(&format!(
        "SELECT r, w, toInt64(count()) AS n FROM
           (SELECT ifNull(rollout_rule, '') AS r, ifNull(winner, '') AS w FROM {TABLE} FINAL WHERE name = 'burn_edge.interleave' AND model_name = {m})
         GROUP BY r, w ORDER BY n DESC, r, w LIMIT {}",
        limits.picks
    ))?;
    out.shadow = shadow(store, &m, limits)?;
    Ok(out)
}

/// Shadow pairs of the model `m` (a quoted literal), as `rollout_rollup::PAIRS` joins them.
fn shadow(store: &ClickHouseStore, m: &str, limits: &RolloutLimits) -> Result<Vec<ShadowPair>, StoreError> {
    let shadows = format!(
        "name = 'burn_edge.inference' AND model_name = {m} AND role = 'shadow' AND isNotNull(shadow_of)
         AND isNotNull(predicted_class) AND isNotNull(latency_ms)"
    );
    let pairs = format!(
        "SELECT champion, challenger, pc, cc, pl, cl FROM
           (SELECT app, assumeNotNull(shadow_of) AS pid, ifNull(model_version, '') AS challenger, assumeNotNull(predicted_class) AS cc,
              assumeNotNull(latency_ms) AS cl FROM {TABLE} FINAL WHERE {shadows})
         ALL INNER JOIN
           (SELECT app, assumeNotNull(prediction_id) AS pid, ifNull(model_name, '') AS pm, ifNull(model_version, '') AS champion,
              assumeNotNull(predicted_class) AS pc, assumeNotNull(latency_ms) AS pl FROM {TABLE} FINAL
            WHERE name = 'burn_edge.inference' AND isNotNull(prediction_id) AND ifNull(role, '') != 'shadow'
              AND isNotNull(predicted_class) AND isNotNull(latency_ms)
              AND (app, assumeNotNull(prediction_id)) IN (SELECT app, assumeNotNull(shadow_of) FROM {TABLE} WHERE {shadows})
            ORDER BY app, pid, time_unix_nano DESC, event_id DESC LIMIT 1 BY app, pid)
         USING (app, pid) WHERE pm = {m}"
    );
    let totals: Vec<(String, String, i64, i64)> = store.select(&format!(
        "SELECT champion, challenger, toInt64(count()) AS n, toInt64(sum(pc = cc)) FROM ({pairs})
         GROUP BY champion, challenger ORDER BY n DESC, champion, challenger LIMIT {}",
        limits.pairs
    ))?;
    if totals.is_empty() {
        return Ok(Vec::new());
    }
    let confusion: Vec<(String, String, i64, i64, i64)> = store.select(&format!(
        "SELECT champion, challenger, toInt64(a), toInt64(b), toInt64(count()) FROM
           (SELECT champion, challenger, {} AS a, {} AS b FROM ({pairs})) GROUP BY champion, challenger, a, b",
        class_sql("pc", CONFUSION_CLASSES),
        class_sql("cc", CONFUSION_CLASSES)
    ))?;
    let histogram = |column: &str| -> Result<Vec<PairBucket>, StoreError> {
        store.select(&format!(
            "SELECT champion, challenger, toInt64(bucket), toInt64(count()), min(val), max(val) FROM
               (SELECT champion, challenger, {column} AS val, {} AS bucket FROM ({pairs})) GROUP BY champion, challenger, bucket",
            bucket_sql(column, FINE)
        ))
    };
    let (served, shadow) = (histogram("pl")?, histogram("cl")?);
    let of_pair = |rows: &[PairBucket], c: &str, d: &str| -> Vec<Bucket> {
        rows.iter().filter(|r| r.0 == c && r.1 == d).map(|&(_, _, index, count, min, max)| Bucket { index, count, min, max }).collect()
    };
    Ok(totals
        .into_iter()
        .map(|(champion, challenger, pairs, agreeing)| ShadowPair {
            confusion: confusion.iter().filter(|r| r.0 == champion && r.1 == challenger).map(|&(_, _, a, b, n)| (a, b, n)).collect(),
            champion_latency: of_pair(&served, &champion, &challenger),
            challenger_latency: of_pair(&shadow, &champion, &challenger),
            champion,
            challenger,
            pairs,
            agreeing,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn literals_are_quoted() {
        assert_eq!(super::super::clickhouse::quote(r"a'b\c"), r"'a\'b\\c'");
    }
}
