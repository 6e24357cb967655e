//! The prediction store: one SQLite database per cache dir, one run per key, per-image top-5.
//!
//! Crash safety comes from SQLite transactions in WAL mode: rows reach the database only in
//! committed transactions, so a killed process leaves whole batches or nothing, and a run is only
//! marked complete (and its summary trusted) by `mark_complete` after every image is in.
//! Two processes on one cache dir serialize their writes through the busy timeout.
//!
//! Durability: `synchronous = NORMAL` in WAL mode does not sync at each commit, so a power loss
//! can lose the last commits (never corrupt the database); a killed process loses nothing it
//! committed. Losing a batch only means inferring it again on resume.
//!
//! Run identity: ids come from AUTOINCREMENT and are never given twice; each run carries a random
//! token that every row write and `mark_complete` check inside their transaction, so a process
//! whose run was deleted (and perhaps replaced) writes nothing more. A writing process holds a
//! lease (`writers`) that makes `delete_run` refuse while the process lives.
//!
//! Image identity: a row records the size and sha256 of the file it was computed from, and
//! `mark_complete` keeps exactly the images of one pass with those contents.
//!
//! `verify` writes one row per image (`predictions`), batch by batch, so an interrupted run
//! resumes. Imports arrive whole, so they are stored packed (`packed_predictions`, one row per run
//! of columnar blobs): 50,000 images are one insert, and reading a run back is one read.
//!
//! Reading speed (release, one 50,000-image run, `tests::read_speed`): `ranked_columns` of an
//! imported run about 3 ms, of a verified run about 16 ms; `predictions` about 9 ms and 22 ms.
//! `table` with the original labels reads no rows at all: complete runs carry a `Summary`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::eval::rank::TOP_K;
use crate::image::recipe::Recipe;
use crate::image::resample::PillowCompat;

const DATABASE_FILE: &str = "zoorepro.sqlite3";
const SCHEMA_VERSION: i64 = 3;
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);
/// A writer's lease whose process cannot be checked (another machine, no /proc) is taken as
/// abandoned after this long without a committed batch.
const LEASE_STALE_AFTER_SECS: i64 = 600;

pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|dir| dir.join("zoorepro"))
}

pub type RunId = i64;

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
        "run {id} in the prediction store {path} is being written by process {pid} (last batch {heartbeat}): nothing was deleted; wait for it to finish or stop it, then delete the run"
    )]
    RunInUse {
        path: PathBuf,
        id: RunId,
        pid: i64,
        heartbeat: String,
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Ranked {
        top5: [u16; TOP_K],
        scores: [f32; TOP_K],
    },
    Failed(String),
}

/// What a stored row says of the file it was computed from: its size and sha256. Together with the
/// name this is the image's identity: a file whose content changed is evaluated again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Content {
    pub size: u64,
    pub sha256: [u8; 32],
}

impl Content {
    pub fn of(bytes: &[u8]) -> Content {
        Content {
            size: bytes.len() as u64,
            sha256: Sha256::digest(bytes).into(),
        }
    }
}

/// A stored image of a run, as `verify` needs it to decide what to evaluate again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredImage {
    /// `None` for rows written before version 3 of the store, or for files that could not be read.
    pub content: Option<Content>,
    pub failed: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The image's basename: its identity across layouts.
    pub name: String,
    /// Path relative to `--val`.
    pub file: String,
    pub label: Option<u16>,
    pub outcome: Outcome,
}

/// Everything that can change a prediction. Two runs with equal keys must give equal rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunKey {
    /// "verify" or "import".
    pub kind: String,
    pub model_id: String,
    pub onnx_sha256: String,
    pub recipe: String,
    pub recipe_sha256: String,
    pub pillow_compat: String,
    pub ort_version: String,
    pub provider: String,
    pub opt_level: String,
    pub batch: usize,
    pub shard: Option<(u32, u32)>,
    /// Imports: the digest of the imported files.
    pub source_sha256: Option<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl RunKey {
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        model_id: &str,
        onnx_sha256: &str,
        recipe: &Recipe,
        compat: PillowCompat,
        ort_version: &str,
        provider: &str,
        opt_level: &str,
        batch: usize,
    ) -> RunKey {
        RunKey {
            kind: "verify".into(),
            model_id: model_id.into(),
            onnx_sha256: onnx_sha256.into(),
            recipe: recipe.name.clone(),
            recipe_sha256: sha256_hex(serde_json::to_string(recipe).unwrap_or_default().as_bytes()),
            pillow_compat: compat.name().into(),
            ort_version: ort_version.into(),
            provider: provider.into(),
            opt_level: opt_level.into(),
            batch,
            shard: None,
            source_sha256: None,
        }
    }

    /// The same key for one shard of a partitioned run.
    pub fn with_shard(mut self, shard: Option<crate::dataset::Shard>) -> RunKey {
        self.shard = shard.map(|s| (s.index, s.count));
        self
    }

    /// sha256 of the key's JSON (fields in declaration order): the run's stable identity.
    pub fn digest(&self) -> String {
        sha256_hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

/// Top-1 / top-5 against the labels stored with the rows, kept per run so that listing many runs
/// needs no scan of their rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub images: usize,
    pub labelled: usize,
    pub failed: usize,
    pub top1_correct: usize,
    pub top5_correct: usize,
    /// `manifest::image_set_digest` of the labelled images: which references apply.
    pub image_set_sha256: String,
}

impl Summary {
    pub fn of<'a>(predictions: impl IntoIterator<Item = &'a Prediction>) -> Summary {
        let mut summary = Summary::default();
        let mut labelled_names = Vec::new();
        for prediction in predictions {
            summary.images += 1;
            let ranked = match &prediction.outcome {
                Outcome::Ranked { top5, .. } => Some(top5),
                Outcome::Failed(_) => {
                    summary.failed += 1;
                    None
                }
            };
            if let Some(label) = prediction.label {
                summary.labelled += 1;
                labelled_names.push(prediction.name.as_str());
                if let Some(top5) = ranked {
                    summary.top1_correct += usize::from(top5[0] == label);
                    summary.top5_correct += usize::from(top5.contains(&label));
                }
            }
        }
        summary.image_set_sha256 = crate::model::manifest::image_set_digest(labelled_names);
        summary
    }
}

/// One run's rows as parallel columns (see `Store::ranked_columns`). Names share one buffer, so
/// reading a run allocates a handful of vectors rather than one string per image.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RankedColumns {
    /// Every name, one after another; `name_ends[i]` is where name `i` ends.
    names: String,
    name_ends: Vec<usize>,
    pub labels: Vec<Option<u16>>,
    /// `None` for an image that failed.
    pub top5: Vec<Option<[u16; TOP_K]>>,
}

impl RankedColumns {
    pub fn len(&self) -> usize {
        self.name_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.name_ends.is_empty()
    }

    /// The basename of image `i`.
    pub fn name(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.name_ends[i - 1] };
        &self.names[start..self.name_ends[i]]
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.name(i))
    }

    fn push_name(&mut self, name: &str) {
        self.names.push_str(name);
        self.name_ends.push(self.names.len());
    }
}

#[derive(Clone, Debug)]
pub struct RunInfo {
    pub id: RunId,
    /// Random, set when the run is created: a row write checks it, so a process never writes
    /// into another run that happens to have the same id or key.
    pub token: String,
    pub key: RunKey,
    pub model_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub complete: bool,
    /// Rows stored so far.
    pub images: usize,
    pub meta: serde_json::Value,
    /// Set for complete runs.
    pub summary: Option<Summary>,
}

pub enum ImportOutcome {
    New(RunId),
    AlreadyPresent(RunId),
}

pub struct Store {
    connection: Connection,
    path: PathBuf,
    /// This process's writer leases (run, lease id), removed when the store is dropped.
    leases: Vec<(RunId, String)>,
}

impl Drop for Store {
    fn drop(&mut self) {
        for (_, lease) in &self.leases {
            let _ = self
                .connection
                .execute("DELETE FROM writers WHERE lease = ?1", [lease]);
        }
    }
}

/// Identifies this boot of this machine, so that a lease's process can be checked for liveness.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
}

/// A process's start time (field 22 of /proc/PID/stat): with the pid, it tells a live writer from
/// a reused pid.
fn process_start(pid: i64) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    let (_, after) = stat.rsplit_once(')')?;
    after.split_whitespace().nth(19).map(str::to_string)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A writer's lease as stored in `writers`.
struct LeaseRow {
    lease: String,
    boot_id: Option<String>,
    pid: i64,
    pid_start: Option<String>,
    heartbeat: i64,
}

fn lease_is_live(boot: Option<&str>, pid: i64, start: Option<&str>, heartbeat: i64) -> bool {
    match (boot, start, boot_id()) {
        (Some(boot), Some(start), Some(current)) if boot == current => {
            process_start(pid).as_deref() == Some(start)
        }
        _ => unix_now() - heartbeat < LEASE_STALE_AFTER_SECS,
    }
}

/// Turns a SQLite error into one that says what to do, by SQLite's result code (not its text).
fn classify(path: &Path, error: rusqlite::Error) -> StoreError {
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

fn now() -> String {
    crate::report::utc_timestamp(std::time::SystemTime::now())
}

fn pack_top5(top5: &[u16; TOP_K], out: &mut Vec<u8>) {
    for class in top5 {
        out.extend_from_slice(&class.to_le_bytes());
    }
}

fn pack_scores(scores: &[f32; TOP_K], out: &mut Vec<u8>) {
    for score in scores {
        out.extend_from_slice(&score.to_le_bytes());
    }
}

fn unpack_top5(bytes: &[u8]) -> Option<[u16; TOP_K]> {
    (bytes.len() == 2 * TOP_K)
        .then(|| std::array::from_fn(|i| u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]])))
}

