//! `zoorepro compare A B`: two runs image by image, on the images both scored from the same
//! content (see [`crate::eval::pairing`]).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

use serde::Serialize;

use super::Context;
use crate::cli::{CompareArgs, CompareFormat};
use crate::dataset::labels;
use crate::eval::pairing::{Pairing, PairingNotes};
use crate::eval::prediction::{Content, Outcome, Prediction, percent};
use crate::eval::stats::mcnemar_exact_p;
use crate::eval::trust::{Coverage, Mark};
use crate::exit;

use crate::report::html::compare::{ComparePage, Thumbnail};
use crate::store::{RunInfo, RunKind, Store};
use crate::util::text_table::aligned;

#[derive(Serialize)]
struct Side {
    run: i64,
    model_id: String,
    kind: RunKind,
    recipe: String,
    provider: String,
    batch: usize,
    top1: f64,
    top5: f64,
    /// 95% Wilson intervals, in percent, over the images both runs scored.
    top1_interval: Option<[f64; 2]>,
    top5_interval: Option<[f64; 2]>,
    /// Whether the run covers the whole image set it was started on: `complete`, `shard`,
    /// `partial`, `interrupted` (never finished) or `unknown` (an older release made it).
    coverage: &'static str,
    /// `partial` for any run that does not cover its image set, `unknown-identity` where that is
    /// not recorded: its figures are a part's, whatever the intervals say.
    marks: Vec<Mark>,
}

/// A run's coverage and the marks it gives every figure of it.
fn coverage(run: &RunInfo) -> (&'static str, Vec<Mark>) {
    if !run.complete {
        return ("interrupted", vec![Mark::Partial]);
    }
    let coverage = run
        .summary
        .as_ref()
        .and_then(|s| s.coverage)
        .unwrap_or(Coverage::Unknown);
    let marks = match coverage {
        Coverage::Complete => Vec::new(),
        Coverage::Shard | Coverage::Partial => vec![Mark::Partial],
        Coverage::Unknown => vec![Mark::UnknownIdentity],
    };
    (coverage.name(), marks)
}

#[derive(Serialize)]
struct Difference {
    /// The basename: the image's identity in the store.
    #[serde(skip)]
    name: String,
    file: String,
    label: u16,
    label_name: &'static str,
    a_top1: u16,
    a_name: &'static str,
    b_top1: u16,
    b_name: &'static str,
}

#[derive(Serialize)]
struct Comparison {
    a: Side,
    b: Side,
    /// Images both runs scored from the same content (or, where a run does not know it, of the
    /// same name): every figure below is over these.
    images: usize,
    /// Images left out because their content differs, and those paired by name alone.
    #[serde(flatten)]
    pairing: PairingNotes,
    top1_agreement: usize,
    top1_agreement_percent: f64,
    identical_top5_sets: usize,
    identical_top5_sets_percent: f64,
    /// B's top-1 minus A's, in points.
    top1_difference: f64,
    /// Images A gets right and B wrong (top-1), and the reverse.
    only_a_correct: usize,
    only_b_correct: usize,
    mcnemar_exact_p: f64,
    /// Classes whose top-1 differs between the runs, the largest change first.
    class_changes: Vec<ClassChange>,
    top1_differs: Vec<Difference>,
}

/// One class's top-1 in both runs, over the images both scored.
#[derive(Debug, PartialEq, Serialize)]
struct ClassChange {
    class: u16,
    name: &'static str,
    images: usize,
    a_top1: f64,
    b_top1: f64,
    /// B's top-1 minus A's, in points.
    change: f64,
}

/// Classes listed by the text formats; `--format json` lists every class that changed.
const CLASSES_SHOWN: usize = 10;

/// The classes whose top-1 count differs, from per-class (images, A correct, B correct).
fn class_changes(classes: &[[usize; 3]]) -> Vec<ClassChange> {
    let mut changes: Vec<ClassChange> = classes
        .iter()
        .enumerate()
        .filter(|(_, [images, a, b])| *images > 0 && a != b)
        .map(|(class, &[images, a, b])| ClassChange {
            class: class as u16,
            name: labels::class_name(class as u16),
            images,
            a_top1: percent(a, images),
            b_top1: percent(b, images),
            change: percent(b, images) - percent(a, images),
        })
        .collect();
    changes.sort_by(|x, y| {
        y.change
            .abs()
            .total_cmp(&x.change.abs())
            .then(y.images.cmp(&x.images))
            .then(x.class.cmp(&y.class))
    });
    changes
}

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

