//! ONNX Runtime, loaded at run time from the shared library of the PyPI `onnxruntime` wheel.
//!
//! The library is resolved here rather than through `ORT_DYLIB_PATH` inside `ort`, because `ort`
//! turns a refused library into a panic at first use; resolving and version-checking it ourselves
//! turns every failure into one clear message naming the file and the setup command.
//!
//! [`Classifier`] is what evaluation needs of a model; [`Model`] (a session, `session.rs`) is the
//! real one, opened from a [`Runtime`] (the loaded library, `library.rs`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod library;
mod session;

pub use library::{
    EXPECTED_ORT_VERSION, Runtime, library_candidates, set_wheel_library, venv_library,
};
pub use session::Model;

/// What to do about a missing or refused library, for both kinds of user: an installed binary
/// has no scripts/, a checkout has.
const SETUP_HINT: &str = "with an installed zoorepro, `pip install onnxruntime` (1.31 or newer) into a venv and \
     activate it, or pass --ort-lib FILE / set ORT_DYLIB_PATH to a libonnxruntime.so >= 1.31; in a checkout, run \
     scripts/setup.sh";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("no ONNX Runtime library found (looked for {looked}): {SETUP_HINT}")]
    LibraryNotFound { looked: String },
    #[error(
        "no ONNX Runtime library: the onnxruntime wheel this zoorepro wheel loads it from is not installed in \
         this Python environment; run `pip install onnxruntime=={EXPECTED_ORT_VERSION}` (or pass --ort-lib FILE / \
         set ORT_DYLIB_PATH to a libonnxruntime.so >= 1.31)"
    )]
    WheelDependencyMissing,
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
}

#[derive(Clone, Copy, Debug)]
pub struct SessionOptions {
    pub provider: Provider,
    pub threads: usize,
    pub opt_level: OptLevel,
}

/// A tensor's name, element type and shape as the ONNX graph declares it (`None` = dynamic).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<Option<u64>>,
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
