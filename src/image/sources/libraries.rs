//! The sources named by a library's function and a few options: Keras (`keras:`,
//! `keras-dataset:`), TF-slim (`slim:`) and MLPerf Inference (`mlperf:`). Where one denotes a
//! preset's pipeline its fields are the preset's (the presets name it in docs/recipes.md).

use super::{Source, SourceError, filter_named, suggest, timm, torchvision};
use crate::image::recipe::{
    self, ChannelOrder, Filter, Layout, Library, Recipe, ResizeMode, Variant,
};

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Keras 'caffe' means, in BGR order as Keras subtracts them after flipping RGB to BGR.
const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];
/// TF-slim's `vgg_preprocessing` and MLPerf's `pre_process_vgg` means, RGB.
const VGG_MEAN: [f32; 3] = [123.68, 116.78, 103.94];

/// `preprocess_input`'s modes: (mode, scale, mean, std, channels, what it computes).
type Mode = (
    &'static str,
    f32,
    [f32; 3],
    [f32; 3],
    ChannelOrder,
    &'static str,
);

const MODES: [Mode; 4] = [
    (
        "caffe",
        1.0,
        CAFFE_MEAN_BGR,
        [1.0; 3],
        ChannelOrder::Bgr,
        "RGB->BGR, minus [103.939, 116.779, 123.68]",
    ),
    (
        "tf",
        127.5,
        [1.0; 3],
        [1.0; 3],
        ChannelOrder::Rgb,
        "x/127.5 - 1",
    ),
    (
        "torch",
        255.0,
        IMAGENET_MEAN,
        IMAGENET_STD,
        ChannelOrder::Rgb,
        "/255, ImageNet mean/std",
    ),
    (
        "none",
        1.0,
        [0.0; 3],
        [1.0; 3],
        ChannelOrder::Rgb,
        "none (raw 0-255, the models whose preprocess_input passes through)",
    ),
];

/// The `SIZE` of `@SIZE`: a whole number of pixels in 1..=4096, as every recipe's crop, in
/// digits only (`+224` would be another spelling of one recipe's name).
fn output_size(source: &Source<'_>, size_text: &str) -> Result<u32, SourceError> {
    Some(size_text)
        .filter(|text| text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse::<u32>().ok())
        .filter(|s| (1..=4096).contains(s))
        .ok_or_else(|| {
            source.malformed(format!(
                "size {size_text:?} is not a whole number of pixels in 1..=4096"
            ))
        })
}

/// MODE and `@SIZE[,OPTION...]` of a Keras source.
fn keras_parts<'s>(
    source: &'s Source<'_>,
    family: &'static str,
) -> Result<(Mode, u32, Vec<&'s str>), SourceError> {
    let Some((mode_name, spec)) = source.body.split_once('@') else {
        return Err(source.malformed(format!(
            "{family} needs @SIZE after the mode, e.g. {family}:caffe@224"
        )));
    };
    let mode = MODES
        .into_iter()
        .find(|m| m.0 == mode_name)
        .ok_or_else(|| {
            let names = MODES.map(|m| m.0);
            source.unknown(
                family,
                "preprocess_input mode",
                mode_name,
                suggest::closest(mode_name, names),
            )
        })?;
    let mut parts = spec.split(',');
    let size_text = parts.next().unwrap_or_default();
    let size = output_size(source, size_text)?;
    Ok((mode, size, parts.collect()))
}

/// `keras:MODE@SIZE[,INTERPOLATION][,keep-aspect]`: Keras `load_img(target_size=(SIZE, SIZE),
/// interpolation=..., keep_aspect_ratio=...)` (Pillow's resize, NEAREST by default) and
/// `preprocess_input` in MODE, NHWC.
pub(super) fn keras(source: &Source<'_>) -> Result<Recipe, SourceError> {
    let (mode, size, options) = keras_parts(source, "keras")?;
    let (mut filter, mut keep_aspect) = (None, false);
    for option in options {
        match (option, filter_named(option)) {
            ("keep-aspect", _) if !keep_aspect => keep_aspect = true,
            (name, Some(f)) if filter.is_none() && name == name.to_lowercase() => filter = Some(f),
            _ => {
                return Err(source.malformed(format!(
                    "option {option:?}: keras takes an interpolation (nearest, bilinear, bicubic, hamming, box, lanczos) and keep-aspect, each once"
                )));
            }
        }
    }
    let filter = filter.unwrap_or(Filter::Nearest);
    let (resize_mode, geometry) = if keep_aspect {
        (
            ResizeMode::AspectCrop,
            "keep_aspect_ratio=True (centre box)",
        )
    } else {
        (ResizeMode::Squash, "squash")
    };
    let (name, scale, mean, std, channels, arithmetic) = mode;
    Ok(Recipe {
        name: source.text.to_string(),
        description: format!(
            "Keras load_img({size}x{size}, {}, {geometry}), preprocess_input '{name}': {arithmetic}, NHWC",
            filter.name().to_lowercase()
        ),
        resize_mode,
        resize_size: size,
        crop_size: size,
        filter,
        scale,
        mean,
        std,
        channels,
        layout: Layout::Nhwc,
        library: Library::Pillow,
        variant: Variant::Standard,
        fill: [0; 3],
    })
}

