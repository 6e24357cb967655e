//! A user's own data: a folder whose files carry no ILSVRC2012 names scores nothing, loudly (n/a,
//! a warning, exit 3); `--ground-truth FILE` labels any folder or tar, enters the run's identity,
//! is checked against the shipped ground truth for validation files, and refuses a bad file with
//! one message naming it and the line.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{assert_error, sample_files, shared, shared_model, verify};
use serde_json::Value;

const V1: &str = "coral/mobilenet_v1_0.5_160_quant";

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 test paths")
}

/// The first `n` sample images (all 100 when `n` is larger) copied flat into `dir` under names
/// that are not ILSVRC2012's (`photo_001.jpg`, ...), and each one's wnid.
fn renamed_flat_folder(shared: &Path, dir: &Path, n: usize) -> Vec<(String, String, PathBuf)> {
    std::fs::create_dir_all(dir).unwrap();
    sample_files(shared)
        .into_iter()
        .take(n)
        .enumerate()
        .map(|(i, (wnid, path))| {
            let name = format!("photo_{:03}.jpg", i + 1);
            std::fs::copy(&path, dir.join(&name)).unwrap();
            (name, wnid, path)
        })
        .collect()
}

/// `rows` as a CSV ground-truth file with a header.
fn write_csv(path: &Path, rows: &[(String, String)]) {
    let mut text = String::from("image,class\n");
    for (image, class) in rows {
        text.push_str(&format!("{image},{class}\n"));
    }
    std::fs::write(path, text).unwrap();
}

fn v1_verify(scratch: &Path, val: &Path, shared: &Path, extra: &[&str]) -> common::Run {
    let onnx = shared_model(shared, V1);
    let mut args = vec!["--model", V1, "--onnx", s(&onnx), "--val", s(val), "--json"];
    args.extend_from_slice(extra);
    verify(scratch, &args)
}

fn report(scratch: &Path, extension: &str) -> String {
    let dir = scratch.join("reports").join(V1);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    std::fs::read_to_string(files.last().unwrap()).unwrap()
}

#[test]
fn an_unlabelled_folder_scores_nothing_loudly_and_ground_truth_labels_it() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("mine");
    let files = renamed_flat_folder(&shared, &val, 100);

    // Nothing labelled: n/a everywhere, a warning with the count and the reason, exit 3 without
    // --require-reference.
    let empty = v1_verify(scratch.path(), &val, &shared, &[]);
    assert_eq!(empty.status, 3, "{}", empty.stderr);
    assert!(
        empty
            .stderr
            .contains("warning: coral/mobilenet_v1_0.5_160_quant: nothing was scored: none of the 100 images is labelled")
            && empty.stderr.contains("--ground-truth FILE")
            && empty.stderr.contains("top-1 n/a (0/0), top-5 n/a (0/0)"),
        "{}",
        empty.stderr
    );
    let record = empty.json();
    assert!(
        record["top1"].is_null() && record["top5"].is_null(),
        "{record}"
    );
    assert_eq!(record["dataset"]["unlabelled"], 100);
    assert_eq!(record["verdict"]["status"], "no-reference");
    assert!(report(scratch.path(), "md").contains("| top-1 | n/a (0 / 0)"));
    let page = report(scratch.path(), "html");
    assert!(page.contains("<td class=\"num\">n/a</td>") && !page.contains("0.00%"));

    // The same folder with a ground-truth file: the sample's known counts (MODELS.md: 58 / 77).
    let truth = scratch.path().join("truth.csv");
    let rows: Vec<(String, String)> = files
        .iter()
        .map(|(name, wnid, _)| (name.clone(), wnid.clone()))
        .collect();
    write_csv(&truth, &rows);
    let labelled = v1_verify(
        scratch.path(),
        &val,
        &shared,
        &["--ground-truth", s(&truth)],
    );
    // No reference applies to this set of the user's own: a plain no-reference, exit 0.
    assert_eq!(labelled.status, 0, "{}", labelled.stderr);
    assert!(!labelled.stderr.contains("nothing was scored"));
    let labelled = labelled.json();
    assert_eq!(labelled["images"], 100);
    assert_eq!(labelled["top1_correct"], 58);
    assert_eq!(labelled["top5_correct"], 77);
    let sha256 = zoorepro::util::hex::sha256_hex(&std::fs::read(&truth).unwrap());
    assert_eq!(
        labelled["dataset"]["ground_truth"]["sha256"],
        sha256.as_str()
    );
    assert_eq!(labelled["dataset"]["ground_truth"]["rows"], 100);
    assert_eq!(labelled["dataset"]["ground_truth"]["unlisted"], 0);
    // Another labelling is another run: its key is not the unlabelled run's.
    assert_ne!(labelled["store"]["key"], record["store"]["key"]);
    assert_eq!(labelled["store"]["reused"], 0);
    assert!(report(scratch.path(), "md").contains(&format!("--ground-truth {}", s(&truth))));

    // A file that lists only some images: the others are unlabelled, and a warning counts them.
    write_csv(&truth, &rows[..60]);
    let some = v1_verify(
        scratch.path(),
        &val,
        &shared,
        &["--ground-truth", s(&truth)],
    );
    assert_eq!(some.status, 0, "{}", some.stderr);
    assert!(
        some.stderr
            .contains("40 images are not listed in the ground-truth file"),
        "{}",
        some.stderr
    );
    assert_eq!(some.json()["images"], 60);
}

