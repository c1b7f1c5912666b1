//! The channel file: the one small mutable file of a model's CDN folder, mapping aliases
//! (`stable`, `canary`, ...) to published versions. Also the folder layout both sides share.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{parse_version, FormatError, SCHEMA_VERSION};

/// File name of the channel file in a model's folder.
pub const CHANNEL_FILE: &str = "channel.json";

/// Path of a version's manifest, relative to the model folder (and to the channel file).
pub fn manifest_path(version: &str) -> String {
    format!("{version}/manifest.json")
}

/// Path of a content-addressed file relative to the model folder.
pub fn content_path(sha256: &str, extension: &str) -> String {
    format!("files/{sha256}.{extension}")
}

/// Which version each alias serves, and every version ever published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// Format version of this file; readers refuse versions they do not know.
    pub schema_version: u32,
    /// Model name, the folder under the CDN's `models/`.
    pub name: String,
    /// Alias -> version, e.g. `stable` -> `1.0.0`.
    pub aliases: BTreeMap<String, String>,
    /// Every published version, oldest first; their manifests stay available.
    pub versions: Vec<String>,
    /// RFC 3339 UTC time of the last change.
    pub updated_at: String,
}

impl Channel {
    /// A channel with no versions yet.
    pub fn new(name: &str, now: &str) -> Self {
        Channel {
            schema_version: SCHEMA_VERSION,
            name: name.into(),
            aliases: BTreeMap::new(),
            versions: Vec::new(),
            updated_at: now.into(),
        }
    }

    /// Parses and validates a channel file.
    pub fn from_json(json: &str) -> Result<Self, FormatError> {
        let channel: Channel = serde_json::from_str(json).map_err(|e| FormatError::Json { what: "channel", message: e.to_string() })?;
        channel.validate()?;
        Ok(channel)
    }

    /// Pretty JSON with a trailing newline, as published.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a channel always serialises") + "\n"
    }

    /// Checks versions are semver and every alias names a published version.
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(FormatError::SchemaVersion { what: "channel", found: self.schema_version });
        }
        for version in &self.versions {
            parse_version("version", version)?;
        }
        for (alias, version) in &self.aliases {
            // The loader builds `<version>/manifest.json` from this string: semver only, never a URL.
            parse_version("alias target", version)?;
            if !self.versions.contains(version) {
                return Err(FormatError::Inconsistent(format!(
                    "alias {alias:?} points to {version}, which is not among the published versions"
                )));
            }
        }
        Ok(())
    }

    /// The version an alias points to; a version string given directly resolves to itself.
    pub fn resolve(&self, alias_or_version: &str) -> Result<&str, FormatError> {
        if let Some(version) = self.aliases.get(alias_or_version) {
            return Ok(version);
        }
        if let Some(version) = self.versions.iter().find(|v| *v == alias_or_version) {
            return Ok(version);
        }
        Err(FormatError::UnknownAlias {
            channel: self.name.clone(),
            alias: alias_or_version.into(),
            available: self.aliases.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Records a newly published version (idempotent) and points `aliases` at it.
    pub fn publish(&mut self, version: &str, aliases: &[String], now: &str) {
        if !self.versions.iter().any(|v| v == version) {
            self.versions.push(version.into());
        }
        for alias in aliases {
            self.aliases.insert(alias.clone(), version.into());
        }
        self.updated_at = now.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_then_resolve() {
        let mut c = Channel::new("mnist", "t0");
        c.publish("1.0.0", &["stable".into()], "t1");
        c.publish("1.1.0", &["canary".into()], "t2");
        c.publish("1.1.0", &[], "t3");
        assert_eq!(c.versions, ["1.0.0", "1.1.0"]);
        assert_eq!(c.resolve("stable").unwrap(), "1.0.0");
        assert_eq!(c.resolve("canary").unwrap(), "1.1.0");
        assert_eq!(c.resolve("1.0.0").unwrap(), "1.0.0");
        assert_eq!(c.resolve("beta").unwrap_err().to_string(), "channel \"mnist\" has no alias \"beta\" (it has: canary, stable)");
        assert_eq!(Channel::from_json(&c.to_json()).unwrap(), c);
    }

    #[test]
    fn an_alias_to_an_unpublished_version_is_refused() {
        let mut c = Channel::new("mnist", "t0");
        c.aliases.insert("stable".into(), "9.9.9".into());
        let err = Channel::from_json(&c.to_json()).unwrap_err().to_string();
        assert!(err.contains("not among the published versions"), "{err}");
    }

    #[test]
    fn versions_that_are_not_semver_are_refused_wherever_they_appear() {
        let evil = "https://evil.example/m";
        let mut c = Channel::new("mnist", "t0");
        c.aliases.insert("stable".into(), evil.into());
        let err = Channel::from_json(&c.to_json()).unwrap_err();
        assert_eq!(err, FormatError::Version { field: "alias target", value: evil.into() });
        c.versions.push(evil.into());
        let err = Channel::from_json(&c.to_json()).unwrap_err();
        assert_eq!(err, FormatError::Version { field: "version", value: evil.into() });
        for bad in ["../1.0.0", "1.0.0/../../x", "1.0", "v1.0.0", "1.0.0?x"] {
            let mut c = Channel::new("mnist", "t0");
            c.publish(bad, &["stable".into()], "t1");
            assert!(matches!(Channel::from_json(&c.to_json()), Err(FormatError::Version { .. })), "{bad}");
        }
    }

    #[test]
    fn layout_paths() {
        assert_eq!(manifest_path("1.2.0"), "1.2.0/manifest.json");
        assert_eq!(content_path("ab", "bpk"), "files/ab.bpk");
    }
}
