//! `zoorepro verify` end to end on ../shared: the counts of MODELS.md, the oracle's per-image
//! top-5, the three dataset layouts, the store (resume, reuse), and bad input.

use std::path::Path;

use crate::common;
use crate::common::{oracle_images, shared, shared_model, verify};
use serde_json::Value;

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 test paths")
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

const V1: &str = "coral/mobilenet_v1_0.5_160_quant";

/// The arguments of `verify` for coral's MobileNet v1 (the shared file) on `val`, then `extra`.
fn v1_args<'a>(onnx: &'a Path, val: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--model",
        V1,
        "--onnx",
        path_str(onnx),
        "--val",
        path_str(val),
    ];
    args.extend_from_slice(extra);
    args
}

/// MODELS.md: top-1 / top-5 correct on the 100-image sample, and the exit status the verdict gives.
const SAMPLE_COUNTS: [(&str, u64, u64, i32); 4] = [
    ("coral/mobilenet_v2_1.0_224_quant", 72, 93, 0),
    ("coral/mobilenet_v1_0.5_160_quant", 58, 77, 0),
    ("pypi/efficientnet_lite0", 68, 93, 0),
    ("coral/broken-mobilenet_v2_1.0_224_quant", 53, 78, 1),
];

#[test]
fn sample_counts_and_per_image_top5_equal_the_oracle() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let sample = shared.join("imagenet-sample");
    for (id, top1, top5, status) in SAMPLE_COUNTS {
        let predictions = scratch
            .path()
            .join(format!("{}.jsonl", id.replace('/', "_")));
        let run = verify(
            scratch.path(),
            &[
                "--model",
                id,
                "--onnx",
                path_str(&shared_model(&shared, id)),
                "--val",
                path_str(&sample),
                "--json",
                "--predictions",
                path_str(&predictions),
            ],
        );
        assert_eq!(run.status, status, "{id}: exit status\n{}", run.stderr);
        let record = run.json();
        assert_eq!(record["images"], 100, "{id}");
        assert_eq!(record["failed"], 0, "{id}");
        assert_eq!(record["top1_correct"], top1, "{id} top-1");
        assert_eq!(record["top5_correct"], top5, "{id} top-5");
        assert_eq!(record["onnx"]["verification"], "verified", "{id}");
        let expected_status = if status == 0 { "reproduced" } else { "drift" };
        assert_eq!(record["verdict"]["status"], expected_status, "{id}");
        assert_eq!(record["verdict"]["tolerance"], 0.1);
        let reference = record["references"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["expected"] == true)
            .unwrap();
        assert!(reference["delta_top1"].is_number() && reference["delta_top5"].is_number());
        for key in [
            "tool_version",
            "command_line",
            "ort_version",
            "provider",
            "threads",
            "batch",
            "graph_optimization_level",
            "started_at",
            "images_per_second",
        ] {
            assert!(
                !record["provenance"][key].is_null(),
                "{id}: provenance.{key} missing"
            );
        }
        assert_eq!(record["provenance"]["ort_version"], "1.32.0");
        assert!(record["store"]["key"].as_str().unwrap().len() == 64);

        let ours = read_jsonl(&predictions);
        let oracle = oracle_images(&shared, id);
        assert_eq!(ours.len(), oracle.len(), "{id}: one line per image");
        for (mine, truth) in ours.iter().zip(&oracle) {
            assert_eq!(mine["file"], truth["file"], "{id}: dataset order");
            assert_eq!(mine["label"], truth["gt"], "{id}: {}", truth["file"]);
            assert_eq!(mine["top5"], truth["top5"], "{id}: {} top-5", truth["file"]);
            assert_eq!(
                mine["scores"], truth["top5_scores"],
                "{id}: {} scores",
                truth["file"]
            );
        }
    }
}

