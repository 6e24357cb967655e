//! The flags of the commands that read the store rather than images: `merge`, `import-seed`,
//! `table`, `compare` and `runs`, and how a run is judged (shared with `verify`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{JsonArg, parse_natural, parse_run_id, parse_tolerance};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' stores: each a --cache-dir (or its zoorepro.sqlite3); --cache-dir itself is always read.
    #[arg(value_name = "STORE_OR_DIR")]
    pub stores: Vec<PathBuf>,

    /// Merge shards that do not cover their whole shard (made with --limit, or by a release
    /// that did not record it); the merged run is then marked partial in every output.
    #[arg(long)]
    pub allow_partial: bool,

    #[command(flatten)]
    pub verdict: VerdictArgs,

    /// Where run reports go [default: reports/ under the zoorepro home].
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// One row per merged run, as CSV or JSON by the file's extension (.csv, .json), in the
    /// columns of `verify --results-file` (param_count empty: merge reads no model file).
    #[arg(long, value_name = "FILE.csv|FILE.json")]
    pub results_file: Option<PathBuf>,

    #[command(flatten)]
    pub output: JsonArg,
}

#[derive(Args, Debug)]
pub struct ImportSeedArgs {
    /// A folder laid out like benchmarking-keras-pytorch: keras_imagenet/ and/or pytorch_imagenet/.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LabelsArg {
    Original,
    Real,
    Cleaned,
    Corrected,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned columns (what a terminal gets by default).
    Text,
    /// What pipes and files get by default.
    Markdown,
    Csv,
    Json,
    /// One self-contained page: a dot plot per image set, rank changes between label sets.
    Html,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RunsSelection {
    Latest,
    All,
}

#[derive(Args, Debug)]
pub struct TableArgs {
    /// Which labels to score against (`all`: original, ReaL, cleaned and corrected side by side).
    #[arg(long, value_enum, default_value = "original")]
    pub labels: LabelsArg,
    /// Your own label-errors CSV (file,original_index,corrected_index,consensus) for cleaned/corrected.
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,
    /// [default: text on a terminal, markdown when piped]
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    /// Only these models: ids, bare names or globs (`pytorch/*`, `*/resnet50`), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ID|GLOB,...")]
    pub models: Vec<String>,
    /// Only runs on these image sets, as the table names them (`ilsvrc2012-val`,
    /// `shared-imagenet-sample-100`, `subset-<N>-<digest>`); comma-separated or repeated.
    #[arg(long = "image-set", value_delimiter = ',', value_name = "NAME,...")]
    pub image_sets: Vec<String>,
    /// The latest run of each model, recipe, kind and image set, or every run.
    #[arg(long, value_enum, default_value = "latest")]
    pub runs: RunsSelection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// Aligned columns, for reading on a terminal.
    Text,
    Markdown,
    Json,
    /// One self-contained page, with thumbnails of the images whose top-1 differs (--val).
    Html,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// A run id, or a model id (its latest run).
    #[arg(value_name = "A")]
    pub a: String,
    #[arg(value_name = "B")]
    pub b: String,
    /// Default: text on a terminal, markdown when piped or redirected.
    #[arg(long, value_enum)]
    pub format: Option<CompareFormat>,
    /// Images whose top-1 differs listed in text and markdown (0: all); the total is always
    /// stated, and json lists them all.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        value_parser = parse_natural,
        allow_negative_numbers = true
    )]
    pub limit: usize,
    /// The image folder the runs scored (ImageFolder or flat), for the thumbnails of
    /// `--format html`.
    #[arg(long, value_name = "PATH")]
    pub val: Option<PathBuf>,
}

/// How a run is judged against the published numbers (verify, merge).
#[derive(Args, Debug, Clone, Copy)]
pub struct VerdictArgs {
    /// Allowed top-1 gap to the expected reference, in percentage points (0 to 100).
    #[arg(long, default_value_t = crate::eval::verdict::DEFAULT_TOLERANCE, value_name = "PP", value_parser = parse_tolerance, allow_negative_numbers = true)]
    pub tolerance: f64,

    /// Exit 3 when no reference applies to the evaluated image set (so `verify && ship` cannot pass
    /// without a check); without it such a run exits 0 and says that nothing was compared.
    #[arg(long)]
    pub require_reference: bool,

    /// No compromise: any mark on the verdict (unverified-model, partial, weak-identity,
    /// user-reference, relabelled, duplicate-content, unknown-identity) exits 1, and `verify`
    /// stops at the first unreadable image instead of counting it as failed.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    /// Delete this run and its predictions: a run id, as `runs` lists them.
    #[arg(long, value_name = "ID", value_parser = parse_run_id, allow_negative_numbers = true)]
    pub delete: Option<i64>,
    #[command(flatten)]
    pub output: JsonArg,
}
