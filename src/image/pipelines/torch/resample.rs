//! torch's antialiased bilinear resize of uint8 images on CPU
//! (`interpolate(mode="bilinear", antialias=True, align_corners=False)`, ATen's
//! `upsample_bilinear2d_aa`), the integer arithmetic of both its AVX2 kernel and its generic one:
//!
//! - per axis, Pillow-style triangle weights in double, normalised per output position;
//! - converted to int16 fixed point with one precision per axis, the largest (up to 22 bits)
//!   at which twice the axis's largest weight still rounds below 2^15;
//! - each output is `clamp((2^(p-1) + sum(pixel * weight)) >> p, 0, 255)` in int32;
//! - the horizontal pass first, over every source row the vertical pass reads, then the
//!   vertical pass; an axis whose size does not change is not resampled at all.
//!
//! The weights round differently from Pillow's 22-bit ones, so the pixels differ from Pillow's
//! BILINEAR now and then by one level.

use std::ops::Range;

use super::separable::{AxisWeights, Separable};
use crate::image::raster::RgbImage;

/// One axis's fixed-point weights for every output position.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AxisTaps {
    starts: Vec<usize>,
    lens: Vec<usize>,
    /// The row stride of `weights` (ATen's `max_interp_size`).
    stride: usize,
    weights: Vec<i16>,
    precision: u32,
    /// The same taps `stride` long each, zero-weighted where ATen has none, with the first
    /// source position moved left where needed to stay inside the axis (None when the axis is
    /// shorter than `stride`): a fixed-length loop, and the same integer sums.
    padded: Option<(Vec<usize>, Vec<i16>)>,
    /// `padded`'s weights two by two, for the AVX2 horizontal pass.
    #[cfg(target_arch = "x86_64")]
    pairs: Vec<i32>,
}

/// ATen's `aa_filter` for bilinear: the triangle.
fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

impl AxisTaps {
    /// The weights of a resize from `in_size` to `out_size` (both above 0), operation for
    /// operation as `_compute_index_ranges_int16_weights` computes them in double.
    pub(super) fn new(in_size: usize, out_size: usize) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let support = if scale >= 1.0 { scale } else { 1.0 };
        let stride = support.ceil() as usize * 2 + 1;
        let invscale = if scale >= 1.0 { 1.0 / scale } else { 1.0 };
        let mut starts = Vec::with_capacity(out_size);
        let mut lens = Vec::with_capacity(out_size);
        let mut real = vec![0f64; out_size * stride];
        let mut max = 0f64;
        for (i, row) in real.chunks_exact_mut(stride).enumerate() {
            let center = scale * (i as f64 + 0.5);
            // C's double -> int64 casts truncate toward zero, as `as` does.
            let min = ((center - support + 0.5) as i64).max(0);
            let len = (((center + support + 0.5) as i64).min(in_size as i64) - min)
                .clamp(0, stride as i64) as usize;
            let mut total = 0.0;
            for (j, w) in row[..len].iter_mut().enumerate() {
                *w = triangle((((j as i64 + min) as f64 - center) + 0.5) * invscale);
                total += *w;
            }
            if total != 0.0 {
                for w in &mut row[..len] {
                    *w /= total;
                    max = max.max(*w);
                }
            }
            starts.push(min as usize);
            lens.push(len);
        }
        let precision = precision_for(max);
        let one = f64::from(1u32 << precision);
        let weights: Vec<i16> = real
            .iter()
            .map(|&w| {
                let v = w * one;
                (if v < 0.0 { -0.5 + v } else { 0.5 + v }) as i32 as i16
            })
            .collect();
        let padded = pad(in_size, stride, &starts, &lens, &weights);
        Self {
            #[cfg(target_arch = "x86_64")]
            pairs: padded.as_ref().map_or_else(Vec::new, |(_, padded)| {
                super::resample_avx2::weight_pairs(stride, padded)
            }),
            starts,
            lens,
            stride,
            weights,
            precision,
            padded,
        }
    }

    /// Output `out`'s first source position and `stride` weights (see `padded`), else its
    /// own taps.
    #[inline(always)]
    fn fixed(&self, out: usize) -> (usize, &[i16]) {
        match &self.padded {
            Some((starts, weights)) => (
                starts[out],
                &weights[out * self.stride..(out + 1) * self.stride],
            ),
            None => self.taps(out),
        }
    }

    /// Output `out`'s source positions and weights.
    fn taps(&self, out: usize) -> (usize, &[i16]) {
        let at = out * self.stride;
        (self.starts[out], &self.weights[at..at + self.lens[out]])
    }

    /// `(2^(p-1) + sum(level * weight)) >> p`, clamped to a level.
    #[inline]
    fn round(&self, sum: i32) -> u8 {
        ((sum + (1 << (self.precision - 1))) >> self.precision).clamp(0, 255) as u8
    }
}

