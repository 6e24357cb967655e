//! Bit-exactness against the Python reference (Pillow 13 + NumPy).
//!
//! - `golden_tensors_match_the_oracle`: every sample image under every shared model's recipe
//!   hashes to the oracle's `input_sha256` (../shared/oracle/results.json).
//! - `presets_match_pillow_via_parity_script`: scripts/parity/parity.py over every preset, when a
//!   Python with Pillow and NumPy is available (`ZOOREPRO_PYTHON`, else `.venv/bin/python`).
//! - `resize_matches_pillow_on_random_sizes`: the resampler alone, many sizes and all filters.
//! - `partial_decoding_changes_no_tensor`: decoding only the part of a JPEG a recipe reads gives
//!   the tensor of a whole decode, on every sample image under every preset.
//!
//! Each test skips through `common::skip` when ../shared or Python is missing, and so fails
//! under `CI=true`.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::shared;
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};
use zoorepro::image::pipelines::pillow::resample::resize;
use zoorepro::image::pipelines::{PillowCompat, preprocess};
use zoorepro::image::raster::{Placement, RgbImage};
use zoorepro::image::recipe::{ChannelOrder, Filter, Layout, Library, Recipe, ResizeMode};

fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("ZOOREPRO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    let ok = Command::new(&candidate)
        .args(["-c", "import PIL, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(candidate)
    } else {
        common::skip(&format!(
            "no Python with Pillow and NumPy at {} (set ZOOREPRO_PYTHON)",
            candidate.display()
        ));
        None
    }
}

/// A models.json "preprocess" block as a Recipe. The oracle flips BGR after normalising with
/// RGB-ordered mean/std; a Recipe lists mean/std in output order, hence the reversal.
fn recipe_from_models_json(id: &str, p: &Value) -> Recipe {
    let floats = |key: &str| -> [f32; 3] {
        let v: Vec<f32> = p[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        [v[0], v[1], v[2]]
    };
    let channels = match p["channel_order"].as_str().unwrap_or("RGB") {
        "RGB" => ChannelOrder::Rgb,
        "BGR" => ChannelOrder::Bgr,
        other => panic!("{id}: channel_order {other}"),
    };
    let (mut mean, mut std) = (floats("mean"), floats("std"));
    if channels == ChannelOrder::Bgr {
        mean.reverse();
        std.reverse();
    }
    Recipe {
        name: id.to_string(),
        description: String::new(),
        resize_mode: match p["resize_mode"].as_str().unwrap() {
            "squash" => ResizeMode::Squash,
            "shorter_side" => ResizeMode::ShorterSide,
            other => panic!("{id}: resize_mode {other}"),
        },
        resize_size: p["resize_size"].as_u64().unwrap() as u32,
        crop_size: p["crop_size"].as_u64().unwrap() as u32,
        filter: Filter::parse(p["filter"].as_str().unwrap()).unwrap(),
        scale: if p["divide_by_255"].as_bool().unwrap() {
            255.0
        } else {
            1.0
        },
        mean,
        std,
        channels,
        layout: match p["layout"].as_str().unwrap() {
            "NCHW" => Layout::Nchw,
            "NHWC" => Layout::Nhwc,
            other => panic!("{id}: layout {other}"),
        },
        library: Default::default(),
        variant: Default::default(),
        fill: [0; 3],
    }
}

fn sha256_hex(values: &[f32]) -> String {
    let mut hasher = Sha256::new();
    for v in values {
        hasher.update(v.to_le_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn golden_tensors_match_the_oracle() {
    let Some(shared) = shared() else { return };
    let read_json = |p: PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    };
    let models = read_json(shared.join("models/models.json"));
    let results = read_json(shared.join("oracle/results.json"));
    let sample = shared.join("imagenet-sample");

    let mut total = 0;
    let mut mismatches = Vec::new();
    for model in models["models"].as_array().unwrap() {
        let id = model["id"].as_str().unwrap();
        let recipe = recipe_from_models_json(id, &model["preprocess"]);
        let result = results["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing from results.json"));
        let mut out = vec![0f32; recipe.sample_len()];
        let mut matched = 0;
        let per_image = result["per_image"].as_array().unwrap();
        for image in per_image {
            let file = image["file"].as_str().unwrap();
            let bytes = std::fs::read(sample.join(file)).unwrap();
            preprocess(&bytes, &[(&recipe, PillowCompat::V13)], &mut [&mut out])
                .remove(0)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            if sha256_hex(&out) == image["input_sha256"].as_str().unwrap() {
                matched += 1;
            } else {
                mismatches.push(format!("{id} {file}"));
            }
        }
        eprintln!("{id}: {matched}/{} tensors bit-identical", per_image.len());
        total += per_image.len();
    }
    assert_eq!(total, 400, "expected 100 images x 4 models");
    assert!(
        mismatches.is_empty(),
        "{} mismatches: {mismatches:#?}",
        mismatches.len()
    );
}

#[test]
fn partial_decoding_changes_no_tensor() {
    let Some(shared) = shared() else { return };
    // The flat copy of the sample (the ImageFolder copy holds the same 100 files). Ten of them
    // use restart markers, which a partial decode must skip through.
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join("imagenet-val"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.retain(|p| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("jpeg"))
    });
    assert!(files.len() >= 100, "expected the 100 sample images");
    let mut checked = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let whole = zoorepro::image::pipelines::pillow::decode::decode_rgb(&bytes).unwrap();
        // Pillow's recipes: the TensorFlow presets decode differently (tests/presets/tf_presets.rs).
        let recipes = zoorepro::image::recipe::presets();
        for recipe in recipes.into_iter().filter(|r| r.library == Library::Pillow) {
            for compat in [PillowCompat::V12, PillowCompat::V13] {
                let mut from_part = vec![0f32; recipe.sample_len()];
                let mut from_whole = vec![0f32; recipe.sample_len()];
                preprocess(&bytes, &[(&recipe, compat)], &mut [&mut from_part])
                    .remove(0)
                    .unwrap();
                let placement = Placement::whole(&whole);
                Library::Pillow.pipeline().preprocess_part(
                    &whole,
                    placement,
                    &recipe,
                    compat,
                    &mut from_whole,
                );
                let same = from_part
                    .iter()
                    .zip(&from_whole)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{} under {} ({compat:?})",
                    file.display(),
                    recipe.name
                );
                checked += 1;
            }
        }
    }
    eprintln!("{checked} tensors from partial decodes equal those from whole decodes");
}

