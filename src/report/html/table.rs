//! `zoorepro table --format html`: the table as one self-contained page, one section per image
//! set: a dot plot of every run's top-1 with its 95% interval beside the published numbers, the
//! rank changes between label sets (with `--labels all`), and the table itself.

use maud::{DOCTYPE, Markup, html};

use super::{Axis, head, interval_text, verdict_badge};
use crate::report::table::{GROUND_TRUTH, TableExporter, TableRow, sections};

pub struct HtmlTable;

impl TableExporter for HtmlTable {
    fn render(&self, rows: &[TableRow], _sources: &[String]) -> String {
        crate::util::escape::page(&page(rows).into_string())
    }
}

/// Label sets in the order the label-errors story tells them; a run has the original labels or
/// its `--ground-truth` file's first.
const LABEL_ORDER: [&str; 5] = ["original", GROUND_TRUTH, "real", "cleaned", "corrected"];
/// The label sets a run is scored on first: its own labels.
const OWN_LABELS: [&str; 2] = ["original", GROUND_TRUTH];
const ROW_HEIGHT: f64 = 22.0;
/// Ids and recipes stay whole in the table's cells.
const TABLE_STYLE: &str = "body{max-width:76rem}td code{word-break:normal;white-space:nowrap}td.labels{white-space:nowrap}";
const LABEL_WIDTH: f64 = 370.0;
const PLOT_WIDTH: f64 = 360.0;

fn page(rows: &[TableRow]) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("zoorepro: accuracy table", TABLE_STYLE))
            body {
                h1 { "Accuracy table" }
                p.muted { (rows.len()) " runs, ranked by top-1 within their image set; the bars are 95% Wilson intervals, the diamonds published numbers (filled: the one a verdict is judged on)." }
                @for group in sections(rows) {
                    h2 {
                        (group[0].image_set) " (" (group[0].image_set_images) " images"
                        @if let Some(ground_truth) = &group[0].ground_truth { "; " (ground_truth.describe()) }
                        ")"
                    }
                    (dot_plot(group))
                    (rank_changes(group))
                    (table(group))
                }
                p.muted { "Written by zoorepro " (env!("CARGO_PKG_VERSION")) "." }
            }
        }
    }
}

fn dot_plot(group: &[TableRow]) -> Markup {
    let values = group.iter().flat_map(|row| {
        let measured = row
            .top1
            .into_iter()
            .chain(row.top1_interval.into_iter().flatten());
        let published = row.references.iter().map(|r| r.top1);
        measured.chain(published).collect::<Vec<_>>()
    });
    let axis = Axis::over(values, LABEL_WIDTH, PLOT_WIDTH);
    let height = ROW_HEIGHT * group.len() as f64 + 40.0;
    let width = LABEL_WIDTH + PLOT_WIDTH + 30.0;
    html! {
        svg.chart-table xmlns="http://www.w3.org/2000/svg" role="img" width=(width) height=(height)
            viewBox=(format!("0 0 {width} {height}")) aria-label="top-1 of every run with its 95% interval and the published numbers" {
            @for tick in axis.ticks() {
                line x1=(axis.x(tick)) x2=(axis.x(tick)) y1="4" y2=(height - 28.0) stroke="#e4e4e4" {}
                text x=(axis.x(tick)) y=(height - 12.0) text-anchor="middle" { (format!("{tick}%")) }
            }
            @for (i, row) in group.iter().enumerate() {
                @let y = 14.0 + ROW_HEIGHT * i as f64;
                text x="0" y=(y + 4.0) { (row.rank1) ". " (row.id_text()) " (" (row.recipe) ")" }
                @if let Some([lo, hi]) = row.top1_interval {
                    line x1=(axis.x(lo)) x2=(axis.x(hi)) y1=(y) y2=(y) stroke="#1f5fbf" stroke-width="2" {}
                }
                @for reference in &row.references {
                    @let x = axis.x(reference.top1);
                    path.published d=(format!("M{x} {} l4.5 4.5 l-4.5 4.5 l-4.5 -4.5 z", y - 4.5))
                        fill=(if reference.expected { "#c2410c" } else { "white" }) stroke="#c2410c" stroke-width="1.5" {
                        title { (format!("{} {}: {:.3}%", row.id_text(), reference.source, reference.top1)) }
                    }
                }
                // A run that ranked no image has no point to draw.
                @if let Some(top1) = row.top1 {
                    circle.measured cx=(axis.x(top1)) cy=(y) r="4.5" fill="#1f5fbf" {
                        title { (format!("{}: top-1 {:.3}% on {} images", row.id_text(), top1, row.images)) }
                    }
                }
            }
        }
    }
}