impl AxisWeights for AxisTaps {
    fn for_axis(in_size: usize, out_size: usize) -> Self {
        Self::new(in_size, out_size)
    }

    /// The source positions the outputs in `outputs` read (zero-weighted ones included).
    fn span(&self, outputs: Range<usize>) -> Range<usize> {
        let first = outputs.clone().map(|o| self.fixed(o).0).min();
        let last = outputs
            .map(|o| {
                let (start, weights) = self.fixed(o);
                start + weights.len()
            })
            .max();
        match (first, last) {
            (Some(first), Some(last)) => first..last.max(first),
            _ => 0..0,
        }
    }
}

/// [`AxisTaps::padded`] of these taps.
fn pad(
    in_size: usize,
    stride: usize,
    starts: &[usize],
    lens: &[usize],
    weights: &[i16],
) -> Option<(Vec<usize>, Vec<i16>)> {
    if in_size < stride {
        return None;
    }
    let mut moved = Vec::with_capacity(starts.len());
    let mut padded = vec![0i16; weights.len()];
    for (out, (&start, &len)) in starts.iter().zip(lens).enumerate() {
        let first = start.min(in_size - stride);
        let shift = start - first;
        let row = &mut padded[out * stride..(out + 1) * stride];
        row[shift..shift + len].copy_from_slice(&weights[out * stride..out * stride + len]);
        moved.push(first);
    }
    Some((moved, padded))
}

/// The largest precision below 22 bits at which `round(max * 2^(p+1))` stays below 2^15
/// (ATen's loop: the first `p` where the next one would overflow int16, else 22).
fn precision_for(max: f64) -> u32 {
    (0..22)
        .find(|&p| (0.5 + max * f64::from(1u32 << (p + 1))) as i32 >= 1 << 15)
        .unwrap_or(22)
}

/// v2's uint8 resize: int16 fixed-point taps on both axes.
pub(super) type Resize = Separable<AxisTaps>;

impl Separable<AxisTaps> {
    /// The wanted outputs (`columns.len()` x `rows.len()`, RGB) from `img`, which holds the
    /// picture's pixels from column `x0` and row `y0` on and covers [`Separable::source`].
    pub(super) fn run(&self, img: &RgbImage, x0: usize, y0: usize) -> RgbImage {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.run_avx2(img, x0, y0) };
        }
        self.run_portable(img, x0, y0, horizontal)
    }

    /// [`Separable::run`] compiled for AVX2: the same integer arithmetic, wider vectors for the
    /// compiler's loops.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, img: &RgbImage, x0: usize, y0: usize) -> RgbImage {
        self.run_portable(img, x0, y0, |xs, line, x0, columns, out| match &xs.padded {
            // SAFETY: run_avx2 runs on CPUs with AVX2 only.
            Some((starts, _)) => unsafe {
                super::resample_avx2::horizontal(
                    line,
                    x0,
                    starts,
                    &xs.pairs,
                    xs.stride,
                    xs.precision,
                    columns,
                    out,
                    |x, o| horizontal(xs, line, x0, x..x + 1, o),
                )
            },
            None => horizontal(xs, line, x0, columns, out),
        })
    }

    /// Both passes, the horizontal one by `across_row`.
    #[inline(always)]
    fn run_portable(
        &self,
        img: &RgbImage,
        x0: usize,
        y0: usize,
        across_row: impl Fn(&AxisTaps, &[u8], usize, Range<usize>, &mut [u8]),
    ) -> RgbImage {
        let (_, source_rows) = self.source();
        let width = self.columns.len();
        // The horizontal pass, for the source rows the vertical pass reads.
        let mut across = vec![0u8; source_rows.len() * width * 3];
        for (row, out) in source_rows.clone().zip(across.chunks_exact_mut(width * 3)) {
            let line = img.row(row - y0);
            match &self.xs {
                Some(xs) => across_row(xs, line, x0, self.columns.clone(), out),
                None => out.copy_from_slice(
                    &line[(self.columns.start - x0) * 3..(self.columns.end - x0) * 3],
                ),
            }
        }
        let mut pixels = vec![0u8; self.rows.len() * width * 3];
        let mut sums = vec![0i32; width * 3];
        for (y, out) in self.rows.clone().zip(pixels.chunks_exact_mut(width * 3)) {
            match &self.ys {
                Some(ys) => vertical(ys, y, &across, source_rows.start, &mut sums, out),
                None => {
                    let at = (y - source_rows.start) * width * 3;
                    out.copy_from_slice(&across[at..at + width * 3]);
                }
            }
        }
        RgbImage::new(width, self.rows.len(), pixels)
    }
}

