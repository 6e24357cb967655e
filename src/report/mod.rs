//! Run records and their exports, and every other report a command prints. One serde struct
//! feeds every format of a report (for a run record: `--json`, the JSON, Markdown and HTML files
//! under `reports/`), so the formats cannot disagree; each format is a file (or a type) behind a
//! small trait: [`Exporter`] for run records, [`table::TableExporter`] for `table`, [`Render`]
//! for `compare`, `determinism` and `explain`.

pub mod compare;
pub mod determinism;
pub mod explain;
pub mod html;
mod json;
mod markdown;
pub mod results;
pub mod table;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::eval::classes::ClassAccuracy;
pub use crate::eval::verdict::{ReferenceResult, Verdict, VerdictStatus};
pub use html::{HtmlExporter, HtmlTable};
pub use json::JsonExporter;
pub use markdown::MarkdownExporter;

use crate::image::recipe::Recipe;
use crate::store::{OnnxMeta, RecipeMeta};
use crate::util::safe_file::write_bytes_atomically;

/// A percentage as every text output shows it (`72.00%`), or `n/a` where there is none (no
/// labelled image).
pub fn percent_text(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(value) => format!("{value:.decimals$}%"),
        None => "n/a".to_string(),
    }
}

/// The 95% Wilson interval of `correct` of `images`, in percent.
pub fn percent_interval(correct: usize, images: usize) -> Option<[f64; 2]> {
    crate::eval::stats::wilson_interval(correct as u64, images as u64)
        .map(|(lo, hi)| [100.0 * lo, 100.0 * hi])
}

/// One text format of a command's report (`compare`, `determinism`, `explain`), rendered from
/// the serde struct that the command's `--json` prints as it is: one struct, so the formats cannot
/// disagree. A format's options (how many rows to list) are fields of the implementing type.
pub trait Render<Doc> {
    fn render(&self, doc: &Doc) -> String;
}

