//! `cv2.resize` on 8-bit, 3-channel images with INTER_AREA or INTER_LINEAR, as OpenCV 5.1 computes
//! it (modules/imgproc/src/resize.cpp, read to learn the arithmetic), for a window of the output:
//!
//! - same size: a copy;
//! - INTER_LINEAR by exactly 2 in both directions becomes INTER_AREA;
//! - INTER_AREA shrinking in both directions: by an integer factor, block means (2 x 2 rounds
//!   `(sum + 2) >> 2`, larger blocks `sum * (1.f / area)` to nearest even); otherwise the general
//!   area path, float weights accumulated in OpenCV's order;
//! - everything else (INTER_LINEAR, INTER_AREA enlarging in some direction): the separable
//!   two-tap kernel with 11-bit fixed-point weights, exact integer rows, and the vertical step
//!   `((b0 * (r0 >> 4)) >> 16) + ((b1 * (r1 >> 4)) >> 16) + 2) >> 2` that OpenCV uses for every
//!   column (its SIMD and scalar code agree), INTER_AREA with its own weights.
//!
//! Every output pixel depends only on its own taps, so computing a window of the output gives the
//! same bytes as resizing the whole image and cropping.

use crate::image::raster::{RgbImage, Window};

/// OpenCV's interpolation flags that the presets use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    Area,
    Linear,
}

const COEF_BITS: u32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;

/// `cvRound` of a float: nearest, ties to even (the SSE conversion in the default mode).
fn round_even(v: f32) -> i32 {
    v.round_ties_even() as i32
}

/// `saturate_cast<uchar>` of a float: clamped, then rounded as `cvRound` does. Clamping first
/// gives the same byte (both are monotonic). Adding 1.5 * 2^23 to a value in 0..=255 rounds it
/// to nearest even in float32's own arithmetic and leaves the integer in the low mantissa bits:
/// no libm call and no float-to-int conversion, so loops of it vectorise. (The sums of finite
/// weights times bytes it rounds are never NaN.)
fn saturate_u8(v: f32) -> u8 {
    const MAGIC: f32 = 12_582_912.0;
    ((v.clamp(0.0, 255.0) + MAGIC).to_bits() & 0xff) as u8
}

/// A decoded image holding (at least) the pixels a resize reads: the picture's part whose
/// top-left pixel is (`x`, `y`), of a `width` x `height` picture.
#[derive(Clone, Copy)]
pub struct Part<'a> {
    pub img: &'a RgbImage,
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl<'a> Part<'a> {
    /// The image is the whole picture (the tests' whole decodes).
    #[cfg(test)]
    pub fn whole(img: &'a RgbImage) -> Self {
        Self {
            img,
            x: 0,
            y: 0,
            width: img.width,
            height: img.height,
        }
    }

    fn row(&self, y: usize) -> &'a [u8] {
        self.img.row(y - self.y)
    }

    /// Index of picture column `x`'s first byte in a row of the part.
    fn at(&self, x: usize) -> usize {
        (x - self.x) * 3
    }
}

/// Which of OpenCV's resize paths a size change takes.
enum Path {
    Copy,
    AreaFast(usize, usize),
    AreaGeneral(f64, f64),
    TwoTap(Vec<Tap>, Vec<Tap>),
}

/// The path from a `width` x `height` picture to `dst_w` x `dst_h`; a two-tap path's tables
/// cover `window` only (an enlargement can be many times the picture's size).
fn path(
    width: usize,
    height: usize,
    dst_w: usize,
    dst_h: usize,
    interp: Interpolation,
    window: Window,
) -> Path {
    if (dst_w, dst_h) == (width, height) {
        return Path::Copy;
    }
    let inv_x = dst_w as f64 / width as f64;
    let inv_y = dst_h as f64 / height as f64;
    let (scale_x, scale_y) = (1.0 / inv_x, 1.0 / inv_y);
    let (ix, iy) = (scale_x.round_ties_even(), scale_y.round_ties_even());
    let integer = (scale_x - ix).abs() < f64::EPSILON && (scale_y - iy).abs() < f64::EPSILON;
    let mut interp = interp;
    if interp == Interpolation::Linear && integer && ix == 2.0 && iy == 2.0 {
        interp = Interpolation::Area;
    }
    if interp == Interpolation::Area && scale_x >= 1.0 && scale_y >= 1.0 {
        if integer {
            return Path::AreaFast(ix as usize, iy as usize);
        }
        return Path::AreaGeneral(scale_x, scale_y);
    }
    let area = interp == Interpolation::Area;
    Path::TwoTap(
        taps(width, window.columns(), scale_x, inv_x, area),
        taps(height, window.rows(), scale_y, inv_y, area),
    )
}