/// One row's wanted output columns from `line` (RGB, starting at picture column `x0`).
#[inline(always)]
fn horizontal(xs: &AxisTaps, line: &[u8], x0: usize, columns: Range<usize>, out: &mut [u8]) {
    // ImageNet's downscales by 1 to 2 have 5 taps, upscales 3: loops the compiler unrolls.
    match xs.stride {
        3 => horizontal_n::<3>(xs, line, x0, columns, out),
        5 => horizontal_n::<5>(xs, line, x0, columns, out),
        7 => horizontal_n::<7>(xs, line, x0, columns, out),
        9 => horizontal_n::<9>(xs, line, x0, columns, out),
        _ => horizontal_any(xs, line, x0, columns, out),
    }
}

#[inline(always)]
fn horizontal_n<const N: usize>(
    xs: &AxisTaps,
    line: &[u8],
    x0: usize,
    columns: Range<usize>,
    out: &mut [u8],
) {
    for (x, o) in columns.zip(out.chunks_exact_mut(3)) {
        let (start, weights) = xs.fixed(x);
        let (Ok(weights), Some(pixels)) = (
            <&[i16; N]>::try_from(weights),
            line.get((start - x0) * 3..(start - x0 + N) * 3),
        ) else {
            horizontal_any(xs, line, x0, x..x + 1, o);
            continue;
        };
        let sum = weighted_sum(pixels, weights);
        for c in 0..3 {
            o[c] = xs.round(sum[c]);
        }
    }
}

/// Σ pixel · weight for each channel of interleaved RGB `pixels`, in int32 as ATen sums.
#[inline(always)]
fn weighted_sum(pixels: &[u8], weights: &[i16]) -> [i32; 3] {
    let mut sum = [0i32; 3];
    for (p, &w) in pixels.chunks_exact(3).zip(weights) {
        let w = i32::from(w);
        sum[0] += i32::from(p[0]) * w;
        sum[1] += i32::from(p[1]) * w;
        sum[2] += i32::from(p[2]) * w;
    }
    sum
}

#[inline(always)]
fn horizontal_any(xs: &AxisTaps, line: &[u8], x0: usize, columns: Range<usize>, out: &mut [u8]) {
    for (x, o) in columns.zip(out.chunks_exact_mut(3)) {
        let (start, weights) = xs.fixed(x);
        let pixels = &line[(start - x0) * 3..(start - x0 + weights.len()) * 3];
        let sum = weighted_sum(pixels, weights);
        for c in 0..3 {
            o[c] = xs.round(sum[c]);
        }
    }
}

