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
