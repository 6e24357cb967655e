//! `zoorepro verify`: evaluate one ONNX export on the validation set, compare it with the
//! manifest's references, and leave a record (store rows, report files, `--json`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, bail};

use super::Context;
use super::model_under_test::{ModelUnderTest, check_model_against_manifest};
use super::progress::Progress;
use super::record::{RecordParts, build_record, check_outputs_writable, emit, report_stem};
use crate::cli::VerifyArgs;
use crate::dataset::{Dataset, DatasetError, Entry, Sample, Shard};
use crate::eval::pipeline::{self, PipelineConfig, PipelineStats};
use crate::eval::prediction::{Content, Outcome, Prediction, content_digest};
use crate::report::{Host, Provenance, RecipeInfo, StoreInfo, Throughput};
use crate::runtime::{Model, OptLevel, Provider, Runtime, SessionOptions};
use crate::store::{
    DatasetMeta, OnnxMeta, RUN_META_SCHEMA, RecipeMeta, RunInfo, RunKey, RunMeta, RunOrigin, Store,
    VerifyMeta,
};
use crate::util::time::utc_timestamp;

/// Batch size when neither the user nor the graph fixes one.
const DEFAULT_BATCH: usize = 32;

pub fn run(ctx: &Context, args: &VerifyArgs) -> anyhow::Result<i32> {
    let started_at = SystemTime::now();
    let started = Instant::now();
    let under_test = ModelUnderTest::select(ctx, &args.model)?;
    let report_dir = writable_outputs(ctx, args, &under_test)?;
    let dataset = Dataset::open(&args.val)?;
    let runtime = Runtime::load(args.runtime.ort_lib.as_deref())?;
    let mut session = Session::open(&runtime, &under_test, args)?;
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let key = run_key(&under_test, &runtime, &session).with_shard(shard);
    let mut stored = if args.no_cache {
        None
    } else {
        let meta = run_meta(&under_test, &dataset, &runtime, &session, args);
        Some(StoredRun::open(ctx, &key, &meta)?)
    };
    let evaluation = evaluate(
        &dataset,
        &under_test,
        &mut session,
        stored.as_mut(),
        args,
        shard,
    )?;
    warn_about(&evaluation.stats, &dataset, &args.val);
    // A shard may get no image of a small set: it is then a complete, empty part of the run.
    if evaluation.order.is_empty() && shard.is_none() {
        bail!("{}: no images to evaluate", args.val.display());
    }
    let ordered = in_dataset_order(stored.as_ref(), &evaluation.order, evaluation.fresh)?;
    if let Some(stored) = stored.as_mut()
        && args.limit.is_none()
    {
        let pass: Vec<(&str, Option<Content>)> = evaluation
            .order
            .iter()
            .map(|(entry, content)| (entry.name.as_str(), *content))
            .collect();
        stored.store.mark_complete(&stored.info, &pass)?;
    }
    if let Some(path) = &args.predictions {
        write_predictions(path, &ordered)?;
    }
    let stats = &evaluation.stats;
    let store = stored.as_ref().map(|stored| StoreInfo {
        database: stored.store.path().display().to_string(),
        run_id: stored.info.id,
        key: key.digest(),
        reused: ordered.len().saturating_sub(stats.inferred + stats.failed),
    });
    let provenance = provenance(&runtime, &session, &under_test, started_at, started, stats);
    let mut parts = record_parts(&under_test, &dataset, args, store, provenance);
    parts.image_set_content_sha256 = labelled_content_digest(&evaluation.order);
    let record = build_record(
        &under_test.manifest,
        &ordered,
        args.verdict.tolerance,
        parts,
    );
    emit(
        &record,
        &report_dir,
        &report_stem(started_at, &key),
        args.output.json,
        args.verdict.require_reference,
    )
}

/// The report folder, once every output of the run (store, reports, predictions) is known to be
/// writable: a bad path fails before the first image is read, not after hours of work.
fn writable_outputs(
    ctx: &Context,
    args: &VerifyArgs,
    under_test: &ModelUnderTest,
) -> anyhow::Result<std::path::PathBuf> {
    let report_dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| under_test.home.join("reports"));
    let store_dir = (!args.no_cache).then(|| ctx.cache_dir()).transpose()?;
    check_outputs_writable(
        store_dir.as_deref(),
        &report_dir,
        &under_test.manifest.id,
        args.predictions.as_deref(),
    )?;
    Ok(report_dir)
}