/// The smallest span holding every `(first, end)` given.
fn hull(spans: impl Iterator<Item = (usize, usize)>) -> (usize, usize) {
    spans
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
        .unwrap_or((0, 1))
}

/// The pixels of a `width` x `height` picture that `window` of its resize to `dst_w` x `dst_h`
/// reads.
pub fn source_window(
    width: usize,
    height: usize,
    dst_w: usize,
    dst_h: usize,
    window: Window,
    interp: Interpolation,
) -> Window {
    let ((x0, x1), (y0, y1)) = match path(width, height, dst_w, dst_h, interp, window) {
        Path::Copy => return window,
        Path::AreaFast(kx, ky) => (
            (window.x * kx, (window.x + window.width) * kx),
            (window.y * ky, (window.y + window.height) * ky),
        ),
        Path::AreaGeneral(scale_x, scale_y) => {
            let covered = |ssize, dsize, scale, range: std::ops::Range<usize>| {
                hull(
                    area_taps(ssize, dsize, scale)
                        .into_iter()
                        .filter(|t| range.contains(&t.di))
                        .map(|t| (t.si, t.si + 1)),
                )
            };
            (
                covered(width, dst_w, scale_x, window.columns()),
                covered(height, dst_h, scale_y, window.rows()),
            )
        }
        Path::TwoTap(xs, ys) => (
            hull(
                xs.iter()
                    .map(|t| (t.first, t.first + 1 + usize::from(t.weights[1] != 0))),
            ),
            hull(ys.iter().map(|t| {
                let [r0, r1] = t.rows(height);
                (r0, r1 + 1)
            })),
        ),
    };
    Window {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    }
}

/// The `window` of the picture `src` holds part of, resized to `dst_w` x `dst_h` with `interp`,
/// row-major RGB. `src` must hold [`source_window`].
///
/// # Panics
/// If the window does not lie inside the output or a size is zero (a caller's bug).
pub fn resize_window(
    src: Part,
    dst_w: usize,
    dst_h: usize,
    window: Window,
    interp: Interpolation,
) -> Vec<u8> {
    assert!(src.width > 0 && src.height > 0 && dst_w > 0 && dst_h > 0);
    assert!(
        Window::full(dst_w, dst_h).contains(&window),
        "window outside the output"
    );
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { resize_avx2(src, dst_w, dst_h, window, interp) };
    }
    resize(src, dst_w, dst_h, window, interp)
}

/// [`resize`] compiled for AVX2: the same integer and float32 operations in the same order
/// (no fused multiply-add, which Rust never forms on its own), so the same bytes, computed in
/// wider vectors.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn resize_avx2(
    src: Part,
    dst_w: usize,
    dst_h: usize,
    window: Window,
    interp: Interpolation,
) -> Vec<u8> {
    resize(src, dst_w, dst_h, window, interp)
}

#[inline(always)]
fn resize(src: Part, dst_w: usize, dst_h: usize, window: Window, interp: Interpolation) -> Vec<u8> {
    match path(src.width, src.height, dst_w, dst_h, interp, window) {
        Path::Copy => copy_window(src, window),
        Path::AreaFast(kx, ky) => area_fast(src, kx, ky, window),
        Path::AreaGeneral(scale_x, scale_y) => {
            area_general(src, dst_w, dst_h, scale_x, scale_y, window)
        }
        Path::TwoTap(xs, ys) => two_tap(src, &xs, &ys, window),
    }
}

fn copy_window(src: Part, window: Window) -> Vec<u8> {
    let mut out = Vec::with_capacity(window.width * window.height * 3);
    for y in window.rows() {
        let at = src.at(window.x);
        out.extend_from_slice(&src.row(y)[at..at + window.width * 3]);
    }
    out
}

