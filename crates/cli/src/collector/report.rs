//! The dashboard's numbers, per model version x backend x variant: request counts, latency
//! percentiles, error and fallback rates, time to first prediction, the predicted-class
//! distribution against the manifest's reference (PSI, Jensen-Shannon distance), the
//! confidence histogram, accuracy from feedback; over time, per minute: latency per group and
//! requests, errors and fallbacks per model version.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn_edge_formats::Manifest;
use serde_json::{json, Value};

use super::drift::{js_distance, psi, psi_level, PSI_ALERT, PSI_WARN};
use super::store::{EventStore, GroupKey, StoreError};

const CONFIDENCE_BINS: usize = 10;

/// Nearest-rank percentile of ascending `sorted`; `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

#[derive(Default)]
struct Acc {
    latencies: Vec<f64>,
    classes: BTreeMap<i64, f64>,
    confidence: [f64; CONFIDENCE_BINS],
    timeline: BTreeMap<i64, Vec<f64>>,
}

/// Sorts ascending, for `percentile`.
fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// Published manifests (the drift references) by model and version, each read from disk once:
/// a published version never changes. A version not found is looked up again next time.
pub struct References {
    models_root: PathBuf,
    cache: Mutex<HashMap<(String, String), Arc<Manifest>>>,
}

impl References {
    pub fn new(models_root: PathBuf) -> Self {
        References { models_root, cache: Mutex::new(HashMap::new()) }
    }

    fn get(&self, model: &str, version: &str) -> Option<Arc<Manifest>> {
        let key = (model.to_string(), version.to_string());
        if let Some(m) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Some(m.clone());
        }
        let manifest = Arc::new(read_manifest(&self.models_root, model, version)?);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(key, manifest.clone());
        Some(manifest)
    }
}