fn unpack_scores(bytes: &[u8]) -> Option<[f32; TOP_K]> {
    (bytes.len() == 4 * TOP_K).then(|| {
        std::array::from_fn(|i| {
            f32::from_le_bytes([
                bytes[4 * i],
                bytes[4 * i + 1],
                bytes[4 * i + 2],
                bytes[4 * i + 3],
            ])
        })
    })
}

const CREATE_SCHEMA: &str = "
    -- AUTOINCREMENT: an id is never given again after its run is deleted.
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key_digest TEXT NOT NULL UNIQUE,
        key_json TEXT NOT NULL,
        model_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        meta_json TEXT NOT NULL,
        complete INTEGER NOT NULL DEFAULT 0,
        images INTEGER NOT NULL DEFAULT 0,
        summary_json TEXT,
        token TEXT NOT NULL
    );
    -- size and sha256: the content each row was computed from.
    CREATE TABLE predictions (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        file TEXT NOT NULL,
        label INTEGER,
        top5 BLOB,
        scores BLOB,
        error TEXT,
        size INTEGER,
        sha256 BLOB,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID;
    -- Columns in the order scoring reads them: a blob past the first is found by walking the
    -- overflow pages of every blob before it, so the ones `ranked_columns` skips come last.
    CREATE TABLE packed_predictions (
        run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        names TEXT NOT NULL,
        labels BLOB NOT NULL,
        top5 BLOB NOT NULL,
        scores BLOB NOT NULL,
        files TEXT NOT NULL
    );
    CREATE TABLE writers (
        lease TEXT PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        boot_id TEXT,
        pid INTEGER NOT NULL,
        pid_start TEXT,
        heartbeat INTEGER NOT NULL
    );
    PRAGMA user_version = 3;
";

/// Version 1 stored `files` second in `packed_predictions`, so scoring an imported run walked
/// through every file path to reach the labels.
const UPGRADE_FROM_1: &str = "
    CREATE TABLE packed_predictions_2 (
        run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        names TEXT NOT NULL,
        labels BLOB NOT NULL,
        top5 BLOB NOT NULL,
        scores BLOB NOT NULL,
        files TEXT NOT NULL
    );
    INSERT INTO packed_predictions_2 (run_id, names, labels, top5, scores, files)
        SELECT run_id, names, labels, top5, scores, files FROM packed_predictions;
    DROP TABLE packed_predictions;
    ALTER TABLE packed_predictions_2 RENAME TO packed_predictions;
    PRAGMA user_version = 2;
";

/// Version 2 reused the id of a deleted run, identified images by name alone and had no writer
/// leases. Runs on foreign_keys = OFF (the DROP would otherwise cascade to every row).
const UPGRADE_FROM_2: &str = "
    CREATE TABLE runs_3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key_digest TEXT NOT NULL UNIQUE,
        key_json TEXT NOT NULL,
        model_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        meta_json TEXT NOT NULL,
        complete INTEGER NOT NULL DEFAULT 0,
        images INTEGER NOT NULL DEFAULT 0,
        summary_json TEXT,
        token TEXT NOT NULL
    );
    INSERT INTO runs_3 (id, key_digest, key_json, model_id, kind, created_at, updated_at,
                        meta_json, complete, images, summary_json, token)
        SELECT id, key_digest, key_json, model_id, kind, created_at, updated_at, meta_json,
               complete, images, summary_json, lower(hex(randomblob(16)))
        FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_3 RENAME TO runs;
    ALTER TABLE predictions ADD COLUMN size INTEGER;
    ALTER TABLE predictions ADD COLUMN sha256 BLOB;
    CREATE TABLE writers (
        lease TEXT PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        boot_id TEXT,
        pid INTEGER NOT NULL,
        pid_start TEXT,
        heartbeat INTEGER NOT NULL
    );
    PRAGMA user_version = 3;
";

const RUN_COLUMNS: &str = "id, key_json, model_id, created_at, updated_at, complete, images, meta_json, summary_json, token";