#[test]
fn every_image_failing_scores_nothing_and_exits_3() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("broken");
    std::fs::create_dir_all(&val).unwrap();
    for n in [1, 2, 3] {
        let name = format!("ILSVRC2012_val_{n:08}.JPEG");
        std::fs::write(val.join(name), b"\xFF\xD8 not a JPEG").unwrap();
    }
    let run = v1_verify(scratch.path(), &val, &shared, &[]);
    assert_eq!(run.status, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("nothing was scored: all 3 labelled images failed"),
        "{}",
        run.stderr
    );
    // Nothing was ranked: no number anywhere (null in JSON, n/a in text), not 0.00%.
    assert!(
        run.stderr
            .contains("top-1 n/a (0/3), top-5 n/a (0/3), 3 failed")
            && !run.stderr.contains("0.00%"),
        "{}",
        run.stderr
    );
    let record = run.json();
    for field in ["top1", "top5", "top1_interval", "top5_interval"] {
        assert!(record[field].is_null(), "{field}: {record}");
    }
    assert!(
        record["per_class"].as_array().is_none_or(Vec::is_empty),
        "no per-class figure either: {record}"
    );
    assert_eq!(record["verdict"]["status"], "no-reference");
    let markdown = report(scratch.path(), "md");
    assert!(
        markdown.contains("| top-1 | n/a (0 / 3)") && !markdown.contains("0.0%"),
        "{markdown}"
    );
    let page = report(scratch.path(), "html");
    assert!(page.contains("<td class=\"num\">n/a</td>") && !page.contains("0.00%"));
    let cache = scratch.path().join("cache");
    let table = common::run(common::zoorepro(&cache).args(["table", "--format", "json"]));
    assert_eq!(table.status, 0, "{}", table.stderr);
    let row = &table.json()[0];
    for field in ["top1", "top5", "top1_interval", "top5_interval"] {
        assert!(row[field].is_null(), "{field}: {row}");
    }
    let text = common::run(
        common::zoorepro(&cache).args(["table", "--labels", "all", "--format", "markdown"]),
    );
    assert!(
        text.stdout.contains("| n/a | n/a |") && !text.stdout.contains("0.00"),
        "{}",
        text.stdout
    );
    let runs = common::run(common::zoorepro(&cache).args(["runs", "--json"])).json();
    assert!(runs[0]["top1"].is_null(), "{runs}");
}

