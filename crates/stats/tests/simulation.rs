//! The guard on simulated traffic with known effects: a real regression is caught (and how
//! fast), an A/A rollout is not flagged more often than α however often it is checked, a naive
//! fixed-horizon z-test under the same peeking is (which is why the guard does not use one),
//! and SRM flags a broken split but not a correct one.
//!
//! Traffic: users arrive one by one, are assigned to treatment with the configured share, and
//! make `per_user` prediction attempts; each attempt fails (error) with the arm's error rate,
//! otherwise is a prediction that is slow with the arm's slow rate; each attempt falls back with
//! the arm's fallback rate. The guard checks every 100 attempts. The RNG is a seeded SplitMix64,
//! so every number printed here is reproducible. Run with `-- --nocapture` to see them.

use burn_edge_stats::{
    check, estimate_diff, ArmCounts, Decision, GuardConfig, GuardInput, GuardState, Metric, Msprt, Proportion, SequentialState, Split,
};

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for Monte Carlo.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn bernoulli(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

#[derive(Clone, Copy, Debug)]
struct Rates {
    error: f64,
    fallback: f64,
    slow: f64,
    /// Share of predictions the page reports the true label of, and of those wrong.
    feedback: f64,
    wrong: f64,
}

const BASE: Rates = Rates { error: 0.01, fallback: 0.005, slow: 0.05, feedback: 0.2, wrong: 0.01 };

#[derive(Clone, Copy, Debug)]
struct Traffic {
    /// Share of users in treatment.
    share: f64,
    control: Rates,
    treatment: Rates,
    per_user: u64,
}

/// Attempts between two checks.
const CHECK_EVERY: u64 = 100;
/// A/A horizon: attempts in total.
const AA_HORIZON: u64 = 20_000;

fn user(rng: &mut SplitMix, arm: &mut ArmCounts, rates: &Rates, attempts: u64) {
    arm.exposures += 1;
    for _ in 0..attempts {
        if rng.bernoulli(rates.error) {
            arm.errors += 1;
        } else {
            arm.predictions += 1;
            if rng.bernoulli(rates.slow) {
                arm.slow += 1;
            }
            if rng.bernoulli(rates.feedback) {
                arm.feedback += 1;
                if rng.bernoulli(rates.wrong) {
                    arm.wrong += 1;
                }
            }
        }
        if rng.bernoulli(rates.fallback) {
            arm.fallbacks += 1;
        }
    }
}

/// Simulates one run, calling `look` every CHECK_EVERY attempts until it returns true
/// (-> Some(total attempts so far, the counts)) or `horizon` attempts passed (-> None).
fn run(
    rng: &mut SplitMix,
    traffic: &Traffic,
    horizon: u64,
    mut look: impl FnMut(&ArmCounts, &ArmCounts) -> bool,
) -> Option<(u64, ArmCounts, ArmCounts)> {
    let (mut c, mut t) = (ArmCounts::default(), ArmCounts::default());
    let mut attempts = 0;
    while attempts < horizon {
        let users_per_check = (CHECK_EVERY / traffic.per_user).max(1);
        for _ in 0..users_per_check {
            if rng.bernoulli(traffic.share) {
                user(rng, &mut t, &traffic.treatment, traffic.per_user);
            } else {
                user(rng, &mut c, &traffic.control, traffic.per_user);
            }
        }
        attempts += users_per_check * traffic.per_user;
        if look(&c, &t) {
            return Some((attempts, c, t));
        }
    }
    None
}

/// Monte-Carlo tolerance: 3 standard errors of a rate `p` estimated from `runs` runs.
fn tolerance(p: f64, runs: usize) -> f64 {
    3.0 * (p * (1.0 - p) / runs as f64).sqrt()
}

fn guard_look(config: GuardConfig, split: Option<Split>) -> impl FnMut(&ArmCounts, &ArmCounts) -> (bool, Option<Decision>) {
    let mut state = GuardState::default();
    move |c, t| {
        let input = GuardInput { control: *c, treatment: *t, expected_split: split };
        let d = check(&config, &mut state, &input).expect("simulated counts are valid");
        (d.must_stop(), Some(d))
    }
}

/// Runs the guard over `runs` simulated rollouts; returns, per run, the stopping decision and
/// the attempts (total, treatment) at which it came.
fn guard_runs(seed: u64, runs: usize, traffic: Traffic, horizon: u64, config: GuardConfig) -> Vec<Option<(Decision, u64, u64)>> {
    let mut rng = SplitMix(seed);
    let split = Some(Split::rollout(traffic.share));
    (0..runs)
        .map(|_| {
            let mut look = guard_look(config, split);
            let mut last = None;
            let hit = run(&mut rng, &traffic, horizon, |c, t| {
                let (stop, d) = look(c, t);
                last = d;
                stop
            });
            hit.and_then(|(total, _, t)| last.map(|d| (d, total, t.attempts())))
        })
        .collect()
}

fn median(mut xs: Vec<u64>) -> u64 {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

#[test]
fn regressions_are_caught() {
    let config = GuardConfig::default();
    let cases = [
        ("error rate 1% -> 3%, 50/50", Metric::ErrorRate, Rates { error: 0.03, ..BASE }, 0.5),
        ("error rate 1% -> 3%, 10% canary", Metric::ErrorRate, Rates { error: 0.03, ..BASE }, 0.1),
        ("error rate 1% -> 2%, 50/50", Metric::ErrorRate, Rates { error: 0.02, ..BASE }, 0.5),
        ("slow share 5% -> 15%, 50/50", Metric::SlowShare, Rates { slow: 0.15, ..BASE }, 0.5),
        ("slow share 5% -> 15%, 10% canary", Metric::SlowShare, Rates { slow: 0.15, ..BASE }, 0.1),
        ("fallback rate 0.5% -> 2%, 50/50", Metric::FallbackRate, Rates { fallback: 0.02, ..BASE }, 0.5),
        ("misprediction 1% -> 10% (feedback on 20%), 50/50", Metric::Misprediction, Rates { wrong: 0.10, ..BASE }, 0.5),
        ("misprediction 1% -> 10% (feedback on 20%), 10% canary", Metric::Misprediction, Rates { wrong: 0.10, ..BASE }, 0.1),
    ];
    let runs = 200;
    for (i, (name, metric, worse, share)) in cases.into_iter().enumerate() {
        let traffic = Traffic { share, control: BASE, treatment: worse, per_user: 10 };
        let results = guard_runs(0xC0FFEE + i as u64, runs, traffic, 400_000, config);
        let caught: Vec<&(Decision, u64, u64)> = results.iter().flatten().collect();
        let right_metric = caught.iter().filter(|(d, _, _)| matches!(d, Decision::Rollback { metric: m, .. } if *m == metric)).count();
        let rate = caught.len() as f64 / runs as f64;
        let total = median(caught.iter().map(|(_, total, _)| *total).collect());
        let treated = median(caught.iter().map(|(_, _, t)| *t).collect());
        println!(
            "regression {name}: caught in {:.1}% of {runs} runs ({right_metric} by {}); median {treated} treatment predictions ({total} in total) until rollback",
            100.0 * rate,
            metric.label()
        );
        assert!(rate >= 0.99, "{name}: caught in only {rate}");
        assert!(right_metric as f64 >= 0.95 * caught.len() as f64, "{name}: blamed the wrong metric");
    }
}

#[test]
fn aa_rollouts_are_rarely_stopped_however_often_checked() {
    let config = GuardConfig::default();
    let runs = 600;
    for (i, share) in [0.5, 0.1].into_iter().enumerate() {
        let traffic = Traffic { share, control: BASE, treatment: BASE, per_user: 10 };
        let results = guard_runs(0xA11CE + i as u64, runs, traffic, AA_HORIZON, config);
        let rollbacks = results.iter().flatten().filter(|(d, _, _)| matches!(d, Decision::Rollback { .. })).count();
        let halts = results.iter().flatten().filter(|(d, _, _)| matches!(d, Decision::Halt { .. })).count();
        let fpr = (rollbacks + halts) as f64 / runs as f64;
        println!(
            "A/A guard, treatment share {share}, checked every {CHECK_EVERY} predictions up to {AA_HORIZON}: stopped in {}/{runs} runs = {:.2}% ({rollbacks} rollbacks, {halts} SRM halts); α = {}",
            rollbacks + halts,
            100.0 * fpr,
            config.alpha
        );
        assert!(fpr <= config.alpha + tolerance(config.alpha, runs), "A/A false-positive rate {fpr}");
    }
}

/// One metric (error rate 1%, A/A, 50/50) tested two ways under the same peeking: the mSPRT
/// stays at or below α, the fixed-horizon z-test repeated at every check does not.
#[test]
fn peeking_breaks_a_fixed_horizon_test_but_not_the_msprt() {
    let alpha = 0.05;
    let z_one_sided = 1.644_853_626_951_472_2; // fixed-horizon one-sided 5%
    let min = GuardConfig::default().min_predictions;
    let runs = 600;
    let traffic = Traffic { share: 0.5, control: BASE, treatment: BASE, per_user: 10 };
    let test = Msprt::new(0.01).unwrap();
    let mut rng = SplitMix(0x5EED);
    let (mut msprt_flags, mut naive_flags) = (0, 0);
    for _ in 0..runs {
        let mut state = SequentialState::new();
        let (mut msprt, mut naive) = (false, false);
        run(&mut rng, &traffic, AA_HORIZON, |c, t| {
            if c.attempts() < min || t.attempts() < min {
                return false;
            }
            let (cp, tp) = (Proportion::new(c.errors, c.attempts()), Proportion::new(t.errors, t.attempts()));
            let est = estimate_diff(cp, tp).unwrap();
            msprt |= state.observe(&test, &est, alpha).unwrap().worse;
            // textbook two-proportion z with the pooled rate
            let pooled = (cp.events + tp.events) as f64 / (cp.trials + tp.trials) as f64;
            let se = (pooled * (1.0 - pooled) * (1.0 / cp.trials as f64 + 1.0 / tp.trials as f64)).sqrt();
            if se > 0.0 {
                naive |= est.diff / se > z_one_sided;
            }
            false // run to the horizon: both see every check
        });
        msprt_flags += usize::from(msprt);
        naive_flags += usize::from(naive);
    }
    let (m, n) = (msprt_flags as f64 / runs as f64, naive_flags as f64 / runs as f64);
    println!(
        "A/A error rate 1%, {runs} runs, one-sided α = {alpha}, checked every {CHECK_EVERY} up to {AA_HORIZON}: mSPRT flagged {:.2}%, repeated fixed-horizon z-test flagged {:.2}%",
        100.0 * m,
        100.0 * n
    );
    assert!(m <= alpha + tolerance(alpha, runs), "mSPRT A/A rate {m}");
    assert!(n > alpha + tolerance(alpha, runs), "the naive test was expected to exceed α under peeking, got {n}");
}

/// Predictions of a user are correlated (a broken device errors often): 2% of users err on 30%
/// of their attempts, the rest on 0.4% (mean ≈ 1%), 20 attempts each. Treating predictions as
/// independent is then anti-conservative; the configured design effect 1 + (m-1)ρ restores α.
#[test]
fn correlated_predictions_need_the_design_effect() {
    let (p_bad, rate_bad, rate_good, m) = (0.02f64, 0.30f64, 0.004f64, 20u64);
    let mean = p_bad * rate_bad + (1.0 - p_bad) * rate_good;
    let rho = p_bad * (1.0 - p_bad) * (rate_bad - rate_good).powi(2) / (mean * (1.0 - mean));
    let deff = 1.0 + (m as f64 - 1.0) * rho;
    let runs = 400;
    let mut rates = Vec::new();
    for design_effect in [1.0, deff] {
        let config = GuardConfig { design_effect, ..GuardConfig::default() };
        let mut rng = SplitMix(0xDEFF);
        let mut stopped = 0;
        for _ in 0..runs {
            let mut state = GuardState::default();
            let (mut c, mut t) = (ArmCounts::default(), ArmCounts::default());
            let mut flagged = false;
            while c.attempts() + t.attempts() < AA_HORIZON && !flagged {
                for _ in 0..(CHECK_EVERY / m).max(1) {
                    let arm = if rng.bernoulli(0.5) { &mut t } else { &mut c };
                    let rate = if rng.bernoulli(p_bad) { rate_bad } else { rate_good };
                    user(&mut rng, arm, &Rates { error: rate, ..BASE }, m);
                }
                let input = GuardInput { control: c, treatment: t, expected_split: Some(Split::rollout(0.5)) };
                flagged = check(&config, &mut state, &input).unwrap().must_stop();
            }
            stopped += usize::from(flagged);
        }
        let fpr = stopped as f64 / runs as f64;
        println!(
            "A/A with correlated predictions (intra-user ρ = {rho:.3}, {m} per user): design effect {design_effect:.2} -> stopped in {:.2}% of {runs} runs",
            100.0 * fpr
        );
        rates.push(fpr);
    }
    assert!(rates[1] <= 0.05 + tolerance(0.05, runs), "with the design effect: {}", rates[1]);
    assert!(rates[1] <= rates[0], "the design effect can only make the guard more careful");
}

#[test]
fn srm_flags_a_broken_split_not_a_correct_one() {
    let threshold = burn_edge_stats::srm::DEFAULT_THRESHOLD;
    let (users, runs) = (20_000u64, 500);
    let mut rng = SplitMix(0x5A5A);
    let (mut once, mut peeking, mut broken) = (0, 0, 0);
    for _ in 0..runs {
        let (mut c, mut t) = (0u64, 0u64);
        let mut flagged_any = false;
        for i in 1..=users {
            if rng.bernoulli(0.5) {
                t += 1
            } else {
                c += 1
            }
            if i % 100 == 0 && i >= 200 {
                flagged_any |= burn_edge_stats::srm::check(&[c, t], &[0.5, 0.5], threshold).unwrap().mismatch;
            }
        }
        once += usize::from(burn_edge_stats::srm::check(&[c, t], &[0.5, 0.5], threshold).unwrap().mismatch);
        peeking += usize::from(flagged_any);
        // a split configured 50/50 that really delivers 52/48
        let treated = (0..users).filter(|_| rng.bernoulli(0.48)).count() as u64;
        broken += usize::from(burn_edge_stats::srm::check(&[users - treated, treated], &[0.5, 0.5], threshold).unwrap().mismatch);
    }
    let (once, peeking, broken) = (once as f64 / runs as f64, peeking as f64 / runs as f64, broken as f64 / runs as f64);
    println!(
        "SRM (p < {threshold}), {runs} runs of {users} users: correct 50/50 flagged {:.2}% at the end, {:.2}% ever when checked every 100 users; 52/48 flagged {:.1}%",
        100.0 * once,
        100.0 * peeking,
        100.0 * broken
    );
    assert!(once <= threshold + tolerance(0.01, runs), "correct split flagged {once}");
    assert!(peeking <= 0.05, "correct split flagged under peeking {peeking}");
    assert!(broken >= 0.95, "52/48 caught only {broken}");
    // and exactly 52/48 of 20,000 is flagged
    assert!(burn_edge_stats::srm::check(&[10_400, 9_600], &[0.5, 0.5], threshold).unwrap().mismatch);
    assert!(!burn_edge_stats::srm::check(&[10_000, 10_000], &[0.5, 0.5], threshold).unwrap().mismatch);
}
