//! Pillow's `Image.resize`, reproduced exactly (see ../shared/docs/IMPLEMENTATION_FACTS.md).
//!
//! BOX, BILINEAR, HAMMING, BICUBIC and LANCZOS follow Pillow's separable convolution: per-axis
//! coefficient tables computed in double precision, rounded to 22-bit fixed point, two passes
//! each rounded to 8 bits. Because each pass rounds, the order of the passes is part of the
//! result, and it changed in Pillow 13 ([`PillowCompat`]). NEAREST follows Pillow's affine
//! path, whose source coordinates are a running double-precision sum.

use std::ops::Range;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::Filter;

/// Which Pillow release's pass order to reproduce: Pillow 13 may run the vertical pass first,
/// Pillow <= 12 always runs the horizontal pass first. The two differ in the last bit of some images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PillowCompat {
    #[serde(rename = "12")]
    V12,
    #[serde(rename = "13")]
    V13,
}

impl PillowCompat {
    pub fn name(self) -> &'static str {
        match self {
            PillowCompat::V12 => "12",
            PillowCompat::V13 => "13",
        }
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
    let axes = (filter != Filter::Nearest)
        .then(|| AxisTaps::new(full_width, full_height, width, height, window, filter));
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
    let vertical_first = compat == PillowCompat::V13 && shrink_h > 0 && shrink_h > 2 * shrink_w;

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
        full_width: usize,
        full_height: usize,
        width: usize,
        height: usize,
        window: Window,
        filter: Filter,
    ) -> Self {
        let axis = |full: usize, out: usize, outputs: Range<usize>| {
            (full != out).then(|| Taps::cached(full, out, outputs, filter))
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

// ---------------------------------------------------------------------------------------------
// Convolution filters

/// Fractional bits of the fixed-point weights: 32 bits minus 8 for the pixel and 2 for the
/// overshoot of filters with negative lobes.
const PRECISION_BITS: u32 = 22;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

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

/// One axis's coefficient table for a range of output positions: for output `i` of the range,
/// source positions `starts[i] .. starts[i] + lens[i]` weighted by `weights[i * stride ..]`
/// (`stride` is the largest window Pillow allows for this scale and filter).
struct Taps {
    starts: Vec<usize>,
    lens: Vec<usize>,
    stride: usize,
    weights: Vec<i32>,
    /// The weights as [`horizontal_rows_avx2`] reads them, made on first use.
    #[cfg(target_arch = "x86_64")]
    split: std::cell::OnceCell<(Vec<i16>, usize)>,
}

/// How many coefficient tables each thread keeps. ImageNet's images come in few sizes (most are
/// 500 pixels on the long side), and LANCZOS tables cost two `sin` per tap to make.
const TAPS_CACHE: usize = 16;

/// Tables above this size are not kept in the per-thread cache (ImageNet's are about 13 KiB).
const CACHED_TABLE_BYTES: usize = 1 << 20;

/// The widest window the AVX2 horizontal pass takes: its weight layout costs 16 bytes per tap
/// (4x the table), which only pays for ordinary windows.
#[cfg(target_arch = "x86_64")]
const AVX2_MAX_TAPS: usize = 4096;

thread_local! {
    static RECENT_TAPS: std::cell::RefCell<Vec<(TapsKey, Rc<Taps>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

type TapsKey = (usize, usize, Range<usize>, Filter);

impl Taps {
    /// [`Taps::new`], from a small per-thread cache of the most recently used tables.
    fn cached(in_size: usize, out_size: usize, outputs: Range<usize>, filter: Filter) -> Rc<Taps> {
        // A large table is a rare picture's (or one part of it): keeping it would hold memory
        // in every thread for nothing.
        if outputs.len() * Self::stride(in_size, out_size, filter) * 4 > CACHED_TABLE_BYTES {
            return Rc::new(Taps::new(in_size, out_size, outputs, filter));
        }
        let key = (in_size, out_size, outputs, filter);
        RECENT_TAPS.with(|cell| {
            let mut recent = cell.borrow_mut();
            if let Some(at) = recent.iter().position(|(k, _)| *k == key) {
                let entry = recent.remove(at);
                let taps = Rc::clone(&entry.1);
                recent.insert(0, entry);
                return taps;
            }
            let taps = Rc::new(Taps::new(in_size, out_size, key.2.clone(), filter));
            recent.insert(0, (key, Rc::clone(&taps)));
            recent.truncate(TAPS_CACHE);
            taps
        })
    }

    /// Pillow's largest window for this scale and filter (the table's row stride).
    fn stride(in_size: usize, out_size: usize, filter: Filter) -> usize {
        let scale = f64::from(in_size as f32) / out_size as f64;
        (support(filter) * scale.max(1.0)).ceil() as usize * 2 + 1
    }

    /// The source positions the outputs in `outputs` read, without computing any weight.
    fn span(
        in_size: usize,
        out_size: usize,
        outputs: Range<usize>,
        filter: Filter,
    ) -> Range<usize> {
        let mut first = usize::MAX;
        let mut last = 0;
        for out in outputs {
            let (start, len) = Self::window_of(in_size, out_size, out, filter);
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
    fn window_of(in_size: usize, out_size: usize, out: usize, filter: Filter) -> (usize, usize) {
        let scale = f64::from(in_size as f32) / out_size as f64;
        let support = support(filter) * scale.max(1.0);
        let max_len = Self::stride(in_size, out_size, filter);
        let center = (out as f64 + 0.5) * scale;
        let min = ((center - support + 0.5) as i64).max(0);
        let max = ((center + support + 0.5) as i64).min(in_size as i64);
        let len = (max - min).clamp(0, max_len as i64) as usize;
        (min as usize, len)
    }

    /// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for the output
    /// positions in `outputs` of a resize from `in_size` to `out_size`.
    fn new(in_size: usize, out_size: usize, outputs: Range<usize>, filter: Filter) -> Self {
        // Pillow passes the box edges as C floats: (in1 - in0) is a float before widening.
        let scale = f64::from(in_size as f32) / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = support(filter) * filterscale;
        // Pillow's largest window.
        let max_len = support.ceil() as usize * 2 + 1;
        let stride = max_len;
        let inverse = 1.0 / filterscale;
        let fixed_one = f64::from(1u32 << PRECISION_BITS);

        let n = outputs.len();
        let mut starts = Vec::with_capacity(n);
        let mut lens = Vec::with_capacity(n);
        let mut weights = vec![0i32; n * stride];
        let mut exact = vec![0f64; max_len];
        for (i, out) in outputs.enumerate() {
            let center = (out as f64 + 0.5) * scale;
            // C's (int) truncates toward zero, as `as` does.
            let min = ((center - support + 0.5) as i64).max(0);
            let max = ((center + support + 0.5) as i64).min(in_size as i64);
            let len = (max - min).clamp(0, max_len as i64) as usize;
            let min = min as usize;

            let mut sum = 0.0;
            for (x, w) in exact[..len].iter_mut().enumerate() {
                *w = kernel(filter, ((x + min) as f64 - center + 0.5) * inverse);
                sum += *w;
            }
            let row = &mut weights[i * stride..i * stride + len];
            for (fixed, &w) in row.iter_mut().zip(&exact[..len]) {
                let w = if sum != 0.0 { w / sum } else { w };
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
            #[cfg(target_arch = "x86_64")]
            split: std::cell::OnceCell::new(),
        }
    }

    fn weights(&self, i: usize) -> &[i32] {
        &self.weights[i * self.stride..i * self.stride + self.lens[i]]
    }

    /// The source positions any output of this table reads.
    fn source_span(&self) -> Range<usize> {
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

#[inline(always)]
fn clip(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Horizontal pass over `rows` of a `width`-wide image: one output row per source row, one
/// output column per entry of `taps` (whose source positions are shifted left by `shift`).
fn horizontal_pass(
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
fn convolve_pixel(window: &[u8], k: &[i32]) -> [u8; 3] {
    convolve_sums(window, k).map(clip)
}

/// The fixed-point sums behind [`convolve_pixel`], rounding offset included, before clipping.
#[inline(always)]
fn convolve_sums(window: &[u8], k: &[i32]) -> [i32; 3] {
    let mut sums = [HALF; 3];
    for (p, &w) in window.chunks_exact(3).zip(k) {
        sums[0] += i32::from(p[0]) * w;
        sums[1] += i32::from(p[1]) * w;
        sums[2] += i32::from(p[2]) * w;
    }
    sums
}

/// The horizontal convolution, pixel by pixel.
fn horizontal_rows<'a>(
    rows: impl Iterator<Item = (&'a [u8], &'a mut [u8])>,
    taps: &Taps,
    shift: usize,
) {
    for (in_row, out_row) in rows {
        for (i, px) in out_row.chunks_exact_mut(3).enumerate() {
            let start = taps.starts[i] - shift;
            let window = &in_row[start * 3..(start + taps.lens[i]) * 3];
            px.copy_from_slice(&convolve_pixel(window, taps.weights(i)));
        }
    }
}

/// Bits of a weight's low part in [`horizontal_rows_avx2`]: a 22-bit weight splits into a signed
/// high part and an 11-bit low part, both of which fit the 16-bit lanes `vpmaddwd` multiplies.
#[cfg(target_arch = "x86_64")]
const LOW_BITS: u32 = 11;

/// Taps per 256-bit vector in [`horizontal_rows_avx2`].
#[cfg(target_arch = "x86_64")]
const GROUP: usize = 4;

/// The weights laid out for [`horizontal_rows_avx2`]: per output pixel and group of four taps,
/// the high parts then the low parts, each as 16 lanes `[w0 w1 w0 w1 w0 w1 0 0 w2 w3 w2 w3 w2 w3 0 0]`
/// (taps past the window are zero). Returns the lanes and the lane count per output pixel.
#[cfg(target_arch = "x86_64")]
fn split_weights(taps: &Taps) -> (Vec<i16>, usize) {
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn horizontal_rows_avx2<'a>(
    rows: impl Iterator<Item = (&'a [u8], &'a mut [u8])>,
    row_len: usize,
    taps: &Taps,
    shift: usize,
) {
    let (weights, per_output) = taps.split.get_or_init(|| split_weights(taps));
    let kernel = SplitKernel {
        weights,
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
                row_sums[i * 3..i * 3 + 3].copy_from_slice(&convolve_sums(window, taps.weights(i)));
            }
            for (o, &sum) in out_row.iter_mut().zip(row_sums.iter()) {
                *o = clip(sum);
            }
        }
    }
}

/// Rows [`horizontal_rows_avx2`] convolves together: each weight vector loaded serves them all,
/// and their independent sums keep the multipliers busy.
#[cfg(target_arch = "x86_64")]
const ROWS_AT_ONCE: usize = 4;

/// The split weights of one coefficient table, and where each output pixel's window starts in a
/// row of `row_len` bytes.
#[cfg(target_arch = "x86_64")]
struct SplitKernel<'a> {
    weights: &'a [i16],
    per_output: usize,
    offsets: Vec<usize>,
    row_len: usize,
}

#[cfg(target_arch = "x86_64")]
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
        let half = _mm256_setr_epi32(HALF, HALF, HALF, 0, 0, 0, 0, 0);
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

/// Vertical pass over `columns` of a `width`-wide image: one output row per entry of `taps`
/// (whose source rows are shifted up by `shift`).
fn vertical_pass(
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

/// The vertical convolution, 16 values of a row at a time with the accumulators in registers.
/// Two source rows (two taps) are interleaved byte by byte into 16-bit lanes, so `vpmaddwd`
/// multiplies both by their weights and adds the pair; the 22-bit weights are split as in
/// [`horizontal_rows_avx2`]. Integer sums do not depend on the order of the additions, so this
/// equals Pillow's loop bit for bit. Values past the last multiple of 16 take [`vertical_rows`]'s
/// arithmetic.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical_rows_avx2(
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
    let half = _mm256_set1_epi32(HALF);
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
                _mm256_srai_epi32::<{ PRECISION_BITS as i32 }>(total)
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
                .fold(HALF, |acc, (row, &w)| acc + i32::from(row[j]) * w);
            *o = clip(sum);
        }
    }
}

/// The vertical convolution proper: whole rows are accumulated at a time, which vectorises;
/// integer sums do not depend on the order of the additions, so this equals Pillow's
/// pixel-by-pixel loop.
#[inline(always)]
fn vertical_rows(
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
        acc.fill(HALF);
        let first = taps.starts[i] - shift;
        for (t, &w) in taps.weights(i).iter().enumerate() {
            let offset = ((first + t) * width + columns.start) * 3;
            let in_row = &src[offset..offset + row_len];
            for (a, &p) in acc.iter_mut().zip(in_row) {
                *a += i32::from(p) * w;
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip(a);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// NEAREST

/// Source index per output position, as Pillow's `ImagingScaleAffine` computes it: a running
/// double sum starting at half a step, truncated; positions outside the source are `None`
/// (Pillow fills them with zeros; with a plain resize that does not happen in practice).
fn nearest_indices(in_size: usize, out_size: usize, outputs: Range<usize>) -> Vec<Option<usize>> {
    let step = f64::from(in_size as f32) / out_size as f64;
    let mut position = 0.0 + step * 0.5;
    let mut indices = Vec::with_capacity(outputs.len());
    for out in 0..outputs.end {
        if out >= outputs.start {
            let index = if position < 0.0 { -1 } else { position as i64 };
            indices.push(
                (0..in_size as i64)
                    .contains(&index)
                    .then_some(index as usize),
            );
        }
        position += step;
    }
    indices
}

fn nearest(
    src: &RgbImage,
    placement: Placement,
    width: usize,
    height: usize,
    window: Window,
) -> RgbImage {
    let (x0, y0) = (placement.window.x, placement.window.y);
    let columns = nearest_indices(placement.full_width, width, window.columns());
    let rows = nearest_indices(placement.full_height, height, window.rows());
    let mut out = RgbImage::zeroed(window.width, window.height);
    for (out_row, source_row) in out.pixels.chunks_exact_mut(window.width * 3).zip(rows) {
        let Some(y) = source_row else { continue };
        let in_row = src.row(y - y0);
        for (px, source_column) in out_row.chunks_exact_mut(3).zip(&columns) {
            if let Some(x) = *source_column {
                let x = x - x0;
                px.copy_from_slice(&in_row[x * 3..x * 3 + 3]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_image(width: usize, height: usize) -> RgbImage {
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
        let parts = resize(&src, out, 2, Filter::Lanczos, PillowCompat::V13);
        let whole = horizontal_pass(
            &src.pixels,
            width,
            0..2,
            &Taps::new(width, out, 0..out, Filter::Lanczos),
            0,
        );
        assert_eq!(parts.pixels, whole.pixels);
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
            for compat in [PillowCompat::V12, PillowCompat::V13] {
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
            for compat in [PillowCompat::V12, PillowCompat::V13] {
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

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_horizontal_pass_equals_the_per_pixel_one() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("skipping: no AVX2 on this CPU");
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
                let taps = Taps::new(w, out_w, 0..out_w, filter);
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
                assert_eq!(run(true), run(false), "{w}x{h} -> {out_w} {filter:?}");
            }
        }
    }

    #[test]
    fn avx2_vertical_pass_equals_the_scalar_one() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("skipping: no AVX2 on this CPU");
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
                    let taps = Taps::new(h, out_h, 0..out_h, filter);
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
                        "{w}x{h} columns {columns:?} -> {out_h} {filter:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn cached_tables_are_reused_and_equal_fresh_ones() {
        let first = Taps::cached(500, 224, 0..224, Filter::Lanczos);
        let again = Taps::cached(500, 224, 0..224, Filter::Lanczos);
        assert!(Rc::ptr_eq(&first, &again));
        let fresh = Taps::new(500, 224, 0..224, Filter::Lanczos);
        assert_eq!(
            (&first.starts, &first.weights),
            (&fresh.starts, &fresh.weights)
        );
        // Another window of the same resize is another table.
        let window = Taps::cached(500, 224, 10..20, Filter::Lanczos);
        assert_eq!(
            window.starts,
            Taps::new(500, 224, 10..20, Filter::Lanczos).starts
        );
        // Older tables are dropped once the cache is full.
        for out in 0..TAPS_CACHE {
            Taps::cached(300, 100 + out, 0..10, Filter::Bilinear);
        }
        let after = Taps::cached(500, 224, 0..224, Filter::Lanczos);
        assert!(!Rc::ptr_eq(&first, &after));
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for filter in Filter::ALL.into_iter().filter(|&f| f != Filter::Nearest) {
            let taps = Taps::new(500, 224, 0..224, filter);
            for i in 0..224 {
                let sum: i64 = taps.weights(i).iter().map(|&w| i64::from(w)).sum();
                assert!((sum - (1 << 22)).abs() <= 8, "{filter:?} output {i}: {sum}");
            }
        }
    }
}