/// Integer-factor INTER_AREA (`resizeAreaFast_`): the mean of each `sx` x `sy` block.
#[inline(always)]
fn area_fast(src: Part, sx: usize, sy: usize, window: Window) -> Vec<u8> {
    let area = (sx * sy) as u32;
    let inv_area = 1.0f32 / area as f32;
    let mut out = Vec::with_capacity(window.width * window.height * 3);
    for dy in window.rows() {
        for dx in window.columns() {
            for c in 0..3 {
                let mut sum = 0u32;
                for y in dy * sy..dy * sy + sy {
                    let row = src.row(y);
                    for x in dx * sx..dx * sx + sx {
                        sum += u32::from(row[src.at(x) + c]);
                    }
                }
                out.push(if area == 4 {
                    ((sum + 2) >> 2) as u8
                } else {
                    saturate_u8(sum as f32 * inv_area)
                });
            }
        }
    }
    out
}

/// One entry of `computeResizeAreaTab`: destination index, source index, weight.
#[derive(Clone, Copy, Debug, PartialEq)]
struct AreaTap {
    di: usize,
    si: usize,
    alpha: f32,
}

/// OpenCV's `computeResizeAreaTab` for one axis (in pixels, not channels): every source pixel
/// overlapping each destination cell, with the overlap's share of the cell.
fn area_taps(ssize: usize, dsize: usize, scale: f64) -> Vec<AreaTap> {
    let mut tab = Vec::with_capacity(ssize * 2);
    for dx in 0..dsize {
        let fsx1 = dx as f64 * scale;
        let fsx2 = fsx1 + scale;
        let cell = scale.min(ssize as f64 - fsx1);
        let mut sx1 = fsx1.ceil() as i64;
        let sx2 = (fsx2.floor() as i64).min(ssize as i64 - 1);
        sx1 = sx1.min(sx2);
        if sx1 as f64 - fsx1 > 1e-3 {
            tab.push(AreaTap {
                di: dx,
                si: (sx1 - 1) as usize,
                alpha: ((sx1 as f64 - fsx1) / cell) as f32,
            });
        }
        for sx in sx1..sx2 {
            tab.push(AreaTap {
                di: dx,
                si: sx as usize,
                alpha: (1.0 / cell) as f32,
            });
        }
        if fsx2 - sx2 as f64 > 1e-3 {
            tab.push(AreaTap {
                di: dx,
                si: sx2 as usize,
                alpha: ((fsx2 - sx2 as f64).min(1.0).min(cell) / cell) as f32,
            });
        }
    }
    tab
}

/// General INTER_AREA (`ResizeArea_Invoker`): per source row, the row's taps summed per output
/// column in table order (`buf += s * alpha`), then rows summed per output row in table order
/// (`sum = beta * buf`, then `sum += beta * buf`), rounded to nearest even.
#[inline(always)]
fn area_general(
    src: Part,
    dst_w: usize,
    dst_h: usize,
    scale_x: f64,
    scale_y: f64,
    window: Window,
) -> Vec<u8> {
    let columns = ColumnTaps::new(src, dst_w, scale_x, window);
    let ytab = area_taps(src.height, dst_h, scale_y);
    let width = window.width * 3;
    let mut buf = vec![0f32; width];
    let mut row_f32 = vec![0f32; columns.span.1 - columns.span.0];
    let mut buf_row = usize::MAX;
    let mut sum = vec![0f32; width];
    let mut out = vec![0u8; width * window.height];
    let mut current = None;
    for t in ytab.iter().filter(|t| window.rows().contains(&t.di)) {
        // A source row on the boundary of two output rows is read by both: its horizontal
        // pass (the same bits each time) is kept.
        if buf_row != t.si {
            let row = &src.row(t.si)[columns.span.0..columns.span.1];
            for (f, &b) in row_f32.iter_mut().zip(row) {
                *f = f32::from(b);
            }
            columns.horizontal(&row_f32, &mut buf);
            buf_row = t.si;
        }
        if current != Some(t.di) {
            if let Some(dy) = current {
                store(&sum, &mut out, dy - window.y, width);
            }
            for (s, b) in sum.iter_mut().zip(&buf) {
                *s = t.alpha * b;
            }
            current = Some(t.di);
        } else {
            for (s, b) in sum.iter_mut().zip(&buf) {
                *s += t.alpha * b;
            }
        }
    }
    if let Some(dy) = current {
        store(&sum, &mut out, dy - window.y, width);
    }
    out
}

