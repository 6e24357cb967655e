//! `zoorepro verify`: evaluate one ONNX export on the validation set, compare it with the
//! manifest's references, and leave a record (store rows, report files, `--json`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, bail};

use super::Context;
use super::model_under_test::{ModelUnderTest, check_model_against_manifest};
use super::record::{RecordParts, build_record, emit, report_stem};
use crate::cli::VerifyArgs;
use crate::dataset::{Dataset, Entry, Shard};
use crate::eval::pipeline::{self, PipelineConfig};
use crate::eval::prediction::{Content, Outcome, Prediction};
use crate::report::{Host, Provenance, RecipeInfo, StoreInfo, Throughput};
use crate::runtime::{OptLevel, Provider, Runtime, SessionOptions};
use crate::store::{RunKey, Store};

/// Batch size when neither the user nor the graph fixes one.
const DEFAULT_BATCH: usize = 32;

pub fn run(ctx: &Context, args: &VerifyArgs) -> anyhow::Result<i32> {
    let started_at = SystemTime::now();
    let started = Instant::now();
    let ModelUnderTest {
        home,
        manifest,
        recipe,
        compat,
        onnx_path,
        onnx,
    } = ModelUnderTest::select(ctx, &args.model)?;
    let manifest = &manifest;

    let dataset = Dataset::open(&args.val)?;
    let runtime = Runtime::load(args.runtime.ort_lib.as_deref())?;
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
    let mut model = runtime.open(&onnx_path, &options)?;
    check_model_against_manifest(manifest, &recipe, &model, &onnx_path)?;
    let batch = resolve_batch(args.batch, model.fixed_batch(), &onnx_path)?;
    super::check_batch_memory(
        "--batch",
        batch,
        recipe.sample_len(),
        crate::eval::pipeline::BUFFERS,
    )?;
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;

    let key = RunKey::verify(
        &manifest.id,
        &onnx.sha256,
        &recipe,
        compat,
        runtime.version(),
        provider.name(),
        options.opt_level.name(),
        batch,
    )
    .with_shard(shard);
    let mut store = if args.no_cache {
        None
    } else {
        Some(Store::open(&ctx.cache_dir()?)?)
    };
    let run_info = match store.as_mut() {
        // What `merge` needs to report a run assembled from shards, as this command reports it.
        Some(store) => Some(store.find_or_create_run(
            &key,
            &serde_json::json!({
                "framework": manifest.framework,
                "onnx": onnx,
                "recipe": RecipeInfo { name: recipe.name.clone(), pillow_compat: compat.name().into(), definition: recipe.clone() },
                "dataset": { "path": args.val.display().to_string(), "layout": dataset.kind().name() },
                "ort_library": runtime.library().display().to_string(),
                "threads": threads,
                "tool_version": env!("CARGO_PKG_VERSION"),
            }),
        )?),
        None => None,
    };
    // An image is answered from the store only when its stored row was ranked from a file of the
    // same name, size and sha256: a changed file is evaluated again, and so is a failed one.
    let stored = match (&store, &run_info) {
        (Some(store), Some(info)) => store.stored_images(info.id)?,
        _ => Default::default(),
    };
    let reusable = move |name: &str, content: Option<&Content>| {
        stored
            .get(name)
            .is_some_and(|s| !s.failed && s.content.is_some() && s.content.as_ref() == content)
    };

    // Dataset order, recorded as the stream passes, with the content each image was read with,
    // including images answered from the store.
    let mut order: Vec<(Entry, Option<Content>)> = Vec::new();
    let mut fresh: Vec<Prediction> = Vec::new();
    // Content of the images in flight, from the reading thread to the store's writes.
    let in_flight: Arc<Mutex<HashMap<String, Option<Content>>>> = Arc::default();
    let hash = store.is_some();
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
    let stats = {
        // Images of other shards are neither read nor counted; --limit counts this shard's images.
        // Every image of the shard is read, so that its content can be compared with the store's.
        let samples = dataset.stream(None, move |entry: &Entry| in_shard(&entry.name))?;
        let order = &mut order;
        let progress = &progress;
        let reading = Arc::clone(&in_flight);
        let samples = samples
            .filter(move |sample| sample.as_ref().map_or(true, |s| in_shard(&s.entry.name)))
            .take(limit)
            .filter_map(move |sample| match sample {
                Ok(mut sample) => {
                    if has_control_character(&sample.entry.name) {
                        sample.bytes = Err(
                            "its file name holds a control character (a line break, tab, escape...), which would make the image set ambiguous: rename the file".into(),
                        );
                    }
                    // Hashed here, on the reading thread, from the bytes read for decoding.
                    let content = match &sample.bytes {
                        Ok(bytes) if hash => Some(Content::of(bytes)),
                        _ => None,
                    };
                    order.push((sample.entry.clone(), content));
                    if reusable(&sample.entry.name, content.as_ref()) {
                        progress.inc(1);
                        return None;
                    }
                    if let Ok(mut in_flight) = reading.lock() {
                        in_flight.insert(sample.entry.name.clone(), content);
                    }
                    Some(Ok(sample))
                }
                Err(error) => Some(Err(error)),
            });
        let config = PipelineConfig {
            recipe: &recipe,
            compat,
            batch,
            fixed_batch: model.fixed_batch(),
            classes: manifest.output.classes,
            label_offset: manifest.output.label_offset,
            strict: args.strict,
        };
        let sink = |predictions: &[Prediction]| -> Result<(), String> {
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
            match (store.as_mut(), &run_info) {
                (Some(store), Some(info)) => {
                    let contents: Vec<Option<Content>> = match in_flight.lock() {
                        Ok(mut in_flight) => predictions
                            .iter()
                            .map(|p| in_flight.remove(&p.name).flatten())
                            .collect(),
                        Err(_) => vec![None; predictions.len()],
                    };
                    store
                        .insert(info, predictions, &contents)
                        .map_err(|e| e.to_string())
                }
                _ => {
                    fresh.extend_from_slice(predictions);
                    Ok(())
                }
            }
        };
        pipeline::run(samples, &config, &mut model, sink, |n| {
            progress.inc(n as u64)
        })?
    };
    progress.finish_and_clear();
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
            args.val.display(),
            dataset.skipped_links()
        );
    }
    // A shard may get no image of a small set: it is then a complete, empty part of the run.
    if order.is_empty() && shard.is_none() {
        bail!("{}: no images to evaluate", args.val.display());
    }

    let mut predictions: HashMap<String, Prediction> = match (&store, &run_info) {
        (Some(store), Some(info)) => store
            .predictions(info.id)?
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect(),
        _ => fresh.into_iter().map(|p| (p.name.clone(), p)).collect(),
    };
    let ordered: Vec<(Entry, Prediction)> = order
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
        .collect::<anyhow::Result<_>>()?;

    if let (Some(store), Some(info)) = (store.as_mut(), &run_info)
        && args.limit.is_none()
    {
        let pass: Vec<(&str, Option<Content>)> = order
            .iter()
            .map(|(entry, content)| (entry.name.as_str(), *content))
            .collect();
        store.mark_complete(info, &pass)?;
    }

    if let Some(path) = &args.predictions {
        write_predictions(path, &ordered)?;
    }

    let seconds = started.elapsed().as_secs_f64();
    let parts = RecordParts {
        onnx,
        recipe: RecipeInfo {
            name: recipe.name.clone(),
            pillow_compat: compat.name().into(),
            definition: recipe.clone(),
        },
        dataset_path: args.val.display().to_string(),
        layout: dataset.kind().name().into(),
        ignored_files: dataset.ignored_files(),
        store: match (&store, &run_info) {
            (Some(store), Some(info)) => Some(StoreInfo {
                database: store.path().display().to_string(),
                run_id: info.id,
                key: key.digest(),
                reused: ordered.len().saturating_sub(stats.inferred + stats.failed),
            }),
            _ => None,
        },
        provenance: Provenance {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            command_line: std::env::args().collect(),
            ort_version: runtime.version().into(),
            ort_library: runtime.library().display().to_string(),
            provider: provider.name().into(),
            threads,
            batch,
            graph_optimization_level: options.opt_level.name().into(),
            deterministic_compute: true,
            pillow_compat: compat.name().into(),
            started_at: crate::util::time::utc_timestamp(started_at),
            finished_at: crate::util::time::utc_timestamp(SystemTime::now()),
            seconds,
            images_per_second: if stats.wall_time.as_secs_f64() > 0.0 {
                (stats.inferred + stats.failed) as f64 / stats.wall_time.as_secs_f64()
            } else {
                0.0
            },
            inferred: stats.inferred,
            nan_outputs: stats.nan_outputs,
            throughput: Throughput::from_stages(
                stats.inferred + stats.failed,
                stats.preprocess_time.as_secs_f64(),
                stats.inference_time.as_secs_f64(),
                stats.wall_time.as_secs_f64(),
            ),
            host: Host::current(),
        },
    };
    let record = build_record(manifest, &ordered, args.tolerance, parts);

    let report_dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| home.join("reports"));
    emit(
        &record,
        &report_dir,
        &report_stem(started_at, &key),
        args.output.json,
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
