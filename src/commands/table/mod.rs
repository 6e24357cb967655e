//! `zoorepro table`: the accuracy table reproduced from the store, one group per image set, each
//! ranked as the published table ranks (by top-1, and by top-5), with every published source of
//! each model measured on that set, the delta to it, and verify's verdict.

mod judged;
mod sets;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

use super::Context;
use super::shared::{options, terminal};
use crate::cli::{LabelsArg, TableArgs, TableFormat};
use crate::dataset::labels::{self, LabelError};
use crate::eval::scoring::{LabelSet, Scorer, Tally};
use crate::exit;
use crate::model::manifest::Manifest;
use crate::model::select;
use crate::report::percent_interval;
use crate::report::table::{
    Accuracy, CsvTable, GROUND_TRUTH, GroundTruthLabels, JsonTable, MarkdownTable, ReferenceDelta,
    TableExporter, TableRow,
};
use crate::store::{RunInfo, RunKind, Store};
use sets::SetRun;

/// Why a float16 seed cache may not give its project's README figures (../shared/reference/README.md).
const FLOAT16_SEED_NOTE: &str = "this cache stores float16 probabilities: benchmarking-keras-pytorch regenerated \
     it on 2020-10-08 (commit 8734e0a) with its float16 script, after the README table (2019-02-20) had been \
     computed from the original float32 cache (commit 22f13a7), which gives exactly the published figures. The two \
     caches are different inference runs (for resnet152: 76 rows differ in top-1, 634 in the top-5 set, so top-5 \
     moves too); float16 ties decide at most one image.";

pub fn run(ctx: &Context, args: &TableArgs) -> anyhow::Result<i32> {
    check_labels_file(args)?;
    let home = ctx.home()?;
    let manifests = ctx.manifests(&home)?;
    let store = Store::open_for_reading(&ctx.cache_dir()?)?;
    let custom_errors;
    let errors: &[LabelError] = match &args.labels_file {
        Some(path) => {
            let text = crate::util::safe_file::read_regular_text(
                path,
                crate::util::safe_file::MAX_LABELS_FILE_BYTES,
                "a labels file",
            )
            .map_err(|e| anyhow::anyhow!("--labels-file {}: {}", path.display(), e.reason()))?;
            custom_errors = labels::parse_label_errors(&text, &path.display().to_string())?;
            &custom_errors
        }
        None => labels::shipped_label_errors(),
    };
    let wanted = select::select(&manifests, &args.models)?;
    let by_id: HashMap<&str, &Manifest> = manifests.iter().map(|m| (m.id.as_str(), m)).collect();
    let named: Vec<SetRun> = store
        .runs()?
        .into_iter()
        .filter(|run| run.complete)
        .map(|run| {
            let own = by_id.get(run.model_id.as_str()).copied();
            SetRun::new(run, own, &manifests)
        })
        .collect();
    let available: BTreeSet<String> = named.iter().map(|r| r.image_set.clone()).collect();
    let runs = sets::select(named, &wanted, &args.image_sets, args.runs);
    if runs.is_empty() {
        anyhow::bail!(no_runs(&store, args, &available));
    }
    let label_sets: Vec<LabelSet> = options::label_sets(args.labels);
    let mut rows = Vec::with_capacity(runs.len());
    for run in &runs {
        let tallies = tally(&store, &run.run, &label_sets, errors)?;
        // The verdict and its marks are judged on the run's own labels, whatever a view shows.
        let own = match label_sets.iter().position(|&set| set == LabelSet::Original) {
            Some(i) => tallies[i],
            None => tally(&store, &run.run, &[LabelSet::Original], errors)?[0],
        };
        let manifest = by_id.get(run.run.model_id.as_str()).copied();
        rows.push(table_row(
            &store,
            run,
            manifest,
            (&label_sets, &tallies),
            &own,
        )?);
    }
    sets::rank(&mut rows);
    let sources = sources(&rows);
    let format = terminal::default_format(args.format, TableFormat::Text, TableFormat::Markdown);
    let exporter: &dyn TableExporter = match format {
        TableFormat::Text => &crate::report::table::TextTable,
        TableFormat::Markdown => &MarkdownTable,
        TableFormat::Csv => &CsvTable,
        TableFormat::Json => &JsonTable,
        TableFormat::Html => &crate::report::HtmlTable,
    };
    terminal::stdout().write_all(exporter.render(&rows, &sources).as_bytes())?;
    Ok(exit::SUCCESS)
}

