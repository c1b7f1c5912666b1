//! Property-based fuzzing of the wire-format parsers a loader or the CLI feeds with bytes from
//! the network: channel (v1, and v2 with a rollout section), manifest and signature files, arbitrary and as the committed MNIST
//! files mutated at random offsets (byte flips, insertions, deletions, truncations). Every input
//! must parse and validate, or give a `FormatError`; never a panic. A channel that parses
//! survives a round trip through its own serialisation; a manifest that validates names only
//! files inside the model folder.
//!
//! Cases per property: `BURN_EDGE_FUZZ_PARSER_CASES`, else `BURN_EDGE_FUZZ_CASES` (default 64, so `cargo test` stays fast;
//! `npm run reliability` sets far more). Each property prints "fuzz <name>: <n> executions".

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use burn_edge_formats::manifest::is_plain_relative_path;
use burn_edge_formats::rollout::{assign, Unit};
use burn_edge_formats::{Channel, Manifest, Signature};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    // The parsers are fast: the reliability run gives them more cases than the other targets.
    let var = |name| std::env::var(name).ok().and_then(|v| v.parse().ok());
    var("BURN_EDGE_FUZZ_PARSER_CASES").or_else(|| var("BURN_EDGE_FUZZ_CASES")).unwrap_or(64)
}

/// Runs `property` on `cases()` inputs of `strategy` and prints how many ran.
fn fuzz<S: Strategy>(name: &str, strategy: S, property: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let executions = AtomicU64::new(0);
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let result = runner.run(&strategy, |value| {
        executions.fetch_add(1, Ordering::Relaxed);
        property(value)
    });
    let verdict = if result.is_ok() { "0 failures" } else { "FAILED" };
    println!("fuzz {name}: {} executions, {verdict}, {:.1} s", executions.load(Ordering::Relaxed), started.elapsed().as_secs_f64());
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

fn committed(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A byte edit: flip at an offset, insert a byte, delete a byte, or truncate.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Edit::Flip(i, x)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => any::<usize>().prop_map(Edit::Delete),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len().max(1);
        match *e {
            Edit::Flip(i, x) if !bytes.is_empty() => bytes[i % n] ^= x,
            Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Edit::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % n);
            }
            Edit::Truncate(i) => bytes.truncate(i % n),
            _ => {}
        }
    }
    bytes
}

/// Mutated copies of `original`, and arbitrary bytes now and then.
fn inputs(original: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(edit(), 1..6).prop_map(move |edits| mutate(original.clone(), &edits)),
        1 => prop::collection::vec(any::<u8>(), 0..512),
    ]
}

#[test]
fn fuzz_channel_parser() {
    fuzz("channel", inputs(committed("models/mnist/channel.json")), |bytes| {
        let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(()) };
        if let Ok(channel) = Channel::from_json(text) {
            prop_assert_eq!(Channel::from_json(&channel.to_json()).ok(), Some(channel));
        }
        Ok(())
    });
}

/// The schemaVersion 2 channel with every rollout field (rules of both kinds, ramp, namespace,
/// condition, shadow, interleave): a parsed one round-trips and can assign any unit.
#[test]
fn fuzz_rollout_channel_parser() {
    let input = (inputs(committed("tests/fixtures/channel-rollout.json")), "[a-z0-9-]{0,12}", any::<i64>());
    fuzz("channel-v2-rollout", input, |(bytes, id, now)| {
        let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(()) };
        if let Ok(channel) = Channel::from_json(text) {
            prop_assert_eq!(Channel::from_json(&channel.to_json()).ok(), Some(channel.clone()));
            for alias in channel.aliases.keys() {
                let assignment = assign(&channel, alias, &Unit::new(&id), now);
                prop_assert!(assignment.is_ok_and(|a| channel.versions.contains(&a.version)), "{alias} {id}");
            }
        }
        Ok(())
    });
}