fn ranked(prediction: &Prediction) -> Option<(&[u16; 5], u16)> {
    match (&prediction.outcome, prediction.label) {
        (Outcome::Ranked { top5, .. }, Some(label)) => Some((top5, label)),
        _ => None,
    }
}

pub fn run(ctx: &Context, args: &CompareArgs) -> anyhow::Result<i32> {
    let store = Store::open_for_reading(&ctx.cache_dir()?)?;
    let runs = store.runs()?;
    let (a, b) = (
        super::lookup::resolve_run(ctx, &store, &runs, &args.a)?,
        super::lookup::resolve_run(ctx, &store, &runs, &args.b)?,
    );
    let a_rows = store.predictions(a.id)?;
    let b_rows: HashMap<String, Prediction> = store
        .predictions(b.id)?
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    let contents = [store.contents(a.id)?, store.contents(b.id)?];

    let pair = PairTally::of(&a_rows, &b_rows, &contents);
    let images = pair.images;
    if images == 0 {
        let differ = match pair.pairing.not_comparable {
            0 => String::new(),
            n => format!(" ({n} images share a name but not their content)"),
        };
        anyhow::bail!(
            "runs {} and {} have no scored image in common{differ}: nothing to compare",
            a.id,
            b.id
        );
    }
    let side = |run: &RunInfo, correct: usize, top5: usize| Side {
        coverage: coverage(run).0,
        marks: coverage(run).1,
        run: run.id,
        model_id: run.model_id.clone(),
        kind: run.key.kind,
        recipe: run.key.recipe.clone(),
        provider: run.key.provider.clone(),
        batch: run.key.batch,
        top1: percent(correct, images),
        top5: percent(top5, images),
        top1_interval: crate::report::percent_interval(correct, images),
        top5_interval: crate::report::percent_interval(top5, images),
    };
    let comparison = Comparison {
        a: side(&a, pair.a_correct, pair.a_top5),
        b: side(&b, pair.b_correct, pair.b_top5),
        images,
        pairing: pair.pairing,
        top1_agreement: pair.agree,
        top1_agreement_percent: percent(pair.agree, images),
        identical_top5_sets: pair.same_sets,
        identical_top5_sets_percent: percent(pair.same_sets, images),
        top1_difference: percent(pair.b_correct, images) - percent(pair.a_correct, images),
        only_a_correct: pair.only_a,
        only_b_correct: pair.only_b,
        mcnemar_exact_p: mcnemar_exact_p(pair.only_a as u64, pair.only_b as u64),
        class_changes: class_changes(&pair.classes),
        top1_differs: pair.differs,
    };
    // Pipes keep getting Markdown, which scripts and earlier versions rely on.
    let format = args
        .format
        .unwrap_or(if crate::commands::output::stdout_is_terminal() {
            CompareFormat::Text
        } else {
            CompareFormat::Markdown
        });
    let mut out = crate::commands::output::stdout();
    match format {
        CompareFormat::Json => super::print_json(&comparison)?,
        CompareFormat::Markdown => write_markdown(&mut out, &comparison, args.limit)?,
        CompareFormat::Text => write_text(&mut out, &comparison, args.limit)?,
        CompareFormat::Html => {
            let source = match args.val.as_deref() {
                Some(val) => Some(ThumbnailSource::open(&contents, val)?),
                None => None,
            };
            let page = html_page(
                &comparison,
                args.limit,
                args.val.as_deref(),
                source.as_ref(),
            );
            out.write_all(crate::report::html::compare::render(&page).as_bytes())?;
        }
    }
    Ok(exit::SUCCESS)
}

/// Counts over the images both runs ranked from the same content and that carry a label.
#[derive(Default)]
struct PairTally {
    images: usize,
    pairing: PairingNotes,
    /// Same top-1 class.
    agree: usize,
    same_sets: usize,
    a_correct: usize,
    b_correct: usize,
    a_top5: usize,
    b_top5: usize,
    only_a: usize,
    only_b: usize,
    /// Per class: images, A's top-1 correct, B's.
    classes: Vec<[usize; 3]>,
    differs: Vec<Difference>,
}

