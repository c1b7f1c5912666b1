//! Which version a unit gets: the same function as the shell's `www/lib/assign.js`, checked
//! against each other through `tests/fixtures/assignment-vectors.json`.
//!
//! Order: a developer pin beats everything (the kill switch too); then the kill switch; then the
//! rules for the requested alias in order, the first that assigns winning; then the alias itself.
//! A rule applies only when its condition holds and the unit has its hash attribute. A rollout
//! rule includes a unit iff `hash < coverage` (coverage from the ramp step in force), so raising
//! coverage keeps everyone in and lowering it takes people out. An experiment follows GrowthBook:
//! a stored assignment under `key__bucketVersion` whose arm still exists is reused (skipping the
//! namespace and coverage checks, as GrowthBook's sticky bucketing does); otherwise the namespace,
//! then the bucket ranges decide, and a unit outside every range falls through.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{time::parse_utc_millis, Rule, RuleKind};
use crate::bucketing::{choose_variation, get_bucket_ranges, hash, in_namespace};
use crate::{parse_version, Channel, FormatError};

/// The unit being assigned, as the page describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Unit {
    /// The install id, or the id the page gives (`loadModel({ id })`): the `id` attribute.
    pub id: String,
    /// Page attributes for targeting and for a rule hashing on something other than `id`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Stored sticky assignments: `key__bucketVersion` -> arm name.
    #[serde(default)]
    pub stored: BTreeMap<String, String>,
    /// Developer pin: this published version, whatever the rules say.
    #[serde(default)]
    pub pin: Option<String>,
}

impl Unit {
    /// A unit with only an id.
    pub fn new(id: &str) -> Self {
        Unit { id: id.into(), ..Unit::default() }
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        if name == "id" {
            return Some(&self.id);
        }
        self.attributes.get(name).map(String::as_str)
    }
}

/// Why a unit got its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssignmentKind {
    Rollout,
    Experiment,
    Alias,
    Pin,
    Kill,
}

/// The outcome: which version serves, and through which rule and arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assignment {
    pub version: String,
    /// The alias the page asked for.
    pub alias: String,
    /// The rule's key; null when the alias served plainly (or pin / kill).
    pub rule: Option<String>,
    pub kind: AssignmentKind,
    /// The arm's name; null without a rule.
    pub arm: Option<String>,
    /// The unit's hash in [0, 1) for the rule; null without a rule.
    pub bucket: Option<f64>,
    /// The rule's bucket version; null without a rule.
    pub bucket_version: Option<u32>,
}

impl Assignment {
    fn plain(version: &str, alias: &str, kind: AssignmentKind) -> Self {
        Assignment { version: version.into(), alias: alias.into(), rule: None, kind, arm: None, bucket: None, bucket_version: None }
    }

    /// Where an experiment assignment is stored to stay sticky (`key__bucketVersion`).
    pub fn sticky_key(&self) -> Option<String> {
        match (self.kind, &self.rule, self.bucket_version) {
            (AssignmentKind::Experiment, Some(rule), Some(bv)) => Some(format!("{rule}__{bv}")),
            _ => None,
        }
    }
}

/// Assigns `unit`, loading `alias`, a version of `channel` at `now_ms` (Unix milliseconds).
/// Errors only for an alias the channel lacks or a pin that is not a published version.
pub fn assign(channel: &Channel, alias: &str, unit: &Unit, now_ms: i64) -> Result<Assignment, FormatError> {
    let served = channel.resolve(alias)?;
    if let Some(pin) = &unit.pin {
        parse_version("pin", pin)?;
        if !channel.versions.contains(pin) {
            return Err(FormatError::Inconsistent(format!(
                "pin {pin} is not a published version of {} (published: {})",
                channel.name,
                channel.versions.join(", ")
            )));
        }
        return Ok(Assignment::plain(pin, alias, AssignmentKind::Pin));
    }
    let Some(rollout) = &channel.rollout else {
        return Ok(Assignment::plain(served, alias, AssignmentKind::Alias));
    };
    if rollout.kill {
        let stable = channel.aliases.get("stable").map_or(served, String::as_str);
        return Ok(Assignment::plain(stable, alias, AssignmentKind::Kill));
    }
    for rule in rollout.rules.iter().filter(|r| r.alias == alias) {
        if let Some(assignment) = evaluate(rule, alias, unit, now_ms) {
            return Ok(assignment);
        }
    }
    Ok(Assignment::plain(served, alias, AssignmentKind::Alias))
}

/// A rule's coverage at `now_ms`: the latest ramp step in force, else `coverage`; before a ramp
/// starts with no coverage given, nobody (rollout) or everybody (experiment).
pub(super) fn coverage_at(rule: &Rule, now_ms: i64) -> f64 {
    let step = rule.ramp.iter().rev().find(|s| parse_utc_millis(&s.at).is_some_and(|t| t <= now_ms));
    step.map(|s| s.coverage).or(rule.coverage).unwrap_or(match rule.kind {
        RuleKind::Rollout => 0.0,
        RuleKind::Experiment => 1.0,
    })
}

fn condition_holds(rule: &Rule, unit: &Unit) -> bool {
    rule.condition.iter().all(|(name, values)| unit.attribute(name).is_some_and(|v| values.iter().any(|x| x == v)))
}

fn evaluate(rule: &Rule, alias: &str, unit: &Unit, now_ms: i64) -> Option<Assignment> {
    let value = unit.attribute(&rule.hash_attribute).filter(|v| !v.is_empty())?;
    if !condition_holds(rule, unit) {
        return None;
    }
    let n = hash(rule.seed(), value, rule.hash_version)?;
    let outside_namespace = || rule.namespace.as_ref().is_some_and(|ns| !in_namespace(value, &ns.id, ns.range[0], ns.range[1]));
    let arm = match rule.kind {
        RuleKind::Rollout => {
            if outside_namespace() || n >= coverage_at(rule, now_ms) {
                return None;
            }
            rule.arms.first()?
        }
        RuleKind::Experiment => {
            let sticky = unit.stored.get(&rule.sticky_key()).and_then(|name| rule.arms.iter().find(|a| &a.name == name));
            match sticky {
                Some(arm) => arm,
                None => {
                    if outside_namespace() {
                        return None;
                    }
                    let weights: Vec<f64> = rule.arms.iter().map(|a| a.weight).collect();
                    let ranges = get_bucket_ranges(rule.arms.len(), coverage_at(rule, now_ms), Some(&weights));
                    &rule.arms[choose_variation(n, &ranges)?]
                }
            }
        }
    };
    Some(Assignment {
        version: arm.version.clone(),
        alias: alias.into(),
        rule: Some(rule.key.clone()),
        kind: match rule.kind {
            RuleKind::Rollout => AssignmentKind::Rollout,
            RuleKind::Experiment => AssignmentKind::Experiment,
        },
        arm: Some(arm.name.clone()),
        bucket: Some(n),
        bucket_version: Some(rule.bucket_version),
    })
}

/// Stored assignment keys to forget: `key__v` of a current rule with `v` below its
/// `minBucketVersion` (they are never reused; this lets storage drop them).
pub fn stale_assignments(channel: &Channel, stored: &BTreeMap<String, String>) -> Vec<String> {
    let rules = channel.rollout.as_ref().map_or(&[][..], |r| &r.rules[..]);
    stored
        .keys()
        .filter(|k| {
            k.rsplit_once("__").is_some_and(|(key, v)| {
                let version = v.parse::<u32>().ok();
                rules.iter().any(|r| r.key == key && version.is_some_and(|v| v < r.min_bucket_version))
            })
        })
        .cloned()
        .collect()
}
