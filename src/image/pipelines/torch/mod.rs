//! torchvision's tensor path, bit for bit like torch 2.15.0 + torchvision 0.29.2 on an x86 CPU
//! with AVX2 (or AVX-512, or on ARM):
//!
//! ```python
//! img = decode_jpeg(read_file(path), mode=ImageReadMode.RGB)   # uint8 CHW: jpeg.rs
//! img = v2.Resize(256, antialias=True)(img)     # uint8 antialiased bilinear: torch_resample.rs
//! img = v2.CenterCrop(224)(img)                 # zero padding where the crop is larger
//! img = v2.ToDtype(torch.float32, scale=True)(img)   # float32(p) * float32(1 / 255)
//! img = v2.Normalize(mean, std)(img)            # (x - mean) / std in float32, NCHW
//! ```
//!
//! Where the CPU has none of those, torchvision resizes uint8 images in float32 and rounds
//! instead: other pixels, which the `standard` variant does not reproduce.
//!
//! The `tensor-v1` variant is torchvision's documented tensor usage, `weights.transforms()`
//! (the v1 `ImageClassification`) on the same decoded tensor:
//!
//! ```python
//! img = F.resize(img, [256], antialias=True)   # float32 resize, round: resample_float.rs
//! img = F.center_crop(img, [224])               # as v2
//! img = F.convert_image_dtype(img, torch.float) # float32(p) / 255, a division
//! img = F.normalize(img, mean, std)             # (x - mean) / std
//! ```

use std::ops::Range;

use super::{PillowCompat, Pipeline};
use crate::image::decoding::DecodeError;
use crate::image::geometry::{center_crop_offset, shorter_side_size};
use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::{ChannelOrder, Filter, Layout, Library, Recipe, ResizeMode, Variant};

use resample::Resize;
use resample_float::FloatResize;

mod jpeg;
mod resample;
#[cfg(target_arch = "x86_64")]
mod resample_avx2;
mod resample_float;
mod separable;

/// The presets: torchvision's ImageNet evaluation on tensors, with the v2 transforms
/// (`standard`) or v1's `weights.transforms()` (`tensor-v1`).
fn tensor_preset(name: &str, resize_size: u32, crop_size: u32, variant: Variant) -> Recipe {
    let steps = match variant {
        Variant::TensorV1 => format!(
            "weights.transforms() (v1 ImageClassification): F.resize({resize_size}, \
             antialias=True) on the uint8 tensor (in float32 with fused multiply-adds as \
             torch's AVX2/AVX-512 kernels compute it, rounded half to even), \
             center_crop({crop_size}), convert_image_dtype (p / 255), normalize(ImageNet \
             mean/std)"
        ),
        _ => format!(
            "v2.Resize({resize_size}, antialias=True) on the uint8 tensor (torch's int16 \
             fixed-point bilinear, not Pillow's), CenterCrop({crop_size}), ToDtype(float32, \
             scale=True), Normalize(ImageNet mean/std)"
        ),
    };
    Recipe {
        name: name.into(),
        description: format!(
            "torch 2.15.0 + torchvision 0.29.2 (CPU, AVX2): io.decode_jpeg(mode=RGB, libjpeg's \
             accurate DCT, no EXIF rotation), {steps}, NCHW; JPEG input only"
        ),
        resize_mode: ResizeMode::ShorterSide,
        resize_size,
        crop_size,
        filter: Filter::Bilinear,
        scale: 255.0,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        channels: ChannelOrder::Rgb,
        layout: Layout::Nchw,
        library: Library::Torch,
        variant,
        fill: [0; 3],
    }
}

/// A torch recipe may vary sizes, resize mode, the divisor, mean, std, channel order and
/// layout, with the v2 transforms or v1's; the filter is torch's antialiased bilinear only.
fn validate(recipe: &Recipe) -> Result<(), String> {
    if !matches!(recipe.variant, Variant::Standard | Variant::TensorV1) {
        return Err(format!(
            "the torch pipeline has no variant {:?}",
            recipe.variant
        ));
    }
    if !matches!(
        recipe.resize_mode,
        ResizeMode::Squash | ResizeMode::ShorterSide | ResizeMode::SquashCrop
    ) {
        return Err(format!(
            "resize_mode {:?} is not reproduced yet",
            recipe.resize_mode
        ));
    }
    if recipe.filter != Filter::Bilinear {
        return Err(
            "a torch recipe resizes with torch's antialiased bilinear (filter BILINEAR)".into(),
        );
    }
    Ok(())
}

/// Where the output square lies: the resized size and, per axis, the output positions that
/// show resized pixels and the resized position of the first of them.
struct Plan {
    resized: (usize, usize),
    out_columns: Range<usize>,
    out_rows: Range<usize>,
    columns: Range<usize>,
    rows: Range<usize>,
}

/// Along one axis: output positions `0..crop` over a resized length `len` placed at `offset`
/// (negative: zero padding first). The visible outputs and the resized positions they show.
fn visible(len: usize, crop: usize, offset: i64) -> (Range<usize>, Range<usize>) {
    let start = (-offset).max(0) as usize;
    let end = ((len as i64 - offset).min(crop as i64)).max(start as i64) as usize;
    let first = (offset + start as i64) as usize;
    (start..end, first..first + (end - start))
}

