//! The verdict rule and what it rests on: the model-based test of the rule, the trust marks of
//! real runs, pairing images by name and content, the home's manifests, a model file read once.
//!
//! One test binary of several modules (one file each), so that `cargo test` links a few binaries
//! instead of one per file; `cargo test --release --test trust MODULE::` runs one module.

#[path = "../common/mod.rs"]
mod common;

mod home;
mod model_bytes;
mod pairing;
mod trust;
mod trust_model;
