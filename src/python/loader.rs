//! The extension half of `zoorepro.Loader` (python/zoorepro/__init__.py wraps it in numpy): the
//! images of `--val` as `verify` reads them, decoded in batches by `eval::batches` on Rust
//! threads. The GIL is released while waiting for a batch; between waits, Python's signal
//! handlers run (`check_signals`), so Ctrl-C raises `KeyboardInterrupt` here after the decoding
//! threads were stopped (the pass ends; a later `iter()` starts another).
//!
//! Each `iter(loader)` is a pass over the set, as a torch `DataLoader`'s: the first takes the
//! decoding the constructor started; a later one starts a new pass (the set opened again, the
//! old pass's threads stopped, `failed` emptied) once the pass under way has ended, or was left
//! part-way (no iterator of it is alive, and `next(loader)` took none of its batches). An
//! iterator still alive keeps its pass: two threads iterating one loader share one pass.
//!
//! One loader may be shared by Python threads (iterated by two, closed by one while another
//! waits): its state is behind a mutex, taken with the GIL released and only for one short wait
//! at a time, so no thread holds it while it waits for the GIL and `close()` gets it within a
//! wait. A loader is bound to the process that made it: after `fork()` its decoding threads do
//! not exist in the child, which is told so instead of waiting for them forever.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use numpy::PyArray1;
use numpy::ndarray::ArrayView1;
use pyo3::prelude::*;

use super::{Error, caught, chosen_recipe, exiting, guarded, parse_compat, to_le};
use crate::cli::{GroundTruthArg, parse_batch, parse_threads};
use crate::dataset::{Dataset, SkipLog};
use crate::eval::batches::{Batch, Batches, Next, Plan, Recycler, SPARES};
use crate::image::recipe::Recipe;

/// How long the GIL stays released waiting for a batch before signals are checked.
const WAIT: Duration = Duration::from_millis(100);

/// One batch for Python: names, labels (-1 where the set gives none), the float32 values (the
/// decoding stages' own buffer, see [`lent_array`]), the batch's shape.
type PyBatch<'py> = (Vec<String>, Vec<i64>, Bound<'py, PyArray1<f32>>, Vec<usize>);

/// Batches of decoded images of a validation set, in `verify`'s order.
#[pyclass(module = "zoorepro._zoorepro", frozen)]
pub struct Loader {
    state: Mutex<State>,
    /// Set by `close()` before it takes the lock: a thread waiting in `next_batch` then ends at
    /// its next turn instead of waiting again, so `close()` need not win the lock (which is not
    /// fair) against every wait of a thread that takes it again at once.
    closing: AtomicBool,
    sample_shape: Vec<usize>,
    /// The process that made the loader, the only one where its threads run.
    pid: u32,
    /// What each new pass opens and decodes.
    val: PathBuf,
    ground_truth: GroundTruthArg,
    plan: Plan,
}

struct State {
    /// The pass's stages; `None` once closed, or once Ctrl-C stopped the pass.
    batches: Option<Batches>,
    recycler: Recycler,
    /// Images of this pass that could not be read or decoded: (path relative to the set, why).
    failed: Vec<(String, String)>,
    /// What the set's source left out in this pass, by reason: the pass's dataset's own log,
    /// which a tar's reader thread adds to as it streams (`verify`'s record lists it under
    /// `dataset.skipped`).
    skipped: SkipLog,
    pass: Pass,
}

/// The pass under way, as `iter()` decides whether to start another.
#[derive(Default)]
struct Pass {
    /// Counts the passes: an iterator of an earlier pass yields nothing more.
    id: u64,
    /// A batch of it was handed out.
    taken: bool,
    /// It delivered its last batch, failed, or was stopped.
    ended: bool,
    /// Its iterators (`iter(loader)`) still alive.
    iterators: usize,
    /// `next(loader)` took a batch of it: the loader itself iterates it until it ends.
    by_next: bool,
}

impl Pass {
    /// Whether `iter()` starts a new pass instead of joining this one.
    fn over(&self) -> bool {
        self.ended || (self.taken && self.iterators == 0 && !self.by_next)
    }
}

