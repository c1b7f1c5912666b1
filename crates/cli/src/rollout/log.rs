//! `models/<model>/rollout-log.json`: every change to the channel's rollout, newest last, the
//! last [`MAX_ENTRIES`] kept. The collector's `/api/rollout` serves it as the guard's decisions.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::RolloutError;

/// File name in the model folder.
pub const LOG_FILE: &str = "rollout-log.json";
/// Entries kept.
pub const MAX_ENTRIES: usize = 200;

/// Who changed the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Cli,
    Guard,
}

/// One log entry: `{ at, action, rule?, detail, by, numbers? }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The channel's new `updatedAt`.
    pub at: String,
    /// `canary`, `ramp`, `promote`, `rollback`, `kill`, `unkill`, `experiment-start`, ...
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What changed, for people.
    pub detail: String,
    pub by: By,
    /// The measurements behind a guard's decision, for the dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Value>,
}

/// Path of the log in a model folder.
pub fn log_path(model_dir: &Path) -> PathBuf {
    model_dir.join(LOG_FILE)
}

/// The entries, oldest first (empty when there is no log yet). Entries are kept as JSON so
/// fields a newer writer added survive.
pub fn read_log(model_dir: &Path) -> Result<Vec<Value>, RolloutError> {
    let path = log_path(model_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            RolloutError::Refused(format!("{} is not a JSON array of log entries ({e}); move it away to start a new log", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(RolloutError::io(path)(e)),
    }
}

/// Appends `entry`, dropping the oldest beyond [`MAX_ENTRIES`]; written atomically.
pub fn append(model_dir: &Path, entry: &LogEntry) -> Result<(), RolloutError> {
    let mut entries = read_log(model_dir)?;
    entries.push(serde_json::to_value(entry).map_err(|e| RolloutError::Refused(e.to_string()))?);
    let excess = entries.len().saturating_sub(MAX_ENTRIES);
    entries.drain(..excess);
    let json = serde_json::to_string_pretty(&entries).map_err(|e| RolloutError::Refused(e.to_string()))? + "\n";
    let path = log_path(model_dir);
    crate::publish::write_atomically(&path, json.as_bytes()).map_err(|e| RolloutError::Signing(e.to_string()))
}
