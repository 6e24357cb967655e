//! The whole tables resolved, checked against the generator's own resolution, and the messages of
//! bad sources.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::*;
use crate::image::recipe::{Library, Variant, preset, presets};

/// A resolved source as `scripts/tables/generate_recipe_tables.py` writes it: every tensor field,
/// floats as their float32 bits.
fn canonical(text: &str, outcome: &Result<Recipe, SourceError>) -> String {
    let Ok(r) = outcome else {
        return format!("{text}\trefused\n");
    };
    fn json<T: serde::Serialize>(value: &T) -> String {
        serde_json::to_string(value)
            .unwrap()
            .trim_matches('"')
            .to_string()
    }
    let bits = |v: [f32; 3]| v.map(|x| format!("{:08x}", x.to_bits())).join(",");
    format!(
        "{text}\t{}\t{}\t{}\t{}\t{}\t{}\t{:08x}\t{}\t{}\t{}\t{}\t{}\n",
        r.library.name(),
        json(&r.variant),
        json(&r.resize_mode),
        r.resize_size,
        r.crop_size,
        r.filter.name(),
        r.scale.to_bits(),
        bits(r.mean),
        bits(r.std),
        json(&r.channels),
        r.layout.name(),
        r.fill.map(|f| f.to_string()).join(","),
    )
}

