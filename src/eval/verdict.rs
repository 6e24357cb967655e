//! The verdict on an evaluated image set: its score against its labels, and what the
//! manifest's references measured with the same recipe on the same images say of it.

use serde::{Deserialize, Serialize};

use crate::dataset::Entry;
use crate::eval::prediction::{Prediction, Tally, percent};
use crate::eval::trust::{Identity, Mark, ReferenceOrigin};
use crate::model::manifest::{self, Manifest, Reference};

/// Float noise allowance when comparing a percentage difference with the tolerance.
const TOLERANCE_EPSILON: f64 = 1e-9;

/// The allowed top-1 gap to the expected reference, in percentage points, unless told otherwise
/// (`verify --tolerance`); `table` judges its rows with it.
pub const DEFAULT_TOLERANCE: f64 = 0.1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReferenceResult {
    pub source: String,
    pub top1: f64,
    /// `None` when the source publishes no top-5 (MLPerf).
    pub top5: Option<f64>,
    pub delta_top1: f64,
    pub delta_top5: Option<f64>,
    pub expected: bool,
    pub recipe: Option<String>,
    pub note: String,
    /// Where the number comes from: built in, or a user's manifest (its path and sha256);
    /// `unknown` in records written before origins were kept.
    #[serde(default)]
    pub origin: ReferenceOrigin,
    /// How the evaluated set was tied to the set the number was measured on.
    #[serde(default)]
    pub identity: Option<Identity>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictStatus {
    /// Top-1 is within tolerance of the expected reference.
    Reproduced,
    /// Top-1 is further than the tolerance from the expected reference.
    Drift,
    /// No reference of the manifest was measured on this image set with this recipe.
    NoReference,
    /// A part of the validation set (`--limit`, a shard, a sample) whose 95% interval holds the
    /// expected full-set number: as close as so few images can say.
    Consistent,
}

impl VerdictStatus {
    /// The status as the JSON spells it, for CSV cells.
    pub fn name(self) -> &'static str {
        match self {
            VerdictStatus::Reproduced => "reproduced",
            VerdictStatus::Drift => "drift",
            VerdictStatus::NoReference => "no-reference",
            VerdictStatus::Consistent => "consistent",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verdict {
    pub status: VerdictStatus,
    pub tolerance: f64,
    pub expected_source: Option<String>,
    pub summary: String,
    /// What the reader must know beside the status ([`crate::eval::trust`]); empty for a run
    /// every guarantee holds for.
    #[serde(default)]
    pub marks: Vec<Mark>,
}

impl Verdict {
    /// The status with its marks, as tables and summary lines show it.
    pub fn status_text(&self) -> String {
        crate::eval::trust::status_text(self.status, &self.marks)
    }
}

/// A reference that applies to an evaluated image set, as a run stores it: the manifest's
/// entry, whether it decides the verdict, how (exactly, or by the interval of a part of the full
/// validation set), where it comes from and how the set was tied to it. `table` judges a stored
/// run by what the run stored, so a manifest written later cannot rewrite an old verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Applicable {
    pub reference: Reference,
    pub expected: bool,
    /// Judged by the 95% interval of a part of the validation set against this full-set number.
    #[serde(default)]
    pub by_interval: bool,
    pub origin: ReferenceOrigin,
    pub identity: Identity,
}

/// The references of `manifest` that apply to `image_set` with `recipe`: those measured on it,
/// and, where none of them decides and the set is a part of the validation set, the expected
/// full-set number to judge it by its interval.
pub fn applicable(
    manifest: &Manifest,
    recipe: &str,
    image_set: &manifest::ImageSetId<'_>,
) -> Vec<Applicable> {
    let mut found: Vec<Applicable> = manifest
        .references_for(recipe, image_set)
        .into_iter()
        .map(|(reference, expected)| Applicable {
            reference: reference.clone(),
            expected,
            by_interval: false,
            origin: manifest.origin.clone(),
            identity: reference.image_set.identity(),
        })
        .collect();
    let part_of_full_set =
        image_set.within_full_val && image_set.images > 0 && image_set.images < FULL_SET_IMAGES;
    if !found.iter().any(|a| a.expected)
        && part_of_full_set
        && let Some(full_set) = manifest.full_set_expected(recipe)
    {
        found.push(Applicable {
            reference: full_set.clone(),
            expected: true,
            by_interval: true,
            origin: manifest.origin.clone(),
            // A part is tied to the full set by its files' names and their own labels.
            identity: Identity::NamesAndCount,
        });
    }
    found
}

/// The numbers of an evaluated image set and what the manifest's references say of them.
pub struct Assessment {
    pub score: Score,
    pub image_set_sha256: String,
    pub image_set_content_sha256: Option<String>,
    pub references: Vec<ReferenceResult>,
    pub verdict: Verdict,
}

/// Scores `ordered` and judges it against the references measured on its image set: its names,
/// and its contents when `image_set_content_sha256` (the labelled images' content digest) is known.
pub fn assess(
    manifest: &Manifest,
    recipe: &str,
    ordered: &[(Entry, Prediction)],
    image_set_content_sha256: Option<String>,
    layout_name: Option<&str>,
    tolerance: f64,
) -> Assessment {
    let score = Score::of(ordered);
    let image_set_sha256 = manifest::image_set_digest(
        ordered
            .iter()
            .filter(|(entry, _)| entry.label.is_some())
            .map(|(entry, _)| entry.name.as_str()),
    );
    let image_set = manifest::ImageSetId {
        sha256: &image_set_sha256,
        content_sha256: image_set_content_sha256.as_deref(),
        images: score.images,
        layout_name,
        within_full_val: within_full_val(ordered),
    };
    let found = applicable(manifest, recipe, &image_set);
    let (mut references, mut verdict) =
        judge_applicable(&found, &manifest.id, recipe, &score.tally(), tolerance);
    let unlabelled = ordered.len() - score.images;
    if let Some(reason) = nothing_scored(score.images, score.evaluated, unlabelled) {
        // No ranked image: no number to judge, and no reference decides anything.
        for reference in &mut references {
            reference.expected = false;
        }
        verdict = Verdict {
            status: VerdictStatus::NoReference,
            tolerance,
            expected_source: None,
            summary: reason,
            marks: Vec::new(),
        };
    }
    Assessment {
        score,
        image_set_sha256,
        image_set_content_sha256,
        references,
        verdict,
    }
}

/// Why a run scored nothing, when no labelled image was ranked: none is labelled, or every
/// labelled one failed. `None` when some image was scored, and for a run of no image at all (a
/// shard that got none of a small set: an empty part by design, which `merge` completes). Every
/// output says it, and such a run exits 3 whatever `--require-reference` says: an empty run is
/// not a success.
pub fn nothing_scored(labelled: usize, evaluated: usize, unlabelled: usize) -> Option<String> {
    if evaluated > 0 || labelled + unlabelled == 0 {
        return None;
    }
    Some(if labelled == 0 {
        format!(
            "nothing was scored: none of the {unlabelled} images is labelled (a flat folder or a tar labels only \
             files named like ILSVRC2012_val_00000001.JPEG; pass --ground-truth FILE to label any other)"
        )
    } else {
        format!(
            "nothing was scored: all {labelled} labelled images failed to be read or decoded (the record lists them \
             under failures)"
        )
    })
}

/// Accuracy over the labelled images; failed images count as incorrect.
#[derive(Clone, Copy, Debug, Default)]
pub struct Score {
    pub images: usize,
    pub evaluated: usize,
    pub failed: usize,
    pub top1_correct: usize,
    pub top5_correct: usize,
}

impl Score {
    pub fn of(ordered: &[(Entry, Prediction)]) -> Score {
        let mut score = Score::default();
        let mut tally = Tally::default();
        for (entry, prediction) in ordered {
            let Some(label) = entry.label else { continue };
            let top5 = prediction.outcome.top5();
            score.failed += usize::from(top5.is_none());
            tally.count_label(top5, label);
        }
        score.images = tally.images;
        score.evaluated = tally.images - score.failed;
        score.top1_correct = tally.top1_correct;
        score.top5_correct = tally.top5_correct;
        score
    }

    pub fn top1(&self) -> f64 {
        percent(self.top1_correct, self.images)
    }

    pub fn top5(&self) -> f64 {
        percent(self.top5_correct, self.images)
    }

    /// Top-1 and top-5 in percent, `None` when no labelled image was ranked (none is labelled,
    /// or every labelled one failed): a percentage of nothing is no number (records write it as
    /// null, every text as n/a).
    pub fn percentages(&self) -> (Option<f64>, Option<f64>) {
        self.tally()
            .percentages()
            .map_or((None, None), |(top1, top5)| (Some(top1), Some(top5)))
    }

    pub fn tally(&self) -> Tally {
        Tally {
            images: self.images,
            top1_correct: self.top1_correct,
            top5_correct: self.top5_correct,
            failed: self.failed,
        }
    }
}

/// What the manifest's references measured on `image_set` say of `score`: every applicable
/// reference with its deltas, and the verdict of the one expected for `recipe`. A part of the
/// validation set that no reference was measured on is judged against the expected full-set
/// number by its 95% interval.
pub fn judge(
    manifest: &Manifest,
    recipe: &str,
    image_set: &manifest::ImageSetId<'_>,
    score: &Tally,
    tolerance: f64,
) -> (Vec<ReferenceResult>, Verdict) {
    let found = applicable(manifest, recipe, image_set);
    judge_applicable(&found, &manifest.id, recipe, score, tolerance)
}

/// The numeric verdict of `score` against references that apply (fresh from a manifest, or as a
/// run stored them). Shared by `verify`, `merge` and `table`, so all judge alike; the marks are
/// added by [`crate::eval::trust::rule`] afterwards.
pub fn judge_applicable(
    found: &[Applicable],
    model_id: &str,
    recipe: &str,
    score: &Tally,
    tolerance: f64,
) -> (Vec<ReferenceResult>, Verdict) {
    let (top1, top5) = (score.top1(), score.top5());
    let result = |applicable: &Applicable| {
        let reference = &applicable.reference;
        ReferenceResult {
            source: reference.source.clone(),
            top1: reference.top1,
            top5: reference.top5,
            delta_top1: top1 - reference.top1,
            delta_top5: reference.top5.map(|r| top5 - r),
            expected: applicable.expected,
            recipe: reference.recipe.clone(),
            note: if applicable.by_interval {
                format!(
                    "measured on all 50,000 validation images; judged by the 95% interval of these {}: {}",
                    score.images, reference.note
                )
            } else {
                reference.note.clone()
            },
            origin: applicable.origin.clone(),
            identity: Some(applicable.identity),
        }
    };
    let results: Vec<ReferenceResult> = found.iter().map(result).collect();
    let decisive = found
        .iter()
        .zip(&results)
        .find(|(applicable, _)| applicable.expected);
    let verdict = match decisive {
        Some((applicable, expected)) if applicable.by_interval => {
            interval_verdict(expected, score, tolerance)
        }
        Some((_, expected)) => exact_verdict(expected, top1, tolerance),
        None => Verdict {
            status: VerdictStatus::NoReference,
            tolerance,
            expected_source: None,
            summary: format!(
                "no reference of {model_id} was measured with recipe {recipe} on this image set ({} images); nothing to compare",
                score.images
            ),
            marks: Vec::new(),
        },
    };
    (results, verdict)
}

const FULL_SET_IMAGES: usize = 50_000;

/// Whether every labelled image is a validation file under its own name and label.
fn within_full_val(ordered: &[(Entry, Prediction)]) -> bool {
    let mut labelled = ordered
        .iter()
        .filter(|(entry, _)| entry.label.is_some())
        .peekable();
    labelled.peek().is_some()
        && labelled.all(|(entry, _)| {
            entry.label.is_some_and(|label| {
                crate::dataset::labels::is_own_validation_file(&entry.name, label)
            })
        })
}

fn exact_verdict(expected: &ReferenceResult, top1: f64, tolerance: f64) -> Verdict {
    let within = expected.delta_top1.abs() <= tolerance + TOLERANCE_EPSILON;
    let summary = if within {
        format!(
            "reproduced: top-1 {:.3} vs {:.3} ({}), delta {:+.3} within ±{tolerance}",
            top1, expected.top1, expected.source, expected.delta_top1
        )
    } else {
        format!(
            "DRIFT: top-1 {:.3} vs {:.3} ({}), delta {:+.3} beyond ±{tolerance}",
            top1, expected.top1, expected.source, expected.delta_top1
        )
    };
    Verdict {
        status: if within {
            VerdictStatus::Reproduced
        } else {
            VerdictStatus::Drift
        },
        tolerance,
        expected_source: Some(expected.source.clone()),
        summary,
        marks: Vec::new(),
    }
}

/// A part of the validation set against the full-set number: consistent when its 95% Wilson
/// interval holds the number, widened by the tolerance; a drift when even that misses it.
fn interval_verdict(expected: &ReferenceResult, score: &Tally, tolerance: f64) -> Verdict {
    let (lo, hi) =
        crate::eval::stats::wilson_interval(score.top1_correct as u64, score.images as u64)
            .map_or((0.0, 100.0), |(lo, hi)| (100.0 * lo, 100.0 * hi));
    let holds = lo - tolerance <= expected.top1 && expected.top1 <= hi + tolerance;
    let summary = if holds {
        format!(
            "consistent with {:.3} ({}, all 50,000 images): top-1 {:.3} on these {} validation images, whose 95% interval {lo:.2}–{hi:.2} holds it; only the full set can confirm to ±{tolerance}",
            expected.top1,
            expected.source,
            score.top1(),
            score.images
        )
    } else {
        format!(
            "DRIFT: {:.3} ({}, all 50,000 images) lies outside the 95% interval {lo:.2}–{hi:.2} of top-1 {:.3} on these {} validation images",
            expected.top1,
            expected.source,
            score.top1(),
            score.images
        )
    };
    Verdict {
        status: if holds {
            VerdictStatus::Consistent
        } else {
            VerdictStatus::Drift
        },
        tolerance,
        expected_source: Some(expected.source.clone()),
        summary,
        marks: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::prediction::Outcome;

    fn image(name: &str, label: Option<u16>, outcome: Outcome) -> (Entry, Prediction) {
        let entry = Entry {
            file: format!("n0/{name}"),
            name: name.into(),
            label,
        };
        let prediction = Prediction {
            name: name.into(),
            file: entry.file.clone(),
            label,
            outcome,
        };
        (entry, prediction)
    }

    #[test]
    fn failed_images_count_as_incorrect_and_unlabelled_ones_not_at_all() {
        let ranked = |top1| Outcome::Ranked {
            top5: [top1, 1, 2, 3, 4],
            scores: [0.0; 5],
        };
        let score = Score::of(&[
            image("a", Some(7), ranked(7)),
            image("b", Some(2), ranked(9)),
            image("c", Some(5), Outcome::Failed("truncated".into())),
            image("d", None, ranked(7)),
        ]);
        assert_eq!((score.images, score.evaluated, score.failed), (3, 2, 1));
        assert_eq!((score.top1_correct, score.top5_correct), (1, 2));
        assert!((score.top1() - 100.0 / 3.0).abs() < 1e-12);
        assert_eq!(Score::default().top5(), 0.0);
    }

    #[test]
    fn a_run_that_scored_nothing_says_why_and_has_no_percentage() {
        assert_eq!(nothing_scored(3, 2, 0), None);
        assert_eq!(nothing_scored(0, 0, 0), None, "an empty shard");
        let unlabelled = nothing_scored(0, 0, 20).unwrap();
        assert!(
            unlabelled.contains("none of the 20 images is labelled")
                && unlabelled.contains("--ground-truth"),
            "{unlabelled}"
        );
        let failed = nothing_scored(5, 0, 1).unwrap();
        assert!(failed.contains("all 5 labelled images failed"), "{failed}");
        assert_eq!(Score::default().percentages(), (None, None));
        let ranked = Outcome::Ranked {
            top5: [7, 1, 2, 3, 4],
            scores: [0.0; 5],
        };
        let score = Score::of(&[image("a", Some(7), ranked.clone())]);
        assert_eq!(score.percentages(), (Some(100.0), Some(100.0)));
        // Every labelled image failed: no number either, whatever an unlabelled one did.
        let score = Score::of(&[
            image("b", Some(2), Outcome::Failed("truncated".into())),
            image("c", Some(3), Outcome::Failed("truncated".into())),
            image("d", None, ranked),
        ]);
        assert_eq!(score.percentages(), (None, None));
    }

    #[test]
    fn a_part_of_the_validation_set_is_judged_by_its_interval() {
        let manifests = crate::model::manifest::load_all(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests"),
        )
        .unwrap();
        let resnet50 = crate::model::manifest::resolve(&manifests, "pytorch/resnet50").unwrap();
        let part = |within_full_val| manifest::ImageSetId {
            sha256: "not-a-known-set",
            content_sha256: None,
            images: 100,
            layout_name: None,
            within_full_val,
        };
        let tally = |correct| Tally {
            images: 100,
            top1_correct: correct,
            top5_correct: correct,
            failed: 0,
        };
        // 76 of 100: the interval 66.8-83.3 holds torchvision's 76.13.
        let (references, verdict) = judge(resnet50, "torchvision", &part(true), &tally(76), 0.1);
        assert_eq!(
            verdict.status,
            VerdictStatus::Consistent,
            "{}",
            verdict.summary
        );
        assert!(
            verdict.summary.contains("consistent with 76.130"),
            "{}",
            verdict.summary
        );
        assert_eq!(verdict.expected_source.as_deref(), Some("torchvision-docs"));
        assert_eq!(references.len(), 1);
        assert!(references[0].expected && references[0].note.contains("95% interval"));
        // 60 of 100: 50.2-69.1 misses it.
        let (_, verdict) = judge(resnet50, "torchvision", &part(true), &tally(60), 0.1);
        assert_eq!(verdict.status, VerdictStatus::Drift, "{}", verdict.summary);
        // Not part of the validation set, or another recipe: nothing to compare.
        let (_, verdict) = judge(resnet50, "torchvision", &part(false), &tally(76), 0.1);
        assert_eq!(verdict.status, VerdictStatus::NoReference);
        let (_, verdict) = judge(resnet50, "keras-caffe", &part(true), &tally(76), 0.1);
        assert_eq!(verdict.status, VerdictStatus::NoReference);
    }

    #[test]
    fn only_validation_files_under_their_own_labels_are_part_of_the_validation_set() {
        let ranked = || Outcome::Ranked {
            top5: [0, 1, 2, 3, 4],
            scores: [0.0; 5],
        };
        let truth = crate::dataset::labels::val_label("ILSVRC2012_val_00000001.JPEG").unwrap();
        let own = image("ILSVRC2012_val_00000001.JPEG", Some(truth), ranked());
        let relabelled = image("ILSVRC2012_val_00000001.JPEG", Some(truth + 1), ranked());
        let other = image("cat.jpg", Some(3), ranked());
        assert!(within_full_val(std::slice::from_ref(&own)));
        assert!(!within_full_val(&[own.clone(), other]));
        assert!(!within_full_val(&[relabelled]));
        assert!(!within_full_val(&[]));
    }
}
