//! Sample ratio mismatch (SRM): do the observed assignment counts fit the configured split?
//!
//! # Method
//!
//! Pearson's chi-square goodness-of-fit test: with `N` units observed in total and configured
//! shares `w_i`, the expected counts are `E_i = N·w_i` and
//! `X² = Σ (O_i - E_i)² / E_i`, which under a correct split follows a chi-square
//! distribution with `k - 1` degrees of freedom (k = categories with a positive weight).
//! The p-value `Pr(χ²_{k-1} ≥ X²)` is the regularised upper incomplete gamma function
//! `Q((k-1)/2, X²/2)` ([`crate::special::chi_square_sf`]).
//!
//! A mismatch is declared when `p < threshold`, by default [`DEFAULT_THRESHOLD`] = 0.001: an
//! SRM means assignment, exposure logging or telemetry delivery is broken for some arm (a
//! crash before the exposure event, a blocked request, a bot), so every metric comparison of
//! that experiment is suspect and it must be halted, not interpreted. The strict threshold is
//! the industry convention (it is checked repeatedly, and a false halt is costly).
//!
//! # Assumptions
//!
//! - The counts are *units* (users / installs), each assigned independently: assignment by
//!   hash is independent across ids, so the multinomial model holds. Do not pass predictions:
//!   they cluster by user.
//! - The weights are the split in force during the whole counting window. A ramp that changed
//!   coverage mid-window mixes two splits: count since the latest step, or skip the check.
//! - The chi-square approximation needs expected counts of at least about 5 per category;
//!   the guard waits for a minimum number of exposures first.
//! - The test is a fixed-sample test checked repeatedly; at p < 0.001 repeated checks of a
//!   correct split still rarely flag it (the simulation tests measure how rarely).
//!
//! A zero weight is allowed (an arm configured off): it leaves the degrees of freedom, and any
//! unit observed in it is an outright mismatch (`X² = ∞`, reported as `f64::MAX`; `p = 0`).

use serde::{Deserialize, Serialize};

use crate::StatsError;

/// The conventional SRM threshold: mismatch when `p < 0.001`.
pub const DEFAULT_THRESHOLD: f64 = 0.001;

/// How far the weights may be from summing to 1.
pub const WEIGHT_SUM_TOLERANCE: f64 = 1e-6;

/// Result of an SRM check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SrmResult {
    /// Pearson's X² (`f64::MAX` when a zero-weight category has units: JSON has no infinity).
    pub chi_square: f64,
    /// Degrees of freedom: positive weights minus one.
    pub df: u32,
    pub p_value: f64,
    /// Observed counts, in the order given.
    pub observed: Vec<u64>,
    /// Expected counts `N·w_i`, in the same order.
    pub expected: Vec<f64>,
    /// `p_value < threshold`.
    pub mismatch: bool,
    pub threshold: f64,
}

