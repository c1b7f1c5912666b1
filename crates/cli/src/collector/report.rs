//! The dashboard's numbers, per model version x backend x variant x route (`edge` in the
//! browser, `cloud` on the server): request counts, latency
//! percentiles, error and fallback rates, time to first prediction, the predicted-class
//! distribution against the manifest's reference (PSI, Jensen-Shannon distance), the
//! confidence histogram, accuracy from feedback; over time, per minute: latency per group and
//! requests, errors and fallbacks per model version. Built from the store's aggregates (see
//! `store::Limits`), so its work and size are bounded whatever was stored.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn_edge_formats::Manifest;
use serde_json::{json, Value};

use super::drift::{js_distance, psi, psi_level, PSI_ALERT, PSI_WARN};
use super::store::{Bucket, EventStore, GroupKey, Limits, StoreError, TIMELINE_EVENTS};

const CONFIDENCE_BINS: usize = 10;

/// Nearest-rank percentile `p` of the values in `buckets` (ascending by index); `None` when
/// empty. The rank's value is interpolated linearly between the smallest and largest value of
/// its bucket, by its position among the bucket's values. Both the estimate and the true value
/// lie between those two, so the relative error is below the bucket's width: 1/`store::FINE`
/// (6.25 %) for latencies and load times, 1/`store::COARSE` (25 %) for the per-minute timeline,
/// for values within 2^`MIN_EXP`..2^`MAX_EXP` ms (beyond, between the edge bucket's extremes).
/// Values spread evenly through a bucket (e.g. whole milliseconds) come out exact.
pub fn percentile(buckets: &[Bucket], p: f64) -> Option<f64> {
    let total: i64 = buckets.iter().map(|b| b.count).sum();
    if total <= 0 {
        return None;
    }
    let rank = (((p / 100.0) * total as f64).ceil() as i64).clamp(1, total);
    let mut before = 0;
    for b in buckets {
        if before + b.count >= rank {
            let position = (rank - before - 1) as f64;
            return Some(if b.count <= 1 { b.min } else { b.min + (b.max - b.min) * position / (b.count - 1) as f64 });
        }
        before += b.count;
    }
    buckets.last().map(|b| b.max)
}

/// Buckets sorted by index, for `percentile`.
fn sorted(mut buckets: Vec<Bucket>) -> Vec<Bucket> {
    buckets.sort_by_key(|b| b.index);
    buckets
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

    /// The folder holding the models' folders.
    pub fn models_root(&self) -> &std::path::Path {
        &self.models_root
    }

    /// The manifest of `model` `version`, if published.
    pub fn get(&self, model: &str, version: &str) -> Option<Arc<Manifest>> {
        let key = (model.to_string(), version.to_string());
        if let Some(m) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Some(m.clone());
        }
        let manifest = Arc::new(read_manifest(&self.models_root, model, version)?);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(key, manifest.clone());
        Some(manifest)
    }
}

/// The predicted-class counts of one group as a distribution over `len` classes (the manifest's
/// labels, else up to the largest class seen, capped at `Limits::classes`), and how many
/// predictions fell outside it.
fn class_distribution(counts: &BTreeMap<i64, i64>, labels: Option<usize>, cap: i64) -> (Vec<f64>, i64) {
    let len = match labels {
        Some(n) => (n as i64).min(cap),
        None => counts.keys().copied().filter(|c| (0..cap).contains(c)).max().map_or(0, |c| c + 1),
    };
    let mut distribution = vec![0.0; len as usize];
    let mut out_of_range = 0;
    for (&class, &n) in counts {
        match usize::try_from(class).ok().filter(|&c| c < distribution.len()) {
            Some(c) => distribution[c] += n as f64,
            None => out_of_range += n,
        }
    }
    (distribution, out_of_range)
}

/// The whole report, with drift measured against `references`, within the default limits.
pub fn build(store: &dyn EventStore, references: &References) -> Result<Value, StoreError> {
    build_within(store, references, &Limits::default())
}

