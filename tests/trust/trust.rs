//! The verdict rule against a hostile or careless user (issue 34): each test reproduces one way
//! the second adversarial pass got a wrong record or report on the shared sample and models, and
//! checks that the verdict now follows what was really evaluated.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{run, sample_files, shared, shared_model, zoorepro};
use serde_json::Value;

const INTACT: &str = "coral/mobilenet_v2_1.0_224_quant";
const SMALL: &str = "coral/mobilenet_v1_0.5_160_quant";

/// Copies the sample (an ImageFolder of wnid folders) under `root`.
fn copy_sample(shared: &Path, root: &Path) {
    for (class, file) in sample_files(shared) {
        let folder = root.join(&class);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(&file, folder.join(file.file_name().unwrap())).unwrap();
    }
}

fn verify_json(cache: &Path, scratch: &Path, val: &Path, args: &[&str]) -> (i32, Value, String) {
    let mut command = zoorepro(cache);
    command
        .arg("verify")
        .arg("--val")
        .arg(val)
        .arg("--report-dir")
        .arg(scratch.join("reports"))
        .arg("--json")
        .args(args);
    let done = run(&mut command);
    let json = if done.stdout.trim().is_empty() {
        Value::Null
    } else {
        done.json()
    };
    (done.status, json, done.stderr)
}

/// A home under `dir` whose `manifests/FILE` is the shipped manifest of `model`, changed by `edit`.
fn home_with_user_manifest(
    dir: &Path,
    model: &str,
    file: &str,
    edit: impl FnOnce(&mut Value),
) -> PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("manifests")).unwrap();
    let shipped = common::repo().join(format!("manifests/{}.json", model.replace('/', "__")));
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&shipped).unwrap()).unwrap();
    edit(&mut manifest);
    std::fs::write(
        home.join("manifests").join(file),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    home
}

fn marks(record: &Value) -> Vec<String> {
    record["verdict"]["marks"]
        .as_array()
        .unwrap_or_else(|| panic!("the verdict has marks: {record}"))
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

fn table_json(cache: &Path, home: Option<&Path>) -> Vec<Value> {
    let mut command = zoorepro(cache);
    if let Some(home) = home {
        command.env("ZOOREPRO_HOME", home);
    }
    let done = run(command.args(["table", "--format", "json", "--runs", "all"]));
    assert_eq!(done.status, 0, "{}", done.stderr);
    done.json().as_array().unwrap().clone()
}

/// Class 2: moving the images a broken export gets wrong into the folders of its predicted
/// classes made it "reproduce" its intact parent's number. A file named like a validation file
/// is now scored under the shipped ground truth, and a folder that disagrees gets no verdict.
#[test]
fn moved_images_get_no_verdict_against_the_reference() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (val, cache) = (dir.path().join("val"), dir.path().join("cache"));
    copy_sample(&shared, &val);
    let broken = shared_model(&shared, "coral/broken-mobilenet_v2_1.0_224_quant");
    let predictions = dir.path().join("predictions.jsonl");
    let onnx = broken.to_str().unwrap();
    let (status, drift, _) = verify_json(
        &cache,
        dir.path(),
        &val,
        &[
            "--model",
            INTACT,
            "--onnx",
            onnx,
            "--allow-unverified",
            "--predictions",
            predictions.to_str().unwrap(),
        ],
    );
    assert_eq!(status, 1, "the broken export drifts: {drift}");
    assert_eq!(drift["top1_correct"], 53);
    let wnids = common::wnids(&shared);
    let mut moved = 0;
    for line in std::fs::read_to_string(&predictions).unwrap().lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let (label, top1) = (
            row["label"].as_u64().unwrap(),
            row["top5"][0].as_u64().unwrap(),
        );
        if label == top1 {
            continue;
        }
        let from = val.join(row["file"].as_str().unwrap());
        let folder = val.join(&wnids[top1 as usize]);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::rename(&from, folder.join(from.file_name().unwrap())).unwrap();
        moved += 1;
        if moved == 19 {
            break;
        }
    }
    assert_eq!(moved, 19);
    let (status, record, stderr) = verify_json(
        &cache,
        dir.path(),
        &val,
        &["--model", INTACT, "--onnx", onnx, "--allow-unverified"],
    );
    assert_eq!(
        record["top1_correct"], 72,
        "the moved files now score as right"
    );
    assert_eq!(
        record["verdict"]["status"], "no-reference",
        "no verdict for a relabelled folder: {stderr}"
    );
    assert_eq!(record["image_set"]["label_disagreements"], 19);
    assert_eq!(
        record["image_set"]["label_disagreement_examples"]
            .as_array()
            .unwrap()
            .len(),
        19
    );
    assert!(marks(&record).contains(&"relabelled".to_string()));
    assert!(
        record["verdict"]["summary"]
            .as_str()
            .unwrap()
            .contains("19 files named like ILSVRC2012 validation files"),
        "{}",
        record["verdict"]["summary"]
    );
    assert_eq!(status, 0, "no reference is not a failure without --strict");
    // The table says the same of the stored run.
    let rows = table_json(&cache, None);
    let newest = rows.iter().max_by_key(|r| r["run"].as_i64()).unwrap();
    assert_eq!(newest["verdict"], "no-reference", "{newest}");
    assert!(newest["marks"].to_string().contains("relabelled"));
    // A relabelled set is not the sample: it is named by its labels, and in `table`'s latest
    // runs it stands beside the sample's run instead of hiding it.
    assert!(
        record["dataset"]["image_set_name"]
            .as_str()
            .unwrap()
            .starts_with("relabelled-100-"),
        "{}",
        record["dataset"]
    );
    let done = run(zoorepro(&cache).args(["table", "--format", "json"]));
    let latest = done.json();
    let sets: Vec<&str> = latest
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["image_set"].as_str().unwrap())
        .collect();
    assert_eq!(
        sets.len(),
        2,
        "both runs are latest of their sets: {sets:?}"
    );
    assert!(sets.contains(&"shared-imagenet-sample-100"), "{sets:?}");
    assert!(
        sets.iter().any(|s| s.starts_with("relabelled-100-")),
        "{sets:?}"
    );
}

