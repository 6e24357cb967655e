//! Pillow's `Image.resize`, reproduced exactly (see ../shared/docs/IMPLEMENTATION_FACTS.md).
//!
//! BOX, BILINEAR, HAMMING, BICUBIC and LANCZOS follow Pillow's separable convolution: per-axis
//! coefficient tables computed in double precision, rounded to 22-bit fixed point, two passes
//! each rounded to 8 bits. Because each pass rounds, the order of the passes is part of the
//! result, and it changed in Pillow 13 ([`PillowCompat`]); Pillow-SIMD keeps Pillow 12's order
//! but rounds the coefficients to 16 bits (`precision.rs`). NEAREST follows Pillow's affine
//! path, whose source coordinates are a running double-precision sum (the same in all three).
//!
//! `scalar.rs` holds the passes as Pillow's C code computes them (the reference), `avx2.rs` the
//! same integer arithmetic vectorised (chosen at run time, equal bit for bit), `taps.rs` the
//! coefficient tables both read.

use std::ops::Range;
use std::rc::Rc;

use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::Filter;

#[cfg(target_arch = "x86_64")]
mod avx2;
mod compat;
mod nearest;
mod precision;
mod scalar;
mod taps;

pub use compat::PillowCompat;

use nearest::nearest;
use scalar::{horizontal_pass, vertical_pass};
use taps::{Stretch, Taps};

/// What `Image.resize((width, height), filter, box)` is asked: the `source` rectangle of the
/// picture (Pillow's `box`, in whole pixels; the whole picture without one) stretched to
/// `width` x `height`. The filters still read pixels just outside a box (their windows are
/// clipped to the picture, not to the box).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub source: Window,
    pub width: usize,
    pub height: usize,
}

impl Target {
    /// The whole `full_width` x `full_height` picture to `width` x `height`.
    pub fn whole(full_width: usize, full_height: usize, width: usize, height: usize) -> Self {
        Self {
            source: Window::full(full_width, full_height),
            width,
            height,
        }
    }

    /// The resize of each axis of a `full_width` x `full_height` picture.
    fn stretches(&self, full_width: usize, full_height: usize) -> (Stretch, Stretch) {
        let columns = Stretch {
            in_size: full_width,
            start: self.source.x,
            end: self.source.x + self.source.width,
            out_size: self.width,
        };
        let rows = Stretch {
            in_size: full_height,
            start: self.source.y,
            end: self.source.y + self.source.height,
            out_size: self.height,
        };
        (columns, rows)
    }
}

/// Resize `src` to `width` x `height` exactly as Pillow's `Image.resize((width, height), filter)`.
pub fn resize(
    src: &RgbImage,
    width: usize,
    height: usize,
    filter: Filter,
    compat: PillowCompat,
) -> RgbImage {
    let target = Target::whole(src.width, src.height, width, height);
    resize_window(
        src,
        Placement::whole(src),
        target,
        Window::full(width, height),
        filter,
        compat,
    )
}

