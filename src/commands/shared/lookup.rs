//! A run by id, or by the model it is of: how `compare`, `explain --against` and the other
//! commands that read the store name the run they mean.

use crate::commands::Context;
use crate::model::manifest;
use crate::store::{RunInfo, Store};

/// A run id, or a model id / bare name standing for that model's newest complete run.
pub(crate) fn resolve_run(
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
