//! `zoorepro determinism` and `zoorepro inspect` end to end, on two tiny real ONNX models
//! (`common::onnx::batch_statistics_classifier`): one normalises with the statistics of its batch
//! (the BatchNorm-in-training-mode failure), one does not. They run on the bundled demo images,
//! so these tests need only the ONNX Runtime library, not ../shared.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::run;

/// A zoorepro home with one manifest per fixture model (`test/batch-dependent`,
/// `test/per-sample`), unpinned, fed by the `torchvision` preset.
fn fixture_home(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("manifests")).unwrap();
    std::fs::create_dir_all(home.join("models")).unwrap();
    for (name, batch_dependent) in [("batch-dependent", true), ("per-sample", false)] {
        let file = format!("test__{name}.onnx");
        std::fs::write(
            home.join("models").join(&file),
            common::onnx::batch_statistics_classifier(batch_dependent),
        )
        .unwrap();
        let manifest =
            common::onnx::manifest(&format!("test/{name}"), &file, common::onnx::Batch::Dynamic);
        std::fs::write(
            home.join("manifests").join(format!("test__{name}.json")),
            serde_json::to_string_pretty(&manifest).unwrap(),
        )
        .unwrap();
    }
    home
}

fn zoorepro(home: &Path, scratch: &Path) -> std::process::Command {
    let mut command = common::zoorepro(&scratch.join("cache"));
    command.env("ZOOREPRO_HOME", home);
    command
}

fn demo() -> PathBuf {
    common::repo().join("demo")
}

fn determinism(home: &Path, scratch: &Path, model: &str, extra: &[&str]) -> common::Run {
    let mut command = zoorepro(home, scratch);
    command
        .args(["determinism", "--model", model, "--val"])
        .arg(demo())
        .args(["--samples", "8", "--batch-sizes", "1,4", "--json"])
        .args(extra);
    run(&mut command)
}

fn axis_rows<'a>(report: &'a serde_json::Value, axis: &str) -> Vec<&'a serde_json::Value> {
    report["axes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["axis"] == axis)
        .collect()
}

#[test]
fn batch_statistics_make_a_model_batch_dependent() {
    let scratch = tempfile::tempdir().unwrap();
    let home = fixture_home(scratch.path());
    let result = determinism(&home, scratch.path(), "test/batch-dependent", &[]);
    assert_eq!(result.status, 1, "{}", result.stderr);
    let report = result.json();
    assert_eq!(report["verdict"], "batch-dependent", "{}", result.stdout);
    assert_eq!(report["images"].as_array().unwrap().len(), 8);
    let batch = axis_rows(&report, "batch");
    assert_eq!(batch.len(), 2, "two neighbour sets for batch 4");
    for row in &batch {
        assert_eq!(row["beyond_rounding"], true);
        assert!(row["max_rel_diff"].as_f64().unwrap() > 1e-2);
        assert!(row["top1_changes"].as_u64().unwrap() > 0, "{row}");
        let worst = row["worst"].as_array().unwrap();
        assert!(!worst.is_empty());
        assert!(worst[0]["file"].as_str().unwrap().ends_with(".JPEG"));
        assert!(worst[0]["top1_reference"].is_u64() && worst[0]["top1_other"].is_u64());
    }
    // Running the same batches again gives the same bits: the dependence is on the batch.
    for row in axis_rows(&report, "repetition") {
        assert_eq!(row["identical"], row["compared"]);
    }
    assert!(
        result.stderr.contains("batch-dependent"),
        "{}",
        result.stderr
    );
}

#[test]
fn a_per_sample_model_is_deterministic() {
    let scratch = tempfile::tempdir().unwrap();
    let home = fixture_home(scratch.path());
    let result = determinism(
        &home,
        scratch.path(),
        "test/per-sample",
        &[
            "--threads",
            "1,2",
            "--opt-levels",
            "disable,all",
            "--repeats",
            "2",
        ],
    );
    assert_eq!(result.status, 0, "{}\n{}", result.stderr, result.stdout);
    let report = result.json();
    assert_eq!(report["verdict"], "deterministic");
    for axis in ["batch", "composition", "repetition", "threads", "opt-level"] {
        let rows = axis_rows(&report, axis);
        assert!(!rows.is_empty(), "no {axis} rows");
        for row in rows {
            assert_eq!(row["identical"], row["compared"], "{row}");
            assert_eq!(row["max_abs_diff"], 0.0);
            assert_eq!(row["top1_changes"], 0);
        }
    }
    assert_eq!(report["configurations"].as_array().unwrap().len(), 4);
}

#[test]
fn human_output_has_a_table_per_axis_and_the_verdict() {
    let scratch = tempfile::tempdir().unwrap();
    let home = fixture_home(scratch.path());
    let mut command = zoorepro(&home, scratch.path());
    command
        .args(["determinism", "--model", "test/batch-dependent", "--val"])
        .arg(demo())
        .args(["--samples", "5", "--batch-sizes", "2", "--repeats", "1"]);
    let result = run(&mut command);
    assert_eq!(result.status, 1, "{}", result.stderr);
    assert!(
        result.stdout.contains("beyond rounding"),
        "{}",
        result.stdout
    );
    assert!(result.stdout.contains("worst images"), "{}", result.stdout);
    assert!(
        result.stdout.contains("verdict: batch-dependent"),
        "{}",
        result.stdout
    );
    assert!(
        result.stdout.contains("skipped: repetition"),
        "{}",
        result.stdout
    );
}

