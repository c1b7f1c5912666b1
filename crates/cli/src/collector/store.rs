//! What the collector needs from an event store. SQLite (`sqlite.rs`) is the embedded default;
//! ClickHouse (`clickhouse.rs`) is for deployments that outgrow one machine. Both keep one row
//! per (app, event id), so a retried batch never double counts, and both hand the summary
//! aggregates, bounded by `Limits`, never rows: SQLite from running rollups, ClickHouse from
//! GROUP BY queries. The bucketing is defined here once, as SQL (`bucket_sql`, for ClickHouse)
//! and as Rust taking the same exact steps (`bucket_of`, for SQLite's rollups), so the two
//! sinks give identical summaries.

use super::events::Event;

/// A storage failure. The ingest answers 503 so the client keeps the batch and retries.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("clickhouse at {url}: {message}")]
    ClickHouse { url: String, message: String },
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Model version x backend x variant x route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct GroupKey {
    pub model: String,
    pub version: String,
    pub backend: String,
    pub variant: String,
    /// `edge` (the browser) or `cloud` (the server's `/v1/predict`); events without a route
    /// (sent before routing existed) are `edge`.
    pub route: String,
}

/// The route of an event stored without one.
pub const DEFAULT_ROUTE: &str = burn_edge_formats::telemetry::ROUTE_EDGE;

/// The group route of an event's `burn_edge.route`.
pub fn route_of(route: Option<&str>) -> &str {
    route.unwrap_or(DEFAULT_ROUTE)
}

/// How much one summary may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Groups shown: the ones with the most inferences.
    pub groups: usize,
    /// Model versions in the version timeline: the ones with the most events in its window.
    pub versions: usize,
    /// Minutes of timeline, ending at the latest stored minute.
    pub timeline_minutes: i64,
    /// Predicted classes counted one by one (0 to this - 1, at most `MAX_CLASSES`); others
    /// count as out of range.
    pub classes: i64,
}

/// The most predicted classes a summary counts one by one (SQLite's rollup keeps no more).
pub const MAX_CLASSES: i64 = 1000;

impl Default for Limits {
    fn default() -> Self {
        Limits { groups: 20, versions: 20, timeline_minutes: 60, classes: MAX_CLASSES }
    }
}

/// One histogram bucket (see `bucket_sql`): its index, how many values fell in it, and the
/// smallest and largest of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub index: i64,
    pub count: i64,
    pub min: f64,
    pub max: f64,
}

/// How many events of one name a model version produced in one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteCount {
    pub event: String,
    pub model: String,
    pub version: String,
    pub minute: i64,
    pub count: i64,
}

/// Everything the summary shows, aggregated by the store. Per-group rows are only for the
/// groups in `groups`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregates {
    /// Events stored per event name (names are the vocabulary's, so a handful).
    pub counts: Vec<(String, i64)>,
    /// The `Limits::groups` groups with the most inferences, with their inference counts.
    pub groups: Vec<(GroupKey, i64)>,
    /// Latency histogram per group (`FINE` buckets).
    pub latency: Vec<(GroupKey, Bucket)>,
    /// Latency histogram per group and minute (`COARSE` buckets), in the timeline window.
    pub latency_timeline: Vec<(GroupKey, i64, Bucket)>,
    /// Inferences per group and predicted class; class -1 holds every class outside
    /// 0..`Limits::classes`.
    pub classes: Vec<(GroupKey, i64, i64)>,
    /// Inferences per group and confidence decile (0 to 9).
    pub confidence: Vec<(GroupKey, i64, i64)>,
    /// Time-to-first-prediction histogram of model loads per group (`FINE` buckets).
    pub load_times: Vec<(GroupKey, Bucket)>,
    /// (group, feedback count, correct) joining, within each app, the latest inference and the
    /// latest feedback of every prediction id.
    pub feedback: Vec<(GroupKey, i64, i64)>,
    /// All-time (event name, model, version, count) of errors and fallbacks, for the versions
    /// of `groups`.
    pub version_counts: Vec<(String, String, String, i64)>,
    /// Inferences, errors and fallbacks per minute for the top `Limits::versions` versions.
    pub version_timeline: Vec<MinuteCount>,
    /// The latest minute any inference, error or fallback was stored for: the timeline ends there.
    pub latest_minute: Option<i64>,
    /// When `feedback` was computed, where it is not kept up to date at ingest (ClickHouse).
    pub feedback_as_of_unix_ms: Option<i64>,
}

