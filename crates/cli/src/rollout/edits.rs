//! The rollout commands as pure edits of a [`Channel`]: each checks what only it knows (the
//! rule exists, the version differs from what the alias serves, ...) and says what changed and
//! which versions must verify before the result is written. Full validation of the result is
//! the caller's (`folder::ModelFolder::apply`), with the same code loaders run.

use std::collections::BTreeMap;

use burn_edge_formats::rollout::{Arm, InterleaveArm, InterleaveRule, Namespace, RampStep, ShadowRule};
use burn_edge_formats::{Channel, Rule, RuleKind};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::error::{refuse, RolloutError};

/// What an edit did.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Log action name.
    pub action: &'static str,
    pub rule: Option<String>,
    /// For people: what changed.
    pub detail: String,
    /// Versions units may now be given: their manifests and files must verify.
    pub verify: Vec<String>,
    /// Measurements behind the change (the guard's), logged with it.
    pub numbers: Option<Value>,
}

impl Change {
    fn new(action: &'static str, rule: Option<&str>, detail: String, verify: Vec<String>) -> Self {
        Change { action, rule: rule.map(String::from), detail, verify, numbers: None }
    }
}

fn rules(channel: &Channel) -> &[Rule] {
    channel.rollout.as_ref().map_or(&[][..], |r| &r.rules[..])
}

fn rule_list(channel: &Channel) -> String {
    let keys: Vec<&str> = rules(channel).iter().map(|r| r.key.as_str()).collect();
    if keys.is_empty() {
        "it has none".into()
    } else {
        format!("it has: {}", keys.join(", "))
    }
}

/// Index of the rule named `key`, or of the only rule (of `kind`, if given) when `key` is None.
fn find_rule(channel: &Channel, key: Option<&str>, kind: Option<RuleKind>) -> Result<usize, RolloutError> {
    let all = rules(channel);
    if let Some(key) = key {
        return match all.iter().position(|r| r.key == key) {
            Some(i) => Ok(i),
            None => refuse(format!("{} has no rollout rule {key:?} ({})", channel.name, rule_list(channel))),
        };
    }
    let candidates: Vec<usize> = (0..all.len()).filter(|&i| kind.is_none_or(|k| all[i].kind == k)).collect();
    match candidates[..] {
        [i] => Ok(i),
        [] => refuse(format!("{} has no rollout rule to act on ({})", channel.name, rule_list(channel))),
        _ => refuse(format!("{} has several rules: name one with --rule ({})", channel.name, rule_list(channel))),
    }
}

