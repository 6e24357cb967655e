//! Pillow's coefficient tables (`precompute_coeffs` + `normalize_coeffs_8bpc`): per-axis
//! weights in fixed point (22 bits in Pillow, a per-table precision of at most 15 significant
//! bits in Pillow-SIMD: see [`super::precision`]), with a small per-thread cache.

use std::ops::Range;
use std::rc::Rc;

use crate::image::recipe::Filter;

/// Fractional bits of the fixed-point weights: 32 bits minus 8 for the pixel and 2 for the
/// overshoot of filters with negative lobes.
pub(super) const PRECISION_BITS: u32 = 22;

fn support(filter: Filter) -> f64 {
    match filter {
        Filter::Box => 0.5,
        Filter::Bilinear | Filter::Hamming => 1.0,
        Filter::Bicubic => 2.0,
        Filter::Lanczos => 3.0,
        Filter::Nearest => 0.0,
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

/// The filter kernels, written operation for operation as Pillow evaluates them in double
/// precision (including Hamming's float constants), since the weights must round the same way.
fn kernel(filter: Filter, x: f64) -> f64 {
    match filter {
        Filter::Box => {
            if x > -0.5 && x <= 0.5 {
                1.0
            } else {
                0.0
            }
        }
        Filter::Bilinear => {
            let x = x.abs();
            if x < 1.0 { 1.0 - x } else { 0.0 }
        }
        Filter::Hamming => {
            let x = x.abs();
            if x == 0.0 {
                1.0
            } else if x >= 1.0 {
                0.0
            } else {
                let x = x * std::f64::consts::PI;
                x.sin() / x * (f64::from(0.54f32) + f64::from(0.46f32) * x.cos())
            }
        }
        Filter::Bicubic => {
            const A: f64 = -0.5;
            let x = x.abs();
            if x < 1.0 {
                ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
            } else if x < 2.0 {
                (((x - 5.0) * x + 8.0) * x - 4.0) * A
            } else {
                0.0
            }
        }
        Filter::Lanczos => {
            if (-3.0..3.0).contains(&x) {
                sinc(x) * sinc(x / 3.0)
            } else {
                0.0
            }
        }
        Filter::Nearest => 0.0,
    }
}

/// One axis of a resize as Pillow's `precompute_coeffs` takes it: the source interval
/// `start..end` (Pillow's `box` along this axis, the whole axis without one) of an axis of
/// `in_size` positions, stretched to `out_size` positions. Windows are clipped to the axis, not
/// to the interval: with a box, the filter reads pixels just outside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stretch {
    pub(super) in_size: usize,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) out_size: usize,
}

impl Stretch {
    /// The whole axis of `in_size` positions to `out_size` (a resize without a box).
    #[cfg(test)]
    pub(super) fn whole(in_size: usize, out_size: usize) -> Self {
        Self {
            in_size,
            start: 0,
            end: in_size,
            out_size,
        }
    }

    /// Pillow's `scale`: `(double)(in1 - in0) / outSize`, the box edges being C floats (the
    /// difference is a float before widening).
    fn scale(&self) -> f64 {
        f64::from(self.end as f32 - self.start as f32) / self.out_size as f64
    }

    /// Pillow's `in0`, a C float widened to double.
    fn offset(&self) -> f64 {
        f64::from(self.start as f32)
    }

    /// Whether Pillow resamples this axis at all (`need_horizontal` / `need_vertical`:
    /// `xsize != imIn->xsize || box[0] || box[2] != xsize`); an axis it skips is copied.
    pub(super) fn resampled(&self) -> bool {
        self.out_size != self.in_size
            || self.start as f32 != 0.0
            || self.end as f32 != self.out_size as f32
    }
}

/// One axis's coefficient table for a range of output positions: for output `i` of the range,
/// source positions `starts[i] .. starts[i] + lens[i]` weighted by `weights[i * stride ..]`
/// (`stride` is the largest window Pillow allows for this scale and filter).
pub(super) struct Taps {
    pub(super) starts: Vec<usize>,
    pub(super) lens: Vec<usize>,
    pub(super) stride: usize,
    pub(super) weights: Vec<i32>,
    /// Fractional bits of `weights`: each sum is rounded by adding half of `1 << precision`
    /// and shifting right by `precision`.
    pub(super) precision: u32,
    /// The weights as [`horizontal_rows_avx2`] reads them, made on first use.
    #[cfg(target_arch = "x86_64")]
    pub(super) split: std::cell::OnceCell<(Vec<i16>, usize)>,
}

