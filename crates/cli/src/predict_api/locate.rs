//! Which published version a request names, as the browser's loader finds it: `<model>` is a
//! folder under the served models; `@<version>` picks that version's manifest, otherwise the
//! channel's alias (`?alias=`, default `stable`) says which version. The channel is read on
//! every request (a promote or rollback takes effect at once); what it points to is immutable.

use std::path::{Path, PathBuf};

use burn_edge_formats::predict::{ErrorCode, DEFAULT_ALIAS};
use burn_edge_formats::{manifest_path, Channel, CHANNEL_FILE};

use super::error::ApiError;
use crate::collector::valid_model_name;

/// Channel files are tiny; anything bigger is not one `publish` wrote.
const CHANNEL_MAX_BYTES: u64 = 1 << 20;

/// A version found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub model: String,
    pub version: String,
    pub manifest: PathBuf,
}

/// Resolves `target` (`<model>` or `<model>@<version>`) and the optional alias under `root`.
pub fn locate(root: &Path, target: &str, alias: Option<&str>) -> Result<Located, ApiError> {
    let (model, version) = match target.split_once('@') {
        Some((model, version)) => (model, Some(version)),
        None => (target, None),
    };
    let folder = root.join(model);
    if !valid_model_name(model) || !folder.is_dir() {
        return Err(ApiError::new(ErrorCode::UnknownModel, format!("no model {model:?} is published here")));
    }
    let version = match (version, alias) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(ErrorCode::InvalidQuery, "give either @<version> in the path or ?alias=, not both"));
        }
        (Some(version), None) => {
            if burn_edge_formats::parse_version("version", version).is_err() {
                return Err(ApiError::new(ErrorCode::UnknownVersion, format!("{version:?} is not a version (like 1.0.0) of {model}")));
            }
            version.to_string()
        }
        (None, alias) => {
            let alias = alias.unwrap_or(DEFAULT_ALIAS);
            let channel = read_channel(&folder, model)?;
            match channel.aliases.get(alias) {
                Some(version) => version.clone(),
                None => {
                    let known = channel.aliases.keys().cloned().collect::<Vec<_>>().join(", ");
                    return Err(ApiError::new(ErrorCode::UnknownAlias, format!("{model} has no alias {alias:?} (it has: {known})")));
                }
            }
        }
    };
    let manifest = folder.join(manifest_path(&version));
    if !manifest.is_file() {
        return Err(ApiError::new(ErrorCode::UnknownVersion, format!("{model} has no published version {version}")));
    }
    Ok(Located { model: model.to_string(), version, manifest })
}

/// A model folder's channel, read and validated as the loader would.
pub(crate) fn read_channel(folder: &Path, model: &str) -> Result<Channel, ApiError> {
    let path = folder.join(CHANNEL_FILE);
    let broken = |why: String| ApiError::new(ErrorCode::ModelBroken, format!("{model}'s {CHANNEL_FILE} {why}"));
    let size = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(_) => return Err(ApiError::new(ErrorCode::UnknownModel, format!("{model} has no {CHANNEL_FILE}: no aliases to resolve"))),
    };
    if size > CHANNEL_MAX_BYTES {
        return Err(broken(format!("is over {CHANNEL_MAX_BYTES} bytes")));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| broken(format!("cannot be read: {e}")))?;
    Channel::from_json(&text).map_err(|e| broken(format!("is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"))
    }

    #[test]
    fn aliases_versions_and_unknown_names() {
        let stable = locate(&root(), "mnist", None).unwrap();
        assert_eq!((stable.model.as_str(), stable.version.as_str()), ("mnist", "1.0.0"));
        assert_eq!(locate(&root(), "mnist", Some("canary")).unwrap().version, "1.1.0");
        assert_eq!(locate(&root(), "mnist@1.1.0", None).unwrap().manifest, root().join("mnist/1.1.0/manifest.json"));
        let code = |target: &str, alias: Option<&str>| locate(&root(), target, alias).unwrap_err().code;
        assert_eq!(code("nope", None), ErrorCode::UnknownModel);
        assert_eq!(code("..", None), ErrorCode::UnknownModel);
        assert_eq!(code(".", None), ErrorCode::UnknownModel);
        assert_eq!(code("mnist/..", None), ErrorCode::UnknownModel);
        assert_eq!(code("mnist@9.9.9", None), ErrorCode::UnknownVersion);
        assert_eq!(code("mnist@../1.0.0", None), ErrorCode::UnknownVersion);
        assert_eq!(code("mnist@1.0.0", Some("stable")), ErrorCode::InvalidQuery);
        let err = locate(&root(), "mnist", Some("beta")).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownAlias);
        assert!(err.message.contains("canary, stable"), "{}", err.message);
    }
}
