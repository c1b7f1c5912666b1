//! The channel file's `rollout` section (schemaVersion 2): which unit gets which version beyond
//! the plain aliases. Rules (canary / rolling ramp, or an n-way experiment), shadow runs, team-draft
//! interleaving and a kill switch. Every object refuses unknown fields, so a typo'd rule is an
//! error rather than silently ignored.
//!
//! Naming: an *arm* is a rollout arm (a version a rule serves); the weights *variant* (f32,
//! int8) lives in the manifest and is never called an arm, nor an arm a variant.
//!
//! [`validate`] checks a section against its channel; [`assign()`] is the deterministic,
//! sticky assignment the JS shell (`www/lib/assign.js`) implements identically.

mod assign;
mod time;
mod validate;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use assign::{assign, stale_assignments, Assignment, AssignmentKind, Unit};
pub use time::parse_utc_millis;
pub use validate::{is_well_formed_key, validate};

/// The rollout section of a channel file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rollout {
    /// Kill switch: every page gets `aliases.stable` (or its own alias's version when there is
    /// no `stable`); rules, shadow and interleave are off. A developer pin still wins.
    #[serde(default)]
    pub kill: bool,
    /// Evaluated in order for a page loading a rule's alias; the first that assigns wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Challengers run after the served answer, on a sample of inputs; never shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<ShadowRule>,
    /// Team-draft interleaving of two versions' top-k lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interleave: Vec<InterleaveRule>,
}

impl Rollout {
    /// Nothing to say beyond the aliases: written as a schemaVersion 1 channel without it.
    pub fn is_empty(&self) -> bool {
        !self.kill && self.rules.is_empty() && self.shadow.is_empty() && self.interleave.is_empty()
    }

    /// The rule with this key.
    pub fn rule(&self, key: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.key == key)
    }
}

/// What a rule does with the units it includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// Canary or rolling ramp: one new version for `hash < coverage`, monotone in coverage.
    Rollout,
    /// A/B (n-way): GrowthBook bucket ranges over weighted arms, sticky per unit.
    Experiment,
}

/// One rollout rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Unique, `[A-Za-z0-9._-]{1,64}`; also the default seed and the sticky-assignment key.
    pub key: String,
    pub kind: RuleKind,
    /// The alias whose pages this rule applies to.
    pub alias: String,
    /// Hash seed; defaults to `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// The attribute that is the unit; `id` is the install id (or the id the page gives).
    #[serde(default = "default_hash_attribute")]
    pub hash_attribute: String,
    /// GrowthBook hash version, 1 or 2.
    #[serde(default = "default_hash_version")]
    pub hash_version: u32,
    /// Sticky assignments are stored under `key__bucketVersion`: bumping it forgets them (the
    /// hash decides again). To re-randomise everyone, bump it and change the seed.
    #[serde(default)]
    pub bucket_version: u32,
    /// Stored assignments under an older bucket version than this are dropped.
    #[serde(default)]
    pub min_bucket_version: u32,
    /// Rollout: share of units given the arm's version. Experiment: share included (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    /// Mutual exclusion with other rules in the same namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// Targeting: every listed page attribute must equal one of its values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: BTreeMap<String, Vec<String>>,
    /// Rollout kind only: coverage over time; the latest step whose `at` <= now applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ramp: Vec<RampStep>,
    /// Rollout: exactly one arm, weight 1. Experiment: 2..=10 arms, weights summing to 1.
    pub arms: Vec<Arm>,
}

fn default_hash_attribute() -> String {
    "id".into()
}

fn default_hash_version() -> u32 {
    2
}

impl Rule {
    /// The seed the unit is hashed with.
    pub fn seed(&self) -> &str {
        self.seed.as_deref().unwrap_or(&self.key)
    }

    /// Where a unit's sticky assignment to this rule is stored.
    pub fn sticky_key(&self) -> String {
        format!("{}__{}", self.key, self.bucket_version)
    }
}

/// A rule's arm: a version and its share of the included units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Arm {
    /// Unique within the rule (`control`, `canary`, `b`, ...), `[A-Za-z0-9._-]{1,64}`.
    pub name: String,
    /// A published version.
    pub version: String,
    /// Share of the rule's included units, in (0, 1].
    pub weight: f64,
}

/// A GrowthBook namespace: units whose namespace hash falls in `range` (`[start, end)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Namespace {
    pub id: String,
    pub range: [f64; 2],
}

/// One step of a ramp schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RampStep {
    /// RFC 3339 UTC time, ending in `Z` (e.g. `2026-12-01T15:00:00Z`).
    pub at: String,
    /// Coverage from then on, in [0, 1].
    pub coverage: f64,
}

/// A challenger run in the shadow of an alias's version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShadowRule {
    pub alias: String,
    /// A published version other than the alias's own.
    pub challenger: String,
    /// Share of inputs the challenger also runs on, in [0, 1].
    pub sample_rate: f64,
}

/// Team-draft interleaving of two versions' rankings for an alias's pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterleaveRule {
    /// Unique among rule and interleave keys.
    pub key: String,
    pub alias: String,
    /// Exactly two arms with distinct versions.
    pub arms: Vec<InterleaveArm>,
}

/// An interleaving arm: no weight, the draft alternates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterleaveArm {
    pub name: String,
    pub version: String,
}
