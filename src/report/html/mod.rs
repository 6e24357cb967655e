//! The run record as one self-contained HTML page: inline CSS and SVG, no scripts, no fonts or
//! images fetched from anywhere, readable on a laptop and printable.
//!
//! Markup is written with `maud`: its templates are checked at compile time and every spliced
//! value is HTML-escaped, so file names and manifest text (which users control) cannot end an
//! element or inject markup. The chart is plain SVG laid out here; a plotting crate would bring
//! fonts, raster backends and far more than one dot plot needs.

mod axis;
pub mod compare;
pub mod explain;
mod table;

use axis::Axis;
pub use table::HtmlTable;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Exporter, ReferenceResult, RunRecord, VerdictStatus};

pub struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn extension(&self) -> &'static str {
        "html"
    }

    fn render(&self, record: &RunRecord) -> String {
        crate::util::escape::page(&page(record).into_string())
    }
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.verdict{display:inline-block;padding:.15rem .6rem;border-radius:1rem;font-weight:600}
.reproduced{background:#d9f2de;color:#0b5d1e}.consistent{background:#dde8f8;color:#1d4680}.drift{background:#fbdcdc;color:#8a1111}.no-reference{background:#ececec;color:#444}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .75rem .25rem 0;text-align:left;vertical-align:top}
th{font-weight:600;color:#555}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.85em;word-break:break-all}svg text{font:12px system-ui,sans-serif;fill:#333}
.mark{display:inline-block;padding:.1rem .5rem;border-radius:1rem;border:1px solid #b26b00;color:#b26b00;font-size:.85em}.muted{color:#666}@media print{body{margin:0;max-width:none}.verdict{border:1px solid #999}}
";

fn page(record: &RunRecord) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("zoorepro: {}", record.model_id), ""))
            body {
                (header(record))
                h2 { "Measured against the published numbers" }
                (accuracy_chart(record))
                (reference_table(record))
                (per_class(record))
                (run_details(record))
                (failures(record))
                p.muted { "Written by zoorepro " (record.provenance.tool_version) " at " (record.provenance.finished_at)
                    ". The JSON record beside this page holds every field." }
            }
        }
    }
}

/// The `<head>` every page shares: UTF-8, a viewport for laptops and phones, the title, and the
/// inline style (`STYLE`, then the page's own `extra_style`).
pub(super) fn head(title: &str, extra_style: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            style { (PreEscaped(STYLE)) (PreEscaped(extra_style)) }
        }
    }
}

/// The badge's class is the status's own name, so its colour can never say more than the
/// record: a `consistent` part of the validation set is not painted as `reproduced`.
pub(super) fn verdict_class(status: VerdictStatus) -> &'static str {
    status.name()
}

/// The badge of a verdict: the status as the record spells it, in its colour.
pub(super) fn verdict_badge(status: VerdictStatus) -> Markup {
    html! { span class=(format!("verdict {}", verdict_class(status))) { (status.name()) } }
}

pub(super) fn interval_text(interval: Option<[f64; 2]>) -> String {
    match interval {
        Some([lo, hi]) => format!("{lo:.2}–{hi:.2}"),
        None => "–".into(),
    }
}

fn header(record: &RunRecord) -> Markup {
    html! {
        h1 { (record.model_id) }
        p {
            span class=(format!("verdict {}", verdict_class(record.verdict.status))) id="verdict" {
                (record.verdict.status.name())
            }
            @for mark in &record.verdict.marks {
                " " span.mark title=(mark.explanation()) { (mark.name()) }
            }
            " " (record.verdict.summary)
        }
        table {
            tr { th { "top-1" } td.num { (super::percent_text(record.top1, 2)) }
                 td.muted { (record.top1_correct) " of " (record.images) ", 95% interval "
                            (interval_text(record.top1_interval)) } }
            tr { th { "top-5" } td.num { (super::percent_text(record.top5, 2)) }
                 td.muted { (record.top5_correct) " of " (record.images) ", 95% interval "
                            (interval_text(record.top5_interval)) } }
            tr { th { "failed" } td.num { (record.failed) } td.muted { "counted as incorrect" } }
            @if let Some(check) = &record.image_set {
                tr { th { "image set" } td { (check.identity.name()) }
                     td.muted { "coverage " (check.coverage.name()) ", "
                                (super::duplicates_text(&check.duplicates)) ", "
                                (check.label_disagreements)
                                " labels disagreeing with the ILSVRC2012 ground truth" } }
            }
            @if let Some(expected) = record.references.iter().find(|r| r.expected) {
                tr { th { "decided by" } td { (expected.source) } td.muted { (expected.origin.describe()) } }
            } @else {
                tr { th { "decided by" } td { "no reference" } td.muted { "none applies to this image set with this recipe" } }
            }
        }
    }
}

