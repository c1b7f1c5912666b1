//! `burn-edge rollout` as a user runs it, on a copy of the committed MNIST CDN folder (1.0.0 =
//! stable, 1.1.0 = canary): every command's effect on the channel and the log, signing, and every
//! refusal (one line, non-zero exit, nothing written).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn_edge_formats::rollout::{assign, Unit};
use burn_edge_formats::{AssignmentKind, Channel, RuleKind};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A temporary CDN root holding a copy of models/mnist (with its committed signatures).
struct Cdn {
    dir: tempfile::TempDir,
}

impl Cdn {
    fn new() -> Cdn {
        let dir = tempfile::tempdir().unwrap();
        support::copy_mnist(dir.path());
        Cdn { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join("mnist").join(rel)
    }

    /// `burn-edge rollout <args...> mnist --models <root>` (model and root after the subcommand words).
    fn rollout(&self, words: &[&str], args: &[&str]) -> Output {
        self.rollout_env(words, args, &[])
    }

    fn rollout_env(&self, words: &[&str], args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_burn-edge"));
        command.arg("rollout").args(words).arg("mnist").args(["--models", self.root().to_str().unwrap()]).args(args);
        // As a user sees it: no backtrace below the one-line message.
        command.env_remove("BURN_EDGE_SIGNING_KEY").env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("burn-edge runs")
    }

    fn channel_text(&self) -> String {
        std::fs::read_to_string(self.path("channel.json")).unwrap()
    }

    fn channel(&self) -> Channel {
        Channel::from_json(&self.channel_text()).unwrap()
    }

    fn log(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.path("rollout-log.json")) {
            Ok(text) => serde_json::from_str(&text).unwrap(),
            Err(_) => Vec::new(),
        }
    }

    fn weights_of(&self, version: &str) -> PathBuf {
        let manifest =
            burn_edge_formats::Manifest::from_json(&std::fs::read_to_string(self.path(&format!("{version}/manifest.json"))).unwrap())
                .unwrap();
        self.path(&format!("files/{}.bpk", manifest.weights().unwrap().sha256))
    }
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "stdout: {}\nstderr: {}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// A refusal: non-zero exit, exactly one line on stderr containing `expected` (besides clap's
/// "For more information, try '--help'." after a malformed flag).
fn refused(o: Output, expected: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accepted; stdout {}", String::from_utf8_lossy(&o.stdout));
    let lines = err.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("For more information")).count();
    assert_eq!(lines, 1, "not one line: {err}");
    assert!(err.contains(expected), "{err}\n  expected: {expected}");
}

fn ids(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("install-{i}"))
}

