//! MLPerf Inference's image classification preprocessing (mlcommons/inference,
//! vision/classification_and_detection/python/dataset.py), bit for bit like
//! opencv-python-headless 5.1.0.95 and NumPy:
//!
//! ```python
//! img = cv2.imread(path)                          # BGR, EXIF orientation applied: jpeg.rs
//! img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
//! # resize_with_aspectratio: short side int(100 * 224 / 87.5) = 256
//! if h > w: w, h = 256, int(256 * h / w)
//! else:     w, h = int(256 * w / h), 256
//! img = cv2.resize(img, (w, h), interpolation=...) # INTER_AREA (pre_process_vgg) or
//!                                                  # INTER_LINEAR (pre_process_mobilenet)
//! img = img[int((h - 224) / 2):..., int((w - 224) / 2):...]   # center_crop, 224 x 224
//! img = np.asarray(img, dtype='float32')
//! img -= [123.68, 116.78, 103.94]                  # vgg, then NCHW
//! img = (img / 255.0 - 0.5) * 2                    # mobilenet, NHWC
//! ```
//!
//! The resize is in `resize.rs`, the decoder in `jpeg.rs`. `pre_process_imagenet_tflite_tpu` is
//! the same path with INTER_LINEAR, the channels flipped back to BGR and Keras's caffe means.
//!
//! The variant `pillow-resize` is `pre_process_imagenet_pytorch`: imread's pixels handed to
//! torchvision on a PIL image,
//!
//! ```python
//! img = Image.fromarray(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB))
//! img = F.resize(img, 256, Image.BILINEAR)   # Pillow's resize, torchvision's short side
//! img = F.center_crop(img, 224)              # torchvision's rounding and zero padding
//! img = F.normalize(F.to_tensor(img), mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
//! img = np.asarray(img.permute(1, 2, 0), dtype="float32")   # NHWC unless need_transpose
//! ```
//!
//! so its geometry, resize and normalisation are the Pillow pipeline's own, on this decoder's
//! pixels.

mod jpeg;
mod resize;

use super::pillow::Pillow;
use super::{PillowCompat, Pipeline};
use crate::image::decoding::DecodeError;
use crate::image::geometry::shorter_side_size;
use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::{ChannelOrder, Filter, Layout, Library, Recipe, ResizeMode, Variant};
use resize::{Interpolation, Part, resize_window, source_window};

/// MLPerf's `pre_process_vgg` means, RGB.
const VGG_MEAN: [f32; 3] = [123.68, 116.78, 103.94];

/// `pre_process_imagenet_tflite_tpu`'s means (Keras's caffe means), BGR.
const CAFFE_MEAN: [f32; 3] = [103.939, 116.779, 123.68];

