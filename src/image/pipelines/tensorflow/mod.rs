//! TensorFlow's inception evaluation preprocessing, bit for bit like tensorflow-cpu 2.21.0:
//!
//! ```python
//! img = tf.io.decode_jpeg(contents, channels=3)            # IFAST DCT: jpeg.rs
//! img = tf.image.convert_image_dtype(img, tf.float32)     # p * float32(1/255), a multiply
//! img = tf.image.central_crop(img, 0.875)                 # start int((h - h*0.875) / 2)
//! img = tf.image.resize(img, [size, size], 'bilinear')    # ResizeBilinear, half-pixel centres
//! img = (img - 0.5) * 2.0                                 # NHWC float32
//! ```
//!
//! This is `preprocess_for_eval` of tensorflow/models' slim `inception_preprocessing.py` with
//! TF2's `tf.image.resize` (half_pixel_centers=True, antialias=False) in place of slim's
//! `tf.compat.v1.image.resize_bilinear(align_corners=False)`, which samples without the half-pixel
//! offset. Every step is IEEE float32 arithmetic done in a fixed order (ResizeBilinear's SSE path
//! does the same multiplies and adds as its scalar one, without fusing), so it is reproduced
//! exactly here.

pub(super) mod jpeg;

use super::{PillowCompat, Pipeline};
use crate::image::decoding::DecodeError;
use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::{ChannelOrder, Filter, Layout, Library, Recipe, ResizeMode, Variant};

/// inception_preprocessing's `central_fraction` for evaluation.
pub const CENTRAL_FRACTION: f64 = 0.875;

/// A preset reproducing the pipeline above at `size` x `size`. (x - 0.5) * 2 is written as
/// mean 0.5, std 0.5: dividing by 0.5 and multiplying by 2 give the same float32.
fn inception_preset(name: &str, size: u32) -> Recipe {
    Recipe {
        name: name.into(),
        description: format!(
            "TensorFlow 2.21.0 (tensorflow-cpu): decode_jpeg(channels=3, default IFAST DCT), \
             convert_image_dtype(float32), central_crop(0.875), image.resize([{size}, {size}], \
             bilinear; TF2 half-pixel centres, not slim's v1 align_corners=False), (x - 0.5) * 2, \
             NHWC; JPEG input only"
        ),
        resize_mode: ResizeMode::Squash,
        resize_size: size,
        crop_size: size,
        filter: Filter::Bilinear,
        scale: 255.0,
        mean: [0.5; 3],
        std: [0.5; 3],
        channels: ChannelOrder::Rgb,
        layout: Layout::Nhwc,
        library: Library::Tensorflow,
        variant: Variant::Standard,
        fill: [0; 3],
    }
}

/// The fields a TensorFlow recipe can vary: output size, the divisor of convert_image_dtype,
/// mean, std, channel order and layout. The geometry is fixed.
fn validate(recipe: &Recipe) -> Result<(), String> {
    if recipe.variant != Variant::Standard {
        return Err(format!(
            "the tensorflow variant {:?} is not reproduced yet",
            recipe.variant
        ));
    }
    if recipe.resize_mode != ResizeMode::Squash || recipe.filter != Filter::Bilinear {
        return Err(
            "a tensorflow recipe is inception's eval path: central_crop(0.875) then a bilinear \
             resize to crop_size x crop_size (resize_mode squash, filter BILINEAR)"
                .into(),
        );
    }
    Ok(())
}

/// `int((len - len * 0.875) / 2)` in Python floats: the first row (or column) central_crop keeps,
/// and the number it keeps, `len - 2 * start`.
fn central_crop(len: usize) -> (usize, usize) {
    let l = len as f64;
    let start = ((l - l * CENTRAL_FRACTION) / 2.0) as usize;
    (start, len - 2 * start)
}

/// One output coordinate's two source indices and weight (ResizeBilinear's
/// `CachedInterpolation`), relative to the cropped image.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tap {
    lower: usize,
    upper: usize,
    lerp: f32,
}

