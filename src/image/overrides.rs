//! timm-style changes to a recipe (`verify --img-size --crop-pct --crop-mode --interpolation
//! --mean --std --channels --layout`): a recipe derived from a base one, named after it and the
//! changes (`efficientnet-lite0-224 + crop_pct=0.875`).
//!
//! The flags mean what timm's `validate.py` flags mean: the crop is `img_size` square, the resize
//! before it `floor(img_size / crop_pct)` (the short side for crop mode center, both sides for
//! squash, the long side with padding of `round(255 * mean)` for border), `mean` and `std` on the
//! 0–1 scale in RGB order, interpolation by timm's lower-case names. What a flag leaves unset is
//! the base recipe's, bit for bit: a derived recipe that changes nothing is the base recipe.

use crate::image::recipe::{ChannelOrder, Filter, Layout, Recipe, ResizeMode};

/// timm's `crop_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CropMode {
    /// Resize the short side, centre-crop ([`ResizeMode::ShorterSide`]).
    Center,
    /// Resize both sides, centre-crop ([`ResizeMode::SquashCrop`]).
    Squash,
    /// Resize the long side, pad or crop to the square ([`ResizeMode::FitPad`]).
    Border,
}

impl CropMode {
    pub const ALL: [CropMode; 3] = [CropMode::Center, CropMode::Squash, CropMode::Border];

    /// timm's spelling.
    pub fn name(self) -> &'static str {
        match self {
            CropMode::Center => "center",
            CropMode::Squash => "squash",
            CropMode::Border => "border",
        }
    }

    pub fn parse(name: &str) -> Option<CropMode> {
        CropMode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The interpolation names timm's `str_to_interp_mode` knows, as Pillow filters.
pub fn interpolation(name: &str) -> Option<Filter> {
    Filter::ALL
        .into_iter()
        .find(|f| f.name().to_lowercase() == name)
}

/// The changes to a base recipe; `None` keeps the base's value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    pub img_size: Option<u32>,
    pub crop_pct: Option<f64>,
    pub crop_mode: Option<CropMode>,
    pub interpolation: Option<Filter>,
    /// On the 0–1 scale, RGB order (timm's `--mean`).
    pub mean: Option<[f64; 3]>,
    /// On the 0–1 scale, RGB order (timm's `--std`).
    pub std: Option<[f64; 3]>,
    pub channels: Option<ChannelOrder>,
    pub layout: Option<Layout>,
}

