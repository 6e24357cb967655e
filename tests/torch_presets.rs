//! The torchvision-tensor preset end to end, without torch: `zoorepro preprocess` on every image
//! of ../shared/imagenet-sample must give tensors whose float32 bytes hash to what torch 2.15.0 +
//! torchvision 0.29.2 computed on CPU (tests/torch_presets_sha256.json, written by
//! scripts/parity/parity_torchvision.py --sha256), and files torchvision's decode_jpeg refuses
//! must be refused with exit status 2.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::run;
use sha2::{Digest, Sha256};
use zoorepro::npy::{NpyData, read};

const PRESET: &str = "torchvision-tensor";

fn digests() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(common::repo().join("tests/torch_presets_sha256.json"))
        .expect("tests/torch_presets_sha256.json");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["torch"], "2.15.0");
    assert_eq!(json["torchvision"], "0.29.2");
    serde_json::from_value(json["digests"][PRESET].clone()).unwrap()
}

fn preprocess(images: &[&Path], out: &Path) -> common::Run {
    run(std::process::Command::new(env!("CARGO_BIN_EXE_zoorepro"))
        .args(["preprocess", "--recipe", PRESET])
        .args(images)
        .arg("--out")
        .arg(out))
}

#[test]
fn sample_tensors_hash_to_torchvisions() {
    let Some(shared) = common::shared() else {
        return;
    };
    let sample = shared.join("imagenet-sample");
    let scratch = tempfile::tempdir().unwrap();
    let expected = digests();
    assert_eq!(expected.len(), 100, "one digest per sample image");
    let paths: Vec<_> = expected.keys().map(|name| sample.join(name)).collect();
    let images: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let out = scratch.path().join("t.npy");
    let done = preprocess(&images, &out);
    assert_eq!(done.status, 0, "{}", done.stderr);
    let array = read(&out).unwrap();
    assert_eq!(array.shape, [100, 3, 224, 224]);
    let NpyData::F32(values) = array.data else {
        panic!("not float32")
    };
    let differing: Vec<&String> = values
        .chunks_exact(3 * 224 * 224)
        .zip(&expected)
        .filter(|(tensor, (_, digest))| {
            let bytes: Vec<u8> = tensor.iter().flat_map(|v| v.to_le_bytes()).collect();
            format!("{:x}", Sha256::digest(&bytes)) != **digest
        })
        .map(|(_, (name, _))| name)
        .collect();
    assert!(
        differing.is_empty(),
        "{differing:?} differ from torchvision's"
    );
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