/// The horizontal area taps of a window's columns, `per_column` each in table order: a column
/// with fewer taps is padded with weight-0 taps at its end, which leave its sum unchanged (the sum
/// is never -0, and adding +0 to anything else is exact), so every column runs one fixed-length
/// loop.
struct ColumnTaps {
    per_column: usize,
    /// Offset of each tap's pixel within `span`, in floats.
    offsets: Vec<usize>,
    weights: Vec<f32>,
    /// The bytes of a part's row the taps read: `(first, end)`.
    span: (usize, usize),
}

impl ColumnTaps {
    fn new(src: Part, dst_w: usize, scale_x: f64, window: Window) -> Self {
        let mut columns: Vec<Vec<(usize, f32)>> = vec![Vec::new(); window.width];
        for t in area_taps(src.width, dst_w, scale_x) {
            if window.columns().contains(&t.di) {
                columns[t.di - window.x].push((src.at(t.si), t.alpha));
            }
        }
        let span = hull(columns.iter().flatten().map(|&(at, _)| (at, at + 3)));
        let per_column = columns.iter().map(Vec::len).max().unwrap_or(1);
        let (mut offsets, mut weights) = (Vec::new(), Vec::new());
        for taps in &columns {
            let first = taps.first().map_or(0, |&(at, _)| at - span.0);
            for k in 0..per_column {
                let (at, alpha) = taps
                    .get(k)
                    .map_or((first, 0.0), |&(at, a)| (at - span.0, a));
                offsets.push(at);
                weights.push(alpha);
            }
        }
        Self {
            per_column,
            offsets,
            weights,
            span,
        }
    }

    /// One source row's horizontal area pass (`row` is the row's `span` as floats): per output
    /// column, `0 + s0 * a0 + s1 * a1 + ...` in table order, each step rounded to float32
    /// (OpenCV adds each tap into a zeroed buffer).
    #[inline(always)]
    fn horizontal(&self, row: &[f32], buf: &mut [f32]) {
        match self.per_column {
            2 => self.horizontal_fixed::<2>(row, buf),
            3 => self.horizontal_fixed::<3>(row, buf),
            4 => self.horizontal_fixed::<4>(row, buf),
            _ => self.horizontal_any(row, buf),
        }
    }

    fn horizontal_fixed<const K: usize>(&self, row: &[f32], buf: &mut [f32]) {
        let columns = self
            .offsets
            .chunks_exact(K)
            .zip(self.weights.chunks_exact(K));
        for (o, (offsets, weights)) in buf.chunks_exact_mut(3).zip(columns) {
            let mut acc = [0f32; 3];
            for k in 0..K {
                let (px, alpha) = (&row[offsets[k]..offsets[k] + 3], weights[k]);
                for c in 0..3 {
                    acc[c] += px[c] * alpha;
                }
            }
            o.copy_from_slice(&acc);
        }
    }

    fn horizontal_any(&self, row: &[f32], buf: &mut [f32]) {
        let k = self.per_column;
        let columns = self
            .offsets
            .chunks_exact(k)
            .zip(self.weights.chunks_exact(k));
        for (o, (offsets, weights)) in buf.chunks_exact_mut(3).zip(columns) {
            let mut acc = [0f32; 3];
            for (&at, &alpha) in offsets.iter().zip(weights) {
                for c in 0..3 {
                    acc[c] += row[at + c] * alpha;
                }
            }
            o.copy_from_slice(&acc);
        }
    }
}

#[inline(always)]
fn store(sum: &[f32], out: &mut [u8], row: usize, width: usize) {
    for (o, s) in out[row * width..(row + 1) * width].iter_mut().zip(sum) {
        *o = saturate_u8(*s);
    }
}

/// One output coordinate of the two-tap kernel: as the horizontal table has it (a tap before the
/// first pixel or on the last one becomes that pixel at full weight) and as the vertical one has
/// it (index and weights kept as computed; the rows are clamped when read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tap {
    first: usize,
    weights: [i32; 2],
    raw_first: i64,
    raw_weights: [i32; 2],
}

impl Tap {
    /// The two source rows the vertical step reads, clamped to the image.
    fn rows(&self, ssize: usize) -> [usize; 2] {
        let clamp = |v: i64| v.clamp(0, ssize as i64 - 1) as usize;
        [clamp(self.raw_first), clamp(self.raw_first + 1)]
    }
}