impl Store {
    pub fn open(cache_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(cache_dir).map_err(|e| StoreError::Create {
            dir: cache_dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let path = cache_dir.join(DATABASE_FILE);
        // Two processes opening a fresh store race to switch it to WAL, and SQLite answers the
        // loser with SQLITE_BUSY at once, without its busy handler: retry within the timeout.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            let connection = Connection::open(&path).map_err(|e| StoreError::Create {
                dir: cache_dir.to_path_buf(),
                reason: e.to_string(),
            })?;
            let mut store = Store {
                connection,
                path: path.clone(),
                leases: Vec::new(),
            };
            match store.initialise() {
                Ok(()) => return Ok(store),
                Err(StoreError::Busy { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Opens a store to read it: as `open` does, and when the store cannot be written (a file or
    /// folder without write permission), read-only, so that `runs`, `table` and `compare` still
    /// read it.
    pub fn open_for_reading(cache_dir: &Path) -> Result<Store, StoreError> {
        let error = match Store::open(cache_dir) {
            Ok(store) => return Ok(store),
            Err(error @ (StoreError::Create { .. } | StoreError::Sqlite { .. })) => error,
            Err(error) => return Err(error),
        };
        let path = cache_dir.join(DATABASE_FILE);
        if !path.is_file() {
            return Err(error);
        }
        Store::open_read_only(&path).map_err(|read_only| match read_only {
            StoreError::ReadOnlyOldSchema { .. } => read_only,
            _ => error,
        })
    }

    fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let readable = |uri: &str| -> Result<Store, StoreError> {
            let connection =
                Connection::open_with_flags(uri, flags).map_err(|e| classify(path, e))?;
            let store = Store {
                connection,
                path: path.to_path_buf(),
                leases: Vec::new(),
            };
            store
                .connection
                .busy_timeout(BUSY_TIMEOUT)
                .map_err(|e| store.sqlite(e))?;
            let found: i64 = store
                .connection
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(|e| store.sqlite(e))?;
            match found.cmp(&SCHEMA_VERSION) {
                std::cmp::Ordering::Equal => Ok(store),
                std::cmp::Ordering::Greater => Err(StoreError::NewerSchema {
                    path: path.to_path_buf(),
                    found,
                }),
                std::cmp::Ordering::Less => Err(StoreError::ReadOnlyOldSchema {
                    path: path.to_path_buf(),
                    found,
                }),
            }
        };
        let uri = format!("file:{}", uri_path(path));
        // A WAL store in a folder without write permission has no -shm to share: SQLite can then
        // only read it as immutable, which holds since nobody can write there either.
        readable(&uri).or_else(|_| readable(&format!("{uri}?immutable=1")))
    }

    fn sqlite(&self, error: rusqlite::Error) -> StoreError {
        classify(&self.path, error)
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    fn initialise(&mut self) -> Result<(), StoreError> {
        self.connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.sqlite(e))?;
        // WAL: a committed transaction survives a killed process, and readers never block the writer.
        // synchronous=NORMAL can lose the last commits on power loss, never on a process crash.
        self.connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(|e| self.sqlite(e))?;
        let version: i64 = self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| self.sqlite(e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
            });
        }
        if version < SCHEMA_VERSION {
            // Rebuilding `runs` drops it, which must not cascade to the rows; foreign_keys cannot
            // change inside a transaction.
            self.connection
                .execute_batch("PRAGMA foreign_keys = OFF;")
                .map_err(|e| self.sqlite(e))?;
            let upgraded = self.upgrade();
            self.connection
                .execute_batch("PRAGMA foreign_keys = ON;")
                .map_err(|e| self.sqlite(e))?;
            upgraded?;
        }
        // No mmap: shard stores live on shared filesystems, where an I/O error on a mapped file
        // arrives as SIGBUS instead of an error message.
        Ok(())
    }

    /// Creates or upgrades the schema to `SCHEMA_VERSION`, in one transaction.
    fn upgrade(&mut self) -> Result<(), StoreError> {
        // IMMEDIATE: of two processes creating or upgrading the schema at once, the second
        // waits, then finds the work done.
        let transaction =
            Transaction::new_unchecked(&self.connection, TransactionBehavior::Immediate)
                .map_err(|e| self.sqlite(e))?;
        let mut version: i64 = transaction
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| self.sqlite(e))?;
        let from = version;
        while version < SCHEMA_VERSION {
            let (upgrade, next) = match version {
                0 => (CREATE_SCHEMA, SCHEMA_VERSION),
                1 => (UPGRADE_FROM_1, 2),
                _ => (UPGRADE_FROM_2, 3),
            };
            transaction
                .execute_batch(upgrade)
                .map_err(|e| self.sqlite(e))?;
            version = next;
        }
        if (1..3).contains(&from) {
            // Version 3 hashes image sets with another encoding: summaries carry the digest.
            let complete: Vec<RunId> = transaction
                .prepare("SELECT id FROM runs WHERE complete = 1")
                .and_then(|mut statement| {
                    statement
                        .query_map([], |row| row.get(0))?
                        .collect::<Result<_, _>>()
                })
                .map_err(|e| self.sqlite(e))?;
            for id in complete {
                let summary = Summary::of(&self.predictions(id)?);
                transaction
                    .execute(
                        "UPDATE runs SET summary_json = ?2 WHERE id = ?1",
                        params![id, serde_json::to_string(&summary).unwrap_or_default()],
                    )
                    .map_err(|e| self.sqlite(e))?;
            }
        }
        transaction.commit().map_err(|e| self.sqlite(e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn run_from_row(&self, row: &rusqlite::Row) -> rusqlite::Result<Result<RunInfo, StoreError>> {
        let id: RunId = row.get(0)?;
        let key_json: String = row.get(1)?;
        let meta_json: String = row.get(7)?;
        let summary_json: Option<String> = row.get(8)?;
        let token: String = row.get(9)?;
        let parsed = (|| -> Result<RunInfo, String> {
            Ok(RunInfo {
                id,
                token,
                key: serde_json::from_str(&key_json).map_err(|e| format!("run {id} key: {e}"))?,
                model_id: row.get(2).map_err(|e| e.to_string())?,
                created_at: row.get(3).map_err(|e| e.to_string())?,
                updated_at: row.get(4).map_err(|e| e.to_string())?,
                complete: row.get::<_, i64>(5).map_err(|e| e.to_string())? != 0,
                images: row.get::<_, i64>(6).map_err(|e| e.to_string())? as usize,
                meta: serde_json::from_str(&meta_json)
                    .map_err(|e| format!("run {id} meta: {e}"))?,
                summary: match summary_json {
                    Some(text) => Some(
                        serde_json::from_str(&text)
                            .map_err(|e| format!("run {id} summary: {e}"))?,
                    ),
                    None => None,
                },
            })
        })();
        Ok(parsed.map_err(|reason| self.corrupt(reason)))
    }

    pub fn run(&self, id: RunId) -> Result<Option<RunInfo>, StoreError> {
        self.run_where("id", &id)
    }

    fn run_by_digest(&self, digest: &str) -> Result<Option<RunInfo>, StoreError> {
        self.run_where("key_digest", &digest)
    }

    /// The run whose `column` (a unique column of `runs`) equals `value`.
    fn run_where(
        &self,
        column: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Option<RunInfo>, StoreError> {
        let found = self
            .connection
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE {column} = ?1"),
                [value],
                |row| self.run_from_row(row),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        found.transpose()
    }

    pub fn runs(&self) -> Result<Vec<RunInfo>, StoreError> {
        let mut statement = self
            .connection
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id"))
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([], |row| self.run_from_row(row))
            .map_err(|e| self.sqlite(e))?;
        let mut runs = Vec::new();
        for row in rows {
            runs.push(row.map_err(|e| self.sqlite(e))??);
        }
        Ok(runs)
    }

    pub fn find_or_create_run(
        &mut self,
        key: &RunKey,
        meta: &serde_json::Value,
    ) -> Result<RunInfo, StoreError> {
        let digest = key.digest();
        let key_json = serde_json::to_string(key).unwrap_or_default();
        let time = now();
        // INSERT OR IGNORE: two processes creating the same run at once end with one run.
        // The run and this process's lease on it in one transaction, so that `runs --delete`
        // never sees the run without its writer.
        let transaction =
            Transaction::new_unchecked(&self.connection, TransactionBehavior::Immediate)
                .map_err(|e| self.sqlite(e))?;
        transaction
            .execute(
                "INSERT OR IGNORE INTO runs (key_digest, key_json, model_id, kind, created_at, updated_at, meta_json, token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, lower(hex(randomblob(16))))",
                params![digest, key_json, key.model_id, key.kind, time, meta.to_string()],
            )
            .map_err(|e| self.sqlite(e))?;
        let run = self
            .run_by_digest(&digest)?
            .ok_or_else(|| self.corrupt(format!("run with key {digest} vanished")))?;
        let pid = i64::from(std::process::id());
        let lease: String = transaction
            .query_row(
                "INSERT INTO writers (lease, run_id, boot_id, pid, pid_start, heartbeat)
                 VALUES (lower(hex(randomblob(16))), ?1, ?2, ?3, ?4, ?5) RETURNING lease",
                params![run.id, boot_id(), pid, process_start(pid), unix_now()],
                |row| row.get(0),
            )
            .map_err(|e| self.sqlite(e))?;
        transaction.commit().map_err(|e| self.sqlite(e))?;
        self.leases.push((run.id, lease));
        Ok(run)
    }

    /// Every stored image of a run by name, with the content its row was computed from.
    pub fn stored_images(&self, run: RunId) -> Result<HashMap<String, StoredImage>, StoreError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT name, size, sha256, error IS NOT NULL FROM predictions WHERE run_id = ?1",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([run], |row| {
                let size: Option<i64> = row.get(1)?;
                let sha256: Option<Vec<u8>> = row.get(2)?;
                Ok((
                    row.get::<_, String>(0)?,
                    StoredImage {
                        content: content_of(size, sha256.as_deref()),
                        failed: row.get(3)?,
                    },
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// The content each row of a run was computed from (rows without one are left out).
    pub fn contents(&self, run: RunId) -> Result<HashMap<String, Content>, StoreError> {
        Ok(self
            .stored_images(run)?
            .into_iter()
            .filter_map(|(name, image)| Some((name, image.content?)))
            .collect())
    }

    /// Fails unless `run` is still the run this process opened: the same id with the same token.
    fn check_run(transaction: &Connection, path: &Path, run: &RunInfo) -> Result<(), StoreError> {
        let exists = transaction
            .query_row(
                "SELECT 1 FROM runs WHERE id = ?1 AND token = ?2",
                params![run.id, run.token],
                |_| Ok(()),
            )
            .optional()
            .map_err(|e| classify(path, e))?;
        match exists {
            Some(()) => Ok(()),
            None => Err(StoreError::RunGone {
                path: path.to_path_buf(),
                id: run.id,
            }),
        }
    }

    /// Adds (or replaces) a batch of rows in one transaction: the whole batch or, after a crash,
    /// none of it. An image repeated in the batch keeps its last row. New rows make the run's
    /// summary stale, so the run is incomplete again until the next `mark_complete`.
    /// `contents[i]` is the content `batch[i]` was computed from (`None`: unknown, or unreadable).
    /// The write is refused with `RunGone` when `run` was deleted (or replaced) since it was
    /// opened.
    pub fn insert(
        &mut self,
        run: &RunInfo,
        batch: &[Prediction],
        contents: &[Option<Content>],
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        assert_eq!(batch.len(), contents.len(), "one content per row");
        let path = self.path.clone();
        let sql = |e| classify(&path, e);
        // IMMEDIATE takes the write lock at BEGIN, where the busy timeout waits for another
        // process, rather than failing half-way when a read lock cannot be upgraded.
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        Store::check_run(&transaction, &path, run)?;
        let leases = self.leases.iter().filter(|(id, _)| *id == run.id);
        for (_, lease) in leases {
            transaction
                .execute(
                    "UPDATE writers SET heartbeat = ?2 WHERE lease = ?1",
                    params![lease, unix_now()],
                )
                .map_err(sql)?;
        }
        let run = run.id;
        let mut new_images: i64 = 0;
        {
            let mut statement = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO predictions (run_id, name, file, label, top5, scores, error, size, sha256)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(sql)?;
            let mut stored = transaction
                .prepare_cached("SELECT 1 FROM predictions WHERE run_id = ?1 AND name = ?2")
                .map_err(sql)?;
            let (mut top5_bytes, mut score_bytes) =
                (Vec::with_capacity(2 * TOP_K), Vec::with_capacity(4 * TOP_K));
            for (prediction, content) in batch.iter().zip(contents) {
                // Counted here rather than by COUNT(*) afterwards, which grows with the run
                // (it made inserting a 50,000-image run in batches of 32 about twice as slow).
                if !stored.exists(params![run, prediction.name]).map_err(sql)? {
                    new_images += 1;
                }
                top5_bytes.clear();
                score_bytes.clear();
                let error = match &prediction.outcome {
                    Outcome::Ranked { top5, scores } => {
                        pack_top5(top5, &mut top5_bytes);
                        pack_scores(scores, &mut score_bytes);
                        None
                    }
                    Outcome::Failed(error) => Some(error.as_str()),
                };
                let ranked = error.is_none();
                statement
                    .execute(params![
                        run,
                        prediction.name,
                        prediction.file,
                        prediction.label,
                        ranked.then_some(&top5_bytes),
                        ranked.then_some(&score_bytes),
                        error,
                        content.map(|c| c.size as i64),
                        content.as_ref().map(|c| &c.sha256[..]),
                    ])
                    .map_err(sql)?;
            }
        }
        transaction
            .execute(
                "UPDATE runs SET updated_at = ?2, complete = 0, summary_json = NULL,
                     images = images + ?3
                 WHERE id = ?1",
                params![run, now(), new_images],
            )
            .map_err(sql)?;
        transaction.commit().map_err(sql)
    }

    /// Every row of a run: an imported run's rows in import order, a verified run's by name
    /// (byte order). Callers that need dataset order sort by their own index.
    pub fn predictions(&self, run: RunId) -> Result<Vec<Prediction>, StoreError> {
        let sql = |e| classify(&self.path, e);
        let mut rows = Vec::new();
        if let Some(packed) = self.packed(run)? {
            rows.reserve(packed.len);
            for (i, (name, file)) in packed.names().zip(packed.files()).enumerate() {
                rows.push(Prediction {
                    name: name.to_owned(),
                    file: file.to_owned(),
                    label: packed.label(i),
                    outcome: Outcome::Ranked {
                        top5: packed.top5(i),
                        scores: packed.scores(i),
                    },
                });
            }
        }
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT name, file, label, top5, scores, error FROM predictions
                 WHERE run_id = ?1 ORDER BY name",
            )
            .map_err(sql)?;
        let mut query = statement.query([run]).map_err(sql)?;
        while let Some(row) = query.next().map_err(sql)? {
            let name: String = row.get(0).map_err(sql)?;
            let top5 = blob(row.get_ref(3).map_err(sql)?);
            let scores = blob(row.get_ref(4).map_err(sql)?);
            let error: Option<String> = row.get(5).map_err(sql)?;
            let outcome = match (
                error,
                top5.and_then(unpack_top5),
                scores.and_then(unpack_scores),
            ) {
                (Some(error), _, _) => Outcome::Failed(error),
                (None, Some(top5), Some(scores)) => Outcome::Ranked { top5, scores },
                _ => {
                    return Err(self.corrupt(format!(
                        "run {run}, image {name}: neither a well-formed top-5 nor an error"
                    )));
                }
            };
            rows.push(Prediction {
                file: row.get(1).map_err(sql)?,
                label: row.get(2).map_err(sql)?,
                name,
                outcome,
            });
        }
        Ok(rows)
    }

    /// A run's rows as columns, in `predictions` order, without file paths, scores or error
    /// texts: what scoring many runs needs, read with the fewest allocations.
    pub fn ranked_columns(&self, run: RunId) -> Result<RankedColumns, StoreError> {
        let sql = |e| classify(&self.path, e);
        let mut columns = RankedColumns::default();
        // Imported runs: borrow the three blobs scoring needs (not files or scores) and decode
        // them in place.
        let mut statement = self
            .connection
            .prepare_cached("SELECT names, labels, top5 FROM packed_predictions WHERE run_id = ?1")
            .map_err(sql)?;
        let mut query = statement.query([run]).map_err(sql)?;
        if let Some(row) = query.next().map_err(sql)? {
            let names = match row.get_ref(0).map_err(sql)? {
                ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok(),
                _ => None,
            };
            let labels = blob(row.get_ref(1).map_err(sql)?);
            let top5 = blob(row.get_ref(2).map_err(sql)?);
            let (Some(names), Some(labels), Some(top5)) = (names, labels, top5) else {
                return Err(self.corrupt(format!("run {run}: malformed packed predictions")));
            };
            for name in PackedRun::lines(names) {
                columns.push_name(name);
            }
            let len = columns.len();
            if labels.len() != 2 * len || top5.len() != 2 * TOP_K * len {
                return Err(self.corrupt(format!(
                    "run {run}: packed predictions of inconsistent lengths"
                )));
            }
            columns.labels = labels
                .chunks_exact(2)
                .map(|b| Some(u16::from_le_bytes([b[0], b[1]])).filter(|&l| l != NO_LABEL))
                .collect();
            columns.top5 = top5.chunks_exact(2 * TOP_K).map(unpack_top5).collect();
        }
        drop(query);
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT name, label, top5, error IS NULL FROM predictions
                 WHERE run_id = ?1 ORDER BY name",
            )
            .map_err(sql)?;
        let mut query = statement.query([run]).map_err(sql)?;
        while let Some(row) = query.next().map_err(sql)? {
            let name = match row.get_ref(0).map_err(sql)? {
                ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok(),
                _ => None,
            };
            let Some(name) = name else {
                return Err(self.corrupt(format!("run {run}: an image name is not text")));
            };
            let ranked: bool = row.get(3).map_err(sql)?;
            let top5 = if ranked {
                match blob(row.get_ref(2).map_err(sql)?).and_then(unpack_top5) {
                    Some(top5) => Some(top5),
                    None => {
                        return Err(
                            self.corrupt(format!("run {run}, image {name}: malformed top-5 blob"))
                        );
                    }
                }
            } else {
                None
            };
            columns.labels.push(row.get(1).map_err(sql)?);
            columns.top5.push(top5);
            columns.push_name(name);
        }
        Ok(columns)
    }

    fn packed(&self, run: RunId) -> Result<Option<PackedRun>, StoreError> {
        let row = self
            .connection
            .prepare_cached(
                "SELECT names, labels, top5, scores, files FROM packed_predictions WHERE run_id = ?1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row([run], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(4)?,
                            row.get::<_, Vec<u8>>(1)?,
                            row.get::<_, Vec<u8>>(2)?,
                            row.get::<_, Vec<u8>>(3)?,
                        ))
                    })
                    .optional()
            })
            .map_err(|e| self.sqlite(e))?;
        let Some((names, files, labels, top5, scores)) = row else {
            return Ok(None);
        };
        let count = |text: &str| {
            if text.is_empty() {
                0
            } else {
                text.split('\n').count()
            }
        };
        let len = count(&names);
        if count(&files) != len
            || labels.len() != 2 * len
            || top5.len() != 2 * TOP_K * len
            || scores.len() != 4 * TOP_K * len
        {
            return Err(self.corrupt(format!(
                "run {run}: packed predictions of inconsistent lengths"
            )));
        }
        Ok(Some(PackedRun {
            names,
            files,
            labels,
            top5,
            scores,
            len,
        }))
    }

