use std::fmt::Write;

use super::{Exporter, RunRecord, VerdictStatus};

pub struct MarkdownExporter;

/// Table cells must not break the row nor carry markup: see [`crate::util::escape`].
fn cell(text: &str) -> String {
    crate::util::escape::markdown_text(text)
}

/// A name or path shown literally, in a code span nothing inside can end.
fn code(text: &str) -> String {
    crate::util::escape::markdown_code(text)
}

/// A reference's figure, or what one the source does not publish (MLPerf's top-5) shows as.
fn published(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "—".to_string(), format)
}

impl Exporter for MarkdownExporter {
    fn extension(&self) -> &'static str {
        "md"
    }

    fn render(&self, r: &RunRecord) -> String {
        let mut out = String::new();
        write_summary(&mut out, r);
        write_references(&mut out, r);
        write_worst_classes(&mut out, r);
        write_failures(&mut out, r);
        write_provenance(&mut out, r);
        out
    }
}

/// The verdict, the figures and what was evaluated.
fn write_summary(out: &mut String, r: &RunRecord) {
    let verdict = match r.verdict.status {
        VerdictStatus::Reproduced => "REPRODUCED",
        VerdictStatus::Drift => "DRIFT",
        VerdictStatus::NoReference => "NO REFERENCE",
        VerdictStatus::Consistent => "CONSISTENT",
    };
    let marks = if r.verdict.marks.is_empty() {
        String::new()
    } else {
        format!(" [{}]", crate::eval::trust::marks_text(&r.verdict.marks))
    };
    let _ = writeln!(out, "# {} — {verdict}{marks}\n", cell(&r.model_id));
    let _ = writeln!(out, "{}\n", cell(&r.verdict.summary));
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| top-1 | {} ({} / {}){} |",
        super::percent_text(r.top1, 3),
        r.top1_correct,
        r.images,
        interval_text(r.top1_interval)
    );
    let _ = writeln!(
        out,
        "| top-5 | {} ({} / {}){} |",
        super::percent_text(r.top5, 3),
        r.top5_correct,
        r.images,
        interval_text(r.top5_interval)
    );
    let _ = writeln!(
        out,
        "| images evaluated / failed | {} / {} |",
        r.evaluated, r.failed
    );
    let _ = writeln!(
        out,
        "| recipe | {} ({}) |",
        code(&r.recipe.name),
        super::resampling_label(&r.recipe.pillow_compat)
    );
    write_model_row(out, r);
    if let Some(like) = &r.onnx.like {
        let _ = writeln!(out, "| like | {} |", cell(&like.note));
    }
    write_image_set_rows(out, r);
    let _ = writeln!(
        out,
        "| tolerance | {} points of top-1 |\n",
        r.verdict.tolerance
    );
}

/// What ran: the ONNX file (path, sha256, verification, graph names), or a native model (the
/// caller's name, framework and checkpoint digest), every value escaped: a caller's text
/// (`framework=`, `name=`) never becomes markup.
fn write_model_row(out: &mut String, r: &RunRecord) {
    match r.onnx.native() {
        Some(native) => {
            let _ = writeln!(
                out,
                "| model | {}: run natively by its caller (zoorepro.evaluate), framework {}, checkpoint sha256 {} ({}) |",
                code(&native.name),
                native.framework.as_deref().map_or("not named".into(), cell),
                native
                    .checkpoint_sha256
                    .as_deref()
                    .map_or("not given".into(), code),
                cell(&r.onnx.verification)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "| ONNX | {} sha256 {} ({}){} |",
                code(&r.onnx.path),
                code(&r.onnx.sha256),
                cell(&r.onnx.verification),
                r.onnx
                    .io_names
                    .as_ref()
                    .map(|n| format!(", input {}, output {}", code(&n.input), code(&n.output)))
                    .unwrap_or_default()
            );
        }
    }
}

/// The summary table's rows on the image set: its name and digest, the classes it is scored on,
/// what the verdict rule checked of it, and the expected reference's origin.
fn write_image_set_rows(out: &mut String, r: &RunRecord) {
    let set_name = r.dataset.image_set_name.as_deref().unwrap_or("unnamed");
    let _ = writeln!(
        out,
        "| image set | {}, sha256 {} ({} layout at {}) |",
        cell(set_name),
        code(&r.dataset.image_set_sha256),
        cell(&r.dataset.layout),
        code(&r.dataset.path)
    );
    let _ = writeln!(
        out,
        "| labels | {}; {} unlabelled images |",
        cell(&r.dataset.labels_text()),
        r.dataset.unlabelled
    );
    if let Some(subset) = &r.dataset.scored_classes {
        let _ = writeln!(
            out,
            "| scored classes | {} (only these columns of the output compete, as the set's authors score it) |",
            cell(subset)
        );
    }
    if let Some(check) = &r.image_set {
        let _ = writeln!(
            out,
            "| image set check | identity {}, coverage {}, {}, {} labels disagreeing with the ILSVRC2012 ground truth |",
            check.identity.name(),
            check.coverage.name(),
            super::duplicates_text(&check.duplicates),
            check.label_disagreements
        );
    }
    match r.references.iter().find(|reference| reference.expected) {
        Some(expected) => {
            let _ = writeln!(
                out,
                "| decided by | {} ({}) |",
                cell(&expected.source),
                cell(&expected.origin.describe())
            );
        }
        None => {
            let _ = writeln!(out, "| decided by | no reference |");
        }
    }
}

