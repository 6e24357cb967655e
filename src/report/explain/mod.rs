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
                "{model_id}: cannot tell apart: {} candidates reach the reference on {} ({}){}; {}",
                apart.candidates.len(),
                count_of_images(images, "these"),
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
            "about {} would separate {first} from {whom} ({} now, by {}; closest: {})",
            count_of_images(needed as usize, ""),
            count_of_images(images, ""),
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

/// `these 1 images` reads wrong: `this image`, `these 3 images`, and without a word `1 image`.
pub fn count_of_images(n: usize, these: &str) -> String {
    match (n, these) {
        (1, "these") => "this image".into(),
        (1, "") => "1 image".into(),
        (_, "") => format!("{} images", thousands(n as u64)),
        _ => format!("{these} {} images", thousands(n as u64)),
    }
}

/// `14800` as `14,800`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
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
        "Sample: {} of {} ({} labelled, labels {}){}.",
        count_of_images(report.images, ""),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::explain::{Candidate, decide};
    use crate::image::pipelines::PillowCompat;
    use crate::report::Render;

    fn evidence(name: &str, origin: &'static str, top1: f64, reaches: bool) -> Evidence {
        Evidence {
            candidate: Candidate {
                name: name.into(),
                recipe: crate::image::recipe::preset("torchvision").unwrap(),
                compat: PillowCompat::V13,
                label_offset: 0,
                changes: if origin == "manifest" {
                    Vec::new()
                } else {
                    vec![format!("filter: BILINEAR -> {}", &name[name.len() - 7..])]
                },
                origin,
            },
            images: 100,
            labelled: 100,
            failed: 0,
            top1,
            top5: 93.0,
            top1_interval: crate::report::percent_interval(top1 as usize, 100),
            top5_interval: crate::report::percent_interval(93, 100),
            agreement_top1: None,
            agreement_top5: None,
            reaches,
        }
    }

    /// The case (LANCZOS and the manifest's BILINEAR both hold 70.8 on 100 images) as
    /// a report, in each format.
    fn report() -> Report {
        let candidates = vec![
            evidence("own+LANCZOS", "variation", 72.0, true),
            evidence("own", "manifest", 65.0, true),
            evidence("own+NEAREST", "variation", 40.0, false),
        ];
        let decision = decide(&candidates);
        let best = &candidates[0];
        Report {
            model_id: "mine/m".into(),
            verdict: decision.verdict,
            manifest_recipe: "own".into(),
            pillow_compat: "13".into(),
            dataset: "sample".into(),
            sample_labels: "from the layout".into(),
            images: 100,
            labelled: 100,
            failed: 0,
            expected: Some(Expected {
                source: "paper".into(),
                top1: 70.8,
                top5: Some(90.0),
            }),
            measured_on: Some(MeasuredOn {
                image_set: "ilsvrc2012-val".into(),
                images: 50_000,
                labels: "original ILSVRC2012".into(),
                sample_is_part: true,
            }),
            against: None,
            best: Best {
                recipe: best.candidate.name.clone(),
                changes: best.candidate.changes.clone(),
                top1: best.top1,
                top5: best.top5,
                agreement_top1: None,
                agreement_top5: None,
                tied_with: Vec::new(),
            },
            summary: summary_line("mine/m", &decision, best, 100),
            cannot_tell_apart: decision.cannot_tell_apart,
            cost: Cost {
                candidates: 3,
                tensors: 3,
                preprocess_ms_per_image: 1.0,
                inference_ms_per_tensor: 1.0,
            },
            candidates,
        }
    }

    #[test]
    fn cannot_tell_apart_is_said_in_every_format_with_the_images_that_would_separate_them() {
        let report = report();
        let needed = crate::eval::explain::decide::images_to_separate(0.72, 0.65).unwrap();
        assert!(needed > 100, "{needed}");
        let count = format!(
            "about {} images would separate own+LANCZOS",
            thousands(needed)
        );
        assert!(report.summary.contains("mine/m: cannot tell apart: 2 candidates reach the reference on these 100 images (own+LANCZOS, own), the manifest's recipe among them"), "{}", report.summary);
        assert!(report.summary.contains(&count), "{}", report.summary);

        let text = Text.render(&report);
        for said in [
            "Sample: 100 images of sample (100 labelled, labels from the layout).",
            "Reference: paper: 70.80% top-1, 90.00% top-5, measured on ilsvrc2012-val (50,000 images) with the original ILSVRC2012 labels; the sample is a part of that set.",
            "Cannot tell apart: 2 candidates reach the reference: own+LANCZOS, own.",
            &count,
            "Method: the smallest number of images",
            "top-5 [95%]",
        ] {
            assert!(text.contains(said), "{said}\n{text}");
        }
        let html = Html.render(&report);
        for said in [
            "<li>Cannot tell apart: 2 candidates",
            &count,
            "<li>Reference: paper: 70.80% top-1",
        ] {
            assert!(html.contains(said), "{said}\n{html}");
        }
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["verdict"], "cannot-tell-apart");
        assert_eq!(
            json["cannot_tell_apart"]["candidates"],
            serde_json::json!(["own+LANCZOS", "own"])
        );
        assert_eq!(json["cannot_tell_apart"]["images_needed"], needed);
        assert_eq!(json["cannot_tell_apart"]["manifest_recipe_among"], true);
        assert_eq!(json["measured_on"]["labels"], "original ILSVRC2012");
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(count_of_images(1, "these"), "this image");
        assert_eq!(count_of_images(1, ""), "1 image");
        assert_eq!(count_of_images(14_800, ""), "14,800 images");
        assert_eq!(count_of_images(3, "these"), "these 3 images");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