/// What one wait for a batch gave.
enum Step {
    Batch(Batch, Recycler),
    Waiting,
    Done,
    Failed(anyhow::Error),
}

#[pymethods]
impl Loader {
    #[new]
    #[pyo3(signature = (val, recipe, batch_size, threads=None, shard=None, ground_truth=None, pillow_compat=None, model=None, home=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        val: PathBuf,
        recipe: Option<&str>,
        batch_size: &Bound<'_, PyAny>,
        threads: Option<&Bound<'_, PyAny>>,
        shard: Option<&str>,
        ground_truth: Option<PathBuf>,
        pillow_compat: Option<&str>,
        model: Option<&str>,
        home: Option<PathBuf>,
    ) -> PyResult<Loader> {
        caught(|| {
            let batch_size = batch_size.str()?.to_string();
            let threads = threads
                .map(|n| Ok::<_, PyErr>(n.str()?.to_string()))
                .transpose()?;
            let ground_truth = GroundTruthArg { ground_truth };
            let (batches, plan, skipped) = exiting::detach(py, || {
                guarded(|| {
                    let recipe = chosen_recipe(recipe, model, home)?;
                    let plan = plan(recipe, batch_size, threads, shard, pillow_compat)?;
                    let dataset = open(&val, &ground_truth)?;
                    let skipped = dataset.skip_log();
                    Ok((Batches::start(dataset, plan.clone()), plan, skipped))
                })
            })?;
            Ok(Loader {
                state: Mutex::new(State {
                    recycler: batches.recycler(),
                    batches: Some(batches),
                    failed: Vec::new(),
                    skipped,
                    pass: Pass::default(),
                }),
                sample_shape: plan.recipe.sample_shape().to_vec(),
                closing: AtomicBool::new(false),
                pid: std::process::id(),
                val,
                ground_truth,
                plan,
            })
        })
    }

    /// Starts iterating (`iter(loader)`): joins the pass under way, or starts a new one where it
    /// is over (see [`Pass::over`]), and gives its id for `next_batch` and `end`.
    fn begin(&self, py: Python<'_>) -> PyResult<u64> {
        caught(|| {
            exiting::detach(py, || {
                let mut state = self.state()?;
                if state.pass.over() && !self.closing.load(Ordering::Relaxed) {
                    self.restart(&mut state)?;
                }
                state.pass.iterators += 1;
                Ok(state.pass.id)
            })
        })
    }

    /// An iterator of pass `pass` is done with it (exhausted, or dropped part-way). Never
    /// raises: Python calls it from `__del__`, where an error could only be printed.
    fn end(&self, py: Python<'_>, pass: u64) {
        if std::process::id() != self.pid {
            return;
        }
        let _ = catch_unwind(AssertUnwindSafe(|| {
            exiting::detach(py, || {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                if state.pass.id == pass {
                    state.pass.iterators = state.pass.iterators.saturating_sub(1);
                }
            })
        }));
    }

    /// The next batch with at least one image of pass `pass` (`None`: the pass under way, for
    /// `next(loader)`), or `None` after its last.
    #[pyo3(signature = (pass_=None))]
    fn next_batch<'py>(
        &self,
        py: Python<'py>,
        pass_: Option<u64>,
    ) -> PyResult<Option<PyBatch<'py>>> {
        caught(|| {
            loop {
                match exiting::detach(py, || self.wait(pass_)) {
                    Ok(Step::Waiting) => {
                        if let Err(interrupt) = py.check_signals() {
                            self.stop(py, pass_)?;
                            return Err(interrupt);
                        }
                    }
                    Ok(Step::Done) => return Ok(None),
                    Ok(Step::Failed(error)) => {
                        return Err(Error::new_err(crate::commands::error_message(&error)));
                    }
                    Ok(Step::Batch(batch, recycler)) => {
                        let mut shape = vec![batch.names.len()];
                        shape.extend(&self.sample_shape);
                        let labels = batch
                            .labels
                            .iter()
                            .map(|label| label.map_or(-1, i64::from))
                            .collect();
                        let data = lent_array(py, batch.tensor, recycler)?;
                        return Ok(Some((batch.names, labels, data, shape)));
                    }
                    Err(error) => return Err(error),
                }
            }
        })
    }

    /// Stops the decoding threads (after the batch they are on); the loader then yields nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        caught(|| {
            self.closing.store(true, Ordering::Relaxed);
            self.stop(py, None)
        })
    }

    /// Images of the pass under way that could not be read or decoded so far, `(path relative
    /// to the set, why)`.
    #[getter]
    fn failed(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        caught(|| exiting::detach(py, || Ok(self.state()?.failed.clone())))
    }

    /// What the set's source left out so far in the pass under way, as `verify`'s record lists
    /// it (`dataset.skipped`): `(reason, count, first names)` for each reason, in the order they
    /// first came up.
    #[getter]
    fn skipped(&self, py: Python<'_>) -> PyResult<Vec<(String, usize, Vec<String>)>> {
        caught(|| {
            exiting::detach(py, || {
                let skipped = self.state()?.skipped.clone();
                Ok(skipped
                    .entries()
                    .into_iter()
                    .map(|(_, entries)| (entries.reason, entries.count, entries.first))
                    .collect())
            })
        })
    }
}

