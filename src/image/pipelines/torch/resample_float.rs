//! torchvision's v1 resize of a uint8 tensor (`transforms.functional.resize`, what
//! `weights.transforms()` runs): the image made float32, `interpolate(mode="bilinear",
//! antialias=True, align_corners=False)` on it (ATen's `upsample_bilinear2d_aa`, float kernel),
//! then `round` (half to even) and back to uint8. Operation for operation as ATen's generic
//! separable kernel computes it for float32:
//!
//! - per axis, `scale = float(in) / out`; for output `i`, `center = float(scale * (i + 0.5))`,
//!   the taps from `int64(center - support + 0.5)` (support = max(scale, 1)), each weight
//!   `float(1 - |float((float(j) - center + 0.5) * invscale)|)`, divided by their float32 sum;
//! - the horizontal pass first, then the vertical one on its float32 results, each output
//!   `t0 * w0` then `+ t_j * w_j` in order; an axis whose size does not change is not resampled.
//!
//! ATen's default build (CPUs without AVX2) adds each product as written, two roundings each.
//! Its AVX2 and AVX-512 builds (what torch runs on such CPUs) do not: the taps after the first
//! go in whole groups of four as products added in order (the compiler multiplies a group in
//! one vector), and the last `(n - 1) % 4` as fused multiply-adds, one rounding each. That
//! pattern was found by measuring torch itself (rows of 2 to 14 taps, bit for bit: docs/
//! pipelines/torchvision-tensor.md), and is what this module reproduces, with `f32::mul_add`,
//! exact on every CPU (a single instruction where the CPU has FMA).

use std::ops::Range;

use super::separable::{AxisWeights, Separable};
use crate::image::raster::RgbImage;

/// One axis's float32 weights for every output position.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FloatAxis {
    starts: Vec<usize>,
    /// Each output's weights, `stride` apart (`lens[i]` of them used).
    weights: Vec<f32>,
    lens: Vec<usize>,
    stride: usize,
}

impl FloatAxis {
    /// ATen's `_compute_indices_min_size_weights_aa` with `scalar_t = float`, keeping C++'s
    /// promotions: the products with `0.5` and `invscale` are double, rounded where C++ stores
    /// them in a float.
    pub(super) fn new(in_size: usize, out_size: usize) -> Self {
        let scale = in_size as f32 / out_size as f32;
        let support = if scale >= 1.0 { scale } else { 1.0 };
        let stride = support.ceil() as usize * 2 + 1;
        let invscale = if scale >= 1.0 {
            (1.0 / f64::from(scale)) as f32
        } else {
            1.0
        };
        let mut starts = Vec::with_capacity(out_size);
        let mut lens = Vec::with_capacity(out_size);
        let mut weights = vec![0f32; out_size * stride];
        for (i, row) in weights.chunks_exact_mut(stride).enumerate() {
            let center = (f64::from(scale) * (i as f64 + 0.5)) as f32;
            let min = ((f64::from(center - support) + 0.5) as i64).max(0);
            let len = (((f64::from(center + support) + 0.5) as i64).min(in_size as i64) - min)
                .clamp(0, stride as i64) as usize;
            let mut total = 0f32;
            for (j, w) in row[..len].iter_mut().enumerate() {
                let x = ((f64::from((j as i64 + min) as f32 - center) + 0.5) * f64::from(invscale))
                    as f32;
                let x = x.abs();
                *w = if x < 1.0 {
                    (1.0 - f64::from(x)) as f32
                } else {
                    0.0
                };
                total += *w;
            }
            if total != 0.0 {
                for w in &mut row[..len] {
                    *w /= total;
                }
            }
            starts.push(min as usize);
            lens.push(len);
        }
        Self {
            starts,
            weights,
            lens,
            stride,
        }
    }

    /// Output `out`'s first source position and weights.
    #[inline(always)]
    fn taps(&self, out: usize) -> (usize, &[f32]) {
        let at = out * self.stride;
        (self.starts[out], &self.weights[at..at + self.lens[out]])
    }
}

