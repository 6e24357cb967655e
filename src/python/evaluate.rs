//! The extension half of `zoorepro.evaluate` (python/zoorepro/__init__.py checks the caller's
//! arguments and wraps `model_fn`): a `verify` pass whose model is a Python function. The
//! arguments become a `verify` command line, parsed by the CLI's own parser (the same ranges and
//! messages), and the pass is `verify`'s native run (src/commands/verify/native.rs): the same
//! stages, store rows, record, verdict and reports. The GIL is released for the pass and taken
//! back for each call of the function, on the thread that runs the model.

use std::ffi::OsString;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Parser;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::{Error, caught, guarded, le_array};
use crate::cli::{Cli, Command};
use crate::commands::{Context, NativeModel, checkpoint_digest, run_native};
use crate::runtime::{Classifier, RuntimeError};

/// The Python function's first exception, kept to be raised again once the pass has stopped and
/// the store holds every batch before it.
type Raised = Arc<Mutex<Option<PyErr>>>;

/// A Python callable `call(data, shape) -> (bytes, classes)`: the batch as a float32 array (see
/// `le_array`) of `shape`'s values, the scores as `shape[0] x classes` little-endian float32 values (the
/// wrapper in `__init__.py` converts and checks what `model_fn` returns).
struct PythonModel {
    call: Py<PyAny>,
    raised: Raised,
}

impl Classifier for PythonModel {
    fn classify(
        &mut self,
        input: &[f32],
        samples: usize,
        sample_shape: [usize; 3],
        scores: &mut Vec<f32>,
    ) -> Result<usize, RuntimeError> {
        Python::attach(|py| {
            let outcome = (|| -> PyResult<usize> {
                let data = le_array(py, input.to_vec());
                let shape = vec![samples, sample_shape[0], sample_shape[1], sample_shape[2]];
                let returned = self.call.bind(py).call1((data, shape))?;
                let (values, classes): (Bound<'_, PyBytes>, usize) = returned.extract()?;
                let values = values.as_bytes();
                if values.len() != samples * classes * 4 {
                    return Err(Error::new_err(format!(
                        "model_fn's scores hold {} bytes, not {samples} x {classes} float32 values",
                        values.len()
                    )));
                }
                scores.extend(
                    values
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                Ok(classes)
            })();
            outcome.map_err(|error| {
                let message = format!("model_fn raised {error}");
                let mut raised = self.raised.lock().unwrap_or_else(PoisonError::into_inner);
                raised.get_or_insert(error);
                RuntimeError::Inference(message)
            })
        })
    }
}

/// What Python receives: the record's JSON, the exit status `verify` would give, the reports.
type Outcome = (String, i32, Vec<String>);

/// `verify ARGS...` with `call` as the model (`argv`: the command line the wrapper built, from
/// `verify` on). `native`: (framework, name, checkpoint_sha256, like).
#[pyfunction]
pub fn evaluate(
    py: Python<'_>,
    call: Py<PyAny>,
    argv: Vec<OsString>,
    native: (Option<String>, String, Option<String>, bool),
) -> PyResult<Outcome> {
    caught(|| run(py, call, argv, native))
}

fn run(
    py: Python<'_>,
    call: Py<PyAny>,
    argv: Vec<OsString>,
    native: (Option<String>, String, Option<String>, bool),
) -> PyResult<Outcome> {
    let (framework, name, checkpoint, like) = native;
    let raised = Raised::default();
    let model = PythonModel {
        call,
        raised: Arc::clone(&raised),
    };
    let outcome = py.detach(|| {
        guarded(|| {
            let cli = parse(argv)?;
            let Command::Verify(args) = &cli.command else {
                anyhow::bail!("evaluate runs verify");
            };
            let native = NativeModel {
                framework,
                name,
                checkpoint_sha256: checkpoint.as_deref().map(checkpoint_digest).transpose()?,
                like,
            };
            let ctx = Context::new(cli.home.clone(), cli.cache_dir.clone());
            run_native(&ctx, args, native, Box::new(model))
        })
    })?;
    match outcome {
        Ok(run) => {
            let record = serde_json::to_string(&run.record)
                .map_err(|e| Error::new_err(format!("cannot write the record: {e}")))?;
            let reports = run
                .reports
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            Ok((record, run.status, reports))
        }
        Err(stopped) => {
            let raised = raised.lock().unwrap_or_else(PoisonError::into_inner).take();
            Err(raised.unwrap_or_else(|| Error::new_err(stopped)))
        }
    }
}

/// Each flag the wrapper writes, and the Python argument it comes from.
const ARGUMENTS: [(&str, &str); 13] = [
    ("--home", "home"),
    ("--cache-dir", "cache_dir"),
    ("--model", "model"),
    ("--val", "val"),
    ("--batch", "batch_size"),
    ("--recipe", "recipe"),
    ("--threads", "threads"),
    ("--shard", "shard"),
    ("--ground-truth", "ground_truth"),
    ("--report-dir", "report_dir"),
    ("--predictions", "predictions"),
    ("--limit", "limit"),
    ("--pillow-compat", "pillow_compat"),
];

/// The command line parsed by the CLI's parser: a bad value is the CLI's one line, any other
/// usage error clap's first line, naming the Python argument where the CLI names its flag
/// (`'--batch <N>'` becomes `batch_size`).
fn parse(argv: Vec<OsString>) -> anyhow::Result<Cli> {
    let mut full = vec![OsString::from("zoorepro")];
    full.extend(argv);
    Cli::try_parse_from(full).map_err(|e| {
        let line = crate::cli::one_line_error(&e).unwrap_or_else(|| {
            let text = e.to_string();
            let line = text.lines().next().unwrap_or_default();
            line.strip_prefix("error: ").unwrap_or(line).to_string()
        });
        anyhow::anyhow!("{}", python_names(&line))
    })
}

/// `line` with clap's `'--flag <VALUE>'` replaced by the Python argument's name.
fn python_names(line: &str) -> String {
    let mut line = line.to_string();
    for (flag, name) in ARGUMENTS {
        while let Some(start) = line.find(&format!("'{flag} ")) {
            let Some(len) = line[start + 1..].find('\'') else {
                break;
            };
            line.replace_range(start..start + len + 2, name);
        }
    }
    line
}
