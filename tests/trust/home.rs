//! Which folder is the zoorepro home: one named by `--home` / `ZOOREPRO_HOME`, else the nearest
//! folder marked with `.zoorepro-home` above the current directory or the binary, else the data
//! folder. A `manifests/` folder planted in a shared parent, without a marker, takes over nothing;
//! the record names the home it used.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;
use crate::common::run;

const MODEL: &str = "coral/mobilenet_v2_1.0_224_quant";
const BROKEN_SHA256: &str = "8f7b3a0de8a2a2309ee67e57eca2f5cca465d349ae313eb4bdd70f3d8ff776a7";

/// A folder with what it takes to hijack a run started below it: a manifest replacing a built-in
/// id (pinning another file, with another reference) and that file, but no marker.
fn planted(scratch: &Path) -> PathBuf {
    let shared_parent = scratch.join("shared-parent");
    std::fs::create_dir_all(shared_parent.join("manifests")).unwrap();
    std::fs::create_dir_all(shared_parent.join("models")).unwrap();
    std::fs::create_dir_all(shared_parent.join("work/below")).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::repo().join("manifests/coral__mobilenet_v2_1.0_224_quant.json"),
        )
        .unwrap(),
    )
    .unwrap();
    manifest["file"] = "planted.onnx".into();
    manifest["sha256"] = BROKEN_SHA256.into();
    manifest["references"][0]["top1"] = 12.5.into();
    std::fs::write(
        shared_parent.join("manifests/coral__mobilenet_v2_1.0_224_quant.json"),
        manifest.to_string(),
    )
    .unwrap();
    std::fs::write(shared_parent.join("models/planted.onnx"), b"planted").unwrap();
    shared_parent
}

/// The binary run from `cwd` with no home named, its data folder in `scratch`.
fn zoorepro_in(cwd: &Path, scratch: &Path) -> Command {
    // The ONNX Runtime library scripts/setup.sh installed, wherever the real data folder is.
    let ort = std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| {
        let data = dirs::data_dir().expect("a data folder");
        data.join("zoorepro/onnxruntime-1.32.0/libonnxruntime.so")
            .display()
            .to_string()
    });
    let mut command = common::zoorepro(&scratch.join("cache"));
    command
        .env_remove("ZOOREPRO_HOME")
        .env("XDG_DATA_HOME", scratch.join("data"))
        .env("ORT_DYLIB_PATH", ort)
        .current_dir(cwd);
    command
}

fn listed_model(run: &common::Run) -> serde_json::Value {
    assert_eq!(run.status, 0, "{}", run.stderr);
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["id"] == MODEL)
        .cloned()
        .unwrap()
}

#[test]
fn a_manifests_folder_without_a_marker_is_not_a_home() {
    let scratch = tempfile::tempdir().unwrap();
    let shared_parent = planted(scratch.path());
    let below = shared_parent.join("work/below");

    let listed = listed_model(&run(
        zoorepro_in(&below, scratch.path()).args(["models", "--json"])
    ));
    assert_ne!(
        listed["sha256"], BROKEN_SHA256,
        "the planted manifest was used"
    );
    assert!(
        !listed["onnx"]
            .as_str()
            .unwrap()
            .starts_with(&*shared_parent.to_string_lossy()),
        "{listed}"
    );
    assert_eq!(listed["references"][0]["top1"], 72.0);

    // The same folder marked by its owner is a home, found from below it.
    std::fs::write(shared_parent.join(".zoorepro-home"), b"").unwrap();
    let listed = listed_model(&run(
        zoorepro_in(&below, scratch.path()).args(["models", "--json"])
    ));
    assert_eq!(listed["sha256"], BROKEN_SHA256);
    assert_eq!(listed["references"][0]["top1"], 12.5);
}

#[test]
fn a_marker_that_is_a_symlink_is_not_trusted() {
    let scratch = tempfile::tempdir().unwrap();
    let shared_parent = planted(scratch.path());
    // A link to a real checkout's marker: anyone can make one in a shared folder.
    std::os::unix::fs::symlink(
        common::repo().join(".zoorepro-home"),
        shared_parent.join(".zoorepro-home"),
    )
    .unwrap();
    let result = run(
        zoorepro_in(&shared_parent.join("work/below"), scratch.path()).args(["models", "--json"]),
    );
    assert_ne!(listed_model(&result)["sha256"], BROKEN_SHA256);
    assert!(
        result
            .stderr
            .contains(".zoorepro-home is not a regular file"),
        "{}",
        result.stderr
    );
}

#[test]
fn a_marked_folder_is_the_home_and_the_record_names_it() {
    let Some(shared) = common::shared() else {
        return;
    };
    assert!(
        common::repo().join(".zoorepro-home").is_file(),
        "the checkout is marked as a home"
    );
    let scratch = tempfile::tempdir().unwrap();
    let home = planted(scratch.path());
    std::fs::write(home.join(".zoorepro-home"), b"").unwrap();
    std::fs::copy(
        common::shared_model(&shared, "coral/broken-mobilenet_v2_1.0_224_quant"),
        home.join("models/planted.onnx"),
    )
    .unwrap();
    let result = run(zoorepro_in(&home.join("work/below"), scratch.path())
        .args([
            "verify", "--model", MODEL, "--limit", "4", "--json", "--val",
        ])
        .arg(common::repo().join("demo")));
    assert_ne!(result.status, 2, "{}", result.stderr);
    let record = result.json();
    assert_eq!(
        record["provenance"]["home"],
        home.display().to_string(),
        "{}",
        result.stdout
    );
    assert_eq!(record["onnx"]["verification"], "verified");
    let report = std::fs::read_dir(home.join("reports").join(MODEL))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "md"))
        .unwrap();
    let markdown = std::fs::read_to_string(report).unwrap();
    assert!(
        markdown.contains(&format!(
            "| home (manifests, models) | `{}` |",
            home.display()
        )),
        "{markdown}"
    );
}
