//! Finding, checking and loading the ONNX Runtime library.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ort::environment::Environment;

use super::RuntimeError;

/// The ONNX Runtime release the oracle pinned, which `scripts/setup.sh` installs.
pub const EXPECTED_ORT_VERSION: &str = "1.32.0";

/// The loaded library and its one environment (ONNX Runtime allows one per process).
pub struct Runtime {
    pub(super) env: Environment,
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
            return Err(RuntimeError::LibraryNotFound { looked });
        };
        let version = library_version(&library)?;
        let load_error = |reason: String| RuntimeError::LibraryLoad {
            path: library.clone(),
            reason,
        };
        let env = environment(&library).map_err(load_error)?;
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