#[test]
fn ground_truth_overrides_folder_labels_and_disagreeing_with_ilsvrc_is_relabelled() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let sample = shared.join("imagenet-sample");
    let files = sample_files(&shared);
    // TSV, no header, indices for some rows and wnids for others; 3 labels changed.
    let mut text = String::new();
    for (i, (wnid, path)) in files.iter().enumerate() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let index = common::wnids(&shared)
            .iter()
            .position(|w| w == wnid)
            .unwrap();
        let class = match i {
            0..3 => ((index + 1) % 1000).to_string(),
            _ if i % 2 == 0 => index.to_string(),
            _ => wnid.clone(),
        };
        text.push_str(&format!("{wnid}/{name}\t{class}\n"));
    }
    let truth = scratch.path().join("truth.tsv");
    std::fs::write(&truth, &text).unwrap();
    let run = v1_verify(
        scratch.path(),
        &sample,
        &shared,
        &["--ground-truth", s(&truth)],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let record = run.json();
    assert_eq!(record["verdict"]["status"], "no-reference");
    assert_eq!(
        record["verdict"]["marks"],
        serde_json::json!(["relabelled"])
    );
    assert_eq!(record["image_set"]["label_disagreements"], 3);
    let summary = record["verdict"]["summary"].as_str().unwrap();
    assert!(summary.contains("--ground-truth"), "{summary}");

    // The same labels as the folders: the run scores as the folder does (MODELS.md 58 / 77) and
    // is judged against the sample's reference.
    let agreeing: String = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i < 3 {
                let (image, _) = line.split_once('\t').unwrap();
                format!("{image}\t{}\n", image.split('/').next().unwrap())
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(&truth, agreeing).unwrap();
    let run = v1_verify(
        scratch.path(),
        &sample,
        &shared,
        &["--ground-truth", s(&truth)],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let record = run.json();
    assert_eq!(record["top1_correct"], 58);
    assert_eq!(record["verdict"]["status"], "reproduced", "{record}");

    // The two runs label 3 images differently: compare tells neither's accuracy under the
    // other's labels.
    let compare = common::run(
        common::zoorepro(&scratch.path().join("cache"))
            .args(["compare", "1", "2", "--format", "json"]),
    );
    assert_error(&compare, &["label 3 of the images they share differently"]);

    // explain judges the relabelled sample against no published number, as verify does.
    let relabelling = scratch.path().join("relabelling.tsv");
    std::fs::write(&relabelling, &text).unwrap();
    let onnx = shared_model(&shared, V1);
    let explain = common::run(
        common::zoorepro(&scratch.path().join("cache"))
            .args([
                "explain",
                "--model",
                V1,
                "--onnx",
                s(&onnx),
                "--val",
                s(&sample),
            ])
            .args(["--no-sources", "--samples", "100", "--json"])
            .args(["--ground-truth", s(&relabelling)]),
    );
    assert!(
        explain
            .stderr
            .contains("disagree with the shipped ground truth on 3"),
        "{}",
        explain.stderr
    );
    assert_error(&explain, &["has no published number"]);
}

/// A tar of the renamed files under `imgs/`.
fn tar_of(files: &[(String, String, PathBuf)], tar: &Path) {
    let mut builder = tar::Builder::new(std::fs::File::create(tar).unwrap());
    for (name, _, path) in files {
        builder
            .append_path_with_name(path, format!("imgs/{name}"))
            .unwrap();
    }
    builder.finish().unwrap();
}

#[test]
fn a_tar_is_labelled_by_ground_truth_and_a_row_naming_no_member_is_refused() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let files = renamed_flat_folder(&shared, &scratch.path().join("flat"), 12);
    let tar = scratch.path().join("mine.tar");
    tar_of(&files, &tar);
    let truth = scratch.path().join("truth.csv");
    // By path inside the tar, and by basename.
    let rows: Vec<(String, String)> = files
        .iter()
        .enumerate()
        .map(|(i, (name, wnid, _))| {
            let image = if i % 2 == 0 {
                format!("imgs/{name}")
            } else {
                name.clone()
            };
            (image, wnid.clone())
        })
        .collect();
    write_csv(&truth, &rows);
    let run = v1_verify(
        scratch.path(),
        &tar,
        &shared,
        &["--ground-truth", s(&truth)],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let record = run.json();
    assert_eq!(record["images"], 12);
    assert_eq!(record["dataset"]["unlabelled"], 0);

    let mut extra = rows.clone();
    extra.push(("ghost.jpg".into(), "n01440764".into()));
    write_csv(&truth, &extra);
    let refused = v1_verify(
        scratch.path(),
        &tar,
        &shared,
        &["--ground-truth", s(&truth)],
    );
    assert_error(
        &refused,
        &[
            "truth.csv, line 14: ghost.jpg is not an image of",
            "mine.tar",
        ],
    );
}

#[test]
fn a_bad_ground_truth_file_is_one_message_naming_the_file_and_line() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = shared.join("imagenet-val");
    let truth = scratch.path().join("truth.csv");
    let missing = v1_verify(
        scratch.path(),
        &val,
        &shared,
        &["--ground-truth", s(&truth)],
    );
    assert_error(&missing, &["cannot read the ground-truth file", s(&truth)]);
    for (text, needles) in [
        (
            "file,label\nILSVRC2012_val_00000001.JPEG,n99999999\n",
            vec!["line 2", "n99999999 is not one of the 1000"],
        ),
        (
            "ILSVRC2012_val_00000001.JPEG,1000\n",
            vec!["line 1", "class index 1000 is out of range"],
        ),
        (
            "ILSVRC2012_val_00000001.JPEG,65\nILSVRC2012_val_00000001.JPEG,65\n",
            vec!["line 2", "listed twice"],
        ),
        (
            "a/ILSVRC2012_val_00000001.JPEG,65\nILSVRC2012_val_00000001.JPEG,65\n",
            vec!["line 2", "both name an image"],
        ),
        (
            "ILSVRC2012_val_00000001.JPEG,65\nnot_there.jpg,3\n",
            vec!["line 2", "not_there.jpg is not an image of"],
        ),
        (
            "sub/ILSVRC2012_val_00000001.JPEG,65\n",
            vec!["line 1", "is not an image of"],
        ),
        // A first row naming an image is data, never a header: its bad class is an error.
        (
            "ILSVRC2012_val_00000001.JPEG,notaclass\nILSVRC2012_val_00000002.JPEG,970\n",
            vec![
                "line 1",
                "\"notaclass\" is neither a class index",
                "read as a header only when its first field is not an image file name",
            ],
        ),
    ] {
        std::fs::write(&truth, text).unwrap();
        let run = v1_verify(
            scratch.path(),
            &val,
            &shared,
            &["--ground-truth", s(&truth)],
        );
        let mut all = vec![s(&truth)];
        all.extend(needles);
        assert_error(&run, &all);
    }
    // explain and determinism read it the same way, before any model runs.
    std::fs::write(&truth, "ILSVRC2012_val_00000001.JPEG,1000\n").unwrap();
    let onnx = shared_model(&shared, V1);
    for command in ["explain", "determinism"] {
        let run = common::run(
            common::zoorepro(&scratch.path().join("cache"))
                .args([command, "--model", V1, "--onnx", s(&onnx), "--val", s(&val)])
                .args(["--ground-truth", s(&truth)]),
        );
        assert_error(&run, &["truth.csv, line 1", "out of range"]);
    }
}

#[test]
fn explain_scores_a_folder_labelled_by_ground_truth() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("mine");
    let files = renamed_flat_folder(&shared, &val, 30);
    let truth = scratch.path().join("truth.csv");
    let rows: Vec<(String, String)> = files
        .iter()
        .map(|(name, wnid, _)| (name.clone(), wnid.clone()))
        .collect();
    write_csv(&truth, &rows);
    let onnx = shared_model(&shared, V1);
    // No published number applies to these files: explain matches the run verify stored.
    let verified = v1_verify(
        scratch.path(),
        &val,
        &shared,
        &["--ground-truth", s(&truth)],
    );
    assert_eq!(verified.status, 0, "{}", verified.stderr);
    let run = common::run(
        common::zoorepro(&scratch.path().join("cache"))
            .args([
                "explain",
                "--model",
                V1,
                "--onnx",
                s(&onnx),
                "--val",
                s(&val),
            ])
            .args(["--samples", "30", "--json", "--ground-truth", s(&truth)])
            .args(["--against", V1]),
    );
    assert!(run.status <= 1, "{}", run.stderr);
    let report: Value = run.json();
    // The manifest's own recipe scores the 30 images as the oracle does under their labels.
    let right = common::oracle_images(&shared, V1)
        .iter()
        .take(30)
        .filter(|image| image["top5"][0] == image["gt"])
        .count();
    let own = report["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == report["manifest_recipe"])
        .expect("the manifest's recipe is a candidate");
    assert_eq!(own["labelled"], 30, "{own}");
    assert_eq!(own["agreement_top1"], 100.0, "{own}");
    let top1 = own["top1"].as_f64().unwrap();
    assert!((top1 - 100.0 * right as f64 / 30.0).abs() < 1e-9, "{own}");
}

#[test]
fn determinism_takes_a_ground_truth_file_and_refuses_a_bad_one_naming_it() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("mine");
    let files = renamed_flat_folder(&shared, &val, 8);
    let rows: Vec<(String, String)> = files
        .iter()
        .map(|(name, wnid, _)| (name.clone(), wnid.clone()))
        .collect();
    let truth = scratch.path().join("truth.csv");
    write_csv(&truth, &rows);
    let bad = scratch.path().join("bad.csv");
    std::fs::write(&bad, "image,class\nphoto_001.jpg,1000\n").unwrap();
    let onnx = shared_model(&shared, V1);
    let determinism = |labels: &Path| {
        common::run(
            common::zoorepro(&scratch.path().join("cache"))
                .args(["determinism", "--model", V1, "--onnx", s(&onnx)])
                .args(["--val", s(&val), "--samples", "8", "--batch-sizes", "1,4"])
                .args(["--json", "--ground-truth", s(labels)]),
        )
    };
    let labelled = determinism(&truth);
    assert!(labelled.status <= 1, "{}", labelled.stderr);
    assert!(
        labelled.json()["verdict"].is_string(),
        "{}",
        labelled.stdout
    );
    assert_error(&determinism(&bad), &[s(&bad), "line 2"]);
}

