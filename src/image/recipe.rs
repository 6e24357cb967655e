//! Preprocessing recipes: how a JPEG becomes the float32 tensor a model is fed.
//!
//! A recipe is data, not code, so that manifests can declare model-specific ones and every run
//! record can say exactly which arithmetic produced its inputs. The presets reproduce the Python
//! pipelines that published numbers were measured with (torchvision transforms, Keras
//! `load_img` + `preprocess_input`).

use serde::{Deserialize, Serialize};

use crate::image::pipelines::{self, Pipeline};

/// Pillow's resampling filters, by Pillow's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Filter {
    Nearest,
    Box,
    Bilinear,
    Hamming,
    Bicubic,
    Lanczos,
}

impl Filter {
    pub const ALL: [Filter; 6] = [
        Filter::Nearest,
        Filter::Box,
        Filter::Bilinear,
        Filter::Hamming,
        Filter::Bicubic,
        Filter::Lanczos,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Filter::Nearest => "NEAREST",
            Filter::Box => "BOX",
            Filter::Bilinear => "BILINEAR",
            Filter::Hamming => "HAMMING",
            Filter::Bicubic => "BICUBIC",
            Filter::Lanczos => "LANCZOS",
        }
    }

    pub fn parse(name: &str) -> Option<Filter> {
        Filter::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// How the decoded image reaches the model's spatial size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMode {
    /// `img.resize((crop, crop))`: the whole image squeezed to a square (Keras `load_img`,
    /// pycoral). Aspect ratio is not kept and `resize_size` is ignored.
    Squash,
    /// torchvision `Resize(resize_size)` then `CenterCrop(crop_size)`: the short side becomes
    /// `resize_size`, the long side `int(resize_size * long / short)`; a crop larger than the
    /// image is zero-padded first, as `torchvision.transforms.functional.center_crop` does.
    ShorterSide,
    /// timm's `crop_mode='squash'`: both sides to `resize_size` (aspect ratio not kept), then
    /// `CenterCrop(crop_size)`.
    SquashCrop,
    /// timm's `crop_mode='border'`: `ResizeKeepRatio(resize_size, longest=1)` (the long side
    /// becomes `resize_size`, each side `round(side / ratio)` with Python's round-half-to-even),
    /// then `CenterCropOrPad(crop_size)` padding with the recipe's `fill` (timm's is
    /// `round(255 * mean)`). A picture whose short side rounds to 0 is refused, as Pillow's resize
    /// refuses it. Reproduced by the Pillow pipeline.
    FitPad,
    /// Keras `load_img(keep_aspect_ratio=True)`: the centred box of the output's aspect ratio
    /// (Keras's integer arithmetic) resized to `crop_size` x `crop_size` with Pillow's `box`
    /// argument, whose filter reads pixels just outside the box (NEAREST starts half a step
    /// inside it); `resize_size` is unused. Reproduced by the Pillow pipeline, every filter.
    AspectCrop,
}

impl ResizeMode {
    /// The share of the resized image the crop keeps along the short side, as timm's
    /// `crop_pct` states it.
    pub fn crop_pct(self, resize_size: u32, crop_size: u32) -> f64 {
        match self {
            ResizeMode::ShorterSide | ResizeMode::SquashCrop | ResizeMode::FitPad => {
                f64::from(crop_size) / f64::from(resize_size)
            }
            ResizeMode::Squash | ResizeMode::AspectCrop => 1.0,
        }
    }

    /// The geometry in a few words, for tables and messages.
    pub fn describe(self, resize_size: u32, crop_size: u32) -> String {
        match self {
            ResizeMode::Squash => format!("squash {crop_size}"),
            ResizeMode::ShorterSide => format!("short {resize_size} crop {crop_size}"),
            ResizeMode::SquashCrop => format!("squash {resize_size} crop {crop_size}"),
            ResizeMode::FitPad => format!("long {resize_size} pad/crop {crop_size}"),
            ResizeMode::AspectCrop => format!("aspect-crop {crop_size}"),
        }
    }
}

