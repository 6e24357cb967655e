//! `zoorepro explain`'s report: one serde struct ([`Report`]) that `--format json` prints as it
//! is, and one file per other format ([`text`], [`html`]). The candidates, their evidence and the
//! verdict are [`crate::eval::explain`]'s.

pub mod html;
pub mod text;

use serde::Serialize;

use crate::eval::explain::{CannotTellApart, Decision, Evidence, Expected, ExplainVerdict};
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

/// Where the expected number was measured: the image set and the labels it was scored with.
#[derive(Serialize)]
pub struct MeasuredOn {
    pub image_set: String,
    pub images: usize,
    /// The label set (`original`: ILSVRC2012's own labels, the only ones a verdict uses).
    pub labels: String,
    /// Whether the sample is judged by the interval of a part of that set (`true`) or was
    /// measured itself (`false`).
    pub sample_is_part: bool,
}

/// The whole explanation: the sample, what it is compared with, and every candidate ranked.
#[derive(Serialize)]
pub struct Report {
    pub model_id: String,
    pub verdict: ExplainVerdict,
    pub manifest_recipe: String,
    pub pillow_compat: String,
    pub dataset: String,
    /// Where the sample's labels come from: the layout, or `--ground-truth FILE`.
    pub sample_labels: String,
    pub images: usize,
    /// Images of the sample that carry a label (the accuracies' denominator).
    pub labelled: usize,
    pub failed: usize,
    pub expected: Option<Expected>,
    pub measured_on: Option<MeasuredOn>,
    pub against: Option<Against>,
    pub best: Best,
    /// Set when more than one candidate reaches the reference: all of them, and the images that
    /// would separate them.
    pub cannot_tell_apart: Option<CannotTellApart>,
    pub summary: String,
    pub cost: Cost,
    pub candidates: Vec<Evidence>,
}

/// How many names a summary line lists before "and N more" (the report lists all).
const SUMMARY_NAMES: usize = 4;

/// The one line that says what the evidence shows, as stderr and every format state it. `best`
/// is the first-ranked candidate; `images` the sample's size.
pub fn summary_line(model_id: &str, decision: &Decision, best: &Evidence, images: usize) -> String {
    match decision.verdict {
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
        ExplainVerdict::CannotTellApart => {
            let apart = decision
                .cannot_tell_apart
                .as_ref()
                .expect("cannot-tell-apart carries its candidates");
            format!(
                "{model_id}: cannot tell apart: {} candidates reach the reference on these {images} images ({}){}; {}",
                apart.candidates.len(),
                listed(&apart.candidates),
                if apart.manifest_recipe_among {
                    ", the manifest's recipe among them"
                } else {
                    ", the manifest's recipe not among them"
                },
                separation(apart, &best.candidate.name, images)
            )
        }
    }
}

fn listed(names: &[String]) -> String {
    if names.len() <= SUMMARY_NAMES {
        return names.join(", ");
    }
    format!(
        "{}, and {} more",
        names[..SUMMARY_NAMES].join(", "),
        names.len() - SUMMARY_NAMES
    )
}

/// How many images would separate them, in words: the count against the sample's, or why there
/// is none and what to do instead.
pub fn separation(apart: &CannotTellApart, first: &str, images: usize) -> String {
    let counted = |needed: u64, whom: &str| {
        format!(
            "about {} images would separate {first} from {whom} ({} now, by {}; closest: {})",
            thousands(needed),
            thousands(images as u64),
            apart.rate,
            apart.closest.as_deref().unwrap_or("-")
        )
    };
    let advice = "--against a trusted run compares predictions image by image";
    match (apart.images_needed, apart.images_needed_for_the_rest) {
        (Some(needed), _) => format!("{}; {advice}", counted(needed, "the others")),
        (None, rest) => {
            let same = format!(
                "no finite number of images separates {first} from {} ({}): the same {} here",
                if apart.same_rate.len() == 1 {
                    "1 other".to_string()
                } else {
                    format!("{} others", apart.same_rate.len())
                },
                listed(&apart.same_rate),
                apart.rate
            );
            match rest {
                Some(needed) => format!("{same}; {}; {advice}", counted(needed, "the rest")),
                None => format!("{same}; {advice}"),
            }
        }
    }
}

/// `14800` as `14,800`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the candidates were compared with and on what, one sentence a line, as the text and
/// HTML formats state it before the candidates.
pub fn comparison_lines(report: &Report) -> Vec<String> {
    let mut lines = vec![format!(
        "Sample: {} images of {} ({} labelled, labels {}){}.",
        report.images,
        report.dataset,
        report.labelled,
        report.sample_labels,
        if report.failed > 0 {
            format!(", {} failed", report.failed)
        } else {
            String::new()
        }
    )];
    if let Some(expected) = &report.expected {
        let top5 = expected.top5.map_or_else(
            || "no top-5 published".to_string(),
            |t| format!("{t:.2}% top-5"),
        );
        let on = report.measured_on.as_ref().map_or(String::new(), |m| {
            format!(
                ", measured on {} ({} images) with the {} labels{}",
                m.image_set,
                thousands(m.images as u64),
                m.labels,
                if m.sample_is_part {
                    "; the sample is a part of that set"
                } else {
                    ""
                }
            )
        });
        lines.push(format!(
            "Reference: {}: {:.2}% top-1, {top5}{on}.{}",
            expected.source,
            expected.top1,
            if report.against.is_none() {
                " A candidate reaches it when its 95% top-1 (and top-5) intervals hold it."
            } else {
                ""
            }
        ));
    }
    if let Some(against) = &report.against {
        lines.push(format!(
            "Against run {} ({}, recipe {}, {} images): a candidate reaches it when its top-1 equals the run's on at least {}% of the images both scored.",
            against.run,
            against.model_id,
            against.recipe,
            against.images,
            crate::eval::explain::AGREEMENT_THRESHOLD
        ));
    }
    if let Some(apart) = &report.cannot_tell_apart {
        lines.push(format!(
            "Cannot tell apart: {} candidates reach the reference: {}.",
            apart.candidates.len(),
            apart.candidates.join(", ")
        ));
        lines.push(format!(
            "Images to separate them: {}.",
            separation(apart, &report.best.recipe, report.images)
        ));
        lines.push(format!("Method: {}.", apart.method));
    }
    lines
}
