//! The identity of the image set a stored run scored, as `table` and `runs` name it: two runs
//! on the same images share a name, two unnamed sets never read alike.

use std::path::Path;

use crate::model::manifest::{self, Manifest};
use crate::store::RunInfo;

/// How the table names the image set a run scored: `relabelled-…` for a set whose labels
/// disagree with the shipped ground truth (whatever set its files come from), else a manifest's name for it (the run's own
/// model's first, then any other's, so that two models scored on the same images share one
/// group even when only one of them has a reference there), the full validation set's name
/// (imported caches), the name its layout gives it (an ImageNetV2 variant), else
/// `subset-<images>-<digest>` (of the contents where known, else of the names), so that two
/// unnamed sets never read alike.
pub(crate) fn image_set_name(
    run: &RunInfo,
    own: Option<&Manifest>,
    manifests: &[Manifest],
) -> String {
    let Some(summary) = &run.summary else {
        return crate::report::image_set_label(None, run.images, "unknown");
    };
    if let Some(labels) = &summary.relabelled_sha256 {
        return crate::eval::trust::relabelled_set_name(summary.labelled, labels);
    }
    let id = summary.image_set();
    own.into_iter()
        .chain(manifests)
        .find_map(|m| m.image_set_name(&id))
        .or_else(|| manifest::full_val_name(&id))
        .or_else(|| layout_name(run))
        .map_or_else(
            // Unnamed sets are told apart by their contents where known: two folders with the
            // same names and other images are two sets.
            || {
                crate::report::image_set_label(
                    None,
                    id.images,
                    id.content_sha256.unwrap_or(id.sha256),
                )
            },
            str::to_string,
        )
}

/// The set name `verify`'s layout gave (ImageNetV2, -Sketch, -A, -R), from the path and layout it recorded.
pub(crate) fn layout_name(run: &RunInfo) -> Option<&'static str> {
    let dataset = run.meta.verify()?.dataset.as_ref()?;
    crate::dataset::layout_set_name(
        dataset.layout.as_deref()?,
        Path::new(dataset.path.as_deref()?),
    )
}