/// Competition ranks (1, 2, 2, 4) of the rows by top-1 under `labels` (a row of no number
/// below every number).
fn ranks_under(group: &[TableRow], labels: &str) -> Option<Vec<usize>> {
    let values: Vec<Option<f64>> = group
        .iter()
        .map(|row| row.by_labels.get(labels).map(|a| a.top1))
        .collect::<Option<_>>()?;
    Some(
        values
            .iter()
            .map(|v| 1 + values.iter().filter(|w| *w > v).count())
            .collect(),
    )
}

/// How each run's rank moves from the original labels to ReaL, cleaned and corrected ones: a
/// slope chart, drawn when the table scored more than one label set.
fn rank_changes(group: &[TableRow]) -> Markup {
    let columns: Vec<(&str, Vec<usize>)> = LABEL_ORDER
        .iter()
        .filter_map(|labels| ranks_under(group, labels).map(|ranks| (*labels, ranks)))
        .collect();
    if columns.len() < 2 || group.len() < 2 {
        return html! {};
    }
    let (left, gap, step) = (LABEL_WIDTH, 150.0, ROW_HEIGHT);
    let width = left + gap * (columns.len() - 1) as f64 + 60.0;
    let height = step * group.len() as f64 + 40.0;
    let y = |rank: usize| 28.0 + step * (rank - 1) as f64;
    html! {
        h3 { "Rank by top-1 under each label set" }
        svg.chart-ranks xmlns="http://www.w3.org/2000/svg" role="img" width=(width) height=(height)
            viewBox=(format!("0 0 {width} {height}")) aria-label="rank of every run under each label set" {
            @for (c, (labels, _)) in columns.iter().enumerate() {
                text x=(left + gap * c as f64) y="12" text-anchor="middle" font-weight="600" { (label_set_title(labels)) }
            }
            @for (i, row) in group.iter().enumerate() {
                @let points: Vec<String> = columns.iter().enumerate()
                    .map(|(c, (_, ranks))| format!("{},{}", left + gap * c as f64, y(ranks[i])))
                    .collect();
                @let moved = columns.iter().any(|(_, ranks)| ranks[i] != columns[0].1[i]);
                text x=(left - 10.0) y=(y(columns[0].1[i]) + 4.0) text-anchor="end" { (columns[0].1[i]) ". " (row.id_text()) }
                polyline points=(points.join(" ")) fill="none" stroke=(if moved { "#c2410c" } else { "#9a9a9a" }) stroke-width="2" {
                    title { (row.id_text()) ": " (columns.iter().map(|(l, r)| format!("{l} {}", r[i])).collect::<Vec<_>>().join(", ")) }
                }
                @let last = columns.len() - 1;
                text x=(left + gap * last as f64 + 8.0) y=(y(columns[last].1[i]) + 4.0) { (columns[last].1[i]) }
            }
        }
    }
}

/// The label sets other than the original ones that some row of `group` was scored under
/// (`--labels all`): each gets a column of its top-1 (its top-5 in the cell's title), so the page
/// shows their values, not only the ranks they give.
fn other_label_sets(group: &[TableRow]) -> Vec<&'static str> {
    LABEL_ORDER
        .iter()
        .copied()
        .filter(|labels| !OWN_LABELS.contains(labels))
        .filter(|labels| group.iter().any(|row| row.by_labels.contains_key(*labels)))
        .collect()
}

/// How a column names a label set.
fn label_set_title(labels: &str) -> &str {
    match labels {
        "real" => "ReaL",
        GROUND_TRUTH => "ground truth",
        other => other,
    }
}

/// The labels of the section's main figures: the run's own (original, or its ground-truth
/// file's by name) with `--labels all`, else the one set the table scored.
fn main_labels(row: &TableRow) -> String {
    match (&row.ground_truth, row.labels.as_str()) {
        (Some(ground_truth), "all" | GROUND_TRUTH) => ground_truth.name(),
        (None, "all") => "original".to_string(),
        (_, labels) => label_set_title(labels).to_string(),
    }
}

/// A percentage with 3 decimals, `n/a` where the run ranked no image.
fn figure(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"))
}

