//! TensorFlow's published evaluation pipelines, bit for bit like tensorflow-cpu 2.21.0 (and
//! keras 3.15.1 for the Keras one), one per recipe variant, all on `tf.io.decode_jpeg(contents,
//! channels=3)` (IFAST DCT: jpeg.rs):
//!
//! ```python
//! # standard: inception's eval preprocessing with TF2's resize
//! img = tf.image.convert_image_dtype(img, tf.float32)     # p * float32(1/255), a multiply
//! img = tf.image.central_crop(img, 0.875)                 # start int((h - h*0.875) / 2)
//! img = tf.image.resize(img, [size, size], 'bilinear')    # ResizeBilinear, half-pixel centres
//! img = (img - 0.5) * 2.0                                 # NHWC float32
//! # slim-inception: TF-slim's inception_preprocessing.preprocess_for_eval, the same but for
//! img = tf.compat.v1.image.resize_bilinear(img[None], [size, size], align_corners=False)[0]
//! # slim-vgg: TF-slim's vgg_preprocessing.preprocess_for_eval(img, size, size, resize_side)
//! img = resize_bilinear(img[None], [rint(h * s), rint(w * s)])  # v1, uint8 in, float32 out
//! img = img[(new_h - size) // 2 :, (new_w - size) // 2 :][:size, :size]
//! img = img - [123.68, 116.78, 103.94]
//! # keras-dataset: image_dataset_from_directory(image_size=(size, size)) + preprocess_input
//! img = tf.image.resize(img, [size, size], 'bilinear')    # the whole picture, float32 levels
//! img = preprocess_input(img)                             # caffe, tf, torch or none
//! ```
//!
//! The resize and its geometry are in resize.rs; Keras's `decode_image` decodes JPEG as
//! `decode_jpeg` does (the same op, the same defaults: checked on the shared sample).

pub(super) mod jpeg;
mod resize;

use super::{PillowCompat, Pipeline};
use crate::image::decoding::DecodeError;
use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::{ChannelOrder, Filter, Layout, Library, Recipe, ResizeMode, Variant};

/// A recipe of this pipeline: NHWC float32, bilinear.
#[allow(clippy::too_many_arguments)]
fn recipe(
    name: &str,
    description: String,
    variant: Variant,
    (resize_mode, resize_size, crop_size): (ResizeMode, u32, u32),
    scale: f32,
    mean: [f32; 3],
    std: [f32; 3],
    channels: ChannelOrder,
) -> Recipe {
    Recipe {
        name: name.into(),
        description,
        resize_mode,
        resize_size,
        crop_size,
        filter: Filter::Bilinear,
        scale,
        mean,
        std,
        channels,
        layout: Layout::Nhwc,
        library: Library::Tensorflow,
        variant,
        fill: [0; 3],
    }
}

/// inception's eval preprocessing at `size` x `size`, with TF2's resize (`standard`) or TF1's
/// (`slim-inception`). (x - 0.5) * 2 is written as mean 0.5, std 0.5: dividing by 0.5 and
/// multiplying by 2 give the same float32.
fn inception_preset(name: &str, size: u32, variant: Variant) -> Recipe {
    let resize = match variant {
        Variant::SlimInception => {
            "TF-slim inception_preprocessing.preprocess_for_eval: central_crop(0.875), TF1 \
             resize_bilinear(align_corners=False; no half-pixel centres)"
        }
        _ => {
            "central_crop(0.875), image.resize(bilinear; TF2 half-pixel centres, not slim's v1 \
             align_corners=False)"
        }
    };
    recipe(
        name,
        format!(
            "TensorFlow 2.21.0 (tensorflow-cpu): decode_jpeg(channels=3, default IFAST DCT), \
             convert_image_dtype(float32), {resize} to {size}x{size}, (x - 0.5) * 2, NHWC; JPEG \
             input only"
        ),
        variant,
        (ResizeMode::Squash, size, size),
        255.0,
        [0.5; 3],
        [0.5; 3],
        ChannelOrder::Rgb,
    )
}

