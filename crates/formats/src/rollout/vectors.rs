//! `tests/fixtures/assignment-vectors.json`: cases computed by [`assign`] covering every branch
//! (pin, kill, rollout in/out, ramp steps, experiment arms and coverage, namespace, condition,
//! hash attribute and version, seed, sticky reuse and its limits, rule order, errors), which the
//! JS shell's tests run through `www/lib/assign.js` for cross-language agreement. `BLESS=1`
//! rewrites the file; otherwise it must equal what this code computes.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::tests::channel_with;
use super::*;
use crate::Channel;

const NOW: &str = "2026-12-01T15:30:00Z";

fn arm(name: &str, version: &str, weight: f64) -> Value {
    json!({ "name": name, "version": version, "weight": weight })
}

fn canary(coverage: f64) -> Value {
    json!({ "key": "mnist-1.1.0-canary", "kind": "rollout", "alias": "stable", "coverage": coverage, "arms": [arm("canary", "1.1.0", 1.0)] })
}

fn experiment(extra: Value) -> Value {
    let mut rule = json!({ "key": "mnist-ab", "kind": "experiment", "alias": "stable",
        "arms": [arm("control", "1.0.0", 0.5), arm("b", "1.1.0", 0.5)] });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        rule[k] = v;
    }
    rule
}

/// One case: a channel, the request, and a predicate the computed result must meet (so each
/// case really exercises its branch; the id is the first `install-<i>` that meets it).
struct Case {
    name: &'static str,
    rollout: Option<Value>,
    alias: &'static str,
    now: &'static str,
    attributes: BTreeMap<String, String>,
    stored: BTreeMap<String, String>,
    pin: Option<&'static str>,
    id: Option<&'static str>,
    wants: fn(&Result<Assignment, crate::FormatError>) -> bool,
}

