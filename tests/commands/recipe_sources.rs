//! Recipe sources (`timm:NAME`, `torchvision:WEIGHTS`, `keras:MODE@SIZE`, ...) through the real
//! binary: `preprocess` takes them and names its output after them, a source making a preset's
//! tensor makes the preset's very bytes, `verify` ties a manifest's references to a source only
//! when it makes a declared recipe's tensor, `add-model` writes a source's recipe out, and every
//! bad source is one message with exit status 2.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{Run, assert_error, run, shared, shared_model};
use zoorepro::npy::{NpyData, read};

fn demo_images() -> Vec<PathBuf> {
    let demo = common::repo().join("demo");
    ["n01644900", "n01735189"]
        .iter()
        .map(|class| {
            let mut files: Vec<PathBuf> = std::fs::read_dir(demo.join(class))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            files.remove(0)
        })
        .collect()
}

fn preprocess(recipe: &str, images: &[PathBuf], out: &Path) -> Run {
    run(std::process::Command::new(env!("CARGO_BIN_EXE_zoorepro"))
        .args(["preprocess", "--recipe", recipe])
        .args(images)
        .arg("--out")
        .arg(out))
}

/// The shape and float32 values of a `preprocess` output.
fn tensors(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let array = read(path).unwrap();
    let NpyData::F32(values) = array.data else {
        panic!("not float32")
    };
    (array.shape, values)
}

#[test]
fn preprocess_takes_sources_and_a_presets_source_gives_its_bytes() {
    let scratch = tempfile::tempdir().unwrap();
    let images = demo_images();
    let out = |name: &str| scratch.path().join(format!("{name}.npy"));
    let timm = preprocess("timm:resnet50.a1_in1k", &images, &out("timm"));
    assert_eq!(timm.status, 0, "{}", timm.stderr);
    assert!(
        timm.stderr.contains("(timm:resnet50.a1_in1k)"),
        "{}",
        timm.stderr
    );
    // validate.py's test size: 288, short side floor(288 / 1.0).
    assert_eq!(tensors(&out("timm")).0, [2, 3, 288, 288]);

    // The prefetcher's (x - 255*mean) / (255*std) and ToTensor + Normalize differ by rounding.
    let plain = preprocess(
        "timm:resnet50.a1_in1k@no-prefetcher",
        &images,
        &out("plain"),
    );
    assert_eq!(plain.status, 0, "{}", plain.stderr);
    let (a, b) = (tensors(&out("timm")).1, tensors(&out("plain")).1);
    let most = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(a != b && most <= 1e-6, "largest difference {most}");

    for (source, preset) in [
        ("torchvision:AlexNet_Weights.IMAGENET1K_V1", "torchvision"),
        ("keras:caffe@224", "keras-caffe"),
        ("mlperf:resnet50", "mlperf-resnet50"),
    ] {
        let from_source = preprocess(source, &images, &out("source"));
        assert_eq!(from_source.status, 0, "{source}: {}", from_source.stderr);
        let from_preset = preprocess(preset, &images, &out("preset"));
        assert_eq!(from_preset.status, 0, "{preset}: {}", from_preset.stderr);
        assert_eq!(
            std::fs::read(out("source")).unwrap(),
            std::fs::read(out("preset")).unwrap(),
            "{source} and {preset}"
        );
    }
}

#[test]
fn bad_sources_are_one_message_and_exit_2() {
    let scratch = tempfile::tempdir().unwrap();
    let images = demo_images();
    let out = scratch.path().join("t.npy");
    let config = scratch.path().join("broken.json");
    std::fs::write(&config, "{\"input_size\": [3, 224").unwrap();
    let config_source = format!("timm:{}", config.display());
    for (source, needles) in [
        (
            "timm:resnet50.a1_in1",
            &["did you mean \"resnet50.a1_in1k\""][..],
        ),
        ("timm:resnet50.a1_in1k@fast", &["unknown suffix @fast"]),
        ("keras:caffe@huge", &["\"huge\"", "1..=4096"]),
        ("tim:resnet50", &["did you mean \"timm\""]),
        (config_source.as_str(), &["broken.json", "not JSON"]),
        (
            "torchvision:ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1@tensor-v2",
            &["is refused", "BICUBIC", "antialiased bilinear"],
        ),
        (
            "timm:vit_base_patch16_sapiens2.fb",
            &["1024x768", "non-square", "refused"],
        ),
    ] {
        let done = preprocess(source, &images, &out);
        assert_error(&done, needles);
        assert!(!out.exists(), "{source}: nothing written");
    }
}