/// Everything that can change this run's predictions.
fn run_key(under_test: &ModelUnderTest, runtime: &Runtime, session: &Session) -> RunKey {
    RunKey::verify(
        &under_test.manifest.id,
        &under_test.onnx.sha256,
        &under_test.recipe,
        under_test.compat,
        runtime.version(),
        session.provider.name(),
        session.options.opt_level.name(),
        session.batch,
    )
}

/// The model opened for this run, with the settings that enter its key.
struct Session {
    model: Model,
    provider: Provider,
    threads: usize,
    options: SessionOptions,
    batch: usize,
}

impl Session {
    fn open(
        runtime: &Runtime,
        under_test: &ModelUnderTest,
        args: &VerifyArgs,
    ) -> anyhow::Result<Session> {
        let provider: Provider = args.provider.into();
        let threads = args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        let options = SessionOptions {
            provider,
            threads,
            opt_level: OptLevel::All,
        };
        let path = &under_test.onnx_path;
        let model = runtime.open(path, &options)?;
        check_model_against_manifest(&under_test.manifest, &under_test.recipe, &model, path)?;
        let batch = resolve_batch(args.batch, model.fixed_batch(), path)?;
        super::check_batch_memory(
            "--batch",
            batch,
            under_test.recipe.sample_len(),
            crate::eval::pipeline::BUFFERS,
        )?;
        Ok(Session {
            model,
            provider,
            threads,
            options,
            batch,
        })
    }
}

/// What `merge` needs to report a run assembled from shards, as this command reports it.
fn run_meta(
    under_test: &ModelUnderTest,
    dataset: &Dataset,
    runtime: &Runtime,
    session: &Session,
    args: &VerifyArgs,
) -> RunMeta {
    RunMeta {
        schema: RUN_META_SCHEMA,
        framework: Some(under_test.manifest.framework.clone()),
        tool_version: Some(env!("CARGO_PKG_VERSION").into()),
        origin: RunOrigin::Verify(VerifyMeta {
            onnx: Some(OnnxMeta::from(&under_test.onnx)),
            recipe: Some(RecipeMeta {
                name: under_test.recipe.name.clone(),
                pillow_compat: under_test.compat.name().into(),
                definition: under_test.recipe.clone(),
            }),
            dataset: Some(DatasetMeta {
                path: Some(args.val.display().to_string()),
                layout: Some(dataset.kind().name().into()),
            }),
            ort_library: Some(runtime.library().display().to_string()),
            threads: Some(session.threads),
        }),
    }
}

/// The store's run of this key, and this process's lease on it.
struct StoredRun {
    store: Store,
    info: RunInfo,
}

impl StoredRun {
    fn open(ctx: &Context, key: &RunKey, meta: &RunMeta) -> anyhow::Result<StoredRun> {
        let mut store = Store::open(&ctx.cache_dir()?)?;
        let info = store.find_or_create_run(key, meta)?;
        Ok(StoredRun { store, info })
    }

    /// Stores a finished batch with the content each image was read with.
    fn insert(&mut self, predictions: &[Prediction], in_flight: &InFlight) -> Result<(), String> {
        let contents: Vec<Option<Content>> = match in_flight.lock() {
            Ok(mut in_flight) => predictions
                .iter()
                .map(|p| in_flight.remove(&p.name).flatten())
                .collect(),
            Err(_) => vec![None; predictions.len()],
        };
        self.store
            .insert(&self.info, predictions, &contents)
            .map_err(|e| e.to_string())
    }
}

/// Content of the images in flight, from the reading thread to the store's writes.
type InFlight = Arc<Mutex<HashMap<String, Option<Content>>>>;

/// What streaming the dataset through the model gave.
struct Evaluation {
    /// Dataset order, with the content each image was read with, including images answered from
    /// the store.
    order: Vec<(Entry, Option<Content>)>,
    /// Predictions made without a store (`--no-cache`).
    fresh: Vec<Prediction>,
    stats: PipelineStats,
}

