//! Top-k ranking, identical to `np.argsort(-scores, kind="stable")[:k]`.
//!
//! Quantized models output multiples of 1/256, so ties are common and accuracy counts depend on
//! the tie rule: ties go to the lower class index. NaN sorts last, as NumPy puts NaN at the end
//! of an ascending sort of `-scores`.

use std::cmp::Ordering;

pub const TOP_K: usize = 5;

/// The best `TOP_K` classes of one output row, best first, after dropping `label_offset` leading
/// columns (the background class of 1001-class models).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    pub classes: [u16; TOP_K],
    pub scores: [f32; TOP_K],
}

/// `a` ranks before `b` when its score is higher, or equal with a lower class index.
fn ranks_before(a: (usize, f32), b: (usize, f32)) -> bool {
    match compare_desc(a.1, b.1) {
        Ordering::Less => true,
        Ordering::Greater => false,
        Ordering::Equal => a.0 < b.0,
    }
}

/// Descending order with NaN last (NumPy sorts NaN after every number).
fn compare_desc(a: f32, b: f32) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        // -0.0 and 0.0 compare equal here as they do in NumPy's sort.
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

/// Ranks one row of `classes` scores (already offset). Needs at least `TOP_K` classes.
pub fn top_k(scores: &[f32]) -> Ranked {
    assert!(
        scores.len() >= TOP_K,
        "a row needs at least {TOP_K} classes"
    );
    best_of(scores.iter().copied().enumerate())
}

/// Ranks one row (already offset) among `classes` only, as timm scores ImageNet-A and -R: the
/// other columns are not candidates at all. Needs at least `TOP_K` classes, each within the row.
pub fn top_k_among(scores: &[f32], classes: &[u16]) -> Ranked {
    assert!(
        classes.len() >= TOP_K,
        "a subset needs at least {TOP_K} classes"
    );
    best_of(
        classes
            .iter()
            .map(|&class| (class as usize, scores[class as usize])),
    )
}

fn best_of(candidates: impl Iterator<Item = (usize, f32)>) -> Ranked {
    // Insertion into a tiny sorted buffer: one pass over the scores, no allocation.
    let mut best: [(usize, f32); TOP_K] = [(usize::MAX, f32::NAN); TOP_K];
    let mut filled = 0;
    for candidate in candidates {
        if filled == TOP_K && !ranks_before(candidate, best[TOP_K - 1]) {
            continue;
        }
        let mut position = filled.min(TOP_K - 1);
        while position > 0 && ranks_before(candidate, best[position - 1]) {
            best[position] = best[position - 1];
            position -= 1;
        }
        best[position] = candidate;
        filled = (filled + 1).min(TOP_K);
    }
    Ranked {
        classes: best.map(|(class, _)| class as u16),
        scores: best.map(|(_, score)| score),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: a full stable sort, as NumPy does it.
    fn numpy_stable(scores: &[f32]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| compare_desc(scores[a], scores[b]));
        order.truncate(TOP_K);
        order
    }

    #[test]
    fn ties_go_to_the_lower_class_index() {
        let mut scores = vec![0.0f32; 1000];
        scores[700] = 0.5;
        scores[300] = 0.5;
        scores[10] = 0.25;
        let ranked = top_k(&scores);
        assert_eq!(ranked.classes, [300, 700, 10, 0, 1]);
        assert_eq!(ranked.scores, [0.5, 0.5, 0.25, 0.0, 0.0]);
    }

    #[test]
    fn matches_a_full_stable_sort_on_quantized_rows() {
        // Deterministic pseudo-random rows of multiples of 1/256, where ties are everywhere.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..500 {
            let row: Vec<f32> = (0..1000)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state >> 40) % 12) as f32 / 256.0
                })
                .collect();
            let ranked = top_k(&row);
            let expected = numpy_stable(&row);
            assert_eq!(ranked.classes.map(usize::from).to_vec(), expected);
        }
    }

    #[test]
    fn nan_ranks_last() {
        let mut scores = vec![f32::NAN; 8];
        scores[5] = -3.0;
        scores[6] = 1.0;
        let ranked = top_k(&scores);
        assert_eq!(&ranked.classes[..2], &[6, 5]);
        assert_eq!(&ranked.classes[2..], &[0, 1, 2]);
    }

    #[test]
    fn a_subset_ranks_its_own_classes_only_in_numpys_order() {
        let scores: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 / 7.0).collect();
        let subset: Vec<u16> = (0..1000).step_by(5).map(|c| c as u16).collect();
        let masked: Vec<f32> = scores
            .iter()
            .enumerate()
            .map(|(c, &s)| if c % 5 == 0 { s } else { f32::NEG_INFINITY })
            .collect();
        let among = top_k_among(&scores, &subset);
        assert_eq!(among, top_k(&masked));
        assert!(among.classes.iter().all(|c| c % 5 == 0));
        assert_ne!(among.classes, top_k(&scores).classes);
    }
}
