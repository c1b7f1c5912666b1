//! Assignment semantics and validation messages of the rollout section.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::bucketing::hash;
use crate::{Channel, FormatError};

/// 2026-12-01T15:00:00Z.
const T0: i64 = 1_796_137_200_000;
const MINUTE: i64 = 60_000;

/// A channel with stable 1.0.0, canary 1.1.0, versions 1.0.0..1.2.0 and this rollout section.
pub(super) fn channel_with(rollout: Value) -> Result<Channel, FormatError> {
    let file = json!({
        "schemaVersion": 2,
        "name": "mnist",
        "aliases": { "stable": "1.0.0", "canary": "1.1.0" },
        "versions": ["1.0.0", "1.1.0", "1.2.0"],
        "updatedAt": "2026-12-01T15:00:00Z",
        "rollout": rollout,
    });
    Channel::from_json(&file.to_string())
}

fn channel(rollout: Value) -> Channel {
    channel_with(rollout).unwrap_or_else(|e| panic!("{e}"))
}

fn canary(coverage: f64) -> Value {
    json!({ "key": "c", "kind": "rollout", "alias": "stable", "coverage": coverage,
            "arms": [{ "name": "canary", "version": "1.1.0", "weight": 1 }] })
}

fn ids(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("install-{i}"))
}

fn get(c: &Channel, id: &str, now: i64) -> Assignment {
    assign(c, "stable", &Unit::new(id), now).unwrap()
}

fn refused(rollout: Value) -> String {
    match channel_with(rollout) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn ten_thousand_ids_split_within_one_point_of_the_weights() {
    for weights in [vec![0.5, 0.5], vec![0.2, 0.3, 0.5]] {
        let arms: Vec<Value> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let version = ["1.0.0", "1.1.0", "1.2.0"][i];
                json!({ "name": format!("a{i}"), "version": version, "weight": w })
            })
            .collect();
        let c = channel(json!({ "rules": [{ "key": "exp", "kind": "experiment", "alias": "stable", "arms": arms }] }));
        let mut counts = vec![0usize; weights.len()];
        for id in ids(10_000) {
            let a = get(&c, &id, T0);
            assert_eq!(a.kind, AssignmentKind::Experiment);
            counts[a.arm.unwrap()[1..].parse::<usize>().unwrap()] += 1;
        }
        for (count, w) in counts.iter().zip(&weights) {
            let share = *count as f64 / 10_000.0;
            assert!((share - w).abs() < 0.01, "{weights:?}: {counts:?}");
        }
    }
    // A 10% canary: 10% +- 1 point get 1.1.0, the rest the alias.
    let c = channel(json!({ "rules": [canary(0.1)] }));
    let canaries = ids(10_000).filter(|id| get(&c, id, T0).version == "1.1.0").count();
    assert!((canaries as f64 / 10_000.0 - 0.1).abs() < 0.01, "{canaries}");
}

#[test]
fn a_ramp_only_ever_adds_ids_and_lowering_coverage_removes_them() {
    let steps: Vec<Value> = [0.05, 0.25, 0.5, 1.0]
        .iter()
        .enumerate()
        .map(|(i, c)| json!({ "at": format!("2026-12-01T15:{:02}:00Z", i * 10), "coverage": c }))
        .collect();
    let c = channel(json!({ "rules": [{ "key": "ramp", "kind": "rollout", "alias": "stable", "ramp": steps,
        "arms": [{ "name": "canary", "version": "1.1.0", "weight": 1 }] }] }));
    let included = |now: i64| ids(2_000).filter(|id| get(&c, id, now).kind == AssignmentKind::Rollout).collect::<Vec<_>>();
    assert!(included(T0 - 1).is_empty(), "before the first step nobody");
    let mut previous: Vec<String> = Vec::new();
    for (step, share) in [0.05, 0.25, 0.5, 1.0].iter().enumerate() {
        let now = T0 + step as i64 * 10 * MINUTE + MINUTE;
        let now_in = included(now);
        assert!(previous.iter().all(|id| now_in.contains(id)), "step {step} dropped an id already included");
        assert!((now_in.len() as f64 / 2_000.0 - share).abs() < 0.03, "step {step}: {}", now_in.len());
        previous = now_in;
    }
    assert_eq!(previous.len(), 2_000);

    // Ramp back: 50% -> 10% keeps only ids already in, and takes the others out.
    let half = channel(json!({ "rules": [canary(0.5)] }));
    let tenth = channel(json!({ "rules": [canary(0.1)] }));
    let (mut removed, mut kept) = (0, 0);
    for id in ids(2_000) {
        let (before, after) = (get(&half, &id, T0), get(&tenth, &id, T0));
        if after.kind == AssignmentKind::Rollout {
            assert_eq!(before.kind, AssignmentKind::Rollout, "{id} joined when coverage went down");
            kept += 1;
        } else if before.kind == AssignmentKind::Rollout {
            assert_eq!((after.version.as_str(), after.rule), ("1.0.0", None), "removed ids get the alias");
            removed += 1;
        }
    }
    assert!(kept > 100 && removed > 600, "kept {kept}, removed {removed}");
}