impl AxisWeights for FloatAxis {
    fn for_axis(in_size: usize, out_size: usize) -> Self {
        Self::new(in_size, out_size)
    }

    /// The source positions the outputs in `outputs` read.
    fn span(&self, outputs: Range<usize>) -> Range<usize> {
        let first = outputs.clone().map(|o| self.starts[o]).min();
        let last = outputs.map(|o| self.starts[o] + self.lens[o]).max();
        match (first, last) {
            (Some(first), Some(last)) => first..last.max(first),
            _ => 0..0,
        }
    }
}

/// The AVX2 build's sum of `t_j * w_j`: `t0 * w0`, then the further taps in order, those in
/// whole groups of four as a product added (two roundings: the compiler computes a group's
/// products in one vector), the last `(n - 1) % 4` with a fused multiply-add (one rounding).
#[inline(always)]
fn weighted(values: impl Iterator<Item = f32>, weights: &[f32]) -> f32 {
    let grouped = weights.len().saturating_sub(1) / 4 * 4;
    let mut acc = 0.0;
    for (j, (t, &w)) in values.zip(weights).enumerate() {
        acc = match j {
            0 => t * w,
            _ if j <= grouped => acc + t * w,
            _ => t.mul_add(w, acc),
        };
    }
    acc
}

/// v1's resize: float32 taps on both axes, rounded back to uint8 at the end.
pub(super) type FloatResize = Separable<FloatAxis>;

