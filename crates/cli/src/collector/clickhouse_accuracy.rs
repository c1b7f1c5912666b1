//! The summary's accuracy on ClickHouse: per group, the latest feedback of every (app,
//! prediction id) joined to its latest inference. SQLite keeps that pairing up to date in the
//! insert's transaction (`feedback_rollup.rs`); ClickHouse has no transactions, and several
//! collectors write at once, so the join is run over the events (`FINAL`) and its result kept
//! in `burn_edge_accuracy`, with the number of events stored when it was taken. A summary reuses
//! the latest result while no event was stored since, or while it is younger than the refresh
//! interval (`--clickhouse-accuracy-every`); otherwise it runs the join again (seconds over a
//! million feedback events: one summary per interval pays it) and stores the result for every
//! collector. The summary says how old the figures are.

use super::clickhouse::{quote, ClickHouseStore, TABLE};
use super::store::{GroupKey, StoreError};

pub const ACCURACY: &str = "burn_edge_accuracy";

/// Groups kept per result: the ones with the most feedback (the summary shows at most its top
/// groups, so this only bounds a hostile client's invented groups).
const MAX_GROUPS: usize = 10_000;

pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS burn_edge_accuracy (
    kind String, m String, v String, b String, x String, r String, n Int64, correct Int64, taken_unix_ms Int64
) ENGINE = ReplacingMergeTree(taken_unix_ms) ORDER BY (kind, m, v, b, x, r)";

/// Accuracy rows (group, feedback count, correct) and when they were computed.
pub struct Accuracy {
    pub rows: Vec<(GroupKey, i64, i64)>,
    pub taken_unix_ms: i64,
}

type Row = (String, String, String, String, String, i64, i64);

fn group((m, v, b, x, r, n, correct): Row) -> (GroupKey, i64, i64) {
    (GroupKey { model: m, version: v, backend: b, variant: x, route: r }, n, correct)
}

/// The join over every stored event, busiest groups first.
fn join(store: &ClickHouseStore) -> Result<Vec<Row>, StoreError> {
    // Only inferences that got feedback are sorted. Nullable join keys are not supported by
    // older servers: the join is on non-null copies.
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
    store.select(&format!(
        "SELECT m, v, b, x, r, toInt64(count()) AS n, toInt64(sum(predicted = truth)) FROM ({}) ALL INNER JOIN ({}) USING (app, pid)
         GROUP BY m, v, b, x, r ORDER BY n DESC, m, v, b, x, r LIMIT {MAX_GROUPS}",
        latest(
            "burn_edge.inference",
            "ifNull(model_name, '') AS m, ifNull(model_version, '') AS v, ifNull(backend, '') AS b, ifNull(variant, '') AS x,
               ifNull(route, 'edge') AS r, assumeNotNull(predicted_class) AS predicted",
            "predicted_class"
        ),
        latest("burn_edge.feedback", "assumeNotNull(true_label) AS truth", "true_label"),
    ))
}

/// The accuracy of the groups `top`, given that `stored` events are stored now.
pub fn read(store: &ClickHouseStore, top: &[GroupKey], stored: i64, refresh_ms: i64, now_unix_ms: i64) -> Result<Accuracy, StoreError> {
    let latest: Vec<(i64, i64)> =
        store.select(&format!("SELECT taken_unix_ms, n FROM {ACCURACY} WHERE kind = 'total' ORDER BY taken_unix_ms DESC LIMIT 1"))?;
    if let Some(&(taken, _)) = latest.first().filter(|&&(taken, counted)| counted == stored || now_unix_ms - taken < refresh_ms) {
        let rows: Vec<Row> = store.select(&format!(
            "SELECT m, v, b, x, r, n, correct FROM {ACCURACY} WHERE kind = 'group' AND taken_unix_ms = {taken} AND (m, v, b, x, r) IN ({})",
            tuples(top)
        ))?;
        return Ok(Accuracy { rows: rows.into_iter().map(group).collect(), taken_unix_ms: taken });
    }
    let rows = join(store)?;
    let mut body = Vec::new();
    let total = serde_json::json!({ "kind": "total", "m": "", "v": "", "b": "", "x": "", "r": "", "n": stored, "correct": 0, "taken_unix_ms": now_unix_ms });
    for line in rows
        .iter()
        .map(|(m, v, b, x, r, n, c)| serde_json::json!({ "kind": "group", "m": m, "v": v, "b": b, "x": x, "r": r, "n": n, "correct": c, "taken_unix_ms": now_unix_ms }))
        .chain([total])
    {
        serde_json::to_writer(&mut body, &line).map_err(|e| store.error(e.to_string()))?;
        body.push(b'\n');
    }
    // One INSERT: a reader sees the whole result or none of it.
    store.execute(&format!("INSERT INTO {ACCURACY} FORMAT JSONEachRow"), Some(body))?;
    Ok(Accuracy { rows: rows.into_iter().map(group).filter(|(k, _, _)| top.contains(k)).collect(), taken_unix_ms: now_unix_ms })
}

/// `groups` as a ClickHouse list of (m, v, b, x, r) tuples.
pub fn tuples(groups: &[GroupKey]) -> String {
    let one = |g: &GroupKey| format!("({})", [&g.model, &g.version, &g.backend, &g.variant, &g.route].map(|s| quote(s)).join(", "));
    groups.iter().map(one).collect::<Vec<_>>().join(", ")
}
