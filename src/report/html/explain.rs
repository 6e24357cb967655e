//! `zoorepro explain --format html`: what the candidates were compared with and on how many
//! images, then every candidate pipeline's top-1 with its 95% interval on one dot plot (the
//! expected number as a line), best first, in the reports' chart style, and a table of top-1 and
//! top-5 with their intervals.

use maud::{DOCTYPE, Markup, html};

use super::{Axis, head, interval_text};

/// Candidate names longer than this are cut in the chart's label column (320 px of 12 px text),
/// with the whole name in the dot's tooltip and in the table, where it wraps.
const CHART_LABEL_CHARS: usize = 44;

/// What the page shows, gathered by `explain`.
pub struct ExplainPage {
    pub title: String,
    pub summary: String,
    /// What the candidates were compared with, on how many images, and, when several reach
    /// the reference, which and how many images would separate them: one sentence a line.
    pub comparison: Vec<String>,
    /// What pairing the sample with the `--against` run left out (same name, other content) or
    /// did by name alone.
    pub pairing: Vec<String>,
    pub expected_top1: Option<f64>,
    /// Best first.
    pub rows: Vec<Row>,
}

pub struct Row {
    pub name: String,
    pub changes: String,
    pub top1: f64,
    pub interval: Option<[f64; 2]>,
    pub top5: f64,
    pub top5_interval: Option<[f64; 2]>,
    pub agreement_top1: Option<f64>,
    pub reaches: bool,
}

/// Reaching candidates in green; names and changes wrap anywhere, so a long recipe source
/// (`timm:vit_base_patch16_224.augreg2_in21k_ft_in1k@no-prefetcher`) stays in its column.
const STYLE: &str = ".reaches{color:#0b5d1e;font-weight:600}#comparison{padding-left:1.2rem}\
td.name{overflow-wrap:anywhere;max-width:22rem}td.interval{white-space:nowrap}";

pub fn render(page: &ExplainPage) -> String {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("zoorepro: {}", page.title), STYLE))
            body {
                h1 { (page.title) }
                p #summary { (page.summary) }
                ul #comparison { @for line in &page.comparison { li { (line) } } }
                @for line in &page.pairing { p { strong { (line) } } }
                (chart(page))
                p.muted.legend {
                    "Each dot is a candidate's top-1 on the sample, its line the 95% interval; green: it reaches the reference."
                    @if let Some(expected) = page.expected_top1 { " Dashed line: the reference, " (format!("{expected:.2}%")) " top-1." }
                }
                table.candidates {
                    tr { th { "#" } th { "candidate" } th { "reaches" } th.num { "top-1" } th { "95%" }
                         th.num { "top-5" } th { "95%" } th.num { "agreement top-1" } th { "changes" } }
                    @for (i, row) in page.rows.iter().enumerate() {
                        tr {
                            td { (i + 1) }
                            td.name class=(if row.reaches { "reaches" } else { "" }) { (row.name) }
                            td { (if row.reaches { "yes" } else { "–" }) }
                            td.num { (format!("{:.2}", row.top1)) }
                            td.muted.interval { (interval_text(row.interval)) }
                            td.num { (format!("{:.2}", row.top5)) }
                            td.muted.interval { (interval_text(row.top5_interval)) }
                            td.num { (row.agreement_top1.map_or("–".to_string(), |a| format!("{a:.1}%"))) }
                            td.name { (if row.changes.is_empty() { "(the manifest's recipe)" } else { &row.changes }) }
                        }
                    }
                }
                p.muted { "Written by zoorepro " (env!("CARGO_PKG_VERSION")) "." }
            }
        }
    };
    crate::util::escape::page(&markup.into_string())
}