#[test]
fn flat_folder_and_tar_give_the_same_predictions_as_the_image_folder() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let id = "coral/mobilenet_v1_0.5_160_quant";
    let onnx = shared_model(&shared, id);

    let tar_path = scratch.path().join("ILSVRC2012_img_val.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
    let mut names: Vec<_> = std::fs::read_dir(shared.join("imagenet-val"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in &names {
        builder
            .append_path_with_name(path, path.file_name().unwrap())
            .unwrap();
    }
    builder.finish().unwrap();
    drop(builder);

    let mut by_layout = Vec::new();
    for (layout, val) in [
        ("image-folder", shared.join("imagenet-sample")),
        ("flat", shared.join("imagenet-val")),
        ("tar", tar_path.clone()),
    ] {
        let predictions = scratch.path().join(format!("{layout}.jsonl"));
        let run = verify(
            scratch.path(),
            &[
                "--model",
                id,
                "--onnx",
                path_str(&onnx),
                "--val",
                path_str(&val),
                "--no-cache",
                "--json",
                "--predictions",
                path_str(&predictions),
            ],
        );
        assert_eq!(run.status, 0, "{layout}: {}", run.stderr);
        let record = run.json();
        assert_eq!(
            (
                record["top1_correct"].as_u64(),
                record["top5_correct"].as_u64()
            ),
            (Some(58), Some(77)),
            "{layout}"
        );
        assert_eq!(
            record["verdict"]["status"], "reproduced",
            "{layout}: the same image set in any layout"
        );
        assert_eq!(record["dataset"]["layout"], layout);
        let mut rows: Vec<(String, Value, Value)> = read_jsonl(&predictions)
            .into_iter()
            .map(|row| {
                let name = row["file"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string();
                (name, row["top5"].clone(), row["label"].clone())
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        by_layout.push(rows);
    }
    assert_eq!(by_layout[0], by_layout[1], "folder vs flat");
    assert_eq!(by_layout[0], by_layout[2], "folder vs tar");
}

#[test]
fn interrupted_runs_resume_and_repeats_run_no_inference() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let id = "coral/mobilenet_v1_0.5_160_quant";
    let onnx = shared_model(&shared, id);
    let sample = shared.join("imagenet-sample");
    let base = [
        "--model",
        id,
        "--onnx",
        path_str(&onnx),
        "--val",
        path_str(&sample),
        "--json",
        "--batch",
        "8",
    ];

    let partial = verify(scratch.path(), &[&base[..], &["--limit", "40"]].concat());
    assert_eq!(partial.status, 0, "{}", partial.stderr);
    assert_eq!(partial.json()["images"], 40);
    assert_eq!(
        partial.json()["verdict"]["status"],
        "no-reference",
        "40 images are not the reference's set"
    );

    let resumed = verify(scratch.path(), &base);
    assert_eq!(resumed.status, 0, "{}", resumed.stderr);
    let resumed = resumed.json();
    assert_eq!(resumed["store"]["reused"], 40);
    assert_eq!(resumed["provenance"]["inferred"], 60);
    assert_eq!(resumed["top1_correct"], 58);

    let repeat = verify(scratch.path(), &base).json();
    assert_eq!(
        repeat["provenance"]["inferred"], 0,
        "an unchanged key runs no inference"
    );
    assert_eq!(repeat["store"]["reused"], 100);
    assert_eq!(
        (repeat["top1"].clone(), repeat["top5"].clone()),
        (resumed["top1"].clone(), resumed["top5"].clone())
    );
    assert_eq!(repeat["store"]["key"], resumed["store"]["key"]);

    // Another batch size is another key: nothing is reused, and batch 1 gives the same answers.
    let one_at_a_time = verify(
        scratch.path(),
        &[&base[..6], &["--json", "--batch", "1"]].concat(),
    )
    .json();
    assert_ne!(one_at_a_time["store"]["key"], resumed["store"]["key"]);
    assert_eq!(one_at_a_time["provenance"]["inferred"], 100);
    assert_eq!(one_at_a_time["top1_correct"], 58);
    assert_eq!(one_at_a_time["provenance"]["batch"], 1);

    // Reports were written from the same record.
    let report_dir = scratch.path().join("reports").join(id);
    let reports: Vec<_> = std::fs::read_dir(&report_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        reports
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "md"))
    );
    assert!(
        reports
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "json"))
    );
}

