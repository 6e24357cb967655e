//! Fitting listing lines (`models`, `recipes`) to the terminal they are read on. Piped or
//! redirected output is left whole: a script or `grep` needs every column, and a pager can
//! scroll sideways (`less -S`).

use std::borrow::Cow;
use std::io::IsTerminal;

/// The width lines are fitted to on a terminal whose size cannot be read (a serial console, an
/// emulator that does not answer): wide enough for the first columns, narrow enough for most.
const UNKNOWN_TERMINAL_WIDTH: usize = 100;

/// The width stdout's lines must fit: the terminal's columns, 100 when a terminal does not say,
/// `None` (no limit) when stdout is not a terminal.
pub(super) fn stdout_width() -> Option<usize> {
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
pub(super) fn fit(line: &str, width: Option<usize>) -> Cow<'_, str> {
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