/// Pearson chi-square test of `observed` unit counts against the configured `weights`
/// (same order, each in [0, 1], summing to 1 ± 1e-6); mismatch when `p < threshold`.
pub fn check(observed: &[u64], weights: &[f64], threshold: f64) -> Result<SrmResult, StatsError> {
    let threshold = crate::check_level("SRM threshold", threshold)?;
    if observed.is_empty() || weights.is_empty() {
        return Err(StatsError::EmptyCounts);
    }
    if observed.len() != weights.len() {
        return Err(StatsError::LengthMismatch { counts: observed.len(), weights: weights.len() });
    }
    for (index, &w) in weights.iter().enumerate() {
        if !(w.is_finite() && (0.0..=1.0).contains(&w)) {
            return Err(StatsError::BadWeight { index, value: w });
        }
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
        return Err(StatsError::WeightsSum { sum });
    }
    // u128: a sum of u64 counts from the network must not overflow.
    let total: u128 = observed.iter().map(|&o| u128::from(o)).sum();
    if total == 0 {
        return Err(StatsError::NoObservations);
    }
    let n = total as f64;
    let expected: Vec<f64> = weights.iter().map(|w| w * n).collect();
    let positive = weights.iter().filter(|&&w| w > 0.0).count();
    let df = u32::try_from(positive.saturating_sub(1)).unwrap_or(u32::MAX);

    let mut chi_square = 0.0;
    for (&o, &e) in observed.iter().zip(&expected) {
        if e > 0.0 {
            let diff = o as f64 - e;
            chi_square += diff * diff / e;
        } else if o > 0 {
            chi_square = f64::INFINITY;
        }
    }
    let leaked = chi_square.is_infinite();
    let chi_square = chi_square.min(f64::MAX);
    let p_value = if leaked {
        0.0
    } else if df == 0 {
        1.0
    } else {
        crate::special::chi_square_sf(chi_square, df)
    };
    Ok(SrmResult { chi_square, df, p_value, observed: observed.to_vec(), expected, mismatch: p_value < threshold, threshold })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_split_is_no_mismatch() {
        let r = check(&[5_000, 5_000], &[0.5, 0.5], DEFAULT_THRESHOLD).unwrap();
        assert_eq!((r.chi_square, r.df, r.p_value, r.mismatch), (0.0, 1, 1.0, false));
        assert_eq!(r.expected, vec![5_000.0, 5_000.0]);
    }

    #[test]
    fn known_chi_square_values() {
        // 5100 / 4900 of 10,000 at 50/50: X² = 2·100²/5000 = 4, p = 0.0455
        let r = check(&[5_100, 4_900], &[0.5, 0.5], DEFAULT_THRESHOLD).unwrap();
        assert!((r.chi_square - 4.0).abs() < 1e-12);
        assert!((r.p_value - 0.045_500_263_896_358_4).abs() < 1e-9, "{}", r.p_value);
        assert!(!r.mismatch);
        // 10,400 / 9,600 of 20,000 at 50/50 (52/48): X² = 32, p = 1.5e-8 -> mismatch
        let r = check(&[10_400, 9_600], &[0.5, 0.5], DEFAULT_THRESHOLD).unwrap();
        assert!((r.chi_square - 32.0).abs() < 1e-9 && r.p_value < 1e-7 && r.mismatch);
        // three arms 0.2/0.3/0.5: expected 200/300/500; X² = 100/200 + 0 + 100/500 = 0.7, df 2, p = e^-0.35
        let r = check(&[210, 300, 490], &[0.2, 0.3, 0.5], DEFAULT_THRESHOLD).unwrap();
        assert!((r.chi_square - 0.7).abs() < 1e-9 && r.df == 2);
        assert!((r.p_value - (-0.35f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn zero_weight_category() {
        let off = check(&[500, 500, 0], &[0.5, 0.5, 0.0], DEFAULT_THRESHOLD).unwrap();
        assert_eq!((off.df, off.mismatch), (1, false));
        let leaked = check(&[500, 500, 1], &[0.5, 0.5, 0.0], DEFAULT_THRESHOLD).unwrap();
        assert!(leaked.mismatch && leaked.p_value == 0.0 && leaked.chi_square == f64::MAX);
        let single = check(&[42], &[1.0], DEFAULT_THRESHOLD).unwrap();
        assert_eq!((single.df, single.p_value, single.mismatch), (0, 1.0, false));
    }

    #[test]
    fn threshold_is_configurable() {
        let r = check(&[5_100, 4_900], &[0.5, 0.5], 0.05).unwrap();
        assert!(r.mismatch);
        assert!(check(&[1, 1], &[0.5, 0.5], 0.0).is_err());
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(check(&[], &[], DEFAULT_THRESHOLD), Err(StatsError::EmptyCounts));
        assert_eq!(check(&[1, 2], &[1.0], DEFAULT_THRESHOLD), Err(StatsError::LengthMismatch { counts: 2, weights: 1 }));
        assert!(matches!(check(&[1, 2], &[0.5, 0.6], DEFAULT_THRESHOLD), Err(StatsError::WeightsSum { .. })));
        assert!(matches!(check(&[1, 2], &[0.3, 0.3], DEFAULT_THRESHOLD), Err(StatsError::WeightsSum { .. })));
        assert_eq!(check(&[1, 2], &[-0.5, 1.5], DEFAULT_THRESHOLD), Err(StatsError::BadWeight { index: 0, value: -0.5 }));
        assert!(matches!(check(&[1, 2], &[f64::NAN, 0.5], DEFAULT_THRESHOLD), Err(StatsError::BadWeight { index: 0, .. })));
        assert_eq!(check(&[0, 0], &[0.5, 0.5], DEFAULT_THRESHOLD), Err(StatsError::NoObservations));
        // huge counts do not overflow
        let r = check(&[u64::MAX, u64::MAX], &[0.5, 0.5], DEFAULT_THRESHOLD).unwrap();
        assert!(!r.mismatch);
    }
}
