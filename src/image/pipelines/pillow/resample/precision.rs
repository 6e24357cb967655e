//! How many fractional bits a coefficient table has. Pillow always uses [`PRECISION_BITS`].
//! Pillow-SIMD stores coefficients as 16-bit integers (for `vpmaddwd`), so it picks, per table,
//! the most bits that keep the largest coefficient of the whole table below 2^15: the same
//! resize gets coarser weights than Pillow's, and a table's precision depends on every output
//! position, not only the ones a centre crop keeps.

use std::cell::RefCell;

use super::compat::PillowCompat;
use super::taps::{PRECISION_BITS, Stretch, Taps};
use crate::image::recipe::Filter;

/// Pillow-SIMD's bound: a signed 16-bit coefficient has 15 bits of magnitude.
const MAX_COEFFICIENT_BITS: u32 = 15;

/// Precisions worked out recently, per thread: each costs a whole table's weights.
const PRECISION_CACHE: usize = 16;

/// A resize of one axis and its filter.
type AxisKey = (Stretch, Filter);

thread_local! {
    static RECENT: RefCell<Vec<(AxisKey, u32)>> = const { RefCell::new(Vec::new()) };
}

/// The fractional bits of the coefficient table of a resize of one axis (`stretch`), as
/// `compat`'s Pillow computes them.
pub(super) fn precision(stretch: Stretch, filter: Filter, compat: PillowCompat) -> u32 {
    if !compat.sixteen_bit_coefficients() {
        return PRECISION_BITS;
    }
    let key = (stretch, filter);
    if let Some(bits) = RECENT.with(|r| r.borrow().iter().find(|(k, _)| *k == key).map(|e| e.1)) {
        return bits;
    }
    let bits = sixteen_bit_precision(largest_weight(stretch, filter));
    RECENT.with(|r| {
        let mut recent = r.borrow_mut();
        recent.insert(0, (key, bits));
        recent.truncate(PRECISION_CACHE);
    });
    bits
}

/// The largest entry of the whole double-precision table Pillow-SIMD normalises, the zeros that
/// pad a window shorter than the table's stride included.
fn largest_weight(stretch: Stretch, filter: Filter) -> f64 {
    let stride = Taps::stride(stretch, filter);
    let mut exact = vec![0f64; stride];
    let mut largest = f64::NEG_INFINITY;
    for out in 0..stretch.out_size {
        let (_, len) = Taps::exact_weights(stretch, out, filter, &mut exact);
        largest = exact[..len].iter().fold(largest, |a, &w| a.max(w));
        if len < stride {
            largest = largest.max(0.0);
        }
    }
    largest
}

