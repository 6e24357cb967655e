//! An installed binary (`cargo install --path .`) works outside the checkout: the shipped manifests
//! are built in, the user's own live in the data folder, and runs leave their reports there.

use std::path::Path;

use crate::common;
use crate::common::{assert_error, run, shared};

/// The binary copied out of the checkout, run from a folder that is not one, with the data folder
/// (`$XDG_DATA_HOME`) in `scratch`.
fn installed(scratch: &Path) -> std::process::Command {
    let bin = scratch.join("bin/zoorepro");
    if !bin.exists() {
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_zoorepro"), &bin).unwrap();
    }
    // The ONNX Runtime library scripts/setup.sh installed, wherever the real data folder is.
    let ort = std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| {
        let data = dirs::data_dir().expect("a data folder");
        data.join("zoorepro/onnxruntime-1.32.0/libonnxruntime.so")
            .display()
            .to_string()
    });
    let mut command = std::process::Command::new(bin);
    command
        .current_dir(scratch)
        .env_remove("ZOOREPRO_HOME")
        .env("XDG_DATA_HOME", scratch.join("data"))
        .env("ORT_DYLIB_PATH", ort)
        .arg("--cache-dir")
        .arg(scratch.join("cache"));
    command
}

#[test]
fn an_installed_binary_has_the_shipped_manifests_and_keeps_its_files_in_the_data_folder() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let listed = run(installed(scratch.path()).args(["models", "--json"]));
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    let shipped = std::fs::read_dir(common::repo().join("manifests"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(listed.json().as_array().unwrap().len(), shipped);

    let model = "coral/mobilenet_v2_1.0_224_quant";
    let onnx = common::shared_model(&shared, model);
    let verified = run(installed(scratch.path())
        .args(["verify", "--model", model, "--onnx"])
        .arg(&onnx)
        .arg("--val")
        .arg(shared.join("imagenet-sample")));
    assert_eq!(verified.status, 0, "{}", verified.stderr);
    let reports = scratch.path().join("data/zoorepro/reports").join(model);
    assert_eq!(
        std::fs::read_dir(&reports).unwrap().count(),
        3,
        "json, md, html"
    );

    // A user's own manifest in the data folder joins the built-in ones; a broken one is named.
    let own = scratch.path().join("data/zoorepro/manifests");
    std::fs::create_dir_all(&own).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::repo().join("manifests/coral__mobilenet_v2_1.0_224_quant.json"),
        )
        .unwrap(),
    )
    .unwrap();
    manifest["id"] = "mine/mobilenet_v2".into();
    std::fs::write(own.join("mine.json"), manifest.to_string()).unwrap();
    let listed = run(installed(scratch.path()).args(["models", "--json"]));
    assert_eq!(listed.json().as_array().unwrap().len(), shipped + 1);
    std::fs::write(own.join("broken.json"), "{").unwrap();
    let refused = run(installed(scratch.path()).arg("models"));
    assert_error(&refused, &["broken.json"]);
}
