//! ONNX Runtime, loaded at run time from the shared library of the PyPI `onnxruntime` wheel.
//!
//! The library is resolved here rather than through `ORT_DYLIB_PATH` inside `ort`, because `ort`
//! turns a refused library into a panic at first use; resolving and version-checking it ourselves
//! turns every failure into one clear message naming the file and the setup command.

use std::path::{Path, PathBuf};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorElementType, TensorRef, ValueType};
use serde::{Deserialize, Serialize};

/// The ONNX Runtime release the oracle pinned, which `scripts/setup.sh` installs.
pub const EXPECTED_ORT_VERSION: &str = "1.32.0";
const SETUP_HINT: &str =
    "run scripts/setup.sh, or pass --ort-lib / set ORT_DYLIB_PATH to a libonnxruntime.so >= 1.31";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("no ONNX Runtime library found (looked for {looked}): {SETUP_HINT}")]
    LibraryNotFound { looked: String },
    #[error("cannot load the ONNX Runtime library {path}: {reason}; {SETUP_HINT}")]
    LibraryLoad { path: PathBuf, reason: String },
    #[error("cannot load the ONNX model {path}: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error(
        "the CUDA execution provider is not usable ({reason}); it needs the library of the onnxruntime-gpu wheel \
         (pass it with --ort-lib) and a working CUDA + cuDNN; zoorepro never falls back to the CPU silently"
    )]
    Cuda { reason: String },
    #[error("inference failed: {0}")]
    Inference(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Cpu,
    Cuda,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
        }
    }
}

/// ONNX Runtime's graph optimization levels, by the names the determinism command uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptLevel {
    Disable,
    Basic,
    Extended,
    All,
}

impl OptLevel {
    pub fn name(self) -> &'static str {
        match self {
            OptLevel::Disable => "disable",
            OptLevel::Basic => "basic",
            OptLevel::Extended => "extended",
            OptLevel::All => "all",
        }
    }

    fn to_ort(self) -> GraphOptimizationLevel {
        match self {
            OptLevel::Disable => GraphOptimizationLevel::Disable,
            OptLevel::Basic => GraphOptimizationLevel::Level1,
            OptLevel::Extended => GraphOptimizationLevel::Level2,
            OptLevel::All => GraphOptimizationLevel::All,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct SessionOptions {
    pub provider: Provider,
    pub threads: usize,
    pub opt_level: OptLevel,
}

/// The loaded library and its one environment (ONNX Runtime allows one per process).
pub struct Runtime {
    env: Environment,
    version: String,
    library: PathBuf,
}

/// Where to look for the library, in order: the explicit flag, `ORT_DYLIB_PATH`, where setup put it.
pub fn library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = explicit {
        return vec![path.to_path_buf()];
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("ZOOREPRO_ORT_DIR").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(dir).join("libonnxruntime.so"));
    }
    if let Some(data) = dirs::data_dir() {
        candidates.push(
            data.join("zoorepro")
                .join(format!("onnxruntime-{EXPECTED_ORT_VERSION}"))
                .join("libonnxruntime.so"),
        );
    }
    candidates
}

/// Reads the library's own version string before `ort` sees it, so that a missing symbol or a
/// too-old release is a message rather than a panic.
fn library_version(path: &Path) -> Result<String, RuntimeError> {
    let load_error = |reason: String| RuntimeError::LibraryLoad {
        path: path.to_path_buf(),
        reason,
    };
    // SAFETY: loading a shared library runs its initialisers; this is the library the user or the
    // setup script named for exactly this purpose.
    let library =
        unsafe { libloading::Library::new(path) }.map_err(|e| load_error(e.to_string()))?;
    // SAFETY: `OrtGetApiBase` is the C entry point of every ONNX Runtime release; it takes no
    // arguments and returns a pointer to a static table.
    let version = unsafe {
        let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            library.get(b"OrtGetApiBase\0").map_err(|_| {
                load_error("it has no OrtGetApiBase symbol: not an ONNX Runtime library".into())
            })?;
        let base = get_base();
        if base.is_null() {
            return Err(load_error("OrtGetApiBase returned null".into()));
        }
        std::ffi::CStr::from_ptr(((*base).GetVersionString)())
            .to_string_lossy()
            .into_owned()
    };
    let minor: u32 = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if !version.starts_with("1.") || minor < 31 {
        return Err(load_error(format!(
            "it is ONNX Runtime {version}, and zoorepro needs 1.31 or newer"
        )));
    }
    Ok(version)
}

