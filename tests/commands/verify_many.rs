//! `zoorepro verify` over several models in one pass: the counts of MODELS.md for all four shared
//! models from one decode per image, per-image top-5 equal to the oracle, per-model stores that
//! later passes reuse, the results file, and the flags that hold for one model only.

use std::path::Path;

use crate::common;
use crate::common::{assert_error, shared, verify};
use serde_json::Value;

/// `verify --model MODEL` on the shared sample with the shared model files, then `extra`.
fn on_sample(scratch: &Path, shared: &Path, model: &str, extra: &[&str]) -> common::Run {
    let (models, sample) = (shared.join("models"), shared.join("imagenet-sample"));
    let mut args = vec![
        "--model",
        model,
        "--models-dir",
        path_str(&models),
        "--val",
        path_str(&sample),
    ];
    args.extend_from_slice(extra);
    verify(scratch, &args)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 test paths")
}

/// MODELS.md: top-1 / top-5 correct on the 100-image sample, and the verdict each gives.
const SAMPLE_COUNTS: [(&str, u64, u64, &str); 4] = [
    ("coral/broken-mobilenet_v2_1.0_224_quant", 53, 78, "drift"),
    ("coral/mobilenet_v1_0.5_160_quant", 58, 77, "reproduced"),
    ("coral/mobilenet_v2_1.0_224_quant", 72, 93, "reproduced"),
    ("pypi/efficientnet_lite0", 68, 93, "reproduced"),
];

/// The oracle's per-image top-5 of one model, in dataset order.
fn oracle_top5(shared: &Path, id: &str) -> Vec<Value> {
    common::oracle_images(shared, id)
        .iter()
        .map(|image| image["top5"].clone())
        .collect()
}

#[test]
fn four_models_in_one_pass_give_the_oracle_counts_from_one_decode_per_image() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let results = scratch.path().join("r.csv");
    let run = on_sample(
        scratch.path(),
        &shared,
        "coral/*,pypi/*",
        &["--results-file", path_str(&results), "--json"],
    );
    // The broken copy drifts, so the pass as a whole exits 1.
    assert_eq!(run.status, 1, "{}", run.stderr);
    let records = run.json();
    let records = records.as_array().expect("one record per model");
    assert_eq!(records.len(), 4);
    for (record, (id, top1, top5, verdict)) in records.iter().zip(SAMPLE_COUNTS) {
        assert_eq!(record["model_id"], id);
        assert_eq!(
            (
                record["top1_correct"].as_u64(),
                record["top5_correct"].as_u64()
            ),
            (Some(top1), Some(top5)),
            "{id}"
        );
        assert_eq!(record["verdict"]["status"], verdict, "{id}");
        assert_eq!(
            record["provenance"]["decodes"], 100,
            "{id}: one decode per image"
        );
        assert_eq!(record["provenance"]["models_in_pass"], 4, "{id}");
        assert_eq!(record["provenance"]["inferred"], 100, "{id}");
    }
    // Each model's stored rows are its own: read back one model at a time, they equal the oracle.
    for (id, ..) in SAMPLE_COUNTS {
        let predictions = scratch.path().join("p.jsonl");
        let again = on_sample(
            scratch.path(),
            &shared,
            id,
            &["--predictions", path_str(&predictions), "--json"],
        );
        assert_eq!(
            again.json()["provenance"]["inferred"],
            0,
            "{id}: answered from the store"
        );
        let ours: Vec<Value> = std::fs::read_to_string(&predictions)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["top5"].clone())
            .collect();
        assert_eq!(ours, oracle_top5(&shared, id), "{id}: per-image top-5");
    }
    let csv = std::fs::read_to_string(&results).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with(
        "model,img_size,top1,top1_err,top5,top5_err,param_count,crop_pct,interpolation,recipe,image_set,images,failed,"
    ));
    assert_eq!(lines.len(), 5, "{csv}");
    // Each model's parameter count (millions), read from the very bytes its session was built
    // from: 3.49 for both MobileNetV2 files.
    for line in &lines[1..] {
        let millions: f64 = line.split(',').nth(6).unwrap().parse().unwrap_or_else(|e| {
            panic!("param_count of {line}: {e}");
        });
        assert!(millions > 0.1, "{line}");
    }
    assert_eq!(lines[1].split(',').nth(6), Some("3.49"), "{}", lines[1]);
    assert!(
        lines[1].starts_with(
            "coral/broken-mobilenet_v2_1.0_224_quant,224,53.000,47.000,78.000,22.000,"
        ),
        "{}",
        lines[1]
    );
    // 53 of 100: the 95% Wilson interval, (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n).
    assert!(
        lines[1].contains(",-19.000,drift,43.289,62.489,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[4].contains(",bilinear,efficientnet-lite0-224,"),
        "{}",
        lines[4]
    );
    assert!(lines[4].contains(",0.000,reproduced,"), "{}", lines[4]);
}

