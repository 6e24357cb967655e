//! The whole benchmarking-keras-pytorch table from caches: `import-seed` of all 34 models, then
//! `table`, must rank them as the seed's README does. Four caches are the real ones of
//! ../shared/reference; the other 30 are not on this machine, so this test writes caches in their
//! format (unsorted top-5 columns, probabilities deciding the top-1) that score exactly the
//! README's Acc@1 and Acc@5. The README's Rank@5 column does not follow its own Acc@5 values in
//! four places; the table follows the values, and this test pins where they differ.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common;
use crate::common::{run, shared, zoorepro};

/// The seed README's table (commit 74df938): framework, model, Acc@1, Acc@5, Rank@1, Rank@5.
const SEED_README: [(&str, &str, f64, f64, u64, u64); 34] = [
    ("keras", "nasnetlarge", 80.83, 95.27, 1, 1),
    ("keras", "inceptionresnetv2", 78.93, 94.45, 2, 2),
    ("pytorch", "resnet152", 77.62, 93.81, 3, 3),
    ("keras", "xception", 77.18, 93.49, 4, 4),
    ("pytorch", "densenet161", 76.92, 93.49, 5, 5),
    ("pytorch", "resnet101", 76.64, 93.30, 6, 6),
    ("pytorch", "densenet201", 76.41, 93.18, 7, 7),
    ("keras", "inceptionv3", 76.02, 92.90, 8, 8),
    ("pytorch", "densenet169", 75.59, 92.69, 9, 9),
    ("pytorch", "resnet50", 75.06, 92.48, 10, 10),
    ("keras", "densenet201", 74.77, 92.32, 11, 11),
    ("pytorch", "densenet121", 74.07, 91.94, 12, 12),
    ("keras", "densenet169", 73.92, 91.76, 13, 13),
    ("pytorch", "vgg19_bn", 72.90, 91.35, 14, 14),
    ("pytorch", "resnet34", 72.34, 90.84, 15, 16),
    ("pytorch", "vgg16_bn", 72.29, 91.01, 16, 15),
    ("keras", "densenet121", 72.09, 90.70, 17, 17),
    ("keras", "nasnetmobile", 71.59, 90.19, 18, 19),
    ("pytorch", "vgg19", 71.19, 90.40, 19, 18),
    ("pytorch", "vgg16", 70.66, 89.93, 20, 20),
    ("keras", "resnet50", 70.35, 89.55, 21, 22),
    ("pytorch", "vgg13_bn", 70.12, 89.56, 22, 21),
    ("keras", "mobilenetV2", 69.98, 89.49, 23, 23),
    ("pytorch", "vgg11_bn", 69.36, 89.06, 24, 24),
    ("pytorch", "inception_v3", 69.25, 88.69, 25, 25),
    ("keras", "mobilenet", 69.02, 88.48, 26, 27),
    ("pytorch", "vgg13", 68.69, 88.65, 27, 28),
    ("pytorch", "resnet18", 68.37, 88.56, 28, 26),
    ("pytorch", "vgg11", 67.85, 88.11, 29, 29),
    ("keras", "vgg19", 65.58, 86.54, 30, 30),
    ("keras", "vgg16", 65.24, 86.20, 31, 31),
    ("pytorch", "squeezenet1_0", 56.49, 79.06, 32, 33),
    ("pytorch", "squeezenet1_1", 56.42, 79.21, 33, 32),
    ("pytorch", "alexnet", 54.50, 77.64, 34, 34),
];

const IMAGES: usize = 50_000;

/// A cache in the seed's format whose top-1 and top-5 accuracies are exactly `top1` and `top5`
/// percent. Row `i` is labelled `i / 50` (ImageFolder order); hits are spread over the classes by
/// a permutation of the rows, and the true class sits in a different column in top-1 and top-5
/// hits so that only the probabilities tell them apart, as in the real caches.
fn write_cache(dir: &Path, framework: &str, model: &str, top1: f64, top5: f64) {
    let hits1 = (top1 * IMAGES as f64 / 100.0).round() as usize;
    let hits5 = (top5 * IMAGES as f64 / 100.0).round() as usize;
    let mut preds = Vec::with_capacity(IMAGES * 5 * 8);
    let mut probs = Vec::with_capacity(IMAGES * 5 * 4);
    for row in 0..IMAGES {
        let label = (row / 50) as i64;
        let order = (row * 7919) % IMAGES;
        let mut classes: Vec<i64> = (1..=5).map(|k| (label + k) % 1000).collect();
        if order < hits1 {
            classes[2] = label;
        } else if order < hits5 {
            classes[0] = label;
        }
        let row_probs = [0.05f32, 0.1, 0.6, 0.15, 0.1];
        for (class, prob) in classes.iter().zip(row_probs) {
            preds.extend_from_slice(&class.to_le_bytes());
            probs.extend_from_slice(&prob.to_le_bytes());
        }
    }
    let base = dir
        .join(format!("{framework}_imagenet"))
        .join(format!("{model}_{framework}_imagenet_top5"));
    std::fs::create_dir_all(base.parent().unwrap()).unwrap();
    let path =
        |suffix: &str| base.with_file_name(format!("{model}_{framework}_imagenet_top5{suffix}"));
    zoorepro::npy::write_raw(&path("preds.npy"), "<i8", &[IMAGES, 5], &preds).unwrap();
    zoorepro::npy::write_raw(&path("probs.npy"), "<f4", &[IMAGES, 5], &probs).unwrap();
}

