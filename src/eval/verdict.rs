//! The verdict on an evaluated image set: its score against its labels, and what the
//! manifest's references measured with the same recipe on the same images say of it.

use serde::{Deserialize, Serialize};

use crate::dataset::Entry;
use crate::eval::prediction::{Prediction, Tally, percent};
use crate::model::manifest::{self, Manifest};

/// Float noise allowance when comparing a percentage difference with the tolerance.
const TOLERANCE_EPSILON: f64 = 1e-9;

/// The allowed top-1 gap to the expected reference, in percentage points, unless told otherwise
/// (`verify --tolerance`); `table` judges its rows with it.
pub const DEFAULT_TOLERANCE: f64 = 0.1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReferenceResult {
    pub source: String,
    pub top1: f64,
    pub top5: f64,
    pub delta_top1: f64,
    pub delta_top5: f64,
    pub expected: bool,
    pub recipe: Option<String>,
    pub note: String,
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
}

impl VerdictStatus {
    /// The status as the JSON spells it, for CSV cells.
    pub fn name(self) -> &'static str {
        match self {
            VerdictStatus::Reproduced => "reproduced",
            VerdictStatus::Drift => "drift",
            VerdictStatus::NoReference => "no-reference",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verdict {
    pub status: VerdictStatus,
    pub tolerance: f64,
    pub expected_source: Option<String>,
    pub summary: String,
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
    };
    let (references, verdict) = judge(manifest, recipe, &image_set, &score.tally(), tolerance);
    Assessment {
        score,
        image_set_sha256,
        image_set_content_sha256,
        references,
        verdict,
    }
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

    pub fn tally(&self) -> Tally {
        Tally {
            images: self.images,
            top1_correct: self.top1_correct,
            top5_correct: self.top5_correct,
        }
    }
}

/// What the manifest's references measured on `image_set` say of `score`: every applicable
/// reference with its deltas, and the verdict of the one expected for `recipe`. Shared by
/// `verify` (a fresh score) and `table` (a stored run's summary), so both judge alike.
pub fn judge(
    manifest: &Manifest,
    recipe: &str,
    image_set: &manifest::ImageSetId<'_>,
    score: &Tally,
    tolerance: f64,
) -> (Vec<ReferenceResult>, Verdict) {
    let (top1, top5) = (score.top1(), score.top5());
    let applicable = manifest.references_for(recipe, image_set);
    let results: Vec<ReferenceResult> = applicable
        .iter()
        .map(|(reference, expected)| ReferenceResult {
            source: reference.source.clone(),
            top1: reference.top1,
            top5: reference.top5,
            delta_top1: top1 - reference.top1,
            delta_top5: top5 - reference.top5,
            expected: *expected,
            recipe: reference.recipe.clone(),
            note: reference.note.clone(),
        })
        .collect();
    let verdict = match results.iter().find(|r| r.expected) {
        None => Verdict {
            status: VerdictStatus::NoReference,
            tolerance,
            expected_source: None,
            summary: format!(
                "no reference of {} was measured with recipe {} on this image set ({} images); nothing to compare",
                manifest.id, recipe, score.images
            ),
        },
        Some(expected) if expected.delta_top1.abs() <= tolerance + TOLERANCE_EPSILON => Verdict {
            status: VerdictStatus::Reproduced,
            tolerance,
            expected_source: Some(expected.source.clone()),
            summary: format!(
                "reproduced: top-1 {:.3} vs {:.3} ({}), delta {:+.3} within ±{tolerance}",
                top1, expected.top1, expected.source, expected.delta_top1
            ),
        },
        Some(expected) => Verdict {
            status: VerdictStatus::Drift,
            tolerance,
            expected_source: Some(expected.source.clone()),
            summary: format!(
                "DRIFT: top-1 {:.3} vs {:.3} ({}), delta {:+.3} beyond ±{tolerance}",
                top1, expected.top1, expected.source, expected.delta_top1
            ),
        },
    };
    (results, verdict)
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
}
