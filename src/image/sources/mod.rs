//! Recipe sources: a recipe named by the published pipeline it comes from instead of written out,
//! `family:NAME[@SUFFIX]` (docs/recipes.md). A recipe is a point in each family's parameter
//! space; a source is the family's own name for that point:
//!
//! - `timm:NAME` / `timm:FILE.json`: a timm pretrained config through validate.py ([`timm`]);
//! - `torchvision:WEIGHTS`: `weights.transforms()` ([`torchvision`]);
//! - `keras:MODE@SIZE[,...]`, `keras-dataset:MODE@SIZE`, `slim:inception|vgg@SIZE` and
//!   `mlperf:NAME` (`libraries.rs`).
//!
//! [`resolve`] is the one place any recipe name becomes a recipe: a preset's name, or a source.
//! Manifests name recipes through [`resolve_builtin`], which reads no file, so that a manifest
//! means the same wherever it is loaded. A source resolves to a recipe named by the source as
//! written, or to a [`SourceError`] saying what is unsupported and why; whether its pipeline
//! reproduces the recipe is the pipeline's own check ([`Recipe::validate`]), made where the
//! recipe is used.

mod libraries;
mod suggest;
pub mod timm;
pub mod torchvision;

use std::path::PathBuf;

use crate::image::recipe::{self, Filter, Layout, Recipe};
use crate::util::escape::quote;

/// The families, as a source spells them before its `:`.
pub const FAMILIES: [&str; 6] = [
    "timm",
    "torchvision",
    "keras",
    "keras-dataset",
    "slim",
    "mlperf",
];

/// The syntax in one line, for messages.
pub const SYNTAX: &str = "timm:NAME[@no-prefetcher], timm:FILE.json, torchvision:WEIGHTS[@tensor-v1|@tensor-v2], \
     keras:MODE@SIZE[,INTERPOLATION][,keep-aspect], keras-dataset:MODE@SIZE, slim:inception|vgg@SIZE, \
     mlperf:resnet50|mobilenet|resnet50-pytorch|tflite-tpu (docs/recipes.md)";

/// Why a source that names something real is refused: what is unsupported, and why.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "its input size is {height}x{width}, a non-square tensor, and zoorepro's recipes make square ones (crop_size x crop_size)"
    )]
    NonSquare { height: u32, width: u32 },
    #[error("it has {0} input channels: zoorepro's recipes make 3-channel RGB tensors")]
    Channels(u32),
    #[error(
        "interpolation {} is not one of Pillow's filters timm's eval transform can take (nearest, bilinear, bicubic, box, hamming, lanczos)", quote(.0)
    )]
    Interpolation(String),
    #[error("crop_mode {} is not one of timm's (center, squash, border)", quote(.0))]
    CropMode(String),
    #[error("its {field} has {count} values: a recipe normalises 3 channels")]
    Channelwise { field: &'static str, count: usize },
    #[error("its {field} value {value} cannot be used ({why})")]
    BadNumber {
        field: &'static str,
        value: f64,
        why: &'static str,
    },
    #[error(
        "it resizes with {0}, and the torch pipeline reproduces torchvision's antialiased bilinear on tensors only: use it without the tensor suffix (on a PIL image, Pillow's {0})"
    )]
    TensorFilter(&'static str),
    #[error(
        "it resizes without antialiasing, and the torch pipeline reproduces antialias=True only"
    )]
    TensorNoAntialias,
    #[error(
        "its {field} is {value:?}: zoorepro reproduces a short-side resize to one size and a square centre crop"
    )]
    SizeList {
        field: &'static str,
        value: Vec<u32>,
    },
}

impl Refusal {
    /// A short name of the reason, for counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::NonSquare { .. } => "non-square input",
            Refusal::Channels(_) => "channels",
            Refusal::Interpolation(_) => "interpolation",
            Refusal::CropMode(_) => "crop_mode",
            Refusal::Channelwise { .. } => "mean/std length",
            Refusal::BadNumber { .. } => "number",
            Refusal::TensorFilter(_) => "tensor path resizes bilinear only",
            Refusal::TensorNoAntialias => "tensor path without antialias",
            Refusal::SizeList { .. } => "size list",
        }
    }
}

