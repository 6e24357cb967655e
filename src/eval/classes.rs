//! Accuracy per class: which classes a model gets wrong, the distribution a single top-1 hides.

use serde::{Deserialize, Serialize};

use crate::dataset::Entry;
use crate::dataset::labels;
use crate::eval::prediction::{Prediction, Tally};

/// `1 class`, `1000 classes`: messages name a model's class count, which may be 1.
pub fn count_of_classes(n: usize) -> String {
    match n {
        1 => "1 class".into(),
        _ => format!("{n} classes"),
    }
}

/// One class's figures over the labelled images of a run; failed images count as incorrect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    pub class: u16,
    pub wnid: String,
    pub name: String,
    pub images: usize,
    pub top1_correct: usize,
    pub top5_correct: usize,
    /// 95% Wilson interval of the class's top-1, in percent: with the validation set's 50 images
    /// a class, 35 right reads as 56.2-80.9, so one class's accuracy says little alone.
    #[serde(default)]
    pub top1_interval: Option<[f64; 2]>,
}

impl ClassAccuracy {
    pub fn top1(&self) -> f64 {
        percent(self.top1_correct, self.images)
    }

    pub fn top5(&self) -> f64 {
        percent(self.top5_correct, self.images)
    }
}

fn percent(correct: usize, images: usize) -> f64 {
    if images == 0 {
        0.0
    } else {
        100.0 * correct as f64 / images as f64
    }
}

/// Every class that has a labelled image in `ordered`, in class order.
pub fn per_class(ordered: &[(Entry, Prediction)]) -> Vec<ClassAccuracy> {
    let mut tallies = vec![Tally::default(); labels::wnids().len()];
    for (entry, prediction) in ordered {
        let Some(label) = entry.label else { continue };
        if let Some(tally) = tallies.get_mut(usize::from(label)) {
            tally.count_label(prediction.outcome.top5(), label);
        }
    }
    tallies
        .into_iter()
        .enumerate()
        .filter(|(_, tally)| tally.images > 0)
        .map(|(class, tally)| {
            let class = class as u16;
            ClassAccuracy {
                class,
                wnid: labels::wnid(class).to_string(),
                name: labels::class_name(class).to_string(),
                images: tally.images,
                top1_correct: tally.top1_correct,
                top5_correct: tally.top5_correct,
                top1_interval: crate::eval::stats::wilson_interval(
                    tally.top1_correct as u64,
                    tally.images as u64,
                )
                .map(|(lo, hi)| [100.0 * lo, 100.0 * hi]),
            }
        })
        .collect()
}

/// The `n` classes with the lowest top-1 (then the lowest top-5; more images first, so a class
/// measured on more images leads a tie), worst first.
pub fn worst(classes: &[ClassAccuracy], n: usize) -> Vec<&ClassAccuracy> {
    let mut sorted: Vec<&ClassAccuracy> = classes.iter().collect();
    sorted.sort_by(|a, b| {
        a.top1()
            .total_cmp(&b.top1())
            .then(a.top5().total_cmp(&b.top5()))
            .then(b.images.cmp(&a.images))
            .then(a.class.cmp(&b.class))
    });
    sorted.truncate(n);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::prediction::Outcome;

    fn image(label: u16, top5: Option<[u16; 5]>) -> (Entry, Prediction) {
        let name = format!("img{label}-{}", top5.map_or(0, |t| t[0]));
        let outcome = match top5 {
            Some(top5) => Outcome::Ranked {
                top5,
                scores: [0.0; 5],
            },
            None => Outcome::Failed("broken".into()),
        };
        (
            Entry {
                file: name.clone(),
                name: name.clone(),
                label: Some(label),
            },
            Prediction {
                name: name.clone(),
                file: name,
                label: Some(label),
                outcome,
            },
        )
    }

    #[test]
    fn classes_are_tallied_apart_and_the_worst_come_first() {
        let ordered = vec![
            image(3, Some([3, 1, 2, 4, 5])),
            image(3, Some([1, 3, 2, 4, 5])),
            image(7, Some([1, 2, 4, 5, 6])),
            image(7, None),
            image(9, Some([9, 0, 1, 2, 4])),
        ];
        let classes = per_class(&ordered);
        let figures: Vec<(u16, usize, usize, usize)> = classes
            .iter()
            .map(|c| (c.class, c.images, c.top1_correct, c.top5_correct))
            .collect();
        assert_eq!(figures, [(3, 2, 1, 2), (7, 2, 0, 0), (9, 1, 1, 1)]);
        assert_eq!(classes[0].wnid, labels::wnid(3));
        assert_eq!(classes[0].top1(), 50.0);
        let [lo, hi] = classes[0].top1_interval.unwrap();
        assert!(
            lo < 50.0 && hi > 50.0 && (lo + hi - 100.0).abs() < 1e-9,
            "{lo} {hi}"
        );
        let worst: Vec<u16> = worst(&classes, 2).iter().map(|c| c.class).collect();
        assert_eq!(worst, [7, 3]);
    }
}
