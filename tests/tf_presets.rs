//! The TensorFlow presets (`tf-inception-299`, `tf-inception-224`) end to end, without
//! TensorFlow: `zoorepro preprocess` on every image of ../shared/imagenet-sample must give
//! tensors whose float32 bytes hash to what tensorflow-cpu 2.21.0 computed
//! (tests/tf_presets_sha256.json, written by scripts/parity/parity_tensorflow.py --sha256), and
//! files TensorFlow's decode_jpeg refuses must be refused with exit status 2.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::run;
use sha2::{Digest, Sha256};
use zoorepro::npy::{NpyData, read};

fn digests() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(common::repo().join("tests/tf_presets_sha256.json"))
        .expect("tests/tf_presets_sha256.json");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["tensorflow"], "2.21.0");
    serde_json::from_value(json["digests"].clone()).unwrap()
}

fn preprocess(preset: &str, images: &[&Path], out: &Path) -> common::Run {
    run(std::process::Command::new(env!("CARGO_BIN_EXE_zoorepro"))
        .args(["preprocess", "--recipe", preset])
        .args(images)
        .arg("--out")
        .arg(out))
}

#[test]
fn sample_tensors_hash_to_tensorflows() {
    let Some(shared) = common::shared() else {
        return;
    };
    let sample = shared.join("imagenet-sample");
    let scratch = tempfile::tempdir().unwrap();
    for (preset, expected) in digests() {
        assert_eq!(expected.len(), 100, "{preset}: one digest per sample image");
        let paths: Vec<_> = expected.keys().map(|name| sample.join(name)).collect();
        let images: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let out = scratch.path().join(format!("{preset}.npy"));
        let done = preprocess(&preset, &images, &out);
        assert_eq!(done.status, 0, "{preset}: {}", done.stderr);
        let array = read(&out).unwrap();
        let size: usize = preset.rsplit('-').next().unwrap().parse().unwrap();
        assert_eq!(array.shape, [100, size, size, 3]);
        let NpyData::F32(values) = array.data else {
            panic!("{preset}: not float32")
        };
        let differing: Vec<&String> = values
            .chunks_exact(size * size * 3)
            .zip(&expected)
            .filter(|(tensor, (_, digest))| {
                let bytes: Vec<u8> = tensor.iter().flat_map(|v| v.to_le_bytes()).collect();
                format!("{:x}", Sha256::digest(&bytes)) != **digest
            })
            .map(|(_, (name, _))| name)
            .collect();
        assert!(
            differing.is_empty(),
            "{preset}: {differing:?} differ from TensorFlow's"
        );
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
        let done = preprocess("tf-inception-299", &[&path], &scratch.path().join("t.npy"));
        assert_eq!(done.status, 2, "{name}: {}", done.stderr);
        assert!(done.stderr.contains(name), "{name}: {}", done.stderr);
    }
    // The whole file is accepted.
    let path = scratch.path().join("whole.jpg");
    std::fs::write(&path, &whole).unwrap();
    let done = preprocess("tf-inception-224", &[&path], &scratch.path().join("t.npy"));
    assert_eq!(done.status, 0, "{}", done.stderr);
}
