//! The evaluation pipeline: read -> decode + preprocess (rayon) -> infer -> rank, for one model
//! or several in one pass over the data.
//!
//! Three stages on three threads joined by bounded queues, so the next batch is decoded while
//! the current one runs and memory stays flat whatever the size of `--val`: at most
//! `QUEUE_DEPTH` batches of encoded bytes and `BUFFERS` sets of tensors exist at any time, and
//! the tensor buffers are recycled rather than allocated per batch.
//!
//! Several models (lanes) share the pass: each image is decoded once, each distinct recipe
//! ([`Preparation`]) is computed once per image, and every lane is fed its preparation's tensor.
//! Lanes run one after another on the inference thread, each with all the cores ONNX Runtime was
//! given, so sessions never compete for cores. Memory grows with the number of distinct recipes
//! (`BUFFERS` x batch x sample size each), not with the number of models, plus each model's own
//! weights and one batch of scratch tensor per model.
//!
//! Decoding runs in a pool of its own, sized by [`PassConfig::decode_threads`] (`--threads`, or
//! `--decode-threads`), never in rayon's global pool of every core: each decoding thread holds a
//! decoded image, so the peak memory of hostile or huge images grows with their number, and
//! `--threads 1` must mean one.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use rayon::prelude::*;

use crate::dataset::{DatasetError, Entry, Sample};
use crate::eval::prediction::{Outcome, Prediction};
use crate::eval::rank;
use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;
use crate::runtime::{Classifier, RuntimeError};

const QUEUE_DEPTH: usize = 2;
/// Tensor sets in flight at once; the batch-size memory check counts them.
pub const BUFFERS: usize = QUEUE_DEPTH + 2;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(
        "{file}: {error} (--strict stops at the first unreadable image; without it the image counts as failed)"
    )]
    StrictFailure { file: String, error: String },
    #[error(
        "the model's output has {}, but its manifest declares {expected}",
        crate::eval::classes::count_of_classes(*.got)
    )]
    ClassCount { got: usize, expected: usize },
    #[error("{0}")]
    Sink(String),
    #[error("cannot start {threads} image decoding threads: {reason}")]
    DecodePool { threads: usize, reason: String },
}

/// The thread pool images are decoded in: `threads` threads, or rayon's default (every core, or
/// `RAYON_NUM_THREADS`) when `None`. Every command that decodes in parallel runs its decoding in
/// one, so that `--threads` bounds it (see the module's doc).
pub fn decode_pool(threads: Option<usize>) -> Result<rayon::ThreadPool, PipelineError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .thread_name(|i| format!("zoorepro-decode-{i}"))
        .build()
        .map_err(|e| PipelineError::DecodePool {
            threads: threads.unwrap_or(0),
            reason: e.to_string(),
        })
}

/// What stopped one lane: its model failed (an output of the wrong shape, an inference error).
/// The pass goes on without it; the other lanes are not concerned.
#[derive(Debug, thiserror::Error)]
#[error("{model}: {error}")]
pub struct LaneStopped {
    pub model: String,
    pub error: PipelineError,
}

/// What the pass gave each lane.
#[derive(Debug)]
pub struct PassOutcome {
    pub stats: Vec<PipelineStats>,
    /// Per lane, the error that stopped it, if one did: its predictions stop at the batch before.
    pub stopped: Vec<Option<LaneStopped>>,
}

/// A recipe the pass computes once per image, for every lane that takes it.
#[derive(Clone, Copy)]
pub struct Preparation<'a> {
    pub recipe: &'a Recipe,
    pub compat: PillowCompat,
}

/// One model of the pass and how to feed it.
pub struct Lane<'m> {
    /// Names the model in errors.
    pub name: String,
    pub model: &'m mut dyn Classifier,
    /// Index of the lane's [`Preparation`].
    pub preparation: usize,
    /// Samples per inference call.
    pub batch: usize,
    /// A batch dimension the graph fixes: short batches are zero-padded to it.
    pub fixed_batch: Option<usize>,
    /// Output columns per sample, background included.
    pub classes: usize,
    /// Leading columns to drop (1 for 1001-class models).
    pub label_offset: usize,
    /// The only classes that compete (ImageNet-A and -R score 200 of the 1000), after the offset.
    pub class_subset: Option<&'static [u16]>,
}

pub struct PassConfig<'a> {
    pub preparations: Vec<Preparation<'a>>,
    /// Samples read and decoded together.
    pub read_batch: usize,
    pub strict: bool,
    /// Threads decoding images: `--decode-threads`, else `--threads`; `None` for rayon's default.
    pub decode_threads: Option<usize>,
}