/// The whole report, with drift measured against `references`.
pub fn build(store: &dyn EventStore, references: &References) -> Result<Value, StoreError> {
    let mut groups: BTreeMap<GroupKey, Acc> = BTreeMap::new();
    for row in store.inferences()? {
        let acc = groups.entry(row.group).or_default();
        if let Some(ms) = row.latency_ms {
            acc.latencies.push(ms);
            acc.timeline.entry(row.minute).or_default().push(ms);
        }
        if let Some(c) = row.predicted_class {
            *acc.classes.entry(c).or_default() += 1.0;
        }
        if let Some(p) = row.confidence {
            acc.confidence[((p.clamp(0.0, 1.0) * CONFIDENCE_BINS as f64) as usize).min(CONFIDENCE_BINS - 1)] += 1.0;
        }
    }
    // Errors and fallbacks often happen before a backend is known: count them per version.
    let per_version = |rows: Vec<(GroupKey, i64)>| {
        let mut m: HashMap<(String, String), i64> = HashMap::new();
        for (k, n) in rows {
            *m.entry((k.model, k.version)).or_default() += n;
        }
        m
    };
    let errors = per_version(store.counts_by_version("burn_edge.error")?);
    let fallbacks = per_version(store.counts_by_version("burn_edge.backend.fallback")?);
    let mut loads: HashMap<GroupKey, Vec<f64>> = HashMap::new();
    for (k, ms) in store.load_times()? {
        loads.entry(k).or_default().push(ms);
    }
    let mut feedback: HashMap<GroupKey, (u64, u64)> = HashMap::new();
    for (k, predicted, truth) in store.feedback()? {
        let e = feedback.entry(k).or_default();
        e.0 += 1;
        e.1 += u64::from(predicted == truth);
    }
    let mut version_requests: HashMap<(String, String), usize> = HashMap::new();
    for (k, acc) in &groups {
        *version_requests.entry((k.model.clone(), k.version.clone())).or_default() += acc.latencies.len();
    }

    let mut out = Vec::new();
    for (key, acc) in groups {
        let manifest = references.get(&key.model, &key.version);
        let classes =
            manifest.as_ref().map(|m| m.labels.len()).unwrap_or_else(|| acc.classes.keys().max().map(|&c| c as usize + 1).unwrap_or(0));
        let distribution: Vec<f64> = (0..classes as i64).map(|c| acc.classes.get(&c).copied().unwrap_or(0.0)).collect();
        let reference = manifest.as_ref().map(|m| m.reference.class_distribution.clone());
        let drift = reference.as_ref().filter(|r| r.len() == distribution.len() && distribution.iter().sum::<f64>() > 0.0).map(|r| {
            let score = psi(&distribution, r);
            json!({ "psi": score, "level": psi_level(score), "jsDistance": js_distance(&distribution, r) })
        });
        let version_key = (key.model.clone(), key.version.clone());
        let requests = version_requests.get(&version_key).copied().unwrap_or(0).max(1) as f64;
        let version_errors = errors.get(&version_key).copied().unwrap_or(0);
        let version_fallbacks = fallbacks.get(&version_key).copied().unwrap_or(0);
        let ttfp = sorted(loads.remove(&key).unwrap_or_default());
        let timeline: Vec<Value> = acc
            .timeline
            .into_iter()
            .map(|(minute, ms)| {
                let ms = sorted(ms);
                json!({ "minute": minute, "count": ms.len(), "p50": percentile(&ms, 50.0), "p95": percentile(&ms, 95.0) })
            })
            .collect();
        let latencies = sorted(acc.latencies);
        let total: f64 = acc.confidence.iter().sum();
        out.push(json!({
            "model": key.model, "version": key.version, "backend": key.backend, "variant": key.variant,
            "count": latencies.len(),
            "latencyMs": {
                "p50": percentile(&latencies, 50.0),
                "p95": percentile(&latencies, 95.0),
                "p99": percentile(&latencies, 99.0),
            },
            "versionErrors": version_errors,
            "versionFallbacks": version_fallbacks,
            "errorRate": version_errors as f64 / requests,
            "fallbackRate": version_fallbacks as f64 / requests,
            "timeToFirstPredictionMs": { "count": ttfp.len(), "p50": percentile(&ttfp, 50.0), "p95": percentile(&ttfp, 95.0) },
            "classDistribution": distribution.iter().map(|c| c / distribution.iter().sum::<f64>().max(1.0)).collect::<Vec<_>>(),
            "referenceDistribution": reference,
            "drift": drift,
            "confidenceHistogram": acc.confidence.iter().map(|c| c / total.max(1.0)).collect::<Vec<_>>(),
            "referenceConfidenceHistogram": manifest.as_ref().map(|m| m.reference.confidence_histogram.fractions.clone()),
            "feedback": feedback.get(&key).map(|&(n, correct)| json!({ "count": n, "correct": correct, "accuracy": correct as f64 / n as f64 })),
            "timeline": timeline,
        }));
    }
    let counts: serde_json::Map<String, Value> = store.counts()?.into_iter().map(|(n, c)| (n, c.into())).collect();
    Ok(json!({
        "events": counts,
        "thresholds": { "psiWarn": PSI_WARN, "psiAlert": PSI_ALERT },
        "groups": out,
        "versionTimeline": version_timeline(store)?,
    }))
}

/// Per model version and minute: inferences, errors, fallbacks and the error rate.
fn version_timeline(store: &dyn EventStore) -> Result<Vec<Value>, StoreError> {
    // (model, version) -> minute -> [inferences, errors, fallbacks]
    let mut by_version: BTreeMap<(String, String), BTreeMap<i64, [i64; 3]>> = BTreeMap::new();
    for (slot, event) in ["burn_edge.inference", "burn_edge.error", "burn_edge.backend.fallback"].into_iter().enumerate() {
        for row in store.per_minute(event)? {
            by_version.entry((row.model, row.version)).or_default().entry(row.minute).or_default()[slot] += row.count;
        }
    }
    Ok(by_version
        .into_iter()
        .map(|((model, version), minutes)| {
            let points: Vec<Value> = minutes
                .into_iter()
                .map(|(minute, [requests, errors, fallbacks])| {
                    let rate = (requests > 0).then(|| errors as f64 / requests as f64);
                    json!({ "minute": minute, "requests": requests, "errors": errors, "fallbacks": fallbacks, "errorRate": rate })
                })
                .collect();
            json!({ "model": model, "version": version, "points": points })
        })
        .collect())
}

fn read_manifest(models_root: &std::path::Path, model: &str, version: &str) -> Option<Manifest> {
    // Names come from clients: only plain path segments reach the file system.
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) && s != "." && s != "..";
    if !plain(model) || !plain(version) {
        return None;
    }
    let text = std::fs::read_to_string(models_root.join(model).join(version).join("manifest.json")).ok()?;
    Manifest::from_json(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = sorted((1..=100).rev().map(f64::from).collect());
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