impl Plan {
    fn new(width: usize, height: usize, recipe: &Recipe) -> Self {
        let crop = recipe.crop_size as usize;
        let resized = match recipe.resize_mode {
            ResizeMode::ShorterSide => {
                shorter_side_size(width, height, recipe.resize_size as usize)
            }
            ResizeMode::Squash => (crop, crop),
            ResizeMode::SquashCrop => (recipe.resize_size as usize, recipe.resize_size as usize),
            ResizeMode::FitPad | ResizeMode::AspectCrop => {
                unreachable!("refused by validate")
            }
        };
        let (out_columns, columns) = visible(resized.0, crop, center_crop_offset(resized.0, crop));
        let (out_rows, rows) = visible(resized.1, crop, center_crop_offset(resized.1, crop));
        Self {
            resized,
            out_columns,
            out_rows,
            columns,
            rows,
        }
    }

    /// The variant's resize of the wanted window: v2's uint8 kernel or v1's float32 one.
    fn resize(&self, width: usize, height: usize, variant: Variant) -> Resampler {
        let (size, columns, rows) = ((width, height), self.columns.clone(), self.rows.clone());
        match variant {
            Variant::TensorV1 => {
                Resampler::Float(FloatResize::new(size, self.resized, columns, rows))
            }
            _ => Resampler::Fixed(Resize::new(size, self.resized, columns, rows)),
        }
    }
}

/// torch's resize of a uint8 tensor, by the transforms' version.
enum Resampler {
    /// v2: the uint8 kernel in int16 fixed point.
    Fixed(Resize),
    /// v1: float32, rounded back.
    Float(FloatResize),
}

impl Resampler {
    fn source(&self) -> (Range<usize>, Range<usize>) {
        match self {
            Resampler::Fixed(resize) => resize.source(),
            Resampler::Float(resize) => resize.source(),
        }
    }

    fn run(&self, img: &RgbImage, x0: usize, y0: usize) -> RgbImage {
        match self {
            Resampler::Fixed(resize) => resize.run(img, x0, y0),
            Resampler::Float(resize) => resize.run(img, x0, y0),
        }
    }
}

/// The pixels of a `width` x `height` picture that `recipe` reads.
fn source_pixels(width: usize, height: usize, recipe: &Recipe) -> Window {
    let (columns, rows) = Plan::new(width, height, recipe)
        .resize(width, height, recipe.variant)
        .source();
    Window {
        x: columns.start,
        y: rows.start,
        width: columns.len(),
        height: rows.len(),
    }
}

/// The dtype conversion then Normalize, per level and output channel, each step rounded to
/// float32: v2's `ToDtype(float32, scale=True)` multiplies by the Python float `1.0 / 255` made
/// float32, `(float32(p) * float32(1 / scale) - mean[c]) / std[c]`; v1's `convert_image_dtype`
/// divides, `(float32(p) / scale - mean[c]) / std[c]` (126 of the 256 levels differ).
fn level_tables(recipe: &Recipe) -> [[f32; 256]; 3] {
    let factor = (1.0 / f64::from(recipe.scale)) as f32;
    let convert = |level: f32| match recipe.variant {
        Variant::TensorV1 => level / recipe.scale,
        _ => level * factor,
    };
    let mut tables = [[0f32; 256]; 3];
    for (c, table) in tables.iter_mut().enumerate() {
        for (level, value) in table.iter_mut().enumerate() {
            *value = (convert(level as f32) - recipe.mean[c]) / recipe.std[c];
        }
    }
    tables
}

/// Preprocesses a decoded image holding (at least) [`source_pixels`] of the picture, placed by
/// `placement`, into `out` (`recipe.sample_len()` floats).
///
/// # Panics
/// If `out` is not `recipe.sample_len()` long or the image misses pixels (a caller's bug).
fn preprocess_part(img: &RgbImage, placement: Placement, recipe: &Recipe, out: &mut [f32]) {
    assert_eq!(out.len(), recipe.sample_len(), "output buffer does not fit");
    let (width, height) = (placement.full_width, placement.full_height);
    let plan = Plan::new(width, height, recipe);
    let resize = plan.resize(width, height, recipe.variant);
    let (columns, rows) = resize.source();
    let needed = Window {
        x: columns.start,
        y: rows.start,
        width: columns.len(),
        height: rows.len(),
    };
    assert!(placement.window.contains(&needed), "image misses pixels");
    let pixels = resize.run(img, placement.window.x, placement.window.y);
    write(&pixels, &plan, recipe, out);
}

