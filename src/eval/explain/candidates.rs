//! The candidate input pipelines around a model's recipe: the single-field changes users get
//! wrong (filter, resize and crop, channel order, normalisation, Pillow release or Pillow-SIMD,
//! label offset)
//! and every preset and recipe source whose tensor fits the model's input.

use serde::Serialize;

use crate::image::pipelines::PillowCompat;
use crate::image::recipe::{ChannelOrder, Recipe, ResizeMode};

/// Crop ratios tried for the short-side resize: the resize is `int(crop / ratio)`.
pub const CROP_RATIOS: [f64; 4] = [0.875, 0.9, 0.95, 1.0];

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];

/// One way to feed the model: a recipe (its tensor), the Pillow release it matches, and how the
/// output columns map to classes.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    /// A short name: the manifest's recipe, a preset's name, or the recipe with its change.
    pub name: String,
    #[serde(skip)]
    pub recipe: Recipe,
    #[serde(skip)]
    pub compat: PillowCompat,
    pub label_offset: usize,
    /// How it differs from the manifest's recipe, field by field ("filter: BILINEAR -> LANCZOS");
    /// empty for the manifest's recipe itself.
    pub changes: Vec<String>,
    /// "manifest", "variation", "preset" or "source" (a published pipeline a recipe source
    /// names, `image::sources`).
    pub origin: &'static str,
}

impl Candidate {
    /// Whether both are fed the same tensor: the same recipe arithmetic and Pillow release.
    pub fn same_tensor(&self, other: &Candidate) -> bool {
        self.compat == other.compat && self.recipe.same_tensor(&other.recipe)
    }
}

/// A named normalisation: (name, scale, mean, std, the channel order it implies).
type Normalisation = (&'static str, f32, [f32; 3], [f32; 3], Option<ChannelOrder>);

/// The normalisation modes users pick between. Caffe's mode swaps the channels to BGR as
/// Keras's `preprocess_input` does.
fn normalisations() -> [Normalisation; 5] {
    [
        (
            "caffe",
            1.0,
            CAFFE_MEAN_BGR,
            [1.0; 3],
            Some(ChannelOrder::Bgr),
        ),
        ("tf", 127.5, [1.0; 3], [1.0; 3], None),
        ("torch", 255.0, IMAGENET_MEAN, IMAGENET_STD, None),
        ("[0,1]", 255.0, [0.0; 3], [1.0; 3], None),
        ("none", 1.0, [0.0; 3], [1.0; 3], None),
    ]
}

/// The name of a recipe's normalisation, or its arithmetic when it is none of the named modes.
pub fn normalisation_name(recipe: &Recipe) -> String {
    normalisations()
        .into_iter()
        .find(|(_, scale, mean, std, _)| {
            *scale == recipe.scale && *mean == recipe.mean && *std == recipe.std
        })
        .map(|(name, ..)| name.to_string())
        .unwrap_or_else(|| {
            let x = if recipe.scale == 1.0 {
                "x".to_string()
            } else {
                format!("x/{}", recipe.scale)
            };
            let uniform = |v: [f32; 3]| {
                if v[0] == v[1] && v[1] == v[2] {
                    v[0].to_string()
                } else {
                    format!("{v:?}")
                }
            };
            format!("({x} - {}) / {}", uniform(recipe.mean), uniform(recipe.std))
        })
}

fn geometry_name(recipe: &Recipe) -> String {
    match recipe.resize_mode {
        ResizeMode::Squash => format!("squash to {}", recipe.crop_size),
        ResizeMode::ShorterSide => format!(
            "short side {}, crop {} (ratio {:.3})",
            recipe.resize_size,
            recipe.crop_size,
            f64::from(recipe.crop_size) / f64::from(recipe.resize_size)
        ),
        mode => mode.describe(recipe.resize_size, recipe.crop_size),
    }
}

fn channels_name(channels: ChannelOrder) -> &'static str {
    match channels {
        ChannelOrder::Rgb => "RGB",
        ChannelOrder::Bgr => "BGR",
    }
}

