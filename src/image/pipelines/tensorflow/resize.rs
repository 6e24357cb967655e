//! TensorFlow's `ResizeBilinear` (`core/kernels/image/resize_bilinear_op.cc`) and the geometry
//! around it for each of the pipeline's variants, then the normalisation:
//!
//! - `standard` (`tf.image.resize`) and `slim-inception` (TF1 `resize_bilinear`): the centred
//!   0.875 crop of the picture resized to `size` x `size`, on `convert_image_dtype`'s values;
//! - `keras-dataset`: the whole picture resized to `size` x `size`, on the levels themselves;
//! - `slim-vgg`: the picture resized with its aspect ratio kept, short side `resize_size`, then
//!   the centred `size` x `size` of that, on the levels themselves.
//!
//! The two samplings differ in where an output's source coordinate lies: TF2's half-pixel
//! centres, `in = (out + 0.5) * scale - 0.5`, or TF1's legacy one, `in = out * scale` (what
//! `align_corners=False` means there). Every step is IEEE float32 arithmetic in a fixed order
//! (the kernel's SSE path does the same multiplies and adds as its scalar one, without fusing),
//! so it is reproduced exactly.

use std::ops::Range;

use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::{ChannelOrder, Layout, Recipe, Variant};

/// inception_preprocessing's `central_fraction` for evaluation.
pub const CENTRAL_FRACTION: f64 = 0.875;

/// Where an output pixel's source coordinate lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Centres {
    /// TF2's `HalfPixelScaler`: `(out + 0.5) * scale - 0.5`.
    HalfPixel,
    /// TF1's `LegacyScaler` (`half_pixel_centers=False`, `align_corners=False`): `out * scale`.
    Legacy,
}

/// `int((len - len * 0.875) / 2)` in Python floats: the first row (or column) central_crop keeps,
/// and the number it keeps, `len - 2 * start`.
pub(super) fn central_crop(len: usize) -> (usize, usize) {
    let l = len as f64;
    let start = ((l - l * CENTRAL_FRACTION) / 2.0) as usize;
    (start, len - 2 * start)
}

/// vgg_preprocessing's `_smallest_size_at_least`, in float32 as TF computes it: `scale =
/// side / width` when the picture is taller than wide, else `side / height`; each side becomes
/// `rint(len * scale)` (half to even).
pub(super) fn smallest_size_at_least(width: usize, height: usize, side: u32) -> (usize, usize) {
    let (w, h, side) = (width as f32, height as f32, side as f32);
    let scale = if h > w { side / w } else { side / h };
    let rint = |len: f32| (len * scale).round_ties_even() as usize;
    (rint(w), rint(h))
}

/// One output coordinate's two source indices and weight (ResizeBilinear's
/// `CachedInterpolation`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Tap {
    pub lower: usize,
    pub upper: usize,
    pub lerp: f32,
}

/// `compute_interpolation_weights` for the outputs `outputs` of `out_size`: `scale = in_size /
/// (float) out_size`, the source coordinate by `centres`, lower index `max(floor(in), 0)`, upper
/// `min(ceil(in), in_size - 1)`, weight `in - floor(in)`, all float32.
pub(super) fn taps(
    in_size: usize,
    out_size: usize,
    outputs: Range<usize>,
    centres: Centres,
) -> Vec<Tap> {
    let scale = in_size as f32 / out_size as f32;
    outputs
        .map(|i| {
            let position = match centres {
                Centres::HalfPixel => (i as f32 + 0.5) * scale - 0.5,
                Centres::Legacy => i as f32 * scale,
            };
            let floor = position.floor();
            Tap {
                lower: (floor as i64).max(0) as usize,
                upper: (position.ceil() as i64).min(in_size as i64 - 1) as usize,
                lerp: position - floor,
            }
        })
        .collect()
}

/// Where a variant reads a `width` x `height` picture: the taps of every output column and row,
/// counted from the picture's pixel (`x`, `y`).
pub(super) struct Plan {
    pub x: usize,
    pub y: usize,
    pub xs: Vec<Tap>,
    pub ys: Vec<Tap>,
}

