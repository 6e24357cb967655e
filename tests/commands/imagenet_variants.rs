//! The other sets timm reports for the torchvision weights, as their archives unpack: wnid folders
//! under `imagenet-r/`, `imagenet-a/`, `sketch/`. ImageNet-R and -A hold 200 classes and are scored
//! among those 200 only; the expected rankings come from the oracle's own top-5 (Python,
//! onnxruntime), not from zoorepro.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{assert_error, repo, shared, shared_model, verify};

const V2: &str = "coral/mobilenet_v2_1.0_224_quant";

fn subset(file: &str) -> HashSet<u64> {
    std::fs::read_to_string(repo().join("src/dataset").join(file))
        .unwrap()
        .lines()
        .map(|line| line.parse().unwrap())
        .collect()
}

/// The sample's images whose class is in `classes` (all when `None`), as wnid folders under
/// `dir/name`; returns the tree.
fn sample_tree(shared: &Path, dir: &Path, name: &str, classes: Option<&HashSet<u64>>) -> PathBuf {
    sample_tree_named(shared, dir, name, classes, |file| file.to_string())
}

fn sample_tree_named(
    shared: &Path,
    dir: &Path,
    name: &str,
    classes: Option<&HashSet<u64>>,
    rename: impl Fn(&str) -> String,
) -> PathBuf {
    let root = dir.join(name);
    let oracle = common::oracle_images(shared, V2);
    for (wnid, path) in common::sample_files(shared) {
        let file = path.file_name().unwrap().to_str().unwrap();
        let label = oracle
            .iter()
            .find(|i| i["file"].as_str().unwrap().ends_with(file))
            .unwrap()["gt"]
            .as_u64()
            .unwrap();
        if classes.is_none_or(|c| c.contains(&label)) {
            std::fs::create_dir_all(root.join(&wnid)).unwrap();
            std::os::unix::fs::symlink(&path, root.join(&wnid).join(rename(file))).unwrap();
        }
    }
    root
}

fn verify_json(scratch: &Path, val: &Path, extra: &[&str]) -> common::Run {
    let onnx = shared_model(&shared().unwrap(), V2);
    let mut args = vec!["--model", V2, "--onnx", onnx.to_str().unwrap(), "--val"];
    args.push(val.to_str().unwrap());
    args.extend_from_slice(&["--json"]);
    args.extend_from_slice(extra);
    verify(scratch, &args)
}

#[test]
fn imagenet_r_is_scored_among_its_200_classes_as_the_oracle_ranks_them() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let classes = subset("imagenet_r_classes.txt");
    let tree = sample_tree(&shared, scratch.path(), "imagenet-r", Some(&classes));
    let predictions = scratch.path().join("r.jsonl");
    let run = verify_json(
        scratch.path(),
        &tree,
        &["--predictions", predictions.to_str().unwrap()],
    );
    assert!(run.status <= 1, "{}", run.stderr);
    let record = run.json();
    assert_eq!(record["dataset"]["image_set_name"], "imagenet-r");
    assert_eq!(record["dataset"]["scored_classes"], "imagenet-r-200");
    assert_eq!(record["images"], 26);

    // Every prediction is one of the 200; where the oracle's unrestricted top-5 holds one of
    // them, the best of those is the restricted top-1.
    let oracle = common::oracle_images(&shared, V2);
    let (mut checked, mut top1) = (0, 0);
    for line in std::fs::read_to_string(&predictions).unwrap().lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let top5: Vec<u64> = row["top5"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        assert!(top5.iter().all(|c| classes.contains(c)), "{row}");
        let file = row["file"].as_str().unwrap().rsplit('/').next().unwrap();
        let reference = oracle
            .iter()
            .find(|i| i["file"].as_str().unwrap().ends_with(file))
            .unwrap();
        let unrestricted: Vec<u64> = reference["top5"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        if let Some(best) = unrestricted.iter().find(|c| classes.contains(c)) {
            assert_eq!(top5[0], *best, "{file}: {unrestricted:?}");
            checked += 1;
        }
        top1 += u64::from(top5[0] == row["label"].as_u64().unwrap());
    }
    assert!(
        checked >= 20,
        "only {checked} images could be checked against the oracle"
    );
    assert_eq!(record["top1_correct"].as_u64(), Some(top1));

    // The same images as a plain folder: all 1000 classes compete, another key, another run, and
    // never a higher top-1 (the restriction only removes wrong answers).
    let plain = sample_tree(&shared, scratch.path(), "r-classes", Some(&classes));
    let unrestricted = verify_json(scratch.path(), &plain, &[]).json();
    assert_eq!(unrestricted["dataset"].get("scored_classes"), None);
    assert!(unrestricted["top1_correct"].as_u64().unwrap() <= top1);
    assert_ne!(unrestricted["store"]["run_id"], record["store"]["run_id"]);
}

#[test]
fn sketch_is_named_with_all_classes_and_a_stray_class_in_imagenet_a_is_refused() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    // Renamed as Sketch names its files, so that the names are not the shared sample's.
    let sketch = sample_tree_named(&shared, scratch.path(), "sketch", None, |file| {
        format!("sketch_{}", file.trim_start_matches("ILSVRC2012_val_"))
    });
    let record = verify_json(scratch.path(), &sketch, &["--no-cache"]).json();
    assert_eq!(record["dataset"]["image_set_name"], "imagenet-sketch");
    assert_eq!(record["dataset"].get("scored_classes"), None);
    // The sample's counts from MODELS.md: nothing but the name changes.
    assert_eq!(
        (
            record["top1_correct"].as_u64(),
            record["top5_correct"].as_u64()
        ),
        (Some(72), Some(93))
    );

    // The whole sample under imagenet-a/: classes outside -A's 200 cannot be scored there.
    let not_a = sample_tree(&shared, scratch.path(), "imagenet-a", None);
    let refused = verify_json(scratch.path(), &not_a, &["--no-cache"]);
    assert_error(
        &refused,
        &["imagenet-a", "200 classes", "rename the folder"],
    );
}
