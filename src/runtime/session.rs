//! ONNX Runtime sessions: opening a model with reproducible settings, checking its one input
//! and first output, and running batches.

use std::path::Path;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::model::bytes::ModelBytes;

use super::{Classifier, OptLevel, Provider, Runtime, RuntimeError, SessionOptions, TensorInfo};

fn graph_level(level: OptLevel) -> GraphOptimizationLevel {
    match level {
        OptLevel::Disable => GraphOptimizationLevel::Disable,
        OptLevel::Basic => GraphOptimizationLevel::Level1,
        OptLevel::Extended => GraphOptimizationLevel::Level2,
        OptLevel::All => GraphOptimizationLevel::All,
    }
}

impl Runtime {
    /// Opens a model from the bytes that were hashed (never from its path again: a file replaced
    /// since would be evaluated under the first one's hash), with settings chosen for
    /// reproducibility: deterministic compute, one inter-op thread, no silent CPU fallback when
    /// CUDA is asked for. The session keeps its own copy; `model` may be dropped once it is open.
    pub fn open_bytes(
        &self,
        model: &ModelBytes,
        options: &SessionOptions,
    ) -> Result<Model, RuntimeError> {
        let onnx = model.path();
        let model_error = |reason: String| RuntimeError::Model {
            path: onnx.to_path_buf(),
            reason,
        };
        let configure = || -> Result<ort::session::builder::SessionBuilder, String> {
            let text = |e: &dyn std::fmt::Display| e.to_string();
            Session::builder(&self.env)
                .map_err(|e| text(&e))?
                .with_optimization_level(graph_level(options.opt_level))
                .map_err(|e| text(&e))?
                .with_intra_threads(options.threads.max(1))
                .map_err(|e| text(&e))?
                .with_inter_threads(1)
                .map_err(|e| text(&e))?
                // Spinning workers keep polling for work after each run, taking cores from the
                // decoding beside them, from the other models of a pass, and from anything else on
                // a shared machine. Measured on 2 cores, 500 images: quiet, spinning gains a few
                // percent for one model (coral/mobilenet_v2 245-268 vs 237-252 images/s) and
                // loses as much for a three-model pass (82-84 vs 78-90); on a busy machine it
                // halves the rate (54 vs 98-117). Not spinning is the safe default.
                .with_intra_op_spinning(false)
                .map_err(|e| text(&e))?
                .with_deterministic_compute(true)
                .map_err(|e| text(&e))?
                .with_log_level(ort::logging::LogLevel::Error)
                .map_err(|e| text(&e))
        };
        let mut builder = configure().map_err(model_error)?;
        if options.provider == Provider::Cuda {
            let cuda = ort::ep::CUDA::default()
                .with_conv_algorithm_search(ort::ep::cuda::ConvAlgorithmSearch::Heuristic)
                .build()
                .error_on_failure();
            builder = builder
                .with_execution_providers([cuda])
                .map_err(|e| RuntimeError::Cuda {
                    reason: e.to_string(),
                })?
                .with_disable_cpu_fallback()
                .map_err(|e| RuntimeError::Cuda {
                    reason: e.to_string(),
                })?;
        }
        let session = builder.commit_from_memory(model.bytes()).map_err(|e| {
            let reason = e.to_string();
            if options.provider == Provider::Cuda && reason.to_ascii_lowercase().contains("cuda") {
                RuntimeError::Cuda { reason }
            } else {
                model_error(reason)
            }
        })?;
        Model::new(session, onnx)
    }
}

pub struct Model {
    session: Session,
    input: TensorInfo,
    output: TensorInfo,
    /// How many outputs the graph has; the first is read.
    outputs: usize,
}

fn tensor_info(name: &str, ty: &ValueType) -> Option<(TensorInfo, TensorElementType)> {
    match ty {
        ValueType::Tensor { ty, shape, .. } => Some((
            TensorInfo {
                name: name.to_string(),
                dtype: format!("{ty:?}").to_ascii_lowercase(),
                shape: shape.iter().map(|&d| u64::try_from(d).ok()).collect(),
            },
            *ty,
        )),
        _ => None,
    }
}

impl Model {
    fn new(session: Session, path: &Path) -> Result<Model, RuntimeError> {
        let model_error = |reason: String| RuntimeError::Model {
            path: path.to_path_buf(),
            reason,
        };
        if session.inputs().len() != 1 {
            return Err(model_error(format!(
                "it has {} inputs; an image classifier has exactly one",
                session.inputs().len()
            )));
        }
        let Some(first_output) = session.outputs().first() else {
            return Err(model_error("it has no outputs".into()));
        };
        let (input, input_type) =
            tensor_info(session.inputs()[0].name(), session.inputs()[0].dtype())
                .ok_or_else(|| model_error("its input is not a tensor".into()))?;
        if input_type != TensorElementType::Float32 {
            return Err(model_error(format!(
                "its input {} is {}, not float32",
                input.name, input.dtype
            )));
        }
        let (output, output_type) = tensor_info(first_output.name(), first_output.dtype())
            .ok_or_else(|| model_error("its first output is not a tensor".into()))?;
        if output_type != TensorElementType::Float32 {
            return Err(model_error(format!(
                "its output {} is {}, not float32",
                output.name, output.dtype
            )));
        }
        let outputs = session.outputs().len();
        Ok(Model {
            session,
            input,
            output,
            outputs,
        })
    }

    pub fn input(&self) -> &TensorInfo {
        &self.input
    }

    pub fn output(&self) -> &TensorInfo {
        &self.output
    }

    /// How many outputs the graph has (the first is the one read).
    pub fn output_count(&self) -> usize {
        self.outputs
    }

    /// The batch size the graph fixes, if its first input dimension is not dynamic.
    pub fn fixed_batch(&self) -> Option<usize> {
        self.input
            .shape
            .first()
            .copied()
            .flatten()
            .map(|b| b as usize)
    }

    /// Runs `samples` stacked samples of `sample_shape` and appends the first output's rows to
    /// `scores` (`samples * classes` floats). Returns the number of classes.
    pub fn run(
        &mut self,
        input: &[f32],
        samples: usize,
        sample_shape: [usize; 3],
        scores: &mut Vec<f32>,
    ) -> Result<usize, RuntimeError> {
        let shape = [samples, sample_shape[0], sample_shape[1], sample_shape[2]];
        let tensor = TensorRef::from_array_view((shape, input))
            .map_err(|e| RuntimeError::Inference(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input.name.as_str() => tensor])
            .map_err(|e| RuntimeError::Inference(e.to_string()))?;
        let (out_shape, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| RuntimeError::Inference(e.to_string()))?;
        let rows = out_shape.first().copied().unwrap_or(0);
        if out_shape.len() != 2 || rows != samples as i64 {
            return Err(RuntimeError::Inference(format!(
                "output {} has shape {:?} for a batch of {samples} images; a classifier gives one row per image, [{samples}, classes]",
                self.output.name,
                &out_shape[..]
            )));
        }
        scores.extend_from_slice(data);
        Ok(out_shape[1] as usize)
    }
}

impl Classifier for Model {
    fn classify(
        &mut self,
        input: &[f32],
        samples: usize,
        sample_shape: [usize; 3],
        scores: &mut Vec<f32>,
    ) -> Result<usize, RuntimeError> {
        self.run(input, samples, sample_shape, scores)
    }
}
