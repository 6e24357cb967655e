//! The store never holds or reports a wrong result, whatever users and files do (issue 19): a run
//! deleted under a live writer, ids reused, files repaired or changed between runs, another folder
//! run into the same key, names that forge another image set, shards without images, an import
//! that fails half-way.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{assert_error, run, sample_files, shared, shared_model, zoorepro};
use serde_json::Value;

const MODEL: &str = "coral/mobilenet_v1_0.5_160_quant";

/// A copy (real files, not links) of the sample as an ImageFolder tree.
fn copied_sample(shared: &Path, root: &Path) -> Vec<PathBuf> {
    sample_files(shared)
        .into_iter()
        .map(|(class, source)| {
            let folder = root.join(class);
            std::fs::create_dir_all(&folder).unwrap();
            let target = folder.join(source.file_name().unwrap());
            std::fs::copy(&source, &target).unwrap();
            target
        })
        .collect()
}

fn verify(cache: &Path, shared: &Path, val: &Path, extra: &[&str]) -> common::Run {
    let mut command = zoorepro(cache);
    command
        .args(["verify", "--model", MODEL, "--onnx"])
        .arg(shared_model(shared, MODEL))
        .arg("--val")
        .arg(val)
        .arg("--report-dir")
        .arg(cache.join("reports"))
        .args(extra);
    run(&mut command)
}