fn evaluate(
    dataset: &Dataset,
    under_test: &ModelUnderTest,
    session: &mut Session,
    mut stored: Option<&mut StoredRun>,
    args: &VerifyArgs,
    shard: Option<Shard>,
) -> anyhow::Result<Evaluation> {
    let reusable = reusable_images(stored.as_deref())?;
    let (mut order, mut fresh) = (Vec::new(), Vec::new());
    let in_flight = InFlight::default();
    let limit = args.limit.unwrap_or(usize::MAX);
    let in_shard = move |name: &str| shard.is_none_or(|s| s.contains(name));
    let to_infer = dataset.entries().map(|entries| {
        entries
            .iter()
            .filter(|e| in_shard(&e.name))
            .take(limit)
            .count()
    });
    let progress = super::progress_bar(to_infer, "verify");
    // Images of other shards are neither read nor counted; --limit counts this shard's images.
    // Every image of the shard is read, so that its content can be compared with the store's.
    let samples = dataset
        .stream(None, move |entry: &Entry| in_shard(&entry.name))?
        .filter(move |sample| sample.as_ref().map_or(true, |s| in_shard(&s.entry.name)))
        .take(limit);
    let samples = admit(
        samples,
        &mut order,
        reusable,
        Arc::clone(&in_flight),
        &progress,
    );
    let config = PipelineConfig {
        recipe: &under_test.recipe,
        compat: under_test.compat,
        batch: session.batch,
        fixed_batch: session.model.fixed_batch(),
        classes: under_test.manifest.output.classes,
        label_offset: under_test.manifest.output.label_offset,
        strict: args.strict,
    };
    let mut running_top1 = (0u64, 0u64);
    let sink = |predictions: &[Prediction]| -> Result<(), String> {
        warn_about_failures(&progress, predictions);
        for prediction in predictions {
            if let Some(label) = prediction.label {
                let hit =
                    matches!(&prediction.outcome, Outcome::Ranked { top5, .. } if top5[0] == label);
                running_top1 = (running_top1.0 + u64::from(hit), running_top1.1 + 1);
            }
        }
        progress.set_top1(running_top1.0, running_top1.1);
        match stored.as_deref_mut() {
            Some(stored) => stored.insert(predictions, &in_flight),
            None => {
                fresh.extend_from_slice(predictions);
                Ok(())
            }
        }
    };
    let stats = pipeline::run(samples, &config, &mut session.model, sink, |n| {
        progress.inc(n as u64)
    })?;
    progress.finish_and_clear();
    Ok(Evaluation {
        order,
        fresh,
        stats,
    })
}

/// An image is answered from the store only when its stored row was ranked from a file of the
/// same name, size and sha256: a changed file is evaluated again, and so is a failed one.
fn reusable_images(
    stored: Option<&StoredRun>,
) -> anyhow::Result<impl Fn(&str, Option<&Content>) -> bool + Send + 'static> {
    let images = match stored {
        Some(stored) => stored.store.stored_images(stored.info.id)?,
        None => Default::default(),
    };
    Ok(move |name: &str, content: Option<&Content>| {
        images
            .get(name)
            .is_some_and(|s| !s.failed && s.content.is_some() && s.content.as_ref() == content)
    })
}

/// Records each sample's place and content as the stream passes, and lets through only those
/// the store cannot answer. Content is hashed here, on the reading thread, from the bytes read
/// for decoding.
fn admit<'a>(
    samples: impl Iterator<Item = Result<Sample, DatasetError>> + Send + 'a,
    order: &'a mut Vec<(Entry, Option<Content>)>,
    reusable: impl Fn(&str, Option<&Content>) -> bool + Send + 'a,
    in_flight: InFlight,
    progress: &'a Progress,
) -> impl Iterator<Item = Result<Sample, DatasetError>> + Send + 'a {
    samples.filter_map(move |sample| match sample {
        Ok(mut sample) => {
            if has_control_character(&sample.entry.name) {
                sample.bytes = Err(
                    "its file name holds a control character (a line break, tab, escape...), which would make the image set ambiguous: rename the file".into(),
                );
            }
            let content = match &sample.bytes {
                Ok(bytes) => Some(Content::of(bytes)),
                _ => None,
            };
            order.push((sample.entry.clone(), content));
            if reusable(&sample.entry.name, content.as_ref()) {
                progress.inc(1);
                return None;
            }
            if let Ok(mut in_flight) = in_flight.lock() {
                in_flight.insert(sample.entry.name.clone(), content);
            }
            Some(Ok(sample))
        }
        Err(error) => Some(Err(error)),
    })
}

