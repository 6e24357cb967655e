//! Statistics of accuracies: the uncertainty of one measured proportion, and the comparison of two
//! runs on the same images.

/// The two-sided 95% normal quantile, `Φ⁻¹(0.975)`.
const Z_95: f64 = 1.959_963_984_540_054;

/// The 95% Wilson score interval of `successes` out of `trials`, as fractions in `[0, 1]`
/// (`None` for no trials). Unlike the normal approximation it stays inside `[0, 1]` and is
/// honest at 0/n and n/n, which small samples hit.
pub fn wilson_interval(successes: u64, trials: u64) -> Option<(f64, f64)> {
    if trials == 0 || successes > trials {
        return None;
    }
    Some(wilson_of_rate(
        successes as f64 / trials as f64,
        trials as f64,
    ))
}

/// The 95% Wilson interval of a rate `p` (a fraction) observed over `n` trials, `n` not
/// necessarily whole: what the interval of a candidate would be on a larger sample if it kept
/// its rate (`explain`'s images needed to tell candidates apart).
pub fn wilson_of_rate(p: f64, n: f64) -> (f64, f64) {
    let z2 = Z_95 * Z_95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Two-sided exact McNemar test: the probability, under "A and B are equally accurate", of a split
/// of the discordant images at least as uneven as (`only_a`, `only_b`). `only_a` counts images A
/// gets right and B wrong, `only_b` the reverse. It is the binomial test of `min(b, c)` successes in
/// `b + c` fair coin flips, doubled and capped at 1 (as statsmodels' `mcnemar(exact=True)`).
pub fn mcnemar_exact_p(only_a: u64, only_b: u64) -> f64 {
    let n = only_a + only_b;
    if n == 0 {
        return 1.0;
    }
    let k = only_a.min(only_b);
    // Sum C(n, i) / 2^n for i <= k in log space: n reaches 50,000, far past f64's factorial range.
    let ln_factorial = ln_factorials(n);
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let ln_terms: Vec<f64> = (0..=k)
        .map(|i| {
            ln_factorial[n as usize]
                - ln_factorial[i as usize]
                - ln_factorial[(n - i) as usize]
                - ln_half_n
        })
        .collect();
    let max = ln_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = max.exp() * ln_terms.iter().map(|t| (t - max).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

fn ln_factorials(n: u64) -> Vec<f64> {
    let mut table = Vec::with_capacity(n as usize + 1);
    let mut running = 0.0f64;
    table.push(0.0);
    for i in 1..=n {
        running += (i as f64).ln();
        table.push(running);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1e-300)
    }

    #[test]
    fn wilson_intervals_match_the_closed_form() {
        // Reference values: the closed form evaluated independently in Python (what statsmodels'
        // proportion_confint(method="wilson") gives).
        let cases = [
            ((58, 100), (0.482_064_867_030_430, 0.672_016_173_256_453)),
            ((0, 10), (0.0, 0.277_532_799_862_889)),
            ((10, 10), (0.722_467_200_137_111, 1.0)),
            (
                (38_000, 50_000),
                (0.756_236_636_553_165, 0.763_723_415_344_280),
            ),
        ];
        for ((k, n), (lo, hi)) in cases {
            let (l, h) = wilson_interval(k, n).unwrap();
            assert!(
                (l - lo).abs() < 1e-12 && (h - hi).abs() < 1e-12,
                "{k}/{n}: {l} {h}"
            );
        }
        assert_eq!(wilson_interval(0, 0), None);
        assert_eq!(wilson_interval(3, 2), None);
    }

    #[test]
    fn small_cases_match_the_binomial_by_hand() {
        // b=1, c=4: 2 * (C(5,0) + C(5,1)) / 32 = 12/32.
        assert!(close(mcnemar_exact_p(1, 4), 0.375));
        assert!(close(mcnemar_exact_p(4, 1), 0.375));
        // b=0, c=10: 2 / 1024.
        assert!(close(mcnemar_exact_p(0, 10), 2.0 / 1024.0));
        // A balanced split is no evidence at all.
        assert_eq!(mcnemar_exact_p(7, 7), 1.0);
        assert_eq!(mcnemar_exact_p(0, 0), 1.0);
    }

    #[test]
    fn large_counts_stay_finite_and_ordered() {
        // Exact: 2 * sum(C(49, i), i <= 20) / 2^49 = 0.252869...
        let p = mcnemar_exact_p(20, 29);
        assert!((p - 0.252_869_730_167_603_3).abs() < 1e-12, "{p}");
        let tiny = mcnemar_exact_p(10_000, 12_000);
        assert!(tiny > 0.0 && tiny < 1e-30, "{tiny}");
        assert!(mcnemar_exact_p(100, 130) < mcnemar_exact_p(100, 110));
    }
}
