//! Manifest parser and validator, then the recipe and reference lookups `verify` does on a
//! loaded manifest.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use zoorepro::model::manifest::ImageSetId;

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
    // Each reference's own image set, as `verify` would identify it, finds that reference.
    for (index, reference) in manifest.references.iter().enumerate() {
        let set = &reference.image_set;
        let id = ImageSetId {
            sha256: set.sha256.as_deref().unwrap_or_default(),
            content_sha256: set.content_sha256.as_deref(),
            images: set.images,
            layout_name: Some(&set.name),
            within_full_val: false,
        };
        let found = manifest.references_for(&recipe.name, &id);
        if reference.labels.is_none() {
            assert!(
                found.iter().any(|(r, _)| std::ptr::eq(*r, reference)),
                "reference {index} is not found on its own image set"
            );
        }
        let _ = manifest.image_set_name(&id);
    }
    let _ = manifest.full_set_expected(&recipe.name);
});
