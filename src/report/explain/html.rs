//! `explain --format html`: the report as the page [`crate::report::html::explain`] draws.

use super::Report;
use crate::report::Render;
use crate::report::html::explain::{ExplainPage, Row};

/// The page: what was compared, then every candidate's top-1 with its interval against the
/// expected number, and top-5 in the table.
pub struct Html;

impl Render<Report> for Html {
    fn render(&self, report: &Report) -> String {
        crate::report::html::explain::render(&page(report))
    }
}

fn page(report: &Report) -> ExplainPage {
    ExplainPage {
        title: format!("explain {}", report.model_id),
        summary: report.summary.clone(),
        comparison: super::comparison_lines(report),
        pairing: report
            .against
            .as_ref()
            .map(|against| against.pairing.lines())
            .unwrap_or_default(),
        expected_top1: report.expected.as_ref().map(|e| e.top1),
        rows: report
            .candidates
            .iter()
            .map(|e| Row {
                name: e.candidate.name.clone(),
                changes: e.candidate.changes.join("; "),
                top1: e.top1,
                interval: e.top1_interval,
                top5: e.top5,
                top5_interval: e.top5_interval,
                agreement_top1: e.agreement_top1,
                reaches: e.reaches,
            })
            .collect(),
    }
}
