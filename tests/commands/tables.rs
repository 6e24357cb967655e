//! `import-seed`, `table`, `compare` and `runs` on the four original benchmarking-keras-pytorch
//! caches of ../shared/reference, and on small `.npy` files the tests write themselves.

use std::path::Path;

use crate::common;
use crate::common::{run, shared, zoorepro};
use serde_json::Value;

fn seed_dir(shared: &Path) -> std::path::PathBuf {
    shared.join("reference/benchmarking-keras-pytorch")
}

fn table(cache: &Path, args: &[&str]) -> common::Run {
    run(zoorepro(cache).arg("table").args(args))
}

fn row<'a>(rows: &'a Value, model: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == model)
        .unwrap_or_else(|| panic!("no row {model}"))
}

fn round2(value: &Value) -> f64 {
    (value.as_f64().unwrap() * 100.0).round() / 100.0
}

#[test]
fn the_shared_caches_reproduce_the_published_table_and_real_labels() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path();
    let import = run(zoorepro(cache).arg("import-seed").arg(seed_dir(&shared)));
    assert_eq!(import.status, 0, "{}", import.stderr);
    assert!(import.stderr.contains("4 imported"), "{}", import.stderr);

    let original = table(cache, &["--format", "json"]);
    assert_eq!(original.status, 0, "{}", original.stderr);
    let rows = original.json();
    for (model, framework, top1, top5) in [
        ("alexnet", "pytorch", 54.50, 77.64),
        ("nasnetlarge", "keras", 80.83, 95.27),
        ("mobilenetV2", "keras", 69.98, 89.49),
        ("resnet152", "pytorch", 77.61, 93.82),
    ] {
        let r = row(&rows, model);
        assert_eq!(r["framework"], framework);
        assert_eq!(
            (round2(&r["top1"]), round2(&r["top5"])),
            (top1, top5),
            "{model}"
        );
        assert_eq!(r["images"], 50000);
    }
    assert_eq!(row(&rows, "nasnetlarge")["rank1"], 1);
    assert_eq!(row(&rows, "alexnet")["rank1"], 4);
    let resnet = row(&rows, "resnet152");
    assert!(
        resnet["note"].as_str().unwrap().contains("float16"),
        "the table says why 77.61 is not 77.62"
    );
    let seed_delta = resnet["references"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "benchmarking-keras-pytorch")
        .unwrap();
    assert_eq!(seed_delta["top1"], 77.62);

    let markdown = table(cache, &[]).stdout;
    assert!(
        markdown.contains("| 2 | 2 | pytorch | resnet152 | torchvision |"),
        "{markdown}"
    );
    assert!(markdown.contains("Notes:") && markdown.contains("commit 22f13a7"));

    let csv = table(cache, &["--format", "csv", "--models", "alexnet"]).stdout;
    assert_eq!(csv.lines().count(), 2, "header and one row: {csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .contains(",alexnet,torchvision,")
    );

    let real = table(cache, &["--labels", "real", "--format", "json"]).json();
    for (model, top1) in [
        ("resnet152", 84.07),
        ("alexnet", 60.79),
        ("nasnetlarge", 86.09),
        ("mobilenetV2", 77.03),
    ] {
        let r = row(&real, model);
        assert_eq!(round2(&r["top1"]), top1, "ReaL {model}");
        assert_eq!(r["images"], 46837);
    }
    // timm's ReaL-label figure for the torchvision weights stands beside, without a verdict.
    let timm_real = row(&real, "resnet152")["references"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "timm (ReaL)")
        .cloned()
        .expect("timm's ReaL reference");
    assert_eq!(timm_real["top1"], 84.815);
    assert_eq!(round2(&timm_real["delta_top1"]), -0.75);
    assert_eq!(row(&real, "resnet152")["verdict"], "no-reference");
    let cleaned = table(cache, &["--labels", "cleaned", "--format", "json"]).json();
    assert_eq!(row(&cleaned, "alexnet")["images"], 50000 - 2916);
    let corrected = table(cache, &["--labels", "corrected", "--format", "json"]).json();
    assert_eq!(row(&corrected, "alexnet")["images"], 50000 - 2916 + 1428);
    let all = table(cache, &["--labels", "all", "--format", "json"]).json();
    let by_labels = &row(&all, "resnet152")["by_labels"];
    assert_eq!(round2(&by_labels["real"]["top1"]), 84.07);
    // Every label set's figures carry their 95% interval, in JSON and in CSV.
    let interval = by_labels["real"]["top1_interval"].as_array().unwrap();
    let (lo, hi) = (interval[0].as_f64().unwrap(), interval[1].as_f64().unwrap());
    assert!(lo < 84.07 && 84.07 < hi && hi - lo < 1.0, "{lo} {hi}");
    let csv = table(cache, &["--labels", "all", "--format", "csv"]).stdout;
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains(",real_top1,real_top1_low,real_top1_high,"),
        "{csv}"
    );
    assert_eq!(round2(&by_labels["original"]["top1"]), 77.61);

    // Re-importing the same files changes nothing.
    let again = run(zoorepro(cache).arg("import-seed").arg(seed_dir(&shared)));
    assert!(
        again.stderr.contains("0 imported, 4 already present"),
        "{}",
        again.stderr
    );
    let runs = run(zoorepro(cache).args(["runs", "--json"])).json();
    assert_eq!(runs.as_array().unwrap().len(), 4);

    // Comparing two runs image by image.
    let comparison = run(zoorepro(cache).args([
        "compare",
        "pytorch/alexnet",
        "resnet152",
        "--format",
        "json",
    ]))
    .json();
    assert_eq!(comparison["images"], 50000);
    assert_eq!(round2(&comparison["a"]["top1"]), 54.50);
    let only_a = comparison["only_a_correct"].as_u64().unwrap();
    let only_b = comparison["only_b_correct"].as_u64().unwrap();
    assert_eq!(
        only_b as i64 - only_a as i64,
        38803 - 27251,
        "net top-1 change equals the difference in correct counts"
    );
    assert!(comparison["mcnemar_exact_p"].as_f64().unwrap() < 1e-100);
    let differs = comparison["top1_differs"].as_array().unwrap();
    assert_eq!(
        differs.len() as u64,
        50000 - comparison["top1_agreement"].as_u64().unwrap()
    );
    assert_eq!(differs[0]["file"], "n01440764/ILSVRC2012_val_00000293.JPEG");
    assert_eq!(differs[0]["label_name"], "tench");

    // Piped, the same comparison is Markdown listing a screenful of those images, with the total.
    let markdown = run(zoorepro(cache).args(["compare", "pytorch/alexnet", "resnet152"]));
    assert_eq!(markdown.status, 0, "{}", markdown.stderr);
    let total = differs.len().to_string();
    let grouped = format!(
        "{},{}",
        &total[..total.len() - 3],
        &total[total.len() - 3..]
    );
    assert!(
        markdown.stdout.contains(&format!(
            "showing 20 of {grouped} images whose top-1 differs; --limit 0 for all"
        )),
        "{}",
        markdown.stdout
    );
    let listed = |out: &str| out.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(listed(&markdown.stdout), 20);
    let text = run(zoorepro(cache).args([
        "compare",
        "pytorch/alexnet",
        "resnet152",
        "--format",
        "text",
        "--limit",
        "3",
    ]));
    assert!(
        text.stdout
            .contains(&format!("showing 3 of {grouped} images"))
            && !text.stdout.contains('|'),
        "{}",
        text.stdout
    );

    // Deleting a run.
    let id = runs[0]["id"].as_i64().unwrap().to_string();
    assert_eq!(
        run(zoorepro(cache).args(["runs", "--delete", &id])).status,
        0
    );
    assert_eq!(
        run(zoorepro(cache).args(["runs", "--json"]))
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let missing = run(zoorepro(cache).args(["runs", "--delete", &id]));
    assert_eq!(missing.status, 2);
}

fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
    zoorepro::npy::write_raw(path, descr, shape, data).unwrap();
}

fn assert_refused(cache: &Path, dir: &Path, needles: &[&str]) {
    let result = run(zoorepro(cache).arg("import-seed").arg(dir));
    assert_eq!(result.status, 2, "{}", result.stderr);
    for needle in needles {
        assert!(
            result.stderr.contains(needle),
            "{needle:?} in {}",
            result.stderr
        );
    }
    let runs = run(zoorepro(cache).args(["runs", "--json"])).json();
    assert!(
        runs.as_array().unwrap().is_empty(),
        "nothing imported after a refusal"
    );
}

#[test]
fn bad_caches_are_refused_whole_with_the_file_named() {
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let dir = scratch.path().join("seed");
    let folder = dir.join("pytorch_imagenet");
    std::fs::create_dir_all(&folder).unwrap();
    let preds = folder.join("alexnet_pytorch_imagenet_top5preds.npy");
    let probs = folder.join("alexnet_pytorch_imagenet_top5probs.npy");
    let good_preds: Vec<u8> = (0..50000 * 5)
        .flat_map(|i: i64| (i % 1000).to_le_bytes())
        .collect();
    let good_probs: Vec<u8> = (0..50000 * 5)
        .flat_map(|i: i32| (i as f32 / 1e6).to_le_bytes())
        .collect();

    write_npy(&preds, "<i8", &[50000, 5], &good_preds);
    assert_refused(
        &cache,
        &dir,
        &[
            "alexnet_pytorch_imagenet_top5preds.npy",
            "no probabilities file",
        ],
    );

    write_npy(&probs, "<f4", &[40000, 5], &good_probs[..40000 * 5 * 4]);
    assert_refused(&cache, &dir, &["top5probs.npy", "(50000, 5)"]);

    write_npy(&probs, "<f4", &[50000, 5], &good_probs[..1000]);
    assert_refused(&cache, &dir, &["top5probs.npy", "truncated"]);

    std::fs::write(&probs, b"").unwrap();
    assert_refused(&cache, &dir, &["top5probs.npy"]);

    write_npy(&probs, "<f8", &[50000, 5], &vec![0u8; 50000 * 5 * 8]);
    assert_refused(&cache, &dir, &["top5probs.npy", "dtype"]);

    write_npy(&probs, "<f4", &[50000, 5], &good_probs);
    let out_of_range: Vec<u8> = (0..50000 * 5)
        .flat_map(|i: i64| (i % 1000 + 1000 * i64::from(i == 7)).to_le_bytes())
        .collect();
    write_npy(&preds, "<i8", &[50000, 5], &out_of_range);
    assert_refused(&cache, &dir, &["top5preds.npy", "outside 0..1000"]);

    // An unknown model name: nothing is imported, not even the good cache beside it.
    write_npy(&preds, "<i8", &[50000, 5], &good_preds);
    let bogus = folder.join("resnet9000_pytorch_imagenet_top5preds.npy");
    write_npy(&bogus, "<i8", &[50000, 5], &good_preds);
    write_npy(
        &folder.join("resnet9000_pytorch_imagenet_top5probs.npy"),
        "<f4",
        &[50000, 5],
        &good_probs,
    );
    assert_refused(&cache, &dir, &["resnet9000", "not one of the 34"]);
    std::fs::remove_file(&bogus).unwrap();

    // int32 predictions are accepted.
    let int32: Vec<u8> = (0..50000 * 5)
        .flat_map(|i: i32| (i % 1000).to_le_bytes())
        .collect();
    write_npy(&preds, "<i4", &[50000, 5], &int32);
    let ok = run(zoorepro(&cache).arg("import-seed").arg(&dir));
    assert_eq!(ok.status, 0, "{}", ok.stderr);
}

