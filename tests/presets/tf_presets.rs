//! The TensorFlow presets (`tf-inception-*`, TF-slim's `slim-inception-*` and `slim-vgg-224`,
//! Keras's `keras-dataset-*`) end to end, without TensorFlow: `zoorepro preprocess` on every
//! image of ../shared/imagenet-sample must give tensors whose float32 bytes hash to what
//! tensorflow-cpu 2.21.0 (with keras 3.15.1, and TF-slim's code) computed
//! (tests/tf_presets_sha256.json, written by scripts/parity/parity_tensorflow.py --sha256), and
//! files TensorFlow's decode_jpeg refuses must be refused with exit status 2.

use std::path::Path;

use crate::common;
use crate::common::digests::{assert_sample_matches, load};

fn preprocess(preset: &str, images: &[&Path], out: &Path) -> common::Run {
    common::digests::preprocess(preset, &[], images, out)
}

#[test]
fn sample_tensors_hash_to_tensorflows() {
    let Some(shared) = common::shared() else {
        return;
    };
    let digests = load(
        "tf_presets_sha256.json",
        &[("tensorflow", "2.21.0"), ("keras", "3.15.1")],
    );
    assert_eq!(digests.len(), 7);
    for (preset, expected) in &digests {
        assert_sample_matches(&shared, preset, expected, &[], "TensorFlow");
    }
}

#[test]
fn files_tensorflow_refuses_are_refused_with_exit_2() {
    let scratch = tempfile::tempdir().unwrap();
    // A JPEG without its last bytes: TensorFlow's source makes any read past the end fatal
    // (no fake end marker unless try_recover_truncated), so even a file that only lacks its
    // EOI marker is refused.
    let whole =
        std::fs::read(common::repo().join("demo/n01644900/ILSVRC2012_val_00000037.JPEG")).unwrap();
    let cases: [(&str, Vec<u8>); 4] = [
        ("no-eoi.jpg", whole[..whole.len() - 2].to_vec()),
        ("half.jpg", whole[..whole.len() / 2].to_vec()),
        ("soi-only.jpg", vec![0xFF, 0xD8, 0xFF, 0xE0]),
        ("not-a-jpeg.png", b"\x89PNG\r\n\x1a\n".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = scratch.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        // Every variant decodes with decode_jpeg (Keras's decode_image is the same op on JPEGs).
        for preset in ["tf-inception-299", "slim-vgg-224", "keras-dataset-tf-299"] {
            let done = preprocess(preset, &[&path], &scratch.path().join("t.npy"));
            assert_eq!(done.status, 2, "{preset} {name}: {}", done.stderr);
            assert!(
                done.stderr.contains(name),
                "{preset} {name}: {}",
                done.stderr
            );
        }
    }
    // The whole file is accepted.
    let path = scratch.path().join("whole.jpg");
    std::fs::write(&path, &whole).unwrap();
    let done = preprocess("tf-inception-224", &[&path], &scratch.path().join("t.npy"));
    assert_eq!(done.status, 0, "{}", done.stderr);
}
