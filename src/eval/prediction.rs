//! What evaluating one image gives ([`Prediction`], its [`Outcome`]), the identity of the file it
//! was computed from ([`Content`]), and the accuracy tally of a set of predictions ([`Summary`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::eval::rank::TOP_K;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Ranked {
        top5: [u16; TOP_K],
        scores: [f32; TOP_K],
    },
    Failed(String),
}

/// What a stored row says of the file it was computed from: its size and sha256. Together with the
/// name this is the image's identity: a file whose content changed is evaluated again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Content {
    pub size: u64,
    pub sha256: [u8; 32],
}

impl Content {
    pub fn of(bytes: &[u8]) -> Content {
        Content {
            size: bytes.len() as u64,
            sha256: Sha256::digest(bytes).into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The image's basename: its identity across layouts.
    pub name: String,
    /// Path relative to `--val`.
    pub file: String,
    pub label: Option<u16>,
    pub outcome: Outcome,
}

/// `count` as a percentage of `of` (0 of nothing is 0%).
pub fn percent(count: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * count as f64 / of as f64
    }
}

/// Top-1 and top-5 hits over scored images: the one tally that run summaries, verdicts and label
/// sets all count with. A failed image is scored and incorrect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub images: usize,
    pub top1_correct: usize,
    pub top5_correct: usize,
    /// Scored images that failed (counted, never right): when all did, nothing was ranked.
    pub failed: usize,
}

impl Tally {
    /// One scored image whose top-5 (`None`: it failed) is right where `is_truth` says a class
    /// is a correct answer.
    pub fn count(&mut self, top5: Option<&[u16; TOP_K]>, is_truth: impl Fn(u16) -> bool) {
        self.images += 1;
        match top5 {
            Some(top5) => {
                self.top1_correct += usize::from(is_truth(top5[0]));
                self.top5_correct += usize::from(top5.iter().any(|&class| is_truth(class)));
            }
            None => self.failed += 1,
        }
    }

    /// One scored image with a single correct `label`.
    pub fn count_label(&mut self, top5: Option<&[u16; TOP_K]>, label: u16) {
        self.count(top5, |class| class == label);
    }

    pub fn top1(&self) -> f64 {
        percent(self.top1_correct, self.images)
    }

    pub fn top5(&self) -> f64 {
        percent(self.top5_correct, self.images)
    }

    /// Top-1 and top-5 in percent, `None` when no image was ranked (none scored, or every scored
    /// one failed): a percentage of nothing is no number (JSON null, n/a in every text).
    pub fn percentages(&self) -> Option<(f64, f64)> {
        (self.failed < self.images).then(|| (self.top1(), self.top5()))
    }
}

impl Outcome {
    /// The top-5 classes, `None` for a failed image.
    pub fn top5(&self) -> Option<&[u16; TOP_K]> {
        match self {
            Outcome::Ranked { top5, .. } => Some(top5),
            Outcome::Failed(_) => None,
        }
    }
}

/// Top-1 / top-5 against the labels stored with the rows, kept per run so that listing many runs
/// needs no scan of their rows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub images: usize,
    pub labelled: usize,
    /// Failed images, labelled or not.
    pub failed: usize,
    /// Labelled images that failed (`None` in summaries written before they were counted):
    /// when all did, the run scored nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labelled_failed: Option<usize>,
    pub top1_correct: usize,
    pub top5_correct: usize,
    /// `manifest::image_set_digest` of the labelled images: which references apply.
    pub image_set_sha256: String,
    /// `manifest::image_set_content_digest` of the labelled images, when every one's content is
    /// known (not for imported caches, nor for summaries written before contents counted).
    #[serde(default)]
    pub image_set_content_sha256: Option<String>,
    /// Every labelled image is a validation file under its own name and label (summaries
    /// written before this was recorded say no).
    #[serde(default)]
    pub within_full_val: bool,
    /// Labelled files named like validation files whose label is not the shipped ground truth
    /// (`None` in summaries written before the verdict rule counted them).
    #[serde(default)]
    pub label_disagreements: Option<usize>,
    /// `trust::labels_digest` of the labelled images, kept where their labels disagree with the
    /// shipped ground truth: such a set is named and grouped by its labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relabelled_sha256: Option<String>,
    /// Labelled files whose content an earlier one already has: `duplicate_contents`, `None`
    /// when some content is unknown, and then the unread images and the duplicates among the
    /// others (absent from summaries written before they were kept).
    #[serde(flatten)]
    pub duplicates: crate::eval::trust::Duplicates,
    /// Whether the run covers the whole image set it was started on; `None`: not recorded.
    #[serde(default)]
    pub coverage: Option<crate::eval::trust::Coverage>,
    /// The references that applied when the run was settled, with their origins: what `table`
    /// judges the run by, whatever manifests exist later. `None`: not recorded.
    #[serde(default)]
    pub references: Option<Vec<crate::eval::verdict::Applicable>>,
}