#[test]
fn human_output_lists_top1_flips_with_class_names_and_prints_no_difference_as_0() {
    let scratch = tempfile::tempdir().unwrap();
    let home = fixture_home(scratch.path());
    let mut command = zoorepro(&home, scratch.path());
    command
        .args(["determinism", "--model", "test/batch-dependent", "--val"])
        .arg(demo())
        .args(["--samples", "5", "--batch-sizes", "2", "--repeats", "2"]);
    let result = run(&mut command);
    assert_eq!(result.status, 1, "{}", result.stderr);
    let out = &result.stdout;
    // The repeats are bitwise identical: their differences are an exact 0.
    let repetition = out
        .lines()
        .find(|l| l.starts_with("repetition"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        repetition.split_whitespace().nth(7),
        Some("0"),
        "{repetition}"
    );
    assert!(!out.contains("0.000e0"), "{out}");
    // Flips come before the worst images, each with both classes named.
    let flips = out.find("top-1 flips (").unwrap_or_else(|| panic!("{out}"));
    assert!(flips < out.find("worst images").unwrap(), "{out}");
    let first = out[flips..].lines().nth(1).unwrap();
    assert!(
        first.starts_with("  batch ") && first.contains(".JPEG: ") && first.contains(" -> "),
        "{first}"
    );
    let (from, to) = first
        .split_once(": ")
        .unwrap()
        .1
        .split_once(" -> ")
        .unwrap();
    for class in [from, to] {
        let (index, name) = class.split_once(' ').unwrap();
        assert!(index.parse::<u16>().is_ok() && !name.is_empty(), "{first}");
    }
}

#[test]
fn inspect_names_the_operator_that_reduces_over_the_batch() {
    let scratch = tempfile::tempdir().unwrap();
    let home = fixture_home(scratch.path());
    let file = home.join("models/test__batch-dependent.onnx");
    let mut command = zoorepro(&home, scratch.path());
    command.arg("inspect").arg(&file).arg("--json");
    let result = run(&mut command);
    assert_eq!(result.status, 0, "{}", result.stderr);
    let summary = result.json();
    let offenders = summary["batch_operators"].as_array().unwrap();
    assert_eq!(offenders.len(), 1, "{offenders:?}");
    assert_eq!(offenders[0]["node"], "batch_mean");
    assert_eq!(offenders[0]["op_type"], "ReduceMean");
    assert!(offenders[0]["reason"].as_str().unwrap().contains("[0]"));
    assert_eq!(summary["operators"]["ReduceMean"], 2);
    assert_eq!(summary["operators"]["MatMul"], 1);
    assert_eq!(summary["parameters"]["total"], 3000);
    // The file's sha256, as a manifest would pin it.
    let bytes = std::fs::read(&file).unwrap();
    let digest: String =
        sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&bytes))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    assert_eq!(summary["sha256"], digest);
    assert_eq!(
        summary["inputs"][0]["shape"],
        serde_json::json!(["N", 3, 224, 224])
    );
    assert_eq!(summary["inputs"][0]["fixed_batch"], serde_json::Value::Null);
    assert_eq!(summary["opsets"][0]["version"], 13);
    assert_eq!(summary["producer"], "zoorepro-tests");

    let mut command = zoorepro(&home, scratch.path());
    command
        .arg("inspect")
        .arg(home.join("models/test__per-sample.onnx"));
    let result = run(&mut command);
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert!(
        result.stdout.contains("batch-mixing operators: none"),
        "{}",
        result.stdout
    );
}

#[test]
fn inspect_refuses_a_file_that_is_not_onnx_by_name() {
    let scratch = tempfile::tempdir().unwrap();
    let home = fixture_home(scratch.path());
    let bogus = scratch.path().join("notes.onnx");
    std::fs::write(&bogus, "a text file, not a protobuf model\n").unwrap();
    let mut command = zoorepro(&home, scratch.path());
    command.arg("inspect").arg(&bogus);
    let result = run(&mut command);
    assert_eq!(result.status, 2);
    assert!(result.stderr.contains("notes.onnx"), "{}", result.stderr);
    assert!(
        result.stderr.contains("not an ONNX model"),
        "{}",
        result.stderr
    );
}

#[test]
fn cuda_without_a_gpu_build_fails_clearly() {
    let scratch = tempfile::tempdir().unwrap();
    let home = fixture_home(scratch.path());
    let result = determinism(
        &home,
        scratch.path(),
        "test/per-sample",
        &["--providers", "cpu,cuda"],
    );
    assert_eq!(result.status, 2, "{}", result.stderr);
    assert!(result.stderr.contains("CUDA"), "{}", result.stderr);
    assert!(result.stderr.contains("cuda"), "{}", result.stderr);
    assert!(result.stdout.is_empty(), "no report without a conclusion");
}

#[test]
fn bad_arguments_are_errors() {
    let scratch = tempfile::tempdir().unwrap();
    let home = fixture_home(scratch.path());
    for extra in [
        ["--samples", "0"],
        ["--threads", "0"],
        ["--batch-sizes", "0"],
    ] {
        let result = determinism(&home, scratch.path(), "test/per-sample", &extra);
        assert_eq!(result.status, 2, "{extra:?}: {}", result.stderr);
        assert!(result.stderr.contains(extra[0]), "{}", result.stderr);
    }
}
