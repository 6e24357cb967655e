//! Lookups several commands share: a run by id or by model, and the name of the image set a run
//! scored.

use std::path::Path;

use super::Context;
use crate::model::manifest::{self, Manifest};
use crate::store::{RunInfo, Store};

/// A run id, or a model id / bare name standing for that model's newest complete run.
pub(super) fn resolve_run(
    ctx: &Context,
    store: &Store,
    runs: &[RunInfo],
    query: &str,
) -> anyhow::Result<RunInfo> {
    if let Ok(id) = query.parse::<i64>() {
        return store.run(id)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no run {id} in the prediction store {} (`zoorepro runs` lists them)",
                store.path().display()
            )
        });
    }
    let home = ctx.home()?;
    let manifests = ctx.manifests(&home)?;
    let model_id = manifest::resolve(&manifests, query)
        .map(|m| m.id.clone())
        .unwrap_or_else(|_| query.to_string());
    runs.iter()
        .filter(|r| r.complete && r.model_id == model_id)
        .max_by(|a, b| (a.updated_at.as_str(), a.id).cmp(&(b.updated_at.as_str(), b.id)))
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no complete run of {model_id} in the prediction store (`zoorepro runs` lists them)"
            )
        })
}

/// How the table names the image set a run scored: `relabelled-…` for a set whose labels
/// disagree with the shipped ground truth (whatever set its files come from), else a manifest's name for it (the run's own
/// model's first, then any other's, so that two models scored on the same images share one
/// group even when only one of them has a reference there), the full validation set's name
/// (imported caches), the name its layout gives it (an ImageNetV2 variant), else
/// `subset-<images>-<digest>` (of the contents where known, else of the names), so that two
/// unnamed sets never read alike.
pub(super) fn image_set_name(
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
pub(super) fn layout_name(run: &RunInfo) -> Option<&'static str> {
    let dataset = run.meta.verify()?.dataset.as_ref()?;
    crate::dataset::layout_set_name(
        dataset.layout.as_deref()?,
        Path::new(dataset.path.as_deref()?),
    )
}
