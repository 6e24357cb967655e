//! A new user's first hour (issue 38), with the installed binary (copied out of the checkout,
//! ONNX Runtime from a pip venv through `$VIRTUAL_ENV`, nothing else set): their own export of a
//! known model, its input named `input.1`, verified with `--like`; a flat folder of their own
//! photos (nothing scored, exit 3); the same folder with `--ground-truth`; a timm-style override
//! whose record names the derived recipe and says why the reference does not apply. Then the
//! refusals of bad override values, an unknown `--like` id and a file `--like` cannot feed.

use std::path::Path;

use super::installed::{installed, installed_without_ort, pip_venv};
use crate::common;
use crate::common::{assert_error, run, shared};

const KNOWN: &str = "pypi/efficientnet_lite0";

/// The shared export of [`KNOWN`] as torch writes it when nobody names its tensors.
fn own_export(shared: &Path, dir: &Path) -> std::path::PathBuf {
    let bytes = std::fs::read(common::shared_model(shared, KNOWN)).unwrap();
    let mine = dir.join("mine.onnx");
    std::fs::write(&mine, common::onnx::rename_io(&bytes, "input.1", "output")).unwrap();
    mine
}

#[test]
fn a_new_user_verifies_their_export_with_like_labels_their_folder_and_overrides_the_recipe() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let (venv, _) = pip_venv(scratch.path());
    let zoorepro = || installed_without_ort(scratch.path(), Some(&venv));
    let mine = own_export(&shared, scratch.path());
    let sample = shared.join("imagenet-sample");
    let verify = |val: &Path, extra: &[&str]| {
        run(zoorepro()
            .args(["verify", "--like", KNOWN, "--onnx"])
            .arg(&mine)
            .args(["--json", "--val"])
            .arg(val)
            .args(extra))
    };

    // (a) The export with input `input.1`, judged by the known model's recipe and reference:
    // MODELS.md's 68 / 93, reproduced, and marked as the user's unpinned file.
    let like = verify(&sample, &[]);
    assert_eq!(like.status, 0, "{}", like.stderr);
    let record = like.json();
    assert_eq!(record["model_id"], format!("like/{KNOWN}"));
    assert_eq!(
        (
            record["top1_correct"].as_u64(),
            record["top5_correct"].as_u64()
        ),
        (Some(68), Some(93))
    );
    assert_eq!(record["verdict"]["status"], "reproduced", "{record}");
    assert_eq!(
        record["verdict"]["marks"],
        serde_json::json!(["unverified-model"])
    );
    assert_eq!(record["recipe"]["name"], "efficientnet-lite0-224");
    let onnx = &record["onnx"];
    assert_eq!(onnx["verification"], "unpinned");
    let sha256 = zoorepro::util::hex::sha256_hex(&std::fs::read(&mine).unwrap());
    assert_eq!(onnx["sha256"], sha256.as_str());
    assert_eq!(
        onnx["io_names"],
        serde_json::json!({"input": "input.1", "output": "output"})
    );
    assert_eq!(onnx["like"]["model"], KNOWN);
    let note = onnx["like"]["note"].as_str().unwrap();
    assert!(
        note.contains("is your export, not") && note.contains(&sha256),
        "{note}"
    );
    // The record file on disk says the same, under the like/ id, in the data folder.
    let reports = scratch
        .path()
        .join("data/zoorepro/reports/like")
        .join(KNOWN);
    let json = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(written["onnx"]["like"], onnx["like"]);

    // (b) A flat folder of their own photos: nothing labelled, exit 3 and the warning.
    let photos = scratch.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let mut truth = String::from("file\tclass\n");
    for (i, (wnid, path)) in common::sample_files(&shared).into_iter().enumerate() {
        let name = format!("IMG_{:04}.jpg", i + 1);
        std::fs::copy(&path, photos.join(&name)).unwrap();
        truth.push_str(&format!("{name}\t{wnid}\n"));
    }
    let empty = verify(&photos, &[]);
    assert_eq!(empty.status, 3, "{}", empty.stderr);
    assert!(
        empty
            .stderr
            .contains("warning: like/pypi/efficientnet_lite0: nothing was scored: none of the 100 images is labelled"),
        "{}",
        empty.stderr
    );
    assert!(empty.json()["top1"].is_null());

    // (c) The same folder with --ground-truth: scored, the same 68 / 93 (other names: no
    // reference was measured on this set).
    let truth_file = scratch.path().join("labels.tsv");
    std::fs::write(&truth_file, truth).unwrap();
    let labelled = verify(&photos, &["--ground-truth", truth_file.to_str().unwrap()]);
    assert_eq!(labelled.status, 0, "{}", labelled.stderr);
    let record = labelled.json();
    assert_eq!(
        (
            record["top1_correct"].as_u64(),
            record["top5_correct"].as_u64()
        ),
        (Some(68), Some(93))
    );
    assert_eq!(record["verdict"]["status"], "no-reference");

    // (d) timm's --crop-pct 0.875 (resize 256, crop 224): a recipe of its own, MODELS.md's
    // measured variant 71 / 94, and no reference applies, saying why.
    let derived = verify(&sample, &["--crop-pct", "0.875"]);
    assert_eq!(derived.status, 0, "{}", derived.stderr);
    let record = derived.json();
    assert_eq!(
        record["recipe"]["name"],
        "efficientnet-lite0-224 + crop_pct=0.875"
    );
    assert_eq!(record["recipe"]["definition"]["resize_size"], 256);
    assert_eq!(
        (
            record["top1_correct"].as_u64(),
            record["top5_correct"].as_u64()
        ),
        (Some(71), Some(94))
    );
    assert_eq!(record["verdict"]["status"], "no-reference");
    let summary = record["verdict"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("no reference applies to recipe efficientnet-lite0-224 + crop_pct=0.875")
            && summary.contains("resize_size 256 (not 224)"),
        "{summary}"
    );
    // --require-reference makes that exit 3.
    let required = verify(&sample, &["--crop-pct", "0.875", "--require-reference"]);
    assert_eq!(required.status, 3, "{}", required.stderr);
    // An override equal to the recipe's own value is that recipe: its reference applies.
    let same = verify(
        &sample,
        &["--crop-pct", "1.0", "--interpolation", "bilinear"],
    );
    assert_eq!(same.status, 0, "{}", same.stderr);
    let record = same.json();
    assert_eq!(record["recipe"]["name"], "efficientnet-lite0-224");
    assert_eq!(record["verdict"]["status"], "reproduced");
}

