//! Two runs are compared image by image on the same images, not merely the same names: two
//! copies of the shared sample, the second with the files of 10 pairs swapped, scored by the same
//! model, agree on every image they share; `compare` and `explain --against` list the 20 swapped
//! images as not comparable and pair the other 80.

use std::path::{Path, PathBuf};

use crate::common::{run, sample_files, shared, shared_model, zoorepro};

const MODEL: &str = "coral/mobilenet_v2_1.0_224_quant";
const SWAPPED_PAIRS: usize = 10;

/// An ImageFolder copy of the sample under `root`; returns the copied files, sorted.
fn copy_sample(shared: &Path, root: &Path) -> Vec<(String, PathBuf)> {
    sample_files(shared)
        .into_iter()
        .map(|(class, file)| {
            let copy = root.join(&class).join(file.file_name().unwrap());
            std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
            std::fs::copy(&file, &copy).unwrap();
            (class, copy)
        })
        .collect()
}

/// Swaps the bytes of file i and file i + half for the first `pairs` i: each pair is of two
/// classes, so the swapped files are other images under the same names.
fn swap_contents(files: &[(String, PathBuf)], pairs: usize) -> Vec<String> {
    let half = files.len() / 2;
    let mut swapped = Vec::new();
    for i in 0..pairs {
        let ((class_a, a), (class_b, b)) = (&files[i], &files[i + half]);
        assert_ne!(class_a, class_b, "a pair of two classes");
        let (bytes_a, bytes_b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        assert_ne!(bytes_a, bytes_b);
        std::fs::write(a, bytes_b).unwrap();
        std::fs::write(b, bytes_a).unwrap();
        for (class, path) in [(class_a, a), (class_b, b)] {
            swapped.push(format!(
                "{class}/{}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    swapped.sort();
    swapped
}

#[test]
fn images_with_other_content_under_the_same_name_are_not_compared() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let onnx = shared_model(&shared, MODEL);
    let (first, second) = (scratch.path().join("first"), scratch.path().join("second"));
    copy_sample(&shared, &first);
    let files = copy_sample(&shared, &second);
    assert_eq!(files.len(), 100);
    let swapped = swap_contents(&files, SWAPPED_PAIRS);

    for val in [&first, &second] {
        let verified = run(zoorepro(&cache)
            .args(["verify", "--model", MODEL, "--onnx"])
            .arg(&onnx)
            .arg("--val")
            .arg(val)
            .arg("--report-dir")
            .arg(scratch.path().join("reports")));
        assert_ne!(verified.status, 2, "{}", verified.stderr);
    }

    // compare: 20 images not comparable, the other 80 agree on every prediction.
    let compare = |format: &str| {
        let compared = run(zoorepro(&cache).args(["compare", "1", "2", "--format", format]));
        assert_eq!(compared.status, 0, "{}", compared.stderr);
        compared.stdout
    };
    let json: serde_json::Value = serde_json::from_str(&compare("json")).unwrap();
    assert_eq!(json["images"], 80, "{json}");
    assert_eq!(json["not_comparable"], 20);
    let first_listed = json["not_comparable_files"][0]
        .as_str()
        .unwrap()
        .to_string();
    let mut listed: Vec<String> = json["not_comparable_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, swapped);
    assert_eq!(json["paired_by_name_only"], 0);
    assert_eq!(json["top1_agreement"], 80);
    assert_eq!(json["top1_agreement_percent"], 100.0);
    assert_eq!(json["identical_top5_sets"], 80);
    assert_eq!(json["mcnemar_exact_p"], 1.0);
    assert_eq!(json["a"]["top1"], json["b"]["top1"]);
    for format in ["text", "markdown", "html"] {
        let out = compare(format);
        assert!(
            out.contains("not comparable: 20 images have the same name but different content"),
            "{format}: {out}"
        );
        assert!(
            out.contains("On the 80 images both scored") || format == "html",
            "{out}"
        );
        assert!(
            out.contains(&first_listed),
            "{format} names the first files: {out}"
        );
    }

    // explain --against the first run, on the second copy: the swapped images are left out of
    // the sample, and the manifest's recipe agrees with the run on every other one, as does its
    // Pillow 12 variation, whose resize order changes no prediction here: the 80 images cannot
    // tell the two apart, and no number of them would by agreement (both 100%).
    let explained = run(zoorepro(&cache)
        .args(["explain", "--json", "--model", MODEL, "--onnx"])
        .arg(&onnx)
        .arg("--val")
        .arg(&second)
        .args(["--samples", "100", "--against", "1"]));
    assert_eq!(explained.status, 1, "{}", explained.stderr);
    let report = explained.json();
    assert_eq!(report["images"], 80, "{}", explained.stderr);
    assert_eq!(report["against"]["not_comparable"], 20);
    assert_eq!(report["verdict"], "cannot-tell-apart");
    assert_eq!(report["best"]["agreement_top1"], 100.0);
    let apart = &report["cannot_tell_apart"];
    assert_eq!(
        apart["candidates"],
        serde_json::json!(["coral-lanczos-224", "coral-lanczos-224+pillow12"])
    );
    assert_eq!(apart["rate"], "top-1 agreement");
    assert!(apart["images_needed"].is_null(), "{apart}");
    assert!(
        explained
            .stderr
            .contains("against run 1: not comparable: 20 images"),
        "{}",
        explained.stderr
    );
}
