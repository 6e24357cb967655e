//! `torchvision:WEIGHTS[@tensor-v2|@tensor-v1]`: what a weight's own `weights.transforms()`
//! (`ImageClassification`) makes of an image: `Resize(resize_size, interpolation)` of the short
//! side, `CenterCrop(crop_size)`, `convert_image_dtype` (x / 255), `Normalize(mean, std)`, NCHW.
//!
//! Without a suffix the image is a PIL image (`Image.open(...).convert('RGB')`, Pillow's resize:
//! the Pillow pipeline). `@tensor-v2` is the same transform on `decode_jpeg` tensors with the v2
//! transforms (the torch pipeline's standard path), `@tensor-v1` with the v1 transforms (its
//! `tensor-v1` variant). The torch pipeline reproduces torch's antialiased bilinear resize only,
//! so a bicubic weight with a tensor suffix is refused.
//!
//! WEIGHTS is `Enum.MEMBER` as torchvision spells it (`ResNet50_Weights.IMAGENET1K_V2`),
//! `Enum.DEFAULT`, or a model's name (`resnet50`) for its default weights, as
//! `get_model_weights(name).DEFAULT`. The weights come from `torchvision.json` beside this file,
//! written from torchvision 0.29.2 itself by `scripts/tables/generate_recipe_tables.py`.

use std::sync::OnceLock;

use serde::Deserialize;

use super::{Refusal, Source, SourceError, filter_named, suggest};
use crate::image::recipe::{ChannelOrder, Filter, Layout, Library, Recipe, ResizeMode, Variant};

/// One classification weight and the fields of its `transforms()`.
#[derive(Deserialize)]
pub(super) struct Weights {
    pub weights: String,
    pub model: String,
    pub resize_size: Vec<u32>,
    pub crop_size: Vec<u32>,
    pub interpolation: String,
    pub antialias: bool,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub default: u8,
}

#[derive(Deserialize)]
pub(super) struct Table {
    pub torchvision: String,
    pub weights: Vec<Weights>,
}

pub(super) fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("torchvision.json"))
            .expect("the embedded torchvision table parses (checked by the unit tests)")
    })
}

/// Every weight's name (`ResNet50_Weights.IMAGENET1K_V2`), in the table's order.
pub fn names() -> impl Iterator<Item = &'static str> {
    table().weights.iter().map(|w| w.weights.as_str())
}

/// The torchvision release the table was written from.
pub fn version() -> &'static str {
    &table().torchvision
}

/// Which images the transform runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    Pil,
    TensorV2,
    TensorV1,
}

impl Path {
    pub const SUFFIXES: [&str; 2] = ["tensor-v2", "tensor-v1"];

    fn of(suffix: Option<&str>) -> Path {
        match suffix {
            Some("tensor-v2") => Path::TensorV2,
            Some("tensor-v1") => Path::TensorV1,
            _ => Path::Pil,
        }
    }
}

pub(super) fn resolve(source: &Source<'_>) -> Result<Recipe, SourceError> {
    let (name, suffix) = source.split_suffix(&Path::SUFFIXES)?;
    if let Some((_, suffix)) = name.rsplit_once('@') {
        return Err(source.malformed(format!(
            "unknown suffix @{suffix}: torchvision takes @tensor-v2 or @tensor-v1 (decode_jpeg tensors with the v2 or v1 transforms) or none (a PIL image)"
        )));
    }
    let weights = lookup(name).ok_or_else(|| {
        let candidates = names().chain(table().weights.iter().map(|w| w.model.as_str()));
        source.unknown(
            "torchvision",
            "classification weights",
            name,
            suggest::closest(name, candidates),
        )
    })?;
    let path = Path::of(suffix);
    let mut recipe = recipe_of(weights, path).map_err(|r| source.refused(r))?;
    recipe.name = source.text.to_string();
    Ok(recipe)
}

/// A weight by its name, its enum's DEFAULT, or its model's name (the default weights).
fn lookup(name: &str) -> Option<&'static Weights> {
    let weights = &table().weights;
    let default_of = |enum_name: &str| {
        weights.iter().find(|w| {
            w.default == 1 && w.weights.split_once('.').map(|(e, _)| e) == Some(enum_name)
        })
    };
    match name.strip_suffix(".DEFAULT") {
        Some(enum_name) => default_of(enum_name),
        None => weights
            .iter()
            .find(|w| w.weights == name || (w.default == 1 && w.model == name)),
    }
}

