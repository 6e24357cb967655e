//! Every command end to end through the real binary: verify (one model, many, sharded and merged),
//! add-model, explain, table, import-seed, determinism, the ImageNet variants, an installed
//! binary (and a new user's first hour with it), and output on a terminal.
//!
//! One test binary of several modules (one file each), so that `cargo test` links a few binaries
//! instead of one per file; `cargo test --release --test commands MODULE::` runs one module.

#[path = "../common/mod.rs"]
mod common;

mod add_model;
mod determinism;
mod explain;
mod imagenet_variants;
mod imagenetv2;
mod installed;
mod new_user;
mod own_data;
mod recipe_sources;
mod scale;
mod seed_table;
mod table_views;
mod tables;
mod terminal;
mod verify;
mod verify_many;