/// One export format.
pub trait Exporter {
    fn extension(&self) -> &'static str;
    fn render(&self, record: &RunRecord) -> String;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub model_id: String,
    pub onnx: OnnxInfo,
    pub recipe: RecipeInfo,
    pub dataset: DatasetInfo,
    /// Labelled images in the evaluated set (failed ones included: they count as incorrect).
    pub images: usize,
    pub evaluated: usize,
    pub failed: usize,
    pub top1_correct: usize,
    pub top5_correct: usize,
    /// Percent of `images`; `null` when no image is labelled (a percentage of nothing).
    pub top1: Option<f64>,
    pub top5: Option<f64>,
    /// 95% Wilson intervals of `top1` and `top5`, in percent (`None` for no images): how far a
    /// number measured on this many images can be from the same model's number on all images.
    #[serde(default)]
    pub top1_interval: Option<[f64; 2]>,
    #[serde(default)]
    pub top5_interval: Option<[f64; 2]>,
    pub references: Vec<ReferenceResult>,
    pub verdict: Verdict,
    /// How the evaluated set is known, whether the run covers it, and what the label and
    /// duplicate checks found (`None` in records written before the verdict rule kept them).
    #[serde(default)]
    pub image_set: Option<crate::eval::trust::ImageSetCheck>,
    /// Every class with a labelled image: images, top-1 and top-5 correct (records written
    /// before per-class figures have none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_class: Vec<ClassAccuracy>,
    pub store: Option<StoreInfo>,
    pub failures: Vec<Failure>,
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OnnxInfo {
    pub path: String,
    pub sha256: String,
    /// "verified" (matches the manifest), "unverified" (differs, run with --allow-unverified) or
    /// "unpinned" (the manifest pins no sha256).
    pub verification: String,
    pub manifest_sha256: Option<String>,
    /// The export script's sidecar JSON (`<file>.json`), when there is one.
    pub sidecar: Option<serde_json::Value>,
    /// The graph's input and output names, as evaluated (any names are accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_names: Option<crate::store::IoNames>,
    /// `verify --like`: the known model whose recipes and references judged this user's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub like: Option<crate::store::LikeInfo>,
}

impl OnnxInfo {
    /// The model run natively by its caller (`zoorepro.evaluate`) that the record names in place
    /// of an ONNX file, if it is one.
    pub fn native(&self) -> Option<crate::store::NativeMeta> {
        crate::store::NativeMeta::of(&self.path, &self.verification, self.sidecar.as_ref())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecipeInfo {
    pub name: String,
    pub pillow_compat: String,
    pub definition: Recipe,
}

/// A run's stored record of its ONNX file is the record's: the same fields.
impl From<&OnnxInfo> for OnnxMeta {
    fn from(onnx: &OnnxInfo) -> OnnxMeta {
        OnnxMeta {
            path: onnx.path.clone(),
            sha256: onnx.sha256.clone(),
            verification: onnx.verification.clone(),
            manifest_sha256: onnx.manifest_sha256.clone(),
            sidecar: onnx.sidecar.clone(),
            io_names: onnx.io_names.clone(),
            like: onnx.like.clone(),
        }
    }
}

impl From<OnnxMeta> for OnnxInfo {
    fn from(onnx: OnnxMeta) -> OnnxInfo {
        OnnxInfo {
            path: onnx.path,
            sha256: onnx.sha256,
            verification: onnx.verification,
            manifest_sha256: onnx.manifest_sha256,
            sidecar: onnx.sidecar,
            io_names: onnx.io_names,
            like: onnx.like,
        }
    }
}

impl From<RecipeMeta> for RecipeInfo {
    fn from(recipe: RecipeMeta) -> RecipeInfo {
        RecipeInfo {
            name: recipe.name,
            pillow_compat: recipe.pillow_compat,
            definition: recipe.definition,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub path: String,
    pub layout: String,
    /// Digest of the byte-sorted basenames of the evaluated images (the image-set identity).
    pub image_set_sha256: String,
    /// Digest of their names and contents, when every file was read (not for merged imports):
    /// a reference that pins its files' contents applies only when this matches.
    #[serde(default)]
    pub image_set_content_sha256: Option<String>,
    /// The manifest's name for that set, when a reference uses it.
    pub image_set_name: Option<String>,
    /// The classes that competed where not all 1000 did (`imagenet-r-200`: ImageNet-R's 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored_classes: Option<String>,
    pub unlabelled: usize,
    /// The `--ground-truth` file that labelled the images (its path, sha256 and rows), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<crate::dataset::GroundTruthInfo>,
    /// Files and members left out, whatever the reason (`skipped` says which).
    pub ignored_files: usize,
    /// The entries left out by reason, with the first names of each (older records have none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<crate::dataset::SkippedEntries>,
    /// How a tar ended: `marker`, or, read with a warning, `lone-zero-block`, `missing-marker`,
    /// `cut-in-header`; absent for folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_end: Option<crate::dataset::ArchiveEnd>,
}

impl DatasetInfo {
    /// Where the labels came from, in a few words: the layout, or `--ground-truth FILE (sha256
    /// …, N rows[, M images not listed])`.
    pub fn labels_text(&self) -> String {
        match &self.ground_truth {
            None => format!("from the {} layout", self.layout),
            Some(truth) => format!(
                "--ground-truth {} (sha256 {}, {} rows{})",
                truth.path,
                &truth.sha256[..truth.sha256.len().min(12)],
                truth.rows,
                match truth.unlisted {
                    Some(n) if n > 0 => format!(", {n} images of the set not listed, not scored"),
                    _ => String::new(),
                }
            ),
        }
    }

    /// The image set in a word: its name where a manifest or the layout names it, else an
    /// unnamed set of `images` images with its digest, so that two subsets never read alike.
    pub fn image_set_label(&self, images: usize) -> String {
        image_set_label(
            self.image_set_name.as_deref(),
            images,
            self.image_set_content_sha256
                .as_deref()
                .unwrap_or(&self.image_set_sha256),
        )
    }
}

/// How tables and results files name an image set: its name, else `subset-<images>-<digest>`.
pub fn image_set_label(name: Option<&str>, images: usize, sha256: &str) -> String {
    match name {
        Some(name) => name.to_string(),
        None => format!("subset-{images}-{}", &sha256[..sha256.len().min(12)]),
    }
}

/// The duplicate check as the reports say it: `3 duplicate contents`, or, where some image
/// could not be read, `duplicate contents unknown (1 image could not be read; 2 among the
/// others)`: never a count the check could not make.
pub fn duplicates_text(duplicates: &crate::eval::trust::Duplicates) -> String {
    match (duplicates.duplicate_contents, duplicates.unread_images) {
        (Some(count), _) => format!("{count} duplicate contents"),
        (None, Some(unread)) => format!(
            "duplicate contents unknown ({unread} {} could not be read; {} among the others)",
            if unread == 1 { "image" } else { "images" },
            duplicates.duplicate_contents_among_read.unwrap_or(0)
        ),
        (None, None) => "duplicate contents unknown".into(),
    }
}

/// How reports name the resampling a run reproduced (`pillow_compat` as stored: "12", "13",
/// "simd", or empty for runs with no Pillow resize of their own).
pub fn resampling_label(pillow_compat: &str) -> String {
    match pillow_compat {
        "simd" => "Pillow-SIMD 12.1.1.post0 resampling".to_string(),
        other => format!("Pillow {other} resize order"),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoreInfo {
    pub database: String,
    pub run_id: i64,
    pub key: String,
    /// Images whose predictions came from the store instead of inference.
    pub reused: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Failure {
    pub file: String,
    pub error: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Provenance {
    pub tool_version: String,
    pub command_line: Vec<String>,
    /// The zoorepro home whose manifests and models the run used: `--home` / `ZOOREPRO_HOME`, a
    /// folder marked with `.zoorepro-home` above the current directory or the binary, or the
    /// data folder. Empty in records written before it was recorded.
    #[serde(default)]
    pub home: String,
    pub ort_version: String,
    pub ort_library: String,
    /// The sha256 of the library file that ran (empty in records written before it was kept).
    #[serde(default)]
    pub ort_library_sha256: String,
    pub provider: String,
    pub threads: usize,
    pub batch: usize,
    pub graph_optimization_level: String,
    pub deterministic_compute: bool,
    pub pillow_compat: String,
    pub started_at: String,
    pub finished_at: String,
    pub seconds: f64,
    /// End-to-end images/s over the images this invocation ran inference on.
    pub images_per_second: f64,
    pub inferred: usize,
    /// Of those (this invocation's inferred images, not the run's), the images whose model output
    /// held NaN (ranked below every number, as NumPy sorts NaN): a broken export, not a result
    /// to trust. Images answered by the store are not counted: their outputs are not kept.
    #[serde(default)]
    pub nan_outputs: usize,
    /// Images this invocation decoded, once each, whatever the number of models it fed.
    #[serde(default)]
    pub decodes: usize,
    /// Models fed by this invocation's pass over the images (`verify --model 'a,b,c'`: 3).
    #[serde(default = "one_model")]
    pub models_in_pass: usize,
    pub throughput: Throughput,
    pub host: Host,
}

fn one_model() -> usize {
    1
}

impl RunRecord {
    /// The NaN outputs in words, as the reports show them, where there were any: a count of this
    /// pass's inferred images, never of the run's (a resumed run's reused rows kept no outputs).
    pub fn nan_outputs_text(&self) -> Option<String> {
        let p = &self.provenance;
        let reused = self.store.as_ref().map_or(0, |store| store.reused);
        (p.nan_outputs > 0).then(|| {
            let mut text = format!(
                "{} of the {} images inferred in this pass (ranked below every number, as NumPy \
                 sorts NaN; check the model)",
                p.nan_outputs, p.inferred
            );
            if reused > 0 {
                text.push_str(&format!(
                    "; the {reused} images answered by the store are not counted: their outputs \
                     were not kept"
                ));
            }
            text
        })
    }
}

/// Where the time went, so that the slower stage is named rather than guessed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Throughput {
    /// Decode + resample + normalise, images per second of that stage's busy time (all cores).
    pub preprocess_images_per_second: f64,
    /// Inference alone, on ready tensors.
    pub inference_images_per_second: f64,
    pub end_to_end_images_per_second: f64,
    /// "preprocess" or "inference": the stage with the lower rate.
    pub bottleneck: String,
}

impl Throughput {
    pub fn from_stages(images: usize, preprocess: f64, inference: f64, wall: f64) -> Throughput {
        let rate = |seconds: f64| {
            if seconds > 0.0 {
                images as f64 / seconds
            } else {
                0.0
            }
        };
        let (preprocess_rate, inference_rate) = (rate(preprocess), rate(inference));
        Throughput {
            preprocess_images_per_second: preprocess_rate,
            inference_images_per_second: inference_rate,
            end_to_end_images_per_second: rate(wall),
            bottleneck: if preprocess_rate < inference_rate {
                "preprocess"
            } else {
                "inference"
            }
            .to_string(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Host {
    pub os: String,
    pub arch: String,
    pub cpus: usize,
}

impl Host {
    pub fn current() -> Host {
        Host {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Writes `reports/<model id>/<stem>.<ext>` for every exporter, each file atomically.
pub fn write_reports(dir: &Path, record: &RunRecord, stem: &str) -> std::io::Result<Vec<PathBuf>> {
    let model_dir = dir.join(&record.model_id);
    crate::util::folder::create_folder(&model_dir)?;
    let exporters: [&dyn Exporter; 3] = [&JsonExporter, &MarkdownExporter, &HtmlExporter];
    exporters
        .iter()
        .map(|exporter| {
            let path = model_dir.join(format!("{stem}.{}", exporter.extension()));
            write_bytes_atomically(&path, exporter.render(record).as_bytes())?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_slower_stage_is_named_the_bottleneck() {
        let throughput = Throughput::from_stages(100, 2.0, 5.0, 6.0);
        assert_eq!(throughput.preprocess_images_per_second, 50.0);
        assert_eq!(throughput.inference_images_per_second, 20.0);
        assert_eq!(throughput.bottleneck, "inference");
        assert_eq!(
            Throughput::from_stages(0, 0.0, 0.0, 0.0).end_to_end_images_per_second,
            0.0
        );
    }

    #[test]
    fn nan_outputs_are_said_of_this_pass_in_every_report() {
        let mut record = sample_record();
        let [markdown, html] = [&MarkdownExporter as &dyn Exporter, &HtmlExporter]
            .map(|exporter| exporter.render(&record));
        assert!(!markdown.contains("NaN") && !html.contains("NaN"));
        record.provenance.nan_outputs = 13;
        record.provenance.inferred = 45;
        record.store = Some(StoreInfo {
            database: "/c/zoorepro.sqlite3".into(),
            run_id: 2,
            key: "ab".into(),
            reused: 55,
        });
        let json: serde_json::Value = serde_json::from_str(&JsonExporter.render(&record)).unwrap();
        assert_eq!(json["provenance"]["nan_outputs"], 13);
        for exporter in [&MarkdownExporter as &dyn Exporter, &HtmlExporter] {
            let text = exporter.render(&record);
            for needle in [
                "13 of the 45 images inferred in this pass",
                "the 55 images answered by the store are not counted",
            ] {
                assert!(text.contains(needle), "{needle}: {text}");
            }
        }
    }

    /// `sample_record` as a native run's record (`zoorepro.evaluate`) of the caller's model
    /// `name` in `framework`, as src/commands/verify/native.rs writes one.
    pub(crate) fn native_record(framework: &str, name: &str) -> RunRecord {
        let mut record = sample_record();
        record.onnx = OnnxInfo {
            path: format!("native:{name}"),
            sha256: "ab".repeat(32),
            verification: "native".into(),
            manifest_sha256: None,
            sidecar: Some(serde_json::json!({"native": {
                "framework": framework, "name": name, "checkpoint_sha256": "ab".repeat(32)}})),
            io_names: None,
            like: None,
        };
        let p = &mut record.provenance;
        p.provider = format!("native ({framework})");
        (p.ort_version, p.ort_library, p.ort_library_sha256) = Default::default();
        p.graph_optimization_level = String::new();
        p.deterministic_compute = false;
        record
    }

    pub(crate) fn sample_record() -> RunRecord {
        RunRecord {
            model_id: "coral/mobilenet_v2_1.0_224_quant".into(),
            onnx: OnnxInfo {
                path: "models/m.onnx".into(),
                sha256: "91a9".into(),
                verification: "verified".into(),
                manifest_sha256: Some("91a9".into()),
                sidecar: None,
                io_names: None,
                like: None,
            },
            recipe: RecipeInfo {
                name: "torchvision".into(),
                pillow_compat: "13".into(),
                definition: crate::image::recipe::preset("torchvision").unwrap(),
            },
            dataset: DatasetInfo {
                path: "/data/val".into(),
                layout: "image-folder".into(),
                image_set_sha256: "abcd".into(),
                image_set_content_sha256: None,
                image_set_name: Some("imagenet-sample-100".into()),
                scored_classes: None,
                unlabelled: 0,
                ground_truth: None,
                ignored_files: 1,
                skipped: Vec::new(),
                archive_end: None,
            },
            images: 100,
            evaluated: 99,
            failed: 1,
            top1_correct: 72,
            top5_correct: 93,
            top1: Some(72.0),
            top5: Some(93.0),
            top1_interval: percent_interval(72, 100),
            top5_interval: percent_interval(93, 100),
            references: vec![ReferenceResult {
                source: "oracle".into(),
                top1: 72.0,
                top5: Some(93.0),
                delta_top1: 0.0,
                delta_top5: Some(0.0),
                expected: true,
                recipe: Some("torchvision".into()),
                note: "a | note".into(),
                origin: crate::eval::trust::ReferenceOrigin::BuiltIn,
                identity: Some(crate::eval::trust::Identity::Content),
            }],
            verdict: Verdict {
                status: VerdictStatus::Reproduced,
                tolerance: 0.1,
                expected_source: Some("oracle".into()),
                summary: "reproduced".into(),
                marks: Vec::new(),
            },
            image_set: None,
            per_class: [(1u16, 2, 1, 2), (65, 3, 0, 1), (999, 1, 1, 1)]
                .into_iter()
                .map(|(class, images, top1, top5)| ClassAccuracy {
                    class,
                    wnid: crate::dataset::labels::wnid(class).into(),
                    name: crate::dataset::labels::class_name(class).into(),
                    images,
                    top1_correct: top1,
                    top5_correct: top5,
                    top1_interval: None,
                })
                .collect(),
            store: None,
            failures: vec![Failure {
                file: "bad.JPEG".into(),
                error: "truncated".into(),
            }],
            provenance: Provenance {
                tool_version: "0.1.0".into(),
                command_line: vec!["zoorepro".into(), "verify".into()],
                home: "/home/me/zoorepro".into(),
                ort_version: "1.32.0".into(),
                ort_library: "/lib/libonnxruntime.so".into(),
                ort_library_sha256: "00ab".into(),
                provider: "cpu".into(),
                threads: 2,
                batch: 32,
                graph_optimization_level: "all".into(),
                deterministic_compute: true,
                pillow_compat: "13".into(),
                started_at: "2026-11-22T00:00:00Z".into(),
                finished_at: "2026-11-22T00:00:10Z".into(),
                seconds: 10.0,
                images_per_second: 10.0,
                inferred: 100,
                nan_outputs: 0,
                throughput: Throughput::from_stages(100, 2.0, 5.0, 10.0),
                decodes: 0,
                models_in_pass: 1,
                host: Host::current(),
            },
        }
    }
}