/// How many coefficient tables each thread keeps. ImageNet's images come in few sizes (most are
/// 500 pixels on the long side), and LANCZOS tables cost two `sin` per tap to make.
const TAPS_CACHE: usize = 16;

/// Tables above this size are not kept in the per-thread cache (ImageNet's are about 13 KiB).
const CACHED_TABLE_BYTES: usize = 1 << 20;

thread_local! {
    static RECENT_TAPS: std::cell::RefCell<Vec<(TapsKey, Rc<Taps>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

type TapsKey = (Stretch, Range<usize>, Filter, u32);

impl Taps {
    /// [`Taps::new`], from a small per-thread cache of the most recently used tables.
    pub(super) fn cached(
        stretch: Stretch,
        outputs: Range<usize>,
        filter: Filter,
        precision: u32,
    ) -> Rc<Taps> {
        // A large table is a rare picture's (or one part of it): keeping it would hold memory
        // in every thread for nothing.
        if outputs.len() * Self::stride(stretch, filter) * 4 > CACHED_TABLE_BYTES {
            return Rc::new(Taps::new(stretch, outputs, filter, precision));
        }
        let key = (stretch, outputs, filter, precision);
        RECENT_TAPS.with(|cell| {
            let mut recent = cell.borrow_mut();
            if let Some(at) = recent.iter().position(|(k, _)| *k == key) {
                let entry = recent.remove(at);
                let taps = Rc::clone(&entry.1);
                recent.insert(0, entry);
                return taps;
            }
            let taps = Rc::new(Taps::new(stretch, key.1.clone(), filter, precision));
            recent.insert(0, (key, Rc::clone(&taps)));
            recent.truncate(TAPS_CACHE);
            taps
        })
    }

    /// Pillow's largest window for this scale and filter (the table's row stride).
    pub(super) fn stride(stretch: Stretch, filter: Filter) -> usize {
        (support(filter) * stretch.scale().max(1.0)).ceil() as usize * 2 + 1
    }

    /// The source positions the outputs in `outputs` read, without computing any weight.
    pub(super) fn span(stretch: Stretch, outputs: Range<usize>, filter: Filter) -> Range<usize> {
        let mut first = usize::MAX;
        let mut last = 0;
        for out in outputs {
            let (start, len) = Self::window_of(stretch, out, filter);
            first = first.min(start);
            last = last.max(start + len);
        }
        if first == usize::MAX {
            0..0
        } else {
            first..last.max(first)
        }
    }

    /// Output `out`'s first source position and tap count, as [`Taps::new`] computes them.
    pub(super) fn window_of(stretch: Stretch, out: usize, filter: Filter) -> (usize, usize) {
        let scale = stretch.scale();
        let support = support(filter) * scale.max(1.0);
        let max_len = Self::stride(stretch, filter);
        // `in0 + (xx + 0.5) * scale`: adding Pillow's 0.0 for a whole axis changes no bit.
        let center = stretch.offset() + (out as f64 + 0.5) * scale;
        let min = ((center - support + 0.5) as i64).max(0);
        let max = ((center + support + 0.5) as i64).min(stretch.in_size as i64);
        let len = (max - min).clamp(0, max_len as i64) as usize;
        (min as usize, len)
    }

    /// Output `out`'s normalised double-precision weights, as Pillow's `precompute_coeffs`
    /// computes them, into `exact` (at least [`Taps::stride`] long); returns the window's first
    /// source position and tap count.
    pub(super) fn exact_weights(
        stretch: Stretch,
        out: usize,
        filter: Filter,
        exact: &mut [f64],
    ) -> (usize, usize) {
        let scale = stretch.scale();
        let inverse = 1.0 / scale.max(1.0);
        let (min, len) = Self::window_of(stretch, out, filter);
        let center = stretch.offset() + (out as f64 + 0.5) * scale;
        let mut sum = 0.0;
        for (x, w) in exact[..len].iter_mut().enumerate() {
            *w = kernel(filter, ((x + min) as f64 - center + 0.5) * inverse);
            sum += *w;
        }
        if sum != 0.0 {
            for w in &mut exact[..len] {
                *w /= sum;
            }
        }
        (min, len)
    }

    /// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for the output
    /// positions in `outputs` of `stretch`, with `precision` fractional bits
    /// ([`PRECISION_BITS`] for Pillow).
    pub(super) fn new(
        stretch: Stretch,
        outputs: Range<usize>,
        filter: Filter,
        precision: u32,
    ) -> Self {
        let stride = Self::stride(stretch, filter);
        let fixed_one = f64::from(1u32 << precision);

        let n = outputs.len();
        let mut starts = Vec::with_capacity(n);
        let mut lens = Vec::with_capacity(n);
        let mut weights = vec![0i32; n * stride];
        let mut exact = vec![0f64; stride];
        for (i, out) in outputs.enumerate() {
            let (min, len) = Self::exact_weights(stretch, out, filter, &mut exact);
            let row = &mut weights[i * stride..i * stride + len];
            for (fixed, &w) in row.iter_mut().zip(&exact[..len]) {
                // C's (int) truncates toward zero, as `as` does.
                *fixed = if w < 0.0 {
                    (-0.5 + w * fixed_one) as i32
                } else {
                    (0.5 + w * fixed_one) as i32
                };
            }
            starts.push(min);
            lens.push(len);
        }
        Self {
            starts,
            lens,
            stride,
            weights,
            precision,
            #[cfg(target_arch = "x86_64")]
            split: std::cell::OnceCell::new(),
        }
    }

    /// The rounding offset every sum starts from: one half in fixed point.
    pub(super) fn half(&self) -> i32 {
        1 << (self.precision - 1)
    }

    pub(super) fn weights(&self, i: usize) -> &[i32] {
        &self.weights[i * self.stride..i * self.stride + self.lens[i]]
    }

    /// The source positions any output of this table reads.
    pub(super) fn source_span(&self) -> Range<usize> {
        let first = self.starts.iter().copied().min().unwrap_or(0);
        let last = self
            .starts
            .iter()
            .zip(&self.lens)
            .map(|(s, l)| s + l)
            .max()
            .unwrap_or(first);
        first..last.max(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_tables_are_reused_and_equal_fresh_ones() {
        let first = Taps::cached(Stretch::whole(500, 224), 0..224, Filter::Lanczos, 22);
        let again = Taps::cached(Stretch::whole(500, 224), 0..224, Filter::Lanczos, 22);
        assert!(Rc::ptr_eq(&first, &again));
        let fresh = Taps::new(Stretch::whole(500, 224), 0..224, Filter::Lanczos, 22);
        assert_eq!(
            (&first.starts, &first.weights),
            (&fresh.starts, &fresh.weights)
        );
        // Another window of the same resize is another table.
        let window = Taps::cached(Stretch::whole(500, 224), 10..20, Filter::Lanczos, 22);
        assert_eq!(
            window.starts,
            Taps::new(Stretch::whole(500, 224), 10..20, Filter::Lanczos, 22).starts
        );
        // Older tables are dropped once the cache is full.
        for out in 0..TAPS_CACHE {
            Taps::cached(Stretch::whole(300, 100 + out), 0..10, Filter::Bilinear, 22);
        }
        let after = Taps::cached(Stretch::whole(500, 224), 0..224, Filter::Lanczos, 22);
        assert!(!Rc::ptr_eq(&first, &after));
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for filter in Filter::ALL.into_iter().filter(|&f| f != Filter::Nearest) {
            let taps = Taps::new(Stretch::whole(500, 224), 0..224, filter, PRECISION_BITS);
            for i in 0..224 {
                let sum: i64 = taps.weights(i).iter().map(|&w| i64::from(w)).sum();
                assert!((sum - (1 << 22)).abs() <= 8, "{filter:?} output {i}: {sum}");
            }
        }
    }
}
