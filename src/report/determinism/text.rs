//! `determinism`'s text format: what was run, the table of axes, the top-1 flips and the worst
//! images, and the verdict.

use super::Report;
use crate::eval::determinism::{AxisRow, format_difference};
use crate::report::Render;

/// The text report (`--json` prints the [`Report`] itself).
pub struct Text;

/// Top-1 flips listed in the text report: a screenful; the count is always complete, and `--json`
/// lists them all.
const LISTED_FLIPS: usize = 20;

impl Render<Report> for Text {
    fn render(&self, report: &Report) -> String {
        text(report)
    }
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} ({}, {}), recipe {}, {} images from {}\nconfigurations: {}\nbatch sizes: {:?}, repeats: {}, ONNX Runtime {}\n",
        report.model_id,
        report.onnx.path,
        report.onnx.verification,
        report.recipe,
        report.images.len(),
        report.dataset,
        report.configurations.join(", "),
        report.batch_sizes,
        report.repeats,
        report.ort_version
    ));
    for s in &report.skipped {
        out.push_str(&format!("skipped: {} ({})\n", s.what, s.reason));
    }
    out.push('\n');
    out.push_str(&axis_table(&report.axes));
    // A changed prediction matters more than the size of a difference: flips come first.
    out.push_str(&flips_text(&report.axes, LISTED_FLIPS));
    out.push_str(&worst_text(&report.axes));
    out.push_str(&format!("\nverdict: {}\n", report.verdict.name()));
    out
}

fn axis_table(axes: &[AxisRow]) -> String {
    let mut out = format!(
        "{:<12} {:<22} {:<22} {:>8} {:>9} {:>12} {:>12} {:>6} {:>6}\n",
        "axis", "value", "against", "compared", "identical", "max abs", "max rel", "top-1", "top-5"
    );
    for row in axes {
        out.push_str(&format!(
            "{:<12} {:<22} {:<22} {:>8} {:>9} {:>12} {:>12} {:>6} {:>6}{}\n",
            row.axis,
            row.value,
            row.reference,
            row.compared,
            row.identical,
            format_difference(row.max_abs_diff),
            format_difference(row.max_rel_diff),
            row.top1_changes,
            row.top5_changes,
            if row.beyond_rounding {
                "  beyond rounding"
            } else {
                ""
            }
        ));
    }
    out
}

/// `index name`, as `compare` names classes.
fn class(index: u16) -> String {
    format!("{index} {}", crate::dataset::labels::class_name(index))
}

/// The images whose top-1 changed, axis by axis, at most `limit` of them, with the total.
fn flips_text(axes: &[AxisRow], limit: usize) -> String {
    let total: usize = axes.iter().map(|r| r.flips.len()).sum();
    if total == 0 {
        return String::new();
    }
    let mut out = if total > limit {
        format!("\ntop-1 flips (showing {limit} of {total}; --json lists all):\n")
    } else {
        format!("\ntop-1 flips ({total}):\n")
    };
    let flips = axes
        .iter()
        .flat_map(|row| row.flips.iter().map(move |flip| (row, flip)));
    for (row, flip) in flips.take(limit) {
        out.push_str(&format!(
            "  {} {} vs {} [{}] {}: {} -> {}\n",
            row.axis,
            row.value,
            row.reference,
            flip.configuration,
            flip.file,
            class(flip.top1_reference),
            class(flip.top1_other)
        ));
    }
    out
}

fn worst_text(axes: &[AxisRow]) -> String {
    let with_worst: Vec<&AxisRow> = axes.iter().filter(|r| !r.worst.is_empty()).collect();
    if with_worst.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nworst images:\n");
    for row in with_worst {
        out.push_str(&format!(
            "  {} {} vs {}:\n",
            row.axis, row.value, row.reference
        ));
        for w in &row.worst {
            out.push_str(&format!(
                "    {} [{}] abs {} rel {} top-1 {} -> {}\n",
                w.file,
                w.configuration,
                format_difference(w.max_abs_diff),
                format_difference(w.max_rel_diff),
                class(w.top1_reference),
                class(w.top1_other)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::determinism::Flip;

    fn row_with_flips(flips: usize) -> AxisRow {
        AxisRow {
            axis: "opt-level",
            value: "all".into(),
            reference: "disable".into(),
            compared: 64,
            identical: 64 - flips,
            max_abs_diff: 0.0,
            max_rel_diff: 1.5e-7,
            top1_changes: flips,
            top5_changes: 0,
            beyond_rounding: false,
            worst: Vec::new(),
            flips: (0..flips)
                .map(|i| Flip {
                    file: format!("ILSVRC2012_val_{i:08}.JPEG"),
                    configuration: "cpu, 2 threads".into(),
                    top1_reference: 0,
                    top1_other: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn flips_are_listed_with_class_names_up_to_the_limit_with_the_total() {
        let text = flips_text(&[row_with_flips(3), row_with_flips(30)], 20);
        assert!(
            text.contains("top-1 flips (showing 20 of 33; --json lists all)"),
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| l.starts_with("  ")).count(), 20);
        assert!(
            text.contains("ILSVRC2012_val_00000000.JPEG: 0 tench -> 1 goldfish"),
            "{text}"
        );
        let all = flips_text(&[row_with_flips(2)], 20);
        assert!(all.contains("top-1 flips (2):"), "{all}");
        assert_eq!(flips_text(&[row_with_flips(0)], 20), "");
    }

    #[test]
    fn a_zero_difference_prints_as_0_and_a_tiny_one_in_scientific_notation() {
        let table = axis_table(&[row_with_flips(0)]);
        let line = table.lines().nth(1).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[5], "0", "{line}");
        assert_eq!(cells[6], "1.500e-7", "{line}");
        assert!(!table.contains("0.000e0"), "{table}");
    }
}
