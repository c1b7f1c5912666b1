//! What the collector needs from an event store. SQLite (`sqlite.rs`) is the embedded default;
//! ClickHouse (`clickhouse.rs`) is for deployments that outgrow one machine. Both keep one row
//! per (app, event id), so a retried batch never double counts, and answer the same row-level
//! queries that `report` aggregates.

use super::events::Event;

/// A storage failure. The ingest answers 503 so the client keeps the batch and retries.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("clickhouse at {url}: {message}")]
    ClickHouse { url: String, message: String },
}

/// Model version x backend x variant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct GroupKey {
    pub model: String,
    pub version: String,
    pub backend: String,
    pub variant: String,
}

/// One stored inference event.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceRow {
    pub group: GroupKey,
    pub latency_ms: Option<f64>,
    pub predicted_class: Option<i64>,
    pub confidence: Option<f64>,
    /// Minutes since the Unix epoch, from the event's own timestamp.
    pub minute: i64,
}

/// How many events of one name a model version produced in one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteCount {
    pub model: String,
    pub version: String,
    pub minute: i64,
    pub count: i64,
}

/// An event store.
pub trait EventStore: Send + Sync {
    /// Stores a batch atomically (all or nothing); events already stored are ignored.
    fn insert(&self, events: &[Event], received_unix_ms: i64) -> Result<(), StoreError>;
    /// Events stored per event name.
    fn counts(&self) -> Result<Vec<(String, i64)>, StoreError>;
    /// Every inference event.
    fn inferences(&self) -> Result<Vec<InferenceRow>, StoreError>;
    /// Count of `event` per group; the backend falls back to a fallback's `from` backend and
    /// may be empty.
    fn counts_by_version(&self, event: &str) -> Result<Vec<(GroupKey, i64)>, StoreError>;
    /// Count of `event` per model version and minute.
    fn per_minute(&self, event: &str) -> Result<Vec<MinuteCount>, StoreError>;
    /// Time to first prediction (ms) of every model load, per group.
    fn load_times(&self) -> Result<Vec<(GroupKey, f64)>, StoreError>;
    /// (group, predicted class, true label) for every prediction that got feedback.
    fn feedback(&self) -> Result<Vec<(GroupKey, i64, i64)>, StoreError>;
}