#[test]
fn a_corrupt_jpeg_is_counted_as_failed_and_strict_makes_it_fatal() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    for (i, entry) in std::fs::read_dir(shared.join("imagenet-val"))
        .unwrap()
        .enumerate()
        .take(12)
    {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::create_dir_all(&val).unwrap();
        let target = val.join(path.file_name().unwrap());
        if i == 3 {
            std::fs::write(&target, &bytes[..bytes.len() / 3]).unwrap();
        } else {
            std::fs::write(&target, &bytes).unwrap();
        }
    }
    std::fs::write(val.join("notes.txt"), "not an image").unwrap();
    let id = "coral/mobilenet_v1_0.5_160_quant";
    let onnx = shared_model(&shared, id);
    let args = [
        "--model",
        id,
        "--onnx",
        path_str(&onnx),
        "--val",
        path_str(&val),
        "--json",
        "--no-cache",
    ];

    let run = verify(scratch.path(), &args);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let record = run.json();
    assert_eq!(record["failed"], 1);
    assert_eq!(record["evaluated"], 11);
    assert_eq!(record["dataset"]["ignored_files"], 1);
    let failure = &record["failures"][0];
    assert!(
        run.stderr.contains(failure["file"].as_str().unwrap()),
        "the failed file is named on stderr"
    );

    let strict = verify(scratch.path(), &[&args[..], &["--strict"]].concat());
    assert_eq!(strict.status, 2);
    assert!(
        strict.stderr.contains(failure["file"].as_str().unwrap()),
        "{}",
        strict.stderr
    );
}

#[test]
fn bad_input_gives_one_clear_message_and_status_2() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let v2 = "coral/mobilenet_v2_1.0_224_quant";
    let v2_onnx = shared_model(&shared, v2);
    let sample = shared.join("imagenet-sample");
    // verify of the demo model's manifest with this ONNX file, --val and extra flags.
    let check = |onnx: &Path, val: &Path, extra: &[&str], needles: &[&str]| {
        let args = [
            &[
                "--model",
                v2,
                "--onnx",
                path_str(onnx),
                "--val",
                path_str(val),
            ],
            extra,
        ]
        .concat();
        common::assert_error(&verify(scratch.path(), &args), needles);
    };

    check(
        &v2_onnx,
        &scratch.path().join("no-such-dir"),
        &[],
        &["no-such-dir"],
    );
    let empty = scratch.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    check(&v2_onnx, &empty, &[], &["empty"]);
    let unknown = verify(
        scratch.path(),
        &["--model", "no-such-model", "--val", path_str(&sample)],
    );
    common::assert_error(&unknown, &["no-such-model", "zoorepro models"]);
    let mistyped = verify(
        scratch.path(),
        &["--model", "pytorch/resnt50", "--val", path_str(&sample)],
    );
    common::assert_error(&mistyped, &["did you mean pytorch/resnet50?"]);

    // A file that is no tar at all is named for what it is, not as a tar to download again.
    let photo = sample.join("n01534433/ILSVRC2012_val_00000247.JPEG");
    let not_tar = verify(
        scratch.path(),
        &[
            "--model",
            v2,
            "--onnx",
            path_str(&v2_onnx),
            "--val",
            path_str(&photo),
        ],
    );
    common::assert_error(&not_tar, &["not a tar archive (it is a JPEG image)"]);
    assert!(
        !not_tar.stderr.contains("re-download"),
        "{}",
        not_tar.stderr
    );
    let ambiguous = verify(
        scratch.path(),
        &["--model", "resnet50", "--val", path_str(&sample)],
    );
    common::assert_error(&ambiguous, &["keras/resnet50", "pytorch/resnet50"]);

    // The broken copy is not the file the intact model's manifest pins.
    let broken = shared_model(&shared, "coral/broken-mobilenet_v2_1.0_224_quant");
    check(&broken, &sample, &[], &["sha256", "--allow-unverified"]);

    // A 160x160 NCHW model under a 224x224 NHWC manifest: the input does not match.
    let v1 = shared_model(&shared, "coral/mobilenet_v1_0.5_160_quant");
    check(
        &v1,
        &sample,
        &["--allow-unverified"],
        &["does not match manifest", "input"],
    );

    // A file that is not ONNX at all.
    let not_onnx = scratch.path().join("model.onnx");
    std::fs::write(&not_onnx, "definitely not protobuf").unwrap();
    check(&not_onnx, &sample, &["--allow-unverified"], &["model.onnx"]);

    // A truncated tar: cut inside the data of a member.
    let tar_path = scratch.path().join("val.tar");
    let mut builder = tar::Builder::new(Vec::new());
    for entry in std::fs::read_dir(shared.join("imagenet-val"))
        .unwrap()
        .take(3)
    {
        let path = entry.unwrap().path();
        builder
            .append_path_with_name(&path, path.file_name().unwrap())
            .unwrap();
    }
    let bytes = builder.into_inner().unwrap();
    std::fs::write(&tar_path, &bytes[..bytes.len() / 2]).unwrap();
    check(&v2_onnx, &tar_path, &[], &["val.tar"]);

    check(&v2_onnx, &sample, &["--batch", "0"], &["--batch"]);
    check(&v2_onnx, &sample, &["--threads", "0"], &["--threads"]);
}

