//! `zoorepro explain` on the shared models and sample: exports registered with a wrong recipe are
//! traced back to the recipe their published number was measured with, and a broken export is
//! told apart from a pipeline problem.

use std::path::Path;

use crate::common;
use crate::common::{assert_error, repo, run, shared, shared_model, zoorepro};

/// A home whose manifests are the shipped ones plus `id`, a copy of the shipped manifest `file`
/// with its recipe changed by `change` (as a user registering the export wrongly would).
fn home_with_wrong_recipe(
    home: &Path,
    file: &str,
    id: &str,
    recipe_name: &str,
    change: impl FnOnce(&mut serde_json::Value),
) {
    let text = std::fs::read_to_string(repo().join("manifests").join(file)).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest["id"] = id.into();
    manifest["name"] = id.rsplit('/').next().unwrap().into();
    change(&mut manifest["recipes"][0]);
    manifest["recipes"][0]["name"] = recipe_name.into();
    manifest["default_recipe"] = recipe_name.into();
    for reference in manifest["references"].as_array_mut().unwrap() {
        reference["recipe"] = recipe_name.into();
    }
    std::fs::create_dir_all(home.join("manifests")).unwrap();
    std::fs::write(
        home.join("manifests").join(format!("{}.json", recipe_name)),
        manifest.to_string(),
    )
    .unwrap();
}

fn explain(cache: &Path, home: &Path, model: &str, onnx: &Path, extra: &[&str]) -> common::Run {
    let shared = shared().unwrap();
    run(zoorepro(cache)
        .env("ZOOREPRO_HOME", home)
        .args(["explain", "--json", "--model", model, "--onnx"])
        .arg(onnx)
        .arg("--val")
        .arg(shared.join("imagenet-sample"))
        .args(extra))
}

/// A run of the shipped manifest `model` on the shared sample, to explain against.
fn verify_on_sample(cache: &Path, model: &str, onnx: &Path) {
    let shared = shared().unwrap();
    let verified = run(zoorepro(cache)
        .args(["verify", "--model", model, "--onnx"])
        .arg(onnx)
        .arg("--val")
        .arg(shared.join("imagenet-sample")));
    assert_eq!(verified.status, 0, "{}", verified.stderr);
}

#[test]
fn a_wrong_filter_is_traced_to_the_published_recipe_with_and_without_a_reference_run() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let (cache, home) = (scratch.path().join("cache"), scratch.path().join("home"));
    let coral = "coral/mobilenet_v2_1.0_224_quant";
    let onnx = shared_model(&shared, coral);
    home_with_wrong_recipe(
        &home,
        "coral__mobilenet_v2_1.0_224_quant.json",
        "mine/mobilenet_v2-bilinear",
        "coral-bilinear-224",
        |recipe| recipe["filter"] = "BILINEAR".into(),
    );

    // Without a reference run: nearest to the oracle's 72/93.
    let alone = explain(&cache, &home, "mine/mobilenet_v2-bilinear", &onnx, &[]);
    assert_eq!(alone.status, 1, "{}", alone.stderr);
    let report = alone.json();
    assert_eq!(report["verdict"], "pipeline-explains", "{}", alone.stderr);
    assert_eq!(report["manifest_recipe"], "coral-bilinear-224");
    assert_eq!(report["best"]["changes"][0], "filter: BILINEAR -> LANCZOS");
    assert_eq!(
        (
            report["best"]["top1"].as_f64(),
            report["best"]["top5"].as_f64()
        ),
        (Some(72.0), Some(93.0))
    );
    assert_eq!(report["images"], 100);
    let candidates = report["candidates"].as_array().unwrap();
    assert!(candidates.len() >= 15, "{}", candidates.len());
    // Published pipelines of the model's size and layout join by their recipe sources.
    assert!(
        candidates
            .iter()
            .any(|c| c["origin"] == "source" && c["name"].as_str().unwrap().contains(':')),
        "{candidates:?}"
    );
    let own = candidates
        .iter()
        .find(|c| c["origin"] == "manifest")
        .unwrap();
    assert!(own["top1"].as_f64().unwrap() < 72.0, "{own}");
    assert!(
        alone.stderr.contains("pipeline-explains"),
        "{}",
        alone.stderr
    );

    // With a run of the correct manifest: every prediction agrees.
    verify_on_sample(&cache, coral, &onnx);
    let against = explain(
        &cache,
        &home,
        "mine/mobilenet_v2-bilinear",
        &onnx,
        &["--against", coral],
    );
    assert_eq!(against.status, 1, "{}", against.stderr);
    let report = against.json();
    assert_eq!(report["verdict"], "pipeline-explains");
    assert_eq!(report["best"]["changes"][0], "filter: BILINEAR -> LANCZOS");
    assert_eq!(report["best"]["agreement_top1"].as_f64(), Some(100.0));
    assert_eq!(report["best"]["agreement_top5"].as_f64(), Some(100.0));
    assert_eq!(report["against"]["images"], 100);
    let own = report["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["origin"] == "manifest")
        .unwrap();
    assert!(own["agreement_top1"].as_f64().unwrap() < 99.0, "{own}");

    // The correct manifest itself is confirmed, exit 0; the HTML view plots every candidate.
    let confirmed = explain(&cache, &home, coral, &onnx, &["--format", "html"]);
    assert_eq!(confirmed.status, 0, "{}", confirmed.stderr);
    assert!(confirmed.stdout.starts_with("<!DOCTYPE html>"));
    // One dot per candidate row. (Its candidates are not the copy's: a recipe source equal to
    // one of the copy's BILINEAR variations is one more candidate around the LANCZOS recipe.)
    let rows = confirmed.stdout.matches("<tr>").count() - 1;
    assert!(rows >= candidates.len(), "{rows}");
    assert_eq!(
        confirmed.stdout.matches("<circle").count(),
        rows,
        "one dot per candidate"
    );
    assert!(
        confirmed.stderr.contains("recipe-confirmed"),
        "{}",
        confirmed.stderr
    );
}

