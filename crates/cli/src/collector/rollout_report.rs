//! `GET /api/rollout?model=<name>`: one model's rollout, per rule x arm (users, exposures,
//! served predictions, latency percentiles, errors, fallbacks, drift against the manifest),
//! the control group, champion/challenger shadow pairs (agreement, confusion matrix, latency of
//! each side), interleave picks, hot swaps, the channel file and the guard/CLI log.
//!
//! Only sufficient counts for the statistics are given (per arm: errors, fallbacks,
//! predictions, predictions slower than control's p95; per rule: exposures per arm and the
//! configured shares); the tests themselves (`vsControl`, `srm.chiSquare`, interleave `ci95`)
//! are added on top by the statistics module.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::drift::{js_distance, psi, psi_level};
use super::report::{percentile, References};
use super::store::{bucket_of, ArmKey, Bucket, EventStore, RolloutLimits, StoreError, CONFUSION_CLASSES, FINE, MAX_CLASSES};

/// Largest channel or log file read (the CLI keeps the log to 200 entries).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Log entries returned: the newest.
pub const MAX_LOG_ENTRIES: usize = 200;

/// Whether `model` is a plain folder name: letters, digits, `.`, `_`, `-`, not starting with a dot.
pub fn valid_model_name(model: &str) -> bool {
    (1..=128).contains(&model.len()) && !model.starts_with('.') && model.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// One arm key's numbers, merged from the store's rows.
#[derive(Default, Clone)]
struct Stats {
    exposures: i64,
    predictions: i64,
    errors: i64,
    fallbacks: i64,
    /// Served predictions with feedback, and of them wrong.
    feedback: i64,
    wrong: i64,
    latency: BTreeMap<i64, Bucket>,
    classes: BTreeMap<i64, i64>,
    versions: BTreeMap<String, i64>,
}

impl Stats {
    fn merge(&mut self, other: &Stats) {
        self.exposures += other.exposures;
        self.predictions += other.predictions;
        self.errors += other.errors;
        self.fallbacks += other.fallbacks;
        self.feedback += other.feedback;
        self.wrong += other.wrong;
        for b in other.latency.values() {
            add_bucket(&mut self.latency, *b);
        }
        for (c, n) in &other.classes {
            *self.classes.entry(*c).or_default() += n;
        }
        for (v, n) in &other.versions {
            *self.versions.entry(v.clone()).or_default() += n;
        }
    }

    fn buckets(&self) -> Vec<Bucket> {
        self.latency.values().copied().collect()
    }

    /// The version most of its events were of.
    fn version(&self) -> String {
        self.versions.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(v, _)| v.clone()).unwrap_or_default()
    }
}

fn add_bucket(into: &mut BTreeMap<i64, Bucket>, b: Bucket) {
    let slot = into.entry(b.index).or_insert(Bucket { count: 0, ..b });
    slot.count += b.count;
    slot.min = slot.min.min(b.min);
    slot.max = slot.max.max(b.max);
}

/// The file at `path` as JSON: `Ok(None)` when absent, `Err` with why it is unusable.
fn read_json(path: &Path) -> Result<Option<Value>, String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("{} is over {MAX_FILE_BYTES} bytes", path.display()));
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// The guard/CLI log: the newest `MAX_LOG_ENTRIES` objects, and an error when unusable.
fn read_log(path: &Path) -> (Vec<Value>, Option<String>) {
    match read_json(path) {
        Ok(None) => (Vec::new(), None),
        Ok(Some(Value::Array(entries))) => {
            let objects: Vec<Value> = entries.into_iter().filter(Value::is_object).collect();
            let skip = objects.len().saturating_sub(MAX_LOG_ENTRIES);
            (objects.into_iter().skip(skip).collect(), None)
        }
        Ok(Some(_)) => (Vec::new(), Some(format!("{} is not a JSON array", path.display()))),
        Err(e) => (Vec::new(), Some(e)),
    }
}

/// The rules of a channel's `rollout`, by key.
fn channel_rules(channel: &Value) -> Vec<&Map<String, Value>> {
    channel["rollout"]["rules"].as_array().map(|r| r.iter().filter_map(Value::as_object).collect()).unwrap_or_default()
}

