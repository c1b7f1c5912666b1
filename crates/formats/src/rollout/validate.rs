//! Checks a rollout section against its channel. Every refusal names where it is (rule, arm,
//! shadow or interleave entry) and which field is wrong, because a person typed it.

use std::collections::BTreeSet;

use super::{time::parse_utc_millis, Rollout, Rule, RuleKind};
use crate::{Channel, FormatError};

/// Experiment weights must sum to 1 within this.
const WEIGHT_TOLERANCE: f64 = 1e-6;
/// GrowthBook's practical limit on an experiment's arms.
const MAX_ARMS: usize = 10;

/// `[A-Za-z0-9._-]{1,64}`: rule and interleave keys, arm names, namespace ids.
pub fn is_well_formed_key(key: &str) -> bool {
    (1..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn err(at: impl Into<String>, problem: impl Into<String>) -> FormatError {
    FormatError::Rollout { at: at.into(), problem: problem.into() }
}

fn check_share(at: &str, field: &str, value: f64) -> Result<(), FormatError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(err(at, format!("{field} {value} is outside [0, 1]")))
    }
}

fn check_key(at: &str, what: &str, key: &str) -> Result<(), FormatError> {
    if is_well_formed_key(key) {
        Ok(())
    } else {
        Err(err(at, format!("{what} {key:?} must be 1 to 64 of letters, digits, '.', '_' and '-'")))
    }
}

/// The version is semver and among the channel's published versions.
fn check_published(at: &str, field: &str, version: &str, channel: &Channel) -> Result<(), FormatError> {
    if semver::Version::parse(version).is_err() {
        return Err(err(at, format!("{field} {version:?} is not a semantic version (like 1.2.0)")));
    }
    if !channel.versions.iter().any(|v| v == version) {
        return Err(err(at, format!("{field} {version} is not published (published: {})", channel.versions.join(", "))));
    }
    Ok(())
}

fn check_alias<'c>(at: &str, alias: &str, channel: &'c Channel) -> Result<&'c str, FormatError> {
    channel.aliases.get(alias).map(String::as_str).ok_or_else(|| {
        let known = channel.aliases.keys().cloned().collect::<Vec<_>>().join(", ");
        err(at, format!("alias {alias:?} is not one of the channel's aliases ({known})"))
    })
}

/// Checks every rule, shadow and interleave entry of `rollout` against `channel`.
pub fn validate(rollout: &Rollout, channel: &Channel) -> Result<(), FormatError> {
    let mut keys = BTreeSet::new();
    for rule in &rollout.rules {
        let at = format!("rule {:?}", rule.key);
        check_key(&at, "key", &rule.key)?;
        if !keys.insert(rule.key.as_str()) {
            return Err(err(&at, "key is used by another rule (keys must be unique)"));
        }
        validate_rule(&at, rule, channel)?;
    }
    let mut shadows = BTreeSet::new();
    for (i, shadow) in rollout.shadow.iter().enumerate() {
        let at = format!("shadow[{i}] (alias {:?})", shadow.alias);
        let served = check_alias(&at, &shadow.alias, channel)?;
        check_published(&at, "challenger", &shadow.challenger, channel)?;
        if shadow.challenger == served {
            return Err(err(&at, format!("challenger {} is the version the alias already serves", shadow.challenger)));
        }
        check_share(&at, "sampleRate", shadow.sample_rate)?;
        if !shadows.insert((shadow.alias.as_str(), shadow.challenger.as_str())) {
            return Err(err(&at, format!("challenger {} is shadowed twice on this alias", shadow.challenger)));
        }
    }
    for il in &rollout.interleave {
        let at = format!("interleave {:?}", il.key);
        check_key(&at, "key", &il.key)?;
        if !keys.insert(il.key.as_str()) {
            return Err(err(&at, "key is used by another rule or interleave (keys must be unique)"));
        }
        check_alias(&at, &il.alias, channel)?;
        if il.arms.len() != 2 {
            return Err(err(&at, format!("needs exactly 2 arms, has {}", il.arms.len())));
        }
        for arm in &il.arms {
            let arm_at = format!("{at} arm {:?}", arm.name);
            check_key(&arm_at, "name", &arm.name)?;
            check_published(&arm_at, "version", &arm.version, channel)?;
        }
        if il.arms[0].name == il.arms[1].name {
            return Err(err(&at, format!("both arms are named {:?}", il.arms[0].name)));
        }
        if il.arms[0].version == il.arms[1].version {
            return Err(err(&at, format!("both arms are version {}: interleave two different versions", il.arms[0].version)));
        }
    }
    Ok(())
}