#[test]
fn experiments_in_disjoint_namespace_ranges_never_share_an_id() {
    let exp = |key: &str, range: [f64; 2], version: &str| {
        json!({ "key": key, "kind": "experiment", "alias": "stable", "namespace": { "id": "ns", "range": range },
                "arms": [{ "name": "control", "version": "1.0.0", "weight": 0.5 }, { "name": "b", "version": version, "weight": 0.5 }] })
    };
    let first = channel(json!({ "rules": [exp("e1", [0.0, 0.5], "1.1.0")] }));
    let second = channel(json!({ "rules": [exp("e2", [0.5, 1.0], "1.2.0")] }));
    let both = channel(json!({ "rules": [exp("e1", [0.0, 0.5], "1.1.0"), exp("e2", [0.5, 1.0], "1.2.0")] }));
    let (mut in1, mut in2) = (0, 0);
    for id in ids(5_000) {
        let a = get(&first, &id, T0).rule.is_some();
        let b = get(&second, &id, T0).rule.is_some();
        assert!(!(a && b), "{id} is in both experiments");
        in1 += a as usize;
        in2 += b as usize;
        // Together, each id lands in the one its namespace hash picks.
        let together = get(&both, &id, T0);
        assert_eq!(
            together.rule.as_deref(),
            if a {
                Some("e1")
            } else if b {
                Some("e2")
            } else {
                None
            }
        );
    }
    assert!(in1 > 2_000 && in2 > 2_000 && in1 + in2 == 5_000, "{in1} {in2}");
}

#[test]
fn kill_sends_everyone_to_stable_and_a_pin_beats_even_kill() {
    let c = channel(json!({ "kill": true, "rules": [canary(1.0)] }));
    for alias in ["stable", "canary"] {
        let a = assign(&c, alias, &Unit::new("u"), T0).unwrap();
        assert_eq!((a.version.as_str(), a.kind, a.rule), ("1.0.0", AssignmentKind::Kill, None), "{alias}");
    }
    let pinned = Unit { pin: Some("1.2.0".into()), ..Unit::new("u") };
    let a = assign(&c, "stable", &pinned, T0).unwrap();
    assert_eq!((a.version.as_str(), a.kind, a.alias.as_str()), ("1.2.0", AssignmentKind::Pin, "stable"));
    let unpublished = Unit { pin: Some("9.9.9".into()), ..Unit::new("u") };
    let err = assign(&c, "stable", &unpublished, T0).unwrap_err().to_string();
    assert!(err.contains("pin 9.9.9 is not a published version of mnist"), "{err}");
    let not_semver = Unit { pin: Some("../x".into()), ..Unit::new("u") };
    assert!(matches!(assign(&c, "stable", &not_semver, T0), Err(FormatError::Version { .. })));
    assert!(matches!(assign(&c, "beta", &Unit::new("u"), T0), Err(FormatError::UnknownAlias { .. })));
}

#[test]
fn a_condition_targets_only_matching_pages_and_other_aliases_are_untouched() {
    let mut rule = canary(1.0);
    rule["condition"] = json!({ "group": ["internal", "staff"] });
    let c = channel(json!({ "rules": [rule] }));
    let with = |group: Option<&str>| {
        let attributes: BTreeMap<String, String> = group.map(|g| ("group".to_string(), g.to_string())).into_iter().collect();
        assign(&c, "stable", &Unit { attributes, ..Unit::new("u") }, T0).unwrap()
    };
    assert_eq!(with(Some("internal")).version, "1.1.0");
    assert_eq!(with(Some("staff")).kind, AssignmentKind::Rollout);
    assert_eq!(with(Some("public")).kind, AssignmentKind::Alias);
    assert_eq!(with(None).version, "1.0.0");
    assert_eq!(assign(&c, "canary", &Unit::new("u"), T0).unwrap().kind, AssignmentKind::Alias, "the rule is for stable pages");
}

