//! Command-line parsing only: no I/O, no logic. Flag names are a contract that scripts and
//! later commands rely on; change them only with the issue that defines them.

use std::path::PathBuf;

use crate::util::escape::ellipsize;
use clap::{Args, Parser, Subcommand, ValueEnum};

mod add_model;
mod overrides;
mod results;

pub use add_model::*;
pub use overrides::*;
pub use results::*;

#[derive(Parser, Debug)]
#[command(
    name = "zoorepro",
    version,
    about = "Verify, with a record anyone can re-check, whether an ImageNet classifier reaches its published accuracy"
)]
pub struct Cli {
    /// Where the prediction store (SQLite) lives [default: the user's cache dir]/zoorepro.
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The folder holding `manifests/`, `models/` and `reports/` [default: $ZOOREPRO_HOME, else the
    /// current directory or the nearest parent marked with a `.zoorepro-home` file (a checkout's
    /// root), else the data folder ($XDG_DATA_HOME/zoorepro, ~/.local/share/zoorepro)]; the
    /// built-in manifests are always there.
    #[arg(long, global = true, value_name = "DIR", env = "ZOOREPRO_HOME")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The largest `--batch` / `--batch-sizes` value; `verify` and `determinism` also refuse a batch
/// whose input tensors would exceed [`BATCH_TENSOR_BYTES`].
pub const MAX_BATCH: usize = 4096;

/// What the input tensors of one batch size may take in all (the pipeline keeps several batches in
/// flight); a larger batch is refused before any session runs, never aborts on allocation.
pub const BATCH_TENSOR_BYTES: u64 = 2 << 30;

/// The most intra-op threads a session may be given: 4x the machine's cores, at most 256.
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_mul(4).min(256)
}

/// A whole number as typed, negative or beyond every count included (saturated): a parser then
/// says which range it is outside of, not that `-1` or `2**70` is no number.
fn parse_whole(s: &str) -> Result<i128, String> {
    let text = s.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{}' is not a whole number", ellipsize(s)));
    }
    let magnitude = digits.bytes().fold(0i128, |n, digit| {
        n.saturating_mul(10)
            .saturating_add(i128::from(digit - b'0'))
    });
    Ok(if negative { -magnitude } else { magnitude })
}

/// A whole number within `low..=high`, else `outside(n)`'s refusal.
fn whole_within(
    s: &str,
    low: usize,
    high: usize,
    outside: impl FnOnce(i128) -> String,
) -> Result<usize, String> {
    let n = parse_whole(s)?;
    usize::try_from(n)
        .ok()
        .filter(|n| (low..=high).contains(n))
        .ok_or_else(|| outside(n))
}

/// A count: at least 1 (`--limit`, `--samples`).
pub fn parse_count(s: &str) -> Result<usize, String> {
    whole_within(s, 1, usize::MAX, |n| match n {
        ..1 => "must be at least 1".into(),
        _ => format!("must be at most {}", usize::MAX),
    })
}

/// A whole number from 0 (`compare --limit`, where 0 means all; `add-model --label-offset`).
pub fn parse_natural(s: &str) -> Result<usize, String> {
    whole_within(s, 0, usize::MAX, |n| match n {
        ..0 => "must be at least 0".into(),
        _ => format!("must be at most {}", usize::MAX),
    })
}

/// A side in pixels (`add-model --size`, `--crop`): what a u32 holds, the recipe's own check
/// then refusing what no recipe can use.
pub fn parse_pixels(s: &str) -> Result<u32, String> {
    let most = u32::MAX as usize;
    whole_within(s, 0, most, |n| match n {
        ..0 => "must be at least 0".into(),
        _ => format!("must be at most {most}"),
    })
    .map(|n| n as u32)
}

