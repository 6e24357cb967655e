//! `table`'s views of runs that are not plain: every label set shows the marks the run carries.

use std::path::Path;

use crate::common;
use crate::common::{shared, shared_model, zoorepro};
use serde_json::Value;

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