fn warn_about_failures(progress: &Progress, predictions: &[Prediction]) {
    for prediction in predictions {
        if let Outcome::Failed(error) = &prediction.outcome {
            progress.suspend(|| {
                eprintln!(
                    "zoorepro: warning: {}: {} (counted as failed)",
                    crate::util::escape::terminal(&prediction.file),
                    crate::util::escape::terminal(error)
                )
            });
        }
    }
}

fn warn_about(stats: &PipelineStats, dataset: &Dataset, val: &Path) {
    if stats.nan_outputs > 0 {
        eprintln!(
            "zoorepro: warning: the model's output held NaN for {} images; they are ranked with NaN \
             below every number (as NumPy sorts it), and the record counts them (provenance.nan_outputs); \
             check the export",
            stats.nan_outputs
        );
    }
    if dataset.skipped_links() > 0 {
        eprintln!(
            "zoorepro: warning: {} skipped {} link members (symlinks or hard links; links are never \
             followed), counted with the ignored files",
            val.display(),
            dataset.skipped_links()
        );
    }
}

/// Every image's prediction, in dataset order: from the store, which holds this invocation's
/// rows and the reused ones, or from this invocation alone.
fn in_dataset_order(
    stored: Option<&StoredRun>,
    order: &[(Entry, Option<Content>)],
    fresh: Vec<Prediction>,
) -> anyhow::Result<Vec<(Entry, Prediction)>> {
    let rows = match stored {
        Some(stored) => stored.store.predictions(stored.info.id)?,
        None => fresh,
    };
    let mut predictions: HashMap<String, Prediction> =
        rows.into_iter().map(|p| (p.name.clone(), p)).collect();
    order
        .iter()
        .map(|(entry, _)| {
            let prediction = predictions.remove(&entry.name).with_context(|| {
                format!(
                    "no prediction for {} after the run: the store is inconsistent",
                    entry.file
                )
            })?;
            Ok((entry.clone(), prediction))
        })
        .collect()
}

fn provenance(
    runtime: &Runtime,
    session: &Session,
    under_test: &ModelUnderTest,
    started_at: SystemTime,
    started: Instant,
    stats: &PipelineStats,
) -> Provenance {
    let processed = stats.inferred + stats.failed;
    let wall = stats.wall_time.as_secs_f64();
    Provenance {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        command_line: std::env::args().collect(),
        ort_version: runtime.version().into(),
        ort_library: runtime.library().display().to_string(),
        provider: session.provider.name().into(),
        threads: session.threads,
        batch: session.batch,
        graph_optimization_level: session.options.opt_level.name().into(),
        deterministic_compute: true,
        pillow_compat: under_test.compat.name().into(),
        started_at: utc_timestamp(started_at),
        finished_at: utc_timestamp(SystemTime::now()),
        seconds: started.elapsed().as_secs_f64(),
        images_per_second: if wall > 0.0 {
            processed as f64 / wall
        } else {
            0.0
        },
        inferred: stats.inferred,
        nan_outputs: stats.nan_outputs,
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
        image_set_content_sha256: None,
        layout_set_name: dataset.imagenetv2_variant().map(str::to_string),
        store,
        provenance,
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

/// Control characters in a file name would let one name pass for several (or a line of a report
/// for another).
fn has_control_character(name: &str) -> bool {
    name.chars().any(char::is_control)
}

fn resolve_batch(
    requested: Option<usize>,
    fixed: Option<usize>,
    path: &Path,
) -> anyhow::Result<usize> {
    match (requested, fixed) {
        (Some(0), _) => bail!("--batch must be at least 1"),
        (Some(requested), Some(fixed)) if requested != fixed => bail!(
            "{} fixes its batch dimension to {fixed}; --batch {requested} conflicts with it (drop --batch or pass --batch {fixed})",
            path.display()
        ),
        (Some(requested), _) => Ok(requested),
        (None, Some(fixed)) => Ok(fixed),
        (None, None) => Ok(DEFAULT_BATCH),
    }
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
