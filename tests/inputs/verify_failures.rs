//! A model that fails inside a `verify` pass fails alone: its error names it, the other models
//! finish with their records, and the results file has a row saying it failed. `add-model`
//! refuses the output batch dimensions it can tell are wrong, and `verify` refuses output paths
//! that name a folder before any image is read. Tiny generated models on the bundled demo
//! images: these tests need only the ONNX Runtime library.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::onnx::{Batch, classifier, manifest};
use crate::common::{assert_error, run};

/// A home holding one tiny model per (id, input batch, output rows), each with its manifest.
fn home_with(dir: &Path, models: &[(&str, Batch, Option<i64>)]) -> PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("manifests")).unwrap();
    std::fs::create_dir_all(home.join("models")).unwrap();
    for &(id, input, rows) in models {
        let file = format!("{}.onnx", id.replace('/', "__"));
        std::fs::write(home.join("models").join(&file), classifier(input, rows)).unwrap();
        std::fs::write(
            home.join("manifests")
                .join(format!("{}.json", id.replace('/', "__"))),
            manifest(id, &file, input).to_string(),
        )
        .unwrap();
    }
    home
}

/// `verify` of `models` on the demo images, in batches of 8, with `extra` arguments.
fn verify(home: &Path, scratch: &Path, models: &str, extra: &[&str]) -> common::Run {
    let mut command = common::zoorepro(&scratch.join("cache"));
    command
        .env("ZOOREPRO_HOME", home)
        .args(["verify", "--model", models, "--batch", "8", "--val"])
        .arg(common::repo().join("demo"))
        .arg("--report-dir")
        .arg(scratch.join("reports"))
        .args(extra);
    run(&mut command)
}

fn runs_in_store(home: &Path, scratch: &Path) -> serde_json::Value {
    let listed = run(common::zoorepro(&scratch.join("cache"))
        .env("ZOOREPRO_HOME", home)
        .args(["runs", "--json"]));
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    listed.json()
}

const GOOD: (&str, Batch, Option<i64>) = ("test/good", Batch::Dynamic, None);
/// Outputs of 64, 31 and 1 rows whatever the batch: each fails at the first batch of 8.
const WRONG_BATCH: [(&str, Batch, Option<i64>); 3] = [
    ("test/rows64", Batch::Dynamic, Some(64)),
    ("test/rows31", Batch::Dynamic, Some(31)),
    ("test/rows1", Batch::Dynamic, Some(1)),
];

