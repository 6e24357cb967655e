//! `zoorepro table`: the accuracy table reproduced from the store, ranked as the published table
//! ranks (by top-1, and by top-5), with the delta to every published source of each model.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use anyhow::Context as _;

use super::Context;
use crate::cli::{RunsSelection, TableArgs, TableFormat};
use crate::dataset::labels::{self, LabelError};
use crate::eval::prediction::Summary;
use crate::eval::scoring::{LabelSet, Scorer, Tally};
use crate::exit;
use crate::model::manifest::{self, Manifest};
use crate::report::table::{
    Accuracy, CsvTable, JsonTable, MarkdownTable, ReferenceDelta, TableExporter, TableRow,
};
use crate::store::{RunInfo, RunKind, Store};

/// Why a float16 seed cache may not give its project's README figures (../shared/reference/README.md).
const FLOAT16_SEED_NOTE: &str = "this cache stores float16 probabilities: benchmarking-keras-pytorch regenerated \
     it on 2020-10-08 (commit 8734e0a) with its float16 script, after the README table (2019-02-20) had been \
     computed from the original float32 cache (commit 22f13a7), which gives exactly the published figures. The two \
     caches are different inference runs (for resnet152: 76 rows differ in top-1, 634 in the top-5 set, so top-5 \
     moves too); float16 ties decide at most one image.";

pub fn run(ctx: &Context, args: &TableArgs) -> anyhow::Result<i32> {
    let home = ctx.home()?;
    let manifests = ctx.manifests(&home)?;
    let store = Store::open_for_reading(&ctx.cache_dir()?)?;
    let custom_errors;
    let errors: &[LabelError] = match &args.labels_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            custom_errors = labels::parse_label_errors(&text, &path.display().to_string())?;
            &custom_errors
        }
        None => labels::shipped_label_errors(),
    };
    let wanted: Vec<&Manifest> = args
        .models
        .iter()
        .map(|query| manifest::resolve(&manifests, query))
        .collect::<Result<_, _>>()?;
    let runs = select_runs(store.runs()?, &wanted, args.runs);
    if runs.is_empty() {
        anyhow::bail!(
            "the prediction store {} has no complete run{}: run `zoorepro verify` or `zoorepro import-seed DIR` first",
            store.path().display(),
            if wanted.is_empty() {
                String::new()
            } else {
                " of those models".to_string()
            }
        );
    }
    let label_sets: Vec<LabelSet> = super::options::label_sets(args.labels);
    let by_id: HashMap<&str, &Manifest> = manifests.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut rows = Vec::with_capacity(runs.len());
    for run in &runs {
        let tallies = tally(&store, run, &label_sets, errors)?;
        let manifest = by_id.get(run.model_id.as_str()).copied();
        rows.push(table_row(run, manifest, &label_sets, &tallies));
    }
    rank(&mut rows);
    let sources = sources(&rows);
    let exporter: &dyn TableExporter = match args.format {
        TableFormat::Markdown => &MarkdownTable,
        TableFormat::Csv => &CsvTable,
        TableFormat::Json => &JsonTable,
    };
    std::io::stdout()
        .lock()
        .write_all(exporter.render(&rows, &sources).as_bytes())?;
    Ok(exit::SUCCESS)
}

