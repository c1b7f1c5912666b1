//! Always-valid sequential test for the difference of two rates (treatment minus control):
//! the mixture sequential probability ratio test (mSPRT) with a normal mixing distribution.
//!
//! # Method
//!
//! Johari, Pekelis, Walsh, "Always valid inference: continuous monitoring of A/B tests"
//! (2017; Operations Research 2022), the test behind Optimizely's and Statsig's sequential
//! testing. With `d` the observed difference of the two rates and `V` its variance, the
//! likelihood ratio of "the true difference is θ" against "it is θ0", averaged over
//! `θ - θ0 ~ N(0, τ²)`, is
//!
//! ```text
//! Λ(θ0) = sqrt(V / (V + τ²)) · exp( τ² (d - θ0)² / (2 V (V + τ²)) )
//! ```
//!
//! Under the null `θ = θ0`, Λ is (asymptotically) a non-negative martingale with mean 1, so by
//! Ville's inequality `Pr(Λ ever reaches 1/α) ≤ α` **however often and whenever it is looked
//! at**. Hence:
//! - the always-valid p-value after a look is `min(1, 1/Λ(0))`, and the p-value to report is
//!   the running minimum over all looks ([`SequentialState`] keeps it);
//! - the always-valid confidence sequence at level `1 - α` is the set of θ0 with
//!   `Λ(θ0) < 1/α`: `d ± sqrt( V (V + τ²) / τ² · (ln((V + τ²)/V) + 2 ln(1/α)) )`; every
//!   look's interval covers the truth simultaneously with probability `≥ 1 - α`;
//! - "treatment worse" (a one-sided decision at level α): some look had `p ≤ α` with `d > 0`,
//!   equivalently some look's confidence sequence lay entirely above 0. Under any null
//!   `θ ≤ 0` this happens with probability ≤ α. The mixture is symmetric, so α is spent on
//!   both directions and the one-sided error is in practice about α/2: conservative by design.
//!
//! A fixed-horizon z-test looked at repeatedly does *not* have this property: with 200 looks
//! at α = 0.05 it flags an A/A test several times more often than α (the simulation tests
//! measure both).
//!
//! # τ (the mixing scale)
//!
//! τ is the size of effect the test is tuned for: detection is fastest for effects near τ and
//! still certain (only slower) for others; validity holds for every τ. It must be fixed before
//! the data is seen. burn-edge's defaults are the smallest regression worth rolling back
//! (see `GuardConfig`): 1 percentage point for error and fallback rates, 5 points for the share
//! of slow predictions (whose control level is 5% by construction: it is the share above
//! control's own p95).
//!
//! # Assumptions, and what is done about them
//!
//! - Trials are independent Bernoulli draws with a constant rate per arm. Predictions of one
//!   user are not independent (a broken device errors on every prediction), which makes the
//!   true variance larger than `p(1-p)/n`; `DiffEstimate::with_design_effect` multiplies V by
//!   a design effect `1 + (m - 1)ρ` when the caller knows it (m predictions per user,
//!   intra-user correlation ρ). Or test per-user counts instead (users with ≥ 1 error out of
//!   users), which are independent.
//! - V is the plug-in (unpooled) variance, so validity is asymptotic (the normal approximation
//!   of the two rates). Small-count guard: the rates inside V are Laplace-smoothed,
//!   `(x + 1) / (n + 2)`, so V never reaches 0 (0 errors of 300 would otherwise claim infinite
//!   precision); the guard also waits for a minimum sample before looking.

use serde::{Deserialize, Serialize};

use crate::interval::Interval;
use crate::StatsError;

/// `events` successes (errors, fallbacks, slow predictions) out of `trials`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Proportion {
    pub events: u64,
    pub trials: u64,
}

impl Proportion {
    pub fn new(events: u64, trials: u64) -> Self {
        Proportion { events, trials }
    }

    fn validate(&self, what: &str) -> Result<(), StatsError> {
        if self.trials == 0 {
            return Err(StatsError::NoTrials { what: what.into() });
        }
        if self.events > self.trials {
            return Err(StatsError::EventsExceedTrials { what: what.into(), events: self.events, trials: self.trials });
        }
        Ok(())
    }

    fn rate(&self) -> f64 {
        self.events as f64 / self.trials as f64
    }

    /// Laplace-smoothed rate, only for the variance (see the module docs).
    fn smoothed_rate(&self) -> f64 {
        (self.events as f64 + 1.0) / (self.trials as f64 + 2.0)
    }
}

/// The observed difference of two rates and its (estimated) variance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffEstimate {
    pub control_rate: f64,
    pub treatment_rate: f64,
    /// `treatment_rate - control_rate` (positive = treatment has more events).
    pub diff: f64,
    /// Estimated variance of `diff` (> 0).
    pub variance: f64,
}

impl DiffEstimate {
    /// The same estimate with its variance multiplied by `design_effect` (≥ 1 for positively
    /// correlated trials; values that are not finite and > 0 leave it unchanged).
    pub fn with_design_effect(mut self, design_effect: f64) -> Self {
        if design_effect.is_finite() && design_effect > 0.0 {
            self.variance *= design_effect;
        }
        self
    }
}