/// Every applicable reference with its delta.
fn write_references(out: &mut String, r: &RunRecord) {
    let _ = writeln!(out, "## References\n");
    if r.references.is_empty() {
        let _ = writeln!(
            out,
            "No reference of this manifest was measured on this image set.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "| source | recipe | top-1 | top-5 | Δ top-1 | Δ top-5 | role | note |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|---|");
        for reference in &r.references {
            let _ = writeln!(
                out,
                "| {} | {} | {:.3} | {} | {:+.3} | {} | {} | {} |",
                cell(&reference.source),
                cell(reference.recipe.as_deref().unwrap_or("undocumented")),
                reference.top1,
                published(reference.top5, |v| format!("{v:.3}")),
                reference.delta_top1,
                published(reference.delta_top5, |v| format!("{v:+.3}")),
                if reference.expected {
                    "expected"
                } else {
                    "informative"
                },
                cell(&reference.note)
            );
        }
        out.push('\n');
    }
}

/// The classes the model gets wrong most (the record holds every class's figures).
fn write_worst_classes(out: &mut String, r: &RunRecord) {
    if r.per_class.len() < 2 {
        return;
    }
    let worst = crate::eval::classes::worst(&r.per_class, WORST_CLASSES);
    let _ = writeln!(
        out,
        "## Worst classes ({} of {} classes with images; all in the JSON record)\n",
        worst.len(),
        r.per_class.len()
    );
    let _ = writeln!(
        out,
        "| class | name | images | top-1 | top-5 |\n|---|---|---|---|---|"
    );
    for class in worst {
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {:.1}% | {:.1}% |",
            class.class,
            code(&class.wnid),
            cell(&class.name),
            class.images,
            class.top1(),
            class.top5()
        );
    }
    out.push('\n');
}

/// Classes listed in a report's worst-classes table.
const WORST_CLASSES: usize = 10;

/// The failed images listed in the record.
fn write_failures(out: &mut String, r: &RunRecord) {
    if !r.failures.is_empty() {
        let _ = writeln!(out, "## Failed images (counted as incorrect)\n");
        for failure in &r.failures {
            let _ = writeln!(out, "- {}: {}", code(&failure.file), cell(&failure.error));
        }
        out.push('\n');
    }
}

/// How the run was made.
fn write_provenance(out: &mut String, r: &RunRecord) {
    let p = &r.provenance;
    let _ = writeln!(out, "## Provenance\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| zoorepro | {} |", p.tool_version);
    let _ = writeln!(out, "| command | {} |", code(&p.command_line.join(" ")));
    if !p.home.is_empty() {
        let _ = writeln!(out, "| home (manifests, models) | {} |", code(&p.home));
    }
    write_runtime(out, r);
    let _ = writeln!(
        out,
        "| started / finished | {} / {} |",
        p.started_at, p.finished_at
    );
    let _ = writeln!(
        out,
        "| images inferred / seconds / images/s | {} / {:.2} / {:.1} |",
        p.inferred, p.seconds, p.images_per_second
    );
    let _ = writeln!(
        out,
        "| host | {} {} , {} CPUs |",
        p.host.os, p.host.arch, p.host.cpus
    );
    if let Some(nan_outputs) = r.nan_outputs_text() {
        let _ = writeln!(out, "| model outputs with NaN | {} |", cell(&nan_outputs));
    }
    if let Some(store) = &r.store {
        let _ = writeln!(
            out,
            "| store | run {} in {}, key {}, {} images reused |",
            store.run_id,
            code(&store.database),
            code(&store.key),
            store.reused
        );
    }
}

/// What ran the model: ONNX Runtime (its library, provider and settings), or, for a native
/// run, the caller's framework, which no ONNX Runtime setting describes.
fn write_runtime(out: &mut String, r: &RunRecord) {
    let p = &r.provenance;
    if r.onnx.native().is_some() {
        let _ = writeln!(
            out,
            "| runtime / threads / batch | {}, the caller's function (no ONNX Runtime) / {} / {} |",
            cell(&p.provider),
            p.threads,
            p.batch
        );
        let _ = writeln!(
            out,
            "| deterministic compute | not known (the caller's framework ran the model) |"
        );
        return;
    }
    let _ = writeln!(
        out,
        "| ONNX Runtime | {} ({}, sha256 {}) |",
        cell(&p.ort_version),
        code(&p.ort_library),
        code(&p.ort_library_sha256)
    );
    let _ = writeln!(
        out,
        "| provider / threads / batch | {} / {} / {} |",
        cell(&p.provider),
        p.threads,
        p.batch
    );
    let _ = writeln!(
        out,
        "| graph optimization / deterministic compute | {} / {} |",
        cell(&p.graph_optimization_level),
        p.deterministic_compute
    );
}

