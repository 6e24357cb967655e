//! `zoorepro determinism`: runs the same images alone, inside batches with different neighbours,
//! repeatedly, and under every requested thread count, optimization level and provider, then
//! compares the raw outputs image by image.
//!
//! What is compared with what (each row of the report is one axis value against its reference):
//! - batch: each image's row from a batch of B (two different neighbour sets, "A" and "B") against
//!   the same image run alone, in the same session;
//! - composition: neighbours B against neighbours A, same batch size;
//! - repetition: repeat r of every run against the first, in the same session;
//! - threads / opt-level / provider: the batch-1 outputs against those of the first value listed,
//!   all other settings equal.
//!
//! Verdict, in this order: any repetition that is not bitwise identical -> `nondeterministic`;
//! a batch or composition difference beyond rounding -> `batch-dependent`; any difference at all
//! -> `numerically-unstable`; else `deterministic`. "Beyond rounding" is a difference in a row
//! larger than `ROUNDING_TOLERANCE` of that row's largest magnitude: summing in another order
//! (another batch blocking, thread split or fused kernel) moves float32 results by a few units
//! in the last place per operation, which through a deep network stays orders of magnitude
//! below 1e-3 of the output's scale; normalising with the statistics of the batch moves them by
//! the order of the output itself.

use std::collections::BinaryHeap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Context;
use super::model_under_test::ModelUnderTest;
use crate::cli::DeterminismArgs;
use crate::dataset::{Dataset, Entry};
use crate::eval::rank;
use crate::exit;
use crate::report::OnnxInfo;
use crate::runtime::{Model, OptLevel, Provider, Runtime, SessionOptions};

/// A row difference above this fraction of the row's scale is beyond rounding (module doc).
pub const ROUNDING_TOLERANCE: f64 = 1e-3;
/// Images listed per report row, the largest relative differences first.
const WORST_IMAGES: usize = 5;
/// Neighbour sets per batch size; two are enough to tell "depends on neighbours" from "depends
/// on the batch size".
const COMPOSITIONS: usize = 2;
/// Salt of the sample choice, so that the sample is a fixed function of the image names.
const SAMPLE_SALT: &[u8] = b"zoorepro determinism sample v1\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeterminismVerdict {
    Deterministic,
    NumericallyUnstable,
    BatchDependent,
    Nondeterministic,
}

