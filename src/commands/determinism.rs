//! `zoorepro determinism`: runs the same images alone, inside batches with different neighbours,
//! repeatedly, and under every requested thread count, optimization level and provider, then
//! compares the raw outputs image by image. The analysis (what is compared with what, the
//! verdict) is [`crate::eval::determinism`]; this file resolves the arguments, opens the
//! sessions, preprocesses the sample and prints the report ([`crate::report::determinism`]).

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, bail};
use rayon::prelude::*;

use super::Context;
use super::shared::batch::check_batch_memory;
use super::shared::model_under_test::{self, ModelUnderTest};
use super::shared::progress::Progress;
use super::shared::terminal;
use crate::cli::DeterminismArgs;
use crate::dataset::Dataset;
use crate::eval::determinism::{
    Config, DeterminismVerdict, Input, OutputColumns, ROUNDING_TOLERANCE, Study, choose_samples,
    configurations, dedup, summary_line,
};
use crate::exit;
use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;
use crate::model::bytes::ModelBytes;
use crate::model::manifest::Manifest;
use crate::report::Render;
use crate::report::determinism::{FailedImage, Report, Skipped, Text};
use crate::runtime::{Model, OptLevel, Provider, Runtime, SessionOptions};

/// The session settings asked for, each listed once, in the order given.
struct Settings {
    threads: Vec<usize>,
    opt_levels: Vec<OptLevel>,
    providers: Vec<Provider>,
}

impl Settings {
    fn of(args: &DeterminismArgs) -> Settings {
        let threads = if args.threads.is_empty() {
            vec![std::thread::available_parallelism().map_or(1, |n| n.get())]
        } else {
            dedup(args.threads.iter().copied())
        };
        Settings {
            threads,
            opt_levels: dedup(args.opt_levels.iter().copied().map(OptLevel::from)),
            providers: dedup(args.providers.iter().copied().map(Provider::from)),
        }
    }
}

/// The sample, preprocessed once: the readable images (names and stacked tensors) and the rest.
struct Prepared {
    files: Vec<String>,
    tensors: Vec<f32>,
    failed: Vec<FailedImage>,
}

pub fn run(ctx: &Context, args: &DeterminismArgs) -> anyhow::Result<i32> {
    check_counts(args)?;
    let (
        ModelUnderTest {
            manifest,
            recipe,
            compat,
            onnx_path,
            onnx,
            ..
        },
        bytes,
    ) = ModelUnderTest::select(ctx, &args.model)?;
    for &batch in &args.batch_sizes {
        check_batch_memory("--batch-sizes", batch, recipe.sample_len(), 1)?;
    }
    let dataset = crate::commands::shared::options::open_dataset(&args.val, &args.labels)?;
    let settings = Settings::of(args);
    let configs = configurations(&settings.providers, &settings.opt_levels, &settings.threads);

    // Every session is opened before any work, so that an unusable provider fails at once.
    let runtime = Runtime::load(args.runtime.ort_lib.as_deref())?;
    let mut models = open_sessions(&runtime, &configs, &manifest, &recipe, &bytes)?;
    // Each session holds its own copy of the graph.
    drop(bytes);
    let fixed_batch = models.first().and_then(|m| m.fixed_batch());
    let (batch_sizes, skipped) = runnable_batch_sizes(args, fixed_batch, &onnx_path)?;

    let prepared = prepare_sample(args, &dataset, &recipe, compat)?;
    let n = prepared.files.len();

    let study = Study::new(configs, n, &batch_sizes, args.repeats);
    let progress = Progress::new(Some(study.images()), "determinism");
    let input = Input {
        tensors: &prepared.tensors,
        sample_shape: recipe.sample_shape(),
    };
    let columns = OutputColumns {
        onnx: onnx_path.clone(),
        classes: manifest.output.classes,
        label_offset: manifest.output.label_offset,
    };
    let outputs = study.measure(&mut models, &input, &columns, |images| {
        progress.inc(images as u64)
    })?;
    progress.finish_and_clear();

    let axes = study.compare(&outputs, &prepared.files);
    let verdict = DeterminismVerdict::of(&axes);
    let report = Report {
        summary: summary_line(manifest.id.as_str(), verdict, &axes, n, study.configs.len()),
        model_id: manifest.id.clone(),
        onnx,
        recipe: recipe.name.clone(),
        pillow_compat: compat.name().into(),
        dataset: args.val.display().to_string(),
        images: prepared.files,
        failed: prepared.failed,
        batch_sizes: std::iter::once(1).chain(batch_sizes).collect(),
        repeats: args.repeats,
        threads: settings.threads,
        opt_levels: settings.opt_levels.iter().map(|o| o.name()).collect(),
        providers: settings.providers.iter().map(|p| p.name()).collect(),
        configurations: study.configs.iter().map(Config::label).collect(),
        ort_version: runtime.version().into(),
        rounding_tolerance: ROUNDING_TOLERANCE,
        skipped,
        axes,
        verdict,
    };
    emit(&report, args.output.json)?;
    Ok(match verdict {
        DeterminismVerdict::Deterministic => exit::SUCCESS,
        _ => exit::DRIFT,
    })
}

