//! `explain`'s text format: the sample and what it is compared with, then every candidate ranked
//! in aligned columns, and what the evidence cost.

use super::Report;
use crate::report::Render;

/// The text report, the default.
pub struct Text;

fn percent_with(value: f64, interval: Option<[f64; 2]>) -> String {
    match interval {
        Some([lo, hi]) => format!("{value:.2} [{lo:.1}, {hi:.1}]"),
        None => format!("{value:.2}"),
    }
}

impl Render<Report> for Text {
    fn render(&self, report: &Report) -> String {
        text(report)
    }
}

fn text(report: &Report) -> String {
    let mut rows = vec![
        [
            "#",
            "candidate",
            "reaches",
            "top-1 [95%]",
            "top-5 [95%]",
            "agree top-1",
            "agree top-5",
            "changes",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let agreement = |value: Option<f64>| value.map_or("-".into(), |v| format!("{v:.1}"));
    for (i, e) in report.candidates.iter().enumerate() {
        rows.push(vec![
            (i + 1).to_string(),
            e.candidate.name.clone(),
            if e.reaches { "yes" } else { "-" }.into(),
            percent_with(e.top1, e.top1_interval),
            percent_with(e.top5, e.top5_interval),
            agreement(e.agreement_top1),
            agreement(e.agreement_top5),
            if e.candidate.changes.is_empty() {
                "(the manifest's recipe)".into()
            } else {
                e.candidate.changes.join("; ")
            },
        ]);
    }
    let mut out = crate::util::escape::terminal(&format!(
        "{} on {} of {}",
        report.model_id,
        super::count_of_images(report.images, ""),
        report.dataset
    ));
    for line in super::comparison_lines(report) {
        out += &format!("\n{}", crate::util::escape::terminal(&line));
    }
    if let Some(against) = &report.against {
        for line in against.pairing.lines() {
            out += &format!("\n{}", crate::util::escape::terminal(&line));
        }
    }
    out += "\n\n";
    out += &crate::util::text_table::aligned(&rows);
    out += &format!(
        "\n{} candidates, {} distinct tensors: {:.2} ms of preprocessing per image (one core), {:.2} ms of inference per tensor\n",
        report.cost.candidates,
        report.cost.tensors,
        report.cost.preprocess_ms_per_image,
        report.cost.inference_ms_per_tensor
    );
    out
}