/// Output row `y` from the horizontally resampled rows `across` (`sums.len()` bytes each, the
/// first being source row `first`); `sums` is scratch room.
#[inline(always)]
fn vertical(
    ys: &AxisTaps,
    y: usize,
    across: &[u8],
    first: usize,
    sums: &mut [i32],
    out: &mut [u8],
) {
    let len = sums.len();
    let (start, weights) = ys.taps(y);
    sums.fill(1 << (ys.precision - 1));
    for (k, &w) in weights.iter().enumerate() {
        let at = (start + k - first) * len;
        let w = i32::from(w);
        for (s, &p) in sums.iter_mut().zip(&across[at..at + len]) {
            *s += i32::from(p) * w;
        }
    }
    for (o, &s) in out.iter_mut().zip(sums.iter()) {
        *o = (s >> ys.precision).clamp(0, 255) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_of_a_halving() {
        // 4 -> 2: scale 2, support 2, centres 1 and 3; triangle(x / 2) at 0.25, 0.75, ...
        let t = AxisTaps::new(4, 2);
        assert_eq!(t.stride, 5);
        assert_eq!((t.starts.clone(), t.lens.clone()), (vec![0, 1], vec![3, 3]));
        // Weights 0.75, 0.75, 0.25 over 1.75: largest 3/7, and 3/7 * 2^17 >= 2^15 > 3/7 * 2^16.
        assert_eq!(t.precision, 16);
        let (_, w) = t.taps(0);
        assert_eq!(w, [28087, 28087, 9362]);
    }

    #[test]
    fn precision_is_chosen_from_the_largest_weight() {
        assert_eq!(precision_for(1.0), 14);
        assert_eq!(precision_for(0.5), 15);
        assert_eq!(precision_for(0.49), 16);
        // Tiny weights (a strong downscale) stop at 22 bits.
        assert_eq!(precision_for(1e-6), 22);
    }

    #[test]
    fn upscaling_interpolates_between_neighbours() {
        // 2 -> 4: scale 0.5, support 1; output 1 centres at 0.75: weights 0.75 and 0.25 on
        // pixels 0 and 1 of the first window.
        let t = AxisTaps::new(2, 4);
        assert_eq!(t.starts, [0, 0, 0, 1]);
        let img = RgbImage::new(2, 1, vec![0, 0, 0, 200, 100, 40]);
        let out = Resize::new((2, 1), (4, 1), 0..4, 0..1).run(&img, 0, 0);
        assert_eq!(out.pixels[3..6], [50, 25, 10]);
        // The edge output leans on one pixel only.
        assert_eq!(out.pixels[0..3], [0, 0, 0]);
        assert_eq!(out.pixels[9..12], [200, 100, 40]);
    }

    /// The whole image resized, straightforwardly: both passes over everything.
    fn whole(img: &RgbImage, w: usize, h: usize) -> RgbImage {
        Resize::new((img.width, img.height), (w, h), 0..w, 0..h).run(img, 0, 0)
    }

    #[test]
    fn a_window_is_the_same_part_of_the_whole() {
        let (w, h) = (97, 61);
        let pixels = (0..w * h * 3)
            .map(|i| ((i * 131 + i / 7) % 256) as u8)
            .collect();
        let img = RgbImage::new(w, h, pixels);
        for (rw, rh) in [(50, 31), (160, 100), (97, 40), (30, 61)] {
            let full = whole(&img, rw, rh);
            let (columns, rows) = (rw / 4..rw * 3 / 4, rh / 3..rh - 1);
            let resize = Resize::new((w, h), (rw, rh), columns.clone(), rows.clone());
            let (sx, sy) = resize.source();
            let part = RgbImage::new(
                sx.len(),
                sy.len(),
                sy.clone()
                    .flat_map(|y| img.row(y)[sx.start * 3..sx.end * 3].to_vec())
                    .collect(),
            );
            let got = resize.run(&part, sx.start, sy.start);
            for (i, y) in rows.clone().enumerate() {
                assert_eq!(
                    got.row(i),
                    &full.row(y)[columns.start * 3..columns.end * 3],
                    "{rw}x{rh} row {y}"
                );
            }
        }
    }

    #[test]
    fn padded_taps_make_the_same_sums() {
        let line: Vec<i32> = (0..700).map(|i| i * 97 % 256).collect();
        for (from, to) in [
            (500, 341),
            (375, 256),
            (700, 224),
            (9, 4),
            (100, 333),
            (12, 5),
        ] {
            let t = AxisTaps::new(from, to);
            assert!(t.padded.is_some(), "{from} -> {to}");
            let dot = |(start, weights): (usize, &[i16])| -> i32 {
                weights
                    .iter()
                    .enumerate()
                    .map(|(k, &w)| line[start + k] * i32::from(w))
                    .sum()
            };
            for out in 0..to {
                assert_eq!(t.fixed(out).1.len(), t.stride);
                assert!(t.fixed(out).0 + t.stride <= from);
                assert_eq!(dot(t.fixed(out)), dot(t.taps(out)), "{from} -> {to}: {out}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_pass_equals_the_scalar_one() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let line: Vec<u8> = (0..3 * 700).map(|i| (i * 89 % 256) as u8).collect();
        for (from, to) in [(500, 341), (700, 224), (12, 5), (100, 333), (700, 60)] {
            let t = AxisTaps::new(from, to);
            let (starts, _) = t.padded.as_ref().unwrap();
            let mut scalar = vec![0u8; to * 3];
            horizontal(&t, &line, 0, 0..to, &mut scalar);
            let mut simd = vec![1u8; to * 3];
            // SAFETY: AVX2 checked above.
            unsafe {
                super::super::resample_avx2::horizontal(
                    &line[..from * 3],
                    0,
                    starts,
                    &t.pairs,
                    t.stride,
                    t.precision,
                    0..to,
                    &mut simd,
                    |x, o| horizontal(&t, &line[..from * 3], 0, x..x + 1, o),
                )
            };
            assert_eq!(simd, scalar, "{from} -> {to}");
        }
    }

    #[test]
    fn a_flat_image_stays_flat() {
        let img = RgbImage::new(50, 37, [255u8, 0, 77].repeat(50 * 37));
        let out = whole(&img, 23, 81);
        assert!(out.pixels.chunks_exact(3).all(|p| p == [255, 0, 77]));
    }
}
