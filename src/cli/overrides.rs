//! `verify`'s timm-style recipe flags (`--img-size`, `--crop-pct`, `--crop-mode`,
//! `--interpolation`, `--mean`, `--std`, `--channels`, `--layout`): each value is checked here,
//! so that a bad one is one message and exit status 2 before anything runs.

use clap::Args;

use super::{ChannelsArg, LayoutArg};

/// timm's `crop_mode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CropModeArg {
    Center,
    Squash,
    Border,
}

/// timm's interpolation names (`str_to_interp_mode`), as Pillow's filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterpolationArg {
    Nearest,
    Bilinear,
    Bicubic,
    Box,
    Hamming,
    Lanczos,
}

const INTERPOLATIONS: [(&str, InterpolationArg); 6] = [
    ("nearest", InterpolationArg::Nearest),
    ("bilinear", InterpolationArg::Bilinear),
    ("bicubic", InterpolationArg::Bicubic),
    ("box", InterpolationArg::Box),
    ("hamming", InterpolationArg::Hamming),
    ("lanczos", InterpolationArg::Lanczos),
];

/// A recipe derived from the base one (the `--like` model's, else `--recipe`'s, else the
/// manifest's default) by timm's validate.py flags; the record names it `BASE + CHANGES`, and a
/// reference applies to it only if its parameters equal those of the reference's recipe.
#[derive(Args, Debug, Clone, Default)]
pub struct RecipeOverridesArg {
    /// timm's --img-size: the square the model is fed (1..=4096); the resize before the crop
    /// becomes floor(N / crop_pct), crop_pct being --crop-pct or the base recipe's.
    #[arg(long, value_name = "N", value_parser = parse_img_size, allow_negative_numbers = true)]
    pub img_size: Option<u32>,

    /// timm's --crop-pct: the share of the resized image the crop keeps (resize to
    /// floor(img_size / F)); 1.0 resizes straight to the crop.
    #[arg(long, value_name = "F", value_parser = parse_crop_pct, allow_negative_numbers = true)]
    pub crop_pct: Option<f64>,

    /// timm's --crop-mode: center (short side, then centre crop), squash (both sides, then
    /// centre crop), border (long side, padded with round(255 * mean)).
    #[arg(long, value_name = "center|squash|border", value_parser = parse_crop_mode)]
    pub crop_mode: Option<CropModeArg>,

    /// timm's --interpolation, by its names: nearest, bilinear, bicubic, box, hamming, lanczos
    /// (Pillow's filters).
    #[arg(long, value_name = "NAME", value_parser = parse_interpolation)]
    pub interpolation: Option<InterpolationArg>,

    /// timm's --mean: three values on the 0-1 scale, RGB order (`0.485,0.456,0.406`).
    #[arg(long, value_name = "R,G,B", value_parser = parse_mean, allow_hyphen_values = true)]
    pub mean: Option<[f64; 3]>,

    /// timm's --std: three values on the 0-1 scale, RGB order (`0.229,0.224,0.225`).
    #[arg(long, value_name = "R,G,B", value_parser = parse_std, allow_hyphen_values = true)]
    pub std: Option<[f64; 3]>,

    /// The channel order the model is fed (--mean and --std stay in RGB order).
    #[arg(long, value_enum, value_name = "rgb|bgr")]
    pub channels: Option<ChannelsArg>,

    /// The tensor layout the model is fed.
    #[arg(long, value_enum, value_name = "nchw|nhwc")]
    pub layout: Option<LayoutArg>,
}

fn parse_img_size(s: &str) -> Result<u32, String> {
    match super::parse_whole(s) {
        Ok(n @ 1..=4096) => Ok(n as u32),
        Ok(_) => Err(format!("{} is outside 1..=4096", s.trim())),
        Err(_) => Err(format!("'{s}' is not a whole number of pixels")),
    }
}

fn parse_crop_pct(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(pct) if pct.is_finite() && pct > 0.0 && pct <= 4.0 => Ok(pct),
        Ok(_) => Err(format!(
            "{s} is not a crop share in (0, 4] (timm's crop_pct: 0.875 keeps 87.5%, 1.0 all)"
        )),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

fn parse_crop_mode(s: &str) -> Result<CropModeArg, String> {
    match s {
        "center" => Ok(CropModeArg::Center),
        "squash" => Ok(CropModeArg::Squash),
        "border" => Ok(CropModeArg::Border),
        _ => Err(format!(
            "'{s}' is not one of timm's crop modes: center, squash, border"
        )),
    }
}

fn parse_interpolation(s: &str) -> Result<InterpolationArg, String> {
    INTERPOLATIONS
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, arg)| *arg)
        .ok_or_else(|| {
            let names: Vec<&str> = INTERPOLATIONS.iter().map(|(name, _)| *name).collect();
            format!(
                "'{s}' is not one of timm's interpolation names: {}",
                names.join(", ")
            )
        })
}

/// Three comma-separated finite numbers.
fn parse_triple(s: &str) -> Result<[f64; 3], String> {
    let values: Vec<f64> = s
        .split(',')
        .map(|part| part.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{s}' is not three comma-separated numbers (R,G,B)"))?;
    match values[..] {
        [r, g, b] if values.iter().all(|v| v.is_finite()) => Ok([r, g, b]),
        [_, _, _] => Err(format!("'{s}' holds a number that is not finite")),
        _ => Err(format!(
            "'{s}' has {} values; give three, R,G,B",
            values.len()
        )),
    }
}

fn parse_mean(s: &str) -> Result<[f64; 3], String> {
    let values = parse_triple(s)?;
    if values.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(format!(
            "'{s}': a mean is on the 0-1 scale, as timm's (0.485,0.456,0.406), not in levels 0-255"
        ));
    }
    Ok(values)
}

fn parse_std(s: &str) -> Result<[f64; 3], String> {
    let values = parse_triple(s)?;
    if values.iter().any(|v| !(*v > 0.0 && *v <= 1.0)) {
        return Err(format!(
            "'{s}': a std is above 0 and on the 0-1 scale, as timm's (0.229,0.224,0.225), not in levels 0-255"
        ));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timm_spellings_parse_and_anything_else_is_named_in_the_message() {
        assert_eq!(parse_img_size("288"), Ok(288));
        assert!(parse_img_size("0").unwrap_err().contains("1..=4096"));
        assert!(parse_img_size("big").is_err());
        assert_eq!(parse_img_size("-1").unwrap_err(), "-1 is outside 1..=4096");
        assert_eq!(parse_crop_pct("0.95"), Ok(0.95));
        for bad in ["0", "-1", "nan", "inf", "5"] {
            assert!(parse_crop_pct(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_crop_mode("border"), Ok(CropModeArg::Border));
        assert!(parse_crop_mode("centre").unwrap_err().contains("center"));
        assert_eq!(
            parse_interpolation("bicubic"),
            Ok(InterpolationArg::Bicubic)
        );
        let error = parse_interpolation("BICUBIC").unwrap_err();
        assert!(error.contains("bilinear, bicubic"), "{error}");
        assert_eq!(parse_mean("0.5, 0.5,0.5"), Ok([0.5; 3]));
        assert!(
            parse_mean("123.68,116.78,103.94")
                .unwrap_err()
                .contains("0-1 scale")
        );
        assert!(parse_mean("0.5,0.5").unwrap_err().contains("has 2 values"));
        assert!(parse_std("0.2,0,0.2").is_err());
        assert!(parse_std("0.2,nan,0.2").is_err());
        assert_eq!(parse_std("0.229,0.224,0.225"), Ok([0.229, 0.224, 0.225]));
    }
}