impl Loader {
    /// The loader's state, refused in a process other than the one that made it: its lock may
    /// have been held by a thread that does not exist there, and its decoding threads are gone.
    fn state(&self) -> PyResult<MutexGuard<'_, State>> {
        self.same_process()?;
        Ok(self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Refuses a process other than the one that made the loader: its locks may have been held
    /// by a thread that does not exist there (the skip log's by a tar's reader thread).
    fn same_process(&self) -> PyResult<()> {
        if std::process::id() != self.pid {
            return Err(Error::new_err(format!(
                "this Loader was made in process {}, and this is process {} (a fork: a \
                 DataLoader worker, multiprocessing's fork start method): its decoding threads \
                 do not exist here. Make the Loader in the process that iterates it (in the \
                 worker, e.g. in the Dataset's __iter__ or worker_init_fn)",
                self.pid,
                std::process::id()
            )));
        }
        Ok(())
    }

    /// One wait for a batch of pass `pass` (`None`: the pass under way), with the lock held for
    /// it alone (the GIL released): a batch with no image (all of it failed) is taken and
    /// waited past.
    fn wait(&self, pass: Option<u64>) -> PyResult<Step> {
        let mut state = self.state()?;
        if self.closing.load(Ordering::Relaxed) {
            return Ok(Step::Done);
        }
        let State {
            batches,
            recycler,
            failed,
            pass: current,
            ..
        } = &mut *state;
        match pass {
            Some(id) if id != current.id => return Ok(Step::Done),
            None => current.by_next = true,
            Some(_) => {}
        }
        let Some(batches) = batches.as_mut() else {
            return Ok(Step::Done);
        };
        Ok(match batches.next(WAIT) {
            Next::Waiting => Step::Waiting,
            Next::Done => {
                current.ended = true;
                Step::Done
            }
            Next::Failed(error) => {
                current.ended = true;
                Step::Failed(anyhow::Error::from(error))
            }
            Next::Batch(mut batch) => {
                failed.append(&mut batch.failed);
                if batch.names.is_empty() {
                    Step::Waiting
                } else {
                    current.taken = true;
                    Step::Batch(batch, recycler.clone())
                }
            }
        })
    }

    /// A new pass in place of the one under way, whose threads are stopped first: the set
    /// opened again (as verify would open it now) and `failed` emptied.
    fn restart(&self, state: &mut State) -> PyResult<()> {
        if let Some(mut batches) = state.batches.take() {
            batches.close();
        }
        state.failed.clear();
        // Ended until it starts: a set that cannot be opened now is tried again next time.
        state.pass = Pass {
            id: state.pass.id + 1,
            ended: true,
            ..Pass::default()
        };
        let dataset = guarded(|| open(&self.val, &self.ground_truth))?;
        state.skipped = dataset.skip_log();
        let batches = Batches::start(dataset, self.plan.clone());
        state.recycler = batches.recycler();
        state.batches = Some(batches);
        state.pass.ended = false;
        Ok(())
    }

    /// Stops pass `pass` (`None`: the one under way), after the batch its threads are on: taken
    /// out under the lock and stopped outside it, so that a thread waiting in `next_batch`
    /// finds it ended at once.
    fn stop(&self, py: Python<'_>, pass: Option<u64>) -> PyResult<()> {
        let batches = exiting::detach(py, || {
            let mut state = self.state()?;
            if pass.is_some_and(|id| id != state.pass.id) {
                return Ok::<_, PyErr>(None);
            }
            state.pass.ended = true;
            Ok(state.batches.take())
        })?;
        if let Some(mut batches) = batches {
            exiting::detach(py, || batches.close());
        }
        Ok(())
    }
}

/// The set at `val`, as `verify --val` opens it.
fn open(val: &std::path::Path, ground_truth: &GroundTruthArg) -> anyhow::Result<Dataset> {
    Ok(crate::commands::open_dataset(val, ground_truth)?)
}

impl Drop for Loader {
    fn drop(&mut self) {
        // In a forked child the decoding threads are not there to be joined: closing would wait
        // for them forever. The parent's copy stops them.
        if std::process::id() != self.pid {
            let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
            std::mem::forget(state.batches.take());
        }
    }
}

/// The owner of a batch's tensor while numpy uses it (the array's base object): when Python
/// drops the last array over it, the buffer goes back to the decoding stages.
#[pyclass(module = "zoorepro._zoorepro", frozen)]
struct LentTensor {
    values: Vec<f32>,
    recycler: Recycler,
}

impl Drop for LentTensor {
    fn drop(&mut self) {
        self.recycler.give_back(std::mem::take(&mut self.values));
    }
}

/// `values` as a numpy float32 array over their own memory, no copy and no fill, viewed as
/// little-endian float32 on the Python side (see `to_le`); the memory is given back through
/// `recycler` once numpy is done with it.
fn lent_array(
    py: Python<'_>,
    values: Vec<f32>,
    recycler: Recycler,
) -> PyResult<Bound<'_, PyArray1<f32>>> {
    let owner = Bound::new(
        py,
        LentTensor {
            values: to_le(values),
            recycler,
        },
    )?;
    let values = ArrayView1::from(owner.get().values.as_slice());
    // SAFETY: `owner` becomes the array's base object, so it lives as long as the array does,
    // and it is frozen: its `values` are never touched, let alone reallocated, until it is
    // dropped (after the array), when they are given back whole.
    Ok(unsafe { PyArray1::borrow_from_array(&values, owner.clone().into_any()) })
}

