//! `--pillow-compat simd` end to end, without Pillow-SIMD: `zoorepro preprocess` on every image
//! of ../shared/imagenet-sample must give, for every Pillow preset, tensors whose float32 bytes
//! hash to what Pillow-SIMD 12.1.1.post0 computed (tests/pillow_simd_sha256.json, written by
//! scripts/parity/parity_pillow_simd.py --sha256).

use std::path::Path;

use crate::common;
use crate::common::digests::{assert_sample_matches, load, tensor_digests};

#[test]
fn sample_tensors_hash_to_pillow_simds() {
    let Some(shared) = common::shared() else {
        return;
    };
    let sample = shared.join("imagenet-sample");
    let scratch = tempfile::tempdir().unwrap();
    let all = load(
        "pillow_simd_sha256.json",
        &[("pillow_simd", "12.1.1.post0")],
    );
    assert_eq!(all.len(), 10, "one entry per Pillow preset");
    for (preset, expected) in &all {
        let simd = ["--pillow-compat", "simd"];
        assert_sample_matches(&shared, preset, expected, &simd, "Pillow-SIMD");
        // The flag matters: Pillow's own 22-bit arithmetic misses Pillow-SIMD's tensors of the
        // convolution presets (the Keras presets' NEAREST resize is the same in both).
        if !preset.starts_with("keras-") {
            let paths: Vec<_> = expected.keys().map(|name| sample.join(name)).collect();
            let images: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
            let out = scratch.path().join("pillow13.npy");
            let pillow = tensor_digests(preset, &["--pillow-compat", "13"], &images, &out);
            let same = pillow.iter().zip(expected.values()).filter(|(a, b)| a == b);
            assert!(
                same.count() < 10,
                "{preset}: Pillow 13 gives Pillow-SIMD's tensors"
            );
        }
    }
}
