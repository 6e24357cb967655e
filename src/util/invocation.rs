//! The command line that started this command, as the record (`provenance.command_line`) and
//! the Ctrl-C message name it. For the binary it is the process's own arguments. The wheel's
//! console script runs the CLI inside a Python interpreter, whose arguments are
//! `python /venv/bin/zoorepro ARGS...`: a record there would name the interpreter, not the
//! command the user typed, so the extension module sets the script's own `sys.argv`
//! (`/venv/bin/zoorepro ARGS...`) here before it runs the command.

use std::ffi::OsString;
use std::sync::{Mutex, PoisonError};

/// The arguments the wheel's console script was given; `None` in the binary. A process runs one
/// CLI command at a time (the console script runs exactly one), so the last one set is the one
/// running.
static GIVEN: Mutex<Option<Vec<OsString>>> = Mutex::new(None);

/// Names `argv` (the program first) as the command line of the command about to run; `None`
/// when it has returned, so that what runs next in the process (`zoorepro.evaluate`) names the
/// process's own arguments rather than a finished command's.
pub fn set(argv: Option<Vec<OsString>>) {
    *GIVEN.lock().unwrap_or_else(PoisonError::into_inner) = argv;
}

/// The command line, the program first, each argument as text (lossy where not UTF-8).
pub fn command_line() -> Vec<String> {
    let given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
    as_text(given.as_deref())
}

/// `given`, else the process's own arguments.
fn as_text(given: Option<&[OsString]>) -> Vec<String> {
    let own: Vec<OsString>;
    let args = match given {
        Some(argv) => argv,
        None => {
            own = std::env::args_os().collect();
            &own
        }
    };
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Through `as_text`: setting the process-wide arguments would race the other unit tests.
    #[test]
    fn given_arguments_replace_the_process_arguments() {
        assert_eq!(as_text(None), std::env::args().collect::<Vec<_>>());
        let given: Vec<OsString> = vec!["/venv/bin/zoorepro".into(), "verify".into()];
        assert_eq!(as_text(Some(&given)), ["/venv/bin/zoorepro", "verify"]);
    }
}
