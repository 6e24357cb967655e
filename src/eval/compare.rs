//! Two prediction sets image by image (`compare A B`): over the images both ranked from the same
//! content (see [`super::pairing`]) and that carry a label, how often they agree, which images
//! each gets right alone, and which classes changed.

use std::collections::HashMap;

use serde::Serialize;

use super::pairing::{Pairing, PairingNotes};
use super::prediction::{Content, Outcome, Prediction, percent};
use crate::dataset::labels;

/// One image whose top-1 differs between the runs.
#[derive(Debug, Serialize)]
pub struct Difference {
    /// The basename: the image's identity in the store.
    #[serde(skip)]
    pub name: String,
    pub file: String,
    pub label: u16,
    pub label_name: &'static str,
    pub a_top1: u16,
    pub a_name: &'static str,
    pub b_top1: u16,
    pub b_name: &'static str,
}

/// One class's top-1 in both runs, over the images both scored.
#[derive(Debug, PartialEq, Serialize)]
pub struct ClassChange {
    pub class: u16,
    pub name: &'static str,
    pub images: usize,
    pub a_top1: f64,
    pub b_top1: f64,
    /// B's top-1 minus A's, in points.
    pub change: f64,
}

/// The classes whose top-1 count differs, from per-class (images, A correct, B correct), the
/// largest change first.
pub fn class_changes(classes: &[[usize; 3]]) -> Vec<ClassChange> {
    let mut changes: Vec<ClassChange> = classes
        .iter()
        .enumerate()
        .filter(|(_, [images, a, b])| *images > 0 && a != b)
        .map(|(class, &[images, a, b])| ClassChange {
            class: class as u16,
            name: labels::class_name(class as u16),
            images,
            a_top1: percent(a, images),
            b_top1: percent(b, images),
            change: percent(b, images) - percent(a, images),
        })
        .collect();
    changes.sort_by(|x, y| {
        y.change
            .abs()
            .total_cmp(&x.change.abs())
            .then(y.images.cmp(&x.images))
            .then(x.class.cmp(&y.class))
    });
    changes
}

fn ranked(prediction: &Prediction) -> Option<(&[u16; 5], u16)> {
    match (&prediction.outcome, prediction.label) {
        (Outcome::Ranked { top5, .. }, Some(label)) => Some((top5, label)),
        _ => None,
    }
}

/// Counts over the images both runs ranked from the same content and that carry a label.
#[derive(Default)]
pub struct PairTally {
    pub images: usize,
    pub pairing: PairingNotes,
    /// Same top-1 class.
    pub agree: usize,
    pub same_sets: usize,
    pub a_correct: usize,
    pub b_correct: usize,
    pub a_top5: usize,
    pub b_top5: usize,
    pub only_a: usize,
    pub only_b: usize,
    /// Per class: images, A's top-1 correct, B's.
    pub classes: Vec<[usize; 3]>,
    pub differs: Vec<Difference>,
    /// Paired images the two runs label differently (another ground-truth file): left out, as
    /// neither run's accuracy may be told under the other's labels.
    pub labelled_differently: usize,
}

impl PairTally {
    /// `contents`: what each run's rows were computed from, by name (absent: unknown).
    pub fn of(
        a_rows: &[Prediction],
        b_rows: &HashMap<String, Prediction>,
        contents: &[HashMap<String, Content>; 2],
    ) -> PairTally {
        let mut t = PairTally {
            classes: vec![[0; 3]; labels::wnids().len()],
            ..PairTally::default()
        };
        for a_prediction in a_rows {
            let Some(b_prediction) = b_rows.get(&a_prediction.name) else {
                continue;
            };
            // Content first: a file replaced between the runs is not comparable, whether or
            // not one side could decode it.
            let name = &a_prediction.name;
            let pairing = Pairing::of(contents[0].get(name), contents[1].get(name));
            if pairing == Pairing::ContentDiffers {
                t.pairing.add(&a_prediction.file, pairing);
                continue;
            }
            let (Some((a5, label)), Some((b5, b_label))) =
                (ranked(a_prediction), ranked(b_prediction))
            else {
                continue;
            };
            if label != b_label {
                t.labelled_differently += 1;
                continue;
            }
            if !t.pairing.add(&a_prediction.file, pairing) {
                continue;
            }
            t.count(a_prediction, a5, b5, label);
        }
        t
    }

    /// One paired image's top-5 of A and B under its label.
    fn count(&mut self, a_prediction: &Prediction, a5: &[u16; 5], b5: &[u16; 5], label: u16) {
        self.images += 1;
        let (a_hit, b_hit) = (a5[0] == label, b5[0] == label);
        self.a_correct += usize::from(a_hit);
        self.b_correct += usize::from(b_hit);
        self.a_top5 += usize::from(a5.contains(&label));
        self.b_top5 += usize::from(b5.contains(&label));
        self.only_a += usize::from(a_hit && !b_hit);
        self.only_b += usize::from(b_hit && !a_hit);
        if let Some(class) = self.classes.get_mut(usize::from(label)) {
            class[0] += 1;
            class[1] += usize::from(a_hit);
            class[2] += usize::from(b_hit);
        }
        let (mut a_set, mut b_set) = (*a5, *b5);
        a_set.sort_unstable();
        b_set.sort_unstable();
        self.same_sets += usize::from(a_set == b_set);
        if a5[0] == b5[0] {
            self.agree += 1;
        } else {
            self.differs.push(Difference {
                name: a_prediction.name.clone(),
                file: a_prediction.file.clone(),
                label,
                label_name: labels::class_name(label),
                a_top1: a5[0],
                a_name: labels::class_name(a5[0]),
                b_top1: b5[0],
                b_name: labels::class_name(b5[0]),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_pair_by_name_and_content_and_by_name_alone_where_a_run_has_no_content() {
        let prediction = |name: &str, top1: u16| Prediction {
            name: name.into(),
            file: format!("n01440764/{name}"),
            label: Some(0),
            outcome: Outcome::Ranked {
                top5: [top1, 1, 2, 3, 4],
                scores: [0.0; 5],
            },
        };
        let a = [prediction("a", 0), prediction("b", 0), prediction("c", 0)];
        let b: HashMap<String, Prediction> =
            [prediction("a", 0), prediction("b", 9), prediction("c", 9)]
                .map(|p| (p.name.clone(), p))
                .into();
        let known = |pairs: &[(&str, &[u8])]| -> HashMap<String, Content> {
            pairs
                .iter()
                .map(|(name, bytes)| (name.to_string(), Content::of(bytes)))
                .collect()
        };
        // a: the same file; b: another file under the name; c: no content known in run B.
        let contents = [
            known(&[("a", b"x"), ("b", b"y"), ("c", b"z")]),
            known(&[("a", b"x"), ("b", b"other")]),
        ];
        let tally = PairTally::of(&a, &b, &contents);
        assert_eq!(tally.images, 2);
        assert_eq!(tally.pairing.not_comparable_files, ["n01440764/b"]);
        assert_eq!(tally.pairing.paired_by_name_only, 1);
        assert_eq!((tally.agree, tally.only_a, tally.only_b), (1, 1, 0));
    }

    #[test]
    fn classes_that_changed_are_listed_largest_change_first() {
        let changes: Vec<(u16, f64)> =
            class_changes(&[[50, 40, 45], [0, 0, 0], [50, 30, 30], [2, 2, 0]])
                .iter()
                .map(|x| (x.class, x.change))
                .collect();
        // Class 3 lost both of its 2 images (-100 points), class 0 gained 5 of 50 (+10).
        assert_eq!(changes, [(3, -100.0), (0, 10.0)]);
    }
}
