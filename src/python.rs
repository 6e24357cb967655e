//! The Python extension module `zoorepro._zoorepro` (cargo feature `python`), which the wheel
//! (`scripts/build_wheel.sh`, maturin) ships inside the `zoorepro` package of `python/`: the CLI
//! behind the `zoorepro` console script, and `zoorepro.preprocess`. Nothing here computes: it
//! parses as `src/main.rs` does and calls what the commands call, so a Python caller gets the
//! CLI's tensors, exit statuses and messages. No panic crosses into Python: each entry point
//! catches unwinding and turns it into `zoorepro.Error` (the CLI: exit 101, a panicking
//! binary's status).

use std::ffi::OsString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::cli::{Cli, PillowCompatArg};
use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;

mod evaluate;
mod exiting;
mod loader;

// Named as the `zoorepro` package re-exports it: pickle finds a class by `__module__` and
// `__qualname__`, and `_zoorepro` alone is not importable, so an error raised in a worker process
// (multiprocessing, a torch DataLoader's workers) could not reach the parent.
pyo3::create_exception!(
    zoorepro,
    Error,
    pyo3::exceptions::PyException,
    "A zoorepro error: the message the CLI prints after `zoorepro: error:`."
);

/// The exit status of a Rust program that panicked.
const PANICKED: i32 = 101;

#[pymodule]
fn _zoorepro(m: &Bound<'_, PyModule>) -> PyResult<()> {
    load_numpy(m.py())?;
    exiting::register(m)?;
    m.add("Error", m.py().get_type::<Error>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(set_ort_library, m)?)?;
    m.add_function(wrap_pyfunction!(preprocess, m)?)?;
    m.add_class::<loader::Loader>()?;
    m.add_class::<evaluate::NativePass>()?;
    Ok(())
}

/// Loads numpy's C API now, once. rust-numpy loads it on the first array it makes and panics
/// when that fails, which a Ctrl-C arriving then makes it do (the import it runs sees the
/// pending `KeyboardInterrupt`): made at import, the first array of a process cannot fail so,
/// and a failure here is the import's error.
fn load_numpy(py: Python<'_>) -> PyResult<()> {
    py.import("numpy")?;
    caught(|| {
        PyArray1::<f32>::from_vec(py, Vec::new());
        Ok(())
    })
}

/// A caught panic's message, for the one line it becomes.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// `zoorepro ARGS...` in this process, `argv` being `sys.argv` (the program first): the exit
/// status the binary would give. The GIL is released while the command runs; stdout is flushed
/// before returning, since no Rust `main` returns here to do it. Records name `invocation` as
/// the command line, else `argv` (the process's own arguments start with the Python
/// interpreter; `python -m zoorepro` gives `[python, "-m", "zoorepro", ...]`).
#[pyfunction]
#[pyo3(signature = (argv, invocation=None))]
fn run_cli(py: Python<'_>, argv: Vec<OsString>, invocation: Option<Vec<OsString>>) -> i32 {
    // The invocation's slot is a plain Mutex<Option<..>>: setting it cannot panic.
    crate::util::invocation::set(Some(invocation.unwrap_or_else(|| argv.clone())));
    let status = exiting::detach(py, || {
        let status = catch_unwind(AssertUnwindSafe(|| cli_main(argv))).unwrap_or_else(|payload| {
            eprintln!(
                "zoorepro: error: internal error: {}",
                crate::util::escape::terminal(&panic_message(&*payload))
            );
            PANICKED
        });
        let _ = std::io::Write::flush(&mut std::io::stdout());
        status
    });
    crate::util::invocation::set(None);
    status
}

/// Parse and run as `src/main.rs` does: a bad value (out of range, not one of a flag's choices)
/// is one line and exit 2; `--help`, `--version` and other usage errors print clap's text and
/// give clap's status.
fn cli_main(argv: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            if let Some(line) = crate::cli::one_line_error(&e) {
                eprintln!("zoorepro: error: {}", crate::util::escape::terminal(&line));
                return crate::exit::ERROR;
            }
            let _ = e.print();
            return e.exit_code();
        }
    };
    crate::commands::run(cli)
}

