//! Ctrl-C during `verify`: instead of dying silently, say how many images the store keeps and
//! the command that resumes from them. The store commits each batch in one transaction, so an
//! interrupted run loses at most the batch in flight; what matters is telling the user.
//!
//! The signal handler only writes a byte to a pipe (all a handler may safely do); a thread
//! waiting on the pipe counts the stored rows, prints the message and exits with 130 (128 +
//! SIGINT, what a shell reports for a Ctrl-C).

use std::borrow::Cow;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::commands::Context;
use crate::store::Store;

/// The exit status of a process ended by Ctrl-C.
const INTERRUPTED: i32 = 130;

/// The pipe's writing end, for the signal handler; -1 until armed.
static WAKE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigint(_signal: libc::c_int) {
    let fd = WAKE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local byte.
        unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
}

/// The store of the command now running (`None` with `--no-cache`), read by the waiting thread.
static STORE_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// From now on, Ctrl-C prints what the store keeps of the runs this process writes (nothing with
/// `no_cache`) and the command that resumes, then exits with 130. Where the handler cannot be
/// installed, Ctrl-C keeps its default effect, and a warning says so. The handler and its thread
/// are installed once per process: a caller running many commands in one process (the
/// model-based trust test) would otherwise leak a pipe and a thread per command.
pub(crate) fn arm(ctx: &Context, no_cache: bool) {
    let store_dir = if no_cache { None } else { ctx.cache_dir().ok() };
    *STORE_DIR.lock().unwrap_or_else(PoisonError::into_inner) = store_dir;
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(e) = INSTALLED.get_or_init(|| install().map_err(|e| e.to_string())) {
        eprintln!("zoorepro: warning: Ctrl-C will not report what is kept: {e}");
    }
}

fn install() -> std::io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [read_end, write_end] = fds;
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || wait_and_exit(read_end))?;
    WAKE.store(write_end, Ordering::Relaxed);
    // SAFETY: a zeroed sigaction is valid; the handler only calls write(2). SA_RESTART keeps
    // the other threads' reads and writes from failing with EINTR before the exit.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn wait_and_exit(read_end: libc::c_int) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads one byte into a live local.
        let n = unsafe { libc::read(read_end, (&raw mut byte).cast(), 1) };
        if n == 1 {
            break;
        }
        if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // Nobody would answer the handler: Ctrl-C gets its default effect back.
            // SAFETY: restoring the default disposition of SIGINT.
            unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
            return;
        }
    }
    // A second Ctrl-C while the store is counted ends the process at once.
    // SAFETY: restoring the default disposition of SIGINT.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
    let store_dir = STORE_DIR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let kept = match &store_dir {
        None => Kept::NoStore,
        Some(dir) => match Store::open(dir).and_then(|mut store| {
            let count = store.own_runs_holding_writes();
            // Kept open, and locked, until the exit below.
            std::mem::forget(store);
            count
        }) {
            Ok(runs) => Kept::Runs(runs),
            Err(e) => Kept::Unknown(e.to_string()),
        },
    };
    let command = crate::util::invocation::command_line();
    // On a terminal the progress bar holds the current line.
    let lead = if std::io::stderr().is_terminal() {
        "\n"
    } else {
        ""
    };
    eprintln!("{lead}{}", message(&kept, &command));
    // _exit: the other threads are still inside ONNX Runtime, whose static destructors must not
    // run under them; stderr is unbuffered and nothing else is pending.
    // SAFETY: ends the process.
    unsafe { libc::_exit(INTERRUPTED) }
}

/// What the store keeps of the interrupted runs.
#[derive(Debug)]
enum Kept {
    /// Each run this process wrote, by model, with the images it holds; none when the run was
    /// not opened yet.
    Runs(Vec<(String, usize)>),
    NoStore,
    Unknown(String),
}

fn message(kept: &Kept, command: &[String]) -> String {
    let command: Vec<Cow<str>> = command.iter().map(|a| shell_quote(a)).collect();
    let command = command.join(" ");
    match kept {
        Kept::Runs(runs) if runs.len() <= 1 => format!(
            "zoorepro: interrupted: {} images of this run are stored; run the same command again to resume: {command}",
            runs.first().map_or(0, |(_, images)| *images)
        ),
        // A pass of several models: each model's own count, since they differ (a model whose
        // store answered everything, one that had not started).
        Kept::Runs(runs) => format!(
            "zoorepro: interrupted: stored so far, by model: {}; run the same command again to resume: {command}",
            runs.iter()
                .map(|(model, images)| format!(
                    "{} {images} images",
                    crate::util::escape::terminal(model)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kept::NoStore => format!(
            "zoorepro: interrupted: nothing is stored (--no-cache); run the same command again to start over: {command}"
        ),
        Kept::Unknown(reason) => format!(
            "zoorepro: interrupted: the images stored so far are kept (they could not be counted: {reason}); run the same command again to resume: {command}"
        ),
    }
}

/// `arg` as a POSIX shell reads it back: bare when it is made of safe characters, else in single
/// quotes (a quote inside as `'\''`).
pub(crate) fn shell_quote(arg: &str) -> Cow<'_, str> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        Cow::Borrowed(arg)
    } else {
        Cow::Owned(format!("'{}'", arg.replace('\'', r"'\''")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_message_states_the_count_and_a_command_a_shell_reads_back() {
        let command = args(&[
            "zoorepro",
            "verify",
            "--val",
            "/data/my val",
            "--model",
            "it's",
        ]);
        let one = message(&Kept::Runs(vec![("coral/m".into(), 41)]), &command);
        assert_eq!(
            one,
            "zoorepro: interrupted: 41 images of this run are stored; run the same command again to resume: \
             zoorepro verify --val '/data/my val' --model 'it'\\''s'"
        );
        let many = message(
            &Kept::Runs(vec![
                ("coral/a".into(), 32),
                ("coral/b".into(), 32),
                ("pypi/c".into(), 0),
            ]),
            &command,
        );
        assert!(
            many.contains("by model: coral/a 32 images, coral/b 32 images, pypi/c 0 images;"),
            "{many}"
        );
        let unopened = message(&Kept::Runs(Vec::new()), &command);
        assert!(unopened.contains(": 0 images of this run"), "{unopened}");
        let none = message(&Kept::NoStore, &command);
        assert!(none.contains("nothing is stored (--no-cache)"), "{none}");
    }

    #[test]
    fn plain_arguments_stay_bare_and_others_are_quoted() {
        assert_eq!(
            shell_quote("coral/mobilenet_v1_0.5_160_quant"),
            "coral/mobilenet_v1_0.5_160_quant"
        );
        assert_eq!(shell_quote("--batch=8"), "--batch=8");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("*.onnx"), "'*.onnx'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }
}