impl Plan {
    pub fn new(width: usize, height: usize, recipe: &Recipe) -> Self {
        let size = recipe.crop_size as usize;
        match recipe.variant {
            Variant::KerasDataset => Self {
                x: 0,
                y: 0,
                xs: taps(width, size, 0..size, Centres::HalfPixel),
                ys: taps(height, size, 0..size, Centres::HalfPixel),
            },
            Variant::SlimVgg => {
                // The whole picture resized, then `_central_crop`'s offset `(len - size) / 2`
                // (a float, made int32 by truncation). The short side is `resize_size` (float32
                // rint lands on it for every side up to 2^13), which validate keeps at least
                // `size`; only the outputs the crop keeps are computed.
                let (w, h) = smallest_size_at_least(width, height, recipe.resize_size);
                let kept = |len: usize| {
                    let start = len.saturating_sub(size) / 2;
                    start..start + size
                };
                Self {
                    x: 0,
                    y: 0,
                    xs: taps(width, w, kept(w), Centres::Legacy),
                    ys: taps(height, h, kept(h), Centres::Legacy),
                }
            }
            _ => {
                let centres = match recipe.variant {
                    Variant::SlimInception => Centres::Legacy,
                    _ => Centres::HalfPixel,
                };
                let (x, crop_width) = central_crop(width);
                let (y, crop_height) = central_crop(height);
                Self {
                    x,
                    y,
                    xs: taps(crop_width, size, 0..size, centres),
                    ys: taps(crop_height, size, 0..size, centres),
                }
            }
        }
    }

    /// The picture's pixels the taps read.
    pub fn source(&self) -> Window {
        let span = |taps: &[Tap]| {
            let first = taps.iter().map(|t| t.lower).min().unwrap_or(0);
            let last = taps.iter().map(|t| t.upper).max().unwrap_or(0);
            (first, last + 1 - first)
        };
        let (x, width) = span(&self.xs);
        let (y, height) = span(&self.ys);
        Window {
            x: self.x + x,
            y: self.y + y,
            width,
            height,
        }
    }
}

/// The pixels of a `width` x `height` picture that `recipe` reads.
pub(super) fn source_pixels(width: usize, height: usize, recipe: &Recipe) -> Window {
    Plan::new(width, height, recipe).source()
}

/// What the resize sees of a level, and whether the recipe's `scale` divides its result.
/// inception's pipelines resize `convert_image_dtype`'s values, `float32(p) * float32(1. /
/// 255)` (a multiply by the rounded reciprocal, not a division: some levels differ); Keras's
/// dataset and slim's vgg resize the levels themselves, and Keras's `preprocess_input` divides
/// afterwards (`x /= 127.5`, `x /= 255.`).
pub(super) fn level_factor(recipe: &Recipe) -> (f32, bool) {
    match recipe.variant {
        Variant::KerasDataset | Variant::SlimVgg => (1.0, true),
        _ => ((1.0 / f64::from(recipe.scale)) as f32, false),
    }
}

/// One source row interpolated across (ResizeBilinear's `top` or `bottom` of every output
/// column and channel), from the row's levels. Which source row it holds, so that
/// consecutive output rows sharing a source row compute it once.
struct Across {
    row: usize,
    values: Vec<f32>,
}

impl Across {
    /// `levels` is scratch room for the row's `float32(p) * factor` values: converting the
    /// whole row first lets the compiler vectorise it, and leaves the taps one bounds check
    /// each.
    #[inline(always)]
    fn fill(
        &mut self,
        row: usize,
        pixels: &[u8],
        xs: &[(usize, usize, f32)],
        factor: f32,
        levels: &mut Vec<f32>,
    ) {
        self.row = row;
        levels.clear();
        levels.extend(pixels.iter().map(|&p| f32::from(p) * factor));
        for (out, &(l, r, weight)) in self.values.chunks_exact_mut(3).zip(xs) {
            let (left, right) = (&levels[l..l + 3], &levels[r..r + 3]);
            for c in 0..3 {
                out[c] = left[c] + (right[c] - left[c]) * weight;
            }
        }
    }
}

/// Preprocesses a decoded image holding (at least) [`source_pixels`] of the picture, placed by
/// `placement`, into `out` (`recipe.sample_len()` floats).
///
/// Reordered for speed but not in arithmetic: each output value is still
/// `top + (bottom - top) * y_lerp` with `top = tl + (tr - tl) * x_lerp` (likewise `bottom`) on
/// the levels as [`level_factor`] makes them, then `(v - mean) / std` (`(v / scale - mean) /
/// std` where the scale divides afterwards), every operation rounded to float32.
///
/// # Panics
/// If `out` is not `recipe.sample_len()` long or the image does not cover the source pixels
/// (a caller's bug).
pub(super) fn preprocess_part(
    img: &RgbImage,
    placement: Placement,
    recipe: &Recipe,
    out: &mut [f32],
) {
    let divide = level_factor(recipe).1;
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe {
            match divide {
                false => preprocess_part_avx2::<false>(img, placement, recipe, out),
                true => preprocess_part_avx2::<true>(img, placement, recipe, out),
            }
        };
    }
    match divide {
        false => resize_and_normalise::<false>(img, placement, recipe, out),
        true => resize_and_normalise::<true>(img, placement, recipe, out),
    }
}