/// The checkout's binary on the shared sample with `args` after `verify`.
fn checkout_verify(scratch: &Path, shared: &Path, args: &[&str]) -> common::Run {
    let mut full = args.to_vec();
    let sample = shared.join("imagenet-sample");
    full.extend(["--val", sample.to_str().unwrap()]);
    common::verify(scratch, &full)
}

#[test]
fn bad_override_values_are_one_message_and_exit_2() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let onnx = common::shared_model(&shared, KNOWN);
    let onnx = onnx.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 9] = [
        (&["--crop-pct", "0"], &["--crop-pct", "(0, 4]"]),
        (&["--img-size", "0"], &["--img-size", "1..=4096"]),
        (
            &["--interpolation", "BICUBIC"],
            &["--interpolation", "bicubic"],
        ),
        (
            &["--crop-mode", "centre"],
            &["--crop-mode", "center, squash, border"],
        ),
        (
            &["--mean", "123.68,116.78,103.94"],
            &["--mean", "0-1 scale"],
        ),
        (&["--std", "0.2,0.2"], &["--std", "three"]),
        // A choice the flag does not take: the flag, the value and the accepted ones.
        (
            &["--channels", "xyz"],
            &["--channels", "'xyz'", "accepted values: rgb, bgr"],
        ),
        (
            &["--layout", "chw"],
            &["--layout", "'chw'", "accepted values: nchw, nhwc"],
        ),
        // A size the manifest's fixed 224 input cannot take.
        (&["--img-size", "288"], &["288px", "224"]),
    ];
    for (flags, needles) in cases {
        let mut args = vec!["--model", KNOWN, "--onnx", onnx];
        args.extend_from_slice(flags);
        let refused = checkout_verify(scratch.path(), &shared, &args);
        assert_error(&refused, needles);
    }
}

