//! The OpenCV presets (`mlperf-resnet50`, `mlperf-mobilenet`, `mlperf-resnet50-pytorch`,
//! `mlperf-tflite-tpu`) end to end, without OpenCV: `zoorepro preprocess` on every image of
//! ../shared/imagenet-sample must give tensors whose float32 bytes hash to what
//! opencv-python-headless 5.1.0.95 (and, for the pytorch one, torchvision 0.29.2 on Pillow
//! 13.0.0) computed in MLPerf Inference's dataset.py functions (tests/opencv_presets_sha256.json,
//! written by scripts/parity/parity_opencv.py and parity_geometry.py --sha256), and files
//! `cv2.imread` cannot read must be refused with exit status 2 while the ones it reads despite
//! damage are accepted.

use std::path::Path;

use crate::common;
use crate::common::digests::{assert_sample_matches, load};

fn preprocess(preset: &str, images: &[&Path], out: &Path) -> common::Run {
    common::digests::preprocess(preset, &[], images, out)
}

#[test]
fn sample_tensors_hash_to_opencvs() {
    let Some(shared) = common::shared() else {
        return;
    };
    let digests = load(
        "opencv_presets_sha256.json",
        &[("opencv", "5.1.0"), ("pillow", "13.0.0")],
    );
    assert_eq!(digests.len(), 4);
    for (preset, expected) in &digests {
        assert_sample_matches(&shared, preset, expected, &[], "OpenCV");
    }
}

#[test]
fn files_imread_cannot_read_are_refused_with_exit_2() {
    let scratch = tempfile::tempdir().unwrap();
    let whole =
        std::fs::read(common::repo().join("demo/n01644900/ILSVRC2012_val_00000037.JPEG")).unwrap();
    // cv2.imread gives None for all of these (checked with opencv-python-headless 5.1.0.95).
    let refused: [(&str, Vec<u8>); 5] = [
        ("empty.jpg", Vec::new()),
        ("soi-only.jpg", vec![0xFF, 0xD8, 0xFF, 0xE0]),
        ("tables-only.jpg", vec![0xFF, 0xD8, 0xFF, 0xD9]),
        ("header-cut.jpg", whole[..120].to_vec()),
        ("not-a-jpeg.png", b"\x89PNG\r\n\x1a\n".to_vec()),
    ];
    for (name, bytes) in refused {
        let path = scratch.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let done = preprocess("mlperf-resnet50", &[&path], &scratch.path().join("t.npy"));
        assert_eq!(done.status, 2, "{name}: {}", done.stderr);
        assert!(done.stderr.contains(name), "{name}: {}", done.stderr);
    }
    // imread reads a file from disk: running out of data is a warning and the rest is grey, so
    // cut files are accepted.
    for (name, bytes) in [
        ("no-eoi.jpg", &whole[..whole.len() - 2]),
        ("half.jpg", &whole[..whole.len() / 2]),
        ("whole.jpg", &whole[..]),
    ] {
        let path = scratch.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let done = preprocess("mlperf-mobilenet", &[&path], &scratch.path().join("t.npy"));
        assert_eq!(done.status, 0, "{name}: {}", done.stderr);
    }
}