#[test]
fn a_drift_ends_with_the_explain_command_that_runs_as_given() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let broken = "coral/broken-mobilenet_v2_1.0_224_quant";
    let onnx = shared_model(&shared, broken);
    // The bundled demo's 30 images (11 right against the oracle's 18): explain on them is quick.
    let sample = common::repo().join("demo");
    let run = verify(
        scratch.path(),
        &[
            "--model",
            broken,
            "--onnx",
            path_str(&onnx),
            "--val",
            path_str(&sample),
            "--json",
        ],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let record = run.json();
    let summary = record["verdict"]["summary"].as_str().unwrap().to_string();
    let expected = format!(
        "; to see why, run: zoorepro explain --home {} --cache-dir {} --ort-lib {} --model {broken} --onnx {} --recipe coral-lanczos-224 --val {}",
        path_str(&common::repo()),
        path_str(&scratch.path().join("cache")),
        record["provenance"]["ort_library"].as_str().unwrap(),
        path_str(&onnx),
        path_str(&sample)
    );
    assert!(summary.ends_with(&expected), "{summary}");
    // The summary line on stderr ends with it too, and the command runs as it is written.
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with(broken))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(line.ends_with(&expected), "{line}");
    let command = &expected["; to see why, run: ".len()..];
    let bin = Path::new(env!("CARGO_BIN_EXE_zoorepro")).parent().unwrap();
    let explained = common::run(
        std::process::Command::new("sh")
            .args(["-c", command])
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("ZOOREPRO_HOME", common::repo()),
    );
    assert!(explained.status <= 1, "{}", explained.stderr);
    assert!(explained.stderr.contains(broken), "{}", explained.stderr);
}