/// The resized window's pixels, normalised, at their place in the output; padding is level 0.
fn write(pixels: &RgbImage, plan: &Plan, recipe: &Recipe, out: &mut [f32]) {
    let crop = recipe.crop_size as usize;
    let tables = level_tables(recipe);
    let source_channel = match recipe.channels {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let padded = plan.out_columns.len() < crop || plan.out_rows.len() < crop;
    let index = |c: usize, y: usize, x: usize| match recipe.layout {
        Layout::Nchw => (c * crop + y) * crop + x,
        Layout::Nhwc => (y * crop + x) * 3 + c,
    };
    if padded {
        for y in 0..crop {
            for x in 0..crop {
                for (c, table) in tables.iter().enumerate() {
                    out[index(c, y, x)] = table[0];
                }
            }
        }
    }
    for (row, y) in pixels
        .pixels
        .chunks_exact(pixels.width * 3)
        .zip(plan.out_rows.clone())
    {
        for (px, x) in row.chunks_exact(3).zip(plan.out_columns.clone()) {
            for (c, table) in tables.iter().enumerate() {
                out[index(c, y, x)] = table[usize::from(px[source_channel[c]])];
            }
        }
    }
}

/// The torchvision-on-tensors pipeline.
pub struct Torch;

impl Pipeline for Torch {
    fn name(&self) -> &'static str {
        "torch"
    }

    fn presets(&self) -> Vec<Recipe> {
        vec![
            tensor_preset("torchvision-tensor", 256, 224, Variant::Standard),
            tensor_preset("torchvision-tensor-v1", 256, 224, Variant::TensorV1),
        ]
    }

    fn validate(&self, recipe: &Recipe) -> Result<(), String> {
        validate(recipe)
    }

    fn source_pixels(&self, width: usize, height: usize, recipe: &Recipe) -> Window {
        source_pixels(width, height, recipe)
    }

    /// As torchvision's `decode_jpeg` decodes (JPEG only), the part `needed` asks for where
    /// that is clean.
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
    fn to_dtype_multiplies_by_the_float32_reciprocal() {
        let t = level_tables(&tensor_preset("t", 256, 224, Variant::Standard));
        let factor = (1.0f64 / 255.0) as f32;
        let expected = (128f32 * factor - 0.456f32) / 0.224f32;
        assert_eq!(t[1][128].to_bits(), expected.to_bits());
    }

    #[test]
    fn v1_convert_image_dtype_divides_by_255() {
        let v1 = level_tables(&tensor_preset("t", 256, 224, Variant::TensorV1));
        let v2 = level_tables(&tensor_preset("t", 256, 224, Variant::Standard));
        let expected = (128f32 / 255.0 - 0.456f32) / 0.224f32;
        assert_eq!(v1[1][128].to_bits(), expected.to_bits());
        // Dividing and multiplying by the rounded reciprocal differ on 126 of the 256 levels.
        let factor = (1.0f64 / 255.0) as f32;
        let differ = (0..=255u8)
            .filter(|&p| f32::from(p) / 255.0 != f32::from(p) * factor)
            .count();
        assert_eq!(differ, 126);
        assert!(v1[0].iter().zip(&v2[0]).any(|(a, b)| a != b));
    }

    #[test]
    fn plan_follows_resize_then_center_crop() {
        let recipe = tensor_preset("t", 256, 224, Variant::Standard);
        // 500x375 -> 341x256; columns from round(58.5) = 58 (half to even), rows from 16.
        let plan = Plan::new(500, 375, &recipe);
        assert_eq!(plan.resized, (341, 256));
        assert_eq!(
            (plan.columns.clone(), plan.rows.clone()),
            (58..282, 16..240)
        );
        assert_eq!(plan.out_columns, 0..224);
        // A crop larger than the image: (299 - 256) // 2 = 21 columns of padding first.
        let big = tensor_preset("t", 256, 299, Variant::Standard);
        let plan = Plan::new(256, 400, &big);
        assert_eq!(
            (plan.out_columns.clone(), plan.columns.clone()),
            (21..277, 0..256)
        );
    }

    #[test]
    fn a_part_gives_the_same_tensor_as_the_whole() {
        let (w, h) = (151, 97);
        let pixels = (0..w * h * 3)
            .map(|i| ((i * 37 + i / 5) % 256) as u8)
            .collect();
        let img = RgbImage::new(w, h, pixels);
        let recipes = [(64, 56), (90, 100)]
            .into_iter()
            .flat_map(|(resize, crop)| {
                [Variant::Standard, Variant::TensorV1].map(|v| tensor_preset("t", resize, crop, v))
            });
        for recipe in recipes {
            let mut whole = vec![f32::NAN; recipe.sample_len()];
            preprocess_part(&img, Placement::whole(&img), &recipe, &mut whole);
            assert!(whole.iter().all(|v| v.is_finite()));
            let need = source_pixels(w, h, &recipe);
            let part = RgbImage::new(
                need.width,
                need.height,
                need.rows()
                    .flat_map(|y| img.row(y)[need.x * 3..(need.x + need.width) * 3].to_vec())
                    .collect(),
            );
            let placement = Placement {
                window: need,
                full_width: w,
                full_height: h,
            };
            let mut got = vec![f32::NAN; recipe.sample_len()];
            preprocess_part(&part, placement, &recipe, &mut got);
            assert!(
                got.iter()
                    .zip(&whole)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
        }
    }
}