/// How `other` differs from `base`, one entry per field that changes.
pub fn differences(
    base: (&Recipe, PillowCompat, usize),
    other: (&Recipe, PillowCompat, usize),
) -> Vec<String> {
    let ((a, a_compat, a_offset), (b, b_compat, b_offset)) = (base, other);
    let mut changes = Vec::new();
    let mut change = |field: &str, from: String, to: String| {
        if from != to {
            changes.push(format!("{field}: {from} -> {to}"));
        }
    };
    change("library", a.library.name().into(), b.library.name().into());
    // The variant's data name ("slim-inception"): a library's pipelines differ in arithmetic
    // that no other field shows (tf-inception-299 and slim-inception-299 differ only here).
    let variant = |recipe: &Recipe| {
        serde_json::to_value(recipe.variant)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    change("variant", variant(a), variant(b));
    change("resize", geometry_name(a), geometry_name(b));
    change("filter", a.filter.name().into(), b.filter.name().into());
    change(
        "normalisation",
        normalisation_name(a),
        normalisation_name(b),
    );
    change(
        "channels",
        channels_name(a.channels).into(),
        channels_name(b.channels).into(),
    );
    change("layout", a.layout.name().into(), b.layout.name().into());
    change(
        "pillow",
        a_compat.name().to_string(),
        b_compat.name().to_string(),
    );
    change("label offset", a_offset.to_string(), b_offset.to_string());
    changes
}

/// The recipe with one field changed, named after the change.
fn variation(base: &Recipe, suffix: &str, change: impl FnOnce(&mut Recipe)) -> Recipe {
    let mut recipe = base.clone();
    change(&mut recipe);
    recipe.name = format!("{}+{suffix}", base.name);
    recipe.description = format!("{} with {suffix}", base.name);
    recipe
}

/// The single-field variations of `base` (filters, geometry, channels, normalisation). The
/// filters are those its pipeline varies (Pillow's; another library's resize has its own fixed
/// arithmetic).
fn variations(base: &Recipe) -> Vec<Recipe> {
    let mut out = Vec::new();
    for &filter in base.library.pipeline().filter_variations() {
        out.push(variation(base, filter.name(), |r| r.filter = filter));
    }
    out.push(variation(base, "squash", |r| {
        r.resize_mode = ResizeMode::Squash;
        r.resize_size = r.crop_size;
    }));
    for ratio in CROP_RATIOS {
        let resize = (f64::from(base.crop_size) / ratio).floor() as u32;
        out.push(variation(base, &format!("crop{ratio}"), |r| {
            r.resize_mode = ResizeMode::ShorterSide;
            r.resize_size = resize;
        }));
    }
    out.push(variation(base, "channels-swapped", |r| {
        r.channels = match r.channels {
            ChannelOrder::Rgb => ChannelOrder::Bgr,
            ChannelOrder::Bgr => ChannelOrder::Rgb,
        }
    }));
    for (name, scale, mean, std, channels) in normalisations() {
        out.push(variation(base, name, |r| {
            (r.scale, r.mean, r.std) = (scale, mean, std);
            if let Some(channels) = channels {
                r.channels = channels;
            }
        }));
    }
    out
}

/// Every candidate for a model whose manifest recipe is `base` (with `compat` and
/// `label_offset`, on an output of `classes` columns): the recipe itself first, then its
/// single-field variations, the other Pillow releases (12, 13, Pillow-SIMD), the other label offset of a 1001-class
/// output, and the `presets` (and recipe sources) of the same input shape. A candidate that would feed the same
/// tensor with the same offset as an earlier one is left out.
pub fn candidates(
    base: &Recipe,
    compat: PillowCompat,
    label_offset: usize,
    classes: usize,
    presets: &[Recipe],
) -> Vec<Candidate> {
    let own = (base, compat, label_offset);
    let mut out = vec![Candidate {
        name: base.name.clone(),
        recipe: base.clone(),
        compat,
        label_offset,
        changes: Vec::new(),
        origin: "manifest",
    }];
    let mut push = |recipe: Recipe, compat: PillowCompat, offset: usize, origin| {
        let candidate = Candidate {
            name: recipe.name.clone(),
            changes: differences(own, (&recipe, compat, offset)),
            recipe,
            compat,
            label_offset: offset,
            origin,
        };
        let repeated = out
            .iter()
            .any(|c| c.same_tensor(&candidate) && c.label_offset == offset);
        if !repeated && candidate.recipe.validate().is_ok() {
            out.push(candidate);
        }
    };
    for recipe in variations(base) {
        push(recipe, compat, label_offset, "variation");
    }
    let releases = base.library.pipeline().release_variations();
    for &other_compat in releases.iter().filter(|&&c| c != compat) {
        let mut other = base.clone();
        other.name = match other_compat {
            PillowCompat::Simd => format!("{}+pillow-simd", base.name),
            _ => format!("{}+pillow{}", base.name, other_compat.name()),
        };
        push(other, other_compat, label_offset, "variation");
    }
    if classes == 1001 {
        let mut shifted = base.clone();
        shifted.name = format!("{}+offset{}", base.name, 1 - label_offset.min(1));
        push(shifted, compat, 1 - label_offset.min(1), "variation");
    }
    for preset in presets {
        if preset.sample_shape() == base.sample_shape() && preset.layout == base.layout {
            let origin = if crate::image::sources::is_source(&preset.name) {
                "source"
            } else {
                "preset"
            };
            push(preset.clone(), compat, label_offset, origin);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::recipe::{preset, presets};

    #[test]
    fn a_variant_is_a_change_of_its_own() {
        let tf2 = preset("tf-inception-299").unwrap();
        let slim = preset("slim-inception-299").unwrap();
        let compat = PillowCompat::V13;
        assert_eq!(
            differences((&tf2, compat, 0), (&slim, compat, 0)),
            ["variant: standard -> slim-inception"]
        );
    }

    #[test]
    fn candidates_start_with_the_manifest_recipe_and_name_their_one_change() {
        let base = preset("torchvision").unwrap();
        let all = candidates(&base, PillowCompat::V13, 0, 1000, &presets());
        assert_eq!(all[0].origin, "manifest");
        assert!(all[0].changes.is_empty());
        let lanczos = all
            .iter()
            .find(|c| c.name == "torchvision+LANCZOS")
            .unwrap();
        assert_eq!(lanczos.changes, ["filter: BILINEAR -> LANCZOS"]);
        let caffe = all.iter().find(|c| c.name == "torchvision+caffe").unwrap();
        assert_eq!(
            caffe.changes,
            ["normalisation: torch -> caffe", "channels: RGB -> BGR"]
        );
        let crop = all.iter().find(|c| c.name == "torchvision+crop1").unwrap();
        assert_eq!(
            crop.changes,
            [
                "resize: short side 256, crop 224 (ratio 0.875) -> short side 224, crop 224 (ratio 1.000)"
            ]
        );
        // The manifest's own filter, ratio and normalisation are not repeated as variations,
        // nor is the torchvision preset, which is the same tensor.
        assert!(!all.iter().any(|c| c.name == "torchvision+BILINEAR"));
        assert!(!all.iter().any(|c| c.name == "torchvision+crop0.875"));
        assert!(!all.iter().any(|c| c.name == "torchvision+torch"));
        assert!(
            !all.iter()
                .any(|c| c.origin == "preset" && c.name == "torchvision")
        );
        // A 1000-class output has no offset variation; presets of another shape are left out.
        assert!(all.iter().all(|c| c.label_offset == 0));
        // timm-bicubic is torchvision+BICUBIC's tensor; Keras presets are another shape.
        assert!(!all.iter().any(|c| c.name == "timm-bicubic"));
        assert!(all.iter().any(|c| c.name == "torchvision+BICUBIC"));
        assert!(!all.iter().any(|c| c.name.starts_with("keras-")));
        let pillow12 = all.iter().find(|c| c.compat == PillowCompat::V12).unwrap();
        assert_eq!(pillow12.changes, ["pillow: 13 -> 12"]);
        let simd = all.iter().find(|c| c.compat == PillowCompat::Simd).unwrap();
        assert_eq!(simd.name, "torchvision+pillow-simd");
        assert_eq!(simd.changes, ["pillow: 13 -> simd"]);
    }

    #[test]
    fn other_normalisations_are_named_by_their_arithmetic() {
        let mut recipe = preset("torchvision").unwrap();
        (recipe.scale, recipe.mean, recipe.std) = (1.0, [128.0; 3], [128.0; 3]);
        assert_eq!(normalisation_name(&recipe), "(x - 128) / 128");
        recipe.scale = 255.0;
        recipe.mean = [1.0, 2.0, 3.0];
        assert_eq!(
            normalisation_name(&recipe),
            "(x/255 - [1.0, 2.0, 3.0]) / 128"
        );
    }

    #[test]
    fn a_1001_class_output_gets_the_other_label_offset() {
        let base = preset("keras-tf-224").unwrap();
        let all = candidates(&base, PillowCompat::V13, 1, 1001, &presets());
        let shifted = all.iter().find(|c| c.label_offset == 0).unwrap();
        assert_eq!(shifted.changes, ["label offset: 1 -> 0"]);
        assert_eq!(all.iter().filter(|c| c.label_offset == 0).count(), 1);
    }
}