fn alias_version<'c>(channel: &'c Channel, alias: &str) -> Result<&'c str, RolloutError> {
    match channel.aliases.get(alias) {
        Some(v) => Ok(v),
        None => refuse(format!(
            "{} has no alias {alias:?} (it has: {})",
            channel.name,
            channel.aliases.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
    }
}

fn published(channel: &Channel, version: &str) -> Result<(), RolloutError> {
    if channel.versions.iter().any(|v| v == version) {
        return Ok(());
    }
    refuse(format!(
        "{}@{version} is not published (published: {}); run `burn-edge publish` first",
        channel.name,
        channel.versions.join(", ")
    ))
}

/// A percentage given on the command line as a share in [0, 1].
pub fn share(percent: f64) -> Result<f64, RolloutError> {
    if (0.0..=100.0).contains(&percent) {
        Ok(percent / 100.0)
    } else {
        refuse(format!("--percent {percent} is outside 0..100"))
    }
}

fn condition(groups: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut condition: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (attribute, value) in groups {
        condition.entry(attribute.clone()).or_default().push(value.clone());
    }
    condition
}

fn new_rule(key: &str, kind: RuleKind, alias: &str, coverage: f64, groups: &[(String, String)], arms: Vec<Arm>) -> Rule {
    Rule {
        key: key.into(),
        kind,
        alias: alias.into(),
        seed: None,
        hash_attribute: "id".into(),
        hash_version: 2,
        bucket_version: 0,
        min_bucket_version: 0,
        coverage: Some(coverage),
        namespace: None,
        condition: condition(groups),
        ramp: Vec::new(),
        arms,
    }
}

fn ensure_new_key(channel: &Channel, key: &str) -> Result<(), RolloutError> {
    let rollout = channel.rollout.as_ref();
    let taken = rollout.is_some_and(|r| r.rules.iter().any(|x| x.key == key) || r.interleave.iter().any(|x| x.key == key));
    if taken {
        return refuse(format!(
            "{} already has a rule {key:?}; change it with `rollout ramp --rule {key}` or remove it first",
            channel.name
        ));
    }
    Ok(())
}

/// `rollout canary`: `version` for `percent` of the pages loading `alias` (those matching the groups).
pub fn canary(
    channel: &mut Channel,
    version: &str,
    percent: f64,
    alias: &str,
    key: Option<&str>,
    groups: &[(String, String)],
) -> Result<Change, RolloutError> {
    let coverage = share(percent)?;
    published(channel, version)?;
    let serves = alias_version(channel, alias)?.to_string();
    if serves == version {
        return refuse(format!("{alias} already serves {version}: a canary needs another version"));
    }
    let key = key.map_or_else(|| format!("{}-{version}-canary", channel.name), String::from);
    ensure_new_key(channel, &key)?;
    let arm = Arm { name: "canary".into(), version: version.into(), weight: 1.0 };
    channel.rollout_mut().rules.push(new_rule(&key, RuleKind::Rollout, alias, coverage, groups, vec![arm]));
    let target = if groups.is_empty() { String::new() } else { format!(" with {}", describe_groups(groups)) };
    let detail = format!("{version} for {percent}% of {alias} pages{target} (others stay on {serves})");
    Ok(Change::new("canary", Some(&key), detail, vec![version.into()]))
}

fn describe_groups(groups: &[(String, String)]) -> String {
    groups.iter().map(|(a, v)| format!("{a}={v}")).collect::<Vec<_>>().join(", ")
}

fn arm_versions(rule: &Rule) -> Vec<String> {
    rule.arms.iter().map(|a| a.version.clone()).collect()
}

/// `rollout ramp --steps`: coverage steps starting `now`, one every `every_ms`. The rule keeps
/// its coverage for clocks that have not reached the first step yet.
pub fn ramp_schedule(
    channel: &mut Channel,
    key: Option<&str>,
    percents: &[f64],
    every_ms: i64,
    now: DateTime<Utc>,
) -> Result<Change, RolloutError> {
    if percents.is_empty() {
        return refuse("--steps lists no percentages");
    }
    if every_ms <= 0 {
        return refuse("--every must be longer than 0");
    }
    let i = find_rule(channel, key, Some(RuleKind::Rollout))?;
    let mut steps = Vec::new();
    for (n, percent) in percents.iter().enumerate() {
        let at = now + chrono::Duration::milliseconds(every_ms * n as i64);
        steps.push(RampStep { at: at.to_rfc3339_opts(SecondsFormat::Secs, true), coverage: share(*percent)? });
    }
    let rule = &mut channel.rollout_mut().rules[i];
    if rule.kind != RuleKind::Rollout {
        return refuse(format!("rule {:?} is an experiment: ramps are for rollout rules (set its coverage with --percent)", rule.key));
    }
    let detail = format!(
        "ramp {} every {} from {}",
        percents.iter().map(|p| format!("{p}%")).collect::<Vec<_>>().join(" -> "),
        describe_ms(every_ms),
        steps[0].at
    );
    rule.ramp = steps;
    Ok(Change::new("ramp", Some(&rule.key.clone()), detail, arm_versions(rule)))
}

fn describe_ms(ms: i64) -> String {
    match ms {
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// `rollout ramp --percent`: coverage set now (any ramp schedule removed).
pub fn ramp_percent(channel: &mut Channel, key: Option<&str>, percent: f64) -> Result<Change, RolloutError> {
    let coverage = share(percent)?;
    let i = find_rule(channel, key, None)?;
    let rule = &mut channel.rollout_mut().rules[i];
    let before = rule.coverage.map_or("its ramp".to_string(), |c| format!("{}%", c * 100.0));
    rule.coverage = Some(coverage);
    rule.ramp.clear();
    let detail = format!("coverage {before} -> {percent}%");
    Ok(Change::new("ramp", Some(&rule.key.clone()), detail, arm_versions(rule)))
}

/// `rollout promote`: the rule's alias serves the rule's version (an experiment's `arm`), the
/// rule and any shadow of that version on the alias are removed.
pub fn promote(channel: &mut Channel, key: Option<&str>, arm: Option<&str>) -> Result<Change, RolloutError> {
    let i = find_rule(channel, key, None)?;
    let rule = rules(channel)[i].clone();
    let chosen = match (rule.kind, arm) {
        (_, Some(name)) => match rule.arms.iter().find(|a| a.name == name) {
            Some(a) => a,
            None => {
                let names: Vec<&str> = rule.arms.iter().map(|a| a.name.as_str()).collect();
                return refuse(format!("rule {:?} has no arm {name:?} (it has: {})", rule.key, names.join(", ")));
            }
        },
        (RuleKind::Rollout, None) => &rule.arms[0],
        (RuleKind::Experiment, None) => return refuse(format!("rule {:?} is an experiment: name the arm to promote with --arm", rule.key)),
    };
    let before = alias_version(channel, &rule.alias)?.to_string();
    channel.aliases.insert(rule.alias.clone(), chosen.version.clone());
    channel.rollout_mut().rules.remove(i);
    channel.drop_moot_shadows();
    let detail = format!("{}: {before} -> {} (arm {:?}); rule removed", rule.alias, chosen.version, chosen.name);
    Ok(Change::new("promote", Some(&rule.key), detail, vec![chosen.version.clone()]))
}

/// `rollout rollback`: removes the rule (the only one when `key` is None); with no rules at
/// all, moves `alias` back to the version published before the one it serves.
pub fn rollback(channel: &mut Channel, key: Option<&str>, alias: &str) -> Result<Change, RolloutError> {
    if key.is_some() || !rules(channel).is_empty() {
        let i = find_rule(channel, key, None)?;
        let rule = channel.rollout_mut().rules.remove(i);
        let serves = alias_version(channel, &rule.alias)?;
        let versions: Vec<String> = arm_versions(&rule);
        let detail = format!("rule removed: {} pages on {} get {serves} again", rule.alias, versions.join(", "));
        return Ok(Change::new("rollback", Some(&rule.key), detail, Vec::new()));
    }
    let serves = alias_version(channel, alias)?.to_string();
    let position = channel.versions.iter().position(|v| *v == serves).unwrap_or(0);
    let Some(previous) = position.checked_sub(1).map(|p| channel.versions[p].clone()) else {
        return refuse(format!("{alias} serves {serves}, the first version published: there is nothing to roll back to"));
    };
    channel.aliases.insert(alias.into(), previous.clone());
    channel.drop_moot_shadows();
    let detail = format!("no rules: {alias} {serves} -> {previous} (the version published before)");
    Ok(Change::new("rollback", None, detail, vec![previous]))
}

/// `rollout kill [--off]`.
pub fn kill(channel: &mut Channel, on: bool) -> Result<Change, RolloutError> {
    let stable = channel.aliases.get("stable").cloned().unwrap_or_else(|| "each alias's own version".into());
    channel.rollout_mut().kill = on;
    let (action, detail) = if on {
        ("kill", format!("kill switch on: every page gets {stable}; rules, shadow and interleave off"))
    } else {
        ("unkill", "kill switch off: rules, shadow and interleave apply again".to_string())
    };
    Ok(Change::new(action, None, detail, Vec::new()))
}

/// What `rollout experiment start` sets up.
pub struct ExperimentSpec<'a> {
    pub key: &'a str,
    pub alias: &'a str,
    pub arms: Vec<Arm>,
    pub coverage: f64,
    pub namespace: Option<Namespace>,
    pub groups: &'a [(String, String)],
}

/// `rollout experiment start`.
pub fn experiment_start(channel: &mut Channel, spec: ExperimentSpec) -> Result<Change, RolloutError> {
    alias_version(channel, spec.alias)?;
    ensure_new_key(channel, spec.key)?;
    for arm in &spec.arms {
        published(channel, &arm.version)?;
    }
    if !(0.0..=1.0).contains(&spec.coverage) {
        return refuse(format!("--coverage {} is outside 0..1", spec.coverage));
    }
    let detail = format!(
        "{} pages, coverage {}: {}",
        spec.alias,
        spec.coverage,
        spec.arms.iter().map(|a| format!("{}={}:{}", a.name, a.version, a.weight)).collect::<Vec<_>>().join(" ")
    );
    let verify = spec.arms.iter().map(|a| a.version.clone()).collect();
    let mut rule = new_rule(spec.key, RuleKind::Experiment, spec.alias, spec.coverage, spec.groups, spec.arms);
    rule.namespace = spec.namespace;
    channel.rollout_mut().rules.push(rule);
    Ok(Change::new("experiment-start", Some(spec.key), detail, verify))
}

/// `rollout experiment stop`: removes the experiment; its pages get their alias again.
pub fn experiment_stop(channel: &mut Channel, key: &str) -> Result<Change, RolloutError> {
    let i = find_rule(channel, Some(key), None)?;
    if rules(channel)[i].kind != RuleKind::Experiment {
        return refuse(format!("rule {key:?} is a rollout, not an experiment: use `rollout rollback --rule {key}` or `promote`"));
    }
    let rule = channel.rollout_mut().rules.remove(i);
    Ok(Change::new("experiment-stop", Some(key), format!("experiment removed; {} pages get their alias again", rule.alias), Vec::new()))
}

/// `rollout shadow start`: `challenger` also runs on `sample` of the inputs of `alias` pages.
pub fn shadow_start(channel: &mut Channel, challenger: &str, sample: f64, alias: &str) -> Result<Change, RolloutError> {
    published(channel, challenger)?;
    let serves = alias_version(channel, alias)?.to_string();
    if serves == challenger {
        return refuse(format!("{alias} already serves {challenger}: shadow another version"));
    }
    if !(0.0..=1.0).contains(&sample) {
        return refuse(format!("--sample {sample} is outside 0..1"));
    }
    let shadows = &mut channel.rollout_mut().shadow;
    match shadows.iter_mut().find(|s| s.alias == alias && s.challenger == challenger) {
        Some(existing) => existing.sample_rate = sample,
        None => shadows.push(ShadowRule { alias: alias.into(), challenger: challenger.into(), sample_rate: sample }),
    }
    let detail = format!("{challenger} in the shadow of {alias} ({serves}) on {}% of inputs", sample * 100.0);
    Ok(Change::new("shadow-start", None, detail, vec![challenger.into()]))
}

/// `rollout shadow stop`: removes the alias's shadows (only `challenger`'s when given).
pub fn shadow_stop(channel: &mut Channel, alias: &str, challenger: Option<&str>) -> Result<Change, RolloutError> {
    let shadows = &mut channel.rollout_mut().shadow;
    let before = shadows.len();
    shadows.retain(|s| !(s.alias == alias && challenger.is_none_or(|c| c == s.challenger)));
    if shadows.len() == before {
        let which = challenger.map_or(String::new(), |c| format!(" of {c}"));
        return refuse(format!("{} has no shadow{which} on {alias}", channel.name));
    }
    let detail = format!("shadow{} on {alias} stopped", challenger.map_or(String::new(), |c| format!(" of {c}")));
    Ok(Change::new("shadow-stop", None, detail, Vec::new()))
}

/// `rollout interleave start`.
pub fn interleave_start(channel: &mut Channel, key: &str, alias: &str, arms: Vec<InterleaveArm>) -> Result<Change, RolloutError> {
    alias_version(channel, alias)?;
    ensure_new_key(channel, key)?;
    for arm in &arms {
        published(channel, &arm.version)?;
    }
    let detail = format!("{alias} pages: {}", arms.iter().map(|a| format!("{}={}", a.name, a.version)).collect::<Vec<_>>().join(" vs "));
    let verify = arms.iter().map(|a| a.version.clone()).collect();
    channel.rollout_mut().interleave.push(InterleaveRule { key: key.into(), alias: alias.into(), arms });
    Ok(Change::new("interleave-start", Some(key), detail, verify))
}

/// `rollout interleave stop`.
pub fn interleave_stop(channel: &mut Channel, key: &str) -> Result<Change, RolloutError> {
    let list = &mut channel.rollout_mut().interleave;
    let Some(i) = list.iter().position(|il| il.key == key) else {
        return refuse(format!("{} has no interleave {key:?}", channel.name));
    };
    let il = list.remove(i);
    Ok(Change::new("interleave-stop", Some(key), format!("interleaving on {} stopped", il.alias), Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> Channel {
        let mut c = Channel::new("mnist", "2026-12-01T15:00:00Z");
        c.publish("1.0.0", &["stable".into()], "2026-12-01T15:00:00Z");
        c.publish("1.1.0", &["canary".into()], "2026-12-01T15:00:00Z");
        c.publish("1.2.0", &[], "2026-12-01T15:00:00Z");
        c
    }

    fn arm(name: &str, version: &str, weight: f64) -> Arm {
        Arm { name: name.into(), version: version.into(), weight }
    }

    fn experiment(c: &mut Channel, key: &str) {
        let spec = ExperimentSpec {
            key,
            alias: "stable",
            arms: vec![arm("control", "1.0.0", 0.5), arm("b", "1.2.0", 0.5)],
            coverage: 1.0,
            namespace: None,
            groups: &[],
        };
        experiment_start(c, spec).unwrap();
    }

    fn message(r: Result<Change, RolloutError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn rollout_edits_pick_the_rule_and_refuse_what_does_not_fit() {
        let mut c = channel();
        let groups = [("group".to_string(), "internal".to_string()), ("group".to_string(), "staff".to_string())];
        let change = canary(&mut c, "1.1.0", 100.0, "stable", None, &groups).unwrap();
        assert_eq!((change.rule.as_deref(), change.verify.clone()), (Some("mnist-1.1.0-canary"), vec!["1.1.0".to_string()]));
        assert_eq!(c.rollout.as_ref().unwrap().rules[0].condition["group"], ["internal", "staff"]);
        experiment(&mut c, "ab");

        // Two rules: commands that default to "the only rule" ask which.
        assert!(message(rollback(&mut c.clone(), None, "stable"))
            .contains("several rules: name one with --rule (it has: mnist-1.1.0-canary, ab)"));
        assert!(message(promote(&mut c.clone(), None, None)).contains("several rules"));
        // A ramp schedule defaults to the only rollout rule, and refuses an experiment.
        let now = chrono::DateTime::from_timestamp(1_796_137_200, 0).unwrap();
        assert_eq!(ramp_schedule(&mut c.clone(), None, &[5.0, 50.0], 60_000, now).unwrap().rule.as_deref(), Some("mnist-1.1.0-canary"));
        assert!(message(ramp_schedule(&mut c.clone(), Some("ab"), &[5.0], 60_000, now))
            .contains("is an experiment: ramps are for rollout rules"));
        assert!(message(ramp_schedule(&mut c.clone(), None, &[5.0, 150.0], 60_000, now)).contains("--percent 150 is outside 0..100"));
        // An experiment is promoted by naming its arm.
        assert!(message(promote(&mut c.clone(), Some("ab"), None)).contains("name the arm to promote with --arm"));
        let mut promoted = c.clone();
        let change = promote(&mut promoted, Some("ab"), Some("b")).unwrap();
        assert_eq!((promoted.aliases["stable"].as_str(), promoted.rollout.as_ref().unwrap().rules.len()), ("1.2.0", 1));
        assert_eq!(change.detail, "stable: 1.0.0 -> 1.2.0 (arm \"b\"); rule removed");
        // Rolling back one rule leaves the other.
        let mut rolled = c.clone();
        rollback(&mut rolled, Some("mnist-1.1.0-canary"), "stable").unwrap();
        assert_eq!(rolled.rollout.as_ref().unwrap().rules.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["ab"]);
        // Keys are unique across rules and interleaves.
        let il =
            vec![InterleaveArm { name: "a".into(), version: "1.0.0".into() }, InterleaveArm { name: "b".into(), version: "1.1.0".into() }];
        assert!(message(interleave_start(&mut c.clone(), "ab", "stable", il)).contains("already has a rule \"ab\""));
    }

    #[test]
    fn rollout_promote_ends_the_shadow_of_the_promoted_version() {
        let mut c = channel();
        canary(&mut c, "1.1.0", 10.0, "stable", None, &[]).unwrap();
        shadow_start(&mut c, "1.1.0", 0.2, "stable").unwrap();
        shadow_start(&mut c, "1.2.0", 0.1, "stable").unwrap();
        promote(&mut c, None, None).unwrap();
        let shadows = &c.rollout.as_ref().unwrap().shadow;
        assert_eq!(shadows.iter().map(|s| s.challenger.as_str()).collect::<Vec<_>>(), ["1.2.0"]);
        Channel::from_json(&c.to_json()).unwrap();
    }
}
