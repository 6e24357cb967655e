//! Finding, checking and loading the ONNX Runtime library.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use ort::environment::Environment;

use super::RuntimeError;

/// The ONNX Runtime release the oracle pinned, which `scripts/setup.sh` installs.
pub const EXPECTED_ORT_VERSION: &str = "1.32.0";

/// The loaded library and its one environment (ONNX Runtime allows one per process).
pub struct Runtime {
    pub(super) env: Environment,
    version: String,
    library: PathBuf,
    library_sha256: String,
}

/// The library of a pip `onnxruntime` in the venv at `venv` (`$VIRTUAL_ENV`):
/// `lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*`, the last by name where
/// several match. Only that folder is read: zoorepro searches no folder it was not told about.
pub fn venv_library(venv: &Path) -> Option<PathBuf> {
    let sorted = |dir: &Path, prefix: &str| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path())
            .collect();
        found.sort();
        found
    };
    sorted(&venv.join("lib"), "python3")
        .iter()
        .rev()
        .map(|python| python.join("site-packages/onnxruntime/capi"))
        .find_map(|capi| {
            sorted(&capi, "libonnxruntime.so")
                .into_iter()
                .rfind(|p| p.is_file())
        })
}

/// The library of the `onnxruntime` wheel the `zoorepro` wheel depends on, where the Python
/// package found it (`onnxruntime/capi/libonnxruntime.so*`); `Some(None)` when running from the
/// wheel without that dependency installed; unset outside the wheel.
static WHEEL_LIBRARY: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Names the `onnxruntime` wheel's library for this process (the Python package does, on import),
/// so `pip install zoorepro` runs with no setup step and no environment variable; `None` says
/// that wheel is not installed. The first call wins: one process loads one library.
pub fn set_wheel_library(path: Option<PathBuf>) {
    let _ = WHEEL_LIBRARY.set(path);
}

/// Where to look for the library, in order: the explicit flag, `ORT_DYLIB_PATH`, the
/// `onnxruntime` wheel beside the `zoorepro` wheel (when running from it), `ZOOREPRO_ORT_DIR`,
/// where setup put it, and a pip `onnxruntime` of the active venv (`$VIRTUAL_ENV`; where it has
/// none, the pattern looked for).
pub fn library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = explicit {
        return vec![path.to_path_buf()];
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    let mut candidates: Vec<PathBuf> = WHEEL_LIBRARY.get().cloned().flatten().into_iter().collect();
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
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|p| !p.is_empty()) {
        let venv = PathBuf::from(venv);
        candidates.push(venv_library(&venv).unwrap_or_else(|| {
            venv.join("lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*")
        }));
    }
    candidates
}

/// The sha256 of the library file, once per process and path: the record names the very library
/// that ran, and a process running many commands (the model-based test) hashes it once.
fn library_sha256(path: &Path) -> Result<String, RuntimeError> {
    use sha2::{Digest, Sha256};
    static HASHED: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());
    let mut hashed = HASHED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, sha256)) = hashed.iter().find(|(p, _)| p == path) {
        return Ok(sha256.clone());
    }
    let load_error = |e: std::io::Error| RuntimeError::LibraryLoad {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let (mut file, _) =
        crate::util::safe_file::open_regular(path).map_err(|e| RuntimeError::LibraryLoad {
            path: path.to_path_buf(),
            reason: e.reason(),
        })?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(load_error)?;
    let sha256 = crate::util::hex::hex(&hasher.finalize());
    hashed.push((path.to_path_buf(), sha256.clone()));
    Ok(sha256)
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

/// The process's one ONNX Runtime environment, made on first use from `library`. A process that
/// runs several commands (a test driving the library) gets the same environment again; another
/// library than the first is an error, since one process cannot hold two.
fn environment(library: &Path) -> Result<Environment, String> {
    static LOADED: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);
    let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((first, env)) = loaded.as_ref() {
        return if first == library {
            Ok(env.clone())
        } else {
            Err(format!(
                "this process already loaded ONNX Runtime from {}, and one process holds one",
                first.display()
            ))
        };
    }
    let env = ort::init_from(library)
        .map_err(|e| e.to_string())?
        .with_name("zoorepro")
        .build()
        .map_err(|e| e.to_string())?;
    *loaded = Some((library.to_path_buf(), env.clone()));
    Ok(env)
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
            // From the wheel, the one fix is its missing dependency, at the release it pins.
            if WHEEL_LIBRARY.get().is_some_and(Option::is_none) {
                return Err(RuntimeError::WheelDependencyMissing);
            }
            return Err(RuntimeError::LibraryNotFound { looked });
        };
        let version = library_version(&library)?;
        let library_sha256 = library_sha256(&library)?;
        let load_error = |reason: String| RuntimeError::LibraryLoad {
            path: library.clone(),
            reason,
        };
        let env = environment(&library).map_err(load_error)?;
        Ok(Runtime {
            env,
            version,
            library,
            library_sha256,
        })
    }

    /// The sha256 of the library file that was loaded.
    pub fn library_sha256(&self) -> &str {
        &self.library_sha256
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn library(&self) -> &Path {
        &self.library
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
    fn a_venv_is_searched_for_pip_onnxruntime_and_nothing_else() {
        let venv = tempfile::tempdir().unwrap();
        assert_eq!(venv_library(venv.path()), None);
        let capi = venv
            .path()
            .join("lib/python3.12/site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        std::fs::write(capi.join("libonnxruntime_providers_shared.so"), b"").unwrap();
        assert_eq!(
            venv_library(venv.path()),
            None,
            "not the providers' library"
        );
        std::fs::write(capi.join("libonnxruntime.so.1.32.0"), b"").unwrap();
        assert_eq!(
            venv_library(venv.path()),
            Some(capi.join("libonnxruntime.so.1.32.0"))
        );
        // Another folder holding one is not searched.
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(venv_library(&elsewhere.path().join("lib")), None);
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
                && message.contains("pip install onnxruntime")
                && message.contains("--ort-lib"),
            "{message}"
        );
    }
}
