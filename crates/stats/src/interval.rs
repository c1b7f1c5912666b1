//! Wilson score interval for a proportion, and the interleaving preference built on it.
//!
//! Method: the Wilson (1927) interval inverts the score test of `p = p0`: it is the set of `p0`
//! with `|p̂ - p0| ≤ z·sqrt(p0(1-p0)/n)`, which solves to
//! `(p̂ + z²/2n ± z·sqrt(p̂(1-p̂)/n + z²/4n²)) / (1 + z²/n)`.
//! Unlike the textbook Wald interval `p̂ ± z·sqrt(p̂(1-p̂)/n)` it never leaves [0, 1], is not
//! empty at 0 or n successes, and its coverage stays close to nominal for small n, which is
//! what an interleaving test with a few dozen decided pairs has.
//!
//! Assumption: the n trials are independent with a common success probability. For
//! interleaving, a trial is one decided pick (a tie credits neither arm and is left out); picks
//! of the same user are not independent, so with a few heavy users the interval is too narrow:
//! read it as an approximation (the dashboard shows the number of pairs beside it).
//! This is a fixed-sample interval: it is not a sequential test and is not used by the guard.

use serde::{Deserialize, Serialize};

use crate::StatsError;

/// z for a two-sided 95% interval (the 97.5th percentile of the standard normal).
pub const Z95: f64 = 1.959_963_984_540_054;

/// A closed interval `[lower, upper]`; serialised as a two-element JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 2]", into = "[f64; 2]")]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
}

impl From<[f64; 2]> for Interval {
    fn from([lower, upper]: [f64; 2]) -> Self {
        Interval { lower, upper }
    }
}

impl From<Interval> for [f64; 2] {
    fn from(i: Interval) -> Self {
        [i.lower, i.upper]
    }
}

