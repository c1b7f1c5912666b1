//! Retention and backup through the real binary: `serve --retention-days` deletes old events in
//! SQLite and in a real ClickHouse server (`scripts/clickhouse-server.sh`) while it runs, and
//! keeps the recent ones; `collector backup` copies the database of a running server, and
//! `collector restore` refuses to replace it until that server is stopped, then brings the
//! backed-up events back.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::{batch, record, request, start, start_with, summary, Attr, ClickHouse, JSON, KEY};

const DAY_NS: u64 = 86_400_000_000_000;

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// `n` inferences timed `age_ns` ago, with ids `{prefix}{i}`.
fn inferences(prefix: &str, n: usize, age_ns: u64) -> String {
    let t = now_ns() - age_ns;
    let records: Vec<String> = (0..n)
        .map(|i| {
            record(
                "burn_edge.inference",
                t + i as u64,
                &[
                    ("event.id", Attr::S(format!("{prefix}{i}"))),
                    ("burn_edge.model.name", Attr::S("mnist".into())),
                    ("burn_edge.model.version", Attr::S("1.0.0".into())),
                    ("burn_edge.backend", Attr::S("cpu".into())),
                    ("burn_edge.latency_ms", Attr::D(2.0)),
                    ("burn_edge.batch_size", Attr::I(1)),
                    ("burn_edge.predicted_class", Attr::I(3)),
                    ("burn_edge.confidence", Attr::D(0.5)),
                ],
            )
        })
        .collect();
    batch(&records)
}

fn send(addr: &str, body: &str) {
    let (status, _, text) = request(addr, "POST", "/v1/logs", &[JSON, KEY], body.as_bytes());
    assert_eq!(status, 200, "{text}");
}

fn inference_count(addr: &str) -> i64 {
    summary(addr)["events"]["burn_edge.inference"].as_i64().unwrap_or(0)
}

/// Waits until the summary counts `want` inferences (a retention pass runs every 0.2 s here).
fn wait_for_count(addr: &str, want: i64) {
    let started = Instant::now();
    while inference_count(addr) != want {
        assert!(started.elapsed() < Duration::from_secs(60), "still {} inferences, want {want}", inference_count(addr));
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn retention_keeps_recent_events(server: &support::Server) {
    send(&server.addr, &inferences("old", 30, 5 * DAY_NS));
    send(&server.addr, &inferences("recent", 20, 60_000_000_000));
    wait_for_count(&server.addr, 20);
    // And it stays so: later passes delete nothing more.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(inference_count(&server.addr), 20);
}

#[test]
fn retention_days_deletes_old_events_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("t.sqlite"), &["--retention-days", "2", "--retention-interval", "0.2"]);
    retention_keeps_recent_events(&server);
}

#[test]
fn retention_days_deletes_old_events_in_clickhouse() {
    let clickhouse = ClickHouse::start();
    let server = start_with(&["--clickhouse", &clickhouse.url, "--retention-days", "2", "--retention-interval", "0.2"]);
    retention_keeps_recent_events(&server);
    let left = clickhouse.query("SELECT count() FROM burn_edge_events WHERE startsWith(event_id, 'old')");
    assert_eq!(left.trim(), "0", "the old rows are gone from the table, not only from the summary");
    let logged = clickhouse.query("SELECT count() FROM burn_edge_copies WHERE startsWith(event_id, 'old')");
    assert_eq!(logged.trim(), "0", "and from the rollup's copies log");
}

fn collector(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_burn-edge")).arg("collector").args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn backup_of_a_running_server_and_a_restore_only_once_it_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (db, out) = (dir.path().join("t.sqlite"), dir.path().join("backup.sqlite"));
    let server = start(&db, &[]);
    send(&server.addr, &inferences("a", 40, 1_000_000_000));
    let (ok, text) = collector(&["backup", "--db", path(&db), "--out", path(&out)]);
    assert!(ok && text.contains("backed up 40 events"), "{text}");
    send(&server.addr, &inferences("b", 10, 1_000_000_000));
    // A restore over the database the server has open is refused, and the server goes on.
    let (ok, text) = collector(&["restore", "--from", path(&out), "--db", path(&db)]);
    assert!(!ok && text.contains("stop it before restoring over it"), "{text}");
    send(&server.addr, &inferences("c", 5, 1_000_000_000));
    assert_eq!(inference_count(&server.addr), 55);
    drop(server);
    let (ok, text) = collector(&["restore", "--from", path(&out), "--db", path(&db)]);
    assert!(ok && text.contains("restored 40 events") && text.contains(".replaced-"), "{text}");
    let server = start(&db, &[]);
    assert_eq!(inference_count(&server.addr), 40, "the backed-up state");
    // A file that is not a database is refused with a clear error, and nothing is created.
    std::fs::write(dir.path().join("junk"), b"junk".repeat(1000)).unwrap();
    let (ok, text) = collector(&["restore", "--from", path(&dir.path().join("junk")), "--db", path(&dir.path().join("x.sqlite"))]);
    assert!(!ok && text.contains("is not a SQLite database"), "{text}");
    assert!(!dir.path().join("x.sqlite").exists());
}
