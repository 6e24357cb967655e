//! What evaluating one image gives ([`Prediction`], its [`Outcome`]), the identity of the file it
//! was computed from ([`Content`]), and the accuracy tally of a set of predictions ([`Summary`]).

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

/// Top-1 / top-5 against the labels stored with the rows, kept per run so that listing many runs
/// needs no scan of their rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub images: usize,
    pub labelled: usize,
    pub failed: usize,
    pub top1_correct: usize,
    pub top5_correct: usize,
    /// `manifest::image_set_digest` of the labelled images: which references apply.
    pub image_set_sha256: String,
}

impl Summary {
    pub fn of<'a>(predictions: impl IntoIterator<Item = &'a Prediction>) -> Summary {
        let mut summary = Summary::default();
        let mut labelled_names = Vec::new();
        for prediction in predictions {
            summary.images += 1;
            let ranked = match &prediction.outcome {
                Outcome::Ranked { top5, .. } => Some(top5),
                Outcome::Failed(_) => {
                    summary.failed += 1;
                    None
                }
            };
            if let Some(label) = prediction.label {
                summary.labelled += 1;
                labelled_names.push(prediction.name.as_str());
                if let Some(top5) = ranked {
                    summary.top1_correct += usize::from(top5[0] == label);
                    summary.top5_correct += usize::from(top5.contains(&label));
                }
            }
        }
        summary.image_set_sha256 = crate::model::manifest::image_set_digest(labelled_names);
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_of_nothing_is_zero() {
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(percent(0, 0), 0.0);
    }
}