    /// Marks a run complete as exactly the images of one pass over a dataset: `images` gives each
    /// image's name and the content it was read with. In one transaction, rows of other images
    /// (another folder run into the same key earlier) are removed, every image must have a row
    /// computed from that content, and the summary is stored; a run is only reported as a finished
    /// result after this.
    pub fn mark_complete(
        &mut self,
        run: &RunInfo,
        images: &[(&str, Option<Content>)],
    ) -> Result<(), StoreError> {
        let sql = |e| classify(&self.path, e);
        let transaction =
            Transaction::new_unchecked(&self.connection, TransactionBehavior::Immediate)
                .map_err(sql)?;
        Store::check_run(&transaction, &self.path, run)?;
        transaction
            .execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS pass (name TEXT PRIMARY KEY, size INTEGER, sha256 BLOB);
                 DELETE FROM temp.pass;",
            )
            .map_err(sql)?;
        {
            let mut statement = transaction
                .prepare_cached("INSERT OR REPLACE INTO temp.pass VALUES (?1, ?2, ?3)")
                .map_err(sql)?;
            for (name, content) in images {
                statement
                    .execute(params![
                        name,
                        content.map(|c| c.size as i64),
                        content.as_ref().map(|c| &c.sha256[..])
                    ])
                    .map_err(sql)?;
            }
        }
        transaction
            .execute(
                "DELETE FROM predictions WHERE run_id = ?1 AND name NOT IN (SELECT name FROM temp.pass)",
                [run.id],
            )
            .map_err(sql)?;
        let mismatch: Option<(String, bool)> = transaction
            .query_row(
                "SELECT pass.name, predictions.name IS NULL FROM temp.pass
                 LEFT JOIN predictions ON predictions.run_id = ?1 AND predictions.name = pass.name
                 WHERE predictions.name IS NULL OR predictions.size IS NOT pass.size
                    OR predictions.sha256 IS NOT pass.sha256
                 LIMIT 1",
                [run.id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(sql)?;
        transaction
            .execute_batch("DELETE FROM temp.pass")
            .map_err(sql)?;
        match mismatch {
            Some((name, true)) => {
                return Err(self.corrupt(format!("run {} has no row for image {name}", run.id)));
            }
            Some((name, false)) => {
                return Err(StoreError::ContentChanged {
                    path: self.path.clone(),
                    id: run.id,
                    name,
                });
            }
            None => {}
        }
        let summary = Summary::of(&self.predictions(run.id)?);
        transaction
            .execute(
                "UPDATE runs SET complete = 1, images = ?2, summary_json = ?3, updated_at = ?4 WHERE id = ?1",
                params![
                    run.id,
                    summary.images as i64,
                    serde_json::to_string(&summary).unwrap_or_default(),
                    now()
                ],
            )
            .map_err(sql)?;
        transaction.commit().map_err(sql)
    }

    /// Deletes a run and its rows; false when there was no such run. A run that another live
    /// process is writing is refused (`RunInUse`); leases of dead processes are cleared.
    pub fn delete_run(&mut self, id: RunId) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, e);
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let leases: Vec<LeaseRow> = transaction
            .prepare(
                "SELECT lease, boot_id, pid, pid_start, heartbeat FROM writers WHERE run_id = ?1",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([id], |row| {
                        Ok(LeaseRow {
                            lease: row.get(0)?,
                            boot_id: row.get(1)?,
                            pid: row.get(2)?,
                            pid_start: row.get(3)?,
                            heartbeat: row.get(4)?,
                        })
                    })?
                    .collect::<Result<_, _>>()
            })
            .map_err(sql)?;
        for lease in leases {
            if self.leases.iter().any(|(_, own)| *own == lease.lease) {
                continue;
            }
            if lease_is_live(
                lease.boot_id.as_deref(),
                lease.pid,
                lease.pid_start.as_deref(),
                lease.heartbeat,
            ) {
                return Err(StoreError::RunInUse {
                    path,
                    id,
                    pid: lease.pid,
                    heartbeat: crate::report::utc_timestamp(
                        std::time::UNIX_EPOCH + Duration::from_secs(lease.heartbeat.max(0) as u64),
                    ),
                });
            }
        }
        let deleted = transaction
            .execute("DELETE FROM runs WHERE id = ?1", [id])
            .map_err(sql)?;
        transaction.commit().map_err(sql)?;
        Ok(deleted > 0)
    }

    /// Imports several runs in one transaction: `work` calls `Importer::import_run` for each, and
    /// nothing is stored unless all of it succeeds (a later bad file leaves no earlier run).
    pub fn import_all<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(&mut Importer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, e))?;
        let mut importer = Importer {
            transaction,
            path: path.clone(),
        };
        let result = work(&mut importer)?;
        importer
            .transaction
            .commit()
            .map_err(|e| classify(&path, e))?;
        Ok(result)
    }

    /// Stores a whole, complete run in one transaction: all of it, or nothing. A run with the
    /// same key (the same imported files) is left as it is.
    pub fn import_run(
        &mut self,
        key: &RunKey,
        meta: &serde_json::Value,
        rows: &[Prediction],
    ) -> Result<ImportOutcome, StoreError> {
        self.import_all(|importer| importer.import_run(key, meta, rows))
    }
}