/// The seed folder: the four real caches copied, the other 30 written by [`write_cache`].
fn seed_of_34(shared: &Path, dir: &Path) {
    let real = shared.join("reference/benchmarking-keras-pytorch");
    for (framework, model, top1, top5, _, _) in SEED_README {
        let sub = format!("{framework}_imagenet");
        let name = |suffix: &str| format!("{model}_{framework}_imagenet_top5{suffix}");
        if real.join(&sub).join(name("preds.npy")).exists() {
            std::fs::create_dir_all(dir.join(&sub)).unwrap();
            for suffix in ["preds.npy", "probs.npy"] {
                std::fs::copy(
                    real.join(&sub).join(name(suffix)),
                    dir.join(&sub).join(name(suffix)),
                )
                .unwrap();
            }
        } else {
            write_cache(dir, framework, model, top1, top5);
        }
    }
}

#[test]
fn the_34_seed_caches_rank_as_the_seed_readme_and_sample_runs_stay_apart() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let (seed, cache) = (scratch.path().join("seed"), scratch.path().join("cache"));
    seed_of_34(&shared, &seed);
    let import = run(zoorepro(&cache).arg("import-seed").arg(&seed));
    assert_eq!(import.status, 0, "{}", import.stderr);
    assert!(import.stderr.contains("34 imported"), "{}", import.stderr);
    let v2 = "coral/mobilenet_v2_1.0_224_quant";
    let onnx = common::shared_model(&shared, v2);
    let sample = shared.join("imagenet-sample");
    let verified = run(zoorepro(&cache)
        .args(["verify", "--model", v2, "--onnx"])
        .arg(&onnx)
        .arg("--val")
        .arg(&sample));
    assert_eq!(verified.status, 0, "{}", verified.stderr);

    let table = run(zoorepro(&cache).args(["table", "--format", "json"]));
    assert_eq!(table.status, 0, "{}", table.stderr);
    let rows = table.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 35);
    let round2 = |value: &serde_json::Value| (value.as_f64().unwrap() * 100.0).round() / 100.0;
    for (framework, model, top1, top5, _, _) in SEED_README {
        let row = rows
            .iter()
            .find(|r| r["framework"] == framework && r["model"] == model)
            .unwrap_or_else(|| panic!("no row {framework}/{model}"));
        // resnet152's real cache keeps float16 probabilities: 77.61 / 93.82 (tests/commands/tables.rs).
        if model != "resnet152" {
            assert_eq!(
                (round2(&row["top1"]), round2(&row["top5"])),
                (top1, top5),
                "{model}"
            );
        }
    }
    let ranked: BTreeMap<(String, String), (u64, u64)> = rows
        .iter()
        .filter(|r| r["image_set"] == "ilsvrc2012-val")
        .map(|r| {
            (
                (
                    r["framework"].as_str().unwrap().into(),
                    r["model"].as_str().unwrap().into(),
                ),
                (r["rank1"].as_u64().unwrap(), r["rank5"].as_u64().unwrap()),
            )
        })
        .collect();
    assert_eq!(ranked.len(), 34, "the 34 caches are ranked as one set");
    let mut rank5_differs = Vec::new();
    for (framework, model, _, _, rank1, rank5) in SEED_README {
        let (ours1, ours5) = ranked[&(framework.to_string(), model.to_string())];
        assert_eq!(ours1, rank1, "Rank@1 of {framework}/{model}");
        if ours5 != rank5 {
            rank5_differs.push(format!("{model}: README {rank5}, by Acc@5 {ours5}"));
        }
    }
    // Where the README's Rank@5 does not follow its Acc@5: densenet161 ties xception at 93.49
    // (competition ranking gives both 4), and mobilenet (88.48), vgg13 (88.65) and resnet18
    // (88.56) are out of order.
    assert_eq!(
        rank5_differs,
        [
            "densenet161: README 5, by Acc@5 4",
            "mobilenet: README 27, by Acc@5 28",
            "vgg13: README 28, by Acc@5 26",
            "resnet18: README 26, by Acc@5 27",
        ]
    );

    // The sample run is ranked in its own group, after the full set's.
    let last = rows.last().unwrap();
    assert_eq!(last["image_set"], "shared-imagenet-sample-100");
    assert_eq!(
        (last["rank1"].as_u64(), last["images"].as_u64()),
        (Some(1), Some(100))
    );
}
