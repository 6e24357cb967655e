//! `zoorepro verify`: evaluate one ONNX export or several in one pass over the validation set,
//! compare each with its manifest's references, and leave a record per model (store rows,
//! report files, `--json`), plus one results file for the pass (`--results-file`).

mod member;
mod native;
mod pass;
mod spot_check;

pub use native::{NativeModel, NativeRun, checkpoint_digest, run_native};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, bail};

use super::Context;
use super::shared::model_under_test::{Chosen, ModelUnderTest};
use super::shared::record::{
    RecordParts, build_record, check_file_writable, check_outputs_writable, emit, report_stem,
    run_inputs,
};
use super::shared::{interrupt, terminal};
use crate::cli::VerifyArgs;
use crate::dataset::{Dataset, Entry, Shard};
use crate::eval::pipeline::PipelineStats;
use crate::eval::prediction::{Content, Outcome, Prediction, Settle, content_digest};
use crate::eval::trust::{Coverage, Duplicates};
use crate::eval::verdict::applicable;
use crate::exit;
use crate::model::manifest::ImageSetId;
use crate::report::results::{ResultRow, UNKNOWN_EXTENSION, results_format, write_results};
use crate::report::{Host, Provenance, RecipeInfo, RunRecord, StoreInfo, Throughput};
use crate::runtime::Runtime;
use crate::store::PassImage;
use crate::util::time::utc_timestamp;
use member::Member;
use pass::{Evaluation, evaluate, in_dataset_order};

/// The content each admitted image was read with, by name, from the reading thread to every
/// model's store writes. Kept for the whole pass (several models write the same image at
/// different times): some 100 bytes an image, 5 MB for the 50,000 validation images.
type InFlight = Arc<Mutex<HashMap<String, Option<Content>>>>;

/// When the invocation started, for provenance and report names.
#[derive(Clone, Copy)]
struct Started {
    at: SystemTime,
    clock: Instant,
}

pub fn run(ctx: &Context, args: &VerifyArgs) -> anyhow::Result<i32> {
    let started = Started {
        at: SystemTime::now(),
        clock: Instant::now(),
    };
    let selected = ModelUnderTest::select_many(ctx, &args.model)?;
    check_arguments(args, selected.len())?;
    writable_outputs(ctx, args, &selected)?;
    let dataset = crate::commands::shared::options::open_dataset(&args.val, &args.labels)?;
    let runtime = Runtime::load(args.runtime.ort_lib.as_deref())?;
    let shard = crate::commands::shared::options::parse_shard(args.shard.as_deref())?;
    // One model at a time: each file's bytes live only until its session is open.
    let mut members: Vec<Member> = selected
        .into_iter()
        .map(|chosen| Member::open(&runtime, chosen, args, shard, &dataset))
        .collect::<anyhow::Result<_>>()?;
    pass::check_memory(&members)?;
    for member in &mut members {
        member.open_store(ctx, Some(&runtime), &dataset, args)?;
    }
    if members.len() > 1 {
        let line = format!(
            "zoorepro: {} models in one pass over {}: {}",
            members.len(),
            args.val.display(),
            members
                .iter()
                .map(|m| m.under_test.manifest.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        eprintln!("{}", crate::util::escape::terminal(&line));
    }
    interrupt::arm(ctx, args.no_cache);
    let evaluation = evaluate_and_check(&dataset, &mut members, args, shard)?;
    report_every_member(members, evaluation, &dataset, &runtime, args, started)
}

/// Flags that hold for one model only, and a results file whose format is unknown, are refused
/// before any work.
fn check_arguments(args: &VerifyArgs, models: usize) -> anyhow::Result<()> {
    if models > 1 && args.predictions.is_some() {
        bail!(
            "--predictions writes one model's per-image predictions, and --model selects {models} models; \
             pass one model, or read each model's rows with `zoorepro compare`"
        );
    }
    if let Some(path) = &args.results_file
        && results_format(path).is_none()
    {
        bail!("{}: {UNKNOWN_EXTENSION}", path.display());
    }
    Ok(())
}

/// What every member's record shares: the pass's images and how the pass was run, worked out
/// once however many models it fed.
struct Shared<'a> {
    order: &'a [(Entry, Option<Content>)],
    /// Name and content of every image of the pass, for each store's `mark_complete`.
    pass: Vec<PassImage<'a>>,
    /// The labelled images' content digest (every image is hashed as it is read).
    content_sha256: Option<String>,
    /// Labelled images whose content an earlier one has.
    duplicates: Duplicates,
    coverage: Coverage,
    dataset: &'a Dataset,
    /// `None` for a native run, which no ONNX Runtime ran.
    runtime: Option<&'a Runtime>,
    args: &'a VerifyArgs,
    started: Started,
}

impl<'a> Shared<'a> {
    fn new(
        order: &'a [(Entry, Option<Content>)],
        coverage: Coverage,
        dataset: &'a Dataset,
        runtime: Option<&'a Runtime>,
        args: &'a VerifyArgs,
        started: Started,
    ) -> Shared<'a> {
        Shared {
            order,
            pass: order
                .iter()
                .map(|(entry, content)| PassImage {
                    name: &entry.name,
                    content: *content,
                    file: &entry.file,
                    label: entry.label,
                })
                .collect(),
            content_sha256: labelled_content_digest(order),
            duplicates: labelled_duplicates(order),
            coverage,
            dataset,
            runtime,
            args,
            started,
        }
    }
}

