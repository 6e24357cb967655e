//! Releasing the GIL safely when the interpreter may be exiting. Python 3.11 to 3.13 end a
//! thread that takes the GIL back once finalization has begun (a daemon thread still running
//! when the main thread returns) with `pthread_exit`, whose forced unwinding through Rust frames
//! aborts the process ("FATAL: exception not rethrown", or PyO3's `PyGILState_Release` failing
//! on a thread state already freed): a daemon thread inside `zoorepro.preprocess`, a `Loader` or
//! `evaluate` at exit made the whole process die with SIGABRT.
//!
//! So every wait of the extension that releases the GIL goes through [`detach`], which never
//! takes it back once an `atexit` callback, registered at import, has said that the interpreter
//! is exiting: the thread stays blocked there (what Python 3.14 does with such threads) and the
//! process exits normally. Python code (`model_fn`) is never called with Rust frames below it
//! (`evaluate` calls it from Python), so a thread ended inside it unwinds no Rust frame.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use pyo3::prelude::*;

/// Set by the `atexit` callback: the interpreter is about to finalize.
static EXITING: AtomicBool = AtomicBool::new(false);

/// Threads past their check of [`EXITING`] and taking the GIL back: the callback lets each of
/// them have it before finalization begins.
static RETURNING: AtomicUsize = AtomicUsize::new(0);

/// How many times the callback hands the GIL over to returning threads before it gives up.
const HANDOVERS: usize = 200;

std::thread_local! {
    /// Whether this thread ran the callback: the one that finalizes, which never blocks here
    /// (an `atexit` callback registered earlier may still use zoorepro).
    static FINALIZER: Cell<bool> = const { Cell::new(false) };
}

/// Registers the callback with `atexit`; the module's import calls it.
pub(super) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let callback = wrap_pyfunction!(interpreter_exiting, module)?;
    module
        .py()
        .import("atexit")?
        .call_method1("register", (callback,))?;
    Ok(())
}

/// The `atexit` callback: from now on a thread that released the GIL in [`detach`] never takes
/// it back. Threads already taking it back are given it first, while that is still safe.
#[pyfunction]
fn interpreter_exiting(py: Python<'_>) {
    FINALIZER.with(|finalizer| finalizer.set(true));
    EXITING.store(true, SeqCst);
    for _ in 0..HANDOVERS {
        if RETURNING.load(SeqCst) == 0 {
            break;
        }
        // Released for a moment, the GIL goes to a thread waiting for it.
        py.detach(|| std::thread::sleep(Duration::from_millis(1)));
    }
}

/// `py.detach(f)`, except that once the interpreter is exiting the thread does not take the GIL
/// back: it blocks for good (the process is about to end) instead of being ended by Python
/// inside Rust frames.
pub(super) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: Send + FnOnce() -> T,
    T: Send,
{
    let value = py.detach(|| {
        let value = f();
        // Counted before the check, and the callback sets the flag before it reads the count
        // (both sequentially consistent): either it waits for this thread, or this thread
        // sees the flag.
        RETURNING.fetch_add(1, SeqCst);
        if EXITING.load(SeqCst) && !FINALIZER.with(Cell::get) {
            RETURNING.fetch_sub(1, SeqCst);
            loop {
                std::thread::park();
            }
        }
        value
    });
    RETURNING.fetch_sub(1, SeqCst);
    value
}
