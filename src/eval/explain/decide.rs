//! `explain`'s decision on ranked evidence: which candidates reach the reference, and, when more
//! than one does, that the sample cannot tell them apart and how many images would.
//!
//! One candidate reaching the reference names the pipeline (or confirms the manifest's recipe);
//! several reaching it on a small sample are only consistent with it, each as much as the other
//! (100 images give intervals about 18 points wide, which hold a published number for most
//! filters). Naming one of them then would be a guess, so the verdict is
//! [`ExplainVerdict::CannotTellApart`], with every candidate that reaches it and an estimate of
//! the sample that would separate them ([`images_to_separate`]).

use serde::Serialize;

use super::{Evidence, ExplainVerdict};
use crate::eval::stats::wilson_of_rate;

/// How [`images_to_separate`] counts, as every output states it.
pub const SEPARATION_METHOD: &str = "the smallest number of images at which the 95% Wilson \
     interval of the first-ranked candidate's rate would no longer overlap that of any other \
     candidate reaching the reference, if each kept the rate it has on this sample (top-1 \
     agreement with the --against run where there is one, else top-1 accuracy); no finite number \
     when two of them have the same rate";

/// Beyond this many images the estimate is no number a user could gather (50,000 is the whole
/// validation set): rates closer than about 1e-5 apart are taken as equal.
const MAX_IMAGES: f64 = 1e12;

/// The candidates the sample cannot tell apart, all reaching the reference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CannotTellApart {
    /// Every candidate that reaches the reference, first-ranked first.
    pub candidates: Vec<String>,
    /// Whether the manifest's own recipe is one of them.
    pub manifest_recipe_among: bool,
    /// The rate compared: `top-1 agreement` (with `--against`) or `top-1 accuracy`.
    pub rate: &'static str,
    /// The images that would separate the first from every other ([`SEPARATION_METHOD`]);
    /// `None`: no finite number, since some have the first's very rate.
    pub images_needed: Option<u64>,
    /// The others with the first's very rate: no sample separates them by it.
    pub same_rate: Vec<String>,
    /// The images that would separate the first from the others whose rate differs; `None`
    /// when every other has its rate.
    pub images_needed_for_the_rest: Option<u64>,
    /// Of the others whose rate differs, the one that needs the most images.
    pub closest: Option<String>,
    pub method: &'static str,
}

/// The verdict, and what the sample cannot tell apart when that is the verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub verdict: ExplainVerdict,
    pub cannot_tell_apart: Option<CannotTellApart>,
}

/// The rate a separation is computed on, as a fraction: top-1 agreement where there is a
/// reference run, else top-1 accuracy.
fn rate(evidence: &Evidence) -> f64 {
    evidence.agreement_top1.unwrap_or(evidence.top1) / 100.0
}

/// The decision on evidence ranked by [`super::rank`] (those that reach the reference first):
/// none reaching it is `not-the-pipeline`; exactly one is `recipe-confirmed` when it is the
/// manifest's recipe, else `pipeline-explains`; more than one is `cannot-tell-apart`.
pub fn decide(ranked: &[Evidence]) -> Decision {
    let reaching: Vec<&Evidence> = ranked.iter().filter(|e| e.reaches).collect();
    let verdict = match reaching.as_slice() {
        [] => ExplainVerdict::NotThePipeline,
        [one] if one.candidate.origin == "manifest" => ExplainVerdict::RecipeConfirmed,
        [_] => ExplainVerdict::PipelineExplains,
        _ => ExplainVerdict::CannotTellApart,
    };
    let cannot_tell_apart = (verdict == ExplainVerdict::CannotTellApart).then(|| {
        let first = reaching[0];
        let needs: Vec<(&Evidence, Option<u64>)> = reaching[1..]
            .iter()
            .map(|other| (*other, images_to_separate(rate(first), rate(other))))
            .collect();
        let same_rate: Vec<String> = needs
            .iter()
            .filter(|(_, needed)| needed.is_none())
            .map(|(e, _)| e.candidate.name.clone())
            .collect();
        // Of the others that a finite sample separates, the one that needs the most images.
        let hardest = needs
            .iter()
            .filter_map(|(e, needed)| Some((e, (*needed)?)))
            .max_by_key(|(_, needed)| *needed);
        let images_needed_for_the_rest = hardest.map(|(_, needed)| needed);
        CannotTellApart {
            candidates: reaching.iter().map(|e| e.candidate.name.clone()).collect(),
            manifest_recipe_among: reaching.iter().any(|e| e.candidate.origin == "manifest"),
            rate: if first.agreement_top1.is_some() {
                "top-1 agreement"
            } else {
                "top-1 accuracy"
            },
            images_needed: images_needed_for_the_rest.filter(|_| same_rate.is_empty()),
            same_rate,
            images_needed_for_the_rest,
            closest: hardest.map(|(e, _)| e.candidate.name.clone()),
            method: SEPARATION_METHOD,
        }
    });
    Decision {
        verdict,
        cannot_tell_apart,
    }
}