/// A run id; a model id in its place is told where run ids come from.
fn parse_run_id(s: &str) -> Result<i64, String> {
    match parse_whole(s) {
        Ok(id) if id > 0 => i64::try_from(id).map_err(|_| format!("run ids end at {}", i64::MAX)),
        Ok(_) => Err("run ids start at 1".into()),
        Err(_) if s.contains('/') => Err(format!(
            "'{}' looks like a model id; --delete takes a run id: `zoorepro runs` lists them with their models",
            ellipsize(s)
        )),
        Err(_) => Err("not a run id (a whole number): `zoorepro runs` lists them".into()),
    }
}

/// Images per batch: `1..=MAX_BATCH`.
pub fn parse_batch(s: &str) -> Result<usize, String> {
    whole_within(s, 1, MAX_BATCH, |_| {
        format!("{} is outside 1..={MAX_BATCH}", ellipsize(s.trim()))
    })
}

/// Threads: `1..=max_threads()`.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    let most = max_threads();
    whole_within(s, 1, most, |n| match n {
        ..1 => "must be at least 1".into(),
        _ => format!(
            "{} is more than {most} (4x this machine's cores, at most 256)",
            ellipsize(s.trim())
        ),
    })
}

fn parse_repeats(s: &str) -> Result<usize, String> {
    whole_within(s, 1, 1000, |_| {
        format!("{} is outside 1..=1000", ellipsize(s.trim()))
    })
}

/// A gap in percentage points: NaN would make every comparison false (an exact match reported as
/// drift), a negative one can never hold, and infinity would pass anything.
fn parse_tolerance(s: &str) -> Result<f64, String> {
    let value: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{}' is not a number", ellipsize(s)))?;
    if value.is_finite() && (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{} is not a number of points in 0..=100",
            ellipsize(s.trim())
        ))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Evaluate an ONNX classifier on the ImageNet validation set and compare with its references.
    Verify(VerifyArgs),
    /// Write the exact float32 tensor a model would be fed, as a NumPy .npy file.
    Preprocess(PreprocessArgs),
    /// List the preprocessing recipe presets.
    Recipes(ListArgs),
    /// List every manifest: id, framework, input, recipes, references, ONNX file present or not.
    Models(ListArgs),
    /// Import benchmarking-keras-pytorch prediction caches (keras_imagenet/, pytorch_imagenet/) into the store.
    ImportSeed(ImportSeedArgs),
    /// Reproduce the accuracy table from the store, against original, ReaL, cleaned or corrected labels.
    Table(TableArgs),
    /// Compare two runs image by image: agreement, McNemar's exact test, the images whose top-1 differs.
    Compare(CompareArgs),
    /// List the runs in the store, or delete one.
    Runs(RunsArgs),
    /// Combine the shard runs (`verify --shard K/N`) of one key into one complete run in --cache-dir.
    Merge(MergeArgs),
    /// Check that predictions do not depend on batching, threads, optimization level or provider.
    Determinism(DeterminismArgs),
    /// Summarise an ONNX file: inputs, outputs, opsets, operators, parameters, batch-mixing operators.
    Inspect(InspectArgs),
    /// Say why a number does not reproduce: run candidate input pipelines on a sample and pin the
    /// one that fits the published number or a reference run's predictions.
    Explain(ExplainArgs),
    /// Register your own ONNX export: check it against a recipe and write its manifest.
    AddModel(AddModelArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PillowCompatArg {
    #[value(name = "12")]
    V12,
    #[value(name = "13")]
    V13,
    /// Pillow-SIMD 12.1.1.post0 (uploadcare's fork).
    #[value(name = "simd")]
    Simd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptLevelArg {
    Disable,
    Basic,
    Extended,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    Cpu,
    Cuda,
}

/// Which model to run and how to feed it: shared by the commands that evaluate an export
/// (`explain`, `determinism`), with `verify`'s `--like` and timm-style overrides.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Manifest id (`pytorch/resnet50`), or a bare name that matches exactly one manifest.
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "like",
        conflicts_with = "like"
    )]
    pub model: Option<String>,

    #[command(flatten)]
    pub like: LikeArg,

    /// One of the manifest's recipes [default: the manifest's default], or a preset or recipe
    /// source whose tensor fits the model: `timm:NAME[@no-prefetcher]`, `timm:FILE.json`,
    /// `torchvision:WEIGHTS[@tensor-v1|@tensor-v2]`, `keras:MODE@SIZE[,INTERPOLATION][,keep-aspect]`,
    /// `keras-dataset:MODE@SIZE`, `slim:inception|vgg@SIZE`, `mlperf:NAME` (docs/recipes.md).
    #[arg(long, value_name = "NAME|SOURCE")]
    pub recipe: Option<String>,

    /// Which Pillow's resampling to reproduce: 12 or 13 (their pass orders differ), or simd
    /// (Pillow-SIMD 12.1.1.post0: Pillow 12's order, 16-bit coefficients).
    #[arg(long, value_enum, default_value = "13", value_name = "12|13|simd")]
    pub pillow_compat: PillowCompatArg,

    /// The ONNX file, when it is not where the manifest says under models/.
    #[arg(long, value_name = "FILE")]
    pub onnx: Option<PathBuf>,

    /// Run a file whose sha256 differs from the manifest's; the record says "unverified".
    #[arg(long)]
    pub allow_unverified: bool,

    #[command(flatten)]
    pub overrides: RecipeOverridesArg,
}