/// One entry of `--json` over several models: the model's record, or why it has none.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum PassEntry {
    Record(Box<RunRecord>),
    Failed { model_id: String, error: String },
}

/// Each member's record, report files and verdict line, or, for a model that failed in the pass,
/// its error line (its stored run is left incomplete; the others are not concerned); then the
/// results file, with a row for every model. The exit status is the worst of the members'.
fn report_every_member(
    members: Vec<Member>,
    evaluation: Evaluation,
    dataset: &Dataset,
    runtime: &Runtime,
    args: &VerifyArgs,
    started: Started,
) -> anyhow::Result<i32> {
    let Evaluation {
        order,
        fresh,
        stats,
        stopped,
        coverage,
    } = evaluation;
    let shared = Shared::new(&order, coverage, dataset, Some(runtime), args, started);
    let many = members.len() > 1;
    let mut status = exit::SUCCESS;
    let mut entries = Vec::with_capacity(members.len());
    let mut rows = Vec::with_capacity(members.len());
    for (((mut member, fresh), stats), stopped) in
        members.into_iter().zip(fresh).zip(&stats).zip(stopped)
    {
        if let Some(error) = stopped {
            status = exit::worst(status, exit::ERROR);
            entries.push(failed_member(
                &member,
                error,
                many,
                order.len(),
                args,
                &mut rows,
            ));
            continue;
        }
        let record = finish(&mut member, &shared, fresh, stats)?;
        let code = emit(
            &record,
            &member.report_dir,
            &report_stem(started.at, &member.key),
            args.output.json && !many,
            &args.verdict,
        )?;
        status = exit::worst(status, code);
        if args.results_file.is_some() {
            rows.push(ResultRow::new(&record, member.trainable_parameters));
        }
        entries.push(PassEntry::Record(Box::new(record)));
    }
    if many && args.output.json {
        terminal::print_json(&entries)?;
    }
    if let Some(path) = &args.results_file {
        write_results(path, &rows)
            .with_context(|| format!("cannot write the results file {}", path.display()))?;
        eprintln!("  results: {} ({} models)", path.display(), rows.len());
    }
    Ok(status)
}

/// A model that failed in the pass: its error line, its results-file row (when one is written)
/// and its `--json` entry.
fn failed_member(
    member: &Member,
    error: String,
    many: bool,
    images: usize,
    args: &VerifyArgs,
    rows: &mut Vec<ResultRow>,
) -> PassEntry {
    eprintln!(
        "zoorepro: error: {}{}",
        crate::util::escape::terminal(&error),
        if many {
            "; this model has no result, the other models of the pass went on"
        } else {
            ""
        }
    );
    let under_test = &member.under_test;
    if args.results_file.is_some() {
        rows.push(ResultRow::failed(
            &under_test.manifest.id,
            &under_test.recipe,
            member.trainable_parameters,
            images,
            &error,
        ));
    }
    PassEntry::Failed {
        model_id: under_test.manifest.id.clone(),
        error,
    }
}

