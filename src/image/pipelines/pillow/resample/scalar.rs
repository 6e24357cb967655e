//! The two convolution passes as Pillow computes them, and the dispatch to their AVX2 forms
//! where the CPU has it.

use std::ops::Range;

#[cfg(target_arch = "x86_64")]
use super::avx2::{AVX2_MAX_TAPS, horizontal_rows_avx2, vertical_rows_avx2};
use super::taps::Taps;
use crate::image::raster::RgbImage;

/// A fixed-point sum with `precision` fractional bits (rounding offset included) as a pixel.
#[inline(always)]
pub(super) fn clip(sum: i32, precision: u32) -> u8 {
    (sum >> precision).clamp(0, 255) as u8
}

/// Horizontal pass over `rows` of a `width`-wide image: one output row per source row, one
/// output column per entry of `taps` (whose source positions are shifted left by `shift`).
pub(super) fn horizontal_pass(
    src: &[u8],
    width: usize,
    rows: Range<usize>,
    taps: &Taps,
    shift: usize,
) -> RgbImage {
    let out_width = taps.starts.len();
    let mut out = RgbImage::zeroed(out_width, rows.len());
    if out_width == 0 {
        return out;
    }
    let pairs = rows.map(|y| &src[y * width * 3..(y + 1) * width * 3]);
    let out_rows = out.pixels.chunks_exact_mut(out_width * 3);
    #[cfg(target_arch = "x86_64")]
    if taps.stride <= AVX2_MAX_TAPS && std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { horizontal_rows_avx2(pairs.zip(out_rows), width * 3, taps, shift) };
        return out;
    }
    horizontal_rows(pairs.zip(out_rows), taps, shift);
    out
}

/// One output pixel of the horizontal convolution, in Pillow's per-pixel form: `window` holds
/// the source pixels (RGB), `k` their weights (extra weights are ignored).
#[inline(always)]
pub(super) fn convolve_pixel(window: &[u8], k: &[i32], taps: &Taps) -> [u8; 3] {
    convolve_sums(window, k, taps.half()).map(|sum| clip(sum, taps.precision))
}

/// The fixed-point sums behind [`convolve_pixel`], rounding offset `half` included, before
/// clipping.
#[inline(always)]
pub(super) fn convolve_sums(window: &[u8], k: &[i32], half: i32) -> [i32; 3] {
    let mut sums = [half; 3];
    for (p, &w) in window.chunks_exact(3).zip(k) {
        sums[0] += i32::from(p[0]) * w;
        sums[1] += i32::from(p[1]) * w;
        sums[2] += i32::from(p[2]) * w;
    }
    sums
}

/// The horizontal convolution, pixel by pixel.
pub(super) fn horizontal_rows<'a>(
    rows: impl Iterator<Item = (&'a [u8], &'a mut [u8])>,
    taps: &Taps,
    shift: usize,
) {
    for (in_row, out_row) in rows {
        for (i, px) in out_row.chunks_exact_mut(3).enumerate() {
            let start = taps.starts[i] - shift;
            let window = &in_row[start * 3..(start + taps.lens[i]) * 3];
            px.copy_from_slice(&convolve_pixel(window, taps.weights(i), taps));
        }
    }
}

/// Vertical pass over `columns` of a `width`-wide image: one output row per entry of `taps`
/// (whose source rows are shifted up by `shift`).
pub(super) fn vertical_pass(
    src: &[u8],
    width: usize,
    columns: Range<usize>,
    taps: &Taps,
    shift: usize,
) -> RgbImage {
    let out_height = taps.starts.len();
    let mut out = RgbImage::zeroed(columns.len(), out_height);
    if columns.is_empty() {
        return out;
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { vertical_rows_avx2(src, width, columns, taps, shift, &mut out.pixels) };
        return out;
    }
    vertical_rows(src, width, columns, taps, shift, &mut out.pixels);
    out
}

/// The vertical convolution proper: whole rows are accumulated at a time, which vectorises;
/// integer sums do not depend on the order of the additions, so this equals Pillow's
/// pixel-by-pixel loop.
#[inline(always)]
pub(super) fn vertical_rows(
    src: &[u8],
    width: usize,
    columns: Range<usize>,
    taps: &Taps,
    shift: usize,
    out: &mut [u8],
) {
    let row_len = columns.len() * 3;
    let mut acc = vec![0i32; row_len];
    for (i, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        acc.fill(taps.half());
        let first = taps.starts[i] - shift;
        for (t, &w) in taps.weights(i).iter().enumerate() {
            let offset = ((first + t) * width + columns.start) * 3;
            let in_row = &src[offset..offset + row_len];
            for (a, &p) in acc.iter_mut().zip(in_row) {
                *a += i32::from(p) * w;
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip(a, taps.precision);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// NEAREST