/// The first 12 sample images in a nested folder of the user's own shape: six under
/// `day1/cam/`, six under `day2/`, both halves named `photo_001.jpg` ... `photo_006.jpg` (one
/// basename, two different files each), with each one's wnid and its oracle file
/// (`wnid/name`, as `oracle/results.json` names it).
fn nested_folder(shared: &Path, dir: &Path) -> Vec<(String, String, String)> {
    sample_files(shared)
        .into_iter()
        .take(12)
        .enumerate()
        .map(|(i, (wnid, path))| {
            let folder = if i < 6 { "day1/cam" } else { "day2" };
            let file = format!("{folder}/photo_{:03}.jpg", i % 6 + 1);
            std::fs::create_dir_all(dir.join(folder)).unwrap();
            std::fs::copy(&path, dir.join(&file)).unwrap();
            let oracle = format!("{wnid}/{}", path.file_name().unwrap().to_str().unwrap());
            (file, wnid, oracle)
        })
        .collect()
}

#[test]
fn ground_truth_labels_a_nested_folder_and_names_images_of_one_basename_by_their_paths() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("mine");
    let files = nested_folder(&shared, &val);
    let truth = scratch.path().join("truth.csv");
    let rows: Vec<(String, String)> = files
        .iter()
        .map(|(file, wnid, _)| (file.clone(), wnid.clone()))
        .collect();
    write_csv(&truth, &rows);
    let oracle: std::collections::HashMap<String, Value> = common::oracle_images(&shared, V1)
        .into_iter()
        .map(|image| (image["file"].as_str().unwrap().to_string(), image))
        .collect();
    let right = files
        .iter()
        .filter(|(_, _, file)| oracle[file]["top5"][0] == oracle[file]["gt"])
        .count();
    // Twice: the second run takes every prediction from the store, each from its own file's row.
    for reused in [0, 12] {
        let predictions = scratch.path().join(format!("predictions-{reused}.jsonl"));
        let run = v1_verify(
            scratch.path(),
            &val,
            &shared,
            &[
                "--ground-truth",
                s(&truth),
                "--predictions",
                s(&predictions),
            ],
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        let record = run.json();
        assert_eq!(record["dataset"]["layout"], "tree");
        assert_eq!(record["images"], 12);
        assert_eq!(record["dataset"]["unlabelled"], 0);
        assert_eq!(record["top1_correct"], right, "{record}");
        assert_eq!(record["store"]["reused"], reused);
        let lines = std::fs::read_to_string(&predictions).unwrap();
        let by_file: std::collections::HashMap<String, Value> = lines
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .map(|p| (p["file"].as_str().unwrap().to_string(), p))
            .collect();
        assert_eq!(by_file.len(), 12);
        for (file, _, oracle_file) in &files {
            assert_eq!(
                by_file[file]["top5"], oracle[oracle_file]["top5"],
                "{file} (reused {reused})"
            );
        }
    }
    // A row giving only a basename that two images share is refused, naming both.
    let mut ambiguous = rows.clone();
    ambiguous[0].0 = "photo_001.jpg".into();
    ambiguous.remove(6);
    write_csv(&truth, &ambiguous);
    let refused = v1_verify(
        scratch.path(),
        &val,
        &shared,
        &["--ground-truth", s(&truth)],
    );
    assert_error(
        &refused,
        &[
            "truth.csv, line 2: photo_001.jpg names two images",
            "day1/cam/photo_001.jpg and day2/photo_001.jpg",
            "by its path relative to --val",
        ],
    );
    // Without a ground-truth file the folder is no layout zoorepro knows, and it says what to do.
    let unknown = v1_verify(scratch.path(), &val, &shared, &[]);
    assert_error(
        &unknown,
        &[s(&val), "no images at its top level", "--ground-truth FILE"],
    );
}