/// One member's run after the pass: its store run completed, its predictions written, its record.
fn finish(
    member: &mut Member,
    shared: &Shared,
    fresh: Vec<Prediction>,
    stats: &PipelineStats,
) -> anyhow::Result<RunRecord> {
    let args = shared.args;
    // A `--limit` pass is complete too: the run's image set is the images it read; its
    // coverage says that it is a part of `--val`.
    if let Some(stored) = member.stored.as_mut() {
        let under_test = &member.under_test;
        let layout_name = shared.dataset.layout_set_name();
        let references = |id: &ImageSetId<'_>| {
            let mut id = *id;
            id.layout_name = layout_name;
            applicable(&under_test.manifest, &under_test.recipe.name, &id)
        };
        let settle = Settle {
            coverage: shared.coverage,
            references: &references,
        };
        stored
            .store
            .mark_complete(&stored.info, &shared.pass, &settle)?;
    }
    let ordered = in_dataset_order(member.stored.as_ref(), shared.order, fresh)?;
    if let Some(path) = &args.predictions {
        write_predictions(path, &ordered)?;
    }
    let store = member.stored.as_ref().map(|stored| StoreInfo {
        database: stored.store.path().display().to_string(),
        run_id: stored.info.id,
        key: member.key.digest(),
        reused: ordered.len().saturating_sub(stats.inferred + stats.failed),
    });
    let provenance = provenance(shared.runtime, member, shared.started, stats);
    let mut parts = record_parts(&member.under_test, shared.dataset, args, store, provenance);
    parts.image_set_content_sha256 = shared.content_sha256.clone();
    parts.duplicates = shared.duplicates;
    parts.coverage = shared.coverage;
    Ok(build_record(
        &member.under_test.manifest,
        &ordered,
        args.verdict.tolerance,
        parts,
    ))
}

/// Checks, before the first image is read, that every output of the run (store, each model's
/// report folder, predictions, results file) can be written: a bad path fails before hours of
/// work, not after.
fn writable_outputs(ctx: &Context, args: &VerifyArgs, selected: &[Chosen]) -> anyhow::Result<()> {
    let store_dir = (!args.no_cache).then(|| ctx.cache_dir()).transpose()?;
    let mut inputs = run_inputs(
        store_dir.as_deref(),
        &args.val,
        args.labels.ground_truth.as_deref(),
        selected.iter().map(|chosen| chosen.onnx_path.as_path()),
    );
    for under_test in selected {
        let report_dir: PathBuf = args
            .report_dir
            .clone()
            .unwrap_or_else(|| under_test.home.join("reports"));
        check_outputs_writable(
            store_dir.as_deref(),
            &report_dir,
            &under_test.manifest.id,
            args.predictions.as_deref(),
            &inputs,
        )?;
    }
    if let Some(path) = &args.results_file {
        if let Some(predictions) = &args.predictions {
            inputs.file(predictions, "--predictions too");
        }
        inputs.check(path, "the results file")?;
        check_file_writable(path, "the results file")?;
    }
    Ok(())
}

/// The pass over the images, then what only its end can tell: the pipelines' warnings, whether
/// the ground-truth file named only images of the set, and whether there was anything to do.
fn evaluate_and_check(
    dataset: &Dataset,
    members: &mut [Member],
    args: &VerifyArgs,
    shard: Option<Shard>,
) -> anyhow::Result<Evaluation> {
    let evaluation = evaluate(dataset, members, args, shard)?;
    warn_about(&evaluation.stats, dataset);
    // A tar's --ground-truth rows are known to name its members only once all were read.
    if evaluation.coverage != Coverage::Partial {
        dataset.check_ground_truth()?;
    }
    // A shard may get no image of a small set: it is then a complete, empty part of the run,
    // which `merge` needs (a job array's shard count is fixed before the set is known).
    if evaluation.order.is_empty() {
        match shard {
            None => bail!("{}: no images to evaluate", args.val.display()),
            Some(shard) => eprintln!(
                "zoorepro: warning: {}",
                crate::util::escape::terminal(&empty_shard(shard, dataset, &args.val))
            ),
        }
    }
    Ok(evaluation)
}

/// What an empty shard's run is, and what to do about it, for a caller who expected images.
fn empty_shard(shard: Shard, dataset: &Dataset, val: &Path) -> String {
    let of = match dataset.entries() {
        Some(entries) => format!("the {} images of {}", entries.len(), val.display()),
        None => format!("the images of {}", val.display()),
    };
    format!(
        "shard {shard} holds none of {of}: this run has 0 images (verdict no-reference), an empty \
         part that `merge` completes; to score images, run fewer shards (each of K/N gets about \
         1/N of the set) or none"
    )
}

fn warn_about(stats: &[PipelineStats], dataset: &Dataset) {
    let nan_outputs: usize = stats.iter().map(|s| s.nan_outputs).sum();
    if nan_outputs > 0 {
        let inferred: usize = stats.iter().map(|s| s.inferred).sum();
        eprintln!(
            "zoorepro: warning: a model's output held NaN for {nan_outputs} of the {inferred} images \
             inferred in this pass (images answered by the store are not counted); they are ranked \
             with NaN below every number (as NumPy sorts it), and the record counts them \
             (provenance.nan_outputs); check the export",
        );
    }
    for warning in dataset.warnings() {
        eprintln!("zoorepro: warning: {warning}");
    }
}