/// The whole report within `limits`.
pub fn build_within(store: &dyn EventStore, references: &References, limits: &Limits) -> Result<Value, StoreError> {
    let agg = store.aggregates(limits)?;
    let mut latency: HashMap<&GroupKey, Vec<Bucket>> = HashMap::new();
    for (k, b) in &agg.latency {
        latency.entry(k).or_default().push(*b);
    }
    let mut loads: HashMap<&GroupKey, Vec<Bucket>> = HashMap::new();
    for (k, b) in &agg.load_times {
        loads.entry(k).or_default().push(*b);
    }
    let mut timelines: HashMap<&GroupKey, BTreeMap<i64, Vec<Bucket>>> = HashMap::new();
    for (k, minute, b) in &agg.latency_timeline {
        timelines.entry(k).or_default().entry(*minute).or_default().push(*b);
    }
    let mut classes: HashMap<&GroupKey, BTreeMap<i64, i64>> = HashMap::new();
    for (k, class, n) in &agg.classes {
        *classes.entry(k).or_default().entry(*class).or_default() += n;
    }
    let mut confidence: HashMap<&GroupKey, [f64; CONFIDENCE_BINS]> = HashMap::new();
    for (k, bin, n) in &agg.confidence {
        let bin = usize::try_from(*bin).unwrap_or(0).min(CONFIDENCE_BINS - 1);
        confidence.entry(k).or_insert([0.0; CONFIDENCE_BINS])[bin] += *n as f64;
    }
    let feedback: HashMap<&GroupKey, (i64, i64)> = agg.feedback.iter().map(|(k, n, correct)| (k, (*n, *correct))).collect();
    // Errors and fallbacks often happen before a backend is known: counted per version.
    let mut version_counts: HashMap<(&str, &str, &str), i64> = HashMap::new();
    for (event, model, version, n) in &agg.version_counts {
        *version_counts.entry((event.as_str(), model.as_str(), version.as_str())).or_default() += n;
    }
    let mut version_requests: HashMap<(&str, &str), i64> = HashMap::new();
    for (k, n) in &agg.groups {
        *version_requests.entry((k.model.as_str(), k.version.as_str())).or_default() += n;
    }

    let mut groups: Vec<&(GroupKey, i64)> = agg.groups.iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (key, count) in groups {
        let manifest = references.get(&key.model, &key.version);
        let (distribution, out_of_range) =
            class_distribution(&classes.remove(key).unwrap_or_default(), manifest.as_ref().map(|m| m.labels.len()), limits.classes);
        let class_total: f64 = distribution.iter().sum();
        let reference = manifest.as_ref().map(|m| m.reference.class_distribution.clone());
        let drift = reference.as_ref().filter(|r| r.len() == distribution.len() && class_total > 0.0).map(|r| {
            let score = psi(&distribution, r);
            json!({ "psi": score, "level": psi_level(score), "jsDistance": js_distance(&distribution, r) })
        });
        let version = (key.model.as_str(), key.version.as_str());
        let requests = version_requests.get(&version).copied().unwrap_or(0).max(1) as f64;
        let version_errors = version_counts.get(&("burn_edge.error", version.0, version.1)).copied().unwrap_or(0);
        let version_fallbacks = version_counts.get(&("burn_edge.backend.fallback", version.0, version.1)).copied().unwrap_or(0);
        let ttfp = sorted(loads.remove(key).unwrap_or_default());
        let timeline: Vec<Value> = timelines
            .remove(key)
            .unwrap_or_default()
            .into_iter()
            .map(|(minute, buckets)| {
                let buckets = sorted(buckets);
                let n: i64 = buckets.iter().map(|b| b.count).sum();
                json!({ "minute": minute, "count": n, "p50": percentile(&buckets, 50.0), "p95": percentile(&buckets, 95.0) })
            })
            .collect();
        let latencies = sorted(latency.remove(key).unwrap_or_default());
        let confidence = confidence.remove(key).unwrap_or([0.0; CONFIDENCE_BINS]);
        let confidence_total: f64 = confidence.iter().sum();
        out.push(json!({
            "model": key.model, "version": key.version, "backend": key.backend, "variant": key.variant, "route": key.route,
            "count": count,
            "latencyMs": {
                "p50": percentile(&latencies, 50.0),
                "p95": percentile(&latencies, 95.0),
                "p99": percentile(&latencies, 99.0),
            },
            "versionErrors": version_errors,
            "versionFallbacks": version_fallbacks,
            "errorRate": version_errors as f64 / requests,
            "fallbackRate": version_fallbacks as f64 / requests,
            "timeToFirstPredictionMs": {
                "count": ttfp.iter().map(|b| b.count).sum::<i64>(),
                "p50": percentile(&ttfp, 50.0),
                "p95": percentile(&ttfp, 95.0),
            },
            "classDistribution": distribution.iter().map(|c| c / class_total.max(1.0)).collect::<Vec<_>>(),
            "classesOutOfRange": out_of_range,
            "referenceDistribution": reference,
            "drift": drift,
            "confidenceHistogram": confidence.iter().map(|c| c / confidence_total.max(1.0)).collect::<Vec<_>>(),
            "referenceConfidenceHistogram": manifest.as_ref().map(|m| m.reference.confidence_histogram.fractions.clone()),
            "feedback": feedback.get(key).map(|&(n, correct)| json!({ "count": n, "correct": correct, "accuracy": correct as f64 / n.max(1) as f64 })),
            "timeline": timeline,
        }));
    }
    let counts: serde_json::Map<String, Value> = agg.counts.iter().map(|(n, c)| (n.clone(), (*c).into())).collect();
    // Inferences of the shown groups by route: the edge / cloud split.
    let mut routes: BTreeMap<&str, i64> = BTreeMap::new();
    for (k, n) in &agg.groups {
        *routes.entry(k.route.as_str()).or_default() += n;
    }
    Ok(json!({
        "routes": routes,
        "events": counts,
        "thresholds": { "psiWarn": PSI_WARN, "psiAlert": PSI_ALERT },
        "limits": limits,
        "groups": out,
        "versionTimeline": version_timeline(&agg.version_timeline),
        // When the accuracy figures were computed, where the store does so periodically
        // (ClickHouse, see `clickhouse_accuracy.rs`); null where they are always current.
        "feedbackAsOf": agg.feedback_as_of_unix_ms,
    }))
}