/// The weight's transform on `path`'s images, as a recipe.
pub(super) fn recipe_of(weights: &Weights, path: Path) -> Result<Recipe, Refusal> {
    let single = |field: &'static str, sizes: &[u32]| match *sizes {
        [size] if (1..=4096).contains(&size) => Ok(size),
        _ => Err(Refusal::SizeList {
            field,
            value: sizes.to_vec(),
        }),
    };
    let resize_size = single("resize_size", &weights.resize_size)?;
    let crop_size = single("crop_size", &weights.crop_size)?;
    let filter = filter_named(&weights.interpolation)
        .ok_or_else(|| Refusal::Interpolation(weights.interpolation.clone()))?;
    let (library, variant, images) = match path {
        Path::Pil => (Library::Pillow, Variant::Standard, "a PIL image"),
        Path::TensorV2 => (
            Library::Torch,
            Variant::Standard,
            "decode_jpeg tensors, v2 transforms",
        ),
        Path::TensorV1 => (
            Library::Torch,
            Variant::TensorV1,
            "decode_jpeg tensors, v1 transforms",
        ),
    };
    if path != Path::Pil && filter != Filter::Bilinear {
        return Err(Refusal::TensorFilter(filter.name()));
    }
    if path != Path::Pil && !weights.antialias {
        return Err(Refusal::TensorNoAntialias);
    }
    let triple = |field: &'static str, values: &[f64]| match *values {
        // Normalize makes float32 tensors of the Python floats.
        [a, b, c] => Ok([a as f32, b as f32, c as f32]),
        _ => Err(Refusal::Channelwise {
            field,
            count: values.len(),
        }),
    };
    Ok(Recipe {
        name: weights.weights.clone(),
        description: format!(
            "torchvision {} {}.transforms() on {images}: Resize({resize_size}) {}, \
             CenterCrop({crop_size}), x / 255, Normalize(mean {:?}, std {:?}), NCHW",
            version(),
            weights.weights,
            filter.name().to_lowercase(),
            weights.mean,
            weights.std
        ),
        resize_mode: ResizeMode::ShorterSide,
        resize_size,
        crop_size,
        filter,
        scale: 255.0,
        mean: triple("mean", &weights.mean)?,
        std: triple("std", &weights.std)?,
        channels: ChannelOrder::Rgb,
        layout: Layout::Nchw,
        library,
        variant,
        fill: [0; 3],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::recipe::preset;
    use crate::image::sources::resolve;

    #[test]
    fn the_table_is_torchvisions_115_classification_weights() {
        assert!(version().starts_with("0.29.2"));
        assert_eq!(table().weights.len(), 115);
        let models: std::collections::BTreeSet<&str> =
            table().weights.iter().map(|w| w.model.as_str()).collect();
        let defaults = table().weights.iter().filter(|w| w.default == 1).count();
        assert_eq!((models.len(), defaults), (80, 80));
    }

    #[test]
    fn v1_weights_on_pil_images_are_the_torchvision_preset() {
        let alexnet = resolve("torchvision:AlexNet_Weights.IMAGENET1K_V1").unwrap();
        assert_eq!(alexnet.name, "torchvision:AlexNet_Weights.IMAGENET1K_V1");
        assert!(alexnet.same_tensor(&preset("torchvision").unwrap()));
        let inception = resolve("torchvision:Inception_V3_Weights.IMAGENET1K_V1").unwrap();
        assert!(inception.same_tensor(&preset("torchvision-inception").unwrap()));
        let tensor = resolve("torchvision:ResNet18_Weights.IMAGENET1K_V1@tensor-v2").unwrap();
        assert!(tensor.same_tensor(&preset("torchvision-tensor").unwrap()));
    }

    #[test]
    fn v2_weights_resize_to_232_and_names_find_defaults() {
        let r = resolve("torchvision:ResNet50_Weights.IMAGENET1K_V2").unwrap();
        assert_eq!(
            (
                r.resize_mode,
                r.resize_size,
                r.crop_size,
                r.filter,
                r.library
            ),
            (
                ResizeMode::ShorterSide,
                232,
                224,
                Filter::Bilinear,
                Library::Pillow
            )
        );
        assert!(resolve("torchvision:resnet50").unwrap().same_tensor(&r));
        assert!(
            resolve("torchvision:ResNet50_Weights.DEFAULT")
                .unwrap()
                .same_tensor(&r)
        );
        let v1 = resolve("torchvision:ResNet50_Weights.IMAGENET1K_V2@tensor-v1").unwrap();
        assert_eq!(
            (v1.library, v1.variant),
            (Library::Torch, Variant::TensorV1)
        );
        // VGG16's features weights normalise with their own mean and std.
        let features = resolve("torchvision:VGG16_Weights.IMAGENET1K_FEATURES").unwrap();
        assert_eq!(features.std, [1.0 / 255.0; 3].map(|s: f64| s as f32));
    }

    #[test]
    fn bicubic_weights_are_refused_on_tensors_only() {
        let name = "torchvision:ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1";
        let pil = resolve(name).unwrap();
        assert_eq!(
            (pil.filter, pil.resize_size, pil.crop_size),
            (Filter::Bicubic, 384, 384)
        );
        let error = resolve(&format!("{name}@tensor-v2")).unwrap_err();
        assert!(
            matches!(
                &error,
                SourceError::Refused {
                    reason: Refusal::TensorFilter("BICUBIC"),
                    ..
                }
            ),
            "{error}"
        );
        assert!(
            error.to_string().contains("antialiased bilinear"),
            "{error}"
        );
    }
}
