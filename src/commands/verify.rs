//! `zoorepro verify`: evaluate one ONNX export on the validation set, compare it with the
//! manifest's references, and leave a record (store rows, report files, `--json`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, bail};

use super::Context;
use crate::cli::{ModelArgs, VerifyArgs};
use crate::dataset::{Dataset, Entry, Shard};
use crate::eval::pipeline::{self, PipelineConfig};
use crate::exit;
use crate::image::recipe::{Layout, Recipe};
use crate::image::resample::PillowCompat;
use crate::model::manifest::{self, Manifest};
use crate::report::{
    self, DatasetInfo, Failure, Host, OnnxInfo, Provenance, RecipeInfo, ReferenceResult, RunRecord,
    StoreInfo, Throughput, Verdict, VerdictStatus,
};
use crate::runtime::{Model, OptLevel, Provider, Runtime, SessionOptions};
use crate::store::{Content, Outcome, Prediction, RunKey, Store};

/// Batch size when neither the user nor the graph fixes one.
const DEFAULT_BATCH: usize = 32;
/// Failures listed in a record; the count is always complete.
const MAX_LISTED_FAILURES: usize = 100;
/// Float noise allowance when comparing a percentage difference with the tolerance.
const TOLERANCE_EPSILON: f64 = 1e-9;

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
            started_at: report::utc_timestamp(started_at),
            finished_at: report::utc_timestamp(SystemTime::now()),
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

pub(crate) fn report_stem(started_at: SystemTime, key: &RunKey) -> String {
    format!(
        "{}-{}",
        report::utc_timestamp(started_at).replace([':', '-'], ""),
        &key.digest()[..12]
    )
}

/// Writes the report files, prints the record (`--json`) and the summary, and turns the verdict
/// into the exit status.
pub(crate) fn emit(
    record: &RunRecord,
    report_dir: &Path,
    stem: &str,
    json: bool,
) -> anyhow::Result<i32> {
    let written = report::write_reports(report_dir, record, stem).with_context(|| {
        format!(
            "cannot write the run report under {} (pass --report-dir DIR)",
            report_dir.display()
        )
    })?;
    if json {
        super::print_json(record)?;
    }
    eprintln!("{}", summary_line(record));
    for path in written {
        eprintln!("  report: {}", path.display());
    }
    Ok(match record.verdict.status {
        VerdictStatus::Drift => exit::DRIFT,
        VerdictStatus::Reproduced | VerdictStatus::NoReference => exit::SUCCESS,
    })
}

fn failures(ordered: &[(Entry, Prediction)]) -> Vec<Failure> {
    ordered
        .iter()
        .filter_map(|(entry, p)| match &p.outcome {
            Outcome::Failed(error) => Some(Failure {
                file: entry.file.clone(),
                error: error.clone(),
            }),
            Outcome::Ranked { .. } => None,
        })
        .take(MAX_LISTED_FAILURES)
        .collect()
}

/// The numbers of an evaluated image set and what the manifest's references say of them.
struct Assessment {
    pub score: Score,
    pub image_set_sha256: String,
    pub references: Vec<ReferenceResult>,
    pub verdict: Verdict,
}

/// What a record needs beyond the predictions: where they came from and how they were made.
pub(crate) struct RecordParts {
    pub onnx: OnnxInfo,
    pub recipe: RecipeInfo,
    pub dataset_path: String,
    pub layout: String,
    pub ignored_files: usize,
    pub store: Option<StoreInfo>,
    pub provenance: Provenance,
}

/// The run record of an evaluated image set, as `verify` and `merge` both report it.
pub(crate) fn build_record(
    manifest: &Manifest,
    ordered: &[(Entry, Prediction)],
    tolerance: f64,
    parts: RecordParts,
) -> RunRecord {
    let Assessment {
        score,
        image_set_sha256,
        references,
        verdict,
    } = assess(manifest, &parts.recipe.name, ordered, tolerance);
    RunRecord {
        model_id: manifest.id.clone(),
        onnx: parts.onnx,
        recipe: parts.recipe,
        dataset: DatasetInfo {
            path: parts.dataset_path,
            layout: parts.layout,
            image_set_name: manifest
                .image_set_name(&image_set_sha256, score.images)
                .map(str::to_string),
            image_set_sha256,
            unlabelled: ordered
                .iter()
                .filter(|(entry, _)| entry.label.is_none())
                .count(),
            ignored_files: parts.ignored_files,
        },
        images: score.images,
        evaluated: score.evaluated,
        failed: score.failed,
        top1_correct: score.top1_correct,
        top5_correct: score.top5_correct,
        top1: score.top1(),
        top5: score.top5(),
        references,
        verdict,
        store: parts.store,
        failures: failures(ordered),
        provenance: parts.provenance,
    }
}

