//! What a run records beyond its key: where its predictions came from, typed, so that a renamed
//! field fails to compile instead of silently dropping provenance. Stored as `runs.meta_json`.
//!
//! A part that was not recorded (an old run, or a run made by another version) is `None`, never
//! an empty string or a zero.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RunKind;
use crate::image::recipe::Recipe;

/// The version of this layout, written into every run's metadata.
pub const RUN_META_SCHEMA: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub schema: u32,
    /// The model's framework, as its manifest names it.
    pub framework: Option<String>,
    /// The zoorepro version that made the run.
    pub tool_version: Option<String>,
    pub origin: RunOrigin,
}

/// How the predictions were made: by `verify` (or `merge`), or imported.
// One per run read from the store, never in bulk: the few hundred bytes a verify's metadata
// takes beside an import's are not worth a box at every construction and match.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RunOrigin {
    Verify(VerifyMeta),
    Import(ImportMeta),
}

/// What `merge` needs to report a run assembled from shards as `verify` reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyMeta {
    pub onnx: Option<OnnxMeta>,
    pub recipe: Option<RecipeMeta>,
    pub dataset: Option<DatasetMeta>,
    pub ort_library: Option<String>,
    /// The sha256 of that library file (runs stored before it was recorded have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ort_library_sha256: Option<String>,
    pub threads: Option<usize>,
}

/// The ONNX file evaluated (the same fields as the run record's `onnx`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnnxMeta {
    pub path: String,
    pub sha256: String,
    pub verification: String,
    pub manifest_sha256: Option<String>,
    pub sidecar: Option<Value>,
    /// The graph's input and output names, as evaluated; absent in runs stored before any name
    /// was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_names: Option<IoNames>,
    /// `verify --like`: the known model whose recipes and references judged this user's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub like: Option<LikeInfo>,
}

/// A model run natively by its caller (`zoorepro.evaluate`), as its record's
/// `onnx.sidecar.native` says it: no ONNX file, the caller's framework, name and checkpoint digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeMeta {
    pub framework: Option<String>,
    pub name: String,
    pub checkpoint_sha256: Option<String>,
}

impl NativeMeta {
    /// What ran, where a record's `onnx` (`path`, `verification`, `sidecar`) names a native run:
    /// verification `native`, the sidecar's fields (the name from `native:NAME` where the sidecar
    /// cannot be read).
    pub fn of(path: &str, verification: &str, sidecar: Option<&Value>) -> Option<NativeMeta> {
        if verification != "native" {
            return None;
        }
        let parsed = sidecar
            .and_then(|sidecar| sidecar.get("native"))
            .and_then(|native| serde_json::from_value(native.clone()).ok());
        Some(parsed.unwrap_or_else(|| NativeMeta {
            framework: None,
            name: path.strip_prefix("native:").unwrap_or(path).to_string(),
            checkpoint_sha256: None,
        }))
    }

    /// `native (torch)`, or `native` where no framework was named: the provider a native
    /// run's record gives.
    pub fn provider(&self) -> String {
        match &self.framework {
            Some(framework) => format!("native ({framework})"),
            None => "native".into(),
        }
    }
}

impl OnnxMeta {
    /// The native model this run's record names in place of an ONNX file, if it is one.
    pub fn native(&self) -> Option<NativeMeta> {
        NativeMeta::of(&self.path, &self.verification, self.sidecar.as_ref())
    }
}

/// The names of a model's one input and one output, as its graph gives them: any names are
/// accepted, so the record says which were fed and read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoNames {
    pub input: String,
    pub output: String,
}

/// A user's export evaluated with `--like ID`: the file is the user's (its sha256 is the
/// record's, never the known model's pin), judged by the known model's recipes and references.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LikeInfo {
    /// The known model's manifest id.
    pub model: String,
    /// The sha256 the known model's manifest pins, if any: the file evaluated is not checked
    /// against it.
    pub known_sha256: Option<String>,
    /// In words, for every report.
    pub note: String,
}

/// The recipe evaluated (the same fields as the run record's `recipe`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecipeMeta {
    pub name: String,
    pub pillow_compat: String,
    pub definition: Recipe,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    pub path: Option<String>,
    /// `Dataset::kind().name()`: image-folder, flat, tar...
    pub layout: Option<String>,
    /// The `--ground-truth` file that labelled the images, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<Box<crate::dataset::GroundTruthInfo>>,
}

/// Where an imported run's files came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportMeta {
    /// The project the files belong to (benchmarking-keras-pytorch).
    pub source: Option<String>,
    pub preds: Option<SourceFile>,
    pub probs: Option<SourceFile>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceFile {
    pub path: Option<String>,
    pub sha256: Option<String>,
    /// The `.npy` dtype as stored (`<f4`, `<f2`), where it matters.
    pub dtype: Option<String>,
}