#[test]
fn a_like_drift_prints_an_explain_command_that_runs_as_printed_from_anywhere() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let (home, cache) = (scratch.path().join("home"), scratch.path().join("cache"));
    std::fs::create_dir_all(&home).unwrap();
    let with_home = || {
        let mut command = common::zoorepro(&cache);
        command.arg("--home").arg(&home);
        command
    };
    // A manifest of the user's own in a home of their own (the intact export's, with the
    // built-in model's recipes and references), and the broken export judged --like it.
    let intact = shared_model(&shared, "coral/mobilenet_v2_1.0_224_quant");
    let added = common::run(with_home().arg("add-model").arg(&intact).args([
        "--id",
        "mine/v2",
        "--like",
        "coral/mobilenet_v2_1.0_224_quant",
    ]));
    assert_eq!(added.status, 0, "{}", added.stderr);
    let broken = shared_model(&shared, "coral/broken-mobilenet_v2_1.0_224_quant");
    let demo = common::repo().join("demo");
    let run = common::run(
        with_home()
            .args(["verify", "--like", "mine/v2", "--json", "--onnx"])
            .arg(&broken)
            .arg("--val")
            .arg(&demo),
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let summary = run.json()["verdict"]["summary"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, command) = summary
        .split_once("; to see why, run: ")
        .unwrap_or_else(|| panic!("{summary}"));
    for part in [
        format!("zoorepro explain --home {} ", path_str(&home)),
        format!(" --cache-dir {} ", path_str(&cache)),
        format!(" --like mine/v2 --onnx {} ", path_str(&broken)),
        format!(" --val {}", path_str(&demo)),
    ] {
        assert!(command.contains(&part), "{part:?} in {command}");
    }
    // As printed, from a folder of no home, with no ZOOREPRO_HOME: without --home, explain
    // would look for mine/v2 in the checkout's home and not find it.
    let elsewhere = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_zoorepro")).parent().unwrap();
    let explained = common::run(
        std::process::Command::new("sh")
            .args(["-c", command])
            .current_dir(elsewhere.path())
            .env_remove("ZOOREPRO_HOME")
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display())),
    );
    assert!(explained.status <= 1, "{}", explained.stderr);
    assert!(
        explained.stderr.contains("like/mine/v2"),
        "{}",
        explained.stderr
    );
}

#[test]
fn the_bundled_demo_reproduces_the_oracle_on_its_30_images() {
    let scratch = tempfile::tempdir().unwrap();
    let demo = common::repo().join("demo");
    let run = verify(
        scratch.path(),
        &[
            "--model",
            "coral/mobilenet_v2_1.0_224_quant",
            "--val",
            path_str(&demo),
            "--json",
        ],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let record = run.json();
    assert_eq!(
        (
            record["top1_correct"].as_u64(),
            record["top5_correct"].as_u64()
        ),
        (Some(18), Some(27))
    );
    assert_eq!(record["verdict"]["status"], "reproduced");
    assert_eq!(record["onnx"]["verification"], "verified");
}

#[test]
fn progress_off_a_terminal_is_logged_as_lines_with_rate_eta_and_running_top1() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let onnx = shared_model(&shared, V1);
    let sample = shared.join("imagenet-sample");
    // stderr is a pipe here, as in a file, a CI log or a Slurm log.
    let run = verify(
        scratch.path(),
        &v1_args(&onnx, &sample, &["--batch", "8", "--no-cache"]),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("verify: "))
        .collect();
    assert_eq!(
        lines.first(),
        Some(&"verify: started: 100 images"),
        "{}",
        run.stderr
    );
    let middle = &lines[1..lines.len() - 1];
    // A line at every tenth (batches of 8 cross each one once), not one per image.
    assert!((5..=10).contains(&middle.len()), "{lines:?}");
    assert!(
        middle.iter().all(|l| l.contains("% ") || l.contains("%)"))
            && middle[0].contains("images/s, ETA"),
        "{lines:?}"
    );
    assert!(middle[0].contains("running top-1"), "{lines:?}");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("verify: finished: 100 images in")
            && last.ends_with(&format!("running top-1 of {V1} 58.00%")),
        "{last}"
    );
}