/// What settles a run beyond its rows: whether it covers its image set, and which references
/// apply to the set it turned out to be.
pub struct Settle<'a> {
    pub coverage: crate::eval::trust::Coverage,
    pub references: &'a dyn Fn(
        &crate::model::manifest::ImageSetId<'_>,
    ) -> Vec<crate::eval::verdict::Applicable>,
}

impl Settle<'_> {
    /// A settlement that records coverage only (tests, and stores with no manifest at hand).
    pub fn coverage_only(coverage: crate::eval::trust::Coverage) -> Settle<'static> {
        Settle {
            coverage,
            references: &|_| Vec::new(),
        }
    }
}

impl Summary {
    /// The tally of `predictions`; `contents` (by name) give the image set's content digest.
    pub fn of<'a>(
        predictions: impl IntoIterator<Item = &'a Prediction>,
        contents: Option<&HashMap<String, Content>>,
    ) -> Summary {
        let mut summary = Summary::default();
        let mut tally = Tally::default();
        let mut labelled_names = Vec::new();
        let mut labelled = Vec::new();
        let mut within_full_val = true;
        for prediction in predictions {
            summary.images += 1;
            let top5 = prediction.outcome.top5();
            summary.failed += usize::from(top5.is_none());
            if let Some(label) = prediction.label {
                labelled_names.push(prediction.name.as_str());
                labelled.push((prediction.name.as_str(), prediction.file.as_str(), label));
                within_full_val &=
                    crate::dataset::labels::is_own_validation_file(&prediction.name, label);
                tally.count_label(top5, label);
            }
        }
        summary.labelled = tally.images;
        summary.labelled_failed = Some(tally.failed);
        summary.top1_correct = tally.top1_correct;
        summary.top5_correct = tally.top5_correct;
        summary.image_set_content_sha256 = contents.and_then(|contents| {
            content_digest(
                labelled_names
                    .iter()
                    .map(|&name| (name, contents.get(name))),
            )
        });
        summary.within_full_val = within_full_val && !labelled_names.is_empty();
        let disagreements =
            crate::eval::trust::check_labels(labelled.iter().copied()).disagreements;
        summary.label_disagreements = Some(disagreements);
        summary.relabelled_sha256 = (disagreements > 0).then(|| {
            crate::eval::trust::labels_digest(
                labelled.iter().map(|&(name, _, label)| (name, label)),
            )
        });
        if let Some(contents) = contents {
            summary.duplicates = crate::eval::trust::Duplicates::of(
                labelled_names
                    .iter()
                    .map(|&name| contents.get(name).map(|c| &c.sha256)),
            );
        }
        summary.image_set_sha256 = crate::model::manifest::image_set_digest(labelled_names);
        summary
    }

    /// Records how the run was settled: its coverage, and the references that apply to it.
    pub fn settle(&mut self, settle: &Settle<'_>) {
        self.coverage = Some(settle.coverage);
        let references = (settle.references)(&self.image_set());
        self.references = Some(references);
    }

    /// The tally over the labelled images; `None` for a summary that did not count their
    /// failures (its rows tell).
    pub fn tally(&self) -> Option<Tally> {
        Some(Tally {
            images: self.labelled,
            top1_correct: self.top1_correct,
            top5_correct: self.top5_correct,
            failed: self.labelled_failed?,
        })
    }

    /// Whether some labelled image was ranked: `None` when the summary cannot tell (written
    /// before labelled failures were counted, with failures and no top-5 hit).
    pub fn scored(&self) -> Option<bool> {
        match self.labelled_failed {
            Some(failed) => Some(failed < self.labelled),
            None if self.failed == 0 || self.top5_correct > 0 => Some(self.labelled > 0),
            None => None,
        }
    }

    /// The identity of the labelled image set, to find the references that apply.
    pub fn image_set(&self) -> crate::model::manifest::ImageSetId<'_> {
        crate::model::manifest::ImageSetId {
            sha256: &self.image_set_sha256,
            content_sha256: self.image_set_content_sha256.as_deref(),
            images: self.labelled,
            // A stored summary keeps no layout; `table` names ImageNetV2 sets from the run's
            // recorded path and layout instead.
            layout_name: None,
            within_full_val: self.within_full_val,
        }
    }
}