/// `--like`, shared by the commands that run a model (`verify`, `explain`, `determinism`): each
/// takes it with the same meaning.
#[derive(Args, Debug, Clone, Default)]
pub struct LikeArg {
    /// Your own export (--onnx FILE) of a known model: judged by the recipes and references of
    /// manifest ID. The record says the file is yours (its sha256, unverified-model unless the
    /// bytes are ID's pinned file) and names the run `like/ID`; any input and output names are
    /// accepted.
    #[arg(long, value_name = "ID", requires = "onnx")]
    pub like: Option<String>,
}

/// Which models `verify` evaluates in one pass over the images, and how to feed them.
#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// Manifest ids, bare names or globs, comma-separated: `pytorch/resnet50`, `resnet18`,
    /// `'coral/*,pypi/*'`, `'*/resnet50'`. Each image is decoded once for all of them.
    #[arg(
        long,
        value_name = "ID,...",
        value_delimiter = ',',
        required_unless_present_any = ["all_present", "like"],
        conflicts_with = "like"
    )]
    pub model: Vec<String>,

    #[command(flatten)]
    pub like: LikeArg,

    /// Every manifest whose ONNX file is present under models/ (of those --model names, if given).
    #[arg(long, conflicts_with = "like")]
    pub all_present: bool,

    /// One of each manifest's recipes [default: the manifest's default], or a preset or recipe
    /// source whose tensor fits each model: `timm:NAME[@no-prefetcher]`, `timm:FILE.json`,
    /// `torchvision:WEIGHTS[@tensor-v1|@tensor-v2]`, `keras:MODE@SIZE[,INTERPOLATION][,keep-aspect]`,
    /// `keras-dataset:MODE@SIZE`, `slim:inception|vgg@SIZE`, `mlperf:NAME` (docs/recipes.md).
    #[arg(long, value_name = "NAME|SOURCE")]
    pub recipe: Option<String>,

    /// Which Pillow's resampling to reproduce: 12 or 13 (their pass orders differ), or simd
    /// (Pillow-SIMD 12.1.1.post0: Pillow 12's order, 16-bit coefficients).
    #[arg(long, value_enum, default_value = "13", value_name = "12|13|simd")]
    pub pillow_compat: PillowCompatArg,

    /// The ONNX file, when it is not where the manifest says under models/ (one model only).
    #[arg(long, value_name = "FILE", conflicts_with = "models_dir")]
    pub onnx: Option<PathBuf>,

    /// Where the ONNX files are, under the names the manifests give them [default: models/
    /// under the zoorepro home].
    #[arg(long, value_name = "DIR", conflicts_with = "like")]
    pub models_dir: Option<PathBuf>,

    /// Run a file whose sha256 differs from the manifest's; the record says "unverified".
    #[arg(long)]
    pub allow_unverified: bool,

    #[command(flatten)]
    pub overrides: RecipeOverridesArg,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub model: ModelsArgs,

    /// ImageFolder tree, flat folder of ILSVRC2012_val_*.JPEG, or ILSVRC2012_img_val.tar.
    #[arg(long, value_name = "PATH")]
    pub val: PathBuf,

    #[command(flatten)]
    pub labels: GroundTruthArg,

    /// Samples per inference call (1: one at a time) [default: the model's fixed batch, else 32].
    /// At most 4096, and at most what keeps the batch's input tensors within 2 GiB (about 890
    /// at 224x224, 500 at 299x299).
    #[arg(long, value_name = "N", value_parser = parse_batch, allow_negative_numbers = true)]
    pub batch: Option<usize>,

    /// ONNX Runtime intra-op threads, and image decoding threads [default: all cores; at most 4x
    /// the cores, and 256].
    #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    #[command(flatten)]
    pub decode: DecodeThreadsArg,

    #[arg(long, value_enum, default_value = "cpu")]
    pub provider: ProviderArg,

    /// Evaluate only the first N images in dataset order (N >= 1).
    #[arg(long, value_name = "N", value_parser = parse_count, allow_negative_numbers = true)]
    pub limit: Option<usize>,

    /// Neither read nor write the prediction store.
    #[arg(long)]
    pub no_cache: bool,

    /// Where run reports go [default: reports/ under the zoorepro home].
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Write per-image predictions as JSON Lines here (one model only).
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,

    /// One row per model of the pass, as CSV or JSON by the file's extension (.csv, .json):
    /// timm's columns (model, img_size, top1, top1_err, top5, top5_err, param_count, crop_pct,
    /// interpolation), then recipe, image set, images, failed, reference, delta and verdict.
    #[arg(long, value_name = "FILE.csv|FILE.json")]
    pub results_file: Option<PathBuf>,

    #[command(flatten)]
    pub output: JsonArg,

    #[command(flatten)]
    pub runtime: OrtLibArg,

    #[command(flatten)]
    pub verdict: VerdictArgs,

    /// Evaluate only shard K of N (0 <= K < N) of the images: a run of its own, for `merge`.
    // A value may start with '-' (`-1/2`), for Shard::parse's one line rather than clap's usage.
    #[arg(long, value_name = "K/N", allow_hyphen_values = true)]
    pub shard: Option<String>,
}

