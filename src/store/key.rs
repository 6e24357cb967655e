//! The run key: everything that can change a prediction, and its digest (the run's identity).

use serde::{Deserialize, Serialize};

use crate::image::recipe::Recipe;
use crate::image::resample::PillowCompat;
use crate::util::hex::sha256_hex;

/// Everything that can change a prediction. Two runs with equal keys must give equal rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunKey {
    /// "verify" or "import".
    pub kind: String,
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
            kind: "verify".into(),
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
        }
    }

    /// The same key for one shard of a partitioned run.
    pub fn with_shard(mut self, shard: Option<crate::dataset::Shard>) -> RunKey {
        self.shard = shard.map(|s| (s.index, s.count));
        self
    }

    /// sha256 of the key's JSON (fields in declaration order): the run's stable identity.
    pub fn digest(&self) -> String {
        sha256_hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}