/// An event store.
pub trait EventStore: Send + Sync {
    /// Stores a batch atomically (all or nothing); events already stored are ignored.
    fn insert(&self, events: &[Event], received_unix_ms: i64) -> Result<(), StoreError>;
    /// The summary's aggregates, within `limits`.
    fn aggregates(&self, limits: &Limits) -> Result<Aggregates, StoreError>;
    /// One model's rollout aggregates (see `RolloutAggregates`), within `limits`.
    fn rollout(&self, model: &str, limits: &RolloutLimits) -> Result<RolloutAggregates, StoreError>;
    /// Retention: deletes the events timed before `before_unix_nano`, the aggregates following
    /// (see `retention.rs`); returns how many were deleted (ClickHouse: set to be deleted).
    fn expire(&self, before_unix_nano: i64) -> Result<u64, StoreError> {
        let _ = before_unix_nano;
        Err(StoreError::Unsupported("this event store has no retention"))
    }
}

/// The events of one model that a rollout arm counts, by `ArmKey`: what a unit was assigned
/// (exposures) and what it was served (inferences, errors, fallbacks not in the shadow).
pub const ARM_EVENTS: [&str; 4] = ["burn_edge.exposure", "burn_edge.inference", "burn_edge.error", "burn_edge.backend.fallback"];

/// The `burn_edge.role` of a shadow prediction: never counted in an arm.
pub use burn_edge_formats::telemetry::ROLE_SHADOW;

/// Where a served event of one model belongs: its rule, arm and version; for events outside
/// any rule (the controls) the alias the page asked for, which a rule names itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArmKey {
    pub alias: String,
    pub rule: String,
    pub arm: String,
    pub version: String,
}

impl ArmKey {
    /// An event's key columns (alias, rule, arm, version), absent ones as ""; the alias only
    /// outside any rule.
    pub fn cols<'a>(alias: Option<&'a str>, rule: Option<&'a str>, arm: Option<&'a str>, version: Option<&'a str>) -> [&'a str; 4] {
        let rule = rule.unwrap_or("");
        [if rule.is_empty() { alias.unwrap_or("") } else { "" }, rule, arm.unwrap_or(""), version.unwrap_or("")]
    }
}

/// How much one rollout report may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutLimits {
    /// Arm keys shown: the ones with the most events.
    pub groups: usize,
    /// Champion x challenger version pairs shown: the ones with the most shadow pairs.
    pub pairs: usize,
    /// (interleave rule, winner) rows shown: the most picked.
    pub picks: usize,
}

impl Default for RolloutLimits {
    fn default() -> Self {
        RolloutLimits { groups: 50, pairs: 10, picks: 100 }
    }
}

/// Classes of the shadow confusion matrix counted one by one (0 to this - 1); others are -1.
pub const CONFUSION_CLASSES: i64 = 100;

/// One champion x challenger pair of versions, from shadow inferences joined to the served
/// inference they re-ran.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowPair {
    pub champion: String,
    pub challenger: String,
    pub pairs: i64,
    /// Pairs whose top-1 classes are equal.
    pub agreeing: i64,
    /// (champion class, challenger class, count), classes outside 0..`CONFUSION_CLASSES` as -1.
    pub confusion: Vec<(i64, i64, i64)>,
    /// Latency histograms (`FINE` buckets) of the served and the shadow side.
    pub champion_latency: Vec<Bucket>,
    pub challenger_latency: Vec<Bucket>,
}

/// What the rollout report shows of one model, aggregated by the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolloutAggregates {
    /// (arm key, event of `ARM_EVENTS`, count) for the `RolloutLimits::groups` busiest keys.
    pub counts: Vec<(ArmKey, String, i64)>,
    /// Distinct install ids with an exposure or a served inference, per key of `counts` with
    /// its version "" (a unit counts once across versions).
    pub users: Vec<(ArmKey, i64)>,
    /// Served latency histogram (`FINE` buckets) per key of `counts`.
    pub latency: Vec<(ArmKey, Bucket)>,
    /// Served inferences per key of `counts` and predicted class (-1: outside 0..`MAX_CLASSES`).
    pub classes: Vec<(ArmKey, i64, i64)>,
    /// (key of `counts`, served predictions with feedback, of them correct): the latest
    /// feedback of every (app, prediction id) joined to its latest served inference.
    pub feedback: Vec<(ArmKey, i64, i64)>,
    pub shadow: Vec<ShadowPair>,
    /// (interleave rule, winner, picks).
    pub picks: Vec<(String, String, i64)>,
    /// `burn_edge.swap.ms` histogram (`FINE` buckets).
    pub swaps: Vec<Bucket>,
}

/// The events the timeline counts per minute.
pub const TIMELINE_EVENTS: [&str; 3] = ["burn_edge.inference", "burn_edge.error", "burn_edge.backend.fallback"];

