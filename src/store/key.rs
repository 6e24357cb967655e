//! The run key: everything that can change a prediction, and its digest (the run's identity).

use serde::{Deserialize, Serialize};

use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;
use crate::util::hex::sha256_hex;

/// How a run's predictions were made. Serialized as the lowercase name, as the key's string
/// field was before, so that every stored key keeps its digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// Evaluated by `verify` (or merged from its shards).
    Verify,
    /// Imported whole (`import-seed`).
    Import,
}

impl RunKind {
    pub fn name(self) -> &'static str {
        match self {
            RunKind::Verify => "verify",
            RunKind::Import => "import",
        }
    }

    /// The kind named `name` in the store's `runs.kind` column.
    pub fn from_name(name: &str) -> Option<RunKind> {
        [RunKind::Verify, RunKind::Import]
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// Everything that can change a prediction. Two runs with equal keys must give equal rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunKey {
    pub kind: RunKind,
    pub model_id: String,
    pub onnx_sha256: String,
    pub recipe: String,
    pub recipe_sha256: String,
    pub pillow_compat: String,
    pub ort_version: String,
    pub provider: String,
    pub opt_level: String,
    pub batch: usize,
    pub shard: Option<(u32, u32)>,
    /// Imports: the digest of the imported files.
    pub source_sha256: Option<String>,
    /// The class subset that competed (`imagenet-r-200`); absent, and so out of the digest of
    /// every key made before subsets existed, when all classes did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_subset: Option<String>,
    /// The sha256 of the `--ground-truth` file that labelled the images; absent, and so out of
    /// the digest of every key made without one, when the layout labelled them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth_sha256: Option<String>,
}

impl RunKey {
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        model_id: &str,
        onnx_sha256: &str,
        recipe: &Recipe,
        compat: PillowCompat,
        ort_version: &str,
        provider: &str,
        opt_level: &str,
        batch: usize,
    ) -> RunKey {
        RunKey {
            kind: RunKind::Verify,
            model_id: model_id.into(),
            onnx_sha256: onnx_sha256.into(),
            recipe: recipe.name.clone(),
            recipe_sha256: sha256_hex(serde_json::to_string(recipe).unwrap_or_default().as_bytes()),
            pillow_compat: compat.name().into(),
            ort_version: ort_version.into(),
            provider: provider.into(),
            opt_level: opt_level.into(),
            batch,
            shard: None,
            source_sha256: None,
            class_subset: None,
            ground_truth_sha256: None,
        }
    }

    /// The same key for one shard of a partitioned run.
    pub fn with_shard(mut self, shard: Option<crate::dataset::Shard>) -> RunKey {
        self.shard = shard.map(|s| (s.index, s.count));
        self
    }

    /// The same key scored among `subset`'s classes only.
    pub fn with_class_subset(mut self, subset: Option<&str>) -> RunKey {
        self.class_subset = subset.map(str::to_string);
        self
    }

    /// The same key labelled by a `--ground-truth` file of this sha256.
    pub fn with_ground_truth(mut self, sha256: Option<&str>) -> RunKey {
        self.ground_truth_sha256 = sha256.map(str::to_string);
        self
    }

    /// sha256 of the key's JSON (fields in declaration order): the run's stable identity.
    pub fn digest(&self) -> String {
        sha256_hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Digests of keys as the key with a string `kind` wrote them: a run made before `RunKind`
    /// must be found again.
    #[test]
    fn digests_are_those_of_the_string_kind() {
        let verify = RunKey {
            kind: RunKind::Verify,
            model_id: "coral/mobilenet_v1_0.5_160_quant".into(),
            onnx_sha256: "cf3ce85d5c030d616d859844a75a192fbb3c73ab2ccb903f2752fb20b97fa226".into(),
            recipe: "coral-lanczos-160-nchw".into(),
            recipe_sha256: "881d489eb4fdba4822d3ffaebc9030dba4ff530fbedfad9740b5b5e4e660fc73"
                .into(),
            pillow_compat: "13".into(),
            ort_version: "1.32.0".into(),
            provider: "cpu".into(),
            opt_level: "all".into(),
            batch: 32,
            shard: None,
            source_sha256: None,
            class_subset: None,
            ground_truth_sha256: None,
        };
        // From a version 3 store written by zoorepro 0.1.0 before this type existed.
        assert_eq!(
            verify.digest(),
            "d25f3cdf0da61a6c80ed078ecdb334f392cc44cf0b3ffbc1eb03b92c6b9123ae"
        );
        let import = RunKey {
            kind: RunKind::Import,
            model_id: "keras/resnet50".into(),
            onnx_sha256: String::new(),
            recipe: "keras-caffe".into(),
            recipe_sha256: String::new(),
            pillow_compat: String::new(),
            ort_version: String::new(),
            provider: "keras (benchmarking-keras-pytorch)".into(),
            opt_level: String::new(),
            batch: 0,
            shard: None,
            source_sha256: Some("0123".into()),
            class_subset: None,
            ground_truth_sha256: None,
        };
        assert_eq!(
            serde_json::to_string(&import).unwrap(),
            r#"{"kind":"import","model_id":"keras/resnet50","onnx_sha256":"","recipe":"keras-caffe","recipe_sha256":"","pillow_compat":"","ort_version":"","provider":"keras (benchmarking-keras-pytorch)","opt_level":"","batch":0,"shard":null,"source_sha256":"0123"}"#
        );
        assert_eq!(
            import.digest(),
            "edec223dc85a533aa5d325af9b8bcce9e7084d7d44c4c1f962571657906654ee"
        );
        // Scoring among a subset of the classes is another key.
        let among = verify.clone().with_class_subset(Some("imagenet-r-200"));
        assert_ne!(among.digest(), verify.digest());
        assert!(
            serde_json::to_string(&among)
                .unwrap()
                .ends_with(r#""class_subset":"imagenet-r-200"}"#)
        );
        let sharded = verify.with_shard(Some(crate::dataset::Shard { index: 1, count: 4 }));
        assert!(
            serde_json::to_string(&sharded)
                .unwrap()
                .contains(r#""shard":[1,4]"#)
        );
    }

    #[test]
    fn a_ground_truth_file_is_part_of_the_key_and_none_leaves_it_unchanged() {
        let key = RunKey::verify(
            "coral/m",
            "ab",
            &crate::image::recipe::preset("torchvision").unwrap(),
            PillowCompat::V13,
            "1.32.0",
            "cpu",
            "all",
            32,
        );
        let json = serde_json::to_string(&key).unwrap();
        assert!(!json.contains("ground_truth"), "{json}");
        assert_eq!(key.clone().with_ground_truth(None).digest(), key.digest());
        let labelled = key.clone().with_ground_truth(Some("01ef"));
        assert_ne!(labelled.digest(), key.digest());
        assert_ne!(
            labelled.digest(),
            key.with_ground_truth(Some("02ef")).digest()
        );
    }

    #[test]
    fn kinds_read_back_from_their_names() {
        for kind in [RunKind::Verify, RunKind::Import] {
            assert_eq!(RunKind::from_name(kind.name()), Some(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert_eq!(RunKind::from_name("other"), None);
    }
}
