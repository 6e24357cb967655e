//! `verify --shard K/N` and `merge`: shards run as separate processes (as Slurm array tasks would),
//! merged, equal an unsharded run image by image; and every way a merge must be refused.

use std::path::Path;
use std::process::Command;

use crate::common;
use crate::common::{run, shared, shared_model, zoorepro};

const MODEL: &str = "coral/mobilenet_v1_0.5_160_quant";

fn verify_command(cache: &Path, shared: &Path, reports: &Path, extra: &[&str]) -> Command {
    let mut command = zoorepro(cache);
    command
        .args(["verify", "--model", MODEL, "--onnx"])
        .arg(shared_model(shared, MODEL))
        .arg("--val")
        .arg(shared.join("imagenet-sample"))
        .arg("--report-dir")
        .arg(reports)
        .args(extra);
    command
}

fn merge(cache: &Path, stores: &[&Path], reports: &Path) -> common::Run {
    merge_with(cache, stores, reports, &[])
}

fn merge_with(cache: &Path, stores: &[&Path], reports: &Path, extra: &[&str]) -> common::Run {
    let mut command = zoorepro(cache);
    command
        .arg("merge")
        .args(stores)
        .arg("--report-dir")
        .arg(reports)
        .arg("--json")
        .args(extra);
    run(&mut command)
}

#[test]
fn merged_shards_equal_an_unsharded_run_image_by_image() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let reports = root.join("reports");

    // Three shards at once, as separate processes, each with its own store.
    let shard_dirs: Vec<_> = (0..3).map(|k| root.join(format!("shard-{k}"))).collect();
    let children: Vec<_> = (0..3)
        .map(|k| {
            verify_command(
                &shard_dirs[k],
                &shared,
                &reports,
                &["--json", "--shard", &format!("{k}/3")],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut shard_sizes = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let record: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let images = record["images"].as_u64().unwrap();
        assert!(
            images > 0 && images < 100,
            "a shard holds part of the images: {images}"
        );
        assert_eq!(
            record["verdict"]["status"], "no-reference",
            "a shard is not the reference's image set"
        );
        shard_sizes += images;
    }
    assert_eq!(shard_sizes, 100, "the shards partition the 100 images");

    let merged_dir = root.join("merged");
    let stores: Vec<&Path> = shard_dirs.iter().map(|p| p.as_path()).collect();
    // A results file of an unknown kind is refused before anything is merged.
    let refused = merge_with(&merged_dir, &stores, &reports, &["--results-file", "r.txt"]);
    common::assert_error(&refused, &["r.txt"]);
    let results = root.join("merged.csv");
    let merged = merge_with(
        &merged_dir,
        &stores,
        &reports,
        &["--results-file", results.to_str().unwrap()],
    );
    assert_eq!(merged.status, 0, "{}", merged.stderr);
    // One row per merged run, in verify's columns (no parameter count: no model file is read).
    let csv = std::fs::read_to_string(&results).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("model,img_size,top1,"), "{csv}");
    assert!(
        lines[1].starts_with("coral/mobilenet_v1_0.5_160_quant,160,58.000,42.000,77.000,23.000,,"),
        "{csv}"
    );
    assert!(lines[1].contains(",reproduced,"), "{csv}");
    let record = merged.json();
    assert_eq!(
        (
            record["top1_correct"].as_u64(),
            record["top5_correct"].as_u64()
        ),
        (Some(58), Some(77))
    );
    assert_eq!(
        record["verdict"]["status"], "reproduced",
        "the merged set is the sample: its reference applies"
    );

    // Merging again changes nothing.
    let again = merge(&merged_dir, &stores, &reports);
    assert!(again.stderr.contains("already merged"), "{}", again.stderr);
    let runs = run(zoorepro(&merged_dir).args(["runs", "--json"])).json();
    assert_eq!(runs.as_array().unwrap().len(), 1);

    // The merged run is the unsharded key: verify there reuses it, and its rows equal a fresh run's.
    let from_merged = root.join("merged.jsonl");
    let reused = run(&mut verify_command(
        &merged_dir,
        &shared,
        &reports,
        &["--json", "--predictions", from_merged.to_str().unwrap()],
    ));
    assert_eq!(
        reused.json()["provenance"]["inferred"],
        0,
        "{}",
        reused.stderr
    );
    let fresh = root.join("fresh.jsonl");
    let unsharded = run(&mut verify_command(
        &root.join("other"),
        &shared,
        &reports,
        &["--no-cache", "--predictions", fresh.to_str().unwrap()],
    ));
    assert_eq!(unsharded.status, 0);
    assert_eq!(
        std::fs::read_to_string(&from_merged).unwrap(),
        std::fs::read_to_string(&fresh).unwrap()
    );
}

