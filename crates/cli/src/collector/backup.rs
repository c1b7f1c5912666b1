//! Backup and restore of the SQLite event store (`burn-edge collector backup` / `restore`).
//!
//! A backup is SQLite's online backup API copying every page in one step: one read
//! transaction, so the copy is one committed state of the database (every batch in it whole,
//! rollups in step with events), taken while the server goes on ingesting (in WAL mode a reader
//! never blocks the writer). It is written to a temporary file next to the destination, checked,
//! made self-contained (rollback-journal mode: no `-wal` beside it) and renamed into place, so an
//! existing backup is only replaced by a complete one.
//!
//! A restore refuses what it cannot use before touching anything: a file that is not SQLite, one
//! that fails `PRAGMA integrity_check`, one without the events table, and a target database that
//! a running server holds open. It copies into a temporary file, opens that as the server would
//! (schema upgrades, missing rollups rebuilt), then moves the database it replaces aside (its
//! path is reported) and renames the restored copy into place.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::sqlite::SqliteStore;

/// Why a backup or restore did nothing.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: no such file")]
    Missing { path: PathBuf },
    #[error("{path} is not a SQLite database ({message})")]
    NotSqlite { path: PathBuf, message: String },
    #[error("{path} is corrupt: integrity_check says {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("{path} is not a burn-edge telemetry database (it has no events table)")]
    NotTelemetry { path: PathBuf },
    #[error("{path} is open in another process (a running `burn-edge serve`?): stop it before restoring over it; nothing was changed")]
    InUse { path: PathBuf },
    #[error("{path} stayed locked by other connections for 60 s: no consistent copy could be read")]
    Busy { path: PathBuf },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
}

/// What a backup or restore did.
#[derive(Debug, Clone, PartialEq)]
pub struct Copied {
    /// Events in the copy.
    pub events: i64,
    pub bytes: u64,
    pub seconds: f64,
    /// A restore over an existing database: where that database now is.
    pub replaced: Option<PathBuf>,
}

fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> BackupError + '_ {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => BackupError::NotSqlite { path: path.into(), message: e.to_string() },
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => BackupError::Corrupt { path: path.into(), message: e.to_string() },
        _ => BackupError::Sqlite { path: path.into(), source: e },
    }
}

/// Opens an existing database (never creates one).
fn open_existing(path: &Path, read_only: bool) -> Result<Connection, BackupError> {
    if !path.is_file() {
        return Err(BackupError::Missing { path: path.into() });
    }
    let flags = if read_only { OpenFlags::SQLITE_OPEN_READ_ONLY } else { OpenFlags::SQLITE_OPEN_READ_WRITE };
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(sqlite_error(path))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(sqlite_error(path))?;
    Ok(conn)
}

/// The number of events, once `conn` is known to be an intact telemetry database.
fn check(conn: &Connection, path: &Path, full: bool) -> Result<i64, BackupError> {
    let pragma = if full { "PRAGMA integrity_check" } else { "PRAGMA quick_check" };
    let verdict: String = conn.query_row(pragma, [], |r| r.get(0)).map_err(sqlite_error(path))?;
    if verdict != "ok" {
        return Err(BackupError::Corrupt { path: path.into(), message: verdict });
    }
    let has_events: bool = conn
        .query_row("SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'events'", [], |r| r.get(0))
        .map_err(sqlite_error(path))?;
    if !has_events {
        return Err(BackupError::NotTelemetry { path: path.into() });
    }
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).map_err(sqlite_error(path))
}

/// Copies every page of `from` into `to` in one step (one consistent snapshot of `from`).
fn copy_pages(from: &Connection, to: &mut Connection, from_path: &Path) -> Result<(), BackupError> {
    let backup = Backup::new(from, to).map_err(sqlite_error(from_path))?;
    let started = Instant::now();
    loop {
        match backup.step(-1).map_err(sqlite_error(from_path))? {
            StepResult::Done => return Ok(()),
            // Another connection holds a lock for a moment (a checkpoint): try again.
            _ if started.elapsed() < Duration::from_secs(60) => std::thread::sleep(Duration::from_millis(20)),
            _ => return Err(BackupError::Busy { path: from_path.into() }),
        }
    }
}