/// Which of its library's published pipelines a recipe follows, where the library has more
/// than one: the resize arithmetic, the order of the float steps, or the decoder differ. Each
/// pipeline says which variants it reproduces ([`Pipeline::validate`]); `standard` is what the
/// pipeline did before variants existed and is left out of serialised recipes, so recipes,
/// manifests and store keys written before are unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Each pipeline's own path (see its module docs).
    #[default]
    Standard,
    /// torch: torchvision's v1 transforms on a uint8 tensor (`weights.transforms()`): the resize
    /// runs in float32 (fused multiply-adds, as torch's AVX2/AVX-512 kernels) and rounds back to
    /// uint8 half to even, and `convert_image_dtype` divides by `scale` (v2 multiplies by
    /// `float32(1 / scale)`). Geometry as `standard`.
    TensorV1,
    /// tensorflow: TF-slim's `inception_preprocessing.preprocess_for_eval`, whose resize is TF1's
    /// `resize_bilinear(align_corners=False)` (no half-pixel centres); otherwise as `standard`
    /// (`squash`: central_crop(0.875), resize to `crop_size`).
    SlimInception,
    /// tensorflow: TF-slim's `vgg_preprocessing.preprocess_for_eval(resize_side=resize_size)`:
    /// TF1 bilinear resize (no half-pixel centres) of the whole picture to a short side of
    /// `resize_size` (float32 `rint` sizes), the centred `crop_size` square (offsets `(len -
    /// crop) // 2`), then `(v / scale - mean) / std` on the float32 levels (`shorter-side`;
    /// slim: scale 1, mean [123.68, 116.78, 103.94], std 1, RGB).
    SlimVgg,
    /// tensorflow: Keras `image_dataset_from_directory(image_size=(crop_size, crop_size))` (TF
    /// decode, `tf.image.resize` bilinear with half-pixel centres of the whole picture to
    /// float32 levels, not rounded; `squash`) followed by `preprocess_input`, `(v / scale -
    /// mean) / std`: mode caffe (BGR, scale 1), tf (scale 127.5, mean 1), torch (scale 255,
    /// ImageNet mean/std) or none (scale 1, mean 0, std 1: the raw levels).
    KerasDataset,
    /// opencv: MLPerf's `pre_process_imagenet_pytorch`: `cv2.imread` + BGR2RGB, then torchvision
    /// on the PIL image made from that array (Pillow's resize: any filter, `resize_mode`
    /// shorter-side, the Pillow that `--pillow-compat` names).
    PillowResize,
}

impl Variant {
    pub const ALL: [Variant; 6] = [
        Variant::Standard,
        Variant::TensorV1,
        Variant::SlimInception,
        Variant::SlimVgg,
        Variant::KerasDataset,
        Variant::PillowResize,
    ];

    fn is_default(&self) -> bool {
        *self == Variant::default()
    }
}

/// Whose decoder and arithmetic a recipe reproduces: the recipe's pipeline, by its data
/// name (`"library": "opencv"` in recipes, manifests, records and store keys). Pillow (with
/// torchvision's or Keras's geometry) is the default and is left out of serialised recipes, so
/// recipes, manifests and store keys written before other pipelines existed are unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Library {
    /// Pillow's `Image.open` + `convert('RGB')` + `Image.resize` with torchvision's or Keras's
    /// geometry: see [`crate::image::pipelines::pillow`].
    #[default]
    Pillow,
    /// OpenCV's `imread` + `resize` as MLPerf Inference uses them: see
    /// [`crate::image::pipelines::opencv`].
    Opencv,
    /// TensorFlow's `decode_jpeg` + inception eval preprocessing: see
    /// [`crate::image::pipelines::tensorflow`].
    Tensorflow,
    /// torchvision's `decode_jpeg` + v2 transforms on tensors: see
    /// [`crate::image::pipelines::torch`].
    Torch,
}

impl Library {
    /// Every pipeline, in the order `zoorepro recipes` lists their presets.
    pub const ALL: [Library; 4] = [
        Library::Pillow,
        Library::Tensorflow,
        Library::Torch,
        Library::Opencv,
    ];

    /// The pipeline's implementation: the one place a pipeline is registered.
    pub fn pipeline(self) -> &'static dyn Pipeline {
        match self {
            Library::Pillow => &pipelines::pillow::Pillow,
            Library::Opencv => &pipelines::opencv::Opencv,
            Library::Tensorflow => &pipelines::tensorflow::Tensorflow,
            Library::Torch => &pipelines::torch::Torch,
        }
    }

    /// The data name (`"opencv"`), as serialised.
    pub fn name(self) -> &'static str {
        self.pipeline().name()
    }

    /// Pillow, the default, is not written out (see the type's doc).
    fn is_default(&self) -> bool {
        *self == Library::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nchw,
    Nhwc,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Nchw => "nchw",
            Layout::Nhwc => "nhwc",
        }
    }
}