fn reference_table(record: &RunRecord) -> Markup {
    html! {
        @if record.references.is_empty() {
            p.muted { "No reference of this model was measured on this image set: nothing to compare." }
        } @else {
            table.references {
                tr { th { "source" } th { "recipe" } th { "top-1" } th { "Δ top-1" } th { "top-5" } th { "Δ top-5" } th { "" } }
                @for r in &record.references {
                    tr {
                        td { (r.source) }
                        td { code { (r.recipe.as_deref().unwrap_or("not documented")) } }
                        td.num { (format!("{:.3}", r.top1)) }
                        td.num { (format!("{:+.3}", r.delta_top1)) }
                        td.num { (r.top5.map_or_else(|| "—".into(), |v| format!("{v:.3}"))) }
                        td.num { (r.delta_top5.map_or_else(|| "—".into(), |v| format!("{v:+.3}"))) }
                        td { @if r.expected { "expected" } @else { span.muted { "informative" } } }
                    }
                }
            }
        }
    }
}

fn run_details(record: &RunRecord) -> Markup {
    let p = &record.provenance;
    // A native run (zoorepro.evaluate) has no ONNX file or runtime: its caller's model and framework.
    let native = record.onnx.native();
    html! {
        h2 { "How it was measured" }
        table {
            @if let Some(native) = &native {
                tr { th { "model" } td { code { (native.name) } ": run natively by its caller (zoorepro.evaluate), framework "
                     (native.framework.as_deref().unwrap_or("not named")) br; "checkpoint sha256 "
                     @match &native.checkpoint_sha256 { Some(sha256) => { code { (sha256) } }, None => { "not given" } }
                     " (" (record.onnx.verification) ")" } }
            } @else {
                tr { th { "ONNX" } td { code { (record.onnx.path) } br; code { (record.onnx.sha256) } " (" (record.onnx.verification) ")"
                     @if let Some(names) = &record.onnx.io_names { br; "input " code { (names.input) } ", output " code { (names.output) } } } }
            }
            @if let Some(like) = &record.onnx.like { tr { th { "like" } td { (like.note) } } }
            tr { th { "recipe" } td { code { (record.recipe.name) } " — " (record.recipe.definition.description)
                 " (" (crate::report::resampling_label(&record.recipe.pillow_compat)) ")" } }
            tr { th { "images" } td { code { (record.dataset.path) } " (" (record.dataset.layout) "), "
                 (record.dataset.image_set_name.as_deref().unwrap_or("an unnamed image set")) ", "
                 (record.images) " labelled" br; "image set " code { (record.dataset.image_set_sha256) } } }
            tr { th { "labels" } td { (record.dataset.labels_text()) ", " (record.dataset.unlabelled) " unlabelled images" } }
            @if native.is_some() {
                tr { th { "runtime" } td { (p.provider) ", the caller's function (no ONNX Runtime), " (p.threads)
                     " threads, batch " (p.batch) "; deterministic compute not known" } }
            } @else {
                tr { th { "ONNX Runtime library" } td { code { (p.ort_library) } br; code { (p.ort_library_sha256) } } }
                tr { th { "runtime" } td { "ONNX Runtime " (p.ort_version) ", " (p.provider) ", " (p.threads) " threads, batch "
                     (p.batch) ", optimization " (p.graph_optimization_level) } }
            }
            tr { th { "speed" } td { (format!("{:.1}", p.images_per_second)) " images/s over " (p.inferred)
                 " inferred images; bottleneck: " (p.throughput.bottleneck) } }
            @if let Some(nan_outputs) = record.nan_outputs_text() {
                tr { th { "model outputs with NaN" } td { (nan_outputs) } }
            }
        }
    }
}

fn failures(record: &RunRecord) -> Markup {
    html! {
        @if !record.failures.is_empty() {
            h2 { "Images that failed (" (record.failed) ")" }
            table.failures {
                @for f in &record.failures { tr { td { code { (f.file) } } td { (f.error) } } }
            }
            @if record.failed > record.failures.len() {
                p.muted { (record.failed - record.failures.len()) " more are listed in the JSON record's run, not here." }
            }
        }
    }
}

/// One row of the chart: a label, the measured value with its interval, or a published value.
enum Row<'a> {
    Measured {
        label: &'static str,
        value: f64,
        interval: Option<(f64, f64)>,
    },
    Published {
        metric: &'static str,
        reference: &'a ReferenceResult,
        value: f64,
    },
}