/// An image of the stream and the lanes that want it (the others answer it from their store).
pub struct Admitted {
    pub sample: Sample,
    pub lanes: Vec<bool>,
}

/// What one lane of an invocation did, for the run record's throughput figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct PipelineStats {
    pub inferred: usize,
    pub failed: usize,
    /// Images whose model output held NaN: ranked (NaN last, as NumPy sorts), but suspect.
    pub nan_outputs: usize,
    /// Time the preprocessing stage spent working (decode + resample + normalise), summed over
    /// batches; shared by every lane of the pass.
    pub preprocess_time: Duration,
    /// Time spent inside the runtime, for this lane.
    pub inference_time: Duration,
    pub wall_time: Duration,
    /// Images the pass decoded (each once, whatever the number of lanes).
    pub decodes: usize,
    /// Models fed by the pass.
    pub lanes: usize,
}

struct RawBatch {
    admitted: Vec<Admitted>,
}

/// A decoded batch: sample `i` of the batch is at slot `i` of every tensor its lanes need.
struct ReadyBatch {
    entries: Vec<Entry>,
    lanes: Vec<Vec<bool>>,
    /// Per image, per preparation: `Err` where the image could not be read or decoded for it
    /// (libraries accept different files; a preparation the image does not need is `Ok`).
    outcomes: Vec<Vec<Result<(), String>>>,
    /// One per preparation.
    tensors: Vec<Vec<f32>>,
    elapsed: Duration,
}

/// Runs every admitted sample through the lanes that want it and hands each lane's finished
/// predictions to `sink(lane, predictions)`. `progress` is called with the number of images
/// finished by the lanes that still run. A lane whose model fails is stopped and the others go
/// on (the pass ends early when none is left); an error of the images or of the sink stops the
/// pass.
pub fn run(
    samples: impl Iterator<Item = Result<Admitted, DatasetError>> + Send,
    config: &PassConfig,
    lanes: &mut [Lane<'_>],
    mut sink: impl FnMut(usize, &[Prediction]) -> Result<(), String>,
    mut progress: impl FnMut(usize),
) -> Result<PassOutcome, PipelineError> {
    let started = Instant::now();
    let lane_preparation: Vec<usize> = lanes.iter().map(|lane| lane.preparation).collect();
    let result = with_stages(samples, config, &lane_preparation, |ready_rx, free_tx| {
        infer_batches(ready_rx, free_tx, config, lanes, &mut sink, &mut progress)
    })?;
    result.map(|mut outcome| {
        for lane in &mut outcome.stats {
            lane.wall_time = started.elapsed();
        }
        outcome
    })
}

/// One decoded batch of [`prepare`], borrowed for the time of the call: image `i` of `entries`
/// is at slot `i` of `tensor` (`sample_len` values) when `outcomes[i]` is `Ok`; a failed image's
/// slot holds nothing meaningful.
pub struct Prepared<'b> {
    pub entries: &'b [Entry],
    /// Per image: `Err(why)` where it could not be read or decoded (verify counts it as failed).
    pub outcomes: Vec<Result<(), &'b str>>,
    /// The batch's buffer, `batch` slots long. The caller may take it (`std::mem::take`) to keep
    /// the tensors without copying them; a new buffer then takes its place in the stages.
    pub tensor: &'b mut Vec<f32>,
}