#[derive(Args, Debug)]
pub struct PreprocessArgs {
    /// Use this manifest's recipe (its default, or --recipe among its recipes).
    #[arg(long, value_name = "ID", required_unless_present = "recipe")]
    pub model: Option<String>,

    /// A preset or a recipe source (`timm:NAME[@no-prefetcher]`, `timm:FILE.json`,
    /// `torchvision:WEIGHTS[@tensor-v1|@tensor-v2]`, `keras:MODE@SIZE[,INTERPOLATION][,keep-aspect]`,
    /// `keras-dataset:MODE@SIZE`, `slim:inception|vgg@SIZE`, `mlperf:NAME`; docs/recipes.md), or with
    /// --model one of the manifest's recipes.
    #[arg(long, value_name = "NAME|SOURCE")]
    pub recipe: Option<String>,

    /// Which Pillow's resampling to reproduce: 12 or 13 (their pass orders differ), or simd
    /// (Pillow-SIMD 12.1.1.post0: Pillow 12's order, 16-bit coefficients).
    #[arg(long, value_enum, default_value = "13", value_name = "12|13|simd")]
    pub pillow_compat: PillowCompatArg,

    /// Images to preprocess, stacked in this order.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,

    /// Output .npy file (float32, shape [N, ...] in the recipe's layout).
    #[arg(long, value_name = "FILE.npy")]
    pub out: PathBuf,