fn chart_rows(record: &RunRecord) -> Vec<Row<'_>> {
    let interval = |bounds: Option<[f64; 2]>| bounds.map(|[lo, hi]| (lo, hi));
    // A run with no labelled image has no measured dot: a percentage of nothing is no number.
    let mut rows: Vec<Row<'_>> = record
        .top1
        .map(|value| Row::Measured {
            label: "top-1 measured",
            value,
            interval: interval(record.top1_interval),
        })
        .into_iter()
        .collect();
    rows.extend(record.references.iter().map(|r| Row::Published {
        metric: "top-1",
        reference: r,
        value: r.top1,
    }));
    rows.extend(record.top5.map(|value| Row::Measured {
        label: "top-5 measured",
        value,
        interval: interval(record.top5_interval),
    }));
    // A source that publishes no top-5 (MLPerf) has no dot on that axis.
    rows.extend(record.references.iter().filter_map(|r| {
        r.top5.map(|value| Row::Published {
            metric: "top-5",
            reference: r,
            value,
        })
    }));
    rows
}

const ROW_HEIGHT: f64 = 26.0;
const LABEL_WIDTH: f64 = 230.0;
const PLOT_WIDTH: f64 = 440.0;

/// Classes named in the page's worst-classes table; the JSON record holds all of them.
const WORST_CLASSES: usize = 10;

/// How top-1 spreads over the classes (a histogram in tenths), and the worst classes by name.
fn per_class(record: &RunRecord) -> Markup {
    let classes = &record.per_class;
    if classes.len() < 2 {
        return html! {};
    }
    let mut bins = [0usize; 10];
    for class in classes {
        bins[((class.top1() / 10.0) as usize).min(9)] += 1;
    }
    let tallest = bins.iter().copied().max().unwrap_or(1).max(1) as f64;
    let (bar, plot_height) = (44.0, 120.0);
    html! {
        h2 { "Accuracy per class" }
        p.muted { (classes.len()) " classes have images here; each bar counts the classes whose top-1 falls in that tenth." }
        svg.chart-classes xmlns="http://www.w3.org/2000/svg" role="img" width=(bar * 10.0 + 20.0)
            height=(plot_height + 54.0) viewBox=(format!("0 0 {} {}", bar * 10.0 + 20.0, plot_height + 54.0))
            aria-label="number of classes per top-1 band" {
            @for (i, &count) in bins.iter().enumerate() {
                @let h = plot_height * count as f64 / tallest;
                @let x = 10.0 + bar * i as f64;
                rect x=(x + 4.0) y=(plot_height + 22.0 - h) width=(bar - 8.0) height=(h) fill="#1f5fbf" {
                    title { (format!("top-1 {}–{}%: {count} classes", i * 10, i * 10 + 10)) }
                }
                text x=(x + bar / 2.0) y=(plot_height + 18.0 - h) text-anchor="middle" { (count) }
                text x=(x + bar / 2.0) y=(plot_height + 38.0) text-anchor="middle" { (i * 10) "–" (i * 10 + 10) }
            }
        }
        table {
            tr { th { "worst classes" } th { "images" } th { "top-1" } th { "top-5" } }
            @for class in crate::eval::classes::worst(classes, WORST_CLASSES) {
                tr {
                    td { (class.class) " " (class.name) " " code { (class.wnid) } }
                    td.num { (class.images) }
                    td.num { (format!("{:.1}%", class.top1())) }
                    td.num { (format!("{:.1}%", class.top5())) }
                }
            }
        }
    }
}

/// A dot plot: each measured accuracy with its 95% Wilson interval, each published number as a
/// diamond (filled when it decides the verdict), on one percent axis.
fn accuracy_chart(record: &RunRecord) -> Markup {
    let rows = chart_rows(record);
    if rows.is_empty() {
        return html! { p.muted { "Nothing was scored and no reference applies: no number to plot." } };
    }
    let values = rows.iter().flat_map(|row| match row {
        Row::Measured {
            value, interval, ..
        } => {
            let (l, h) = interval.unwrap_or((*value, *value));
            vec![*value, l, h]
        }
        Row::Published { value, .. } => vec![*value],
    });
    let axis = Axis::over(values, LABEL_WIDTH, PLOT_WIDTH);
    let height = ROW_HEIGHT * rows.len() as f64 + 40.0;
    html! {
        svg.chart-accuracy xmlns="http://www.w3.org/2000/svg" role="img" width=(LABEL_WIDTH + PLOT_WIDTH + 30.0)
            height=(height) viewBox=(format!("0 0 {} {height}", LABEL_WIDTH + PLOT_WIDTH + 30.0))
            aria-label="measured top-1 and top-5 with 95% intervals, and the published numbers" {
            @for tick in axis.ticks() {
                line x1=(axis.x(tick)) x2=(axis.x(tick)) y1="4" y2=(height - 28.0) stroke="#e4e4e4" {}
                text x=(axis.x(tick)) y=(height - 12.0) text-anchor="middle" { (format!("{tick}%")) }
            }
            @for (i, row) in rows.iter().enumerate() {
                (chart_row(&axis, row, 16.0 + ROW_HEIGHT * i as f64))
            }
        }
    }
}

