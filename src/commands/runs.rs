//! `zoorepro runs`: the runs (invocations) the store holds, each with its image set; `--delete ID`
//! removes a run and the cached predictions no other run holds.

use std::io::Write;

use serde::Serialize;

use super::Context;
use super::shared::{image_set, terminal};
use crate::cli::RunsArgs;
use crate::eval::prediction::{Summary, percent};
use crate::exit;
use crate::store::{RunKind, Store};

#[derive(Serialize)]
struct RunRow {
    id: i64,
    model_id: String,
    kind: RunKind,
    recipe: String,
    provider: String,
    batch: usize,
    /// The image set the run scored, named as `table` names it.
    image_set: String,
    images: usize,
    complete: bool,
    /// `complete`, `shard`, `partial` (cut by --limit or merged with --allow-partial),
    /// `unknown` (an older release made it), `running` for a run a live process is writing, or
    /// `interrupted` for a run that never finished.
    coverage: &'static str,
    top1: Option<f64>,
    top5: Option<f64>,
    created_at: String,
    updated_at: String,
    key: String,
}

pub fn run(ctx: &Context, args: &RunsArgs) -> anyhow::Result<i32> {
    let cache_dir = ctx.cache_dir()?;
    if let Some(id) = args.delete {
        return delete(&cache_dir, id);
    }
    let rows = listing(ctx, &cache_dir)?;
    if args.output.json {
        terminal::print_json(&rows)?;
        return Ok(exit::SUCCESS);
    }
    print_text(&rows)?;
    Ok(exit::SUCCESS)
}

fn delete(cache_dir: &std::path::Path, id: i64) -> anyhow::Result<i32> {
    let mut store = Store::open(cache_dir)?;
    if !store.delete_run(id)? {
        anyhow::bail!(
            "no run {id} in the prediction store {} (`zoorepro runs` lists them)",
            store.path().display()
        );
    }
    eprintln!("deleted run {id}");
    Ok(exit::SUCCESS)
}

fn listing(ctx: &Context, cache_dir: &std::path::Path) -> anyhow::Result<Vec<RunRow>> {
    let store = Store::open_for_reading(cache_dir)?;
    // Manifests only name image sets here: without a home, sets keep their generic names.
    let manifests = ctx
        .home()
        .and_then(|home| ctx.manifests(&home))
        .unwrap_or_default();
    let runs = store.runs()?;
    let mut being_written = std::collections::HashSet::new();
    for run in runs.iter().filter(|r| !r.complete) {
        if store.is_being_written(run.id)? {
            being_written.insert(run.id);
        }
    }
    let rows: Vec<RunRow> = runs
        .into_iter()
        .map(|run| {
            let own = manifests.iter().find(|m| m.id == run.model_id);
            let image_set = image_set::image_set_name(&run, own, &manifests);
            // No labelled image ranked (none labelled, or all failed): no figure, rather than
            // 0%. An older summary that cannot tell keeps its figure.
            let figure = |count: fn(&Summary) -> usize| {
                let summary = run.summary.as_ref()?;
                (summary.labelled > 0 && summary.scored() != Some(false))
                    .then(|| percent(count(summary), summary.labelled))
            };
            RunRow {
                id: run.id,
                top1: figure(|s| s.top1_correct),
                top5: figure(|s| s.top5_correct),
                key: run.key.digest(),
                model_id: run.model_id,
                kind: run.key.kind,
                recipe: run.key.recipe,
                provider: run.key.provider,
                batch: run.key.batch,
                image_set,
                images: run.images,
                coverage: if run.complete {
                    run.summary
                        .as_ref()
                        .and_then(|s| s.coverage)
                        .unwrap_or(crate::eval::trust::Coverage::Unknown)
                        .name()
                } else if being_written.contains(&run.id) {
                    "running"
                } else {
                    "interrupted"
                },
                complete: run.complete,
                created_at: run.created_at,
                updated_at: run.updated_at,
            }
        })
        .collect();
    Ok(rows)
}

use crate::util::escape::terminal;

fn print_text(rows: &[RunRow]) -> anyhow::Result<()> {
    let mut out = terminal::stdout();
    writeln!(
        out,
        "{:>4}  {:<40} {:<7} {:<26} {:<32} {:>5} {:<28} {:>7} {:>8}  {:<10} when",
        "id",
        "model",
        "kind",
        "recipe",
        "provider",
        "batch",
        "image set",
        "images",
        "top-1",
        "state"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:>4}  {:<40} {:<7} {:<26} {:<32} {:>5} {:<28} {:>7} {:>8}  {:<10} {}",
            r.id,
            // The store's text came from manifests and files: shown, never interpreted.
            terminal(&r.model_id),
            r.kind,
            terminal(&r.recipe),
            terminal(&r.provider),
            r.batch,
            terminal(&r.image_set),
            r.images,
            r.top1.map_or("-".to_string(), |t| format!("{t:.2}")),
            r.coverage,
            r.updated_at
        )?;
    }
    Ok(())
}
