//! The guard's decision: given what the collector counted for a rule's arm (treatment) and for
//! its control, should the rollout continue, be rolled back, or be halted?
//!
//! # Method
//!
//! Each [`check`] is one look:
//! 1. **SRM first** (when the caller gives the configured split and at least
//!    `min_exposures` units were exposed, with ≥ 5 expected in each arm): a chi-square
//!    mismatch at `p < srm_threshold` (0.001) → [`Decision::Halt`]. A broken split means the
//!    arms are not comparable, so the metrics are not even looked at.
//! 2. **Minimum sample**: until both arms have `min_predictions` attempted predictions →
//!    [`Decision::NotEnoughData`] (and no look is taken, so the normal approximation is never
//!    used on a handful of events).
//! 3. **One always-valid test per metric** ([`crate::sequential`], mSPRT with a normal
//!    mixture): error rate, fallback rate, share of predictions slower than control's p95,
//!    and (once both arms have `min_feedback` labelled predictions) the misprediction rate.
//!    Each is judged one-sided ("treatment worse") at `alpha / 4` (Bonferroni over the four
//!    metrics), so the chance that an A/A rollout is ever rolled back, however long the guard
//!    runs and however often it checks, stays ≤ `alpha`. The running minimum p-values live in
//!    [`GuardState`], which the caller keeps between checks.
//! 4. Any metric worse → [`Decision::Rollback`] naming the metric with the smallest p-value;
//!    otherwise [`Decision::Continue`].
//!
//! # Definitions of the rates
//!
//! - attempts = `predictions + errors` (an error is a prediction that did not produce one);
//! - error rate = `errors / attempts`;
//! - fallback rate = `fallbacks / max(attempts, fallbacks)` (fallbacks are counted per load,
//!   so an arm whose pages fall back and then fail counts each fallback as a trial too: the
//!   rate stays ≤ 1 and a broken arm still registers);
//! - slow share = `slow / predictions`, where `slow` = predictions slower than control's p95
//!   (so control's own slow share is about 5%); tested only once both arms have
//!   `min_predictions` successful predictions. This is how p95 latency is compared: the
//!   treatment's p95 is above control's exactly when more than 5% of its predictions are slower
//!   than control's p95. Control's p95 is itself estimated; treating control's slow count as a
//!   binomial draw adds `0.05·0.95/n_control` to the variance, which is (to first order) the
//!   variance that the threshold's own noise adds. Both arms must be counted against the same
//!   threshold (the same histogram bucket boundary).
//!
//! # Assumptions
//!
//! Predictions are treated as independent trials. They are not (predictions of one user share
//! a device, a browser, a network): the test is then anti-conservative by the design effect
//! `1 + (m - 1)ρ`. `GuardConfig::design_effect` inflates every variance by a factor the
//! operator chooses (default 1: treat the independence as an approximation). SRM works on
//! units (exposures), which are independent. Counts are cumulative: a count lower than at the
//! previous check (collector reset, rule re-keyed) starts a fresh sequence.

use serde::{Deserialize, Serialize};

use crate::interval::Interval;
use crate::sequential::{estimate_diff, Msprt, Proportion, SequentialState};
use crate::srm::SrmResult;
use crate::StatsError;

/// The metrics the guard tests; JSON names `errorRate`, `fallbackRate`, `slowShare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    ErrorRate,
    FallbackRate,
    /// Share of predictions slower than control's p95 (the collector's `latencyOverControlP95`).
    SlowShare,
    /// Share of predictions with feedback whose true label was not the predicted class: the
    /// only one of the four that sees a model that answers fast and without errors, but wrongly.
    Misprediction,
}

impl Metric {
    pub const ALL: [Metric; 4] = [Metric::ErrorRate, Metric::FallbackRate, Metric::SlowShare, Metric::Misprediction];