#[test]
fn a_model_with_a_wrong_output_batch_fails_alone_and_the_pass_goes_on() {
    let scratch = tempfile::tempdir().unwrap();
    let models = vec![WRONG_BATCH[0], GOOD, WRONG_BATCH[1], WRONG_BATCH[2]];
    let home = home_with(scratch.path(), &models);
    let results = scratch.path().join("r.csv");
    let pass = verify(
        &home,
        scratch.path(),
        "test/rows64,test/good,test/rows31,test/rows1",
        &["--json", "--results-file", results.to_str().unwrap()],
    );
    assert_eq!(
        pass.status, 2,
        "the worst status is the error\n{}",
        pass.stderr
    );

    // Each failing model's error names it and what is wrong.
    for (id, _, rows) in WRONG_BATCH {
        let line = pass
            .stderr
            .lines()
            .find(|l| l.starts_with(&format!("zoorepro: error: {id}: ")))
            .unwrap_or_else(|| panic!("no error line for {id}:\n{}", pass.stderr));
        assert!(
            line.contains(&format!("[{}, 1000]", rows.unwrap()))
                && line.contains("one row per image"),
            "{line}"
        );
    }
    // The good model has its record, in its place among the failed ones.
    let entries = pass.json();
    let entries = entries.as_array().expect("one entry per model");
    assert_eq!(entries.len(), 4, "{}", pass.stdout);
    for (entry, (id, _, _)) in entries.iter().zip(&models) {
        assert_eq!(entry["model_id"], *id);
    }
    assert_eq!(entries[1]["images"], 30);
    assert_eq!(entries[1]["provenance"]["inferred"], 30);
    assert!(entries[1]["error"].is_null());
    assert!(
        entries[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("test/rows64: "),
        "{}",
        entries[0]
    );
    assert!(
        scratch
            .path()
            .join("reports/test/good")
            .read_dir()
            .unwrap()
            .count()
            > 0,
        "the good model's report is written"
    );

    // The results file: a row per model, the failed ones with verdict "error" and the message.
    let csv = std::fs::read_to_string(&results).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(
        lines[0].ends_with(",verdict,top1_low,top1_high,marks,error"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("test/rows64,224,,,,,"), "{}", lines[1]);
    assert!(
        lines[1].contains(",error,,,,\"test/rows64: ") && lines[1].contains("[64, 1000]"),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with("test/good,224,"), "{}", lines[2]);
    assert!(lines[2].contains(",no-reference,"), "{}", lines[2]);
    assert!(
        lines[2].ends_with(','),
        "no error for the good model: {}",
        lines[2]
    );

    // The good model's run is complete; the failed ones are left incomplete.
    let runs = runs_in_store(&home, scratch.path());
    let complete: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| run["complete"] == true)
        .map(|run| run["model_id"].as_str().unwrap())
        .collect();
    assert_eq!(complete, ["test/good"], "{runs}");
}

#[test]
fn a_single_failing_model_is_one_error_naming_it() {
    let scratch = tempfile::tempdir().unwrap();
    let home = home_with(scratch.path(), &[WRONG_BATCH[0]]);
    let alone = verify(&home, scratch.path(), "test/rows64", &[]);
    assert_error(&alone, &["test/rows64", "[64, 1000]", "one row per image"]);
}

#[test]
fn add_model_refuses_an_output_batch_that_cannot_match_the_input() {
    let scratch = tempfile::tempdir().unwrap();
    let home = home_with(scratch.path(), &[]);
    let add = |name: &str, input: Batch, rows: Option<i64>| {
        let file = scratch.path().join(format!("{name}.onnx"));
        std::fs::write(&file, classifier(input, rows)).unwrap();
        let mut command = common::zoorepro(&scratch.path().join("cache"));
        command.env("ZOOREPRO_HOME", &home).args([
            "add-model",
            file.to_str().unwrap(),
            "--id",
            &format!("mine/{name}"),
            "--recipe",
            "torchvision",
        ]);
        run(&mut command)
    };
    let dynamic = add("dynamic64", Batch::Dynamic, Some(64));
    assert_error(
        &dynamic,
        &[
            "dynamic64.onnx",
            "[64,1000]",
            "fixed batch of 64",
            "dynamic output batch",
        ],
    );
    let fixed = add("fixed8to4", Batch::Fixed(8), Some(4));
    assert_error(
        &fixed,
        &[
            "fixed8to4.onnx",
            "4 rows",
            "8 images",
            "equal to the input's",
        ],
    );
    assert_eq!(
        home.join("manifests").read_dir().unwrap().count(),
        0,
        "nothing registered"
    );
    // A fixed batch the output follows, and a dynamic one, are fine.
    for (name, input) in [("fixed8", Batch::Fixed(8)), ("dynamic", Batch::Dynamic)] {
        let added = add(name, input, None);
        assert_eq!(added.status, 0, "{name}: {}", added.stderr);
    }
}

#[test]
fn output_paths_naming_a_folder_are_refused_before_any_image_is_read() {
    let scratch = tempfile::tempdir().unwrap();
    let home = home_with(scratch.path(), &[GOOD]);
    // Folders whose names look like the files asked for.
    let (results, predictions) = (scratch.path().join("r.csv"), scratch.path().join("p.jsonl"));
    std::fs::create_dir(&results).unwrap();
    std::fs::create_dir(&predictions).unwrap();
    for (flag, path, what) in [
        ("--results-file", &results, "the results file"),
        ("--predictions", &predictions, "predictions"),
    ] {
        let refused = verify(
            &home,
            scratch.path(),
            "test/good",
            &[flag, path.to_str().unwrap()],
        );
        assert_error(&refused, &[what, path.to_str().unwrap(), "folder"]);
        assert!(
            !refused.stderr.contains("test/good: top-1"),
            "{}",
            refused.stderr
        );
    }
    // Nothing was evaluated: no run in the store, no report.
    assert_eq!(runs_in_store(&home, scratch.path()), serde_json::json!([]));
    let reports = scratch.path().join("reports/test/good");
    assert!(
        !reports.exists() || reports.read_dir().unwrap().count() == 0,
        "no report written"
    );
}