/// Difference `treatment - control` of two rates with the unpooled variance
/// `p̃c(1-p̃c)/nc + p̃t(1-p̃t)/nt` on Laplace-smoothed rates `p̃`.
pub fn estimate_diff(control: Proportion, treatment: Proportion) -> Result<DiffEstimate, StatsError> {
    control.validate("control")?;
    treatment.validate("treatment")?;
    let (pc, pt) = (control.smoothed_rate(), treatment.smoothed_rate());
    let variance = pc * (1.0 - pc) / control.trials as f64 + pt * (1.0 - pt) / treatment.trials as f64;
    Ok(DiffEstimate { control_rate: control.rate(), treatment_rate: treatment.rate(), diff: treatment.rate() - control.rate(), variance })
}

/// The mSPRT with mixing distribution `N(0, τ²)` on the difference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Msprt {
    tau: f64,
}

impl Msprt {
    /// `tau`: the mixing standard deviation, on the scale of the difference of rates (e.g.
    /// 0.01 = one percentage point). Must be finite and > 0.
    pub fn new(tau: f64) -> Result<Self, StatsError> {
        if tau.is_finite() && tau > 0.0 {
            Ok(Msprt { tau })
        } else {
            Err(StatsError::BadParameter { name: "tau", value: tau, expected: "a finite number > 0" })
        }
    }

    pub fn tau(&self) -> f64 {
        self.tau
    }

    pub fn tau2(&self) -> f64 {
        self.tau * self.tau
    }

    /// `ln Λ(θ0)` (computed in logs: Λ overflows f64 for large samples).
    pub fn ln_likelihood_ratio(&self, est: &DiffEstimate, null_diff: f64) -> f64 {
        let (v, t2) = (est.variance, self.tau2());
        let d = est.diff - null_diff;
        0.5 * (v / (v + t2)).ln() + t2 * d * d / (2.0 * v * (v + t2))
    }

    /// `Λ(θ0)`; may be `+inf` for overwhelming evidence.
    pub fn likelihood_ratio(&self, est: &DiffEstimate, null_diff: f64) -> f64 {
        self.ln_likelihood_ratio(est, null_diff).exp()
    }

    /// This look's always-valid p-value for "no difference", `min(1, 1/Λ(0))`. Report the
    /// running minimum over looks ([`SequentialState`]), not this value alone.
    pub fn p_value(&self, est: &DiffEstimate) -> f64 {
        (-self.ln_likelihood_ratio(est, 0.0)).exp().min(1.0)
    }

    /// This look's always-valid `1 - alpha` confidence sequence for the difference: the θ0
    /// with `Λ(θ0) < 1/alpha`.
    pub fn confidence_sequence(&self, est: &DiffEstimate, alpha: f64) -> Result<Interval, StatsError> {
        let alpha = crate::check_level("alpha", alpha)?;
        let (v, t2) = (est.variance, self.tau2());
        let half = (v * (v + t2) / t2 * (((v + t2) / v).ln() + 2.0 * (1.0 / alpha).ln())).sqrt();
        Ok(Interval { lower: est.diff - half, upper: est.diff + half })
    }
}

/// Running state of one sequential test across looks: what makes repeated checking valid.
/// Serialisable so a CLI can keep it in a file between runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SequentialState {
    /// Number of looks taken.
    pub looks: u64,
    /// Running minimum of the two-sided always-valid p-value.
    pub p_value: f64,
    /// Running minimum of the p-value over looks where the treatment rate was higher.
    pub p_value_worse: f64,
    /// Running minimum of the p-value over looks where the treatment rate was lower.
    pub p_value_better: f64,
}

impl Default for SequentialState {
    fn default() -> Self {
        SequentialState { looks: 0, p_value: 1.0, p_value_worse: 1.0, p_value_better: 1.0 }
    }
}

/// The outcome of one look.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Look {
    pub estimate: DiffEstimate,
    /// This look's p-value alone (not valid to act on by itself after several looks).
    pub p_value_now: f64,
    /// Always-valid p-value for "treatment worse": running minimum over looks with diff > 0.
    pub p_value_worse: f64,
    /// This look's always-valid `1 - alpha` confidence sequence for the difference.
    pub confidence: Interval,
    /// Treatment significantly worse at `alpha` (at this or an earlier look).
    pub worse: bool,
    /// Treatment significantly better at `alpha` (at this or an earlier look).
    pub better: bool,
}