/// The read and decode stages of [`run`] alone, for a caller that runs its own model (the Python
/// `zoorepro.Loader`): the samples in batches of `batch`, decoded with `preparation` in a pool of
/// `decode_threads`, each batch handed to `each` on the calling thread in dataset order. Memory
/// is bounded as in [`run`]; `each` returning `Break` stops the stages early.
pub fn prepare(
    samples: impl Iterator<Item = Result<Sample, DatasetError>> + Send,
    preparation: Preparation<'_>,
    batch: usize,
    decode_threads: Option<usize>,
    mut each: impl FnMut(Prepared<'_>) -> ControlFlow<()>,
) -> Result<(), PipelineError> {
    let config = PassConfig {
        preparations: vec![preparation],
        read_batch: batch.max(1),
        strict: false,
        decode_threads,
    };
    let admitted = samples.map(|sample| {
        sample.map(|sample| Admitted {
            sample,
            lanes: vec![true],
        })
    });
    with_stages(admitted, &config, &[0], |ready_rx, free_tx| {
        let buffer_len = config.read_batch * preparation.recipe.sample_len();
        for ready in ready_rx.iter() {
            let mut ready = ready?;
            let outcomes = ready
                .outcomes
                .iter()
                .map(|o| o[0].as_ref().map(|_| ()).map_err(String::as_str))
                .collect();
            let flow = each(Prepared {
                entries: &ready.entries,
                outcomes,
                tensor: &mut ready.tensors[0],
            });
            if ready.tensors[0].len() != buffer_len {
                // Taken by `each`: the stages keep their number of buffers.
                ready.tensors[0] = vec![0.0; buffer_len];
            }
            let _ = free_tx.send(std::mem::take(&mut ready.tensors));
            if flow.is_break() {
                break;
            }
        }
        Ok(())
    })?
}

/// Runs the read and prepare stages on threads of their own and `consume` on the calling thread,
/// which takes the decoded batches from the first channel and gives each batch's tensors back
/// through the second. When `consume` returns, the other stages stop at their next send.
fn with_stages<R>(
    samples: impl Iterator<Item = Result<Admitted, DatasetError>> + Send,
    config: &PassConfig,
    lane_preparation: &[usize],
    consume: impl FnOnce(&Receiver<Result<ReadyBatch, DatasetError>>, &Sender<Vec<Vec<f32>>>) -> R,
) -> Result<R, PipelineError> {
    let (raw_tx, raw_rx) = bounded::<Result<RawBatch, DatasetError>>(QUEUE_DEPTH);
    let (ready_tx, ready_rx) = bounded::<Result<ReadyBatch, DatasetError>>(QUEUE_DEPTH);
    let (free_tx, free_rx) = bounded::<Vec<Vec<f32>>>(BUFFERS);
    for _ in 0..BUFFERS {
        let set = config
            .preparations
            .iter()
            .map(|p| vec![0.0f32; config.read_batch * p.recipe.sample_len()])
            .collect();
        let _ = free_tx.send(set);
    }

    let pool = decode_pool(config.decode_threads)?;
    Ok(std::thread::scope(|scope| {
        scope.spawn(move || read_batches(samples, config.read_batch, raw_tx));
        let preparer_free = free_rx.clone();
        let pool = &pool;
        scope.spawn(move || {
            pool.install(|| {
                prepare_batches(raw_rx, preparer_free, ready_tx, config, lane_preparation)
            })
        });
        let result = consume(&ready_rx, &free_tx);
        // Dropping the receivers makes the other stages' sends fail, so they stop early on error.
        drop(ready_rx);
        drop(free_rx);
        result
    }))
}

fn read_batches(
    samples: impl Iterator<Item = Result<Admitted, DatasetError>>,
    batch: usize,
    raw_tx: Sender<Result<RawBatch, DatasetError>>,
) {
    let mut pending = Vec::with_capacity(batch);
    for sample in samples {
        match sample {
            Ok(sample) => {
                pending.push(sample);
                if pending.len() == batch {
                    let full = std::mem::replace(&mut pending, Vec::with_capacity(batch));
                    if raw_tx.send(Ok(RawBatch { admitted: full })).is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                let _ = raw_tx.send(Err(error));
                return;
            }
        }
    }
    if !pending.is_empty() {
        let _ = raw_tx.send(Ok(RawBatch { admitted: pending }));
    }
}

fn prepare_batches(
    raw_rx: Receiver<Result<RawBatch, DatasetError>>,
    free_rx: Receiver<Vec<Vec<f32>>>,
    ready_tx: Sender<Result<ReadyBatch, DatasetError>>,
    config: &PassConfig,
    lane_preparation: &[usize],
) {
    for raw in raw_rx {
        let raw = match raw {
            Ok(raw) => raw,
            Err(error) => {
                let _ = ready_tx.send(Err(error));
                return;
            }
        };
        let Ok(mut tensors) = free_rx.recv() else {
            return;
        };
        let started = Instant::now();
        let needs: Vec<Vec<bool>> = raw
            .admitted
            .iter()
            .map(|a| preparations_needed(config, lane_preparation, &a.lanes))
            .collect();
        let outcomes = decode_batch(&raw.admitted, &needs, &mut tensors, config);
        let (entries, lanes) = raw
            .admitted
            .into_iter()
            .map(|a| (a.sample.entry, a.lanes))
            .unzip();
        let ready = ReadyBatch {
            entries,
            lanes,
            outcomes,
            tensors,
            elapsed: started.elapsed(),
        };
        if ready_tx.send(Ok(ready)).is_err() {
            return;
        }
    }
}

/// Which preparations a sample needs: those of the lanes that want it.
fn preparations_needed(
    config: &PassConfig,
    lane_preparation: &[usize],
    lanes: &[bool],
) -> Vec<bool> {
    let mut needed = vec![false; config.preparations.len()];
    for (&preparation, _) in lane_preparation.iter().zip(lanes).filter(|(_, w)| **w) {
        needed[preparation] = true;
    }
    needed
}

/// Decodes each sample once into the slots of the preparations it needs, in parallel.
fn decode_batch(
    admitted: &[Admitted],
    needs: &[Vec<bool>],
    tensors: &mut [Vec<f32>],
    config: &PassConfig,
) -> Vec<Vec<Result<(), String>>> {
    // Sample i's slot in each tensor, for the preparations it needs.
    let mut slots: Vec<Vec<(usize, &mut [f32])>> =
        (0..admitted.len()).map(|_| Vec::new()).collect();
    for (preparation, tensor) in tensors.iter_mut().enumerate() {
        let sample_len = config.preparations[preparation].recipe.sample_len();
        for (i, slot) in tensor
            .chunks_mut(sample_len)
            .take(admitted.len())
            .enumerate()
        {
            if needs[i][preparation] {
                slots[i].push((preparation, slot));
            }
        }
    }
    admitted
        .par_iter()
        .zip(slots.into_par_iter())
        .map(|(admitted, mut slots)| match &admitted.sample.bytes {
            Ok(bytes) => {
                let recipes: Vec<(&Recipe, PillowCompat)> = slots
                    .iter()
                    .map(|(p, _)| {
                        let p = config.preparations[*p];
                        (p.recipe, p.compat)
                    })
                    .collect();
                let mut outs: Vec<&mut [f32]> = slots.iter_mut().map(|(_, s)| &mut **s).collect();
                let results = crate::image::pipelines::preprocess(bytes, &recipes, &mut outs);
                let mut outcome = vec![Ok(()); config.preparations.len()];
                for ((preparation, _), result) in slots.iter().zip(results) {
                    outcome[*preparation] = result.map_err(|e| e.to_string());
                }
                outcome
            }
            Err(error) => vec![Err(error.clone()); config.preparations.len()],
        })
        .collect()
}

fn infer_batches(
    ready_rx: &Receiver<Result<ReadyBatch, DatasetError>>,
    free_tx: &Sender<Vec<Vec<f32>>>,
    config: &PassConfig,
    lanes: &mut [Lane<'_>],
    sink: &mut impl FnMut(usize, &[Prediction]) -> Result<(), String>,
    progress: &mut impl FnMut(usize),
) -> Result<PassOutcome, PipelineError> {
    let mut stopped: Vec<Option<LaneStopped>> = lanes.iter().map(|_| None).collect();
    let mut stats = vec![
        PipelineStats {
            lanes: lanes.len(),
            ..PipelineStats::default()
        };
        lanes.len()
    ];
    let mut scratch: Vec<Vec<f32>> = vec![Vec::new(); lanes.len()];
    let mut scores = Vec::new();
    let mut predictions = Vec::new();
    for ready in ready_rx.iter() {
        let mut ready = ready?;
        if config.strict
            && let Some((entry, Err(error))) = ready
                .entries
                .iter()
                .zip(&ready.outcomes)
                .find_map(|(entry, o)| Some((entry, o.iter().find(|r| r.is_err())?)))
        {
            return Err(PipelineError::StrictFailure {
                file: entry.file.clone(),
                error: error.clone(),
            });
        }
        let decoded = ready
            .outcomes
            .iter()
            .filter(|o| o.iter().any(|r| r.is_ok()))
            .count();
        for (index, lane) in lanes.iter_mut().enumerate() {
            if stopped[index].is_some() {
                continue;
            }
            let stats = &mut stats[index];
            stats.preprocess_time += ready.elapsed;
            stats.decodes += decoded;
            predictions.clear();
            let work = LaneWork {
                ready: &ready,
                lane_index: index,
                sample_shape: config.preparations[lane.preparation].recipe.sample_shape(),
            };
            // Only the lane's model can fail here: that lane stops, the others go on.
            match work.run(
                lane,
                &mut scratch[index],
                &mut scores,
                &mut predictions,
                stats,
            ) {
                Ok(()) => sink(index, &predictions).map_err(PipelineError::Sink)?,
                Err(error) => {
                    stopped[index] = Some(LaneStopped {
                        model: lane.name.clone(),
                        error,
                    })
                }
            }
        }
        let _ = free_tx.send(std::mem::take(&mut ready.tensors));
        // A batch that every lane failed on is not finished: the progress counts what is.
        if stopped.iter().all(Option::is_some) {
            break;
        }
        progress(ready.entries.len());
    }
    Ok(PassOutcome { stats, stopped })
}

/// One lane's share of a decoded batch.
struct LaneWork<'r> {
    ready: &'r ReadyBatch,
    lane_index: usize,
    sample_shape: [usize; 3],
}

impl LaneWork<'_> {
    /// Infers the lane's decoded samples in chunks of its batch size and appends a prediction
    /// for every sample the lane wanted, failed ones included.
    fn run(
        &self,
        lane: &mut Lane<'_>,
        scratch: &mut Vec<f32>,
        scores: &mut Vec<f32>,
        predictions: &mut Vec<Prediction>,
        stats: &mut PipelineStats,
    ) -> Result<(), PipelineError> {
        let ready = self.ready;
        let wanted = |i: &usize| ready.lanes[*i][self.lane_index];
        let decoded: Vec<usize> = (0..ready.entries.len())
            .filter(wanted)
            .filter(|&i| ready.outcomes[i][lane.preparation].is_ok())
            .collect();
        for chunk in decoded.chunks(lane.batch.max(1)) {
            self.infer_chunk(lane, chunk, scratch, scores, predictions, stats)?;
        }
        for i in (0..ready.entries.len()).filter(wanted) {
            if let Err(error) = &ready.outcomes[i][lane.preparation] {
                let entry = &ready.entries[i];
                stats.failed += 1;
                predictions.push(Prediction {
                    name: entry.name.clone(),
                    file: entry.file.clone(),
                    label: entry.label,
                    outcome: Outcome::Failed(error.clone()),
                });
            }
        }
        Ok(())
    }

    fn infer_chunk(
        &self,
        lane: &mut Lane<'_>,
        chunk: &[usize],
        scratch: &mut Vec<f32>,
        scores: &mut Vec<f32>,
        predictions: &mut Vec<Prediction>,
        stats: &mut PipelineStats,
    ) -> Result<(), PipelineError> {
        let sample_len: usize = self.sample_shape.iter().product();
        let tensor = &self.ready.tensors[lane.preparation];
        let count = chunk.len();
        let run_count = lane.fixed_batch.unwrap_or(count);
        let contiguous = chunk.windows(2).all(|w| w[1] == w[0] + 1);
        // The decoded slots are used in place when they already form the batch; otherwise (a
        // failed image between them, a sample another lane wants alone, padding to a fixed
        // batch) they are gathered into the lane's scratch tensor.
        let input: &[f32] = if contiguous && run_count == count {
            &tensor[chunk[0] * sample_len..(chunk[0] + count) * sample_len]
        } else {
            scratch.clear();
            for &i in chunk {
                scratch.extend_from_slice(&tensor[i * sample_len..(i + 1) * sample_len]);
            }
            scratch.resize(run_count.max(count) * sample_len, 0.0);
            &scratch[..run_count * sample_len]
        };
        scores.clear();
        let started = Instant::now();
        let classes = lane
            .model
            .classify(input, run_count, self.sample_shape, scores)?;
        stats.inference_time += started.elapsed();
        if classes != lane.classes {
            return Err(PipelineError::ClassCount {
                got: classes,
                expected: lane.classes,
            });
        }
        for (&i, row) in chunk.iter().zip(scores.chunks_exact(classes)) {
            let row = &row[lane.label_offset..];
            if row.iter().any(|v| v.is_nan()) {
                stats.nan_outputs += 1;
            }
            let ranked = match lane.class_subset {
                Some(classes) => rank::top_k_among(row, classes),
                None => rank::top_k(row),
            };
            let entry = &self.ready.entries[i];
            predictions.push(Prediction {
                name: entry.name.clone(),
                file: entry.file.clone(),
                label: entry.label,
                outcome: Outcome::Ranked {
                    top5: ranked.classes,
                    scores: ranked.scores,
                },
            });
        }
        stats.inferred += count;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::recipe::preset;

    const CLASSES: usize = 1000;

    /// Stands in for ONNX Runtime: sample i scores 1.0 on class `first value of the sample + 104`
    /// (keras-caffe subtracts 103.939 from the blue level, so a grey level v gives class v), and
    /// remembers the batch sizes and padding rows it saw.
    #[derive(Default)]
    struct FakeClassifier {
        calls: Vec<usize>,
        padded_rows_all_zero: Vec<bool>,
        real_rows: Vec<usize>,
        classes: Option<usize>,
        fail: bool,
    }

    impl Classifier for FakeClassifier {
        fn classify(
            &mut self,
            input: &[f32],
            samples: usize,
            sample_shape: [usize; 3],
            scores: &mut Vec<f32>,
        ) -> Result<usize, RuntimeError> {
            if self.fail {
                return Err(RuntimeError::Inference("the fake refuses".into()));
            }
            let classes = self.classes.unwrap_or(CLASSES);
            let sample_len: usize = sample_shape.iter().product();
            assert_eq!(input.len(), samples * sample_len);
            self.calls.push(samples);
            for row in input.chunks_exact(sample_len) {
                let mut scores_row = vec![0.0f32; classes];
                let class = (row[0] + 103.939).round() as usize % classes;
                scores_row[class] = 1.0;
                scores.extend(scores_row);
            }
            let zero_rows = input
                .chunks_exact(sample_len)
                .rev()
                .take_while(|row| row.iter().all(|&v| v == 0.0))
                .count();
            self.padded_rows_all_zero.push(zero_rows > 0);
            self.real_rows.push(samples - zero_rows);
            Ok(classes)
        }
    }

    fn grey_png(level: u8) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(5, 3, image::Rgb([level; 3]));
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn sample(i: usize, bytes: Result<Vec<u8>, String>) -> Result<Sample, DatasetError> {
        Ok(Sample {
            entry: Entry {
                file: format!("n0/img{i}.png"),
                name: format!("img{i}.png"),
                label: Some(i as u16),
            },
            wanted: true,
            bytes,
        })
    }

    fn grey_samples(levels: &[u8]) -> Vec<Result<Sample, DatasetError>> {
        levels
            .iter()
            .enumerate()
            .map(|(i, &level)| sample(i, Ok(grey_png(level))))
            .collect()
    }

    struct Outcomes {
        result: Result<PipelineStats, PipelineError>,
        /// Why the lane stopped, if its model failed.
        stopped: Option<LaneStopped>,
        predictions: Vec<Prediction>,
        fake: FakeClassifier,
    }

    fn run_with(
        samples: Vec<Result<Sample, DatasetError>>,
        batch: usize,
        fixed_batch: Option<usize>,
        strict: bool,
        mut fake: FakeClassifier,
    ) -> Outcomes {
        let recipe = preset("keras-caffe").unwrap();
        let config = PassConfig {
            preparations: vec![Preparation {
                recipe: &recipe,
                compat: PillowCompat::V13,
            }],
            read_batch: batch,
            strict,
            decode_threads: None,
        };
        let mut predictions = Vec::new();
        let mut lanes = [Lane {
            name: "fake".into(),
            model: &mut fake,
            preparation: 0,
            batch,
            fixed_batch,
            classes: CLASSES,
            label_offset: 0,
            class_subset: None,
        }];
        let outcome = run(
            admit_all(samples, 1),
            &config,
            &mut lanes,
            |_, batch| {
                predictions.extend_from_slice(batch);
                Ok(())
            },
            |_| {},
        );
        let (result, stopped) = match outcome {
            Ok(mut outcome) => (Ok(outcome.stats.remove(0)), outcome.stopped.remove(0)),
            Err(error) => (Err(error), None),
        };
        Outcomes {
            result,
            stopped,
            predictions,
            fake,
        }
    }

    fn admit_all(
        samples: Vec<Result<Sample, DatasetError>>,
        lanes: usize,
    ) -> impl Iterator<Item = Result<Admitted, DatasetError>> + Send {
        samples.into_iter().map(move |sample| {
            sample.map(|sample| Admitted {
                sample,
                lanes: vec![true; lanes],
            })
        })
    }

    fn top1(prediction: &Prediction) -> Option<u16> {
        match prediction.outcome {
            Outcome::Ranked { top5, .. } => Some(top5[0]),
            Outcome::Failed(_) => None,
        }
    }

    #[test]
    fn batches_are_cut_to_size_and_predictions_keep_dataset_order() {
        let levels: Vec<u8> = (0..10).map(|i| 20 + 7 * i).collect();
        let out = run_with(
            grey_samples(&levels),
            4,
            None,
            false,
            FakeClassifier::default(),
        );
        let stats = out.result.unwrap();
        assert_eq!(out.fake.calls, [4, 4, 2]);
        assert_eq!((stats.inferred, stats.failed), (10, 0));
        let got: Vec<Option<u16>> = out.predictions.iter().map(top1).collect();
        let expected: Vec<Option<u16>> = levels.iter().map(|&l| Some(u16::from(l))).collect();
        assert_eq!(got, expected);
        let names: Vec<&str> = out.predictions.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names[..3], ["img0.png", "img1.png", "img2.png"]);
    }

    #[test]
    fn a_fixed_batch_dimension_gets_zero_padding() {
        let levels = [50, 60, 70, 80, 90, 100];
        let out = run_with(
            grey_samples(&levels),
            4,
            Some(4),
            false,
            FakeClassifier::default(),
        );
        out.result.unwrap();
        assert_eq!(out.fake.calls, [4, 4]);
        // The short second batch is padded with zero rows, which yield no prediction.
        assert_eq!(out.fake.real_rows, [4, 2]);
        assert_eq!(out.fake.padded_rows_all_zero, [false, true]);
        assert_eq!(out.predictions.len(), 6);
        assert_eq!(top1(&out.predictions[5]), Some(100));
    }

    #[test]
    fn unreadable_images_count_as_failed_and_the_rest_goes_on() {
        let mut samples = grey_samples(&[30, 40, 50]);
        samples.insert(1, sample(7, Ok(b"not an image".to_vec())));
        samples.push(sample(8, Err("permission denied".into())));
        let out = run_with(samples, 8, None, false, FakeClassifier::default());
        let stats = out.result.unwrap();
        assert_eq!((stats.inferred, stats.failed), (3, 2));
        // The good samples were packed together: one call with 3 rows.
        assert_eq!(out.fake.calls, [3]);
        let failed: Vec<&str> = out
            .predictions
            .iter()
            .filter(|p| top1(p).is_none())
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(failed, ["img7.png", "img8.png"]);
        let ranked: Vec<Option<u16>> = out
            .predictions
            .iter()
            .filter_map(|p| top1(p).map(Some))
            .collect();
        assert_eq!(ranked, [Some(30), Some(40), Some(50)]);
    }

    #[test]
    fn strict_mode_stops_at_the_first_unreadable_image() {
        let mut samples = grey_samples(&[30, 40]);
        samples.push(sample(5, Ok(b"broken".to_vec())));
        let out = run_with(samples, 8, None, true, FakeClassifier::default());
        match out.result {
            Err(PipelineError::StrictFailure { file, .. }) => assert_eq!(file, "n0/img5.png"),
            other => panic!("expected a strict failure, got {other:?}"),
        }
        assert!(out.fake.calls.is_empty() && out.predictions.is_empty());
    }

    #[test]
    fn runtime_and_class_count_errors_stop_the_lane_and_dataset_errors_the_run() {
        let failing = FakeClassifier {
            fail: true,
            ..Default::default()
        };
        let out = run_with(grey_samples(&[1, 2, 3, 4]), 2, None, false, failing);
        let stopped = out.stopped.expect("the lane stopped");
        assert!(matches!(stopped.error, PipelineError::Runtime(_)));
        assert!(stopped.to_string().starts_with("fake: "), "{stopped}");
        assert!(out.result.is_ok() && out.predictions.is_empty());

        let wrong_classes = FakeClassifier {
            classes: Some(1001),
            ..Default::default()
        };
        let out = run_with(grey_samples(&[1, 2]), 2, None, false, wrong_classes);
        assert!(matches!(
            out.stopped.map(|s| s.error),
            Some(PipelineError::ClassCount {
                got: 1001,
                expected: 1000,
            })
        ));

        let mut samples = grey_samples(&[1, 2, 3]);
        samples.push(Err(DatasetError::Missing {
            path: "gone.tar".into(),
        }));
        let out = run_with(samples, 2, None, false, FakeClassifier::default());
        assert!(matches!(out.result, Err(PipelineError::Dataset(_))));
    }

    #[test]
    fn a_failing_model_stops_its_lane_and_the_other_lanes_finish() {
        let recipe = preset("keras-caffe").unwrap();
        let config = PassConfig {
            preparations: vec![Preparation {
                recipe: &recipe,
                compat: PillowCompat::V13,
            }],
            read_batch: 2,
            strict: false,
            decode_threads: None,
        };
        let mut good = FakeClassifier::default();
        let mut bad = FakeClassifier {
            fail: true,
            ..Default::default()
        };
        let mut lanes = [(&mut bad, "bad"), (&mut good, "good")].map(|(model, name)| Lane {
            name: name.into(),
            model,
            preparation: 0,
            batch: 2,
            fixed_batch: None,
            classes: CLASSES,
            label_offset: 0,
            class_subset: None,
        });
        let mut seen = [0usize; 2];
        let outcome = run(
            admit_all(grey_samples(&[10, 20, 30, 40, 50]), 2),
            &config,
            &mut lanes,
            |lane, batch| {
                seen[lane] += batch.len();
                Ok(())
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(seen, [0, 5]);
        assert_eq!(outcome.stats[1].inferred, 5);
        let stopped = outcome.stopped[0].as_ref().expect("the bad lane stopped");
        assert!(stopped.to_string().starts_with("bad: "), "{stopped}");
        assert!(outcome.stopped[1].is_none());
    }

    #[test]
    fn a_file_one_library_refuses_still_feeds_the_models_of_another() {
        // TensorFlow's decode_jpeg recipe refuses a PNG that Pillow's recipes read: the Pillow
        // lane must give the answer it gives alone, whatever else shares the pass.
        let (pillow, tensorflow) = (
            preset("keras-caffe").unwrap(),
            preset("tf-inception-224").unwrap(),
        );
        let config = PassConfig {
            preparations: vec![
                Preparation {
                    recipe: &pillow,
                    compat: PillowCompat::V13,
                },
                Preparation {
                    recipe: &tensorflow,
                    compat: PillowCompat::V13,
                },
            ],
            read_batch: 4,
            strict: false,
            decode_threads: None,
        };
        let (mut a, mut b) = (FakeClassifier::default(), FakeClassifier::default());
        let mut lanes = [(&mut a, 0), (&mut b, 1)].map(|(model, preparation)| Lane {
            name: "fake".into(),
            model,
            preparation,
            batch: 4,
            fixed_batch: None,
            classes: CLASSES,
            label_offset: 0,
            class_subset: None,
        });
        let mut predictions: Vec<Vec<Prediction>> = vec![Vec::new(), Vec::new()];
        let stats = run(
            admit_all(grey_samples(&[10, 20, 30]), 2),
            &config,
            &mut lanes,
            |lane, batch| {
                predictions[lane].extend_from_slice(batch);
                Ok(())
            },
            |_| {},
        )
        .unwrap()
        .stats;
        let top1s = |lane: usize| predictions[lane].iter().map(top1).collect::<Vec<_>>();
        assert_eq!(top1s(0), [Some(10), Some(20), Some(30)]);
        assert_eq!(top1s(1), [None, None, None]);
        assert_eq!((stats[0].failed, stats[1].failed), (0, 3));
        assert_eq!(stats[0].decodes, 3);
    }

    #[test]
    fn the_decode_pool_has_the_threads_asked_for() {
        let one = decode_pool(Some(1)).unwrap();
        assert_eq!(one.install(rayon::current_num_threads), 1);
        assert_eq!(decode_pool(Some(3)).unwrap().current_num_threads(), 3);
    }

    #[test]
    fn one_pass_feeds_every_lane_the_images_it_wants_from_one_decode() {
        let recipe = preset("keras-caffe").unwrap();
        let config = PassConfig {
            preparations: vec![
                Preparation {
                    recipe: &recipe,
                    compat: PillowCompat::V13,
                },
                Preparation {
                    recipe: &recipe,
                    compat: PillowCompat::V12,
                },
            ],
            read_batch: 4,
            strict: false,
            decode_threads: None,
        };
        let (mut a, mut b, mut c) = (
            FakeClassifier::default(),
            FakeClassifier::default(),
            FakeClassifier::default(),
        );
        fn lane<'m>(fake: &'m mut FakeClassifier, preparation: usize, batch: usize) -> Lane<'m> {
            Lane {
                name: "fake".into(),
                model: fake,
                preparation,
                batch,
                fixed_batch: None,
                classes: CLASSES,
                label_offset: 0,
                class_subset: None,
            }
        }
        let mut lanes = [lane(&mut a, 0, 4), lane(&mut b, 0, 4), lane(&mut c, 1, 2)];
        let levels = [10u8, 20, 30, 40, 50];
        let mut samples = grey_samples(&levels);
        samples.push(sample(9, Ok(b"broken".to_vec())));
        let wants = |i: usize| vec![true, i == 1 || i == 3 || i == 5, i != 0];
        let admitted = samples.into_iter().enumerate().map(move |(i, sample)| {
            sample.map(|sample| Admitted {
                sample,
                lanes: wants(i),
            })
        });
        let mut seen: Vec<Vec<(String, Option<u16>)>> = vec![Vec::new(); 3];
        let result = run(
            admitted,
            &config,
            &mut lanes,
            |lane, batch| {
                seen[lane].extend(batch.iter().map(|p| (p.name.clone(), top1(p))));
                Ok(())
            },
            |_| {},
        );
        drop(lanes);
        let stats = result.unwrap().stats;
        assert!(stats.iter().all(|s| s.decodes == 5 && s.lanes == 3));
        let counts: Vec<(usize, usize)> = stats.iter().map(|s| (s.inferred, s.failed)).collect();
        assert_eq!(counts, [(5, 1), (2, 1), (4, 1)]);
        let expect = |indices: &[usize]| -> Vec<(String, Option<u16>)> {
            indices
                .iter()
                .map(|&i| (format!("img{i}.png"), levels.get(i).map(|&l| u16::from(l))))
                .collect()
        };
        let mut b_expected = expect(&[1, 3]);
        b_expected.push(("img9.png".into(), None));
        assert_eq!(seen[1], b_expected);
        let mut a_seen = seen[0].clone();
        a_seen.sort();
        assert_eq!(a_seen.len(), 6);
        assert_eq!(seen[2].iter().filter(|(_, t)| t.is_some()).count(), 4);
        // Lane b's two images were gathered into one call; lane c ran in batches of 2.
        assert_eq!(
            (a.calls.len(), b.calls.clone(), c.calls.clone()),
            (2, vec![2], vec![2, 1, 1])
        );
    }
}