#[test]
fn a_wrong_crop_is_traced_to_the_published_crop_and_a_broken_export_is_not_the_pipeline() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let (cache, home) = (scratch.path().join("cache"), scratch.path().join("home"));
    let lite0 = "pypi/efficientnet_lite0";
    let onnx = shared_model(&shared, lite0);
    home_with_wrong_recipe(
        &home,
        "pypi__efficientnet_lite0.json",
        "mine/lite0-crop095",
        "lite0-crop0.95",
        |recipe| recipe["resize_size"] = 235.into(),
    );
    let crop1 =
        "resize: short side 235, crop 224 (ratio 0.953) -> short side 224, crop 224 (ratio 1.000)";

    // By the numbers alone, the published crop is among the candidates that give 68/93, and
    // the tie is said.
    // The recipe sources (32 more NCHW candidates) are left out here: the crop is what is
    // traced, and each candidate is one more inference per image (the Coral test keeps them).
    let alone = explain(
        &cache,
        &home,
        "mine/lite0-crop095",
        &onnx,
        &["--no-sources"],
    );
    assert_eq!(alone.status, 1, "{}", alone.stderr);
    let report = alone.json();
    assert_eq!(report["verdict"], "pipeline-explains");
    assert_eq!(
        (
            report["best"]["top1"].as_f64(),
            report["best"]["top5"].as_f64()
        ),
        (Some(68.0), Some(93.0))
    );
    let best_or_tied: Vec<&str> = std::iter::once(report["best"]["recipe"].as_str().unwrap())
        .chain(
            report["best"]["tied_with"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap()),
        )
        .collect();
    assert!(
        best_or_tied.contains(&"lite0-crop0.95+crop1"),
        "{best_or_tied:?}"
    );

    // Against a run of the published recipe, the crop alone agrees on every image.
    verify_on_sample(&cache, lite0, &onnx);
    let against = explain(
        &cache,
        &home,
        "mine/lite0-crop095",
        &onnx,
        &["--against", lite0, "--no-sources"],
    );
    let report = against.json();
    assert_eq!(report["verdict"], "pipeline-explains", "{}", against.stderr);
    assert_eq!(report["best"]["changes"][0], crop1);
    assert_eq!(report["best"]["agreement_top1"].as_f64(), Some(100.0));
    assert!(report["best"]["tied_with"].as_array().unwrap().is_empty());

    // The broken Coral copy: no pipeline reaches its published 72/93.
    let broken = "coral/broken-mobilenet_v2_1.0_224_quant";
    let report = explain(&cache, &home, broken, &shared_model(&shared, broken), &[]);
    assert_eq!(report.status, 1, "{}", report.stderr);
    assert_eq!(report.json()["verdict"], "not-the-pipeline");
    assert!(report.stderr.contains("determinism"), "{}", report.stderr);

    // Nothing to explain against: a clear error, exit 2.
    let unknown = explain(&cache, &home, lite0, &onnx, &["--against", "999"]);
    assert_error(&unknown, &["no run 999"]);
}
