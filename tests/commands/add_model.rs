//! `zoorepro add-model`: a user's own export is registered after its signature is checked, the
//! manifest it writes loads and drives `verify`, and every disagreement is refused with one clear
//! message and status 2, leaving the manifests as they were.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{Run, run, shared, shared_model};

/// A zoorepro home of its own: a copy of the shipped manifests and an empty models/.
fn scratch_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let manifests = home.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    for entry in std::fs::read_dir(common::repo().join("manifests")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::copy(&path, manifests.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::create_dir(home.path().join("models")).unwrap();
    home
}

fn zoorepro(home: &Path, args: &[&str]) -> Run {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_zoorepro"));
    command
        .env("ZOOREPRO_HOME", home)
        .arg("--cache-dir")
        .arg(home.join("cache"))
        .args(args);
    run(&mut command)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The oracle's recipe for efficientnet_lite0, given inline.
const EFFNET_RECIPE: [&str; 14] = [
    "--resize-mode",
    "shorter-side",
    "--size",
    "224",
    "--crop",
    "224",
    "--filter",
    "BILINEAR",
    "--scale",
    "255",
    "--mean",
    "0.485,0.456,0.406",
    "--std",
    "0.229,0.224,0.225",
];

fn manifest_files(home: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(home.join("manifests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn assert_refused(run: &Run, needles: &[&str]) {
    assert_eq!(
        run.status, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(!lines.is_empty(), "no message");
    let text = run.stderr.to_ascii_lowercase();
    for needle in needles {
        assert!(
            text.contains(&needle.to_ascii_lowercase()),
            "{needle:?} missing from: {}",
            run.stderr
        );
    }
}

#[test]
fn an_inline_recipe_registration_verifies_like_the_oracle() {
    let Some(shared) = shared() else { return };
    let home = scratch_home();
    let model = shared_model(&shared, "pypi/efficientnet_lite0");
    let mut args = vec!["add-model", s(&model), "--id", "effnet"];
    args.extend(EFFNET_RECIPE);
    args.extend(["--channels", "rgb", "--reference", "test:68:93"]);
    let added = zoorepro(home.path(), &args);
    assert_eq!(added.status, 0, "{}", added.stderr);
    assert!(added.stdout.contains("user/effnet"), "{}", added.stdout);

    let written = home.path().join("manifests/user__effnet.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    assert_eq!(manifest["id"], "user/effnet");
    assert_eq!(manifest["framework"], "user");
    assert_eq!(
        manifest["sha256"],
        "9cded8acd30bc500e1089a8ee95643ce276925de6d2565bbccf1050cb068f782"
    );
    assert_eq!(manifest["input"]["name"], "input");
    assert_eq!(
        manifest["input"]["shape"],
        serde_json::json!(["N", 3, 224, 224])
    );
    assert_eq!(manifest["input"]["layout"], "nchw");
    assert_eq!(manifest["output"]["classes"], 1000);
    assert_eq!(manifest["output"]["label_offset"], 0);
    // Outside <home>/models the file is recorded by its absolute path.
    assert_eq!(manifest["file"], s(&std::fs::canonicalize(&model).unwrap()));
    let reference = &manifest["references"][0];
    assert_eq!(reference["source"], "test");
    assert_eq!(reference["top1"], 68.0);
    assert_eq!(reference["image_set"]["name"], "ilsvrc2012-val");
    assert_eq!(reference["image_set"]["images"], 50000);
    assert_eq!(reference["recipe"], manifest["default_recipe"]);
    assert_eq!(reference["expected"], true);

    let listed = zoorepro(home.path(), &["models", "--json"]);
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    let listed = listed.json();
    let effnet = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "user/effnet")
        .expect("the new model is listed");
    // References are structured fields, not prose.
    assert_eq!(effnet["references"][0]["top1"], 68.0);
    assert_eq!(effnet["references"][0]["image_set"]["images"], 50000);
    assert_eq!(effnet["references"][0]["expected"], true);

    let sample = shared.join("imagenet-sample");
    let verified = zoorepro(
        home.path(),
        &[
            "verify",
            "--model",
            "user/effnet",
            "--val",
            s(&sample),
            "--no-cache",
            "--report-dir",
            s(&home.path().join("reports")),
            "--json",
        ],
    );
    // The reference is on the full validation set; the sample is part of it, so it is judged by its
    // 95% interval (58.3-76.5 for 68 of 100), which holds the reference's 68.
    assert_eq!(verified.status, 0, "{}", verified.stderr);
    let record = verified.json();
    assert_eq!(record["top1_correct"], 68);
    assert_eq!(record["top5_correct"], 93);
    assert_eq!(record["onnx"]["verification"], "verified");
    assert_eq!(record["verdict"]["status"], "consistent");
    let summary = record["verdict"]["summary"].as_str().unwrap();
    assert!(summary.contains("consistent with 68.000"), "{summary}");
}

#[test]
fn a_preset_registration_inside_models_is_relative_and_ids_are_not_overwritten() {
    let Some(shared) = shared() else { return };
    let home = scratch_home();
    let inside = home.path().join("models/lab/effnet.onnx");
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    std::fs::copy(shared_model(&shared, "pypi/efficientnet_lite0"), &inside).unwrap();

    let args = [
        "add-model",
        s(&inside),
        "--id",
        "lab/effnet",
        "--recipe",
        "torchvision",
    ];
    let added = zoorepro(home.path(), &args);
    assert_eq!(added.status, 0, "{}", added.stderr);
    let written = home.path().join("manifests/lab__effnet.json");
    let first = std::fs::read_to_string(&written).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(manifest["file"], "lab/effnet.onnx");
    assert_eq!(manifest["recipes"], serde_json::json!(["torchvision"]));
    assert_eq!(manifest["framework"], "lab");

    let again = zoorepro(home.path(), &args);
    assert_refused(&again, &["lab/effnet", "already exists", "--force"]);
    assert_eq!(std::fs::read_to_string(&written).unwrap(), first);

    let mut forced = args.to_vec();
    forced.extend(["--force", "--reference", "lab:75.0:92.5"]);
    let replaced = zoorepro(home.path(), &forced);
    assert_eq!(replaced.status, 0, "{}", replaced.stderr);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    assert_eq!(manifest["references"][0]["top5"], 92.5);

    // A shipped id is as protected as one the user wrote.
    let shipped = zoorepro(
        home.path(),
        &[
            "add-model",
            s(&inside),
            "--id",
            "pytorch/resnet50",
            "--recipe",
            "torchvision",
        ],
    );
    assert_refused(&shipped, &["pytorch/resnet50", "already exists"]);
    // Nor may an id read as one: another letter case, or the namespace of verify --like runs.
    for (id, says) in [
        ("PyTorch/resnet50", "only in letter case"),
        ("like/pytorch/resnet50", "verify --like runs"),
    ] {
        let args = [
            "add-model",
            s(&inside),
            "--id",
            id,
            "--recipe",
            "torchvision",
        ];
        assert_refused(&zoorepro(home.path(), &args), &[says]);
    }
}

#[test]
fn disagreements_are_refused_with_one_message_and_nothing_written() {
    let Some(shared) = shared() else { return };
    let home = scratch_home();
    let before = manifest_files(home.path());
    let coral = shared_model(&shared, "coral/mobilenet_v1_0.5_160_quant");

    // An NCHW 160 model fed an NHWC 224 preset.
    let run = zoorepro(
        home.path(),
        &[
            "add-model",
            s(&coral),
            "--id",
            "c1",
            "--recipe",
            "keras-caffe",
        ],
    );
    assert_refused(
        &run,
        &["coral__mobilenet_v1_0.5_160_quant.onnx", "nchw", "nhwc"],
    );

    // Right layout, wrong size.
    let run = zoorepro(
        home.path(),
        &[
            "add-model",
            s(&coral),
            "--id",
            "c1",
            "--recipe",
            "torchvision",
        ],
    );
    assert_refused(
        &run,
        &["coral__mobilenet_v1_0.5_160_quant.onnx", "160", "224"],
    );

    // A layout that puts 160 on the channel axis.
    let mut args = vec!["add-model", s(&coral), "--id", "c1"];
    args.extend(EFFNET_RECIPE);
    args.extend(["--channels", "rgb", "--layout", "nhwc"]);
    let run = zoorepro(home.path(), &args);
    assert_refused(&run, &["channels", "nhwc"]);

    // 1001 classes with an offset that would misalign every label.
    let run = zoorepro(
        home.path(),
        &[
            "add-model",
            s(&coral),
            "--id",
            "c1",
            "--resize-mode",
            "squash",
            "--size",
            "160",
            "--filter",
            "lanczos",
            "--scale",
            "1",
            "--mean",
            "128",
            "--std",
            "128",
            "--channels",
            "rgb",
            "--label-offset",
            "0",
        ],
    );
    assert_refused(&run, &["label-offset", "1001"]);

    // Not an ONNX file at all, and no file.
    let text = home.path().join("notes.onnx");
    std::fs::write(&text, "this is not a model").unwrap();
    let run = zoorepro(
        home.path(),
        &[
            "add-model",
            s(&text),
            "--id",
            "c2",
            "--recipe",
            "torchvision",
        ],
    );
    assert_refused(&run, &["notes.onnx"]);
    let missing = home.path().join("absent.onnx");
    let run = zoorepro(
        home.path(),
        &[
            "add-model",
            s(&missing),
            "--id",
            "c2",
            "--recipe",
            "torchvision",
        ],
    );
    assert_refused(&run, &["absent.onnx"]);

    // Unknown preset, bad filter, bad reference, unusable id.
    let effnet = shared_model(&shared, "pypi/efficientnet_lite0");
    for (extra, needles) in [
        (
            vec!["--id", "e", "--recipe", "imagenet"],
            vec!["imagenet", "preset"],
        ),
        (
            vec![
                "--id",
                "e",
                "--recipe",
                "torchvision",
                "--reference",
                "paper:76",
            ],
            vec!["SOURCE:TOP1:TOP5"],
        ),
        (
            vec!["--id", "a__b", "--recipe", "torchvision"],
            vec!["--id"],
        ),
    ] {
        let mut args = vec!["add-model", s(&effnet)];
        args.extend(extra);
        assert_refused(&zoorepro(home.path(), &args), &needles);
    }
    let mut args = vec!["add-model", s(&effnet), "--id", "e"];
    args.extend(EFFNET_RECIPE);
    args.extend(["--channels", "rgb"]);
    let filter = args.iter().position(|a| *a == "BILINEAR").unwrap();
    args[filter] = "ANTIALIAS";
    assert_refused(&zoorepro(home.path(), &args), &["ANTIALIAS", "LANCZOS"]);

    // Preset and inline flags together is a usage error.
    let run = zoorepro(
        home.path(),
        &[
            "add-model",
            s(&effnet),
            "--id",
            "e",
            "--recipe",
            "torchvision",
            "--size",
            "224",
        ],
    );
    assert_eq!(run.status, 2, "{}", run.stderr);

    assert_eq!(
        manifest_files(home.path()),
        before,
        "a refusal wrote a manifest"
    );
}