impl RunMeta {
    /// Metadata with only the origin's kind known.
    pub fn unknown(kind: RunKind) -> RunMeta {
        RunMeta {
            schema: RUN_META_SCHEMA,
            framework: None,
            tool_version: None,
            origin: match kind {
                RunKind::Verify => RunOrigin::Verify(VerifyMeta::default()),
                RunKind::Import => RunOrigin::Import(ImportMeta::default()),
            },
        }
    }

    /// The typed form of the untyped JSON stores before version 4 wrote (with `json!`): what
    /// is there is kept, what is missing or of another type becomes `None`.
    pub fn from_legacy(kind: RunKind, old: &Value) -> RunMeta {
        let text = |value: &Value| value.as_str().map(str::to_string);
        let origin = match kind {
            RunKind::Verify => RunOrigin::Verify(VerifyMeta {
                onnx: serde_json::from_value(old["onnx"].clone()).ok(),
                recipe: serde_json::from_value(old["recipe"].clone()).ok(),
                dataset: old["dataset"].is_object().then(|| DatasetMeta {
                    path: text(&old["dataset"]["path"]),
                    layout: text(&old["dataset"]["layout"]),
                    ground_truth: None,
                }),
                ort_library: text(&old["ort_library"]),
                ort_library_sha256: None,
                threads: old["threads"].as_u64().map(|n| n as usize),
            }),
            RunKind::Import => {
                let file = |part: &Value| {
                    part.is_object().then(|| SourceFile {
                        path: text(&part["path"]),
                        sha256: text(&part["sha256"]),
                        dtype: text(&part["dtype"]),
                    })
                };
                RunOrigin::Import(ImportMeta {
                    source: text(&old["source"]),
                    preds: file(&old["preds"]),
                    probs: file(&old["probs"]),
                })
            }
        };
        RunMeta {
            schema: RUN_META_SCHEMA,
            framework: text(&old["framework"]),
            tool_version: text(&old["tool_version"]),
            origin,
        }
    }

    /// The model run natively (the Python `zoorepro.evaluate`: its framework and `name=`) that
    /// this run's record names in place of an ONNX file; `None` for an ONNX file's run or an import.
    pub fn native(&self) -> Option<NativeMeta> {
        self.verify()?.onnx.as_ref()?.native()
    }

    pub fn verify(&self) -> Option<&VerifyMeta> {
        match &self.origin {
            RunOrigin::Verify(verify) => Some(verify),
            RunOrigin::Import(_) => None,
        }
    }

    pub fn import(&self) -> Option<&ImportMeta> {
        match &self.origin {
            RunOrigin::Import(import) => Some(import),
            RunOrigin::Verify(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_verify_metadata_keeps_its_values_and_names_what_is_missing() {
        let recipe = crate::image::recipe::preset("torchvision").unwrap();
        let old = serde_json::json!({
            "framework": "pytorch",
            "onnx": {"path": "m.onnx", "sha256": "ab", "verification": "unpinned",
                     "manifest_sha256": null, "sidecar": null},
            "recipe": {"name": "torchvision", "pillow_compat": "13", "definition": recipe},
            "dataset": {"path": "/val", "layout": "image-folder"},
            "ort_library": "/lib/libonnxruntime.so",
            "threads": 4,
            "tool_version": "0.1.0",
        });
        let meta = RunMeta::from_legacy(RunKind::Verify, &old);
        assert_eq!(meta.framework.as_deref(), Some("pytorch"));
        let verify = meta.verify().unwrap();
        assert_eq!(verify.onnx.as_ref().unwrap().sha256, "ab");
        assert_eq!(verify.recipe.as_ref().unwrap().definition, recipe);
        let dataset = verify.dataset.as_ref().unwrap();
        assert_eq!(dataset.path.as_deref(), Some("/val"));
        assert_eq!(verify.threads, Some(4));

        let empty = RunMeta::from_legacy(RunKind::Verify, &serde_json::json!({}));
        assert_eq!(empty, RunMeta::unknown(RunKind::Verify));
    }

    #[test]
    fn legacy_import_metadata_keeps_the_dtype() {
        let old = serde_json::json!({
            "framework": "keras", "source": "benchmarking-keras-pytorch",
            "preds": {"path": "p.npy", "sha256": "01"},
            "probs": {"path": "q.npy", "sha256": "02", "dtype": "<f2"},
        });
        let meta = RunMeta::from_legacy(RunKind::Import, &old);
        let import = meta.import().unwrap();
        assert_eq!(import.preds.as_ref().unwrap().dtype, None);
        assert_eq!(import.probs.as_ref().unwrap().dtype.as_deref(), Some("<f2"));
        let text = serde_json::to_string(&meta).unwrap();
        assert_eq!(serde_json::from_str::<RunMeta>(&text).unwrap(), meta);
    }
}