/// A rule's coverage now: the latest ramp step at or before `now`, else `coverage`.
fn coverage_now(rule: &Map<String, Value>, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    let step = rule.get("ramp").and_then(Value::as_array).and_then(|steps| {
        steps
            .iter()
            .filter_map(|s| {
                let at = chrono::DateTime::parse_from_rfc3339(s["at"].as_str()?).ok()?;
                Some((at, s["coverage"].as_f64()?))
            })
            .filter(|(at, _)| *at <= now)
            .max_by_key(|(at, _)| *at)
            .map(|(_, c)| c)
    });
    step.or_else(|| rule.get("coverage").and_then(Value::as_f64))
}

/// Per arm of a rule: the configured share of its units (experiment: weights; rollout: the
/// coverage now and the rest as `control`).
fn expected_shares(rule: &Map<String, Value>, now: chrono::DateTime<chrono::Utc>) -> Option<Map<String, Value>> {
    let arms = rule.get("arms")?.as_array()?;
    let mut out = Map::new();
    if rule.get("kind").and_then(Value::as_str) == Some("experiment") {
        for arm in arms {
            out.insert(arm["name"].as_str()?.to_string(), json!(arm["weight"].as_f64()?));
        }
    } else {
        let coverage = coverage_now(rule, now)?;
        out.insert(arms.first()?["name"].as_str()?.to_string(), json!(coverage));
        out.insert("control".into(), json!(1.0 - coverage));
    }
    Some(out)
}

/// The whole rollout report of `model` (a name `valid_model_name` accepts), for `rule` or the
/// channel's first rule with events.
pub fn build(store: &dyn EventStore, references: &References, model: &str, rule: Option<&str>) -> Result<Value, StoreError> {
    build_at(store, references, model, rule, chrono::Utc::now())
}