/// `keras-dataset:MODE@SIZE`: `image_dataset_from_directory(image_size=(SIZE, SIZE))` with its
/// defaults (TensorFlow's decode, bilinear `tf.image.resize` of the whole image to float32) and
/// `preprocess_input` in MODE, NHWC.
pub(super) fn keras_dataset(source: &Source<'_>) -> Result<Recipe, SourceError> {
    let (mode, size, options) = keras_parts(source, "keras-dataset")?;
    if let Some(option) = options.first() {
        return Err(source.malformed(format!(
            "option {option:?}: keras-dataset takes MODE@SIZE only (image_dataset_from_directory's defaults: bilinear, no crop)"
        )));
    }
    let (name, scale, mean, std, channels, arithmetic) = mode;
    // The geometry, pipeline and variant are the keras-dataset presets'.
    let base =
        recipe::preset("keras-dataset-tf-299").expect("the keras-dataset-tf-299 preset exists");
    Ok(Recipe {
        name: source.text.to_string(),
        description: format!(
            "Keras image_dataset_from_directory({size}x{size}): TensorFlow decode_jpeg, bilinear \
             tf.image.resize of the whole image to float32; preprocess_input '{name}': {arithmetic}, NHWC"
        ),
        resize_size: size,
        crop_size: size,
        scale,
        mean,
        std,
        channels,
        ..base
    })
}

/// `slim:inception@SIZE` and `slim:vgg@SIZE`: TF-slim's `preprocess_for_eval` of
/// `inception_preprocessing` (the tf-inception presets' fields, TF1's resize) and
/// `vgg_preprocessing` (short side to 256, central crop, minus the VGG means), NHWC.
pub(super) fn slim(source: &Source<'_>) -> Result<Recipe, SourceError> {
    let Some((name, size_text)) = source.body.split_once('@') else {
        return Err(source.malformed("slim needs @SIZE, e.g. slim:inception@299"));
    };
    let size = output_size(source, size_text)?;
    let base = recipe::preset("tf-inception-299").expect("the tf-inception-299 preset exists");
    let recipe = match name {
        "inception" => Recipe {
            description: format!(
                "TF-slim inception_preprocessing.preprocess_for_eval({size}): decode_jpeg, \
                 convert_image_dtype, central_crop(0.875), TF1 resize_bilinear \
                 (align_corners=False), (x - 0.5) * 2, NHWC"
            ),
            resize_size: size,
            crop_size: size,
            variant: Variant::SlimInception,
            ..base
        },
        "vgg" if size <= 256 => Recipe {
            description: format!(
                "TF-slim vgg_preprocessing.preprocess_for_eval({size}, resize_side 256): \
                 decode_jpeg, TF1 bilinear resize of the short side to 256, central crop {size}, \
                 minus [123.68, 116.78, 103.94], NHWC"
            ),
            resize_mode: ResizeMode::ShorterSide,
            resize_size: 256,
            crop_size: size,
            scale: 1.0,
            mean: VGG_MEAN,
            std: [1.0; 3],
            variant: Variant::SlimVgg,
            ..base
        },
        "vgg" => {
            return Err(source.malformed(format!(
                "slim:vgg crops inside the short side resized to 256: size {size} is larger"
            )));
        }
        other => {
            return Err(source.unknown(
                "slim",
                "preprocessing",
                other,
                suggest::closest(other, ["inception", "vgg"]),
            ));
        }
    };
    Ok(Recipe {
        name: source.text.to_string(),
        ..recipe
    })
}