fn assess(
    manifest: &Manifest,
    recipe: &str,
    ordered: &[(Entry, Prediction)],
    tolerance: f64,
) -> Assessment {
    let score = Score::of(ordered);
    let image_set_sha256 = manifest::image_set_digest(
        ordered
            .iter()
            .filter(|(entry, _)| entry.label.is_some())
            .map(|(entry, _)| entry.name.as_str()),
    );
    let (references, verdict) = judge(manifest, recipe, &image_set_sha256, &score, tolerance);
    Assessment {
        score,
        image_set_sha256,
        references,
        verdict,
    }
}

fn summary_line(record: &RunRecord) -> String {
    format!(
        "{}: top-1 {:.2}% ({}/{}), top-5 {:.2}% ({}/{}), {} failed; {}",
        record.model_id,
        record.top1,
        record.top1_correct,
        record.images,
        record.top5,
        record.top5_correct,
        record.images,
        record.failed,
        record.verdict.summary
    )
}

/// The model a command evaluates, as its flags select it: the manifest, the recipe, the Pillow
/// release to match, and the ONNX file with its verification against the manifest.
pub(super) struct ModelUnderTest {
    pub home: PathBuf,
    pub manifest: Manifest,
    pub recipe: Recipe,
    pub compat: PillowCompat,
    pub onnx_path: PathBuf,
    pub onnx: OnnxInfo,
}

impl ModelUnderTest {
    pub fn select(ctx: &Context, args: &ModelArgs) -> anyhow::Result<Self> {
        let home = ctx.home()?;
        let manifests = ctx.manifests(&home)?;
        let manifest = manifest::resolve(&manifests, &args.model)?.clone();
        let recipe = manifest.recipe(args.recipe.as_deref())?;
        let onnx_path = args
            .onnx
            .clone()
            .unwrap_or_else(|| manifest.onnx_path(&home));
        let onnx = inspect_onnx_file(&manifest, &onnx_path, args.allow_unverified)?;
        Ok(Self {
            home,
            manifest,
            recipe,
            compat: args.pillow_compat.into(),
            onnx_path,
            onnx,
        })
    }
}

/// Hashes the file and checks it against the manifest's pin.
pub(super) fn inspect_onnx_file(
    manifest: &Manifest,
    path: &Path,
    allow_unverified: bool,
) -> anyhow::Result<OnnxInfo> {
    if !path.is_file() {
        bail!(
            "ONNX file {} not found: export it (scripts/export_torchvision.py / export_keras.py) or pass --onnx FILE",
            path.display()
        );
    }
    let sha256 = super::sha256_file(path)?;
    let verification = match &manifest.sha256 {
        None => "unpinned",
        Some(pinned) if pinned.eq_ignore_ascii_case(&sha256) => "verified",
        Some(pinned) if allow_unverified => {
            eprintln!(
                "zoorepro: warning: {} has sha256 {sha256}, not the manifest's {pinned}; the record says \"unverified\"",
                path.display()
            );
            "unverified"
        }
        Some(pinned) => bail!(
            "{} has sha256 {sha256}, but manifest {} pins {pinned}: this is not the file the manifest describes \
             (pass --allow-unverified to evaluate it anyway; the record will say \"unverified\")",
            path.display(),
            manifest.id
        ),
    };
    Ok(OnnxInfo {
        path: path.display().to_string(),
        sha256,
        verification: verification.into(),
        manifest_sha256: manifest.sha256.clone(),
        sidecar: read_sidecar(path),
    })
}

/// The export scripts write `<file>.json` beside each export; the record carries it as provenance.
fn read_sidecar(onnx: &Path) -> Option<serde_json::Value> {
    let mut name = onnx.as_os_str().to_owned();
    name.push(".json");
    let path = PathBuf::from(name);
    if !path.exists() {
        return None;
    }
    // Provenance is a few hundred bytes; a huge or special file must not be copied whole.
    match crate::util::safe_file::read_regular(&path, MAX_SIDECAR_BYTES, "an export sidecar") {
        Ok(bytes) => serde_json::from_slice(&bytes).ok(),
        Err(error) => {
            eprintln!("zoorepro: warning: {error}; the record carries no sidecar");
            Some(serde_json::json!({ "omitted": error.to_string() }))
        }
    }
}

/// The most of `<file>.onnx.json` the record copies.
const MAX_SIDECAR_BYTES: u64 = 1 << 20;