#[test]
fn like_names_the_closest_ids_and_refuses_a_file_it_cannot_feed() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let onnx = common::shared_model(&shared, KNOWN);
    let typo = checkout_verify(
        scratch.path(),
        &shared,
        &[
            "--like",
            "pypi/efficientnet_lite",
            "--onnx",
            onnx.to_str().unwrap(),
        ],
    );
    assert_error(&typo, &["pypi/efficientnet_lite", "did you mean", KNOWN]);
    // A 160-pixel model is not fed by efficientnet-lite0's 224-pixel recipe.
    let small = common::shared_model(&shared, "coral/mobilenet_v1_0.5_160_quant");
    let unfit = checkout_verify(
        scratch.path(),
        &shared,
        &["--like", KNOWN, "--onnx", small.to_str().unwrap()],
    );
    assert_error(
        &unfit,
        &[
            "does not match manifest like/pypi/efficientnet_lite0",
            "160",
            "224",
        ],
    );
    // --like without --onnx has nothing of the user's to judge.
    let bare = checkout_verify(scratch.path(), &shared, &["--like", KNOWN]);
    assert_eq!(bare.status, 2, "{}", bare.stderr);
    assert!(bare.stderr.contains("--onnx"), "{}", bare.stderr);
}

#[test]
fn add_model_like_writes_the_known_models_recipes_and_references_saying_where_from() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mine = own_export(&shared, scratch.path());
    let added = run(installed(scratch.path()).arg("add-model").arg(&mine).args([
        "--id",
        "mine/lite0",
        "--like",
        KNOWN,
    ]));
    assert_eq!(added.status, 0, "{}", added.stderr);
    let written = scratch
        .path()
        .join("data/zoorepro/manifests/mine__lite0.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(written).unwrap()).unwrap();
    assert_eq!(manifest["input"]["name"], "input.1");
    assert_eq!(manifest["default_recipe"], "efficientnet-lite0-224");
    let note = manifest["references"][0]["note"].as_str().unwrap();
    assert!(
        note.starts_with("copied from pypi/efficientnet_lite0 (built-in)"),
        "{note}"
    );
    assert!(
        manifest["provenance"]
            .as_str()
            .unwrap()
            .contains("--like pypi/efficientnet_lite0")
    );
    // Its own pinned file, judged by the copied reference: reproduced, the reference a user's.
    let verified = run(installed(scratch.path())
        .args(["verify", "--model", "mine/lite0", "--json", "--val"])
        .arg(shared.join("imagenet-sample")));
    assert_eq!(verified.status, 0, "{}", verified.stderr);
    let record = verified.json();
    assert_eq!(record["top1_correct"], 68);
    assert_eq!(record["verdict"]["status"], "reproduced");
    assert_eq!(
        record["verdict"]["marks"],
        serde_json::json!(["user-reference"])
    );
    // --like with --recipe is two answers to one question.
    let both = run(installed(scratch.path()).arg("add-model").arg(&mine).args([
        "--id",
        "mine/other",
        "--like",
        KNOWN,
        "--recipe",
        "torchvision",
    ]));
    assert_eq!(both.status, 2, "{}", both.stderr);
}

