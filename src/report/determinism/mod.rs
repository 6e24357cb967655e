//! `zoorepro determinism`'s report: one serde struct ([`Report`]) that `--json` prints as it is,
//! and its [`text`] format. The analysis is [`crate::eval::determinism`].

pub mod text;

use serde::Serialize;

use crate::eval::determinism::{AxisRow, DeterminismVerdict};
use crate::report::OnnxInfo;

pub use text::Text;

#[derive(Clone, Debug, Serialize)]
/// A check the study could not run, and why.
pub struct Skipped {
    pub what: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
/// An image of the sample that could not be preprocessed.
pub struct FailedImage {
    pub file: String,
    pub error: String,
}

/// The whole study: what was run, each axis's comparison and the verdict.
#[derive(Debug, Serialize)]
pub struct Report {
    pub model_id: String,
    pub onnx: OnnxInfo,
    pub recipe: String,
    pub pillow_compat: String,
    pub dataset: String,
    /// The images compared, in the order of their names.
    pub images: Vec<String>,
    pub failed: Vec<FailedImage>,
    pub batch_sizes: Vec<usize>,
    pub repeats: usize,
    pub threads: Vec<usize>,
    pub opt_levels: Vec<&'static str>,
    pub providers: Vec<&'static str>,
    pub configurations: Vec<String>,
    pub ort_version: String,
    pub rounding_tolerance: f64,
    pub skipped: Vec<Skipped>,
    pub axes: Vec<AxisRow>,
    pub verdict: DeterminismVerdict,
    pub summary: String,
}
