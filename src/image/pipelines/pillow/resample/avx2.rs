//! The convolution passes in AVX2: the same integer arithmetic as [`super::scalar`], so equal
//! bit for bit (integer sums do not depend on the order of the additions).

use std::ops::Range;

use super::scalar::{clip, convolve_sums};
use super::taps::Taps;

/// The widest window the AVX2 horizontal pass takes: its weight layout costs 16 bytes per tap
/// (4x the table), which only pays for ordinary windows.
pub(super) const AVX2_MAX_TAPS: usize = 4096;

/// Bits of a weight's low part in [`horizontal_rows_avx2`]: a 22-bit weight splits into a signed
/// high part and an 11-bit low part, both of which fit the 16-bit lanes `vpmaddwd` multiplies.
const LOW_BITS: u32 = 11;

/// Taps per 256-bit vector in [`horizontal_rows_avx2`].
const GROUP: usize = 4;

/// The weights laid out for [`horizontal_rows_avx2`]: per output pixel and group of four taps,
/// the high parts then the low parts, each as 16 lanes `[w0 w1 w0 w1 w0 w1 0 0 w2 w3 w2 w3 w2 w3 0 0]`
/// (taps past the window are zero). Returns the lanes and the lane count per output pixel.
pub(super) fn split_weights(taps: &Taps) -> (Vec<i16>, usize) {
    let half = GROUP * 4;
    // The widest window this table actually has, which is often a tap narrower than the widest
    // Pillow allows (`stride`): for bilinear at scales below 2, four taps instead of five, so
    // one group instead of two.
    let widest = taps.lens.iter().copied().max().unwrap_or(1).max(1);
    let per_output = widest.div_ceil(GROUP) * 2 * half;
    let mut lanes = vec![0i16; taps.starts.len() * per_output];
    for (i, out) in lanes.chunks_exact_mut(per_output).enumerate() {
        for (t, &w) in taps.weights(i).iter().enumerate() {
            let (g, slot) = (t / GROUP, t % GROUP);
            let high = (w >> LOW_BITS) as i16;
            let low = (w & ((1 << LOW_BITS) - 1)) as i16;
            // Lanes of this tap within its half (8 lanes per pair of taps): channels at 0, 2, 4.
            let base = g * 2 * half + (slot / 2) * 8 + slot % 2;
            for channel in 0..3 {
                out[base + 2 * channel] = high;
                out[base + half + 2 * channel] = low;
            }
        }
    }
    (lanes, per_output)
}

/// 12 bytes = 4 RGB pixels, the same 16 bytes in both 128-bit halves -> per pair of taps the
/// 16-bit lanes `[R0 R1 G0 G1 B0 B1 0 0]`, zero-extended by the shuffle itself (a -1 control
/// byte writes 0): taps 0 and 1 in the low half, taps 2 and 3 in the high half.
const INTERLEAVE: [i8; 32] = [
    0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, //
    6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1,
];

/// The horizontal convolution, four taps per 256-bit vector. Pillow's weights need 22 bits, more
/// than a 16-bit multiply takes, so each is split as `high * 2^11 + low` and the two parts go
/// through `vpmaddwd` (16-bit products summed in pairs into 32 bits) separately:
/// `sum(p * w) = sum(p * high) * 2^11 + sum(p * low)`. Integer sums are exact whatever their
/// order (and wrap identically), so this equals Pillow bit for bit.
///
/// Every output pixel runs the same number of vectors (the widest window's; the weights past a
/// window are zero), so the loop has no per-pixel bookkeeping; that, not the arithmetic, is what
/// bounds this pass (512-bit vectors measured no faster). [`ROWS_AT_ONCE`] rows go through
/// together, sharing each weight vector. The pixels whose 16-byte reads would leave the row (at
/// its right end) take the per-pixel loop.
#[target_feature(enable = "avx2")]
pub(super) fn horizontal_rows_avx2<'a>(
    rows: impl Iterator<Item = (&'a [u8], &'a mut [u8])>,
    row_len: usize,
    taps: &Taps,
    shift: usize,
) {
    let (weights, per_output) = taps.split.get_or_init(|| split_weights(taps));
    let kernel = SplitKernel {
        weights,
        half: taps.half(),
        per_output: *per_output,
        offsets: taps.starts.iter().map(|&s| (s - shift) * 3).collect(),
        row_len,
    };
    // Window starts never move left, so the pixels whose reads fit the row are a prefix.
    let groups = kernel.per_output / 32;
    let fast = kernel
        .offsets
        .partition_point(|&o| o + groups * GROUP * 3 + 4 <= row_len);
    // Per row, its 32-bit sums (R G B per pixel, one spare lane at the end for the last 4-lane
    // store), clipped to bytes in one pass after the rows.
    let mut sums = [(); ROWS_AT_ONCE].map(|_| vec![0i32; taps.starts.len() * 3 + 1]);
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let block: Vec<(&[u8], &mut [u8])> = rows.by_ref().take(ROWS_AT_ONCE).collect();
        for (in_row, _) in &block {
            assert_eq!(in_row.len(), row_len);
        }
        let ins = |r: usize| block[r.min(block.len() - 1)].0;
        // A short last block repeats its last row; the repeats' sums are never written out.
        // SAFETY: the CPU supports AVX2 (this function's own requirement); every row is
        // `row_len` long, checked above.
        unsafe { kernel.sums(&std::array::from_fn(ins), fast, &mut sums) };
        for ((in_row, out_row), row_sums) in block.into_iter().zip(&mut sums) {
            for i in fast..taps.starts.len() {
                let offset = kernel.offsets[i];
                let window = &in_row[offset..offset + taps.lens[i] * 3];
                row_sums[i * 3..i * 3 + 3].copy_from_slice(&convolve_sums(
                    window,
                    taps.weights(i),
                    taps.half(),
                ));
            }
            for (o, &sum) in out_row.iter_mut().zip(row_sums.iter()) {
                *o = clip(sum, taps.precision);
            }
        }
    }
}

