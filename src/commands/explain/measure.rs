//! Runs every candidate on the sample: each image decoded once and fanned out to every distinct
//! tensor (candidates that resize alike share the resize), each tensor run through the model
//! once, and each candidate's top-5 ranked from its tensor's scores with its label offset.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::eval::determinism::Chosen;
use crate::eval::explain::Candidate;
use crate::eval::prediction::Content;
use crate::eval::rank::{Ranked, TOP_K, top_k, top_k_among};
use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;
use crate::runtime::Classifier;

/// Images decoded and run per step, at most: bounds the tensors held at once (chunk × distinct
/// tensors), with CHUNK_BYTES.
const CHUNK: usize = 8;
/// The most tensor bytes held for a step; a single image's may not exceed IMAGE_BYTES.
const CHUNK_BYTES: usize = 512 << 20;
const IMAGE_BYTES: usize = 2 << 30;
const LABELS: usize = 1000;

/// One image's tensors, one per distinct tensor, and whether each could be prepared.
struct Prepared {
    tensors: Vec<f32>,
    outcomes: Vec<Result<(), String>>,
}

/// What the sample gave: per image, its content and each candidate's top-5 (`None`: failed).
pub struct Measured {
    pub contents: Vec<Option<Content>>,
    pub top5: Vec<Vec<Option<[u16; TOP_K]>>>,
    /// Why each image some candidate could not prepare failed, by file.
    pub failures: Vec<(String, String)>,
    /// Distinct tensors among the candidates.
    pub tensors: usize,
    pub preprocess_time: Duration,
    pub inference_time: Duration,
    /// Threads the images were decoded with (`preprocess_time` is their wall time).
    pub decode_threads: usize,
}

/// For each candidate, the index of its tensor among the distinct ones, and one candidate per
/// distinct tensor.
fn distinct_tensors(candidates: &[Candidate]) -> (Vec<usize>, Vec<&Candidate>) {
    let mut distinct: Vec<&Candidate> = Vec::new();
    let tensor_of = candidates
        .iter()
        .map(|candidate| {
            distinct
                .iter()
                .position(|d| d.same_tensor(candidate))
                .unwrap_or_else(|| {
                    distinct.push(candidate);
                    distinct.len() - 1
                })
        })
        .collect();
    (tensor_of, distinct)
}

pub fn measure(
    chosen: &[Chosen],
    candidates: &[Candidate],
    model: &mut dyn Classifier,
    batch: usize,
    class_subset: Option<&[u16]>,
    decode_pool: &rayon::ThreadPool,
    mut on_progress: impl FnMut(usize),
) -> anyhow::Result<Measured> {
    let (tensor_of, distinct) = distinct_tensors(candidates);
    let preparations: Vec<_> = distinct.iter().map(|c| (&c.recipe, c.compat)).collect();
    let shape = distinct[0].recipe.sample_shape();
    let sample_len = distinct[0].recipe.sample_len();
    let mut measured = Measured {
        contents: Vec::with_capacity(chosen.len()),
        top5: Vec::with_capacity(chosen.len()),
        failures: Vec::new(),
        tensors: distinct.len(),
        preprocess_time: Duration::ZERO,
        inference_time: Duration::ZERO,
        decode_threads: decode_pool.current_num_threads(),
    };
    let per_image = images_at_once(distinct.len(), sample_len, shape)?;
    let chunk_images = (CHUNK_BYTES / per_image).clamp(1, CHUNK);
    for chunk in chosen.chunks(chunk_images) {
        let started = Instant::now();
        let prepared = decode_pool.install(|| prepare(chunk, &preparations, sample_len));
        measured.preprocess_time += started.elapsed();
        let started = Instant::now();
        // rows[t][i]: the row of image i in tensor t's scores, where it could be prepared.
        let mut rows_of: Vec<Vec<Option<usize>>> = Vec::with_capacity(distinct.len());
        let mut scores: Vec<(usize, Vec<f32>)> = Vec::with_capacity(distinct.len());
        for t in 0..distinct.len() {
            let mut input = Vec::with_capacity(chunk.len() * sample_len);
            let mut rows = vec![None; chunk.len()];
            for (i, image) in prepared.iter().enumerate() {
                if image.outcomes[t].is_ok() {
                    rows[i] = Some(input.len() / sample_len);
                    input.extend_from_slice(&image.tensors[t * sample_len..(t + 1) * sample_len]);
                }
            }
            let samples = input.len() / sample_len;
            scores.push(classify_in_batches(model, &input, samples, shape, batch)?);
            rows_of.push(rows);
        }
        measured.inference_time += started.elapsed();
        for (i, (entry, bytes)) in chunk.iter().enumerate() {
            measured
                .contents
                .push(bytes.as_ref().ok().map(|b| Content::of(b)));
            if let Some(Err(error)) = prepared[i].outcomes.iter().find(|o| o.is_err()) {
                measured.failures.push((entry.file.clone(), error.clone()));
            }
            let top5 = candidates
                .iter()
                .zip(&tensor_of)
                .map(|(candidate, &t)| {
                    let (classes, rows) = &scores[t];
                    let k = rows_of[t][i]?;
                    let row = &rows[k * classes..(k + 1) * classes];
                    let end = (candidate.label_offset + LABELS).min(row.len());
                    let row = &row[candidate.label_offset.min(end)..end];
                    Some(rank_row(row, class_subset).classes)
                })
                .collect();
            measured.top5.push(top5);
        }
        on_progress(chunk.len());
    }
    Ok(measured)
}

