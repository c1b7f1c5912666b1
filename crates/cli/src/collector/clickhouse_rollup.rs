//! ClickHouse's running aggregates, so a summary reads a few thousand rollup rows instead of
//! grouping millions of events. Every INSERT into the events table also feeds, through one
//! materialized view per kind, an `AggregatingMergeTree` holding exactly the rows SQLite's
//! `rollup` keeps (same kinds, columns and `store` buckets; `rollup::Increments` in Rust), plus
//! the event's hour, so retention can delete whole hours of it.
//!
//! A view counts every inserted row, but the events table keeps one row per (app, event id):
//! a batch sent twice must not count twice. So `insert` (in `clickhouse.rs`) first drops the ids
//! already stored, which covers retries to any collector once the first insert has finished. Two
//! inserts of one id that overlap (a client that gave up on a slow collector and resent to
//! another) both pass that check; a third view logs every inserted copy in `burn_edge_copies`
//! (a plain `MergeTree`, whose merges never drop rows), and after its insert each collector
//! counts the copies of its batch's ids: an id with more than one gets correction rows, its
//! rollup rows once per extra copy, in a `ReplacingMergeTree` keyed by (app, event id, rollup
//! row). Whichever of the two inserts finished last sees both copies, so the correction is
//! always written, and written twice it is still one row. The summary subtracts the
//! corrections (normally none) from the rollup's sums.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::clickhouse::{quote, ClickHouseStore, TABLE};
use super::events::Event;
use super::rollup::{Fields, Increments, RowRef};
use super::store::{bucket_sql, class_sql, decile_sql, StoreError, COARSE, FINE, MAX_CLASSES, MINUTE_NANOS, TIMELINE_EVENTS};

/// The rollup: one row per (kind, five text columns, minute, key, hour) once merged.
pub const ROLLUP: &str = "burn_edge_rollup";
/// Corrections for overlapping inserts of one id (see the module docs).
pub const CORRECTIONS: &str = "burn_edge_rollup_corrections";
/// Every inserted copy of an event id.
pub const COPIES: &str = "burn_edge_copies";

/// Nanoseconds per hour: the rollup's retention granularity.
pub const HOUR_NANOS: i64 = 3_600_000_000_000;

const HOUR: &str = "intDiv(time_unix_nano, 3600000000000)";

const TABLES: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS burn_edge_rollup (
        kind String, m String, v String, b String, x String, r String, minute Int64, key Int64, hour Int64,
        n AggregateFunction(sum, Int64), lo AggregateFunction(min, Float64), hi AggregateFunction(max, Float64)
    ) ENGINE = AggregatingMergeTree() ORDER BY (kind, m, v, b, x, r, minute, key, hour)",
    "CREATE TABLE IF NOT EXISTS burn_edge_rollup_corrections (
        app String, event_id String, kind String, m String, v String, b String, x String, r String,
        minute Int64, key Int64, hour Int64, extra Int64
    ) ENGINE = ReplacingMergeTree(extra) ORDER BY (app, event_id, kind, m, v, b, x, r, minute, key)",
    "CREATE TABLE IF NOT EXISTS burn_edge_copies (app String, event_id String, hour Int64) ENGINE = MergeTree() ORDER BY (app, event_id)",
];

