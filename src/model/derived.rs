//! Recipes a manifest does not declare, and manifests made from another: which declared recipe
//! a derived one is (only its parameters decide, never its name), why no reference applies to
//! one that is none, and the manifest `verify --like ID` judges a user's export by.

use std::path::Path;

use super::manifest::{Dim, Manifest, ManifestError, declared_recipe};
use crate::image::recipe::Recipe;
use crate::image::sources;

impl Manifest {
    /// The recipe a run of `recipe` is judged as: the declared recipe making the same tensor,
    /// under its name (its references apply, its stored runs are reused), else `recipe` itself,
    /// which no reference measured with a declared recipe decides. A name never makes a
    /// reference apply: only the tensor's parameters do.
    pub fn canonical(&self, mut recipe: Recipe) -> Recipe {
        if let Some(same) = self
            .recipes
            .iter()
            .filter_map(|declared| declared_recipe(declared).ok())
            .find(|declared| declared.same_tensor(&recipe))
        {
            return same;
        }
        // References are found by their recipe's name: another tensor must not carry one.
        if self.recipes.iter().any(|r| r.name() == recipe.name) {
            recipe.name = format!("{} (changed)", recipe.name);
        }
        recipe
    }

    /// A recipe derived by overrides (`verify --crop-pct ...`) must still fit the input's layout
    /// and fixed spatial size.
    pub fn check_fits(&self, recipe: &Recipe) -> Result<(), ManifestError> {
        self.fits(recipe)
            .map_err(|reason| ManifestError::RecipeDoesNotFit {
                id: self.id.clone(),
                name: recipe.name.clone(),
                available: self.recipes.iter().map(|r| r.name().to_string()).collect(),
                reason,
            })
    }

    /// Why the expected references do not apply to `recipe` when the manifest does not declare
    /// it: how its parameters differ from those of each recipe an expected reference was measured
    /// with. `None` for a declared recipe, or when no reference is expected at all.
    pub fn why_no_reference(&self, recipe: &Recipe) -> Option<String> {
        if self.recipes.iter().any(|r| r.name() == recipe.name) {
            return None;
        }
        let mut measured: Vec<&str> = self
            .references
            .iter()
            .filter(|r| r.expected)
            .filter_map(|r| r.recipe.as_deref())
            .collect();
        measured.sort_unstable();
        measured.dedup();
        let reasons: Vec<String> = measured
            .into_iter()
            .filter_map(|name| {
                let declared = self.recipes.iter().find(|r| r.name() == name)?;
                let declared = declared_recipe(declared).ok()?;
                Some(format!(
                    "{name}: {}",
                    recipe.differences(&declared).join(", ")
                ))
            })
            .collect();
        (!reasons.is_empty()).then(|| {
            format!(
                "no reference applies to recipe {}: its parameters differ from those of the recipe the references were measured with ({})",
                recipe.name,
                reasons.join("; ")
            )
        })
    }

    /// The manifest a user's export `file` is judged by with `--like`: this one's recipes and
    /// references (their origin kept), under the id `like/ID` so that no table, comparison or
    /// `--against` ever reads the user's run as this model's, pinning no file (the record carries
    /// the file's own sha256 and the unverified-model mark), its input of any name and spatial
    /// size (the graph check still holds the file to the recipe's tensor).
    pub fn like(&self, file: &Path) -> Manifest {
        let mut manifest = self.clone();
        manifest.id = format!("{LIKE_PREFIX}{}", self.id);
        manifest.description = format!(
            "a user's export ({}) judged by the recipes and references of {}",
            file.display(),
            self.id
        );
        manifest.file = file.display().to_string();
        manifest.sha256 = None;
        let batch = manifest.input.shape.first().cloned();
        manifest.input.shape = vec![
            batch.unwrap_or(Dim::Symbolic("N".into())),
            Dim::Symbolic("d1".into()),
            Dim::Symbolic("d2".into()),
            Dim::Symbolic("d3".into()),
        ];
        manifest.provenance = Some(format!(
            "verify --like {}: recipes and references of {} ({})",
            self.id,
            self.id,
            self.origin.describe()
        ));
        manifest
    }
}

/// What `--like` puts before the known model's id.
pub const LIKE_PREFIX: &str = "like/";