/// One preprocessing protocol. The float arithmetic is, per channel and in float32:
/// `((pixel / scale) - mean[c]) / std[c]`, with `mean` and `std` given in the *output* channel
/// order (BGR recipes list them as B, G, R, the way Keras 'caffe' does). Division by 1 and
/// subtraction of 0 are exact in IEEE arithmetic, so one formula serves every framework.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    pub description: String,
    pub resize_mode: ResizeMode,
    /// Short side after resizing (ShorterSide); unused by Squash.
    pub resize_size: u32,
    /// Output height and width.
    pub crop_size: u32,
    pub filter: Filter,
    /// Pixels (0..=255) are divided by this first: 255 for ToTensor, 127.5 for Keras 'tf', 1 for none.
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub channels: ChannelOrder,
    pub layout: Layout,
    /// Whose decoder and arithmetic; Pillow unless said.
    #[serde(default, skip_serializing_if = "Library::is_default")]
    pub library: Library,
    /// Which of the library's pipelines; its standard one unless said.
    #[serde(default, skip_serializing_if = "Variant::is_default")]
    pub variant: Variant,
    /// The RGB levels padding fills where the geometry pads ([`ResizeMode::FitPad`]); torchvision's
    /// `CenterCrop` pads with zeros, the default, which is left out of serialised recipes.
    #[serde(default, skip_serializing_if = "is_black")]
    pub fill: [u8; 3],
}

fn is_black(fill: &[u8; 3]) -> bool {
    *fill == [0; 3]
}

/// The named presets, in the order `zoorepro recipes` lists them: each pipeline's in turn
/// ([`Library::ALL`]'s order).
pub fn presets() -> Vec<Recipe> {
    Library::ALL
        .into_iter()
        .flat_map(|library| library.pipeline().presets())
        .collect()
}

pub fn preset(name: &str) -> Option<Recipe> {
    presets().into_iter().find(|r| r.name == name)
}

impl Recipe {
    /// Shape of one sample in this recipe's layout.
    pub fn sample_shape(&self) -> [usize; 3] {
        let s = self.crop_size as usize;
        match self.layout {
            Layout::Nchw => [3, s, s],
            Layout::Nhwc => [s, s, 3],
        }
    }

    /// Whether two recipes make the same tensor from every image: every field but the name and
    /// the description, which only say what the recipe is. A pass computes such recipes once.
    pub fn same_tensor(&self, other: &Recipe) -> bool {
        let unnamed = |recipe: &Recipe| Recipe {
            name: String::new(),
            description: String::new(),
            ..recipe.clone()
        };
        unnamed(self) == unnamed(other)
    }

    /// How `self` makes another tensor than `other`: each parameter that differs, as `field
    /// VALUE (not OTHER)`; empty when [`Recipe::same_tensor`] holds.
    pub fn differences(&self, other: &Recipe) -> Vec<String> {
        let mut found = Vec::new();
        let mut field = |name: &str, mine: String, theirs: String| {
            if mine != theirs {
                found.push(format!("{name} {mine} (not {theirs})"));
            }
        };
        let debug = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
        field("library", debug(&self.library), debug(&other.library));
        field("variant", debug(&self.variant), debug(&other.variant));
        field(
            "resize_mode",
            debug(&self.resize_mode),
            debug(&other.resize_mode),
        );
        field(
            "resize_size",
            self.resize_size.to_string(),
            other.resize_size.to_string(),
        );
        field(
            "crop_size",
            self.crop_size.to_string(),
            other.crop_size.to_string(),
        );
        field("filter", debug(&self.filter), debug(&other.filter));
        field("scale", debug(&self.scale), debug(&other.scale));
        field("mean", debug(&self.mean), debug(&other.mean));
        field("std", debug(&self.std), debug(&other.std));
        field("channels", debug(&self.channels), debug(&other.channels));
        field("layout", debug(&self.layout), debug(&other.layout));
        field("fill", debug(&self.fill), debug(&other.fill));
        found
    }

    pub fn sample_len(&self) -> usize {
        let s = self.crop_size as usize;
        3 * s * s
    }

