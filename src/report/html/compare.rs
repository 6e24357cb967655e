//! `zoorepro compare --format html`: two runs side by side on one self-contained page: their
//! top-1 with 95% intervals, the classes that changed most, and the images whose top-1 differs as
//! small inline thumbnails with both predictions and the label.

use maud::{DOCTYPE, Markup, html};

use super::{Axis, head};

/// What the page shows, gathered by `compare`.
pub struct ComparePage {
    pub title: String,
    /// (label, top-1 percent, 95% interval) of run A and run B.
    pub runs: [(String, f64, Option<[f64; 2]>); 2],
    /// What pairing the images left out (same name, other content) or did by name alone.
    pub pairing: Vec<String>,
    /// Lines stating agreement and the test of the difference.
    pub findings: Vec<String>,
    /// Header row first.
    pub classes: Vec<[String; 5]>,
    pub thumbnails: Vec<Thumbnail>,
    /// Images whose top-1 differs, shown or not.
    pub differing: usize,
    /// Why some images have no thumbnail (no `--val`, a tar), if so.
    pub thumbnail_note: Option<String>,
}

/// One image whose top-1 differs between the runs.
pub struct Thumbnail {
    pub file: String,
    pub label: String,
    pub a: String,
    pub b: String,
    pub a_right: bool,
    pub b_right: bool,
    /// A small PNG of the image, when it could be read.
    pub png: Option<Vec<u8>>,
}

const THUMBNAIL_STYLE: &str = ".thumbs{display:flex;flex-wrap:wrap;gap:.75rem}\
figure{margin:0;width:9.5rem;font-size:.8rem;overflow-wrap:anywhere}td{overflow-wrap:anywhere}figure img{display:block;max-width:9.5rem;max-height:7rem}\
.right{color:#0b5d1e}.wrong{color:#8a1111}";

pub fn render(page: &ComparePage) -> String {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("zoorepro: {}", page.title), THUMBNAIL_STYLE))
            body {
                h1 { (page.title) }
                (top1_chart(page))
                @for line in &page.pairing { p { strong { (line) } } }
                ul { @for line in &page.findings { li { (line) } } }
                @if page.classes.len() > 1 {
                    h2 { "Classes whose top-1 changed most" }
                    table {
                        tr { @for cell in &page.classes[0] { th { (cell) } } }
                        @for row in &page.classes[1..] { tr { @for cell in row { td { (cell) } } } }
                    }
                }
                (thumbnails(page))
                p.muted { "Written by zoorepro " (env!("CARGO_PKG_VERSION")) "." }
            }
        }
    };
    crate::util::escape::page(&markup.into_string())
}

fn top1_chart(page: &ComparePage) -> Markup {
    let values = page.runs.iter().flat_map(|(_, value, interval)| {
        let [lo, hi] = interval.unwrap_or([*value, *value]);
        [*value, lo, hi]
    });
    let (left, plot) = (320.0, 380.0);
    let axis = Axis::over(values, left, plot);
    let height = 2.0 * 26.0 + 40.0;
    html! {
        svg.chart-compare xmlns="http://www.w3.org/2000/svg" role="img" width=(left + plot + 30.0) height=(height)
            viewBox=(format!("0 0 {} {height}", left + plot + 30.0)) aria-label="top-1 of both runs with 95% intervals" {
            @for tick in axis.ticks() {
                line x1=(axis.x(tick)) x2=(axis.x(tick)) y1="4" y2=(height - 28.0) stroke="#e4e4e4" {}
                text x=(axis.x(tick)) y=(height - 12.0) text-anchor="middle" { (format!("{tick}%")) }
            }
            @for (i, (label, value, interval)) in page.runs.iter().enumerate() {
                @let y = 16.0 + 26.0 * i as f64;
                text x="0" y=(y + 4.0) { (label) }
                @if let Some([lo, hi]) = interval {
                    line x1=(axis.x(*lo)) x2=(axis.x(*hi)) y1=(y) y2=(y) stroke="#1f5fbf" stroke-width="2" {}
                }
                circle cx=(axis.x(*value)) cy=(y) r="5" fill="#1f5fbf" { title { (format!("{label}: {value:.3}%")) } }
            }
        }
    }
}

fn thumbnails(page: &ComparePage) -> Markup {
    use base64::Engine as _;
    if page.differing == 0 {
        return html! { p { "Both runs give every image the same top-1." } };
    }
    let left_out = page.differing - page.thumbnails.len();
    html! {
        h2 { "Images whose top-1 differs (" (page.differing) ")" }
        @if left_out > 0 { p.muted { (page.thumbnails.len()) " shown, " (left_out) " left out (--limit N, 0 for all)." } }
        @if let Some(note) = &page.thumbnail_note { p.muted { (note) } }
        div.thumbs {
            @for thumb in &page.thumbnails {
                figure {
                    @if let Some(png) = &thumb.png {
                        img alt=(thumb.file) src=(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)));
                    }
                    figcaption {
                        code { (thumb.file) } br;
                        "label: " (thumb.label) br;
                        span class=(if thumb.a_right { "right" } else { "wrong" }) { "A: " (thumb.a) } br;
                        span class=(if thumb.b_right { "right" } else { "wrong" }) { "B: " (thumb.b) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_shows_both_runs_the_classes_and_inline_thumbnails_only() {
        let page = ComparePage {
            title: "Run 1 vs run 2".into(),
            runs: [
                ("A: run 1".into(), 72.0, Some([62.5, 79.9])),
                ("B: run 2".into(), 53.0, Some([43.3, 62.5])),
            ],
            pairing: vec!["not comparable: 2 images have the same name".into()],
            findings: vec!["top-1 agreement: 60".into()],
            classes: vec![
                ["class", "images", "A top-1", "B top-1", "B − A"].map(String::from),
                ["3 tiger_shark", "2", "100.0%", "0.0%", "-100.0"].map(String::from),
            ],
            thumbnails: vec![Thumbnail {
                file: "n01/x<y>.JPEG".into(),
                label: "3 tiger_shark".into(),
                a: "3 tiger_shark".into(),
                b: "4 hammerhead".into(),
                a_right: true,
                b_right: false,
                png: Some(b"\x89PNG".to_vec()),
            }],
            differing: 40,
            thumbnail_note: None,
        };
        let html = render(&page);
        // A long class name wraps inside its card instead of running into the next one.
        assert!(html.contains("overflow-wrap:anywhere"));
        assert!(html.contains("class=\"chart-compare\""));
        assert!(html.contains("data:image/png;base64,iVBORw=="));
        assert!(html.contains("1 shown, 39 left out"));
        assert!(html.contains("<strong>not comparable: 2 images"));
        assert!(html.contains("x&lt;y&gt;.JPEG") && !html.contains("x<y>"));
        assert!(!html.contains("src=\"http"));
    }
}