    /// Human-readable name used in reasons.
    pub fn label(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error rate",
            Metric::FallbackRate => "fallback rate",
            Metric::SlowShare => "share of predictions slower than control's p95",
            Metric::Misprediction => "misprediction rate (from feedback)",
        }
    }

    /// `(events, trials)` of this metric for one arm (see the module docs).
    pub fn proportion(self, arm: &ArmCounts) -> Proportion {
        let attempts = arm.attempts();
        match self {
            Metric::ErrorRate => Proportion::new(arm.errors, attempts),
            Metric::FallbackRate => Proportion::new(arm.fallbacks, attempts.max(arm.fallbacks)),
            Metric::SlowShare => Proportion::new(arm.slow, arm.predictions),
            Metric::Misprediction => Proportion::new(arm.wrong, arm.feedback),
        }
    }
}

/// Cumulative counts for one arm since the rule started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ArmCounts {
    /// Units assigned (exposure events, or distinct users for a rollout's control): for SRM.
    pub exposures: u64,
    /// Successful predictions.
    pub predictions: u64,
    /// Failed predictions (`burn_edge.error`).
    pub errors: u64,
    /// Backend fallbacks (`burn_edge.backend.fallback`).
    pub fallbacks: u64,
    /// Predictions slower than control's p95.
    pub slow: u64,
    /// Predictions whose true label the page reported (`burn_edge.feedback`).
    pub feedback: u64,
    /// Of those, predictions whose predicted class was not the true label.
    pub wrong: u64,
}

impl ArmCounts {
    /// `predictions + errors` (saturating).
    pub fn attempts(&self) -> u64 {
        self.predictions.saturating_add(self.errors)
    }

    fn validate(&self, arm: &str) -> Result<(), StatsError> {
        if self.slow > self.predictions {
            return Err(StatsError::EventsExceedTrials {
                what: format!("{arm} slow predictions"),
                events: self.slow,
                trials: self.predictions,
            });
        }
        if self.wrong > self.feedback {
            return Err(StatsError::EventsExceedTrials {
                what: format!("{arm} wrong predictions"),
                events: self.wrong,
                trials: self.feedback,
            });
        }
        Ok(())
    }

    fn any_below(&self, earlier: &ArmCounts) -> bool {
        self.exposures < earlier.exposures
            || self.predictions < earlier.predictions
            || self.errors < earlier.errors
            || self.fallbacks < earlier.fallbacks
            || self.slow < earlier.slow
            || self.feedback < earlier.feedback
            || self.wrong < earlier.wrong
    }
}

/// The configured split between the two arms, as relative weights (any positive scale; the
/// guard normalises). For a rollout rule at coverage c: [`Split::rollout`]`(c)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub control: f64,
    pub treatment: f64,
}

impl Split {
    /// A rollout rule at `coverage`: treatment `coverage`, control `1 - coverage`.
    pub fn rollout(coverage: f64) -> Split {
        Split { control: 1.0 - coverage, treatment: coverage }
    }

    fn normalised(&self) -> Result<[f64; 2], StatsError> {
        for (index, w) in [self.control, self.treatment].into_iter().enumerate() {
            if !(w.is_finite() && w >= 0.0) {
                return Err(StatsError::BadWeight { index, value: w });
            }
        }
        let sum = self.control + self.treatment;
        if sum <= 0.0 {
            return Err(StatsError::WeightsSum { sum });
        }
        Ok([self.control / sum, self.treatment / sum])
    }
}

/// One check's input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardInput {
    pub control: ArmCounts,
    pub treatment: ArmCounts,
    /// The split in force over the counting window; `None` skips the SRM check (e.g. while a
    /// ramp changed coverage within the window).
    pub expected_split: Option<Split>,
}

