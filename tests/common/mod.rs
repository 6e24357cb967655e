//! Helpers shared by the integration tests: they drive the real binary, with the real ONNX
//! Runtime library (installed by scripts/setup.sh), on the real shared models and images.
#![allow(dead_code)]

pub mod digests;
pub mod onnx;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The one skip helper (src/testing.rs): [`skip`] fails under `CI=true`, [`not_applicable`]
/// never does; both print a `SKIPPED` line that `scripts/test.sh` counts.
#[allow(unused_imports)] // each test binary compiles this module and uses some of them
pub use zoorepro::testing::{in_ci, not_applicable, shared, skip};

pub fn zoorepro(cache: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoorepro"));
    command
        .env("ZOOREPRO_HOME", repo())
        .arg("--cache-dir")
        .arg(cache);
    command
}

/// The 1000 wnids in class-index order, from the shared models' list: class index `i` names the
/// ImageFolder folder `wnids[i]`.
pub fn wnids(shared: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(shared.join("models/models.json")).unwrap();
    let models: serde_json::Value = serde_json::from_str(&text).unwrap();
    models["wnids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn run(command: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the zoorepro binary runs");
    let run = Run {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "zoorepro panicked:\n{}",
        run.stderr
    );
    run
}

/// The shared model file of a manifest id (`coral/x` -> `coral__x.onnx`).
pub fn shared_model(shared: &Path, id: &str) -> PathBuf {
    shared
        .join("models")
        .join(format!("{}.onnx", id.replace('/', "__")))
}

/// Runs verify with a fresh report dir under `scratch` and the given extra arguments.
pub fn verify(scratch: &Path, args: &[&str]) -> Run {
    let mut command = zoorepro(&scratch.join("cache"));
    command
        .arg("verify")
        .arg("--report-dir")
        .arg(scratch.join("reports"))
        .args(args);
    run(&mut command)
}

/// Exit status 2 and exactly one error line, the last thing printed, containing every needle.
pub fn assert_error(run: &Run, needles: &[&str]) {
    assert_eq!(
        run.status, 2,
        "exit status 2 for bad input\nstderr: {}",
        run.stderr
    );
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("zoorepro: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error message: {}", run.stderr);
    assert!(
        run.stderr.trim_end().ends_with(errors[0]),
        "the error is the last word: {}",
        run.stderr
    );
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "message should mention {needle:?}: {}",
            errors[0]
        );
    }
}

/// The 100 sample images as (class folder, path), sorted.
pub fn sample_files(shared: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for class in std::fs::read_dir(shared.join("imagenet-sample"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
    {
        for file in std::fs::read_dir(&class).unwrap() {
            files.push((
                class.file_name().unwrap().to_string_lossy().into_owned(),
                file.unwrap().path(),
            ));
        }
    }
    files.sort();
    files
}

/// The class index (as ImageNetV2 names its folders, `"0"` ... `"999"`) of every validation file,
/// from the ground truth shipped in data/labels/.
pub fn class_index_of_val_files() -> std::collections::HashMap<String, String> {
    let ground_truth =
        std::fs::read_to_string(repo().join("data/labels/val_ground_truth.tsv")).unwrap();
    ground_truth
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            Some((fields[0].to_string(), fields.last()?.to_string()))
        })
        .collect()
}

/// The oracle's per-image results of one model (`file`, `gt`, `top5`, `top5_scores`), in
/// dataset order.
pub fn oracle_images(shared: &Path, id: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(shared.join("oracle/results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    let model = results["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap();
    model["per_image"].as_array().unwrap().clone()
}