/// ", 95% interval lo–hi" for a table cell, or nothing without one.
fn interval_text(interval: Option<[f64; 2]>) -> String {
    interval.map_or(String::new(), |[lo, hi]| {
        format!(", 95% interval {lo:.2}–{hi:.2}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_names_the_verdict_and_escapes_cells() {
        let text = MarkdownExporter.render(&crate::report::tests::sample_record());
        assert!(text.starts_with("# coral/mobilenet_v2_1.0_224_quant — REPRODUCED"));
        assert!(text.contains("| top-1 | 72.000% (72 / 100), 95% interval 62.51–79.86 |"));
        assert!(text.contains("a \\| note"), "pipes in notes are escaped");
        assert!(text.contains("`bad.JPEG`: truncated"));
        // Class 65 (0 of 3 right) leads the worst classes, before class 1 (1 of 2).
        let worst = text
            .split("## Worst classes (3 of 3 classes")
            .nth(1)
            .expect("worst classes");
        let first_row = worst.lines().find(|l| l.starts_with("| 65 ")).unwrap();
        assert!(first_row.ends_with("| 3 | 0.0% | 33.3% |"), "{first_row}");
        assert!(worst.find("| 65 ").unwrap() < worst.find("| 1 ").unwrap());
        let mut record = crate::report::tests::sample_record();
        record.failures[0].file = "n01440764/x`<img src=x onerror=alert(1)>`\r\x1b[2K.JPEG".into();
        record.failures[0].error = "<b>bold</b>\nforged line".into();
        let text = MarkdownExporter.render(&record);
        assert!(
            text.contains("- ``n01440764/x`<img src=x onerror=alert(1)>`\\r\\x1b[2K.JPEG``: &lt;b&gt;bold&lt;/b&gt;\\nforged line"),
            "{text}"
        );
        assert!(!text.contains('\r') && !text.contains('\x1b'));
    }

    #[test]
    fn the_verdict_names_the_reference_that_decided_it() {
        let mut record = crate::report::tests::sample_record();
        let text = MarkdownExporter.render(&record);
        let decided = text
            .lines()
            .find(|l| l.starts_with("| decided by |"))
            .expect("a decided-by row");
        assert!(decided.starts_with("| decided by | oracle ("), "{decided}");
        // No expected reference: the row says so rather than leaving the verdict unexplained.
        for reference in &mut record.references {
            reference.expected = false;
        }
        let text = MarkdownExporter.render(&record);
        assert!(text.contains("| decided by | no reference |"), "{text}");
    }

    #[test]
    fn an_unpublished_top5_shows_as_a_dash() {
        let mut record = crate::report::tests::sample_record();
        record.references[0].top5 = None;
        record.references[0].delta_top5 = None;
        let text = MarkdownExporter.render(&record);
        let row = text.lines().find(|l| l.starts_with("| oracle ")).unwrap();
        assert!(row.contains("| — | ") && !row.contains("NaN"), "{row}");
    }

    /// A caller's `framework=` and `name=` in a native record: shown, never markup.
    const HOSTILE: &str = "torch)\n\n# VERIFIED: top-1 99.9% | x |\n\n<b>pinned</b> `(";

    #[test]
    fn a_native_record_escapes_what_its_caller_named_and_says_what_ran() {
        let record = crate::report::tests::native_record(HOSTILE, HOSTILE);
        let text = MarkdownExporter.render(&record);
        let headings: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(
            headings,
            [
                "# coral/mobilenet_v2_1.0_224_quant — REPRODUCED",
                "## References",
                "## Worst classes (3 of 3 classes with images; all in the JSON record)",
                "## Failed images (counted as incorrect)",
                "## Provenance"
            ],
            "{text}"
        );
        // Raw HTML only inside the name's code span, where it is text.
        assert!(!text.contains("\n# VERIFIED"), "{text}");
        assert_eq!(text.matches("<b>").count(), 1, "{text}");
        // Every table row stays one row: as many cells as its table's header.
        for line in text.lines().filter(|l| l.starts_with("| ")) {
            let cells = line.matches('|').count() - line.matches("\\|").count();
            assert!(cells == 3 || cells >= 5, "{line}");
        }
        let model = text.lines().find(|l| l.starts_with("| model |")).unwrap();
        assert!(
            model.contains("run natively by its caller (zoorepro.evaluate), framework torch)\\n")
                && model.contains(&format!("checkpoint sha256 `{}` (native)", "ab".repeat(32))),
            "{model}"
        );
        assert!(
            !text.contains("ONNX Runtime |") && !text.contains("| ONNX |"),
            "{text}"
        );
        let runtime = text.lines().find(|l| l.starts_with("| runtime")).unwrap();
        assert!(
            runtime.starts_with("| runtime / threads / batch | native (torch)\\n")
                && runtime.ends_with("the caller's function (no ONNX Runtime) / 2 / 32 |"),
            "{runtime}"
        );
        assert!(
            text.contains("| deterministic compute | not known"),
            "{text}"
        );
    }
}