#[test]
fn explain_and_determinism_take_like_and_the_overrides_as_verify_does() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mine = own_export(&shared, scratch.path());
    let sample = shared.join("imagenet-sample");
    let cache = scratch.path().join("cache");
    let like = |command: &str, extra: &[&str]| {
        run(common::zoorepro(&cache)
            .args([command, "--like", KNOWN, "--onnx"])
            .arg(&mine)
            .args(["--json", "--val"])
            .arg(&sample)
            .args(extra))
    };
    // The export with input `input.1`, explained as verify --like judged it (against that run,
    // so that 20 images do): the known model's recipe, and then a recipe an override derives,
    // under the name verify gave it. Each agrees with verify's run of it on every image.
    for (overrides, recipe) in [
        (&[][..], "efficientnet-lite0-224"),
        (
            &["--crop-pct", "0.875"][..],
            "efficientnet-lite0-224 + crop_pct=0.875",
        ),
    ] {
        let mut args = overrides.to_vec();
        args.extend(["--report-dir", scratch.path().to_str().unwrap()]);
        let verified = like("verify", &args);
        assert_eq!(verified.status, 0, "{}", verified.stderr);
        let run_id = verified.json()["store"]["run_id"].to_string();
        let mut args = overrides.to_vec();
        args.extend(["--against", &run_id, "--samples", "20", "--no-sources"]);
        let explained = like("explain", &args);
        assert!(explained.status <= 1, "{}", explained.stderr);
        let report = explained.json();
        assert_eq!(report["model_id"], format!("like/{KNOWN}"));
        assert_eq!(report["manifest_recipe"], recipe);
        let own = report["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == recipe)
            .expect("the run's recipe is a candidate");
        assert_eq!(own["agreement_top1"], 100.0, "{own}");
    }
    let determinism = like(
        "determinism",
        &[
            "--interpolation",
            "bicubic",
            "--samples",
            "4",
            "--batch-sizes",
            "1,2",
        ],
    );
    assert!(determinism.status <= 1, "{}", determinism.stderr);
    let report = determinism.json();
    assert_eq!(report["model_id"], format!("like/{KNOWN}"));
    assert_eq!(
        report["recipe"],
        "efficientnet-lite0-224 + interpolation=bicubic"
    );
    // --like and --model are two answers to one question; --like needs the file.
    for (args, needle) in [
        (
            &["explain", "--like", KNOWN, "--model", KNOWN][..],
            "cannot be used with",
        ),
        (&["determinism", "--like", KNOWN][..], "--onnx"),
    ] {
        let refused = run(common::zoorepro(&cache)
            .args(args)
            .arg("--val")
            .arg(&sample));
        assert_eq!(refused.status, 2, "{}", refused.stderr);
        assert!(refused.stderr.contains(needle), "{}", refused.stderr);
    }
}

#[test]
fn like_on_the_known_models_pinned_file_is_verified_and_says_so() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let pinned = common::shared_model(&shared, KNOWN);
    let run = checkout_verify(
        scratch.path(),
        &shared,
        &[
            "--like",
            KNOWN,
            "--onnx",
            pinned.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let record = run.json();
    assert_eq!(record["model_id"], format!("like/{KNOWN}"));
    assert_eq!(record["verdict"]["status"], "reproduced");
    // The bytes are the pinned file: nothing is unverified, and no text says otherwise.
    assert_eq!(
        record["verdict"]["marks"],
        serde_json::json!([]),
        "{record}"
    );
    assert_eq!(record["onnx"]["verification"], "verified");
    assert_eq!(record["onnx"]["manifest_sha256"], record["onnx"]["sha256"]);
    let note = record["onnx"]["like"]["note"].as_str().unwrap();
    assert!(
        note.contains("byte for byte pypi/efficientnet_lite0's pinned file: verified"),
        "{note}"
    );
    assert!(
        !run.stderr.contains("no sha256 pin") && !note.contains("unpinned"),
        "{}",
        run.stderr
    );
}