/// A declared recipe a user names on the command line, under a name that reads a file
/// (`timm:FILE.json`, stored inline by `add-model`): the file, where it can still be read, must
/// make the tensor stored under its name, or the name would stand for two recipes.
pub(super) fn still_what_its_name_says(id: &str, declared: &Recipe) -> Result<(), ManifestError> {
    if !sources::is_source(&declared.name) || sources::resolve_builtin(&declared.name).is_ok() {
        return Ok(());
    }
    match sources::resolve(&declared.name) {
        Ok(now) if !now.same_tensor(declared) => Err(ManifestError::ChangedFile {
            id: id.to_string(),
            name: declared.name.clone(),
            reason: format!(
                "the file now makes another tensor than the one the manifest stored under this name \
             ({}, not {}): give the changed file another name, or register it again with add-model",
                tensor_summary(&now),
                tensor_summary(declared)
            ),
        }),
        _ => Ok(()),
    }
}

/// A recipe's arithmetic in a few words, for telling two apart.
fn tensor_summary(recipe: &Recipe) -> String {
    format!(
        "{}, {}, mean {:?}, std {:?}",
        recipe
            .resize_mode
            .describe(recipe.resize_size, recipe.crop_size),
        recipe.filter.name(),
        recipe.mean,
        recipe.std
    )
}

/// An inline recipe under a built-in source's name must make that source's tensor: the name
/// means its tensor wherever it is written.
pub(super) fn not_a_builtin_name_for_another_tensor(recipe: &Recipe) -> Result<(), String> {
    match sources::resolve_builtin(&recipe.name) {
        Ok(builtin) if !builtin.same_tensor(recipe) => Err(format!(
            "inline recipe {} takes the name of a built-in recipe but makes another tensor: give \
             it a name of its own",
            recipe.name
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::image::overrides::Overrides;
    use crate::model::manifest::{self, ImageSetId};

    fn lite0() -> Manifest {
        let manifests =
            manifest::load_all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests")).unwrap();
        manifest::resolve(&manifests, "pypi/efficientnet_lite0")
            .unwrap()
            .clone()
    }

    /// The set lite0's one reference was measured on.
    fn sample(manifest: &Manifest) -> ImageSetId<'_> {
        let set = &manifest.references[0].image_set;
        ImageSetId {
            sha256: set.sha256.as_deref().unwrap(),
            content_sha256: set.content_sha256.as_deref(),
            images: set.images,
            layout_name: None,
            within_full_val: false,
        }
    }

    fn derived(manifest: &Manifest, crop_pct: f64) -> Recipe {
        let base = manifest.recipe(None).unwrap();
        let overrides = Overrides {
            crop_pct: Some(crop_pct),
            ..Default::default()
        };
        manifest.canonical(overrides.apply(&base).unwrap())
    }

    #[test]
    fn a_reference_applies_only_when_the_parameters_equal_its_recipes() {
        let manifest = lite0();
        // crop_pct 1.0 is lite0's own geometry (resize 224, crop 224): its reference applies.
        let same = derived(&manifest, 1.0);
        assert_eq!(same.name, "efficientnet-lite0-224");
        assert!(manifest.why_no_reference(&same).is_none());
        let found = manifest.references_for(&same.name, &sample(&manifest));
        assert!(found.iter().any(|(_, expected)| *expected));
        // 0.875 resizes to 256: another tensor, so no reference decides, and the record says why.
        let other = derived(&manifest, 0.875);
        assert_eq!(other.name, "efficientnet-lite0-224 + crop_pct=0.875");
        let found = manifest.references_for(&other.name, &sample(&manifest));
        assert!(found.iter().all(|(_, expected)| !*expected));
        let why = manifest.why_no_reference(&other).unwrap();
        assert!(
            why.contains("(efficientnet-lite0-224: resize_size 256 (not 224))"),
            "{why}"
        );
        // A name alone never makes a reference apply: a recipe named like the declared one but
        // making another tensor is not it.
        let mut impostor = other.clone();
        impostor.name = "efficientnet-lite0-224".into();
        let judged = manifest.canonical(impostor);
        assert_eq!(judged.name, "efficientnet-lite0-224 (changed)");
        let found = manifest.references_for(&judged.name, &sample(&manifest));
        assert!(found.iter().all(|(_, expected)| !*expected));
    }

    #[test]
    fn like_keeps_the_recipes_and_references_under_an_id_of_its_own_and_pins_nothing() {
        let known = lite0();
        let like = known.like(Path::new("/tmp/mine.onnx"));
        assert_eq!(like.id, "like/pypi/efficientnet_lite0");
        assert_eq!(like.sha256, None);
        assert_eq!(
            (like.recipes.clone(), like.references.clone()),
            (known.recipes.clone(), known.references.clone())
        );
        assert_eq!(like.origin, known.origin);
        assert!(like.provenance.unwrap().contains("pypi/efficientnet_lite0"));
    }
}