impl Runtime {
    pub fn load(explicit: Option<&Path>) -> Result<Runtime, RuntimeError> {
        let candidates = library_candidates(explicit);
        let Some(library) = candidates.iter().find(|p| p.is_file()).cloned() else {
            let looked = if candidates.is_empty() {
                "no candidate paths".to_string()
            } else {
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(RuntimeError::LibraryNotFound { looked });
        };
        let version = library_version(&library)?;
        let load_error = |reason: String| RuntimeError::LibraryLoad {
            path: library.clone(),
            reason,
        };
        let env = ort::init_from(&library)
            .map_err(|e| load_error(e.to_string()))?
            .with_name("zoorepro")
            .build()
            .map_err(|e| load_error(e.to_string()))?;
        Ok(Runtime {
            env,
            version,
            library,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Opens a model with settings chosen for reproducibility: deterministic compute, one
    /// inter-op thread, no silent CPU fallback when CUDA is asked for.
    pub fn open(&self, onnx: &Path, options: &SessionOptions) -> Result<Model, RuntimeError> {
        let model_error = |reason: String| RuntimeError::Model {
            path: onnx.to_path_buf(),
            reason,
        };
        let configure = || -> Result<ort::session::builder::SessionBuilder, String> {
            let text = |e: &dyn std::fmt::Display| e.to_string();
            Session::builder(&self.env)
                .map_err(|e| text(&e))?
                .with_optimization_level(options.opt_level.to_ort())
                .map_err(|e| text(&e))?
                .with_intra_threads(options.threads.max(1))
                .map_err(|e| text(&e))?
                .with_inter_threads(1)
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
        let session = builder.commit_from_file(onnx).map_err(|e| {
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

/// A tensor's name, element type and shape as the ONNX graph declares it (`None` = dynamic).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<Option<u64>>,
}

pub struct Model {
    session: Session,
    input: TensorInfo,
    output: TensorInfo,
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
        Ok(Model {
            session,
            input,
            output,
        })
    }

    pub fn input(&self) -> &TensorInfo {
        &self.input
    }

    pub fn output(&self) -> &TensorInfo {
        &self.output
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
                "output {} has shape {:?}, expected [{samples}, classes]",
                self.output.name,
                &out_shape[..]
            )));
        }
        scores.extend_from_slice(data);
        Ok(out_shape[1] as usize)
    }
}

/// What the evaluation pipeline needs of a model: scores for a batch of stacked samples. ONNX
/// Runtime's [`Model`] is the real one; the pipeline's tests put a fake in its place, so batching,
/// padding and strict mode are tested without the library.
pub trait Classifier {
    /// Runs `samples` stacked samples of `sample_shape` and appends the rows of scores
    /// (`samples * classes` floats) to `scores`. Returns the number of classes.
    fn classify(
        &mut self,
        input: &[f32],
        samples: usize,
        sample_shape: [usize; 3],
        scores: &mut Vec<f32>,
    ) -> Result<usize, RuntimeError>;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_library_path_is_the_only_candidate() {
        let explicit = Path::new("/opt/ort/libonnxruntime.so");
        assert_eq!(
            library_candidates(Some(explicit)),
            vec![explicit.to_path_buf()]
        );
    }

    #[test]
    fn a_file_that_is_not_a_library_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("libonnxruntime.so");
        std::fs::write(&fake, b"not an ELF file").unwrap();
        let message = match Runtime::load(Some(&fake)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a text file loaded as ONNX Runtime"),
        };
        assert!(message.contains("libonnxruntime.so"), "{message}");
        assert!(message.contains("setup.sh"), "{message}");
    }

    #[test]
    fn a_missing_library_names_the_setup_command() {
        let message = match Runtime::load(Some(Path::new("/nonexistent/libonnxruntime.so"))) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("loaded a library that does not exist"),
        };
        assert!(
            message.contains("/nonexistent/libonnxruntime.so")
                && message.contains("scripts/setup.sh")
        );
    }
}