impl DeterminismVerdict {
    fn name(self) -> &'static str {
        match self {
            DeterminismVerdict::Deterministic => "deterministic",
            DeterminismVerdict::NumericallyUnstable => "numerically-unstable",
            DeterminismVerdict::BatchDependent => "batch-dependent",
            DeterminismVerdict::Nondeterministic => "nondeterministic",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
struct WorstImage {
    file: String,
    configuration: String,
    max_abs_diff: f64,
    max_rel_diff: f64,
    top1_reference: u16,
    top1_other: u16,
}

#[derive(Clone, Debug, Serialize)]
struct AxisRow {
    axis: &'static str,
    value: String,
    reference: String,
    /// Image rows compared (images x configurations x repeats, as the axis has them).
    compared: usize,
    identical: usize,
    max_abs_diff: f64,
    max_rel_diff: f64,
    top1_changes: usize,
    top5_changes: usize,
    beyond_rounding: bool,
    worst: Vec<WorstImage>,
}

impl AxisRow {
    fn new(axis: &'static str, value: String, reference: String) -> AxisRow {
        AxisRow {
            axis,
            value,
            reference,
            compared: 0,
            identical: 0,
            max_abs_diff: 0.0,
            max_rel_diff: 0.0,
            top1_changes: 0,
            top5_changes: 0,
            beyond_rounding: false,
            worst: Vec::new(),
        }
    }

    /// Compares every image row of `other` with `reference` (both `images x classes`).
    fn add(
        &mut self,
        files: &[String],
        configuration: &str,
        reference: &[f32],
        other: &[f32],
        classes: usize,
    ) {
        for (i, (a, b)) in reference
            .chunks_exact(classes)
            .zip(other.chunks_exact(classes))
            .enumerate()
        {
            let diff = RowDiff::of(a, b);
            self.compared += 1;
            self.identical += usize::from(diff.identical);
            self.max_abs_diff = self.max_abs_diff.max(diff.abs);
            self.max_rel_diff = self.max_rel_diff.max(diff.rel);
            self.top1_changes += usize::from(diff.top1.0 != diff.top1.1);
            self.top5_changes += usize::from(diff.top5_changed);
            self.beyond_rounding |= diff.rel > ROUNDING_TOLERANCE;
            if !diff.identical {
                self.worst.push(WorstImage {
                    file: files[i].clone(),
                    configuration: configuration.to_string(),
                    max_abs_diff: diff.abs,
                    max_rel_diff: diff.rel,
                    top1_reference: diff.top1.0,
                    top1_other: diff.top1.1,
                });
                self.worst
                    .sort_by(|x, y| y.max_rel_diff.total_cmp(&x.max_rel_diff));
                self.worst.truncate(WORST_IMAGES);
            }
        }
    }
}

/// How one image's output row differs between two runs.
#[derive(Clone, Copy, Debug, PartialEq)]
struct RowDiff {
    identical: bool,
    abs: f64,
    /// `abs` over the row's largest magnitude (of either run): relative to the output's scale,
    /// since an element-wise ratio explodes on logits that happen to be near zero.
    rel: f64,
    top1: (u16, u16),
    /// The top-5 *sets* differ (an order change within the five is not a changed result).
    top5_changed: bool,
}

impl RowDiff {
    fn of(a: &[f32], b: &[f32]) -> RowDiff {
        let identical =
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        let mut abs = 0.0f64;
        let mut scale = 0.0f64;
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (f64::from(x), f64::from(y));
            // A NaN on one side only is as different as it gets.
            let d = if x.is_nan() || y.is_nan() {
                if x.is_nan() && y.is_nan() {
                    0.0
                } else {
                    f64::INFINITY
                }
            } else {
                (x - y).abs()
            };
            abs = abs.max(d);
            scale = scale.max(x.abs()).max(y.abs());
        }
        let abs = if identical { 0.0 } else { abs };
        let rel = if abs == 0.0 {
            0.0
        } else {
            abs / scale.max(f64::from(f32::MIN_POSITIVE))
        };
        let (ra, rb) = (rank::top_k(a), rank::top_k(b));
        let mut set_a = ra.classes;
        let mut set_b = rb.classes;
        set_a.sort_unstable();
        set_b.sort_unstable();
        RowDiff {
            identical,
            abs,
            rel,
            top1: (ra.classes[0], rb.classes[0]),
            top5_changed: set_a != set_b,
        }
    }
}

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

/// One session setting: everything but the batch.
#[derive(Clone, Copy, Debug)]
struct Config {
    provider: Provider,
    opt_level: OptLevel,
    threads: usize,
}

impl Config {
    fn label(&self) -> String {
        format!(
            "{}/opt={}/threads={}",
            self.provider.name(),
            self.opt_level.name(),
            self.threads
        )
    }
}

/// How the samples are packed for one run: every batch has exactly `batch` slots; `own[i]` is
/// the slot whose output row belongs to sample `i`.
#[derive(Clone, Debug, PartialEq)]
struct Plan {
    batch: usize,
    composition: Option<usize>,
    batches: Vec<Vec<usize>>,
    own: Vec<(usize, usize)>,
}

impl Plan {
    fn alone(samples: usize) -> Plan {
        Plan {
            batch: 1,
            composition: None,
            batches: (0..samples).map(|i| vec![i]).collect(),
            own: (0..samples).map(|i| (i, 0)).collect(),
        }
    }

