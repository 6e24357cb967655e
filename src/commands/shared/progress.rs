//! Progress of long work on stderr: an indicatif bar on a terminal, log lines everywhere else.
//!
//! A bar redrawn in place is unreadable in a file, a pipe or a Slurm log, and hiding it there
//! leaves a five-hour run silent. So off a terminal the same progress is written as plain lines:
//! one at the start, then one every 30 seconds or every tenth of the work, whichever comes first,
//! and one at the end.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const LOG_EVERY: Duration = Duration::from_secs(30);

pub(crate) struct Progress {
    label: String,
    total: Option<u64>,
    state: Mutex<State>,
    bar: Option<ProgressBar>,
}

#[derive(Default)]
struct State {
    done: u64,
    /// Each model's running top-1 (correct, labelled, ranked) over its whole run, by lane, and
    /// whose it is (named, so that a pass of several says which number is which).
    top1: Vec<(u64, u64, u64)>,
    top1_of: Vec<String>,
    started: Option<Instant>,
    last_line: Option<Instant>,
    /// Tenths of the total already announced.
    tenths: u64,
    finished: bool,
}

impl Progress {
    /// A bar with images/s and ETA when stderr is a terminal (a spinner when the total is
    /// unknown, as for a tar); otherwise log lines.
    pub(crate) fn new(total: Option<usize>, label: &str) -> Progress {
        let interactive = std::io::stderr().is_terminal();
        Progress::with_mode(total, label, interactive)
    }

    fn with_mode(total: Option<usize>, label: &str, interactive: bool) -> Progress {
        let total = total.map(|t| t as u64);
        let progress = Progress {
            label: label.to_string(),
            total,
            state: Mutex::new(State {
                started: Some(Instant::now()),
                last_line: Some(Instant::now()),
                ..State::default()
            }),
            bar: interactive.then(|| bar(total, label)),
        };
        if !interactive {
            let what = total.map_or("images from a stream".to_string(), |t| {
                format!("{t} images")
            });
            progress.log(format_args!("started: {what}"));
        }
        progress
    }

    /// `images` more are finished.
    pub(crate) fn inc(&self, images: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(images);
            return;
        }
        let line = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.done += images;
            self.due_line(&mut state)
        };
        if let Some(line) = line {
            self.log(format_args!("{line}"));
        }
    }

    /// Names the models whose running top-1 the progress shows, one per lane of the pass.
    pub(crate) fn running_top1_of(&self, models: &[&str]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.top1_of = models
            .iter()
            .map(|model| crate::util::escape::terminal(model))
            .collect();
        state.top1 = vec![(0, 0, 0); models.len()];
    }

    /// Adds images to lane `lane`'s running top-1: those inferred, and those the store answered,
    /// so that it is the whole run's so far, not only this invocation's. `ranked` of the
    /// `labelled` did not fail: while none is, there is no number to show.
    pub(crate) fn add_top1(&self, lane: usize, correct: u64, labelled: u64, ranked: u64) {
        let message = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((c, l, r)) = state.top1.get_mut(lane) {
                *c += correct;
                *l += labelled;
                *r += ranked;
            }
            state.top1_text()
        };
        if let (Some(bar), Some(message)) = (&self.bar, message) {
            bar.set_message(message);
        }
    }

    /// Runs `print` (a warning line) without tearing the bar.
    pub(crate) fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Ends the progress: the bar disappears; off a terminal a last line gives the totals.
    pub(crate) fn finish_and_clear(&self) {
        self.end("finished");
    }

    /// Ends the progress of work that stopped before its end (a model that failed, an error):
    /// the last line says `stopped`, so that it does not read as a finished run. The first of
    /// the two ends is the one written.
    pub(crate) fn stop_and_clear(&self) {
        self.end("stopped");
    }

    fn end(&self, how: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            return;
        }
        let line = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.finished {
                return;
            }
            state.finished = true;
            let seconds = state.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
            format!(
                "{how}: {} images in {seconds:.1} s{}",
                state.done,
                self.rates(&state)
            )
        };
        self.log(format_args!("{line}"));
    }

    /// The line to write now, if 30 s have passed or another tenth of the total is done.
    fn due_line(&self, state: &mut State) -> Option<String> {
        let now = Instant::now();
        let tenths = self
            .total
            .filter(|&t| t > 0)
            .map_or(0, |t| state.done * 10 / t);
        let timely = state.last_line.is_none_or(|last| now - last >= LOG_EVERY);
        if !(timely || tenths > state.tenths) || state.total_reached(self.total) {
            return None;
        }
        state.tenths = tenths;
        state.last_line = Some(now);
        let position = match self.total {
            Some(total) => format!(
                "{}/{total} images ({:.0}%)",
                state.done,
                100.0 * state.done as f64 / total.max(1) as f64
            ),
            None => format!("{} images", state.done),
        };
        Some(format!("{position}{}", self.rates(state)))
    }

    /// ", R images/s, ETA …, running top-1 …" as far as each is known.
    fn rates(&self, state: &State) -> String {
        let seconds = state.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let mut text = String::new();
        if seconds > 0.0 && state.done > 0 {
            let rate = state.done as f64 / seconds;
            text += &format!(", {} images/s", rate_text(rate));
            if let Some(total) = self.total.filter(|&t| t > state.done && !state.finished) {
                text += &format!(", ETA {}", eta((total - state.done) as f64 / rate));
            }
        }
        if let Some(top1) = state.top1_text() {
            text += &format!(", {top1}");
        }
        text
    }

    fn log(&self, line: std::fmt::Arguments<'_>) {
        // A lost progress line is not worth failing the run for.
        let _ = writeln!(std::io::stderr().lock(), "{}: {line}", self.label);
    }
}

