//! `zoorepro preprocess`: the exact float32 tensors a recipe produces, stacked into one `.npy`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;

use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;

/// The most tensor bytes preprocessed at a time before they are written.
const CHUNK_BYTES: usize = 256 << 20;

/// Preprocess `images` with `recipe` (decoding on `threads` threads, or every core), stack them
/// in argument order into an `[N, ...sample shape]` float32 array and write it to `out`. An
/// unreadable image fails the whole command, with the file named; with `skip_failed` it is left
/// out of the array instead and returned with its error, the others written in order. Returns
/// the number written and the images skipped.
pub fn write_tensors(
    images: &[PathBuf],
    recipe: &Recipe,
    compat: PillowCompat,
    out: &Path,
    threads: Option<usize>,
    skip_failed: bool,
) -> anyhow::Result<(usize, Vec<(PathBuf, anyhow::Error)>)> {
    recipe
        .validate()
        .map_err(|e| anyhow::anyhow!("recipe {}: {e}", recipe.name))?;
    let sample_len = recipe.sample_len();
    let pool = crate::eval::pipeline::decode_pool(threads)?;
    // A few images per thread at a time, and never more than CHUNK_BYTES of tensors: a large
    // recipe (4096 x 4096 is 201 MB an image) over many images is written as it is made.
    let per_chunk =
        (CHUNK_BYTES / (sample_len * 4).max(1)).clamp(1, pool.current_num_threads() * 4);
    let mut skipped = Vec::new();
    let sample_shape = recipe.sample_shape();
    let mut failure = None;
    let written = crate::npy::write_f32_samples(out, &sample_shape, images.len(), |push| {
        let mut data = vec![0f32; per_chunk * sample_len];
        for paths in images.chunks(per_chunk) {
            let outcomes = pool.install(|| preprocess_chunk(paths, recipe, compat, &mut data));
            for ((outcome, path), sample) in
                outcomes.into_iter().zip(paths).zip(data.chunks(sample_len))
            {
                match outcome {
                    Ok(()) => push(sample)?,
                    Err(e) if skip_failed => skipped.push((path.clone(), e)),
                    Err(e) => {
                        failure = Some(e);
                        return Err(std::io::Error::other("stopped at a failed image"));
                    }
                }
            }
        }
        Ok(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let written = written.with_context(|| format!("cannot write {}", out.display()))?;
    Ok((written, skipped))
}

/// Preprocesses `paths` in parallel into the first samples of `data`, one outcome each.
fn preprocess_chunk(
    paths: &[PathBuf],
    recipe: &Recipe,
    compat: PillowCompat,
    data: &mut [f32],
) -> Vec<anyhow::Result<()>> {
    data.par_chunks_mut(recipe.sample_len())
        .zip(paths)
        .map(|(sample, path)| -> anyhow::Result<()> {
            // The buffer is reused from chunk to chunk: each sample starts as a fresh one does.
            sample.fill(0.0);
            let bytes = crate::util::safe_file::read_regular(
                path,
                crate::dataset::MAX_IMAGE_BYTES,
                "an image file",
            )?;
            crate::image::pipelines::preprocess(&bytes, &[(recipe, compat)], &mut [sample])
                .remove(0)
                .with_context(|| format!("cannot preprocess {}", path.display()))
        })
        .collect()
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
    let mut inputs = crate::util::clobber::Protected::new();
    for image in &args.images {
        inputs.file(image, format!("the image {}", image.display()));
    }
    inputs.check(&args.out, "the tensors")?;
    let (count, skipped) = write_tensors(
        &args.images,
        &recipe,
        args.pillow_compat.into(),
        &args.out,
        args.threads,
        args.skip_failed,
    )?;
    for (path, error) in &skipped {
        eprintln!("skipped: {}: {error:#}", path.display());
    }
    eprintln!(
        "wrote {count} x {:?} float32 ({}) to {}{}",
        recipe.sample_shape(),
        recipe.name,
        args.out.display(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped {} (named above)", skipped.len())
        }
    );
    // A skipped image is bad input the caller asked to get past: the tensors are written, and
    // the status still says that not every image made it.
    Ok(if skipped.is_empty() {
        crate::exit::SUCCESS
    } else {
        crate::exit::ERROR
    })
}