/// TF-slim's vgg_preprocessing (resnet_v1/v2 and vgg in slim's preprocessing_factory) at
/// `size` x `size` from a short side of `resize_side`.
fn slim_vgg_preset(name: &str, resize_side: u32, size: u32) -> Recipe {
    recipe(
        name,
        format!(
            "TensorFlow 2.21.0 (tensorflow-cpu) running TF-slim vgg_preprocessing.\
             preprocess_for_eval(resize_side={resize_side}): decode_jpeg(channels=3, IFAST DCT), \
             aspect-preserving TF1 resize_bilinear(align_corners=False) to a short side of \
             {resize_side} (float32 rint sizes), central crop {size}x{size}, minus [123.68, \
             116.78, 103.94], RGB, NHWC; JPEG input only"
        ),
        Variant::SlimVgg,
        (ResizeMode::ShorterSide, resize_side, size),
        1.0,
        [123.68, 116.78, 103.94],
        [1.0; 3],
        ChannelOrder::Rgb,
    )
}

/// Keras's `image_dataset_from_directory(image_size=(size, size))` then `preprocess_input` in
/// mode caffe or tf (the tensor path and the NumPy one give the same bits).
fn keras_dataset_preset(name: &str, size: u32, mode: &str) -> Recipe {
    let (scale, mean, std, channels, what) = match mode {
        "caffe" => (
            1.0,
            [103.939, 116.779, 123.68],
            [1.0; 3],
            ChannelOrder::Bgr,
            "RGB->BGR, minus [103.939, 116.779, 123.68]",
        ),
        _ => (
            127.5,
            [1.0; 3],
            [1.0; 3],
            ChannelOrder::Rgb,
            "x / 127.5 - 1",
        ),
    };
    recipe(
        name,
        format!(
            "keras 3.15.1 + TensorFlow 2.21.0: image_dataset_from_directory(image_size=({size}, \
             {size})) defaults (decode_image(channels=3): decode_jpeg's IFAST DCT; \
             image.resize(bilinear, half-pixel centres) of the whole picture to float32, not \
             rounded), then preprocess_input(mode='{mode}'): {what}, NHWC; JPEG input only"
        ),
        Variant::KerasDataset,
        (ResizeMode::Squash, size, size),
        scale,
        mean,
        std,
        channels,
    )
}

/// The fields a TensorFlow recipe can vary: output size, the scale, mean, std, channel order
/// and layout, and for `slim-vgg` the short side. The geometry is the variant's.
fn validate(recipe: &Recipe) -> Result<(), String> {
    if recipe.filter != Filter::Bilinear {
        return Err("a tensorflow recipe resizes with ResizeBilinear (filter BILINEAR)".into());
    }
    match recipe.variant {
        Variant::Standard | Variant::SlimInception | Variant::KerasDataset => {
            if recipe.resize_mode != ResizeMode::Squash {
                return Err(format!(
                    "the tensorflow variant {:?} resizes (a central crop of) the picture to \
                     crop_size x crop_size (resize_mode squash)",
                    recipe.variant
                ));
            }
        }
        Variant::SlimVgg => {
            if recipe.resize_mode != ResizeMode::ShorterSide
                || recipe.resize_size < recipe.crop_size
            {
                return Err(
                    "a slim-vgg recipe resizes the short side to resize_size, then crops \
                     crop_size (resize_mode shorter-side, resize_size at least crop_size: \
                     slim's _crop asserts the crop fits)"
                        .into(),
                );
            }
        }
        other => return Err(format!("the tensorflow pipeline has no variant {other:?}")),
    }
    Ok(())
}

/// The TensorFlow pipeline.
pub struct Tensorflow;

impl Pipeline for Tensorflow {
    fn name(&self) -> &'static str {
        "tensorflow"
    }

    fn presets(&self) -> Vec<Recipe> {
        vec![
            inception_preset("tf-inception-299", 299, Variant::Standard),
            inception_preset("tf-inception-224", 224, Variant::Standard),
            inception_preset("slim-inception-299", 299, Variant::SlimInception),
            inception_preset("slim-inception-224", 224, Variant::SlimInception),
            slim_vgg_preset("slim-vgg-224", 256, 224),
            keras_dataset_preset("keras-dataset-caffe-224", 224, "caffe"),
            keras_dataset_preset("keras-dataset-tf-299", 299, "tf"),
        ]
    }

    fn validate(&self, recipe: &Recipe) -> Result<(), String> {
        validate(recipe)
    }

    fn source_pixels(&self, width: usize, height: usize, recipe: &Recipe) -> Window {
        resize::source_pixels(width, height, recipe)
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
        resize::preprocess_part(img, placement, recipe, out);
    }
}

