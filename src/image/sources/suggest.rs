//! "Did you mean": the known name nearest a mistyped one, by edit distance.

/// The candidate nearest `wanted` (case-insensitive Levenshtein distance), if it is near enough
/// to be a typo: at most a third of `wanted`'s length, and at least 2 edits allowed. Ties go to
/// the first candidate.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let wanted: Vec<char> = wanted.to_lowercase().chars().collect();
    let allowed = (wanted.len() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    let mut row = Vec::new();
    for candidate in candidates {
        let distance = levenshtein(&wanted, candidate, &mut row);
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name.to_string())
}

/// Edits (insert, delete, substitute) from `a` to `b`, lower-cased; `row` is scratch space.
fn levenshtein(a: &[char], b: &str, row: &mut Vec<usize>) -> usize {
    row.clear();
    row.extend(0..=a.len());
    for (j, cb) in b.chars().flat_map(char::to_lowercase).enumerate() {
        let mut diagonal = row[0];
        row[0] = j + 1;
        for (i, &ca) in a.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[i + 1];
            row[i + 1] = substitute.min(row[i] + 1).min(diagonal + 1);
        }
    }
    row[a.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested_and_far_ones_not() {
        let names = [
            "resnet50.a1_in1k",
            "resnet50.tv_in1k",
            "vit_base_patch16_224",
        ];
        assert_eq!(
            closest("resnet50.a1_ink", names).as_deref(),
            Some("resnet50.a1_in1k")
        );
        assert_eq!(
            closest("RESNET50.TV_IN1K", names).as_deref(),
            Some("resnet50.tv_in1k")
        );
        assert_eq!(closest("efficientnet_b0", names), None);
        assert_eq!(closest("tim", ["timm", "slim"]).as_deref(), Some("timm"));
    }
}