fn table(group: &[TableRow]) -> Markup {
    let others = other_label_sets(group);
    let labels = main_labels(&group[0]);
    html! {
        table {
            tr { th { "rank" } th { "model" } th { "recipe" } th { "top-1, " (labels) " (95% interval)" } th { "top-5, " (labels) }
                 @for labels in &others { th { (label_set_title(labels)) " top-1" } }
                 th { "published" } th { "verdict" } }
            @for row in group {
                tr {
                    td.num { (row.rank1) }
                    td { code { (row.model_id) }
                         @if let Some(native) = &row.native {
                             " " span.mark title="run natively by its caller (zoorepro.evaluate), not the model's ONNX file" {
                                 (native.provider()) ": " (native.name) } } }
                    td { code { (row.recipe) } }
                    td.num { (figure(row.top1)) " " span.muted { (interval_text(row.top1_interval)) } }
                    td.num { (figure(row.top5)) }
                    @for labels in &others {
                        @match row.by_labels.get(*labels) {
                            Some(a) => { td.num.labels title=(format!("top-5 {}", figure(a.top5))) { (figure(a.top1)) } }
                            None => { td.num.labels { "–" } }
                        }
                    }
                    td {
                        @for reference in &row.references {
                            (reference.source) " " (format!("{:.3} ({:+.3})", reference.top1, reference.delta_top1)) br;
                        }
                    }
                    td {
                        (verdict_badge(row.verdict))
                        @if let Some(source) = &row.expected_source { " vs " (source) }
                        @for mark in &row.marks {
                            " " span.mark title=(mark.explanation()) { (mark.name()) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::verdict::VerdictStatus;
    use crate::report::table::{Accuracy, ReferenceDelta};

    fn row(model: &str, set: &str, top1: f64, by_labels: &[(&str, f64)]) -> TableRow {
        TableRow {
            image_set: set.into(),
            image_set_images: 50_000,
            run: 1,
            framework: "pytorch".into(),
            model: model.into(),
            model_id: format!("pytorch/{model}"),
            recipe: "torchvision".into(),
            kind: "import".into(),
            provider: "cpu".into(),
            labels: "all".into(),
            top1: Some(top1),
            top1_interval: Some([top1 - 0.4, top1 + 0.4]),
            top5: Some(90.0),
            top5_interval: None,
            rank1: 1,
            rank5: 1,
            images: 50_000,
            references: vec![ReferenceDelta {
                source: "torchvision-docs".into(),
                top1: top1 + 0.5,
                top5: Some(91.0),
                delta_top1: -0.5,
                delta_top5: Some(-1.0),
                expected: true,
            }],
            expected_source: Some("torchvision-docs".into()),
            verdict: VerdictStatus::Drift,
            marks: vec![crate::eval::trust::Mark::Partial],
            by_labels: by_labels
                .iter()
                .map(|(l, v)| {
                    (
                        l.to_string(),
                        Accuracy {
                            top1: Some(*v),
                            top5: Some(0.0),
                            images: 1,
                            top1_interval: None,
                            top5_interval: None,
                        },
                    )
                })
                .collect(),
            note: None,
            ground_truth: None,
            native: None,
        }
    }

    #[test]
    fn each_image_set_gets_its_plot_and_rank_changes_are_drawn_across_label_sets() {
        let rows = vec![
            row(
                "a",
                "ilsvrc2012-val",
                77.0,
                &[("original", 77.0), ("real", 83.0)],
            ),
            row(
                "b<script>",
                "ilsvrc2012-val",
                76.0,
                &[("original", 76.0), ("real", 84.0)],
            ),
            row("c\x1b[8m\u{202e}", "shared-imagenet-sample-100", 72.0, &[]),
        ];
        let page = HtmlTable.render(&rows, &[]);
        // A control character or bidi override in a name shows, and hides or reorders nothing.
        assert!(!page.contains('\x1b') && !page.contains('\u{202e}'));
        assert!(page.contains("c\\x1b[8m\\u{202e}"), "{page}");
        assert_eq!(page.matches("class=\"chart-table\"").count(), 2);
        assert_eq!(page.matches("class=\"chart-ranks\"").count(), 1);
        assert!(page.contains("ilsvrc2012-val (50000 images)"));
        // a and b swap places under ReaL: both lines are drawn as moved.
        assert_eq!(
            page.matches("stroke=\"#c2410c\" stroke-width=\"2\"")
                .count(),
            2
        );
        assert!(!page.contains("<script>") && page.contains("b&lt;script&gt;"));
        // ReaL's values, not only its ranks; the decisive reference beside every verdict.
        assert!(page.contains("<th>ReaL top-1</th>"), "{page}");
        assert!(
            page.contains(">83.000</td>") && page.contains(">84.000</td>"),
            "{page}"
        );
        assert_eq!(page.matches(" vs torchvision-docs").count(), 3);
        assert!(page.contains("class=\"verdict drift\""));
        assert!(
            !page.contains("http://")
                || page.matches("http://").count()
                    == page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
    }
}
