//! Model manifests (`manifests/*.json`, format in `manifests/README.md`): what a model file is,
//! which recipes feed it, and which published numbers it should reach with which recipe on which
//! image set.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::eval::trust::{Identity, ReferenceOrigin};
use crate::image::recipe::{Layout, Recipe};
use crate::image::sources;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("manifest {path} is invalid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("manifests {first} and {second} both declare id {id}")]
    DuplicateId {
        id: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "no manifest has id or name {}{} (`zoorepro models` lists them)",
        crate::util::escape::quote(.query), super::select::did_you_mean(suggestions)
    )]
    UnknownModel {
        query: String,
        /// The closest ids, for "did you mean".
        suggestions: Vec<String>,
    },
    #[error("{} is not a valid model pattern: {reason}", crate::util::escape::quote(.query))]
    BadPattern { query: String, reason: String },
    #[error("{} matches several manifests: {}; pass the full id", crate::util::escape::quote(.query), candidates.join(", "))]
    Ambiguous {
        query: String,
        candidates: Vec<String>,
    },
    #[error("model {id} has no recipe {} (its recipes: {}), and {reason}", crate::util::escape::quote(.name), available.join(", "))]
    UnknownRecipe {
        id: String,
        name: String,
        available: Vec<String>,
        reason: String,
    },
    #[error("recipe {name} of model {id}: {reason}")]
    ChangedFile {
        id: String,
        name: String,
        reason: String,
    },
    #[error("recipe {name} cannot feed model {id}: {reason} (its recipes: {})", available.join(", "))]
    RecipeDoesNotFit {
        id: String,
        name: String,
        available: Vec<String>,
        reason: String,
    },
    #[error(
        "cannot tell where the zoorepro home is (no folder marked with a .zoorepro-home file above the current directory or the binary, and no data folder: $HOME is unset): pass --home DIR or set ZOOREPRO_HOME"
    )]
    NoHome,
}

/// A dimension of a declared tensor shape: a fixed size, or a symbolic (dynamic) name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(u64),
    Symbolic(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub name: String,
    pub shape: Vec<Dim>,
    pub layout: Layout,
    pub dtype: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub name: String,
    pub classes: usize,
    pub label_offset: usize,
    /// "logits" or "probabilities": informative, ranking is the same either way.
    pub kind: String,
}

/// A recipe by preset name, or declared inline for this model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecipeRef {
    Preset(String),
    Inline(Recipe),
}