/// One run's row: its figures under every label set, and its deltas to the published numbers.
fn table_row(
    run: &RunInfo,
    manifest: Option<&Manifest>,
    label_sets: &[LabelSet],
    tallies: &[Tally],
) -> TableRow {
    let (primary_set, primary) = (label_sets[0], tallies[0]);
    let references = reference_deltas(run, manifest, primary_set, &primary);
    let drifts_from_seed = references.iter().any(|r| {
        r.source == "benchmarking-keras-pytorch"
            && (r.delta_top1.abs() >= 0.005 || r.delta_top5.abs() >= 0.005)
    });
    let float16_seed = run.key.kind == RunKind::Import
        && run
            .meta
            .import()
            .and_then(|import| import.probs.as_ref()?.dtype.as_deref())
            == Some("<f2");
    let by_labels = if label_sets.len() > 1 {
        label_sets
            .iter()
            .zip(tallies)
            .map(|(set, t)| {
                let accuracy = Accuracy {
                    top1: t.top1(),
                    top5: t.top5(),
                    images: t.images,
                };
                (set.name().to_string(), accuracy)
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    TableRow {
        run: run.id,
        framework: manifest.map_or_else(
            || run.model_id.split('/').next().unwrap_or("").to_string(),
            |m| m.framework.clone(),
        ),
        model: manifest.map_or_else(|| run.model_id.clone(), |m| m.name.clone()),
        model_id: run.model_id.clone(),
        recipe: run.key.recipe.clone(),
        kind: run.key.kind.name().into(),
        provider: run.key.provider.clone(),
        labels: if label_sets.len() > 1 {
            "all".into()
        } else {
            primary_set.name().into()
        },
        top1: primary.top1(),
        top5: primary.top5(),
        rank1: 0,
        rank5: 0,
        images: primary.images,
        references,
        by_labels,
        note: (float16_seed && (drifts_from_seed || primary_set != LabelSet::Original))
            .then(|| FLOAT16_SEED_NOTE.to_string()),
    }
}

/// Published numbers are original-label figures: deltas only make sense against those, on the
/// image set the reference was measured on.
fn reference_deltas(
    run: &RunInfo,
    manifest: Option<&Manifest>,
    primary_set: LabelSet,
    primary: &Tally,
) -> Vec<ReferenceDelta> {
    let Some(image_set) = run.summary.as_ref().map(Summary::image_set) else {
        return Vec::new();
    };
    match manifest {
        Some(m) if primary_set == LabelSet::Original => m
            .references
            .iter()
            .filter(|r| r.image_set.is(&image_set))
            .map(|r| ReferenceDelta {
                source: r.source.clone(),
                top1: r.top1,
                top5: r.top5,
                delta_top1: primary.top1() - r.top1,
                delta_top5: primary.top5() - r.top5,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Every reference source of the table, once, sorted.
fn sources(rows: &[TableRow]) -> Vec<String> {
    let mut sources: Vec<String> = rows
        .iter()
        .flat_map(|r| r.references.iter().map(|d| d.source.clone()))
        .collect();
    sources.sort();
    sources.dedup();
    sources
}

/// Complete runs only (a partial run's numbers are never reported), the newest of each model,
/// recipe and kind unless every run is asked for.
fn select_runs(runs: Vec<RunInfo>, wanted: &[&Manifest], selection: RunsSelection) -> Vec<RunInfo> {
    let mut runs: Vec<RunInfo> = runs
        .into_iter()
        .filter(|r| r.complete && (wanted.is_empty() || wanted.iter().any(|m| m.id == r.model_id)))
        .collect();
    if selection == RunsSelection::Latest {
        let mut newest: HashMap<(String, String, RunKind), RunInfo> = HashMap::new();
        for run in runs {
            let group = (run.model_id.clone(), run.key.recipe.clone(), run.key.kind);
            match newest.get(&group) {
                Some(kept)
                    if (kept.updated_at.as_str(), kept.id) > (run.updated_at.as_str(), run.id) => {}
                _ => {
                    newest.insert(group, run);
                }
            }
        }
        runs = newest.into_values().collect();
        runs.sort_by_key(|r| r.id);
    }
    runs
}

/// Original labels come from the run's stored summary (no row scan: the table stays fast);
/// other label sets score the rows.
fn tally(
    store: &Store,
    run: &RunInfo,
    sets: &[LabelSet],
    errors: &[LabelError],
) -> anyhow::Result<Vec<Tally>> {
    let mut rows = None;
    sets.iter()
        .map(|&set| match (set, &run.summary) {
            (LabelSet::Original, Some(summary)) => Ok(summary.tally()),
            _ => {
                if rows.is_none() {
                    rows = Some(store.predictions(run.id)?);
                }
                Ok(Scorer::new(set, errors).score(rows.iter().flatten()))
            }
        })
        .collect()
}

/// Competition ranking (1, 2, 2, 4) by top-1 and by top-5, rows ordered by top-1 rank.
fn rank(rows: &mut [TableRow]) {
    let top1: Vec<f64> = rows.iter().map(|r| r.top1).collect();
    let top5: Vec<f64> = rows.iter().map(|r| r.top5).collect();
    for row in rows.iter_mut() {
        row.rank1 = 1 + top1.iter().filter(|&&v| v > row.top1).count();
        row.rank5 = 1 + top5.iter().filter(|&&v| v > row.top5).count();
    }
    rows.sort_by(|a, b| {
        a.rank1
            .cmp(&b.rank1)
            .then(a.rank5.cmp(&b.rank5))
            .then(a.model_id.cmp(&b.model_id))
    });
}