#[test]
fn experiments_are_sticky_per_bucket_version() {
    let exp = |bucket_version: u32, min: u32| {
        channel(json!({ "rules": [{ "key": "e", "kind": "experiment", "alias": "stable", "bucketVersion": bucket_version,
            "minBucketVersion": min, "coverage": 0.5,
            "arms": [{ "name": "control", "version": "1.0.0", "weight": 0.5 }, { "name": "b", "version": "1.1.0", "weight": 0.5 }] }] }))
    };
    let c = exp(1, 1);
    let id = ids(100).find(|id| get(&c, id, T0).arm.as_deref() == Some("control")).unwrap();
    let stored = |k: &str, arm: &str| Unit { stored: [(k.to_string(), arm.to_string())].into(), ..Unit::new(&id) };
    // A stored arm under the current bucket version wins over the hash.
    let a = assign(&c, "stable", &stored("e__1", "b"), T0).unwrap();
    assert_eq!((a.arm.as_deref(), a.version.as_str()), (Some("b"), "1.1.0"));
    assert_eq!(a.sticky_key().as_deref(), Some("e__1"));
    // Under an older bucket version, or for an arm that no longer exists: ignored.
    assert_eq!(assign(&c, "stable", &stored("e__0", "b"), T0).unwrap().arm.as_deref(), Some("control"));
    assert_eq!(assign(&c, "stable", &stored("e__1", "gone"), T0).unwrap().arm.as_deref(), Some("control"));
    // Sticky survives a coverage cut that would exclude the unit.
    let excluded = ids(200).find(|i| get(&c, i, T0).rule.is_none()).unwrap();
    let unit = Unit { stored: [("e__1".to_string(), "b".to_string())].into(), ..Unit::new(&excluded) };
    assert_eq!(assign(&c, "stable", &unit, T0).unwrap().arm.as_deref(), Some("b"));
    // Old bucket versions are reported for deletion once below minBucketVersion.
    let stored: BTreeMap<String, String> = [("e__0", "b"), ("e__1", "b"), ("other__0", "x")].map(|(k, v)| (k.into(), v.into())).into();
    assert_eq!(stale_assignments(&c, &stored), ["e__0"]);
    assert!(stale_assignments(&exp(1, 0), &stored).is_empty());
    // The bucket version only names where assignments are stored (as in GrowthBook): the hash
    // is the same, so re-randomising takes a new seed as well.
    assert!(ids(400).all(|i| get(&exp(0, 0), &i, T0).arm == get(&exp(1, 0), &i, T0).arm));
    let mut reseeded = exp(1, 0);
    reseeded.rollout_mut().rules[0].seed = Some("e-2".into());
    let moved = ids(400).filter(|i| get(&exp(0, 0), i, T0).arm != get(&reseeded, i, T0).arm).count();
    assert!(moved > 50, "{moved}");
}

#[test]
fn hashing_uses_the_seed_the_attribute_and_the_hash_version() {
    let mut rule = canary(0.5);
    rule["seed"] = json!("s");
    rule["hashAttribute"] = json!("account");
    rule["hashVersion"] = json!(1);
    let c = channel(json!({ "rules": [rule] }));
    let unit = Unit { attributes: [("account".to_string(), "acct-7".to_string())].into(), ..Unit::new("install") };
    let a = assign(&c, "stable", &unit, T0).unwrap();
    assert_eq!(a.bucket, hash("s", "acct-7", 1));
    assert_eq!(a.kind == AssignmentKind::Rollout, a.bucket.unwrap() < 0.5);
    // Without the attribute the rule does not apply.
    assert_eq!(get(&c, "install", T0).kind, AssignmentKind::Alias);
}