/// The `window` part of the resize `target` of a picture, computed without the rest: every
/// output pixel depends only on its own coefficient windows, so a centre crop need not resize
/// what it throws away. `src` holds the part of the picture that `placement` says, which must
/// cover [`source_window`]. The result is `window.width` x `window.height`.
///
/// # Panics
/// If `window` does not lie inside the `target.width` x `target.height` output grid, the box is
/// empty or outside the picture, or `src` does not cover the pixels the window needs (a
/// caller's bug).
pub fn resize_window(
    src: &RgbImage,
    placement: Placement,
    target: Target,
    window: Window,
    filter: Filter,
    compat: PillowCompat,
) -> RgbImage {
    let (full_width, full_height) = (placement.full_width, placement.full_height);
    assert!(
        Window::full(target.width, target.height).contains(&window),
        "{window:?} is outside the {}x{} output",
        target.width,
        target.height
    );
    if window.width == 0 || window.height == 0 || full_width == 0 || full_height == 0 {
        return RgbImage::zeroed(window.width, window.height);
    }
    assert!(
        Window::full(full_width, full_height).contains(&target.source)
            && target.source.width > 0
            && target.source.height > 0,
        "box {:?} is empty or outside the {full_width}x{full_height} picture",
        target.source
    );
    let stretches = target.stretches(full_width, full_height);
    if filter != Filter::Nearest
        && let Some(parts) = split_for_tables(stretches, window, filter)
    {
        return resize_in_parts(src, placement, target, window, parts, filter, compat);
    }
    let axes =
        (filter != Filter::Nearest).then(|| AxisTaps::new(stretches, window, filter, compat));
    let needed = match &axes {
        Some(axes) => axes.source(window),
        None => nearest_source(stretches, window),
    };
    // The passes below index `src` with these coordinates (some through unchecked vector loads).
    assert!(
        placement.window.contains(&needed)
            && (src.width, src.height) == (placement.window.width, placement.window.height),
        "a {src:?} placed at {placement:?} does not cover the source pixels {needed:?}"
    );
    let Some(AxisTaps {
        horizontal,
        vertical,
    }) = axes
    else {
        return nearest(src, placement, stretches, window);
    };

    // Pillow 13 compares the picture's sizes with the output's, whatever the box (measured:
    // with a box, the pass order follows these sizes, not the box's).
    let shrink_h = full_height as i64 - target.height as i64;
    let shrink_w = full_width as i64 - target.width as i64;
    let vertical_first = compat.may_run_vertical_first() && shrink_h > 0 && shrink_h > 2 * shrink_w;

    convolve(
        src,
        placement,
        window,
        needed,
        (horizontal, vertical),
        vertical_first,
    )
}

/// The pixels NEAREST reads for `window`: all of the picture without a box (nothing to save
/// for a squash of the whole picture), else the rows and columns its positions fall on.
fn nearest_source((columns, rows): (Stretch, Stretch), window: Window) -> Window {
    if (columns.start, columns.end, rows.start, rows.end) == (0, columns.in_size, 0, rows.in_size) {
        return Window::full(columns.in_size, rows.in_size);
    }
    let (x, y) = (
        nearest::span(columns, window.columns()),
        nearest::span(rows, window.rows()),
    );
    Window {
        x: x.start,
        y: y.start,
        width: x.len(),
        height: y.len(),
    }
}

/// The separable passes that `window` needs, in Pillow's order, over the `needed` source pixels.
fn convolve(
    src: &RgbImage,
    placement: Placement,
    window: Window,
    needed: Window,
    (horizontal, vertical): (Option<Rc<Taps>>, Option<Rc<Taps>>),
    vertical_first: bool,
) -> RgbImage {
    // Source coordinates of the picture -> indices into `src`.
    let (x0, y0) = (placement.window.x, placement.window.y);
    let local = |range: Range<usize>, origin: usize| range.start - origin..range.end - origin;
    match (horizontal, vertical) {
        // Neither axis resampled: no box, the same size; a copy.
        (None, None) => crop(
            src,
            Window {
                x: window.x - x0,
                y: window.y - y0,
                ..window
            },
        ),
        (Some(h), None) => {
            horizontal_pass(&src.pixels, src.width, local(window.rows(), y0), &h, x0)
        }
        (None, Some(v)) => {
            vertical_pass(&src.pixels, src.width, local(window.columns(), x0), &v, y0)
        }
        (Some(h), Some(v)) if vertical_first => {
            // Only the source columns the horizontal pass will read.
            let columns = needed.columns();
            let temp = vertical_pass(&src.pixels, src.width, local(columns.clone(), x0), &v, y0);
            horizontal_pass(&temp.pixels, temp.width, 0..temp.height, &h, columns.start)
        }
        (Some(h), Some(v)) => {
            // Only the source rows the vertical pass will read.
            let rows = needed.rows();
            let temp = horizontal_pass(&src.pixels, src.width, local(rows.clone(), y0), &h, x0);
            vertical_pass(&temp.pixels, temp.width, 0..temp.width, &v, rows.start)
        }
    }
}

/// The largest coefficient table one pass builds at once. A table costs about 4 bytes per tap,
/// and a strong downscale of a very long axis (a 40,000,000 x 1 picture squashed to 224) has
/// millions of taps per output pixel: a whole table would be many times the picture itself.
/// Beyond this, the window is resized in parts whose tables fit (one output column or row at
/// least); the pixels are the same, since each output pixel depends only on its own taps.
const TABLE_BYTES: usize = 4 << 20;

