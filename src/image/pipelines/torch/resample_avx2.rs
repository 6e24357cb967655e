//! The horizontal pass of `torch_resample` with SSE/AVX2 integer instructions: two taps of the
//! three channels per `pmaddwd`, the same int32 sums as the scalar loop (integer addition does not
//! care about order), so the same bytes.

use std::arch::x86_64::*;
use std::ops::Range;

/// One axis's padded weights as `pmaddwd` reads them: per output, `(stride + 1) / 2` int32
/// words, each holding two consecutive int16 weights (the last one zero when `stride` is odd).
pub(super) fn weight_pairs(stride: usize, padded: &[i16]) -> Vec<i32> {
    let pairs = stride.div_ceil(2);
    let mut out = Vec::with_capacity(padded.len() / stride * pairs);
    for taps in padded.chunks_exact(stride) {
        for pair in 0..pairs {
            let low = taps[2 * pair] as u16;
            let high = taps.get(2 * pair + 1).map_or(0, |&w| w as u16);
            out.push((u32::from(low) | (u32::from(high) << 16)) as i32);
        }
    }
    out
}

/// Output pixels `columns` of one row: `starts[x]` is output x's first source pixel (relative to
/// `line`'s first pixel, column `x0` of the picture) and `pairs` its weights ([`weight_pairs`]).
/// Outputs whose loads would pass the end of `line` are left to `fallback`.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
// Out of line: when a change of its callers made LLVM inline it into `Resize::run_avx2`, the
// loop took 15 % more instructions (cachegrind, 30 sample images).
#[inline(never)]
pub(super) unsafe fn horizontal(
    line: &[u8],
    x0: usize,
    starts: &[usize],
    pairs: &[i32],
    stride: usize,
    precision: u32,
    columns: Range<usize>,
    out: &mut [u8],
    mut fallback: impl FnMut(usize, &mut [u8]),
) {
    let per_output = stride.div_ceil(2);
    // Bytes 0..6 of an 8-byte load: two pixels' R, G and B as int16, paired by channel.
    let spread = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
    let half = _mm_set1_epi32(1 << (precision - 1));
    let shift = _mm_cvtsi32_si128(precision as i32);
    for (x, o) in columns.zip(out.chunks_exact_mut(3)) {
        let first = (starts[x] - x0) * 3;
        // Each pair reads 8 bytes from 6 * pair on.
        if first + 6 * (per_output - 1) + 8 > line.len() {
            fallback(x, o);
            continue;
        }
        let weights = &pairs[x * per_output..(x + 1) * per_output];
        let mut sum = half;
        for (pair, &w) in weights.iter().enumerate() {
            // SAFETY: checked above that the 8 bytes lie inside `line`.
            let bytes =
                unsafe { _mm_loadl_epi64(line.as_ptr().add(first + 6 * pair) as *const __m128i) };
            let pixels = _mm_shuffle_epi8(bytes, spread);
            sum = _mm_add_epi32(sum, _mm_madd_epi16(pixels, _mm_set1_epi32(w)));
        }
        let levels = _mm_packus_epi16(_mm_packs_epi32(_mm_sra_epi32(sum, shift), sum), sum);
        let rgb = (_mm_cvtsi128_si32(levels) as u32).to_le_bytes();
        o.copy_from_slice(&rgb[..3]);
    }
}