    /// Image decoding threads [default: all cores]; each holds one decoded image at a time.
    #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    /// Leave out images that cannot be preprocessed instead of failing: each is named on stderr
    /// ("skipped: PATH: why"), the others are written in order, and the exit status is 2.
    #[arg(long)]
    pub skip_failed: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub output: JsonArg,
}

#[derive(Args, Debug)]
pub struct DeterminismArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// ImageFolder tree, flat folder of ILSVRC2012_val_*.JPEG, or ILSVRC2012_img_val.tar.
    #[arg(long, value_name = "PATH")]
    pub val: PathBuf,

    #[command(flatten)]
    pub labels: GroundTruthArg,

    /// Images to test, chosen reproducibly from --val (the same names whatever the layout).
    #[arg(
        long,
        default_value_t = 64,
        value_name = "N",
        value_parser = parse_count,
        allow_negative_numbers = true
    )]
    pub samples: usize,

    /// Batch sizes to compare with running each image alone (batch 1 always runs); each at most
    /// 4096 and within 2 GiB of input tensors, as `verify --batch`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,8,32",
        value_name = "B,...",
        value_parser = parse_batch,
        allow_negative_numbers = true
    )]
    pub batch_sizes: Vec<usize>,

    /// Times every run is repeated in the same session (at least 2 to test repeatability; at most 1000).
    #[arg(
        long,
        default_value_t = 2,
        value_name = "R",
        value_parser = parse_repeats,
        allow_negative_numbers = true
    )]
    pub repeats: usize,

    /// ONNX Runtime intra-op thread counts; the first is the reference [default: all cores; each
    /// at most 4x the cores, and 256]. The images are decoded with the largest of them.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "N,...",
        value_parser = parse_threads,
        allow_negative_numbers = true
    )]
    pub threads: Vec<usize>,

    #[command(flatten)]
    pub decode: DecodeThreadsArg,

    /// Graph optimization levels; the first is the reference.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "all",
        value_name = "LEVEL,..."
    )]
    pub opt_levels: Vec<OptLevelArg>,

    /// Execution providers; the first is the reference.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "cpu",
        value_name = "P,..."
    )]
    pub providers: Vec<ProviderArg>,

    #[command(flatten)]
    pub output: JsonArg,

    #[command(flatten)]
    pub runtime: OrtLibArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
    /// One self-contained page: every candidate's top-1 with its interval, the reference marked.
    Html,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// ImageFolder tree, flat folder of ILSVRC2012_val_*.JPEG, tar, or an ImageNetV2 layout.
    #[arg(long, value_name = "PATH")]
    pub val: PathBuf,

    #[command(flatten)]
    pub labels: GroundTruthArg,

    /// Images to test, chosen reproducibly from --val (the whole set when it is smaller).
    #[arg(
        long,
        default_value_t = 1000,
        value_name = "N",
        value_parser = parse_count,
        allow_negative_numbers = true
    )]
    pub samples: usize,

    /// A reference prediction set: a run id, or a model id standing for its newest complete run
    /// (`zoorepro runs` lists them). Candidates are then ranked by per-image agreement with it,
    /// on the images it scored.
    #[arg(long, value_name = "RUN|MODEL")]
    pub against: Option<String>,

    /// Leave out the published pipelines the recipe sources name at the model's size (timm's
    /// configs, torchvision's weights, Keras, TF-slim, MLPerf: 32 more candidates for an NCHW
    /// model of 224, each one more inference per image): the variations and presets only.
    #[arg(long)]
    pub no_sources: bool,

    /// ONNX Runtime intra-op threads, and image decoding threads [default: all cores].
    #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    #[command(flatten)]
    pub decode: DecodeThreadsArg,

    /// Output format on stdout [default: text; --json is --format json].
    #[arg(long, value_enum)]
    pub format: Option<ExplainFormat>,

    #[command(flatten)]
    pub output: JsonArg,

    #[command(flatten)]
    pub runtime: OrtLibArg,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(value_name = "FILE.onnx")]
    pub file: PathBuf,

    #[command(flatten)]
    pub output: JsonArg,
}