/// The guard's thresholds. `Default` gives the documented values; JSON fields may be omitted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GuardConfig {
    /// Family-wise level: chance an A/A rollout is ever rolled back (default 0.05).
    pub alpha: f64,
    /// Attempted predictions each arm needs before the metrics are looked at (default 500).
    pub min_predictions: u64,
    /// Exposures (both arms together) before SRM is judged (default 200).
    pub min_exposures: u64,
    /// SRM mismatch when its p-value is below this (default 0.001).
    pub srm_threshold: f64,
    /// mSPRT mixing scale τ for the error rate (default 0.01 = 1 percentage point).
    pub tau_error_rate: f64,
    /// τ for the fallback rate (default 0.01).
    pub tau_fallback_rate: f64,
    /// τ for the slow share (default 0.05: 5% -> 10% is a doubling of the slow tail).
    pub tau_slow_share: f64,
    /// τ for the misprediction rate (default 0.05: five points of accuracy).
    pub tau_misprediction: f64,
    /// Predictions with feedback each arm needs before the misprediction rate is looked at
    /// (default 100; pages that send no feedback never get it tested).
    pub min_feedback: u64,
    /// Variance multiplier for correlated predictions (default 1: independence assumed).
    pub design_effect: f64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            alpha: 0.05,
            min_predictions: 500,
            min_exposures: 200,
            srm_threshold: crate::srm::DEFAULT_THRESHOLD,
            tau_error_rate: 0.01,
            tau_fallback_rate: 0.01,
            tau_slow_share: 0.05,
            tau_misprediction: 0.05,
            min_feedback: 100,
            design_effect: 1.0,
        }
    }
}

impl GuardConfig {
    /// τ used for `metric`.
    pub fn tau(&self, metric: Metric) -> f64 {
        match metric {
            Metric::ErrorRate => self.tau_error_rate,
            Metric::FallbackRate => self.tau_fallback_rate,
            Metric::SlowShare => self.tau_slow_share,
            Metric::Misprediction => self.tau_misprediction,
        }
    }

    /// The level each metric is judged at: `alpha / 4`.
    pub fn metric_alpha(&self) -> f64 {
        self.alpha / Metric::ALL.len() as f64
    }

    fn validate(&self) -> Result<(), StatsError> {
        crate::check_level("alpha", self.alpha)?;
        crate::check_level("SRM threshold", self.srm_threshold)?;
        for m in Metric::ALL {
            Msprt::new(self.tau(m))?;
        }
        if !(self.design_effect.is_finite() && self.design_effect >= 1.0) {
            return Err(StatsError::BadParameter { name: "design effect", value: self.design_effect, expected: "a finite number ≥ 1" });
        }
        Ok(())
    }
}

/// Running state across checks, kept by the caller (serde: a JSON file for the CLI). Start
/// with `GuardState::default()`; one state per rule.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GuardState {
    /// Checks that looked at the metrics (past the minimum sample).
    pub checks: u64,
    pub error_rate: SequentialState,
    pub fallback_rate: SequentialState,
    pub slow_share: SequentialState,
    pub misprediction: SequentialState,
    /// Counts at the previous check, to notice a restarted count.
    pub last_control: ArmCounts,
    pub last_treatment: ArmCounts,
    /// How often a lower count restarted the sequence.
    pub resets: u64,
}

impl GuardState {
    pub fn metric(&self, metric: Metric) -> &SequentialState {
        match metric {
            Metric::ErrorRate => &self.error_rate,
            Metric::FallbackRate => &self.fallback_rate,
            Metric::SlowShare => &self.slow_share,
            Metric::Misprediction => &self.misprediction,
        }
    }

    fn metric_mut(&mut self, metric: Metric) -> &mut SequentialState {
        match metric {
            Metric::ErrorRate => &mut self.error_rate,
            Metric::FallbackRate => &mut self.fallback_rate,
            Metric::SlowShare => &mut self.slow_share,
            Metric::Misprediction => &mut self.misprediction,
        }
    }
}

/// One metric at one check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricCheck {
    pub metric: Metric,
    pub control: Proportion,
    pub treatment: Proportion,
    pub control_rate: f64,
    pub treatment_rate: f64,
    /// `treatment_rate - control_rate`.
    pub diff: f64,
    /// Always-valid p-value for "treatment worse" (running minimum over checks).
    pub p_value: f64,
    /// The level this metric is judged at (`alpha / 4`).
    pub alpha: f64,
    /// Always-valid `1 - alpha/3` confidence sequence for `diff` at this check.
    pub confidence: Interval,
    pub worse: bool,
    pub better: bool,
}

