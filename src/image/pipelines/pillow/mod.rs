//! Pillow's pipeline: `Image.open` + `convert('RGB')` ([`decode`]: JPEG accepted, refused and
//! decoded as Pillow 13 does it, the other formats converted as `convert('RGB')` converts them),
//! `Image.resize` ([`resample`], Pillow 12, 13 or Pillow-SIMD, with or without a `box`), and
//! torchvision's, timm's or Keras's geometry and NumPy's float32 normalisation on them
//! (`preprocess.rs`). Its presets are torchvision's, timm's and Keras's (`presets.rs`).

pub mod decode;
mod preprocess;
mod presets;
pub mod resample;

pub use resample::PillowCompat;

use super::Pipeline;
use crate::image::decoding::DecodeError;
use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::{Filter, Recipe, ResizeMode, Variant};

/// The Pillow pipeline.
pub struct Pillow;

impl Pipeline for Pillow {
    fn name(&self) -> &'static str {
        "pillow"
    }

    fn presets(&self) -> Vec<Recipe> {
        presets::presets()
    }

    /// Pillow's resize takes every filter, geometry and normalisation; the sizes of the
    /// geometries that resize to `resize_size` must be sane.
    fn validate(&self, recipe: &Recipe) -> Result<(), String> {
        if recipe.variant != Variant::Standard {
            return Err(format!(
                "a pillow recipe has no variant {:?}",
                recipe.variant
            ));
        }
        if matches!(
            recipe.resize_mode,
            ResizeMode::SquashCrop | ResizeMode::FitPad
        ) && !(1..=8192).contains(&recipe.resize_size)
        {
            return Err(format!(
                "resize_size {} is out of range 1..=8192",
                recipe.resize_size
            ));
        }
        Ok(())
    }

    fn source_pixels(&self, width: usize, height: usize, recipe: &Recipe) -> Window {
        preprocess::source_pixels(width, height, recipe)
    }

    fn decode(
        &self,
        bytes: &[u8],
        needed: &mut dyn FnMut(usize, usize) -> Window,
    ) -> Result<(RgbImage, Placement), DecodeError> {
        decode::decode_rgb_part(bytes, needed)
    }

    fn preprocess_part(
        &self,
        img: &RgbImage,
        placement: Placement,
        recipe: &Recipe,
        compat: PillowCompat,
        out: &mut [f32],
    ) {
        preprocess::preprocess_part(img, placement, recipe, compat, out);
    }

    /// One decode for all of them (the part every recipe reads) and one resize per geometry:
    /// the same bits as a decode per recipe, and the decode's outcome for all (but a recipe
    /// Pillow's resize refuses on that picture).
    fn preprocess_many(
        &self,
        bytes: &[u8],
        recipes: &[(&Recipe, PillowCompat)],
        outs: &mut [&mut [f32]],
    ) -> Vec<Result<(), DecodeError>> {
        preprocess::preprocess_many(bytes, recipes, outs)
    }

    fn filter_variations(&self) -> &'static [Filter] {
        &Filter::ALL
    }

    fn release_variations(&self) -> &'static [PillowCompat] {
        &PillowCompat::ALL
    }
}
