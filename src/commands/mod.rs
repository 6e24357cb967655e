//! One file or folder per subcommand, and `shared/` for what several of them use. `run` is the
//! only place that turns outcomes into exit statuses and error messages: every error becomes one
//! line on stderr and `exit::ERROR`, never a panic.

mod add_model;
mod compare;
mod determinism;
mod explain;
mod import_seed;
mod inspect;
mod merge;
mod models;
mod preprocess;
mod recipes;
mod runs;
mod shared;
mod table;
mod verify;

use crate::cli::{Cli, Command};
use crate::exit;

pub use shared::context::Context;
pub use shared::terminal::run_capturing;
// What the Python `Loader` (src/python/loader.rs) checks and opens as `verify` does.
#[cfg(feature = "python")]
pub(crate) use shared::batch::check_batch_memory;
#[cfg(feature = "python")]
pub(crate) use shared::options::{open_dataset, parse_shard};
// `verify` with the caller's model (the Python `evaluate`, src/python/evaluate.rs).
pub use verify::{NativeModel, NativeRun, checkpoint_digest, run_native};

pub fn run(cli: Cli) -> i32 {
    let context = Context::new(cli.home, cli.cache_dir);
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
    eprintln!(
        "zoorepro: error: {}",
        crate::util::escape::terminal(&error_message(error))
    );
}

/// The error and its causes on one line, outermost first (a cause the outer text already holds
/// is not repeated): what `zoorepro: error:` prints, and what a Python exception says.
pub fn error_message(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    message
}