fn build_at(
    store: &dyn EventStore,
    references: &References,
    model: &str,
    selected: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Value, StoreError> {
    let dir = references.models_root().join(model);
    let (channel, channel_error) = match read_json(&dir.join("channel.json")) {
        Ok(c) => (c.filter(Value::is_object), None),
        Err(e) => (None, Some(e)),
    };
    let (log, log_error) = read_log(&dir.join("rollout-log.json"));
    let channel_value = channel.clone().unwrap_or(Value::Null);
    let rules = channel_rules(&channel_value);
    let agg = store.rollout(model, &RolloutLimits::default())?;

    let mut stats: BTreeMap<ArmKey, Stats> = BTreeMap::new();
    for (key, event, n) in &agg.counts {
        let s = stats.entry(key.clone()).or_default();
        match event.as_str() {
            "burn_edge.exposure" => s.exposures += n,
            "burn_edge.inference" => s.predictions += n,
            "burn_edge.error" => s.errors += n,
            "burn_edge.backend.fallback" => s.fallbacks += n,
            _ => {}
        }
        *s.versions.entry(key.version.clone()).or_default() += n;
    }
    for (key, b) in &agg.latency {
        add_bucket(&mut stats.entry(key.clone()).or_default().latency, *b);
    }
    for (key, labelled, correct) in &agg.feedback {
        let s = stats.entry(key.clone()).or_default();
        s.feedback += labelled;
        s.wrong += labelled - correct;
    }
    for (key, class, n) in &agg.classes {
        *stats.entry(key.clone()).or_default().classes.entry(*class).or_default() += n;
    }
    let users: HashMap<(&str, &str, &str), i64> =
        agg.users.iter().map(|(k, n)| ((k.alias.as_str(), k.rule.as_str(), k.arm.as_str()), *n)).collect();
    let users_of = |alias: &str, rule: &str, arm: &str| users.get(&(alias, rule, arm)).copied().unwrap_or(0);

    // Rules: the channel's in its order, then others seen in the events.
    let mut rule_keys: Vec<String> = rules.iter().filter_map(|r| r.get("key")?.as_str().map(str::to_string)).collect();
    for key in stats.keys().filter(|k| !k.rule.is_empty()) {
        if !rule_keys.contains(&key.rule) {
            rule_keys.push(key.rule.clone());
        }
    }
    let has_events = |rule: &str| stats.keys().any(|k| k.rule == rule);
    let rule_of = |key: &str| rules.iter().find(|r| r.get("key").and_then(Value::as_str) == Some(key)).copied();
    // Without a `rule` asked for: the channel's first rule with events; with none in the channel
    // (after a rollback), the rule the newest log entry names, if it saw events (so the page
    // shows what the guard just judged), else any rule with events.
    let in_channel = |r: &&String| rule_of(r).is_some();
    let last_logged = log.iter().rev().find_map(|e| e["rule"].as_str()).map(str::to_string).filter(|r| has_events(r));
    let selected = selected
        .map(str::to_string)
        .or_else(|| rule_keys.iter().filter(in_channel).find(|r| has_events(r)).cloned())
        .or(last_logged)
        .or_else(|| rule_keys.iter().find(|r| has_events(r)).cloned())
        .or_else(|| rule_keys.first().cloned());

    // The control of a rule: an experiment's arm named control (else its first); for a rollout,
    // the events on the rule's alias outside any rule.
    let control_of = |rule: &str| -> (Stats, i64, Option<String>, String) {
        let spec = rule_of(rule);
        let experiment = spec.and_then(|r| r.get("kind")?.as_str()) == Some("experiment");
        if experiment {
            let arms: Vec<&str> = spec
                .and_then(|r| r.get("arms")?.as_array())
                .map(|a| a.iter().filter_map(|a| a["name"].as_str()).collect())
                .unwrap_or_default();
            let name = if arms.contains(&"control") { Some("control") } else { arms.first().copied() };
            let mut s = Stats::default();
            for (k, v) in stats.iter().filter(|(k, _)| k.rule == rule && Some(k.arm.as_str()) == name) {
                let _ = k;
                s.merge(v);
            }
            let alias = spec.and_then(|r| r.get("alias")?.as_str()).unwrap_or_default().to_string();
            return (s, users_of("", rule, name.unwrap_or("")), name.map(str::to_string), alias);
        }
        let alias = spec.and_then(|r| r.get("alias")?.as_str()).map(str::to_string).or_else(|| {
            // A rule no longer in the channel: the busiest alias outside rules.
            let mut by_alias: BTreeMap<&str, i64> = BTreeMap::new();
            for (k, v) in stats.iter().filter(|(k, _)| k.rule.is_empty()) {
                *by_alias.entry(k.alias.as_str()).or_default() += v.predictions;
            }
            by_alias.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0))).map(|(a, _)| a.to_string())
        });
        let alias = alias.unwrap_or_default();
        let mut s = Stats::default();
        for (_, v) in stats.iter().filter(|(k, _)| k.rule.is_empty() && k.alias == alias) {
            s.merge(v);
        }
        (s, users_of(&alias, "", ""), None, alias)
    };

    let entry = |rule: Option<&str>, arm: Option<&str>, version: &str, users: i64, s: &Stats, control_p95: Option<f64>| {
        let latencies = s.buckets();
        let (p50, p95) = (percentile(&latencies, 50.0), percentile(&latencies, 95.0));
        // Slower than the upper edge of the bucket holding control's p95: exact in both stores.
        let slow = control_p95.map(|p| {
            let edge = bucket_of(p, FINE);
            latencies.iter().filter(|b| b.index > edge).map(|b| b.count).sum::<i64>()
        });
        let requests = s.predictions.max(1) as f64;
        json!({
            "rule": rule, "arm": arm, "version": version,
            "kind": rule.and_then(rule_of).and_then(|r| r.get("kind").cloned()),
            "users": users, "exposures": s.exposures, "predictions": s.predictions,
            "p50Ms": p50, "p95Ms": p95,
            "errors": s.errors, "errorRate": s.errors as f64 / requests,
            "fallbacks": s.fallbacks, "fallbackRate": s.fallbacks as f64 / requests,
            "feedback": s.feedback, "wrong": s.wrong,
            "accuracy": (s.feedback > 0).then(|| 1.0 - s.wrong as f64 / s.feedback as f64),
            "slowOverControlP95": slow,
            "latencyOverControlP95": slow.map(|n| n as f64 / requests),
            "drift": drift(references, model, version, &s.classes),
        })
    };

    let mut arms = Vec::new();
    let mut controls = Map::new();
    for rule in &rule_keys {
        let (control, control_users, control_arm, alias) = control_of(rule);
        let control_p95 = percentile(&control.buckets(), 95.0);
        let mut c = entry(Some(rule), control_arm.as_deref(), &control.version(), control_users, &control, control_p95);
        c["control"] = json!(true);
        c["alias"] = json!(alias);
        if control_arm.is_none() {
            c["rule"] = Value::Null;
            c["controlOf"] = json!(rule);
        }
        for (k, s) in stats.iter().filter(|(k, _)| &k.rule == rule) {
            let mut a = entry(Some(rule), Some(&k.arm), &k.version, users_of("", rule, &k.arm), s, control_p95);
            a["control"] = json!(Some(k.arm.as_str()) == control_arm.as_deref());
            arms.push(a);
        }
        controls.insert(rule.clone(), c);
    }
    let control = selected.as_ref().and_then(|r| controls.get(r).cloned());
    let srm = selected.as_ref().map(|rule| {
        let mut exposures: BTreeMap<&str, i64> = BTreeMap::new();
        for (k, s) in stats.iter().filter(|(k, _)| &k.rule == rule) {
            *exposures.entry(k.arm.as_str()).or_default() += s.exposures;
        }
        let mut observed: Map<String, Value> = exposures.into_iter().map(|(arm, n)| (arm.to_string(), json!(n))).collect();
        let spec = rule_of(rule);
        if spec.and_then(|r| r.get("kind")?.as_str()) != Some("experiment") {
            // A rollout's control gets no exposure: its units are those seen outside the rule.
            observed.insert("control".into(), controls.get(rule).map_or(json!(0), |c| c["users"].clone()));
        }
        json!({ "rule": rule, "observed": observed, "expectedShares": spec.and_then(|r| expected_shares(r, now)) })
    });

    let shadow: Vec<Value> = agg
        .shadow
        .iter()
        .map(|p| {
            let labels = references.get(model, &p.champion).map(|m| m.labels.len() as i64);
            let seen = p.confusion.iter().flat_map(|&(a, b, _)| [a, b]).max().unwrap_or(-1) + 1;
            let n = labels.unwrap_or(seen).clamp(0, CONFUSION_CLASSES) as usize;
            let mut matrix = vec![vec![0i64; n]; n];
            let mut out_of_range = 0;
            for &(a, b, count) in &p.confusion {
                match (usize::try_from(a).ok().filter(|&a| a < n), usize::try_from(b).ok().filter(|&b| b < n)) {
                    (Some(a), Some(b)) => matrix[a][b] += count,
                    _ => out_of_range += count,
                }
            }
            let pct = |b: &[Bucket], q| percentile(&sorted(b), q);
            json!({
                "champion": p.champion, "challenger": p.challenger, "pairs": p.pairs, "agreeing": p.agreeing,
                "agreement": (p.pairs > 0).then(|| p.agreeing as f64 / p.pairs as f64),
                "confusion": matrix, "confusionOutOfRange": out_of_range,
                "championP50Ms": pct(&p.champion_latency, 50.0), "championP95Ms": pct(&p.champion_latency, 95.0),
                "challengerP50Ms": pct(&p.challenger_latency, 50.0), "challengerP95Ms": pct(&p.challenger_latency, 95.0),
            })
        })
        .collect();

    let interleave = interleave(&agg.picks, &channel_value);
    let swaps = sorted(&agg.swaps);
    Ok(json!({
        "model": model,
        "rule": selected,
        "rules": rule_keys,
        "channel": channel,
        "channelError": channel_error,
        "arms": arms,
        "control": control,
        "controls": controls,
        "srm": srm,
        "shadow": shadow,
        "interleave": interleave,
        "swaps": {
            "count": swaps.iter().map(|b| b.count).sum::<i64>(),
            "p50Ms": percentile(&swaps, 50.0), "p95Ms": percentile(&swaps, 95.0),
        },
        "guard": log,
        "logError": log_error,
    }))
}

