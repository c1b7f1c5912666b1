//! A model folder's channel, changed safely: read and validate, edit, validate the result with
//! the loaders' own code, verify every version the change points units at (manifest and files
//! by sha256, as `sign`/`verify` do), then write atomically with an `updatedAt` strictly later
//! than before, re-sign (or remove a signature that would no longer match) and log the change.
//! One writer at a time: a lock file beside the channel keeps the guard and a person from
//! overwriting each other's change.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use burn_edge_formats::{signature_path, Channel, SignedKind, CHANNEL_FILE};
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::SigningKey;

use super::edits::Change;
use super::error::RolloutError;
use super::log::{self, By, LogEntry};
use crate::signing::{self, SigningError};

/// A model folder under the CDN root (`<models>/<model>/`) and the key to sign its channel with.
pub struct ModelFolder {
    pub dir: PathBuf,
    pub model: String,
    pub key: Option<SigningKey>,
}

/// What [`ModelFolder::apply`] did.
#[derive(Debug)]
pub struct Applied {
    pub change: Change,
    /// The channel as written (or as it was, when nothing changed).
    pub channel: Channel,
    /// False when the edit left the channel as it was: nothing was written or logged.
    pub written: bool,
    /// The key id the channel is signed with; None for an unsigned channel.
    pub signed_by: Option<String>,
    /// An unsigned write removed the previous signature.
    pub removed_signature: bool,
}

impl ModelFolder {
    /// `<models>/<model>`, optionally with a signing key file (`--signing-key`).
    pub fn open(models: &Path, model: &str, key_file: Option<&Path>) -> Result<Self, RolloutError> {
        let key = key_file.map(signing::read_signing_key).transpose()?;
        Ok(ModelFolder { dir: models.join(model), model: model.into(), key })
    }

    pub fn channel_path(&self) -> PathBuf {
        self.dir.join(CHANNEL_FILE)
    }

    /// The current channel, validated; it must be this model's.
    pub fn read(&self) -> Result<Channel, RolloutError> {
        let path = self.channel_path();
        let text = std::fs::read_to_string(&path).map_err(RolloutError::io(&path))?;
        let channel = Channel::from_json(&text).map_err(|error| RolloutError::Format { path: path.clone(), error })?;
        if channel.name != self.model {
            return Err(RolloutError::Refused(format!("{} names model {:?}, not {:?}", path.display(), channel.name, self.model)));
        }
        Ok(channel)
    }

    /// Applies `edit` to the channel and writes the result (see the module docs); `by` goes
    /// into the log.
    pub fn apply(&self, by: By, edit: impl FnOnce(&mut Channel) -> Result<Change, RolloutError>) -> Result<Applied, RolloutError> {
        self.read()?; // a missing or broken channel says so before any lock is taken
        let _lock = Lock::take(&self.dir)?;
        let before = self.read()?;
        log::read_log(&self.dir)?; // a broken log refuses before anything changes
        let mut channel = before.clone();
        let change = edit(&mut channel)?;
        let path = self.channel_path();
        let json = channel.to_json();
        let unchanged = Channel::from_json(&json).is_ok_and(|c| c == before);
        if unchanged {
            return Ok(Applied { change, channel: before, written: false, signed_by: None, removed_signature: false });
        }
        channel.updated_at = next_updated_at(&before.updated_at, Utc::now());
        let json = channel.to_json();
        let channel = Channel::from_json(&json).map_err(|error| RolloutError::Invalid { path: path.clone(), error })?;
        for version in &change.verify {
            signing::verify_version(&self.dir, &self.model, version).map_err(|e| RolloutError::Unverified {
                model: self.model.clone(),
                version: version.clone(),
                problem: match e {
                    SigningError::Unverified { path, problem } => format!("{}: {problem}", path.display()),
                    other => other.to_string(),
                },
            })?;
        }
        crate::publish::write_atomically(&path, json.as_bytes()).map_err(|e| RolloutError::Signing(e.to_string()))?;
        let (signed_by, removed_signature) = match &self.key {
            Some(key) => {
                signing::write_signature(&path, key, SignedKind::Channel, json.as_bytes())?;
                (Some(signing::key_id(&key.verifying_key())), false)
            }
            None => (None, remove_signature(&path)?),
        };
        let entry = LogEntry {
            at: channel.updated_at.clone(),
            action: change.action.into(),
            rule: change.rule.clone(),
            detail: change.detail.clone(),
            by,
            numbers: change.numbers.clone(),
        };
        log::append(&self.dir, &entry)?;
        Ok(Applied { change, channel, written: true, signed_by, removed_signature })
    }
}

/// Removes `<channel>.sig`, which no longer matches the rewritten channel; true if there was one.
fn remove_signature(channel_path: &Path) -> Result<bool, RolloutError> {
    let sig = PathBuf::from(signature_path(&channel_path.to_string_lossy()));
    match std::fs::remove_file(&sig) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(RolloutError::io(sig)(e)),
    }
}

/// `now` in whole seconds, or one second after `previous` if that is not earlier: loaders that
/// remember the last `updatedAt` refuse anything not later as a replay.
pub fn next_updated_at(previous: &str, now: DateTime<Utc>) -> String {
    let now = now.with_timezone(&Utc);
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let next = match DateTime::parse_from_rfc3339(previous) {
        Ok(prev) => {
            let prev = DateTime::from_timestamp(prev.timestamp(), 0).unwrap_or(now);
            if now > prev {
                now
            } else {
                prev + chrono::Duration::seconds(1)
            }
        }
        Err(_) => now,
    };
    next.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An exclusive lock on a model folder's channel: a file created with `create_new`, removed on
/// drop. One older than [`STALE_AFTER`] is from a crashed command and is taken over.
struct Lock(PathBuf);

const LOCK_FILE: &str = ".rollout.lock";
const STALE_AFTER: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(5);

impl Lock {
    fn take(dir: &Path) -> Result<Lock, RolloutError> {
        let path = dir.join(LOCK_FILE);
        let started = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(Lock(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age =
                        std::fs::metadata(&path).and_then(|m| m.modified()).ok().and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|a| a > STALE_AFTER) {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if started.elapsed() > WAIT {
                        return Err(RolloutError::Locked { path });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(RolloutError::io(path)(e)),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::next_updated_at;
    use chrono::{DateTime, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn updated_at_strictly_increases_even_within_a_second_or_with_a_clock_behind() {
        assert_eq!(next_updated_at("2026-12-01T15:00:00Z", at("2026-12-01T15:00:07.9Z")), "2026-12-01T15:00:07Z");
        assert_eq!(next_updated_at("2026-12-01T15:00:07Z", at("2026-12-01T15:00:07.9Z")), "2026-12-01T15:00:08Z");
        assert_eq!(next_updated_at("2026-12-01T16:00:00Z", at("2026-12-01T15:00:00Z")), "2026-12-01T16:00:01Z");
        assert_eq!(next_updated_at("t0", at("2026-12-01T15:00:00Z")), "2026-12-01T15:00:00Z");
    }
}