fn chart(page: &ExplainPage) -> Markup {
    let values = page
        .rows
        .iter()
        .flat_map(|row| {
            let [lo, hi] = row.interval.unwrap_or([row.top1, row.top1]);
            [row.top1, lo, hi]
        })
        .chain(page.expected_top1);
    let (left, plot) = (320.0, 380.0);
    let axis = Axis::over(values, left, plot);
    let height = 26.0 * page.rows.len() as f64 + 40.0;
    html! {
        svg.chart-explain xmlns="http://www.w3.org/2000/svg" role="img" width=(left + plot + 30.0) height=(height)
            viewBox=(format!("0 0 {} {height}", left + plot + 30.0)) aria-label="top-1 of every candidate with 95% intervals" {
            @for tick in axis.ticks() {
                line x1=(axis.x(tick)) x2=(axis.x(tick)) y1="4" y2=(height - 28.0) stroke="#e4e4e4" {}
                text x=(axis.x(tick)) y=(height - 12.0) text-anchor="middle" { (format!("{tick}%")) }
            }
            @if let Some(expected) = page.expected_top1 {
                line x1=(axis.x(expected)) x2=(axis.x(expected)) y1="4" y2=(height - 28.0) stroke="#b8860b" stroke-dasharray="4 3" {
                    title { (format!("expected {expected:.2}%")) }
                }
            }
            @for (i, row) in page.rows.iter().enumerate() {
                @let y = 16.0 + 26.0 * i as f64;
                @let colour = if row.reaches { "#0b5d1e" } else { "#1f5fbf" };
                text x="0" y=(y + 4.0) { (chart_label(&row.name)) }
                @if let Some([lo, hi]) = row.interval {
                    line x1=(axis.x(lo)) x2=(axis.x(hi)) y1=(y) y2=(y) stroke=(colour) stroke-width="2" {}
                }
                circle cx=(axis.x(row.top1)) cy=(y) r="5" fill=(colour) { title { (format!("{}: {:.3}%", row.name, row.top1)) } }
            }
        }
    }
}

/// `name`, cut to [`CHART_LABEL_CHARS`] characters with an ellipsis.
fn chart_label(name: &str) -> String {
    if name.chars().count() <= CHART_LABEL_CHARS {
        return name.to_string();
    }
    let cut: String = name.chars().take(CHART_LABEL_CHARS - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_plots_every_candidate_and_the_expected_line() {
        let page = ExplainPage {
            title: "explain coral/x".into(),
            summary: "pipeline-explains".into(),
            comparison: vec![
                "Sample: 100 images of imagenet-sample (100 labelled, labels from the layout)."
                    .into(),
                "Reference: paper: 72.00% top-1, 93.00% top-5.".into(),
            ],
            pairing: vec!["not comparable: 20 images have the same name".into()],
            expected_top1: Some(72.0),
            rows: vec![
                Row {
                    name: "a+LANCZOS".into(),
                    changes: "filter: BILINEAR -> LANCZOS".into(),
                    top1: 72.0,
                    interval: Some([62.5, 79.9]),
                    top5: 93.0,
                    top5_interval: Some([86.2, 96.6]),
                    agreement_top1: Some(100.0),
                    reaches: true,
                },
                Row {
                    name: "timm:vit_base_patch16_224.augreg2_in21k_ft_in1k@no-prefetcher".into(),
                    changes: String::new(),
                    top1: 65.0,
                    interval: Some([55.0, 74.0]),
                    top5: 92.0,
                    top5_interval: None,
                    agreement_top1: Some(90.0),
                    reaches: false,
                },
            ],
        };
        let html = render(&page);
        assert_eq!(html.matches("<circle").count(), 2);
        assert!(html.contains("expected 72.00%"));
        assert!(html.contains("filter: BILINEAR -&gt; LANCZOS"));
        assert!(html.contains("(the manifest's recipe)"));
        assert!(html.contains("<strong>not comparable: 20 images"));
        // What it compared with, on how many images, and top-5 beside top-1.
        assert!(html.contains("<li>Sample: 100 images of imagenet-sample"));
        assert!(html.contains("<li>Reference: paper: 72.00% top-1, 93.00% top-5."));
        assert!(html.contains("<th class=\"num\">top-5</th>"));
        assert!(html.contains("86.20–96.60"));
        // A long name is cut in the chart, whole in the table and the tooltip.
        let long = "timm:vit_base_patch16_224.augreg2_in21k_ft_in1k@no-prefetcher";
        assert!(html.contains(&format!("<title>{long}: 65.000%</title>")));
        assert!(html.contains("timm:vit_base_patch16_224.augreg2_in21k_ft_…</text>"));
        assert!(html.contains("overflow-wrap:anywhere"));
        assert!(html.contains("Dashed line: the reference, 72.00% top-1."));
    }
}