/// The loader's arguments checked as `verify` checks its flags (the same parsers, ranges and
/// messages, named as the Python arguments: `evaluate`'s words for the same values). The numbers
/// come as the Python ints' digits.
fn plan(
    recipe: Recipe,
    batch_size: String,
    threads: Option<String>,
    shard: Option<&str>,
    pillow_compat: Option<&str>,
) -> anyhow::Result<Plan> {
    let compat = parse_compat(pillow_compat)?;
    let invalid = |name: &str, value: &str, why: String| {
        anyhow::anyhow!("invalid value '{value}' for {name}: {why}")
    };
    let batch = parse_batch(&batch_size).map_err(|why| invalid("batch_size", &batch_size, why))?;
    let threads = threads
        .map(|n| parse_threads(&n).map_err(|why| invalid("threads", &n, why)))
        .transpose()?;
    // The tensor sets of verify's stages, the one queued for Python, the one Python is on and
    // the spares it gave back.
    crate::commands::check_batch_memory(
        "batch_size",
        batch,
        recipe.sample_len(),
        crate::eval::pipeline::BUFFERS + 2 + SPARES,
    )?;
    let shard = crate::commands::parse_shard(shard)?;
    Ok(Plan {
        recipe,
        compat,
        batch,
        threads,
        shard,
    })
}