/// The MLPerf Inference functions: `pre_process_vgg` (`resnet50`), `pre_process_mobilenet`
/// (`mobilenet`), `pre_process_imagenet_pytorch` (`resnet50-pytorch`, NHWC as its default
/// `need_transpose=False` gives, NCHW with `@nchw` as an NCHW backend asks) and
/// `pre_process_imagenet_tflite_tpu` (`tflite-tpu`).
pub(super) fn mlperf(source: &Source<'_>) -> Result<Recipe, SourceError> {
    const NAMES: [&str; 4] = ["resnet50", "mobilenet", "resnet50-pytorch", "tflite-tpu"];
    let (name, suffix) = source.split_suffix(&["nchw"])?;
    if let Some((function, suffix)) = name.split_once('@') {
        return Err(source.malformed(format!(
            "unknown suffix @{suffix}: mlperf:{function} takes {}",
            match function {
                "resnet50-pytorch" => "@nchw or none",
                _ => "none",
            }
        )));
    }
    if suffix.is_some() && name != "resnet50-pytorch" {
        return Err(source.malformed(
            "@nchw applies to mlperf:resnet50-pytorch only (the other functions' layout is fixed)",
        ));
    }
    let base = recipe::preset("mlperf-resnet50").expect("the mlperf-resnet50 preset exists");
    let recipe = match name {
        "resnet50" => base,
        "mobilenet" => recipe::preset("mlperf-mobilenet").expect("the preset exists"),
        "resnet50-pytorch" => Recipe {
            description: "MLPerf Inference pre_process_imagenet_pytorch: cv2.imread, BGR2RGB, \
                          Image.fromarray, torchvision Resize(256) bilinear (Pillow's), \
                          CenterCrop(224), to_tensor, Normalize(ImageNet mean/std)"
                .into(),
            filter: Filter::Bilinear,
            scale: 255.0,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            layout: if suffix.is_some() {
                Layout::Nchw
            } else {
                Layout::Nhwc
            },
            variant: Variant::PillowResize,
            ..base
        },
        "tflite-tpu" => Recipe {
            description: "MLPerf Inference pre_process_imagenet_tflite_tpu: cv2.imread, BGR2RGB, \
                          resize short side to 256 (INTER_LINEAR), centre crop 224, RGB->BGR, \
                          minus [103.939, 116.779, 123.68], NHWC"
                .into(),
            filter: Filter::Bilinear,
            mean: CAFFE_MEAN_BGR,
            channels: ChannelOrder::Bgr,
            layout: Layout::Nhwc,
            ..base
        },
        other => {
            return Err(source.unknown(
                "mlperf",
                "preprocessing function",
                other.split('@').next().unwrap_or(other),
                suggest::closest(other, NAMES),
            ));
        }
    };
    Ok(Recipe {
        name: source.text.to_string(),
        ..recipe
    })
}