/// A recipe name that resolves to no recipe. Each says what was wrong in one line.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{} is neither a recipe preset nor a recipe source{}; presets: {}; sources: {}", quote(.name), hint(.suggestion), .presets.join(", "), SYNTAX)]
    Unknown {
        name: String,
        suggestion: Option<String>,
        presets: Vec<String>,
    },
    #[error("recipe source {}: no family {}{}; the families are {}", quote(.text), quote(.family), hint(.suggestion), FAMILIES.join(", "))]
    UnknownFamily {
        text: String,
        family: String,
        suggestion: Option<String>,
    },
    #[error("recipe source {}: {family} has no {what} {}{}", quote(.text), quote(.name), hint(.suggestion))]
    UnknownName {
        text: String,
        family: &'static str,
        what: &'static str,
        name: String,
        suggestion: Option<String>,
    },
    #[error("recipe source {} is malformed: {reason}", quote(.text))]
    Malformed { text: String, reason: String },
    #[error("recipe source {} is refused: {reason}", quote(.text))]
    Refused { text: String, reason: Refusal },
    #[error("recipe source {}: {}: {reason}", quote(.text), .path.display())]
    File {
        text: String,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "recipe source {} reads a file, which a manifest cannot name (the file could change under it): write the recipe inline",
        quote(.text)
    )]
    FileInManifest { text: String },
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default()
}

/// Whether a source may read a file (`timm:FILE.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Files {
    Read,
    Refuse,
}

/// A recipe by name: a preset (`zoorepro recipes`) or a source, which may read a timm config
/// file. The recipe's name is `name` as written.
pub fn resolve(name: &str) -> Result<Recipe, SourceError> {
    resolve_with(name, Files::Read)
}

/// A recipe by name, reading no file: what a manifest may name.
pub fn resolve_builtin(name: &str) -> Result<Recipe, SourceError> {
    resolve_with(name, Files::Refuse)
}

/// Whether `name` is written as a source (`family:...`) rather than a preset's name.
pub fn is_source(name: &str) -> bool {
    name.contains(':')
}

fn resolve_with(name: &str, files: Files) -> Result<Recipe, SourceError> {
    let Some((family, body)) = name.split_once(':') else {
        return recipe::preset(name).ok_or_else(|| {
            let presets: Vec<String> = recipe::presets().into_iter().map(|r| r.name).collect();
            SourceError::Unknown {
                name: name.to_string(),
                suggestion: suggest::closest(name, presets.iter().map(String::as_str)),
                presets,
            }
        });
    };
    let source = Source { text: name, body };
    match family {
        "timm" => timm::resolve(&source, files),
        "torchvision" => torchvision::resolve(&source),
        "keras" => libraries::keras(&source),
        "keras-dataset" => libraries::keras_dataset(&source),
        "slim" => libraries::slim(&source),
        "mlperf" => libraries::mlperf(&source),
        _ => Err(SourceError::UnknownFamily {
            text: name.to_string(),
            family: family.to_string(),
            suggestion: suggest::closest(family, FAMILIES),
        }),
    }
}

/// A source being resolved: the whole text (the recipe's name) and what follows the family.
struct Source<'a> {
    text: &'a str,
    body: &'a str,
}

