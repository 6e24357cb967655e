//! Statistics for comparing two runs on the same images.

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
