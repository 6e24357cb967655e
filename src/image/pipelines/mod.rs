//! The pipelines: one per library whose preprocessing zoorepro reproduces bit for bit, each in
//! its own folder (`pillow/`, `opencv/`, `tensorflow/`, `torch/`) behind one contract,
//! [`Pipeline`]. A recipe's [`Library`] names its pipeline (the `"library"` of recipes, manifests
//! and records); [`Library::pipeline`] is the one place a pipeline is registered.
//!
//! Everything outside `image/` prepares tensors through [`preprocess`], which hands each pipeline
//! its recipes: a pipeline shares what it can among them (Pillow: one decode, one resize per
//! geometry), and a file one pipeline refuses is still prepared for the others.

use crate::image::decoding::DecodeError;
use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::{Filter, Library, Recipe};

pub mod opencv;
pub mod pillow;
pub mod tensorflow;
pub mod torch;

pub use pillow::PillowCompat;

/// What a pipeline does, as the code needs it: its presets, which recipes it accepts, its decoder
/// (whole or the part a recipe reads), and its resize and normalisation on what was decoded.
/// `compat` picks Pillow's release, for Pillow's recipes and wherever another pipeline resizes
/// with Pillow (OpenCV's `pillow-resize`); the rest reproduce one release and ignore it.
pub trait Pipeline: Sync {
    /// The recipe's `"library"` and the pipeline's name in messages.
    fn name(&self) -> &'static str;

    /// The pipeline's named presets, in the order `zoorepro recipes` lists them.
    fn presets(&self) -> Vec<Recipe>;

    /// Whether the recipe's fields make sense for this pipeline (the checks every pipeline shares
    /// are `Recipe::validate`'s).
    fn validate(&self, recipe: &Recipe) -> Result<(), String>;

    /// The pixels of a `width` x `height` picture that `recipe` reads: a part-decode need not
    /// produce the rest.
    fn source_pixels(&self, width: usize, height: usize, recipe: &Recipe) -> Window;

    /// Decodes `bytes` as the library does. `needed` gets the picture's size and returns the
    /// rectangle the caller reads ([`Window::full`] for all of it); the image returned covers at
    /// least that, its placement says where it lies, and its pixels equal a whole decode's.
    fn decode(
        &self,
        bytes: &[u8],
        needed: &mut dyn FnMut(usize, usize) -> Window,
    ) -> Result<(RgbImage, Placement), DecodeError>;

    /// Resizes and normalises a decoded image (all or part of the picture, placed by
    /// `placement`, holding at least [`Pipeline::source_pixels`]) into `out`, in the recipe's
    /// layout. The image may come from any decoder: only [`Pipeline::decode`] decodes as the
    /// library does.
    ///
    /// # Panics
    /// If `out` is not `recipe.sample_len()` long or the image misses pixels (a caller's bug).
    fn preprocess_part(
        &self,
        img: &RgbImage,
        placement: Placement,
        recipe: &Recipe,
        compat: PillowCompat,
        out: &mut [f32],
    );

    /// This pipeline's recipes on one file, each outcome in order. By default each recipe
    /// decodes the part it reads; a pipeline that can share work among its recipes overrides it.
    fn preprocess_many(
        &self,
        bytes: &[u8],
        recipes: &[(&Recipe, PillowCompat)],
        outs: &mut [&mut [f32]],
    ) -> Vec<Result<(), DecodeError>> {
        recipes
            .iter()
            .zip(outs.iter_mut())
            .map(|((recipe, compat), out)| {
                let needed = &mut |width, height| self.source_pixels(width, height, recipe);
                let (img, placement) = self.decode(bytes, needed)?;
                self.preprocess_part(&img, placement, recipe, *compat, out);
                Ok(())
            })
            .collect()
    }

    /// The resampling filters `explain` tries around one of this pipeline's recipes: none where
    /// the library's resize has one fixed arithmetic.
    fn filter_variations(&self) -> &'static [Filter] {
        &[]
    }

    /// The library releases whose arithmetic differs, which `explain` tries around a recipe:
    /// none where the pipeline reproduces one release.
    fn release_variations(&self) -> &'static [PillowCompat] {
        &[]
    }
}