/// The two-tap kernel's table for one axis, as `resize` builds xofs/alpha and yofs/beta, for
/// the output coordinates `range`: half-pixel centres for INTER_LINEAR, `(d + 1) - (s + 1) /
/// scale` for INTER_AREA; float weights rounded to 11 bits.
fn taps(
    ssize: usize,
    range: std::ops::Range<usize>,
    scale: f64,
    inv_scale: f64,
    area: bool,
) -> Vec<Tap> {
    let weights = |f: f32| {
        [
            round_even((1.0 - f) * COEF_SCALE),
            round_even(f * COEF_SCALE),
        ]
    };
    range
        .map(|d| {
            let (raw, f) = if area {
                let s = (d as f64 * scale).floor() as i64;
                let f = ((d + 1) as f64 - (s + 1) as f64 * inv_scale) as f32;
                (s, if f <= 0.0 { 0.0 } else { f - f.floor() })
            } else {
                let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
                let s = f.floor();
                (s as i64, f - s)
            };
            let (first, fh) = if raw < 0 {
                (0, 0.0)
            } else if raw >= ssize as i64 - 1 {
                (ssize as i64 - 1, 0.0)
            } else {
                (raw, f)
            };
            Tap {
                first: first as usize,
                weights: weights(fh),
                raw_first: raw,
                raw_weights: weights(f),
            }
        })
        .collect()
}