/// [`resize_and_normalise`] compiled for AVX2: the same float32 operations in the same order (no
/// fused multiply-add, which Rust never forms on its own), so the same bits, in wider vectors.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn preprocess_part_avx2<const DIVIDE: bool>(
    img: &RgbImage,
    placement: Placement,
    recipe: &Recipe,
    out: &mut [f32],
) {
    resize_and_normalise::<DIVIDE>(img, placement, recipe, out);
}

/// The resize and normalisation; `DIVIDE`: the recipe's scale divides the resized values (a
/// const, so the inception presets' loop has no division in it).
#[inline(always)]
fn resize_and_normalise<const DIVIDE: bool>(
    img: &RgbImage,
    placement: Placement,
    recipe: &Recipe,
    out: &mut [f32],
) {
    let size = recipe.crop_size as usize;
    assert_eq!(out.len(), recipe.sample_len(), "output buffer does not fit");
    let plan = Plan::new(placement.full_width, placement.full_height, recipe);
    assert!(
        placement.window.contains(&plan.source()),
        "image misses pixels"
    );
    let factor = level_factor(recipe).0;
    // The taps count from the plan's origin, the image from its window's: the window may
    // start after the origin (slim-vgg's origin is the picture's corner), never after a tap.
    let (x0, y0) = (placement.window.x, placement.window.y);
    let xs: Vec<(usize, usize, f32)> = plan
        .xs
        .iter()
        .map(|t| {
            (
                3 * (plan.x + t.lower - x0),
                3 * (plan.x + t.upper - x0),
                t.lerp,
            )
        })
        .collect();
    let empty = || Across {
        row: usize::MAX,
        values: vec![0f32; 3 * size],
    };
    let (mut a, mut b) = (empty(), empty());
    let mut resized = vec![0f32; 3 * size];
    let mut levels = Vec::with_capacity(img.width * 3);
    for (oy, ty) in plan.ys.iter().enumerate() {
        // Rows only move down: keep whichever cached row is still wanted, refill the other.
        for wanted in [ty.lower, ty.upper] {
            if a.row != wanted && b.row != wanted {
                let stale = if a.row == ty.lower || a.row == ty.upper {
                    &mut b
                } else {
                    &mut a
                };
                stale.fill(
                    wanted,
                    img.row(plan.y + wanted - y0),
                    &xs,
                    factor,
                    &mut levels,
                );
            }
        }
        let pick = |row: usize| if a.row == row { &a.values } else { &b.values };
        let (upper, lower) = (pick(ty.lower), pick(ty.upper));
        for ((v, &t), &u) in resized.iter_mut().zip(upper).zip(lower) {
            *v = t + (u - t) * ty.lerp;
        }
        write_row::<DIVIDE>(&resized, oy, recipe, out);
    }
}

/// Normalises one resized row (RGB interleaved) and writes it at output row `oy` in the
/// recipe's channel order and layout.
#[inline(always)]
fn write_row<const DIVIDE: bool>(resized: &[f32], oy: usize, recipe: &Recipe, out: &mut [f32]) {
    let size = recipe.crop_size as usize;
    let source_channel = match recipe.channels {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let (mean, std, scale) = (recipe.mean, recipe.std, recipe.scale);
    let scaled = |v: f32| if DIVIDE { v / scale } else { v };
    match recipe.layout {
        Layout::Nhwc => {
            let row = &mut out[oy * size * 3..(oy + 1) * size * 3];
            for (o, v) in row.chunks_exact_mut(3).zip(resized.chunks_exact(3)) {
                for c in 0..3 {
                    o[c] = (scaled(v[source_channel[c]]) - mean[c]) / std[c];
                }
            }
        }
        Layout::Nchw => {
            for (c, &sc) in source_channel.iter().enumerate() {
                let row = &mut out[(c * size + oy) * size..(c * size + oy + 1) * size];
                for (o, v) in row.iter_mut().zip(resized.chunks_exact(3)) {
                    *o = (scaled(v[sc]) - mean[c]) / std[c];
                }
            }
        }
    }
}