/// One rollup kind as SQL over an events row: which rows count, the text columns, minute, key
/// and value (0 for kinds without one), as `rollup::Increments::event` makes them.
struct Kind {
    kind: &'static str,
    filter: String,
    cols: [&'static str; 5],
    minute: &'static str,
    key: String,
    value: &'static str,
}

const GROUP: [&str; 5] =
    ["ifNull(model_name, '')", "ifNull(model_version, '')", "ifNull(backend, '')", "ifNull(variant, '')", "ifNull(route, 'edge')"];
const MINUTE: &str = "intDiv(time_unix_nano, 60000000000)";
const INFERENCE: &str = "name = 'burn_edge.inference'";

fn kinds() -> [Kind; 7] {
    const { assert!(MINUTE_NANOS == 60_000_000_000 && HOUR_NANOS == 60 * MINUTE_NANOS) };
    let latency = "assumeNotNull(latency_ms)";
    let with = |column: &str| format!("{INFERENCE} AND isNotNull({column})");
    [
        Kind { kind: "events", filter: "1".into(), cols: ["name", "''", "''", "''", "''"], minute: "0", key: "0".into(), value: "0" },
        Kind {
            kind: "version_minute",
            filter: format!("name IN ({})", TIMELINE_EVENTS.map(quote).join(", ")),
            cols: [GROUP[0], GROUP[1], "name", "''", "''"],
            minute: MINUTE,
            key: "0".into(),
            value: "0",
        },
        Kind { kind: "latency", filter: with("latency_ms"), cols: GROUP, minute: "0", key: bucket_sql(latency, FINE), value: latency },
        Kind {
            kind: "latency_minute",
            filter: with("latency_ms"),
            cols: GROUP,
            minute: MINUTE,
            key: bucket_sql(latency, COARSE),
            value: latency,
        },
        Kind {
            kind: "class",
            filter: with("predicted_class"),
            cols: GROUP,
            minute: "0",
            key: class_sql("assumeNotNull(predicted_class)", MAX_CLASSES),
            value: "0",
        },
        Kind {
            kind: "confidence",
            filter: with("confidence"),
            cols: GROUP,
            minute: "0",
            key: decile_sql("assumeNotNull(confidence)"),
            value: "0",
        },
        Kind {
            kind: "load",
            filter: "name = 'burn_edge.model.load' AND isNotNull(ttfp_ms)".into(),
            cols: GROUP,
            minute: "0",
            key: bucket_sql("assumeNotNull(ttfp_ms)", FINE),
            value: "assumeNotNull(ttfp_ms)",
        },
    ]
}

impl Kind {
    /// The rollup rows of the events in `from` matching `filter` and `extra`.
    fn select(&self, from: &str, extra: &str) -> String {
        let [m, v, b, x, r] = self.cols;
        let Kind { kind, filter, minute, key, value, .. } = self;
        format!(
            "SELECT '{kind}' AS kind, {m} AS m, {v} AS v, {b} AS b, {x} AS x, {r} AS r, toInt64({minute}) AS minute, toInt64({key}) AS key,
               {HOUR} AS hour, sumState(toInt64(1)) AS n, minState(toFloat64({value})) AS lo, maxState(toFloat64({value})) AS hi
             FROM {from} WHERE ({filter}){extra} GROUP BY kind, m, v, b, x, r, minute, key, hour"
        )
    }
}

/// Creates the rollup's tables and views if missing. When the views are new and events are
/// already stored (a table from before rollups), the rollup and the copies log are filled from
/// them: the events received before the views existed, so none counts twice. (An insert that
/// another collector still had in flight at that moment could; upgrade with one collector.)
pub fn create(store: &ClickHouseStore, now_unix_ms: i64) -> Result<(), StoreError> {
    for sql in TABLES {
        store.execute(sql, None)?;
    }
    let views: Vec<(String,)> = store.select(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView' AND startsWith(name, 'burn_edge_')",
    )?;
    let has = |name: &str| views.iter().any(|(v,)| v == name);
    let mut created = false;
    for kind in kinds() {
        let name = format!("{ROLLUP}_{}", kind.kind);
        if !has(&name) {
            store.execute(&format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {name} TO {ROLLUP} AS {}", kind.select(TABLE, "")), None)?;
            created = true;
        }
    }
    let copies = format!("{COPIES}_log");
    if !has(&copies) {
        store.execute(
            &format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {copies} TO {COPIES} AS SELECT app, event_id, {HOUR} AS hour FROM {TABLE}"),
            None,
        )?;
        created = true;
    }
    if created {
        let before = format!(" AND received_unix_ms < {now_unix_ms}");
        for kind in kinds() {
            store.execute(&format!("INSERT INTO {ROLLUP} {}", kind.select(&format!("{TABLE} FINAL"), &before)), None)?;
        }
        store.execute(&format!("INSERT INTO {COPIES} SELECT app, event_id, {HOUR} AS hour FROM {TABLE} FINAL WHERE 1{before}"), None)?;
    }
    Ok(())
}

/// The rollup rows matching `filter` (on kind, the text columns, minute and key), each row key
/// once with its count (`n`, corrections subtracted; rows left at 0 dropped), smallest (`lo`)
/// and largest (`hi`) value: a subquery.
pub fn rows(filter: &str) -> String {
    let cols = "kind, m, v, b, x, r, minute, key";
    format!(
        "(SELECT {cols}, sum(n) AS n, min(lo) AS lo, max(hi) AS hi FROM
           (SELECT {cols}, sumMerge(n) AS n, minMerge(lo) AS lo, maxMerge(hi) AS hi FROM {ROLLUP} WHERE {filter} GROUP BY {cols}
            UNION ALL
            SELECT {cols}, -sum(extra) AS n, inf AS lo, -inf AS hi FROM {CORRECTIONS} FINAL WHERE {filter} GROUP BY {cols})
         GROUP BY {cols} HAVING n != 0)"
    )
}

/// `(app, event id)` pairs as a ClickHouse tuple list, in pieces of at most ~64 KiB of text
/// (the server refuses queries over `max_query_size`, 256 KiB by default).
fn id_lists<'a>(ids: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut lists = vec![String::new()];
    for (app, id) in ids {
        let last = lists.last_mut().expect("never empty");
        if last.len() > 64 << 10 {
            lists.push(String::new());
        }
        let last = lists.last_mut().expect("never empty");
        if !last.is_empty() {
            last.push_str(", ");
        }
        last.push_str(&format!("({}, {})", quote(app), quote(id)));
    }
    lists
}