/// Names the `onnxruntime` wheel's library (`onnxruntime/capi/libonnxruntime.so*`), which the
/// Python package looks for on import: the runtime tries it after `--ort-lib` and
/// `ORT_DYLIB_PATH`, before its other places. `None`: that wheel is not installed, and a missing
/// library is reported as the missing dependency it is.
#[pyfunction]
fn set_ort_library(path: Option<PathBuf>) -> PyResult<()> {
    caught(|| {
        crate::runtime::set_wheel_library(path);
        Ok(())
    })
}

/// One image's tensor, `(float32 values, shape)` (see [`le_array`]), the shape `[1, ...]` as the `.npy`
/// of `zoorepro preprocess --recipe RECIPE FILE` (or `--model ID`) has it. The image is `data`
/// (its bytes) or the file at `path`; `recipe` or `model` (and `home`) as [`chosen_recipe`] takes
/// them; `pillow_compat` is the CLI's `--pillow-compat` value (default 13). The GIL is released
/// while it decodes.
#[pyfunction]
#[pyo3(signature = (data, path, recipe=None, model=None, home=None, pillow_compat=None))]
fn preprocess<'py>(
    py: Python<'py>,
    data: Option<&[u8]>,
    path: Option<PathBuf>,
    recipe: Option<&str>,
    model: Option<&str>,
    home: Option<PathBuf>,
    pillow_compat: Option<&str>,
) -> PyResult<(Bound<'py, PyArray1<f32>>, Vec<usize>)> {
    caught(|| {
        let (tensor, shape) = exiting::detach(py, || {
            guarded(|| {
                let compat = parse_compat(pillow_compat)?;
                let recipe = chosen_recipe(recipe, model, home)?;
                prepare(data, path.as_deref(), &recipe, compat)
            })
        })?;
        Ok((le_array(py, tensor), shape))
    })
}

