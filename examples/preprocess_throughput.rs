//! Preprocessing throughput on ONE core, in-process: JPEG decode, then resample + crop +
//! normalise, per recipe, with the images already in memory (so neither the disk, process start
//! nor writing tensors is measured). Prints one JSON object per recipe on stdout; asserts nothing.
//! `scripts/bench/bench_verify.sh` runs it.
//!
//! Fields: `images_per_second` / `ms_per_image` for the whole preprocessing as verify runs it;
//! `decode_ms_per_image`, a whole-picture decode; `part_decode_ms_per_image`, the decode of only
//! the part of each picture the recipe reads (what verify does); `resample_normalise_ms_per_image`,
//! the rest, from whole decoded pictures.
//!
//! With `--threads T` (T > 1) it also prints `threads_images_per_second`: the same work on T
//! threads at once (a rayon pool, each image on one thread), what the machine gives T cores of
//! in-process preprocessing (`scripts/bench/bench_loader.py` sets it beside the Loader's rate).
//!
//! Usage: cargo run --release --example preprocess_throughput -- [--rounds N] [--threads T]
//!        [--pillow-compat 12|13|simd] (--recipe PRESET | --model ID)... IMAGE...
//! `--model` takes a manifest id and uses its default recipe (manifests are found as the CLI
//! finds them: $ZOOREPRO_HOME, else the current directory or a parent holding `manifests/`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use rayon::prelude::*;
use zoorepro::image::pipelines::{PillowCompat, preprocess};
use zoorepro::image::raster::Placement;
use zoorepro::image::recipe::Recipe;

fn main() -> anyhow::Result<()> {
    let mut rounds = 5usize;
    let mut threads = 1usize;
    let mut compat = PillowCompat::V13;
    let mut recipes: Vec<(String, Recipe)> = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .context("--rounds needs a number")?
                    .parse()
                    .context("--rounds needs a number")?;
            }
            "--threads" => {
                threads = args
                    .next()
                    .context("--threads needs a number")?
                    .parse()
                    .context("--threads needs a number")?;
            }
            "--pillow-compat" => {
                let name = args
                    .next()
                    .context("--pillow-compat needs 12, 13 or simd")?;
                compat = *PillowCompat::ALL
                    .iter()
                    .find(|c| c.name() == name)
                    .with_context(|| format!("--pillow-compat {name:?}: 12, 13 or simd"))?;
            }
            "--recipe" => {
                let name = args.next().context("--recipe needs a preset name")?;
                let recipe = zoorepro::image::recipe::preset(&name)
                    .with_context(|| format!("{name:?} is not a recipe preset"))?;
                recipes.push((name, recipe));
            }
            "--model" => {
                let id = args.next().context("--model needs a manifest id")?;
                let home = zoorepro::model::home::find_home(None)?.dir;
                let manifests = zoorepro::model::manifest::load_all(&home.join("manifests"))?;
                let recipe = zoorepro::model::manifest::resolve(&manifests, &id)?.recipe(None)?;
                recipes.push((id, recipe));
            }
            _ => files.push(PathBuf::from(arg)),
        }
    }
    if recipes.is_empty() || files.is_empty() || rounds == 0 || threads == 0 {
        bail!(
            "usage: preprocess_throughput [--rounds N] [--threads T] [--pillow-compat 12|13|simd] \
             (--recipe PRESET | --model ID)... IMAGE..."
        );
    }
    let images = files
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let per_image = |elapsed: f64| elapsed / (rounds * images.len()) as f64;
    // Decoded once untimed (for the resample-only figure), which also warms the caches for the
    // decode-only figure.
    let decoded = images
        .iter()
        .map(|b| zoorepro::image::pipelines::pillow::decode::decode_rgb(b))
        .collect::<Result<Vec<_>, _>>()?;

    let start = Instant::now();
    for _ in 0..rounds {
        for bytes in &images {
            std::hint::black_box(zoorepro::image::pipelines::pillow::decode::decode_rgb(
                bytes,
            )?);
        }
    }
    let decode_s = per_image(start.elapsed().as_secs_f64());

    for (label, recipe) in &recipes {
        let pipeline = recipe.library.pipeline();
        let mut out = vec![0f32; recipe.sample_len()];
        let start = Instant::now();
        for _ in 0..rounds {
            for img in &decoded {
                let whole = Placement::whole(img);
                pipeline.preprocess_part(img, whole, recipe, compat, &mut out);
            }
        }
        let resample_s = per_image(start.elapsed().as_secs_f64());
        let start = Instant::now();
        for _ in 0..rounds {
            for bytes in &images {
                let part = pipeline.decode(bytes, &mut |width, height| {
                    pipeline.source_pixels(width, height, recipe)
                })?;
                std::hint::black_box(part);
            }
        }
        let part_decode_s = per_image(start.elapsed().as_secs_f64());
        let start = Instant::now();
        for _ in 0..rounds {
            for bytes in &images {
                preprocess(bytes, &[(recipe, compat)], &mut [&mut out]).remove(0)?;
            }
        }
        let total_s = per_image(start.elapsed().as_secs_f64());
        let threads_total_s = if threads > 1 {
            Some(per_image(on_threads(
                threads, rounds, &images, recipe, compat,
            )?))
        } else {
            None
        };
        let line = serde_json::json!({
            "recipe": label,
            "pillow_compat": compat.name(),
            "images": images.len(),
            "rounds": rounds,
            "images_per_second": 1.0 / total_s,
            "ms_per_image": total_s * 1e3,
            "decode_ms_per_image": decode_s * 1e3,
            "part_decode_ms_per_image": part_decode_s * 1e3,
            "resample_normalise_ms_per_image": resample_s * 1e3,
            "threads": threads,
            "threads_images_per_second": threads_total_s.map(|s| 1.0 / s),
        });
        println!("{line}");
    }
    Ok(())
}

/// Seconds of wall time for `rounds` passes over `images` on a pool of `threads`.
fn on_threads(
    threads: usize,
    rounds: usize,
    images: &[Vec<u8>],
    recipe: &Recipe,
    compat: PillowCompat,
) -> anyhow::Result<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let start = Instant::now();
    pool.install(|| {
        (0..rounds)
            .flat_map(|_| images.iter())
            .collect::<Vec<_>>()
            .par_iter()
            .map_init(
                || vec![0f32; recipe.sample_len()],
                |out, bytes| preprocess(bytes, &[(recipe, compat)], &mut [out]).remove(0),
            )
            .collect::<Result<Vec<_>, _>>()
    })?;
    Ok(start.elapsed().as_secs_f64())
}