/// Rows [`horizontal_rows_avx2`] convolves together: each weight vector loaded serves them all,
/// and their independent sums keep the multipliers busy.
const ROWS_AT_ONCE: usize = 4;

/// The split weights of one coefficient table, and where each output pixel's window starts in a
/// row of `row_len` bytes.
struct SplitKernel<'a> {
    weights: &'a [i16],
    /// The rounding offset of the table's precision.
    half: i32,
    per_output: usize,
    offsets: Vec<usize>,
    row_len: usize,
}

impl SplitKernel<'_> {
    /// The fixed-point sums of output pixels `0..fast` of [`ROWS_AT_ONCE`] rows into `sums`.
    ///
    /// # Safety
    /// The CPU supports AVX2; every row is `row_len` bytes; for every pixel below `fast`, the
    /// 16-byte reads of its `per_output / 32` groups end inside the row.
    #[target_feature(enable = "avx2")]
    unsafe fn sums(
        &self,
        rows: &[&[u8]; ROWS_AT_ONCE],
        fast: usize,
        sums: &mut [Vec<i32>; ROWS_AT_ONCE],
    ) {
        use std::arch::x86_64::*;
        let groups = self.per_output / 32;
        // SAFETY: INTERLEAVE holds 32 bytes.
        let interleave = unsafe { _mm256_loadu_si256(INTERLEAVE.as_ptr().cast()) };
        // The rounding offset rides in the first accumulator.
        let half = _mm256_setr_epi32(self.half, self.half, self.half, 0, 0, 0, 0, 0);
        for (i, &offset) in self.offsets[..fast].iter().enumerate() {
            let k = self.weights[i * self.per_output..].as_ptr();
            let mut high = [_mm256_setzero_si256(); ROWS_AT_ONCE];
            let mut low = [half; ROWS_AT_ONCE];
            for g in 0..groups {
                // SAFETY: each pixel has `groups` * 32 weight lanes. Unaligned loads.
                let (k_high, k_low) = unsafe {
                    (
                        _mm256_loadu_si256(k.add(g * 32).cast()),
                        _mm256_loadu_si256(k.add(g * 32 + 16).cast()),
                    )
                };
                for r in 0..ROWS_AT_ONCE {
                    // SAFETY: i < fast, so 16 bytes from offset + 12 * g end inside the row.
                    let pixels =
                        unsafe { _mm_loadu_si128(rows[r].as_ptr().add(offset + g * 12).cast()) };
                    // One in-lane shuffle of a broadcast load zero-extends the bytes into 16-bit
                    // lanes, without a lane-crossing widening.
                    let pixels =
                        _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(pixels), interleave);
                    high[r] = _mm256_add_epi32(high[r], _mm256_madd_epi16(pixels, k_high));
                    low[r] = _mm256_add_epi32(low[r], _mm256_madd_epi16(pixels, k_low));
                }
            }
            for r in 0..ROWS_AT_ONCE {
                let total =
                    _mm256_add_epi32(_mm256_slli_epi32::<{ LOW_BITS as i32 }>(high[r]), low[r]);
                let total = _mm_add_epi32(
                    _mm256_castsi256_si128(total),
                    _mm256_extracti128_si256::<1>(total),
                );
                // SAFETY: sums[r] has 3 * outputs + 1 lanes, so 4 lanes from 3 * i fit; the
                // fourth is the next pixel's R, written again when that pixel is done.
                unsafe { _mm_storeu_si128(sums[r].as_mut_ptr().add(i * 3).cast(), total) };
            }
        }
        debug_assert!(rows.iter().all(|row| row.len() == self.row_len));
    }
}