/// The built-in sources `explain` tries for a model of `crop_size` in `layout`, in the order
/// that names a tensor several share: every torchvision weight on a PIL image and on
/// `decode_jpeg` tensors with the v2 transforms (its documented use; the v1 path differs from v2
/// by one level on some pixels), MLPerf's, then every timm config on validate.py's default path
/// (its `--no-prefetcher` twin differs by at most 4.8e-7 per value, which no sample tells apart);
/// for NHWC, the four Keras modes with `load_img`'s default (nearest) and bilinear interpolation,
/// squashed or with the aspect kept, `image_dataset_from_directory` in each mode, TF-slim's two
/// and MLPerf's. Names whose output is another size or layout resolve and are dropped by the
/// caller.
pub(super) fn explain_sources(crop_size: u32, layout: Layout) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if layout == Layout::Nchw {
        for weights in torchvision::names() {
            names.push(format!("torchvision:{weights}"));
            names.push(format!("torchvision:{weights}@tensor-v2"));
        }
        names.push("mlperf:resnet50".into());
        names.push("mlperf:resnet50-pytorch@nchw".into());
        names.extend(timm::names().map(|n| format!("timm:{n}")));
    } else {
        for (mode, ..) in MODES {
            for options in ["", ",bilinear", ",keep-aspect", ",bilinear,keep-aspect"] {
                names.push(format!("keras:{mode}@{crop_size}{options}"));
            }
            names.push(format!("keras-dataset:{mode}@{crop_size}"));
        }
        names.push(format!("slim:inception@{crop_size}"));
        names.push(format!("slim:vgg@{crop_size}"));
        for mlperf in ["mobilenet", "resnet50-pytorch", "tflite-tpu"] {
            names.push(format!("mlperf:{mlperf}"));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::recipe::preset;
    use crate::image::sources::resolve;

    #[test]
    fn keras_sources_are_the_keras_presets_at_their_defaults() {
        for (source, name) in [
            ("keras:caffe@224", "keras-caffe"),
            ("keras:torch@224", "keras-torch"),
            ("keras:tf@299", "keras-tf"),
            ("keras:tf@224,nearest", "keras-tf-224"),
            ("keras:tf@331", "keras-tf-331"),
        ] {
            let recipe = resolve(source).unwrap();
            assert_eq!(recipe.name, source);
            assert!(recipe.same_tensor(&preset(name).unwrap()), "{source}");
        }
        let r = resolve("keras:caffe@224,bilinear").unwrap();
        assert_eq!(
            (r.filter, r.resize_mode, r.channels),
            (Filter::Bilinear, ResizeMode::Squash, ChannelOrder::Bgr)
        );
        let r = resolve("keras:none@240,keep-aspect,bicubic").unwrap();
        assert_eq!(
            (r.resize_mode, r.crop_size, r.filter),
            (ResizeMode::AspectCrop, 240, Filter::Bicubic)
        );
        assert_eq!((r.scale, r.mean, r.std), (1.0, [0.0; 3], [1.0; 3]));
        for (source, preset) in [
            ("keras-dataset:caffe@224", "keras-dataset-caffe-224"),
            ("keras-dataset:tf@299", "keras-dataset-tf-299"),
        ] {
            let preset = recipe::preset(preset).unwrap();
            assert!(resolve(source).unwrap().same_tensor(&preset), "{source}");
        }
        let r = resolve("keras-dataset:tf@224").unwrap();
        assert_eq!(
            (r.library, r.variant, r.filter),
            (Library::Tensorflow, Variant::KerasDataset, Filter::Bilinear)
        );
        assert_eq!((r.scale, r.layout), (127.5, Layout::Nhwc));
    }

    #[test]
    fn slim_and_mlperf_sources_follow_their_functions() {
        let inception = resolve("slim:inception@299").unwrap();
        let mut preset_299 = preset("tf-inception-299").unwrap();
        preset_299.variant = Variant::SlimInception;
        assert!(inception.same_tensor(&preset_299));
        let vgg = resolve("slim:vgg@224").unwrap();
        assert_eq!(
            (
                vgg.resize_mode,
                vgg.resize_size,
                vgg.crop_size,
                vgg.scale,
                vgg.mean
            ),
            (ResizeMode::ShorterSide, 256, 224, 1.0, VGG_MEAN)
        );
        assert_eq!((vgg.variant, vgg.layout), (Variant::SlimVgg, Layout::Nhwc));
        assert!(
            resolve("mlperf:resnet50")
                .unwrap()
                .same_tensor(&preset("mlperf-resnet50").unwrap())
        );
        assert!(
            resolve("mlperf:mobilenet")
                .unwrap()
                .same_tensor(&preset("mlperf-mobilenet").unwrap())
        );
        let pytorch = resolve("mlperf:resnet50-pytorch").unwrap();
        assert_eq!(
            (pytorch.library, pytorch.variant, pytorch.layout),
            (Library::Opencv, Variant::PillowResize, Layout::Nhwc)
        );
        assert_eq!(
            (pytorch.scale, pytorch.mean, pytorch.filter),
            (255.0, IMAGENET_MEAN, Filter::Bilinear)
        );
        assert_eq!(
            resolve("mlperf:resnet50-pytorch@nchw").unwrap().layout,
            Layout::Nchw
        );
        let tpu = resolve("mlperf:tflite-tpu").unwrap();
        assert_eq!(
            (
                tpu.library,
                tpu.variant,
                tpu.filter,
                tpu.channels,
                tpu.mean,
                tpu.scale,
                tpu.layout
            ),
            (
                Library::Opencv,
                Variant::Standard,
                Filter::Bilinear,
                ChannelOrder::Bgr,
                CAFFE_MEAN_BGR,
                1.0,
                Layout::Nhwc
            )
        );
        assert_eq!((tpu.resize_size, tpu.crop_size), (256, 224));
    }

    #[test]
    fn malformed_library_sources_say_what_to_write() {
        for (bad, says) in [
            ("keras:caffe", "needs @SIZE"),
            ("keras:caffe@0", "1..=4096"),
            ("keras:caffe@+224", "whole number"),
            ("slim:inception@ 299", "whole number"),
            ("keras:caffe@224,bilinear,bicubic", "each once"),
            ("keras:caffe@224,BILINEAR", "keras takes an interpolation"),
            ("keras:cafe@224", "did you mean \"caffe\""),
            ("keras-dataset:tf@224,bilinear", "MODE@SIZE only"),
            ("slim:vgg@299", "larger"),
            ("slim:incepton@299", "did you mean \"inception\""),
            ("mlperf:resnet50@nchw", "resnet50-pytorch only"),
            ("mlperf:resnet", "did you mean"),
        ] {
            let error = resolve(bad).unwrap_err().to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
