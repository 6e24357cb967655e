//! Where a command's output goes: the process's stdout, or, for a caller that runs commands in
//! its own process (the model-based trust test runs thousands of them in milliseconds each), a
//! buffer of the calling thread. Every command writes its stdout through `stdout`; stderr
//! (progress, warnings, errors) is not captured.

use std::cell::RefCell;
use std::io::{self, Write};

thread_local! {
    /// `Some` while [`run_capturing`] runs on this thread.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// The command's stdout: the process's, or this thread's capture buffer.
pub(crate) fn stdout() -> Stdout {
    if CAPTURED.with_borrow(Option::is_some) {
        Stdout::Captured
    } else {
        Stdout::Process(io::stdout().lock())
    }
}

pub(crate) enum Stdout {
    Process(io::StdoutLock<'static>),
    Captured,
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stdout::Process(out) => out.write(buf),
            Stdout::Captured => CAPTURED.with_borrow_mut(|captured| {
                captured.get_or_insert_with(Vec::new).extend_from_slice(buf);
                Ok(buf.len())
            }),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stdout::Process(out) => out.flush(),
            Stdout::Captured => Ok(()),
        }
    }
}

/// Whether stdout is a terminal (a captured stdout never is): decides default formats.
pub(crate) fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal;
    CAPTURED.with_borrow(Option::is_none) && io::stdout().is_terminal()
}

/// Runs one command as the binary would, with its stdout captured: its exit status and what it
/// printed there. Commands that end the process (Ctrl-C during `verify`) are not for this.
pub fn run_capturing(cli: crate::cli::Cli) -> (i32, String) {
    struct Restore(Option<Vec<u8>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CAPTURED.set(self.0.take());
        }
    }
    let _restore = Restore(CAPTURED.replace(Some(Vec::new())));
    let status = super::run(cli);
    let printed = CAPTURED.with_borrow_mut(|captured| captured.take().unwrap_or_default());
    (status, String::from_utf8_lossy(&printed).into_owned())
}
