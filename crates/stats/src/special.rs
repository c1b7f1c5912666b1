//! Special functions behind the p-values: `ln Γ`, the regularised incomplete gamma functions
//! and the chi-square survival function built on them.
//!
//! Method (the textbook one, written here from the definitions):
//! - `ln Γ(x)` by the Lanczos approximation (g = 7, 9 terms; relative error about 1e-15 for
//!   x > 0), with the reflection formula below 1/2.
//! - `P(a, x) = γ(a, x) / Γ(a)` by its power series `x^a e^-x / Γ(a+1) · Σ x^n / ((a+1)…(a+n))`,
//!   which converges fast for `x < a + 1`;
//! - `Q(a, x) = 1 - P(a, x)` by its continued fraction (evaluated with the modified Lentz
//!   method) for `x ≥ a + 1`, where the series would be slow and `1 - P` would lose every digit
//!   of a small tail.
//!
//! Each branch computes the quantity that is small in its region directly, so tails such as
//! `Q(0.5, 50) ≈ 1.5e-23` keep their relative precision.

/// Largest number of series / continued-fraction terms before giving up (never reached for the
/// arguments a chi-square test produces: convergence takes tens of terms).
const MAX_ITER: usize = 10_000;
const EPS: f64 = 1e-15;
/// Stands in for zero in Lentz's method so no division by zero happens.
const TINY: f64 = 1e-300;

const LANCZOS_G: f64 = 7.0;
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// `ln Γ(x)` for `x > 0` (NaN otherwise).
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || x.is_infinite() {
        return f64::NAN;
    }
    if x < 0.5 {
        // Γ(x) Γ(1-x) = π / sin(πx); sin(πx) > 0 on (0, 1/2).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + LANCZOS_G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// `x^a e^-x / Γ(a)`, the common prefactor of both expansions, computed in logs.
fn prefactor(a: f64, x: f64) -> f64 {
    (a * x.ln() - x - ln_gamma(a)).exp()
}

/// Lower series: returns `P(a, x)`. Valid for any x ≥ 0; used for `x < a + 1`.
fn lower_series(a: f64, x: f64) -> f64 {
    let mut term = 1.0 / a;
    let mut sum = term;
    let mut denom = a;
    for _ in 0..MAX_ITER {
        denom += 1.0;
        term *= x / denom;
        sum += term;
        if term.abs() < sum.abs() * EPS {
            break;
        }
    }
    (sum * prefactor(a, x)).min(1.0)
}

/// Upper continued fraction: returns `Q(a, x)`. Used for `x ≥ a + 1`.
fn upper_fraction(a: f64, x: f64) -> f64 {
    // Q = prefactor · 1/(x+1-a- 1·(1-a)/(x+3-a- 2·(2-a)/(x+5-a- ...)))
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..MAX_ITER {
        let i = i as f64;
        let an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    (prefactor(a, x) * h).clamp(0.0, 1.0)
}

/// `a > 0` finite and `x ≥ 0` (x may be +inf).
fn in_domain(a: f64, x: f64) -> bool {
    a.is_finite() && a > 0.0 && x >= 0.0
}

/// Regularised lower incomplete gamma `P(a, x)`, for `a > 0`, `x ≥ 0` (NaN otherwise).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if !in_domain(a, x) {
        return f64::NAN;
    }
    if x == 0.0 {
        return 0.0;
    }
    if x.is_infinite() {
        return 1.0;
    }
    if x < a + 1.0 {
        lower_series(a, x)
    } else {
        1.0 - upper_fraction(a, x)
    }
}

/// Regularised upper incomplete gamma `Q(a, x) = 1 - P(a, x)`, for `a > 0`, `x ≥ 0`.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if !in_domain(a, x) {
        return f64::NAN;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    if x < a + 1.0 {
        1.0 - lower_series(a, x)
    } else {
        upper_fraction(a, x)
    }
}

/// Upper tail `Pr(X ≥ x)` of the chi-square distribution with `df` degrees of freedom
/// (`Q(df/2, x/2)`); 1 for `x ≤ 0`, NaN for `df == 0`.
pub fn chi_square_sf(x: f64, df: u32) -> f64 {
    if df == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q(f64::from(df) / 2.0, x / 2.0)
}

