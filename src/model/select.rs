//! Choosing manifests from what a user types: exact ids, bare names and globs, comma-separated.

use super::manifest::{Manifest, ManifestError, resolve};

/// Ids suggested for a query that names no manifest: at most this many.
const SUGGESTIONS: usize = 3;

/// The ids closest to `query` by edit distance (to the whole id or to its bare name), closest
/// first: within a quarter of the query's length (at least 2 edits), and at most one edit
/// further than the closest, so that a near miss is not buried among far ones: `resnet5`
/// suggests `keras/resnet50` and `pytorch/resnet50`, `pytorch/resnt50` suggests `pytorch/resnet50`.
pub fn closest_ids(manifests: &[Manifest], query: &str) -> Vec<String> {
    let within = (query.chars().count() / 4).max(2);
    let mut scored: Vec<(usize, &str)> = manifests
        .iter()
        .map(|m| {
            let name = m.id.rsplit('/').next().unwrap_or(&m.id);
            let distance = edit_distance(query, &m.id).min(edit_distance(query, name));
            (distance, m.id.as_str())
        })
        .filter(|(distance, _)| *distance <= within)
        .collect();
    scored.sort();
    let most = scored.first().map_or(0, |(closest, _)| closest + 1);
    scored.retain(|(distance, _)| *distance <= most);
    scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, id)| id.to_string())
        .collect()
}

/// `"; did you mean a, b?"`, or nothing without suggestions.
pub fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", suggestions.join(", "))
    }
}

/// Levenshtein distance over characters (case-insensitively: `ResNet50` is one id away).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Whether a query is a glob (`pytorch/*`, `*/resnet50`, `keras/densenet[12]*`) rather than an id.
pub fn is_glob(query: &str) -> bool {
    query.contains(['*', '?', '['])
}

/// Whether `id` (or its bare name, the part after the last `/`) matches `pattern`.
fn glob_matches(pattern: &glob::Pattern, id: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: true,
        // `*` spans the `/` between framework and name only when the pattern says so.
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    pattern.matches_with(id, options)
        || (!pattern.as_str().contains('/')
            && pattern.matches_with(id.rsplit('/').next().unwrap_or(id), options))
}

/// The manifests the queries name, each once, in the order first named (a glob's matches in id
/// order). A query that names nothing is an error, so a typo never silently drops a model.
pub fn select<'a>(
    manifests: &'a [Manifest],
    queries: &[String],
) -> Result<Vec<&'a Manifest>, ManifestError> {
    if !queries.is_empty() && queries.iter().all(|q| q.trim().is_empty()) {
        // `--model ''` names no model: refused as a query naming none is, not a pass of none.
        return Err(ManifestError::UnknownModel {
            query: queries.join(","),
            suggestions: Vec::new(),
        });
    }
    let mut chosen: Vec<&Manifest> = Vec::new();
    for query in queries.iter().map(|q| q.trim()).filter(|q| !q.is_empty()) {
        let matched: Vec<&Manifest> = if is_glob(query) {
            let pattern = glob::Pattern::new(query).map_err(|e| ManifestError::BadPattern {
                query: query.to_string(),
                reason: e.msg.to_string(),
            })?;
            let mut matched: Vec<&Manifest> = manifests
                .iter()
                .filter(|m| glob_matches(&pattern, &m.id))
                .collect();
            matched.sort_by(|a, b| a.id.cmp(&b.id));
            if matched.is_empty() {
                return Err(ManifestError::UnknownModel {
                    query: query.to_string(),
                    suggestions: Vec::new(),
                });
            }
            matched
        } else {
            vec![resolve(manifests, query)?]
        };
        for manifest in matched {
            if !chosen.iter().any(|m| m.id == manifest.id) {
                chosen.push(manifest);
            }
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn shipped() -> Vec<Manifest> {
        super::super::manifest::load_all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests"))
            .unwrap()
    }

    fn ids(queries: &[&str]) -> Result<Vec<String>, ManifestError> {
        let manifests = shipped();
        let queries: Vec<String> = queries.iter().map(|q| q.to_string()).collect();
        select(&manifests, &queries).map(|ms| ms.iter().map(|m| m.id.clone()).collect())
    }

    #[test]
    fn globs_ids_and_names_select_each_manifest_once_in_order() {
        let got = ids(&["pypi/*", "coral/*", "coral/mobilenet_v2_1.0_224_quant"]).unwrap();
        assert!(got[0].starts_with("pypi/"));
        assert!(got.contains(&"coral/broken-mobilenet_v2_1.0_224_quant".to_string()));
        let coral = got.iter().filter(|id| id.starts_with("coral/")).count();
        assert_eq!(coral, 3, "{got:?}");
        assert_eq!(ids(&["pytorch/*"]).unwrap().len(), 21);
        assert_eq!(ids(&["keras/*"]).unwrap().len(), 13);
        assert_eq!(
            ids(&["*/resnet50"]).unwrap(),
            ["keras/resnet50", "pytorch/resnet50"]
        );
        // A pattern without `/` also matches bare names.
        assert_eq!(ids(&["resnet5?"]).unwrap().len(), 2);
        assert_eq!(ids(&["resnet18"]).unwrap(), ["pytorch/resnet18"]);
    }

    #[test]
    fn a_mistyped_id_suggests_the_closest_ones() {
        let manifests = shipped();
        assert_eq!(edit_distance("resnt50", "resnet50"), 1);
        assert_eq!(
            closest_ids(&manifests, "pytorch/resnt50"),
            ["pytorch/resnet50"]
        );
        let close = closest_ids(&manifests, "resnet5");
        assert!(
            close.contains(&"keras/resnet50".to_string())
                && close.contains(&"pytorch/resnet50".to_string()),
            "{close:?}"
        );
        assert!(closest_ids(&manifests, "totally-unrelated-name").is_empty());
        let error = ids(&["pytorch/resnt50"]).unwrap_err().to_string();
        assert!(error.contains("did you mean pytorch/resnet50?"), "{error}");
    }

    #[test]
    fn a_query_that_names_nothing_is_an_error() {
        // `--model ''`, `--model ,`: no model named, not every model or none.
        for blank in [&[""][..], &["", " "]] {
            let error = ids(blank).unwrap_err();
            assert!(
                matches!(error, ManifestError::UnknownModel { .. }),
                "{error}"
            );
            assert!(
                error.to_string().starts_with("no manifest has id or name"),
                "{error}"
            );
        }
        assert_eq!(ids(&["resnet18", ""]).unwrap(), ["pytorch/resnet18"]);
        assert!(matches!(
            ids(&["pytorch/*", "nothing/*"]),
            Err(ManifestError::UnknownModel { .. })
        ));
        assert!(matches!(
            ids(&["pytorch/[oops"]),
            Err(ManifestError::BadPattern { .. })
        ));
        assert!(matches!(
            ids(&["resnet50"]),
            Err(ManifestError::Ambiguous { .. })
        ));
    }
}
