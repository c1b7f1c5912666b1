//! The statistics on top of `/api/rollout`'s counts (`burn-edge-stats`): each arm against its
//! rule's control as one look of the guard's own test (`vsControl`: per metric the difference,
//! the always-valid p-value and whether it is significantly worse), the selected rule's sample
//! ratio mismatch (`srm.chiSquare`, `pValue`, `mismatch`), and each interleave's preference
//! interval (`ci95`). `guard_input` is also what `rollout guard` judges, so the dashboard and
//! the guard read the same numbers the same way.

use burn_edge_stats::{check, preference, ArmCounts, GuardConfig, GuardInput, GuardState, Split};
use serde_json::{json, Value};

/// A count field of a report entry (absent, negative or not a number: 0).
fn count(entry: &Value, field: &str) -> u64 {
    entry[field].as_u64().unwrap_or(0)
}

/// The guard's counts of one report entry. A rollout's control has no exposure events (its
/// units are simply not in the rule): its units are its users.
pub fn arm_counts(entry: &Value) -> ArmCounts {
    let rollout_control = entry["control"].as_bool() == Some(true) && entry["rule"].is_null();
    ArmCounts {
        exposures: if rollout_control { count(entry, "users") } else { count(entry, "exposures") },
        predictions: count(entry, "predictions"),
        errors: count(entry, "errors"),
        fallbacks: count(entry, "fallbacks"),
        slow: count(entry, "slowOverControlP95"),
        feedback: count(entry, "feedback"),
        wrong: count(entry, "wrong"),
    }
}

/// The treatment arm of `rule` in `report` (`arm`, or its first arm that is not the control).
pub fn treatment<'a>(report: &'a Value, rule: &str, arm: Option<&str>) -> Option<&'a Value> {
    report["arms"].as_array()?.iter().find(|a| {
        a["rule"].as_str() == Some(rule) && a["control"].as_bool() != Some(true) && arm.is_none_or(|name| a["arm"].as_str() == Some(name))
    })
}