/// A file next to `path` for the copy in progress (same folder: the rename is atomic).
fn partial_path(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "telemetry.sqlite".into());
    path.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

fn write_error(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Write { path: path.into(), message: e.to_string() }
}

/// Flushes `path` and the folder's entry for it to disk.
fn sync(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(write_error(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Directories cannot be fsynced everywhere; where they can, this makes the rename durable.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Removes a partial copy and the journal files SQLite may have left beside it.
fn discard(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Copies `from` (opened by the caller) into a new self-contained file at `partial`.
fn write_copy(from: &Connection, from_path: &Path, partial: &Path) -> Result<(), BackupError> {
    if let Some(dir) = partial.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(BackupError::Write { path: partial.with_file_name(""), message: "no such folder".into() });
        }
    }
    let mut to = Connection::open(partial).map_err(|e| BackupError::Write { path: partial.into(), message: e.to_string() })?;
    copy_pages(from, &mut to, from_path)?;
    // One file, no -wal beside it, whatever the source's mode.
    let mode: String = to.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0)).map_err(sqlite_error(partial))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(BackupError::Write { path: partial.into(), message: format!("journal mode stayed {mode}") });
    }
    drop(to);
    sync(partial)
}

/// Backs up the database at `db` to `out` while it may be in use.
pub fn backup(db: &Path, out: &Path) -> Result<Copied, BackupError> {
    let started = Instant::now();
    let from = open_existing(db, false)?;
    // Only a telemetry database is worth backing up with this command (a wrong --db is a typo).
    let has_events: bool = from
        .query_row("SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'events'", [], |r| r.get(0))
        .map_err(sqlite_error(db))?;
    if !has_events {
        return Err(BackupError::NotTelemetry { path: db.into() });
    }
    let partial = partial_path(out, "partial");
    let result = write_copy(&from, db, &partial).and_then(|()| {
        let events = check(&open_existing(&partial, true)?, &partial, false)?;
        std::fs::rename(&partial, out).map_err(write_error(out))?;
        sync(out)?;
        Ok(events)
    });
    let events = result.inspect_err(|_| discard(&partial))?;
    let bytes = std::fs::metadata(out).map_or(0, |m| m.len());
    Ok(Copied { events, bytes, seconds: started.elapsed().as_secs_f64(), replaced: None })
}

/// Takes the database at `db` out of use for the restore: fails with `InUse` if another
/// connection holds it open; otherwise folds its WAL into it (no `-wal` is left to be read
/// against the restored file) and keeps it locked until the returned connection is dropped.
fn take_over(db: &Path) -> Result<Connection, BackupError> {
    let conn = open_existing(db, false)?;
    conn.busy_timeout(Duration::ZERO).map_err(sqlite_error(db))?;
    // Leaving WAL mode needs the only connection to the database: the test for "in use".
    let mode = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0));
    match mode {
        Ok(m) if m.eq_ignore_ascii_case("delete") => {}
        Ok(_) => return Err(BackupError::InUse { path: db.into() }),
        Err(e) if matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)) => {
            return Err(BackupError::InUse { path: db.into() })
        }
        Err(e) => return Err(sqlite_error(db)(e)),
    }
    // Held until the rename: a server starting meanwhile waits instead of opening the old file.
    conn.execute_batch("BEGIN EXCLUSIVE").map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => BackupError::InUse { path: db.into() },
        _ => sqlite_error(db)(e),
    })?;
    Ok(conn)
}

/// Restores the backup `from` as the database at `db` (which must not be in use).
pub fn restore(from_path: &Path, db: &Path) -> Result<Copied, BackupError> {
    let started = Instant::now();
    let from = open_existing(from_path, true)?;
    let events = check(&from, from_path, true)?;
    let partial = partial_path(db, "restoring");
    let result = (|| -> Result<Option<PathBuf>, BackupError> {
        write_copy(&from, from_path, &partial)?;
        // Opened as the server will open it: upgrades and missing rollups happen here, not at start-up.
        SqliteStore::open(&partial).map_err(sqlite_error(&partial))?;
        discard_sidecars(&partial);
        let held = if db.exists() { Some(take_over(db)?) } else { None };
        let replaced = if held.is_some() {
            let aside = db.with_file_name(format!(
                "{}.replaced-{}",
                db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
            ));
            std::fs::rename(db, &aside).map_err(write_error(db))?;
            Some(aside)
        } else {
            None
        };
        // The replaced database's journal files (if any) must not pair with the restored one.
        discard_sidecars(db);
        std::fs::rename(&partial, db).map_err(write_error(db))?;
        sync(db)?;
        drop(held);
        Ok(replaced)
    })();
    let replaced = result.inspect_err(|_| discard(&partial))?;
    let bytes = std::fs::metadata(db).map_or(0, |m| m.len());
    Ok(Copied { events, bytes, seconds: started.elapsed().as_secs_f64(), replaced })
}