/// How the run was made. A native run names no ONNX Runtime: its provider is `native` (with the
/// framework the caller named), and nothing vouches for deterministic compute.
fn provenance(
    runtime: Option<&Runtime>,
    member: &Member,
    started: Started,
    stats: &PipelineStats,
) -> Provenance {
    let session = &member.session;
    let processed = stats.inferred + stats.failed;
    let wall = stats.wall_time.as_secs_f64();
    let text = |f: fn(&Runtime) -> String| runtime.map(f).unwrap_or_default();
    Provenance {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        command_line: crate::util::invocation::command_line(),
        home: member.under_test.home.display().to_string(),
        ort_version: text(|r| r.version().into()),
        ort_library: text(|r| r.library().display().to_string()),
        ort_library_sha256: text(|r| r.library_sha256().into()),
        provider: match &member.native {
            Some(native) => native.provider(),
            None => session.provider.name().into(),
        },
        threads: session.threads,
        batch: session.batch,
        graph_optimization_level: match &member.native {
            Some(_) => String::new(),
            None => session.options.opt_level.name().into(),
        },
        deterministic_compute: member.native.is_none(),
        pillow_compat: member.under_test.compat.name().into(),
        started_at: utc_timestamp(started.at),
        finished_at: utc_timestamp(SystemTime::now()),
        seconds: started.clock.elapsed().as_secs_f64(),
        images_per_second: if wall > 0.0 {
            processed as f64 / wall
        } else {
            0.0
        },
        inferred: stats.inferred,
        nan_outputs: stats.nan_outputs,
        decodes: stats.decodes,
        models_in_pass: stats.lanes,
        throughput: Throughput::from_stages(
            processed,
            stats.preprocess_time.as_secs_f64(),
            stats.inference_time.as_secs_f64(),
            wall,
        ),
        host: Host::current(),
    }
}

fn record_parts(
    under_test: &ModelUnderTest,
    dataset: &Dataset,
    args: &VerifyArgs,
    store: Option<StoreInfo>,
    provenance: Provenance,
) -> RecordParts {
    RecordParts {
        onnx: under_test.onnx.clone(),
        recipe: RecipeInfo {
            name: under_test.recipe.name.clone(),
            pillow_compat: under_test.compat.name().into(),
            definition: under_test.recipe.clone(),
        },
        dataset_path: args.val.display().to_string(),
        layout: dataset.kind().name().into(),
        ignored_files: dataset.ignored_files(),
        skipped: dataset.skipped(),
        archive_end: dataset.archive_end(),
        image_set_content_sha256: None,
        layout_set_name: dataset.layout_set_name().map(str::to_string),
        ground_truth: dataset.ground_truth(),
        store,
        provenance,
        coverage: Coverage::Complete,
        duplicates: Duplicates::default(),
    }
}

/// The content digest of the labelled images of this pass (every image is hashed as it is read).
fn labelled_content_digest(order: &[(Entry, Option<Content>)]) -> Option<String> {
    content_digest(
        order
            .iter()
            .filter(|(entry, _)| entry.label.is_some())
            .map(|(entry, content)| (entry.name.as_str(), content.as_ref())),
    )
}

/// Labelled images of this pass whose content an earlier one has (unknown where an image could
/// not be read: it has no content).
fn labelled_duplicates(order: &[(Entry, Option<Content>)]) -> Duplicates {
    Duplicates::of(
        order
            .iter()
            .filter(|(entry, _)| entry.label.is_some())
            .map(|(_, content)| content.as_ref().map(|c| &c.sha256)),
    )
}

/// JSON Lines, one object per image in dataset order, written atomically.
fn write_predictions(path: &Path, ordered: &[(Entry, Prediction)]) -> anyhow::Result<()> {
    let mut text = String::with_capacity(ordered.len() * 96);
    for (entry, prediction) in ordered {
        let line = match &prediction.outcome {
            Outcome::Ranked { top5, scores } => serde_json::json!({
                "file": entry.file, "label": entry.label, "top5": top5, "scores": scores,
            }),
            Outcome::Failed(error) => serde_json::json!({
                "file": entry.file, "label": entry.label, "top5": [], "scores": [], "error": error,
            }),
        };
        text.push_str(&line.to_string());
        text.push('\n');
    }
    crate::util::safe_file::write_bytes_atomically(path, text.as_bytes())
        .with_context(|| format!("cannot write predictions to {}", path.display()))
}