/// `compute_interpolation_weights` with `HalfPixelScaler`: `in = (i + 0.5) * scale - 0.5` with
/// `scale = in_size / (float) out_size`, all float32.
fn taps(in_size: usize, out_size: usize) -> Vec<Tap> {
    let scale = in_size as f32 / out_size as f32;
    (0..out_size)
        .map(|i| {
            let position = (i as f32 + 0.5) * scale - 0.5;
            let floor = position.floor();
            Tap {
                lower: (floor as i64).max(0) as usize,
                upper: (position.ceil() as i64).min(in_size as i64 - 1) as usize,
                lerp: position - floor,
            }
        })
        .collect()
}

/// Where the pipeline reads a `width` x `height` picture: the crop's origin and the taps.
struct Plan {
    crop_x: usize,
    crop_y: usize,
    xs: Vec<Tap>,
    ys: Vec<Tap>,
}

impl Plan {
    fn new(width: usize, height: usize, size: usize) -> Self {
        let (crop_x, crop_width) = central_crop(width);
        let (crop_y, crop_height) = central_crop(height);
        Self {
            crop_x,
            crop_y,
            xs: taps(crop_width, size),
            ys: taps(crop_height, size),
        }
    }

    /// The picture's pixels the taps read.
    fn source(&self) -> Window {
        let span = |taps: &[Tap]| {
            let first = taps.iter().map(|t| t.lower).min().unwrap_or(0);
            let last = taps.iter().map(|t| t.upper).max().unwrap_or(0);
            (first, last + 1 - first)
        };
        let (x, width) = span(&self.xs);
        let (y, height) = span(&self.ys);
        Window {
            x: self.crop_x + x,
            y: self.crop_y + y,
            width,
            height,
        }
    }
}

/// The pixels of a `width` x `height` picture that `recipe` reads.
fn source_pixels(width: usize, height: usize, recipe: &Recipe) -> Window {
    Plan::new(width, height, recipe.crop_size as usize).source()
}

/// convert_image_dtype's factor: the Python float `1. / 255` made a float32 tensor, by which
/// `float32(p)` is multiplied (not divided by 255: some levels differ).
fn dtype_scale(recipe: &Recipe) -> f32 {
    (1.0 / f64::from(recipe.scale)) as f32
}

/// One source row interpolated across (ResizeBilinear's `top` or `bottom` of every output
/// column and channel), from the row's converted levels. Which source row it holds, so that
/// consecutive output rows sharing a source row compute it once.
struct Across {
    row: usize,
    values: Vec<f32>,
}

impl Across {
    /// `levels` is scratch room for the row's `float32(p) * scale` values: converting the whole
    /// row first lets the compiler vectorise it, and leaves the taps one bounds check each.
    #[inline(always)]
    fn fill(
        &mut self,
        row: usize,
        pixels: &[u8],
        xs: &[(usize, usize, f32)],
        scale: f32,
        levels: &mut Vec<f32>,
    ) {
        self.row = row;
        levels.clear();
        levels.extend(pixels.iter().map(|&p| f32::from(p) * scale));
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
/// `float32(p) * scale` values, then `(v - mean) / std`, every operation rounded to float32.
///
/// # Panics
/// If `out` is not `recipe.sample_len()` long or the image does not cover the source pixels
/// (a caller's bug).
fn preprocess_part(img: &RgbImage, placement: Placement, recipe: &Recipe, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { preprocess_part_avx2(img, placement, recipe, out) };
    }
    resize_and_normalise(img, placement, recipe, out);
}

/// [`resize_and_normalise`] compiled for AVX2: the same float32 operations in the same order (no
/// fused multiply-add, which Rust never forms on its own), so the same bits, in wider vectors.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn preprocess_part_avx2(
    img: &RgbImage,
    placement: Placement,
    recipe: &Recipe,
    out: &mut [f32],
) {
    resize_and_normalise(img, placement, recipe, out);
}

