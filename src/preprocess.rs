//! Recipe application: decoded RGB image -> the float32 tensor a model is fed.

use crate::decode::DecodeError;
use crate::raster::RgbImage;
use crate::recipe::Recipe;
use crate::resample::PillowCompat;

/// Write one sample, in the recipe's layout, into `out` (`recipe.sample_len()` floats).
pub fn preprocess_image(img: &RgbImage, recipe: &Recipe, compat: PillowCompat, out: &mut [f32]) {
    let _ = (img, recipe, compat, out);
    todo!("pixels helper")
}

/// Decode then preprocess into `out`.
pub fn preprocess_bytes(
    bytes: &[u8],
    recipe: &Recipe,
    compat: PillowCompat,
    out: &mut [f32],
) -> Result<(), DecodeError> {
    let img = crate::decode::decode_rgb(bytes)?;
    preprocess_image(&img, recipe, compat, out);
    Ok(())
}