/// `values` handed to numpy as the float32 array they become, without a copy or a fill.
fn le_array(py: Python<'_>, values: Vec<f32>) -> Bound<'_, PyArray1<f32>> {
    PyArray1::from_vec(py, to_le(values))
}

/// `values` made little-endian float32 in place: the Python side views every array handed over
/// as `"<f4"` (nothing to do on a little-endian host), the `.npy`'s bytes.
fn to_le(mut values: Vec<f32>) -> Vec<f32> {
    if cfg!(target_endian = "big") {
        for value in &mut values {
            *value = f32::from_bits(value.to_bits().swap_bytes());
        }
    }
    values
}

/// The recipe `zoorepro preprocess --recipe NAME` (without `--model`) resolves to: a preset or a
/// recipe source, with its message for a name it does not know.
// Keep to what src/commands/preprocess.rs's `run` calls.
fn resolve_recipe(name: &str) -> anyhow::Result<Recipe> {
    let recipe = crate::image::sources::resolve(name)?;
    recipe
        .validate()
        .map_err(|e| anyhow::anyhow!("recipe {}: {e}", recipe.name))?;
    Ok(recipe)
}

/// The recipe of `recipe=` or of `model=`, exactly one of them: a preset or recipe source as
/// `zoorepro preprocess --recipe NAME` resolves it, or model ID's own recipe as `zoorepro
/// preprocess --model ID` (and `verify --model ID`) resolves it, from the manifests of the home the
/// CLI would use.
fn chosen_recipe(
    recipe: Option<&str>,
    model: Option<&str>,
    home: Option<PathBuf>,
) -> anyhow::Result<Recipe> {
    match (recipe, model) {
        (Some(name), None) => resolve_recipe(name),
        (recipe, Some(id)) => model_recipe(id, recipe, home),
        (None, None) => anyhow::bail!(
            "give recipe=NAME (a preset or recipe source: `zoorepro recipes`) or model=ID (that \
             model's own recipe, the one `zoorepro verify --model ID` feeds it)"
        ),
    }
}

/// Model `id`'s recipe `recipe` (its default where `None`), from the manifests of `home`, else
/// of the home the CLI finds.
// Keep to what src/commands/preprocess.rs's `run` calls with --model (and --recipe).
fn model_recipe(id: &str, recipe: Option<&str>, home: Option<PathBuf>) -> anyhow::Result<Recipe> {
    let home = match home {
        Some(home) => Some(home),
        None => cli_home()?,
    };
    let ctx = crate::commands::Context::new(home, None);
    let home = ctx.home()?;
    let manifests = ctx.manifests(&home)?;
    let recipe = crate::model::manifest::resolve(&manifests, id)?.recipe(recipe)?;
    recipe
        .validate()
        .map_err(|e| anyhow::anyhow!("recipe {}: {e}", recipe.name))?;
    Ok(recipe)
}

/// `--home` as the CLI's parser has it when the flag is not given: `ZOOREPRO_HOME`'s value, with
/// its rules (an empty one is refused), or `None`.
fn cli_home() -> anyhow::Result<Option<PathBuf>> {
    match Cli::try_parse_from(["zoorepro", "recipes"]) {
        Ok(cli) => Ok(cli.home),
        Err(e) => Err(anyhow::anyhow!(
            "{}",
            crate::cli::one_line_error(&e).unwrap_or_else(|| e.to_string())
        )),
    }
}

/// `--pillow-compat`: the CLI's default (13), and its values parsed by the CLI's own enum, refused
/// in the words `evaluate` gives (clap's, through `cli::one_line_error`).
fn parse_compat(pillow_compat: Option<&str>) -> anyhow::Result<PillowCompat> {
    Ok(match pillow_compat {
        None => PillowCompatArg::V13.into(),
        Some(text) => PillowCompatArg::from_str(text, false)
            .map_err(|_| {
                let accepted = "accepted values: 12, 13, simd";
                match text {
                    "" => anyhow::anyhow!(
                        "a value is required for pillow_compat but none was supplied; {accepted}"
                    ),
                    _ => anyhow::anyhow!("invalid value '{text}' for pillow_compat; {accepted}"),
                }
            })?
            .into(),
    })
}

/// Runs `f`, its error becoming `zoorepro.Error` with the CLI's message, and a panic one with
/// its own: no panic crosses into Python.
fn guarded<T>(f: impl FnOnce() -> anyhow::Result<T>) -> PyResult<T> {
    caught(|| f().map_err(|e| Error::new_err(crate::commands::error_message(&e))))
}

/// Runs `f`, a panic becoming `zoorepro.Error` with its message: every entry point's body runs
/// in it, so that no panic reaches PyO3, which would raise `pyo3_runtime.PanicException`.
fn caught<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(Error::new_err(format!(
            "internal error: {}",
            panic_message(&*payload)
        )))
    })
}

/// What `zoorepro preprocess` does for one image (src/commands/preprocess.rs: the file read with
/// the same limit, the same message naming it), as a flat tensor and shape.
fn prepare(
    data: Option<&[u8]>,
    path: Option<&Path>,
    recipe: &Recipe,
    compat: PillowCompat,
) -> anyhow::Result<(Vec<f32>, Vec<usize>)> {
    let read;
    let (bytes, what) = match (data, path) {
        // The cap a file has (a path's read refuses more): bytes are no way around it.
        (Some(bytes), _) if bytes.len() as u64 > crate::dataset::MAX_IMAGE_BYTES => {
            return Err(crate::util::safe_file::SafeFileError::TooLarge {
                path: PathBuf::from("the image given as bytes"),
                size: bytes.len() as u64,
                limit: crate::dataset::MAX_IMAGE_BYTES,
                what: "an image file",
            }
            .into());
        }
        (Some(bytes), _) => (bytes, "the image bytes given".to_string()),
        (None, Some(path)) => {
            read = crate::util::safe_file::read_regular(
                path,
                crate::dataset::MAX_IMAGE_BYTES,
                "an image file",
            )?;
            (&read[..], path.display().to_string())
        }
        (None, None) => anyhow::bail!("preprocess needs an image: a path or its bytes"),
    };
    let mut tensor = vec![0f32; recipe.sample_len()];
    crate::image::pipelines::preprocess(bytes, &[(recipe, compat)], &mut [&mut tensor])
        .remove(0)
        .with_context(|| format!("cannot preprocess {what}"))?;
    let mut shape = vec![1];
    shape.extend(recipe.sample_shape());
    Ok((tensor, shape))
}