/// Per model version and minute: inferences, errors, fallbacks and the error rate.
fn version_timeline(rows: &[super::store::MinuteCount]) -> Vec<Value> {
    // (model, version) -> minute -> [inferences, errors, fallbacks]
    let mut by_version: BTreeMap<(&str, &str), BTreeMap<i64, [i64; 3]>> = BTreeMap::new();
    for row in rows {
        if let Some(slot) = TIMELINE_EVENTS.iter().position(|e| *e == row.event) {
            by_version.entry((&row.model, &row.version)).or_default().entry(row.minute).or_default()[slot] += row.count;
        }
    }
    by_version
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
        .collect()
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

    fn buckets(values: &[f64]) -> Vec<Bucket> {
        let mut by_index: BTreeMap<i64, Bucket> = BTreeMap::new();
        for &v in values {
            let index = super::super::store::bucket_of(v, super::super::store::FINE);
            let b = by_index.entry(index).or_insert(Bucket { index, count: 0, min: v, max: v });
            b.count += 1;
            b.min = b.min.min(v);
            b.max = b.max.max(v);
        }
        by_index.into_values().collect()
    }

    #[test]
    fn percentiles_from_buckets_are_exact_for_whole_milliseconds() {
        let b = buckets(&(1..=100).rev().map(f64::from).collect::<Vec<_>>());
        assert_eq!(percentile(&b, 50.0), Some(50.0));
        assert_eq!(percentile(&b, 95.0), Some(95.0));
        assert_eq!(percentile(&b, 99.0), Some(99.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn percentiles_from_buckets_are_within_the_stated_error() {
        // Log-normal-ish latencies: 0.05 ms to 50 s.
        let mut values: Vec<f64> = (0..20_000).map(|i| 0.05 * 1.0007f64.powi(i)).collect();
        let b = buckets(&values);
        values.sort_by(f64::total_cmp);
        for p in [1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9] {
            let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
            let exact = values[rank - 1];
            let estimate = percentile(&b, p).unwrap();
            assert!((estimate - exact).abs() / exact < 1.0 / super::super::store::FINE as f64, "p{p}: {estimate} vs {exact}");
        }
    }

    #[test]
    fn class_distribution_is_capped_and_counts_the_rest() {
        let counts: BTreeMap<i64, i64> = [(1 << 47, 1), (-5, 2), (3, 4), (999, 1)].into_iter().collect();
        // No manifest: up to the largest class under the cap.
        let (d, other) = class_distribution(&counts, None, 1000);
        assert_eq!((d.len(), d[3], d[999], other), (1000, 4.0, 1.0, 3));
        // The manifest's labels decide the length.
        let (d, other) = class_distribution(&counts, Some(10), 1000);
        assert_eq!((d.len(), d[3], other), (10, 4.0, 4));
        assert_eq!(class_distribution(&BTreeMap::new(), None, 1000), (vec![], 0));
    }

    use super::super::sqlite::tests::inference;
    use super::super::sqlite::SqliteStore;

    fn references() -> References {
        References::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into())
    }

    #[test]
    fn one_event_with_a_huge_or_negative_class_cannot_take_the_summary_down() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        // No manifest for this model: the distribution was sized by the largest class + 1.
        let events = [
            inference("a", "1", "unpublished", 1 << 47, 1.0, 1, None),
            inference("a", "2", "unpublished", -5, 1.0, 1, None),
            inference("a", "3", "unpublished", 3, 1.0, 1, None),
        ];
        store.insert(&events, 0).unwrap();
        let started = std::time::Instant::now();
        let summary = build(&store, &references()).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let group = &summary["groups"][0];
        assert_eq!(group["classDistribution"], json!([0.0, 0.0, 0.0, 1.0]));
        assert_eq!(group["classesOutOfRange"], 2);
        assert_eq!(group["count"], 3);
    }

    #[test]
    fn many_classes_are_capped_and_summed_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        // 80,000 classes took 6.6 CPU-seconds a call (the sum was recomputed per class).
        let events: Vec<_> = (0..80_000).map(|c| inference("a", &c.to_string(), "unpublished", c, 1.0, 1, None)).collect();
        store.insert(&events, 0).unwrap();
        let started = std::time::Instant::now();
        let summary = build(&store, &references()).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "{:?}", started.elapsed());
        let group = &summary["groups"][0];
        assert_eq!(group["classDistribution"].as_array().unwrap().len(), 1000);
        assert_eq!(group["classesOutOfRange"], 79_000);
    }

    #[test]
    fn groups_and_timelines_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.sqlite")).unwrap();
        // 30 models (model i has i + 1 inferences), each over 200 minutes.
        let minute = super::super::store::MINUTE_NANOS;
        let events: Vec<_> = (0..30)
            .flat_map(|m| (0..=m).map(move |i| (m, i)))
            .flat_map(|(m, i)| {
                (0..200).map(move |t| inference("a", &format!("{m}-{i}-{t}"), &format!("m{m:02}"), 1, 2.0, t * minute, None))
            })
            .collect();
        store.insert(&events, 0).unwrap();
        let limits = Limits { groups: 5, versions: 4, timeline_minutes: 60, classes: 10 };
        let summary = build_within(&store, &references(), &limits).unwrap();
        let groups = summary["groups"].as_array().unwrap();
        let models: Vec<&str> = groups.iter().map(|g| g["model"].as_str().unwrap()).collect();
        assert_eq!(models, ["m25", "m26", "m27", "m28", "m29"], "the busiest, sorted");
        let timeline = groups[0]["timeline"].as_array().unwrap();
        assert_eq!((timeline.len(), timeline[0]["minute"].as_i64()), (60, Some(140)), "the last 60 minutes");
        assert_eq!(groups[0]["latencyMs"]["p50"], 2.0);
        let versions = summary["versionTimeline"].as_array().unwrap();
        assert_eq!(versions.len(), 4);
        assert!(versions.iter().all(|v| v["points"].as_array().unwrap().len() == 60));
        assert_eq!(summary["events"]["burn_edge.inference"], 465 * 200);
    }
}