impl SequentialState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one look at the current (cumulative) estimate and updates the running minima.
    pub fn observe(&mut self, test: &Msprt, est: &DiffEstimate, alpha: f64) -> Result<Look, StatsError> {
        let confidence = test.confidence_sequence(est, alpha)?;
        let p = test.p_value(est);
        self.looks += 1;
        self.p_value = self.p_value.min(p);
        if est.diff > 0.0 {
            self.p_value_worse = self.p_value_worse.min(p);
        } else if est.diff < 0.0 {
            self.p_value_better = self.p_value_better.min(p);
        }
        Ok(Look {
            estimate: *est,
            p_value_now: p,
            p_value_worse: self.p_value_worse,
            confidence,
            worse: self.treatment_worse(alpha),
            better: self.p_value_better <= alpha,
        })
    }

    /// Treatment significantly worse (higher rate) at `alpha`, at some look so far.
    pub fn treatment_worse(&self, alpha: f64) -> bool {
        self.p_value_worse <= alpha
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(c: (u64, u64), t: (u64, u64)) -> DiffEstimate {
        estimate_diff(Proportion::new(c.0, c.1), Proportion::new(t.0, t.1)).unwrap()
    }

    #[test]
    fn estimate_and_small_count_guard() {
        let e = est((100, 10_000), (300, 10_000));
        assert!((e.diff - 0.02).abs() < 1e-12);
        let want = (101.0 / 10_002.0) * (1.0 - 101.0 / 10_002.0) / 1e4 + (301.0 / 10_002.0) * (1.0 - 301.0 / 10_002.0) / 1e4;
        assert!((e.variance - want).abs() < 1e-15);
        // zero events on both sides: variance stays positive, nothing is significant
        let z = est((0, 300), (0, 300));
        assert!(z.variance > 0.0 && z.diff == 0.0);
        assert_eq!(Msprt::new(0.01).unwrap().p_value(&z), 1.0);
        assert_eq!(e.with_design_effect(2.0).variance, 2.0 * e.variance);
        assert_eq!(e.with_design_effect(f64::NAN).variance, e.variance);
    }

    #[test]
    fn refuses_bad_counts_and_parameters() {
        let bad = estimate_diff(Proportion::new(5, 4), Proportion::new(1, 10));
        assert!(matches!(bad, Err(StatsError::EventsExceedTrials { .. })));
        assert!(matches!(estimate_diff(Proportion::new(0, 10), Proportion::new(0, 0)), Err(StatsError::NoTrials { .. })));
        for tau in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Msprt::new(tau).is_err());
        }
        let e = est((1, 10), (2, 10));
        assert!(Msprt::new(0.01).unwrap().confidence_sequence(&e, 1.5).is_err());
    }

    #[test]
    fn likelihood_ratio_formula_by_hand() {
        // V = 1e-4, τ² = 1e-4, d = 0.03: Λ = sqrt(1/2) · exp(1e-4·9e-4 / (2·1e-4·2e-4)) = 0.7071·e^2.25
        let e = DiffEstimate { control_rate: 0.01, treatment_rate: 0.04, diff: 0.03, variance: 1e-4 };
        let m = Msprt::new(0.01).unwrap();
        let want = 0.5f64.sqrt() * 2.25f64.exp();
        assert!((m.likelihood_ratio(&e, 0.0) - want).abs() < 1e-12 * want);
        assert!((m.p_value(&e) - 1.0 / want).abs() < 1e-12);
        // Λ is symmetric in d - θ0 and smallest (< 1) at θ0 = d
        assert!((m.likelihood_ratio(&e, 0.06) - want).abs() < 1e-9);
        assert!(m.likelihood_ratio(&e, 0.03) < 1.0);
    }

    #[test]
    fn confidence_sequence_boundary_is_where_p_equals_alpha() {
        let m = Msprt::new(0.01).unwrap();
        let e = est((100, 10_000), (250, 10_000));
        let cs = m.confidence_sequence(&e, 0.05).unwrap();
        for end in [cs.lower, cs.upper] {
            let lr = m.likelihood_ratio(&e, end);
            assert!((lr - 20.0).abs() < 1e-6, "Λ at the boundary {lr}");
        }
        // 0 outside the interval <=> p(0) <= alpha
        assert_eq!(cs.lower > 0.0, m.p_value(&e) <= 0.05);
        // the always-valid interval is wider than the fixed-horizon 95% one
        let fixed = 1.959_963_984_540_054 * e.variance.sqrt();
        assert!(cs.upper - e.diff > fixed);
    }

    #[test]
    fn state_keeps_the_running_minimum_per_direction() {
        let m = Msprt::new(0.01).unwrap();
        let mut s = SequentialState::new();
        let worse = s.observe(&m, &est((100, 10_000), (300, 10_000)), 0.05).unwrap();
        assert!(worse.worse && worse.p_value_worse < 1e-6);
        // a later look with no difference does not undo the decision
        let later = s.observe(&m, &est((200, 20_000), (200, 20_000)), 0.05).unwrap();
        assert!(later.worse && later.p_value_now == 1.0 && later.p_value_worse == worse.p_value_worse);
        // an early "better" look never counts as "worse"
        let mut b = SequentialState::new();
        let look = b.observe(&m, &est((300, 10_000), (100, 10_000)), 0.05).unwrap();
        assert!(look.better && !look.worse && b.p_value_worse == 1.0 && b.p_value < 1e-6);
        assert_eq!(b.looks, 1);
        // JSON keeps it (to the last digit or so: serde_json's default float parsing)
        let back: SequentialState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.looks, s.looks);
        assert!((back.p_value_worse / s.p_value_worse - 1.0).abs() < 1e-12 && back.p_value_better == 1.0);
        assert_eq!(serde_json::from_str::<SequentialState>("{}").unwrap(), SequentialState::new());
    }
}