/// Resolves every source, counts outcomes by reason, and compares the canonical lines' digest
/// with the one the generator stored from timm's and torchvision's own code.
fn resolve_all(
    table: &str,
    sources: &[String],
    outcomes: &mut BTreeMap<String, usize>,
) -> (usize, usize) {
    let (mut resolved, mut refused) = (0, 0);
    let mut lines = String::new();
    for text in sources {
        let outcome = resolve_builtin(text);
        lines.push_str(&canonical(text, &outcome));
        let key = match &outcome {
            Ok(recipe) => {
                resolved += 1;
                match recipe.validate() {
                    Ok(()) => "resolved, reproduced today".to_string(),
                    Err(e) => format!("resolved, refused by its pipeline until it is: {e}"),
                }
            }
            Err(SourceError::Refused { reason, .. }) => {
                refused += 1;
                assert!(!reason.to_string().is_empty());
                format!("refused: {}", reason.kind())
            }
            Err(other) => panic!("{text}: {other}"),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    let stored: serde_json::Value = serde_json::from_str(table).unwrap();
    let digest = crate::util::hex::hex(&Sha256::digest(lines.as_bytes()));
    if stored["resolved_sha256"] != digest.as_str() {
        let dump = std::env::temp_dir().join("zoorepro-resolved-sources.txt");
        std::fs::write(&dump, &lines).unwrap();
        panic!(
            "the resolved sources differ from the generator's: diff {} with the output of \
             generate_recipe_tables.py --dump-resolved",
            dump.display()
        );
    }
    (resolved, refused)
}

#[test]
fn every_timm_config_and_torchvision_weight_resolves_or_is_refused_with_a_reason() {
    let mut timm_outcomes = BTreeMap::new();
    let timm_sources: Vec<String> = timm::names()
        .flat_map(|n| [format!("timm:{n}"), format!("timm:{n}@no-prefetcher")])
        .collect();
    let timm = resolve_all(include_str!("timm.json"), &timm_sources, &mut timm_outcomes);
    let mut tv_outcomes = BTreeMap::new();
    let tv_sources: Vec<String> = torchvision::names()
        .flat_map(|n| {
            ["", "@tensor-v2", "@tensor-v1"].map(|suffix| format!("torchvision:{n}{suffix}"))
        })
        .collect();
    let tv = resolve_all(
        include_str!("torchvision.json"),
        &tv_sources,
        &mut tv_outcomes,
    );
    eprintln!("timm {}: {timm_outcomes:#?}", timm::version());
    eprintln!("torchvision {}: {tv_outcomes:#?}", torchvision::version());
    // 1,826 configs on both loader paths; the 5 configs of a 1024x768 input are refused.
    assert_eq!(timm, (3642, 10));
    assert_eq!(timm_outcomes["refused: non-square input"], 10);
    // 115 weights on PIL images and both tensor paths; the 28 bicubic ones on tensors refused.
    assert_eq!(tv, (289, 56));
    assert_eq!(
        tv_outcomes["refused: tensor path resizes bilinear only"],
        56
    );
}

#[test]
fn presets_resolve_by_name_and_sources_by_family() {
    for recipe in presets() {
        assert_eq!(resolve(&recipe.name).unwrap(), recipe);
    }
    assert!(is_source("timm:resnet50") && !is_source("torchvision"));
    let r = resolve("torchvision:AlexNet_Weights.IMAGENET1K_V1").unwrap();
    assert!(r.same_tensor(&preset("torchvision").unwrap()));
    assert_eq!((r.library, r.variant), (Library::Pillow, Variant::Standard));
}

#[test]
fn bad_sources_name_what_is_wrong_in_one_line() {
    for (bad, says) in [
        ("torchvison", "did you mean \"torchvision\""),
        ("tim:resnet50", "no family \"tim\" (did you mean \"timm\"?)"),
        ("timm:resnet50.a1_in1", "did you mean \"resnet50.a1_in1k\""),
        (
            "timm:resnet50.a1_in1k@prefetcher",
            "unknown suffix @prefetcher",
        ),
        ("timm:no_such_model_at_all", "timm has no pretrained config"),
        (
            "torchvision:ResNet50_Weights.IMAGENET1K_V3",
            "did you mean \"ResNet50_Weights.IMAGENET1K_V",
        ),
        (
            "torchvision:resnet50@tensor-v3",
            "unknown suffix @tensor-v3",
        ),
        (
            "torchvision:resnet50@tensor-v1@tensor-v2",
            "more than one suffix (@tensor-v1, @tensor-v2): torchvision takes one of",
        ),
        (
            "timm:resnet50@no-prefetcher@no-prefetcher",
            "more than one suffix",
        ),
        (
            "mlperf:resnet50-pytorch@NCHW",
            "unknown suffix @NCHW: mlperf:resnet50-pytorch takes @nchw or none",
        ),
        (
            "mlperf:resnet50@224",
            "unknown suffix @224: mlperf:resnet50 takes none",
        ),
        ("mlperf:resnet50-pytorch@nchw@nchw", "more than one suffix"),
    ] {
        let message = resolve(bad).unwrap_err().to_string();
        assert!(message.contains(says), "{bad}: {message}");
        assert!(!message.contains('\n'), "{bad}: {message}");
    }
}

#[test]
fn timm_config_files_are_read_as_timm_reads_them_and_never_from_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        format!("timm:{}", path.display())
    };
    // A Hugging Face config.json holds the fields under pretrained_cfg.
    let hub = write(
        "config.json",
        r#"{"architecture": "inception_v3", "num_classes": 1000, "pretrained_cfg":
            {"input_size": [3, 299, 299], "interpolation": "bicubic", "crop_pct": 0.875,
             "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "tag": "tv_in1k"}}"#,
    );
    let from_file = resolve(&hub).unwrap();
    assert_eq!(from_file.name, hub);
    assert!(from_file.same_tensor(&resolve("timm:inception_v3.tv_in1k").unwrap()));
    let plain = resolve(&format!("{hub}@no-prefetcher")).unwrap();
    assert!(plain.same_tensor(&resolve("timm:inception_v3.tv_in1k@no-prefetcher").unwrap()));
    assert!(matches!(
        resolve_builtin(&hub),
        Err(SourceError::FileInManifest { .. })
    ));
    for (name, text, says) in [
        ("broken.json", "{\"input_size\": [3, 224", "it is not JSON"),
        ("list.json", "[1, 2]", "not a JSON object"),
        (
            "other.json",
            "{\"hello\": 1}",
            "none of the pretrained-config fields",
        ),
        ("typed.json", "{\"crop_pct\": \"0.9\"}", "wrong type"),
        (
            "tall.json",
            "{\"input_size\": [3, 1024, 768]}",
            "is refused: its input size is 1024x768",
        ),
    ] {
        let message = resolve(&write(name, text)).unwrap_err().to_string();
        assert!(message.contains(says), "{name}: {message}");
    }
    let missing = dir.path().join("missing.json");
    let message = resolve(&format!("timm:{}", missing.display()))
        .unwrap_err()
        .to_string();
    assert!(message.contains("missing.json"), "{message}");
}

#[test]
fn explain_adds_one_candidate_per_distinct_tensor_of_the_models_size() {
    // timm's resnet50.tv_in1k is the torchvision preset but for the prefetcher's rounding.
    let timm = resolve("timm:resnet50.tv_in1k").unwrap();
    let torchvision = preset("torchvision").unwrap();
    assert!(!timm.same_tensor(&torchvision) && nearly_same_tensor(&timm, &torchvision));
    assert!(!nearly_same_tensor(&timm, &preset("timm-bicubic").unwrap()));
    let known = presets();
    let mut counts = Vec::new();
    for (size, layout) in [
        (224, Layout::Nchw),
        (299, Layout::Nchw),
        (224, Layout::Nhwc),
        (299, Layout::Nhwc),
    ] {
        let added = explain_candidates(size, layout, &known);
        assert!(
            added
                .iter()
                .all(|r| r.crop_size == size && r.layout == layout)
        );
        for (i, recipe) in added.iter().enumerate() {
            assert!(
                !known.iter().any(|k| nearly_same_tensor(k, recipe)),
                "{}",
                recipe.name
            );
            let earlier = &added[..i];
            assert!(
                !earlier.iter().any(|a| nearly_same_tensor(a, recipe)),
                "{}",
                recipe.name
            );
        }
        counts.push((size, layout.name(), added.len()));
    }
    eprintln!("explain candidates added: {counts:?}");
}

/// Each stratum of a resolved recipe that parity_sampled.py's draw covers: every value of each
/// key among the shipped tables' square configs must be among the configs CI checks. The resize
/// size is a stratum of torchvision's weights only: timm's follows from size and crop_pct, which
/// the draw covers one at a time, not in every combination.
fn strata(text: &str) -> [(&'static str, String); 6] {
    let recipe = resolve_builtin(text).unwrap();
    let bits = |v: [f32; 3]| v.map(|x| format!("{:08x}", x.to_bits())).join(",");
    [
        ("library", recipe.library.name().to_string()),
        ("interpolation", recipe.filter.name().to_string()),
        ("crop mode", format!("{:?}", recipe.resize_mode)),
        (
            "torchvision resize",
            match text.starts_with("timm:") {
                true => String::new(),
                false => recipe.resize_size.to_string(),
            },
        ),
        ("size", recipe.crop_size.to_string()),
        (
            "mean/std",
            format!("{} / {}", bits(recipe.mean), bits(recipe.std)),
        ),
    ]
}

#[test]
fn the_sampled_configs_ci_checks_cover_every_stratum_of_the_shipped_tables() {
    use std::collections::BTreeSet;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sampled_configs_sha256.json"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let checked: Vec<&str> = json["configs"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let covered: BTreeSet<(&str, String)> = checked.iter().flat_map(|text| strata(text)).collect();
    let all = timm::names()
        .map(|name| format!("timm:{name}"))
        .chain(torchvision::names().map(|name| format!("torchvision:{name}")));
    let mut missing = BTreeSet::new();
    for text in all {
        // Non-square timm inputs are refused (and so not drawn).
        if resolve_builtin(&text).is_ok() {
            missing.extend(strata(&text).into_iter().filter(|s| !covered.contains(s)));
        }
    }
    assert!(
        missing.is_empty(),
        "strata no checked config has: {missing:?}"
    );
    // Both of timm's normalisations and both tensor paths.
    for suffix in ["@no-prefetcher", "@tensor-v1", "@tensor-v2"] {
        assert!(checked.iter().any(|c| c.ends_with(suffix)), "{suffix}");
    }
    assert!(
        checked
            .iter()
            .any(|c| c.starts_with("timm:") && !c.contains('@'))
    );
}