/// One image's bytes of distinct tensors, refused above IMAGE_BYTES.
fn images_at_once(tensors: usize, sample_len: usize, shape: [usize; 3]) -> anyhow::Result<usize> {
    let per_image = tensors * sample_len * size_of::<f32>();
    if per_image > IMAGE_BYTES {
        anyhow::bail!(
            "the {tensors} distinct tensors of the candidates at {shape:?} take {:.1} GiB an \
             image, more than the {} GiB explain holds: pass --no-sources to try the presets only",
            per_image as f64 / f64::from(1u32 << 30),
            IMAGE_BYTES >> 30
        );
    }
    Ok(per_image)
}

/// Every distinct tensor of each image of `chunk`, the images in parallel, each decoded once.
fn prepare(
    chunk: &[Chosen],
    preparations: &[(&Recipe, PillowCompat)],
    sample_len: usize,
) -> Vec<Prepared> {
    chunk
        .par_iter()
        .map(|(_, bytes)| {
            let mut tensors = vec![0f32; sample_len * preparations.len()];
            let outcomes = match bytes {
                Ok(bytes) => {
                    let mut outs: Vec<&mut [f32]> = tensors.chunks_exact_mut(sample_len).collect();
                    let outcomes =
                        crate::image::pipelines::preprocess(bytes, preparations, &mut outs);
                    outcomes
                        .into_iter()
                        .map(|outcome| outcome.map_err(|e| e.to_string()))
                        .collect()
                }
                Err(error) => vec![Err(error.clone()); preparations.len()],
            };
            Prepared { tensors, outcomes }
        })
        .collect()
}

/// A row's top-5 among the set's classes (ImageNet-A, -R) where it has them all, else among all.
fn rank_row(row: &[f32], class_subset: Option<&[u16]>) -> Ranked {
    match class_subset {
        // Subsets are ascending: the last class is the largest.
        Some(classes) if classes.last().is_some_and(|&c| usize::from(c) < row.len()) => {
            top_k_among(row, classes)
        }
        _ => top_k(row),
    }
}

/// Runs `samples` stacked samples in batches of at most `batch`; returns (classes, scores).
fn classify_in_batches(
    model: &mut dyn Classifier,
    input: &[f32],
    samples: usize,
    shape: [usize; 3],
    batch: usize,
) -> anyhow::Result<(usize, Vec<f32>)> {
    let sample_len = shape.iter().product::<usize>();
    let mut scores = Vec::new();
    let mut classes = 0;
    for start in (0..samples).step_by(batch.max(1)) {
        let n = batch.min(samples - start);
        classes = model.classify(
            &input[start * sample_len..(start + n) * sample_len],
            n,
            shape,
            &mut scores,
        )?;
    }
    Ok((classes, scores))
}