/// Decodes `bytes` and writes `recipes[i]`'s tensor into `outs[i]` (`sample_len()` floats),
/// with each recipe's own outcome: the recipes of one pipeline share what that pipeline shares,
/// and a file one pipeline refuses is still prepared for the others, so that a model's result
/// never depends on which other models share its pass. One recipe is a slice of one.
///
/// # Panics
/// If `outs` does not hold one buffer per recipe, each of its recipe's length (a caller's bug).
pub fn preprocess(
    bytes: &[u8],
    recipes: &[(&Recipe, PillowCompat)],
    outs: &mut [&mut [f32]],
) -> Vec<Result<(), DecodeError>> {
    assert_eq!(recipes.len(), outs.len(), "one output buffer per recipe");
    // Per pipeline, in order of first appearance: where its recipes are, and their buffers.
    type Group<'r, 'o> = (
        Library,
        Vec<usize>,
        Vec<(&'r Recipe, PillowCompat)>,
        Vec<&'o mut [f32]>,
    );
    let mut groups: Vec<Group> = Vec::new();
    for (i, (&(recipe, compat), out)) in recipes.iter().zip(outs.iter_mut()).enumerate() {
        let at = match groups.iter().position(|group| group.0 == recipe.library) {
            Some(at) => at,
            None => {
                groups.push((recipe.library, Vec::new(), Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        let group = &mut groups[at];
        group.1.push(i);
        group.2.push((recipe, compat));
        group.3.push(&mut **out);
    }
    let mut outcomes = vec![Ok(()); recipes.len()];
    for (library, at, recipes, mut outs) in groups {
        let results = library
            .pipeline()
            .preprocess_many(bytes, &recipes, &mut outs);
        for (i, result) in at.into_iter().zip(results) {
            outcomes[i] = result;
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::recipe::presets;

    /// Every preset, Pillow's with each Pillow version in turn: what one `verify` pass over
    /// many models hands [`preprocess`]. The others get Pillow 13, the Pillow their recorded
    /// digests were made with (OpenCV's `pillow-resize` resizes with it).
    fn every_preset() -> Vec<(Recipe, PillowCompat)> {
        let mut releases = PillowCompat::ALL.into_iter().cycle();
        presets()
            .into_iter()
            .map(|recipe| match recipe.library {
                Library::Pillow => (recipe, releases.next().unwrap()),
                _ => (recipe, PillowCompat::V13),
            })
            .collect()
    }

    /// Each recipe's outcome and tensor when all of `recipes` are prepared in one pass.
    fn one_pass(bytes: &[u8], recipes: &[(Recipe, PillowCompat)]) -> Vec<Result<Vec<f32>, String>> {
        let pairs: Vec<(&Recipe, PillowCompat)> = recipes.iter().map(|(r, c)| (r, *c)).collect();
        let mut tensors: Vec<Vec<f32>> = recipes
            .iter()
            .map(|(r, _)| vec![f32::NAN; r.sample_len()])
            .collect();
        let mut outs: Vec<&mut [f32]> = tensors.iter_mut().map(Vec::as_mut_slice).collect();
        let outcomes = preprocess(bytes, &pairs, &mut outs);
        outcomes
            .into_iter()
            .zip(tensors)
            .map(|(outcome, tensor)| outcome.map(|()| tensor).map_err(|e| e.to_string()))
            .collect()
    }

    /// The other pipelines' recipes, prepared in one pass with every preset, give the bits their
    /// real library gave: the sha256 digests the parity scripts recorded from TensorFlow,
    /// torchvision and OpenCV (tests/*_presets_sha256.json) for the shared sample.
    #[test]
    fn other_pipelines_in_a_mixed_pass_give_their_librarys_recorded_tensors() {
        use sha2::{Digest, Sha256};
        let Some(shared) = crate::testing::shared() else {
            return;
        };
        let mut recorded = std::collections::BTreeMap::<String, serde_json::Value>::new();
        // Every pipeline's digests (tests/<name>_presets_sha256.json), Pillow-SIMD's aside.
        let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        for entry in std::fs::read_dir(tests).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with("_presets_sha256.json") {
                continue;
            }
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let digests = json["digests"].as_object().unwrap().clone();
            recorded.extend(digests);
        }
        let all = every_preset();
        let others: Vec<usize> = (0..all.len())
            .filter(|&i| all[i].0.library != Library::Pillow)
            .collect();
        assert!(others.len() >= 5, "{others:?}");
        for &i in &others {
            let name = &all[i].0.name;
            assert!(
                recorded.contains_key(name),
                "{name}: no digests recorded from its library"
            );
        }
        // Every 16th sample image: 7 of the 100, each through every preset.
        let names: Vec<String> = recorded["tf-inception-224"]
            .as_object()
            .unwrap()
            .keys()
            .step_by(16)
            .cloned()
            .collect();
        for name in names {
            let bytes = std::fs::read(shared.join("imagenet-sample").join(&name)).unwrap();
            let outcomes = one_pass(&bytes, &all);
            for &i in &others {
                let recipe = &all[i].0.name;
                let tensor = outcomes[i]
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{recipe} {name}: {e}"));
                let bytes: Vec<u8> = tensor.iter().flat_map(|v| v.to_le_bytes()).collect();
                let digest = format!("{:x}", Sha256::digest(&bytes));
                assert_eq!(recorded[recipe][&name], digest, "{recipe} on {name}");
            }
        }
    }
}