impl PairTally {
    /// `contents`: what each run's rows were computed from, by name (absent: unknown).
    fn of(
        a_rows: &[Prediction],
        b_rows: &HashMap<String, Prediction>,
        contents: &[HashMap<String, Content>; 2],
    ) -> PairTally {
        let mut t = PairTally {
            classes: vec![[0; 3]; labels::wnids().len()],
            ..PairTally::default()
        };
        for a_prediction in a_rows {
            let Some(b_prediction) = b_rows.get(&a_prediction.name) else {
                continue;
            };
            // Content first: a file replaced between the runs is not comparable, whether or
            // not one side could decode it.
            let name = &a_prediction.name;
            let pairing = Pairing::of(contents[0].get(name), contents[1].get(name));
            if pairing == Pairing::ContentDiffers {
                t.pairing.add(&a_prediction.file, pairing);
                continue;
            }
            let (Some((a5, label)), Some((b5, _))) = (ranked(a_prediction), ranked(b_prediction))
            else {
                continue;
            };
            if !t.pairing.add(&a_prediction.file, pairing) {
                continue;
            }
            t.images += 1;
            let (a_hit, b_hit) = (a5[0] == label, b5[0] == label);
            t.a_correct += usize::from(a_hit);
            t.b_correct += usize::from(b_hit);
            t.a_top5 += usize::from(a5.contains(&label));
            t.b_top5 += usize::from(b5.contains(&label));
            t.only_a += usize::from(a_hit && !b_hit);
            t.only_b += usize::from(b_hit && !a_hit);
            if let Some(class) = t.classes.get_mut(usize::from(label)) {
                class[0] += 1;
                class[1] += usize::from(a_hit);
                class[2] += usize::from(b_hit);
            }
            let (mut a_set, mut b_set) = (*a5, *b5);
            a_set.sort_unstable();
            b_set.sort_unstable();
            t.same_sets += usize::from(a_set == b_set);
            if a5[0] == b5[0] {
                t.agree += 1;
            } else {
                t.differs.push(Difference {
                    name: a_prediction.name.clone(),
                    file: a_prediction.file.clone(),
                    label,
                    label_name: labels::class_name(label),
                    a_top1: a5[0],
                    a_name: labels::class_name(a5[0]),
                    b_top1: b5[0],
                    b_name: labels::class_name(b5[0]),
                });
            }
        }
        t
    }
}

/// The agreement figures, one per line, as both text formats state them.
fn findings(c: &Comparison) -> [String; 3] {
    let p = if c.mcnemar_exact_p < 1e-4 {
        format!("{:.2e}", c.mcnemar_exact_p)
    } else {
        format!("{:.4}", c.mcnemar_exact_p)
    };
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
            "top-1 difference B − A: {:+.3} points; only A right: {}, only B right: {}; exact McNemar p = {p}",
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
        ["model".into(), shown(&a.model_id), shown(&b.model_id)],
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

use crate::util::escape::{markdown_text, terminal};

fn write_text(out: &mut impl Write, c: &Comparison, limit: usize) -> std::io::Result<()> {
    writeln!(out, "Run {} vs run {}\n", c.a.run, c.b.run)?;
    let mut table = vec![[String::new(), "A".into(), "B".into()]];
    table.extend(sides(c, terminal));
    write!(out, "{}", aligned(&table))?;
    for line in c.pairing.lines() {
        writeln!(out, "\n{}", crate::util::escape::terminal(&line))?;
    }
    writeln!(out, "\nOn the {} images both scored:", c.images)?;
    for line in findings(c) {
        writeln!(out, "  {line}")?;
    }
    if !c.class_changes.is_empty() {
        writeln!(out, "\n{}", class_heading(c))?;
        write!(out, "{}", aligned(&class_rows(c)))?;
    }
    if c.top1_differs.is_empty() {
        return Ok(());
    }
    let (shown, note) = listed(c, limit);
    let heading = note.unwrap_or_else(|| {
        format!(
            "{} images whose top-1 differs",
            thousands(c.top1_differs.len())
        )
    });
    writeln!(out, "\n{heading}")?;
    let mut rows = vec![["file", "label", "A top-1", "B top-1"].map(String::from)];
    rows.extend(shown.iter().map(|d| {
        [
            crate::util::escape::terminal(&d.file),
            format!("{} {}", d.label, d.label_name),
            format!("{} {}", d.a_top1, d.a_name),
            format!("{} {}", d.b_top1, d.b_name),
        ]
    }));
    write!(out, "{}", aligned(&rows))
}

fn write_markdown(out: &mut impl Write, c: &Comparison, limit: usize) -> std::io::Result<()> {
    writeln!(out, "# Run {} vs run {}\n", c.a.run, c.b.run)?;
    writeln!(out, "| | A | B |\n|---|---|---|")?;
    for [what, a, b] in sides(c, markdown_text) {
        writeln!(out, "| {what} | {a} | {b} |")?;
    }
    for line in c.pairing.lines() {
        writeln!(out, "\n{}", crate::util::escape::markdown_text(&line))?;
    }
    writeln!(out, "\nOn the {} images both scored:\n", c.images)?;
    for line in findings(c) {
        writeln!(out, "- {line}")?;
    }
    if !c.class_changes.is_empty() {
        writeln!(out, "\n## {}\n", class_heading(c))?;
        for (i, row) in class_rows(c).iter().enumerate() {
            writeln!(out, "| {} |", row.join(" | "))?;
            if i == 0 {
                writeln!(out, "|---|---|---|---|---|")?;
            }
        }
    }
    if c.top1_differs.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n## Images whose top-1 differs ({})\n",
        c.top1_differs.len()
    )?;
    let (shown, note) = listed(c, limit);
    if let Some(note) = note {
        writeln!(out, "{note}\n")?;
    }
    writeln!(
        out,
        "| file | label | A top-1 | B top-1 |\n|---|---|---|---|"
    )?;
    for d in shown {
        writeln!(
            out,
            "| {} | {} {} | {} {} | {} {} |",
            crate::util::escape::markdown_code(&d.file),
            d.label,
            d.label_name,
            d.a_top1,
            d.a_name,
            d.b_top1,
            d.b_name
        )?;
    }
    Ok(())
}