/// What the guard concluded. JSON: `{"decision": "continue" | "rollback" | "halt" |
/// "notEnoughData", ...camelCase fields}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Decision {
    /// Below the minimum sample: nothing was looked at.
    NotEnoughData { reason: String, srm: Option<SrmResult> },
    /// No metric is significantly worse (yet).
    Continue { reason: String, metrics: Vec<MetricCheck>, srm: Option<SrmResult> },
    /// `metric` is significantly worse: roll the rule back.
    Rollback { metric: Metric, diff: f64, p_value: f64, reason: String, metrics: Vec<MetricCheck>, srm: Option<SrmResult> },
    /// Sample ratio mismatch: the split is broken, stop the rule (its comparison is void).
    Halt { srm: SrmResult, reason: String },
}

impl Decision {
    /// The human-readable reason (names the numbers).
    pub fn reason(&self) -> &str {
        match self {
            Decision::NotEnoughData { reason, .. }
            | Decision::Continue { reason, .. }
            | Decision::Rollback { reason, .. }
            | Decision::Halt { reason, .. } => reason,
        }
    }

    /// Whether the caller must act (roll back or halt the rule).
    pub fn must_stop(&self) -> bool {
        matches!(self, Decision::Rollback { .. } | Decision::Halt { .. })
    }
}

fn percent(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}

fn points(diff: f64) -> String {
    format!("{:+.2} pp", diff * 100.0)
}

