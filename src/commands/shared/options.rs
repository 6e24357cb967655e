//! The one place where parsed flags (`cli`'s `*Arg` value enums, which only describe the command
//! line) become the domain's types. Commands call `.into()`; a new flag value that has no domain
//! counterpart fails to compile here, not somewhere in a command.

use crate::cli::{
    ChannelsArg, CropModeArg, GroundTruthArg, InterpolationArg, LabelsArg, LayoutArg, OptLevelArg,
    PillowCompatArg, ProviderArg, RecipeOverridesArg, ResizeModeArg,
};
use crate::dataset::{Dataset, GroundTruth, Shard};
use crate::eval::scoring::LabelSet;
use crate::image::overrides::{CropMode, Overrides};
use crate::image::pipelines::PillowCompat;
use crate::image::recipe::{ChannelOrder, Filter, Layout, ResizeMode};
use crate::runtime::{OptLevel, Provider};

/// `--shard K/N` (verify, the native pass, the Python Loader's `shard=`), its message for a
/// malformed one.
pub(crate) fn parse_shard(text: Option<&str>) -> anyhow::Result<Option<Shard>> {
    text.map(Shard::parse)
        .transpose()
        .map_err(anyhow::Error::msg)
}

/// `--val` with `--ground-truth`: the file is read and checked first, so that a bad one fails
/// before a large folder is listed.
pub(crate) fn open_dataset(
    val: &std::path::Path,
    labels: &GroundTruthArg,
) -> Result<Dataset, crate::dataset::DatasetError> {
    let truth = labels
        .ground_truth
        .as_deref()
        .map(GroundTruth::load)
        .transpose()?;
    Dataset::open_labelled(val, truth)
}

impl From<PillowCompatArg> for PillowCompat {
    fn from(arg: PillowCompatArg) -> Self {
        match arg {
            PillowCompatArg::V12 => PillowCompat::V12,
            PillowCompatArg::V13 => PillowCompat::V13,
            PillowCompatArg::Simd => PillowCompat::Simd,
        }
    }
}

impl From<ProviderArg> for Provider {
    fn from(arg: ProviderArg) -> Self {
        match arg {
            ProviderArg::Cpu => Provider::Cpu,
            ProviderArg::Cuda => Provider::Cuda,
        }
    }
}

impl From<OptLevelArg> for OptLevel {
    fn from(arg: OptLevelArg) -> Self {
        match arg {
            OptLevelArg::Disable => OptLevel::Disable,
            OptLevelArg::Basic => OptLevel::Basic,
            OptLevelArg::Extended => OptLevel::Extended,
            OptLevelArg::All => OptLevel::All,
        }
    }
}

impl From<ResizeModeArg> for ResizeMode {
    fn from(arg: ResizeModeArg) -> Self {
        match arg {
            ResizeModeArg::Squash => ResizeMode::Squash,
            ResizeModeArg::ShorterSide => ResizeMode::ShorterSide,
        }
    }
}

impl From<ChannelsArg> for ChannelOrder {
    fn from(arg: ChannelsArg) -> Self {
        match arg {
            ChannelsArg::Rgb => ChannelOrder::Rgb,
            ChannelsArg::Bgr => ChannelOrder::Bgr,
        }
    }
}

impl From<LayoutArg> for Layout {
    fn from(arg: LayoutArg) -> Self {
        match arg {
            LayoutArg::Nchw => Layout::Nchw,
            LayoutArg::Nhwc => Layout::Nhwc,
        }
    }
}

impl From<CropModeArg> for CropMode {
    fn from(arg: CropModeArg) -> Self {
        match arg {
            CropModeArg::Center => CropMode::Center,
            CropModeArg::Squash => CropMode::Squash,
            CropModeArg::Border => CropMode::Border,
        }
    }
}

impl From<InterpolationArg> for Filter {
    fn from(arg: InterpolationArg) -> Self {
        match arg {
            InterpolationArg::Nearest => Filter::Nearest,
            InterpolationArg::Bilinear => Filter::Bilinear,
            InterpolationArg::Bicubic => Filter::Bicubic,
            InterpolationArg::Box => Filter::Box,
            InterpolationArg::Hamming => Filter::Hamming,
            InterpolationArg::Lanczos => Filter::Lanczos,
        }
    }
}

impl From<&RecipeOverridesArg> for Overrides {
    fn from(arg: &RecipeOverridesArg) -> Self {
        Overrides {
            img_size: arg.img_size,
            crop_pct: arg.crop_pct,
            crop_mode: arg.crop_mode.map(Into::into),
            interpolation: arg.interpolation.map(Into::into),
            mean: arg.mean,
            std: arg.std,
            channels: arg.channels.map(Into::into),
            layout: arg.layout.map(Into::into),
        }
    }
}

/// `--labels`: one label set, or all four in the table's column order.
pub fn label_sets(arg: LabelsArg) -> Vec<LabelSet> {
    match arg {
        LabelsArg::Original => vec![LabelSet::Original],
        LabelsArg::Real => vec![LabelSet::Real],
        LabelsArg::Cleaned => vec![LabelSet::Cleaned],
        LabelsArg::Corrected => vec![LabelSet::Corrected],
        LabelsArg::All => vec![
            LabelSet::Original,
            LabelSet::Real,
            LabelSet::Cleaned,
            LabelSet::Corrected,
        ],
    }
}