/// Where the window must be cut so that no table exceeds [`TABLE_BYTES`]: `Some((columns, rows))`
/// giving the most output columns and rows per part, or None when the whole window fits.
fn split_for_tables(
    (columns, rows): (Stretch, Stretch),
    window: Window,
    filter: Filter,
) -> Option<(usize, usize)> {
    let per_output = |stretch: Stretch| {
        if stretch.resampled() {
            Taps::stride(stretch, filter) * std::mem::size_of::<i32>()
        } else {
            0
        }
    };
    let most = |per: usize, len: usize| {
        TABLE_BYTES
            .checked_div(per)
            .map_or(len, |fit| fit.clamp(1, len.max(1)))
    };
    let most_columns = most(per_output(columns), window.width);
    let most_rows = most(per_output(rows), window.height);
    (most_columns < window.width || most_rows < window.height).then_some((most_columns, most_rows))
}

/// [`resize_window`] part by part (at most `columns` x `rows` output pixels each), assembled.
fn resize_in_parts(
    src: &RgbImage,
    placement: Placement,
    target: Target,
    window: Window,
    (columns, rows): (usize, usize),
    filter: Filter,
    compat: PillowCompat,
) -> RgbImage {
    let mut out = RgbImage::zeroed(window.width, window.height);
    for y in window.rows().step_by(rows) {
        for x in window.columns().step_by(columns) {
            let part = Window {
                x,
                y,
                width: columns.min(window.x + window.width - x),
                height: rows.min(window.y + window.height - y),
            };
            let pixels = resize_window(src, placement, target, part, filter, compat);
            let (dx, dy) = (x - window.x, y - window.y);
            for (r, row) in pixels.pixels.chunks_exact(part.width * 3).enumerate() {
                let at = ((dy + r) * window.width + dx) * 3;
                out.pixels[at..at + row.len()].copy_from_slice(row);
            }
        }
    }
    out
}

/// The pixels of a `full_width` x `full_height` picture that [`resize_window`] reads to produce
/// `window` of the resize `target`: a decoder need not produce the rest.
pub fn source_window(
    full_width: usize,
    full_height: usize,
    target: Target,
    window: Window,
    filter: Filter,
) -> Window {
    if window.width == 0 || window.height == 0 || full_width == 0 || full_height == 0 {
        return Window::full(full_width, full_height);
    }
    let stretches = target.stretches(full_width, full_height);
    if filter == Filter::Nearest {
        return nearest_source(stretches, window);
    }
    // From the windows alone: the tables themselves can be far larger than the picture.
    let span = |stretch: Stretch, outputs: Range<usize>| {
        if stretch.resampled() {
            Taps::span(stretch, outputs, filter)
        } else {
            outputs
        }
    };
    let columns = span(stretches.0, window.columns());
    let rows = span(stretches.1, window.rows());
    Window {
        x: columns.start,
        y: rows.start,
        width: columns.len(),
        height: rows.len(),
    }
}

/// The coefficient tables of a convolution resize, per axis; None for an axis Pillow does not
/// resample (it is copied).
struct AxisTaps {
    horizontal: Option<Rc<Taps>>,
    vertical: Option<Rc<Taps>>,
}

impl AxisTaps {
    fn new(
        (columns, rows): (Stretch, Stretch),
        window: Window,
        filter: Filter,
        compat: PillowCompat,
    ) -> Self {
        let axis = |stretch: Stretch, outputs: Range<usize>| {
            stretch.resampled().then(|| {
                let bits = precision::precision(stretch, filter, compat);
                Taps::cached(stretch, outputs, filter, bits)
            })
        };
        Self {
            horizontal: axis(columns, window.columns()),
            vertical: axis(rows, window.rows()),
        }
    }

    /// The source pixels the resize of `window` reads: a copied axis reads the window's own
    /// positions, a resampled one its tables' windows.
    fn source(&self, window: Window) -> Window {
        let span = |taps: &Option<Rc<Taps>>, outputs: Range<usize>| {
            taps.as_ref().map_or(outputs, |taps| taps.source_span())
        };
        let columns = span(&self.horizontal, window.columns());
        let rows = span(&self.vertical, window.rows());
        Window {
            x: columns.start,
            y: rows.start,
            width: columns.len(),
            height: rows.len(),
        }
    }
}