fn chart_row(axis: &Axis, row: &Row<'_>, y: f64) -> Markup {
    match row {
        Row::Measured {
            label,
            value,
            interval,
        } => html! {
            text x="0" y=(y + 4.0) font-weight="600" { (label) }
            @if let Some((lo, hi)) = interval {
                line.interval x1=(axis.x(*lo)) x2=(axis.x(*hi)) y1=(y) y2=(y) stroke="#1f5fbf" stroke-width="2" {}
                line x1=(axis.x(*lo)) x2=(axis.x(*lo)) y1=(y - 5.0) y2=(y + 5.0) stroke="#1f5fbf" stroke-width="2" {}
                line x1=(axis.x(*hi)) x2=(axis.x(*hi)) y1=(y - 5.0) y2=(y + 5.0) stroke="#1f5fbf" stroke-width="2" {}
            }
            circle.measured cx=(axis.x(*value)) cy=(y) r="5" fill="#1f5fbf" {
                title { (format!("{label}: {value:.2}%")) }
            }
        },
        Row::Published {
            metric,
            reference,
            value,
        } => {
            let (x, fill) = (
                axis.x(*value),
                if reference.expected {
                    "#c2410c"
                } else {
                    "white"
                },
            );
            html! {
                text x="12" y=(y + 4.0) { (metric) " " (reference.source) @if reference.expected { " (expected)" } }
                path.published d=(format!("M{x} {} l5 5 l-5 5 l-5 -5 z", y - 5.0)) fill=(fill) stroke="#c2410c" stroke-width="1.5" {
                    title { (format!("{metric} {}: {value:.3}%", reference.source)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RunRecord {
        let mut record = crate::report::tests::sample_record();
        record.failures = vec![crate::report::Failure {
            file: "n01/<script>alert(1)</script>.JPEG".into(),
            error: "broken & \"bad\"".into(),
        }];
        record.failed = 1;
        record
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_what_users_control() {
        let page = HtmlExporter.render(&record());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<svg class=\"chart-accuracy\""));
        assert!(!page.contains("<script"), "a file name became markup");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        for fetched in ["src=", "href=", "@import", "url("] {
            assert!(!page.contains(fetched), "{fetched} would fetch something");
        }
    }

    #[test]
    fn the_classes_chart_counts_every_class_and_names_the_worst() {
        let page = HtmlExporter.render(&record());
        assert!(page.contains("class=\"chart-classes\""));
        assert_eq!(page.matches("classes</title>").count(), 10);
        let worst = page.split("worst classes").nth(1).unwrap();
        // Class 65 (0 of 3 right) comes before class 1 (1 of 2).
        let (first, second) = (
            worst.find("<td>65 ").unwrap(),
            worst.find("<td>1 ").unwrap(),
        );
        assert!(first < second);
    }

    #[test]
    fn the_chart_draws_the_interval_and_every_reference() {
        let record = record();
        let page = HtmlExporter.render(&record);
        assert_eq!(page.matches("<circle class=\"measured\"").count(), 2);
        assert_eq!(
            page.matches("<path class=\"published\"").count(),
            2 * record.references.len()
        );
        assert_eq!(page.matches("<line class=\"interval\"").count(), 2);
    }

    #[test]
    fn an_unpublished_top5_has_no_dot_and_shows_as_a_dash() {
        let mut record = record();
        record.references[0].top5 = None;
        record.references[0].delta_top5 = None;
        let page = HtmlExporter.render(&record);
        assert!(!page.contains("NaN"));
        assert_eq!(
            page.matches("<path class=\"published\"").count(),
            2 * record.references.len() - 1
        );
        assert!(page.contains("<td class=\"num\">—</td>"));
    }

    #[test]
    fn a_native_record_names_its_runtime_and_no_onnx_runtime_library() {
        let framework = "torch<script>";
        let record = crate::report::tests::native_record(framework, "my <port>");
        let page = HtmlExporter.render(&record);
        assert!(
            !page.contains("ONNX Runtime library") && !page.contains("<script>"),
            "{page}"
        );
        assert!(
            page.contains(
                "native (torch&lt;script&gt;), the caller's function (no ONNX Runtime), 2 threads, batch 32"
            ),
            "{page}"
        );
        assert!(
            page.contains("my &lt;port&gt;</code>: run natively by its caller"),
            "{page}"
        );
    }
}