/// torchvision's ImageNet normalisation, which `pre_process_imagenet_pytorch` spells out.
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The two MLPerf presets: `mlperf-resnet50` (INTER_AREA, minus the means, NCHW) and
/// `mlperf-mobilenet` (INTER_LINEAR, `(x / 255 - 0.5) * 2` written as mean 0.5, std 0.5: dividing
/// by 0.5 and multiplying by 2 give the same float32; NHWC).
fn mlperf_presets() -> [Recipe; 4] {
    let base = |name: &str, description: &str, filter| Recipe {
        name: name.into(),
        description: description.into(),
        resize_mode: ResizeMode::ShorterSide,
        resize_size: 256,
        crop_size: 224,
        filter,
        scale: 1.0,
        mean: VGG_MEAN,
        std: [1.0; 3],
        channels: ChannelOrder::Rgb,
        layout: Layout::Nchw,
        library: Library::Opencv,
        variant: Variant::Standard,
        fill: [0; 3],
    };
    [
        base(
            "mlperf-resnet50",
            "MLPerf Inference pre_process_vgg with opencv-python-headless 5.1.0.95: cv2.imread (EXIF \
             orientation applied), BGR2RGB, resize short side to 256 (INTER_AREA), centre crop 224, \
             float32 minus [123.68, 116.78, 103.94], NCHW; JPEG input only",
            Filter::Box,
        ),
        Recipe {
            scale: 255.0,
            mean: [0.5; 3],
            std: [0.5; 3],
            layout: Layout::Nhwc,
            ..base(
                "mlperf-mobilenet",
                "MLPerf Inference pre_process_mobilenet with opencv-python-headless 5.1.0.95: \
                 cv2.imread (EXIF orientation applied), BGR2RGB, resize short side to 256 \
                 (INTER_LINEAR), centre crop 224, (x / 255 - 0.5) * 2, NHWC; JPEG input only",
                Filter::Bilinear,
            )
        },
        Recipe {
            scale: 255.0,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            layout: Layout::Nhwc,
            variant: Variant::PillowResize,
            ..base(
                "mlperf-resnet50-pytorch",
                "MLPerf Inference pre_process_imagenet_pytorch: cv2.imread (opencv-python-headless \
                 5.1.0.95, EXIF orientation applied), BGR2RGB, then torchvision on the PIL image: \
                 Resize(256) bilinear (Pillow 13), CenterCrop(224), ToTensor, Normalize(ImageNet), \
                 NHWC; JPEG input only",
                Filter::Bilinear,
            )
        },
        Recipe {
            mean: CAFFE_MEAN,
            channels: ChannelOrder::Bgr,
            layout: Layout::Nhwc,
            ..base(
                "mlperf-tflite-tpu",
                "MLPerf Inference pre_process_imagenet_tflite_tpu with opencv-python-headless \
                 5.1.0.95: cv2.imread (EXIF orientation applied), resize short side to 256 \
                 (INTER_LINEAR), centre crop 224, float32, back to BGR, minus [103.939, 116.779, \
                 123.68], NHWC; JPEG input only",
                Filter::Bilinear,
            )
        },
    ]
}

/// The fields an OpenCV recipe can vary: sizes, normalisation, channel order and layout; the
/// filter is BOX (INTER_AREA) or BILINEAR (INTER_LINEAR), the geometry MLPerf's. The variant
/// `pillow-resize` resizes with Pillow: any of its filters, torchvision's short side and crop.
fn validate(recipe: &Recipe) -> Result<(), String> {
    match recipe.variant {
        Variant::Standard => {}
        Variant::PillowResize => {
            return if recipe.resize_mode == ResizeMode::ShorterSide {
                Ok(())
            } else {
                Err(
                    "an opencv pillow-resize recipe is torchvision's Resize(resize_size) and \
                     CenterCrop(crop_size) (resize_mode shorter-side)"
                        .into(),
                )
            };
        }
        other => {
            return Err(format!("an opencv recipe has no variant {other:?}"));
        }
    }
    if recipe.resize_mode != ResizeMode::ShorterSide {
        return Err("an opencv recipe resizes the short side (resize_mode shorter-side)".into());
    }
    if interpolation(recipe).is_none() {
        return Err(
            "an opencv recipe's filter is BOX (INTER_AREA) or BILINEAR (INTER_LINEAR)".into(),
        );
    }
    if recipe.crop_size > recipe.resize_size {
        return Err(
            "an opencv recipe crops inside the resized image (crop_size <= resize_size)".into(),
        );
    }
    Ok(())
}

fn interpolation(recipe: &Recipe) -> Option<Interpolation> {
    match recipe.filter {
        Filter::Box => Some(Interpolation::Area),
        Filter::Bilinear => Some(Interpolation::Linear),
        _ => None,
    }
}

/// `center_crop`'s first kept index along an axis of `len`: `int((len - crop) / 2)`.
fn crop_start(len: usize, crop: usize) -> usize {
    (len - crop) / 2
}

/// The resized size and the crop's window on it, for a `width` x `height` picture.
fn plan(width: usize, height: usize, recipe: &Recipe) -> (usize, usize, Window) {
    let crop = recipe.crop_size as usize;
    let (w, h) = shorter_side_size(width, height, recipe.resize_size as usize);
    let window = Window {
        x: crop_start(w, crop),
        y: crop_start(h, crop),
        width: crop,
        height: crop,
    };
    (w, h, window)
}

/// The pixels of a `width` x `height` picture that `recipe` reads.
fn source_pixels(width: usize, height: usize, recipe: &Recipe) -> Window {
    let (w, h, window) = plan(width, height, recipe);
    let interp = interpolation(recipe).expect("validated opencv recipe");
    source_window(width, height, w, h, window, interp)
}

