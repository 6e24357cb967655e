//! Where a command's output goes and how it is fitted to the reader: the process's stdout, or,
//! for a caller that runs commands in its own process (the model-based trust test runs thousands
//! of them in milliseconds each), a buffer of the calling thread. Every command writes its stdout
//! through `stdout`; stderr (progress, warnings, errors) is not captured.
//!
//! On a terminal, listings (`models`, `recipes`) are fitted to its width and reports default to
//! aligned text; piped or redirected output is left whole (a script or `grep` needs every column,
//! and a pager can scroll sideways with `less -S`) and defaults to Markdown.

use std::borrow::Cow;
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
fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal;
    CAPTURED.with_borrow(Option::is_none) && io::stdout().is_terminal()
}

/// A report's format when none is asked for: `text` on a terminal, else `piped`. Pipes keep
/// getting Markdown, which scripts and earlier versions rely on.
pub(crate) fn default_format<F>(asked: Option<F>, text: F, piped: F) -> F {
    asked.unwrap_or_else(|| if stdout_is_terminal() { text } else { piped })
}

/// Machine-readable output: pretty JSON and a newline on stdout, nothing else there.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut stdout = stdout();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
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
    let status = crate::commands::run(cli);
    let printed = CAPTURED.with_borrow_mut(|captured| captured.take().unwrap_or_default());
    (status, String::from_utf8_lossy(&printed).into_owned())
}

/// The width lines are fitted to on a terminal whose size cannot be read (a serial console, an
/// emulator that does not answer): wide enough for the first columns, narrow enough for most.
const UNKNOWN_TERMINAL_WIDTH: usize = 100;

/// The width stdout's lines must fit: the terminal's columns, 100 when a terminal does not say,
/// `None` (no limit) when stdout is not a terminal.
pub(crate) fn stdout_width() -> Option<usize> {
    use std::io::IsTerminal;
    let term = console::Term::stdout();
    width_for(
        std::io::stdout().is_terminal(),
        term.size_checked()
            .map(|(_rows, columns)| usize::from(columns)),
    )
}

fn width_for(is_terminal: bool, columns: Option<usize>) -> Option<usize> {
    if !is_terminal {
        return None;
    }
    Some(match columns {
        Some(columns) if columns > 0 => columns,
        _ => UNKNOWN_TERMINAL_WIDTH,
    })
}

/// `line` cut to `width` display columns, ending in `…` where it was cut. The long columns of a
/// listing (descriptions, references) come last, so they are the ones shortened.
pub(crate) fn fit(line: &str, width: Option<usize>) -> Cow<'_, str> {
    match width {
        Some(width) if console::measure_text_width(line) > width => {
            console::truncate_str(line, width, "…")
        }
        _ => Cow::Borrowed(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_terminal_bounds_the_width_and_an_unknown_size_is_100() {
        assert_eq!(width_for(false, Some(80)), None);
        assert_eq!(width_for(false, None), None);
        assert_eq!(width_for(true, Some(80)), Some(80));
        assert_eq!(width_for(true, None), Some(100));
        assert_eq!(width_for(true, Some(0)), Some(100));
    }

    #[test]
    fn long_lines_are_cut_with_an_ellipsis_and_short_ones_kept() {
        let line = "torchvision   short 256 crop 224   Resize(256) bilinear, CenterCrop(224)";
        assert_eq!(fit(line, None), line);
        assert_eq!(fit(line, Some(200)), line);
        let cut = fit(line, Some(30));
        assert_eq!(console::measure_text_width(&cut), 30, "{cut}");
        assert!(
            cut.starts_with("torchvision   short 256") && cut.ends_with('…'),
            "{cut}"
        );
        // Wide characters count by the columns they take.
        let wide = fit("名前名前名前", Some(5));
        assert!(console::measure_text_width(&wide) <= 5, "{wide}");
    }
}