/// Class 5: a verdict on bytes matched to no pin says so, in the record and the table, and
/// `--strict` turns the mark into exit status 1.
#[test]
fn unverified_bytes_are_marked_everywhere_and_strict_fails_them() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let val = shared.join("imagenet-sample");
    let intact = shared_model(&shared, INTACT);
    let copy = intact.clone();
    let (status, verified, _) = verify_json(
        &cache,
        dir.path(),
        &val,
        &["--model", INTACT, "--onnx", intact.to_str().unwrap()],
    );
    assert_eq!(status, 0);
    assert_eq!(verified["verdict"]["status"], "reproduced");
    assert_eq!(marks(&verified), Vec::<String>::new());
    assert_eq!(verified["image_set"]["identity"], "content");
    assert_eq!(verified["image_set"]["coverage"], "complete");
    assert_eq!(verified["references"][0]["origin"]["kind"], "built-in");

    // The same file under a manifest pinned to other bytes: the pin no longer matches.
    let home = home_with_user_manifest(dir.path(), INTACT, "m.json", |manifest| {
        manifest["sha256"] = Value::String("0".repeat(64));
    });
    let mut command = zoorepro(&cache);
    command
        .env("ZOOREPRO_HOME", &home)
        .arg("verify")
        .arg("--val")
        .arg(&val)
        .args(["--model", INTACT, "--allow-unverified", "--json", "--onnx"])
        .arg(&copy)
        .arg("--report-dir")
        .arg(dir.path().join("reports"));
    let unverified = run(&mut command);
    assert_eq!(unverified.status, 0, "{}", unverified.stderr);
    let record = unverified.json();
    assert_eq!(record["verdict"]["status"], "reproduced");
    assert_eq!(
        marks(&record),
        vec!["unverified-model".to_string(), "user-reference".to_string()]
    );
    assert!(
        unverified.stderr.contains("[unverified-model")
            || unverified.stderr.contains("marked: unverified-model"),
        "{}",
        unverified.stderr
    );
    // Every format shows the mark beside the status.
    let stem = find_report(&dir.path().join("reports"), INTACT, &record);
    let markdown = std::fs::read_to_string(stem.with_extension("md")).unwrap();
    assert!(
        markdown.contains("REPRODUCED [unverified-model, user-reference]"),
        "{markdown}"
    );
    let html = std::fs::read_to_string(stem.with_extension("html")).unwrap();
    assert!(
        html.contains(">unverified-model<"),
        "the page shows the mark"
    );
    let mut csv = zoorepro(&cache);
    csv.env("ZOOREPRO_HOME", &home)
        .args(["table", "--format", "csv", "--runs", "all"]);
    let csv = run(&mut csv);
    assert!(csv.stdout.lines().next().unwrap().ends_with(",marks"));
    assert!(csv.stdout.contains("unverified-model"), "{}", csv.stdout);
    let mut markdown_table = zoorepro(&cache);
    markdown_table
        .env("ZOOREPRO_HOME", &home)
        .args(["table", "--format", "markdown", "--runs", "all"]);
    let markdown_table = run(&mut markdown_table);
    assert!(
        markdown_table
            .stdout
            .contains("reproduced [unverified-model, user-reference]"),
        "{}",
        markdown_table.stdout
    );
    // --strict: any mark exits 1.
    let mut strict = zoorepro(&cache);
    strict
        .env("ZOOREPRO_HOME", &home)
        .arg("verify")
        .arg("--val")
        .arg(&val)
        .args([
            "--model",
            INTACT,
            "--allow-unverified",
            "--strict",
            "--onnx",
        ])
        .arg(&copy)
        .arg("--report-dir")
        .arg(dir.path().join("reports"));
    assert_eq!(run(&mut strict).status, 1);
}