    /// Rejects recipes whose arithmetic would be meaningless (zero or non-finite divisors, an
    /// empty output), so that a manifest error is reported at load time, not as NaN tensors.
    pub fn validate(&self) -> Result<(), String> {
        if self.crop_size == 0 || self.crop_size > 4096 {
            return Err(format!(
                "crop_size {} is out of range 1..=4096",
                self.crop_size
            ));
        }
        if self.resize_mode == ResizeMode::ShorterSide
            && (self.resize_size == 0 || self.resize_size > 8192)
        {
            return Err(format!(
                "resize_size {} is out of range 1..=8192",
                self.resize_size
            ));
        }
        if !(self.scale.is_finite() && self.scale != 0.0) {
            return Err(format!(
                "scale {} must be a finite, non-zero divisor",
                self.scale
            ));
        }
        if let Some(m) = self.mean.iter().find(|m| !m.is_finite()) {
            return Err(format!("mean {m} (in float32) is not a finite number"));
        }
        if let Some(s) = self.std.iter().find(|s| !s.is_normal()) {
            return Err(format!(
                "std {s:e} (in float32) cannot divide: it must be finite, non-zero and not \
                 subnormal (at least {:e} in magnitude)",
                f32::MIN_POSITIVE
            ));
        }
        // Every output, (level / scale - mean) / std over levels 0..=255, must be a float32 too.
        let largest = (0..3)
            .map(|c| {
                (255.0 / f64::from(self.scale).abs() + f64::from(self.mean[c]).abs())
                    / f64::from(self.std[c]).abs()
            })
            .fold(0.0, f64::max);
        if largest >= f64::from(f32::MAX) {
            return Err(format!(
                "mean {:?} and std {:?} give values up to {largest:e}, beyond float32",
                self.mean, self.std
            ));
        }
        if self.fill != [0; 3] && self.resize_mode != ResizeMode::FitPad {
            return Err("fill applies only to resize_mode fit-pad".into());
        }
        self.library.pipeline().validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_names_are_the_contract() {
        let names: Vec<_> = presets().into_iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "torchvision",
                "torchvision-inception-seed",
                "torchvision-inception",
                "timm-bicubic",
                "timm-bicubic-299",
                "keras-caffe",
                "keras-torch",
                "keras-tf",
                "keras-tf-224",
                "keras-tf-331",
                "tf-inception-299",
                "tf-inception-224",
                "slim-inception-299",
                "slim-inception-224",
                "slim-vgg-224",
                "keras-dataset-caffe-224",
                "keras-dataset-tf-299",
                "torchvision-tensor",
                "torchvision-tensor-v1",
                "mlperf-resnet50",
                "mlperf-mobilenet",
                "mlperf-resnet50-pytorch",
                "mlperf-tflite-tpu"
            ]
        );
        assert!(presets().iter().all(|r| r.validate().is_ok()));
    }

    #[test]
    fn every_pipeline_is_listed_once_under_its_serialised_name() {
        for (i, library) in Library::ALL.into_iter().enumerate() {
            let json = serde_json::to_string(&library).unwrap();
            assert_eq!(json, format!("\"{}\"", library.name()));
            assert!(!Library::ALL[..i].contains(&library), "{json} twice");
        }
        // A new variant stops the build here until it gets its arm and the count goes up; ALL,
        // without repeats, must then hold that many.
        let variants = |library: Library| match library {
            Library::Pillow | Library::Opencv | Library::Tensorflow | Library::Torch => 4,
        };
        assert_eq!(Library::ALL.len(), variants(Library::default()));
    }

    #[test]
    fn recipes_round_trip_through_json() {
        for recipe in presets() {
            let json = serde_json::to_string(&recipe).unwrap();
            assert_eq!(serde_json::from_str::<Recipe>(&json).unwrap(), recipe);
        }
    }

    #[test]
    fn normalisations_that_leave_float32_are_refused_naming_the_value() {
        let base = preset("torchvision").unwrap();
        let with = |mean: f32, std: f32| {
            Recipe {
                mean: [mean; 3],
                std: [std; 3],
                ..base.clone()
            }
            .validate()
        };
        assert!(with(0.5, 1e-40).unwrap_err().contains("std 1e-40"));
        assert!(with(0.5, 0.0).unwrap_err().contains("subnormal"));
        assert!(with(f32::INFINITY, 1.0).unwrap_err().contains("mean inf"));
        assert!(with(1e30, 1e-30).unwrap_err().contains("beyond float32"));
        assert!(with(0.5, 1e-30).is_ok());
    }

    #[test]
    fn filter_names_parse_case_insensitively() {
        assert_eq!(Filter::parse("lanczos"), Some(Filter::Lanczos));
        assert_eq!(Filter::parse("ANTIALIAS"), None);
    }

    #[test]
    fn the_same_tensor_is_told_by_the_arithmetic_not_the_name() {
        let torchvision = preset("torchvision").unwrap();
        let mut renamed = torchvision.clone();
        renamed.name = "my-torchvision".into();
        renamed.description = "mine".into();
        assert!(torchvision.same_tensor(&renamed));
        renamed.crop_size = 223;
        assert!(!torchvision.same_tensor(&renamed));
        assert!(!torchvision.same_tensor(&preset("timm-bicubic").unwrap()));
    }

    #[test]
    fn differences_name_each_parameter_that_changes_the_tensor() {
        let torchvision = preset("torchvision").unwrap();
        let mut other = torchvision.clone();
        other.name = "renamed".into();
        assert!(torchvision.differences(&other).is_empty());
        other.resize_size = 235;
        other.filter = Filter::Bicubic;
        assert_eq!(
            other.differences(&torchvision),
            ["resize_size 235 (not 256)", "filter bicubic (not bilinear)"]
        );
    }
}
