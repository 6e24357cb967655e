//! Which image set each stored run scored, and which runs the table shows: runs of different image
//! sets are never ranked together, and the newest run on one set never hides a run on another.

use crate::commands::shared::image_set::image_set_name;
use std::collections::HashMap;

use crate::cli::RunsSelection;
use crate::model::manifest::Manifest;
use crate::report::table::TableRow;
use crate::store::{RunInfo, RunKind};

/// A complete run with the image set it scored.
pub(super) struct SetRun {
    pub run: RunInfo,
    /// The set's name, as `image_set_name` gives it.
    pub image_set: String,
    /// Labelled images in the set (under its original labels).
    pub images: usize,
}

impl SetRun {
    /// `run`, named with `own` (the run's model's manifest, if any) and every other manifest.
    pub fn new(run: RunInfo, own: Option<&Manifest>, manifests: &[Manifest]) -> SetRun {
        let image_set = image_set_name(&run, own, manifests);
        let images = run.summary.as_ref().map_or(run.images, |s| s.labelled);
        SetRun {
            run,
            image_set,
            images,
        }
    }
}

/// The runs the table shows: complete ones only (a partial run's numbers are never reported), of
/// the wanted models and image sets (none named: all), and the newest of each model, recipe,
/// kind and image set unless every run is asked for, so that a run on the 100-image sample
/// never replaces one on the 50,000 validation images. A model run natively by its caller
/// (`zoorepro.evaluate`) is another model than the ONNX file: each native one (its framework
/// and name) keeps a row of its own, and never displaces the file's verified run.
pub(super) fn select(
    runs: Vec<SetRun>,
    models: &[&Manifest],
    image_sets: &[String],
    selection: RunsSelection,
) -> Vec<SetRun> {
    let mut runs: Vec<SetRun> = runs
        .into_iter()
        .filter(|r| {
            r.run.complete
                && (models.is_empty() || models.iter().any(|m| m.id == r.run.model_id))
                && (image_sets.is_empty() || image_sets.contains(&r.image_set))
        })
        .collect();
    if selection == RunsSelection::Latest {
        // A run labelled by a --ground-truth file never hides one on the layout's own labels
        // (or another file's): they are scored on other labels.
        type Group = (
            String,
            String,
            RunKind,
            String,
            usize,
            Option<String>,
            Native,
        );
        type Native = Option<(Option<String>, String)>;
        let mut newest: HashMap<Group, SetRun> = HashMap::new();
        for run in runs {
            let native = run
                .run
                .meta
                .native()
                .map(|native| (native.framework, native.name));
            let group = (
                run.run.model_id.clone(),
                run.run.key.recipe.clone(),
                run.run.key.kind,
                run.image_set.clone(),
                run.images,
                run.run.key.ground_truth_sha256.clone(),
                native,
            );
            match newest.get(&group) {
                Some(kept)
                    if (kept.run.updated_at.as_str(), kept.run.id)
                        > (run.run.updated_at.as_str(), run.run.id) => {}
                _ => {
                    newest.insert(group, run);
                }
            }
        }
        runs = newest.into_values().collect();
    }
    runs.sort_by_key(|r| r.run.id);
    runs
}