#[test]
fn a_later_pass_decodes_only_for_the_models_whose_store_lacks_the_image() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let pass = |model: &str, limit: Option<&str>| match limit {
        Some(limit) => on_sample(
            scratch.path(),
            &shared,
            model,
            &["--json", "--limit", limit],
        ),
        None => on_sample(scratch.path(), &shared, model, &["--json"]),
    };
    let v2 = "coral/mobilenet_v2_1.0_224_quant";
    let both = "coral/mobilenet_v2_1.0_224_quant,pypi/efficientnet_lite0";
    assert_eq!(pass(v2, Some("40")).status, 0);
    let second = pass(both, None);
    assert_eq!(second.status, 0, "{}", second.stderr);
    let records = second.json();
    // Every image is decoded once: MobileNet needs the 60 it lacks, Lite0 all 100.
    assert_eq!(records[0]["provenance"]["decodes"], 100);
    assert_eq!(records[0]["provenance"]["inferred"], 60);
    assert_eq!(records[0]["store"]["reused"], 40);
    assert_eq!(records[1]["provenance"]["inferred"], 100);
    assert_eq!(records[0]["top1_correct"], 72);
    assert_eq!(records[1]["top1_correct"], 68);
    let third = pass(both, None).json();
    for record in third.as_array().unwrap() {
        assert_eq!(record["provenance"]["decodes"], 0);
        assert_eq!(record["store"]["reused"], 100);
    }
    // A JSON results file holds the same rows, with numbers rounded as printed.
    let results = scratch.path().join("r.json");
    let run = on_sample(
        scratch.path(),
        &shared,
        both,
        &["--results-file", path_str(&results)],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let rows: Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(rows[0]["model"], v2);
    assert_eq!(rows[0]["top1"], 72.0);
    assert_eq!(rows[0]["top5_err"], 7.0);
    assert_eq!(rows[0]["delta_top1"], 0.0);
    assert_eq!(rows[1]["crop_pct"], 1.0);
    assert_eq!(rows[1]["image_set"], rows[0]["image_set"]);
}

#[test]
fn flags_for_one_model_and_names_that_match_nothing_are_refused_before_work() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let models = shared.join("models");
    let sample = shared.join("imagenet-sample");
    let base = |extra: &[&str]| {
        let mut args = vec!["--val", path_str(&sample)];
        args.extend_from_slice(extra);
        verify(scratch.path(), &args)
    };
    let models_dir = path_str(&models);
    let refused = base(&[
        "--model",
        "coral/*",
        "--models-dir",
        models_dir,
        "--predictions",
        "p.jsonl",
    ]);
    assert_error(&refused, &["--predictions", "3 models"]);
    let onnx = models.join("coral__mobilenet_v2_1.0_224_quant.onnx");
    let refused = base(&["--model", "coral/*", "--onnx", path_str(&onnx)]);
    assert_error(&refused, &["--onnx", "coral/mobilenet_v1_0.5_160_quant"]);
    let refused = base(&["--model", "coral/*,nothing/*", "--models-dir", models_dir]);
    assert_error(&refused, &["nothing/*"]);
    let refused = base(&[
        "--model",
        "coral/*",
        "--models-dir",
        models_dir,
        "--results-file",
        "r.txt",
    ]);
    assert_error(&refused, &["r.txt", ".csv or .json"]);
    let missing_folder = scratch.path().join("no/such/dir/r.csv");
    let refused = base(&[
        "--model",
        "coral/*",
        "--models-dir",
        models_dir,
        "--results-file",
        path_str(&missing_folder),
    ]);
    assert_error(&refused, &["results file"]);
    // Each model alone fits its 890-sample batch; the pass holds both recipes' tensors at once.
    let two = "coral/mobilenet_v2_1.0_224_quant,coral/mobilenet_v1_0.5_160_quant";
    let refused = base(&["--model", two, "--models-dir", models_dir, "--batch", "890"]);
    assert_error(&refused, &["--batch of the pass", "890", "GiB"]);
    // Nothing was evaluated: no store was filled by the refused invocations.
    let listed =
        common::run(common::zoorepro(&scratch.path().join("cache")).args(["runs", "--json"]));
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.trim(), "[]");

    // --all-present keeps the manifests whose file is in --models-dir.
    let all = base(&[
        "--all-present",
        "--model",
        "coral/*",
        "--models-dir",
        models_dir,
        "--limit",
        "5",
        "--json",
    ]);
    assert_eq!(all.status, 0, "{}", all.stderr);
    assert_eq!(all.json().as_array().unwrap().len(), 3);
    let none = base(&[
        "--all-present",
        "--model",
        "pytorch/*",
        "--models-dir",
        models_dir,
    ]);
    assert_error(&none, &["pytorch/*", "no ONNX file"]);
}

#[test]
fn progress_names_every_model_and_counts_what_its_store_answered() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let v1 = "coral/mobilenet_v1_0.5_160_quant";
    let v2 = "coral/mobilenet_v2_1.0_224_quant";
    // v1 first alone: its store then answers the whole pass below.
    let alone = on_sample(scratch.path(), &shared, v1, &[]);
    assert_eq!(alone.status, 0, "{}", alone.stderr);
    let both = on_sample(
        scratch.path(),
        &shared,
        &format!("{v1},{v2}"),
        &["--batch", "8"],
    );
    assert_eq!(both.status, 0, "{}", both.stderr);
    let last = both
        .stderr
        .lines()
        .rfind(|l| l.starts_with("verify: "))
        .unwrap_or_else(|| panic!("{}", both.stderr));
    // The run's figures, the stored images included, each model named (MODELS.md: 58 and 72).
    assert!(
        last.starts_with("verify: finished: 100 images in")
            && last.ends_with(&format!("running top-1 {v1} 58.00%, {v2} 72.00%")),
        "{last}"
    );
}
