//! Retention (`burn-edge serve --retention-days N`): a background pass, at start-up and then
//! every `interval`, deletes the events timed before the start of the UTC day N days ago.
//! Cutting at a day boundary makes the set to delete change once a day, so the pass does its
//! heavy work (SQLite: delete and rebuild the rollups; ClickHouse: one `DELETE` mutation) at
//! most daily; the other passes find nothing and cost one cheap query. Events are kept between
//! N and N + 1 days.
//!
//! SQLite rebuilds its rollups from the events it keeps (`SqliteStore::expire`), so a summary
//! covers exactly the stored events, as ClickHouse's summaries (computed from the table) do.
//! The rebuild holds the writer: ingest answers 503 + `Retry-After` meanwhile and clients keep
//! their batches (BENCHMARKS.md has the time per million events).

use std::sync::Arc;
use std::time::Duration;

use super::store::EventStore;

const DAY_NANOS: i64 = 86_400_000_000_000;

/// How long events are kept, and how often the pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
    pub interval: Duration,
}

/// The first instant kept: the start of the UTC day `days` days before `now_unix_nano`.
pub fn cutoff(now_unix_nano: i64, days: u32) -> i64 {
    let day = now_unix_nano.div_euclid(DAY_NANOS) - i64::from(days);
    day.saturating_mul(DAY_NANOS).max(0)
}

/// Runs the pass on `store` now and every `retention.interval` (on the blocking pool: a SQLite
/// pass may take seconds); failures are reported and retried at the next pass.
pub fn spawn(store: Arc<dyn EventStore>, retention: Retention) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(retention.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let store = store.clone();
            let before = cutoff(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX), retention.days);
            match tokio::task::spawn_blocking(move || store.expire(before)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => eprintln!("retention: deleted {n} events timed before {}", format_nanos(before)),
                Ok(Err(e)) => eprintln!("retention: the pass failed, next try in {:?}: {e}", retention.interval),
                Err(e) => eprintln!("retention: the pass stopped: {e}"),
            }
        }
    })
}

fn format_nanos(t: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::events::Event;
    use crate::collector::sqlite::tests::{feedback, inference};
    use crate::collector::sqlite::SqliteStore;
    use crate::collector::store::{Limits, RolloutLimits};

    #[test]
    fn the_cutoff_is_the_start_of_a_utc_day() {
        let noon = 20_000 * DAY_NANOS + DAY_NANOS / 2;
        assert_eq!(cutoff(noon, 0), 20_000 * DAY_NANOS);
        assert_eq!(cutoff(noon, 30), 19_970 * DAY_NANOS);
        assert_eq!(cutoff(5, 3650), 0, "never before the epoch");
    }

    /// Events of `day` (days since the epoch) with rollout attributes, so both rollups see them.
    fn day_of_traffic(day: i64, n: i64) -> Vec<Event> {
        (0..n)
            .flat_map(|i| {
                let t = day * DAY_NANOS + i * 1_000_000_000;
                let id = format!("d{day}-{i}");
                let mut e = inference("a", &id, "mnist", i % 5, 1.0 + (i % 9) as f64, t, Some(&format!("p{id}")));
                e.install_id = Some(format!("u{}", i % 7));
                e.rollout.rule = Some("canary".into());
                e.rollout.arm = Some(if i % 2 == 0 { "control" } else { "treatment" }.into());
                [e, feedback("a", &format!("f{id}"), &format!("p{id}"), i % 5, t + 1)]
            })
            .collect()
    }

    #[test]
    fn expiring_sqlite_deletes_old_events_and_leaves_rollups_equal_to_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        for day in [100, 101, 102] {
            store.insert(&day_of_traffic(day, 40), 0).unwrap();
        }
        let only_day_102 = {
            let other = SqliteStore::open(&dir.path().join("only.sqlite")).unwrap();
            other.insert(&day_of_traffic(102, 40), 0).unwrap();
            (other.aggregates(&Limits::default()).unwrap(), other.rollout("mnist", &RolloutLimits::default()).unwrap())
        };
        assert_eq!(store.expire(100 * DAY_NANOS).unwrap(), 0, "nothing before day 100");
        assert_eq!(store.expire(102 * DAY_NANOS).unwrap(), 160);
        let after = (store.aggregates(&Limits::default()).unwrap(), store.rollout("mnist", &RolloutLimits::default()).unwrap());
        // Day 102 alone, stored in a fresh database, gives the same summary and rollout report.
        assert_eq!(after, only_day_102);
        assert_eq!(after.0.groups[0].1, 40);
        assert_eq!(store.expire(102 * DAY_NANOS).unwrap(), 0, "a second pass finds nothing");
        drop(store);
        // And the same after a restart.
        let reopened = SqliteStore::open(&path).unwrap();
        assert_eq!(reopened.aggregates(&Limits::default()).unwrap(), only_day_102.0);
    }
}