#[inline(always)]
fn resize_and_normalise(img: &RgbImage, placement: Placement, recipe: &Recipe, out: &mut [f32]) {
    let size = recipe.crop_size as usize;
    assert_eq!(out.len(), recipe.sample_len(), "output buffer does not fit");
    let plan = Plan::new(placement.full_width, placement.full_height, size);
    assert!(
        placement.window.contains(&plan.source()),
        "image misses pixels"
    );
    let scale = dtype_scale(recipe);
    let left = plan.crop_x - placement.window.x;
    let top = plan.crop_y - placement.window.y;
    let xs: Vec<(usize, usize, f32)> = plan
        .xs
        .iter()
        .map(|t| (3 * (left + t.lower), 3 * (left + t.upper), t.lerp))
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
                stale.fill(wanted, img.row(top + wanted), &xs, scale, &mut levels);
            }
        }
        let pick = |row: usize| if a.row == row { &a.values } else { &b.values };
        let (upper, lower) = (pick(ty.lower), pick(ty.upper));
        for ((v, &t), &u) in resized.iter_mut().zip(upper).zip(lower) {
            *v = t + (u - t) * ty.lerp;
        }
        write_row(&resized, oy, recipe, out);
    }
}

/// Normalises one resized row (RGB interleaved) and writes it at output row `oy` in the
/// recipe's channel order and layout.
#[inline(always)]
fn write_row(resized: &[f32], oy: usize, recipe: &Recipe, out: &mut [f32]) {
    let size = recipe.crop_size as usize;
    let source_channel = match recipe.channels {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let (mean, std) = (recipe.mean, recipe.std);
    match recipe.layout {
        Layout::Nhwc => {
            let row = &mut out[oy * size * 3..(oy + 1) * size * 3];
            for (o, v) in row.chunks_exact_mut(3).zip(resized.chunks_exact(3)) {
                for c in 0..3 {
                    o[c] = (v[source_channel[c]] - mean[c]) / std[c];
                }
            }
        }
        Layout::Nchw => {
            for (c, &sc) in source_channel.iter().enumerate() {
                let row = &mut out[(c * size + oy) * size..(c * size + oy + 1) * size];
                for (o, v) in row.iter_mut().zip(resized.chunks_exact(3)) {
                    *o = (v[sc] - mean[c]) / std[c];
                }
            }
        }
    }
}

/// The TensorFlow pipeline.
pub struct Tensorflow;

impl Pipeline for Tensorflow {
    fn name(&self) -> &'static str {
        "tensorflow"
    }

    fn presets(&self) -> Vec<Recipe> {
        vec![
            inception_preset("tf-inception-299", 299),
            inception_preset("tf-inception-224", 224),
        ]
    }

    fn validate(&self, recipe: &Recipe) -> Result<(), String> {
        validate(recipe)
    }

    fn source_pixels(&self, width: usize, height: usize, recipe: &Recipe) -> Window {
        source_pixels(width, height, recipe)
    }

    /// As `tf.io.decode_jpeg` decodes (JPEG only), the part `needed` asks for where that is
    /// clean.
    fn decode(
        &self,
        bytes: &[u8],
        needed: &mut dyn FnMut(usize, usize) -> Window,
    ) -> Result<(RgbImage, Placement), DecodeError> {
        jpeg::decode(bytes, needed)
    }

    fn preprocess_part(
        &self,
        img: &RgbImage,
        placement: Placement,
        recipe: &Recipe,
        _compat: PillowCompat,
        out: &mut [f32],
    ) {
        preprocess_part(img, placement, recipe, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn central_crop_matches_pythons_float_arithmetic() {
        // int((500 - 437.5) / 2) = int(31.25) = 31, size 500 - 62.
        assert_eq!(central_crop(500), (31, 438));
        assert_eq!(central_crop(375), (23, 329));
        assert_eq!(central_crop(16), (1, 14));
        assert_eq!(central_crop(15), (0, 15));
        assert_eq!(central_crop(1), (0, 1));
    }

    #[test]
    fn taps_are_half_pixel_centred_and_clamped() {
        // Upscaling 2 -> 4: in = (i + 0.5) * 0.5 - 0.5 = -0.25, 0.25, 0.75, 1.25.
        let t = taps(2, 4);
        assert_eq!(
            t[0],
            Tap {
                lower: 0,
                upper: 0,
                lerp: 0.75
            }
        );
        assert_eq!(
            t[1],
            Tap {
                lower: 0,
                upper: 1,
                lerp: 0.25
            }
        );
        assert_eq!(
            t[3],
            Tap {
                lower: 1,
                upper: 1,
                lerp: 0.25
            }
        );
        // Same size: every tap is its own pixel with weight 0 (ResizeBilinear's no-op).
        assert!(
            taps(5, 5)
                .iter()
                .enumerate()
                .all(|(i, t)| t.lower == i && t.lerp == 0.0)
        );
    }

    #[test]
    fn convert_image_dtype_multiplies_by_the_float32_reciprocal() {
        let scale = dtype_scale(&inception_preset("t", 8));
        assert_eq!(scale, (1.0f64 / 255.0) as f32);
        // Multiplying by the reciprocal is not dividing: some levels differ from p / 255.
        assert!((0..=255u8).any(|p| f32::from(p) * scale != f32::from(p) / 255.0));
    }

    /// ResizeBilinear's `compute_lerp`, in its order: top, bottom, then between them.
    #[inline]
    fn lerp(
        top_left: f32,
        top_right: f32,
        bottom_left: f32,
        bottom_right: f32,
        x: f32,
        y: f32,
    ) -> f32 {
        let top = top_left + (top_right - top_left) * x;
        let bottom = bottom_left + (bottom_right - bottom_left) * x;
        top + (bottom - top) * y
    }

    /// The kernel as TensorFlow writes it: four taps per output value, nothing cached.
    fn straightforward(img: &RgbImage, recipe: &Recipe) -> Vec<f32> {
        let size = recipe.crop_size as usize;
        let plan = Plan::new(img.width, img.height, size);
        let scale = dtype_scale(recipe);
        let at = |y: usize, x: usize, c: usize| {
            f32::from(img.pixels[((plan.crop_y + y) * img.width + plan.crop_x + x) * 3 + c]) * scale
        };
        let mut out = Vec::new();
        for ty in &plan.ys {
            for tx in &plan.xs {
                for c in 0..3 {
                    let v = lerp(
                        at(ty.lower, tx.lower, c),
                        at(ty.lower, tx.upper, c),
                        at(ty.upper, tx.lower, c),
                        at(ty.upper, tx.upper, c),
                        tx.lerp,
                        ty.lerp,
                    );
                    out.push((v - recipe.mean[c]) / recipe.std[c]);
                }
            }
        }
        out
    }

    #[test]
    fn the_row_cache_changes_no_bit() {
        let (w, h) = (97, 61);
        let pixels = (0..w * h * 3)
            .map(|i| ((i * 131 + i / 7) % 256) as u8)
            .collect();
        let img = RgbImage::new(w, h, pixels);
        for size in [8, 40, 61, 97, 150] {
            let recipe = inception_preset("t", size);
            let mut out = vec![f32::NAN; recipe.sample_len()];
            preprocess_part(&img, Placement::whole(&img), &recipe, &mut out);
            let expected = straightforward(&img, &recipe);
            assert!(
                out.iter()
                    .zip(&expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "size {size}"
            );
        }
    }

    #[test]
    fn a_flat_image_stays_flat() {
        let img = RgbImage::new(40, 30, [255u8, 0, 51].repeat(40 * 30));
        let recipe = inception_preset("t", 8);
        let mut out = vec![f32::NAN; recipe.sample_len()];
        preprocess_part(&img, Placement::whole(&img), &recipe, &mut out);
        let g = (51.0 * dtype_scale(&recipe) - 0.5) / 0.5;
        assert!(out.chunks_exact(3).all(|p| p == [1.0, -1.0, g]));
    }

    #[test]
    fn the_source_window_covers_every_tap() {
        let plan = Plan::new(500, 375, 299);
        let w = plan.source();
        assert_eq!((w.x, w.y), (31, 23));
        assert!(w.x + w.width <= 31 + 438 && w.y + w.height <= 23 + 329);
        assert_eq!(source_pixels(500, 375, &inception_preset("t", 299)), w);
    }
}