/// Imports runs inside one open transaction (see `Store::import_all`).
pub struct Importer<'a> {
    transaction: Transaction<'a>,
    path: PathBuf,
}

impl Importer<'_> {
    pub fn import_run(
        &mut self,
        key: &RunKey,
        meta: &serde_json::Value,
        rows: &[Prediction],
    ) -> Result<ImportOutcome, StoreError> {
        let digest = key.digest();
        let path = self.path.clone();
        let sql = |e| classify(&path, e);
        // Re-importing is the common case: answer it before packing 50,000 rows.
        let existing: Option<RunId> = self
            .transaction
            .query_row(
                "SELECT id FROM runs WHERE key_digest = ?1",
                [&digest],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql)?;
        if let Some(id) = existing {
            return Ok(ImportOutcome::AlreadyPresent(id));
        }
        let mut names = String::with_capacity(rows.len() * 30);
        let mut files = String::with_capacity(rows.len() * 40);
        let mut labels = Vec::with_capacity(rows.len() * 2);
        let mut top5_bytes = Vec::with_capacity(rows.len() * 2 * TOP_K);
        let mut score_bytes = Vec::with_capacity(rows.len() * 4 * TOP_K);
        let mut seen = HashSet::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let invalid = |what: &str| {
                Err(StoreError::InvalidImport {
                    path: self.path.clone(),
                    reason: format!("row {i} ({}) {what}", row.name),
                })
            };
            if row.name.is_empty() || row.name.contains('\n') || row.file.contains('\n') {
                return invalid("has an empty name or a line break in its name or file");
            }
            if !seen.insert(row.name.as_str()) {
                return invalid("repeats an image");
            }
            if row.label == Some(NO_LABEL) {
                return invalid("has an out-of-range label");
            }
            let Outcome::Ranked { top5, scores } = &row.outcome else {
                return invalid("has no prediction");
            };
            if i > 0 {
                names.push('\n');
                files.push('\n');
            }
            names.push_str(&row.name);
            files.push_str(&row.file);
            labels.extend_from_slice(&row.label.unwrap_or(NO_LABEL).to_le_bytes());
            pack_top5(top5, &mut top5_bytes);
            pack_scores(scores, &mut score_bytes);
        }
        let summary = Summary::of(rows);
        let time = now();
        let transaction = &self.transaction;
        transaction
            .execute(
                "INSERT INTO runs (key_digest, key_json, model_id, kind, created_at, updated_at, meta_json, complete, images, summary_json, token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, 1, ?7, ?8, lower(hex(randomblob(16))))",
                params![
                    digest,
                    serde_json::to_string(key).unwrap_or_default(),
                    key.model_id,
                    key.kind,
                    time,
                    meta.to_string(),
                    rows.len() as i64,
                    serde_json::to_string(&summary).unwrap_or_default()
                ],
            )
            .map_err(sql)?;
        let id = transaction.last_insert_rowid();
        transaction
            .execute(
                "INSERT INTO packed_predictions (run_id, names, files, labels, top5, scores) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, names, files, labels, top5_bytes, score_bytes],
            )
            .map_err(sql)?;
        Ok(ImportOutcome::New(id))
    }
}

/// The stored label of a packed row without one.
const NO_LABEL: u16 = u16::MAX;

/// An imported run's columns as stored: names and files joined by line breaks, labels, top-5
/// and scores as little-endian arrays. Lengths are checked when it is read.
struct PackedRun {
    names: String,
    files: String,
    labels: Vec<u8>,
    top5: Vec<u8>,
    scores: Vec<u8>,
    len: usize,
}

impl PackedRun {
    fn lines(text: &str) -> impl Iterator<Item = &str> {
        // "".split('\n') yields one empty name; an empty run has none.
        (!text.is_empty())
            .then(|| text.split('\n'))
            .into_iter()
            .flatten()
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        Self::lines(&self.names)
    }

    fn files(&self) -> impl Iterator<Item = &str> {
        Self::lines(&self.files)
    }

    fn label(&self, i: usize) -> Option<u16> {
        let label = u16::from_le_bytes([self.labels[2 * i], self.labels[2 * i + 1]]);
        (label != NO_LABEL).then_some(label)
    }

    fn top5(&self, i: usize) -> [u16; TOP_K] {
        let bytes = &self.top5[2 * TOP_K * i..2 * TOP_K * (i + 1)];
        std::array::from_fn(|k| u16::from_le_bytes([bytes[2 * k], bytes[2 * k + 1]]))
    }

    fn scores(&self, i: usize) -> [f32; TOP_K] {
        let bytes = &self.scores[4 * TOP_K * i..4 * TOP_K * (i + 1)];
        std::array::from_fn(|k| {
            f32::from_le_bytes([
                bytes[4 * k],
                bytes[4 * k + 1],
                bytes[4 * k + 2],
                bytes[4 * k + 3],
            ])
        })
    }
}

fn content_of(size: Option<i64>, sha256: Option<&[u8]>) -> Option<Content> {
    Some(Content {
        size: u64::try_from(size?).ok()?,
        sha256: sha256?.try_into().ok()?,
    })
}