fn share_on(channel: &Channel, version: &str, now: i64) -> f64 {
    ids(2000).filter(|id| assign(channel, "stable", &Unit::new(id), now).unwrap().version == version).count() as f64 / 2000.0
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[test]
fn rollout_canary_ramp_promote_rollback_round_trip() {
    let cdn = Cdn::new();
    let before = cdn.channel();
    assert!(cdn.path("channel.json.sig").exists());

    let o = cdn.rollout(&["canary"], &["1.1.0", "--percent", "10"]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let out = ok(o);
    assert!(out.contains("mnist canary (rule mnist-1.1.0-canary): 1.1.0 for 10% of stable pages"), "{out}");
    assert!(err.contains("old signature was removed"), "{err}");
    assert!(!cdn.path("channel.json.sig").exists(), "a stale signature would read as tampering");
    let c = cdn.channel();
    let written: Value = serde_json::from_str(&cdn.channel_text()).unwrap();
    assert_eq!(written["schemaVersion"], 2);
    assert!(c.updated_at > before.updated_at, "{} after {}", c.updated_at, before.updated_at);
    let rule = &c.rollout.as_ref().unwrap().rules[0];
    assert_eq!(
        (rule.kind, rule.alias.as_str(), rule.coverage, rule.arms[0].version.as_str()),
        (RuleKind::Rollout, "stable", Some(0.1), "1.1.0")
    );
    assert!((share_on(&c, "1.1.0", now_ms()) - 0.1).abs() < 0.02);

    // `rollout assign` says what the shared assign() computes.
    let out = ok(cdn.rollout(&["assign"], &["--id", "install-3"]));
    let printed: Value = serde_json::from_str(out.trim()).unwrap();
    let expected = assign(&c, "stable", &Unit::new("install-3"), now_ms()).unwrap();
    assert_eq!(printed, serde_json::to_value(&expected).unwrap());

    // A ramp schedule starting now, one step every 10 minutes.
    ok(cdn.rollout(&["ramp"], &["--steps", "5,25,50,100", "--every", "10m"]));
    let c = cdn.channel();
    let ramp = &c.rollout.as_ref().unwrap().rules[0].ramp;
    let at: Vec<i64> = ramp.iter().map(|s| burn_edge_formats::rollout::parse_utc_millis(&s.at).unwrap()).collect();
    assert_eq!(ramp.iter().map(|s| s.coverage).collect::<Vec<_>>(), [0.05, 0.25, 0.5, 1.0]);
    assert!(at.windows(2).all(|w| w[1] - w[0] == 600_000), "{at:?}");
    assert!((at[0] - now_ms()).abs() < 5_000, "starts now");
    let in_at = |t: i64| share_on(&c, "1.1.0", t);
    assert!((in_at(at[0] + 1000) - 0.05).abs() < 0.02 && (in_at(at[1] + 1000) - 0.25).abs() < 0.03 && in_at(at[3]) == 1.0);

    // --percent sets it now and drops the schedule.
    ok(cdn.rollout(&["ramp"], &["--rule", "mnist-1.1.0-canary", "--percent", "30"]));
    let c = cdn.channel();
    assert_eq!((c.rollout.as_ref().unwrap().rules[0].coverage, c.rollout.as_ref().unwrap().rules[0].ramp.len()), (Some(0.3), 0));

    // Promote: stable serves 1.1.0 and, with no rules left, the file is schemaVersion 1 again.
    let out = ok(cdn.rollout(&["promote"], &[]));
    assert!(out.contains("stable: 1.0.0 -> 1.1.0"), "{out}");
    let c = cdn.channel();
    assert_eq!((c.aliases["stable"].as_str(), c.rollout.is_none()), ("1.1.0", true));
    assert!(cdn.channel_text().contains("\"schemaVersion\": 1"));

    // Rollback with no rules: stable back to the version published before.
    let out = ok(cdn.rollout(&["rollback"], &[]));
    assert!(out.contains("stable 1.1.0 -> 1.0.0"), "{out}");
    assert_eq!(cdn.channel().aliases["stable"], "1.0.0");
    refused(cdn.rollout(&["rollback"], &[]), "the first version published: there is nothing to roll back to");

    // Every change logged, by the CLI, with strictly increasing times.
    let log = cdn.log();
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["canary", "ramp", "ramp", "promote", "rollback"]);
    assert!(log.iter().all(|e| e["by"] == "cli"));
    let times: Vec<&str> = log.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert_eq!(log[0]["rule"], "mnist-1.1.0-canary");
}

#[test]
fn rollout_a_signing_key_re_signs_every_change_and_verify_accepts_it() {
    let cdn = Cdn::new();
    let keys = cdn.root().parent().unwrap().join(format!("keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&keys);
    let public = ok(Command::new(env!("CARGO_BIN_EXE_burn-edge")).args(["keygen", "--out", keys.to_str().unwrap()]).output().unwrap());
    let key = keys.join("signing.key");
    // Manifests signed by this key too, so `verify` can check the whole folder.
    ok(Command::new(env!("CARGO_BIN_EXE_burn-edge"))
        .args(["sign", cdn.path("").to_str().unwrap(), "--key", key.to_str().unwrap()])
        .output()
        .unwrap());
    let out = ok(cdn.rollout(&["canary"], &["1.1.0", "--percent", "50", "--signing-key", key.to_str().unwrap()]));
    assert!(out.contains("signed the channel with key"), "{out}");
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_burn-edge"))
            .args(["verify", cdn.path("").to_str().unwrap(), "--public-key", public.trim()])
            .output()
            .unwrap()
    };
    assert!(ok(verify()).contains("verify, signed by key"));
    // Through the environment, as CI passes a secret.
    ok(cdn.rollout_env(&["kill"], &[], &[("BURN_EDGE_SIGNING_KEY", &key)]));
    assert!(ok(verify()).contains("verify, signed by key"));
    // Without a key the signature goes: verify says the channel is unsigned, not tampered.
    ok(cdn.rollout(&["kill"], &["--off"]));
    assert!(!cdn.path("channel.json.sig").exists());
    let o = verify();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("channel.json.sig"));
    std::fs::remove_dir_all(&keys).unwrap();
}

#[test]
fn rollout_a_version_whose_files_do_not_verify_is_refused_and_nothing_changes() {
    let cdn = Cdn::new();
    let original = cdn.channel_text();
    let weights = cdn.weights_of("1.1.0");
    let good = std::fs::read(&weights).unwrap();

    // Tampered weights (one flipped bit): refused with the file and its hashes named.
    let mut bytes = good.clone();
    bytes[1000] ^= 1;
    std::fs::write(&weights, &bytes).unwrap();
    refused(cdn.rollout(&["canary"], &["1.1.0", "--percent", "10"]), "refusing: mnist@1.1.0 does not verify");
    let o = cdn.rollout(&["canary"], &["1.1.0", "--percent", "10"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("the manifest says"));
    refused(
        cdn.rollout(&["experiment", "start"], &["--key", "ab", "--arm", "control=1.0.0:0.5", "--arm", "b=1.1.0:0.5"]),
        "mnist@1.1.0 does not verify",
    );
    refused(cdn.rollout(&["shadow", "start"], &["1.1.0", "--sample", "0.2"]), "mnist@1.1.0 does not verify");
    // Missing weights.
    std::fs::remove_file(&weights).unwrap();
    refused(cdn.rollout(&["canary"], &["1.1.0", "--percent", "10"]), "mnist@1.1.0 does not verify");
    std::fs::write(&weights, &good).unwrap();
    // Missing manifest.
    let manifest = cdn.path("1.1.0/manifest.json");
    let manifest_bytes = std::fs::read(&manifest).unwrap();
    std::fs::remove_file(&manifest).unwrap();
    refused(cdn.rollout(&["canary"], &["1.1.0", "--percent", "10"]), "mnist@1.1.0 does not verify");
    std::fs::write(&manifest, manifest_bytes).unwrap();

    assert_eq!(cdn.channel_text(), original, "nothing was written");
    assert!(cdn.path("channel.json.sig").exists(), "the signature of the unchanged channel stays");
    assert!(cdn.log().is_empty(), "nothing was logged");
    // Once the files are back, the same command goes through.
    ok(cdn.rollout(&["canary"], &["1.1.0", "--percent", "10"]));
}

#[test]
fn rollout_bad_requests_are_refused_with_one_clear_line() {
    let cdn = Cdn::new();
    ok(cdn.rollout(&["canary"], &["1.1.0", "--percent", "10", "--key", "c"]));
    let written = cdn.channel_text();
    let cases: Vec<(&[&str], Vec<&str>, &str)> = vec![
        (&["canary"], vec!["2.0.0", "--percent", "10"], "mnist@2.0.0 is not published (published: 1.0.0, 1.1.0)"),
        (&["canary"], vec!["1.1.0", "--percent", "150", "--key", "x"], "--percent 150 is outside 0..100"),
        (&["canary"], vec!["1.0.0", "--percent", "10"], "stable already serves 1.0.0"),
        (&["canary"], vec!["1.1.0", "--percent", "10", "--key", "c"], "already has a rule \"c\""),
        (&["canary"], vec!["1.1.0", "--percent", "10", "--key", "bad key"], "key \"bad key\" must be 1 to 64 of"),
        (&["canary"], vec!["1.1.0", "--percent", "10", "--alias", "beta"], "has no alias \"beta\""),
        (&["ramp"], vec!["--rule", "nope", "--percent", "20"], "mnist has no rollout rule \"nope\" (it has: c)"),
        (&["ramp"], vec!["--steps", "5,50", "--every", "ten"], "--every \"ten\" is not a duration"),
        (&["rollback"], vec!["--rule", "nope"], "no rollout rule \"nope\""),
        (&["promote"], vec!["--rule", "c", "--arm", "b"], "rule \"c\" has no arm \"b\""),
        (
            &["experiment", "start"],
            vec!["--key", "ab", "--arm", "control=1.0.0:0.5", "--arm", "b=1.1.0:0.4"],
            "rollout rule \"ab\": arm weights sum to 0.9, not 1",
        ),
        (&["experiment", "start"], vec!["--key", "ab", "--arm", "control=1.0.0:1"], "an experiment has 2 to 10 arms, this one has 1"),
        (
            &["experiment", "start"],
            vec!["--key", "ab", "--arm", "control=1.0.0:0.5", "--arm", "b=1.1.0:0.5", "--namespace", "ns:0.7:0.2"],
            "namespace range [0.7, 0.2] must lie within [0, 1]",
        ),
        (&["experiment", "stop"], vec!["--key", "c"], "rule \"c\" is a rollout, not an experiment"),
        (&["shadow", "start"], vec!["1.0.0", "--sample", "0.2"], "stable already serves 1.0.0"),
        (&["shadow", "start"], vec!["1.1.0", "--sample", "1.5"], "--sample 1.5 is outside 0..1"),
        (&["shadow", "stop"], vec![], "mnist has no shadow on stable"),
        (&["interleave", "start"], vec!["--key", "il", "--arm", "a=1.0.0", "--arm", "b=1.0.0"], "both arms are version 1.0.0"),
        (&["interleave", "stop"], vec!["--key", "il"], "mnist has no interleave \"il\""),
    ];
    for (words, args, expected) in cases {
        refused(cdn.rollout(words, &args), expected);
        assert_eq!(cdn.channel_text(), written, "{words:?} {args:?} changed the channel");
    }
    assert_eq!(cdn.log().len(), 1, "refusals are not logged");

    // A channel broken by hand is refused before anything is done.
    std::fs::write(cdn.path("channel.json"), written.replace("\"weight\"", "\"wieght\"")).unwrap();
    refused(cdn.rollout(&["kill"], &[]), "unknown field `wieght`");
    // So is a model folder that is not there.
    let o = Command::new(env!("CARGO_BIN_EXE_burn-edge"))
        .args(["rollout", "kill", "nosuch", "--models", cdn.root().to_str().unwrap()])
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .unwrap();
    refused(o, "nosuch/channel.json");
}

#[test]
fn rollout_kill_experiment_shadow_and_interleave_change_what_pages_get() {
    let cdn = Cdn::new();
    let arms = ["--arm", "control=1.0.0:0.5", "--arm", "b=1.1.0:0.5"];
    let mut args = vec!["--key", "mnist-ab", "--coverage", "0.8", "--namespace", "mnist-exp:0:1"];
    args.extend(arms);
    ok(cdn.rollout(&["experiment", "start"], &args));
    let c = cdn.channel();
    let rule = c.rollout.as_ref().unwrap().rule("mnist-ab").unwrap().clone();
    assert_eq!((rule.kind, rule.coverage, rule.arms.len()), (RuleKind::Experiment, Some(0.8), 2));
    let kinds: Vec<_> = ids(2000).map(|id| assign(&c, "stable", &Unit::new(&id), now_ms()).unwrap()).collect();
    let b = kinds.iter().filter(|a| a.arm.as_deref() == Some("b")).count() as f64 / 2000.0;
    assert!((b - 0.4).abs() < 0.03, "{b}");

    ok(cdn.rollout(&["shadow", "start"], &["1.1.0", "--sample", "0.25"]));
    ok(cdn.rollout(&["shadow", "start"], &["1.1.0", "--sample", "0.5"]));
    let shadow = cdn.channel().rollout.unwrap().shadow;
    assert_eq!((shadow.len(), shadow[0].sample_rate), (1, 0.5), "started again: the sample rate changes");
    ok(cdn.rollout(&["interleave", "start"], &["--key", "mnist-il", "--arm", "a=1.0.0", "--arm", "b=1.1.0"]));
    assert_eq!(cdn.channel().rollout.unwrap().interleave[0].arms[1].version, "1.1.0");

    // Kill: everyone on stable; off again: the experiment is back as it was.
    ok(cdn.rollout(&["kill"], &[]));
    let killed = cdn.channel();
    assert!(ids(200).all(|id| assign(&killed, "stable", &Unit::new(&id), now_ms()).unwrap().kind == AssignmentKind::Kill));
    let out = ok(cdn.rollout(&["assign"], &["--id", "x", "--pin", "1.1.0"]));
    assert!(out.contains("\"kind\":\"pin\""), "a pin beats kill: {out}");
    let out = ok(cdn.rollout(&["kill"], &[]));
    assert!(out.contains("nothing to change"), "{out}");
    ok(cdn.rollout(&["kill"], &["--off"]));
    assert_eq!(cdn.channel().rollout.unwrap().rules, vec![rule]);

    ok(cdn.rollout(&["interleave", "stop"], &["--key", "mnist-il"]));
    ok(cdn.rollout(&["shadow", "stop"], &["--challenger", "1.1.0"]));
    ok(cdn.rollout(&["experiment", "stop"], &["--key", "mnist-ab"]));
    let text = cdn.channel_text();
    assert!(text.contains("\"schemaVersion\": 1") && !text.contains("rollout"), "{text}");
    let actions: Vec<String> = cdn.log().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        actions,
        [
            "experiment-start",
            "shadow-start",
            "shadow-start",
            "interleave-start",
            "kill",
            "unkill",
            "interleave-stop",
            "shadow-stop",
            "experiment-stop"
        ]
    );

    // Targeting: a canary for internal users only, checked through `rollout assign --attr`.
    ok(cdn.rollout(&["canary"], &["1.1.0", "--percent", "100", "--group", "group=internal"]));
    let get = |extra: &[&str]| {
        let mut args = vec!["--id", "u1"];
        args.extend(extra);
        let out = ok(cdn.rollout(&["assign"], &args));
        serde_json::from_str::<Value>(out.trim()).unwrap()["version"].as_str().unwrap().to_string()
    };
    assert_eq!(get(&["--attr", "group=internal"]), "1.1.0");
    assert_eq!(get(&["--attr", "group=public"]), "1.0.0");
    assert_eq!(get(&[]), "1.0.0");
}

#[test]
fn rollout_the_log_keeps_the_last_200_entries() {
    let cdn = Cdn::new();
    let old: Vec<Value> =
        (0..200).map(|i| serde_json::json!({ "at": format!("old-{i}"), "action": "x", "detail": "", "by": "cli" })).collect();
    std::fs::write(cdn.path("rollout-log.json"), serde_json::to_string(&old).unwrap()).unwrap();
    ok(cdn.rollout(&["kill"], &[]));
    let log = cdn.log();
    assert_eq!(log.len(), 200);
    assert_eq!(log[0]["at"], "old-1");
    assert_eq!(log[199]["action"], "kill");
    // A log that is not a JSON array is refused before the channel changes.
    std::fs::write(cdn.path("rollout-log.json"), "{").unwrap();
    let before = cdn.channel_text();
    refused(cdn.rollout(&["kill"], &["--off"]), "rollout-log.json is not a JSON array");
    assert_eq!(cdn.channel_text(), before);
}

#[test]
fn rollout_and_publish_move_updated_at_forward_even_past_a_clock_behind() {
    let cdn = Cdn::new();
    // The last write came from a machine whose clock is ahead of ours.
    let text = cdn.channel_text().replace(&cdn.channel().updated_at, "2030-01-01T00:00:00Z");
    std::fs::write(cdn.path("channel.json"), text).unwrap();
    ok(cdn.rollout(&["kill"], &[]));
    assert_eq!(cdn.channel().updated_at, "2030-01-01T00:00:01Z");
    let weights = repo_root().join("models/mnist/model.bpk");
    let data = repo_root().join("../shared/datasets/mnist");
    let o = Command::new(env!("CARGO_BIN_EXE_burn-edge"))
        .args(["publish", "--version", "1.0.0", "--alias", "canary", "--models", cdn.root().to_str().unwrap()])
        .args(["--weights", weights.to_str().unwrap(), "--data", data.to_str().unwrap()])
        .env_remove("BURN_EDGE_SIGNING_KEY")
        .output()
        .unwrap();
    ok(o);
    let c = cdn.channel();
    assert_eq!((c.aliases["canary"].as_str(), c.updated_at.as_str()), ("1.0.0", "2030-01-01T00:00:02Z"));
    assert!(c.rollout.is_some_and(|r| r.kill), "publish keeps the rollout section");
}