/// Where thumbnails may come from: files under the canonical `--val` folder whose content is the
/// one a run scored. A stored file name is only a claim (a hostile tar's member may be named
/// `/home/u/private/x.JPEG` or `../../x.JPEG`): joined to `--val` unchecked, it would embed
/// whatever it names in the page.
struct ThumbnailSource {
    /// `--val`, canonical; `None` when it is not a folder (an archive: no thumbnails).
    root: Option<std::path::PathBuf>,
    /// By image name: the contents the runs scored (either run's).
    contents: HashMap<String, Vec<Content>>,
}

impl ThumbnailSource {
    fn open(runs: &[HashMap<String, Content>; 2], val: &Path) -> anyhow::Result<Self> {
        let root = if val.is_dir() {
            Some(
                val.canonicalize()
                    .with_context(|| format!("cannot read --val {}", val.display()))?,
            )
        } else {
            None
        };
        let mut contents: HashMap<String, Vec<Content>> = HashMap::new();
        for run in runs {
            for (name, content) in run {
                let known = contents.entry(name.clone()).or_default();
                if !known.contains(content) {
                    known.push(*content);
                }
            }
        }
        Ok(ThumbnailSource { root, contents })
    }

    /// The bytes of the image a difference is about, when its file lies under `--val` (after
    /// resolving `..` and symlinks) and is exactly what a run scored.
    fn image(&self, d: &Difference) -> Option<Vec<u8>> {
        let root = self.root.as_ref()?;
        let expected = self.contents.get(&d.name)?;
        let relative = crate::dataset::normalised_member_path(&d.file)?;
        let path = root.join(relative).canonicalize().ok()?;
        if !path.starts_with(root) {
            return None;
        }
        let bytes = crate::util::safe_file::read_regular(
            &path,
            crate::dataset::MAX_IMAGE_BYTES,
            "an image",
        )
        .ok()?;
        expected.contains(&Content::of(&bytes)).then_some(bytes)
    }
}