/// MLPerf's preprocessing, on an image decoded as imread does (RGB) that holds (at least)
/// [`source_pixels`] of the picture, into `out` (`recipe.sample_len()` floats).
///
/// # Panics
/// If `out` does not fit or the recipe is not a valid OpenCV recipe (a caller's bug).
fn preprocess_part(src: Part, recipe: &Recipe, out: &mut [f32]) {
    assert_eq!(out.len(), recipe.sample_len(), "output buffer does not fit");
    let interp = interpolation(recipe).expect("validated opencv recipe");
    let (w, h, window) = plan(src.width, src.height, recipe);
    let pixels = resize_window(src, w, h, window, interp);
    normalise(&pixels, recipe, out);
}

/// `np.asarray(img, 'float32')` then the recipe's float32 arithmetic, per pixel level.
fn normalise(pixels: &[u8], recipe: &Recipe, out: &mut [f32]) {
    let mut tables = [[0f32; 256]; 3];
    for (c, table) in tables.iter_mut().enumerate() {
        for (level, value) in table.iter_mut().enumerate() {
            *value = (level as f32 / recipe.scale - recipe.mean[c]) / recipe.std[c];
        }
    }
    let source_channel = match recipe.channels {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let plane = pixels.len() / 3;
    match recipe.layout {
        Layout::Nhwc => {
            for (o, px) in out.chunks_exact_mut(3).zip(pixels.chunks_exact(3)) {
                for c in 0..3 {
                    o[c] = tables[c][usize::from(px[source_channel[c]])];
                }
            }
        }
        Layout::Nchw => {
            for (c, o) in out.chunks_exact_mut(plane).enumerate() {
                let sc = source_channel[c];
                for (v, px) in o.iter_mut().zip(pixels.chunks_exact(3)) {
                    *v = tables[c][usize::from(px[sc])];
                }
            }
        }
    }
}

/// The OpenCV pipeline.
pub struct Opencv;

impl Pipeline for Opencv {
    fn name(&self) -> &'static str {
        "opencv"
    }

    fn presets(&self) -> Vec<Recipe> {
        mlperf_presets().into()
    }

    fn validate(&self, recipe: &Recipe) -> Result<(), String> {
        validate(recipe)
    }

    fn source_pixels(&self, width: usize, height: usize, recipe: &Recipe) -> Window {
        if recipe.variant == Variant::PillowResize {
            return Pillow.source_pixels(width, height, recipe);
        }
        source_pixels(width, height, recipe)
    }

    /// As `cv2.imread` decodes (JPEG only, EXIF orientation applied), the part `needed` asks
    /// for where that is clean and the picture needs no turning.
    fn decode(
        &self,
        bytes: &[u8],
        needed: &mut dyn FnMut(usize, usize) -> Window,
    ) -> Result<(RgbImage, Placement), DecodeError> {
        let decoded = jpeg::decode(bytes, needed)?;
        let placement = Placement {
            window: Window {
                x: decoded.x,
                y: decoded.y,
                width: decoded.img.width,
                height: decoded.img.height,
            },
            full_width: decoded.full_width,
            full_height: decoded.full_height,
        };
        Ok((decoded.img, placement))
    }

    fn preprocess_part(
        &self,
        img: &RgbImage,
        placement: Placement,
        recipe: &Recipe,
        compat: PillowCompat,
        out: &mut [f32],
    ) {
        if recipe.variant == Variant::PillowResize {
            // torchvision on the PIL image of imread's pixels: whichever Pillow `compat` names.
            return Pillow.preprocess_part(img, placement, recipe, compat, out);
        }
        let part = Part {
            img,
            x: placement.window.x,
            y: placement.window.y,
            width: placement.full_width,
            height: placement.full_height,
        };
        preprocess_part(part, recipe, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_starts_truncate_like_pythons_int() {
        // int((341 - 224) / 2) = int(58.5) = 58, where torchvision rounds to 58 as well but
        // int((343 - 224) / 2) = 59 where torchvision gives 60.
        assert_eq!(crop_start(341, 224), 58);
        assert_eq!(crop_start(343, 224), 59);
        assert_eq!(crop_start(256, 224), 16);
    }

    #[test]
    fn decoding_only_the_part_read_changes_no_bit() {
        let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
        let mut files: Vec<_> = std::fs::read_dir(&demo)
            .unwrap()
            .filter_map(|class| std::fs::read_dir(class.ok()?.path()).ok())
            .flatten()
            .map(|f| f.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty());
        for file in files.iter().take(8) {
            let bytes = std::fs::read(file).unwrap();
            let whole = super::jpeg::decode(&bytes, Window::full).unwrap();
            assert_eq!((whole.x, whole.y), (0, 0));
            for recipe in mlperf_presets() {
                let (mut a, mut b) = (
                    vec![0f32; recipe.sample_len()],
                    vec![1f32; recipe.sample_len()],
                );
                let placement = Placement::whole(&whole.img);
                Opencv.preprocess_part(&whole.img, placement, &recipe, PillowCompat::V13, &mut a);
                let pair = (&recipe, PillowCompat::V13);
                let outs = &mut [&mut b[..]];
                crate::image::pipelines::preprocess(&bytes, &[pair], outs)
                    .remove(0)
                    .unwrap();
                assert!(
                    a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{} {}",
                    recipe.name,
                    file.display()
                );
            }
        }
    }

    #[test]
    fn pre_process_imagenet_pytorch_is_torchvision_on_imreads_pixels() {
        // Where imread and Pillow decode alike (the demo's plain JPEGs), the pytorch preset in
        // NCHW is the torchvision preset; the tflite preset is mobilenet's resize in BGR.
        let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
        let class = std::fs::read_dir(&demo)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let file = std::fs::read_dir(class)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let bytes = std::fs::read(&file).unwrap();
        let pillow = crate::image::pipelines::pillow::decode::decode_rgb(&bytes).unwrap();
        let opencv = super::jpeg::decode(&bytes, Window::full).unwrap();
        assert!(
            pillow == opencv.img,
            "{}: the decoders differ",
            file.display()
        );
        let [_, mobilenet, pytorch, tflite] = mlperf_presets();
        let tensor = |recipe: &Recipe| {
            let mut out = vec![f32::NAN; recipe.sample_len()];
            let outs = &mut [&mut out[..]];
            crate::image::pipelines::preprocess(&bytes, &[(recipe, PillowCompat::V13)], outs)
                .remove(0)
                .unwrap();
            out
        };
        let nchw = Recipe {
            layout: Layout::Nchw,
            ..pytorch.clone()
        };
        let torchvision = crate::image::recipe::preset("torchvision").unwrap();
        assert!(tensor(&nchw) == tensor(&torchvision));
        let (flipped, rgb) = (tensor(&tflite), tensor(&mobilenet));
        for (bgr, rgb) in flipped.chunks_exact(3).zip(rgb.chunks_exact(3)) {
            let level = |v: f32, mean: f32| (v + mean).round();
            let mobilenet_level = |v: f32| ((v / 2.0 + 0.5) * 255.0).round();
            assert_eq!(level(bgr[0], CAFFE_MEAN[0]), mobilenet_level(rgb[2]));
            assert_eq!(level(bgr[2], CAFFE_MEAN[2]), mobilenet_level(rgb[0]));
        }
        // Pillow's geometry and filters, and nothing else.
        let mut other = pytorch.clone();
        other.filter = Filter::Lanczos;
        assert!(validate(&other).is_ok());
        other.resize_mode = ResizeMode::Squash;
        assert!(validate(&other).is_err());
        other.variant = Variant::TensorV1;
        assert!(validate(&other).is_err());
    }

    #[test]
    fn presets_validate_and_use_mlperfs_constants() {
        let [resnet, mobilenet, pytorch, tflite] = mlperf_presets();
        for recipe in [&resnet, &mobilenet, &pytorch, &tflite] {
            assert!(validate(recipe).is_ok(), "{}", recipe.name);
        }
        assert_eq!(tflite.mean[0], 103.939f32);
        assert_eq!(resnet.mean[0], 123.68f32);
        let mut out = vec![0f32; mobilenet.sample_len()];
        let img = RgbImage::new(300, 256, vec![255; 300 * 256 * 3]);
        preprocess_part(Part::whole(&img), &mobilenet, &mut out);
        assert!(out.iter().all(|&v| v == 1.0));
        let mut bad = resnet.clone();
        bad.filter = Filter::Bicubic;
        assert!(validate(&bad).is_err());
    }
}