impl Separable<FloatAxis> {
    /// The wanted outputs (`columns.len()` x `rows.len()`, RGB), rounded half to even, from
    /// `img`, which holds the picture's pixels from column `x0` and row `y0` on and covers
    /// [`Separable::source`].
    pub(super) fn run(&self, img: &RgbImage, x0: usize, y0: usize) -> RgbImage {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return unsafe { self.run_fma(img, x0, y0) };
        }
        self.run_portable(img, x0, y0)
    }

    /// [`Separable::run`] compiled for AVX2 with FMA, so that `mul_add` is one instruction:
    /// the same roundings, faster.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_fma(&self, img: &RgbImage, x0: usize, y0: usize) -> RgbImage {
        self.run_portable(img, x0, y0)
    }

    #[inline(always)]
    fn run_portable(&self, img: &RgbImage, x0: usize, y0: usize) -> RgbImage {
        let (_, source_rows) = self.source();
        let width = self.columns.len();
        // The horizontal pass, in float32, for the source rows the vertical pass reads.
        let mut across = vec![0f32; source_rows.len() * width * 3];
        let mut levels = Vec::with_capacity(img.width * 3);
        for (row, out) in source_rows.clone().zip(across.chunks_exact_mut(width * 3)) {
            levels.clear();
            levels.extend(img.row(row - y0).iter().map(|&p| f32::from(p)));
            for (x, o) in self.columns.clone().zip(out.chunks_exact_mut(3)) {
                let Some(xs) = &self.xs else {
                    o.copy_from_slice(&levels[(x - x0) * 3..(x - x0) * 3 + 3]);
                    continue;
                };
                let (start, weights) = xs.taps(x);
                let first = (start - x0) * 3;
                for (c, o) in o.iter_mut().enumerate() {
                    let values = levels[first + c..].iter().step_by(3).copied();
                    *o = weighted(values, weights);
                }
            }
        }
        let mut pixels = vec![0u8; self.rows.len() * width * 3];
        let line = width * 3;
        for (y, out) in self.rows.clone().zip(pixels.chunks_exact_mut(line)) {
            let (start, weights) = match &self.ys {
                Some(ys) => ys.taps(y),
                None => (y, &[1.0f32][..]),
            };
            let first = (start - source_rows.start) * line;
            for (i, o) in out.iter_mut().enumerate() {
                let value = match &self.ys {
                    Some(_) => {
                        let values = across[first + i..].iter().step_by(line).copied();
                        weighted(values, weights)
                    }
                    None => across[first + i],
                };
                // torch.round (half to even), then .to(uint8); the weights are not negative.
                *o = value.round_ties_even() as u8;
            }
        }
        RgbImage::new(width, self.rows.len(), pixels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_atens_float_arithmetic() {
        // 4 -> 2: scale 2, support 2, centres 1 and 3; triangle(x / 2) at 0.25, 0.75, ...
        let t = FloatAxis::new(4, 2);
        assert_eq!(t.stride, 5);
        assert_eq!((t.starts.clone(), t.lens.clone()), (vec![0, 1], vec![3, 3]));
        let (_, w) = t.taps(0);
        assert_eq!(w, [0.75 / 1.75, 0.75 / 1.75, 0.25 / 1.75]);
        // Upscaling 2 -> 4: support 1, output 1 centres at 0.75 -> 0.75 and 0.25.
        let t = FloatAxis::new(2, 4);
        assert_eq!(t.starts, [0, 0, 0, 1]);
        assert_eq!(t.taps(1).1, [0.75, 0.25]);
    }

    #[test]
    fn sums_group_four_products_then_fuse_and_round_half_to_even() {
        let plain =
            |t: &[f32], w: &[f32]| (1..t.len()).fold(t[0] * w[0], |acc, j| acc + t[j] * w[j]);
        let fused = |t: &[f32], w: &[f32], from: usize| {
            let acc = plain(&t[..from], &w[..from]);
            (from..t.len()).fold(acc, |acc, j| t[j].mul_add(w[j], acc))
        };
        // Downscales by 3.4 and 3.5 (a group of four, then fused taps) and by 1.5 (no group), on
        // levels that tell the orders apart.
        for (from, to) in [(1165, 347), (1001, 290), (500, 341)] {
            let axis = FloatAxis::new(from, to);
            let mut told = false;
            for out in 0..to {
                let (_, w) = axis.taps(out);
                let t: Vec<f32> = (0..w.len())
                    .map(|j| ((out * 37 + j * 101) % 256) as f32)
                    .collect();
                let expected = fused(&t, w, 1 + (w.len() - 1) / 4 * 4);
                assert_eq!(
                    weighted(t.iter().copied(), w),
                    expected,
                    "{from} -> {to}: {out}"
                );
                told |= expected != plain(&t, w) && expected != fused(&t, w, 1);
            }
            // Where a group of four exists, the sum is neither all plain nor all fused.
            assert_eq!(told, from != 500, "{from} -> {to}");
        }
        // Half to even: 2.5 -> 2, 3.5 -> 4.
        let img = RgbImage::new(2, 1, vec![2, 2, 2, 3, 3, 3]);
        // 2 -> 1: one output, weights 0.5 and 0.5: 2.5 rounds to 2.
        let out = FloatResize::new((2, 1), (1, 1), 0..1, 0..1).run(&img, 0, 0);
        assert_eq!(out.pixels, [2, 2, 2]);
        let img = RgbImage::new(2, 1, vec![3, 3, 3, 4, 4, 4]);
        let out = FloatResize::new((2, 1), (1, 1), 0..1, 0..1).run(&img, 0, 0);
        assert_eq!(out.pixels, [4, 4, 4]);
    }

    #[test]
    fn a_window_is_the_same_part_of_the_whole() {
        let (w, h) = (97, 61);
        let pixels = (0..w * h * 3)
            .map(|i| ((i * 131 + i / 7) % 256) as u8)
            .collect();
        let img = RgbImage::new(w, h, pixels);
        for (rw, rh) in [(50, 31), (160, 100), (97, 40), (30, 61)] {
            let full = FloatResize::new((w, h), (rw, rh), 0..rw, 0..rh).run(&img, 0, 0);
            let (columns, rows) = (rw / 4..rw * 3 / 4, rh / 3..rh - 1);
            let resize = FloatResize::new((w, h), (rw, rh), columns.clone(), rows.clone());
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
    fn a_flat_image_stays_flat() {
        let img = RgbImage::new(50, 37, [255u8, 0, 77].repeat(50 * 37));
        let out = FloatResize::new((50, 37), (23, 81), 0..23, 0..81).run(&img, 0, 0);
        assert!(out.pixels.chunks_exact(3).all(|p| p == [255, 0, 77]));
    }
}
