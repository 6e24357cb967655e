//! Explaining a number that does not reproduce: which input pipeline fits.
//!
//! Every candidate ([`candidates()`]) is run on the same sample; the evidence is each candidate's
//! accuracy with its 95% interval and, given a reference prediction set, its per-image agreement
//! with it. Agreement is the sharp signal (a pipeline matching a reference's predictions on
//! 99% of images is that pipeline); without it, candidates are ranked by distance to the expected
//! published number.

pub mod candidates;
pub mod decide;

use std::collections::HashMap;

use serde::Serialize;

pub use candidates::{Candidate, candidates};
pub use decide::{CannotTellApart, Decision, SEPARATION_METHOD, decide};

use crate::eval::prediction::percent;
use crate::eval::rank::TOP_K;
use crate::eval::stats::wilson_interval;

/// Share of identical top-1 predictions from which a candidate is taken to be the reference's
/// pipeline.
pub const AGREEMENT_THRESHOLD: f64 = 99.0;

/// What a candidate measured on the sample.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    #[serde(flatten)]
    pub candidate: Candidate,
    pub images: usize,
    pub labelled: usize,
    pub failed: usize,
    pub top1: f64,
    pub top5: f64,
    pub top1_interval: Option<[f64; 2]>,
    pub top5_interval: Option<[f64; 2]>,
    /// Percent of the images both scored whose top-1 equals the reference's.
    pub agreement_top1: Option<f64>,
    /// Percent whose top-5 set equals the reference's.
    pub agreement_top5: Option<f64>,
    /// Whether the candidate reaches the reference: agreement above the threshold, or, without a
    /// reference prediction set, the expected top-1 and top-5 inside its 95% intervals.
    pub reaches: bool,
}

/// The expected published number on the sample's image set.
#[derive(Clone, Debug, Serialize)]
pub struct Expected {
    pub source: String,
    pub top1: f64,
    /// `None` when the source publishes no top-5 (MLPerf): only top-1 is then checked.
    pub top5: Option<f64>,
}

/// One image of the sample: its label and each candidate's top-5 (`None`: it failed).
pub struct ImageOutcome<'a> {
    pub name: &'a str,
    pub label: Option<u16>,
    pub top5: Vec<Option<[u16; TOP_K]>>,
}

fn interval(successes: usize, trials: usize) -> Option<[f64; 2]> {
    wilson_interval(successes as u64, trials as u64).map(|(lo, hi)| [100.0 * lo, 100.0 * hi])
}

fn inside(value: f64, interval: Option<[f64; 2]>) -> bool {
    interval.is_some_and(|[lo, hi]| lo <= value && value <= hi)
}

/// Each candidate's evidence over `images`, against `expected` and the `reference` predictions
/// (top-5 by image name).
pub fn gather(
    candidates: &[Candidate],
    images: &[ImageOutcome<'_>],
    expected: Option<&Expected>,
    reference: Option<&HashMap<String, [u16; TOP_K]>>,
) -> Vec<Evidence> {
    candidates
        .iter()
        .enumerate()
        .map(|(i, candidate)| {
            let (mut labelled, mut failed, mut top1, mut top5) = (0, 0, 0, 0);
            let (mut shared, mut same_top1, mut same_top5) = (0, 0, 0);
            for image in images {
                let Some(predicted) = image.top5[i] else {
                    failed += 1;
                    continue;
                };
                if let Some(label) = image.label {
                    labelled += 1;
                    top1 += usize::from(predicted[0] == label);
                    top5 += usize::from(predicted.contains(&label));
                }
                if let Some(theirs) = reference.and_then(|r| r.get(image.name)) {
                    shared += 1;
                    same_top1 += usize::from(theirs[0] == predicted[0]);
                    let (mut a, mut b) = (*theirs, predicted);
                    a.sort_unstable();
                    b.sort_unstable();
                    same_top5 += usize::from(a == b);
                }
            }
            let agreement = |n| (reference.is_some() && shared > 0).then(|| percent(n, shared));
            let mut evidence = Evidence {
                candidate: candidate.clone(),
                images: images.len(),
                labelled,
                failed,
                top1: percent(top1, labelled),
                top5: percent(top5, labelled),
                top1_interval: interval(top1, labelled),
                top5_interval: interval(top5, labelled),
                agreement_top1: agreement(same_top1),
                agreement_top5: agreement(same_top5),
                reaches: false,
            };
            evidence.reaches = match (evidence.agreement_top1, expected) {
                (Some(agreement), _) => agreement >= AGREEMENT_THRESHOLD,
                (None, Some(expected)) => {
                    inside(expected.top1, evidence.top1_interval)
                        && expected
                            .top5
                            .is_none_or(|top5| inside(top5, evidence.top5_interval))
                }
                (None, None) => false,
            };
            evidence
        })
        .collect()
}

/// The verdict of `explain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExplainVerdict {
    /// The manifest's recipe ranks first and reaches the reference.
    RecipeConfirmed,
    /// Another candidate ranks first and reaches the reference: the change it names explains it.
    PipelineExplains,
    /// No candidate reaches the reference: the model, the export or the runtime differs.
    NotThePipeline,
    /// More than one candidate reaches the reference: the sample is too small to name one
    /// ([`decide()`]).
    CannotTellApart,
}

