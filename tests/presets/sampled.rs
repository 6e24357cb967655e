//! The sampled recipe space without timm or torchvision: for every config that
//! scripts/parity/parity_sampled.py drew from timm's and torchvision's tables and found bit-exact
//! against the real packages, `zoorepro preprocess --recipe SOURCE` on every 16th image of
//! ../shared/imagenet-sample must give the float32 bytes whose sha256 the script recorded from
//! the real code (tests/sampled_configs_sha256.json; the script's digest over all the corpus
//! files is checked when it is run by hand).

use std::collections::BTreeMap;
use std::path::Path;

use crate::common;
use crate::common::digests::tensor_digests;

#[test]
fn sampled_configs_give_the_real_packages_tensors() {
    let Some(shared) = common::shared() else {
        return;
    };
    let path = common::repo().join("tests/sampled_configs_sha256.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (field, version) in [
        ("timm", "1.0.31"),
        ("torchvision", "0.29.2"),
        ("torch", "2.15.0"),
    ] {
        assert_eq!(json[field], version, "{field}");
    }
    let configs = json["configs"].as_object().unwrap();
    // The draw holds 89 configs; the issue asks for at least 60 checked (see docs/recipes.md).
    assert!(configs.len() >= 60, "{} configs", configs.len());
    let scratch = tempfile::tempdir().unwrap();
    let sample = shared.join("imagenet-sample");
    for (source, config) in configs {
        let expected: BTreeMap<String, String> =
            serde_json::from_value(config["sample"].clone()).unwrap();
        assert!(
            expected.len() >= 6,
            "{source}: {} sample digests",
            expected.len()
        );
        let paths: Vec<_> = expected.keys().map(|name| sample.join(name)).collect();
        let images: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let got = tensor_digests(source, &[], &images, &scratch.path().join("t.npy"));
        for ((name, want), got) in expected.iter().zip(got) {
            assert_eq!(&got, want, "{source} on {name}");
        }
    }
}
