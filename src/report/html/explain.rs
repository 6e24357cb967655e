//! `zoorepro explain --format html`: every candidate pipeline's top-1 with its 95% interval on one
//! dot plot, the expected number as a line, best first, in the reports' chart style.

use maud::{DOCTYPE, Markup, html};

use super::{Axis, head};

/// What the page shows, gathered by `explain`.
pub struct ExplainPage {
    pub title: String,
    pub summary: String,
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
    pub agreement_top1: Option<f64>,
    pub reaches: bool,
}

pub fn render(page: &ExplainPage) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("zoorepro: {}", page.title), ".reaches{color:#0b5d1e;font-weight:600}"))
            body {
                h1 { (page.title) }
                p { (page.summary) }
                @for line in &page.pairing { p { strong { (line) } } }
                (chart(page))
                table {
                    tr { th { "#" } th { "candidate" } th { "top-1" } th { "agreement top-1" } th { "changes" } }
                    @for (i, row) in page.rows.iter().enumerate() {
                        tr {
                            td { (i + 1) }
                            td class=(if row.reaches { "reaches" } else { "" }) { (row.name) }
                            td { (format!("{:.2}", row.top1)) }
                            td { (row.agreement_top1.map_or("-".to_string(), |a| format!("{a:.1}%"))) }
                            td { (if row.changes.is_empty() { "(the manifest's recipe)" } else { &row.changes }) }
                        }
                    }
                }
                p.muted { "Written by zoorepro " (env!("CARGO_PKG_VERSION")) "." }
            }
        }
    }
    .into_string()
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
                text x="0" y=(y + 4.0) { (row.name) }
                @if let Some([lo, hi]) = row.interval {
                    line x1=(axis.x(lo)) x2=(axis.x(hi)) y1=(y) y2=(y) stroke=(colour) stroke-width="2" {}
                }
                circle cx=(axis.x(row.top1)) cy=(y) r="5" fill=(colour) { title { (format!("{}: {:.3}%", row.name, row.top1)) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_plots_every_candidate_and_the_expected_line() {
        let page = ExplainPage {
            title: "explain coral/x".into(),
            summary: "pipeline-explains".into(),
            pairing: vec!["not comparable: 20 images have the same name".into()],
            expected_top1: Some(72.0),
            rows: vec![
                Row {
                    name: "a+LANCZOS".into(),
                    changes: "filter: BILINEAR -> LANCZOS".into(),
                    top1: 72.0,
                    interval: Some([62.5, 79.9]),
                    agreement_top1: Some(100.0),
                    reaches: true,
                },
                Row {
                    name: "a".into(),
                    changes: String::new(),
                    top1: 65.0,
                    interval: Some([55.0, 74.0]),
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
    }
}