/// How many copies of each of `ids` were inserted (ids never inserted are absent).
pub fn copies<'a>(
    store: &ClickHouseStore,
    ids: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<HashMap<(String, String), i64>, StoreError> {
    let mut out = HashMap::new();
    for list in id_lists(ids).into_iter().filter(|l| !l.is_empty()) {
        let rows: Vec<(String, String, i64)> = store.select(&format!(
            "SELECT app, event_id, toInt64(count()) FROM {COPIES} WHERE (app, event_id) IN ({list}) GROUP BY app, event_id"
        ))?;
        out.extend(rows.into_iter().map(|(app, id, n)| ((app, id), n)));
    }
    Ok(out)
}

/// Writes the corrections for events stored more than once: `extra` copies each.
pub fn correct(store: &ClickHouseStore, events: &[(&Event, i64)]) -> Result<(), StoreError> {
    let mut body = Vec::new();
    for &(e, extra) in events {
        let mut one = Increments::default();
        one.event(&Fields::of(e));
        let hour = e.time_unix_nano.div_euclid(HOUR_NANOS);
        for RowRef { kind, cols: [m, v, b, x, r], minute, key, .. } in one.rows() {
            let row = json!({ "app": e.app, "event_id": e.event_id, "kind": kind, "m": m, "v": v, "b": b, "x": x, "r": r,
                "minute": minute, "key": key, "hour": hour, "extra": extra });
            serde_json::to_writer(&mut body, &row).map_err(|e| store.error(e.to_string()))?;
            body.push(b'\n');
        }
    }
    if body.is_empty() {
        return Ok(());
    }
    store.execute(&format!("INSERT INTO {CORRECTIONS} FORMAT JSONEachRow"), Some(body)).map(drop)
}

/// The events of `events` to insert: the first of each (app, event id) not stored yet. Ids
/// already stored more than once (an overlap whose correction a failed request never wrote)
/// are corrected on the way.
pub fn fresh<'a>(store: &ClickHouseStore, events: &'a [Event]) -> Result<Vec<&'a Event>, StoreError> {
    let stored = copies(store, events.iter().map(|e| (e.app.as_str(), e.event_id.as_str())))?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut overlaps = Vec::new();
    for e in events {
        if !seen.insert((e.app.as_str(), e.event_id.as_str())) {
            continue;
        }
        match stored.get(&(e.app.clone(), e.event_id.clone())) {
            None => out.push(e),
            Some(&n) if n > 1 => overlaps.push((e, n - 1)),
            Some(_) => {}
        }
    }
    correct(store, &overlaps)?;
    Ok(out)
}

/// After inserting `inserted`: corrects the ones another insert stored too.
pub fn check(store: &ClickHouseStore, inserted: &[&Event]) -> Result<(), StoreError> {
    let stored = copies(store, inserted.iter().map(|e| (e.app.as_str(), e.event_id.as_str())))?;
    let overlaps: Vec<(&Event, i64)> = inserted
        .iter()
        .filter_map(|&e| stored.get(&(e.app.clone(), e.event_id.clone())).filter(|&&n| n > 1).map(|&n| (e, n - 1)))
        .collect();
    correct(store, &overlaps)
}

/// Retention: deletes the rollup rows, corrections and copies of hours before `before_hour`.
pub fn expire(store: &ClickHouseStore, before_hour: i64) -> Result<(), StoreError> {
    for table in [ROLLUP, CORRECTIONS, COPIES] {
        store.execute(&format!("ALTER TABLE {table} DELETE WHERE hour < {before_hour}"), None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_are_quoted_and_split_below_the_query_limit() {
        let ids: Vec<(String, String)> = (0..5000).map(|i| ("a'pp".to_string(), format!("id-{i:0>100}"))).collect();
        let lists = id_lists(ids.iter().map(|(a, i)| (a.as_str(), i.as_str())));
        assert!(lists.len() > 5, "{}", lists.len());
        assert!(lists.iter().all(|l| l.len() < 70 << 10));
        assert!(lists[0].starts_with(r"('a\'pp', 'id-"));
        assert_eq!(lists.iter().map(|l| l.matches("), (").count() + 1).sum::<usize>(), 5000);
    }

    #[test]
    fn every_kind_of_the_rust_rollup_has_a_view() {
        let names: HashSet<&str> = kinds().iter().map(|k| k.kind).collect();
        assert_eq!(names, ["events", "version_minute", "latency", "latency_minute", "class", "confidence", "load"].into_iter().collect());
    }
}