fn sorted(b: &[Bucket]) -> Vec<Bucket> {
    let mut b = b.to_vec();
    b.sort_by_key(|b| b.index);
    b
}

/// Drift of an arm's predicted classes against its version's manifest reference.
fn drift(references: &References, model: &str, version: &str, classes: &BTreeMap<i64, i64>) -> Value {
    let Some(manifest) = references.get(model, version) else { return Value::Null };
    let reference = &manifest.reference.class_distribution;
    let len = manifest.labels.len().min(MAX_CLASSES as usize);
    if reference.len() != len {
        return Value::Null;
    }
    let mut distribution = vec![0.0; len];
    for (&c, &n) in classes {
        if let Some(slot) = usize::try_from(c).ok().and_then(|c| distribution.get_mut(c)) {
            *slot += n as f64;
        }
    }
    if distribution.iter().sum::<f64>() <= 0.0 {
        return Value::Null;
    }
    let score = psi(&distribution, reference);
    json!({ "psi": score, "level": psi_level(score), "jsDistance": js_distance(&distribution, reference) })
}

/// Interleave picks per rule: wins per arm, ties, and the share of decided picks won by the
/// channel's second arm.
fn interleave(picks: &[(String, String, i64)], channel: &Value) -> Vec<Value> {
    let mut by_rule: BTreeMap<&str, (Map<String, Value>, i64)> = BTreeMap::new();
    for (rule, winner, n) in picks {
        let slot = by_rule.entry(rule.as_str()).or_default();
        if winner == "tie" {
            slot.1 += n;
        } else {
            slot.0.insert(winner.clone(), json!(n));
        }
    }
    let specs = channel["rollout"]["interleave"].as_array().cloned().unwrap_or_default();
    by_rule
        .into_iter()
        .map(|(rule, (wins, ties))| {
            let spec = specs.iter().find(|s| s["key"].as_str() == Some(rule));
            let names: Vec<&str> =
                spec.and_then(|s| s["arms"].as_array()).map(|a| a.iter().filter_map(|a| a["name"].as_str()).collect()).unwrap_or_default();
            let won = |name: &str| wins.get(name).and_then(Value::as_i64).unwrap_or(0);
            let preference_b = match names.as_slice() {
                [a, b] if won(a) + won(b) > 0 => Some(won(b) as f64 / (won(a) + won(b)) as f64),
                _ => None,
            };
            json!({ "rule": rule, "arms": names, "wins": wins, "ties": ties, "preferenceB": preference_b })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_plain_folder_names() {
        for ok in ["mnist", "squeezenet", "my-model_2.1", "a"] {
            assert!(valid_model_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "../etc", "a/b", "a\\b", ".hidden", "a b", "mnist%2f..", &"m".repeat(129), "é"] {
            assert!(!valid_model_name(bad), "{bad}");
        }
    }

    #[test]
    fn coverage_follows_the_ramp() {
        let rule: Value = serde_json::from_str(
            r#"{"coverage":0.1,"arms":[{"name":"canary"}],"ramp":[{"at":"2026-12-01T16:00:00Z","coverage":0.25},{"at":"2026-12-01T15:00:00Z","coverage":0.05}]}"#,
        )
        .unwrap();
        let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&chrono::Utc);
        let rule = rule.as_object().unwrap();
        assert_eq!(coverage_now(rule, at("2026-12-01T14:00:00Z")), Some(0.1));
        assert_eq!(coverage_now(rule, at("2026-12-01T15:30:00Z")), Some(0.05));
        assert_eq!(coverage_now(rule, at("2026-12-02T00:00:00Z")), Some(0.25));
        let shares = expected_shares(rule, at("2026-12-02T00:00:00Z")).unwrap();
        assert_eq!(Value::Object(shares), json!({ "canary": 0.25, "control": 0.75 }));
    }

    #[test]
    fn an_experiments_control_is_its_control_arm_and_srm_counts_every_arm() {
        use super::super::events::{Event, Rollout};
        use super::super::sqlite::{tests::inference, SqliteStore};
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("m")).unwrap();
        let channel = json!({ "rollout": { "rules": [{ "key": "exp", "kind": "experiment", "alias": "stable", "coverage": 1,
            "arms": [{ "name": "b", "version": "1.1.0", "weight": 0.3 }, { "name": "control", "version": "1.0.0", "weight": 0.7 }] }] } });
        std::fs::write(dir.path().join("m/channel.json"), channel.to_string()).unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        let tagged = |e: Event, arm: &str, version: &str, install: &str| Event {
            install_id: Some(install.into()),
            model_version: Some(version.into()),
            rollout: Rollout { rule: Some("exp".into()), arm: Some(arm.into()), alias: Some("stable".into()), ..Rollout::default() },
            ..e
        };
        let exposure = |id: &str, arm: &str, version: &str, install: &str| Event {
            name: "burn_edge.exposure".into(),
            latency_ms: None,
            predicted_class: None,
            ..tagged(inference("a", id, "m", 0, 0.0, 1, None), arm, version, install)
        };
        let mut events = Vec::new();
        for u in 0..7 {
            events.push(exposure(&format!("xc{u}"), "control", "1.0.0", &format!("c{u}")));
            events.push(tagged(inference("a", &format!("ic{u}"), "m", 1, 1.0 + u as f64, 1, None), "control", "1.0.0", &format!("c{u}")));
        }
        for u in 0..3 {
            events.push(exposure(&format!("xb{u}"), "b", "1.1.0", &format!("b{u}")));
            events.push(tagged(inference("a", &format!("ib{u}"), "m", 1, 100.0, 1, None), "b", "1.1.0", &format!("b{u}")));
        }
        // Outside the experiment: not its control.
        events.push(inference("a", "plain", "m", 1, 1.0, 1, None));
        store.insert(&events, 0).unwrap();
        let r = build(&store, &References::new(dir.path().into()), "m", None).unwrap();
        assert_eq!(
            (r["rule"].as_str(), r["control"]["arm"].as_str(), r["control"]["predictions"].as_i64()),
            (Some("exp"), Some("control"), Some(7))
        );
        assert_eq!((r["control"]["users"].as_i64(), r["control"]["p95Ms"].as_f64()), (Some(7), Some(7.0)));
        let b = r["arms"].as_array().unwrap().iter().find(|a| a["arm"] == "b").unwrap();
        assert_eq!((b["users"].as_i64(), b["slowOverControlP95"].as_i64(), b["control"].as_bool()), (Some(3), Some(3), Some(false)));
        assert_eq!(r["srm"]["observed"], json!({ "b": 3, "control": 7 }));
        assert_eq!(r["srm"]["expectedShares"], json!({ "b": 0.3, "control": 0.7 }));
    }

    #[test]
    fn a_missing_or_broken_log_is_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rollout-log.json");
        assert_eq!(read_log(&path), (vec![], None));
        for (text, message) in [("{\"not\":\"a list\"}", "not a JSON array"), ("[{\"at\":", "not JSON"), ("\u{0}\u{ff}", "not JSON")] {
            std::fs::write(&path, text).unwrap();
            let (entries, error) = read_log(&path);
            assert!(entries.is_empty() && error.as_deref().is_some_and(|e| e.contains(message)), "{text}: {error:?}");
        }
        std::fs::write(&path, vec![b' '; (MAX_FILE_BYTES + 1) as usize]).unwrap();
        assert!(read_log(&path).1.unwrap().contains("over"));
        let many: Vec<Value> = (0..300).map(|i| json!({ "at": i })).chain([json!(5), json!("x")]).collect();
        std::fs::write(&path, serde_json::to_string(&many).unwrap()).unwrap();
        let (entries, error) = read_log(&path);
        assert_eq!((entries.len(), error), (MAX_LOG_ENTRIES, None));
        assert_eq!((entries[0]["at"].as_i64(), entries[199]["at"].as_i64()), (Some(100), Some(299)), "the newest, oldest first");
    }
}
