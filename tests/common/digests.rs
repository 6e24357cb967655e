//! Reference libraries' tensors of the shared sample, as committed sha256 digests of their float32
//! bytes (written by the parity scripts' `--sha256` mode), and the check that `zoorepro
//! preprocess` gives the same bytes: parity with TensorFlow, OpenCV, torch and Pillow-SIMD
//! checked in CI without installing them.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use zoorepro::npy::{NpyData, read};

/// For each preset, each sample image's digest.
pub type Digests = BTreeMap<String, BTreeMap<String, String>>;

/// The digests of `tests/<file>`, whose `versions` fields must name the library versions they
/// were computed with.
pub fn load(file: &str, versions: &[(&str, &str)]) -> Digests {
    let path = super::repo().join("tests").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (field, version) in versions {
        assert_eq!(json[field], *version, "{file}: {field}");
    }
    serde_json::from_value(json["digests"].clone()).unwrap()
}

/// `zoorepro preprocess --recipe preset [extra...] images... --out out`.
pub fn preprocess(preset: &str, extra: &[&str], images: &[&Path], out: &Path) -> super::Run {
    super::run(
        std::process::Command::new(env!("CARGO_BIN_EXE_zoorepro"))
            .args(["preprocess", "--recipe", preset])
            .args(extra)
            .args(images)
            .arg("--out")
            .arg(out),
    )
}

/// The sha256 of each sample's float32 bytes of `preset`'s tensors of `images`.
pub fn tensor_digests(preset: &str, extra: &[&str], images: &[&Path], out: &Path) -> Vec<String> {
    let done = preprocess(preset, extra, images, out);
    assert_eq!(done.status, 0, "{preset} {extra:?}: {}", done.stderr);
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

/// Checks that `preset`'s tensors of the sample (with `extra` flags) have `expected`'s digests,
/// naming the images whose tensors differ from `library`'s.
pub fn assert_sample_matches(
    shared: &Path,
    preset: &str,
    expected: &BTreeMap<String, String>,
    extra: &[&str],
    library: &str,
) {
    assert_eq!(expected.len(), 100, "{preset}: one digest per sample image");
    let sample = shared.join("imagenet-sample");
    let paths: Vec<_> = expected.keys().map(|name| sample.join(name)).collect();
    let images: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let scratch = tempfile::tempdir().unwrap();
    let got = tensor_digests(preset, extra, &images, &scratch.path().join("t.npy"));
    let differing: Vec<&String> = got
        .iter()
        .zip(expected)
        .filter(|(digest, (_, want))| digest != want)
        .map(|(_, (name, _))| name)
        .collect();
    assert!(
        differing.is_empty(),
        "{preset}: {differing:?} differ from {library}'s"
    );
}