/// The report files of `record` (its store run's stem), without extension.
fn find_report(reports: &Path, model: &str, record: &Value) -> PathBuf {
    let key = record["store"]["key"].as_str().unwrap();
    let folder = reports.join(model);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .contains(&key[..12])
        })
        .collect();
    found.sort();
    found.pop().unwrap().with_extension("")
}

/// Class 3: a user manifest that replaces a built-in id is visible in the record, and `table`
/// judges a stored run by the reference it stored, not by a manifest written later.
#[test]
fn a_later_user_manifest_does_not_rewrite_a_stored_verdict() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let val = shared.join("imagenet-sample");
    let broken = shared_model(&shared, "coral/broken-mobilenet_v2_1.0_224_quant");
    let (status, drift, _) = verify_json(
        &cache,
        dir.path(),
        &val,
        &[
            "--model",
            INTACT,
            "--onnx",
            broken.to_str().unwrap(),
            "--allow-unverified",
        ],
    );
    assert_eq!(status, 1);
    assert_eq!(drift["verdict"]["status"], "drift");
    // Now a home whose manifest says the intact model scores what the broken one does.
    let home = home_with_user_manifest(dir.path(), INTACT, "planted.json", |manifest| {
        for reference in manifest["references"].as_array_mut().unwrap() {
            reference["top1"] = Value::from(53.0);
            reference["top5"] = Value::from(78.0);
        }
    });
    let rows = table_json(&cache, Some(&home));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["verdict"], "drift",
        "the stored verdict stands: {}",
        rows[0]
    );
    let note = rows[0]["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("today's manifests say") && note.contains("planted.json"),
        "both references are shown: {note}"
    );
    // A new run under the planted manifest says where its reference came from.
    let mut command = zoorepro(&cache);
    command
        .env("ZOOREPRO_HOME", &home)
        .arg("verify")
        .arg("--val")
        .arg(&val)
        .args([
            "--model",
            INTACT,
            "--allow-unverified",
            "--json",
            "--no-cache",
            "--onnx",
        ])
        .arg(&broken)
        .arg("--report-dir")
        .arg(dir.path().join("reports"));
    let planted = run(&mut command);
    let record = planted.json();
    assert_eq!(record["verdict"]["status"], "reproduced");
    assert!(marks(&record).contains(&"user-reference".to_string()));
    let origin = &record["references"][0]["origin"];
    assert_eq!(origin["kind"], "user");
    assert_eq!(origin["replaces_built_in"], true);
    assert!(origin["path"].as_str().unwrap().ends_with("planted.json"));
    assert_eq!(origin["sha256"].as_str().unwrap().len(), 64);
    // One sentence: the file, its digest, what it replaces (it once said "..., replacing the
    // built-in one replaces the built-in manifest").
    let warning = planted
        .stderr
        .lines()
        .find(|line| line.contains("replaces the built-in manifest"))
        .unwrap_or_else(|| panic!("a warning: {}", planted.stderr));
    assert!(
        warning.starts_with("zoorepro: warning: user manifest ")
            && warning.contains("planted.json (sha256 ")
            && !warning.contains("replacing"),
        "{warning}"
    );
}

