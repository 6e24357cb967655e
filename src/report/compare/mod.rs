//! `zoorepro compare A B`'s report: one serde struct ([`Comparison`]) that `--format json` prints
//! as it is, and one file per other format ([`text`], [`markdown`], [`html`]) rendering it through
//! [`super::Render`]. The figures are computed in [`crate::eval::compare`].

pub mod html;
pub mod markdown;
pub mod text;

use serde::Serialize;

pub use crate::eval::compare::{ClassChange, Difference};
use crate::eval::pairing::PairingNotes;
use crate::eval::trust::Mark;
use crate::store::RunKind;

pub use html::Html;
pub use markdown::Markdown;
pub use text::Text;

/// One run of the two, over the images both scored.
#[derive(Serialize)]
pub struct Side {
    pub run: i64,
    pub model_id: String,
    /// A model run natively (the Python `zoorepro.evaluate`): the caller's name for it, which the
    /// formats show beside the model id as they show an ONNX run's id alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_name: Option<String>,
    pub kind: RunKind,
    pub recipe: String,
    pub provider: String,
    pub batch: usize,
    pub top1: f64,
    pub top5: f64,
    /// 95% Wilson intervals, in percent, over the images both runs scored.
    pub top1_interval: Option<[f64; 2]>,
    pub top5_interval: Option<[f64; 2]>,
    /// Whether the run covers the whole image set it was started on: `complete`, `shard`,
    /// `partial`, `interrupted` (never finished) or `unknown` (an older release made it).
    pub coverage: &'static str,
    /// `partial` for any run that does not cover its image set, `unknown-identity` where that is
    /// not recorded: its figures are a part's, whatever the intervals say.
    pub marks: Vec<Mark>,
}

#[derive(Serialize)]
pub struct Comparison {
    pub a: Side,
    pub b: Side,
    /// Images both runs scored from the same content (or, where a run does not know it, of the
    /// same name): every figure below is over these.
    pub images: usize,
    /// Images left out because their content differs, and those paired by name alone.
    #[serde(flatten)]
    pub pairing: PairingNotes,
    pub top1_agreement: usize,
    pub top1_agreement_percent: f64,
    pub identical_top5_sets: usize,
    pub identical_top5_sets_percent: f64,
    /// B's top-1 minus A's, in points.
    pub top1_difference: f64,
    /// Images A gets right and B wrong (top-1), and the reverse.
    pub only_a_correct: usize,
    pub only_b_correct: usize,
    pub mcnemar_exact_p: f64,
    /// Classes whose top-1 differs between the runs, the largest change first.
    pub class_changes: Vec<ClassChange>,
    pub top1_differs: Vec<Difference>,
}

/// Classes listed by the text formats; `--format json` lists every class that changed.
const CLASSES_SHOWN: usize = 10;

/// The most changed classes as table rows (with a header), and how many changed in all.
fn class_rows(c: &Comparison) -> Vec<[String; 5]> {
    let mut rows = vec![["class", "images", "A top-1", "B top-1", "B − A"].map(String::from)];
    rows.extend(c.class_changes.iter().take(CLASSES_SHOWN).map(|change| {
        [
            format!("{} {}", change.class, change.name),
            change.images.to_string(),
            format!("{:.1}%", change.a_top1),
            format!("{:.1}%", change.b_top1),
            format!("{:+.1}", change.change),
        ]
    }));
    rows
}

fn class_heading(c: &Comparison) -> String {
    format!(
        "Classes whose top-1 changed most ({} of {} classes changed; --format json lists them all)",
        c.class_changes.len().min(CLASSES_SHOWN),
        c.class_changes.len()
    )
}

/// A p-value to 3 significant digits, with its relation: `= 0.253`, `= 1.23e-5`; one below what
/// a double holds reads `< 1e-300`, never `= 0.00e0`.
pub fn p_value_text(p: f64) -> String {
    if p.is_nan() || p <= 1e-300 {
        return "< 1e-300".into();
    }
    if p < 1e-4 {
        return format!("= {p:.2e}");
    }
    let decimals = (2 - p.log10().floor() as i32).max(0) as usize;
    format!("= {p:.decimals$}")
}

/// The agreement figures, one per line, as every format states them.
fn findings(c: &Comparison) -> [String; 3] {
    let p = p_value_text(c.mcnemar_exact_p);
    [
        format!(
            "top-1 agreement: {} ({:.3}%)",
            c.top1_agreement, c.top1_agreement_percent
        ),
        format!(
            "identical top-5 sets: {} ({:.3}%)",
            c.identical_top5_sets, c.identical_top5_sets_percent
        ),
        format!(
            "top-1 difference B − A: {:+.3} points; only A right: {}, only B right: {}; exact McNemar p {p}",
            c.top1_difference, c.only_a_correct, c.only_b_correct
        ),
    ]
}

/// A run's id, with its marks where it is not all of its image set.
fn run_cell(side: &Side) -> String {
    if side.marks.is_empty() {
        side.run.to_string()
    } else {
        format!(
            "{} [{}] ({})",
            side.run,
            crate::eval::trust::marks_text(&side.marks),
            side.coverage
        )
    }
}