fn p_text(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

fn srm_check(config: &GuardConfig, input: &GuardInput) -> Result<Option<SrmResult>, StatsError> {
    let Some(split) = input.expected_split else { return Ok(None) };
    let weights = split.normalised()?;
    let observed = [input.control.exposures, input.treatment.exposures];
    let total = u128::from(observed[0]) + u128::from(observed[1]);
    let enough = total >= u128::from(config.min_exposures) && weights.iter().all(|&w| w == 0.0 || w * total as f64 >= 5.0);
    if total == 0 || !enough {
        return Ok(None);
    }
    crate::srm::check(&observed, &weights, config.srm_threshold).map(Some)
}

fn halt_reason(srm: &SrmResult) -> String {
    let total: f64 = srm.expected.iter().sum();
    format!(
        "sample ratio mismatch: {} control / {} treatment exposures, expected {:.1}% / {:.1}% ({:.0} / {:.0}); \
         chi-square {:.2} (df {}), p = {} < {}: the split is broken, the arms cannot be compared",
        srm.observed[0],
        srm.observed[1],
        100.0 * srm.expected[0] / total,
        100.0 * srm.expected[1] / total,
        srm.expected[0],
        srm.expected[1],
        srm.chi_square,
        srm.df,
        p_text(srm.p_value),
        srm.threshold
    )
}

fn describe(m: &MetricCheck) -> String {
    format!(
        "{}: treatment {} ({}/{}) vs control {} ({}/{}), {}, p = {}, {:.1}% CS [{}, {}]",
        m.metric.label(),
        percent(m.treatment_rate),
        m.treatment.events,
        m.treatment.trials,
        percent(m.control_rate),
        m.control.events,
        m.control.trials,
        points(m.diff),
        p_text(m.p_value),
        100.0 * (1.0 - m.alpha),
        points(m.confidence.lower),
        points(m.confidence.upper)
    )
}

/// One guard check: updates `state` and returns the decision. Errors only on invalid
/// configuration or inconsistent counts (e.g. more slow predictions than predictions).
pub fn check(config: &GuardConfig, state: &mut GuardState, input: &GuardInput) -> Result<Decision, StatsError> {
    config.validate()?;
    input.control.validate("control")?;
    input.treatment.validate("treatment")?;

    let mut restarted = String::new();
    if input.control.any_below(&state.last_control) || input.treatment.any_below(&state.last_treatment) {
        let resets = state.resets + 1;
        *state = GuardState { resets, ..GuardState::default() };
        restarted = " (counts went down since the last check: the sequence restarted)".into();
    }
    state.last_control = input.control;
    state.last_treatment = input.treatment;

    let srm = srm_check(config, input)?;
    if let Some(s) = srm.as_ref().filter(|s| s.mismatch) {
        return Ok(Decision::Halt { reason: halt_reason(s) + &restarted, srm: s.clone() });
    }

    let (c, t) = (&input.control, &input.treatment);
    let min = config.min_predictions.max(1);
    if c.attempts() < min || t.attempts() < min {
        let reason = format!(
            "not enough data: control {} and treatment {} attempted predictions; the guard looks from {} per arm{}",
            c.attempts(),
            t.attempts(),
            min,
            restarted
        );
        return Ok(Decision::NotEnoughData { reason, srm });
    }

    let alpha = config.metric_alpha();
    state.checks += 1;
    let mut metrics = Vec::with_capacity(Metric::ALL.len());
    for metric in Metric::ALL {
        if metric == Metric::SlowShare && (c.predictions < min || t.predictions < min) {
            continue;
        }
        let min_feedback = config.min_feedback.max(1);
        if metric == Metric::Misprediction && (c.feedback < min_feedback || t.feedback < min_feedback) {
            continue;
        }
        let (cp, tp) = (metric.proportion(c), metric.proportion(t));
        let est = estimate_diff(cp, tp)?.with_design_effect(config.design_effect);
        let test = Msprt::new(config.tau(metric))?;
        let look = state.metric_mut(metric).observe(&test, &est, alpha)?;
        metrics.push(MetricCheck {
            metric,
            control: cp,
            treatment: tp,
            control_rate: est.control_rate,
            treatment_rate: est.treatment_rate,
            diff: est.diff,
            p_value: look.p_value_worse,
            alpha,
            confidence: look.confidence,
            worse: look.worse,
            better: look.better,
        });
    }

    let worst = metrics.iter().filter(|m| m.worse).min_by(|a, b| a.p_value.total_cmp(&b.p_value)).copied();
    let details: Vec<String> = metrics.iter().map(describe).collect();
    if let Some(w) = worst {
        let reason = format!(
            "treatment is worse on {} (always-valid after {} check(s); each metric at α/{} = {:.4}, family-wise α = {}){}",
            describe(&w),
            state.checks,
            Metric::ALL.len(),
            alpha,
            config.alpha,
            restarted
        );
        return Ok(Decision::Rollback { metric: w.metric, diff: w.diff, p_value: w.p_value, reason, metrics, srm });
    }
    let reason = format!(
        "no metric significantly worse after {} check(s) (each at α/{} = {:.4}): {}{}",
        state.checks,
        Metric::ALL.len(),
        alpha,
        details.join("; "),
        restarted
    );
    Ok(Decision::Continue { reason, metrics, srm })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(exposures: u64, predictions: u64, errors: u64, fallbacks: u64, slow: u64) -> ArmCounts {
        ArmCounts { exposures, predictions, errors, fallbacks, slow, ..ArmCounts::default() }
    }

    fn input(control: ArmCounts, treatment: ArmCounts) -> GuardInput {
        GuardInput { control, treatment, expected_split: Some(Split { control: 0.5, treatment: 0.5 }) }
    }

    #[test]
    fn waits_for_the_minimum_sample() {
        let mut state = GuardState::default();
        let d = check(&GuardConfig::default(), &mut state, &input(arm(50, 400, 4, 0, 20), arm(50, 300, 30, 0, 15))).unwrap();
        assert!(matches!(d, Decision::NotEnoughData { .. }), "{d:?}");
        assert!(d.reason().contains("404") && d.reason().contains("330") && d.reason().contains("500"));
        assert_eq!(state.checks, 0);
    }

    #[test]
    fn rolls_back_a_clear_error_regression_and_names_the_numbers() {
        let mut state = GuardState::default();
        let d = check(&GuardConfig::default(), &mut state, &input(arm(1000, 9_900, 100, 5, 495), arm(1000, 9_700, 300, 5, 490))).unwrap();
        let Decision::Rollback { metric, diff, p_value, reason, .. } = &d else { panic!("{d:?}") };
        println!("{reason}");
        assert_eq!(*metric, Metric::ErrorRate);
        assert!((diff - 0.02).abs() < 1e-9 && *p_value < 0.05 / 4.0);
        assert!(reason.contains("error rate: treatment 3.00% (300/10000) vs control 1.00% (100/10000), +2.00 pp"), "{reason}");
        assert!(d.must_stop());
    }

    #[test]
    fn a_wrong_but_fast_model_is_caught_by_its_feedback_and_only_once_there_is_enough() {
        let config = GuardConfig::default();
        let healthy = |feedback, wrong| ArmCounts { feedback, wrong, ..arm(500, 2_000, 2, 0, 100) };
        let mut state = GuardState::default();
        // Same errors, fallbacks and latency; 37% accuracy against 99%, but only 50 labels each.
        let d = check(&config, &mut state, &input(healthy(50, 1), healthy(50, 31))).unwrap();
        assert!(matches!(d, Decision::Continue { .. }), "too little feedback to test: {d:?}");
        let d = check(&config, &mut state, &input(healthy(400, 4), healthy(400, 252))).unwrap();
        let Decision::Rollback { metric, reason, .. } = &d else { panic!("{d:?}") };
        assert_eq!(*metric, Metric::Misprediction);
        assert!(reason.contains("misprediction rate (from feedback): treatment 63.00% (252/400) vs control 1.00% (4/400)"), "{reason}");
        let bad = ArmCounts { wrong: 5, feedback: 4, ..arm(1, 1, 0, 0, 0) };
        assert!(check(&config, &mut GuardState::default(), &input(bad, bad)).is_err(), "more wrong than labelled");
    }

    #[test]
    fn continues_when_arms_match_and_rollback_is_sticky() {
        let cfg = GuardConfig::default();
        let mut state = GuardState::default();
        let same = input(arm(1000, 9_900, 100, 10, 495), arm(1000, 9_900, 100, 10, 495));
        let d = check(&cfg, &mut state, &same).unwrap();
        assert!(matches!(d, Decision::Continue { ref metrics, .. } if metrics.len() == 3), "{d:?}");
        println!("{}", d.reason());
        // a big slow-share regression at the next check
        let slow = input(arm(2000, 19_800, 200, 20, 990), arm(2000, 19_800, 200, 20, 2_970));
        assert!(matches!(check(&cfg, &mut state, &slow).unwrap(), Decision::Rollback { metric: Metric::SlowShare, .. }));
        // it stays decided even if the next counts look fine (running minimum)
        let fine = input(arm(3000, 29_700, 300, 30, 1_485), arm(3000, 29_700, 300, 30, 2_970 + 495));
        assert!(check(&cfg, &mut state, &fine).unwrap().must_stop());
        assert_eq!(state.checks, 3);
        // the state survives JSON
        let back: GuardState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        assert_eq!((back.checks, back.last_control, back.last_treatment), (state.checks, state.last_control, state.last_treatment));
        assert!((back.slow_share.p_value_worse / state.slow_share.p_value_worse - 1.0).abs() < 1e-12);
    }

    #[test]
    fn halts_on_sample_ratio_mismatch_before_looking_at_metrics() {
        let mut state = GuardState::default();
        let d =
            check(&GuardConfig::default(), &mut state, &input(arm(10_400, 9_900, 100, 0, 495), arm(9_600, 9_900, 100, 0, 495))).unwrap();
        let Decision::Halt { srm, reason } = &d else { panic!("{d:?}") };
        assert!(srm.mismatch && srm.p_value < 1e-7);
        assert!(reason.contains("10400 control / 9600 treatment"), "{reason}");
        println!("{reason}");
        // a 10% canary observed at 10% is fine, and None skips the check
        let mut canary = input(arm(9_000, 9_900, 100, 0, 495), arm(1_000, 9_900, 100, 0, 495));
        canary.expected_split = Some(Split::rollout(0.1));
        assert!(matches!(
            check(&GuardConfig::default(), &mut GuardState::default(), &canary).unwrap(),
            Decision::Continue { srm: Some(_), .. }
        ));
        canary.expected_split = None;
        assert!(matches!(
            check(&GuardConfig::default(), &mut GuardState::default(), &canary).unwrap(),
            Decision::Continue { srm: None, .. }
        ));
    }

    #[test]
    fn a_totally_broken_arm_is_caught_through_its_errors() {
        // treatment loads and fails every prediction: 0 successful predictions
        let mut state = GuardState::default();
        let d = check(&GuardConfig::default(), &mut state, &input(arm(100, 9_900, 100, 0, 495), arm(100, 0, 800, 800, 0))).unwrap();
        assert!(matches!(d, Decision::Rollback { metric: Metric::ErrorRate | Metric::FallbackRate, .. }), "{d:?}");
    }

    #[test]
    fn restarted_counts_restart_the_sequence() {
        let cfg = GuardConfig::default();
        let mut state = GuardState::default();
        check(&cfg, &mut state, &input(arm(1000, 9_900, 100, 0, 495), arm(1000, 9_700, 300, 0, 485))).unwrap();
        assert!(state.error_rate.p_value_worse < 0.01);
        let d = check(&cfg, &mut state, &input(arm(100, 990, 10, 0, 49), arm(100, 990, 10, 0, 49))).unwrap();
        assert!(matches!(d, Decision::Continue { .. }) && d.reason().contains("restarted"), "{d:?}");
        assert_eq!((state.resets, state.checks), (1, 1));
    }

    #[test]
    fn refuses_inconsistent_counts_and_bad_config() {
        let mut state = GuardState::default();
        let bad = input(arm(10, 100, 0, 0, 101), arm(10, 100, 0, 0, 5));
        assert!(matches!(check(&GuardConfig::default(), &mut state, &bad), Err(StatsError::EventsExceedTrials { .. })));
        let ok = input(arm(10, 100, 0, 0, 5), arm(10, 100, 0, 0, 5));
        for cfg in [
            GuardConfig { alpha: 0.0, ..GuardConfig::default() },
            GuardConfig { tau_slow_share: -1.0, ..GuardConfig::default() },
            GuardConfig { design_effect: 0.5, ..GuardConfig::default() },
            GuardConfig { srm_threshold: f64::NAN, ..GuardConfig::default() },
        ] {
            assert!(matches!(check(&cfg, &mut state, &ok), Err(StatsError::BadParameter { .. })), "{cfg:?}");
        }
        let mut neg = ok;
        neg.expected_split = Some(Split { control: -1.0, treatment: 2.0 });
        assert!(matches!(check(&GuardConfig::default(), &mut state, &neg), Err(StatsError::BadWeight { .. })));
        // extreme counts do not panic
        let huge = input(arm(u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX), arm(0, u64::MAX, 0, 0, 0));
        assert!(check(&GuardConfig::default(), &mut GuardState::default(), &huge).is_ok());
    }

    #[test]
    fn decision_json_shape() {
        let mut state = GuardState::default();
        let d = check(&GuardConfig::default(), &mut state, &input(arm(1000, 9_900, 100, 5, 495), arm(1000, 9_700, 300, 5, 490))).unwrap();
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["decision"], "rollback");
        assert_eq!(v["metric"], "errorRate");
        assert!(v["pValue"].is_number() && v["reason"].is_string());
        assert_eq!(v["metrics"][0]["confidence"].as_array().map(|a| a.len()), Some(2));
        assert_eq!(v["srm"]["chiSquare"], 0.0);
        let back: Decision = serde_json::from_value(v).unwrap();
        assert_eq!(back.reason(), d.reason());
        assert!(matches!(back, Decision::Rollback { metric: Metric::ErrorRate, .. }));
        let cfg: GuardConfig = serde_json::from_str(r#"{"alpha": 0.01}"#).unwrap();
        assert_eq!((cfg.alpha, cfg.min_predictions), (0.01, 500));
    }
}