#[cfg(test)]
mod tests {
    use super::resize::{
        Centres, Plan, Tap, central_crop, level_factor, preprocess_part, smallest_size_at_least,
        source_pixels, taps,
    };
    use super::*;

    fn tap(lower: usize, upper: usize, lerp: f32) -> Tap {
        Tap { lower, upper, lerp }
    }

    fn presets() -> Vec<Recipe> {
        Tensorflow.presets()
    }

    fn preset(name: &str) -> Recipe {
        presets().into_iter().find(|r| r.name == name).unwrap()
    }

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
    fn half_pixel_taps_are_centred_and_clamped() {
        // Upscaling 2 -> 4: in = (i + 0.5) * 0.5 - 0.5 = -0.25, 0.25, 0.75, 1.25.
        let t = taps(2, 4, 0..4, Centres::HalfPixel);
        assert_eq!(
            t,
            [
                tap(0, 0, 0.75),
                tap(0, 1, 0.25),
                tap(0, 1, 0.75),
                tap(1, 1, 0.25)
            ]
        );
        // Same size: every tap is its own pixel with weight 0 (ResizeBilinear's no-op).
        assert!(
            taps(5, 5, 0..5, Centres::HalfPixel)
                .iter()
                .enumerate()
                .all(|(i, t)| t.lower == i && t.lerp == 0.0)
        );
    }

    #[test]
    fn tf1_taps_start_at_the_first_pixel_without_the_half_pixel_offset() {
        // Upscaling 2 -> 4 the TF1 way: in = i * 0.5 = 0, 0.5, 1, 1.5 (upper clamped).
        let t = taps(2, 4, 0..4, Centres::Legacy);
        assert_eq!(
            t,
            [
                tap(0, 0, 0.0),
                tap(0, 1, 0.5),
                tap(1, 1, 0.0),
                tap(1, 1, 0.5)
            ]
        );
        // Downscaling 5 -> 2: TF1 reads 0 and 2.5, TF2 0.75 and 3.25.
        assert_eq!(
            taps(5, 2, 0..2, Centres::Legacy),
            [tap(0, 0, 0.0), tap(2, 3, 0.5)]
        );
        assert_eq!(
            taps(5, 2, 0..2, Centres::HalfPixel),
            [tap(0, 1, 0.75), tap(3, 4, 0.25)]
        );
        // A part of the outputs is that part of all of them.
        assert_eq!(
            taps(500, 341, 58..282, Centres::Legacy),
            taps(500, 341, 0..341, Centres::Legacy)[58..282]
        );
    }

    #[test]
    fn vgg_sizes_are_float32_rint_of_the_scaled_sides() {
        // 500x375 (wider): scale 256 / 375; 500 * 0.6826667 = 341.33 -> 341.
        assert_eq!(smallest_size_at_least(500, 375, 256), (341, 256));
        assert_eq!(smallest_size_at_least(375, 500, 256), (256, 341));
        // rint is half to even: 5 * 1.5 = 7.5 -> 8 (torchvision's int() would give 7).
        assert_eq!(smallest_size_at_least(5, 2, 3), (8, 3));
        assert_eq!(smallest_size_at_least(7, 2, 3), (10, 3));
        // slim's _central_crop: offsets (341 - 224) / 2 = 58.5 -> 58 and (256 - 224) / 2 = 16.
        let plan = Plan::new(500, 375, &preset("slim-vgg-224"));
        assert_eq!((plan.x, plan.y), (0, 0));
        assert_eq!(plan.xs, taps(500, 341, 58..282, Centres::Legacy));
        assert_eq!(plan.ys, taps(375, 256, 16..240, Centres::Legacy));
    }

