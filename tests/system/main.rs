//! Tests that start system components, run in their own stage of scripts/test.sh (after the main
//! `cargo test`, which leaves this binary out): the reports in headless Chromium, and the Slurm
//! recipe on a real one-node Slurm.
//!
//! One test binary of several modules (one file each), so that `cargo test` links a few binaries
//! instead of one per file; `cargo test --release --test system MODULE::` runs one module.

#[path = "../common/mod.rs"]
mod common;

mod html_report;
mod slurm;