/// The smallest number of images at which the 95% Wilson intervals of rates `a` and `b` (as
/// fractions) no longer overlap, if both kept their rates ([`SEPARATION_METHOD`]); `None` when
/// the rates are equal, since no sample separates them then. The intervals narrow as images are
/// added, so the count is found by doubling, then bisection.
pub fn images_to_separate(a: f64, b: f64) -> Option<u64> {
    let (high, low) = if a >= b { (a, b) } else { (b, a) };
    let apart = |n: f64| wilson_of_rate(high, n).0 > wilson_of_rate(low, n).1;
    let mut upper = 1.0;
    while !apart(upper) {
        upper *= 2.0;
        if upper > MAX_IMAGES {
            return None;
        }
    }
    let mut lower = upper / 2.0;
    if apart(lower) {
        return Some(1);
    }
    // `lower` overlaps, `upper` is apart.
    while upper - lower > 1.0 {
        let middle = ((lower + upper) / 2.0).floor();
        if apart(middle) {
            upper = middle;
        } else {
            lower = middle;
        }
    }
    Some(upper as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::explain::Candidate;

    fn evidence(name: &str, origin: &'static str, top1: f64, reaches: bool) -> Evidence {
        Evidence {
            candidate: Candidate {
                name: name.into(),
                recipe: crate::image::recipe::preset("torchvision").unwrap(),
                compat: crate::image::pipelines::PillowCompat::V13,
                label_offset: 0,
                changes: Vec::new(),
                origin,
            },
            images: 100,
            labelled: 100,
            failed: 0,
            top1,
            top5: 90.0,
            top1_interval: None,
            top5_interval: None,
            agreement_top1: None,
            agreement_top5: None,
            reaches,
        }
    }

    #[test]
    fn one_reaching_candidate_is_named_and_none_is_not_the_pipeline() {
        let manifest = evidence("own", "manifest", 70.0, true);
        let other = evidence("own+LANCZOS", "variation", 60.0, false);
        let decided = decide(&[manifest.clone(), other.clone()]);
        assert_eq!(decided.verdict, ExplainVerdict::RecipeConfirmed);
        assert_eq!(decided.cannot_tell_apart, None);

        let explains = evidence("own+LANCZOS", "variation", 70.0, true);
        let own = evidence("own", "manifest", 60.0, false);
        let decided = decide(&[explains, own]);
        assert_eq!(decided.verdict, ExplainVerdict::PipelineExplains);
        assert_eq!(decided.cannot_tell_apart, None);

        let none = decide(&[
            evidence("own", "manifest", 60.0, false),
            evidence("own+BOX", "variation", 50.0, false),
        ]);
        assert_eq!(none.verdict, ExplainVerdict::NotThePipeline);
        assert_eq!(none.cannot_tell_apart, None);
        assert_eq!(decide(&[]).verdict, ExplainVerdict::NotThePipeline);
    }

    #[test]
    fn several_reaching_the_reference_cannot_be_told_apart() {
        // The case: 100 images, LANCZOS 72% and the manifest's own BILINEAR 65% (interval
        // [55.3, 73.6]) both hold the published 70.8.
        let ranked = [
            evidence("own+LANCZOS", "variation", 72.0, true),
            evidence("own+HAMMING", "variation", 73.0, true),
            evidence("own", "manifest", 65.0, true),
            evidence("own+NEAREST", "variation", 40.0, false),
        ];
        let decided = decide(&ranked);
        assert_eq!(decided.verdict, ExplainVerdict::CannotTellApart);
        let apart = decided.cannot_tell_apart.unwrap();
        assert_eq!(apart.candidates, ["own+LANCZOS", "own+HAMMING", "own"]);
        assert!(apart.manifest_recipe_among);
        assert_eq!(apart.rate, "top-1 accuracy");
        // 72% against 73% is the pair that needs the most images.
        assert_eq!(apart.closest.as_deref(), Some("own+HAMMING"));
        assert!(apart.same_rate.is_empty());
        assert_eq!(apart.images_needed_for_the_rest, apart.images_needed);
        let needed = apart.images_needed.unwrap();
        assert_eq!(Some(needed), images_to_separate(0.72, 0.73));
        assert!(needed > images_to_separate(0.72, 0.65).unwrap());

        // All candidates reach it: every one is listed.
        let all = [
            evidence("a", "variation", 71.0, true),
            evidence("own", "manifest", 70.0, true),
        ];
        let apart = decide(&all).cannot_tell_apart.unwrap();
        assert_eq!(apart.candidates, ["a", "own"]);

        // With a reference run, the rate is the agreement.
        let mut a = evidence("a", "variation", 71.0, true);
        let mut b = evidence("b", "variation", 71.0, true);
        (a.agreement_top1, b.agreement_top1) = (Some(100.0), Some(99.0));
        let apart = decide(&[a, b]).cannot_tell_apart.unwrap();
        assert_eq!(apart.rate, "top-1 agreement");
        assert_eq!(apart.images_needed, images_to_separate(1.0, 0.99));
        assert!(!apart.manifest_recipe_among);
    }

    #[test]
    fn identical_rates_need_no_finite_number_of_images() {
        let decided = decide(&[
            evidence("a", "manifest", 68.0, true),
            evidence("a+BOX", "variation", 50.0, true),
            evidence("a+crop1", "variation", 68.0, true),
        ]);
        let apart = decided.cannot_tell_apart.unwrap();
        assert_eq!(apart.images_needed, None);
        assert_eq!(apart.same_rate, ["a+crop1"]);
        // The one whose rate differs is still counted.
        assert_eq!(apart.closest.as_deref(), Some("a+BOX"));
        assert_eq!(
            apart.images_needed_for_the_rest,
            images_to_separate(0.68, 0.50)
        );
        // Every one the same: nothing to count at all.
        let apart = decide(&[
            evidence("a", "manifest", 68.0, true),
            evidence("a+crop1", "variation", 68.0, true),
        ])
        .cannot_tell_apart
        .unwrap();
        assert_eq!(
            (
                apart.images_needed,
                apart.images_needed_for_the_rest,
                apart.closest
            ),
            (None, None, None)
        );
        assert_eq!(images_to_separate(0.5, 0.5), None);
        assert_eq!(images_to_separate(1.0, 1.0), None);
        assert_eq!(images_to_separate(0.0, 0.0), None);
    }

    #[test]
    fn the_count_is_where_the_intervals_stop_overlapping() {
        for (a, b) in [
            (0.72, 0.65),
            (0.72, 0.73),
            (1.0, 0.99),
            (0.0, 1.0),
            (0.3, 0.31),
        ] {
            let n = images_to_separate(a, b).unwrap();
            let (high, low) = (a.max(b), a.min(b));
            let apart = |n: u64| wilson_of_rate(high, n as f64).0 > wilson_of_rate(low, n as f64).1;
            assert!(apart(n), "{a} {b}: {n}");
            assert!(n == 1 || !apart(n - 1), "{a} {b}: {n} is the smallest");
            assert_eq!(images_to_separate(b, a), Some(n), "symmetric");
        }
        // Normal approximation as a cross-check: n ≈ (z (σa + σb) / |a − b|)², 15,000 or so
        // for one point at 72%; Wilson's is within a few percent of it there.
        let n = images_to_separate(0.72, 0.73).unwrap() as f64;
        let z = 1.959_963_984_540_054_f64;
        let sigma = |p: f64| (p * (1.0 - p)).sqrt();
        let normal = (z * (sigma(0.72) + sigma(0.73)) / 0.01).powi(2);
        assert!((n / normal - 1.0).abs() < 0.05, "{n} {normal}");
        // Far apart: a handful of images.
        assert!(images_to_separate(0.0, 1.0).unwrap() < 5);
    }
}
