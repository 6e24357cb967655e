//! zoorepro: bit-exact ImageNet evaluation of ONNX classifiers, with a record anyone can re-check.
//!
//! The library is organised one module per concern; `commands/` holds one file per subcommand and
//! is the only place that prints.

pub mod cli;
pub mod commands;
pub mod dataset;
pub mod decode;
pub mod escape;
pub mod exit;
pub mod labels;
pub mod manifest;
pub mod npy;
pub mod onnx;
pub mod pipeline;
pub mod preprocess;
pub mod rank;
pub mod raster;
pub mod recipe;
pub mod report;
pub mod resample;
pub mod runtime;
pub mod safe_file;
pub mod scoring;
pub mod seed;
pub mod stats;
pub mod store;