/// Why overrides cannot make a recipe of a base one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverrideError {
    #[error("{flag} {value}: {why}")]
    Value {
        flag: &'static str,
        value: String,
        why: String,
    },
    #[error("recipe {name} is not one zoorepro reproduces: {reason}")]
    Invalid { name: String, reason: String },
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// The changes as the derived recipe's name lists them: `crop_pct=0.95, interpolation=bicubic`.
    pub fn describe(&self) -> String {
        self.changes()
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Each change as timm's name and its value as the flag takes it (`crop_pct`, `0.95`): the
    /// flag is the name with dashes (`--crop-pct 0.95`).
    pub fn changes(&self) -> Vec<(&'static str, String)> {
        let triple = |v: [f64; 3]| format!("{},{},{}", v[0], v[1], v[2]);
        [
            self.img_size.map(|v| ("img_size", v.to_string())),
            self.crop_pct.map(|v| ("crop_pct", v.to_string())),
            self.crop_mode.map(|v| ("crop_mode", v.name().to_string())),
            self.interpolation
                .map(|v| ("interpolation", v.name().to_lowercase())),
            self.mean.map(|v| ("mean", triple(v))),
            self.std.map(|v| ("std", triple(v))),
            self.channels
                .map(|v| ("channels", channels_name(v).to_string())),
            self.layout.map(|v| ("layout", v.name().to_string())),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The recipe `base` becomes with these changes, named `BASE + CHANGES` (the base itself when
    /// there are none). Each unset part is the base's, bit for bit.
    pub fn apply(&self, base: &Recipe) -> Result<Recipe, OverrideError> {
        if self.is_empty() {
            return Ok(base.clone());
        }
        let mut recipe = base.clone();
        self.apply_geometry(base, &mut recipe)?;
        if let Some(filter) = self.interpolation {
            recipe.filter = filter;
        }
        self.apply_normalisation(base, &mut recipe);
        if let Some(layout) = self.layout {
            recipe.layout = layout;
        }
        recipe.fill = self.fill(base, &recipe)?;
        recipe.name = format!("{} + {}", base.name, self.describe());
        recipe.description = format!(
            "{} {}, {}: recipe {} with {}",
            recipe
                .resize_mode
                .describe(recipe.resize_size, recipe.crop_size),
            recipe.filter.name().to_lowercase(),
            recipe.layout.name(),
            base.name,
            self.describe()
        );
        recipe.validate().map_err(|reason| OverrideError::Invalid {
            name: recipe.name.clone(),
            reason,
        })?;
        Ok(recipe)
    }

    /// Size, crop share and crop mode, as timm's eval transform sets them.
    fn apply_geometry(&self, base: &Recipe, recipe: &mut Recipe) -> Result<(), OverrideError> {
        if self.img_size.is_none() && self.crop_pct.is_none() && self.crop_mode.is_none() {
            return Ok(());
        }
        let size = self.img_size.unwrap_or(base.crop_size);
        recipe.crop_size = size;
        let base_mode = match base.resize_mode {
            ResizeMode::ShorterSide => Some(CropMode::Center),
            ResizeMode::Squash | ResizeMode::SquashCrop => Some(CropMode::Squash),
            ResizeMode::FitPad => Some(CropMode::Border),
            ResizeMode::AspectCrop => None,
        };
        let Some(mode) = self.crop_mode.or(base_mode) else {
            // Keras's keep-aspect crop has no crop share: only its size can change.
            if let Some(pct) = self.crop_pct {
                return Err(OverrideError::Value {
                    flag: "--crop-pct",
                    value: pct.to_string(),
                    why: format!(
                        "recipe {} crops the centred box of the output's aspect ratio (Keras keep_aspect_ratio), which has no crop_pct; pass --crop-mode center, squash or border to replace its geometry",
                        base.name
                    ),
                });
            }
            return Ok(());
        };
        let unchanged_share = self.crop_pct.is_none() && size == base.crop_size;
        let resize = if unchanged_share && base.resize_mode != ResizeMode::AspectCrop {
            base.resize_size
        } else {
            let pct = self
                .crop_pct
                .unwrap_or_else(|| base.resize_mode.crop_pct(base.resize_size, base.crop_size));
            let resize = (f64::from(size) / pct).floor();
            if !(1.0..=8192.0).contains(&resize) {
                return Err(OverrideError::Value {
                    flag: "--crop-pct",
                    value: pct.to_string(),
                    why: format!(
                        "the resize it sets, floor({size} / {pct}) = {resize}, is outside 1..=8192"
                    ),
                });
            }
            resize as u32
        };
        recipe.resize_mode = match mode {
            CropMode::Center => ResizeMode::ShorterSide,
            // A squash without a crop is the squash-and-crop of crop_pct 1, as Keras writes it.
            CropMode::Squash if base.resize_mode == ResizeMode::Squash && resize == size => {
                ResizeMode::Squash
            }
            CropMode::Squash => ResizeMode::SquashCrop,
            CropMode::Border => ResizeMode::FitPad,
        };
        recipe.resize_size = if recipe.resize_mode == ResizeMode::Squash {
            base.resize_size
        } else {
            resize
        };
        Ok(())
    }

    /// Mean, std and channel order. Given on timm's 0–1 scale, they are written for the base's
    /// arithmetic: `(x - 255*mean) / (255*std)` where the base divides by 1 (timm's prefetcher,
    /// Keras caffe), else ToTensor's `(x / 255 - mean) / std`.
    fn apply_normalisation(&self, base: &Recipe, recipe: &mut Recipe) {
        let channels = self.channels.unwrap_or(base.channels);
        let rgb_mean = in_rgb(base.mean, base.channels);
        let rgb_std = in_rgb(base.std, base.channels);
        recipe.channels = channels;
        if self.mean.is_none() && self.std.is_none() {
            recipe.mean = from_rgb(rgb_mean, channels);
            recipe.std = from_rgb(rgb_std, channels);
            return;
        }
        let base_scale = f64::from(base.scale);
        let unit = |v: [f32; 3]| v.map(|x| f64::from(x) * base_scale / 255.0);
        let mean = self.mean.unwrap_or_else(|| unit(rgb_mean));
        let std = self.std.unwrap_or_else(|| unit(rgb_std));
        let (scale, factor) = if base.scale == 1.0 {
            (1.0, 255.0)
        } else {
            (255.0, 1.0)
        };
        recipe.scale = scale;
        recipe.mean = from_rgb(mean.map(|m| (factor * m) as f32), channels);
        recipe.std = from_rgb(std.map(|s| (factor * s) as f32), channels);
    }

    /// The border's padding: timm's `round(255 * mean)` (half to even) where the border is new
    /// or its mean changed, else the base's; none for other geometries.
    fn fill(&self, base: &Recipe, recipe: &Recipe) -> Result<[u8; 3], OverrideError> {
        if recipe.resize_mode != ResizeMode::FitPad {
            return Ok([0; 3]);
        }
        if base.resize_mode == ResizeMode::FitPad && self.mean.is_none() {
            return Ok(base.fill);
        }
        let scale = f64::from(recipe.scale);
        let mut fill = [0u8; 3];
        for (out, m) in fill.iter_mut().zip(in_rgb(recipe.mean, recipe.channels)) {
            let level = (f64::from(m) * scale).round_ties_even();
            if !(0.0..=255.0).contains(&level) {
                return Err(OverrideError::Value {
                    flag: "--mean",
                    value: format!("{m}"),
                    why: "crop mode border pads with round(255 * mean), which must be a level 0..=255"
                        .into(),
                });
            }
            *out = level as u8;
        }
        Ok(fill)
    }
}

fn channels_name(order: ChannelOrder) -> &'static str {
    match order {
        ChannelOrder::Rgb => "rgb",
        ChannelOrder::Bgr => "bgr",
    }
}

/// The base recipe's name and the overrides of a name [`Overrides::apply`] wrote (`BASE +
/// CHANGES`), or `None` for any other name: what a command line needs to derive the same recipe
/// again (`--recipe BASE` and the changes' flags). Only a name these overrides describe exactly
/// is taken, so a recipe whose own name holds ` + ` is not mistaken for a derived one.
pub fn parse_derived_name(name: &str) -> Option<(&str, Overrides)> {
    let (base, changes) = name.rsplit_once(" + ")?;
    let triple = |value: &str| -> Option<[f64; 3]> {
        let values: Vec<f64> = value
            .split(',')
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        values.try_into().ok()
    };
    let mut overrides = Overrides::default();
    for change in changes.split(", ") {
        let (key, value) = change.split_once('=')?;
        match key {
            "img_size" => overrides.img_size = Some(value.parse().ok()?),
            "crop_pct" => overrides.crop_pct = Some(value.parse().ok()?),
            "crop_mode" => overrides.crop_mode = Some(CropMode::parse(value)?),
            "interpolation" => overrides.interpolation = Some(interpolation(value)?),
            "mean" => overrides.mean = Some(triple(value)?),
            "std" => overrides.std = Some(triple(value)?),
            "channels" => {
                overrides.channels = [ChannelOrder::Rgb, ChannelOrder::Bgr]
                    .into_iter()
                    .find(|order| channels_name(*order) == value);
            }
            "layout" => {
                overrides.layout = [Layout::Nchw, Layout::Nhwc]
                    .into_iter()
                    .find(|layout| layout.name() == value);
            }
            _ => return None,
        }
    }
    (!overrides.is_empty() && overrides.describe() == changes).then_some((base, overrides))
}

fn in_rgb(values: [f32; 3], order: ChannelOrder) -> [f32; 3] {
    match order {
        ChannelOrder::Rgb => values,
        ChannelOrder::Bgr => [values[2], values[1], values[0]],
    }
}

fn from_rgb(values: [f32; 3], order: ChannelOrder) -> [f32; 3] {
    in_rgb(values, order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::recipe::preset;

    fn lite0() -> Recipe {
        let mut recipe = preset("torchvision").unwrap();
        recipe.name = "efficientnet-lite0-224".into();
        recipe.resize_size = 224;
        recipe
    }

    #[test]
    fn no_change_or_a_change_to_the_same_values_is_the_base_tensor() {
        let base = lite0();
        assert_eq!(Overrides::default().apply(&base).unwrap(), base);
        let same = Overrides {
            crop_pct: Some(1.0),
            interpolation: Some(Filter::Bilinear),
            mean: Some([0.485, 0.456, 0.406]),
            std: Some([0.229, 0.224, 0.225]),
            ..Default::default()
        };
        let derived = same.apply(&base).unwrap();
        assert!(derived.same_tensor(&base), "{derived:?}");
        assert_eq!(
            derived.name,
            "efficientnet-lite0-224 + crop_pct=1, interpolation=bilinear, mean=0.485,0.456,0.406, std=0.229,0.224,0.225"
        );
    }

    #[test]
    fn crop_pct_and_img_size_set_the_resize_as_timm_does() {
        let base = preset("torchvision").unwrap();
        let pct = Overrides {
            crop_pct: Some(0.95),
            ..Default::default()
        };
        let r = pct.apply(&base).unwrap();
        // floor(224 / 0.95) = 235.
        assert_eq!((r.resize_size, r.crop_size), (235, 224));
        assert_eq!(r.name, "torchvision + crop_pct=0.95");
        // The base's share (224/256 = 0.875) with a new size: floor(288 / 0.875) = 329.
        let size = Overrides {
            img_size: Some(288),
            ..Default::default()
        };
        let r = size.apply(&base).unwrap();
        assert_eq!(
            (r.resize_mode, r.resize_size, r.crop_size),
            (ResizeMode::ShorterSide, 329, 288)
        );
        let squash = Overrides {
            crop_mode: Some(CropMode::Squash),
            interpolation: interpolation("bicubic"),
            ..Default::default()
        };
        let r = squash.apply(&base).unwrap();
        assert_eq!(
            (r.resize_mode, r.resize_size, r.filter),
            (ResizeMode::SquashCrop, 256, Filter::Bicubic)
        );
    }

    #[test]
    fn border_pads_with_the_mean_and_squash_without_a_crop_stays_a_squash() {
        let base = preset("torchvision").unwrap();
        let border = Overrides {
            crop_mode: Some(CropMode::Border),
            mean: Some([0.5; 3]),
            std: Some([0.5; 3]),
            ..Default::default()
        };
        let r = border.apply(&base).unwrap();
        // round(127.5) is 128, half to even.
        assert_eq!(
            (r.resize_mode, r.fill, r.mean),
            (ResizeMode::FitPad, [128; 3], [0.5; 3])
        );
        let keras = preset("keras-caffe").unwrap();
        assert_eq!(keras.resize_mode, ResizeMode::Squash);
        let whole = Overrides {
            crop_pct: Some(1.0),
            ..Default::default()
        };
        assert!(whole.apply(&keras).unwrap().same_tensor(&keras));
        let cropped = Overrides {
            crop_pct: Some(0.875),
            ..Default::default()
        };
        let r = cropped.apply(&keras).unwrap();
        assert_eq!(
            (r.resize_mode, r.resize_size, r.crop_size),
            (ResizeMode::SquashCrop, 256, 224)
        );
    }

    #[test]
    fn mean_and_std_are_on_the_0_1_scale_in_rgb_order_whatever_the_base() {
        // Keras caffe: BGR, scale 1, mean in levels: timm's numbers become (x - 255*m) / (255*s).
        let caffe = preset("keras-caffe").unwrap();
        let r = Overrides {
            mean: Some([0.5, 0.25, 0.125]),
            ..Default::default()
        }
        .apply(&caffe)
        .unwrap();
        assert_eq!(r.scale, 1.0);
        assert_eq!(r.mean, [31.875, 63.75, 127.5], "BGR order, levels");
        assert_eq!(r.std, caffe.std, "an unchanged std keeps its value");
        // A channel swap alone reorders the base's numbers, exactly.
        let tv = preset("torchvision").unwrap();
        let r = Overrides {
            channels: Some(ChannelOrder::Bgr),
            ..Default::default()
        }
        .apply(&tv)
        .unwrap();
        assert_eq!(r.mean, [tv.mean[2], tv.mean[1], tv.mean[0]]);
        assert_eq!(r.channels, ChannelOrder::Bgr);
    }

    #[test]
    fn a_derived_name_gives_back_its_base_and_overrides_and_no_other_name_does() {
        let base = lite0();
        let every = Overrides {
            img_size: Some(240),
            crop_pct: Some(0.875),
            crop_mode: Some(CropMode::Squash),
            interpolation: Some(Filter::Bicubic),
            mean: Some([0.5, 0.25, 0.125]),
            std: Some([0.229, 0.224, 0.225]),
            channels: Some(ChannelOrder::Bgr),
            layout: Some(Layout::Nhwc),
        };
        let single = Overrides {
            crop_pct: Some(0.95),
            ..Default::default()
        };
        for overrides in [every, single] {
            let derived = overrides.apply(&base).unwrap();
            assert_eq!(
                parse_derived_name(&derived.name),
                Some(("efficientnet-lite0-224", overrides.clone())),
                "{}",
                derived.name
            );
        }
        for name in [
            "efficientnet-lite0-224",
            "timm:resnet50.a1_in1k",
            "a + b",
            "a + crop_pct=0.95, crop_pct=0.9",
            "a + crop_pct=0.950",
            "a + channels=rgbx",
        ] {
            assert_eq!(parse_derived_name(name), None, "{name}");
        }
    }

    #[test]
    fn impossible_values_are_refused_with_the_flag_named() {
        let base = preset("torchvision").unwrap();
        let tiny = Overrides {
            crop_pct: Some(0.01),
            ..Default::default()
        };
        let error = tiny.apply(&base).unwrap_err();
        assert!(error.to_string().starts_with("--crop-pct 0.01:"), "{error}");
        let aspect = Recipe {
            resize_mode: ResizeMode::AspectCrop,
            ..preset("keras-caffe").unwrap()
        };
        let error = Overrides {
            crop_pct: Some(0.9),
            ..Default::default()
        }
        .apply(&aspect)
        .unwrap_err();
        assert!(error.to_string().contains("--crop-mode"), "{error}");
        assert_eq!(
            interpolation("BICUBIC"),
            None,
            "timm's names are lower-case"
        );
        assert_eq!(interpolation("lanczos"), Some(Filter::Lanczos));
        assert_eq!(CropMode::parse("centre"), None);
    }
}