/// The z with `Pr(|Z| ≤ z) = confidence` (e.g. 0.95 -> 1.95996...), for `confidence` in (0, 1).
pub fn z_two_sided(confidence: f64) -> Result<f64, StatsError> {
    crate::check_level("confidence", confidence)?;
    let tail = (1.0 - confidence) / 2.0;
    // normal_sf is monotone: bisection to full double precision (≈ 60 halvings of [0, 40]).
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if crate::special::normal_sf(mid) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Wilson score interval for `successes` out of `trials` at normal quantile `z` (use [`Z95`]).
pub fn wilson(successes: u64, trials: u64, z: f64) -> Result<Interval, StatsError> {
    if trials == 0 {
        return Err(StatsError::NoTrials { what: "Wilson interval".into() });
    }
    if successes > trials {
        return Err(StatsError::EventsExceedTrials { what: "Wilson interval".into(), events: successes, trials });
    }
    if !(z.is_finite() && z > 0.0) {
        return Err(StatsError::BadParameter { name: "z", value: z, expected: "a finite number > 0" });
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At 0 (n) successes the bound is exactly 0 (1); elsewhere clamp only last-ulp rounding.
    let lower = if successes == 0 { 0.0 } else { (centre - half).max(0.0) };
    let upper = if successes == trials { 1.0 } else { (centre + half).min(1.0) };
    Ok(Interval { lower, upper })
}

/// Interleaving result: the share of decided picks won by arm B, with its 95% Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preference {
    pub wins_a: u64,
    pub wins_b: u64,
    pub ties: u64,
    /// `wins_b / (wins_a + wins_b)`; 0.5 means no preference.
    pub preference_b: f64,
    pub ci95: Interval,
    /// Whether the interval excludes 0.5 (a fixed-sample statement, see the module docs).
    pub significant: bool,
}

/// Preference for arm B over arm A from team-draft interleaving credits; `None` without any
/// decided pick (ties only, or nothing yet).
pub fn preference(wins_a: u64, wins_b: u64, ties: u64) -> Option<Preference> {
    let decided = wins_a.checked_add(wins_b)?;
    if decided == 0 {
        return None;
    }
    let ci95 = wilson(wins_b, decided, Z95).ok()?;
    Some(Preference { wins_a, wins_b, ties, preference_b: wins_b as f64 / decided as f64, ci95, significant: !ci95.contains(0.5) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_interval(got: Interval, lower: f64, upper: f64, tol: f64) {
        assert!((got.lower - lower).abs() < tol && (got.upper - upper).abs() < tol, "got {got:?}, want [{lower}, {upper}]");
    }

    #[test]
    fn wilson_matches_newcombe_1998_table() {
        // Newcombe, "Two-sided confidence intervals for the single proportion" (Stat Med 1998),
        // Table II, method 3 (score interval without continuity correction), 4 decimals.
        assert_interval(wilson(81, 263, Z95).unwrap(), 0.2553, 0.3662, 6e-5);
        assert_interval(wilson(15, 148, Z95).unwrap(), 0.0624, 0.1605, 6e-5);
        assert_interval(wilson(0, 20, Z95).unwrap(), 0.0, 0.1611, 6e-5);
        assert_interval(wilson(1, 29, Z95).unwrap(), 0.0061, 0.1718, 6e-5);
    }

    #[test]
    fn wilson_closed_forms_and_symmetry() {
        // n successes of n: upper 1, lower n/(n+z²)
        let i = wilson(10, 10, Z95).unwrap();
        assert_eq!(i.upper, 1.0);
        assert!((i.lower - 10.0 / (10.0 + Z95 * Z95)).abs() < 1e-12);
        // symmetric around 1/2: [l, u] for k of n is [1-u, 1-l] for n-k
        let (a, b) = (wilson(3, 17, Z95).unwrap(), wilson(14, 17, Z95).unwrap());
        assert!((a.lower - (1.0 - b.upper)).abs() < 1e-12 && (a.upper - (1.0 - b.lower)).abs() < 1e-12);
        // contains the point estimate, narrows with n
        let (small, big) = (wilson(30, 100, Z95).unwrap(), wilson(300, 1000, Z95).unwrap());
        assert!(small.contains(0.3) && big.contains(0.3));
        assert!(big.upper - big.lower < small.upper - small.lower);
    }

    #[test]
    fn wilson_refuses_bad_input() {
        assert!(matches!(wilson(0, 0, Z95), Err(StatsError::NoTrials { .. })));
        assert!(matches!(wilson(5, 4, Z95), Err(StatsError::EventsExceedTrials { .. })));
        assert!(matches!(wilson(1, 4, f64::NAN), Err(StatsError::BadParameter { .. })));
        assert!(matches!(wilson(1, 4, -1.0), Err(StatsError::BadParameter { .. })));
    }

    #[test]
    fn z_quantiles() {
        assert!((z_two_sided(0.95).unwrap() - Z95).abs() < 1e-12);
        assert!((z_two_sided(0.90).unwrap() - 1.644_853_626_951_472_2).abs() < 1e-12);
        assert!((z_two_sided(0.99).unwrap() - 2.575_829_303_548_900_4).abs() < 1e-11);
        assert!(z_two_sided(1.0).is_err() && z_two_sided(0.0).is_err() && z_two_sided(f64::NAN).is_err());
    }

    #[test]
    fn preference_of_interleaving_credits() {
        // The spec's example: a 10, b 14 -> 0.583 [0.39, 0.76]
        let p = preference(10, 14, 3).unwrap();
        assert!((p.preference_b - 14.0 / 24.0).abs() < 1e-12);
        assert_interval(p.ci95, 0.388, 0.755, 1e-3);
        assert!(!p.significant);
        let strong = preference(20, 80, 0).unwrap();
        assert!(strong.significant && strong.ci95.lower > 0.5);
        assert!(preference(0, 0, 7).is_none());
        assert!(preference(u64::MAX, 1, 0).is_none());
        let json = serde_json::to_value(p).unwrap();
        assert_eq!(json["ci95"].as_array().map(|a| a.len()), Some(2));
        assert_eq!(json["preferenceB"], serde_json::json!(14.0 / 24.0));
    }
}