/// Removes a `-wal` / `-shm` left beside `path` (none is current: the file was just closed or
/// taken over), so SQLite never pairs them with other contents.
fn discard_sidecars(path: &Path) {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::collector::events::Event;
    use crate::collector::sqlite::tests::inference;
    use crate::collector::sqlite::{rebuild_rollups, SqliteStore};
    use crate::collector::store::{Aggregates, EventStore, Limits, RolloutAggregates, RolloutLimits};

    const BATCH: i64 = 50;

    /// Batch `n`: `BATCH` inferences with rollout attributes over a few minutes and versions.
    fn batch(n: i64) -> Vec<Event> {
        (0..BATCH)
            .map(|i| {
                let mut e =
                    inference("a", &format!("{n}-{i}"), "mnist", i % 10, 0.5 + (i % 13) as f64, (n * BATCH + i) * 1_000_000_000, None);
                e.model_version = Some(if i % 3 == 0 { "1.1.0" } else { "1.0.0" }.into());
                e.install_id = Some(format!("u{}", i % 11));
                e.rollout.rule = Some("canary".into());
                e.rollout.arm = Some(if i % 3 == 0 { "treatment" } else { "control" }.into());
                e
            })
            .collect()
    }

    fn read(path: &Path) -> (Aggregates, RolloutAggregates) {
        let store = SqliteStore::open(path).unwrap();
        (store.aggregates(&Limits::default()).unwrap(), store.rollout("mnist", &RolloutLimits::default()).unwrap())
    }

    /// The summary a database's rollups give, and the one they give once rebuilt from its events.
    fn rollups_and_rebuilt(path: &Path) -> ((Aggregates, RolloutAggregates), (Aggregates, RolloutAggregates)) {
        let kept = read(path);
        let mut conn = Connection::open(path).unwrap();
        let tx = conn.transaction().unwrap();
        rebuild_rollups(&tx).unwrap();
        tx.commit().unwrap();
        drop(conn);
        (kept, read(path))
    }

    #[test]
    fn a_backup_taken_while_ingesting_is_one_consistent_state() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("live.sqlite");
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        store.insert(&batch(0), 0).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let ingest = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 1;
                while !stop.load(Ordering::Relaxed) {
                    store.insert(&batch(n), 0).unwrap();
                    n += 1;
                }
                n
            })
        };
        let mut seen = Vec::new();
        for k in 0..4 {
            let out = dir.path().join(format!("backup-{k}.sqlite"));
            let copied = backup(&db, &out).unwrap();
            assert!(!Path::new(&format!("{}-wal", out.display())).exists(), "the backup is one file");
            // Whole batches only: each insert is one transaction, and the copy one snapshot.
            assert_eq!(copied.events % BATCH, 0, "a torn batch in backup {k}: {} events", copied.events);
            let (kept, rebuilt) = rollups_and_rebuilt(&out);
            assert_eq!(kept, rebuilt, "backup {k}: its rollups do not match its events");
            assert_eq!(kept.0.counts, [("burn_edge.inference".to_string(), copied.events)]);
            seen.push(copied.events);
        }
        stop.store(true, Ordering::Relaxed);
        let batches = ingest.join().unwrap();
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert!(seen[3] > seen[0], "ingest went on during the backups: {seen:?}");
        assert!(batches * BATCH > seen[3], "{batches} batches, backups saw {seen:?}");
    }

    #[test]
    fn a_restore_gives_back_the_backed_up_database_and_keeps_the_one_it_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let (db, out) = (dir.path().join("t.sqlite"), dir.path().join("b.sqlite"));
        let store = SqliteStore::open(&db).unwrap();
        for n in 0..4 {
            store.insert(&batch(n), 0).unwrap();
        }
        assert_eq!(backup(&db, &out).unwrap().events, 4 * BATCH);
        let backed_up = read(&out);
        // Later events, then the server stops: the restore rolls back to the backup.
        store.insert(&batch(4), 0).unwrap();
        drop(store);
        let restored = restore(&out, &db).unwrap();
        assert_eq!(restored.events, 4 * BATCH);
        assert_eq!(read(&db), backed_up);
        let aside = restored.replaced.expect("the replaced database is kept");
        assert_eq!(read(&aside).0.counts[0].1, 5 * BATCH, "the replaced database is intact");
        // Into a path with no database yet.
        let fresh = dir.path().join("new/telemetry.sqlite");
        std::fs::create_dir_all(fresh.parent().unwrap()).unwrap();
        assert_eq!(restore(&out, &fresh).unwrap().replaced, None);
        assert_eq!(read(&fresh), backed_up);
    }

    #[test]
    fn a_restore_over_a_database_in_use_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (db, out) = (dir.path().join("t.sqlite"), dir.path().join("b.sqlite"));
        let store = SqliteStore::open(&db).unwrap();
        store.insert(&batch(0), 0).unwrap();
        backup(&db, &out).unwrap();
        store.insert(&batch(1), 0).unwrap();
        let err = restore(&out, &db).unwrap_err();
        assert!(matches!(err, BackupError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("stop it before restoring"), "{err}");
        // The server goes on as if nothing happened, and no partial file is left.
        store.insert(&batch(2), 0).unwrap();
        assert_eq!(store.aggregates(&Limits::default()).unwrap().counts[0].1, 3 * BATCH);
        let names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert!(names.iter().all(|n| !n.contains("restoring") && !n.contains("replaced")), "{names:?}");
    }

    #[test]
    fn bad_input_gets_a_clear_error_and_destroys_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (db, out) = (dir.path().join("t.sqlite"), dir.path().join("b.sqlite"));
        let store = SqliteStore::open(&db).unwrap();
        store.insert(&batch(0), 0).unwrap();
        backup(&db, &out).unwrap();
        drop(store);
        let before = read(&db);

        // A backup to a place that cannot be written (its folder is a file).
        let blocker = dir.path().join("a-file");
        std::fs::write(&blocker, b"x").unwrap();
        let err = backup(&db, &blocker.join("b.sqlite")).unwrap_err();
        assert!(matches!(err, BackupError::Write { .. }) && err.to_string().contains("a-file"), "{err}");
        // A backup of a database that is not there creates none.
        let err = backup(&dir.path().join("typo.sqlite"), &out).unwrap_err();
        assert!(matches!(err, BackupError::Missing { .. }), "{err}");
        assert!(!dir.path().join("typo.sqlite").exists());

        // Restores from a file that is not SQLite, from a truncated and from a damaged backup.
        let not_sqlite = dir.path().join("notes.txt");
        std::fs::write(&not_sqlite, "these are not the events you are looking for\n".repeat(100)).unwrap();
        let err = restore(&not_sqlite, &db).unwrap_err();
        assert!(matches!(err, BackupError::NotSqlite { .. }), "{err}");
        let bytes = std::fs::read(&out).unwrap();
        let damaged = dir.path().join("damaged.sqlite");
        let mut broken = bytes.clone();
        let page = 4096;
        for b in &mut broken[page * 2..page * 2 + 512] {
            *b = 0xA5;
        }
        std::fs::write(&damaged, &broken).unwrap();
        let err = restore(&damaged, &db).unwrap_err();
        assert!(matches!(err, BackupError::Corrupt { .. }), "{err}");
        let truncated = dir.path().join("truncated.sqlite");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let err = restore(&truncated, &db).unwrap_err();
        assert!(matches!(err, BackupError::Corrupt { .. }), "{err}");
        // A SQLite database that is not a telemetry store.
        let other = dir.path().join("other.sqlite");
        Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
        let err = restore(&other, &db).unwrap_err();
        assert!(matches!(err, BackupError::NotTelemetry { .. }), "{err}");

        assert_eq!(read(&db), before, "the database restored over is untouched");
        let names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert!(names.iter().all(|n| !n.contains("partial") && !n.contains("restoring") && !n.contains("replaced")), "{names:?}");
    }
}