/// Competition ranking (1, 2, 2, 4) by top-1 and by top-5 among the rows of one section only
/// (one image set under one source of labels): numbers measured on different images, or on
/// other labels, are not comparable. Rows come grouped by section, the largest set first (then
/// by name, the layout's own labels before a ground-truth file's), each section's rows by top-1
/// rank.
pub(super) fn rank(rows: &mut [TableRow]) {
    type Section = (String, usize, Option<String>);
    type Figures = (Option<f64>, Option<f64>);
    let section = |row: &TableRow| -> Section {
        let (set, images, labels) = row.section_key();
        (set.to_string(), images, labels.map(str::to_string))
    };
    // A row of no number (`None`) ranks below every number, and level with other such rows.
    let mut groups: HashMap<Section, Vec<Figures>> = HashMap::new();
    for row in rows.iter() {
        groups
            .entry(section(row))
            .or_default()
            .push((row.top1, row.top5));
    }
    for row in rows.iter_mut() {
        let group = &groups[&section(row)];
        row.rank1 = 1 + group.iter().filter(|(top1, _)| *top1 > row.top1).count();
        row.rank5 = 1 + group.iter().filter(|(_, top5)| *top5 > row.top5).count();
    }
    rows.sort_by(|a, b| {
        b.image_set_images
            .cmp(&a.image_set_images)
            .then_with(|| a.image_set.cmp(&b.image_set))
            .then_with(|| a.section_key().2.cmp(&b.section_key().2))
            .then(a.rank1.cmp(&b.rank1))
            .then(a.rank5.cmp(&b.rank5))
            .then_with(|| a.model_id.cmp(&b.model_id))
            .then(a.run.cmp(&b.run))
    });
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::eval::prediction::Summary;
    use crate::model::manifest;
    use crate::store::{DatasetMeta, RunKey, RunMeta, RunOrigin, VerifyMeta};

    fn shipped() -> Vec<Manifest> {
        manifest::load_all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests")).unwrap()
    }

    fn key(kind: RunKind, recipe: &str) -> RunKey {
        RunKey {
            kind,
            model_id: "pytorch/resnet50".into(),
            onnx_sha256: String::new(),
            recipe: recipe.into(),
            recipe_sha256: String::new(),
            pillow_compat: String::new(),
            ort_version: String::new(),
            provider: "cpu".into(),
            opt_level: String::new(),
            batch: 1,
            shard: None,
            source_sha256: None,
            class_subset: None,
            ground_truth_sha256: None,
        }
    }

    /// A complete run of `model` scored on `images` images whose names digest to `sha256`.
    fn run(id: i64, model: &str, kind: RunKind, sha256: &str, images: usize) -> RunInfo {
        RunInfo {
            id,
            token: String::new(),
            key: key(kind, "torchvision"),
            key_digest: String::new(),
            model_id: model.into(),
            created_at: format!("2026-01-0{id}"),
            updated_at: format!("2026-01-0{id}"),
            complete: true,
            images,
            meta: RunMeta::unknown(kind),
            summary: Some(Summary {
                images,
                labelled: images,
                image_set_sha256: sha256.into(),
                ..Summary::default()
            }),
        }
    }

    fn named(runs: Vec<RunInfo>) -> Vec<SetRun> {
        let manifests = shipped();
        runs.into_iter()
            .map(|r| SetRun::new(r, None, &manifests))
            .collect()
    }

    const SUBSET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn sets_are_named_by_manifest_full_set_layout_or_digest() {
        let manifests = shipped();
        let full = run(
            1,
            "x/unknown",
            RunKind::Import,
            manifest::FULL_VAL_SHA256,
            50000,
        );
        assert_eq!(image_set_name(&full, None, &manifests), "ilsvrc2012-val");
        assert_eq!(image_set_name(&full, None, &[]), manifest::FULL_VAL_NAME);
        let subset = run(2, "pytorch/resnet50", RunKind::Verify, SUBSET, 100);
        assert_eq!(
            image_set_name(&subset, None, &manifests),
            "subset-100-0123456789ab"
        );
        let mut v2 = subset.clone();
        v2.meta.origin = RunOrigin::Verify(VerifyMeta {
            dataset: Some(DatasetMeta {
                path: Some("/data/imagenetv2-matched-frequency-format-val".into()),
                layout: Some("class-index-folder".into()),
                ground_truth: None,
            }),
            ..VerifyMeta::default()
        });
        assert_eq!(
            image_set_name(&v2, None, &manifests),
            "imagenetv2-matched-frequency"
        );
    }

    #[test]
    fn latest_keeps_the_newest_run_of_each_image_set() {
        let runs = named(vec![
            run(
                1,
                "pytorch/resnet50",
                RunKind::Verify,
                manifest::FULL_VAL_SHA256,
                50000,
            ),
            run(2, "pytorch/resnet50", RunKind::Verify, SUBSET, 100),
            run(3, "pytorch/resnet50", RunKind::Verify, SUBSET, 100),
            run(4, "pytorch/resnet18", RunKind::Verify, SUBSET, 100),
        ]);
        let kept: Vec<i64> = select(runs, &[], &[], RunsSelection::Latest)
            .iter()
            .map(|r| r.run.id)
            .collect();
        assert_eq!(kept, [1, 3, 4]);
        let runs = named(vec![
            run(
                1,
                "pytorch/resnet50",
                RunKind::Verify,
                manifest::FULL_VAL_SHA256,
                50000,
            ),
            run(2, "pytorch/resnet50", RunKind::Verify, SUBSET, 100),
        ]);
        let only = select(runs, &[], &["ilsvrc2012-val".into()], RunsSelection::All);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].run.id, 1);
    }

    /// `run` as a native run of the caller's model `name` (`zoorepro.evaluate`).
    fn native(mut run: RunInfo, name: &str) -> RunInfo {
        run.meta.origin = RunOrigin::Verify(VerifyMeta {
            onnx: Some(crate::store::OnnxMeta {
                path: format!("native:{name}"),
                sha256: String::new(),
                verification: "native".into(),
                manifest_sha256: None,
                sidecar: Some(serde_json::json!({"native": {
                    "framework": "torch", "name": name, "checkpoint_sha256": null}})),
                io_names: None,
                like: None,
            }),
            ..VerifyMeta::default()
        });
        run
    }

    #[test]
    fn a_native_run_keeps_a_row_of_its_own_beside_the_onnx_run() {
        let model = "pytorch/resnet50";
        let runs = named(vec![
            run(1, model, RunKind::Verify, SUBSET, 100),
            native(run(2, model, RunKind::Verify, SUBSET, 100), "my port"),
            native(run(3, model, RunKind::Verify, SUBSET, 100), "my port"),
            native(run(4, model, RunKind::Verify, SUBSET, 100), "another"),
        ]);
        let kept: Vec<(i64, Option<String>)> = select(runs, &[], &[], RunsSelection::Latest)
            .iter()
            .map(|r| {
                (
                    r.run.id,
                    r.run.meta.native().map(|n| n.provider() + " " + &n.name),
                )
            })
            .collect();
        let port = Some("native (torch) my port".to_string());
        let another = Some("native (torch) another".to_string());
        assert_eq!(kept, [(1, None), (3, port), (4, another)]);
    }

    fn table_row(image_set: &str, images: usize, model: &str, top1: f64) -> TableRow {
        TableRow {
            image_set: image_set.into(),
            image_set_images: images,
            run: 0,
            framework: String::new(),
            model: model.into(),
            model_id: model.into(),
            recipe: String::new(),
            kind: String::new(),
            provider: String::new(),
            labels: "original".into(),
            top1: Some(top1),
            top1_interval: None,
            top5: Some(top1),
            top5_interval: None,
            rank1: 0,
            rank5: 0,
            marks: Vec::new(),
            images,
            references: Vec::new(),
            expected_source: None,
            verdict: crate::eval::verdict::VerdictStatus::NoReference,
            by_labels: Default::default(),
            note: None,
            ground_truth: None,
            native: None,
        }
    }

    #[test]
    fn ranks_count_within_one_image_set_largest_set_first() {
        let mut rows = vec![
            table_row("shared-imagenet-sample-100", 100, "sample", 72.0),
            table_row("ilsvrc2012-val", 50000, "a", 70.0),
            table_row("ilsvrc2012-val", 50000, "b", 80.0),
            table_row("ilsvrc2012-val", 50000, "c", 70.0),
            table_row("ilsvrc2012-val", 50000, "d", 60.0),
            table_row("imagenetv2-matched-frequency", 10000, "a", 50.0),
        ];
        rank(&mut rows);
        let got: Vec<(&str, usize)> = rows.iter().map(|r| (r.model.as_str(), r.rank1)).collect();
        assert_eq!(
            got,
            [
                ("b", 1),
                ("a", 2),
                ("c", 2),
                ("d", 4),
                ("a", 1),
                ("sample", 1)
            ]
        );
        assert_eq!(rows[4].image_set, "imagenetv2-matched-frequency");
    }
}