/// Pillow-SIMD's `normalize_coeffs_8bpc`: the first precision (counting up from 0, at most
/// [`PRECISION_BITS`]) whose next one would round the largest weight to 2^15 or more.
fn sixteen_bit_precision(largest: f64) -> u32 {
    let limit = 1i64 << MAX_COEFFICIENT_BITS;
    (0..PRECISION_BITS)
        .find(|&bits| (0.5 + largest * f64::from(1u32 << (bits + 1))) as i64 >= limit)
        .unwrap_or(PRECISION_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pillow_keeps_22_bits() {
        for compat in [PillowCompat::V12, PillowCompat::V13] {
            assert_eq!(
                precision(Stretch::whole(500, 256), Filter::Bilinear, compat),
                22
            );
        }
    }

    #[test]
    fn the_largest_weight_gets_15_bits_at_most() {
        // Weight 1.0 (a copy-like upscale): 2^14 fits, 2^15 does not.
        assert_eq!(sixteen_bit_precision(1.0), 14);
        // 0.5 -> 15 bits (0.5 * 2^16 = 2^15 is the first that no longer fits).
        assert_eq!(sixteen_bit_precision(0.5), 15);
        assert_eq!(sixteen_bit_precision(0.49), 16);
        // Rounding counts: 0.25 * 2^17 - a hair still rounds up to 2^15.
        assert_eq!(sixteen_bit_precision(0.25 - 1e-7), 16);
        assert_eq!(sixteen_bit_precision(0.25 - 1e-5), 17);
        // Tiny weights (a strong downscale) stop at Pillow's own 22 bits.
        assert_eq!(sixteen_bit_precision(1.0 / 1024.0), 22);
    }

    #[test]
    fn a_hand_computed_table() {
        // BILINEAR 4 -> 2: output 0 reads pixels 0..3 with weights 0.75, 0.75, 0.25 over 1.75,
        // i.e. 3/7, 3/7, 1/7 (output 1 mirrors it). 3/7 * 2^17 = 56174 no longer fits 15 bits,
        // 3/7 * 2^16 = 28086.86 does: 16 bits, weights rounded half away from zero.
        let bits = precision(Stretch::whole(4, 2), Filter::Bilinear, PillowCompat::Simd);
        assert_eq!(bits, 16);
        let taps = Taps::new(Stretch::whole(4, 2), 0..2, Filter::Bilinear, bits);
        assert_eq!(taps.weights(0), [28087, 28087, 9362]);
        assert_eq!(taps.weights(1), [9362, 28087, 28087]);
        assert_eq!(taps.half(), 1 << 15);
        // Pillow's own table of the same resize, for contrast.
        let pillow = Taps::new(Stretch::whole(4, 2), 0..2, Filter::Bilinear, PRECISION_BITS);
        assert_eq!(pillow.weights(0), [1797559, 1797559, 599186]);
    }

    #[test]
    fn simd_tables_use_the_precision_of_their_largest_weight() {
        for filter in Filter::ALL.into_iter().filter(|&f| f != Filter::Nearest) {
            for (i, o) in [
                (500, 256),
                (375, 256),
                (256, 224),
                (100, 300),
                (4000, 7),
                (3, 2),
            ] {
                let bits = precision(Stretch::whole(i, o), filter, PillowCompat::Simd);
                let taps = Taps::new(Stretch::whole(i, o), 0..o, filter, bits);
                let largest = taps.weights.iter().copied().max().unwrap();
                assert!(
                    largest < 1 << 15,
                    "{filter:?} {i}->{o}: {largest} at {bits} bits"
                );
                if bits < PRECISION_BITS {
                    // One more bit would overflow 16 bits.
                    let finer = Taps::new(Stretch::whole(i, o), 0..o, filter, bits + 1);
                    let largest = finer.weights.iter().copied().max().unwrap();
                    assert!(largest >= 1 << 15, "{filter:?} {i}->{o}: {largest}");
                }
                // The rows still sum to one, to within half a unit of the grid per tap.
                for row in 0..o {
                    let sum: i32 = taps.weights(row).iter().sum();
                    let error = (sum - (1 << bits)).unsigned_abs() as usize;
                    assert!(
                        error <= taps.lens[row] / 2 + 1,
                        "{filter:?} {i}->{o}: {sum}"
                    );
                }
            }
        }
    }

    #[test]
    fn precision_depends_on_the_whole_table() {
        // BILINEAR 1024 -> 256: the interior outputs' largest weight is 7/32, which allows 17
        // bits, but the first output's window is cut by the picture's edge and renormalised to
        // a largest weight of 1/4, which allows 16: every output gets 16.
        let mut exact = vec![0f64; Taps::stride(Stretch::whole(1024, 256), Filter::Bilinear)];
        let largest_of = |outputs: std::ops::Range<usize>, exact: &mut Vec<f64>| {
            outputs
                .map(|out| {
                    let (_, len) = Taps::exact_weights(
                        Stretch::whole(1024, 256),
                        out,
                        Filter::Bilinear,
                        exact,
                    );
                    exact[..len].iter().copied().fold(0.0, f64::max)
                })
                .fold(0.0, f64::max)
        };
        let interior = largest_of(16..240, &mut exact);
        assert_eq!(interior, 7.0 / 32.0);
        assert_eq!(sixteen_bit_precision(interior), 17);
        assert_eq!(largest_of(0..256, &mut exact), 0.25);
        assert_eq!(
            precision(
                Stretch::whole(1024, 256),
                Filter::Bilinear,
                PillowCompat::Simd
            ),
            16
        );
    }
}