/// The configured split between `treatment`'s arm and the control, when the report's SRM block
/// is this rule's and the split did not change within the counting window (a ramp that has
/// already taken more than one step mixes two splits: no SRM then).
fn split(report: &Value, rule: &str, treatment: &Value) -> Option<Split> {
    let srm = &report["srm"];
    if srm["rule"].as_str() != Some(rule) {
        return None;
    }
    let spec = report["channel"]["rollout"]["rules"].as_array()?.iter().find(|r| r["key"].as_str() == Some(rule))?;
    let now = chrono::Utc::now();
    let steps_taken = spec["ramp"].as_array().map_or(0, |steps| {
        steps
            .iter()
            .filter(|s| s["at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_some_and(|at| at <= now))
            .count()
    });
    // A targeted rule's control also holds the units it never targets: no fair split to test.
    if steps_taken > 1 || spec.get("condition").is_some_and(|c| !c.is_null()) || spec.get("namespace").is_some_and(|n| !n.is_null()) {
        return None;
    }
    let shares = &srm["expectedShares"];
    let control_name = report["controls"][rule]["arm"].as_str().unwrap_or("control");
    let t = shares[treatment["arm"].as_str()?].as_f64()?;
    let c = shares[control_name].as_f64()?;
    Some(Split { control: c, treatment: t })
}

/// One guard check's input for `rule` (and `arm`) from a report; `Err` says what is missing.
pub fn guard_input(report: &Value, rule: &str, arm: Option<&str>) -> Result<GuardInput, String> {
    let t = treatment(report, rule, arm).ok_or_else(|| {
        format!("the collector has no events of rule {rule:?}{} yet", arm.map(|a| format!(", arm {a:?}")).unwrap_or_default())
    })?;
    let c = report["controls"]
        .get(rule)
        .filter(|c| c.is_object())
        .ok_or_else(|| format!("the collector reports no control for rule {rule:?}"))?;
    Ok(GuardInput { control: arm_counts(c), treatment: arm_counts(t), expected_split: split(report, rule, t) })
}

/// Adds `vsControl` to every non-control arm, the SRM test to `srm`, `ci95` to interleaves.
pub fn annotate(report: &mut Value) {
    if !report.is_object() {
        return;
    }
    let config = GuardConfig::default();
    let snapshot = report.clone();
    if let Some(arms) = report.get_mut("arms").and_then(Value::as_array_mut) {
        for arm in arms.iter_mut().filter(|a| a.is_object() && a["control"].as_bool() != Some(true)) {
            let (Some(rule), name) = (arm["rule"].as_str().map(str::to_string), arm["arm"].as_str().map(str::to_string)) else { continue };
            let Ok(input) = guard_input(&snapshot, &rule, name.as_deref()) else { continue };
            // One look with a fresh state: each p-value is valid for this look alone; the guard
            // keeps the running minimum across its looks.
            match check(&config, &mut GuardState::default(), &GuardInput { expected_split: None, ..input }) {
                Ok(decision) => {
                    let value = serde_json::to_value(&decision).unwrap_or(Value::Null);
                    let mut per_metric = serde_json::Map::new();
                    for m in value["metrics"].as_array().into_iter().flatten() {
                        if let Some(name) = m["metric"].as_str() {
                            per_metric.insert(
                                name.to_string(),
                                json!({ "diff": m["diff"], "pValue": m["pValue"], "significant": m["worse"], "better": m["better"],
                                        "controlRate": m["controlRate"], "treatmentRate": m["treatmentRate"] }),
                            );
                        }
                    }
                    arm["vsControl"] = Value::Object(per_metric);
                    arm["verdict"] = json!({ "decision": value["decision"], "reason": value["reason"] });
                }
                Err(e) => arm["verdict"] = json!({ "error": e.to_string() }),
            }
        }
    }
    if let Some(rule) = snapshot["srm"]["rule"].as_str().filter(|_| snapshot["srm"].is_object()) {
        let observed = &snapshot["srm"]["observed"];
        let shares = &snapshot["srm"]["expectedShares"];
        if let (Some(observed), Some(shares)) = (observed.as_object(), shares.as_object()) {
            let names: Vec<&String> = shares.keys().collect();
            let counts: Vec<u64> = names.iter().map(|n| observed.get(*n).and_then(Value::as_u64).unwrap_or(0)).collect();
            let weights: Vec<f64> = names.iter().map(|n| shares[*n].as_f64().unwrap_or(f64::NAN)).collect();
            let usable = split(&snapshot, rule, treatment(&snapshot, rule, None).unwrap_or(&Value::Null)).is_some() || shares.len() > 2;
            let srm = &mut report["srm"];
            match burn_edge_stats::srm::check(&counts, &weights, burn_edge_stats::srm::DEFAULT_THRESHOLD) {
                Ok(r) if usable => {
                    srm["chiSquare"] = json!(r.chi_square);
                    srm["df"] = json!(r.df);
                    srm["pValue"] = json!(r.p_value);
                    srm["mismatch"] = json!(r.mismatch);
                    srm["expectedCounts"] =
                        json!(names.iter().zip(&r.expected).map(|(n, e)| (n.as_str(), *e)).collect::<std::collections::BTreeMap<_, _>>());
                }
                Ok(_) => srm["skipped"] = json!("a ramp step or targeting changes the split within the window: not tested"),
                Err(e) => srm["skipped"] = json!(e.to_string()),
            }
        }
    }
    if let Some(list) = report.get_mut("interleave").and_then(Value::as_array_mut) {
        for il in list.iter_mut().filter(|il| il.is_object()) {
            let names: Vec<String> = il["arms"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_string)).collect();
            let [a, b] = names.as_slice() else { continue };
            let won = |n: &str| il["wins"][n].as_u64().unwrap_or(0);
            if let Some(p) = preference(won(a), won(b), il["ties"].as_u64().unwrap_or(0)) {
                il["ci95"] = json!([p.ci95.lower, p.ci95.upper]);
                il["significant"] = json!(p.significant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report as `rollout_report::build` shapes it: a 50% canary whose arm errs 3% against 1%.
    fn report() -> Value {
        json!({
            "rule": "c",
            "channel": { "rollout": { "rules": [ { "key": "c", "kind": "rollout", "alias": "stable", "coverage": 0.5,
                                                    "arms": [ { "name": "canary", "version": "1.1.0", "weight": 1 } ] } ] } },
            "arms": [ { "rule": "c", "arm": "canary", "control": false, "version": "1.1.0", "users": 1000, "exposures": 1000,
                        "predictions": 9700, "errors": 300, "fallbacks": 0, "slowOverControlP95": 480, "feedback": 0, "wrong": 0 } ],
            "controls": { "c": { "rule": null, "arm": null, "control": true, "version": "1.0.0", "users": 1010, "exposures": 0,
                                 "predictions": 9900, "errors": 100, "fallbacks": 0, "slowOverControlP95": 495 } },
            "srm": { "rule": "c", "observed": { "canary": 1000, "control": 1010 }, "expectedShares": { "canary": 0.5, "control": 0.5 } },
            "interleave": [ { "rule": "il", "arms": ["a", "b"], "wins": { "a": 10, "b": 30 }, "ties": 2 } ],
        })
    }

    #[test]
    fn guard_input_takes_a_rollout_controls_users_as_its_units() {
        let input = guard_input(&report(), "c", None).unwrap();
        assert_eq!(input.control.exposures, 1010, "users, not the control's (absent) exposures");
        assert_eq!((input.treatment.exposures, input.treatment.errors, input.treatment.slow), (1000, 300, 480));
        assert_eq!(input.expected_split, Some(Split { control: 0.5, treatment: 0.5 }));
        assert!(guard_input(&report(), "nope", None).unwrap_err().contains("no events of rule \"nope\""));
    }

    #[test]
    fn a_ramped_or_targeted_rule_gets_no_split_test() {
        let mut r = report();
        r["channel"]["rollout"]["rules"][0]["condition"] = json!({ "group": ["internal"] });
        assert_eq!(guard_input(&r, "c", None).unwrap().expected_split, None);
        let mut r = report();
        r["channel"]["rollout"]["rules"][0]["ramp"] =
            json!([{ "at": "2026-01-01T00:00:00Z", "coverage": 0.1 }, { "at": "2026-01-02T00:00:00Z", "coverage": 0.5 }]);
        assert_eq!(guard_input(&r, "c", None).unwrap().expected_split, None);
    }

    #[test]
    fn annotate_adds_the_tests_the_dashboard_shows() {
        let mut r = report();
        annotate(&mut r);
        let vs = &r["arms"][0]["vsControl"];
        assert_eq!(r["arms"][0]["verdict"]["decision"], "rollback", "{}", r["arms"][0]);
        assert_eq!(vs["errorRate"]["significant"], true);
        assert!((vs["errorRate"]["diff"].as_f64().unwrap() - 0.02).abs() < 1e-9);
        assert_eq!(vs["slowShare"]["significant"], false);
        assert_eq!(r["srm"]["mismatch"], false);
        assert!(r["srm"]["pValue"].as_f64().unwrap() > 0.5);
        let ci = r["interleave"][0]["ci95"].as_array().unwrap();
        assert!(ci[0].as_f64().unwrap() > 0.5 && ci[1].as_f64().unwrap() < 0.9, "{ci:?}");
        assert_eq!(r["interleave"][0]["significant"], true);
        // Hostile shapes: nothing panics, nothing is added.
        for mut bad in [json!(null), json!({ "arms": "x", "srm": 3, "interleave": [1, { "arms": [1, 2] }] }), json!([])] {
            annotate(&mut bad);
        }
    }
}