impl Source<'_> {
    /// The body split at its last `@` into name and suffix, where the suffix is one of `known`;
    /// an `@` before anything else belongs to the name (a file path may hold one). Two known
    /// suffixes are refused: a source takes one.
    fn split_suffix<'s>(
        &'s self,
        known: &[&str],
    ) -> Result<(&'s str, Option<&'s str>), SourceError> {
        match self.body.rsplit_once('@') {
            Some((name, suffix)) if known.contains(&suffix) => {
                if let Some((_, first)) = name.rsplit_once('@')
                    && known.contains(&first)
                {
                    return Err(self.malformed(format!(
                        "more than one suffix (@{first}, @{suffix}): {} takes one of @{}",
                        self.text
                            .split_once(':')
                            .map_or(self.text, |(family, _)| family),
                        known.join(", @")
                    )));
                }
                Ok((name, Some(suffix)))
            }
            _ => Ok((self.body, None)),
        }
    }

    fn malformed(&self, reason: impl Into<String>) -> SourceError {
        SourceError::Malformed {
            text: self.text.to_string(),
            reason: reason.into(),
        }
    }

    fn refused(&self, reason: Refusal) -> SourceError {
        SourceError::Refused {
            text: self.text.to_string(),
            reason,
        }
    }

    fn unknown(
        &self,
        family: &'static str,
        what: &'static str,
        name: &str,
        suggestion: Option<String>,
    ) -> SourceError {
        SourceError::UnknownName {
            text: self.text.to_string(),
            family,
            what,
            name: name.to_string(),
            suggestion,
        }
    }
}

/// A filter by the lower-case name timm, torchvision and Keras give it.
fn filter_named(name: &str) -> Option<Filter> {
    Filter::ALL
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
}

/// The built-in sources whose tensor is `crop_size` square in `layout`, one per distinct tensor
/// (the first source in the tables' order names it, its description says how many share it),
/// leaving out those the pipelines do not yet reproduce and those making, up to float rounding,
/// the tensor of a recipe in `known` (the presets) or of an earlier source: timm's prefetcher
/// arithmetic `(x - 255*mean) / (255*std)` and ToTensor's `(x / 255 - mean) / std` differ by at
/// most 4.8e-7, which no sample of predictions tells apart. Which sources are tried, and why, is
/// `libraries::explain_sources`'s doc.
pub fn explain_candidates(crop_size: u32, layout: Layout, known: &[Recipe]) -> Vec<Recipe> {
    let mut distinct: Vec<(Recipe, usize)> = Vec::new();
    for name in libraries::explain_sources(crop_size, layout) {
        let Ok(recipe) = resolve_builtin(&name) else {
            continue;
        };
        if recipe.crop_size != crop_size || recipe.layout != layout || recipe.validate().is_err() {
            continue;
        }
        if known.iter().any(|k| nearly_same_tensor(k, &recipe)) {
            continue;
        }
        match distinct
            .iter_mut()
            .find(|(d, _)| nearly_same_tensor(d, &recipe))
        {
            Some((_, count)) => *count += 1,
            None => distinct.push((recipe, 1)),
        }
    }
    distinct
        .into_iter()
        .map(|(mut recipe, count)| {
            if count > 1 {
                let others = match count - 1 {
                    1 => "1 other source".to_string(),
                    n => format!("{n} other sources"),
                };
                recipe.description = format!(
                    "{} (the same tensor, up to float rounding, as {others})",
                    recipe.description
                );
            }
            recipe
        })
        .collect()
}

/// The same geometry and pixels, and a normalisation whose per-channel gain and offset
/// (`x * gain + offset`) agree to a millionth: the same tensor but for float rounding.
fn nearly_same_tensor(a: &Recipe, b: &Recipe) -> bool {
    let affine = |r: &Recipe| {
        let scale = f64::from(r.scale);
        r.mean.into_iter().zip(r.std).map(move |(m, s)| {
            let s = f64::from(s);
            (1.0 / (scale * s), -f64::from(m) / s)
        })
    };
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0);
    let geometry = |r: &Recipe| Recipe {
        scale: 1.0,
        mean: [0.0; 3],
        std: [1.0; 3],
        ..r.clone()
    };
    geometry(a).same_tensor(&geometry(b))
        && affine(a)
            .zip(affine(b))
            .all(|((ga, oa), (gb, ob))| close(ga, gb) && close(oa, ob))
}

#[cfg(test)]
mod tests;
