//! Recipe application: decoded RGB image -> the float32 tensor a model is fed.
//!
//! Geometry follows torchvision (`Resize` + `CenterCrop`, zero padding included), timm
//! (`crop_mode='squash'`: both sides then `CenterCrop`; `'border'`: `ResizeKeepRatio` of the long
//! side then `CenterCropOrPad` with a fill) or Keras (`load_img` squash, or with
//! `keep_aspect_ratio` the centred box resized through Pillow's `box`); arithmetic follows NumPy
//! float32: `((p / scale) - mean[c]) / std[c]`, each operation rounded to float32, which is what
//! the Python reference computes.

use super::resample::{PillowCompat, Target, resize_window, source_window};
use crate::image::decoding::DecodeError;
use crate::image::geometry::{center_crop_offset, shorter_side_size};
use crate::image::raster::{Placement, RgbImage, Window};
use crate::image::recipe::{ChannelOrder, Layout, Recipe, ResizeMode};

/// Where the output square lies on the resized image, per axis: the resized image's size, the
/// first resized pixel the output shows (negative when the crop is larger than the image and
/// torchvision or timm pads it first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Axis {
    resized: usize,
    offset: i64,
}

impl Axis {
    /// torchvision's `CenterCrop` of an axis resized to `resized`, which timm's
    /// `CenterCropOrPad` shares: pad `(crop - len) // 2` before, else start at
    /// `int(round((len - crop) / 2))`.
    fn centred(resized: usize, crop: usize) -> Self {
        Self {
            resized,
            offset: center_crop_offset(resized, crop),
        }
    }

    /// The whole axis, resized to the crop itself.
    fn whole(crop: usize) -> Self {
        Self {
            resized: crop,
            offset: 0,
        }
    }
}

/// What the recipe asks of Pillow's resize for a `width` x `height` picture (which part, to
/// what size), and where the output square lies on the result.
fn geometry(width: usize, height: usize, recipe: &Recipe) -> (Target, Axis, Axis) {
    let crop = recipe.crop_size as usize;
    let size = recipe.resize_size as usize;
    let (w, h) = match recipe.resize_mode {
        ResizeMode::Squash => {
            let target = Target::whole(width, height, crop, crop);
            return (target, Axis::whole(crop), Axis::whole(crop));
        }
        ResizeMode::AspectCrop => {
            let target = Target {
                source: keras_aspect_box(width, height, crop, crop),
                width: crop,
                height: crop,
            };
            return (target, Axis::whole(crop), Axis::whole(crop));
        }
        ResizeMode::ShorterSide => shorter_side_size(width, height, size),
        ResizeMode::SquashCrop => (size, size),
        ResizeMode::FitPad => longer_side_size(width, height, size),
    };
    let target = Target::whole(width, height, w, h);
    (target, Axis::centred(w, crop), Axis::centred(h, crop))
}

/// Keras `load_img(keep_aspect_ratio=True)`'s crop box for a `width` x `height` picture and a
/// `target_width` x `target_height` output: the largest centred box of the output's aspect
/// ratio, in Python's floor divisions.
fn keras_aspect_box(
    width: usize,
    height: usize,
    target_width: usize,
    target_height: usize,
) -> Window {
    let crop_height = (width * target_height / target_width).min(height);
    let crop_width = (height * target_width / target_height).min(width);
    Window {
        x: (width - crop_width) / 2,
        y: (height - crop_height) / 2,
        width: crop_width,
        height: crop_height,
    }
}

/// timm's `ResizeKeepRatio(size, longest=1.0)` on a `width` x `height` picture: `ratio` is the
/// larger of `height / size` and `width / size` (`max * 1.0 + min * 0.0` is exactly the max),
/// each side becomes `round(side / ratio)` with Python's round-half-to-even. The short side
/// can round to 0 (a picture over twice as long as `size` is wide): Pillow refuses that resize,
/// and [`refusal`] says so.
fn longer_side_size(width: usize, height: usize, size: usize) -> (usize, usize) {
    let ratio = (height as f64 / size as f64).max(width as f64 / size as f64);
    let side = |len: usize| (len as f64 / ratio).round_ties_even() as usize;
    (side(width), side(height))
}

