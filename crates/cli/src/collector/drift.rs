//! Prediction drift between a live predicted-class distribution and the manifest's reference:
//! the Population Stability Index (warn at 0.1, alert at 0.25) and the Jensen-Shannon distance.

/// Fractions are floored at this before logs, so an empty class does not make PSI infinite.
const EPSILON: f64 = 1e-4;
/// PSI thresholds used by the dashboard.
pub const PSI_WARN: f64 = 0.1;
pub const PSI_ALERT: f64 = 0.25;

fn normalise(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return vec![0.0; counts.len()];
    }
    counts.iter().map(|c| c / total).collect()
}

/// PSI = sum (a - e) * ln(a / e) over classes, `actual` and `expected` as counts or fractions.
pub fn psi(actual: &[f64], expected: &[f64]) -> f64 {
    let (a, e) = (normalise(actual), normalise(expected));
    a.iter()
        .zip(&e)
        .map(|(&a, &e)| {
            let (a, e) = (a.max(EPSILON), e.max(EPSILON));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Jensen-Shannon distance (square root of the divergence, base-2 logs): 0 same, 1 disjoint.
pub fn js_distance(p: &[f64], q: &[f64]) -> f64 {
    let (p, q) = (normalise(p), normalise(q));
    let kl = |x: &[f64], m: &[f64]| -> f64 { x.iter().zip(m).filter(|(&xi, _)| xi > 0.0).map(|(&xi, &mi)| xi * (xi / mi).log2()).sum() };
    let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect();
    (0.5 * kl(&p, &m) + 0.5 * kl(&q, &m)).max(0.0).sqrt()
}

/// `ok`, `warn` or `alert` for a PSI value.
pub fn psi_level(psi: f64) -> &'static str {
    if psi >= PSI_ALERT {
        "alert"
    } else if psi >= PSI_WARN {
        "warn"
    } else {
        "ok"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_distributions_do_not_drift() {
        let d = [0.1; 10];
        assert!(psi(&d, &d).abs() < 1e-12);
        assert!(js_distance(&d, &d).abs() < 1e-6);
        assert_eq!(psi_level(psi(&d, &d)), "ok");
    }

    #[test]
    fn known_values() {
        // Hand-computed: (0.6-0.5)ln(1.2) + (0.4-0.5)ln(0.8) = 0.040547.
        assert!((psi(&[60.0, 40.0], &[0.5, 0.5]) - 0.040_546_5).abs() < 1e-6);
        assert!((js_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
        // Everything predicted as one class of ten is an alert.
        let mut skewed = [0.0; 10];
        skewed[3] = 50.0;
        assert_eq!(psi_level(psi(&skewed, &[0.1; 10])), "alert");
        assert_eq!(psi_level(0.15), "warn");
    }
}