    /// Shuffles the samples with a fixed seed per composition and packs them `batch` at a time.
    /// The last batch is filled up with samples from the start of the shuffle (cyclically when
    /// there are fewer samples than slots); those extra slots are neighbours only.
    fn packed(samples: usize, batch: usize, composition: usize) -> Plan {
        let mut order: Vec<usize> = (0..samples).collect();
        let mut rng = SplitMix64(0x5EED_0000 + composition as u64);
        for i in (1..order.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut batches = Vec::new();
        let mut own = vec![(0, 0); samples];
        for (b, chunk) in order.chunks(batch).enumerate() {
            let mut slots = chunk.to_vec();
            for (slot, &sample) in chunk.iter().enumerate() {
                own[sample] = (b, slot);
            }
            let mut filler = order.iter().cycle();
            while slots.len() < batch {
                let candidate = *filler.next().unwrap_or(&0);
                if !chunk.contains(&candidate) || samples <= chunk.len() {
                    slots.push(candidate);
                }
            }
            batches.push(slots);
        }
        Plan {
            batch,
            composition: Some(composition),
            batches,
            own,
        }
    }

    fn label(&self) -> String {
        match self.composition {
            None => "1 (alone)".into(),
            Some(c) => format!("{}, neighbours {}", self.batch, composition_name(c)),
        }
    }

    fn images(&self) -> usize {
        self.batches.len() * self.batch
    }
}

fn composition_name(c: usize) -> char {
    char::from(b'A' + (c % 26) as u8)
}

/// Steele, Lea and Flood's SplitMix64: tiny, seedable, and the same on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The sample is the `n` images whose salted SHA-256 of the file name is smallest: the same
/// images for the same names whether `--val` is a folder tree, a flat folder or the tar, and
/// chosen in one streaming pass.
fn sample_key(name: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(SAMPLE_SALT);
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}

type Chosen = (Entry, Result<Vec<u8>, String>);

fn choose_samples(dataset: &Dataset, n: usize) -> anyhow::Result<Vec<Chosen>> {
    // The largest key kept so far once `n` are kept: anything above it is not read at all.
    let cutoff: Arc<Mutex<Option<(u64, String)>>> = Arc::new(Mutex::new(None));
    let wanted = {
        let cutoff = Arc::clone(&cutoff);
        move |entry: &Entry| {
            let key = (sample_key(&entry.name), entry.name.clone());
            match &*cutoff.lock().unwrap_or_else(|e| e.into_inner()) {
                Some(limit) => key < *limit,
                None => true,
            }
        }
    };
    let mut heap: BinaryHeap<((u64, String), usize)> = BinaryHeap::new();
    let mut kept: Vec<Option<Chosen>> = Vec::new();
    for sample in dataset.stream(None, wanted)? {
        let sample = sample?;
        if !sample.wanted {
            continue;
        }
        let key = (sample_key(&sample.entry.name), sample.entry.name.clone());
        heap.push((key, kept.len()));
        kept.push(Some((sample.entry, sample.bytes)));
        if heap.len() > n
            && let Some((_, dropped)) = heap.pop()
        {
            kept[dropped] = None;
        }
        if heap.len() == n
            && let Some((limit, _)) = heap.peek()
        {
            *cutoff.lock().unwrap_or_else(|e| e.into_inner()) = Some(limit.clone());
        }
    }
    let mut chosen: Vec<Chosen> = kept.into_iter().flatten().collect();
    chosen.sort_by(|a, b| a.0.name.as_bytes().cmp(b.0.name.as_bytes()));
    Ok(chosen)
}

/// Keeps the first occurrence of each value, in the order given.
fn dedup<T: PartialEq + Copy>(values: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for &v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

pub fn run(ctx: &Context, args: &DeterminismArgs) -> anyhow::Result<i32> {
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
    let ModelUnderTest {
        manifest,
        recipe,
        compat,
        onnx_path,
        onnx,
        ..
    } = ModelUnderTest::select(ctx, &args.model)?;
    for &batch in &args.batch_sizes {
        super::check_batch_memory("--batch-sizes", batch, recipe.sample_len(), 1)?;
    }
    let manifest = &manifest;
    let dataset = Dataset::open(&args.val)?;

    let threads = if args.threads.is_empty() {
        vec![std::thread::available_parallelism().map_or(1, |n| n.get())]
    } else {
        dedup(&args.threads)
    };
    let opt_levels: Vec<OptLevel> = dedup(&args.opt_levels)
        .into_iter()
        .map(OptLevel::from)
        .collect();
    let providers: Vec<Provider> = dedup(&args.providers)
        .into_iter()
        .map(Provider::from)
        .collect();
    let mut configs = Vec::new();
    for &provider in &providers {
        for &opt_level in &opt_levels {
            for &t in &threads {
                configs.push(Config {
                    provider,
                    opt_level,
                    threads: t,
                });
            }
        }
    }

    // Every session is opened before any work, so that an unusable provider fails at once.
    let runtime = Runtime::load(args.runtime.ort_lib.as_deref())?;
    let mut models: Vec<Model> = Vec::with_capacity(configs.len());
    for config in &configs {
        let options = SessionOptions {
            provider: config.provider,
            threads: config.threads,
            opt_level: config.opt_level,
        };
        let model = runtime
            .open(&onnx_path, &options)
            .with_context(|| format!("cannot open a session for {}", config.label()))?;
        super::model_under_test::check_model_against_manifest(
            manifest, &recipe, &model, &onnx_path,
        )?;
        models.push(model);
    }
    let fixed_batch = models.first().and_then(|m| m.fixed_batch());
    let mut skipped = Vec::new();
    if let Some(fixed) = fixed_batch
        && fixed != 1
    {
        bail!(
            "{} fixes its batch dimension to {fixed}: the reference run of each image alone (batch 1) is impossible",
            onnx_path.display()
        );
    }
    let batch_sizes: Vec<usize> = dedup(&args.batch_sizes)
        .into_iter()
        .filter(|&b| b > 1)
        .collect();
    let batch_sizes: Vec<usize> = if fixed_batch == Some(1) {
        for &b in &batch_sizes {
            skipped.push(Skipped {
                what: format!("batch size {b}"),
                reason: "the graph fixes its batch dimension to 1".into(),
            });
        }
        Vec::new()
    } else {
        batch_sizes
    };
    if args.repeats == 1 {
        skipped.push(Skipped {
            what: "repetition".into(),
            reason: "--repeats 1".into(),
        });
    }

    // The images, preprocessed once.
    let chosen = choose_samples(&dataset, args.samples)?;
    let sample_len = recipe.sample_len();
    let sample_shape = recipe.sample_shape();
    let prepared: Vec<(Entry, Result<Vec<f32>, String>)> = chosen
        .into_par_iter()
        .map(|(entry, bytes)| {
            let tensor = bytes.and_then(|bytes| {
                let mut out = vec![0f32; sample_len];
                crate::image::preprocess::preprocess_bytes(&bytes, &recipe, compat, &mut out)
                    .map(|()| out)
                    .map_err(|e| e.to_string())
            });
            (entry, tensor)
        })
        .collect();
    let mut files = Vec::new();
    let mut failed = Vec::new();
    let mut input = Vec::new();
    for (entry, tensor) in prepared {
        match tensor {
            Ok(tensor) => {
                files.push(entry.file);
                input.extend_from_slice(&tensor);
            }
            Err(error) => failed.push(FailedImage {
                file: entry.file,
                error,
            }),
        }
    }
    for f in &failed {
        eprintln!("zoorepro: warning: {} left out: {}", f.file, f.error);
    }
    let n = files.len();
    if n == 0 {
        bail!("{}: no readable images to test", args.val.display());
    }

    let mut plans = vec![Plan::alone(n)];
    for &b in &batch_sizes {
        for c in 0..COMPOSITIONS {
            plans.push(Plan::packed(n, b, c));
        }
    }
    let classes = manifest.output.classes;
    let offset = manifest.output.label_offset;
    let kept = classes - offset;
    let total: usize = configs.len() * args.repeats * plans.iter().map(Plan::images).sum::<usize>();
    let progress = super::progress_bar(Some(total), "determinism");
    // outputs[config][plan][repeat]: `n x kept` floats in sample order.
    let mut outputs: Vec<Vec<Vec<Vec<f32>>>> = Vec::with_capacity(configs.len());
    let mut batch_input = Vec::new();
    let mut scores = Vec::new();
    for (config, model) in configs.iter().zip(models.iter_mut()) {
        let mut per_plan = Vec::with_capacity(plans.len());
        for plan in &plans {
            let mut per_repeat = Vec::with_capacity(args.repeats);
            for _ in 0..args.repeats {
                let mut rows: Vec<Vec<f32>> = vec![Vec::new(); plan.batches.len()];
                for (b, slots) in plan.batches.iter().enumerate() {
                    batch_input.clear();
                    for &s in slots {
                        batch_input.extend_from_slice(&input[s * sample_len..(s + 1) * sample_len]);
                    }
                    scores.clear();
                    let got = model
                        .run(&batch_input, slots.len(), sample_shape, &mut scores)
                        .with_context(|| format!("{} at batch {}", config.label(), plan.batch))?;
                    if got != classes {
                        bail!(
                            "{} gives {got} classes, the manifest says {classes}",
                            onnx_path.display()
                        );
                    }
                    rows[b] = scores.clone();
                    progress.inc(slots.len() as u64);
                }
                let mut out = vec![0f32; n * kept];
                for (sample, &(b, slot)) in plan.own.iter().enumerate() {
                    let row = &rows[b][slot * classes..(slot + 1) * classes];
                    out[sample * kept..(sample + 1) * kept].copy_from_slice(&row[offset..]);
                }
                per_repeat.push(out);
            }
            per_plan.push(per_repeat);
        }
        outputs.push(per_plan);
    }
    progress.finish_and_clear();

    let axes = compare_all(&configs, &plans, &outputs, &files, kept, args.repeats);
    let verdict = verdict_of(&axes);
    let summary = summary_line(manifest.id.as_str(), verdict, &axes, n, configs.len());
    let report = Report {
        model_id: manifest.id.clone(),
        onnx,
        recipe: recipe.name.clone(),
        pillow_compat: compat.name().into(),
        dataset: args.val.display().to_string(),
        images: files,
        failed,
        batch_sizes: std::iter::once(1).chain(batch_sizes).collect(),
        repeats: args.repeats,
        threads,
        opt_levels: opt_levels.iter().map(|o| o.name()).collect(),
        providers: providers.iter().map(|p| p.name()).collect(),
        configurations: configs.iter().map(Config::label).collect(),
        ort_version: runtime.version().into(),
        rounding_tolerance: ROUNDING_TOLERANCE,
        skipped,
        axes,
        verdict,
        summary,
    };
    let mut stdout = std::io::stdout().lock();
    if args.output.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(text(&report).as_bytes())?;
    }
    eprintln!("{}", report.summary);
    Ok(match verdict {
        DeterminismVerdict::Deterministic => exit::SUCCESS,
        _ => exit::DRIFT,
    })
}

fn compare_all(
    configs: &[Config],
    plans: &[Plan],
    outputs: &[Vec<Vec<Vec<f32>>>],
    files: &[String],
    classes: usize,
    repeats: usize,
) -> Vec<AxisRow> {
    let mut axes = Vec::new();
    let alone = plans[0].label();
    // Batch: each packed plan against batch 1, per configuration, first repeats.
    for (p, plan) in plans.iter().enumerate().skip(1) {
        let mut row = AxisRow::new("batch", plan.label(), alone.clone());
        for (c, config) in configs.iter().enumerate() {
            row.add(
                files,
                &config.label(),
                &outputs[c][0][0],
                &outputs[c][p][0],
                classes,
            );
        }
        axes.push(row);
    }
    // Composition: neighbours B (and on) against neighbours A of the same batch size.
    for (p, plan) in plans.iter().enumerate().skip(1) {
        if plan.composition == Some(0) {
            continue;
        }
        let Some(first) = plans
            .iter()
            .position(|q| q.batch == plan.batch && q.composition == Some(0))
        else {
            continue;
        };
        let mut row = AxisRow::new("composition", plan.label(), plans[first].label());
        for (c, config) in configs.iter().enumerate() {
            row.add(
                files,
                &config.label(),
                &outputs[c][first][0],
                &outputs[c][p][0],
                classes,
            );
        }
        axes.push(row);
    }
    // Repetition: every run's repeat r against its first.
    for r in 1..repeats {
        let mut row = AxisRow::new("repetition", format!("repeat {}", r + 1), "repeat 1".into());
        for (c, config) in configs.iter().enumerate() {
            for (p, plan) in plans.iter().enumerate() {
                let label = format!("{}, batch {}", config.label(), plan.label());
                row.add(files, &label, &outputs[c][p][0], &outputs[c][p][r], classes);
            }
        }
        axes.push(row);
    }
    // Session settings: batch-1 outputs against the first value listed, everything else equal.
    let setting_axes: [(&'static str, SettingOf); 3] = [
        ("threads", |c| c.threads.to_string()),
        ("opt-level", |c| c.opt_level.name().to_string()),
        ("provider", |c| c.provider.name().to_string()),
    ];
    for (axis, value_of) in setting_axes {
        let Some(first_value) = configs.first().map(value_of) else {
            continue;
        };
        let values = dedup_strings(configs.iter().map(value_of));
        for value in values.iter().skip(1) {
            let mut row = AxisRow::new(axis, value.clone(), first_value.clone());
            for (c, config) in configs.iter().enumerate() {
                if value_of(config) != *value {
                    continue;
                }
                // The configuration that differs from this one on this axis only.
                let Some(reference) = configs.iter().position(|other| {
                    value_of(other) == first_value && same_except(axis, config, other)
                }) else {
                    continue;
                };
                row.add(
                    files,
                    &config.label(),
                    &outputs[reference][0][0],
                    &outputs[c][0][0],
                    classes,
                );
            }
            axes.push(row);
        }
    }
    axes
}

/// Reads one session setting of a configuration, as text.
type SettingOf = fn(&Config) -> String;

fn dedup_strings(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn same_except(axis: &str, a: &Config, b: &Config) -> bool {
    (axis == "threads" || a.threads == b.threads)
        && (axis == "opt-level" || a.opt_level == b.opt_level)
        && (axis == "provider" || a.provider == b.provider)
}

fn verdict_of(axes: &[AxisRow]) -> DeterminismVerdict {
    let differs = |row: &&AxisRow| row.identical != row.compared;
    if axes
        .iter()
        .filter(|r| r.axis == "repetition")
        .any(|r| differs(&r))
    {
        DeterminismVerdict::Nondeterministic
    } else if axes
        .iter()
        .any(|r| (r.axis == "batch" || r.axis == "composition") && r.beyond_rounding)
    {
        DeterminismVerdict::BatchDependent
    } else if axes.iter().any(|r| differs(&r)) {
        DeterminismVerdict::NumericallyUnstable
    } else {
        DeterminismVerdict::Deterministic
    }
}

fn summary_line(
    model: &str,
    verdict: DeterminismVerdict,
    axes: &[AxisRow],
    images: usize,
    configs: usize,
) -> String {
    let differing: Vec<String> = dedup_strings(
        axes.iter()
            .filter(|r| r.identical != r.compared)
            .map(|r| r.axis.to_string()),
    );
    let detail = if differing.is_empty() {
        "bitwise identical on every axis".to_string()
    } else {
        let worst = axes.iter().map(|r| r.max_rel_diff).fold(0.0f64, f64::max);
        let top1: usize = axes.iter().map(|r| r.top1_changes).sum();
        format!(
            "outputs differ on {} (max relative difference {worst:.3e}, {top1} top-1 changes)",
            differing.join(", ")
        )
    };
    format!(
        "{model}: {} — {images} images, {configs} configuration(s); {detail}",
        verdict.name()
    )
}

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
    out.push_str(&format!(
        "{:<12} {:<22} {:<22} {:>8} {:>9} {:>12} {:>12} {:>6} {:>6}\n",
        "axis", "value", "against", "compared", "identical", "max abs", "max rel", "top-1", "top-5"
    ));
    for row in &report.axes {
        out.push_str(&format!(
            "{:<12} {:<22} {:<22} {:>8} {:>9} {:>12.3e} {:>12.3e} {:>6} {:>6}{}\n",
            row.axis,
            row.value,
            row.reference,
            row.compared,
            row.identical,
            row.max_abs_diff,
            row.max_rel_diff,
            row.top1_changes,
            row.top5_changes,
            if row.beyond_rounding {
                "  beyond rounding"
            } else {
                ""
            }
        ));
    }
    let with_worst: Vec<&AxisRow> = report.axes.iter().filter(|r| !r.worst.is_empty()).collect();
    if !with_worst.is_empty() {
        out.push_str("\nworst images:\n");
        for row in with_worst {
            out.push_str(&format!(
                "  {} {} vs {}:\n",
                row.axis, row.value, row.reference
            ));
            for w in &row.worst {
                out.push_str(&format!(
                    "    {} [{}] abs {:.3e} rel {:.3e} top-1 {} -> {}\n",
                    w.file,
                    w.configuration,
                    w.max_abs_diff,
                    w.max_rel_diff,
                    w.top1_reference,
                    w.top1_other
                ));
            }
        }
    }
    out.push_str(&format!("\nverdict: {}\n", report.verdict.name()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_plans_fill_every_batch_and_own_each_sample_once() {
        for (n, b) in [(10, 4), (3, 8), (64, 32), (5, 5)] {
            for c in 0..COMPOSITIONS {
                let plan = Plan::packed(n, b, c);
                assert!(plan.batches.iter().all(|s| s.len() == b), "{n} {b}");
                for (sample, &(batch, slot)) in plan.own.iter().enumerate() {
                    assert_eq!(plan.batches[batch][slot], sample);
                }
            }
        }
        // Two compositions give a sample other neighbours.
        let (a, b) = (Plan::packed(64, 8, 0), Plan::packed(64, 8, 1));
        assert_ne!(a.batches, b.batches);
        // Padding avoids repeating a sample of the batch when there are enough samples.
        let plan = Plan::packed(10, 4, 0);
        let last = plan.batches.last().unwrap();
        let mut unique = last.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 4);
    }

    #[test]
    fn plans_are_reproducible() {
        assert_eq!(Plan::packed(64, 8, 1), Plan::packed(64, 8, 1));
        assert_eq!(
            sample_key("ILSVRC2012_val_00000001.JPEG"),
            sample_key("ILSVRC2012_val_00000001.JPEG")
        );
    }

    #[test]
    fn row_differences_are_relative_to_the_row_scale() {
        let a = [10.0f32, 1.0, 0.0, 0.0, 0.0, 0.0];
        let same = RowDiff::of(&a, &a);
        assert!(same.identical && same.abs == 0.0 && same.rel == 0.0);
        let b = [10.0f32, 1.0, 1e-6, 0.0, 0.0, 0.0];
        let d = RowDiff::of(&a, &b);
        assert!(!d.identical);
        assert!((d.rel - 1e-7).abs() < 1e-9, "{}", d.rel);
        assert!(!d.top5_changed && d.top1 == (0, 0));
        // A near-tie broken by rounding changes the top-5 set without changing the scale.
        let e = [10.0f32, 1.0, 0.0, 0.0, 0.0, 1e-6];
        assert!(RowDiff::of(&a, &e).top5_changed);
        let c = [1.0f32, 10.0, 0.0, 0.0, 0.0, 0.0];
        let d = RowDiff::of(&a, &c);
        assert_eq!(d.top1, (0, 1));
        assert!(!d.top5_changed);
        // -0.0 and 0.0 are equal numbers but not the same bits.
        let z = [10.0f32, 1.0, -0.0, 0.0, 0.0, 0.0];
        let d = RowDiff::of(&a, &z);
        assert!(!d.identical && d.abs == 0.0);
    }

    fn row(axis: &'static str, identical: bool, beyond: bool) -> AxisRow {
        let mut r = AxisRow::new(axis, "v".into(), "r".into());
        r.compared = 4;
        r.identical = if identical { 4 } else { 3 };
        r.beyond_rounding = beyond;
        r
    }

    #[test]
    fn verdicts_follow_the_documented_order() {
        use DeterminismVerdict::*;
        assert_eq!(verdict_of(&[row("batch", true, false)]), Deterministic);
        assert_eq!(
            verdict_of(&[row("threads", false, false)]),
            NumericallyUnstable
        );
        assert_eq!(
            verdict_of(&[row("batch", false, false)]),
            NumericallyUnstable
        );
        assert_eq!(verdict_of(&[row("batch", false, true)]), BatchDependent);
        assert_eq!(
            verdict_of(&[row("composition", false, true)]),
            BatchDependent
        );
        // A setting axis beyond rounding is not batch dependence.
        assert_eq!(
            verdict_of(&[row("opt-level", false, true)]),
            NumericallyUnstable
        );
        assert_eq!(
            verdict_of(&[row("batch", false, true), row("repetition", false, false)]),
            Nondeterministic
        );
    }
}