/// `--json`, shared by every command that has machine-readable output.
#[derive(Args, Debug, Clone, Copy)]
pub struct JsonArg {
    /// Print the result as JSON on stdout (progress and warnings stay on stderr) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--ground-truth`, shared by the commands that read `--val` and score its images.
#[derive(Args, Debug, Clone)]
pub struct GroundTruthArg {
    /// Labels for --val's images (any folder or tar): a CSV or TSV file, with or without a header
    /// row, whose rows give an image (its path relative to --val, or its basename) and its class
    /// (an index 0-999 or a wnid). It overrides the layout's labels; an image it does not list is
    /// not scored. Its sha256 is part of the run's identity.
    #[arg(long, value_name = "FILE")]
    pub ground_truth: Option<PathBuf>,
}

/// `--decode-threads`, shared by the commands that decode images and run a model.
#[derive(Args, Debug, Clone, Copy)]
pub struct DecodeThreadsArg {
    /// Image decoding threads, when they should differ from --threads [default: --threads, else
    /// all cores]. Each holds one decoded image at a time: peak memory grows with their number.
    #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub decode_threads: Option<usize>,
}

impl DecodeThreadsArg {
    /// The decode pool's size: this flag, else the command's `--threads`; `None` leaves it to
    /// rayon (every core, or `RAYON_NUM_THREADS`).
    pub fn or_threads(self, threads: Option<usize>) -> Option<usize> {
        self.decode_threads.or(threads)
    }
}

/// `--ort-lib`, shared by the commands that load ONNX Runtime.
#[derive(Args, Debug, Clone)]
pub struct OrtLibArg {
    /// The ONNX Runtime shared library [default: $ORT_DYLIB_PATH, else $ZOOREPRO_ORT_DIR, else where
    /// scripts/setup.sh puts it, else the pip onnxruntime of the active venv ($VIRTUAL_ENV)].
    #[arg(long, value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
}

/// The one line `main` prints for a bad flag value, where clap's own text would take several
/// (a possible-values list, a `--help` hint): a number out of range, a value a parser refused,
/// or one outside a flag's fixed choices (`--channels xyz`), which names the flag, the value and
/// the accepted values. `None` for other errors (an unknown flag keeps clap's suggestion).
pub fn one_line_error(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match error.kind() {
        ErrorKind::ValueValidation => {
            // Rebuilt from its parts, so that a long value is repeated in part (clap quotes it whole).
            if let (
                Some(ContextValue::String(flag)),
                Some(ContextValue::String(value)),
                Some(why),
            ) = (
                error.get(ContextKind::InvalidArg),
                error.get(ContextKind::InvalidValue),
                std::error::Error::source(error),
            ) {
                return Some(format!(
                    "invalid value '{}' for '{flag}': {why}",
                    ellipsize(value)
                ));
            }
            let text = error.to_string();
            let line = text.lines().next().unwrap_or_default();
            Some(line.strip_prefix("error: ").unwrap_or(line).to_string())
        }
        ErrorKind::InvalidValue => {
            let (Some(ContextValue::String(flag)), Some(ContextValue::String(value))) = (
                error.get(ContextKind::InvalidArg),
                error.get(ContextKind::InvalidValue),
            ) else {
                return None;
            };
            let mut line = if value.is_empty() {
                format!("a value is required for '{flag}' but none was supplied")
            } else {
                format!("invalid value '{}' for '{flag}'", ellipsize(value))
            };
            // A flag with no list of values (a path given as "") has an empty one.
            if let Some(ContextValue::Strings(accepted)) = error.get(ContextKind::ValidValue)
                && !accepted.is_empty()
            {
                line.push_str(&format!("; accepted values: {}", accepted.join(", ")));
            }
            Some(line)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_line(args: &[&str]) -> Option<String> {
        let error = Cli::try_parse_from(args).expect_err("the arguments are refused");
        one_line_error(&error)
    }

    #[test]
    fn a_value_outside_a_flags_choices_is_one_line_naming_flag_value_and_choices() {
        let verify = ["zoorepro", "verify", "--model", "m", "--val", "v"];
        for (flag, value, accepted) in [
            ("--channels", "xyz", "rgb, bgr"),
            ("--layout", "nhcw", "nchw, nhwc"),
        ] {
            let line = error_line(&[&verify[..], &[flag, value]].concat()).unwrap();
            assert!(
                line.contains(flag)
                    && line.contains(&format!("'{value}'"))
                    && line.ends_with(&format!("accepted values: {accepted}"))
                    && !line.contains('\n'),
                "{line}"
            );
        }
        let line = error_line(&["zoorepro", "table", "--labels", "imagenet"]).unwrap();
        assert!(
            line.contains("--labels") && line.contains("original, real"),
            "{line}"
        );
        let missing = error_line(&[&verify[..], &["--channels"]].concat()).unwrap();
        assert!(missing.contains("--channels") && missing.contains("none was supplied"));
        // A parser's own refusal keeps its words; an unknown flag is left to clap.
        let refused = error_line(&[&verify[..], &["--crop-pct", "0"]].concat()).unwrap();
        assert!(refused.contains("--crop-pct") && refused.contains("(0, 4]"));
        assert_eq!(
            error_line(&[&verify[..], &["--chanels", "rgb"]].concat()),
            None
        );
    }

    #[test]
    fn a_whole_number_out_of_range_is_named_as_one_and_may_be_negative() {
        let verify = ["zoorepro", "verify", "--model", "m", "--val", "v"];
        let huge = "1180591620717411303424"; // 2**70
        let most = max_threads();
        for (args, message) in [
            (
                &["--limit", "-1"][..],
                "'-1' for '--limit <N>': must be at least 1".to_string(),
            ),
            (
                &["--limit=-1"],
                "'-1' for '--limit <N>': must be at least 1".into(),
            ),
            (
                &["--limit", "0"],
                "'0' for '--limit <N>': must be at least 1".into(),
            ),
            (
                &["--limit", huge],
                format!("'{huge}' for '--limit <N>': must be at most {}", usize::MAX),
            ),
            (
                &["--batch", "-1"],
                "'-1' for '--batch <N>': -1 is outside 1..=4096".into(),
            ),
            (
                &["--batch", huge],
                format!("'{huge}' for '--batch <N>': {huge} is outside 1..=4096"),
            ),
            (
                &["--threads", "-1"],
                "'-1' for '--threads <N>': must be at least 1".into(),
            ),
            (
                &["--threads", huge],
                format!("'{huge}' for '--threads <N>': {huge} is more than {most} (4x"),
            ),
            (
                &["--limit", "1.5"],
                "'1.5' for '--limit <N>': '1.5' is not a whole number".into(),
            ),
        ] {
            let line = error_line(&[&verify[..], args].concat()).unwrap();
            assert!(
                line.starts_with(&format!("invalid value {message}")),
                "{args:?}: {line}"
            );
        }
        // A long value is repeated in part, once in the line and once in the parser's reason.
        let long = "x".repeat(100_000);
        let line = error_line(&[&verify[..], &["--limit", &long]].concat()).unwrap();
        assert!(
            line.len() < 600 && line.contains("… (100000 bytes)"),
            "{line}"
        );
        assert_eq!(parse_count("+7"), Ok(7));
        assert_eq!(parse_whole(&"9".repeat(60)), Ok(i128::MAX));
    }

    /// Every flag of every subcommand whose value is a number (it takes `7` and refuses `x`):
    /// `-1` reaches its parser, which refuses or takes it in one line, never clap's "unexpected
    /// argument" and usage.
    #[test]
    fn every_numeric_flag_takes_a_negative_number_to_its_parser() {
        use clap::CommandFactory;
        use clap::error::ErrorKind;
        let cli = Cli::command();
        let value_error = |args: &[&str]| {
            Cli::try_parse_from(args).err().filter(|e| {
                matches!(
                    e.kind(),
                    ErrorKind::ValueValidation | ErrorKind::InvalidValue
                )
            })
        };
        let mut numeric = Vec::new();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments().chain(cli.get_arguments()) {
                let (Some(long), true) = (arg.get_long(), arg.get_action().takes_values()) else {
                    continue;
                };
                let flag = format!("--{long}");
                let with = |value| ["zoorepro", sub.get_name(), &flag, value];
                if value_error(&with("x")).is_none() || value_error(&with("7")).is_some() {
                    continue;
                }
                numeric.push(format!("{} {flag}", sub.get_name()));
                let error = Cli::try_parse_from(with("-1"));
                if let Err(error) = error {
                    assert!(
                        !matches!(error.kind(), ErrorKind::UnknownArgument),
                        "{} {flag} -1: {error}",
                        sub.get_name()
                    );
                    if let Some(kind) = value_error(&with("-1")).map(|e| e.kind()) {
                        assert!(one_line_error(&error).is_some(), "{kind:?}: {error}");
                    }
                }
            }
        }
        // The walk found the flags it is about (a clap change could make it find none).
        for expected in [
            "runs --delete",
            "verify --limit",
            "compare --limit",
            "add-model --size",
        ] {
            assert!(
                numeric.iter().any(|f| f == expected),
                "{expected}: {numeric:?}"
            );
        }
        let line = error_line(&["zoorepro", "runs", "--delete", "-1"]).unwrap();
        assert!(line.ends_with("run ids start at 1"), "{line}");
        // `--shard K/N` is text, parsed by the command (Shard::parse): `-1/2` reaches it.
        let verify = [
            "zoorepro", "verify", "--model", "m", "--val", "v", "--shard", "-1/2",
        ];
        let Ok(Cli {
            command: Command::Verify(args),
            ..
        }) = Cli::try_parse_from(verify)
        else {
            panic!("--shard -1/2 is parsed as a value");
        };
        assert_eq!(args.shard.as_deref(), Some("-1/2"));
    }

    #[test]
    fn an_empty_path_is_a_missing_value_with_no_empty_list_of_choices() {
        let line = error_line(&["zoorepro", "verify", "--model", "m", "--val", ""]).unwrap();
        assert_eq!(
            line,
            "a value is required for '--val <PATH>' but none was supplied"
        );
    }

    #[test]
    fn like_and_the_overrides_are_every_model_commands_and_like_excludes_model() {
        for command in ["verify", "explain", "determinism"] {
            let parsed = Cli::try_parse_from([
                "zoorepro",
                command,
                "--like",
                "pypi/efficientnet_lite0",
                "--onnx",
                "mine.onnx",
                "--val",
                "v",
                "--crop-pct",
                "0.9",
                "--layout",
                "nhwc",
            ]);
            assert!(parsed.is_ok(), "{command}: {parsed:?}");
            let both = Cli::try_parse_from([
                "zoorepro", command, "--like", "a/b", "--model", "a/b", "--onnx", "m", "--val", "v",
            ]);
            assert!(both.is_err(), "{command}");
        }
        for other in ["--all-present", "--models-dir=d"] {
            let parsed = Cli::try_parse_from([
                "zoorepro", "verify", "--like", "a/b", "--onnx", "m", "--val", "v", other,
            ]);
            assert!(parsed.is_err(), "{other}");
        }
    }

    #[test]
    fn run_ids_are_positive_and_model_ids_are_pointed_to_runs() {
        assert_eq!(parse_run_id("7"), Ok(7));
        assert!(parse_run_id("0").unwrap_err().contains("start at 1"));
        let model = parse_run_id("pytorch/resnet50").unwrap_err();
        assert!(
            model.contains("model id") && model.contains("zoorepro runs"),
            "{model}"
        );
        assert!(parse_run_id("seven").unwrap_err().contains("whole number"));
    }
}