/// Rollout sections the validation refuses, each with (part of) the message it must give.
/// Also written to `tests/fixtures/rollout-refusals.json` for the JS validator.
fn refusal_cases() -> Vec<(Value, &'static str)> {
    let arm = |name: &str, version: &str, weight: f64| json!({ "name": name, "version": version, "weight": weight });
    let exp = |arms: Vec<Value>| json!({ "rules": [{ "key": "e", "kind": "experiment", "alias": "stable", "arms": arms }] });
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "stable", "coverage": 0.1, "arms": [{ "name": "canary", "version": "1.1.0", "wieght": 1 }] }] }),
            "unknown field `wieght`",
        ),
        (json!({ "rules": [], "shadows": [] }), "unknown field `shadows`"),
        (exp(vec![arm("a", "1.0.0", 0.5), arm("b", "1.1.0", 0.4)]), "rollout rule \"e\": arm weights sum to 0.9, not 1"),
        (exp(vec![arm("a", "1.0.0", 0.5), arm("b", "9.9.9", 0.5)]), "rule \"e\" arm \"b\": version 9.9.9 is not published"),
        (exp(vec![arm("a", "1.0.0", 0.5), arm("a", "1.1.0", 0.5)]), "rule \"e\" arm \"a\": name is used by another arm"),
        (exp(vec![arm("a", "1.0.0", 1.0)]), "an experiment has 2 to 10 arms, this one has 1"),
        (exp(vec![arm("a", "1.0.0", 1.5), arm("b", "1.1.0", -0.5)]), "arm \"a\": weight 1.5 must be in (0, 1]"),
        (json!({ "rules": [canary(0.1), canary(0.2)] }), "rollout rule \"c\": key is used by another rule"),
        (json!({ "rules": [canary(1.5)] }), "rollout rule \"c\": coverage 1.5 is outside [0, 1]"),
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "stable", "coverage": 0.1, "namespace": { "id": "ns", "range": [0.6, 0.2] },
                "arms": [arm("canary", "1.1.0", 1.0)] }] }),
            "namespace range [0.6, 0.2] must lie within [0, 1]",
        ),
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "stable", "coverage": 0.1, "namespace": { "id": "ns", "range": [0, 1.2] },
                "arms": [arm("canary", "1.1.0", 1.0)] }] }),
            "namespace range [0, 1.2]",
        ),
        (
            json!({ "rules": [{ "key": "c d", "kind": "rollout", "alias": "stable", "coverage": 0.1, "arms": [arm("x", "1.1.0", 1.0)] }] }),
            "key \"c d\" must be",
        ),
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "beta", "coverage": 0.1, "arms": [arm("x", "1.1.0", 1.0)] }] }),
            "alias \"beta\" is not one of",
        ),
        (json!({ "rules": [{ "key": "c", "kind": "canary", "alias": "stable", "arms": [] }] }), "unknown variant `canary`"),
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "stable", "arms": [arm("x", "1.1.0", 1.0)] }] }),
            "needs a coverage or a ramp",
        ),
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "stable", "coverage": 0.1, "arms": [arm("x", "1.1.0", 1.0), arm("y", "1.2.0", 1.0)] }] }),
            "exactly 1 arm",
        ),
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "stable", "hashVersion": 3, "coverage": 0.1, "arms": [arm("x", "1.1.0", 1.0)] }] }),
            "hashVersion 3",
        ),
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "stable", "bucketVersion": 1, "minBucketVersion": 2, "coverage": 0.1, "arms": [arm("x", "1.1.0", 1.0)] }] }),
            "minBucketVersion 2 is above bucketVersion 1",
        ),
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "stable", "ramp": [{ "at": "2026-12-01T16:00:00Z", "coverage": 0.5 }, { "at": "2026-12-01T15:00:00Z", "coverage": 1 }], "arms": [arm("x", "1.1.0", 1.0)] }] }),
            "ramp[1]: steps must be in strictly increasing time order",
        ),
        (
            json!({ "rules": [{ "key": "c", "kind": "rollout", "alias": "stable", "ramp": [{ "at": "tomorrow", "coverage": 0.5 }], "arms": [arm("x", "1.1.0", 1.0)] }] }),
            "ramp[0]: at \"tomorrow\" is not an RFC 3339 UTC time",
        ),
        (
            json!({ "shadow": [{ "alias": "stable", "challenger": "1.0.0", "sampleRate": 0.2 }] }),
            "challenger 1.0.0 is the version the alias already serves",
        ),
        (json!({ "shadow": [{ "alias": "stable", "challenger": "1.1.0", "sampleRate": 2 }] }), "sampleRate 2 is outside [0, 1]"),
        (json!({ "shadow": [{ "alias": "stable", "challenger": "7.0.0", "sampleRate": 0.1 }] }), "challenger 7.0.0 is not published"),
        (
            json!({ "interleave": [{ "key": "il", "alias": "stable", "arms": [{ "name": "a", "version": "1.0.0" }] }] }),
            "needs exactly 2 arms, has 1",
        ),
        (
            json!({ "interleave": [{ "key": "il", "alias": "stable", "arms": [{ "name": "a", "version": "1.0.0" }, { "name": "b", "version": "1.0.0" }] }] }),
            "both arms are version 1.0.0",
        ),
        (
            json!({ "rules": [canary(0.1)], "interleave": [{ "key": "c", "alias": "stable", "arms": [{ "name": "a", "version": "1.0.0" }, { "name": "b", "version": "1.1.0" }] }] }),
            "interleave \"c\": key is used by another rule",
        ),
    ];
    cases
}