/// `manifest::image_set_content_digest` of images given by name and content; `None` when the
/// content of any is unknown (then only the names identify the set).
pub fn content_digest<'a>(
    images: impl IntoIterator<Item = (&'a str, Option<&'a Content>)>,
) -> Option<String> {
    let known: Option<Vec<(&str, &[u8; 32])>> = images
        .into_iter()
        .map(|(name, content)| content.map(|c| (name, &c.sha256)))
        .collect();
    known.map(crate::model::manifest::image_set_content_digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(name: &str, label: u16, top1: u16) -> Prediction {
        Prediction {
            name: name.into(),
            file: name.into(),
            label: Some(label),
            outcome: Outcome::Ranked {
                top5: [top1, 1, 2, 3, 4],
                scores: [0.0; TOP_K],
            },
        }
    }

    #[test]
    fn the_content_digest_needs_every_labelled_content_and_changes_with_any() {
        let rows = [ranked("a.JPEG", 7, 7), ranked("b.JPEG", 8, 0)];
        let mut contents: HashMap<String, Content> = HashMap::new();
        contents.insert("a.JPEG".into(), Content::of(b"first"));
        assert_eq!(
            Summary::of(&rows, Some(&contents)).image_set_content_sha256,
            None
        );
        assert_eq!(Summary::of(&rows, None).image_set_content_sha256, None);
        contents.insert("b.JPEG".into(), Content::of(b"second"));
        let summary = Summary::of(&rows, Some(&contents));
        let digest = summary.image_set_content_sha256.clone().unwrap();
        assert_eq!((summary.top1_correct, summary.labelled), (1, 2));
        // Same names, one file's bytes replaced: another set.
        contents.insert("b.JPEG".into(), Content::of(b"other"));
        let replaced = Summary::of(&rows, Some(&contents));
        assert_ne!(replaced.image_set_content_sha256.unwrap(), digest);
        assert_eq!(replaced.image_set_sha256, summary.image_set_sha256);
        // Contents swapped between names: another set too.
        contents.insert("a.JPEG".into(), Content::of(b"second"));
        contents.insert("b.JPEG".into(), Content::of(b"first"));
        assert_ne!(
            Summary::of(&rows, Some(&contents))
                .image_set_content_sha256
                .unwrap(),
            digest
        );
    }

    #[test]
    fn a_tally_of_failures_only_has_no_percentages() {
        let failed = Prediction {
            outcome: Outcome::Failed("not a JPEG".into()),
            ..ranked("b.JPEG", 8, 8)
        };
        let mut rows = vec![failed.clone(), failed];
        let summary = Summary::of(&rows, None);
        let tally = summary.tally().unwrap();
        assert_eq!((tally.images, tally.failed), (2, 2));
        assert_eq!(tally.percentages(), None);
        assert_eq!(summary.scored(), Some(false));
        assert_eq!(Tally::default().percentages(), None);
        rows.push(ranked("a.JPEG", 7, 7));
        let summary = Summary::of(&rows, None);
        assert_eq!(
            summary.tally().unwrap().percentages(),
            Some((100.0 / 3.0, 100.0 / 3.0))
        );
        // A summary written before labelled failures were counted: its rows must tell.
        let old = Summary {
            labelled_failed: None,
            top5_correct: 0,
            ..Summary::of(&rows[..2], None)
        };
        assert_eq!((old.tally(), old.scored()), (None, None));
    }

    #[test]
    fn percent_of_nothing_is_zero() {
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(percent(0, 0), 0.0);
    }
}
