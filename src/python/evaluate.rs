//! The extension half of `zoorepro.evaluate` (python/zoorepro/__init__.py checks the caller's
//! arguments, wraps `model_fn` and drives the pass): a `verify` pass whose model is a Python
//! function. The arguments become a `verify` command line, parsed by the CLI's own parser (the
//! same ranges and messages), and the pass is `verify`'s native run
//! (src/commands/verify/native.rs): the same stages, store rows, record, verdict and reports.
//!
//! The pass runs on a thread of its own, which never touches Python: each batch it needs scored
//! is handed to the Python thread that called `evaluate`, waiting in [`NativePass::request`]
//! with the GIL released, which calls `model_fn` from Python code and hands the scores back. So
//! `model_fn` runs on the caller's thread with no Rust frame below it, and no thread Python did
//! not start ever takes the GIL: one that did (the pass calling `model_fn` through
//! `Python::attach`) aborted the process when the interpreter exited under it.

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use clap::Parser;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use numpy::PyArray1;
use pyo3::prelude::*;

use super::{Error, caught, exiting, guarded, le_array, panic_message};
use crate::cli::{Cli, Command};
use crate::commands::{Context, NativeModel, NativeRun, checkpoint_digest, run_native};
use crate::runtime::{Classifier, RuntimeError};

/// How long the GIL stays released waiting for the pass before signals are checked.
const WAIT: Duration = Duration::from_millis(100);

/// A batch the pass needs scored: its float32 values and shape `[N, ...]`.
struct Request {
    input: Vec<f32>,
    shape: Vec<usize>,
}

/// The scores of a [`Request`] (`N x classes` values, and `classes`), or why there are none.
type Reply = Result<(Vec<f32>, usize), String>;

/// What the pass's thread returns: `Ok(Err(why))` when the model stopped it (see [`run_native`]).
type Finished = anyhow::Result<Result<NativeRun, String>>;

/// The pass's model: each batch goes to the Python thread, and the pass waits for its scores.
struct RemoteModel {
    requests: Sender<Request>,
    replies: Receiver<Reply>,
}

impl Classifier for RemoteModel {
    fn classify(
        &mut self,
        input: &[f32],
        samples: usize,
        sample_shape: [usize; 3],
        scores: &mut Vec<f32>,
    ) -> Result<usize, RuntimeError> {
        // The Python side closed the pass (an exception, Ctrl-C while it waited).
        let gone = || RuntimeError::Inference("evaluate stopped before model_fn answered".into());
        let shape = vec![samples, sample_shape[0], sample_shape[1], sample_shape[2]];
        let request = Request {
            input: input.to_vec(),
            shape,
        };
        self.requests.send(request).map_err(|_| gone())?;
        let (values, classes) = self
            .replies
            .recv()
            .map_err(|_| gone())?
            .map_err(RuntimeError::Inference)?;
        scores.extend_from_slice(&values);
        Ok(classes)
    }
}

/// One `evaluate` call's pass, driven from Python: `request()` until it gives `None`,
/// `answer()` (or `refuse()`) each request, then `finish()`; `close()` in any case.
#[pyclass(module = "zoorepro._zoorepro", frozen)]
pub struct NativePass {
    link: Mutex<Link>,
}

struct Link {
    /// `None` once closed: the pass's next request or wait for scores then fails, stopping it.
    requests: Option<Receiver<Request>>,
    replies: Option<Sender<Reply>>,
    /// The images of the request Python is scoring, until its reply is sent.
    pending: Option<usize>,
    worker: Option<JoinHandle<Finished>>,
}

/// A request as Python receives it: the batch's float32 values (see `le_array`) and shape.
type PyRequest<'py> = (Bound<'py, PyArray1<f32>>, Vec<usize>);

/// What one wait for the pass gave.
enum Step {
    Request(Request),
    Waiting,
    Ended,
}

/// What Python receives of a finished pass: the record's JSON, the exit status `verify` would
/// give, the reports.
type Outcome = (String, i32, Vec<String>);

#[pymethods]
impl NativePass {
    /// Starts `verify ARGS...` (`argv`: the command line the wrapper built, from `verify` on) on
    /// a thread of its own. `native`: (framework, name, checkpoint_sha256, like).
    #[new]
    fn new(
        argv: Vec<OsString>,
        native: (Option<String>, String, Option<String>, bool),
    ) -> PyResult<NativePass> {
        caught(|| {
            let (framework, name, checkpoint, like) = native;
            let (cli, native) = guarded(|| {
                let native = NativeModel {
                    framework,
                    name,
                    checkpoint_sha256: checkpoint.as_deref().map(checkpoint_digest).transpose()?,
                    like,
                };
                Ok((parse(argv)?, native))
            })?;
            let Cli {
                home,
                cache_dir,
                command: Command::Verify(args),
            } = cli
            else {
                return Err(Error::new_err("evaluate runs verify"));
            };
            let (request_tx, requests) = bounded(1);
            let (replies, reply_rx) = bounded(1);
            let model = RemoteModel {
                requests: request_tx,
                replies: reply_rx,
            };
            let worker = std::thread::Builder::new()
                .name("zoorepro-evaluate".into())
                .spawn(move || {
                    let ctx = Context::new(home, cache_dir);
                    run_native(&ctx, &args, native, Box::new(model))
                })
                .map_err(|e| Error::new_err(format!("cannot start the pass's thread: {e}")))?;
            Ok(NativePass {
                link: Mutex::new(Link {
                    requests: Some(requests),
                    replies: Some(replies),
                    pending: None,
                    worker: Some(worker),
                }),
            })
        })
    }

