//! Hostile and broken input: bad flags and files, adversarial archives and inputs, integrity of
//! what is read and stored, a crash mid-run, failures inside a verify pass. Each gets one message,
//! exit 2 (or the documented status), never a panic.
//!
//! One test binary of several modules (one file each), so that `cargo test` links a few binaries
//! instead of one per file; `cargo test --release --test inputs MODULE::` runs one module.

#[path = "../common/mod.rs"]
mod common;

mod adversarial_archives;
mod adversarial_inputs;
mod bad_input;
mod crash;
mod integrity;
mod integrity_input;
mod verify_failures;