#[test]
fn presets_match_pillow_via_parity_script() {
    let Some(shared) = shared() else { return };
    let Some(python) = python() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/parity/parity.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_zoorepro"))
        .arg(shared.join("imagenet-val"))
        .output()
        .expect("run scripts/parity/parity.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "parity.py found differences");
    assert!(stdout.contains("max_abs_diff=0"), "{stdout}");
}

/// Deterministic pseudo-random bytes (xorshift), enough for test images.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn resize_matches_pillow_on_random_sizes() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Half the images are a ramp plus a little noise (many exact roundings), half pure noise
    // (negative lobes push sums outside 0..255, exercising the clamp).
    let cases: Vec<(usize, usize, usize, usize)> = {
        let r = noise(4 * 80, 7);
        (0..80)
            .map(|i| {
                let d = |k: usize, lo: usize, span: usize| lo + usize::from(r[i * 4 + k]) % span;
                (d(0, 1, 120), d(1, 1, 120), d(2, 1, 90), d(3, 1, 90))
            })
            .chain([
                (333, 500, 224, 224),
                (500, 375, 341, 256),
                (2, 2, 1, 1),
                (1, 7, 5, 3),
            ])
            .collect()
    };
    let mut spec = String::new();
    let mut images = Vec::new();
    for (i, &(w, h, ow, oh)) in cases.iter().enumerate() {
        let mut pixels = noise(w * h * 3, i as u64 + 1);
        if i % 2 == 0 {
            for (j, p) in pixels.iter_mut().enumerate() {
                *p = ((j / 3 % w) * 255 / w.max(2)) as u8 / 2 + *p / 4;
            }
        }
        let path = dir.path().join(format!("{i}.raw"));
        std::fs::write(&path, &pixels).unwrap();
        spec.push_str(&format!("{} {w} {h} {ow} {oh}\n", path.display()));
        images.push(RgbImage::new(w, h, pixels));
    }
    let spec_path = dir.path().join("spec.txt");
    std::fs::write(&spec_path, &spec).unwrap();
    let script = r#"
import sys, importlib.metadata
from PIL import Image
try:
    importlib.metadata.distribution("pillow-simd")
    print("simd")
except importlib.metadata.PackageNotFoundError:
    print(Image.__version__.split(".")[0])
F = {"NEAREST": Image.NEAREST, "BOX": Image.BOX, "BILINEAR": Image.BILINEAR,
     "HAMMING": Image.HAMMING, "BICUBIC": Image.BICUBIC, "LANCZOS": Image.LANCZOS}
for line in open(sys.argv[1]):
    path, w, h, ow, oh = line.split()
    im = Image.frombytes("RGB", (int(w), int(h)), open(path, "rb").read())
    for name, f in F.items():
        open(path + "." + name, "wb").write(im.resize((int(ow), int(oh)), f).tobytes())
"#;
    let output = Command::new(&python)
        .args(["-c", script])
        .arg(&spec_path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Pillow's major version, or "simd" when the Python's PIL is Pillow-SIMD (the same test
    // then checks --pillow-compat simd: ZOOREPRO_PYTHON=/path/to/venv-with-pillow-simd/python).
    let major = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let (compat, other) = match major.as_str() {
        "simd" => (PillowCompat::Simd, PillowCompat::V12),
        v if v.parse::<u32>().unwrap() >= 13 => (PillowCompat::V13, PillowCompat::V12),
        _ => (PillowCompat::V12, PillowCompat::V13),
    };
    let mut failures = Vec::new();
    let mut order_sensitive = 0;
    for (i, (&(w, h, ow, oh), img)) in cases.iter().zip(&images).enumerate() {
        for filter in Filter::ALL {
            let expected =
                std::fs::read(dir.path().join(format!("{i}.raw.{}", filter.name()))).unwrap();
            let got = resize(img, ow, oh, filter, compat);
            if got.pixels != expected {
                failures.push(format!("{w}x{h} -> {ow}x{oh} {}", filter.name()));
            }
            order_sensitive += usize::from(resize(img, ow, oh, filter, other).pixels != expected);
        }
    }
    eprintln!(
        "Pillow {major}: {} of {} resize cases identical ({order_sensitive} would differ with \
         --pillow-compat {})",
        cases.len() * Filter::ALL.len() - failures.len(),
        cases.len() * Filter::ALL.len(),
        other.name()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        order_sensitive > 0,
        "no case exercises the pass order; widen the sizes"
    );
}

/// Files Pillow writes (or a hand-made PNG encoder writes, for the 16-bit layouts Pillow cannot
/// save), decoded by Pillow's `convert('RGB')` and by `decode_rgb`. The `check` column says
/// whether a difference fails the test or is only reported (formats whose decoders differ from
/// Pillow's libraries and that zoorepro does not promise to match).
const GENERATE_DECODE_CASES: &str = r#"
import io, os, struct, sys, zlib
import numpy as np
from PIL import Image

out = sys.argv[1]
sample = sys.argv[2]
rng = np.random.default_rng(5)
smooth = (np.add.outer(np.arange(37), np.arange(53)) * 3 % 256).astype(np.uint8)
rgb = np.stack([smooth, smooth[::-1], rng.integers(0, 256, smooth.shape, dtype=np.uint8)], -1)
cases = []

def save(name, img, check=True, **kw):
    path = os.path.join(out, name)
    img.save(path, **kw)
    cases.append((name, check))

def raw(name, data, check=True):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    cases.append((name, check))

def png(width, height, color_type, depth, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    data = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")

im = Image.fromarray(rgb)
save("q75_420.jpg", im, quality=75)
save("q100_444.jpg", im, quality=100, subsampling=0)
save("q90_422.jpg", im, quality=90, subsampling=1)
save("progressive.jpg", im, quality=85, progressive=True)
save("optimized.jpg", im, quality=80, optimize=True)
save("one_pixel.jpg", Image.new("RGB", (1, 1), (200, 30, 90)))
save("gray.jpg", im.convert("L"), quality=90)
save("cmyk.jpg", im.convert("CMYK"), quality=90)
try:
    save("restart.jpg", im, quality=85, restart_marker_blocks=2)
except (TypeError, ValueError):
    pass
full = open(sample, "rb").read()
raw("sample_trailing_garbage.jpg", full + b"garbage after EOI \xff\xd8\xff\xe0 more")
raw("sample_truncated_half.jpg", full[: len(full) // 2])
raw("sample_truncated_10.jpg", full[:-10])
raw("sample_missing_eoi.jpg", full[:-2])
bad = bytearray(full)
for i in range(len(full) // 2, len(full) // 2 + 40):
    bad[i] = 0x5A
raw("sample_corrupt_middle.jpg", bytes(bad))

save("rgb.png", im)
save("rgba.png", Image.fromarray(np.dstack([rgb, rng.integers(0, 256, smooth.shape, dtype=np.uint8)])))
save("l.png", im.convert("L"))
save("la.png", im.convert("LA"))
save("p.png", im.convert("P"))
pt = im.convert("P"); pt.info["transparency"] = 3
save("p_transparency.png", pt, transparency=3)
save("one_bit.png", im.convert("1"))
save("i16.png", Image.fromarray((smooth.astype(np.uint16) * 3)))
w, h = 7, 5
v16 = rng.integers(0, 65536, (h, w, 4), dtype=np.uint16)
raw("rgb16.png", png(w, h, 2, 16, [v16[y, :, :3].astype(">u2").tobytes() for y in range(h)]))
raw("rgba16.png", png(w, h, 6, 16, [v16[y].astype(">u2").tobytes() for y in range(h)]))
raw("la16.png", png(w, h, 4, 16, [v16[y, :, :2].astype(">u2").tobytes() for y in range(h)]))
raw("gray16_small.png", png(w, h, 0, 16, [(v16[y, :, 0] % 300).astype(">u2").tobytes() for y in range(h)]))
g4 = rng.integers(0, 16, (h, 8), dtype=np.uint8)
raw("gray4.png", png(8, h, 0, 4, [bytes((r[i] << 4) | r[i + 1] for i in range(0, 8, 2)) for r in g4]))
png_bytes = open(os.path.join(out, "rgb.png"), "rb").read()
raw("truncated.png", png_bytes[: len(png_bytes) // 2])
raw("empty.jpg", b"")
raw("text.jpg", b"this is not an image\n")

save("rgb.bmp", im)
save("rgb.tiff", im)
save("p.gif", im.convert("P"), check=False)
save("lossless.webp", im, lossless=True, check=False)
save("lossy.webp", im, quality=80, check=False)

for name, check in cases:
    path = os.path.join(out, name)
    try:
        with Image.open(path) as img:
            data = img.convert("RGB").tobytes()
        with open(path + ".rgb", "wb") as f:
            f.write(data)
        status = "ok"
    except Exception as e:
        status = "error:" + type(e).__name__
    print(name, int(check), status)
"#;

#[test]
fn decode_matches_pillow_on_generated_files() {
    let Some(shared) = shared() else { return };
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sample = shared.join("imagenet-val/ILSVRC2012_val_00000001.JPEG");
    let output = Command::new(&python)
        .args(["-c", GENERATE_DECODE_CASES])
        .arg(dir.path())
        .arg(&sample)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut failures = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut parts = line.split_whitespace();
        let (name, check, status) = (
            parts.next().unwrap(),
            parts.next().unwrap() == "1",
            parts.next().unwrap(),
        );
        let path = dir.path().join(name);
        let ours =
            zoorepro::image::pipelines::pillow::decode::decode_rgb(&std::fs::read(&path).unwrap());
        let verdict = match (status, &ours) {
            ("ok", Ok(img)) => {
                let expected = std::fs::read(path.with_file_name(format!("{name}.rgb"))).unwrap();
                if img.pixels == expected {
                    "identical".to_string()
                } else {
                    let max = img
                        .pixels
                        .iter()
                        .zip(&expected)
                        .map(|(a, b)| a.abs_diff(*b))
                        .max()
                        .unwrap_or(255);
                    format!("DIFFERENT (max level difference {max})")
                }
            }
            ("ok", Err(e)) => format!("DIFFERENT: Pillow decodes it, zoorepro says {e}"),
            (pillow_error, Ok(_)) => {
                format!("DIFFERENT: Pillow fails ({pillow_error}), zoorepro decodes it")
            }
            (_, Err(e)) => format!("both refuse (zoorepro: {e})"),
        };
        eprintln!("{name:28} {verdict}");
        if check && verdict.starts_with("DIFFERENT") {
            failures.push(name.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
