//! A measurement, not a check (ignored by default): backup, restore and a retention pass of the
//! SQLite store at 10 million events, beside a plain file copy of the same database (the
//! disk's floor), for the RPO / RTO figures in BENCHMARKS.md. Prints a table and writes
//! bench/results/backup.{json,md}.
//! `npm run bench:backup` (BURN_EDGE_BACKUP_BENCH_EVENTS=N for another size).

use std::path::Path;
use std::time::Instant;

use rusqlite::Connection;

use super::backup::{backup, restore};
use super::sqlite::{rebuild_rollups, SqliteStore};
use super::store::EventStore;

const DAY_NANOS: i64 = 86_400_000_000_000;
const T0: i64 = 20_400 * DAY_NANOS;

/// Inserts `total` inferences spread over 10 days (one OTLP-shaped attributes object each), in
/// transactions of a million, straight into `events`.
fn bulk_insert(path: &Path, total: i64) {
    let mut conn = Connection::open(path).unwrap();
    for first in (0..total).step_by(1_000_000) {
        let last = (first + 1_000_000).min(total);
        let tx = conn.transaction().unwrap();
        tx.execute(
            "WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2)
             INSERT INTO events (app, event_id, install_id, time_unix_nano, received_unix_ms, name, model_name, model_version,
               backend, variant, latency_ms, batch_size, predicted_class, confidence, prediction_id, attributes)
             SELECT 'bench', 'e' || i, 'u' || (i % 50000), ?3 + (i % 864000) * 1000000000, 0, 'burn_edge.inference', 'mnist',
               '1.' || (i % 4) || '.0', CASE i % 2 WHEN 0 THEN 'cpu' ELSE 'webgpu' END, 'stable', 0.5 + (i % 997) * 0.013, 1,
               i % 10, 0.9, 'p' || i,
               printf('{\"burn_edge.model.name\":\"mnist\",\"burn_edge.model.version\":\"1.%d.0\",\"burn_edge.backend\":\"%s\",\"burn_edge.variant\":\"stable\",\"burn_edge.latency_ms\":%.3f,\"burn_edge.batch_size\":1,\"burn_edge.predicted_class\":%d,\"burn_edge.confidence\":0.9,\"burn_edge.prediction_id\":\"p%d\"}',
                 i % 4, CASE i % 2 WHEN 0 THEN 'cpu' ELSE 'webgpu' END, 0.5 + (i % 997) * 0.013, i % 10, i)
             FROM n",
            rusqlite::params![first, last, T0],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[test]
#[ignore]
fn bench_backup_restore_retention() {
    let total: i64 = std::env::var("BURN_EDGE_BACKUP_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let dir =
        tempfile::tempdir_in(std::env::var_os("BURN_EDGE_BACKUP_BENCH_DIR").map_or_else(std::env::temp_dir, std::path::PathBuf::from))
            .unwrap();
    let (db, out, copy, restored) = (
        dir.path().join("live.sqlite"),
        dir.path().join("backup.sqlite"),
        dir.path().join("copy.sqlite"),
        dir.path().join("restored.sqlite"),
    );
    drop(SqliteStore::open(&db).unwrap());
    let t = Instant::now();
    bulk_insert(&db, total);
    let insert_s = t.elapsed().as_secs_f64();
    eprintln!("bulk insert: {insert_s:.1} s");
    let t = Instant::now();
    {
        let mut conn = Connection::open(&db).unwrap();
        let tx = conn.transaction().unwrap();
        rebuild_rollups(&tx).unwrap();
        tx.commit().unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    }
    let rebuild_s = t.elapsed().as_secs_f64();
    eprintln!("rollup rebuild: {rebuild_s:.1} s");
    let bytes = size(&db);

    let t = Instant::now();
    std::fs::copy(&db, &copy).unwrap();
    std::fs::File::open(&copy).unwrap().sync_all().unwrap();
    let copy_s = t.elapsed().as_secs_f64();
    std::fs::remove_file(&copy).unwrap();
    eprintln!("copy: {copy_s:.1} s");
    let b = backup(&db, &out).unwrap();
    eprintln!("backup: {:.1} s", b.seconds);
    assert_eq!(b.events, total);
    let r = restore(&out, &restored).unwrap();
    eprintln!("restore: {:.1} s", r.seconds);
    assert_eq!(r.events, total);
    let t = Instant::now();
    let store = SqliteStore::open(&restored).unwrap();
    let open_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let deleted = store.expire(T0 + DAY_NANOS).unwrap();
    let expire_s = t.elapsed().as_secs_f64();
    // Day one holds a tenth of the events, give or take the remainder of 10M / 864,000 s.
    assert!(deleted as i64 > total / 11 && (deleted as i64) < total / 9, "{deleted}");

    let mib = bytes as f64 / (1024.0 * 1024.0);
    let rows = [
        ("bulk insert (SQL, no rollups)", insert_s, "".to_string()),
        ("rebuild all rollups", rebuild_s, format!("{:.0} k events/s", total as f64 / rebuild_s / 1e3)),
        ("file copy + fsync (the floor)", copy_s, format!("{:.0} MiB/s", mib / copy_s)),
        ("collector backup (online API)", b.seconds, format!("{:.1}x the copy", b.seconds / copy_s)),
        ("collector restore (check, copy, open)", r.seconds, format!("{:.1}x the copy", r.seconds / copy_s)),
        ("serve start on the restored file", open_s, "".to_string()),
        ("retention pass: 1 of 10 days", expire_s, format!("{} deleted, {} kept and re-rolled", deleted, total - deleted as i64)),
    ];
    let mut md = format!(
        "SQLite store, {total} inference events over 10 days, {mib:.0} MiB database (`cargo test` profile: our code at opt-level 1, SQLite at 2)\n\n\
         | step | seconds | note |\n|---|---:|---|\n"
    );
    for (step, s, note) in &rows {
        md.push_str(&format!("| {step} | {s:.1} | {note} |\n"));
    }
    println!("{md}");
    let results = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/results");
    std::fs::write(format!("{results}/backup.md"), &md).unwrap();
    let json = serde_json::json!({
        "when": chrono::Utc::now().to_rfc3339(),
        "events": total,
        "bytes": bytes,
        "steps": rows.iter().map(|(step, s, note)| serde_json::json!({ "step": step, "seconds": s, "note": note })).collect::<Vec<_>>(),
    });
    std::fs::write(format!("{results}/backup.json"), serde_json::to_string_pretty(&json).unwrap() + "\n").unwrap();
}
