//! The hot path: encoded bytes in, one preprocessed sample out. The first input byte picks the
//! recipe (low bits) and the Pillow compatibility level (top bit), so one corpus covers every
//! preset's geometry; the rest is the image file.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zoorepro::image::recipe::{Recipe, presets};
use zoorepro::image::pipelines::{PillowCompat, preprocess};

fn recipes() -> &'static [Recipe] {
    static RECIPES: OnceLock<Vec<Recipe>> = OnceLock::new();
    RECIPES.get_or_init(presets)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, image)) = data.split_first() else {
        return;
    };
    let recipes = recipes();
    let recipe = &recipes[usize::from(selector & 0x7F) % recipes.len()];
    let compat = if selector & 0x80 == 0 {
        PillowCompat::V13
    } else {
        PillowCompat::V12
    };
    let mut out = vec![0f32; recipe.sample_len()];
    // Errors are the expected outcome for most inputs; only panics, crashes and runaway memory
    // or time are findings.
    let _ = preprocess(image, &[(recipe, compat)], &mut [&mut out]);
});
