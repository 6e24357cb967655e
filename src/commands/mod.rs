//! One file per subcommand. `run` is the only place that turns outcomes into exit statuses and
//! error messages: every error becomes one line on stderr and `exit::ERROR`, never a panic.

mod add_model;
mod compare;
mod determinism;
mod explain;
mod import_seed;
mod inspect;
mod interrupt;
mod lookup;
mod merge;
mod model_under_test;
mod models;
mod options;
pub mod output;
mod preprocess;
mod progress;
mod recipes;
mod record;
mod runs;
mod table;
mod verify;
mod width;

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use crate::cli::{Cli, Command};
use crate::exit;
use crate::model::manifest::{self, Manifest};

/// What every command may need from the global flags, resolved lazily so that a command that
/// does not touch the store never fails on an unwritable cache dir.
pub struct Context {
    home: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
}

impl Context {
    pub fn home(&self) -> anyhow::Result<PathBuf> {
        let home = crate::model::home::find_home(self.home.as_deref())?;
        for note in &home.untrusted {
            eprintln!("zoorepro: warning: {}", crate::util::escape::terminal(note));
        }
        Ok(home.dir)
    }

    pub fn manifests(&self, home: &Path) -> anyhow::Result<Vec<Manifest>> {
        Ok(manifest::load_with_shipped(&home.join("manifests"))?)
    }

    pub fn cache_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.cache_dir {
            Some(dir) => Ok(dir.clone()),
            None => crate::store::default_dir()
                .context("cannot tell where the user's cache directory is: pass --cache-dir DIR"),
        }
    }
}

pub fn run(cli: Cli) -> i32 {
    let context = Context {
        home: cli.home,
        cache_dir: cli.cache_dir,
    };
    let outcome = match &cli.command {
        Command::Verify(args) => verify::run(&context, args),
        Command::Preprocess(args) => preprocess::run(&context, args),
        Command::Recipes(args) => recipes::run(args),
        Command::Models(args) => models::run(&context, args),
        Command::ImportSeed(args) => import_seed::run(&context, args),
        Command::Table(args) => table::run(&context, args),
        Command::Compare(args) => compare::run(&context, args),
        Command::Runs(args) => runs::run(&context, args),
        Command::Merge(args) => merge::run(&context, args),
        Command::Determinism(args) => determinism::run(&context, args),
        Command::Inspect(args) => inspect::run(args),
        Command::Explain(args) => explain::run(&context, args),
        Command::AddModel(args) => add_model::run(&context, args),
    };
    match outcome {
        Ok(status) => status,
        // A closed stdout (`zoorepro table | head`) is the reader's choice, not an error.
        Err(error) if is_broken_pipe(&error) => exit::SUCCESS,
        Err(error) => {
            report_error(&error);
            exit::ERROR
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// One message: the error and its causes on one line, outermost first.
fn report_error(error: &anyhow::Error) {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    eprintln!(
        "zoorepro: error: {}",
        crate::util::escape::terminal(&message)
    );
}

pub(crate) fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let (mut file, _) = crate::util::safe_file::open_regular(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file
            .read(&mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(crate::util::hex::hex(&hasher.finalize()))
}

/// Refuses a batch whose input tensors (`copies` of them alive at once) would take more than
/// [`crate::cli::BATCH_TENSOR_BYTES`]: `--batch 100000` must be a message, not an allocation
/// failure that aborts the process.
pub(crate) fn check_batch_memory(
    flag: &str,
    batch: usize,
    sample_len: usize,
    copies: usize,
) -> anyhow::Result<()> {
    let per_batch = 4 * sample_len as u64 * copies as u64;
    let bytes = per_batch.saturating_mul(batch as u64);
    if bytes > crate::cli::BATCH_TENSOR_BYTES {
        let most = (crate::cli::BATCH_TENSOR_BYTES / per_batch.max(1)).max(1);
        anyhow::bail!(
            "{flag} {batch} needs {:.1} GiB of input tensors for {sample_len}-value \
             samples, more than the {} GiB allowed; use a batch of at most {most}",
            bytes as f64 / f64::from(1u32 << 30),
            crate::cli::BATCH_TENSOR_BYTES >> 30
        );
    }
    Ok(())
}

/// Machine-readable output: pretty JSON and a newline on stdout, nothing else there.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = crate::commands::output::stdout();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

/// Progress on stderr: a bar with images/s and ETA on a terminal, log lines elsewhere.
pub(crate) fn progress_bar(total: Option<usize>, label: &str) -> progress::Progress {
    progress::Progress::new(total, label)
}
