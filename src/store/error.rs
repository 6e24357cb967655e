//! What can go wrong with the store, each error saying what to do about it.

use std::path::{Path, PathBuf};

use super::schema::SCHEMA_VERSION;
use super::{BUSY_TIMEOUT, RunId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the prediction store in {dir}: {reason} (pass --cache-dir DIR to put it elsewhere)"
    )]
    Create { dir: PathBuf, reason: String },
    #[error(
        "the prediction store {path} is not a SQLite database: move it away or pass --cache-dir DIR"
    )]
    NotADatabase { path: PathBuf },
    #[error(
        "the prediction store's file {path} cannot be used ({reason}): move it away or pass --cache-dir DIR"
    )]
    NotRegular { path: PathBuf, reason: String },
    #[error(
        "the prediction store {path} has schema version {found}, newer than this zoorepro's {SCHEMA_VERSION}: upgrade zoorepro or pass --cache-dir DIR"
    )]
    NewerSchema { path: PathBuf, found: i64 },
    #[error(
        "the prediction store {path} stayed locked by another process for {} s: wait for it to finish, or pass --cache-dir DIR",
        BUSY_TIMEOUT.as_secs()
    )]
    Busy { path: PathBuf },
    #[error(
        "the prediction store {path} is damaged ({reason}): move it away (runs in it are lost) or pass --cache-dir DIR"
    )]
    DamagedFile { path: PathBuf, reason: String },
    #[error("the prediction store {path}: {reason}")]
    Sqlite { path: PathBuf, reason: String },
    #[error(
        "the prediction store {path} is damaged: {reason}; delete the run (`zoorepro runs --delete ID`) and run it again"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot import into the prediction store {path}: {reason}; nothing was stored")]
    InvalidImport { path: PathBuf, reason: String },
    #[error("no run {id} in the prediction store {path} (`zoorepro runs` lists them)")]
    NoSuchRun { path: PathBuf, id: RunId },
    #[error(
        "run {id} was deleted from the prediction store {path} while this process was writing it (`zoorepro runs --delete`): nothing more was stored; run the command again to start a new run"
    )]
    RunGone { path: PathBuf, id: RunId },
    #[error(
        "the prediction store {path} was deleted or replaced while this process was writing it: the rows of this run went to a file no longer there, so the run is not stored and no record names it; run the command again to start a new run"
    )]
    Replaced { path: PathBuf },
    #[error(
        "run {id} in the prediction store {path} is being written by process {pid} (last batch {heartbeat}): nothing was deleted; wait for it to finish or stop it, then delete the run"
    )]
    RunInUse {
        path: PathBuf,
        id: RunId,
        pid: i64,
        heartbeat: String,
    },
    #[error(
        "run {id} of the same key in the prediction store {path} is being written by process {pid} (last batch {heartbeat}): two passes of this key at once could mix two models' rows in one record, so nothing was started; wait for that process to finish (or stop it), then run again (where its process cannot be checked, the claim lapses 10 minutes after its last batch)"
    )]
    KeyInUse {
        path: PathBuf,
        id: RunId,
        pid: i64,
        heartbeat: String,
    },
    #[error(
        "the prediction store {path} holds rows under this name and checkpoint_sha256 (runs {runs}) that another model made: {differing} of the {compared} images both hold have another top-1 or top-5 in these shards ({example}), more than 1 in 64; merging would write over those rows and change those runs' predictions, so they were not merged: give the shards' model its own checkpoint_sha256 (the sha256 of its own weights) and run them again, delete those runs (`zoorepro runs --delete ID`), or merge into another --cache-dir"
    )]
    AnotherModelsRows {
        path: PathBuf,
        runs: String,
        differing: usize,
        compared: usize,
        example: String,
    },
    #[error(
        "run {id} in the prediction store {path}: image {name} is stored with other content than this process read (another process ran other files into the same run meanwhile?); the run was not marked complete: run the command again"
    )]
    ContentChanged {
        path: PathBuf,
        id: RunId,
        name: String,
    },
    #[error(
        "disk I/O error on the prediction store {path} ({reason}): if {path}-wal or {path}-shm was deleted or moved while a zoorepro process had the store open, let that process finish (or stop it) and run again, which rebuilds them; otherwise check the disk, or move the store away (its runs are lost) or pass --cache-dir DIR"
    )]
    Io { path: PathBuf, reason: String },
    #[error(
        "the prediction store {path} can only be read (no write permission), and its schema version {found} predates this zoorepro's {SCHEMA_VERSION}: run a zoorepro command that may write to it once (as its owner) to upgrade it, or pass --cache-dir DIR"
    )]
    ReadOnlyOldSchema { path: PathBuf, found: i64 },
}

/// Turns a SQLite error into one that says what to do, by SQLite's result code (not its text).
pub(super) fn classify(path: &Path, error: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let reason = error.to_string();
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase {
            path: path.to_path_buf(),
        },
        // An existing store in a directory (or a file) this user cannot write.
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            StoreError::Create {
                dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                reason,
            }
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::DamagedFile {
            path: path.to_path_buf(),
            reason,
        },
        // Among others SQLITE_IOERR_SHORT_READ: the write-ahead log deleted under a live process.
        Some(ErrorCode::SystemIoFailure) => StoreError::Io {
            path: path.to_path_buf(),
            reason,
        },
        _ => StoreError::Sqlite {
            path: path.to_path_buf(),
            reason,
        },
    }
}

#[cfg(test)]
mod tests {

    use std::path::Path;

    use super::*;

    #[test]
    fn sqlite_errors_say_what_to_do() {
        let path = Path::new("/cache/zoorepro.sqlite3");
        let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        let busy = classify(path, failure(rusqlite::ffi::SQLITE_BUSY));
        assert!(matches!(busy, StoreError::Busy { .. }));
        assert!(busy.to_string().contains("another process"), "{busy}");
        let damaged = classify(path, failure(rusqlite::ffi::SQLITE_CORRUPT));
        assert!(damaged.to_string().contains("move it away"), "{damaged}");
        let readonly = classify(path, failure(rusqlite::ffi::SQLITE_READONLY));
        assert!(
            readonly.to_string().contains("/cache") && readonly.to_string().contains("--cache-dir"),
            "{readonly}"
        );
    }
}
