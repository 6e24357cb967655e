//! What every command may need from the global flags (`--home`, `--cache-dir`): the home and
//! its manifests, and the prediction store's folder, each resolved only when a command asks.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::model::manifest::{self, Manifest};

/// What every command may need from the global flags, resolved lazily so that a command that
/// does not touch the store never fails on an unwritable cache dir.
pub struct Context {
    home: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
}

impl Context {
    /// The context of a command line's `--home` and `--cache-dir`. Public for callers of
    /// [`run_native`](crate::commands::run_native) outside the crate, which parse `verify`'s
    /// arguments themselves as the Python binding does: the model-based test
    /// (tests/trust/trust_model/native.rs) drives native runs in its own process.
    pub fn new(home: Option<PathBuf>, cache_dir: Option<PathBuf>) -> Context {
        Context { home, cache_dir }
    }

    pub fn home(&self) -> anyhow::Result<PathBuf> {
        let home = crate::model::home::find_home(self.home.as_deref())?;
        for note in &home.untrusted {
            eprintln!("zoorepro: warning: {}", crate::util::escape::terminal(note));
        }
        Ok(home.dir)
    }

    pub fn manifests(&self, home: &Path) -> anyhow::Result<Vec<Manifest>> {
        Ok(manifest::load_with_shipped(&home.join("manifests"))?)
    }

    pub fn cache_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.cache_dir {
            Some(dir) => Ok(dir.clone()),
            None => crate::store::default_dir()
                .context("cannot tell where the user's cache directory is: pass --cache-dir DIR"),
        }
    }
}