/// The page `--format html` shows: the same figures, and thumbnails of the first `limit`
/// differing images (0: all) read from `source` (`--val`).
fn html_page(
    c: &Comparison,
    limit: usize,
    val: Option<&Path>,
    source: Option<&ThumbnailSource>,
) -> ComparePage {
    let (shown, _) = listed(c, limit);
    let name = |class: u16, label: &str| format!("{class} {label}");
    let thumbnails: Vec<Thumbnail> = shown
        .iter()
        .map(|d| Thumbnail {
            file: d.file.clone(),
            label: name(d.label, d.label_name),
            a: name(d.a_top1, d.a_name),
            b: name(d.b_top1, d.b_name),
            a_right: d.a_top1 == d.label,
            b_right: d.b_top1 == d.label,
            png: source
                .and_then(|source| source.image(d))
                .and_then(|bytes| thumbnail_png(&bytes)),
        })
        .collect();
    let missing = thumbnails.iter().filter(|t| t.png.is_none()).count();
    let side = |which: &str, s: &Side| {
        (
            format!("{which}: run {} {}", run_cell(s), s.model_id),
            s.top1,
            s.top1_interval,
        )
    };
    ComparePage {
        title: format!("Run {} vs run {}", c.a.run, c.b.run),
        runs: [side("A", &c.a), side("B", &c.b)],
        pairing: c.pairing.lines(),
        findings: findings(c).to_vec(),
        classes: class_rows(c),
        thumbnails,
        differing: c.top1_differs.len(),
        thumbnail_note: match val {
            None => Some("Pass --val PATH (the folder the runs scored) to see the images.".into()),
            Some(root) if root.is_file() => Some(format!(
                "{} is an archive: thumbnails are read from folders only.",
                root.display()
            )),
            Some(root) if !root.is_dir() => Some(format!(
                "{} is not a folder: no thumbnails.",
                root.display()
            )),
            Some(_) if missing > 0 => Some(format!(
                "{missing} of these images have no thumbnail: their file is missing from --val, \
                 lies outside it, or is not the file the runs scored (its sha256 differs, or the \
                 store does not know it)."
            )),
            Some(_) => None,
        },
    }
}

/// Longest side of a thumbnail, in pixels.
const THUMBNAIL_SIZE: usize = 144;