/// A labels file only changes the cleaned and corrected label sets; with any other it would be
/// silently ignored, and a user would read a table they believe their file shaped.
fn check_labels_file(args: &TableArgs) -> anyhow::Result<()> {
    let ignored = match args.labels {
        LabelsArg::Original => "original",
        LabelsArg::Real => "real",
        LabelsArg::Cleaned | LabelsArg::Corrected | LabelsArg::All => return Ok(()),
    };
    match &args.labels_file {
        Some(path) => anyhow::bail!(
            "--labels-file {} only matters for --labels cleaned, corrected or all (its label errors \
             change those sets); with --labels {ignored} it would be ignored",
            path.display()
        ),
        None => Ok(()),
    }
}

/// Why the table is empty: no complete run at all, none of those models, or none of those image
/// sets (then the sets the store has, to choose from).
fn no_runs(store: &Store, args: &TableArgs, available: &BTreeSet<String>) -> String {
    let mut message = format!(
        "the prediction store {} has no complete run",
        store.path().display()
    );
    if !args.models.is_empty() {
        message.push_str(" of those models");
    }
    if !args.image_sets.is_empty() {
        message.push_str(&format!(
            " on image set {} (its runs are on {})",
            args.image_sets.join(", "),
            if available.is_empty() {
                "none".to_string()
            } else {
                available.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        ));
    }
    message.push_str(": run `zoorepro verify` or `zoorepro import-seed DIR` first");
    message
}

/// One run's row: its figures under every label set, its image set, and what the published
/// numbers measured on that set say of it.
fn table_row(
    store: &Store,
    set_run: &SetRun,
    manifest: Option<&Manifest>,
    (label_sets, tallies): (&[LabelSet], &[Tally]),
    own: &Tally,
) -> anyhow::Result<TableRow> {
    let run = &set_run.run;
    let (primary_set, primary) = (label_sets[0], tallies[0]);
    let judged::Judged {
        references,
        verdict,
        changed_reference,
    } = judged::judged(
        run,
        manifest,
        primary_set,
        &primary,
        own,
        labels_check(store, run)?,
    );
    let ground_truth = ground_truth(run);
    let native = run.meta.native();
    let note = join_notes(
        float16_note(run, primary_set, &references),
        changed_reference,
    );
    Ok(TableRow {
        image_set: set_run.image_set.clone(),
        image_set_images: set_run.images,
        run: run.id,
        framework: match &native {
            Some(native) => native.provider(),
            None => manifest.map_or_else(
                || run.model_id.split('/').next().unwrap_or("").to_string(),
                |m| m.framework.clone(),
            ),
        },
        model: manifest.map_or_else(|| run.model_id.clone(), |m| m.name.clone()),
        model_id: run.model_id.clone(),
        recipe: run.key.recipe.clone(),
        kind: run.key.kind.name().into(),
        provider: run.key.provider.clone(),
        labels: if label_sets.len() > 1 {
            "all".into()
        } else {
            label_set_name(primary_set, ground_truth.is_some()).into()
        },
        top1: primary.percentages().map(|(top1, _)| top1),
        top1_interval: primary
            .percentages()
            .and(percent_interval(primary.top1_correct, primary.images)),
        top5: primary.percentages().map(|(_, top5)| top5),
        top5_interval: primary
            .percentages()
            .and(percent_interval(primary.top5_correct, primary.images)),
        rank1: 0,
        rank5: 0,
        images: primary.images,
        references,
        expected_source: verdict.expected_source,
        verdict: verdict.status,
        marks: verdict.marks,
        by_labels: by_labels(label_sets, tallies, ground_truth.is_some()),
        note,
        ground_truth,
        native,
    })
}

/// The `--ground-truth` file that labelled the run, as its record names it (the key keeps its
/// digest even where the record does not).
fn ground_truth(run: &RunInfo) -> Option<GroundTruthLabels> {
    let sha256 = run.key.ground_truth_sha256.clone()?;
    let path = run
        .meta
        .verify()
        .and_then(|v| v.dataset.as_ref()?.ground_truth.as_ref())
        .filter(|info| info.sha256 == sha256)
        .map(|info| info.path.clone())
        .unwrap_or_default();
    Some(GroundTruthLabels { path, sha256 })
}

/// A label set's name in the table: a `--ground-truth` file's labels stand where the original
/// ones would, and are named as the user's; ReaL and the label-error sets keep their names
/// (ReaL labels by file name, and the cleaned sets leave images out of the run's own labels).
fn label_set_name(set: LabelSet, ground_truth: bool) -> &'static str {
    match set {
        LabelSet::Original if ground_truth => GROUND_TRUTH,
        other => other.name(),
    }
}

