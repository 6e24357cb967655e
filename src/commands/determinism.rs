//! `zoorepro determinism`: runs the same images alone, inside batches with different neighbours,
//! repeatedly, and under every requested thread count, optimization level and provider, then
//! compares the raw outputs image by image. The analysis (what is compared with what, the
//! verdict) is [`crate::eval::determinism`]; this file resolves the arguments, opens the
//! sessions, preprocesses the sample and prints the report.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, bail};
use rayon::prelude::*;
use serde::Serialize;

use super::Context;
use super::model_under_test::ModelUnderTest;
use crate::cli::DeterminismArgs;
use crate::dataset::Dataset;
use crate::eval::determinism::{
    AxisRow, Config, DeterminismVerdict, Input, OutputColumns, ROUNDING_TOLERANCE, Study,
    choose_samples, configurations, dedup, format_difference, summary_line,
};
use crate::exit;
use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;
use crate::model::bytes::ModelBytes;
use crate::model::manifest::Manifest;
use crate::report::OnnxInfo;
use crate::runtime::{Model, OptLevel, Provider, Runtime, SessionOptions};

#[derive(Clone, Debug, Serialize)]
struct Skipped {
    what: String,
    reason: String,
}

#[derive(Clone, Debug, Serialize)]
struct FailedImage {
    file: String,
    error: String,
}

#[derive(Debug, Serialize)]
struct Report {
    model_id: String,
    onnx: OnnxInfo,
    recipe: String,
    pillow_compat: String,
    dataset: String,
    /// The images compared, in the order of their names.
    images: Vec<String>,
    failed: Vec<FailedImage>,
    batch_sizes: Vec<usize>,
    repeats: usize,
    threads: Vec<usize>,
    opt_levels: Vec<&'static str>,
    providers: Vec<&'static str>,
    configurations: Vec<String>,
    ort_version: String,
    rounding_tolerance: f64,
    skipped: Vec<Skipped>,
    axes: Vec<AxisRow>,
    verdict: DeterminismVerdict,
    summary: String,
}

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
        super::check_batch_memory("--batch-sizes", batch, recipe.sample_len(), 1)?;
    }
    let dataset = Dataset::open(&args.val)?;
    let settings = Settings::of(args);
    let configs = configurations(&settings.providers, &settings.opt_levels, &settings.threads);

    // Every session is opened before any work, so that an unusable provider fails at once.
    let runtime = Runtime::load(args.runtime.ort_lib.as_deref())?;
    let mut models = open_sessions(&runtime, &configs, &manifest, &recipe, &bytes)?;
    // Each session holds its own copy of the graph.
    drop(bytes);
    let fixed_batch = models.first().and_then(|m| m.fixed_batch());
    let (batch_sizes, skipped) = runnable_batch_sizes(args, fixed_batch, &onnx_path)?;

    // Decoded with as many threads as the most any session is given (or --decode-threads).
    let decode_threads = args.decode.or_threads(args.threads.iter().copied().max());
    let prepared = crate::eval::pipeline::decode_pool(decode_threads)?
        .install(|| prepare(&dataset, args.samples, &recipe, compat))?;
    for f in &prepared.failed {
        eprintln!(
            "zoorepro: warning: {} left out: {}",
            crate::util::escape::terminal(&f.file),
            crate::util::escape::terminal(&f.error)
        );
    }
    let n = prepared.files.len();
    if n == 0 {
        bail!("{}: no readable images to test", args.val.display());
    }

    let study = Study::new(configs, n, &batch_sizes, args.repeats);
    let progress = super::progress_bar(Some(study.images()), "determinism");
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
        super::model_under_test::check_model_against_manifest(
            manifest,
            recipe,
            &model,
            bytes.path(),
        )?;
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
    let mut stdout = crate::commands::output::stdout();
    if json {
        serde_json::to_writer_pretty(&mut stdout, report)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(text(report).as_bytes())?;
    }
    eprintln!("{}", crate::util::escape::terminal(&report.summary));
    Ok(())
}

/// Top-1 flips listed in the text report: a screenful; the count is always complete, and `--json`
/// lists them all.
const LISTED_FLIPS: usize = 20;

fn text(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} ({}, {}), recipe {}, {} images from {}\nconfigurations: {}\nbatch sizes: {:?}, repeats: {}, ONNX Runtime {}\n",
        report.model_id,
        report.onnx.path,
        report.onnx.verification,
        report.recipe,
        report.images.len(),
        report.dataset,
        report.configurations.join(", "),
        report.batch_sizes,
        report.repeats,
        report.ort_version
    ));
    for s in &report.skipped {
        out.push_str(&format!("skipped: {} ({})\n", s.what, s.reason));
    }
    out.push('\n');
    out.push_str(&axis_table(&report.axes));
    // A changed prediction matters more than the size of a difference: flips come first.
    out.push_str(&flips_text(&report.axes, LISTED_FLIPS));
    out.push_str(&worst_text(&report.axes));
    out.push_str(&format!("\nverdict: {}\n", report.verdict.name()));
    out
}