/// A rollout rule drawn from a wide space, mostly valid: arms with fitting weights (or now and
/// then any weight), published versions (or not), coverages and namespace ranges in or just
/// outside [0, 1], hash versions 0..3.
fn rule_json() -> impl Strategy<Value = serde_json::Value> {
    let version = prop_oneof![4 => Just("1.0.0"), 4 => Just("1.1.0"), 1 => Just("9.9.9"), 1 => Just("x")];
    let weight = prop_oneof![8 => Just(None), 1 => (-0.5f64..1.5).prop_map(Some)];
    let arm = (prop_oneof![Just("a"), Just("b"), Just("c")], version, weight);
    let share = || prop_oneof![8 => 0.0f64..=1.0, 1 => -0.2f64..1.2];
    (
        prop_oneof![Just("rollout"), Just("experiment")],
        prop_oneof![Just("k1"), Just("k2"), Just("k3")],
        prop::collection::vec(arm, 1..4),
        prop::option::of(share()),
        prop::option::of((share(), share())),
        prop_oneof![8 => 1u32..=2, 1 => 0u32..4],
    )
        .prop_map(|(kind, key, arms, coverage, namespace, hash_version)| {
            // A rollout has one arm; an experiment's weights fill 1 between the arms.
            let arms = if kind == "rollout" { arms[..1].to_vec() } else { arms };
            let n = arms.len() as f64;
            let arms: Vec<_> = arms
                .into_iter()
                .map(|(name, version, w)| serde_json::json!({ "name": name, "version": version, "weight": w.unwrap_or(1.0 / n) }))
                .collect();
            let mut rule = serde_json::json!({ "key": key, "kind": kind, "alias": "stable", "hashVersion": hash_version, "arms": arms });
            if let Some(c) = coverage.or((kind == "rollout").then_some(0.5)) {
                rule["coverage"] = c.into();
            }
            if let Some((a, b)) = namespace {
                rule["namespace"] = serde_json::json!({ "id": "ns", "range": [a.min(b), a.max(b)] });
            }
            rule
        })
}

/// Structured rollout sections: each is accepted or refused with a `FormatError`, never a
/// panic; an accepted one assigns every unit a published version, and raising the rules'
/// coverage never takes a unit out of its rule or arm (it may move to an earlier rule).
#[test]
fn fuzz_rollout_rules() {
    let input = (prop::collection::vec(rule_json(), 0..4), any::<bool>(), prop::collection::vec("[a-z0-9]{1,8}", 1..20));
    fuzz("rollout-rules", input, |(rules, kill, ids)| {
        let channel = serde_json::json!({ "schemaVersion": 2, "name": "m", "aliases": { "stable": "1.0.0" },
            "versions": ["1.0.0", "1.1.0"], "updatedAt": "2026-12-01T00:00:00Z", "rollout": { "kill": kill, "rules": rules } });
        let Ok(c) = Channel::from_json(&channel.to_string()) else { return Ok(()) };
        let mut wider = c.clone();
        for rule in &mut wider.rollout_mut().rules {
            rule.coverage = rule.coverage.map(|x| (x + 0.3).min(1.0));
        }
        for id in &ids {
            let a = assign(&c, "stable", &Unit::new(id), 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(c.versions.contains(&a.version));
            let b = assign(&wider, "stable", &Unit::new(id), 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // Rules are tried in order and both kinds only grow with coverage: a unit in rule i
            // stays in rule i (same arm) or moves to an earlier one.
            let position = |rule: &Option<String>| rule.as_ref().and_then(|k| c.rollout.as_ref()?.rules.iter().position(|r| &r.key == k));
            if let Some(before) = position(&a.rule) {
                let after = position(&b.rule);
                prop_assert!(after.is_some_and(|after| after <= before), "raising coverage took {} out of {:?}", id, a.rule);
                if after == Some(before) {
                    prop_assert_eq!(&a.arm, &b.arm, "raising coverage moved {} to another arm", id);
                }
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_manifest_parser() {
    fuzz("manifest", inputs(committed("models/mnist/1.0.0/manifest.json")), |bytes| {
        let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(()) };
        if let Ok(manifest) = Manifest::from_json(text) {
            for f in &manifest.files {
                prop_assert!(is_plain_relative_path(&f.path), "a validated manifest names {:?}", f.path);
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_signature_parser() {
    let valid = r#"{"schemaVersion":1,"algorithm":"Ed25519","keyId":"0123456789abcdef","signature":"AAAA"}"#;
    fuzz("signature", inputs(valid.as_bytes().to_vec()), |bytes| {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = Signature::from_json(text);
        }
        Ok(())
    });
}
