//! `zoorepro preprocess`: the exact float32 tensors a recipe produces, stacked into one `.npy`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;

use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;

/// Preprocess `images` with `recipe` (decoding on `threads` threads, or every core), stack them
/// in argument order into an `[N, ...sample shape]` float32 array and write it to `out`. Returns
/// N. An unreadable image fails the whole command, with the file named.
pub fn write_tensors(
    images: &[PathBuf],
    recipe: &Recipe,
    compat: PillowCompat,
    out: &Path,
    threads: Option<usize>,
) -> anyhow::Result<usize> {
    recipe
        .validate()
        .map_err(|e| anyhow::anyhow!("recipe {}: {e}", recipe.name))?;
    let sample_len = recipe.sample_len();
    let mut data = vec![0f32; images.len() * sample_len];
    crate::eval::pipeline::decode_pool(threads)?.install(|| {
        data.par_chunks_mut(sample_len).zip(images).try_for_each(
            |(sample, path)| -> anyhow::Result<()> {
                let bytes = crate::util::safe_file::read_regular(
                    path,
                    crate::dataset::MAX_IMAGE_BYTES,
                    "an image file",
                )?;
                crate::image::pipelines::preprocess(&bytes, &[(recipe, compat)], &mut [sample])
                    .remove(0)
                    .with_context(|| format!("cannot preprocess {}", path.display()))
            },
        )
    })?;
    let mut shape = vec![images.len()];
    shape.extend(recipe.sample_shape());
    crate::npy::write_f32(out, &shape, &data)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(images.len())
}

/// `zoorepro preprocess`: resolves the recipe (for a manifest's model, or a preset or source by
/// itself) and writes the tensors.
pub fn run(ctx: &super::Context, args: &crate::cli::PreprocessArgs) -> anyhow::Result<i32> {
    let recipe = match &args.model {
        Some(model) => {
            let home = ctx.home()?;
            let manifests = ctx.manifests(&home)?;
            crate::model::manifest::resolve(&manifests, model)?.recipe(args.recipe.as_deref())?
        }
        None => crate::image::sources::resolve(args.recipe.as_deref().unwrap_or_default())?,
    };
    let count = write_tensors(
        &args.images,
        &recipe,
        args.pillow_compat.into(),
        &args.out,
        args.threads,
    )?;
    eprintln!(
        "wrote {count} x {:?} float32 ({}) to {}",
        recipe.sample_shape(),
        recipe.name,
        args.out.display()
    );
    Ok(crate::exit::SUCCESS)
}