/// The label check of a stored run: from its summary, or, for summaries written before the
/// verdict rule counted it, from its rows.
fn labels_check(store: &Store, run: &RunInfo) -> anyhow::Result<usize> {
    if let Some(count) = run.summary.as_ref().and_then(|s| s.label_disagreements) {
        return Ok(count);
    }
    let rows = store.predictions(run.id)?;
    Ok(crate::eval::trust::check_labels(
        rows.iter()
            .filter_map(|p| Some((p.name.as_str(), p.file.as_str(), p.label?))),
    )
    .disagreements)
}

fn join_notes(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a} {b}")),
        (a, b) => a.or(b),
    }
}

/// With several label sets, each one's figures side by side.
fn by_labels(
    label_sets: &[LabelSet],
    tallies: &[Tally],
    ground_truth: bool,
) -> BTreeMap<String, Accuracy> {
    if label_sets.len() < 2 {
        return BTreeMap::new();
    }
    label_sets
        .iter()
        .zip(tallies)
        .map(|(set, t)| {
            let ranked = t.percentages();
            let accuracy = Accuracy {
                top1: ranked.map(|(top1, _)| top1),
                top5: ranked.map(|(_, top5)| top5),
                images: t.images,
                top1_interval: ranked.and(percent_interval(t.top1_correct, t.images)),
                top5_interval: ranked.and(percent_interval(t.top5_correct, t.images)),
            };
            (label_set_name(*set, ground_truth).to_string(), accuracy)
        })
        .collect()
}

/// Why a float16 seed cache misses its published figures, where it does (or where other labels
/// make the difference between the two caches matter).
fn float16_note(
    run: &RunInfo,
    primary_set: LabelSet,
    references: &[ReferenceDelta],
) -> Option<String> {
    let drifts_from_seed = references.iter().any(|r| {
        r.source == "benchmarking-keras-pytorch"
            && (r.delta_top1.abs() >= 0.005 || r.delta_top5.is_some_and(|d| d.abs() >= 0.005))
    });
    let float16_seed = run.key.kind == RunKind::Import
        && run
            .meta
            .import()
            .and_then(|import| import.probs.as_ref()?.dtype.as_deref())
            == Some("<f2");
    (float16_seed && (drifts_from_seed || primary_set != LabelSet::Original))
        .then(|| FLOAT16_SEED_NOTE.to_string())
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

/// Original labels come from the run's stored summary (no row scan: the table stays fast),
/// where it counted its labelled failures; other label sets score the rows.
fn tally(
    store: &Store,
    run: &RunInfo,
    sets: &[LabelSet],
    errors: &[LabelError],
) -> anyhow::Result<Vec<Tally>> {
    let mut rows = None;
    let summarised = run.summary.as_ref().and_then(|s| s.tally());
    sets.iter()
        .map(|&set| match (set, summarised) {
            (LabelSet::Original, Some(tally)) => Ok(tally),
            _ => {
                if rows.is_none() {
                    rows = Some(store.predictions(run.id)?);
                }
                Ok(Scorer::new(set, errors).score(rows.iter().flatten()))
            }
        })
        .collect()
}