/// The rows of the side-by-side table: label, A, B. The store's text (model ids, recipes,
/// providers) goes through `shown`, the escaping of the output it is written to.
fn sides(c: &Comparison, shown: fn(&str) -> String) -> Vec<[String; 3]> {
    let (a, b) = (&c.a, &c.b);
    vec![
        ["run".into(), run_cell(a), run_cell(b)],
        ["model".into(), model_cell(a, shown), model_cell(b, shown)],
        [
            "kind / recipe".into(),
            format!("{} / {}", a.kind, shown(&a.recipe)),
            format!("{} / {}", b.kind, shown(&b.recipe)),
        ],
        [
            "provider / batch".into(),
            format!("{} / {}", shown(&a.provider), a.batch),
            format!("{} / {}", shown(&b.provider), b.batch),
        ],
        [
            "top-1".into(),
            with_interval(a.top1, a.top1_interval),
            with_interval(b.top1, b.top1_interval),
        ],
        [
            "top-5".into(),
            with_interval(a.top5, a.top5_interval),
            with_interval(b.top5, b.top5_interval),
        ],
    ]
}

/// The model a run evaluated: its id, and for a native run the caller's name for it
/// (`pytorch/resnet50 (native: resnet50 V1)`), each through `shown`.
fn model_cell(side: &Side, shown: fn(&str) -> String) -> String {
    match &side.native_name {
        Some(name) => format!("{} (native: {})", shown(&side.model_id), shown(name)),
        None => shown(&side.model_id),
    }
}

/// `76.130 [75.75, 76.50]`: the figure and its 95% interval.
fn with_interval(value: f64, interval: Option<[f64; 2]>) -> String {
    match interval {
        Some([lo, hi]) => format!("{value:.3} [{lo:.2}, {hi:.2}]"),
        None => format!("{value:.3}"),
    }
}

/// The differences listed under `limit` (0: all), and the line that states the total when
/// some are left out.
fn listed(c: &Comparison, limit: usize) -> (&[Difference], Option<String>) {
    let total = c.top1_differs.len();
    if limit == 0 || total <= limit {
        return (&c.top1_differs, None);
    }
    let note = format!(
        "showing {limit} of {} images whose top-1 differs; --limit 0 for all",
        thousands(total)
    );
    (&c.top1_differs[..limit], Some(note))
}

/// `12081` -> `12,081`: totals are read at a glance.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::Render;

    #[test]
    fn p_values_read_with_three_significant_digits_and_never_as_zero() {
        assert_eq!(p_value_text(0.252_869_73), "= 0.253");
        assert_eq!(p_value_text(1.0), "= 1.00");
        assert_eq!(p_value_text(0.000_123_4), "= 0.000123");
        assert_eq!(p_value_text(1.234e-17), "= 1.23e-17");
        assert_eq!(p_value_text(0.0), "< 1e-300");
        assert_eq!(
            p_value_text(crate::eval::stats::mcnemar_exact_p(0, 50_000)),
            "< 1e-300"
        );
    }

    fn side(run: i64) -> Side {
        Side {
            coverage: "complete",
            marks: Vec::new(),
            run,
            model_id: format!("pytorch/model{run}"),
            native_name: None,
            kind: RunKind::Import,
            recipe: "torchvision".into(),
            provider: "cpu".into(),
            batch: 32,
            top1: 76.13,
            top5: 92.862,
            top1_interval: crate::report::percent_interval(38_065, 50_000),
            top5_interval: None,
        }
    }

    pub(crate) fn comparison(differs: usize) -> Comparison {
        Comparison {
            a: side(3),
            b: side(7),
            images: 50000,
            pairing: PairingNotes::default(),
            top1_agreement: 50000 - differs,
            top1_agreement_percent: 75.0,
            identical_top5_sets: 30000,
            identical_top5_sets_percent: 60.0,
            top1_difference: 0.5,
            only_a_correct: 10,
            only_b_correct: 20,
            mcnemar_exact_p: 0.05,
            class_changes: crate::eval::compare::class_changes(&[
                [50, 40, 45],
                [0, 0, 0],
                [50, 30, 30],
                [2, 2, 0],
            ]),
            top1_differs: (0..differs)
                .map(|i| Difference {
                    name: format!("ILSVRC2012_val_{i:08}.JPEG"),
                    file: format!("n01440764/ILSVRC2012_val_{i:08}.JPEG"),
                    label: 0,
                    label_name: "tench",
                    a_top1: 0,
                    a_name: "tench",
                    b_top1: 1,
                    b_name: "goldfish",
                })
                .collect(),
        }
    }

    #[test]
    fn the_differences_list_stops_at_the_limit_and_states_the_total() {
        let c = comparison(12081);
        let md = Markdown { limit: 20 }.render(&c);
        assert!(
            md.contains("showing 20 of 12,081 images whose top-1 differs; --limit 0 for all"),
            "{md}"
        );
        assert_eq!(md.lines().filter(|l| l.starts_with("| `n014")).count(), 20);
        let all = Markdown { limit: 0 }.render(&c);
        assert_eq!(
            all.lines().filter(|l| l.starts_with("| `n014")).count(),
            12081
        );
        assert!(!all.contains("showing"));
        let few = Text { limit: 20 }.render(&comparison(3));
        assert!(few.contains("\n3 images whose top-1 differs\n"), "{few}");
        assert!(!few.contains("showing"), "{few}");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12081), "12,081");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn the_classes_that_changed_most_are_shown_with_their_figures() {
        let c = comparison(3);
        let text = Text { limit: 20 }.render(&c);
        assert!(
            text.contains("Classes whose top-1 changed most (2 of 2 classes changed"),
            "{text}"
        );
        // Figures carry their 95% interval.
        assert!(text.contains("76.130 [75.75, 76.50]"), "{text}");
        assert!(
            text.contains("3 tiger_shark") && text.contains("-100.0"),
            "{text}"
        );
        let markdown = Markdown { limit: 20 }.render(&c);
        assert!(
            markdown.contains("| 0 tench | 50 | 80.0% | 90.0% | +10.0 |"),
            "{markdown}"
        );
    }
}