/// Why the library refuses this recipe on a `width` x `height` picture that it decoded: only
/// timm's `crop_mode='border'` can ask Pillow for an empty resize (`ValueError: height and
/// width must be > 0`).
fn refusal(width: usize, height: usize, recipe: &Recipe) -> Option<DecodeError> {
    if recipe.resize_mode != ResizeMode::FitPad {
        return None;
    }
    let (w, h) = longer_side_size(width, height, recipe.resize_size as usize);
    (w == 0 || h == 0).then(|| {
        DecodeError::Unsupported(format!(
            "timm's ResizeKeepRatio({}, longest=1) makes this {width}x{height} picture {w}x{h}, \
             which Pillow's resize refuses (height and width must be > 0)",
            recipe.resize_size
        ))
    })
}

/// The part of `0..crop` (output coordinates) that shows resized pixels, and where it starts on
/// the resized image.
fn visible(axis: Axis, crop: usize) -> (std::ops::Range<usize>, usize) {
    let start = (-axis.offset).max(0) as usize;
    let end = ((axis.resized as i64 - axis.offset).min(crop as i64)).max(start as i64) as usize;
    let source = (axis.offset + start as i64) as usize;
    (start..end, source)
}

/// The recipe's float32 value of every pixel level, per output channel. Each entry is computed
/// with exactly the float32 operations NumPy performs per element, so a lookup is bit-identical
/// to doing the arithmetic per pixel.
fn level_tables(recipe: &Recipe) -> [[f32; 256]; 3] {
    let mut tables = [[0f32; 256]; 3];
    for (c, table) in tables.iter_mut().enumerate() {
        for (level, value) in table.iter_mut().enumerate() {
            let x = level as f32 / recipe.scale;
            *value = (x - recipe.mean[c]) / recipe.std[c];
        }
    }
    tables
}

/// What a recipe takes from a `width` x `height` picture: the resize, the window of the
/// resized image the output shows, and where in the output square that window lands.
struct Plan {
    target: Target,
    window: Window,
    out_columns: std::ops::Range<usize>,
    out_rows: std::ops::Range<usize>,
}

impl Plan {
    fn new(width: usize, height: usize, recipe: &Recipe) -> Self {
        let crop = recipe.crop_size as usize;
        let (target, x_axis, y_axis) = geometry(width, height, recipe);
        let (out_columns, src_x) = visible(x_axis, crop);
        let (out_rows, src_y) = visible(y_axis, crop);
        Self {
            target,
            window: Window {
                x: src_x,
                y: src_y,
                width: out_columns.len(),
                height: out_rows.len(),
            },
            out_columns,
            out_rows,
        }
    }
}

/// The pixels of a `width` x `height` picture that `recipe` reads: a centre crop leaves the
/// rest unused, so a decoder need not produce it.
pub(super) fn source_pixels(width: usize, height: usize, recipe: &Recipe) -> Window {
    let plan = Plan::new(width, height, recipe);
    source_window(width, height, plan.target, plan.window, recipe.filter)
}

/// Resizes and normalises an image holding (at least) [`source_pixels`] of a picture, placed by
/// `placement`, into `out` (`recipe.sample_len()` floats), in the recipe's layout.
///
/// # Panics
/// If `out` is not `recipe.sample_len()` long (a caller's bug).
pub(super) fn preprocess_part(
    img: &RgbImage,
    placement: Placement,
    recipe: &Recipe,
    compat: PillowCompat,
    out: &mut [f32],
) {
    assert_eq!(
        out.len(),
        recipe.sample_len(),
        "output buffer does not fit recipe {}",
        recipe.name
    );
    let plan = Plan::new(placement.full_width, placement.full_height, recipe);
    let pixels = resize_window(
        img,
        placement,
        plan.target,
        plan.window,
        recipe.filter,
        compat,
    );
    normalise_into(&pixels, &plan, recipe, out);
}