/// The vertical convolution, 16 values of a row at a time with the accumulators in registers.
/// Two source rows (two taps) are interleaved byte by byte into 16-bit lanes, so `vpmaddwd`
/// multiplies both by their weights and adds the pair; the 22-bit weights are split as in
/// [`horizontal_rows_avx2`]. Integer sums do not depend on the order of the additions, so this
/// equals Pillow's loop bit for bit. Values past the last multiple of 16 take
/// [`vertical_rows`](super::scalar::vertical_rows)'s arithmetic.
#[target_feature(enable = "avx2")]
pub(super) fn vertical_rows_avx2(
    src: &[u8],
    width: usize,
    columns: Range<usize>,
    taps: &Taps,
    shift: usize,
    out: &mut [u8],
) {
    use std::arch::x86_64::*;
    let row_len = columns.len() * 3;
    let vectors = row_len / 16;
    let half = _mm256_set1_epi32(taps.half());
    let precision = _mm_cvtsi32_si128(taps.precision as i32);
    let split = |w: i32| ((w >> LOW_BITS) as i16, (w & ((1 << LOW_BITS) - 1)) as i16);
    let pair = |a: i16, b: i16| _mm256_set1_epi32(i32::from(a as u16) | (i32::from(b) << 16));
    let mut rows: Vec<&[u8]> = Vec::new();
    let mut weights: Vec<(__m256i, __m256i)> = Vec::new();
    for (i, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        let first = taps.starts[i] - shift;
        let k = taps.weights(i);
        rows.clear();
        rows.extend((first..first + k.len()).map(|y| {
            let offset = (y * width + columns.start) * 3;
            &src[offset..offset + row_len]
        }));
        // Per pair of taps, the high and the low parts of both weights, as 16-bit pairs; an odd
        // last tap pairs with a zero weight (and reads its own row twice).
        weights.clear();
        weights.extend(k.chunks(2).map(|p| {
            let (high0, low0) = split(p[0]);
            let (high1, low1) = split(p.get(1).copied().unwrap_or(0));
            (pair(high0, high1), pair(low0, low1))
        }));
        for v in 0..vectors {
            let j = v * 16;
            let (mut high0, mut high1) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            let (mut low0, mut low1) = (half, half);
            for (p, &(k_high, k_low)) in weights.iter().enumerate() {
                let (row_a, row_b) = (rows[2 * p], rows[(2 * p + 1).min(rows.len() - 1)]);
                // SAFETY: j + 16 <= row_len, the length of every row. Unaligned loads.
                let (a, b) = unsafe {
                    (
                        _mm_loadu_si128(row_a.as_ptr().add(j).cast()),
                        _mm_loadu_si128(row_b.as_ptr().add(j).cast()),
                    )
                };
                let first8 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(a, b));
                let last8 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(a, b));
                high0 = _mm256_add_epi32(high0, _mm256_madd_epi16(first8, k_high));
                low0 = _mm256_add_epi32(low0, _mm256_madd_epi16(first8, k_low));
                high1 = _mm256_add_epi32(high1, _mm256_madd_epi16(last8, k_high));
                low1 = _mm256_add_epi32(low1, _mm256_madd_epi16(last8, k_low));
            }
            let sum = |high: __m256i, low: __m256i| {
                let total = _mm256_add_epi32(_mm256_slli_epi32::<{ LOW_BITS as i32 }>(high), low);
                _mm256_sra_epi32(total, precision)
            };
            // Saturating packs clamp to 0..=255 as `clip` does; they work within 128-bit
            // halves, hence the two permutes that put the values back in order.
            let words = _mm256_packs_epi32(sum(high0, low0), sum(high1, low1));
            let words = _mm256_permute4x64_epi64::<0b11_01_10_00>(words);
            let bytes = _mm256_packus_epi16(words, words);
            let bytes = _mm256_permute4x64_epi64::<0b00_00_10_00>(bytes);
            // SAFETY: j + 16 <= row_len = out_row.len().
            unsafe {
                _mm_storeu_si128(
                    out_row.as_mut_ptr().add(j).cast(),
                    _mm256_castsi256_si128(bytes),
                )
            };
        }
        for (j, o) in out_row.iter_mut().enumerate().skip(vectors * 16) {
            let sum = rows
                .iter()
                .zip(k)
                .fold(taps.half(), |acc, (row, &w)| acc + i32::from(row[j]) * w);
            *o = clip(sum, taps.precision);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::precision::precision;
    use super::super::scalar::{horizontal_rows, vertical_rows};
    use super::super::taps::Stretch;
    use super::super::tests::test_image;
    use super::*;
    use crate::image::pipelines::PillowCompat;
    use crate::image::raster::RgbImage;
    use crate::image::recipe::Filter;

    #[test]
    fn avx2_horizontal_pass_equals_the_per_pixel_one() {
        if !std::is_x86_feature_detected!("avx2") {
            crate::testing::not_applicable("no AVX2 on this CPU");
            return;
        }
        for (w, h, out_w) in [
            (37, 5, 20),
            (37, 7, 50),
            (200, 3, 7),
            (5, 2, 4),
            (1, 2, 3),
            (64, 6, 64 - 1),
            (64, 9, 31),
            (500, 2, 224),
            (375, 2, 256),
            (1000, 2, 97),
            (3000, 2, 224),
        ] {
            // Extremes (0 / 255 stripes) drive negative lobes into clipping.
            let stripes = RgbImage::new(
                w,
                h,
                (0..w * h * 3)
                    .map(|i| if (i / 3) % 3 == 0 { 255 } else { 0 })
                    .collect(),
            );
            for (img, filter) in [test_image(w, h), stripes].iter().flat_map(|img| {
                Filter::ALL
                    .into_iter()
                    .filter(|&f| f != Filter::Nearest)
                    .map(move |f| (img, f))
            }) {
                for bits in [
                    22,
                    precision(Stretch::whole(w, out_w), filter, PillowCompat::Simd),
                ] {
                    let taps = Taps::new(Stretch::whole(w, out_w), 0..out_w, filter, bits);
                    let run = |vector: bool| {
                        let mut out = vec![0u8; out_w * h * 3];
                        let rows = img
                            .pixels
                            .chunks_exact(w * 3)
                            .zip(out.chunks_exact_mut(out_w * 3));
                        if vector {
                            // SAFETY: AVX2 support checked above.
                            unsafe { horizontal_rows_avx2(rows, w * 3, &taps, 0) }
                        } else {
                            horizontal_rows(rows, &taps, 0)
                        }
                        out
                    };
                    assert_eq!(
                        run(true),
                        run(false),
                        "{w}x{h} -> {out_w} {filter:?} {bits}"
                    );
                }
            }
        }
    }

    #[test]
    fn avx2_vertical_pass_equals_the_scalar_one() {
        if !std::is_x86_feature_detected!("avx2") {
            crate::testing::not_applicable("no AVX2 on this CPU");
            return;
        }
        // (width, columns read, source height, output height): row lengths of 3 * columns bytes
        // around multiples of 16, odd and even tap counts, up- and downscaling.
        for (w, columns, h, out_h) in [
            (20, 0..20, 37, 11),
            (20, 3..19, 37, 50),
            (16, 0..16, 9, 4),
            (17, 1..17, 300, 7),
            (5, 0..5, 2, 3),
            (224, 0..224, 375, 224),
            (300, 38..262, 500, 224),
            (64, 0..63, 3000, 224),
        ] {
            let stripes = RgbImage::new(
                w,
                h,
                (0..w * h * 3)
                    .map(|i| if (i / (3 * w)) % 3 == 0 { 255 } else { 0 })
                    .collect(),
            );
            for img in [test_image(w, h), stripes] {
                for filter in Filter::ALL.into_iter().filter(|&f| f != Filter::Nearest) {
                    for bits in [
                        22,
                        precision(Stretch::whole(h, out_h), filter, PillowCompat::Simd),
                    ] {
                        let taps = Taps::new(Stretch::whole(h, out_h), 0..out_h, filter, bits);
                        let run = |vector: bool| {
                            let mut out = vec![0u8; columns.len() * 3 * out_h];
                            if vector {
                                // SAFETY: AVX2 support checked above.
                                unsafe {
                                    vertical_rows_avx2(
                                        &img.pixels,
                                        w,
                                        columns.clone(),
                                        &taps,
                                        0,
                                        &mut out,
                                    )
                                }
                            } else {
                                vertical_rows(&img.pixels, w, columns.clone(), &taps, 0, &mut out)
                            }
                            out
                        };
                        assert!(
                            run(true) == run(false),
                            "{w}x{h} columns {columns:?} -> {out_h} {filter:?} {bits}"
                        );
                    }
                }
            }
        }
    }
}
