//! Manifest parser and validator, then the recipe lookups `verify` does on a loaded manifest.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(manifest) = zoorepro::model::manifest::parse(text, Path::new("fuzz.json")) else {
        return;
    };
    // Validation promised these succeed for every declared recipe.
    let recipe = manifest
        .recipe(None)
        .expect("a validated manifest resolves its default recipe");
    recipe
        .validate()
        .expect("a validated manifest's recipe is valid");
    let _ = manifest.references_for(&recipe.name, "");
});