#[test]
fn a_bad_labels_file_is_refused_with_its_line() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path();
    assert_eq!(
        run(zoorepro(cache).arg("import-seed").arg(seed_dir(&shared))).status,
        0
    );
    let header = "file,original_index,corrected_index,consensus\n";
    for (body, needle) in [
        (
            "ILSVRC2012_val_00000033.JPEG,150,1234,correctable\n",
            "0..1000",
        ),
        (
            "not_a_val_file.JPEG,150,360,correctable\n",
            "validation file",
        ),
    ] {
        let path = scratch.path().join("errors.csv");
        std::fs::write(&path, format!("{header}{body}")).unwrap();
        let result = table(
            cache,
            &[
                "--labels",
                "cleaned",
                "--labels-file",
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(result.status, 2);
        assert!(
            result.stderr.contains("errors.csv, line 2") && result.stderr.contains(needle),
            "{}",
            result.stderr
        );
    }
    // A user's own file: one correctable error, everything else kept.
    let path = scratch.path().join("mine.csv");
    std::fs::write(
        &path,
        format!("{header}ILSVRC2012_val_00000033.JPEG,150,360,correctable\n"),
    )
    .unwrap();
    let rows = table(
        cache,
        &[
            "--labels",
            "corrected",
            "--labels-file",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .json();
    assert_eq!(row(&rows, "alexnet")["images"], 50000);
    let rows = table(
        cache,
        &[
            "--labels",
            "cleaned",
            "--labels-file",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .json();
    assert_eq!(row(&rows, "alexnet")["images"], 49999);
}

#[test]
fn an_empty_store_has_no_table() {
    let scratch = tempfile::tempdir().unwrap();
    let result = table(scratch.path(), &[]);
    assert_eq!(result.status, 2);
    assert!(
        result.stderr.contains("no complete run") && result.stderr.contains("import-seed"),
        "{}",
        result.stderr
    );
}

/// A store with the four shared seed caches (50,000 images each) and coral's MobileNet v2
/// verified on the 100-image shared sample; the cache folder is `scratch/cache`.
fn seeds_and_sample(shared: &Path, scratch: &Path) -> std::path::PathBuf {
    let cache = scratch.join("cache");
    let import = run(zoorepro(&cache).arg("import-seed").arg(seed_dir(shared)));
    assert_eq!(import.status, 0, "{}", import.stderr);
    let verify = verify_v2(shared, scratch, &shared.join("imagenet-sample"), &[]);
    assert_eq!(verify.status, 0, "{}", verify.stderr);
    cache
}

const V2: &str = "coral/mobilenet_v2_1.0_224_quant";
const SAMPLE_SET: &str = "shared-imagenet-sample-100";

fn verify_v2(shared: &Path, scratch: &Path, val: &Path, extra: &[&str]) -> common::Run {
    let onnx = common::shared_model(shared, V2);
    let mut args = vec![
        "--model",
        V2,
        "--onnx",
        onnx.to_str().unwrap(),
        "--val",
        val.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    common::verify(scratch, &args)
}

fn models(rows: &Value) -> Vec<String> {
    let mut models: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model_id"].as_str().unwrap().to_string())
        .collect();
    models.sort();
    models
}

#[test]
fn image_sets_are_ranked_apart_with_intervals_and_verdicts() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = seeds_and_sample(&shared, scratch.path());
    let rows = table(&cache, &["--format", "json"]).json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    // The largest set first; the imported caches ranked among themselves only.
    let order: Vec<(&str, &str, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["image_set"].as_str().unwrap(),
                r["model"].as_str().unwrap(),
                r["rank1"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("ilsvrc2012-val", "nasnetlarge", 1),
            ("ilsvrc2012-val", "resnet152", 2),
            ("ilsvrc2012-val", "mobilenetV2", 3),
            ("ilsvrc2012-val", "alexnet", 4),
            (SAMPLE_SET, "mobilenet_v2_1.0_224_quant", 1),
        ]
    );
    let sample = &rows[4];
    assert_eq!(
        (sample["rank5"].as_u64(), sample["images"].as_u64()),
        (Some(1), Some(100))
    );
    assert_eq!(sample["verdict"], "reproduced");
    assert_eq!(sample["expected_source"], "oracle");
    // 72 of 100: the 95% Wilson interval.
    assert_eq!(sample["top1_interval"][0], 62.512);
    assert_eq!(sample["top1_interval"][1], 79.86);
    let nasnet = &rows[0];
    assert_eq!(
        nasnet["verdict"], "reproduced",
        "within 0.1 of benchmarking-keras-pytorch"
    );
    assert_eq!(
        rows[3]["verdict"], "drift",
        "alexnet: 54.50 against torchvision's 56.522"
    );

    let markdown = table(&cache, &[]).stdout;
    let full = markdown.find("## ilsvrc2012-val (50000 images)").unwrap();
    let small = markdown
        .find(&format!("## {SAMPLE_SET} (100 images)"))
        .unwrap();
    assert!(full < small, "{markdown}");
    assert!(
        markdown[small..]
            .contains("| 1 | 1 | coral | mobilenet_v2_1.0_224_quant | coral-lanczos-224 |"),
        "{markdown}"
    );
    assert!(markdown.contains("| 72.00 [62.51, 79.86] |"), "{markdown}");
}

#[test]
fn the_csv_carries_image_set_intervals_sources_and_verdict_with_fixed_decimals() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = seeds_and_sample(&shared, scratch.path());
    let csv = table(&cache, &["--format", "csv"]).stdout;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for column in [
        "image_set",
        "model_id",
        "images",
        "top1",
        "top1_low",
        "top1_high",
        "top5_low",
        "top5_high",
        "torchvision-docs_top1",
        "torchvision-docs_delta_top1",
        "oracle_top1",
        "expected_source",
        "verdict",
    ] {
        assert!(header.contains(&column), "{column} in {header:?}");
    }
    let alexnet: Vec<&str> = csv
        .lines()
        .find(|l| l.contains(",pytorch/alexnet,"))
        .unwrap()
        .split(',')
        .collect();
    let cell = |name: &str| alexnet[header.iter().position(|c| *c == name).unwrap()];
    assert_eq!(cell("image_set"), "ilsvrc2012-val");
    assert_eq!(cell("top1"), "54.502");
    assert_eq!(cell("torchvision-docs_top1"), "56.522");
    assert_eq!(cell("torchvision-docs_delta_top1"), "-2.020");
    assert_eq!(cell("verdict"), "drift");
    // Every fractional number with exactly 3 decimals: no float noise.
    let numeric = |field: &&str| {
        field
            .trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
    };
    for line in lines {
        for field in line.split(',').filter(numeric) {
            if let Some((_, decimals)) = field.split_once('.') {
                assert_eq!(decimals.len(), 3, "{field} in {line}");
            }
        }
    }
}

#[test]
fn image_set_and_glob_models_filter_the_table() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = seeds_and_sample(&shared, scratch.path());
    let only_sample = table(&cache, &["--image-set", SAMPLE_SET, "--format", "json"]).json();
    assert_eq!(models(&only_sample), [V2]);
    let only_full = table(
        &cache,
        &["--image-set", "ilsvrc2012-val", "--format", "json"],
    )
    .json();
    assert_eq!(only_full.as_array().unwrap().len(), 4);
    let both = table(
        &cache,
        &[
            "--image-set",
            SAMPLE_SET,
            "--image-set",
            "ilsvrc2012-val",
            "--format",
            "json",
        ],
    )
    .json();
    assert_eq!(both.as_array().unwrap().len(), 5);
    let listed = table(
        &cache,
        &["--image-set", &format!("{SAMPLE_SET},ilsvrc2012-val")],
    );
    assert_eq!(listed.stdout.matches("## ").count(), 2, "{}", listed.stdout);

    let unknown = table(&cache, &["--image-set", "imagenet-v9"]);
    common::assert_error(&unknown, &["imagenet-v9", "ilsvrc2012-val", SAMPLE_SET]);

    let globbed = table(
        &cache,
        &[
            "--models",
            "pytorch/*,keras/nasnetlarge",
            "--format",
            "json",
        ],
    )
    .json();
    assert_eq!(
        models(&globbed),
        ["keras/nasnetlarge", "pytorch/alexnet", "pytorch/resnet152"]
    );
    let coral = table(&cache, &["--models", "coral/*", "--format", "json"]).json();
    assert_eq!(models(&coral), [V2]);
    let none = table(&cache, &["--models", "nothing/*"]);
    common::assert_error(&none, &["nothing/*"]);
}

#[test]
fn the_latest_run_of_each_image_set_is_kept() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = seeds_and_sample(&shared, scratch.path());
    // 40 of the sample images: another image set, and (another batch) another run of the model.
    let subset = scratch.path().join("subset");
    for (class, path) in common::sample_files(&shared).into_iter().take(40) {
        std::fs::create_dir_all(subset.join(&class)).unwrap();
        std::os::unix::fs::symlink(&path, subset.join(&class).join(path.file_name().unwrap()))
            .unwrap();
    }
    let part = verify_v2(&shared, scratch.path(), &subset, &["--batch", "4"]);
    assert_eq!(part.status, 0, "{}", part.stderr);
    let rows = table(&cache, &["--models", V2, "--format", "json"]).json();
    let rows = rows.as_array().unwrap();
    assert_eq!(
        rows.len(),
        2,
        "the 40-image run hides not the 100-image one: {rows:?}"
    );
    assert_eq!(rows[0]["image_set"], SAMPLE_SET);
    let subset_set = rows[1]["image_set"].as_str().unwrap();
    assert!(subset_set.starts_with("subset-40-"), "{subset_set}");
    assert_eq!(
        (rows[1]["images"].as_u64(), rows[1]["rank1"].as_u64()),
        (Some(40), Some(1))
    );
    assert_eq!(rows[1]["verdict"], "no-reference");
    // Filtering by the unnamed set's name works too.
    let only = table(&cache, &["--image-set", subset_set, "--format", "json"]).json();
    assert_eq!(only.as_array().unwrap().len(), 1);
}

#[test]
fn a_labels_file_is_refused_where_it_would_be_ignored() {
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("errors.csv");
    std::fs::write(&path, "file,original_index,corrected_index,consensus\n").unwrap();
    for labels in [None, Some("original"), Some("real")] {
        let mut args = vec!["--labels-file", path.to_str().unwrap()];
        if let Some(labels) = labels {
            args.extend(["--labels", labels]);
        }
        let result = table(scratch.path(), &args);
        common::assert_error(&result, &["--labels-file", "cleaned, corrected or all"]);
    }
}

#[test]
fn models_says_which_labels_a_second_number_of_one_source_was_scored_with() {
    let listed = crate::common::run(
        std::process::Command::new(env!("CARGO_BIN_EXE_zoorepro"))
            .env("ZOOREPRO_HOME", crate::common::repo())
            .arg("models"),
    );
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    let densenet = listed
        .stdout
        .lines()
        .find(|l| l.starts_with("pytorch/densenet121 "))
        .unwrap_or_else(|| panic!("{}", listed.stdout));
    assert!(
        densenet.contains("timm 74.75/92.158 on ilsvrc2012-val (expected)")
            && densenet.contains("timm 81.73/95.032 on ilsvrc2012-val with ReaL labels;"),
        "{densenet}"
    );
}
