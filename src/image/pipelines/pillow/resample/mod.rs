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
use taps::Taps;

/// Resize `src` to `width` x `height` exactly as Pillow's `Image.resize((width, height), filter)`.
pub fn resize(
    src: &RgbImage,
    width: usize,
    height: usize,
    filter: Filter,
    compat: PillowCompat,
) -> RgbImage {
    resize_window(
        src,
        Placement::whole(src),
        width,
        height,
        Window::full(width, height),
        filter,
        compat,
    )
}

/// The `window` part of the resize of a picture to `width` x `height`, computed without the
/// rest: every output pixel depends only on its own coefficient windows, so a centre crop need
/// not resize what it throws away. `src` holds the part of the picture that `placement` says,
/// which must cover [`source_window`]. The result is `window.width` x `window.height`.
///
/// # Panics
/// If `window` does not lie inside the `width` x `height` output grid, or `src` does not cover
/// the pixels the window needs (a caller's bug).
pub fn resize_window(
    src: &RgbImage,
    placement: Placement,
    width: usize,
    height: usize,
    window: Window,
    filter: Filter,
    compat: PillowCompat,
) -> RgbImage {
    assert!(
        Window::full(width, height).contains(&window),
        "{window:?} is outside the {width}x{height} output"
    );
    let (full_width, full_height) = (placement.full_width, placement.full_height);
    if window.width == 0 || window.height == 0 || full_width == 0 || full_height == 0 {
        return RgbImage::zeroed(window.width, window.height);
    }
    if filter != Filter::Nearest
        && let Some(parts) =
            split_for_tables(full_width, full_height, width, height, window, filter)
    {
        return resize_in_parts(src, placement, width, height, window, parts, filter, compat);
    }
    let axes = (filter != Filter::Nearest).then(|| {
        AxisTaps::new(
            (full_width, full_height),
            (width, height),
            window,
            filter,
            compat,
        )
    });
    let needed = match &axes {
        Some(axes) => axes.source(window),
        None => Window::full(full_width, full_height),
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
        return nearest(src, placement, width, height, window);
    };

    let shrink_h = full_height as i64 - height as i64;
    let shrink_w = full_width as i64 - width as i64;
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
    full_width: usize,
    full_height: usize,
    width: usize,
    height: usize,
    window: Window,
    filter: Filter,
) -> Option<(usize, usize)> {
    let per_output = |full: usize, out: usize| {
        if full == out {
            0
        } else {
            Taps::stride(full, out, filter) * std::mem::size_of::<i32>()
        }
    };
    let most = |per: usize, len: usize| {
        TABLE_BYTES
            .checked_div(per)
            .map_or(len, |fit| fit.clamp(1, len.max(1)))
    };
    let columns = most(per_output(full_width, width), window.width);
    let rows = most(per_output(full_height, height), window.height);
    (columns < window.width || rows < window.height).then_some((columns, rows))
}

/// [`resize_window`] part by part (at most `columns` x `rows` output pixels each), assembled.
#[allow(clippy::too_many_arguments)]
fn resize_in_parts(
    src: &RgbImage,
    placement: Placement,
    width: usize,
    height: usize,
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
            let pixels = resize_window(src, placement, width, height, part, filter, compat);
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
/// `window` of its resize to `width` x `height`: a decoder need not produce the rest.
pub fn source_window(
    full_width: usize,
    full_height: usize,
    width: usize,
    height: usize,
    window: Window,
    filter: Filter,
) -> Window {
    if filter == Filter::Nearest || window.width == 0 || window.height == 0 {
        // The Keras recipes squash the whole picture with NEAREST: nothing to save there.
        return Window::full(full_width, full_height);
    }
    // From the windows alone: the tables themselves can be far larger than the picture.
    let span = |full: usize, out: usize, outputs: Range<usize>| {
        if full == out {
            outputs
        } else {
            Taps::span(full, out, outputs, filter)
        }
    };
    let columns = span(full_width, width, window.columns());
    let rows = span(full_height, height, window.rows());
    Window {
        x: columns.start,
        y: rows.start,
        width: columns.len(),
        height: rows.len(),
    }
}

/// The coefficient tables of a convolution resize, per axis; None for an axis that keeps its size
/// (it is copied, not resampled).
struct AxisTaps {
    horizontal: Option<Rc<Taps>>,
    vertical: Option<Rc<Taps>>,
}

impl AxisTaps {
    fn new(
        (full_width, full_height): (usize, usize),
        (width, height): (usize, usize),
        window: Window,
        filter: Filter,
        compat: PillowCompat,
    ) -> Self {
        let axis = |full: usize, out: usize, outputs: Range<usize>| {
            (full != out).then(|| {
                let bits = precision::precision(full, out, filter, compat);
                Taps::cached(full, out, outputs, filter, bits)
            })
        };
        Self {
            horizontal: axis(full_width, width, window.columns()),
            vertical: axis(full_height, height, window.rows()),
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
            split_for_tables(width, 2, out, 2, Window::full(out, 2), Filter::Lanczos).is_some()
        );
        for compat in PillowCompat::ALL {
            let parts = resize(&src, out, 2, Filter::Lanczos, compat);
            let bits = precision::precision(width, out, Filter::Lanczos, compat);
            let whole = horizontal_pass(
                &src.pixels,
                width,
                0..2,
                &Taps::new(width, out, 0..out, Filter::Lanczos, bits),
                0,
            );
            assert_eq!(parts.pixels, whole.pixels, "{compat:?}");
        }
        assert_eq!(
            source_window(width, 2, out, 2, Window::full(out, 2), Filter::Lanczos),
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
                    let part =
                        resize_window(&img, Placement::whole(&img), w, h, window, filter, compat);
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
                    let whole =
                        resize_window(&img, Placement::whole(&img), w, h, window, filter, compat);
                    let needed = source_window(61, 47, w, h, window, filter);
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
                        let got = resize_window(&part, placement, w, h, window, filter, compat);
                        assert_eq!(got, whole, "{filter:?} {compat:?} {w}x{h} {part_window:?}");
                    }
                }
            }
        }
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
