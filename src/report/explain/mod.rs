//! `zoorepro explain`'s report: one serde struct ([`Report`]) that `--format json` prints as it
//! is, and one file per other format ([`text`], [`html`]). The candidates, their evidence and the
//! verdict are [`crate::eval::explain`]'s.

pub mod html;
pub mod text;

use serde::Serialize;

use crate::eval::explain::{Evidence, Expected, ExplainVerdict};
use crate::eval::pairing::PairingNotes;

pub use html::Html;
pub use text::Text;

/// The reference prediction set of `--against`.
#[derive(Serialize)]
pub struct Against {
    pub run: i64,
    pub model_id: String,
    pub recipe: String,
    /// Images the reference run scored.
    pub images: usize,
    /// Images of the sample whose content differs from the reference run's (left out of the
    /// sample), and those paired by name alone.
    #[serde(flatten)]
    pub pairing: PairingNotes,
}

/// The candidate that fits best.
#[derive(Serialize)]
pub struct Best {
    pub recipe: String,
    pub changes: Vec<String>,
    pub top1: f64,
    pub top5: f64,
    pub agreement_top1: Option<f64>,
    pub agreement_top5: Option<f64>,
    /// Candidates with the same figures on this sample: the evidence cannot tell them apart
    /// (`--against` or more samples can).
    pub tied_with: Vec<String>,
}

/// What the evidence cost: the work candidates share, per image.
#[derive(Serialize)]
pub struct Cost {
    pub candidates: usize,
    /// Distinct tensors (candidates differing only in label offset share one).
    pub tensors: usize,
    /// Decode and every tensor of one image, one core's milliseconds.
    pub preprocess_ms_per_image: f64,
    /// One tensor of one image through the model.
    pub inference_ms_per_tensor: f64,
}

/// The whole explanation: the sample, what it is compared with, and every candidate ranked.
#[derive(Serialize)]
pub struct Report {
    pub model_id: String,
    pub verdict: ExplainVerdict,
    pub manifest_recipe: String,
    pub pillow_compat: String,
    pub dataset: String,
    pub images: usize,
    pub failed: usize,
    pub expected: Option<Expected>,
    pub against: Option<Against>,
    pub best: Best,
    pub summary: String,
    pub cost: Cost,
    pub candidates: Vec<Evidence>,
}

/// The one line that says what the evidence shows, as stderr and every format state it.
pub fn summary_line(model_id: &str, verdict: ExplainVerdict, best: &Evidence) -> String {
    match verdict {
        ExplainVerdict::RecipeConfirmed => format!(
            "{model_id}: recipe-confirmed: the manifest's recipe {} fits best ({:.2}% top-1)",
            best.candidate.name, best.top1
        ),
        ExplainVerdict::PipelineExplains => format!(
            "{model_id}: pipeline-explains: {} fits ({}), {:.2}% top-1",
            best.candidate.name,
            best.candidate.changes.join("; "),
            best.top1
        ),
        ExplainVerdict::NotThePipeline => format!(
            "{model_id}: not-the-pipeline: no candidate input pipeline reaches the reference (closest: {}, \
             {:.2}% top-1); the model, the export or the runtime differs: try `zoorepro determinism` \
             and scripts/export/check_export.py",
            best.candidate.name, best.top1
        ),
    }
}