#[test]
fn merges_that_would_lie_are_refused() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let reports = root.join("reports");
    let shard = |dir: &str, k: u32, extra: &[&str]| {
        let result = run(&mut verify_command(
            &root.join(dir),
            &shared,
            &reports,
            &[&["--shard", &format!("{k}/3")], extra].concat(),
        ));
        assert_eq!(result.status, 0, "{}", result.stderr);
    };
    // Three shard processes on ONE store at the same time: all finish, all intact.
    let together: Vec<_> = (0..3)
        .map(|k| {
            verify_command(
                &root.join("shared-store"),
                &shared,
                &reports,
                &["--shard", &format!("{k}/3")],
            )
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut child in together {
        assert!(child.wait().unwrap().success());
    }
    let merged = merge(&root.join("shared-store"), &[], &reports);
    assert_eq!(merged.status, 0, "{}", merged.stderr);
    assert_eq!(merged.json()["top1_correct"], 58);

    shard("a", 0, &[]);
    shard("a", 2, &[]);
    let missing = merge(&root.join("m1"), &[&root.join("a")], &reports);
    assert_eq!(missing.status, 2);
    assert!(
        missing.stderr.contains("missing shards 1/3"),
        "{}",
        missing.stderr
    );

    shard("b", 0, &[]);
    shard("b", 1, &[]);
    let twice = merge(
        &root.join("m2"),
        &[&root.join("a"), &root.join("b")],
        &reports,
    );
    assert_eq!(twice.status, 2);
    assert!(
        twice.stderr.contains("shard 0/3") && twice.stderr.contains("two stores"),
        "{}",
        twice.stderr
    );

    shard("c", 1, &["--batch", "4"]);
    let different = merge(
        &root.join("m3"),
        &[&root.join("a"), &root.join("c")],
        &reports,
    );
    assert_eq!(different.status, 2);
    assert!(
        different.stderr.contains("different keys") && different.stderr.contains("batch"),
        "{}",
        different.stderr
    );
    assert!(
        !root.join("m3/zoorepro.sqlite3").exists()
            || run(zoorepro(&root.join("m3")).args(["runs", "--json"]))
                .json()
                .as_array()
                .unwrap()
                .is_empty()
    );

    let not_a_store = merge(&root.join("m4"), &[&root.join("nowhere")], &reports);
    assert_eq!(not_a_store.status, 2);
    assert!(
        not_a_store.stderr.contains("nowhere"),
        "{}",
        not_a_store.stderr
    );

    let bad = run(&mut verify_command(
        &root.join("d"),
        &shared,
        &reports,
        &["--shard", "3/3"],
    ));
    assert_eq!(bad.status, 2);
    assert!(bad.stderr.contains("K/N"), "{}", bad.stderr);
}

#[test]
fn like_shards_merge_and_one_unmergeable_run_stops_only_itself() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let reports = root.join("reports");
    let store = root.join("shards");
    // Someone's export judged like coral/mobilenet_v2 (the broken copy), in 2 shards: no reference
    // applies to a shard's part of the sample; the merged run drifts.
    let like = "coral/mobilenet_v2_1.0_224_quant";
    let export = shared_model(&shared, "coral/broken-mobilenet_v2_1.0_224_quant");
    for k in 0..2 {
        let shard = run(zoorepro(&store)
            .args(["verify", "--like", like, "--onnx"])
            .arg(&export)
            .arg("--val")
            .arg(shared.join("imagenet-sample"))
            .arg("--report-dir")
            .arg(&reports)
            .args(["--shard", &format!("{k}/2")]));
        assert_eq!(shard.status, 0, "{}", shard.stderr);
    }
    // The plain model's 2 shards, and a third model's shard 0/3 alone: that one cannot merge.
    for k in 0..2 {
        let shard = run(&mut verify_command(
            &store,
            &shared,
            &reports,
            &["--shard", &format!("{k}/2")],
        ));
        assert_eq!(shard.status, 0, "{}", shard.stderr);
    }
    let lite = "pypi/efficientnet_lite0";
    let alone = run(zoorepro(&store)
        .args(["verify", "--model", lite, "--onnx"])
        .arg(shared_model(&shared, lite))
        .arg("--val")
        .arg(shared.join("imagenet-sample"))
        .arg("--report-dir")
        .arg(&reports)
        .args(["--shard", "0/3"]));
    assert_eq!(alone.status, 0, "{}", alone.stderr);

    let merged_dir = root.join("merged");
    let results = root.join("merged.json");
    let merged = merge_with(
        &merged_dir,
        &[&store],
        &reports,
        &["--results-file", results.to_str().unwrap()],
    );
    // The missing shards are an error, of that run alone; the others are merged.
    assert_eq!(merged.status, 2, "{}", merged.stderr);
    let errors: Vec<&str> = merged
        .stderr
        .lines()
        .filter(|l| l.starts_with("zoorepro: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", merged.stderr);
    assert!(
        errors[0].contains(lite)
            && errors[0].contains("missing shards 1/3, 2/3")
            && errors[0].contains("the other runs were"),
        "{}",
        errors[0]
    );
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let row = |model: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["model"] == model)
            .unwrap_or_else(|| panic!("no row of {model}: {rows}"))
            .clone()
    };
    let like_id = format!("like/{like}");
    // As verify judged each shard: like's references (the broken copy's 53/100 drifts from 72).
    let like_row = row(&like_id);
    assert_eq!(
        (&like_row["top1"], &like_row["verdict"]),
        (&serde_json::json!(53.0), &serde_json::json!("drift")),
        "{like_row}"
    );
    assert_eq!(like_row["marks"], serde_json::json!(["unverified-model"]));
    assert_eq!(row(MODEL)["verdict"], "reproduced");
    assert_eq!(row(lite)["verdict"], "error");
    // The merged like run keeps the record of whose model it was judged as.
    let record = reports.join(&like_id);
    let newest = std::fs::read_dir(&record)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .unwrap();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(newest).unwrap()).unwrap();
    assert_eq!(record["onnx"]["like"]["model"], like);
    assert!(
        record["dataset"]["layout"]
            .as_str()
            .unwrap()
            .contains("2 shards merged")
    );
    let runs = run(zoorepro(&merged_dir).args(["runs", "--json"])).json();
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
}