/// Copy `window` out of `src`.
pub fn crop(src: &RgbImage, window: Window) -> RgbImage {
    assert!(
        window.x + window.width <= src.width && window.y + window.height <= src.height,
        "{window:?} is outside the {}x{} image",
        src.width,
        src.height
    );
    let mut pixels = Vec::with_capacity(window.width * window.height * 3);
    for y in window.rows() {
        pixels.extend_from_slice(&src.row(y)[window.x * 3..(window.x + window.width) * 3]);
    }
    RgbImage::new(window.width, window.height, pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn test_image(width: usize, height: usize) -> RgbImage {
        let pixels = (0..width * height * 3)
            .map(|i| ((i * 7919) % 256) as u8)
            .collect();
        RgbImage::new(width, height, pixels)
    }

    #[test]
    fn huge_tables_are_built_in_parts_with_the_same_pixels() {
        // 300,000 columns squashed to 5 with LANCZOS: about 1.1 MB of taps per output column,
        // so the window is resized in parts; the whole table, built directly, must agree.
        let (width, out) = (300_000, 5);
        let pixels: Vec<u8> = (0..width * 2 * 3).map(|i| (i * 37 % 253) as u8).collect();
        let src = RgbImage::new(width, 2, pixels);
        assert!(
            split_for_tables(
                (Stretch::whole(width, out), Stretch::whole(2, 2)),
                Window::full(out, 2),
                Filter::Lanczos
            )
            .is_some()
        );
        for compat in PillowCompat::ALL {
            let parts = resize(&src, out, 2, Filter::Lanczos, compat);
            let bits = precision::precision(Stretch::whole(width, out), Filter::Lanczos, compat);
            let whole = horizontal_pass(
                &src.pixels,
                width,
                0..2,
                &Taps::new(Stretch::whole(width, out), 0..out, Filter::Lanczos, bits),
                0,
            );
            assert_eq!(parts.pixels, whole.pixels, "{compat:?}");
        }
        assert_eq!(
            source_window(
                width,
                2,
                Target::whole(width, 2, out, 2),
                Window::full(out, 2),
                Filter::Lanczos
            ),
            Window::full(width, 2)
        );
    }

    #[test]
    fn same_size_is_a_copy() {
        let img = test_image(5, 4);
        for filter in Filter::ALL {
            assert_eq!(resize(&img, 5, 4, filter, PillowCompat::V13), img);
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let img = RgbImage::new(7, 5, [10u8, 200, 77].repeat(35));
        for filter in Filter::ALL {
            for (w, h) in [(3, 2), (11, 9), (7, 2), (2, 5), (1, 1)] {
                let out = resize(&img, w, h, filter, PillowCompat::V13);
                assert_eq!((out.width, out.height), (w, h));
                assert!(
                    out.pixels.chunks_exact(3).all(|p| p == [10, 200, 77]),
                    "{filter:?} {w}x{h}"
                );
            }
        }
    }

    #[test]
    fn windows_equal_the_matching_part_of_the_full_resize() {
        let img = test_image(37, 23);
        for filter in Filter::ALL {
            for compat in PillowCompat::ALL {
                for (w, h) in [(20, 11), (50, 30), (37, 10), (15, 23), (30, 20)] {
                    let full = resize(&img, w, h, filter, compat);
                    let window = Window {
                        x: 3,
                        y: 2,
                        width: w - 5,
                        height: h - 4,
                    };
                    let part = resize_window(
                        &img,
                        Placement::whole(&img),
                        Target::whole(37, 23, w, h),
                        window,
                        filter,
                        compat,
                    );
                    assert_eq!(part, crop(&full, window), "{filter:?} {compat:?} {w}x{h}");
                }
            }
        }
    }

    #[test]
    fn a_part_covering_the_source_window_resizes_like_the_whole_picture() {
        let img = test_image(61, 47);
        for filter in Filter::ALL {
            for compat in PillowCompat::ALL {
                for (w, h) in [(30, 20), (61, 20), (30, 47), (80, 90), (20, 45)] {
                    let window = Window {
                        x: w / 5,
                        y: h / 4,
                        width: w / 2,
                        height: h / 2,
                    };
                    let whole = resize_window(
                        &img,
                        Placement::whole(&img),
                        Target::whole(61, 47, w, h),
                        window,
                        filter,
                        compat,
                    );
                    let needed = source_window(61, 47, Target::whole(61, 47, w, h), window, filter);
                    assert!(Window::full(61, 47).contains(&needed));
                    if filter != Filter::Nearest {
                        assert!(needed != Window::full(61, 47), "{filter:?} {w}x{h}");
                    }
                    // The needed pixels, and the needed pixels with one more on every side.
                    let grown = Window {
                        x: needed.x.saturating_sub(1),
                        y: needed.y.saturating_sub(1),
                        width: (needed.x + needed.width + 1).min(61) - needed.x.saturating_sub(1),
                        height: (needed.y + needed.height + 1).min(47) - needed.y.saturating_sub(1),
                    };
                    for part_window in [needed, grown] {
                        let part = crop(&img, part_window);
                        let placement = Placement {
                            window: part_window,
                            full_width: 61,
                            full_height: 47,
                        };
                        let got = resize_window(
                            &part,
                            placement,
                            Target::whole(61, 47, w, h),
                            window,
                            filter,
                            compat,
                        );
                        assert_eq!(got, whole, "{filter:?} {compat:?} {w}x{h} {part_window:?}");
                    }
                }
            }
        }
    }

    /// `Image.resize(size, filter, box)` on the whole picture.
    fn resize_box(
        img: &RgbImage,
        source: Window,
        (width, height): (usize, usize),
        filter: Filter,
        compat: PillowCompat,
    ) -> RgbImage {
        let target = Target {
            source,
            width,
            height,
        };
        let window = Window::full(width, height);
        resize_window(img, Placement::whole(img), target, window, filter, compat)
    }

    #[test]
    fn a_box_is_resized_with_the_pixels_around_it() {
        // Real Pillow 13: Image.fromarray of these four pixels, .resize((1, 1), BILINEAR,
        // box=(1, 0, 3, 1)) gives 118: centre 2.0, support 2, so the window is pixels 0..4 with
        // weights 1/8, 3/8, 3/8, 1/8, two of them outside the box. Cropping first gives 150.
        let img = RgbImage::new(
            4,
            1,
            vec![0, 0, 0, 100, 100, 100, 200, 200, 200, 40, 40, 40],
        );
        let boxed = |x, width, out, filter| {
            let source = Window {
                x,
                y: 0,
                width,
                height: 1,
            };
            let resized = resize_box(&img, source, (out, 1), filter, PillowCompat::V13);
            resized.pixels.chunks(3).map(|p| p[0]).collect::<Vec<_>>()
        };
        assert_eq!(boxed(1, 2, 1, Filter::Bilinear), [118]);
        let cropped = crop(
            &img,
            Window {
                x: 1,
                y: 0,
                width: 2,
                height: 1,
            },
        );
        assert_eq!(
            resize(&cropped, 1, 1, Filter::Bilinear, PillowCompat::V13).pixels[0],
            150
        );
        // NEAREST: positions start at the box's edge plus half a step (Pillow: 200; 100, 40).
        assert_eq!(boxed(1, 2, 1, Filter::Nearest), [200]);
        assert_eq!(boxed(1, 3, 2, Filter::Nearest), [100, 40]);
    }

    #[test]
    fn a_box_as_large_as_the_output_is_a_crop() {
        // Pillow crops such a box without resampling (ImagingCrop); the resampling, had it run,
        // gives the same pixels for every filter (weights 1 and 0 at whole-pixel offsets).
        let img = test_image(37, 23);
        let source = Window {
            x: 5,
            y: 3,
            width: 20,
            height: 17,
        };
        for filter in Filter::ALL {
            for compat in PillowCompat::ALL {
                let got = resize_box(&img, source, (20, 17), filter, compat);
                assert_eq!(got, crop(&img, source), "{filter:?} {compat:?}");
                // One axis alone: a crop of that axis, the other resampled as without a box.
                let rows = Window {
                    x: 0,
                    width: 37,
                    ..source
                };
                let got = resize_box(&img, rows, (30, 17), filter, compat);
                let want = resize(&crop(&img, rows), 30, 17, filter, compat);
                assert_eq!(got, want, "{filter:?} {compat:?}");
            }
        }
    }

    #[test]
    fn a_boxed_resize_reads_only_its_source_window() {
        let img = test_image(61, 47);
        // Boxes inside the picture, at its edges, one pixel, and the whole picture.
        let boxes = [
            (5, 3, 40, 30),
            (0, 10, 47, 37),
            (30, 20, 1, 1),
            (0, 0, 61, 47),
        ];
        for (x, y, width, height) in boxes {
            let source = Window {
                x,
                y,
                width,
                height,
            };
            for filter in Filter::ALL {
                for compat in PillowCompat::ALL {
                    for (w, h) in [(23, 23), (80, 9), (3, 60)] {
                        let whole = resize_box(&img, source, (w, h), filter, compat);
                        let target = Target {
                            source,
                            width: w,
                            height: h,
                        };
                        let window = Window {
                            x: w / 4,
                            y: h / 3,
                            width: w / 2 + 1,
                            height: h / 2,
                        };
                        let needed = source_window(61, 47, target, window, filter);
                        assert!(Window::full(61, 47).contains(&needed));
                        let part = crop(&img, needed);
                        let placement = Placement {
                            window: needed,
                            full_width: 61,
                            full_height: 47,
                        };
                        let got = resize_window(&part, placement, target, window, filter, compat);
                        let what = format!("{filter:?} {compat:?} {source:?} -> {w}x{h}");
                        assert_eq!(got, crop(&whole, window), "{what}");
                    }
                }
            }
        }
        // Shrinking a box reads past its edges (the filter's support is clipped to the picture).
        let source = Window {
            x: 10,
            y: 10,
            width: 30,
            height: 30,
        };
        let needed = source_window(
            61,
            47,
            Target {
                source,
                width: 10,
                height: 10,
            },
            Window::full(10, 10),
            Filter::Bicubic,
        );
        assert!(needed.contains(&source) && needed != source, "{needed:?}");
    }

    #[test]
    fn pass_order_is_what_separates_pillow_12_and_13() {
        // A tall image shrunk mostly vertically: Pillow 13 runs the vertical pass first.
        let img = test_image(40, 90);
        let v12 = resize(&img, 31, 20, Filter::Bilinear, PillowCompat::V12);
        let v13 = resize(&img, 31, 20, Filter::Bilinear, PillowCompat::V13);
        assert_ne!(
            v12, v13,
            "the two pass orders should round differently somewhere"
        );
        // Shrinking mostly horizontally: both run horizontal first.
        let img = test_image(90, 40);
        assert_eq!(
            resize(&img, 20, 31, Filter::Bilinear, PillowCompat::V12),
            resize(&img, 20, 31, Filter::Bilinear, PillowCompat::V13)
        );
    }

    #[test]
    fn bilinear_halving_averages_pixel_pairs() {
        // 4x1 -> 2x1 with BILINEAR: support 2, weights 1/4 3/4 3/4 1/4 over each pair's
        // neighbourhood; check against the hand computation for a simple ramp.
        let img = RgbImage::new(
            4,
            1,
            vec![0, 0, 0, 100, 100, 100, 200, 200, 200, 40, 40, 40],
        );
        let out = resize(&img, 2, 1, Filter::Bilinear, PillowCompat::V13);
        // Output 0: centre 1.0, taps x=0..3 weights (.75, .75, .25)/1.75 -> (0*3+100*3+200)/7.
        let expected0 = ((0.0 * 3.0 + 100.0 * 3.0 + 200.0) / 7.0f64).round() as u8;
        assert_eq!(out.pixels[0], expected0);
    }

    #[test]
    fn nearest_uses_the_running_sum() {
        let img = RgbImage::new(3, 1, vec![1, 1, 1, 2, 2, 2, 3, 3, 3]);
        let out = resize(&img, 2, 1, Filter::Nearest, PillowCompat::V13);
        // step 1.5: positions 0.75 and 2.25 -> source columns 0 and 2.
        assert_eq!(out.pixels, [1, 1, 1, 3, 3, 3]);
        let out = resize(&img, 6, 1, Filter::Nearest, PillowCompat::V13);
        assert_eq!(
            out.pixels.chunks(3).map(|p| p[0]).collect::<Vec<_>>(),
            [1, 1, 2, 2, 3, 3]
        );
    }
}