    #[test]
    fn inception_multiplies_before_the_resize_keras_divides_after() {
        let (factor, divide) = level_factor(&preset("slim-inception-299"));
        assert_eq!((factor, divide), ((1.0f64 / 255.0) as f32, false));
        // Multiplying by the reciprocal is not dividing: some levels differ from p / 255.
        assert!((0..=255u8).any(|p| f32::from(p) * factor != f32::from(p) / 255.0));
        assert_eq!(level_factor(&preset("keras-dataset-tf-299")), (1.0, true));
        assert_eq!(level_factor(&preset("slim-vgg-224")), (1.0, true));
        // On a flat picture both are exact to their own arithmetic.
        let img = RgbImage::new(40, 30, [255u8, 0, 51].repeat(40 * 30));
        let run = |recipe: &Recipe| {
            let mut out = vec![f32::NAN; recipe.sample_len()];
            preprocess_part(&img, Placement::whole(&img), recipe, &mut out);
            out
        };
        let keras = run(&preset("keras-dataset-tf-299"));
        assert!(
            keras
                .chunks_exact(3)
                .all(|p| p == [1.0, -1.0, 51.0 / 127.5 - 1.0])
        );
        let inception = run(&preset("slim-inception-224"));
        let g = (51.0 * factor - 0.5) / 0.5;
        assert!(inception.chunks_exact(3).all(|p| p == [1.0, -1.0, g]));
        // caffe: BGR, minus the means.
        let caffe = run(&preset("keras-dataset-caffe-224"));
        let bgr = [51.0 - 103.939f32, 0.0 - 116.779, 255.0 - 123.68];
        assert!(caffe.chunks_exact(3).all(|p| p == bgr));
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
        let plan = Plan::new(img.width, img.height, recipe);
        let (factor, divide) = level_factor(recipe);
        let at = |y: usize, x: usize, c: usize| {
            f32::from(img.pixels[((plan.y + y) * img.width + plan.x + x) * 3 + c]) * factor
        };
        let mut out = Vec::new();
        for ty in &plan.ys {
            for tx in &plan.xs {
                for c in 0..3 {
                    let s = if recipe.channels == ChannelOrder::Bgr {
                        2 - c
                    } else {
                        c
                    };
                    let v = lerp(
                        at(ty.lower, tx.lower, s),
                        at(ty.lower, tx.upper, s),
                        at(ty.upper, tx.lower, s),
                        at(ty.upper, tx.upper, s),
                        tx.lerp,
                        ty.lerp,
                    );
                    let v = if divide { v / recipe.scale } else { v };
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
        for base in presets() {
            for size in [8, 40, 61, 97, 150] {
                let mut recipe = base.clone();
                recipe.crop_size = size;
                recipe.resize_size = recipe.resize_size.max(size);
                let mut out = vec![f32::NAN; recipe.sample_len()];
                preprocess_part(&img, Placement::whole(&img), &recipe, &mut out);
                let expected = straightforward(&img, &recipe);
                assert!(
                    out.iter()
                        .zip(&expected)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{} at {size}",
                    recipe.name
                );
            }
        }
    }

    #[test]
    fn the_source_window_covers_every_tap() {
        let plan = Plan::new(500, 375, &preset("tf-inception-299"));
        let w = plan.source();
        assert_eq!((w.x, w.y), (31, 23));
        assert!(w.x + w.width <= 31 + 438 && w.y + w.height <= 23 + 329);
        assert_eq!(source_pixels(500, 375, &preset("tf-inception-299")), w);
        // slim's vgg reads around the middle 224 of 341 columns: about 329 of the 500.
        let vgg = source_pixels(500, 375, &preset("slim-vgg-224"));
        assert_eq!((vgg.x, vgg.width), (85, 329));
        // Keras's dataset reads the whole picture.
        assert_eq!(
            source_pixels(500, 375, &preset("keras-dataset-caffe-224")),
            Window::full(500, 375)
        );
    }

    #[test]
    fn validate_keeps_each_variant_to_its_geometry() {
        for recipe in presets() {
            assert_eq!(validate(&recipe), Ok(()), "{}", recipe.name);
        }
        let mut vgg = preset("slim-vgg-224");
        vgg.resize_size = 200;
        assert!(validate(&vgg).is_err());
        vgg.resize_mode = ResizeMode::Squash;
        vgg.resize_size = 256;
        assert!(validate(&vgg).is_err());
        let mut keras = preset("keras-dataset-tf-299");
        keras.resize_mode = ResizeMode::ShorterSide;
        assert!(validate(&keras).is_err());
        keras.resize_mode = ResizeMode::Squash;
        keras.variant = Variant::TensorV1;
        assert!(validate(&keras).is_err());
    }
}