fn validate_rule(at: &str, rule: &Rule, channel: &Channel) -> Result<(), FormatError> {
    check_alias(at, &rule.alias, channel)?;
    if rule.seed.as_deref() == Some("") {
        return Err(err(at, "seed is empty (leave it out to use the key)"));
    }
    if rule.hash_attribute.is_empty() {
        return Err(err(at, "hashAttribute is empty"));
    }
    if !matches!(rule.hash_version, 1 | 2) {
        return Err(err(at, format!("hashVersion {} is not supported (1 or 2)", rule.hash_version)));
    }
    if rule.min_bucket_version > rule.bucket_version {
        return Err(err(at, format!("minBucketVersion {} is above bucketVersion {}", rule.min_bucket_version, rule.bucket_version)));
    }
    if let Some(coverage) = rule.coverage {
        check_share(at, "coverage", coverage)?;
    }
    if let Some(ns) = &rule.namespace {
        check_key(at, "namespace id", &ns.id)?;
        let [start, end] = ns.range;
        if !(0.0..=1.0).contains(&start) || !(0.0..=1.0).contains(&end) || start > end {
            return Err(err(at, format!("namespace range [{start}, {end}] must lie within [0, 1] with start <= end")));
        }
    }
    for (attribute, values) in &rule.condition {
        if attribute.is_empty() || values.is_empty() {
            return Err(err(at, format!("condition on {attribute:?} needs an attribute name and at least one value")));
        }
    }
    let mut previous = None;
    for (i, step) in rule.ramp.iter().enumerate() {
        let step_at = format!("{at} ramp[{i}]");
        let Some(time) = parse_utc_millis(&step.at) else {
            return Err(err(&step_at, format!("at {:?} is not an RFC 3339 UTC time (like 2026-12-01T15:00:00Z)", step.at)));
        };
        if previous.is_some_and(|p| time <= p) {
            return Err(err(&step_at, "steps must be in strictly increasing time order"));
        }
        previous = Some(time);
        check_share(&step_at, "coverage", step.coverage)?;
    }
    let mut names = BTreeSet::new();
    for arm in &rule.arms {
        let arm_at = format!("{at} arm {:?}", arm.name);
        check_key(&arm_at, "name", &arm.name)?;
        if !names.insert(arm.name.as_str()) {
            return Err(err(&arm_at, "name is used by another arm of this rule"));
        }
        check_published(&arm_at, "version", &arm.version, channel)?;
        if !(arm.weight > 0.0 && arm.weight <= 1.0) {
            return Err(err(&arm_at, format!("weight {} must be in (0, 1]", arm.weight)));
        }
    }
    match rule.kind {
        RuleKind::Rollout => {
            if rule.arms.len() != 1 {
                return Err(err(at, format!("a rollout rule has exactly 1 arm (the new version), this one has {}", rule.arms.len())));
            }
            if rule.arms[0].weight != 1.0 {
                return Err(err(at, format!("a rollout rule's arm has weight 1, not {}", rule.arms[0].weight)));
            }
            if rule.coverage.is_none() && rule.ramp.is_empty() {
                return Err(err(at, "a rollout rule needs a coverage or a ramp"));
            }
        }
        RuleKind::Experiment => {
            if !(2..=MAX_ARMS).contains(&rule.arms.len()) {
                return Err(err(at, format!("an experiment has 2 to {MAX_ARMS} arms, this one has {}", rule.arms.len())));
            }
            let sum: f64 = rule.arms.iter().map(|a| a.weight).sum();
            if (sum - 1.0).abs() > WEIGHT_TOLERANCE {
                return Err(err(at, format!("arm weights sum to {sum}, not 1")));
            }
            if !rule.ramp.is_empty() {
                return Err(err(at, "ramp is for rollout rules; change an experiment's coverage instead"));
            }
        }
    }
    Ok(())
}
