//! The evaluation pipeline: read -> decode + preprocess (rayon) -> infer -> rank.
//!
//! Three stages on three threads joined by bounded queues, so the next batch is decoded while
//! the current one runs and memory stays flat whatever the size of `--val`: at most
//! `QUEUE_DEPTH` batches of encoded bytes and `BUFFERS` tensors exist at any time, and the tensor
//! buffers are recycled rather than allocated per batch.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use rayon::prelude::*;

use crate::dataset::{DatasetError, Entry, Sample};
use crate::eval::prediction::{Outcome, Prediction};
use crate::eval::rank;
use crate::image::recipe::Recipe;
use crate::image::resample::PillowCompat;
use crate::runtime::{Classifier, RuntimeError};

const QUEUE_DEPTH: usize = 2;
/// Tensors in flight at once; the batch-size memory check counts them.
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
    #[error("the model's output has {got} classes, but its manifest declares {expected}")]
    ClassCount { got: usize, expected: usize },
    #[error("{0}")]
    Sink(String),
}

pub struct PipelineConfig<'a> {
    pub recipe: &'a Recipe,
    pub compat: PillowCompat,
    /// Samples per inference call.
    pub batch: usize,
    /// A batch dimension the graph fixes: short batches are zero-padded to it.
    pub fixed_batch: Option<usize>,
    /// Output columns per sample, background included.
    pub classes: usize,
    /// Leading columns to drop (1 for 1001-class models).
    pub label_offset: usize,
    pub strict: bool,
}

/// What one invocation did, for the run record's throughput figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct PipelineStats {
    pub inferred: usize,
    pub failed: usize,
    /// Images whose model output held NaN: ranked (NaN last, as NumPy sorts), but suspect.
    pub nan_outputs: usize,
    /// Time the preprocessing stage spent working (decode + resample + normalise), summed over batches.
    pub preprocess_time: Duration,
    /// Time spent inside the runtime.
    pub inference_time: Duration,
    pub wall_time: Duration,
}

struct RawBatch {
    samples: Vec<Sample>,
}

struct ReadyBatch {
    ok: Vec<Entry>,
    failed: Vec<(Entry, String)>,
    tensor: Vec<f32>,
    elapsed: Duration,
}

/// Runs every sample through the model and hands each finished batch of predictions to `sink`
/// in order of completion. `progress` is called with the number of images finished.
pub fn run(
    samples: impl Iterator<Item = Result<Sample, DatasetError>> + Send,
    config: &PipelineConfig,
    model: &mut impl Classifier,
    mut sink: impl FnMut(&[Prediction]) -> Result<(), String>,
    mut progress: impl FnMut(usize),
) -> Result<PipelineStats, PipelineError> {
    let started = Instant::now();
    let sample_len = config.recipe.sample_len();
    let slots = config.fixed_batch.unwrap_or(config.batch).max(config.batch);
    let (raw_tx, raw_rx) = bounded::<Result<RawBatch, DatasetError>>(QUEUE_DEPTH);
    let (ready_tx, ready_rx) = bounded::<Result<ReadyBatch, DatasetError>>(QUEUE_DEPTH);
    let (free_tx, free_rx) = bounded::<Vec<f32>>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = free_tx.send(vec![0.0f32; slots * sample_len]);
    }

    std::thread::scope(|scope| {
        scope.spawn(move || read_batches(samples, config.batch, raw_tx));
        let preparer_free = free_rx.clone();
        scope.spawn(move || prepare_batches(raw_rx, preparer_free, ready_tx, config));
        let result = infer_batches(&ready_rx, &free_tx, config, model, &mut sink, &mut progress);
        // Dropping the receivers makes the other stages' sends fail, so they stop early on error.
        drop(ready_rx);
        drop(free_rx);
        result.map(|mut stats| {
            stats.wall_time = started.elapsed();
            stats
        })
    })
}

fn read_batches(
    samples: impl Iterator<Item = Result<Sample, DatasetError>>,
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
                    if raw_tx.send(Ok(RawBatch { samples: full })).is_err() {
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
        let _ = raw_tx.send(Ok(RawBatch { samples: pending }));
    }
}

