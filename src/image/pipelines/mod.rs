//! Preprocessing that reproduces libraries other than Pillow: their decoders and their float
//! arithmetic, chosen by a recipe's [`Library`]. Pillow recipes never come here; everything a
//! library needs lives in its own module, reached through the two functions below.

use crate::image::decode::DecodeError;
use crate::image::raster::{Placement, RgbImage};
use crate::image::recipe::{Library, Recipe};

pub mod opencv;
pub mod pillow;
pub mod tensorflow;
pub mod torch;

/// Whether `recipe`'s fields make sense for its library (Pillow recipes always pass here).
pub fn validate(recipe: &Recipe) -> Result<(), String> {
    match recipe.library {
        Library::Pillow => Ok(()),
        Library::Tensorflow => tensorflow::validate(recipe),
        Library::Torch => torch::validate(recipe),
        Library::Opencv => opencv::validate(recipe),
    }
}

/// Decodes `bytes` with the recipe's library and writes its tensor into `out`
/// (`recipe.sample_len()` floats).
///
/// # Panics
/// For a Pillow recipe, which `crate::image::preprocess` handles (a caller's bug).
pub fn preprocess_bytes(bytes: &[u8], recipe: &Recipe, out: &mut [f32]) -> Result<(), DecodeError> {
    match recipe.library {
        Library::Pillow => panic!("Pillow recipes are preprocessed by image::preprocess"),
        Library::Tensorflow => tensorflow::preprocess_bytes(bytes, recipe, out),
        Library::Torch => torch::preprocess_bytes(bytes, recipe, out),
        Library::Opencv => opencv::preprocess_bytes(bytes, recipe, out),
    }
}

/// The recipe's library's arithmetic on an already decoded image (decoded by whichever decoder:
/// only [`preprocess_bytes`] decodes as the library does).
///
/// # Panics
/// For a Pillow recipe (a caller's bug), or if `out` is not `recipe.sample_len()` long.
pub fn preprocess_image(img: &RgbImage, recipe: &Recipe, out: &mut [f32]) {
    match recipe.library {
        Library::Tensorflow => {
            tensorflow::preprocess_part(img, Placement::whole(img), recipe, out);
        }
        Library::Torch => torch::preprocess_part(img, Placement::whole(img), recipe, out),
        Library::Opencv => opencv::preprocess_image(img, recipe, out),
        Library::Pillow => panic!("Pillow recipes are preprocessed by image::preprocess"),
    }
}
