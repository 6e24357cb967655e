//! `compare --format html`: the comparison as the page [`crate::report::html::compare`] draws,
//! with small thumbnails of the differing images.

use std::path::Path;

use super::{Comparison, Difference, Side, class_rows, findings, listed, model_cell, run_cell};
use crate::report::Render;
use crate::report::html::compare::{ComparePage, Thumbnail};

/// The page, with thumbnails of at most `limit` differing images (0: all). `image` gives the
/// bytes of the file a difference is about, where `--val` holds exactly what the runs scored
/// (`None`: the page shows the names only); `val` is `--val`, for the note on missing ones.
pub struct Html<'a> {
    pub limit: usize,
    pub val: Option<&'a Path>,
    pub image: &'a dyn Fn(&Difference) -> Option<Vec<u8>>,
}

impl Render<Comparison> for Html<'_> {
    fn render(&self, c: &Comparison) -> String {
        crate::report::html::compare::render(&page(c, self.limit, self.val, self.image))
    }
}

/// The page `--format html` shows: the same figures, and thumbnails of the first `limit`
/// differing images (0: all), whose bytes `image` reads from `--val`.
fn page(
    c: &Comparison,
    limit: usize,
    val: Option<&Path>,
    image: &dyn Fn(&Difference) -> Option<Vec<u8>>,
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
            png: image(d).and_then(|bytes| thumbnail_png(&bytes)),
        })
        .collect();
    let missing = thumbnails.iter().filter(|t| t.png.is_none()).count();
    let side = |which: &str, s: &Side| {
        (
            format!(
                "{which}: run {} {}",
                run_cell(s),
                model_cell(s, str::to_string)
            ),
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
