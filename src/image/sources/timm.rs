//! `timm:NAME[@no-prefetcher]` and `timm:FILE.json[@no-prefetcher]`: what timm's validate.py
//! feeds a model by default, from its pretrained config.
//!
//! validate.py resolves the data config with `resolve_data_config(model=..., use_test_size=True)`
//! (timm/data/config.py): `test_input_size` and `test_crop_pct` where the config has them, timm's
//! defaults where a field is unset (224, bicubic, ImageNet mean/std, crop_pct 0.875, crop_mode
//! center). `transforms_imagenet_eval` then resizes to `scale_size = floor(size / crop_pct)`:
//! the short side for crop_mode center (torchvision `Resize`), both sides for squash, the long
//! side with padding filled with `round(255 * mean)` for border, and centre-crops `size`, on the
//! PIL image. By default the prefetcher normalises the uint8 batch: `(x - 255*mean) / (255*std)`
//! with `255*mean` computed in Python floats, then made a float32 tensor (timm/data/loader.py);
//! `--no-prefetcher` runs ToTensor (x / 255) and Normalize(mean, std) instead.
//!
//! The configs come from `timm.json` beside this file, written from timm 1.0.31 itself by
//! `scripts/tables/generate_recipe_tables.py`, which also checks this rule against timm's own
//! transforms for every config. Numbers are read with serde_json's `float_roundtrip`, so the
//! 17-digit means of some configs are the Python floats exactly.

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{Files, Refusal, Source, SourceError, filter_named, suggest};
use crate::image::recipe::{ChannelOrder, Filter, Layout, Library, Recipe, ResizeMode, Variant};

/// timm/data/constants.py: what a config that leaves a field unset gets.
const DEFAULT_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
const DEFAULT_STD: [f64; 3] = [0.229, 0.224, 0.225];
const DEFAULT_CROP_PCT: f64 = 0.875;
const DEFAULT_INPUT_SIZE: [u32; 3] = [3, 224, 224];
/// A pretrained config (or a Hugging Face `config.json` holding one) is a few KB.
const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// The fields `resolve_data_config` reads, by the names a config file gives them.
pub const FIELDS: [&str; 8] = [
    "input_size",
    "test_input_size",
    "interpolation",
    "crop_pct",
    "test_crop_pct",
    "crop_mode",
    "mean",
    "std",
];

/// The fields of a pretrained config that validate.py's data config reads, unset as `None`. The
/// table stores each as an array in [`FIELDS`]' order; a config file as an object.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PretrainedCfg {
    pub input_size: Option<Vec<u32>>,
    pub test_input_size: Option<Vec<u32>>,
    pub interpolation: Option<String>,
    pub crop_pct: Option<f64>,
    pub test_crop_pct: Option<f64>,
    pub crop_mode: Option<String>,
    pub mean: Option<Vec<f64>>,
    pub std: Option<Vec<f64>>,
}

/// The shipped table: the distinct configs, and every pretrained config's name, its config's
/// index and whether it is its architecture's default tag.
#[derive(Deserialize)]
pub(super) struct Table {
    pub timm: String,
    pub cfgs: Vec<PretrainedCfg>,
    pub configs: Vec<(String, usize, u8)>,
}

pub(super) fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("timm.json"))
            .expect("the embedded timm table parses (checked by the unit tests)")
    })
}

/// Every pretrained config's name, in the table's order (timm's `list_pretrained`).
pub fn names() -> impl Iterator<Item = &'static str> {
    table().configs.iter().map(|(name, ..)| name.as_str())
}

/// The timm release the table was written from.
pub fn version() -> &'static str {
    &table().timm
}

pub(super) fn resolve(source: &Source<'_>, files: Files) -> Result<Recipe, SourceError> {
    let (name, suffix) = source.split_suffix(&["no-prefetcher"])?;
    let prefetcher = suffix.is_none();
    let is_file = name.ends_with(".json");
    if !is_file && let Some((_, suffix)) = name.rsplit_once('@') {
        return Err(source.malformed(format!(
            "unknown suffix @{suffix}: timm takes @no-prefetcher (validate.py --no-prefetcher) or none (its default)"
        )));
    }
    let (cfg, what) = if is_file {
        if files == Files::Refuse {
            return Err(SourceError::FileInManifest {
                text: source.text.to_string(),
            });
        }
        (read_config(source, Path::new(name))?, name.to_string())
    } else {
        let (full, cfg) = lookup(source, name)?;
        (cfg.clone(), full.to_string())
    };
    let mut recipe = recipe_of(&cfg, prefetcher).map_err(|r| source.refused(r))?;
    recipe.name = source.text.to_string();
    recipe.description = format!(
        "timm {} validate.py{} for {what}: {}",
        version(),
        if prefetcher { "" } else { " --no-prefetcher" },
        recipe.description
    );
    Ok(recipe)
}