fn prepare_batches(
    raw_rx: Receiver<Result<RawBatch, DatasetError>>,
    free_rx: Receiver<Vec<f32>>,
    ready_tx: Sender<Result<ReadyBatch, DatasetError>>,
    config: &PipelineConfig,
) {
    let sample_len = config.recipe.sample_len();
    for raw in raw_rx {
        let raw = match raw {
            Ok(raw) => raw,
            Err(error) => {
                let _ = ready_tx.send(Err(error));
                return;
            }
        };
        let Ok(mut tensor) = free_rx.recv() else {
            return;
        };
        let started = Instant::now();
        let outcomes: Vec<Result<(), String>> = raw
            .samples
            .par_iter()
            .zip(tensor.par_chunks_mut(sample_len))
            .map(|(sample, slot)| match &sample.bytes {
                Ok(bytes) => crate::image::preprocess::preprocess_bytes(
                    bytes,
                    config.recipe,
                    config.compat,
                    slot,
                )
                .map_err(|e| e.to_string()),
                Err(error) => Err(error.clone()),
            })
            .collect();
        // Failed samples leave holes; close them so the tensor holds the good samples contiguously.
        let mut ok = Vec::with_capacity(raw.samples.len());
        let mut failed = Vec::new();
        for (slot, (sample, outcome)) in raw.samples.into_iter().zip(outcomes).enumerate() {
            match outcome {
                Ok(()) => {
                    let target = ok.len();
                    if target != slot {
                        tensor.copy_within(
                            slot * sample_len..(slot + 1) * sample_len,
                            target * sample_len,
                        );
                    }
                    ok.push(sample.entry);
                }
                Err(error) => failed.push((sample.entry, error)),
            }
        }
        let elapsed = started.elapsed();
        if ready_tx
            .send(Ok(ReadyBatch {
                ok,
                failed,
                tensor,
                elapsed,
            }))
            .is_err()
        {
            return;
        }
    }
}

fn infer_batches(
    ready_rx: &Receiver<Result<ReadyBatch, DatasetError>>,
    free_tx: &Sender<Vec<f32>>,
    config: &PipelineConfig,
    model: &mut impl Classifier,
    sink: &mut impl FnMut(&[Prediction]) -> Result<(), String>,
    progress: &mut impl FnMut(usize),
) -> Result<PipelineStats, PipelineError> {
    let sample_len = config.recipe.sample_len();
    let sample_shape = config.recipe.sample_shape();
    let mut stats = PipelineStats::default();
    let mut scores = Vec::new();
    let mut predictions = Vec::new();
    for ready in ready_rx.iter() {
        let mut ready = ready?;
        stats.preprocess_time += ready.elapsed;
        if config.strict
            && let Some((entry, error)) = ready.failed.first()
        {
            return Err(PipelineError::StrictFailure {
                file: entry.file.clone(),
                error: error.clone(),
            });
        }
        predictions.clear();
        if !ready.ok.is_empty() {
            let count = ready.ok.len();
            let run_count = config.fixed_batch.unwrap_or(count);
            if run_count > count {
                ready.tensor[count * sample_len..run_count * sample_len].fill(0.0);
            }
            scores.clear();
            let started = Instant::now();
            let classes = model.classify(
                &ready.tensor[..run_count * sample_len],
                run_count,
                sample_shape,
                &mut scores,
            )?;
            stats.inference_time += started.elapsed();
            if classes != config.classes {
                return Err(PipelineError::ClassCount {
                    got: classes,
                    expected: config.classes,
                });
            }
            for (entry, row) in ready.ok.drain(..).zip(scores.chunks_exact(classes)) {
                if row[config.label_offset..].iter().any(|v| v.is_nan()) {
                    stats.nan_outputs += 1;
                }
                let ranked = rank::top_k(&row[config.label_offset..]);
                predictions.push(Prediction {
                    name: entry.name,
                    file: entry.file,
                    label: entry.label,
                    outcome: Outcome::Ranked {
                        top5: ranked.classes,
                        scores: ranked.scores,
                    },
                });
            }
            stats.inferred += count;
        }
        stats.failed += ready.failed.len();
        for (entry, error) in ready.failed.drain(..) {
            predictions.push(Prediction {
                name: entry.name,
                file: entry.file,
                label: entry.label,
                outcome: Outcome::Failed(error),
            });
        }
        let _ = free_tx.send(std::mem::take(&mut ready.tensor));
        sink(&predictions).map_err(PipelineError::Sink)?;
        progress(predictions.len());
    }
    Ok(stats)
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
        let config = PipelineConfig {
            recipe: &recipe,
            compat: PillowCompat::V13,
            batch,
            fixed_batch,
            classes: CLASSES,
            label_offset: 0,
            strict,
        };
        let mut predictions = Vec::new();
        let result = run(
            samples.into_iter(),
            &config,
            &mut fake,
            |batch| {
                predictions.extend_from_slice(batch);
                Ok(())
            },
            |_| {},
        );
        Outcomes {
            result,
            predictions,
            fake,
        }
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
    fn runtime_dataset_and_class_count_errors_stop_the_run() {
        let failing = FakeClassifier {
            fail: true,
            ..Default::default()
        };
        let out = run_with(grey_samples(&[1, 2]), 2, None, false, failing);
        assert!(matches!(out.result, Err(PipelineError::Runtime(_))));

        let wrong_classes = FakeClassifier {
            classes: Some(1001),
            ..Default::default()
        };
        let out = run_with(grey_samples(&[1, 2]), 2, None, false, wrong_classes);
        assert!(matches!(
            out.result,
            Err(PipelineError::ClassCount {
                got: 1001,
                expected: 1000
            })
        ));

        let mut samples = grey_samples(&[1, 2, 3]);
        samples.push(Err(DatasetError::Missing {
            path: "gone.tar".into(),
        }));
        let out = run_with(samples, 2, None, false, FakeClassifier::default());
        assert!(matches!(out.result, Err(PipelineError::Dataset(_))));
    }
}