/// Writes the resized window's pixels, normalised, at their place in the crop (`out`), in the
/// recipe's layout and channel order.
fn normalise_into(pixels: &RgbImage, plan: &Plan, recipe: &Recipe, out: &mut [f32]) {
    let crop = recipe.crop_size as usize;
    let Plan {
        window,
        out_columns,
        out_rows,
        ..
    } = plan;
    let tables = level_tables(recipe);
    // Output channel c reads source channel source_channel[c].
    let source_channel = match recipe.channels {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    // Padding is pixels of the recipe's fill levels (black but for timm's crop_mode='border'),
    // normalised like any other pixel. Only a crop larger than the resized image pads;
    // otherwise every value is written below, so skip the fill.
    let padded = out_columns.len() < crop || out_rows.len() < crop;
    let fill = |c: usize| usize::from(recipe.fill[source_channel[c]]);
    // An empty resize (which `preprocess_many` refuses first) shows no pixel: all padding.
    let row_bytes = (window.width * 3).max(3);
    match recipe.layout {
        Layout::Nchw => {
            let plane = crop * crop;
            for (c, out_plane) in out.chunks_exact_mut(plane).enumerate() {
                let table = &tables[c];
                if padded {
                    out_plane.fill(table[fill(c)]);
                }
                let sc = source_channel[c];
                for (row, out_row) in pixels
                    .pixels
                    .chunks_exact(row_bytes)
                    .zip(out_plane.chunks_exact_mut(crop).skip(out_rows.start))
                {
                    let out_row = &mut out_row[out_columns.clone()];
                    for (o, px) in out_row.iter_mut().zip(row.chunks_exact(3)) {
                        *o = table[usize::from(px[sc])];
                    }
                }
            }
        }
        Layout::Nhwc => {
            let padding = [tables[0][fill(0)], tables[1][fill(1)], tables[2][fill(2)]];
            if padded {
                for o in out.chunks_exact_mut(3) {
                    o.copy_from_slice(&padding);
                }
            }
            for (row, out_row) in pixels
                .pixels
                .chunks_exact(row_bytes)
                .zip(out.chunks_exact_mut(crop * 3).skip(out_rows.start))
            {
                let out_row = &mut out_row[out_columns.start * 3..out_columns.end * 3];
                for (o, px) in out_row.chunks_exact_mut(3).zip(row.chunks_exact(3)) {
                    o[0] = tables[0][usize::from(px[source_channel[0]])];
                    o[1] = tables[1][usize::from(px[source_channel[1]])];
                    o[2] = tables[2][usize::from(px[source_channel[2]])];
                }
            }
        }
    }
}

/// Several Pillow recipes on one file: the image is decoded once (the part every recipe reads),
/// recipes that resize alike (the same resize, window, filter and Pillow) share one resize, and
/// `outs[i]` gets `recipes[i]`'s sample, the same bits as a decode per recipe. They share the
/// decode's outcome, and a recipe the library refuses on this picture gets its own refusal.
pub(super) fn preprocess_many(
    bytes: &[u8],
    recipes: &[(&Recipe, PillowCompat)],
    outs: &mut [&mut [f32]],
) -> Vec<Result<(), DecodeError>> {
    let decoded = super::decode::decode_rgb_part(bytes, |width, height| {
        recipes
            .iter()
            .map(|(recipe, _)| source_pixels(width, height, recipe))
            .reduce(|a, b| a.union(&b))
            .unwrap_or_else(|| Window::full(width, height))
    });
    let (img, placement) = match decoded {
        Ok(decoded) => decoded,
        Err(e) => return vec![Err(e); recipes.len()],
    };
    let mut resized: Vec<(_, RgbImage)> = Vec::new();
    let mut outcomes = Vec::with_capacity(recipes.len());
    for ((recipe, compat), out) in recipes.iter().zip(outs.iter_mut()) {
        assert_eq!(
            out.len(),
            recipe.sample_len(),
            "output buffer does not fit recipe {}",
            recipe.name
        );
        if let Some(refused) = refusal(placement.full_width, placement.full_height, recipe) {
            outcomes.push(Err(refused));
            continue;
        }
        let plan = Plan::new(placement.full_width, placement.full_height, recipe);
        // Only the resize's inputs: a recipe's normalisation, channels and layout do not
        // change it.
        let key = (plan.target, plan.window, recipe.filter, *compat);
        let index = match resized.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                let pixels = resize_window(
                    &img,
                    placement,
                    plan.target,
                    plan.window,
                    recipe.filter,
                    *compat,
                );
                resized.push((key, pixels));
                resized.len() - 1
            }
        };
        normalise_into(&resized[index].1, &plan, recipe, out);
        outcomes.push(Ok(()));
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::pipelines::pillow::resample::resize;
    use crate::image::recipe::{Filter, Library, preset, presets};
    use std::path::Path;

    #[test]
    fn level_tables_are_numpy_float32_arithmetic() {
        let r = preset("torchvision").unwrap();
        let t = level_tables(&r);
        let expected = ((128f32 / 255f32) - 0.456f32) / 0.224f32;
        assert_eq!(t[1][128].to_bits(), expected.to_bits());
        let caffe = preset("keras-caffe").unwrap();
        let t = level_tables(&caffe);
        assert_eq!(t[0][0], -103.939f32);
        let tf = preset("keras-tf").unwrap();
        assert_eq!(level_tables(&tf)[2][255], 1.0);
        assert_eq!(level_tables(&tf)[2][0], -1.0);
    }

    #[test]
    fn preset_constants_survive_numpys_double_rounding() {
        // NumPy gets Python floats (f64) and rounds them to float32; Rust literals round the
        // decimal straight to f32. The two agree for every constant the presets use.
        for recipe in presets() {
            for v in recipe.mean.iter().chain(&recipe.std).chain([&recipe.scale]) {
                let via_f64 = v.to_string().parse::<f64>().unwrap() as f32;
                assert_eq!(via_f64.to_bits(), v.to_bits(), "{} {v}", recipe.name);
            }
        }
    }

    #[test]
    fn timm_keeps_the_ratio_with_pythons_round() {
        // ResizeKeepRatio(256, longest=1): 500x375 -> ratio 500/256 -> 256 x 192.
        assert_eq!(longer_side_size(500, 375, 256), (256, 192));
        assert_eq!(longer_side_size(375, 500, 256), (192, 256));
        assert_eq!(longer_side_size(300, 300, 224), (224, 224));
        // Halves round to even: 5 / 2 = 2.5 -> 2, 7 / 2 = 3.5 -> 4.
        assert_eq!(longer_side_size(6, 5, 3), (3, 2));
        assert_eq!(longer_side_size(8, 7, 4), (4, 4));
        // Upscaling a small picture.
        assert_eq!(longer_side_size(10, 3, 224), (224, 67));
    }

    #[test]
    fn a_border_resize_to_nothing_is_refused_as_pillow_refuses_it() {
        let mut border = preset("timm-bicubic").unwrap();
        border.resize_mode = ResizeMode::FitPad;
        // 1000 x 1 -> 256 x round(0.256) = 256 x 0: Pillow raises "height and width must be > 0".
        assert_eq!(longer_side_size(1000, 1, 256), (256, 0));
        let why = refusal(1000, 1, &border).unwrap().to_string();
        assert!(why.contains("1000x1") && why.contains("256x0"), "{why}");
        // 512 x 1 -> 256 x round(0.5) = 0 too (half to even); 384 x 1 -> 256 x round(0.67) = 1.
        assert!(refusal(1, 512, &border).is_some());
        assert!(refusal(384, 1, &border).is_none());
        // The other geometries never resize to nothing.
        assert!(refusal(1000, 1, &preset("timm-bicubic").unwrap()).is_none());
        // Its output is then all fill, should a caller ask all the same.
        border.fill = [255, 0, 0];
        let img = RgbImage::new(1000, 1, vec![7; 3000]);
        let mut out = vec![f32::NAN; border.sample_len()];
        preprocess_part(
            &img,
            Placement::whole(&img),
            &border,
            PillowCompat::V13,
            &mut out,
        );
        let red = level_tables(&border)[0][255];
        assert!(out[..224 * 224].iter().all(|&v| v == red));
    }

    #[test]
    fn keras_crops_the_centred_square_with_floor_divisions() {
        let square = |w, h| keras_aspect_box(w, h, 224, 224);
        let window = |x, y, width, height| Window {
            x,
            y,
            width,
            height,
        };
        assert_eq!(square(500, 375), window(62, 0, 375, 375));
        assert_eq!(square(375, 500), window(0, 62, 375, 375));
        assert_eq!(square(301, 300), window(0, 0, 300, 300));
        assert_eq!(square(224, 224), window(0, 0, 224, 224));
        // Another aspect ratio: (width * 3) // 4 rows, (height * 4) // 3 columns.
        assert_eq!(keras_aspect_box(500, 375, 4, 3), window(0, 0, 500, 375));
        assert_eq!(keras_aspect_box(500, 400, 4, 3), window(0, 12, 500, 375));
    }

    fn reference(img: &RgbImage, recipe: &Recipe) -> Vec<f32> {
        // Straightforward implementation: full resize, pad, crop, per-pixel arithmetic.
        let crop = recipe.crop_size as usize;
        let size = recipe.resize_size as usize;
        let (w, h) = match recipe.resize_mode {
            ResizeMode::Squash | ResizeMode::AspectCrop => (crop, crop),
            ResizeMode::ShorterSide => shorter_side_size(img.width, img.height, size),
            ResizeMode::SquashCrop => (size, size),
            ResizeMode::FitPad => longer_side_size(img.width, img.height, size),
        };
        let resized = match recipe.resize_mode {
            // The whole picture is resized: only the box's part of it is stretched to w x h.
            ResizeMode::AspectCrop => resize_window(
                img,
                Placement::whole(img),
                Target {
                    source: keras_aspect_box(img.width, img.height, crop, crop),
                    width: w,
                    height: h,
                },
                Window::full(w, h),
                recipe.filter,
                PillowCompat::V13,
            ),
            _ => resize(img, w, h, recipe.filter, PillowCompat::V13),
        };
        let (ox, oy) = match recipe.resize_mode {
            ResizeMode::Squash | ResizeMode::AspectCrop => (0, 0),
            _ => (center_crop_offset(w, crop), center_crop_offset(h, crop)),
        };
        let mut hwc = vec![0f32; crop * crop * 3];
        for y in 0..crop {
            for x in 0..crop {
                let (sx, sy) = (x as i64 + ox, y as i64 + oy);
                let inside = sx >= 0 && sy >= 0 && (sx as usize) < w && (sy as usize) < h;
                for c in 0..3 {
                    let sc = if recipe.channels == ChannelOrder::Bgr {
                        2 - c
                    } else {
                        c
                    };
                    let p = if inside {
                        resized.pixels[(sy as usize * w + sx as usize) * 3 + sc]
                    } else {
                        recipe.fill[sc]
                    };
                    let v = (f32::from(p) / recipe.scale - recipe.mean[c]) / recipe.std[c];
                    hwc[(y * crop + x) * 3 + c] = v;
                }
            }
        }
        match recipe.layout {
            Layout::Nhwc => hwc,
            Layout::Nchw => (0..3)
                .flat_map(|c| (0..crop * crop).map(move |i| (c, i)))
                .map(|(c, i)| hwc[i * 3 + c])
                .collect(),
        }
    }

    #[test]
    fn fast_path_equals_the_straightforward_one() {
        let img = RgbImage::new(
            61,
            40,
            (0..61 * 40 * 3).map(|i| ((i * 131) % 256) as u8).collect(),
        );
        // Pillow's recipes: the other pipelines' are tested in their own folders.
        let mut recipes: Vec<Recipe> = presets()
            .into_iter()
            .filter(|r| r.library == Library::Pillow)
            .collect();
        recipes.iter_mut().for_each(|r| {
            r.crop_size /= 8;
            r.resize_size /= 8;
        });
        let mut padded = preset("torchvision-inception-seed").unwrap();
        padded.resize_size = 30;
        padded.crop_size = 37; // larger than the 30-pixel short side: zero padding
        recipes.push(padded.clone());
        padded.layout = Layout::Nhwc;
        padded.channels = ChannelOrder::Bgr;
        padded.filter = Filter::Lanczos;
        recipes.push(padded);
        // timm's crop_mode='squash': both sides to 33, then the centre 29.
        let mut squash_crop = preset("timm-bicubic").unwrap();
        squash_crop.resize_mode = ResizeMode::SquashCrop;
        (squash_crop.resize_size, squash_crop.crop_size) = (33, 29);
        recipes.push(squash_crop.clone());
        // timm's crop_mode='border': the long side to 33 (61x40 -> 33x22), padded to 29 on
        // the short side with the fill, cropped on the long one; and a crop inside both sides.
        let mut border = squash_crop;
        border.resize_mode = ResizeMode::FitPad;
        border.fill = [124, 116, 104];
        recipes.push(border.clone());
        border.channels = ChannelOrder::Bgr;
        border.layout = Layout::Nhwc;
        (border.resize_size, border.crop_size) = (50, 30);
        recipes.push(border);
        // Keras load_img(keep_aspect_ratio=True): the centred 40x40 box to 23 x 23, by every
        // filter (NEAREST through its own path).
        let mut aspect = preset("keras-caffe").unwrap();
        aspect.resize_mode = ResizeMode::AspectCrop;
        aspect.crop_size = 23;
        for filter in Filter::ALL {
            recipes.push(Recipe {
                filter,
                ..aspect.clone()
            });
        }
        for recipe in recipes {
            let mut out = vec![f32::NAN; recipe.sample_len()];
            preprocess_part(
                &img,
                Placement::whole(&img),
                &recipe,
                PillowCompat::V13,
                &mut out,
            );
            let expected = reference(&img, &recipe);
            assert!(
                out.iter()
                    .zip(&expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{}",
                recipe.name
            );
        }
    }

    /// Every preset, Pillow's with each Pillow version in turn: what one `verify` pass over
    /// many models hands `pipelines::preprocess`.
    fn every_preset() -> Vec<(Recipe, PillowCompat)> {
        presets()
            .into_iter()
            .chain(other_geometries())
            .zip(PillowCompat::ALL.into_iter().cycle())
            .collect()
    }

    /// Recipes of the geometries no preset has: timm's crop_mode='squash' and 'border', and
    /// Keras's keep_aspect_ratio, with the filters that read the most and the least.
    fn other_geometries() -> Vec<Recipe> {
        let timm = preset("timm-bicubic").unwrap();
        let squash = Recipe {
            name: "timm-squash".into(),
            resize_mode: ResizeMode::SquashCrop,
            resize_size: 248,
            ..timm.clone()
        };
        let border = Recipe {
            name: "timm-border".into(),
            resize_mode: ResizeMode::FitPad,
            fill: [124, 116, 104],
            ..timm
        };
        let wide_border = Recipe {
            name: "timm-border-1.0".into(),
            resize_size: 224,
            filter: Filter::Lanczos,
            fill: [128; 3],
            ..border.clone()
        };
        let aspect = |filter| Recipe {
            name: format!("keras-aspect-{filter:?}"),
            resize_mode: ResizeMode::AspectCrop,
            filter,
            ..preset("keras-tf").unwrap()
        };
        vec![
            squash,
            border,
            wide_border,
            aspect(Filter::Nearest),
            aspect(Filter::Bicubic),
        ]
    }

    /// Each recipe's outcome and tensor when all of `recipes` are prepared in one pass.
    fn one_pass(bytes: &[u8], recipes: &[(Recipe, PillowCompat)]) -> Vec<Result<Vec<f32>, String>> {
        let pairs: Vec<(&Recipe, PillowCompat)> = recipes.iter().map(|(r, c)| (r, *c)).collect();
        let mut tensors: Vec<Vec<f32>> = recipes
            .iter()
            .map(|(r, _)| vec![f32::NAN; r.sample_len()])
            .collect();
        let mut outs: Vec<&mut [f32]> = tensors.iter_mut().map(Vec::as_mut_slice).collect();
        let outcomes = crate::image::pipelines::preprocess(bytes, &pairs, &mut outs);
        outcomes
            .into_iter()
            .zip(tensors)
            .map(|(outcome, tensor)| outcome.map(|()| tensor).map_err(|e| e.to_string()))
            .collect()
    }

    /// Pillow's tensor the straightforward way, sharing nothing with the pass under test: the
    /// whole image decoded (tests/presets/parity.rs checks that a part-decode gives the same tensor),
    /// then this recipe alone resized and normalised.
    fn pillow_alone(
        bytes: &[u8],
        recipe: &Recipe,
        compat: PillowCompat,
    ) -> Result<Vec<f32>, String> {
        let img = super::super::decode::decode_rgb(bytes).map_err(|e| e.to_string())?;
        if let Some(refused) = refusal(img.width, img.height, recipe) {
            return Err(refused.to_string());
        }
        let mut out = vec![f32::NAN; recipe.sample_len()];
        preprocess_part(&img, Placement::whole(&img), recipe, compat, &mut out);
        Ok(out)
    }

    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Pillow is the pipeline whose recipes share a decode and resizes within a pass: through
    /// `preprocess_many` (Pillow's recipes alone) and through a pass with every other
    /// library's presets (which may refuse the file), each Pillow recipe must get the tensor, or
    /// the refusal, of [`pillow_alone`].
    fn assert_pillow_recipes_share_nothing_visible(bytes: &[u8], file: &Path) {
        let all = every_preset();
        let mixed = one_pass(bytes, &all);
        let pillow: Vec<(Recipe, PillowCompat)> = all
            .iter()
            .filter(|(r, _)| r.library == Library::Pillow)
            .cloned()
            .collect();
        let mut shared: Vec<Vec<f32>> = pillow
            .iter()
            .map(|(r, _)| vec![f32::NAN; r.sample_len()])
            .collect();
        let pairs: Vec<(&Recipe, PillowCompat)> = pillow.iter().map(|(r, c)| (r, *c)).collect();
        let mut outs: Vec<&mut [f32]> = shared.iter_mut().map(Vec::as_mut_slice).collect();
        let many = preprocess_many(bytes, &pairs, &mut outs);
        let in_mixed = all
            .iter()
            .zip(&mixed)
            .filter(|((r, _), _)| r.library == Library::Pillow);
        for ((((recipe, compat), mixed), shared), many) in in_mixed.zip(&shared).zip(&many) {
            let what = format!("{} ({compat:?}) on {}", recipe.name, file.display());
            let expected = pillow_alone(bytes, recipe, *compat);
            match (&expected, many) {
                (Ok(want), Ok(())) => assert!(same_bits(want, shared), "many: {what}"),
                (Err(_), Err(_)) => {}
                _ => panic!("many: {what}: alone {:?}, many {many:?}", expected.is_ok()),
            }
            match (&expected, mixed) {
                (Ok(want), Ok(got)) => assert!(same_bits(want, got), "mixed pass: {what}"),
                (Err(_), Err(_)) => {}
                _ => panic!(
                    "mixed pass: {what}: alone {:?}, mixed {:?}",
                    expected.is_ok(),
                    mixed.is_ok()
                ),
            }
        }
    }

    fn files_in(folder: &Path) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .map(|dir| dir.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.is_file());
        files.sort();
        files
    }

    #[test]
    fn one_decode_for_many_pillow_recipes_equals_a_whole_decode_per_recipe() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        // The demo's JPEGs, and the public corpus (tests/jpeg-corpus: progressive, subsampled,
        // CMYK, cut and broken files), every 8th file; ZOOREPRO_FULL_CORPUS=1 takes them all.
        let demo = std::fs::read_dir(root.join("demo"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_dir())
            .flat_map(|class| files_in(&class));
        let corpus = files_in(&root.join("tests/jpeg-corpus/files"));
        assert!(
            corpus.len() > 100,
            "tests/jpeg-corpus/files: {}",
            corpus.len()
        );
        let step = if std::env::var_os("ZOOREPRO_FULL_CORPUS").is_some() {
            1
        } else {
            8
        };
        use rayon::prelude::*;
        demo.take(4)
            .chain(corpus.into_iter().step_by(step))
            .collect::<Vec<_>>()
            .par_iter()
            .for_each(|file| {
                assert_pillow_recipes_share_nothing_visible(&std::fs::read(file).unwrap(), file)
            });
    }
}
