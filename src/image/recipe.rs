//! Preprocessing recipes: how a JPEG becomes the float32 tensor a model is fed.
//!
//! A recipe is data, not code, so that manifests can declare model-specific ones and every run
//! record can say exactly which arithmetic produced its inputs. The presets reproduce the Python
//! pipelines that published numbers were measured with (torchvision transforms, Keras
//! `load_img` + `preprocess_input`).

use serde::{Deserialize, Serialize};

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
}

/// Whose decoder and arithmetic a recipe reproduces. Pillow (with torchvision's or Keras's
/// geometry) is the default and is left out of serialised recipes, so recipes, manifests and
/// store keys written before other libraries existed are unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Library {
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
    pub fn is_pillow(&self) -> bool {
        *self == Library::Pillow
    }

    pub fn name(self) -> &'static str {
        match self {
            Library::Pillow => "pillow",
            Library::Opencv => "opencv",
            Library::Tensorflow => "tensorflow",
            Library::Torch => "torch",
        }
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
    #[serde(default, skip_serializing_if = "Library::is_pillow")]
    pub library: Library,
}

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Keras 'caffe' means, in BGR order as Keras subtracts them after flipping RGB to BGR.
const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];

fn torchvision(name: &str, description: &str, resize_size: u32, crop_size: u32) -> Recipe {
    Recipe {
        name: name.into(),
        description: description.into(),
        resize_mode: ResizeMode::ShorterSide,
        resize_size,
        crop_size,
        filter: Filter::Bilinear,
        scale: 255.0,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
        channels: ChannelOrder::Rgb,
        layout: Layout::Nchw,
        library: Library::Pillow,
    }
}

fn keras(
    name: &str,
    description: &str,
    size: u32,
    scale: f32,
    mean: [f32; 3],
    std: [f32; 3],
) -> Recipe {
    Recipe {
        name: name.into(),
        description: description.into(),
        resize_mode: ResizeMode::Squash,
        resize_size: size,
        crop_size: size,
        filter: Filter::Nearest,
        scale,
        mean,
        std,
        channels: ChannelOrder::Rgb,
        layout: Layout::Nhwc,
        library: Library::Pillow,
    }
}

/// The named presets, in the order `zoorepro recipes` lists them: Pillow's, then the other
/// libraries'.
pub fn presets() -> Vec<Recipe> {
    let mut presets = pillow_presets();
    presets.extend([
        crate::image::pipelines::tensorflow::inception_preset("tf-inception-299", 299),
        crate::image::pipelines::tensorflow::inception_preset("tf-inception-224", 224),
        crate::image::pipelines::torch::tensor_preset("torchvision-tensor", 256, 224),
    ]);
    presets.extend(crate::image::pipelines::opencv::mlperf_presets());
    presets
}

/// torchvision's, timm's and Keras's evaluation recipes, all on Pillow.
fn pillow_presets() -> Vec<Recipe> {
    let tf = |name: &str, size: u32| {
        keras(
            name,
            &format!(
                "Keras load_img squash to {size} (NEAREST), preprocess_input 'tf': x/127.5 - 1, NHWC"
            ),
            size,
            127.5,
            [1.0; 3],
            [1.0; 3],
        )
    };
    vec![
        torchvision(
            "torchvision",
            "Resize(256) bilinear, CenterCrop(224), ToTensor, Normalize(ImageNet mean/std), NCHW",
            256,
            224,
        ),
        torchvision(
            "torchvision-inception-seed",
            "Resize(256) bilinear, CenterCrop(299) zero-padding the short side as torchvision does, \
             ToTensor, Normalize, NCHW (what benchmarking-keras-pytorch ran for inception_v3)",
            256,
            299,
        ),
        torchvision(
            "torchvision-inception",
            "Resize(342) bilinear, CenterCrop(299), ToTensor, Normalize, NCHW (torchvision's published recipe)",
            342,
            299,
        ),
        // timm's validate.py for the torchvision weights whose pretrained config says bicubic
        // (densenet, inception_v3): Resize(floor(size / crop_pct 0.875)), CenterCrop(size).
        Recipe {
            filter: Filter::Bicubic,
            ..torchvision(
                "timm-bicubic",
                "timm: Resize(256 = int(224 / 0.875)) bicubic, CenterCrop(224), ToTensor, Normalize, NCHW",
                256,
                224,
            )
        },
        Recipe {
            filter: Filter::Bicubic,
            ..torchvision(
                "timm-bicubic-299",
                "timm: Resize(341 = int(299 / 0.875)) bicubic, CenterCrop(299), ToTensor, Normalize, NCHW",
                341,
                299,
            )
        },
        Recipe {
            channels: ChannelOrder::Bgr,
            ..keras(
                "keras-caffe",
                "Keras load_img squash to 224 (NEAREST), preprocess_input 'caffe': RGB->BGR, minus \
                 [103.939, 116.779, 123.68], NHWC",
                224,
                1.0,
                CAFFE_MEAN_BGR,
                [1.0; 3],
            )
        },
        keras(
            "keras-torch",
            "Keras load_img squash to 224 (NEAREST), preprocess_input 'torch': /255, ImageNet mean/std, NHWC",
            224,
            255.0,
            IMAGENET_MEAN,
            IMAGENET_STD,
        ),
        tf("keras-tf", 299),
        tf("keras-tf-224", 224),
        tf("keras-tf-331", 331),
    ]
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
        if self.std.iter().any(|s| !s.is_finite() || *s == 0.0)
            || self.mean.iter().any(|m| !m.is_finite())
        {
            return Err("mean must be finite and std finite and non-zero".into());
        }
        crate::image::pipelines::validate(self)
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
                "torchvision-tensor",
                "mlperf-resnet50",
                "mlperf-mobilenet"
            ]
        );
        assert!(presets().iter().all(|r| r.validate().is_ok()));
    }

    #[test]
    fn recipes_round_trip_through_json() {
        for recipe in presets() {
            let json = serde_json::to_string(&recipe).unwrap();
            assert_eq!(serde_json::from_str::<Recipe>(&json).unwrap(), recipe);
        }
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
}