    /// The next batch to score, `(float32 values, shape)` (see `le_array`), or `None` once the
    /// pass needs no more. Waits with the GIL released; Ctrl-C raises `KeyboardInterrupt`.
    fn request<'py>(&self, py: Python<'py>) -> PyResult<Option<PyRequest<'py>>> {
        caught(|| {
            loop {
                let step = exiting::detach(py, || {
                    let mut link = self.link();
                    let Some(requests) = &link.requests else {
                        return Step::Ended;
                    };
                    match requests.recv_timeout(WAIT) {
                        Ok(request) => {
                            link.pending = Some(request.shape[0]);
                            Step::Request(request)
                        }
                        Err(RecvTimeoutError::Timeout) => Step::Waiting,
                        Err(RecvTimeoutError::Disconnected) => Step::Ended,
                    }
                });
                match step {
                    Step::Request(request) => {
                        return Ok(Some((le_array(py, request.input), request.shape)));
                    }
                    Step::Waiting => py.check_signals()?,
                    Step::Ended => return Ok(None),
                }
            }
        })
    }

    /// The scores of the last request: `classes` float32 values (little-endian bytes) per image.
    /// Scores of another size are refused (`zoorepro.Error`), which stops the pass.
    fn answer(&self, values: &[u8], classes: usize) -> PyResult<()> {
        caught(|| {
            let mut link = self.link();
            let Some(samples) = link.pending.take() else {
                return Err(Error::new_err("internal error: no batch awaits scores"));
            };
            let expected = samples.checked_mul(classes).and_then(|n| n.checked_mul(4));
            let reply = if expected == Some(values.len()) {
                let scores = values
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                Ok((scores, classes))
            } else {
                Err(format!(
                    "model_fn's scores hold {} bytes, not {samples} x {classes} float32 values",
                    values.len()
                ))
            };
            let outcome = match &reply {
                Ok(_) => Ok(()),
                Err(why) => Err(Error::new_err(why.clone())),
            };
            if let Some(replies) = &link.replies {
                // A pass that is gone has nothing more to do with the scores.
                let _ = replies.send(reply);
            }
            outcome
        })
    }

    /// The last request gets no scores: `why` (model_fn raised) stops the pass.
    fn refuse(&self, why: String) -> PyResult<()> {
        caught(|| {
            let mut link = self.link();
            if link.pending.take().is_some()
                && let Some(replies) = &link.replies
            {
                let _ = replies.send(Err(why));
            }
            Ok(())
        })
    }

    /// Waits for the pass to end: `(outcome, None)`, or `(None, why)` when the model stopped it.
    /// Any other error of the pass is `zoorepro.Error` with the CLI's message.
    fn finish(&self, py: Python<'_>) -> PyResult<(Option<Outcome>, Option<String>)> {
        caught(|| {
            let Some(worker) = self.link().worker.take() else {
                return Err(Error::new_err(
                    "internal error: the pass was finished already",
                ));
            };
            let finished = exiting::detach(py, move || worker.join());
            match finished {
                Err(payload) => Err(Error::new_err(format!(
                    "internal error: {}",
                    panic_message(&*payload)
                ))),
                Ok(Err(error)) => Err(Error::new_err(crate::commands::error_message(&error))),
                Ok(Ok(Err(stopped))) => Ok((None, Some(stopped))),
                Ok(Ok(Ok(run))) => {
                    let record = serde_json::to_string(&run.record)
                        .map_err(|e| Error::new_err(format!("cannot write the record: {e}")))?;
                    let reports = run
                        .reports
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    Ok((Some((record, run.status, reports)), None))
                }
            }
        })
    }

    /// Stops the pass where it is (its next request or wait for scores fails, as a model that
    /// raised would) and waits for it: what it stored stays, as after model_fn raised.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        caught(|| {
            let worker = {
                let mut link = self.link();
                link.requests = None;
                link.replies = None;
                link.pending = None;
                link.worker.take()
            };
            if let Some(worker) = worker {
                exiting::detach(py, move || {
                    let _ = worker.join();
                });
            }
            Ok(())
        })
    }
}

impl NativePass {
    fn link(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(PoisonError::into_inner)
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