/// Class 7: two folders with the same names and other images are two image sets in the table.
#[test]
fn same_names_other_images_are_two_sets_in_the_table() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let files: Vec<(String, PathBuf)> = sample_files(&shared).into_iter().take(30).collect();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    for (root, swap) in [(&first, false), (&second, true)] {
        for (i, (class, file)) in files.iter().enumerate() {
            let folder = root.join(class);
            std::fs::create_dir_all(&folder).unwrap();
            // The second folder holds each file's neighbour's bytes under its name.
            let source = if swap {
                &files[(i + 1) % files.len()].1
            } else {
                file
            };
            std::fs::copy(source, folder.join(file.file_name().unwrap())).unwrap();
        }
    }
    let model = shared_model(&shared, SMALL);
    for val in [&first, &second] {
        let (status, _, stderr) = verify_json(
            &cache,
            dir.path(),
            val,
            &["--model", SMALL, "--onnx", model.to_str().unwrap()],
        );
        assert_eq!(status, 0, "{stderr}");
    }
    let mut command = zoorepro(&cache);
    let rows = run(command.args(["table", "--format", "json"])).json();
    let sets: std::collections::BTreeSet<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["image_set"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sets.len(), 2, "the newer run hides no other set: {rows}");
}

/// Class 8: a shard cut short by `--limit` is not merged as a whole run, and a `--limit` run is
/// marked partial.
#[test]
fn a_limited_shard_is_not_merged_as_complete() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let val = shared.join("imagenet-sample");
    let model = shared_model(&shared, SMALL);
    let onnx = model.to_str().unwrap();
    let (_, limited, _) = verify_json(
        &cache,
        dir.path(),
        &val,
        &[
            "--model", SMALL, "--onnx", onnx, "--shard", "0/2", "--limit", "5",
        ],
    );
    assert_eq!(limited["image_set"]["coverage"], "partial");
    assert!(marks(&limited).contains(&"partial".to_string()));
    let (_, shard, _) = verify_json(
        &cache,
        dir.path(),
        &val,
        &["--model", SMALL, "--onnx", onnx, "--shard", "1/2"],
    );
    assert_eq!(shard["image_set"]["coverage"], "shard");
    let mut merge = zoorepro(&cache);
    merge
        .arg("merge")
        .arg("--report-dir")
        .arg(dir.path().join("reports"));
    let refused = run(&mut merge);
    common::assert_error(&refused, &["cut short by --limit", "--allow-partial"]);
    let mut merge = zoorepro(&cache);
    merge
        .arg("merge")
        .arg("--allow-partial")
        .arg("--json")
        .arg("--report-dir")
        .arg(dir.path().join("reports"));
    let merged = run(&mut merge);
    assert_eq!(merged.status, 0, "{}", merged.stderr);
    let record = merged.json();
    assert_eq!(record["image_set"]["coverage"], "partial");
    assert!(marks(&record).contains(&"partial".to_string()));
    let listed = run(zoorepro(&cache).args(["runs", "--json"])).json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["coverage"] == "partial"),
        "{listed}"
    );
}

/// Class 9: a set known by its folder's name and count never reads as plain "reproduced", and
/// files with the same content are counted.
#[test]
fn a_folder_named_like_imagenetv2_with_copies_is_marked_weak() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let val = dir.path().join("imagenetv2-matched-frequency-format-val");
    let classes = common::class_index_of_val_files();
    // 50 sample images, each twice under two names: 100 files, 50 of them duplicates.
    for (_, file) in sample_files(&shared).into_iter().take(50) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let folder = val.join(&classes[&name]);
        std::fs::create_dir_all(&folder).unwrap();
        for copy in ["a", "b"] {
            std::fs::copy(&file, folder.join(format!("{copy}-{}.jpeg", &name[15..23]))).unwrap();
        }
    }
    let model = shared_model(&shared, SMALL);
    let (status, record, stderr) = verify_json(
        &cache,
        dir.path(),
        &val,
        &[
            "--model",
            SMALL,
            "--onnx",
            model.to_str().unwrap(),
            "--no-cache",
        ],
    );
    let top1 = record["top1"]
        .as_f64()
        .unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(record["image_set"]["duplicate_contents"], 50);
    assert!(marks(&record).contains(&"duplicate-content".to_string()));
    // A reference on ImageNetV2 (by folder name and count) from a user's manifest.
    let home = home_with_user_manifest(dir.path(), SMALL, "v2.json", |manifest| {
        let mut reference = manifest["references"][0].clone();
        reference["image_set"] =
            serde_json::json!({"name": "imagenetv2-matched-frequency", "images": 100});
        reference["top1"] = Value::from(top1);
        reference["source"] = Value::from("v2-test");
        manifest["references"] = Value::Array(vec![reference]);
    });
    let mut command = zoorepro(&cache);
    command
        .env("ZOOREPRO_HOME", &home)
        .arg("verify")
        .arg("--val")
        .arg(&val)
        .args(["--model", SMALL, "--json", "--no-cache", "--onnx"])
        .arg(&model)
        .arg("--report-dir")
        .arg(dir.path().join("reports"));
    let judged = run(&mut command);
    let record = judged.json();
    assert_eq!(status, 0);
    assert_eq!(
        record["verdict"]["status"], "reproduced",
        "{}",
        judged.stderr
    );
    assert_eq!(record["image_set"]["identity"], "folder-name-and-count");
    let marks = marks(&record);
    for mark in ["weak-identity", "duplicate-content", "user-reference"] {
        assert!(marks.contains(&mark.to_string()), "{marks:?}");
    }
}