impl ExplainVerdict {
    pub fn name(self) -> &'static str {
        match self {
            ExplainVerdict::RecipeConfirmed => "recipe-confirmed",
            ExplainVerdict::PipelineExplains => "pipeline-explains",
            ExplainVerdict::NotThePipeline => "not-the-pipeline",
            ExplainVerdict::CannotTellApart => "cannot-tell-apart",
        }
    }
}

/// Orders the evidence best first: those that reach the reference before those that do not,
/// then by agreement (top-1, then top-5) where there is a reference prediction set, else by
/// distance to the expected top-1, then top-5; on a tie the manifest's recipe first, then the
/// order candidates were built in.
pub fn rank(evidence: &mut [Evidence], expected: Option<&Expected>) {
    let key = |e: &Evidence| {
        let distance = |value: f64, target: Option<f64>| target.map_or(0.0, |t| (value - t).abs());
        [
            if e.reaches { 0.0 } else { 1.0 },
            -e.agreement_top1.unwrap_or(0.0),
            -e.agreement_top5.unwrap_or(0.0),
            distance(e.top1, expected.map(|x| x.top1)),
            distance(e.top5, expected.and_then(|x| x.top5)),
            if e.candidate.origin == "manifest" {
                0.0
            } else {
                1.0
            },
        ]
    };
    evidence.sort_by(|a, b| {
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

/// The candidates the evidence cannot tell from the best one: the same top-1, top-5 and
/// agreement on the sample.
pub fn tied_with_best(ranked: &[Evidence]) -> Vec<String> {
    let Some(best) = ranked.first() else {
        return Vec::new();
    };
    let figures = |e: &Evidence| (e.top1, e.top5, e.agreement_top1, e.agreement_top5);
    ranked[1..]
        .iter()
        .filter(|e| figures(e) == figures(best))
        .map(|e| e.candidate.name.clone())
        .collect()
}

/// The verdict on ranked evidence (see [`rank`] and [`decide()`]).
pub fn verdict(ranked: &[Evidence]) -> ExplainVerdict {
    decide(ranked).verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::pipelines::PillowCompat;
    use crate::image::recipe::{preset, presets};

    fn outcomes(
        labels: &[u16],
        per_candidate: &[Vec<u16>],
        names: &[String],
    ) -> Vec<ImageOutcome<'static>> {
        labels
            .iter()
            .enumerate()
            .map(|(i, &label)| ImageOutcome {
                name: Box::leak(names[i].clone().into_boxed_str()),
                label: Some(label),
                top5: per_candidate
                    .iter()
                    .map(|top1| Some([top1[i], 900, 901, 902, 903]))
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn agreement_ranks_first_and_names_the_pipeline() {
        let all = candidates(
            &preset("torchvision").unwrap(),
            PillowCompat::V13,
            0,
            1000,
            &presets(),
        );
        let two = &all[..2];
        let names: Vec<String> = (0..200).map(|i| format!("{i}.JPEG")).collect();
        let labels: Vec<u16> = (0..200).map(|i| i as u16).collect();
        // The manifest's recipe gets 150 right, the variation 160, and the reference run
        // predicted exactly what the variation predicts.
        let manifest: Vec<u16> = (0..200).map(|i| if i < 150 { i } else { 999 }).collect();
        let variation: Vec<u16> = (0..200).map(|i| if i < 160 { i } else { 998 }).collect();
        let images = outcomes(&labels, &[manifest, variation.clone()], &names);
        let reference: HashMap<String, [u16; TOP_K]> = names
            .iter()
            .zip(&variation)
            .map(|(n, &t)| (n.clone(), [t, 900, 901, 902, 903]))
            .collect();
        let mut evidence = gather(two, &images, None, Some(&reference));
        assert_eq!(evidence[1].agreement_top1, Some(100.0));
        assert_eq!(evidence[0].agreement_top1, Some(75.0));
        rank(&mut evidence, None);
        assert_eq!(evidence[0].candidate.name, two[1].name);
        assert_eq!(verdict(&evidence), ExplainVerdict::PipelineExplains);

        // Without the reference set: distance to the expected number decides.
        let expected = Expected {
            source: "paper".into(),
            top1: 75.0,
            top5: Some(0.0),
        };
        let mut evidence = gather(two, &images, Some(&expected), None);
        rank(&mut evidence, Some(&expected));
        assert_eq!(evidence[0].candidate.origin, "manifest");
        assert!(evidence[0].top1 == 75.0);
        // The expected top-5 (0%) is outside every interval: nothing reaches it.
        assert_eq!(verdict(&evidence), ExplainVerdict::NotThePipeline);

        // A source that publishes no top-5 (MLPerf) is judged on its top-1 alone.
        let top1_only = Expected {
            top5: None,
            ..expected
        };
        let mut evidence = gather(two, &images, Some(&top1_only), None);
        rank(&mut evidence, Some(&top1_only));
        assert_eq!(evidence[0].candidate.origin, "manifest");
        assert!(evidence[0].reaches);
        // 160/200 = 80% [73.9, 85.0] holds 75 too: 200 images cannot tell the two apart.
        assert!(evidence[1].reaches);
        assert_eq!(verdict(&evidence), ExplainVerdict::CannotTellApart);
        let apart = decide(&evidence).cannot_tell_apart.unwrap();
        assert_eq!(apart.candidates, [two[0].name.clone(), two[1].name.clone()]);
        assert!(apart.manifest_recipe_among);
        assert_eq!(apart.images_needed, decide::images_to_separate(0.75, 0.80));
    }

    #[test]
    fn the_manifest_recipe_wins_ties_and_failures_count_as_failed() {
        let all = candidates(
            &preset("torchvision").unwrap(),
            PillowCompat::V13,
            0,
            1000,
            &presets(),
        );
        let images = vec![ImageOutcome {
            name: "a.JPEG",
            label: Some(3),
            top5: vec![Some([3, 1, 2, 4, 5]), Some([3, 1, 2, 4, 5]), None],
        }];
        let expected = Expected {
            source: "x".into(),
            top1: 100.0,
            top5: Some(100.0),
        };
        let mut evidence = gather(&all[..3], &images, Some(&expected), None);
        assert_eq!(evidence[2].failed, 1);
        evidence.swap(0, 1);
        rank(&mut evidence, Some(&expected));
        assert_eq!(evidence[0].candidate.origin, "manifest");
        // One image: both that scored it hold 100%, with the same rate: no sample separates them.
        let decided = decide(&evidence);
        assert_eq!(decided.verdict, ExplainVerdict::CannotTellApart);
        let apart = decided.cannot_tell_apart.unwrap();
        assert_eq!(apart.candidates.len(), 2);
        assert_eq!(apart.images_needed, None);
    }
}