#[test]
fn the_imagenetv2_layout_gives_the_image_folder_counts() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let onnx = shared_model(&shared, V1);
    // The sample rearranged as the ImageNetV2 archives unpack: a folder per class index.
    let v2 = scratch
        .path()
        .join("imagenetv2-matched-frequency-format-val");
    let class_of = common::class_index_of_val_files();
    let files = common::sample_files(&shared);
    for (_, path) in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let folder = v2.join(&class_of[name]);
        std::fs::create_dir_all(&folder).unwrap();
        std::os::unix::fs::symlink(path, folder.join(name)).unwrap();
    }
    let run = |val: &Path| {
        verify(
            scratch.path(),
            &v1_args(&onnx, val, &["--json", "--no-cache"]),
        )
    };
    let whole = run(&v2);
    assert_eq!(whole.status, 0, "{}", whole.stderr);
    let record = whole.json();
    assert_eq!(record["dataset"]["layout"], "class-index-folder");
    // 58 of 100: the 95% Wilson interval, in percent.
    let interval: Vec<f64> = record["top1_interval"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        (interval[0] - 48.2065).abs() < 1e-3 && (interval[1] - 67.2016).abs() < 1e-3,
        "{interval:?}"
    );
    assert_eq!(
        (
            record["top1_correct"].as_u64(),
            record["top5_correct"].as_u64()
        ),
        (Some(58), Some(77))
    );
    assert_eq!(
        record["dataset"]["image_set_name"],
        "shared-imagenet-sample-100"
    );
    assert_eq!(record["verdict"]["status"], "reproduced");

    // A set no manifest names is named by its ImageNetV2 variant.
    let first = std::fs::read_dir(&v2)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_dir_all(&first).unwrap();
    let part = run(&v2);
    assert_eq!(part.status, 0, "{}", part.stderr);
    assert_eq!(
        part.json()["dataset"]["image_set_name"],
        "imagenetv2-matched-frequency"
    );
}

#[test]
fn require_reference_makes_an_unchecked_run_exit_3() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let onnx = shared_model(&shared, V1);
    let sample = shared.join("imagenet-sample");
    // Ten images are no published image set: nothing is compared.
    let subset = v1_args(&onnx, &sample, &["--no-cache", "--limit", "10"]);
    let plain = verify(scratch.path(), &subset);
    assert_eq!(plain.status, 0, "{}", plain.stderr);
    assert!(
        plain.stderr.contains("nothing to compare"),
        "{}",
        plain.stderr
    );
    let required = v1_args(
        &onnx,
        &sample,
        &["--no-cache", "--limit", "10", "--require-reference"],
    );
    let unchecked = verify(scratch.path(), &required);
    assert_eq!(unchecked.status, 3, "{}", unchecked.stderr);
    // The whole sample has its reference: the flag changes nothing there.
    let whole = v1_args(&onnx, &sample, &["--no-cache", "--require-reference"]);
    let checked = verify(scratch.path(), &whole);
    assert_eq!(checked.status, 0, "{}", checked.stderr);
}

#[test]
fn unwritable_outputs_fail_before_any_image_is_read() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let onnx = shared_model(&shared, V1);
    let sample = shared.join("imagenet-sample");
    let not_a_folder = scratch.path().join("file");
    std::fs::write(&not_a_folder, b"x").unwrap();
    let under_a_file = not_a_folder.join("reports");
    let reports = v1_args(&onnx, &sample, &["--report-dir", path_str(&under_a_file)]);
    let mut command = common::zoorepro(&scratch.path().join("cache"));
    let refused = common::run(command.arg("verify").args(&reports));
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("cannot write run reports"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("verify: started"),
        "{}",
        refused.stderr
    );
    let predictions = not_a_folder.join("p.jsonl");
    let with_predictions = v1_args(&onnx, &sample, &["--predictions", path_str(&predictions)]);
    let refused = verify(scratch.path(), &with_predictions);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("cannot write predictions"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("verify: started"),
        "{}",
        refused.stderr
    );
    assert!(
        !scratch.path().join("cache/zoorepro.sqlite3").exists(),
        "no store was opened, no run begun"
    );
}
