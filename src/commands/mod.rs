//! One file per subcommand. `run` maps every outcome to an exit status from `crate::exit`.
//!
//! TEMPORARY wiring from the pixels branch (only `preprocess --recipe PRESET`), to be replaced by
//! the lead's dispatcher.

pub mod preprocess;

use crate::cli::{Cli, Command, PillowCompatArg};
use crate::exit;
use crate::resample::PillowCompat;

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Preprocess(args) => {
            let Some(name) = args.recipe.as_deref() else {
                eprintln!("error: only --recipe PRESET is wired on this branch");
                return exit::ERROR;
            };
            let Some(recipe) = crate::recipe::preset(name) else {
                eprintln!("error: no preset recipe named {name:?}");
                return exit::ERROR;
            };
            let compat = match args.pillow_compat {
                PillowCompatArg::V12 => PillowCompat::V12,
                PillowCompatArg::V13 => PillowCompat::V13,
            };
            match preprocess::write_tensors(&args.images, &recipe, compat, &args.out) {
                Ok(n) => {
                    eprintln!("wrote {n} samples to {}", args.out.display());
                    exit::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    exit::ERROR
                }
            }
        }
        _ => exit::ERROR,
    }
}
