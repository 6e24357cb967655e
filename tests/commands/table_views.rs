//! `table`'s views of runs that are not plain: every label set shows the marks the run carries,
//! a run labelled by a `--ground-truth` file is named by that file (never "original") in every
//! format, and one whose labels disagree with ILSVRC2012's shows no delta to any reference (nor does
//! verify's results file).

use std::path::Path;

use crate::common;
use crate::common::{sample_files, shared, shared_model, zoorepro};
use serde_json::Value;

const V1: &str = "coral/mobilenet_v1_0.5_160_quant";
const V2: &str = "coral/mobilenet_v2_1.0_224_quant";
const BROKEN: &str = "coral/broken-mobilenet_v2_1.0_224_quant";

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 test paths")
}

fn table(cache: &Path, args: &[&str]) -> common::Run {
    let run = common::run(zoorepro(cache).arg("table").args(args));
    assert_eq!(run.status, 0, "{}", run.stderr);
    run
}

/// The JSON rows of `table --labels LABELS` whose model id is `model`.
fn rows_of(cache: &Path, labels: &str, model: &str) -> Vec<Value> {
    let rows = table(cache, &["--labels", labels, "--format", "json"]).json();
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["model_id"] == model)
        .cloned()
        .collect()
}

#[test]
fn every_label_set_shows_the_marks_of_the_run() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let sample = shared.join("imagenet-sample");
    // Someone's own export judged like V2: unpinned, so marked unverified-model.
    let broken = shared_model(&shared, BROKEN);
    let like = common::verify(
        scratch.path(),
        &["--like", V2, "--onnx", s(&broken), "--val", s(&sample)],
    );
    assert_eq!(like.status, 1, "the broken copy drifts: {}", like.stderr);
    let cache = scratch.path().join("cache");
    let like_id = format!("like/{V2}");
    let original = rows_of(&cache, "original", &like_id);
    assert_eq!(
        original[0]["marks"],
        serde_json::json!(["unverified-model"])
    );
    for labels in ["real", "cleaned", "corrected", "all"] {
        let rows = rows_of(&cache, labels, &like_id);
        assert_eq!(rows[0]["marks"], original[0]["marks"], "--labels {labels}");
        let text = table(&cache, &["--labels", labels, "--format", "markdown"]).stdout;
        let line = text.lines().find(|l| l.contains(&like_id)).unwrap();
        assert!(
            line.contains("[unverified-model]"),
            "--labels {labels}: {line}"
        );
    }
}

/// The sample's ground truth as a TSV (`wnid/file<TAB>class`), the first `relabel` rows given
/// another class.
fn ground_truth(shared: &Path, path: &Path, relabel: usize) {
    let wnids = common::wnids(shared);
    let text: String = sample_files(shared)
        .iter()
        .enumerate()
        .map(|(i, (wnid, file))| {
            let index = wnids.iter().position(|w| w == wnid).unwrap();
            let class = if i < relabel {
                (index + 1) % 1000
            } else {
                index
            };
            let name = file.file_name().unwrap().to_str().unwrap();
            format!("{wnid}/{name}\t{class}\n")
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn ground_truth_labels_are_named_as_the_users_and_relabelled_runs_have_no_delta() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let sample = shared.join("imagenet-sample");
    let onnx = shared_model(&shared, V1);
    let verify = |extra: &[&str]| {
        let mut args = vec!["--model", V1, "--onnx", s(&onnx), "--val", s(&sample)];
        args.extend_from_slice(extra);
        let run = common::verify(scratch.path(), &args);
        assert_eq!(run.status, 0, "{}", run.stderr);
    };
    let agreeing = scratch.path().join("agreeing.tsv");
    ground_truth(&shared, &agreeing, 0);
    let relabelling = scratch.path().join("relabelling.tsv");
    ground_truth(&shared, &relabelling, 3);
    verify(&[]);
    verify(&["--ground-truth", s(&agreeing)]);
    let results = scratch.path().join("relabelled.json");
    verify(&[
        "--ground-truth",
        s(&relabelling),
        "--results-file",
        s(&results),
    ]);
    // verify's outputs agree: no reference decides a relabelled run, so none has a delta.
    let row: Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert!(
        row[0]["reference_top1"].is_null() && row[0]["delta_top1"].is_null(),
        "{row}"
    );
    let cache = scratch.path().join("cache");

    // Three runs of one model: none hides another, and each file's labels are named as such.
    let rows = rows_of(&cache, "original", V1);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let by_file = |file: &Path| {
        rows.iter()
            .find(|r| r["ground_truth"]["path"] == s(file))
            .unwrap_or_else(|| panic!("no row labelled by {}: {rows:?}", file.display()))
    };
    let folders = rows.iter().find(|r| r["ground_truth"].is_null()).unwrap();
    assert_eq!(folders["labels"], "original");
    assert_eq!(folders["references"][0]["source"], "oracle");
    let agreed = by_file(&agreeing);
    assert_eq!(agreed["labels"], "ground-truth");
    let relabelled = by_file(&relabelling);
    assert_eq!(relabelled["labels"], "ground-truth");
    assert_eq!(relabelled["verdict"], "no-reference");
    assert_eq!(relabelled["marks"], serde_json::json!(["relabelled"]));
    assert_eq!(
        relabelled["references"],
        serde_json::json!([]),
        "no delta to a number measured on other labels"
    );
    let sha256 = zoorepro::util::hex::sha256_hex(&std::fs::read(&relabelling).unwrap());
    assert_eq!(relabelled["ground_truth"]["sha256"], sha256.as_str());

    // Markdown: one section per source of labels, the user's named by their file, no delta
    // beside the relabelled run.
    let markdown = table(&cache, &["--format", "markdown"]).stdout;
    let sections: Vec<&str> = markdown.split("## ").skip(1).collect();
    assert_eq!(sections.len(), 3, "{markdown}");
    let section = |file: &Path| {
        sections
            .iter()
            .find(|t| t.contains(&format!("labelled by --ground-truth {}", s(file))))
            .unwrap_or_else(|| panic!("no section of {}: {markdown}", file.display()))
    };
    let relabelled = section(&relabelling);
    assert!(
        relabelled.contains(&format!("top-1 (ground truth {})", s(&relabelling)))
            && !relabelled.contains("original")
            && !relabelled.contains('Δ'),
        "{relabelled}"
    );
    assert!(section(&agreeing).contains("Δ oracle"), "{markdown}");
    let all = table(&cache, &["--labels", "all", "--format", "markdown"]).stdout;
    assert!(
        all.contains("ground truth top-1") && all.contains("original top-1"),
        "{all}"
    );
    let by_labels = &rows_of(&cache, "all", V1)
        .into_iter()
        .find(|r| r["ground_truth"]["path"] == s(&relabelling))
        .unwrap()["by_labels"];
    assert!(
        by_labels["ground-truth"]["top1"].is_number() && by_labels["original"].is_null(),
        "{by_labels}"
    );

    // CSV and HTML name the file too.
    let csv = table(&cache, &["--format", "csv"]).stdout;
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let line = csv.lines().find(|l| l.contains(s(&relabelling))).unwrap();
    let fields: Vec<&str> = line.split(',').collect();
    assert_eq!(fields[column("labels")], "ground-truth", "{line}");
    assert_eq!(fields[column("ground_truth")], s(&relabelling), "{line}");
    assert_eq!(fields[column("oracle_delta_top1")], "", "{line}");
    let page = table(&cache, &["--format", "html"]).stdout;
    assert!(
        page.contains(&format!("top-1, ground truth {}", s(&relabelling))),
        "{page}"
    );
}