fn runs(cache: &Path) -> Vec<Value> {
    let listed = run(zoorepro(cache).args(["runs", "--json"]));
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    listed.json().as_array().unwrap().clone()
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `count` symlinks to the sample images, ImageFolder layout, unique validation-style names.
fn symlinked_val(shared: &Path, root: &Path, count: usize) {
    let files = sample_files(shared);
    for i in 0..count {
        let (class, target) = &files[i % files.len()];
        let folder = root.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        std::os::unix::fs::symlink(
            target,
            folder.join(format!("ILSVRC2012_val_{:08}.JPEG", i + 1)),
        )
        .unwrap();
    }
}

/// A `verify` one image at a time over `val`, kept busy long enough to act on its run.
fn busy_verify(cache: &Path, shared: &Path, val: &Path) -> Child {
    zoorepro(cache)
        .args(["verify", "--model", MODEL, "--onnx"])
        .arg(shared_model(shared, MODEL))
        .arg("--val")
        .arg(val)
        .arg("--report-dir")
        .arg(cache.join("reports"))
        .args(["--batch", "1", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the store lists a partial run with some rows; returns its id.
fn wait_for_rows(cache: &Path) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if cache.join("zoorepro.sqlite3").is_file()
            && let Some(run) = runs(cache)
                .into_iter()
                .find(|r| r["images"].as_u64().unwrap_or(0) > 0)
        {
            return run["id"].as_i64().unwrap();
        }
        assert!(Instant::now() < deadline, "the busy verify never wrote");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn finish(child: Child) -> (i32, String) {
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_run_being_written_cannot_be_deleted_and_ids_are_never_reused() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let val = scratch.path().join("val");
    symlinked_val(&shared, &val, 3000);
    let sample = shared.join("imagenet-sample");

    // The scenario: `runs --delete N` while a verify of run N is writing, then a new run.
    let busy = busy_verify(&cache, &shared, &val);
    let id = wait_for_rows(&cache);
    let refused = run(zoorepro(&cache)
        .args(["runs", "--delete"])
        .arg(id.to_string()));
    assert_error(
        &refused,
        &["being written by process", &busy.id().to_string()],
    );
    let other = verify(&cache, &shared, &sample, &["--limit", "3", "--batch", "3"]);
    assert_eq!(other.status, 0, "{}", other.stderr);
    let listed = runs(&cache);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed.iter().any(|r| r["id"] == id),
        "run {id} is still there"
    );

    // A delete behind zoorepro's back (or of a lease taken for dead): the writer stops with a
    // clear error at its next batch, and a run created meanwhile gets a new id and none of its rows.
    {
        let db = rusqlite::Connection::open(cache.join("zoorepro.sqlite3")).unwrap();
        db.busy_timeout(Duration::from_secs(60)).unwrap();
        db.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        db.execute("DELETE FROM writers WHERE run_id = ?1", [id])
            .unwrap();
        db.execute("DELETE FROM runs WHERE id = ?1", [id]).unwrap();
    }
    let newer = verify(&cache, &shared, &sample, &["--limit", "4", "--batch", "4"]);
    assert_eq!(newer.status, 0, "{}", newer.stderr);
    let (status, stderr) = finish(busy);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("run {id} was deleted"))
            && stderr.contains("run the command again"),
        "{stderr}"
    );
    let listed = runs(&cache);
    assert_eq!(listed.len(), 2, "{listed:?}");
    for run in &listed {
        assert!(
            run["id"].as_i64().unwrap() > id || run["images"] == 3,
            "{run}"
        );
        assert!(
            run["images"] == 3 || run["images"] == 4,
            "no stray rows: {run}"
        );
    }

    // A writer killed with SIGKILL leaves a lease that is no longer live: the delete goes through.
    let mut killed = busy_verify(&cache, &shared, &val);
    let deadline = Instant::now() + Duration::from_secs(120);
    let id = loop {
        if let Some(run) = runs(&cache)
            .into_iter()
            .find(|r| r["batch"] == 1 && r["images"].as_u64().unwrap_or(0) > 0)
        {
            break run["id"].as_i64().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the second busy verify never wrote"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    killed.kill().unwrap();
    killed.wait().unwrap();
    let deleted = run(zoorepro(&cache)
        .args(["runs", "--delete"])
        .arg(id.to_string()));
    assert_eq!(deleted.status, 0, "{}", deleted.stderr);
    let after = verify(&cache, &shared, &sample, &["--limit", "2", "--batch", "2"]);
    assert_eq!(after.status, 0, "{}", after.stderr);
    let max = runs(&cache)
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(max > id, "the new run does not take a deleted id");
}

#[test]
fn repaired_changed_and_failed_images_are_evaluated_again() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let val = scratch.path().join("val");
    let files = copied_sample(&shared, &val);
    let (damaged, other) = (&files[10], &files[60]);
    let original = std::fs::read(damaged).unwrap();
    std::fs::write(damaged, &original[..200]).unwrap();

    let first = verify(&cache, &shared, &val, &["--json"]);
    assert_eq!(first.json()["failed"], 1, "{}", first.stderr);
    // A failed image is tried again on every run: --strict sees it and refuses.
    let strict = verify(&cache, &shared, &val, &["--strict"]);
    assert_eq!(strict.status, 2, "{}", strict.stderr);

    // Repaired: counted as evaluated, and the numbers are the sample's.
    std::fs::write(damaged, &original).unwrap();
    let repaired = verify(&cache, &shared, &val, &["--json", "--strict"]);
    assert_eq!(repaired.status, 0, "{}", repaired.stderr);
    let record = repaired.json();
    assert_eq!(record["failed"], 0);
    assert_eq!(
        (
            record["top1_correct"].as_u64(),
            record["top5_correct"].as_u64()
        ),
        (Some(58), Some(77))
    );
    assert_eq!(record["store"]["reused"], 99, "only the repaired image ran");

    // The same name with other bytes (another image's) is evaluated again, not answered from the store.
    std::fs::copy(other, damaged).unwrap();
    let predictions = scratch.path().join("predictions.jsonl");
    let changed = verify(
        &cache,
        &shared,
        &val,
        &["--json", "--predictions", predictions.to_str().unwrap()],
    );
    assert_eq!(changed.json()["store"]["reused"], 99, "{}", changed.stderr);
    let rows = read_jsonl(&predictions);
    let find = |path: &Path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        rows.iter()
            .find(|r| r["file"].as_str().unwrap().ends_with(name))
            .unwrap()
            .clone()
    };
    assert_eq!(find(damaged)["top5"], find(other)["top5"]);
    assert_eq!(find(damaged)["scores"], find(other)["scores"]);
}

#[test]
fn another_folder_run_into_the_same_key_is_a_run_of_its_own() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let sample = shared.join("imagenet-sample");
    let first = verify(&cache, &shared, &sample, &["--json"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    let first_id = first.json()["store"]["run_id"].clone();

    // One other image, under the same key.
    let (class, source) = &sample_files(&shared)[0];
    let other = scratch.path().join("other");
    std::fs::create_dir_all(other.join(class)).unwrap();
    std::fs::copy(
        source,
        other.join(class).join("ILSVRC2012_val_00049999.JPEG"),
    )
    .unwrap();
    let second = verify(&cache, &shared, &other, &["--json"]);
    assert_eq!(second.json()["images"], 1, "{}", second.stderr);
    assert_ne!(second.json()["store"]["run_id"], first_id);
    let listed = runs(&cache);
    let images: Vec<_> = listed.iter().map(|r| r["images"].clone()).collect();
    assert_eq!(images, [100, 1], "each run keeps its own image set");

    // Each set is its own group in the table: the 1-image run replaces nothing.
    let table = run(zoorepro(&cache).args(["table", "--format", "json"]));
    assert_eq!(table.status, 0, "{}", table.stderr);
    let rows: Vec<_> = table.json().as_array().unwrap().to_vec();
    let mut images: Vec<_> = rows.iter().map(|r| r["images"].as_u64()).collect();
    images.sort();
    assert_eq!(images, [Some(1), Some(100)], "{}", table.stdout);

    // The first run answers as it did, and a repeat reuses every row.
    let compare = run(zoorepro(&cache)
        .args(["compare", "--format", "json"])
        .args([first_id.to_string(), first_id.to_string()]));
    assert_eq!(compare.status, 0, "{}", compare.stderr);
    assert_eq!(compare.json()["images"], 100, "{}", compare.stdout);
    let again = verify(&cache, &shared, &sample, &["--json"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    let record = again.json();
    assert_eq!(
        (record["images"].as_u64(), record["top1_correct"].as_u64()),
        (Some(100), Some(58))
    );
    assert_eq!(record["provenance"]["inferred"], 0);
    assert_eq!(record["verdict"]["status"], "reproduced");
    assert_eq!(runs(&cache).len(), 3);
}

#[test]
fn names_with_line_breaks_do_not_pass_for_the_reference_set() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let val = scratch.path().join("val");
    // The forgery: 25 files, each named by four of the 100 sample names joined by line
    // breaks, so that the names joined by line breaks are the reference set's.
    let files = sample_files(&shared);
    let mut names: Vec<(String, PathBuf)> = files
        .iter()
        .map(|(_, path)| {
            (
                path.file_name().unwrap().to_str().unwrap().to_string(),
                path.clone(),
            )
        })
        .collect();
    names.sort();
    for (i, group) in names.chunks(4).enumerate() {
        let joined: Vec<&str> = group.iter().map(|(n, _)| n.as_str()).collect();
        let folder = val.join(&files[i].0);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(&group[0].1, folder.join(joined.join("\n"))).unwrap();
    }
    let forged = verify(&cache, &shared, &val, &["--json"]);
    // Every image failed: the run scored nothing, and says so with exit 3.
    assert_eq!(forged.status, 3, "{}", forged.stderr);
    assert!(
        forged
            .stderr
            .contains("nothing was scored: all 25 labelled images failed"),
        "{}",
        forged.stderr
    );
    let record = forged.json();
    assert_eq!(record["images"], 25);
    assert_eq!(
        record["failed"], 25,
        "names with control characters count as failed"
    );
    assert!(
        forged.stderr.contains("control character"),
        "{}",
        forged.stderr
    );
    assert_eq!(record["dataset"]["image_set_name"], Value::Null);
    assert_eq!(record["verdict"]["status"], "no-reference");
    assert!(record["references"].as_array().unwrap().is_empty());
}

#[test]
fn the_same_names_with_other_contents_are_not_the_reference_set() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    let files = copied_sample(&shared, &val);

    // The real files: the sample's reference applies, found by names and contents.
    let real = verify(
        &scratch.path().join("a"),
        &shared,
        &val,
        &["--json", "--no-cache"],
    );
    assert_eq!(real.status, 0, "{}", real.stderr);
    let record = real.json();
    assert_eq!(
        record["dataset"]["image_set_name"],
        "shared-imagenet-sample-100"
    );
    assert_eq!(record["verdict"]["status"], "reproduced");
    let content = record["dataset"]["image_set_content_sha256"].clone();
    assert!(content.as_str().is_some_and(|c| c.len() == 64), "{content}");

    // Two files swap contents: the same 100 names, other images. The reference no longer applies,
    // in the record and in `table` (from the stored summary).
    let (a, b) = (
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(&files[1]).unwrap(),
    );
    std::fs::write(&files[0], &b).unwrap();
    std::fs::write(&files[1], &a).unwrap();
    let cache = scratch.path().join("b");
    let swapped = verify(&cache, &shared, &val, &["--json"]);
    assert_eq!(swapped.status, 0, "{}", swapped.stderr);
    let record = swapped.json();
    assert_eq!(record["images"], 100);
    assert_eq!(
        record["dataset"]["image_set_sha256"],
        real.json()["dataset"]["image_set_sha256"],
        "same names"
    );
    assert_ne!(record["dataset"]["image_set_content_sha256"], content);
    assert_eq!(record["dataset"]["image_set_name"], Value::Null);
    assert_eq!(record["verdict"]["status"], "no-reference");
    let table = run(zoorepro(&cache).args(["table", "--format", "json"]));
    assert_eq!(table.status, 0, "{}", table.stderr);
    assert!(
        !table.stdout.contains("\"oracle\""),
        "table compares the swapped set with the sample's reference: {}",
        table.stdout
    );
}

#[test]
fn empty_shards_are_complete_runs_and_64_shards_merge() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let sample = shared.join("imagenet-sample");
    let mut empty = 0;
    for k in 0..64 {
        let shard = verify(
            &cache,
            &shared,
            &sample,
            &["--json", "--shard", &format!("{k}/64")],
        );
        assert_eq!(shard.status, 0, "shard {k}/64: {}", shard.stderr);
        empty += usize::from(shard.json()["images"] == 0);
    }
    assert!(empty > 0, "some of the 64 shards of 100 images get none");
    let listed = runs(&cache);
    assert_eq!(listed.len(), 64);
    assert!(listed.iter().all(|r| r["complete"] == true), "{listed:?}");

    let merged = run(zoorepro(&cache)
        .arg("merge")
        .arg(&cache)
        .arg("--report-dir")
        .arg(scratch.path().join("reports"))
        .arg("--json"));
    assert_eq!(merged.status, 0, "{}", merged.stderr);
    let record = merged.json();
    assert_eq!(
        (record["images"].as_u64(), record["top1_correct"].as_u64()),
        (Some(100), Some(58))
    );
    assert_eq!(record["verdict"]["status"], "reproduced");
}

#[test]
fn an_import_with_a_bad_later_file_imports_nothing() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let seed = scratch.path().join("seed");
    let source = shared.join("reference/benchmarking-keras-pytorch");
    for framework in ["keras_imagenet", "pytorch_imagenet"] {
        std::fs::create_dir_all(seed.join(framework)).unwrap();
        for file in std::fs::read_dir(source.join(framework)).unwrap() {
            let file = file.unwrap().path();
            std::os::unix::fs::symlink(&file, seed.join(framework).join(file.file_name().unwrap()))
                .unwrap();
        }
    }
    // vgg16 sorts after the good caches: a truncated probabilities file.
    let good = source.join("pytorch_imagenet/alexnet_pytorch_imagenet_top5preds.npy");
    std::fs::copy(
        &good,
        seed.join("pytorch_imagenet/vgg16_pytorch_imagenet_top5preds.npy"),
    )
    .unwrap();
    let probs =
        std::fs::read(source.join("pytorch_imagenet/alexnet_pytorch_imagenet_top5probs.npy"))
            .unwrap();
    std::fs::write(
        seed.join("pytorch_imagenet/vgg16_pytorch_imagenet_top5probs.npy"),
        &probs[..probs.len() / 2],
    )
    .unwrap();
    let import = run(zoorepro(&cache).arg("import-seed").arg(&seed));
    assert_error(&import, &["vgg16_pytorch_imagenet_top5probs.npy"]);
    assert!(runs(&cache).is_empty(), "no earlier model is left imported");
}
