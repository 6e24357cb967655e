//! The flags of `add-model`: the ONNX file, its inline recipe, preset or recipe source, and its
//! references.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{OrtLibArg, parse_natural, parse_pixels};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ResizeModeArg {
    Squash,
    ShorterSide,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ChannelsArg {
    Rgb,
    Bgr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    Nchw,
    Nhwc,
}

/// The flags that describe an inline recipe; `--recipe PRESET` excludes all of them.
const INLINE_RECIPE_FLAGS: [&str; 8] = [
    "resize_mode",
    "size",
    "crop",
    "filter",
    "scale",
    "mean",
    "std",
    "channels",
];

#[derive(Args, Debug)]
pub struct AddModelArgs {
    /// The ONNX file to register (inside `models/` of the zoorepro home it is recorded relative to
    /// that folder, else as an absolute path).
    #[arg(value_name = "FILE.onnx")]
    pub file: PathBuf,

    /// The model's id: `user/NAME`, or NAME itself when it contains `/` (`lab/resnet50-ft`).
    #[arg(long, value_name = "NAME")]
    pub id: String,

    /// A preset recipe (`zoorepro recipes`) or a recipe source (`timm:NAME`, `timm:FILE.json`,
    /// `torchvision:WEIGHTS[@tensor-v1|@tensor-v2]`, `keras:MODE@SIZE[,...]`, `keras-dataset:MODE@SIZE`,
    /// `slim:inception|vgg@SIZE`, `mlperf:NAME`; docs/recipes.md), written into the manifest; or
    /// describe one with --resize-mode ... --channels.
    #[arg(
        long,
        value_name = "PRESET|SOURCE",
        conflicts_with_all = INLINE_RECIPE_FLAGS,
        required_unless_present_any = ["resize_mode", "like"]
    )]
    pub recipe: Option<String>,

    /// Your export of a known model: the manifest takes manifest ID's recipes and references
    /// (each reference's note says it was copied from ID; judged, they are marked
    /// user-reference); the graph gives the input and output.
    #[arg(
        long,
        value_name = "ID",
        conflicts_with_all = ["recipe", "resize_mode", "reference"]
    )]
    pub like: Option<String>,

    /// Inline recipe: squash (img.resize((crop, crop))) or shorter-side (Resize(size) + CenterCrop(crop)).
    #[arg(long, value_enum, requires_all = ["size", "filter", "scale", "mean", "std", "channels"])]
    pub resize_mode: Option<ResizeModeArg>,

    /// Inline recipe: short side after resizing (shorter-side), or the output size (squash).
    #[arg(long, value_name = "N", value_parser = parse_pixels, allow_negative_numbers = true)]
    pub size: Option<u32>,

    /// Inline recipe: output height = width [default: --size].
    #[arg(long, value_name = "N", value_parser = parse_pixels, allow_negative_numbers = true)]
    pub crop: Option<u32>,

    /// Inline recipe: Pillow filter (NEAREST, BOX, BILINEAR, HAMMING, BICUBIC, LANCZOS).
    #[arg(long, value_name = "NAME")]
    pub filter: Option<String>,

    /// Inline recipe: pixels (0..=255) are divided by this first (255, 127.5, 1).
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub scale: Option<f32>,

    /// Inline recipe: per-channel mean after scaling, in the output channel order (one number or three, comma-separated).
    #[arg(
        long,
        value_name = "M[,M,M]",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub mean: Option<Vec<f32>>,

    /// Inline recipe: per-channel std (one number or three, comma-separated).
    #[arg(
        long,
        value_name = "S[,S,S]",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub std: Option<Vec<f32>>,

    /// Inline recipe: channel order of the tensor.
    #[arg(long, value_enum)]
    pub channels: Option<ChannelsArg>,

    /// The input layout, when the shape cannot tell (or to insist on one) [default: from the input shape].
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,

    /// Leading output columns to drop before ranking [default: 1 with 1001 classes, else 0].
    #[arg(long, value_name = "K", value_parser = parse_natural, allow_negative_numbers = true)]
    pub label_offset: Option<usize>,

    /// A published accuracy on the full ILSVRC2012 validation set with this recipe, e.g. `paper:76.1:92.9`.
    #[arg(long, value_name = "SOURCE:TOP1:TOP5")]
    pub reference: Option<String>,

    /// Replace an existing manifest with the same id.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub runtime: OrtLibArg,
}