fn axis_table(axes: &[AxisRow]) -> String {
    let mut out = format!(
        "{:<12} {:<22} {:<22} {:>8} {:>9} {:>12} {:>12} {:>6} {:>6}\n",
        "axis", "value", "against", "compared", "identical", "max abs", "max rel", "top-1", "top-5"
    );
    for row in axes {
        out.push_str(&format!(
            "{:<12} {:<22} {:<22} {:>8} {:>9} {:>12} {:>12} {:>6} {:>6}{}\n",
            row.axis,
            row.value,
            row.reference,
            row.compared,
            row.identical,
            format_difference(row.max_abs_diff),
            format_difference(row.max_rel_diff),
            row.top1_changes,
            row.top5_changes,
            if row.beyond_rounding {
                "  beyond rounding"
            } else {
                ""
            }
        ));
    }
    out
}

/// `index name`, as `compare` names classes.
fn class(index: u16) -> String {
    format!("{index} {}", crate::dataset::labels::class_name(index))
}

/// The images whose top-1 changed, axis by axis, at most `limit` of them, with the total.
fn flips_text(axes: &[AxisRow], limit: usize) -> String {
    let total: usize = axes.iter().map(|r| r.flips.len()).sum();
    if total == 0 {
        return String::new();
    }
    let mut out = if total > limit {
        format!("\ntop-1 flips (showing {limit} of {total}; --json lists all):\n")
    } else {
        format!("\ntop-1 flips ({total}):\n")
    };
    let flips = axes
        .iter()
        .flat_map(|row| row.flips.iter().map(move |flip| (row, flip)));
    for (row, flip) in flips.take(limit) {
        out.push_str(&format!(
            "  {} {} vs {} [{}] {}: {} -> {}\n",
            row.axis,
            row.value,
            row.reference,
            flip.configuration,
            flip.file,
            class(flip.top1_reference),
            class(flip.top1_other)
        ));
    }
    out
}

fn worst_text(axes: &[AxisRow]) -> String {
    let with_worst: Vec<&AxisRow> = axes.iter().filter(|r| !r.worst.is_empty()).collect();
    if with_worst.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nworst images:\n");
    for row in with_worst {
        out.push_str(&format!(
            "  {} {} vs {}:\n",
            row.axis, row.value, row.reference
        ));
        for w in &row.worst {
            out.push_str(&format!(
                "    {} [{}] abs {} rel {} top-1 {} -> {}\n",
                w.file,
                w.configuration,
                format_difference(w.max_abs_diff),
                format_difference(w.max_rel_diff),
                class(w.top1_reference),
                class(w.top1_other)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::determinism::Flip;

    fn row_with_flips(flips: usize) -> AxisRow {
        AxisRow {
            axis: "opt-level",
            value: "all".into(),
            reference: "disable".into(),
            compared: 64,
            identical: 64 - flips,
            max_abs_diff: 0.0,
            max_rel_diff: 1.5e-7,
            top1_changes: flips,
            top5_changes: 0,
            beyond_rounding: false,
            worst: Vec::new(),
            flips: (0..flips)
                .map(|i| Flip {
                    file: format!("ILSVRC2012_val_{i:08}.JPEG"),
                    configuration: "cpu, 2 threads".into(),
                    top1_reference: 0,
                    top1_other: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn flips_are_listed_with_class_names_up_to_the_limit_with_the_total() {
        let text = flips_text(&[row_with_flips(3), row_with_flips(30)], 20);
        assert!(
            text.contains("top-1 flips (showing 20 of 33; --json lists all)"),
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| l.starts_with("  ")).count(), 20);
        assert!(
            text.contains("ILSVRC2012_val_00000000.JPEG: 0 tench -> 1 goldfish"),
            "{text}"
        );
        let all = flips_text(&[row_with_flips(2)], 20);
        assert!(all.contains("top-1 flips (2):"), "{all}");
        assert_eq!(flips_text(&[row_with_flips(0)], 20), "");
    }

    #[test]
    fn a_zero_difference_prints_as_0_and_a_tiny_one_in_scientific_notation() {
        let table = axis_table(&[row_with_flips(0)]);
        let line = table.lines().nth(1).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[5], "0", "{line}");
        assert_eq!(cells[6], "1.500e-7", "{line}");
        assert!(!table.contains("0.000e0"), "{table}");
    }
}