/// A path as the path part of an SQLite `file:` URI.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'?' | b'#' | b'%' | b'\\' => out.push_str(&format!("%{byte:02X}")),
            b if b.is_ascii_graphic() || *b == b' ' => out.push(char::from(*b)),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn blob(value: ValueRef<'_>) -> Option<&[u8]> {
    match value {
        ValueRef::Blob(bytes) => Some(bytes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(batch: usize) -> RunKey {
        RunKey::verify(
            "coral/x",
            "ab",
            &crate::image::recipe::preset("torchvision").unwrap(),
            PillowCompat::V13,
            "1.32.0",
            "cpu",
            "all",
            batch,
        )
    }

    /// A stand-in for the content of the file a row was computed from.
    fn content(name: &str) -> Option<Content> {
        Some(Content::of(name.as_bytes()))
    }

    fn put(store: &mut Store, run: &RunInfo, rows: &[Prediction]) -> Result<(), StoreError> {
        let contents: Vec<Option<Content>> = rows.iter().map(|r| content(&r.name)).collect();
        store.insert(run, rows, &contents)
    }

    fn complete(store: &mut Store, run: &RunInfo, names: &[&str]) -> Result<(), StoreError> {
        let pass: Vec<(&str, Option<Content>)> = names.iter().map(|n| (*n, content(n))).collect();
        store.mark_complete(run, &pass)
    }

    fn ranked(name: &str, label: Option<u16>, top1: u16) -> Prediction {
        Prediction {
            name: name.into(),
            file: format!("n0/{name}"),
            label,
            outcome: Outcome::Ranked {
                top5: [top1, 1, 2, 3, 4],
                scores: [0.5, 0.25, 0.125, 0.0625, f32::MIN_POSITIVE],
            },
        }
    }

    #[test]
    fn runs_are_found_by_key_and_rows_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store
            .find_or_create_run(&key(8), &serde_json::json!({"a": 1}))
            .unwrap();
        assert_eq!(
            store
                .find_or_create_run(&key(8), &serde_json::json!({}))
                .unwrap()
                .id,
            run.id
        );
        let other = store
            .find_or_create_run(&key(1), &serde_json::json!({}))
            .unwrap();
        assert_ne!(other.id, run.id);
        assert_ne!(key(1).digest(), key(8).digest());

        let failed = Prediction {
            name: "b.JPEG".into(),
            file: "b.JPEG".into(),
            label: None,
            outcome: Outcome::Failed("truncated".into()),
        };
        put(
            &mut store,
            &run,
            &[ranked("a.JPEG", Some(7), 7), failed.clone()],
        )
        .unwrap();
        let stored = store.stored_images(run.id).unwrap();
        assert_eq!(
            stored.keys().collect::<HashSet<_>>(),
            HashSet::from([&"a.JPEG".to_string(), &"b.JPEG".to_string()])
        );
        assert_eq!(stored["a.JPEG"].content, content("a.JPEG"));
        assert!(stored["b.JPEG"].failed && !stored["a.JPEG"].failed);
        // A resumed batch replaces the rows it repeats.
        put(&mut store, &run, &[ranked("a.JPEG", Some(7), 9)]).unwrap();
        let rows = store.predictions(run.id).unwrap();
        assert_eq!(rows, vec![ranked("a.JPEG", Some(7), 9), failed]);
        assert_eq!(store.run(run.id).unwrap().unwrap().images, 2);
        assert!(store.predictions(other.id).unwrap().is_empty());

        assert!(!store.run(run.id).unwrap().unwrap().complete);
        complete(&mut store, &run, &["a.JPEG", "b.JPEG"]).unwrap();
        let info = store.run(run.id).unwrap().unwrap();
        assert!(info.complete);
        assert_eq!(
            info.summary.unwrap(),
            Summary {
                images: 2,
                labelled: 1,
                failed: 1,
                top1_correct: 0,
                top5_correct: 0,
                image_set_sha256: crate::model::manifest::image_set_digest(["a.JPEG"]),
            }
        );
        assert!(store.delete_run(run.id).unwrap());
        assert!(
            store.predictions(run.id).unwrap().is_empty(),
            "rows go with their run"
        );
        assert_eq!(store.runs().unwrap().len(), 1);
    }

    #[test]
    fn imports_are_all_or_nothing_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut import_key = key(1);
        import_key.kind = "import".into();
        import_key.source_sha256 = Some("f00d".into());
        let rows: Vec<Prediction> = (0..1000)
            .map(|i| ranked(&format!("{i}.JPEG"), Some(i as u16 % 7), 3))
            .collect();

        let mut duplicated = rows.clone();
        duplicated.push(rows[10].clone());
        assert!(
            store
                .import_run(&import_key, &serde_json::json!({}), &duplicated)
                .is_err()
        );
        assert!(
            store.runs().unwrap().is_empty(),
            "a refused import leaves nothing"
        );

        let ImportOutcome::New(id) = store
            .import_run(&import_key, &serde_json::json!({"x": 1}), &rows)
            .unwrap()
        else {
            panic!("first import is new")
        };
        assert!(
            matches!(store.import_run(&import_key, &serde_json::json!({}), &rows).unwrap(), ImportOutcome::AlreadyPresent(same) if same == id)
        );
        assert_eq!(store.predictions(id).unwrap(), rows);
        let info = store.run(id).unwrap().unwrap();
        assert!(info.complete);
        assert_eq!(
            info.summary.unwrap().top1_correct,
            rows.iter().filter(|r| r.label == Some(3)).count()
        );
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DATABASE_FILE), vec![b'x'; 4096]).unwrap();
        let error = Store::open(dir.path()).err().unwrap().to_string();
        assert!(
            error.contains("not a SQLite database") && error.contains("--cache-dir"),
            "{error}"
        );
    }

    #[test]
    fn an_uncreatable_cache_dir_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        let error = Store::open(&blocker.join("cache"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("cache") && error.contains("--cache-dir"),
            "{error}"
        );
    }

    #[test]
    fn an_aborted_transaction_leaves_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        {
            let transaction = store.connection.transaction().unwrap();
            transaction
                .execute(
                    "INSERT INTO predictions (run_id, name, file) VALUES (?1, 'x.JPEG', 'x.JPEG')",
                    [run.id],
                )
                .unwrap();
            // Dropped without commit, as a killed process would leave it.
        }
        assert!(store.stored_images(run.id).unwrap().is_empty());
    }

    #[test]
    fn two_writers_on_one_database_both_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).unwrap();
                    let run = store
                        .find_or_create_run(&key(w + 1), &serde_json::json!({}))
                        .unwrap();
                    for chunk in 0..20 {
                        let rows: Vec<_> = (0..100)
                            .map(|i| ranked(&format!("{chunk}-{i}.JPEG"), Some(1), 1))
                            .collect();
                        put(&mut store, &run, &rows).unwrap();
                    }
                    run.id
                })
            })
            .collect();
        let ids: Vec<RunId> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        let store = Store::open(&path).unwrap();
        for id in ids {
            assert_eq!(store.predictions(id).unwrap().len(), 2000);
        }
    }

    #[test]
    fn two_processes_on_one_run_end_with_the_union() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).unwrap();
                    let run = store
                        .find_or_create_run(&key(8), &serde_json::json!({}))
                        .unwrap();
                    // Overlapping halves: 0..1500 and 500..2000.
                    for chunk in 0..15 {
                        let rows: Vec<_> = (0..100)
                            .map(|i| {
                                ranked(
                                    &format!("{:05}.JPEG", w * 500 + chunk * 100 + i),
                                    Some(1),
                                    1,
                                )
                            })
                            .collect();
                        put(&mut store, &run, &rows).unwrap();
                    }
                    run.id
                })
            })
            .collect();
        let ids: Vec<RunId> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        assert_eq!(ids[0], ids[1], "one key, one run");
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.stored_images(ids[0]).unwrap().len(), 2000);
        let run = store.run(ids[0]).unwrap().unwrap();
        assert_eq!(run.images, 2000);
        let names: Vec<String> = (0..2000).map(|i| format!("{i:05}.JPEG")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        complete(&mut store, &run, &names).unwrap();
        assert_eq!(
            store
                .run(ids[0])
                .unwrap()
                .unwrap()
                .summary
                .unwrap()
                .top1_correct,
            2000
        );
    }

    #[test]
    fn processes_creating_one_store_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|w| {
                let (path, start) = (dir.path().to_path_buf(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mut store = Store::open(&path).unwrap();
                    store
                        .find_or_create_run(&key(w + 1), &serde_json::json!({}))
                        .unwrap()
                        .id
                })
            })
            .collect();
        let mut ids: Vec<RunId> = openers.into_iter().map(|o| o.join().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4);
        assert_eq!(Store::open(dir.path()).unwrap().runs().unwrap().len(), 4);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        Connection::open(dir.path().join(DATABASE_FILE))
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let error = Store::open(dir.path()).err().unwrap();
        assert!(
            matches!(error, StoreError::NewerSchema { found: 99, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("upgrade zoorepro"), "{error}");
    }

    #[test]
    fn a_version_1_store_is_upgraded_with_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut import_key = key(1);
        import_key.kind = "import".into();
        let rows = vec![ranked("b.JPEG", Some(3), 3), ranked("a.JPEG", None, 1)];
        // Version 1 as it was released, holding one imported run.
        let old = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        old.execute_batch(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, key_digest TEXT NOT NULL UNIQUE,
                 key_json TEXT NOT NULL, model_id TEXT NOT NULL, kind TEXT NOT NULL,
                 created_at TEXT NOT NULL, updated_at TEXT NOT NULL, meta_json TEXT NOT NULL,
                 complete INTEGER NOT NULL DEFAULT 0, images INTEGER NOT NULL DEFAULT 0,
                 summary_json TEXT);
             CREATE TABLE predictions (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                 name TEXT NOT NULL, file TEXT NOT NULL, label INTEGER, top5 BLOB, scores BLOB,
                 error TEXT, PRIMARY KEY (run_id, name)) WITHOUT ROWID;
             CREATE TABLE packed_predictions (run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
                 names TEXT NOT NULL, files TEXT NOT NULL, labels BLOB NOT NULL,
                 top5 BLOB NOT NULL, scores BLOB NOT NULL);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        let (mut labels, mut top5, mut scores) = (Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            labels.extend_from_slice(&row.label.unwrap_or(NO_LABEL).to_le_bytes());
            let Outcome::Ranked { top5: t, scores: s } = &row.outcome else {
                unreachable!()
            };
            pack_top5(t, &mut top5);
            pack_scores(s, &mut scores);
        }
        old.execute(
            "INSERT INTO runs (id, key_digest, key_json, model_id, kind, created_at, updated_at, meta_json, complete, images)
             VALUES (7, ?1, ?2, 'coral/x', 'import', 't', 't', '{}', 1, 2)",
            params![import_key.digest(), serde_json::to_string(&import_key).unwrap()],
        )
        .unwrap();
        old.execute(
            "INSERT INTO packed_predictions VALUES (7, 'b.JPEG\na.JPEG', 'n0/b.JPEG\nn0/a.JPEG', ?1, ?2, ?3)",
            params![labels, top5, scores],
        )
        .unwrap();
        drop(old);

        let mut store = Store::open(dir.path()).unwrap();
        let version: i64 = store
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(store.predictions(7).unwrap(), rows);
        assert_eq!(store.ranked_columns(7).unwrap().labels, [Some(3), None]);
        assert!(matches!(
            store
                .import_run(&import_key, &serde_json::json!({}), &rows)
                .unwrap(),
            ImportOutcome::AlreadyPresent(7)
        ));
        assert!(store.delete_run(7).unwrap());
        assert!(
            store.predictions(7).unwrap().is_empty(),
            "the cascade survives the upgrade"
        );
    }

    /// Version 2 as it was released.
    const SCHEMA_2: &str = "
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        key_digest TEXT NOT NULL UNIQUE,
        key_json TEXT NOT NULL,
        model_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        meta_json TEXT NOT NULL,
        complete INTEGER NOT NULL DEFAULT 0,
        images INTEGER NOT NULL DEFAULT 0,
        summary_json TEXT
    );
    CREATE TABLE predictions (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        file TEXT NOT NULL,
        label INTEGER,
        top5 BLOB,
        scores BLOB,
        error TEXT,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID;
    -- Columns in the order scoring reads them: a blob past the first is found by walking the
    -- overflow pages of every blob before it, so the ones `ranked_columns` skips come last.
    CREATE TABLE packed_predictions (
        run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        names TEXT NOT NULL,
        labels BLOB NOT NULL,
        top5 BLOB NOT NULL,
        scores BLOB NOT NULL,
        files TEXT NOT NULL
    );
    PRAGMA user_version = 2;
";

    #[test]
    fn a_version_2_store_is_upgraded_with_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let old = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        old.execute_batch(SCHEMA_2).unwrap();
        // A complete verified run whose summary carries the old image-set digest, and an import.
        old.execute(
            "INSERT INTO runs (id, key_digest, key_json, model_id, kind, created_at, updated_at, meta_json, complete, images, summary_json)
             VALUES (5, ?1, ?2, 'coral/x', 'verify', 't', 't', '{}', 1, 1, '{\"images\":1,\"labelled\":1,\"failed\":0,\"top1_correct\":1,\"top5_correct\":1,\"image_set_sha256\":\"old\"}')",
            params![key(8).digest(), serde_json::to_string(&key(8)).unwrap()],
        )
        .unwrap();
        let row = ranked("a.JPEG", Some(7), 7);
        let (mut top5, mut scores) = (Vec::new(), Vec::new());
        let Outcome::Ranked {
            top5: t,
            scores: sc,
        } = &row.outcome
        else {
            unreachable!()
        };
        pack_top5(t, &mut top5);
        pack_scores(sc, &mut scores);
        old.execute(
            "INSERT INTO predictions (run_id, name, file, label, top5, scores) VALUES (5, 'a.JPEG', 'n0/a.JPEG', 7, ?1, ?2)",
            params![top5, scores],
        )
        .unwrap();
        drop(old);

        let mut store = Store::open(dir.path()).unwrap();
        let version: i64 = store
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let run = store.run(5).unwrap().unwrap();
        assert!(run.complete && run.token.len() == 32, "{run:?}");
        assert_eq!(
            run.summary.unwrap().image_set_sha256,
            crate::model::manifest::image_set_digest(["a.JPEG"]),
            "the summary is recomputed with the new digest"
        );
        assert_eq!(store.predictions(5).unwrap(), vec![row.clone()]);
        // Rows of version 2 have no content: verify evaluates them again.
        assert_eq!(
            store.stored_images(5).unwrap()["a.JPEG"],
            StoredImage {
                content: None,
                failed: false
            }
        );
        let same = store
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        assert_eq!((same.id, &same.token), (5, &run.token));
        put(&mut store, &same, &[ranked("b.JPEG", None, 1)]).unwrap();
        // Ids are not reused after the upgrade either.
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        assert!(store.delete_run(5).unwrap());
        assert!(
            store.predictions(5).unwrap().is_empty(),
            "the cascade holds"
        );
        let next = store
            .find_or_create_run(&key(1), &serde_json::json!({}))
            .unwrap();
        assert!(next.id > 5, "{}", next.id);
    }

    #[test]
    fn run_ids_are_never_reused_and_writes_check_the_run_token() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Store::open(dir.path()).unwrap();
        let first = writer
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        put(&mut writer, &first, &[ranked("a.JPEG", Some(1), 1)]).unwrap();

        // Another process: deleting a run with a live writer is refused.
        let mut other = Store::open(dir.path()).unwrap();
        let error = other.delete_run(first.id).err().unwrap();
        assert!(matches!(error, StoreError::RunInUse { .. }), "{error}");
        assert!(
            error.to_string().contains(&std::process::id().to_string()),
            "{error}"
        );
        assert!(other.run(first.id).unwrap().is_some());

        // The writer's process seen as gone (another start time): its lease is stale.
        other
            .connection
            .execute("UPDATE writers SET pid_start = 'gone', heartbeat = 0", [])
            .unwrap();
        assert!(other.delete_run(first.id).unwrap());
        let second = other
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        assert!(
            second.id > first.id,
            "a deleted run's id is never given again"
        );
        let error = put(&mut writer, &first, &[ranked("b.JPEG", Some(1), 1)])
            .err()
            .unwrap();
        assert!(matches!(error, StoreError::RunGone { .. }), "{error}");

        // Same id, another token (a run re-created under a reused id): refused as well.
        let impostor = RunInfo {
            token: "0".repeat(32),
            ..second.clone()
        };
        let error = put(&mut writer, &impostor, &[ranked("c.JPEG", Some(1), 1)])
            .err()
            .unwrap();
        assert!(matches!(error, StoreError::RunGone { .. }), "{error}");
        assert!(other.predictions(second.id).unwrap().is_empty());

        // A process's own lease does not stop it deleting; dropping the store ends the lease.
        drop(writer);
        let leases: i64 = other
            .connection
            .query_row("SELECT count(*) FROM writers", [], |row| row.get(0))
            .unwrap();
        assert_eq!(leases, 1, "only the second run's lease is left");
        assert!(other.delete_run(second.id).unwrap());
    }

    #[test]
    fn a_complete_run_is_exactly_one_pass_with_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        // Another folder ran into the same key earlier: z.JPEG is not in this pass.
        put(
            &mut store,
            &run,
            &[ranked("a.JPEG", Some(1), 1), ranked("z.JPEG", Some(1), 1)],
        )
        .unwrap();
        complete(&mut store, &run, &["a.JPEG"]).unwrap();
        let info = store.run(run.id).unwrap().unwrap();
        assert_eq!((info.images, info.summary.unwrap().images), (1, 1));
        assert_eq!(store.predictions(run.id).unwrap().len(), 1);

        // A row computed from other bytes than the pass read is not completed.
        let error = store
            .mark_complete(&run, &[("a.JPEG", Some(Content::of(b"other bytes")))])
            .err()
            .unwrap();
        assert!(
            matches!(error, StoreError::ContentChanged { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("a.JPEG"), "{error}");
    }

    #[test]
    fn several_imports_are_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut first = key(1);
        first.kind = "import".into();
        let mut second = first.clone();
        second.model_id = "coral/y".into();
        let rows = vec![ranked("a.JPEG", Some(1), 1)];
        let result: Result<(), StoreError> = store.import_all(|importer| {
            importer.import_run(&first, &serde_json::json!({}), &rows)?;
            importer.import_run(&second, &serde_json::json!({}), &[ranked("", None, 1)])?;
            Ok(())
        });
        assert!(result.is_err());
        assert!(
            store.runs().unwrap().is_empty(),
            "the first import went with the second"
        );
    }

    #[test]
    fn a_deleted_write_ahead_log_gives_advice() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Store::open(dir.path()).unwrap();
        let run = writer
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        put(&mut writer, &run, &[ranked("a.JPEG", Some(1), 1)]).unwrap();
        std::fs::remove_file(dir.path().join(format!("{DATABASE_FILE}-wal"))).unwrap();
        let error = Store::open(dir.path())
            .and_then(|store| store.runs().map(|_| ()))
            .err()
            .unwrap();
        let message = error.to_string();
        assert!(
            matches!(error, StoreError::Io { .. }) && message.contains("-wal"),
            "{message}"
        );
    }

    /// Takes write permission away from `paths` (root ignores modes: the immutable attribute
    /// stops it); false when neither works here.
    fn make_unwritable(paths: &[&Path], unwritable: bool) -> bool {
        use std::os::unix::fs::PermissionsExt;
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        paths.iter().all(|path| {
            if root {
                std::process::Command::new("chattr")
                    .arg(if unwritable { "+i" } else { "-i" })
                    .arg(path)
                    .status()
                    .is_ok_and(|s| s.success())
            } else {
                let mode = match (path.is_dir(), unwritable) {
                    (true, true) => 0o555,
                    (true, false) => 0o755,
                    (false, true) => 0o444,
                    (false, false) => 0o644,
                };
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).is_ok()
            }
        })
    }

    #[test]
    fn a_store_without_write_permission_can_still_be_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        {
            let mut store = Store::open(&cache).unwrap();
            let run = store
                .find_or_create_run(&key(8), &serde_json::json!({}))
                .unwrap();
            put(&mut store, &run, &[ranked("a.JPEG", Some(1), 1)]).unwrap();
            complete(&mut store, &run, &["a.JPEG"]).unwrap();
        }
        let file = cache.join(DATABASE_FILE);
        if !make_unwritable(&[&file, &cache], true) {
            eprintln!("skipping: cannot take write permission away here");
            return;
        }
        let read = Store::open_for_reading(&cache).and_then(|store| {
            let runs = store.runs()?;
            let rows = store.predictions(runs[0].id)?;
            Ok((runs.len(), rows.len()))
        });
        let writing = Store::open(&cache).and_then(|mut store| store.delete_run(1));
        make_unwritable(&[&cache, &file], false);
        assert_eq!(read.unwrap(), (1, 1));
        let error = writing.expect_err("a write still fails");
        assert!(error.to_string().contains("--cache-dir"), "{error}");
    }

    #[test]
    fn rows_survive_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let mut store = Store::open(dir.path()).unwrap();
            let run = store
                .find_or_create_run(&key(8), &serde_json::json!({"k": "v"}))
                .unwrap();
            put(&mut store, &run, &[ranked("a.JPEG", Some(1), 1)]).unwrap();
            run.id
        };
        let mut store = Store::open(dir.path()).unwrap();
        let run = store
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        assert_eq!(run.id, id);
        assert_eq!(
            run.meta,
            serde_json::json!({"k": "v"}),
            "the first meta stays"
        );
        assert_eq!(
            store.predictions(id).unwrap(),
            vec![ranked("a.JPEG", Some(1), 1)]
        );
    }

    #[test]
    fn new_rows_make_a_complete_run_incomplete_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        put(&mut store, &run, &[ranked("a.JPEG", Some(1), 1)]).unwrap();
        assert!(
            complete(&mut store, &run, &["a.JPEG", "b.JPEG"]).is_err(),
            "fewer rows than claimed"
        );
        assert!(!store.run(run.id).unwrap().unwrap().complete);
        complete(&mut store, &run, &["a.JPEG"]).unwrap();
        put(&mut store, &run, &[]).unwrap();
        assert!(store.run(run.id).unwrap().unwrap().complete, "nothing new");
        put(&mut store, &run, &[ranked("b.JPEG", Some(1), 2)]).unwrap();
        let info = store.run(run.id).unwrap().unwrap();
        assert!(!info.complete && info.summary.is_none(), "{info:?}");
        complete(&mut store, &run, &["a.JPEG", "b.JPEG"]).unwrap();
        let summary = store.run(run.id).unwrap().unwrap().summary.unwrap();
        assert_eq!((summary.images, summary.top1_correct), (2, 1));
        // An image twice in one batch, and one already stored: one new row, the last one kept.
        put(
            &mut store,
            &run,
            &[
                ranked("c.JPEG", Some(1), 5),
                ranked("a.JPEG", Some(1), 1),
                ranked("c.JPEG", Some(1), 1),
            ],
        )
        .unwrap();
        assert_eq!(store.run(run.id).unwrap().unwrap().images, 3);
        complete(&mut store, &run, &["a.JPEG", "b.JPEG", "c.JPEG"]).unwrap();
        let summary = store.run(run.id).unwrap().unwrap().summary.unwrap();
        assert_eq!((summary.images, summary.top1_correct), (3, 2));
    }

    #[test]
    fn a_deleted_run_takes_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        assert!(store.delete_run(run.id).unwrap());
        assert!(!store.delete_run(run.id).unwrap());
        let error = put(&mut store, &run, &[ranked("a.JPEG", None, 1)])
            .err()
            .unwrap();
        assert!(matches!(error, StoreError::RunGone { .. }), "{error}");
        assert!(error.to_string().contains("deleted"), "{error}");
        let error = complete(&mut store, &run, &[]).err().unwrap();
        assert!(matches!(error, StoreError::RunGone { .. }), "{error}");
        assert!(store.predictions(run.id).unwrap().is_empty());
    }

    #[test]
    fn an_import_failing_inside_its_transaction_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        // The run row is written, then the rows fail: as a crash between the two would.
        store
            .connection
            .execute_batch(
                "CREATE TEMP TRIGGER fail_rows BEFORE INSERT ON main.packed_predictions
                 BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
            )
            .unwrap();
        let mut import_key = key(1);
        import_key.kind = "import".into();
        import_key.source_sha256 = Some("beef".into());
        let rows = vec![ranked("a.JPEG", Some(1), 1), ranked("b.JPEG", Some(2), 1)];
        let error = store
            .import_run(&import_key, &serde_json::json!({}), &rows)
            .err()
            .unwrap();
        assert!(error.to_string().contains("simulated failure"), "{error}");
        assert!(store.runs().unwrap().is_empty(), "no half-imported run");

        store
            .connection
            .execute_batch("DROP TRIGGER fail_rows")
            .unwrap();
        let ImportOutcome::New(id) = store
            .import_run(&import_key, &serde_json::json!({}), &rows)
            .unwrap()
        else {
            panic!("the retried import is new")
        };
        assert_eq!(store.predictions(id).unwrap(), rows);
    }

    #[test]
    fn invalid_import_rows_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut import_key = key(1);
        import_key.kind = "import".into();
        let failed = Prediction {
            outcome: Outcome::Failed("x".into()),
            ..ranked("f.JPEG", None, 1)
        };
        for (rows, expected) in [
            (vec![ranked("a\nb", None, 1)], "line break"),
            (vec![ranked("", None, 1)], "empty name"),
            (
                vec![ranked("c.JPEG", Some(NO_LABEL), 1)],
                "out-of-range label",
            ),
            (vec![failed], "f.JPEG) has no prediction"),
        ] {
            let error = store
                .import_run(&import_key, &serde_json::json!({}), &rows)
                .err()
                .unwrap()
                .to_string();
            assert!(
                error.contains(expected) && error.contains("nothing was stored"),
                "{error}"
            );
        }
        assert!(store.runs().unwrap().is_empty());
    }

    #[test]
    fn columns_match_the_rows_for_both_kinds_of_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let verified = store
            .find_or_create_run(&key(8), &serde_json::json!({}))
            .unwrap();
        let failed = Prediction {
            outcome: Outcome::Failed("truncated".into()),
            ..ranked("c.JPEG", Some(4), 0)
        };
        put(
            &mut store,
            &verified,
            &[
                ranked("b.JPEG", None, 3),
                failed,
                ranked("a.JPEG", Some(2), 2),
            ],
        )
        .unwrap();
        let mut import_key = key(1);
        import_key.kind = "import".into();
        // Import order is kept (not sorted by name).
        let imported_rows = vec![ranked("z.JPEG", Some(9), 9), ranked("y.JPEG", None, 8)];
        let ImportOutcome::New(imported) = store
            .import_run(&import_key, &serde_json::json!({}), &imported_rows)
            .unwrap()
        else {
            panic!("new import")
        };
        for run in [verified.id, imported] {
            let rows = store.predictions(run).unwrap();
            let columns = store.ranked_columns(run).unwrap();
            assert_eq!(columns.len(), rows.len());
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(columns.name(i), row.name);
                assert_eq!(columns.labels[i], row.label);
                let top5 = match &row.outcome {
                    Outcome::Ranked { top5, .. } => Some(*top5),
                    Outcome::Failed(_) => None,
                };
                assert_eq!(columns.top5[i], top5);
            }
        }
        let columns = store.ranked_columns(verified.id).unwrap();
        let names: Vec<&str> = columns.names().collect();
        assert_eq!(
            names,
            ["a.JPEG", "b.JPEG", "c.JPEG"],
            "verified rows by name"
        );
        let columns = store.ranked_columns(imported).unwrap();
        assert_eq!(columns.names().collect::<Vec<_>>(), ["z.JPEG", "y.JPEG"]);
        assert_eq!(store.ranked_columns(99).unwrap(), RankedColumns::default());
    }

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

    /// Reading speed of one 50,000-image run, both kinds; run with
    /// `cargo test --release --lib store::tests::read_speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn read_speed() {
        use std::time::Instant;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let rows: Vec<Prediction> = (0..50_000)
            .map(|i| Prediction {
                name: format!("ILSVRC2012_val_{:08}.JPEG", i + 1),
                file: format!("n{:08}/ILSVRC2012_val_{:08}.JPEG", i % 1000, i + 1),
                label: Some((i % 1000) as u16),
                outcome: Outcome::Ranked {
                    top5: [(i % 1000) as u16, 1, 2, 3, 4],
                    scores: [0.5, 0.2, 0.1, 0.1, 0.1],
                },
            })
            .collect();
        let run = store
            .find_or_create_run(&key(32), &serde_json::json!({}))
            .unwrap();
        let start = Instant::now();
        for batch in rows.chunks(32) {
            put(&mut store, &run, batch).unwrap();
        }
        eprintln!("insert 50,000 rows in batches of 32: {:?}", start.elapsed());
        let start = Instant::now();
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        complete(&mut store, &run, &names).unwrap();
        eprintln!("mark_complete: {:?}", start.elapsed());
        let mut import_key = key(1);
        import_key.kind = "import".into();
        let start = Instant::now();
        let ImportOutcome::New(imported) = store
            .import_run(&import_key, &serde_json::json!({}), &rows)
            .unwrap()
        else {
            panic!("new import")
        };
        eprintln!("import_run of 50,000 rows: {:?}", start.elapsed());
        let time = |what: &str, f: &dyn Fn() -> usize| {
            let mut best = Duration::MAX;
            for _ in 0..10 {
                let start = Instant::now();
                assert_eq!(f(), rows.len());
                best = best.min(start.elapsed());
            }
            eprintln!("{what}: best of 10 {:.1} ms", best.as_secs_f64() * 1e3);
        };
        time("predictions, per-row run", &|| {
            store.predictions(run.id).unwrap().len()
        });
        time("ranked_columns, per-row run", &|| {
            store.ranked_columns(run.id).unwrap().len()
        });
        time("stored_images, per-row run", &|| {
            store.stored_images(run.id).unwrap().len()
        });
        time("predictions, imported run", &|| {
            store.predictions(imported).unwrap().len()
        });
        time("ranked_columns, imported run", &|| {
            store.ranked_columns(imported).unwrap().len()
        });
        time("packed() alone, imported run", &|| {
            store.packed(imported).unwrap().unwrap().len
        });
        // What `table` over the 34 imported seed caches reads.
        let mut imported = vec![imported];
        for model in 1..34 {
            import_key.model_id = format!("model-{model}");
            if let ImportOutcome::New(id) = store
                .import_run(&import_key, &serde_json::json!({}), &rows)
                .unwrap()
            {
                imported.push(id);
            }
        }
        let start = Instant::now();
        let runs = store.runs().unwrap();
        eprintln!("runs() of {} runs: {:?}", runs.len(), start.elapsed());
        // Best of 10 passes: what the machine gives when other processes leave it alone.
        let mut best = Duration::MAX;
        for _ in 0..10 {
            let start = Instant::now();
            let correct: usize = imported
                .iter()
                .map(|&run| {
                    let columns = store.ranked_columns(run).unwrap();
                    (0..columns.len())
                        .filter(|&i| matches!((columns.labels[i], columns.top5[i]), (Some(l), Some(t)) if t[0] == l))
                        .count()
                })
                .sum();
            assert_eq!(correct, imported.len() * rows.len());
            best = best.min(start.elapsed());
        }
        eprintln!(
            "ranked_columns + top-1 of {} imported runs: best of 10 {:.1} ms",
            imported.len(),
            best.as_secs_f64() * 1e3
        );
    }
}