fn case(name: &'static str, rollout: Option<Value>, wants: fn(&Result<Assignment, crate::FormatError>) -> bool) -> Case {
    Case { name, rollout, alias: "stable", now: NOW, attributes: BTreeMap::new(), stored: BTreeMap::new(), pin: None, id: None, wants }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn is<'a>(kind: AssignmentKind, version: &'a str, arm: Option<&'a str>) -> impl Fn(&Result<Assignment, crate::FormatError>) -> bool + 'a {
    move |r| r.as_ref().is_ok_and(|a| a.kind == kind && a.version == version && a.arm.as_deref() == arm)
}

fn cases() -> Vec<Case> {
    use AssignmentKind::*;
    let ramp = json!({ "key": "mnist-ramp", "kind": "rollout", "alias": "stable", "arms": [arm("canary", "1.1.0", 1.0)], "ramp": [
        { "at": "2026-12-01T15:00:00Z", "coverage": 0.05 }, { "at": "2026-12-01T15:10:00Z", "coverage": 0.25 },
        { "at": "2026-12-01T15:20:00Z", "coverage": 0.5 }, { "at": "2026-12-01T16:00:00Z", "coverage": 1 } ] });
    let ramped_from_full = {
        let mut r = ramp.clone();
        r["coverage"] = json!(1.0);
        r
    };
    let three = experiment(json!({ "arms": [arm("control", "1.0.0", 0.2), arm("b", "1.1.0", 0.3), arm("c", "1.2.0", 0.5)] }));
    let ns = |range: [f64; 2]| experiment(json!({ "namespace": { "id": "mnist-exp", "range": range } }));
    let internal = {
        let mut r = canary(1.0);
        r["condition"] = json!({ "group": ["internal", "staff"] });
        r
    };
    let by_account = {
        let mut r = canary(0.5);
        r["hashAttribute"] = json!("account");
        r["hashVersion"] = json!(1);
        r["seed"] = json!("acct-seed");
        r
    };
    let sticky = experiment(json!({ "bucketVersion": 2, "minBucketVersion": 1, "coverage": 0.5 }));
    let two_rules = json!({ "rules": [canary(0.3), experiment(json!({}))] });
    let shadowed = json!({ "rules": [canary(0.5)], "shadow": [{ "alias": "stable", "challenger": "1.2.0", "sampleRate": 0.2 }],
        "interleave": [{ "key": "mnist-il", "alias": "stable", "arms": [{ "name": "a", "version": "1.0.0" }, { "name": "b", "version": "1.1.0" }] }] });

    vec![
        case("v1 channel: the alias serves", None, |r| is(Alias, "1.0.0", None)(r)),
        Case { alias: "canary", ..case("v1 channel: another alias", None, |r| is(Alias, "1.1.0", None)(r)) },
        case("canary 50%: included", Some(json!({ "rules": [canary(0.5)] })), |r| is(Rollout, "1.1.0", Some("canary"))(r)),
        case("canary 50%: not included falls to the alias", Some(json!({ "rules": [canary(0.5)] })), |r| is(Alias, "1.0.0", None)(r)),
        case("canary 0%: nobody", Some(json!({ "rules": [canary(0.0)] })), |r| is(Alias, "1.0.0", None)(r)),
        case("canary 100%: everybody", Some(json!({ "rules": [canary(1.0)] })), |r| is(Rollout, "1.1.0", Some("canary"))(r)),
        Case {
            alias: "canary",
            ..case("a stable rule does not touch canary pages", Some(json!({ "rules": [canary(1.0)] })), |r| is(Alias, "1.1.0", None)(r))
        },
        Case {
            now: "2026-12-01T14:59:59Z",
            ..case("ramp not started yet", Some(json!({ "rules": [ramp.clone()] })), |r| is(Alias, "1.0.0", None)(r))
        },
        Case {
            now: "2026-12-01T14:59:59Z",
            ..case("ramp not started yet: the rule's coverage applies", Some(json!({ "rules": [ramped_from_full] })), |r| {
                is(Rollout, "1.1.0", Some("canary"))(r)
            })
        },
        Case {
            now: "2026-12-01T15:12:00Z",
            ..case("ramp at 25%: included", Some(json!({ "rules": [ramp.clone()] })), |r| {
                is(Rollout, "1.1.0", Some("canary"))(r) && r.as_ref().is_ok_and(|a| a.bucket.unwrap() >= 0.05)
            })
        },
        Case {
            now: "2026-12-01T15:12:00Z",
            ..case("ramp at 25%: not included", Some(json!({ "rules": [ramp.clone()] })), |r| is(Alias, "1.0.0", None)(r))
        },
        Case {
            now: "2026-12-01T16:00:00Z",
            ..case("ramp at 100% from its exact time", Some(json!({ "rules": [ramp.clone()] })), |r| {
                is(Rollout, "1.1.0", Some("canary"))(r) && r.as_ref().is_ok_and(|a| a.bucket.unwrap() > 0.9)
            })
        },
        case("experiment 50/50: control", Some(json!({ "rules": [experiment(json!({}))] })), |r| {
            is(Experiment, "1.0.0", Some("control"))(r)
        }),
        case("experiment 50/50: b", Some(json!({ "rules": [experiment(json!({}))] })), |r| is(Experiment, "1.1.0", Some("b"))(r)),
        case("experiment 20/30/50: c", Some(json!({ "rules": [three.clone()] })), |r| is(Experiment, "1.2.0", Some("c"))(r)),
        case("experiment 20/30/50: b", Some(json!({ "rules": [three] })), |r| is(Experiment, "1.1.0", Some("b"))(r)),
        case("experiment coverage 0.5: outside the ranges", Some(json!({ "rules": [experiment(json!({ "coverage": 0.5 }))] })), |r| {
            is(Alias, "1.0.0", None)(r)
        }),
        case("namespace hit", Some(json!({ "rules": [ns([0.0, 0.5])] })), |r| r.as_ref().is_ok_and(|a| a.kind == Experiment)),
        case("namespace miss", Some(json!({ "rules": [ns([0.0, 0.5])] })), |r| is(Alias, "1.0.0", None)(r)),
        Case {
            attributes: map(&[("group", "internal")]),
            ..case("condition met", Some(json!({ "rules": [internal.clone()] })), |r| is(Rollout, "1.1.0", Some("canary"))(r))
        },
        Case {
            attributes: map(&[("group", "public")]),
            ..case("condition not met", Some(json!({ "rules": [internal.clone()] })), |r| is(Alias, "1.0.0", None)(r))
        },
        case("condition attribute missing", Some(json!({ "rules": [internal] })), |r| is(Alias, "1.0.0", None)(r)),
        Case {
            attributes: map(&[("account", "acct-41")]),
            ..case("hash on another attribute, hash v1, own seed: in", Some(json!({ "rules": [by_account.clone()] })), |r| {
                is(Rollout, "1.1.0", Some("canary"))(r)
            })
        },
        Case {
            attributes: map(&[("account", "acct-42")]),
            ..case("hash on another attribute, hash v1, own seed: out", Some(json!({ "rules": [by_account.clone()] })), |r| {
                is(Alias, "1.0.0", None)(r)
            })
        },
        Case {
            attributes: map(&[("account", "")]),
            ..case("hash attribute empty: rule skipped", Some(json!({ "rules": [by_account.clone()] })), |r| is(Alias, "1.0.0", None)(r))
        },
        case("hash attribute missing: rule skipped", Some(json!({ "rules": [by_account] })), |r| is(Alias, "1.0.0", None)(r)),
        Case {
            id: Some("élève-😀-42"),
            ..case("non-ASCII id (UTF-16 code units)", Some(json!({ "rules": [canary(0.5)] })), |r| r.is_ok())
        },
        Case {
            stored: map(&[("mnist-ab__2", "b")]),
            ..case("sticky: stored arm reused over the hash", Some(json!({ "rules": [sticky.clone()] })), |r| {
                is(Experiment, "1.1.0", Some("b"))(r) && r.as_ref().is_ok_and(|a| a.bucket.unwrap() < 0.25)
            })
        },
        Case {
            stored: map(&[("mnist-ab__1", "b")]),
            ..case("sticky: older bucket version ignored", Some(json!({ "rules": [sticky.clone()] })), |r| {
                is(Experiment, "1.0.0", Some("control"))(r)
            })
        },
        Case {
            stored: map(&[("mnist-ab__2", "gone")]),
            ..case("sticky: arm no longer there ignored", Some(json!({ "rules": [sticky] })), |r| {
                is(Experiment, "1.0.0", Some("control"))(r)
            })
        },
        Case {
            stored: map(&[("mnist-ab__0", "b")]),
            ..case("sticky skips the namespace check (GrowthBook)", Some(json!({ "rules": [ns([0.0, 0.0])] })), |r| {
                is(Experiment, "1.1.0", Some("b"))(r)
            })
        },
        Case {
            stored: map(&[("mnist-ab__0", "b")]),
            ..case(
                "sticky does not skip the condition",
                Some(json!({ "rules": [experiment(json!({ "condition": { "group": ["internal"] } }))] })),
                |r| is(Alias, "1.0.0", None)(r),
            )
        },
        case("two rules: the first that assigns wins", Some(two_rules.clone()), |r| is(Rollout, "1.1.0", Some("canary"))(r)),
        case("two rules: falls through to the second", Some(two_rules), |r| is(Experiment, "1.0.0", Some("control"))(r)),
        case("shadow and interleave do not change the served version", Some(shadowed), |r| r.as_ref().is_ok_and(|a| a.kind == Rollout)),
        case("kill: stable for a stable page", Some(json!({ "kill": true, "rules": [canary(1.0)] })), |r| is(Kill, "1.0.0", None)(r)),
        Case {
            alias: "canary",
            ..case("kill: stable for a canary page too", Some(json!({ "kill": true })), |r| is(Kill, "1.0.0", None)(r))
        },
        Case { pin: Some("1.2.0"), ..case("pin beats the rules", Some(json!({ "rules": [canary(1.0)] })), |r| is(Pin, "1.2.0", None)(r)) },
        Case { pin: Some("1.1.0"), ..case("pin beats kill", Some(json!({ "kill": true })), |r| is(Pin, "1.1.0", None)(r)) },
        Case { pin: Some("9.9.9"), ..case("pin of an unpublished version is refused", None, |r| r.is_err()) },
        Case { alias: "beta", ..case("unknown alias is refused", None, |r| r.is_err()) },
    ]
}

fn base_channel(rollout: &Option<Value>) -> Channel {
    channel_with(rollout.clone().unwrap_or(json!({}))).unwrap_or_else(|e| panic!("{e}"))
}

fn compute() -> Value {
    let mut out = Vec::new();
    for c in cases() {
        let channel = base_channel(&c.rollout);
        let now_ms = parse_utc_millis(c.now).unwrap();
        let candidates: Vec<String> = match c.id {
            Some(id) => vec![id.to_string()],
            None => (0..1000).map(|i| format!("install-{i}")).collect(),
        };
        let (id, result) = candidates
            .into_iter()
            .map(|id| {
                let unit =
                    Unit { id: id.clone(), attributes: c.attributes.clone(), stored: c.stored.clone(), pin: c.pin.map(String::from) };
                let result = assign(&channel, c.alias, &unit, now_ms);
                (id, result)
            })
            .find(|(_, r)| (c.wants)(r))
            .unwrap_or_else(|| panic!("no id exercises case {:?}", c.name));
        let (expected, error) = match &result {
            Ok(a) => (serde_json::to_value(a).unwrap(), Value::Null),
            Err(e) => (Value::Null, Value::String(e.to_string())),
        };
        out.push(json!({
            "name": c.name,
            "channel": serde_json::from_str::<Value>(&channel.to_json()).unwrap(),
            "alias": c.alias,
            "id": id,
            "attributes": c.attributes,
            "stored": c.stored,
            "pin": c.pin,
            "now": c.now,
            "nowMs": now_ms,
            "expected": expected,
            "error": error,
        }));
    }
    json!({
        "_about": "Rollout assignment cases computed by burn_edge_formats::rollout::assign (crates/formats/src/rollout/vectors.rs, BLESS=1 rewrites). For each case, assign(channel, alias, {id, attributes, stored, pin}, nowMs) must give `expected`, or refuse when `error` is set.",
        "cases": out,
    })
}

#[test]
fn the_committed_assignment_vectors_are_what_this_code_computes() {
    let generated = serde_json::to_string_pretty(&compute()).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/assignment-vectors.json");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(committed == generated, "{path} is stale: run `BLESS=1 cargo test --workspace assignment_vectors`");
    // Every branch of the assignment is represented.
    let cases: Vec<Value> = serde_json::from_str::<Value>(&committed).unwrap()["cases"].as_array().unwrap().clone();
    for kind in ["rollout", "experiment", "alias", "pin", "kill"] {
        assert!(cases.iter().any(|c| c["expected"]["kind"] == kind), "no {kind} case");
    }
    assert!(cases.iter().filter(|c| !c["error"].is_null()).count() >= 2);
    assert!(cases.len() >= 30, "{}", cases.len());
}
