//! An installed binary (`cargo install --path .`) works outside the checkout: the shipped manifests
//! are built in, the user's own live in the data folder, and runs leave their reports there.

use std::path::Path;

use crate::common;
use crate::common::{assert_error, run, shared};

/// The binary copied out of the checkout, run from a folder that is not one, with the data folder
/// (`$XDG_DATA_HOME`) in `scratch`.
pub(crate) fn installed(scratch: &Path) -> std::process::Command {
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

/// The ONNX Runtime library this checkout's tests use (scripts/setup.sh put it there, or
/// `ORT_DYLIB_PATH` names it).
fn real_ort_library() -> std::path::PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            dirs::data_dir()
                .expect("a data folder")
                .join("zoorepro/onnxruntime-1.32.0/libonnxruntime.so")
        })
}

/// A venv under `scratch` with pip's onnxruntime, as `pip install onnxruntime` lays it out (its
/// library a link to the real one); returns the venv and the library's path in it.
pub(crate) fn pip_venv(scratch: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let venv = scratch.join("venv");
    let capi = venv.join("lib/python3.12/site-packages/onnxruntime/capi");
    std::fs::create_dir_all(&capi).unwrap();
    let library = capi.join("libonnxruntime.so.1.32.0");
    std::os::unix::fs::symlink(real_ort_library(), &library).unwrap();
    (venv, library)
}

/// The installed binary with no ONNX Runtime set anywhere: no `ORT_DYLIB_PATH`, no
/// `ZOOREPRO_ORT_DIR`, an empty data folder, and `venv` (when given) as the active venv.
pub(crate) fn installed_without_ort(scratch: &Path, venv: Option<&Path>) -> std::process::Command {
    let mut command = installed(scratch);
    command
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("ZOOREPRO_ORT_DIR")
        .env_remove("VIRTUAL_ENV");
    if let Some(venv) = venv {
        command.env("VIRTUAL_ENV", venv);
    }
    command
}

/// A new user's first hour with the installed binary: ONNX Runtime from a pip venv, add-model on
/// a fresh data folder, a folder of their own photos (nothing scored: exit 3), the same folder
/// with `--ground-truth` (the sample's known counts).
#[test]
fn a_new_user_with_a_pip_venv_registers_a_model_and_labels_their_own_folder() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let model = "coral/mobilenet_v1_0.5_160_quant";
    let onnx = common::shared_model(&shared, model);

    // Nothing set: one message saying what to do, installed binary and checkout both.
    let refused = run(installed_without_ort(scratch.path(), None)
        .args(["verify", "--model", model, "--onnx"])
        .arg(&onnx)
        .arg("--val")
        .arg(shared.join("imagenet-sample")));
    assert_error(
        &refused,
        &[
            "pip install onnxruntime",
            "--ort-lib",
            "ORT_DYLIB_PATH",
            "scripts/setup.sh",
        ],
    );

    let (venv, library) = pip_venv(scratch.path());
    let ort = || installed_without_ort(scratch.path(), Some(&venv));

    // add-model on a fresh data folder creates the folders it needs.
    assert!(!scratch.path().join("data/zoorepro/manifests").exists());
    let added = run(ort()
        .arg("add-model")
        .arg(&onnx)
        .args([
            "--id",
            "mine/v1",
            "--resize-mode",
            "squash",
            "--size",
            "160",
        ])
        .args([
            "--filter", "LANCZOS", "--scale", "1", "--mean", "128", "--std", "128",
        ])
        .args(["--channels", "rgb"]));
    assert_eq!(added.status, 0, "{}", added.stderr);
    assert!(
        scratch
            .path()
            .join("data/zoorepro/manifests/mine__v1.json")
            .is_file()
    );

    // Their own photos: nothing labelled, nothing scored, exit 3 and a warning.
    let photos = scratch.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let mut truth = String::from("file,wnid\n");
    for (i, (wnid, path)) in common::sample_files(&shared).into_iter().enumerate() {
        let name = format!("IMG_{:04}.jpg", i + 1);
        std::fs::copy(&path, photos.join(&name)).unwrap();
        truth.push_str(&format!("{name},{wnid}\n"));
    }
    let verify = |extra: &[&str]| {
        run(ort()
            .args(["verify", "--model", "mine/v1", "--json", "--val"])
            .arg(&photos)
            .args(extra))
    };
    let empty = verify(&[]);
    assert_eq!(empty.status, 3, "{}", empty.stderr);
    assert!(
        empty
            .stderr
            .contains("nothing was scored: none of the 100 images is labelled"),
        "{}",
        empty.stderr
    );
    let record = empty.json();
    assert!(record["top1"].is_null());
    // The record names the library that ran, and its sha256.
    assert_eq!(
        record["provenance"]["ort_library"],
        library.to_str().unwrap(),
        "{record}"
    );
    let sha256 = zoorepro::util::hex::sha256_hex(&std::fs::read(&library).unwrap());
    assert_eq!(record["provenance"]["ort_library_sha256"], sha256.as_str());

    // The same folder with --ground-truth: MODELS.md's 58 / 77 for this model.
    let truth_file = scratch.path().join("labels.csv");
    std::fs::write(&truth_file, truth).unwrap();
    let labelled = verify(&["--ground-truth", truth_file.to_str().unwrap()]);
    assert_eq!(labelled.status, 0, "{}", labelled.stderr);
    let record = labelled.json();
    assert_eq!(record["top1_correct"], 58);
    assert_eq!(record["top5_correct"], 77);
}