/// A home with a copy of efficientnet_lite0's manifest whose one recipe, `mine`, is the
/// torchvision preset's tensor written inline, referenced by `reference` (top-1, top-5 percent).
fn home_with_torchvision_recipe(home: &Path, reference: Option<(f64, f64)>) {
    let shipped = common::repo().join("manifests/pypi__efficientnet_lite0.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped).unwrap()).unwrap();
    manifest["id"] = "mine/lite0".into();
    manifest["name"] = "lite0".into();
    manifest["default_recipe"] = "mine".into();
    let recipe = &mut manifest["recipes"][0];
    recipe["name"] = "mine".into();
    recipe["resize_size"] = 256.into();
    let oracle = manifest["references"][0].clone();
    manifest["references"] = match reference {
        Some((top1, top5)) => {
            let mut ours = oracle;
            (ours["source"], ours["recipe"]) = ("measured".into(), "mine".into());
            (ours["top1"], ours["top5"]) = (top1.into(), top5.into());
            serde_json::json!([ours])
        }
        None => serde_json::json!([]),
    };
    std::fs::create_dir_all(home.join("manifests")).unwrap();
    std::fs::write(
        home.join("manifests/mine__lite0.json"),
        manifest.to_string(),
    )
    .unwrap();
}

fn verify_sample(home: &Path, onnx: &Path, recipe: &str) -> Run {
    let shared = shared().unwrap();
    run(common::zoorepro(&home.join("cache"))
        .env("ZOOREPRO_HOME", home)
        .args([
            "verify",
            "--json",
            "--model",
            "mine/lite0",
            "--recipe",
            recipe,
        ])
        .arg("--onnx")
        .arg(onnx)
        .arg("--val")
        .arg(shared.join("imagenet-sample"))
        .arg("--report-dir")
        .arg(home.join("reports")))
}

#[test]
fn verify_judges_a_source_by_a_declared_recipe_only_when_it_makes_its_tensor() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    let onnx = shared_model(&shared, "pypi/efficientnet_lite0");
    home_with_torchvision_recipe(&home, None);
    let first = verify_sample(&home, &onnx, "mine");
    assert_eq!(first.status, 0, "{}", first.stderr);
    let record = first.json();
    let percent = |field: &str| record[field].as_f64().unwrap();
    home_with_torchvision_recipe(&home, Some((percent("top1"), percent("top5"))));

    // AlexNet's weights.transforms() on a PIL image is the declared recipe: its reference
    // decides, and the stored run is reused.
    let same = verify_sample(&home, &onnx, "torchvision:AlexNet_Weights.IMAGENET1K_V1");
    assert_eq!(same.status, 0, "{}", same.stderr);
    assert!(same.stderr.contains("recipe mine"), "{}", same.stderr);
    let record = same.json();
    assert_eq!(record["recipe"]["name"], "mine");
    assert_eq!(record["verdict"]["status"], "reproduced", "{}", same.stderr);
    assert_eq!(record["store"]["reused"], 100);

    // ResNet50's V2 weights resize to 232: another tensor, judged by no reference.
    let other = verify_sample(&home, &onnx, "torchvision:ResNet50_Weights.IMAGENET1K_V2");
    assert_eq!(other.status, 0, "{}", other.stderr);
    let record = other.json();
    assert_eq!(
        record["recipe"]["name"],
        "torchvision:ResNet50_Weights.IMAGENET1K_V2"
    );
    assert_eq!(record["recipe"]["definition"]["resize_size"], 232);
    assert_eq!(record["verdict"]["status"], "no-reference");
    assert!(
        record["references"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["expected"] == false)
    );

    // A source of another layout cannot feed the model: one message, exit 2.
    let nhwc = verify_sample(&home, &onnx, "keras:torch@224");
    assert_error(&nhwc, &["keras:torch@224", "nhwc", "nchw", "mine"]);
}

#[test]
fn add_model_writes_a_sources_recipe_out_under_the_sources_name() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    std::fs::create_dir_all(home.join("manifests")).unwrap();
    std::fs::create_dir_all(home.join("models")).unwrap();
    let onnx = shared_model(&shared, "pypi/efficientnet_lite0");
    let source = "torchvision:ResNet50_Weights.IMAGENET1K_V2";
    let done = run(common::zoorepro(&scratch.path().join("cache"))
        .env("ZOOREPRO_HOME", &home)
        .arg("add-model")
        .arg(&onnx)
        .args(["--id", "lab/lite0-v2", "--recipe", source]));
    assert_eq!(done.status, 0, "{}", done.stderr);
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(home.join("manifests/lab__lite0-v2.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(written["default_recipe"], source);
    assert_eq!(written["recipes"][0]["name"], source);
    assert_eq!(written["recipes"][0]["resize_size"], 232);

    let refused = run(common::zoorepro(&scratch.path().join("cache"))
        .env("ZOOREPRO_HOME", &home)
        .arg("add-model")
        .arg(&onnx)
        .args(["--id", "lab/lite0-typo", "--recipe", "torchvision:resnet5O"]));
    assert_error(&refused, &["torchvision:resnet5O", "did you mean"]);
}