#[test]
fn bad_rollout_sections_are_refused_with_a_message_naming_the_field() {
    for (rollout, expected) in refusal_cases() {
        let err = refused(rollout.clone());
        assert!(err.contains(expected), "{rollout}\n  gave: {err}\n  expected: {expected}");
    }
}

/// `tests/fixtures/rollout-refusals.json`: every refused section as a whole channel, with the
/// Rust message, so the shell's validator can be checked to refuse the same (`BLESS=1` rewrites).
#[test]
fn the_committed_rollout_refusals_are_what_this_code_refuses() {
    let cases: Vec<Value> = refusal_cases()
        .into_iter()
        .map(|(rollout, _)| {
            let mut channel: Value = serde_json::from_str(&channel(json!({})).to_json()).unwrap();
            channel["schemaVersion"] = json!(2);
            channel["rollout"] = rollout;
            let message = Channel::from_json(&channel.to_string()).unwrap_err().to_string();
            json!({ "channel": channel, "rustError": message })
        })
        .collect();
    let file = json!({
        "_about": "Channels whose rollout section burn_edge_formats refuses (crates/formats/src/rollout/tests.rs, BLESS=1 rewrites), with its message; a loader must refuse each too.",
        "cases": cases,
    });
    let generated = serde_json::to_string_pretty(&file).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/rollout-refusals.json");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(committed == generated, "{path} is stale: run `BLESS=1 cargo test --workspace rollout_refusals`");
}

#[test]
fn v1_files_read_unchanged_and_the_writer_picks_the_version() {
    let v1 = "{\n  \"schemaVersion\": 1,\n  \"name\": \"mnist\",\n  \"aliases\": {\n    \"stable\": \"1.0.0\"\n  },\n  \"versions\": [\n    \"1.0.0\"\n  ],\n  \"updatedAt\": \"2026-12-01T00:00:00Z\"\n}\n";
    let c = Channel::from_json(v1).unwrap();
    assert_eq!(c.rollout, None);
    assert_eq!(c.to_json(), v1, "a v1 file round-trips byte for byte");

    // An empty rollout is written as v1 without it; a real one as v2.
    let mut c2 = c.clone();
    c2.rollout = Some(Rollout::default());
    assert_eq!(c2.to_json(), v1);
    c2.rollout_mut().kill = true;
    let written: Value = serde_json::from_str(&c2.to_json()).unwrap();
    assert_eq!(written["schemaVersion"], 2);
    assert_eq!(written["rollout"], json!({ "kill": true }));
    assert_eq!(Channel::from_json(&c2.to_json()).unwrap(), Channel::from_json(&c2.to_json()).unwrap().clone());

    // schemaVersion 2 without a rollout reads (and is written back as 1); 1 with one does not.
    let v2_plain = v1.replace("\"schemaVersion\": 1", "\"schemaVersion\": 2");
    assert_eq!(Channel::from_json(&v2_plain).unwrap().to_json(), v1);
    let mut value: Value = serde_json::from_str(v1).unwrap();
    value["rollout"] = json!({ "kill": true });
    let err = Channel::from_json(&value.to_string()).unwrap_err().to_string();
    assert!(err.contains("must have schemaVersion 2"), "{err}");
    value["schemaVersion"] = json!(3);
    let err = Channel::from_json(&value.to_string()).unwrap_err();
    assert_eq!(err, FormatError::ChannelSchemaVersion { found: 3 });
}

#[test]
fn publishing_the_challenger_to_its_alias_ends_its_shadow() {
    let mut c = channel(json!({ "shadow": [{ "alias": "stable", "challenger": "1.1.0", "sampleRate": 0.2 }] }));
    c.publish("1.1.0", &["stable".into()], "2026-12-01T16:00:00Z");
    assert_eq!(c.rollout.as_ref().map(|r| r.shadow.len()), Some(0));
    Channel::from_json(&c.to_json()).unwrap();
}

/// The fixtures tests/node/formats.test.mjs checks against the JSON Schema: the one is accepted
/// (and written back byte for byte), the other refused, here as there.
#[test]
fn the_shared_channel_fixtures_read_as_the_schema_says() {
    let read = |name: &str| std::fs::read_to_string(format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let good = read("channel-rollout.json");
    let c = Channel::from_json(&good).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.to_json(), good);
    assert_eq!(c.rollout.as_ref().map(|r| r.rules.len()), Some(3));
    let err = Channel::from_json(&read("channel-rollout-refused.json")).unwrap_err().to_string();
    assert!(err.contains("unknown field `wieght`"), "{err}");
}
