//! Pillow's presets: torchvision's, timm's and Keras's evaluation recipes, each built from one of
//! two constructors (torchvision's short-side resize and centre crop, Keras's squash).

use crate::image::recipe::{ChannelOrder, Filter, Layout, Library, Recipe, ResizeMode, Variant};

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
        variant: Variant::Standard,
        fill: [0; 3],
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
        variant: Variant::Standard,
        fill: [0; 3],
    }
}

/// torchvision's, timm's and Keras's evaluation recipes, all on Pillow.
pub(super) fn presets() -> Vec<Recipe> {
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