/// The sample preprocessed, the images left out said on stderr; an error when none is left.
fn prepare_sample(
    args: &DeterminismArgs,
    dataset: &Dataset,
    recipe: &Recipe,
    compat: PillowCompat,
) -> anyhow::Result<Prepared> {
    // Decoded with as many threads as the most any session is given (or --decode-threads).
    let decode_threads = args.decode.or_threads(args.threads.iter().copied().max());
    let prepared = crate::eval::pipeline::decode_pool(decode_threads)?
        .install(|| prepare(dataset, args.samples, recipe, compat))?;
    for f in &prepared.failed {
        eprintln!(
            "zoorepro: warning: {} left out: {}",
            crate::util::escape::terminal(&f.file),
            crate::util::escape::terminal(&f.error)
        );
    }
    if prepared.files.is_empty() {
        bail!("{}: no readable images to test", args.val.display());
    }
    Ok(prepared)
}

fn check_counts(args: &DeterminismArgs) -> anyhow::Result<()> {
    if args.samples == 0 {
        bail!("--samples must be at least 1");
    }
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    if args.batch_sizes.contains(&0) {
        bail!("--batch-sizes must all be at least 1");
    }
    if args.threads.contains(&0) {
        bail!("--threads must all be at least 1");
    }
    Ok(())
}

fn open_sessions(
    runtime: &Runtime,
    configs: &[Config],
    manifest: &Manifest,
    recipe: &Recipe,
    bytes: &ModelBytes,
) -> anyhow::Result<Vec<Model>> {
    let mut models = Vec::with_capacity(configs.len());
    for config in configs {
        let options = SessionOptions {
            provider: config.provider,
            threads: config.threads,
            opt_level: config.opt_level,
        };
        let model = runtime
            .open_bytes(bytes, &options)
            .with_context(|| format!("cannot open a session for {}", config.label()))?;
        model_under_test::check_model_against_manifest(manifest, recipe, &model, bytes.path())?;
        models.push(model);
    }
    Ok(models)
}

/// The batch sizes above 1 that the graph allows, and what is skipped (with why).
fn runnable_batch_sizes(
    args: &DeterminismArgs,
    fixed_batch: Option<usize>,
    onnx_path: &Path,
) -> anyhow::Result<(Vec<usize>, Vec<Skipped>)> {
    if let Some(fixed) = fixed_batch
        && fixed != 1
    {
        bail!(
            "{} fixes its batch dimension to {fixed}: the reference run of each image alone (batch 1) is impossible",
            onnx_path.display()
        );
    }
    let mut skipped = Vec::new();
    let mut batch_sizes: Vec<usize> = dedup(args.batch_sizes.iter().copied())
        .into_iter()
        .filter(|&b| b > 1)
        .collect();
    if fixed_batch == Some(1) {
        for &b in &batch_sizes {
            skipped.push(Skipped {
                what: format!("batch size {b}"),
                reason: "the graph fixes its batch dimension to 1".into(),
            });
        }
        batch_sizes.clear();
    }
    if args.repeats == 1 {
        skipped.push(Skipped {
            what: "repetition".into(),
            reason: "--repeats 1".into(),
        });
    }
    Ok((batch_sizes, skipped))
}

fn prepare(
    dataset: &Dataset,
    samples: usize,
    recipe: &Recipe,
    compat: PillowCompat,
) -> anyhow::Result<Prepared> {
    let chosen = choose_samples(dataset, samples)?;
    let sample_len = recipe.sample_len();
    let tensors: Vec<_> = chosen
        .into_par_iter()
        .map(|(entry, bytes)| {
            let tensor = bytes.and_then(|bytes| {
                let mut out = vec![0f32; sample_len];
                crate::image::pipelines::preprocess(&bytes, &[(recipe, compat)], &mut [&mut out])
                    .remove(0)
                    .map(|()| out)
                    .map_err(|e| e.to_string())
            });
            (entry, tensor)
        })
        .collect();
    let mut prepared = Prepared {
        files: Vec::new(),
        tensors: Vec::new(),
        failed: Vec::new(),
    };
    for (entry, tensor) in tensors {
        match tensor {
            Ok(tensor) => {
                prepared.files.push(entry.file);
                prepared.tensors.extend_from_slice(&tensor);
            }
            Err(error) => prepared.failed.push(FailedImage {
                file: entry.file,
                error,
            }),
        }
    }
    Ok(prepared)
}

fn emit(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        terminal::print_json(report)?;
    } else {
        terminal::stdout().write_all(Text.render(report).as_bytes())?;
    }
    eprintln!("{}", crate::util::escape::terminal(&report.summary));
    Ok(())
}
