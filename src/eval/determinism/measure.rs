//! Running a study: every plan of every configuration through its model, keeping each sample's
//! own output row.

use std::path::PathBuf;

use super::plan::{Config, Plan, Study};
use crate::runtime::{Classifier, RuntimeError};

#[derive(Debug, thiserror::Error)]
pub enum DeterminismError {
    #[error("{configuration} at batch {batch}")]
    Run {
        configuration: String,
        batch: usize,
        #[source]
        source: RuntimeError,
    },
    #[error("{} gives {}, the manifest says {expected}", onnx.display(), crate::eval::classes::count_of_classes(*.got))]
    ClassCount {
        onnx: PathBuf,
        got: usize,
        expected: usize,
    },
}

/// The preprocessed samples, stacked in sample order.
pub struct Input<'a> {
    pub tensors: &'a [f32],
    pub sample_shape: [usize; 3],
}

/// The model's output row as the manifest describes it.
#[derive(Clone, Debug)]
pub struct OutputColumns {
    /// The ONNX file, for the message when the model disagrees.
    pub onnx: PathBuf,
    /// Output columns per sample, background included.
    pub classes: usize,
    /// Leading columns to drop (1 for 1001-class models).
    pub label_offset: usize,
}

/// The measured rows: `samples x classes` floats per configuration, plan and repeat, in sample
/// order, background column dropped.
pub struct Outputs {
    pub classes: usize,
    runs: Vec<Vec<Vec<Vec<f32>>>>,
}

impl Outputs {
    pub fn rows(&self, config: usize, plan: usize, repeat: usize) -> &[f32] {
        &self.runs[config][plan][repeat]
    }
}

impl Study {
    /// Runs the study; `models[c]` is a session opened with `configs[c]`. `progress` hears of
    /// every batch run, with its number of images.
    pub fn measure<C: Classifier>(
        &self,
        models: &mut [C],
        input: &Input,
        columns: &OutputColumns,
        mut progress: impl FnMut(usize),
    ) -> Result<Outputs, DeterminismError> {
        let mut runs = Vec::with_capacity(self.configs.len());
        for (config, model) in self.configs.iter().zip(models.iter_mut()) {
            let mut per_plan = Vec::with_capacity(self.plans.len());
            for plan in &self.plans {
                let mut per_repeat = Vec::with_capacity(self.repeats);
                for _ in 0..self.repeats {
                    let out = run_plan(model, config, plan, input, columns, &mut progress)?;
                    per_repeat.push(out);
                }
                per_plan.push(per_repeat);
            }
            runs.push(per_plan);
        }
        Ok(Outputs {
            classes: columns.classes - columns.label_offset,
            runs,
        })
    }
}

/// One plan run once: each sample's own row, in sample order.
fn run_plan<C: Classifier>(
    model: &mut C,
    config: &Config,
    plan: &Plan,
    input: &Input,
    columns: &OutputColumns,
    progress: &mut impl FnMut(usize),
) -> Result<Vec<f32>, DeterminismError> {
    let sample_len: usize = input.sample_shape.iter().product();
    let (classes, offset) = (columns.classes, columns.label_offset);
    let mut rows: Vec<Vec<f32>> = Vec::with_capacity(plan.batches.len());
    let mut batch_input = Vec::with_capacity(plan.batch * sample_len);
    for slots in &plan.batches {
        batch_input.clear();
        for &s in slots {
            batch_input.extend_from_slice(&input.tensors[s * sample_len..(s + 1) * sample_len]);
        }
        let mut scores = Vec::new();
        let got = model
            .classify(&batch_input, slots.len(), input.sample_shape, &mut scores)
            .map_err(|source| DeterminismError::Run {
                configuration: config.label(),
                batch: plan.batch,
                source,
            })?;
        if got != classes {
            return Err(DeterminismError::ClassCount {
                onnx: columns.onnx.clone(),
                got,
                expected: classes,
            });
        }
        rows.push(scores);
        progress(slots.len());
    }
    let kept = classes - offset;
    let mut out = vec![0f32; plan.own.len() * kept];
    for (sample, &(b, slot)) in plan.own.iter().enumerate() {
        let row = &rows[b][slot * classes..(slot + 1) * classes];
        out[sample * kept..(sample + 1) * kept].copy_from_slice(&row[offset..]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::determinism::{DeterminismVerdict, configurations};
    use crate::runtime::{OptLevel, Provider};

    /// Scores each sample by its own pixels, plus (when `batch_mean`) the mean of the whole
    /// batch, as a model normalising with batch statistics would.
    struct Fake {
        batch_mean: bool,
    }

    impl Classifier for Fake {
        fn classify(
            &mut self,
            input: &[f32],
            samples: usize,
            _shape: [usize; 3],
            scores: &mut Vec<f32>,
        ) -> Result<usize, RuntimeError> {
            let per = input.len() / samples;
            let mean = input.iter().sum::<f32>() / samples as f32;
            for sample in input.chunks_exact(per) {
                let own: f32 = sample.iter().sum();
                let shift = if self.batch_mean { mean } else { 0.0 };
                scores.extend([0.0, own + shift, -own, 1.0, 2.0, 3.0]);
            }
            Ok(6)
        }
    }

    fn verdict(batch_mean: bool) -> DeterminismVerdict {
        let configs = configurations(&[Provider::Cpu], &[OptLevel::All], &[1]);
        let study = Study::new(configs, 5, &[2, 4], 2);
        let tensors: Vec<f32> = (0..5 * 3).map(|i| i as f32).collect();
        let input = Input {
            tensors: &tensors,
            sample_shape: [3, 1, 1],
        };
        let columns = OutputColumns {
            onnx: PathBuf::from("fake.onnx"),
            classes: 6,
            label_offset: 1,
        };
        let mut seen = 0;
        let outputs = study
            .measure(&mut [Fake { batch_mean }], &input, &columns, |n| seen += n)
            .unwrap();
        assert_eq!(seen, study.images());
        let files: Vec<String> = (0..5).map(|i| format!("{i}.JPEG")).collect();
        DeterminismVerdict::of(&study.compare(&outputs, &files))
    }

    #[test]
    fn batch_statistics_are_caught_and_per_sample_models_pass() {
        assert_eq!(verdict(false), DeterminismVerdict::Deterministic);
        assert_eq!(verdict(true), DeterminismVerdict::BatchDependent);
    }
}