impl State {
    /// "running top-1 of MODEL 75.00%" (several models: "running top-1 A 75.00%, B 60.00%"),
    /// once a labelled image is ranked (a run whose every image failed so far has no number).
    fn top1_text(&self) -> Option<String> {
        let figures: Vec<String> = self
            .top1
            .iter()
            .zip(&self.top1_of)
            .filter(|((_, _, ranked), _)| *ranked > 0)
            .map(|(&(correct, labelled, _), model)| {
                format!("{model} {:.2}%", 100.0 * correct as f64 / labelled as f64)
            })
            .collect();
        match figures.len() {
            0 => None,
            1 if self.top1_of.len() == 1 => Some(format!("running top-1 of {}", figures[0])),
            _ => Some(format!("running top-1 {}", figures.join(", "))),
        }
    }

    /// The last increment reaching the total is left to `finish_and_clear`'s line.
    fn total_reached(&self, total: Option<u64>) -> bool {
        total.is_some_and(|t| t > 0 && self.done >= t)
    }
}

/// A rate with the precision it deserves: `245`, `11.2`, `0.83` (never `11.1668`).
pub(crate) fn rate_text(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}")
    } else if rate >= 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.2}")
    }
}

fn eta(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

/// indicatif's own `{per_sec}` prints 4 decimals (`11.1668/s`): the bar uses [`rate_text`].
fn with_rate(style: ProgressStyle) -> ProgressStyle {
    style.with_key(
        "rate",
        |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{} images/s", rate_text(state.per_sec()));
        },
    )
}

fn bar(total: Option<u64>, label: &str) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} images  {rate}  ETA {eta}  {msg}",
                )
                .map(with_rate)
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{prefix} [{elapsed_precise}] {spinner} {pos} images  {rate}  {msg}")
                .map(with_rate)
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_prefix(label.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_at_each_tenth_and_not_for_every_image() {
        let progress = Progress::with_mode(Some(100), "test", false);
        let mut lines = Vec::new();
        for _ in 0..100 {
            let mut state = progress.state.lock().unwrap();
            state.done += 1;
            if let Some(line) = progress.due_line(&mut state) {
                lines.push(line);
            }
        }
        // 10%, 20%, ... 90%: the 100% line is the finishing one.
        assert_eq!(lines.len(), 9, "{lines:?}");
        assert!(lines[0].starts_with("10/100 images (10%)"), "{}", lines[0]);
        assert!(
            lines[0].contains("images/s") && lines[0].contains("ETA"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn the_running_top1_is_part_of_the_line() {
        let progress = Progress::with_mode(None, "test", false);
        progress.running_top1_of(&["coral/m\x1b[2K"]);
        progress.add_top1(0, 1, 2, 2);
        progress.add_top1(0, 2, 2, 2);
        let mut state = progress.state.lock().unwrap();
        state.done = 4;
        state.last_line = None;
        let line = progress.due_line(&mut state).unwrap();
        assert!(
            line.starts_with("4 images")
                && line.ends_with("running top-1 of coral/m\\x1b[2K 75.00%"),
            "{line}"
        );
    }

    #[test]
    fn every_model_of_a_pass_has_its_named_running_top1() {
        let progress = Progress::with_mode(None, "test", false);
        progress.running_top1_of(&["coral/a", "coral/b"]);
        progress.add_top1(0, 3, 4, 4);
        progress.add_top1(1, 1, 4, 3);
        assert_eq!(
            progress.state.lock().unwrap().top1_text().unwrap(),
            "running top-1 coral/a 75.00%, coral/b 25.00%"
        );
        // A model whose every labelled image failed so far has no figure, not 0.00%.
        progress.running_top1_of(&["coral/a", "coral/b"]);
        progress.add_top1(0, 0, 3, 0);
        progress.add_top1(1, 1, 2, 2);
        assert_eq!(
            progress.state.lock().unwrap().top1_text().unwrap(),
            "running top-1 coral/b 50.00%"
        );
    }

    #[test]
    fn rates_have_sensible_precision() {
        assert_eq!(rate_text(11.1668), "11.2");
        assert_eq!(rate_text(245.4), "245");
        assert_eq!(rate_text(0.8333), "0.83");
    }

    #[test]
    fn etas_read_as_durations() {
        assert_eq!(eta(42.4), "42s");
        assert_eq!(eta(125.0), "2m05s");
        assert_eq!(eta(5.0 * 3600.0 + 61.0), "5h01m");
    }
}
