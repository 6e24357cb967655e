//! The torch presets (`torchvision-tensor`, v2 transforms, and `torchvision-tensor-v1`,
//! `weights.transforms()`) end to end, without torch: `zoorepro preprocess` on every image of
//! ../shared/imagenet-sample must give tensors whose float32 bytes hash to what torch 2.15.0 +
//! torchvision 0.29.2 computed on CPU (tests/torch_presets_sha256.json, written by
//! scripts/parity/parity_torchvision.py --sha256), and files torchvision's decode_jpeg refuses
//! must be refused with exit status 2.

use std::path::Path;

use crate::common;
use crate::common::digests::{assert_sample_matches, load};

const PRESET: &str = "torchvision-tensor";

fn preprocess(images: &[&Path], out: &Path) -> common::Run {
    common::digests::preprocess(PRESET, &[], images, out)
}

#[test]
fn sample_tensors_hash_to_torchvisions() {
    let Some(shared) = common::shared() else {
        return;
    };
    let digests = load(
        "torch_presets_sha256.json",
        &[("torch", "2.15.0"), ("torchvision", "0.29.2")],
    );
    assert_eq!(digests.len(), 2);
    for (preset, expected) in &digests {
        assert_sample_matches(&shared, preset, expected, &[], "torchvision");
    }
}

#[test]
fn files_torchvision_refuses_are_refused_with_exit_2() {
    let scratch = tempfile::tempdir().unwrap();
    // torchvision's memory source makes any read past the end fatal ("Image is incomplete or
    // truncated"), so a file that only lacks its EOI marker is refused too (Pillow takes it).
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
        let done = preprocess(&[&path], &scratch.path().join("t.npy"));
        assert_eq!(done.status, 2, "{name}: {}", done.stderr);
        assert!(done.stderr.contains(name), "{name}: {}", done.stderr);
    }
    let path = scratch.path().join("whole.jpg");
    std::fs::write(&path, &whole).unwrap();
    let done = preprocess(&[&path], &scratch.path().join("t.npy"));
    assert_eq!(done.status, 0, "{}", done.stderr);
}
