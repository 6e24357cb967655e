//! Scoring stored predictions against a choice of labels: the original ground truth,
//! ImageNet-ReaL (Beyer et al. 2020), or the original labels cleaned of validated label errors
//! (Northcutt et al. 2021), optionally with the correctable ones corrected.

use std::collections::HashMap;

use serde::Serialize;

use crate::dataset::labels::{self, Consensus, LabelError};
use crate::eval::prediction::Prediction;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelSet {
    Original,
    Real,
    Cleaned,
    Corrected,
}

impl LabelSet {
    pub fn name(self) -> &'static str {
        match self {
            LabelSet::Original => "original",
            LabelSet::Real => "real",
            LabelSet::Cleaned => "cleaned",
            LabelSet::Corrected => "corrected",
        }
    }
}

/// Correct and scored counts; images that a label set leaves out are not scored.
pub use crate::eval::prediction::Tally;

/// What an image is scored against under one label set.
enum Truth<'a> {
    Skip,
    One(u16),
    AnyOf(&'a [u16]),
}

pub struct Scorer<'a> {
    set: LabelSet,
    errors: HashMap<&'a str, &'a LabelError>,
}

impl<'a> Scorer<'a> {
    /// `errors` is the label-error list for `cleaned` / `corrected` (the shipped one or `--labels-file`).
    pub fn new(set: LabelSet, errors: &'a [LabelError]) -> Scorer<'a> {
        Scorer {
            set,
            errors: errors.iter().map(|e| (e.file.as_str(), e)).collect(),
        }
    }

    fn truth(&self, prediction: &Prediction) -> Truth<'static> {
        match self.set {
            LabelSet::Original => prediction.label.map_or(Truth::Skip, Truth::One),
            LabelSet::Real => match labels::val_file_number(&prediction.name) {
                Some(number) => match labels::real_labels().get(number - 1) {
                    Some(set) if !set.is_empty() => Truth::AnyOf(set),
                    _ => Truth::Skip,
                },
                None => Truth::Skip,
            },
            LabelSet::Cleaned | LabelSet::Corrected => {
                let Some(label) = prediction.label else {
                    return Truth::Skip;
                };
                match self.errors.get(prediction.name.as_str()) {
                    None => Truth::One(label),
                    Some(error)
                        if self.set == LabelSet::Corrected
                            && error.consensus == Consensus::Correctable =>
                    {
                        error.corrected.map_or(Truth::Skip, Truth::One)
                    }
                    Some(_) => Truth::Skip,
                }
            }
        }
    }

    /// Failed images count as scored and incorrect, as in `verify`.
    pub fn score<'p>(&self, predictions: impl IntoIterator<Item = &'p Prediction>) -> Tally {
        let mut tally = Tally::default();
        for prediction in predictions {
            let truth = self.truth(prediction);
            if matches!(truth, Truth::Skip) {
                continue;
            }
            let top5 = prediction.outcome.top5();
            match truth {
                Truth::One(label) => tally.count_label(top5, label),
                Truth::AnyOf(set) => tally.count(top5, |class| set.contains(&class)),
                Truth::Skip => unreachable!("skipped above"),
            }
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::prediction::Outcome;

    fn ranked(name: &str, top5: [u16; 5]) -> Prediction {
        Prediction {
            name: name.into(),
            file: name.into(),
            label: labels::val_label(name),
            outcome: Outcome::Ranked {
                top5,
                scores: [0.0; 5],
            },
        }
    }

    #[test]
    fn each_label_set_scores_as_its_paper_defines() {
        // File 1: label 65, ReaL set empty. File 2: label 970, ReaL {970, 795}, a multi-label error.
        // File 33: label 150, correctable to 360.
        let predictions = [
            ranked("ILSVRC2012_val_00000001.JPEG", [65, 1, 2, 3, 4]),
            ranked("ILSVRC2012_val_00000002.JPEG", [795, 1, 2, 3, 4]),
            ranked("ILSVRC2012_val_00000033.JPEG", [360, 150, 2, 3, 4]),
        ];
        let errors = labels::shipped_label_errors();
        let tally = |set| Scorer::new(set, errors).score(&predictions);
        assert_eq!(
            tally(LabelSet::Original),
            Tally {
                images: 3,
                top1_correct: 1,
                top5_correct: 2,
                failed: 0,
            }
        );
        let real = tally(LabelSet::Real);
        assert_eq!(real.images, 2, "file 1 has an empty ReaL set");
        assert_eq!(
            real.top1_correct,
            1 + usize::from(labels::real_labels()[32].contains(&360))
        );
        assert_eq!(
            tally(LabelSet::Cleaned),
            Tally {
                images: 1,
                top1_correct: 1,
                top5_correct: 1,
                failed: 0,
            }
        );
        assert_eq!(
            tally(LabelSet::Corrected),
            Tally {
                images: 2,
                top1_correct: 2,
                top5_correct: 2,
                failed: 0,
            }
        );
    }

    #[test]
    fn failed_images_count_as_incorrect() {
        let failed = Prediction {
            name: "ILSVRC2012_val_00000001.JPEG".into(),
            file: "x".into(),
            label: Some(65),
            outcome: Outcome::Failed("truncated".into()),
        };
        let tally = Scorer::new(LabelSet::Original, &[]).score([&failed]);
        assert_eq!(
            tally,
            Tally {
                images: 1,
                top1_correct: 0,
                top5_correct: 0,
                failed: 1,
            }
        );
        assert_eq!(tally.top1(), 0.0);
        assert_eq!(tally.percentages(), None, "nothing was ranked: no number");
    }
}
