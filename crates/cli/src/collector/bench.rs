//! A measurement, not a check (ignored by default): the summary's and the rollout report's time
//! over many stored events
//! in SQLite (or ClickHouse), and how long an ingest commit waits while a summary runs.
//! `BURN_EDGE_BENCH_EVENTS=1000000 cargo test -p burn-edge-cli --release bench -- --ignored --nocapture`

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clickhouse::ClickHouseStore;
use super::events;
use super::report::{build, References};
use super::sqlite::SqliteStore;
use super::store::EventStore;

/// One OTLP request of `n` inferences (8 groups, 10 classes, over 3 hours) and a feedback
/// event for every tenth, starting at event `first`.
fn batch(first: usize, n: usize) -> String {
    let t0: u64 = 1_764_000_000_000_000_000;
    let records: Vec<String> = (first..first + n)
        .map(|i| {
            let t = t0 + (i as u64 % 10_800) * 1_000_000_000;
            let inference = format!(
                r#"{{"timeUnixNano":"{t}","eventName":"burn_edge.inference","attributes":[
                {{"key":"event.id","value":{{"stringValue":"i{i}"}}}},
                {{"key":"burn_edge.model.name","value":{{"stringValue":"mnist"}}}},
                {{"key":"burn_edge.model.version","value":{{"stringValue":"1.{}.0"}}}},
                {{"key":"burn_edge.backend","value":{{"stringValue":"{}"}}}},
                {{"key":"burn_edge.latency_ms","value":{{"doubleValue":{}}}}},
                {{"key":"burn_edge.batch_size","value":{{"intValue":"1"}}}},
                {{"key":"burn_edge.predicted_class","value":{{"intValue":{}}}}},
                {{"key":"burn_edge.confidence","value":{{"doubleValue":0.{}}}}},
                {{"key":"burn_edge.prediction_id","value":{{"stringValue":"p{i}"}}}}]}}"#,
                i % 4,
                if i % 2 == 0 { "cpu" } else { "webgpu" },
                0.5 + (i % 997) as f64 * 0.013,
                i % 10,
                i % 10
            );
            if i % 10 == 0 {
                format!(
                    r#"{inference},{{"timeUnixNano":"{t}","eventName":"burn_edge.feedback","attributes":[
                    {{"key":"event.id","value":{{"stringValue":"f{i}"}}}},
                    {{"key":"burn_edge.prediction_id","value":{{"stringValue":"p{i}"}}}},
                    {{"key":"burn_edge.true_label","value":{{"intValue":"{}"}}}}]}}"#,
                    i % 7
                )
            } else {
                inference
            }
        })
        .collect();
    format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#, records.join(","))
}

fn store_batch(store: &dyn EventStore, first: usize, n: usize) {
    let parsed = events::parse(&serde_json::from_str(&batch(first, n)).unwrap(), "bench");
    store.insert(&parsed.events, 0).unwrap();
}

#[test]
#[ignore]
fn bench_summary_over_many_events() {
    let total: usize = std::env::var("BURN_EDGE_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    // BURN_EDGE_BENCH_DB keeps the database (and reuses it when it exists).
    let path = std::env::var_os("BURN_EDGE_BENCH_DB").map_or(dir.path().join("bench.sqlite"), std::path::PathBuf::from);
    let existed = path.exists();
    // BURN_EDGE_BENCH_CLICKHOUSE=URL measures a ClickHouse server instead.
    let store: Arc<dyn EventStore> = match std::env::var("BURN_EDGE_BENCH_CLICKHOUSE") {
        Ok(url) => Arc::new(ClickHouseStore::open(&url).unwrap()),
        Err(_) => Arc::new(SqliteStore::open(&path).unwrap()),
    };
    let started = Instant::now();
    for first in (0..total).step_by(20_000).filter(|_| !existed) {
        store_batch(store.as_ref(), first, 20_000.min(total - first));
    }
    println!("stored {total} inferences (+{} feedback) in {:.1?}", total / 10, started.elapsed());
    let references = Arc::new(References::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into()));
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let summary = build(store.as_ref(), &references).unwrap();
        times.push(t.elapsed());
        assert!(summary["events"]["burn_edge.inference"].as_u64() >= Some(total as u64));
    }
    println!("summary: {times:.2?}");
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let report = super::rollout_report::build(store.as_ref(), &references, "mnist", None).unwrap();
        times.push(t.elapsed());
        assert!(report["arms"].is_array());
    }
    println!("rollout report: {times:.2?}");
    // An ingest commit of 100 events while a summary runs.
    let (s, r) = (store.clone(), references.clone());
    let summary = std::thread::spawn(move || {
        let t = Instant::now();
        build(s.as_ref(), &r).unwrap();
        t.elapsed()
    });
    std::thread::sleep(Duration::from_millis(50));
    let mut waits = Vec::new();
    for k in 0..5 {
        let t = Instant::now();
        store_batch(store.as_ref(), total + k * 100, 100);
        waits.push(t.elapsed());
    }
    println!("ingest of 100 events during a summary ({:.2?}): {waits:.1?}", summary.join().unwrap());
}
