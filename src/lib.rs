//! zoorepro: bit-exact ImageNet evaluation of ONNX classifiers, with a record anyone can re-check.
//!
//! Subsystems are folders with a small façade (`mod.rs`); `commands/` holds one file per
//! subcommand and is the only place that prints. ARCHITECTURE.md draws the tree.

pub mod cli;
pub mod commands;
pub mod dataset;
pub mod eval;
pub mod exit;
pub mod image;
pub mod model;
pub mod npy;
#[cfg(feature = "python")]
mod python;
pub mod report;
pub mod runtime;
pub mod seed;
pub mod store;
#[doc(hidden)]
pub mod testing;
pub mod util;
