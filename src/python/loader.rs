//! The extension half of `zoorepro.Loader` (python/zoorepro/__init__.py wraps it in numpy): the
//! images of `--val` as `verify` reads them, decoded in batches by `eval::batches` on Rust
//! threads. The GIL is released while waiting for a batch; between waits, Python's signal
//! handlers run (`check_signals`), so Ctrl-C raises `KeyboardInterrupt` here after the decoding
//! threads were stopped.

use std::path::PathBuf;
use std::time::Duration;

use numpy::PyArray1;
use numpy::ndarray::ArrayView1;
use pyo3::prelude::*;

use super::{Error, guarded, parse_compat, resolve_recipe, to_le};
use crate::cli::{GroundTruthArg, MAX_BATCH, max_threads};
use crate::dataset::Shard;
use crate::eval::batches::{Batches, Next, Plan, Recycler, SPARES};

/// How long the GIL stays released waiting for a batch before signals are checked.
const WAIT: Duration = Duration::from_millis(100);

/// One batch for Python: names, labels (-1 where the set gives none), the float32 values (the
/// decoding stages' own buffer, see [`lent_array`]), the batch's shape.
type PyBatch<'py> = (Vec<String>, Vec<i64>, Bound<'py, PyArray1<f32>>, Vec<usize>);

/// Batches of decoded images of a validation set, in `verify`'s order.
#[pyclass(module = "zoorepro._zoorepro")]
pub struct Loader {
    batches: Batches,
    sample_shape: Vec<usize>,
    /// Images that could not be read or decoded: (path relative to the set, why).
    failed: Vec<(String, String)>,
}

#[pymethods]
impl Loader {
    #[new]
    #[pyo3(signature = (val, recipe, batch_size=32, threads=None, shard=None, ground_truth=None, pillow_compat=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        val: PathBuf,
        recipe: &str,
        batch_size: i64,
        threads: Option<i64>,
        shard: Option<&str>,
        ground_truth: Option<PathBuf>,
        pillow_compat: Option<&str>,
    ) -> PyResult<Loader> {
        let (batches, sample_shape) = py.detach(|| {
            guarded(|| {
                let plan = plan(recipe, batch_size, threads, shard, pillow_compat)?;
                let dataset =
                    crate::commands::open_dataset(&val, &GroundTruthArg { ground_truth })?;
                let shape = plan.recipe.sample_shape().to_vec();
                Ok((Batches::start(dataset, plan), shape))
            })
        })?;
        Ok(Loader {
            batches,
            sample_shape,
            failed: Vec::new(),
        })
    }

    /// The next batch with at least one image, or `None` after the last.
    fn next_batch<'py>(&mut self, py: Python<'py>) -> PyResult<Option<PyBatch<'py>>> {
        loop {
            let batches = &mut self.batches;
            match py.detach(|| batches.next(WAIT)) {
                Next::Waiting => {
                    if let Err(interrupt) = py.check_signals() {
                        self.close(py);
                        return Err(interrupt);
                    }
                }
                Next::Done => return Ok(None),
                Next::Failed(error) => {
                    let error = anyhow::Error::from(error);
                    return Err(Error::new_err(crate::commands::error_message(&error)));
                }
                Next::Batch(batch) => {
                    self.failed.extend(batch.failed);
                    if batch.names.is_empty() {
                        continue;
                    }
                    let mut shape = vec![batch.names.len()];
                    shape.extend(&self.sample_shape);
                    let labels = batch
                        .labels
                        .iter()
                        .map(|label| label.map_or(-1, i64::from))
                        .collect();
                    let data = lent_array(py, batch.tensor, self.batches.recycler())?;
                    return Ok(Some((batch.names, labels, data, shape)));
                }
            }
        }
    }

    /// Stops the decoding threads (after the batch they are on); the loader then yields nothing.
    fn close(&mut self, py: Python<'_>) {
        let batches = &mut self.batches;
        py.detach(|| batches.close());
    }

    /// Images that could not be read or decoded so far, `(path relative to the set, why)`.
    #[getter]
    fn failed(&self) -> Vec<(String, String)> {
        self.failed.clone()
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

/// The loader's arguments checked as `verify` checks its flags (the same ranges and messages,
/// named as the Python arguments).
fn plan(
    recipe: &str,
    batch_size: i64,
    threads: Option<i64>,
    shard: Option<&str>,
    pillow_compat: Option<&str>,
) -> anyhow::Result<Plan> {
    let compat = parse_compat(pillow_compat)?;
    let recipe = resolve_recipe(recipe)?;
    let batch = usize::try_from(batch_size)
        .ok()
        .filter(|n| (1..=MAX_BATCH).contains(n))
        .ok_or_else(|| anyhow::anyhow!("batch_size {batch_size} is outside 1..={MAX_BATCH}"))?;
    let threads = threads
        .map(|n| {
            let most = max_threads();
            usize::try_from(n)
                .ok()
                .filter(|n| (1..=most).contains(n))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "threads {n} is outside 1..={most} (4x this machine's cores, at most 256)"
                    )
                })
        })
        .transpose()?;
    // The tensor sets of verify's stages, the one queued for Python, the one Python is on and
    // the spares it gave back.
    crate::commands::check_batch_memory(
        "batch_size",
        batch,
        recipe.sample_len(),
        crate::eval::pipeline::BUFFERS + 2 + SPARES,
    )?;
    let shard = shard
        .map(Shard::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    Ok(Plan {
        recipe,
        compat,
        batch,
        threads,
        shard,
    })
}
