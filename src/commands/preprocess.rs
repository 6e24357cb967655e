//! `zoorepro preprocess`: the exact float32 tensors a recipe produces, stacked into one `.npy`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;

use crate::preprocess::preprocess_bytes;
use crate::recipe::Recipe;
use crate::resample::PillowCompat;

/// Preprocess `images` with `recipe` (decoding in parallel), stack them in argument order into
/// an `[N, ...sample shape]` float32 array and write it to `out`. Returns N. An unreadable image
/// fails the whole command, with the file named.
pub fn write_tensors(
    images: &[PathBuf],
    recipe: &Recipe,
    compat: PillowCompat,
    out: &Path,
) -> anyhow::Result<usize> {
    recipe
        .validate()
        .map_err(|e| anyhow::anyhow!("recipe {}: {e}", recipe.name))?;
    let sample_len = recipe.sample_len();
    let mut data = vec![0f32; images.len() * sample_len];
    data.par_chunks_mut(sample_len).zip(images).try_for_each(
        |(sample, path)| -> anyhow::Result<()> {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            preprocess_bytes(&bytes, recipe, compat, sample)
                .with_context(|| format!("cannot preprocess {}", path.display()))
        },
    )?;
    let mut shape = vec![images.len()];
    shape.extend(recipe.sample_shape());
    crate::npy::write_f32(out, &shape, &data)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(images.len())
}