/// A small PNG of an encoded image, or None when it cannot be decoded (the page then shows the
/// names only).
fn thumbnail_png(bytes: &[u8]) -> Option<Vec<u8>> {
    let image = crate::image::pipelines::pillow::decode::decode_rgb(bytes).ok()?;
    let scale = THUMBNAIL_SIZE as f64 / image.width.max(image.height) as f64;
    let (width, height) = if scale < 1.0 {
        (
            ((image.width as f64 * scale).round() as usize).max(1),
            ((image.height as f64 * scale).round() as usize).max(1),
        )
    } else {
        (image.width, image.height)
    };
    let small = crate::image::pipelines::pillow::resample::resize(
        &image,
        width,
        height,
        crate::image::recipe::Filter::Bilinear,
        crate::image::pipelines::PillowCompat::V13,
    );
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .ok()?
        .write_image_data(&small.pixels)
        .ok()?;
    Some(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(run: i64) -> Side {
        Side {
            coverage: "complete",
            marks: Vec::new(),
            run,
            model_id: format!("pytorch/model{run}"),
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

    fn comparison(differs: usize) -> Comparison {
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
            class_changes: class_changes(&[[50, 40, 45], [0, 0, 0], [50, 30, 30], [2, 2, 0]]),
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

    fn render(format: CompareFormat, c: &Comparison, limit: usize) -> String {
        let mut out = Vec::new();
        match format {
            CompareFormat::Text => write_text(&mut out, c, limit).unwrap(),
            _ => write_markdown(&mut out, c, limit).unwrap(),
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_differences_list_stops_at_the_limit_and_states_the_total() {
        let c = comparison(12081);
        let md = render(CompareFormat::Markdown, &c, 20);
        assert!(
            md.contains("showing 20 of 12,081 images whose top-1 differs; --limit 0 for all"),
            "{md}"
        );
        assert_eq!(md.lines().filter(|l| l.starts_with("| `n014")).count(), 20);
        let all = render(CompareFormat::Markdown, &c, 0);
        assert_eq!(
            all.lines().filter(|l| l.starts_with("| `n014")).count(),
            12081
        );
        assert!(!all.contains("showing"));
        let few = render(CompareFormat::Text, &comparison(3), 20);
        assert!(few.contains("\n3 images whose top-1 differs\n"), "{few}");
        assert!(!few.contains("showing"), "{few}");
    }

    #[test]
    fn text_columns_are_aligned() {
        let text = render(CompareFormat::Text, &comparison(25), 5);
        assert!(text.contains("showing 5 of 25 images"), "{text}");
        let rows: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("file"))
            .collect();
        assert_eq!(rows.len(), 6, "{text}");
        let column = |line: &str| line.find("0 tench").unwrap();
        assert!(
            rows[1..]
                .iter()
                .all(|r| column(r) == rows[0].find("label").unwrap())
        );
        let model = text.lines().find(|l| l.starts_with("model")).unwrap();
        assert_eq!(
            model.find("pytorch/model3"),
            text.lines().nth(2).unwrap().find('A'),
            "{text}"
        );
        assert!(!text.contains('|'), "{text}");
    }

    #[test]
    fn images_pair_by_name_and_content_and_by_name_alone_where_a_run_has_no_content() {
        let prediction = |name: &str, top1: u16| Prediction {
            name: name.into(),
            file: format!("n01440764/{name}"),
            label: Some(0),
            outcome: Outcome::Ranked {
                top5: [top1, 1, 2, 3, 4],
                scores: [0.0; 5],
            },
        };
        let a = [prediction("a", 0), prediction("b", 0), prediction("c", 0)];
        let b: HashMap<String, Prediction> =
            [prediction("a", 0), prediction("b", 9), prediction("c", 9)]
                .map(|p| (p.name.clone(), p))
                .into();
        let known = |pairs: &[(&str, &[u8])]| -> HashMap<String, Content> {
            pairs
                .iter()
                .map(|(name, bytes)| (name.to_string(), Content::of(bytes)))
                .collect()
        };
        // a: the same file; b: another file under the name; c: no content known in run B.
        let contents = [
            known(&[("a", b"x"), ("b", b"y"), ("c", b"z")]),
            known(&[("a", b"x"), ("b", b"other")]),
        ];
        let tally = PairTally::of(&a, &b, &contents);
        assert_eq!(tally.images, 2);
        assert_eq!(tally.pairing.not_comparable_files, ["n01440764/b"]);
        assert_eq!(tally.pairing.paired_by_name_only, 1);
        assert_eq!((tally.agree, tally.only_a, tally.only_b), (1, 1, 0));
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12081), "12,081");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn classes_that_changed_are_listed_largest_change_first() {
        let c = comparison(3);
        let changes: Vec<(u16, f64)> = c
            .class_changes
            .iter()
            .map(|x| (x.class, x.change))
            .collect();
        // Class 3 lost both of its 2 images (-100 points), class 0 gained 5 of 50 (+10).
        assert_eq!(changes, [(3, -100.0), (0, 10.0)]);
        let mut text = Vec::new();
        write_text(&mut text, &c, 20).unwrap();
        let text = String::from_utf8(text).unwrap();
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
        let mut markdown = Vec::new();
        write_markdown(&mut markdown, &c, 20).unwrap();
        let markdown = String::from_utf8(markdown).unwrap();
        assert!(
            markdown.contains("| 0 tench | 50 | 80.0% | 90.0% | +10.0 |"),
            "{markdown}"
        );
    }

    #[test]
    fn thumbnails_read_only_the_scored_files_under_val() {
        let dir = tempfile::tempdir().unwrap();
        let val = dir.path().join("val");
        std::fs::create_dir_all(val.join("n01440764")).unwrap();
        let private = dir.path().join("private.JPEG");
        std::fs::write(&private, b"private bytes").unwrap();
        std::fs::write(val.join("n01440764/a.JPEG"), b"scored bytes").unwrap();
        std::fs::write(val.join("n01440764/changed.JPEG"), b"edited since").unwrap();
        std::os::unix::fs::symlink(&private, val.join("n01440764/link.JPEG")).unwrap();
        let scored = Content::of(b"scored bytes");
        let private_content = Content::of(b"private bytes");
        let contents = [
            ("a.JPEG", scored),
            ("changed.JPEG", scored),
            // Even where the store holds the private file's digest, no path may reach it.
            ("private.JPEG", private_content),
            ("link.JPEG", private_content),
        ]
        .into_iter()
        .map(|(name, content)| (name.to_string(), vec![content]))
        .collect();
        let source = ThumbnailSource {
            root: Some(val.canonicalize().unwrap()),
            contents,
        };
        let difference = |file: &str| Difference {
            name: file.rsplit('/').next().unwrap().to_string(),
            file: file.to_string(),
            label: 0,
            label_name: "tench",
            a_top1: 0,
            a_name: "tench",
            b_top1: 1,
            b_name: "goldfish",
        };
        assert_eq!(
            source.image(&difference("n01440764/a.JPEG")).as_deref(),
            Some(&b"scored bytes"[..])
        );
        for refused in [
            "n01440764/changed.JPEG".to_string(),
            "n01440764/link.JPEG".to_string(),
            "../private.JPEG".to_string(),
            "n01440764/../../private.JPEG".to_string(),
            private.display().to_string(),
            "n01440764/unknown.JPEG".to_string(),
        ] {
            assert_eq!(source.image(&difference(&refused)), None, "{refused}");
        }
    }
}