impl RecipeRef {
    pub fn name(&self) -> &str {
        match self {
            RecipeRef::Preset(name) => name,
            RecipeRef::Inline(recipe) => &recipe.name,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSet {
    pub name: String,
    pub images: usize,
    /// `image_set_digest` of the set's file names; `None` for a set whose file names are not at
    /// hand to digest (ImageNetV2, -Sketch, -A, -R): it is then recognised by the name its layout gives it
    /// (`Dataset::layout_set_name`) and its count, a weaker identity the note must state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `image_set_content_digest` of the set's names and file contents, where the files are at
    /// hand to hash: a reference with it applies only to those very files, not to other files
    /// under the same names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
}

/// The identity of an evaluated image set, to find the references measured on it.
#[derive(Clone, Copy, Debug)]
pub struct ImageSetId<'a> {
    /// `image_set_digest` of the labelled images' names.
    pub sha256: &'a str,
    /// `image_set_content_digest` of their names and contents; `None` when some content is
    /// unknown (imported caches, rows written before contents were stored).
    pub content_sha256: Option<&'a str>,
    pub images: usize,
    /// The name the dataset's layout gives the set (ImageNetV2, -Sketch, -A, -R), if any.
    pub layout_name: Option<&'a str>,
    /// Every labelled image is an ILSVRC2012 validation file under its own name and label: the
    /// set is part of the validation set, so a full-set number can judge it by its interval.
    pub within_full_val: bool,
}

impl ImageSet {
    /// How strongly a set matched by [`ImageSet::is`] is tied to this one.
    pub fn identity(&self) -> Identity {
        match (&self.content_sha256, &self.sha256) {
            (Some(_), _) => Identity::Content,
            (None, Some(_)) => Identity::NamesAndCount,
            (None, None) => Identity::FolderNameAndCount,
        }
    }

    /// Whether the evaluated set `id` is this set: the same names, as many, and, when this set
    /// pins its contents, the same files.
    pub fn is(&self, id: &ImageSetId<'_>) -> bool {
        let names_match = match &self.sha256 {
            Some(sha256) => *sha256 == id.sha256,
            None => id.layout_name == Some(self.name.as_str()),
        };
        names_match
            && self.images == id.images
            && self
                .content_sha256
                .as_deref()
                .is_none_or(|pinned| id.content_sha256 == Some(pinned))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub source: String,
    pub top1: f64,
    /// `None` (`null` in the manifest) when the source publishes no top-5, as MLPerf does; reports
    /// then leave it and its delta empty.
    pub top5: Option<f64>,
    /// The recipe the number was measured with; `None` when the source does not document it.
    pub recipe: Option<String>,
    pub image_set: ImageSet,
    /// The reference that decides the verdict for its recipe and image set.
    pub expected: bool,
    /// The labels the number was scored with: `None` for the original ILSVRC2012 labels, the
    /// only ones a verdict is judged on; `Some("real")` for ImageNet-ReaL (`table --labels real`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub id: String,
    pub framework: String,
    pub name: String,
    pub description: String,
    /// Relative to `<home>/models/`.
    pub file: String,
    /// `None` until an export is pinned.
    pub sha256: Option<String>,
    pub input: Input,
    pub output: Output,
    pub default_recipe: String,
    pub recipes: Vec<RecipeRef>,
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// Where this manifest was read from: built in, or a user's file (never part of its JSON).
    #[serde(skip)]
    pub origin: ReferenceOrigin,
}

/// The identity of an image set, whatever its layout: sha256 of a domain tag, then of each
/// byte-sorted basename as its length (8 bytes, big-endian) and its bytes. Length prefixes make
/// the encoding unambiguous: no set of names can hash like another set, whatever they contain.
pub fn image_set_digest<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut hasher = Sha256::new();
    hasher.update(IMAGE_SET_DOMAIN);
    for name in names {
        hasher.update((name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
    }
    crate::util::hex::hex(&hasher.finalize())
}

const IMAGE_SET_DOMAIN: &[u8] = b"zoorepro image set v2\0";

/// The identity of an image set's files: sha256 of a domain tag, then of each byte-sorted
/// basename as its length (8 bytes, big-endian), its bytes and the sha256 of the file's bytes.
/// Renamed or replaced files give another digest, even under the same names.
pub fn image_set_content_digest<'a>(
    images: impl IntoIterator<Item = (&'a str, &'a [u8; 32])>,
) -> String {
    let mut images: Vec<(&str, &[u8; 32])> = images.into_iter().collect();
    images.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut hasher = Sha256::new();
    hasher.update(IMAGE_SET_CONTENT_DOMAIN);
    for (name, sha256) in images {
        hasher.update((name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
        hasher.update(sha256);
    }
    crate::util::hex::hex(&hasher.finalize())
}

const IMAGE_SET_CONTENT_DOMAIN: &[u8] = b"zoorepro image set content v1\0";

/// What manifests call the 50,000-image ILSVRC2012 validation set.
pub const FULL_VAL_NAME: &str = "ilsvrc2012-val";

/// `image_set_digest` of the 50,000 ILSVRC2012 validation file names.
pub const FULL_VAL_SHA256: &str =
    "7ca142034cbd9ed47f2dc9abc21ee05e2e1cf0819ddbdd136da4f3dc8b512430";

/// `FULL_VAL_NAME` when `id` is the full validation set (its 50,000 names), whether or not a
/// manifest at hand references it: imported caches of any model then read as that set.
pub fn full_val_name(id: &ImageSetId<'_>) -> Option<&'static str> {
    (id.sha256 == FULL_VAL_SHA256 && id.images == 50_000).then_some(FULL_VAL_NAME)
}

/// The digest of the same 50,000 names under the first encoding (names joined by line breaks),
/// which manifests written by earlier releases (`add-model`) carry: read as `FULL_VAL_SHA256`.
/// For these names the two encodings identify the same set, since none holds a line break.
const LEGACY_FULL_VAL_SHA256: &str =
    "c212211fc64b53a65e24dea8698efd5a820b32d33bc6065776993462893e114d";

/// A declared recipe: inline as written, or by name, a preset or a built-in source (a manifest
/// reads no file of a source: what it names must mean the same wherever it is loaded).
pub(super) fn declared_recipe(declared: &RecipeRef) -> Result<Recipe, String> {
    match declared {
        RecipeRef::Preset(name) => sources::resolve_builtin(name).map_err(|e| e.to_string()),
        RecipeRef::Inline(recipe) => Ok(recipe.clone()),
    }
}

impl Manifest {
    /// Resolves a recipe for this model by name (its default when `None`): one the manifest
    /// declares, else any preset or recipe source (`image::sources`) whose tensor fits the input.
    /// A recipe making the same tensor as a declared one is that declared recipe, under its
    /// name: its references apply, and its stored runs are reused. Any other gets no reference
    /// measured with a declared recipe as the expected one.
    pub fn recipe(&self, name: Option<&str>) -> Result<Recipe, ManifestError> {
        let wanted = name.unwrap_or(&self.default_recipe);
        if let Some(declared) = self.recipes.iter().find(|r| r.name() == wanted) {
            let unknown = |reason| ManifestError::UnknownRecipe {
                id: self.id.clone(),
                name: wanted.to_string(),
                available: self.recipes.iter().map(|r| r.name().to_string()).collect(),
                reason,
            };
            let recipe = declared_recipe(declared).map_err(unknown)?;
            if name.is_some() {
                super::derived::still_what_its_name_says(&self.id, &recipe)?;
            }
            return Ok(recipe);
        }
        let recipe = sources::resolve(wanted).map_err(|e| ManifestError::UnknownRecipe {
            id: self.id.clone(),
            name: wanted.to_string(),
            available: self.recipes.iter().map(|r| r.name().to_string()).collect(),
            reason: e.to_string(),
        })?;
        self.fits(&recipe)
            .map_err(|reason| ManifestError::RecipeDoesNotFit {
                id: self.id.clone(),
                name: wanted.to_string(),
                available: self.recipes.iter().map(|r| r.name().to_string()).collect(),
                reason,
            })?;
        Ok(self.canonical(recipe))
    }

    /// The references measured on the evaluated image set `id` (names, count and, where the
    /// reference pins them, contents must all match: a digest alone could be forged by names that
    /// encode another set), each with whether it is the expected one for `recipe`. References of
    /// other recipes on the same set are kept, as informative.
    pub fn references_for(&self, recipe: &str, id: &ImageSetId<'_>) -> Vec<(&Reference, bool)> {
        self.references
            .iter()
            .filter(|r| r.labels.is_none() && r.image_set.is(id))
            .map(|r| (r, r.expected && r.recipe.as_deref() == Some(recipe)))
            .collect()
    }

    /// The expected reference for `recipe` on the full validation set: what a part of that set is
    /// judged against, by its interval, when no reference was measured on the part itself.
    pub fn full_set_expected(&self, recipe: &str) -> Option<&Reference> {
        self.references.iter().find(|r| {
            r.expected
                && r.labels.is_none()
                && r.recipe.as_deref() == Some(recipe)
                && r.image_set.images == 50_000
                && r.image_set.sha256.as_deref() == Some(FULL_VAL_SHA256)
        })
    }

    /// The manifest's name for the evaluated image set `id`, if any reference uses it.
    pub fn image_set_name(&self, id: &ImageSetId<'_>) -> Option<&str> {
        self.references
            .iter()
            .find(|r| r.image_set.is(id))
            .map(|r| r.image_set.name.as_str())
    }

    /// The same manifest, wherever each was read from (origins aside).
    pub fn same_content(&self, other: &Manifest) -> bool {
        let mut other = other.clone();
        other.origin = self.origin.clone();
        *self == other
    }

    pub fn onnx_path(&self, home: &Path) -> PathBuf {
        home.join("models").join(&self.file)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.format_version != FORMAT_VERSION {
            return Err(format!(
                "format_version {} is not {FORMAT_VERSION}",
                self.format_version
            ));
        }
        self.check_no_control_characters()?;
        if self.id.is_empty() || self.id.starts_with('/') || self.id.contains("..") {
            return Err(format!(
                "id {:?} must be a relative name like framework/model",
                self.id
            ));
        }
        if let Some(sha) = &self.sha256
            && (sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(format!("sha256 {sha:?} is not 64 hex digits"));
        }
        match (self.output.classes, self.output.label_offset) {
            (1000, 0) | (1001, 1) => {}
            (classes, offset) => {
                return Err(format!(
                    "output has {} with label_offset {offset}: use 1000 with 0, or 1001 (background first) with 1",
                    crate::eval::classes::count_of_classes(classes)
                ));
            }
        }
        if self.input.shape.len() != 4 {
            return Err(format!(
                "input.shape has {} dimensions; an image batch has 4",
                self.input.shape.len()
            ));
        }
        let names = self.validate_recipes()?;
        if !names.contains(self.default_recipe.as_str()) {
            return Err(format!(
                "default_recipe {:?} is not among its recipes",
                self.default_recipe
            ));
        }
        self.validate_references(&names)
    }

    /// The names a terminal, a report or a table shows (ids, names, files, recipes, image sets,
    /// reference sources) hold no control character or bidirectional override: one would let a
    /// manifest rewrite the line it is printed on (`\r`, an escape sequence) or disguise itself
    /// (U+202E). Descriptions and notes are free text, escaped wherever they are shown.
    fn check_no_control_characters(&self) -> Result<(), String> {
        let mut fields: Vec<(&str, &str)> = vec![
            ("id", &self.id),
            ("framework", &self.framework),
            ("name", &self.name),
            ("file", &self.file),
            ("default_recipe", &self.default_recipe),
            ("input.name", &self.input.name),
            ("output.name", &self.output.name),
        ];
        fields.extend(self.recipes.iter().map(|r| ("recipe name", r.name())));
        for reference in &self.references {
            fields.push(("reference source", &reference.source));
            fields.push(("reference image_set.name", &reference.image_set.name));
            if let Some(recipe) = &reference.recipe {
                fields.push(("reference recipe", recipe));
            }
            if let Some(labels) = &reference.labels {
                fields.push(("reference labels", labels));
            }
        }
        match fields
            .iter()
            .find(|(_, text)| text.chars().any(crate::util::escape::is_dangerous))
        {
            Some((field, text)) => Err(format!(
                "{field} \"{}\" holds a control character or a bidirectional override (shown escaped here), which would garble or disguise the lines it is printed on: remove it",
                crate::util::escape::terminal(text)
            )),
            None => Ok(()),
        }
    }

    /// Each declared recipe: known or valid, declared once, and matching the input's layout and
    /// fixed spatial size. Returns the recipe names.
    fn validate_recipes(&self) -> Result<HashSet<&str>, String> {
        let mut names = HashSet::new();
        for recipe_ref in &self.recipes {
            if !names.insert(recipe_ref.name()) {
                return Err(format!("recipe {:?} is declared twice", recipe_ref.name()));
            }
            let recipe = match recipe_ref {
                RecipeRef::Preset(_) => declared_recipe(recipe_ref)?,
                RecipeRef::Inline(recipe) => {
                    recipe
                        .validate()
                        .map_err(|e| format!("recipe {}: {e}", recipe.name))?;
                    super::derived::not_a_builtin_name_for_another_tensor(recipe)?;
                    recipe.clone()
                }
            };
            self.fits(&recipe)?;
        }
        Ok(names)
    }

    /// Whether `recipe`'s tensor has the input's layout and fixed spatial size.
    pub(super) fn fits(&self, recipe: &Recipe) -> Result<(), String> {
        if recipe.layout != self.input.layout {
            return Err(format!(
                "recipe {} produces {} but the input is {}",
                recipe.name,
                recipe.layout.name(),
                self.input.layout.name()
            ));
        }
        let spatial = match self.input.layout {
            Layout::Nchw => self.input.shape.get(2..4),
            Layout::Nhwc => self.input.shape.get(1..3),
        };
        for dim in spatial.unwrap_or_default() {
            if let Dim::Fixed(size) = dim
                && *size != u64::from(recipe.crop_size)
            {
                return Err(format!(
                    "recipe {} makes {}px inputs but the input shape says {size}",
                    recipe.name, recipe.crop_size
                ));
            }
        }
        Ok(())
    }

    /// Each reference names a declared recipe; an expected one documents its recipe and is the
    /// only expected one for its recipe and image set; accuracies are percentages.
    fn validate_references(&self, names: &HashSet<&str>) -> Result<(), String> {
        let mut expected = HashSet::new();
        for reference in &self.references {
            if let Some(recipe) = &reference.recipe
                && !names.contains(recipe.as_str())
            {
                return Err(format!(
                    "reference {} names recipe {recipe:?}, which the manifest does not declare",
                    reference.source
                ));
            }
            if reference.expected {
                let Some(recipe) = &reference.recipe else {
                    return Err(format!(
                        "reference {} is expected but documents no recipe; an undocumented protocol can only be informative",
                        reference.source
                    ));
                };
                if reference.labels.is_some() {
                    return Err(format!(
                        "reference {} is expected but scored with {:?} labels; verdicts are judged on the original labels",
                        reference.source, reference.labels
                    ));
                }
                let set = (
                    reference.image_set.name.clone(),
                    reference.image_set.sha256.clone(),
                );
                if !expected.insert((recipe.clone(), set)) {
                    return Err(format!(
                        "two references are expected for recipe {recipe} on image set {}",
                        reference.image_set.name
                    ));
                }
            }
            check_reference_identity(reference)?;
            let percent = |x: f64| (0.0..=100.0).contains(&x);
            if !percent(reference.top1) || !reference.top5.is_none_or(percent) {
                return Err(format!(
                    "reference {} has accuracies outside 0..100",
                    reference.source
                ));
            }
        }
        Ok(())
    }
}

/// A set without a names digest is one a layout names (ImageNetV2, -Sketch, -A, -R), and labels are a label set
/// `table` scores with.
fn check_reference_identity(reference: &Reference) -> Result<(), String> {
    if reference.image_set.sha256.is_none()
        && !crate::dataset::LAYOUT_SET_NAMES.contains(&reference.image_set.name.as_str())
    {
        return Err(format!(
            "reference {} on image set {} has no sha256: only sets a layout names (ImageNetV2, -Sketch, -A, -R) may omit it",
            reference.source, reference.image_set.name
        ));
    }
    match reference.labels.as_deref() {
        None | Some("real" | "cleaned" | "corrected") => Ok(()),
        Some(other) => Err(format!(
            "reference {} has labels {other:?}; use real, cleaned or corrected, or leave it out for the original labels",
            reference.source
        )),
    }
}

/// A user's manifest file, its origin (path and sha256 of its bytes) recorded.
pub fn load_file(path: &Path) -> Result<Manifest, ManifestError> {
    use crate::util::safe_file::{MAX_MANIFEST_BYTES, read_regular_text};
    let text = read_regular_text(path, MAX_MANIFEST_BYTES, "a manifest").map_err(|e| {
        ManifestError::Unreadable {
            path: path.to_path_buf(),
            reason: e.reason(),
        }
    })?;
    let mut manifest = parse(&text, path)?;
    manifest.origin = ReferenceOrigin::User {
        path: std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
        sha256: crate::util::hex::hex(&Sha256::digest(text.as_bytes())),
        replaces_built_in: false,
    };
    Ok(manifest)
}

/// Parse and validate a manifest's JSON text; `path` only names the source in error messages.
pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
    let invalid = |reason: String| ManifestError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let mut manifest: Manifest = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    for reference in &mut manifest.references {
        if reference.image_set.sha256.as_deref() == Some(LEGACY_FULL_VAL_SHA256) {
            reference.image_set.sha256 = Some(FULL_VAL_SHA256.to_string());
        }
    }
    manifest.validate().map_err(invalid)?;
    Ok(manifest)
}

/// Every `*.json` manifest in `dir`, sorted by id.
pub fn load_all(dir: &Path) -> Result<Vec<Manifest>, ManifestError> {
    let unreadable = |e: std::io::Error| ManifestError::Unreadable {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    let mut manifests: Vec<(Manifest, PathBuf)> = Vec::with_capacity(paths.len());
    for path in paths {
        manifests.push((load_file(&path)?, path));
    }
    manifests.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    for pair in manifests.windows(2) {
        if pair[0].0.id == pair[1].0.id {
            return Err(ManifestError::DuplicateId {
                id: pair[0].0.id.clone(),
                first: pair[0].1.clone(),
                second: pair[1].1.clone(),
            });
        }
    }
    Ok(manifests.into_iter().map(|(m, _)| m).collect())
}

mod shipped {
    include!(concat!(env!("OUT_DIR"), "/shipped_manifests.rs"));
}

/// The manifests built into the binary (`manifests/` of the checkout it was built from).
pub fn shipped() -> Result<Vec<Manifest>, ManifestError> {
    shipped::SHIPPED
        .iter()
        .map(|(name, text)| {
            let mut manifest = parse(text, &Path::new("<built-in manifests>").join(name))?;
            manifest.origin = ReferenceOrigin::BuiltIn;
            Ok(manifest)
        })
        .collect()
}

/// The shipped manifests, with those of `dir` (a user's own, or a checkout's) added: one of `dir`
/// with a shipped id replaces the shipped one, and says so in its origin (a copy identical to
/// the shipped one, as a checkout's own `manifests/` holds, stays built-in). Sorted by id.
pub fn load_with_shipped(dir: &Path) -> Result<Vec<Manifest>, ManifestError> {
    let mut by_id: std::collections::BTreeMap<String, Manifest> =
        shipped()?.into_iter().map(|m| (m.id.clone(), m)).collect();
    if dir.is_dir() {
        for mut manifest in load_all(dir)? {
            if let Some(built_in) = by_id.get(&manifest.id) {
                if manifest.same_content(built_in) {
                    continue;
                }
                eprintln!(
                    "zoorepro: warning: {} replaces the built-in manifest {}: its references are marked user-reference",
                    crate::util::escape::terminal(&manifest.origin.describe()),
                    crate::util::escape::terminal(&manifest.id)
                );
                if let ReferenceOrigin::User {
                    replaces_built_in, ..
                } = &mut manifest.origin
                {
                    *replaces_built_in = true;
                }
            }
            by_id.insert(manifest.id.clone(), manifest);
        }
    }
    Ok(by_id.into_values().collect())
}

/// An exact id, else a bare name that is the last part of exactly one id.
pub fn resolve<'a>(manifests: &'a [Manifest], query: &str) -> Result<&'a Manifest, ManifestError> {
    if let Some(manifest) = manifests.iter().find(|m| m.id == query) {
        return Ok(manifest);
    }
    let matches: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| m.id.rsplit('/').next() == Some(query))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(ManifestError::UnknownModel {
            query: query.to_string(),
            suggestions: super::select::closest_ids(manifests, query),
        }),
        many => Err(ManifestError::Ambiguous {
            query: query.to_string(),
            candidates: many.iter().map(|m| m.id.clone()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<Manifest> {
        load_all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests")).unwrap()
    }

    #[test]
    fn the_shipped_manifests_load_and_validate() {
        let manifests = shipped();
        assert_eq!(manifests.len(), 39);
        assert_eq!(
            manifests.iter().filter(|m| m.framework == "keras").count(),
            13
        );
        assert_eq!(
            manifests
                .iter()
                .filter(|m| m.framework == "pytorch")
                .count(),
            21
        );
        for manifest in &manifests {
            assert!(manifest.recipe(None).is_ok(), "{}", manifest.id);
        }
    }

    #[test]
    fn control_characters_in_names_are_refused_at_load() {
        let text = include_str!("../../manifests/pytorch__resnet50.json");
        assert!(parse(text, Path::new("m.json")).is_ok());
        let original: Manifest = serde_json::from_str(text).unwrap();
        type Set = fn(&mut Manifest, String);
        let hostile: [(&str, Set); 4] = [
            ("id", |m, s| m.id = s),
            ("name", |m, s| m.name = s),
            ("reference source", |m, s| m.references[0].source = s),
            ("recipe name", |m, s| m.default_recipe = s),
        ];
        for (field, set) in hostile {
            for bad in [
                "x\rOK",
                "\u{1b}]8;;u\u{7}x",
                "a\u{202e}b",
                "a\u{9b}b",
                "a\u{7f}b",
            ] {
                let mut manifest = original.clone();
                set(&mut manifest, format!("pytorch/{bad}"));
                let json = serde_json::to_string(&manifest).unwrap();
                let err = parse(&json, Path::new("m.json")).unwrap_err().to_string();
                assert!(
                    err.contains("control character")
                        && !err.contains(['\r', '\u{1b}', '\u{202e}']),
                    "{field} {bad:?}: {err}"
                );
            }
        }
    }

    #[test]
    fn a_recipe_name_stands_for_one_tensor() {
        let text = include_str!("../../manifests/pytorch__resnet50.json");
        let original: Manifest = serde_json::from_str(text).unwrap();
        let torchvision = crate::image::recipe::preset("torchvision").unwrap();
        // An inline recipe under a built-in source's name must make that source's tensor.
        let named = |name: &str, resize_size| {
            let mut manifest = original.clone();
            manifest.recipes.push(RecipeRef::Inline(Recipe {
                name: name.to_string(),
                resize_size,
                ..torchvision.clone()
            }));
            parse(
                &serde_json::to_string(&manifest).unwrap(),
                Path::new("m.json"),
            )
        };
        let source = "torchvision:ResNet50_Weights.IMAGENET1K_V1";
        assert!(named(source, 256).is_ok());
        let err = named(source, 300).unwrap_err().to_string();
        assert!(err.contains("makes another tensor"), "{err}");

        // A stored copy of a config file the user names again: the file must still make it.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cfg.json");
        let config = |crop_pct: f64| {
            format!(
                r#"{{"input_size": [3, 224, 224], "interpolation": "bilinear", "crop_pct": {crop_pct}}}"#
            )
        };
        std::fs::write(&file, config(0.875)).unwrap();
        let name = format!("timm:{}", file.display());
        let stored = crate::image::sources::resolve(&name).unwrap();
        let mut manifest = original.clone();
        manifest.recipes.push(RecipeRef::Inline(stored));
        let manifest = parse(
            &serde_json::to_string(&manifest).unwrap(),
            Path::new("m.json"),
        )
        .unwrap();
        assert!(manifest.recipe(Some(&name)).is_ok());
        std::fs::write(&file, config(0.5)).unwrap();
        let err = manifest.recipe(Some(&name)).unwrap_err().to_string();
        assert!(err.contains("the file now makes another tensor"), "{err}");
        std::fs::remove_file(&file).unwrap();
        assert!(
            manifest.recipe(Some(&name)).is_ok(),
            "the stored copy, the file gone"
        );
    }

    #[test]
    fn an_unpublished_top5_is_null_in_and_out() {
        let mlperf = shipped()
            .into_iter()
            .find(|m| m.id == "mlperf/resnet50_v1.5")
            .unwrap();
        let reference = &mlperf.references[0];
        assert_eq!(reference.top1, 76.456);
        assert!(reference.top5.is_none());
        let json = serde_json::to_value(reference).unwrap();
        assert!(json["top5"].is_null());
    }

    #[test]
    fn bare_names_resolve_when_unique() {
        let manifests = shipped();
        assert_eq!(
            resolve(&manifests, "alexnet").unwrap().id,
            "pytorch/alexnet"
        );
        assert_eq!(
            resolve(&manifests, "keras/resnet50").unwrap().id,
            "keras/resnet50"
        );
        let ambiguous = resolve(&manifests, "resnet50").unwrap_err().to_string();
        assert!(
            ambiguous.contains("keras/resnet50") && ambiguous.contains("pytorch/resnet50"),
            "{ambiguous}"
        );
        assert!(
            resolve(&manifests, "nope")
                .unwrap_err()
                .to_string()
                .contains("zoorepro models")
        );
    }

    #[test]
    fn every_published_row_is_in_exactly_one_manifest() {
        let Some(shared) = crate::testing::shared() else {
            return;
        };
        let text =
            std::fs::read_to_string(shared.join("reference/published_accuracy.csv")).unwrap();
        let manifests = shipped();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            let (framework, model, source) = (fields[0], fields[1], fields[2]);
            let top1: f64 = fields[3].parse().unwrap();
            let id = format!("{framework}/{model}");
            let holders: Vec<_> = manifests
                .iter()
                .filter(|m| {
                    m.references
                        .iter()
                        .any(|r| r.source == source && r.top1 == top1 && m.id == id)
                })
                .collect();
            assert_eq!(holders.len(), 1, "{line}");
        }
    }

    #[test]
    fn inception_v3_has_both_protocols_with_one_expected_reference_each() {
        let manifests = shipped();
        let inception = resolve(&manifests, "pytorch/inception_v3").unwrap();
        let full = ImageSetId {
            sha256: inception.references[0].image_set.sha256.as_deref().unwrap(),
            content_sha256: None,
            images: 50_000,
            layout_name: None,
            within_full_val: true,
        };
        let seed = inception.references_for("torchvision-inception-seed", &full);
        let expected: Vec<_> = seed
            .iter()
            .filter(|(_, e)| *e)
            .map(|(r, _)| r.source.as_str())
            .collect();
        assert_eq!(expected, ["benchmarking-keras-pytorch"]);
        let official = inception.references_for("torchvision-inception", &full);
        let expected: Vec<_> = official
            .iter()
            .filter(|(_, e)| *e)
            .map(|(r, _)| r.source.as_str())
            .collect();
        assert_eq!(expected, ["torchvision-docs"]);
        assert_eq!(
            inception
                .recipe(Some("torchvision-inception-seed"))
                .unwrap()
                .crop_size,
            299
        );
        assert!(
            inception
                .recipe(Some("keras-tf"))
                .unwrap_err()
                .to_string()
                .contains("torchvision-inception")
        );
    }

    #[test]
    fn timms_inception_v3_reference_is_tied_to_timms_own_config() {
        let manifests = shipped();
        let inception = resolve(&manifests, "pytorch/inception_v3").unwrap();
        let full = ImageSetId {
            sha256: FULL_VAL_SHA256,
            content_sha256: None,
            images: 50_000,
            layout_name: None,
            within_full_val: true,
        };
        let timm = inception.recipe(Some("timm:inception_v3.tv_in1k")).unwrap();
        // timm's config: mean = std = 0.5, by the prefetcher's (x - 127.5) / 127.5.
        assert_eq!((timm.resize_size, timm.crop_size), (341, 299));
        assert_eq!(
            (timm.scale, timm.mean, timm.std),
            (1.0, [127.5; 3], [127.5; 3])
        );
        let expected: Vec<_> = inception
            .references_for(&timm.name, &full)
            .into_iter()
            .filter(|(_, e)| *e)
            .map(|(r, _)| (r.source.as_str(), r.top1))
            .collect();
        assert_eq!(expected, [("timm", 77.472)]);

        // A source making a declared recipe's tensor is that recipe; another keeps its own name,
        // which no reference names.
        let same = inception
            .recipe(Some("torchvision:Inception_V3_Weights.IMAGENET1K_V1"))
            .unwrap();
        assert_eq!(same.name, "torchvision-inception");
        let other = inception
            .recipe(Some("timm:inception_v3.tv_in1k@no-prefetcher"))
            .unwrap();
        assert_eq!(other.name, "timm:inception_v3.tv_in1k@no-prefetcher");
        assert!(
            inception
                .references_for(&other.name, &full)
                .iter()
                .all(|(_, expected)| !expected)
        );
        let unfit = inception.recipe(Some("torchvision:resnet50")).unwrap_err();
        assert!(unfit.to_string().contains("224px"), "{unfit}");
        let unknown = inception
            .recipe(Some("timm:inception_v3.tv_in1"))
            .unwrap_err();
        assert!(unknown.to_string().contains("did you mean"), "{unknown}");
    }

    #[test]
    fn keras_docs_are_never_expected() {
        for manifest in shipped().iter().filter(|m| m.framework == "keras") {
            let docs = manifest
                .references
                .iter()
                .find(|r| r.source == "keras-applications-docs")
                .unwrap();
            assert!(!docs.expected && docs.recipe.is_none(), "{}", manifest.id);
        }
    }

    #[test]
    fn a_manifest_with_a_missing_field_names_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.json");
        let mut value = serde_json::to_value(&shipped()[0]).unwrap();
        value.as_object_mut().unwrap().remove("input");
        std::fs::write(&path, value.to_string()).unwrap();
        let error = load_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("broken.json") && error.contains("input"),
            "{error}"
        );
    }

    #[test]
    fn image_set_digests_ignore_order() {
        assert_eq!(image_set_digest(["b", "a"]), image_set_digest(["a", "b"]));
        assert_ne!(image_set_digest(["a"]), image_set_digest(["a", "b"]));
    }

    #[test]
    fn names_holding_line_breaks_do_not_hash_like_another_set() {
        // Under the first encoding (each name followed by a line break) these were one digest.
        assert_ne!(image_set_digest(["a\nb"]), image_set_digest(["a", "b"]));
        assert_ne!(
            image_set_digest(["a\n", "b"]),
            image_set_digest(["a", "b\n"])
        );
        assert_ne!(image_set_digest(["ab"]), image_set_digest(["a", "b"]));
        assert_ne!(image_set_digest([""]), image_set_digest([]));
    }

    #[test]
    fn the_full_validation_set_digest_is_the_labels_names() {
        let names: Vec<String> = (1..=50_000)
            .map(|i| format!("ILSVRC2012_val_{i:08}.JPEG"))
            .collect();
        assert_eq!(
            image_set_digest(names.iter().map(String::as_str)),
            FULL_VAL_SHA256
        );
    }

    #[test]
    fn imagenetv2_references_apply_by_layout_name_and_count_and_real_ones_never_judge() {
        let manifests = shipped();
        let resnet50 = resolve(&manifests, "pytorch/resnet50").unwrap();
        let v2 = |layout_name, images| ImageSetId {
            sha256: "0000",
            content_sha256: None,
            images,
            layout_name,
            within_full_val: false,
        };
        let found = resnet50.references_for(
            "torchvision",
            &v2(Some("imagenetv2-matched-frequency"), 10_000),
        );
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0.source.as_str(), found[0].1), ("timm", true));
        assert_eq!(found[0].0.top1, 63.19);
        assert!(
            resnet50
                .references_for(
                    "torchvision",
                    &v2(Some("imagenetv2-matched-frequency"), 9_999)
                )
                .is_empty()
        );
        assert!(
            resnet50
                .references_for("torchvision", &v2(Some("imagenetv2-top-images"), 10_000))
                .is_empty()
        );
        assert!(
            resnet50
                .references_for("torchvision", &v2(None, 10_000))
                .is_empty()
        );
        // On the validation set the ReaL-label figure is never among the references a verdict sees.
        let full = v2(None, 50_000);
        let full = ImageSetId {
            sha256: FULL_VAL_SHA256,
            ..full
        };
        let sources: Vec<(&str, Option<&str>)> = resnet50
            .references_for("torchvision", &full)
            .iter()
            .map(|(r, _)| (r.source.as_str(), r.labels.as_deref()))
            .collect();
        assert_eq!(sources.len(), 3, "{sources:?}");
        assert!(sources.iter().all(|(_, labels)| labels.is_none()));
        assert!(
            resnet50
                .references
                .iter()
                .any(|r| r.labels.as_deref() == Some("real"))
        );
    }

    #[test]
    fn a_set_without_a_names_digest_must_be_one_a_layout_names() {
        let manifests = shipped();
        let mut manifest = resolve(&manifests, "pytorch/resnet50").unwrap().clone();
        manifest.references[0].image_set.sha256 = None;
        assert!(manifest.validate().unwrap_err().contains("no sha256"));
        let mut manifest = resolve(&manifests, "pytorch/resnet50").unwrap().clone();
        manifest.references[0].labels = Some("imagenet-x".into());
        assert!(manifest.validate().is_err());
    }
}
