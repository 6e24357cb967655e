//! `--pillow-compat simd` end to end, without Pillow-SIMD: `zoorepro preprocess` on every image
//! of ../shared/imagenet-sample must give, for every Pillow preset, tensors whose float32 bytes
//! hash to what Pillow-SIMD 12.1.1.post0 computed (tests/pillow_simd_sha256.json, written by
//! scripts/parity/parity_pillow_simd.py --sha256).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::run;
use sha2::{Digest, Sha256};
use zoorepro::npy::{NpyData, read};

fn digests() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(common::repo().join("tests/pillow_simd_sha256.json"))
        .expect("tests/pillow_simd_sha256.json");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["pillow_simd"], "12.1.1.post0");
    serde_json::from_value(json["digests"].clone()).unwrap()
}

/// The sha256 of each sample of `preset`'s tensors of `images` with `--pillow-compat compat`.
fn sample_digests(preset: &str, compat: &str, images: &[&Path], out: &Path) -> Vec<String> {
    let done = run(std::process::Command::new(env!("CARGO_BIN_EXE_zoorepro"))
        .args(["preprocess", "--recipe", preset, "--pillow-compat", compat])
        .args(images)
        .arg("--out")
        .arg(out));
    assert_eq!(done.status, 0, "{preset} {compat}: {}", done.stderr);
    let array = read(out).unwrap();
    assert_eq!(array.shape[0], images.len());
    let NpyData::F32(values) = array.data else {
        panic!("{preset}: not float32")
    };
    let per_sample: usize = array.shape[1..].iter().product();
    values
        .chunks_exact(per_sample)
        .map(|tensor| {
            let bytes: Vec<u8> = tensor.iter().flat_map(|v| v.to_le_bytes()).collect();
            format!("{:x}", Sha256::digest(&bytes))
        })
        .collect()
}

#[test]
fn sample_tensors_hash_to_pillow_simds() {
    let Some(shared) = common::shared() else {
        return;
    };
    let sample = shared.join("imagenet-sample");
    let scratch = tempfile::tempdir().unwrap();
    let all = digests();
    assert_eq!(all.len(), 10, "one entry per Pillow preset");
    for (preset, expected) in &all {
        assert_eq!(expected.len(), 100, "{preset}: one digest per sample image");
        let paths: Vec<_> = expected.keys().map(|name| sample.join(name)).collect();
        let images: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let out = scratch.path().join(format!("{preset}.npy"));
        let got = sample_digests(preset, "simd", &images, &out);
        let differing: Vec<&String> = got
            .iter()
            .zip(expected)
            .filter(|(digest, (_, want))| digest != want)
            .map(|(_, (name, _))| name)
            .collect();
        assert!(
            differing.is_empty(),
            "{preset}: {differing:?} differ from Pillow-SIMD's"
        );
        // The flag matters: Pillow's own 22-bit arithmetic misses Pillow-SIMD's tensors of the
        // convolution presets (the Keras presets' NEAREST resize is the same in both).
        if !preset.starts_with("keras-") {
            let pillow = sample_digests(preset, "13", &images, &out);
            let same = pillow.iter().zip(expected.values()).filter(|(a, b)| a == b);
            assert!(
                same.count() < 10,
                "{preset}: Pillow 13 gives Pillow-SIMD's tensors"
            );
        }
    }
}
