//! burn-edge-stats: the statistics behind guarded rollouts and the rollout dashboard.
//!
//! Pure math on counts (no I/O, no dependencies beyond serde and thiserror), so the collector
//! (`/api/rollout`) and the CLI (`burn-edge rollout guard`) compute exactly the same numbers.
//!
//! # Public API
//!
//! | module | item | what |
//! |---|---|---|
//! | [`guard`] | [`check`]`(&GuardConfig, &mut GuardState, &GuardInput) -> Result<Decision>` | one guard check: SRM, then an always-valid test per metric, then the decision |
//! | | [`ArmCounts`] `{ exposures, predictions, errors, fallbacks, slow }` | what the collector counted for one arm |
//! | | [`GuardInput`] `{ control, treatment, expected_split: Option<Split> }`, [`Split`] `{ control, treatment }` | one check's input |
//! | | [`GuardConfig`] (α, minimum samples, τ per metric, SRM threshold, design effect; `Default`) | thresholds |
//! | | [`GuardState`] (serde) | running state the caller keeps between checks (e.g. in a file) |
//! | | [`Decision`] `::{NotEnoughData, Continue, Rollback, Halt}`, [`MetricCheck`], [`Metric`] | the outcome, serde-tagged `"decision"`, with a `reason` naming the numbers |
//! | [`sequential`] | [`Proportion`], [`estimate_diff`], [`DiffEstimate`] | difference of two rates and its variance |
//! | | [`Msprt`]`::new(tau)`: `likelihood_ratio`, `p_value`, `confidence_sequence` | mixture SPRT with a normal mixture |
//! | | [`SequentialState`]: `observe` -> [`Look`] | running minimum of the always-valid p-value |
//! | [`srm`] | [`srm::check`]`(&[u64], &[f64], threshold) -> Result<SrmResult>` | sample ratio mismatch (Pearson chi-square) |
//! | [`interval`] | [`wilson`]`(successes, trials, z)`, [`preference`]`(wins_a, wins_b, ties)`, [`Interval`] | Wilson score interval; interleaving preference |
//! | [`special`] | `chi_square_sf`, `normal_sf`, `gamma_p`, `gamma_q`, `ln_gamma` | the special functions behind the p-values |
//!
//! Every function that takes counts from outside (the network) validates them and returns a
//! [`StatsError`]; none panics on any input.

pub mod guard;
pub mod interval;
pub mod sequential;
pub mod special;
pub mod srm;

pub use guard::{check, ArmCounts, Decision, GuardConfig, GuardInput, GuardState, Metric, MetricCheck, Split};
pub use interval::{preference, wilson, z_two_sided, Interval, Preference, Z95};
pub use sequential::{estimate_diff, DiffEstimate, Look, Msprt, Proportion, SequentialState};
pub use srm::SrmResult;

/// Why a statistic cannot be computed from the given input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("{what}: {events} events out of {trials} trials (more events than trials)")]
    EventsExceedTrials { what: String, events: u64, trials: u64 },
    #[error("{what}: no trials, a rate needs at least one")]
    NoTrials { what: String },
    #[error("no counts given")]
    EmptyCounts,
    #[error("every count is zero: nothing to compare with the weights")]
    NoObservations,
    #[error("{counts} counts but {weights} weights: one weight per count")]
    LengthMismatch { counts: usize, weights: usize },
    #[error("weight {index} is {value}: every weight must be a finite number in [0, 1]")]
    BadWeight { index: usize, value: f64 },
    #[error("weights sum to {sum}, not 1 (within 1e-6)")]
    WeightsSum { sum: f64 },
    #[error("{name} is {value}: it must be {expected}")]
    BadParameter { name: &'static str, value: f64, expected: &'static str },
}

/// Checks that a parameter is a finite number strictly inside (0, 1) (a significance level).
pub(crate) fn check_level(name: &'static str, value: f64) -> Result<f64, StatsError> {
    if value.is_finite() && value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(StatsError::BadParameter { name, value, expected: "a number strictly between 0 and 1" })
    }
}