/// Class 8: `compare` marks a run that is a part of its image set, whatever its intervals say.
#[test]
fn compare_marks_a_part_of_an_image_set() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let val = shared.join("imagenet-sample");
    let model = shared_model(&shared, SMALL);
    let onnx = model.to_str().unwrap();
    let (_, limited, _) = verify_json(
        &cache,
        dir.path(),
        &val,
        &[
            "--model", SMALL, "--onnx", onnx, "--limit", "10", "--batch", "5",
        ],
    );
    let (_, whole, _) = verify_json(
        &cache,
        dir.path(),
        &val,
        &["--model", SMALL, "--onnx", onnx],
    );
    let (a, b) = (
        limited["store"]["run_id"].to_string(),
        whole["store"]["run_id"].to_string(),
    );
    let compared = run(zoorepro(&cache).args(["compare", &a, &b, "--format", "json"]));
    assert_eq!(compared.status, 0, "{}", compared.stderr);
    let json = compared.json();
    assert_eq!(json["a"]["coverage"], "partial");
    assert_eq!(json["a"]["marks"], serde_json::json!(["partial"]));
    assert_eq!(json["b"]["marks"], serde_json::json!([]));
    let text = run(zoorepro(&cache).args(["compare", &a, &b, "--format", "markdown"]));
    assert!(
        text.stdout.contains("[partial] (partial)"),
        "{}",
        text.stdout
    );
}

/// An image that cannot be read (a dangling link named like an image) leaves the duplicate check
/// incomplete: the record says `duplicate_contents: null` and how many images went unread, in
/// JSON, Markdown and HTML, never 0; duplicates among the images read still give the mark.
#[test]
fn an_unread_image_leaves_the_duplicate_count_unknown() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = shared_model(&shared, SMALL);
    let files: Vec<(String, PathBuf)> = sample_files(&shared).into_iter().take(10).collect();
    for copies in [0, 2] {
        let scratch = dir.path().join(format!("copies-{copies}"));
        let val = scratch.join("val");
        for (i, (class, file)) in files.iter().enumerate() {
            let folder = val.join(class);
            std::fs::create_dir_all(&folder).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            std::fs::copy(file, folder.join(&name)).unwrap();
            if i < copies {
                std::fs::copy(file, folder.join(format!("copy-{name}"))).unwrap();
            }
        }
        std::os::unix::fs::symlink(
            scratch.join("nowhere.JPEG"),
            val.join(&files[0].0).join("dangling.JPEG"),
        )
        .unwrap();
        let (_, record, stderr) = verify_json(
            &scratch.join("cache"),
            &scratch,
            &val,
            &["--model", SMALL, "--onnx", model.to_str().unwrap()],
        );
        assert_eq!(record["failed"], 1, "the dangling link: {stderr}");
        let check = &record["image_set"];
        assert!(check["duplicate_contents"].is_null(), "{check}");
        assert_eq!(check["unread_images"], 1, "{check}");
        assert_eq!(check["duplicate_contents_among_read"], copies, "{check}");
        assert_eq!(
            marks(&record).contains(&"duplicate-content".to_string()),
            copies > 0,
            "{check}"
        );
        let report = |extension: &str| {
            let found = std::fs::read_dir(scratch.join("reports").join(SMALL))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .find(|path| path.extension().is_some_and(|e| e == extension))
                .unwrap_or_else(|| panic!("no .{extension} report"));
            std::fs::read_to_string(found).unwrap()
        };
        let json: Value = serde_json::from_str(&report("json")).unwrap();
        assert!(json["image_set"]["duplicate_contents"].is_null());
        let unknown = format!(
            "duplicate contents unknown (1 image could not be read; {copies} among the others)"
        );
        for format in ["md", "html"] {
            let text = report(format);
            assert!(text.contains(&unknown), "{format}: {text}");
            assert!(!text.contains("0 duplicate contents"), "{format}: {text}");
        }
    }
}
