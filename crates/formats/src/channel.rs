//! The channel file: the one small mutable file of a model's CDN folder, mapping aliases
//! (`stable`, `canary`, ...) to published versions, and (schemaVersion 2) the rollout rules
//! deciding which unit gets which version (see `rollout`). Also the folder layout both sides share.
//!
//! Versions: a file without a `rollout` section is written as schemaVersion 1, so loaders that
//! predate rollouts keep reading it; with one it is schemaVersion 2, which those loaders refuse
//! rather than silently ignoring a kill switch. This reader takes both.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::rollout::{self, Rollout};
use crate::{parse_version, FormatError, SCHEMA_VERSION};

/// The newest channel schema version this build reads (and writes when a rollout is present).
pub const CHANNEL_SCHEMA_VERSION: u32 = 2;

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
    /// RFC 3339 UTC time of the last change; strictly increases with every write (loaders
    /// that pin a key refuse an older channel as a replay).
    pub updated_at: String,
    /// Rollout rules, shadow, interleave and kill switch (schemaVersion 2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
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
            rollout: None,
        }
    }

    /// Parses and validates a channel file.
    pub fn from_json(json: &str) -> Result<Self, FormatError> {
        let channel: Channel = serde_json::from_str(json).map_err(|e| FormatError::Json { what: "channel", message: e.to_string() })?;
        channel.validate()?;
        Ok(channel.normalized())
    }

    /// Pretty JSON with a trailing newline, as published: schemaVersion 1 without a rollout
    /// (or an empty one), 2 with one.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.clone().normalized()).expect("a channel always serialises") + "\n"
    }

    /// The same channel as it is written: an empty rollout dropped, the schema version it implies.
    fn normalized(mut self) -> Self {
        if self.rollout.as_ref().is_some_and(Rollout::is_empty) {
            self.rollout = None;
        }
        self.schema_version = if self.rollout.is_some() { CHANNEL_SCHEMA_VERSION } else { SCHEMA_VERSION };
        self
    }

    /// The rollout section, empty when absent.
    pub fn rollout_mut(&mut self) -> &mut Rollout {
        self.rollout.get_or_insert_with(Rollout::default)
    }

    /// Checks versions are semver, every alias names a published version, and the rollout
    /// section (only in schemaVersion 2) is consistent with them.
    pub fn validate(&self) -> Result<(), FormatError> {
        let rollout = self.rollout.as_ref().filter(|r| !r.is_empty());
        match (self.schema_version, rollout) {
            (SCHEMA_VERSION, None) | (CHANNEL_SCHEMA_VERSION, _) => {}
            (SCHEMA_VERSION, Some(_)) => {
                return Err(FormatError::Inconsistent("a channel with a rollout section must have schemaVersion 2".into()))
            }
            (found, _) => return Err(FormatError::ChannelSchemaVersion { found }),
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
        if let Some(rollout) = rollout {
            rollout::validate(rollout, self)?;
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

    /// Records a newly published version (idempotent) and points `aliases` at it. A shadow
    /// whose challenger an alias now serves itself has nothing left to compare and is dropped.
    pub fn publish(&mut self, version: &str, aliases: &[String], now: &str) {
        if !self.versions.iter().any(|v| v == version) {
            self.versions.push(version.into());
        }
        for alias in aliases {
            self.aliases.insert(alias.clone(), version.into());
        }
        self.drop_moot_shadows();
        self.updated_at = now.into();
    }

    /// Removes shadow entries whose challenger is the version their alias serves.
    pub fn drop_moot_shadows(&mut self) {
        let aliases = &self.aliases;
        if let Some(rollout) = &mut self.rollout {
            rollout.shadow.retain(|s| aliases.get(&s.alias) != Some(&s.challenger));
        }
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