/// A config by its full name, or an architecture's default tag by the architecture's name (as
/// `timm.create_model(arch, pretrained=True)` picks it).
fn lookup<'t>(
    source: &Source<'_>,
    name: &str,
) -> Result<(&'t str, &'t PretrainedCfg), SourceError> {
    let table = table();
    let found = table.configs.iter().find(|(full, _, default)| {
        full == name
            || (*default == 1 && full.split_once('.').is_some_and(|(arch, _)| arch == name))
    });
    match found {
        Some((full, index, _)) => Ok((full.as_str(), &table.cfgs[*index])),
        None => Err(source.unknown(
            "timm",
            "pretrained config",
            name,
            suggest::closest(name, names()),
        )),
    }
}

/// A JSON of pretrained-config fields, or a Hugging Face `config.json` holding them under
/// `pretrained_cfg`.
fn read_config(source: &Source<'_>, path: &Path) -> Result<PretrainedCfg, SourceError> {
    let error = |reason: String| SourceError::File {
        text: source.text.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    let bytes =
        crate::util::safe_file::read_regular(path, MAX_CONFIG_BYTES, "a timm pretrained config")
            .map_err(|e| error(e.reason()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| error(format!("it is not JSON ({e})")))?;
    let value = match value.get("pretrained_cfg") {
        Some(inner) if inner.is_object() => inner.clone(),
        _ => value,
    };
    let Some(object) = value.as_object() else {
        return Err(error(
            "it is not a JSON object of timm pretrained-config fields".into(),
        ));
    };
    if !FIELDS.iter().any(|field| object.contains_key(*field)) {
        return Err(error(format!(
            "it holds none of the pretrained-config fields timm's data config reads ({})",
            FIELDS.join(", ")
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| error(format!("a pretrained-config field has the wrong type: {e}")))
}

/// A Python truthiness test, as `resolve_data_config` makes it: unset and empty are the default.
fn truthy<T: AsRef<[U]>, U>(value: &Option<T>) -> Option<&[U]> {
    value
        .as_ref()
        .map(AsRef::as_ref)
        .filter(|items| !items.is_empty())
}

/// validate.py's data config and eval transform for `cfg`, as a recipe (unnamed; its
/// description says the geometry and the arithmetic).
pub fn recipe_of(cfg: &PretrainedCfg, prefetcher: bool) -> Result<Recipe, Refusal> {
    let size = input_size(cfg)?;
    let interpolation = cfg
        .interpolation
        .as_deref()
        .filter(|name| !name.is_empty())
        .unwrap_or("bicubic");
    // timm's str_to_interp_mode knows the lower-case names only.
    let filter = filter_named(interpolation)
        .filter(|f| f.name().to_lowercase() == interpolation)
        .ok_or_else(|| Refusal::Interpolation(interpolation.to_string()))?;
    let mean = triple("mean", truthy(&cfg.mean).unwrap_or(&DEFAULT_MEAN))?;
    let std = triple("std", truthy(&cfg.std).unwrap_or(&DEFAULT_STD))?;
    if let Some(&value) = std.iter().find(|s| **s == 0.0) {
        return Err(Refusal::BadNumber {
            field: "std",
            value,
            why: "a zero divisor",
        });
    }
    let crop_pct = [cfg.test_crop_pct, cfg.crop_pct]
        .into_iter()
        .flatten()
        .find(|pct| *pct != 0.0)
        .unwrap_or(DEFAULT_CROP_PCT);
    let scale_size = (f64::from(size) / crop_pct).floor();
    if !(1.0..=8192.0).contains(&scale_size) {
        return Err(Refusal::BadNumber {
            field: "crop_pct",
            value: crop_pct,
            why: "the resize it sets, floor(size / crop_pct), is outside 1..=8192",
        });
    }
    let crop_mode = cfg
        .crop_mode
        .as_deref()
        .filter(|mode| !mode.is_empty())
        .unwrap_or("center");
    let (resize_mode, fill) = match crop_mode {
        "center" => (ResizeMode::ShorterSide, [0; 3]),
        "squash" => (ResizeMode::SquashCrop, [0; 3]),
        "border" => (ResizeMode::FitPad, border_fill(mean)?),
        other => return Err(Refusal::CropMode(other.to_string())),
    };
    Ok(build(
        (resize_mode, scale_size as u32, size, filter),
        (mean, std, prefetcher),
        fill,
    ))
}

/// The square side validate.py crops: `test_input_size`, else `input_size`, else 224.
fn input_size(cfg: &PretrainedCfg) -> Result<u32, Refusal> {
    let (field, given) = match (&cfg.test_input_size, &cfg.input_size) {
        (Some(test), _) => ("test_input_size", test.as_slice()),
        (None, Some(input)) => ("input_size", input.as_slice()),
        (None, None) => ("input_size", DEFAULT_INPUT_SIZE.as_slice()),
    };
    match *given {
        [3, height, width] if height != width => Err(Refusal::NonSquare { height, width }),
        [3, 0, _] => Err(Refusal::BadNumber {
            field,
            value: 0.0,
            why: "an empty image",
        }),
        [3, size, _] if size <= 4096 => Ok(size),
        [3, size, _] => Err(Refusal::BadNumber {
            field,
            value: f64::from(size),
            why: "zoorepro crops at most 4096 pixels",
        }),
        [channels, _, _] => Err(Refusal::Channels(channels)),
        _ => Err(Refusal::SizeList {
            field,
            value: given.to_vec(),
        }),
    }
}

fn triple(field: &'static str, values: &[f64]) -> Result<[f64; 3], Refusal> {
    let [a, b, c] = *values else {
        return Err(Refusal::Channelwise {
            field,
            count: values.len(),
        });
    };
    if let Some(&value) = values.iter().find(|v| !v.is_finite()) {
        return Err(Refusal::BadNumber {
            field,
            value,
            why: "not a finite number",
        });
    }
    Ok([a, b, c])
}

/// `[round(255 * v) for v in mean]`: Python's round, half to even.
fn border_fill(mean: [f64; 3]) -> Result<[u8; 3], Refusal> {
    let mut fill = [0u8; 3];
    for (out, m) in fill.iter_mut().zip(mean) {
        let level = (255.0 * m).round_ties_even();
        if !(0.0..=255.0).contains(&level) {
            return Err(Refusal::BadNumber {
                field: "mean",
                value: m,
                why: "crop_mode border pads with round(255 * mean), which must be a level 0..=255",
            });
        }
        *out = level as u8;
    }
    Ok(fill)
}

/// The recipe: geometry (mode, resize, crop, filter), normalisation (the config's mean and std,
/// by the prefetcher's arithmetic or ToTensor + Normalize's) and the border's fill.
fn build(
    (resize_mode, resize_size, crop_size, filter): (ResizeMode, u32, u32, Filter),
    (mean, std, prefetcher): ([f64; 3], [f64; 3], bool),
    fill: [u8; 3],
) -> Recipe {
    // The prefetcher's tensors are `torch.tensor([x * 255 for x in mean])`: the product in
    // Python floats, rounded once to float32; Normalize's are `torch.tensor(mean)`.
    let (scale, factor, arithmetic) = if prefetcher {
        (
            1.0,
            255.0,
            "uint8 to float32, (x - 255*mean) / (255*std) (the prefetcher)",
        )
    } else {
        (255.0, 1.0, "ToTensor (x / 255), Normalize(mean, std)")
    };
    let f32s = |values: [f64; 3]| values.map(|v| (factor * v) as f32);
    Recipe {
        name: String::new(),
        description: format!(
            "{} {}, {arithmetic} with mean {mean:?}, std {std:?}, NCHW",
            resize_mode.describe(resize_size, crop_size),
            filter.name().to_lowercase(),
        ),
        resize_mode,
        resize_size,
        crop_size,
        filter,
        scale,
        mean: f32s(mean),
        std: f32s(std),
        channels: ChannelOrder::Rgb,
        layout: Layout::Nchw,
        library: Library::Pillow,
        variant: Variant::Standard,
        fill,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::sources::resolve;

    #[test]
    fn the_table_is_timms_and_every_row_points_at_a_config() {
        let table = table();
        assert_eq!(table.timm, "1.0.31");
        assert_eq!(table.configs.len(), 1826);
        assert!(table.configs.iter().all(|(_, i, _)| *i < table.cfgs.len()));
        // One default tag per architecture.
        let mut archs: Vec<&str> = names().map(|n| n.split('.').next().unwrap()).collect();
        archs.dedup();
        let defaults = table.configs.iter().filter(|(.., d)| *d == 1).count();
        assert_eq!(defaults, archs.len());
    }

    #[test]
    fn center_configs_resize_the_short_side_to_floor_size_over_crop_pct() {
        // resnet50.a1_in1k: 224, test 288, crop_pct 0.95, test_crop_pct 1.0, bicubic.
        let r = resolve("timm:resnet50.a1_in1k").unwrap();
        assert_eq!(r.name, "timm:resnet50.a1_in1k");
        assert_eq!(
            (r.resize_mode, r.resize_size, r.crop_size, r.filter),
            (ResizeMode::ShorterSide, 288, 288, Filter::Bicubic)
        );
        // f32(255.0 * mean) and f32(255.0 * std), as the generator's canonical lines say.
        assert_eq!(r.scale, 1.0);
        assert_eq!(
            r.mean.map(f32::to_bits),
            [0x42f7_599a, 0x42e8_8f5c, 0x42cf_0f5c]
        );
        assert_eq!(
            r.std.map(f32::to_bits),
            [0x4269_947b, 0x4264_7ae1, 0x4265_8000]
        );
        // The architecture alone is its default tag.
        assert!(resolve("timm:resnet50").unwrap().same_tensor(&r));
        let plain = resolve("timm:resnet50.a1_in1k@no-prefetcher").unwrap();
        assert_eq!((plain.scale, plain.mean), (255.0, [0.485, 0.456, 0.406]));
        assert_eq!(plain.std, [0.229, 0.224, 0.225]);
    }

    #[test]
    fn inception_v3_tv_in1k_normalises_with_one_half() {
        let r = resolve("timm:inception_v3.tv_in1k").unwrap();
        assert_eq!((r.resize_size, r.crop_size), (341, 299));
        assert_eq!((r.scale, r.mean, r.std), (1.0, [127.5; 3], [127.5; 3]));
        let plain = resolve("timm:inception_v3.tv_in1k@no-prefetcher").unwrap();
        assert_eq!(
            (plain.scale, plain.mean, plain.std),
            (255.0, [0.5; 3], [0.5; 3])
        );
        // A bicubic 0.875 config of ImageNet mean/std without the prefetcher is the preset.
        let densenet = resolve("timm:densenet121.tv_in1k@no-prefetcher").unwrap();
        assert!(densenet.same_tensor(&crate::image::recipe::preset("timm-bicubic").unwrap()));
    }

    #[test]
    fn squash_and_border_configs_keep_their_crop_mode() {
        let squash = table()
            .configs
            .iter()
            .find(|(_, i, _)| {
                let cfg = &table().cfgs[*i];
                cfg.crop_mode.as_deref() == Some("squash")
                    && cfg.input_size == Some(vec![3, 224, 224])
            })
            .unwrap();
        let r = resolve(&format!("timm:{}", squash.0)).unwrap();
        assert_eq!(r.resize_mode, ResizeMode::SquashCrop);
        let cfg = PretrainedCfg {
            input_size: Some(vec![3, 224, 224]),
            crop_pct: Some(1.0),
            crop_mode: Some("border".into()),
            mean: Some(vec![0.5, 0.5, 0.5]),
            std: Some(vec![0.5, 0.5, 0.5]),
            ..Default::default()
        };
        let r = recipe_of(&cfg, true).unwrap();
        // round(127.5) is 128 in Python (half to even).
        assert_eq!(
            (r.resize_mode, r.resize_size, r.fill),
            (ResizeMode::FitPad, 224, [128; 3])
        );
    }

    #[test]
    fn unset_fields_take_timms_defaults_and_bad_ones_are_refused() {
        let r = recipe_of(&PretrainedCfg::default(), false).unwrap();
        assert_eq!(
            (r.resize_size, r.crop_size, r.filter, r.mean),
            (256, 224, Filter::Bicubic, [0.485, 0.456, 0.406])
        );
        let with = |change: fn(&mut PretrainedCfg)| {
            let mut cfg = PretrainedCfg::default();
            change(&mut cfg);
            recipe_of(&cfg, true).unwrap_err()
        };
        assert_eq!(
            with(|c| c.input_size = Some(vec![3, 1024, 768])),
            Refusal::NonSquare {
                height: 1024,
                width: 768
            }
        );
        assert_eq!(
            with(|c| c.input_size = Some(vec![1, 224, 224])),
            Refusal::Channels(1)
        );
        assert_eq!(
            with(|c| c.interpolation = Some("random".into())),
            Refusal::Interpolation("random".into())
        );
        assert_eq!(
            with(|c| c.crop_mode = Some("centre".into())),
            Refusal::CropMode("centre".into())
        );
        assert!(matches!(
            with(|c| c.mean = Some(vec![0.5, 0.5])),
            Refusal::Channelwise { count: 2, .. }
        ));
        assert!(matches!(
            with(|c| c.crop_pct = Some(0.001)),
            Refusal::BadNumber {
                field: "crop_pct",
                ..
            }
        ));
        assert!(matches!(
            with(|c| c.std = Some(vec![0.0, 1.0, 1.0])),
            Refusal::BadNumber { field: "std", .. }
        ));
    }
}