/// INTER_LINEAR's (and enlarging INTER_AREA's) separable fixed-point kernel on a window, from
/// the window's tables.
#[inline(always)]
fn two_tap(src: Part, xs: &[Tap], ys: &[Tap], window: Window) -> Vec<u8> {
    let width = window.width * 3;
    // Per output byte: its two input bytes and their weights. A second tap of weight 0 (on the
    // last pixel) reads the first byte again, which adds nothing, so every byte runs one
    // branch-free loop.
    let mut first = Vec::with_capacity(width);
    let mut second = Vec::with_capacity(width);
    let mut weights = Vec::with_capacity(width);
    for t in xs {
        let at = src.at(t.first);
        for c in 0..3 {
            first.push(at + c);
            second.push(if t.weights[1] != 0 {
                at + 3 + c
            } else {
                at + c
            });
            weights.push(t.weights);
        }
    }
    let horizontal = |row: &[u8], into: &mut [i32]| {
        let taps = first.iter().zip(&second).zip(&weights);
        for (o, ((&i0, &i1), &[w0, w1])) in into.iter_mut().zip(taps) {
            *o = i32::from(row[i0]) * w0 + i32::from(row[i1]) * w1;
        }
    };
    let mut out = vec![0u8; width * window.height];
    // Horizontal passes of the last two source rows used, by source row.
    let mut cache: [(usize, Vec<i32>); 2] =
        [(usize::MAX, vec![0; width]), (usize::MAX, vec![0; width])];
    for (t, out_row) in ys.iter().zip(out.chunks_exact_mut(width)) {
        let (rows, [b0, b1]) = (t.rows(src.height), t.raw_weights);
        for &r in &rows {
            if cache[0].0 != r && cache[1].0 != r {
                let slot = if rows.contains(&cache[0].0) { 1 } else { 0 };
                cache[slot].0 = r;
                horizontal(src.row(r), &mut cache[slot].1);
            }
        }
        let pick = |r: usize| {
            if cache[0].0 == r {
                &cache[0].1
            } else {
                &cache[1].1
            }
        };
        let (r0, r1) = (pick(rows[0]), pick(rows[1]));
        for ((o, a), b) in out_row.iter_mut().zip(r0).zip(r1) {
            let v = ((b0 * (a >> 4)) >> 16) + ((b1 * (b >> 4)) >> 16) + 2;
            *o = (v >> 2) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: usize, h: usize) -> RgbImage {
        let pixels = (0..w * h * 3)
            .map(|i| ((i * 131 + i / 7) % 256) as u8)
            .collect();
        RgbImage::new(w, h, pixels)
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_build_gives_the_same_bytes() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut seed = 7u32;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as usize % n
        };
        for case in 0..200 {
            let (w, h) = (1 + next(90), 1 + next(90));
            let pixels = (0..w * h * 3).map(|_| next(256) as u8).collect();
            let img = RgbImage::new(w, h, pixels);
            let (dst_w, dst_h) = (1 + next(120), 1 + next(120));
            let (x, y) = (next(dst_w), next(dst_h));
            let window = Window {
                x,
                y,
                width: 1 + next(dst_w - x),
                height: 1 + next(dst_h - y),
            };
            for interp in [Interpolation::Area, Interpolation::Linear] {
                let generic = resize(Part::whole(&img), dst_w, dst_h, window, interp);
                // SAFETY: checked above.
                let avx2 = unsafe { resize_avx2(Part::whole(&img), dst_w, dst_h, window, interp) };
                assert_eq!(
                    generic, avx2,
                    "case {case}: {w}x{h} -> {dst_w}x{dst_h} {interp:?}"
                );
            }
        }
    }

    #[test]
    fn area_taps_share_each_cell_between_the_pixels_it_covers() {
        // 3 -> 2: cell 1.5 wide; output 0 takes pixel 0 whole and half of pixel 1.
        let t = area_taps(3, 2, 1.5);
        let expected = [
            (0, 0, 1.0 / 1.5),
            (0, 1, 0.5 / 1.5),
            (1, 1, 0.5 / 1.5),
            (1, 2, 1.0 / 1.5),
        ];
        assert_eq!(t.len(), 4);
        for (tap, (di, si, alpha)) in t.iter().zip(expected) {
            assert_eq!((tap.di, tap.si), (di, si));
            assert_eq!(tap.alpha, alpha as f32);
        }
    }

    #[test]
    fn linear_taps_are_half_pixel_centred_11_bit_weights() {
        // 2 -> 4: positions -0.25, 0.25, 0.75, 1.25.
        let t = taps(2, 0..4, 0.5, 2.0, false);
        assert_eq!((t[0].first, t[0].weights), (0, [2048, 0]));
        assert_eq!((t[0].raw_first, t[0].raw_weights), (-1, [512, 1536]));
        assert_eq!((t[1].first, t[1].weights), (0, [1536, 512]));
        assert_eq!((t[3].first, t[3].weights), (1, [2048, 0]));
        assert_eq!(t[3].rows(2), [1, 1]);
    }

    #[test]
    fn a_window_is_the_same_bytes_as_the_whole_output_cropped() {
        let img = image(61, 40);
        for (w, h) in [(30, 20), (45, 29), (90, 60), (61, 40), (70, 33), (20, 10)] {
            for interp in [Interpolation::Area, Interpolation::Linear] {
                let whole = resize_window(Part::whole(&img), w, h, Window::full(w, h), interp);
                let window = Window {
                    x: w / 4,
                    y: h / 3,
                    width: w / 2,
                    height: h / 2,
                };
                let part = resize_window(Part::whole(&img), w, h, window, interp);
                let cropped: Vec<u8> = window
                    .rows()
                    .flat_map(|y| {
                        whole[(y * w + window.x) * 3..(y * w + window.x + window.width) * 3]
                            .to_vec()
                    })
                    .collect();
                assert_eq!(part, cropped, "{w}x{h} {interp:?}");
            }
        }
    }

    #[test]
    fn halving_with_linear_is_the_two_by_two_mean_rounded_half_up() {
        let img = RgbImage::new(2, 2, vec![1, 0, 0, 2, 0, 0, 2, 0, 0, 1, 0, 0]);
        // Sum 6: (6 + 2) >> 2 = 2, where rounding 1.5 to even would also give 2; sum 2 -> 1.
        assert_eq!(
            resize_window(
                Part::whole(&img),
                1,
                1,
                Window::full(1, 1),
                Interpolation::Linear
            ),
            [2, 0, 0]
        );
        let odd = RgbImage::new(2, 2, vec![1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        // Sum 2: half up gives 1 where nearest-even of 0.5 would give 0.
        assert_eq!(
            resize_window(
                Part::whole(&odd),
                1,
                1,
                Window::full(1, 1),
                Interpolation::Area
            ),
            [1, 0, 0]
        );
    }

    #[test]
    fn a_flat_image_stays_flat_on_every_path() {
        let img = RgbImage::new(97, 61, [200u8, 3, 77].repeat(97 * 61));
        for (w, h) in [(97, 61), (40, 25), (200, 130), (194, 122), (33, 61)] {
            for interp in [Interpolation::Area, Interpolation::Linear] {
                let out = resize_window(Part::whole(&img), w, h, Window::full(w, h), interp);
                assert!(
                    out.chunks_exact(3).all(|p| p == [200, 3, 77]),
                    "{w}x{h} {interp:?}"
                );
            }
        }
    }
}