/// Upper tail `Pr(Z ≥ z)` of the standard normal distribution, via
/// `erfc(y) = Q(1/2, y²)` for y ≥ 0.
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let tail = 0.5 * gamma_q(0.5, z * z / 2.0);
    if z >= 0.0 {
        tail
    } else {
        1.0 - tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) {
        assert!(((got - want) / want).abs() < rel, "got {got:e}, want {want:e}");
    }

    #[test]
    fn ln_gamma_matches_factorials_and_half_integers() {
        // Γ(n) = (n-1)!
        let mut fact = 1.0f64;
        for n in 1..30u32 {
            let want = fact.ln();
            assert!((ln_gamma(f64::from(n)) - want).abs() < 1e-12 * want.abs().max(1.0), "n {n}");
            fact *= f64::from(n);
        }
        close(ln_gamma(10.0), 362_880f64.ln(), 1e-13);
        close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-13);
        close(ln_gamma(1.5), (std::f64::consts::PI.sqrt() / 2.0).ln(), 1e-12);
        // Γ(0.1) = 9.513507698668732 (reflection branch)
        close(ln_gamma(0.1), 9.513_507_698_668_732f64.ln(), 1e-13);
        assert!(ln_gamma(1.0).abs() < 1e-14 && ln_gamma(2.0).abs() < 1e-14);
        assert!(ln_gamma(0.0).is_nan() && ln_gamma(-1.0).is_nan());
    }

    #[test]
    fn chi_square_critical_values_give_five_percent() {
        // Tabulated 95th percentiles (3 decimals), so the tolerance is the table's rounding.
        for (df, x) in [(1, 3.841), (2, 5.991), (3, 7.815), (4, 9.488), (9, 16.919), (10, 18.307), (30, 43.773)] {
            let p = chi_square_sf(x, df);
            assert!((p - 0.05).abs() < 1e-4, "df {df} x {x}: p {p}");
        }
        // Exact to more digits: the 95th percentile for df = 1 is 1.959963984540054².
        close(chi_square_sf(1.959_963_984_540_054f64.powi(2), 1), 0.05, 1e-10);
        // 0.001 tails (the SRM threshold)
        for (df, x) in [(1, 10.828), (2, 13.816), (3, 16.266), (9, 27.877)] {
            let p = chi_square_sf(x, df);
            assert!((p - 0.001).abs() < 2e-6, "df {df} x {x}: p {p}");
        }
    }

    #[test]
    fn chi_square_closed_forms_and_edges() {
        // df = 2: Pr(X ≥ x) = e^(-x/2) exactly, in both branches (x/2 < 2 and ≥ 2).
        for x in [0.01, 0.5, 1.0, 1.9, 2.1, 4.0, 20.0, 100.0, 700.0] {
            close(chi_square_sf(x, 2), (-x / 2.0).exp(), 1e-12);
        }
        // df = 1 far tail: erfc(sqrt(50)) = 1.5239706048321e-23 relative precision kept.
        close(chi_square_sf(100.0, 1), 1.523_970_604_832_105e-23, 1e-9);
        // df = 4: (1 + x/2) e^(-x/2)
        for x in [0.3, 3.0, 9.0, 60.0] {
            close(chi_square_sf(x, 4), (1.0 + x / 2.0) * (-x / 2.0).exp(), 1e-12);
        }
        assert_eq!(chi_square_sf(0.0, 1), 1.0);
        assert_eq!(chi_square_sf(-3.0, 5), 1.0);
        assert_eq!(chi_square_sf(f64::INFINITY, 3), 0.0);
        assert!(chi_square_sf(1.0, 0).is_nan());
        // median of chi2(1) is 0.454936...
        close(chi_square_sf(0.454_936_423_119_572_7, 1), 0.5, 1e-9);
        // P + Q = 1 across the branch switch
        for (a, x) in [(0.5, 1.49), (0.5, 1.51), (5.0, 5.99), (5.0, 6.01), (50.0, 40.0), (50.0, 70.0)] {
            assert!((gamma_p(a, x) + gamma_q(a, x) - 1.0).abs() < 1e-13);
        }
    }

    #[test]
    fn normal_tails() {
        close(normal_sf(1.959_963_984_540_054), 0.025, 1e-10);
        close(normal_sf(1.644_853_626_951_472_2), 0.05, 1e-10);
        close(normal_sf(-1.644_853_626_951_472_2), 0.95, 1e-12);
        assert_eq!(normal_sf(0.0), 0.5);
        close(normal_sf(6.0), 9.865_876_450_376_946e-10, 1e-9);
    }
}
