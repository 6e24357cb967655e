//! One file per subcommand. `run` maps every outcome to an exit status from `crate::exit`.

use crate::cli::{Cli, Command};
use crate::exit;

pub fn run(cli: Cli) -> i32 {
    let _ = cli.command;
    match Command::Recipes(crate::cli::ListArgs { json: false }) {
        _ => exit::SUCCESS,
    }
}
