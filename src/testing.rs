//! The one way a test skips, shared by the unit tests and the integration tests (through
//! `tests/common`). Not part of the tool: nothing outside tests calls it.
//!
//! A test that cannot run here calls [`skip`] (a missing `../shared`, Python, Chromium, `script`)
//! or [`not_applicable`] (the check means nothing on this machine: no AVX2, running as root) and
//! returns. Both write `SKIPPED binary::test: reason` straight to stderr, not through
//! `eprintln!`, which libtest captures and drops for a passing test, and append that line to
//! `$ZOOREPRO_SKIP_LOG` when set: `scripts/test.sh` points it under target/ and prints the count
//! and the list at the end of its run. Under `CI=true`, [`skip`] fails the test instead: CI has
//! `../shared` and every tool, so a skip there would hide a broken checkout behind a green run.

use std::io::Write as _;
use std::path::PathBuf;

/// Whether this is a CI run (`CI=true`, as the forges set it), where every test must run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci == "true")
}

/// Skips the calling test for want of data or a tool; under `CI=true` fails it instead.
pub fn skip(reason: &str) {
    let line = line(reason);
    assert!(
        !in_ci(),
        "{line} (CI=true: a test that cannot run fails instead of skipping)"
    );
    record(&line);
}

/// Skips the calling test because its check means nothing on this machine (a CPU without AVX2,
/// a root user that every permission lets through); recorded like [`skip`], even under `CI=true`.
pub fn not_applicable(reason: &str) {
    record(&line(&format!("not applicable here: {reason}")));
}

/// `../shared` beside the checkout, or None after [`skip`].
pub fn shared() -> Option<PathBuf> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    if path.join("models/models.json").is_file() {
        return Some(path);
    }
    skip("../shared is not beside the checkout");
    None
}

/// `SKIPPED binary::test: reason`: the test binary's name without cargo's hash, and libtest's
/// name of the test's thread (the test's path).
fn line(reason: &str) -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.file_stem()?.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, _hash)) => name.to_string(),
            None => stem,
        })
        .unwrap_or_default();
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    format!("SKIPPED {binary}::{test}: {reason}")
}

fn record(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
    if let Some(log) = std::env::var_os("ZOOREPRO_SKIP_LOG") {
        // One write per line, so that test binaries running at once do not interleave.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut file| file.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = appended {
            panic!("cannot record the skip in {}: {e}", log.to_string_lossy());
        }
    }
}