/// Nanoseconds per minute.
pub const MINUTE_NANOS: i64 = 60_000_000_000;

/// Buckets of the log-linear histograms: values between 2^`MIN_EXP` and 2^`MAX_EXP` ms (about
/// 1 us to 17 min) fall in `sub` equal buckets per power of two; below and above are one bucket
/// each. A bucket spans at most 1/`sub` of its lower bound.
pub const MIN_EXP: i32 = -10;
pub const MAX_EXP: i32 = 20;
/// Sub-buckets per power of two of the per-group latency and load-time histograms.
pub const FINE: i64 = 16;
/// Sub-buckets per power of two of the per-minute timeline (fewer rows per minute).
pub const COARSE: i64 = 4;

/// SQL (plain enough for SQLite and ClickHouse 18.16) giving the bucket index of the non-null
/// number `x`. Only comparisons with powers of two, division by them, subtraction of 1 and
/// multiplication by `sub` are used: every step is exact in IEEE doubles, so both databases put
/// every value in the same bucket as `bucket_of`.
pub fn bucket_sql(x: &str, sub: i64) -> String {
    let mut sql = format!("CASE WHEN {x} < {:?} THEN 0", 2f64.powi(MIN_EXP));
    for (i, e) in (MIN_EXP..MAX_EXP).enumerate() {
        let (lo, hi) = (2f64.powi(e), 2f64.powi(e + 1));
        let base = 1 + i as i64 * sub;
        sql.push_str(&format!(" WHEN {x} < {hi:?} THEN {base} + CAST(({x} / {lo:?} - 1) * {sub} AS Int64)"));
    }
    let top = 1 + i64::from(MAX_EXP - MIN_EXP) * sub;
    sql.push_str(&format!(" ELSE {top} END"));
    sql
}

/// The bucket index `bucket_sql` gives `x`, in Rust (the SQLite rollups use it): the same
/// exact steps, so the same bucket.
pub fn bucket_of(x: f64, sub: i64) -> i64 {
    if x < 2f64.powi(MIN_EXP) {
        return 0;
    }
    for (i, e) in (MIN_EXP..MAX_EXP).enumerate() {
        if x < 2f64.powi(e + 1) {
            return 1 + i as i64 * sub + ((x / 2f64.powi(e) - 1.0) * sub as f64) as i64;
        }
    }
    1 + i64::from(MAX_EXP - MIN_EXP) * sub
}

/// SQL giving the confidence decile (0 to 9) of the non-null `c`, clamped like the histogram.
pub fn decile_sql(c: &str) -> String {
    format!("CASE WHEN {c} * 10 >= 9 THEN 9 WHEN {c} * 10 <= 0 THEN 0 ELSE CAST({c} * 10 AS Int64) END")
}

/// `decile_sql` in Rust.
pub fn decile_of(c: f64) -> i64 {
    if c * 10.0 >= 9.0 {
        9
    } else if c * 10.0 <= 0.0 {
        0
    } else {
        (c * 10.0) as i64
    }
}

/// `class_sql` in Rust.
pub fn class_of(c: i64, classes: i64) -> i64 {
    if (0..classes).contains(&c) {
        c
    } else {
        -1
    }
}

/// SQL giving the predicted class `c`, or -1 when outside 0..`classes`.
pub fn class_sql(c: &str, classes: i64) -> String {
    format!("CASE WHEN {c} >= 0 AND {c} < {classes} THEN {c} ELSE -1 END")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_log_linear_and_bounded() {
        assert_eq!(bucket_of(0.0, FINE), 0);
        assert_eq!(bucket_of(-5.0, FINE), 0);
        assert_eq!(bucket_of(1.0, FINE), 1 + 10 * FINE);
        assert_eq!(bucket_of(1.0625, FINE), 2 + 10 * FINE);
        assert_eq!(bucket_of(1e300, FINE), 1 + 30 * FINE);
        // Every bucket inside the range is at most 1/FINE of its lower bound wide.
        let mut x = 2f64.powi(MIN_EXP);
        while x < 2f64.powi(MAX_EXP) {
            let next = x * (1.0 + 1.0 / FINE as f64) * 1.000_001;
            assert!(bucket_of(next, FINE) > bucket_of(x, FINE), "{x}");
            x = next;
        }
        let sql = bucket_sql("ms", FINE);
        assert!(sql
            .starts_with("CASE WHEN ms < 0.0009765625 THEN 0 WHEN ms < 0.001953125 THEN 1 + CAST((ms / 0.0009765625 - 1) * 16 AS Int64)"));
        assert!(sql.ends_with("ELSE 481 END"), "{sql}");
    }
}
