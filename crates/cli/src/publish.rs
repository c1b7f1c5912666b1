//! `burn-edge publish`: writes a model version into the static CDN layout under
//! `<models>/<name>/`:
//!
//! ```text
//! channel.json              aliases -> versions (the only file ever rewritten)
//! <version>/manifest.json   one per version, immutable
//! files/<sha256>.bpk        weights, named by content, immutable
//! ```
//!
//! Published files are never rewritten: publishing a version again with the same weights only
//! moves aliases; with other weights it is refused. With a signing key the manifest and the
//! channel get their detached signatures (`<file>.sig`, see `signing`); without one the channel
//! is written unsigned and any signature left from before is removed, so a loader pinning a key
//! says "unsigned" rather than "tampered".

use std::path::{Path, PathBuf};

use burn_edge_formats::{
    content_path, manifest_path, signature_path, Channel, FileEntry, FileRole, FormatError, Manifest, SignedKind, CHANNEL_FILE,
};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use crate::signing::{self, SigningError};

/// Why a publish was refused.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{name}@{version} is already published with other weights (sha256 {existing}, these are {new}); published versions are immutable, publish a new version instead")]
    VersionExists { name: String, version: String, existing: String, new: String },
    #[error("{path} exists but its content does not match its name; refusing to overwrite a published file, inspect it by hand")]
    CorruptContentFile { path: PathBuf },
    #[error("{path}: {source}")]
    Format { path: PathBuf, source: FormatError },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Signing(#[from] SigningError),
}

/// What a publish did.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// A new version was written.
    Published,
    /// The version existed with identical weights; only the aliases were applied.
    AlreadyPublished,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Oldest runtime that runs the manifests `publish` writes today.
pub const MIN_RUNTIME_VERSION: &str = "0.1.0";

/// The manifest entry of f32 Burnpack weights, at their content-addressed path relative to
/// `<version>/manifest.json`.
pub fn weights_entry(weights: &[u8]) -> FileEntry {
    let sha256 = sha256_hex(weights);
    FileEntry {
        role: FileRole::Weights,
        path: format!("../{}", content_path(&sha256, "bpk")),
        sha256,
        size: weights.len() as u64,
        format: "burnpack".into(),
        variant: "f32".into(),
        dtype: "f32".into(),
        requires: vec![],
        evaluation: None,
    }
}

/// Publishes `manifest` under `models_root` with `files`, the bytes of its files in its order
/// (the weights variants, the reference first), then points `aliases` at it in the channel file;
/// signs both with `key` when given. The files are written before the manifest that names them.
pub fn publish(
    models_root: &Path,
    manifest: &Manifest,
    files: &[&[u8]],
    aliases: &[String],
    now: &str,
    key: Option<&SigningKey>,
) -> Result<Outcome, PublishError> {
    let model_dir = models_root.join(&manifest.name);
    manifest.weights().map_err(|source| PublishError::Format { path: model_dir.clone(), source })?;
    assert_eq!(files.len(), manifest.files.len(), "one content per manifest file");
    for (file, bytes) in manifest.files.iter().zip(files) {
        assert_eq!(file.sha256, sha256_hex(bytes), "manifest must describe the files it is published with");
    }

    let manifest_file = model_dir.join(manifest_path(&manifest.version));
    let outcome = match read_if_exists(&manifest_file)? {
        Some(existing_json) => {
            let existing =
                Manifest::from_json(&existing_json).map_err(|source| PublishError::Format { path: manifest_file.clone(), source })?;
            let shas = |m: &Manifest| m.files.iter().map(|f| f.sha256.as_str()).collect::<Vec<_>>().join(", ");
            if shas(&existing) != shas(manifest) {
                return Err(PublishError::VersionExists {
                    name: manifest.name.clone(),
                    version: manifest.version.clone(),
                    existing: shas(&existing),
                    new: shas(manifest),
                });
            }
            if let Some(key) = key {
                // The published bytes are what is signed; they are never rewritten.
                signing::write_signature(&manifest_file, key, SignedKind::Manifest, existing_json.as_bytes())?;
            }
            Outcome::AlreadyPublished
        }
        None => {
            for (file, bytes) in manifest.files.iter().zip(files) {
                write_content_file(&model_dir.join(content_path(&file.sha256, "bpk")), bytes, &file.sha256)?;
            }
            let json = manifest.to_json();
            // Signature first: a reader that finds the manifest finds it signed.
            if let Some(key) = key {
                signing::write_signature(&manifest_file, key, SignedKind::Manifest, json.as_bytes())?;
            }
            write_atomically(&manifest_file, json.as_bytes())?;
            Outcome::Published
        }
    };

    let channel_file = model_dir.join(CHANNEL_FILE);
    let (mut channel, updated_at) = match read_if_exists(&channel_file)? {
        Some(json) => {
            let channel = Channel::from_json(&json).map_err(|source| PublishError::Format { path: channel_file.clone(), source })?;
            // Strictly later than the last write (a `rollout` command may have written this second).
            let now_time = chrono::DateTime::parse_from_rfc3339(now).map_or_else(|_| chrono::Utc::now(), |t| t.with_timezone(&chrono::Utc));
            let updated_at = crate::rollout::folder::next_updated_at(&channel.updated_at, now_time);
            (channel, updated_at)
        }
        None => (Channel::new(&manifest.name, now), now.to_string()),
    };
    channel.publish(&manifest.version, aliases, &updated_at);
    let json = channel.to_json();
    write_atomically(&channel_file, json.as_bytes())?;
    match key {
        Some(key) => drop(signing::write_signature(&channel_file, key, SignedKind::Channel, json.as_bytes())?),
        None => remove_if_exists(Path::new(&signature_path(&channel_file.to_string_lossy())))?,
    }
    Ok(outcome)
}

/// Writes a content-addressed file unless an identical one is there.
fn write_content_file(path: &Path, bytes: &[u8], sha256: &str) -> Result<(), PublishError> {
    match std::fs::read(path) {
        Ok(existing) if sha256_hex(&existing) == sha256 => Ok(()),
        Ok(_) => Err(PublishError::CorruptContentFile { path: path.into() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_atomically(path, bytes),
        Err(source) => Err(PublishError::Io { path: path.into(), source }),
    }
}

fn read_if_exists(path: &Path) -> Result<Option<String>, PublishError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PublishError::Io { path: path.into(), source }),
    }
}

fn remove_if_exists(path: &Path) -> Result<(), PublishError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(PublishError::Io { path: path.into(), source: e }),
        _ => Ok(()),
    }
}

/// Write to a temporary sibling, then rename: a reader (or the server) never sees half a file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let io = |source| PublishError::Io { path: path.into(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp-publish");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