/// The graph must take what the recipe produces and give what the manifest says, or every number
/// after this would be meaningless.
pub(crate) fn check_model_against_manifest(
    manifest: &Manifest,
    recipe: &Recipe,
    model: &Model,
    path: &Path,
) -> anyhow::Result<()> {
    let input = model.input();
    let mismatch = |what: String| {
        anyhow::anyhow!(
            "{} does not match manifest {}: {what}; check --onnx, or the manifest's input/recipe",
            path.display(),
            manifest.id
        )
    };
    if input.name != manifest.input.name {
        return Err(mismatch(format!(
            "input is named {:?}, the manifest says {:?}",
            input.name, manifest.input.name
        )));
    }
    if input.shape.len() != 4 {
        return Err(mismatch(format!(
            "input has rank {} ({:?}), an image batch has rank 4",
            input.shape.len(),
            input.shape
        )));
    }
    let size = recipe.crop_size as u64;
    let expected: [u64; 3] = match recipe.layout {
        Layout::Nchw => [3, size, size],
        Layout::Nhwc => [size, size, 3],
    };
    for (axis, (&declared, &wanted)) in input.shape[1..].iter().zip(&expected).enumerate() {
        if let Some(declared) = declared
            && declared != wanted
        {
            return Err(mismatch(format!(
                "input dimension {} is {declared}, but recipe {} feeds {} {:?}",
                axis + 1,
                recipe.name,
                recipe.layout.name(),
                expected
            )));
        }
    }
    let output = model.output();
    if let Some(Some(classes)) = output.shape.get(1)
        && *classes as usize != manifest.output.classes
    {
        return Err(mismatch(format!(
            "output {} has {classes} classes, the manifest says {}",
            output.name, manifest.output.classes
        )));
    }
    Ok(())
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

/// Accuracy over the labelled images; failed images count as incorrect.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Score {
    pub images: usize,
    pub evaluated: usize,
    pub failed: usize,
    pub top1_correct: usize,
    pub top5_correct: usize,
}

impl Score {
    fn of(ordered: &[(Entry, Prediction)]) -> Score {
        let mut score = Score::default();
        for (entry, prediction) in ordered {
            let Some(label) = entry.label else { continue };
            score.images += 1;
            match &prediction.outcome {
                Outcome::Ranked { top5, .. } => {
                    score.evaluated += 1;
                    score.top1_correct += usize::from(top5[0] == label);
                    score.top5_correct += usize::from(top5.contains(&label));
                }
                Outcome::Failed(_) => score.failed += 1,
            }
        }
        score
    }

    fn percent(count: usize, of: usize) -> f64 {
        if of == 0 {
            0.0
        } else {
            100.0 * count as f64 / of as f64
        }
    }

    pub fn top1(&self) -> f64 {
        Self::percent(self.top1_correct, self.images)
    }

    pub fn top5(&self) -> f64 {
        Self::percent(self.top5_correct, self.images)
    }
}

fn judge(
    manifest: &Manifest,
    recipe: &str,
    image_set_sha256: &str,
    score: &Score,
    tolerance: f64,
) -> (Vec<ReferenceResult>, Verdict) {
    let (top1, top5) = (score.top1(), score.top5());
    let applicable = manifest.references_for(recipe, image_set_sha256, score.images);
    let results: Vec<ReferenceResult> = applicable
        .iter()
        .map(|(reference, expected)| ReferenceResult {
            source: reference.source.clone(),
            top1: reference.top1,
            top5: reference.top5,
            delta_top1: top1 - reference.top1,
            delta_top5: top5 - reference.top5,
            expected: *expected,
            recipe: reference.recipe.clone(),
            note: reference.note.clone(),
        })
        .collect();
    let verdict = match results.iter().find(|r| r.expected) {
        None => Verdict {
            status: VerdictStatus::NoReference,
            tolerance,
            expected_source: None,
            summary: format!(
                "no reference of {} was measured with recipe {} on this image set ({} images); nothing to compare",
                manifest.id, recipe, score.images
            ),
        },
        Some(expected) if expected.delta_top1.abs() <= tolerance + TOLERANCE_EPSILON => Verdict {
            status: VerdictStatus::Reproduced,
            tolerance,
            expected_source: Some(expected.source.clone()),
            summary: format!(
                "reproduced: top-1 {:.3} vs {:.3} ({}), delta {:+.3} within ±{tolerance}",
                top1, expected.top1, expected.source, expected.delta_top1
            ),
        },
        Some(expected) => Verdict {
            status: VerdictStatus::Drift,
            tolerance,
            expected_source: Some(expected.source.clone()),
            summary: format!(
                "DRIFT: top-1 {:.3} vs {:.3} ({}), delta {:+.3} beyond ±{tolerance}",
                top1, expected.top1, expected.source, expected.delta_top1
            ),
        },
    };
    (results, verdict)
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
    report::write_atomically(path, text.as_bytes())
        .with_context(|| format!("cannot write predictions to {}", path.display()))
}
