//! The prediction store: one SQLite database per cache dir, one run per key, per-image top-5.
//!
//! Crash safety comes from SQLite transactions in WAL mode: rows reach the database only in
//! committed transactions, so a killed process leaves whole batches or nothing, and a run is only
//! marked complete (and its summary trusted) by `mark_complete` after every image is in.
//! Two processes on one cache dir serialize their writes through the busy timeout.
//!
//! `verify` writes one row per image (`predictions`), batch by batch, so an interrupted run
//! resumes. Imports arrive whole, so they are stored packed (`packed_predictions`, one row per run
//! of columnar blobs): 50,000 images are one insert, and reading a run back is one read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rank::TOP_K;
use crate::recipe::Recipe;
use crate::resample::PillowCompat;

const DATABASE_FILE: &str = "zoorepro.sqlite3";
const SCHEMA_VERSION: i64 = 1;
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

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
    #[error("the prediction store {path}: {reason}")]
    Sqlite { path: PathBuf, reason: String },
    #[error(
        "the prediction store {path} is damaged: {reason}; delete the run (`zoorepro runs --delete ID`) and run it again"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("no run {id} in the prediction store {path} (`zoorepro runs` lists them)")]
    NoSuchRun { path: PathBuf, id: RunId },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Ranked {
        top5: [u16; TOP_K],
        scores: [f32; TOP_K],
    },
    Failed(String),
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
        summary.image_set_sha256 = crate::manifest::image_set_digest(labelled_names);
        summary
    }
}

#[derive(Clone, Debug)]
pub struct RunInfo {
    pub id: RunId,
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

/// Every SQLite failure as one message that names the database and says what to do.
fn sqlite_error(path: &Path, error: rusqlite::Error) -> StoreError {
    let reason = error.to_string();
    if reason.contains("file is not a database") {
        StoreError::NotADatabase {
            path: path.to_path_buf(),
        }
    } else if reason.contains("readonly") || reason.contains("unable to open") {
        StoreError::Create {
            dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            reason,
        }
    } else if reason.contains("disk") || reason.contains("full") || reason.contains("I/O") {
        StoreError::Sqlite {
            path: path.to_path_buf(),
            reason: format!(
                "{reason} (is the disk full? free space or pass --cache-dir DIR; committed runs are intact)"
            ),
        }
    } else {
        StoreError::Sqlite {
            path: path.to_path_buf(),
            reason,
        }
    }
}

const RUN_COLUMNS: &str =
    "id, key_json, model_id, created_at, updated_at, complete, images, meta_json, summary_json";

impl Store {
    pub fn open(cache_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(cache_dir).map_err(|e| StoreError::Create {
            dir: cache_dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let path = cache_dir.join(DATABASE_FILE);
        let connection = Connection::open(&path).map_err(|e| StoreError::Create {
            dir: cache_dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut store = Store { connection, path };
        store.initialise()?;
        Ok(store)
    }

    fn sqlite(&self, error: rusqlite::Error) -> StoreError {
        sqlite_error(&self.path, error)
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
            // IMMEDIATE: two processes creating the schema at once must not both try.
            self.connection
                .execute_batch(
                    "BEGIN IMMEDIATE;
                     CREATE TABLE IF NOT EXISTS runs (
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
                     CREATE TABLE IF NOT EXISTS predictions (
                         run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                         name TEXT NOT NULL,
                         file TEXT NOT NULL,
                         label INTEGER,
                         top5 BLOB,
                         scores BLOB,
                         error TEXT,
                         PRIMARY KEY (run_id, name)
                     ) WITHOUT ROWID;
                     CREATE TABLE IF NOT EXISTS packed_predictions (
                         run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
                         names TEXT NOT NULL,
                         files TEXT NOT NULL,
                         labels BLOB NOT NULL,
                         top5 BLOB NOT NULL,
                         scores BLOB NOT NULL
                     );
                     PRAGMA user_version = 1;
                     COMMIT;",
                )
                .map_err(|e| {
                    let _ = self.connection.execute_batch("ROLLBACK");
                    self.sqlite(e)
                })?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn run_from_row(&self, row: &rusqlite::Row) -> rusqlite::Result<Result<RunInfo, StoreError>> {
        let id: RunId = row.get(0)?;
        let key_json: String = row.get(1)?;
        let meta_json: String = row.get(7)?;
        let summary_json: Option<String> = row.get(8)?;
        let parsed = (|| -> Result<RunInfo, String> {
            Ok(RunInfo {
                id,
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
        let found = self
            .connection
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                |row| self.run_from_row(row),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        found.transpose()
    }

    fn run_by_digest(&self, digest: &str) -> Result<Option<RunInfo>, StoreError> {
        let found = self
            .connection
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE key_digest = ?1"),
                [digest],
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
        self.connection
            .execute(
                "INSERT OR IGNORE INTO runs (key_digest, key_json, model_id, kind, created_at, updated_at, meta_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                params![digest, key_json, key.model_id, key.kind, time, meta.to_string()],
            )
            .map_err(|e| self.sqlite(e))?;
        self.run_by_digest(&digest)?
            .ok_or_else(|| self.corrupt(format!("run with key {digest} vanished")))
    }

    pub fn done_names(&self, run: RunId) -> Result<HashSet<String>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT name FROM predictions WHERE run_id = ?1")
            .map_err(|e| self.sqlite(e))?;
        let names = statement
            .query_map([run], |row| row.get::<_, String>(0))
            .map_err(|e| self.sqlite(e))?;
        names.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Adds (or replaces) a batch of rows in one transaction.
    pub fn insert(&mut self, run: RunId, batch: &[Prediction]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| sqlite_error(&path, e);
        // IMMEDIATE takes the write lock up front, so a second process waits on the busy timeout
        // instead of failing when it would upgrade a read transaction.
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        {
            let mut statement = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO predictions (run_id, name, file, label, top5, scores, error)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(fail)?;
            let (mut top5_bytes, mut score_bytes) =
                (Vec::with_capacity(10), Vec::with_capacity(20));
            for prediction in batch {
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
                let blobs = error.is_none();
                statement
                    .execute(params![
                        run,
                        prediction.name,
                        prediction.file,
                        prediction.label,
                        blobs.then_some(&top5_bytes),
                        blobs.then_some(&score_bytes),
                        error
                    ])
                    .map_err(fail)?;
            }
        }
        transaction
            .execute(
                "UPDATE runs SET updated_at = ?2, images = (SELECT COUNT(*) FROM predictions WHERE run_id = ?1) WHERE id = ?1",
                params![run, now()],
            )
            .map_err(fail)?;
        transaction.commit().map_err(fail)
    }

    pub fn predictions(&self, run: RunId) -> Result<Vec<Prediction>, StoreError> {
        let mut rows = self.packed(run)?.unwrap_or_default();
        let mut statement = self
            .connection
            .prepare_cached("SELECT name, file, label, top5, scores, error FROM predictions WHERE run_id = ?1 ORDER BY name")
            .map_err(|e| self.sqlite(e))?;
        let mut query = statement.query([run]).map_err(|e| self.sqlite(e))?;
        while let Some(row) = query.next().map_err(|e| self.sqlite(e))? {
            let name: String = row.get(0).map_err(|e| self.sqlite(e))?;
            let top5: Option<Vec<u8>> = row.get(3).map_err(|e| self.sqlite(e))?;
            let scores: Option<Vec<u8>> = row.get(4).map_err(|e| self.sqlite(e))?;
            let error: Option<String> = row.get(5).map_err(|e| self.sqlite(e))?;
            let outcome = match (error, top5, scores) {
                (Some(error), _, _) => Outcome::Failed(error),
                (None, Some(top5), Some(scores)) => {
                    match (unpack_top5(&top5), unpack_scores(&scores)) {
                        (Some(top5), Some(scores)) => Outcome::Ranked { top5, scores },
                        _ => {
                            return Err(self.corrupt(format!(
                                "run {run}, image {name}: malformed top-5 blob"
                            )));
                        }
                    }
                }
                _ => {
                    return Err(self.corrupt(format!(
                        "run {run}, image {name}: neither a top-5 nor an error"
                    )));
                }
            };
            rows.push(Prediction {
                file: row.get(1).map_err(|e| self.sqlite(e))?,
                label: row.get(2).map_err(|e| self.sqlite(e))?,
                name,
                outcome,
            });
        }
        Ok(rows)
    }

    fn packed(&self, run: RunId) -> Result<Option<Vec<Prediction>>, StoreError> {
        let row = self
            .connection
            .query_row(
                "SELECT names, files, labels, top5, scores FROM packed_predictions WHERE run_id = ?1",
                [run],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                        row.get::<_, Vec<u8>>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        let Some((names, files, labels, top5, scores)) = row else {
            return Ok(None);
        };
        let names: Vec<&str> = if names.is_empty() {
            Vec::new()
        } else {
            names.split('\n').collect()
        };
        let files: Vec<&str> = if files.is_empty() {
            Vec::new()
        } else {
            files.split('\n').collect()
        };
        let n = names.len();
        if files.len() != n
            || labels.len() != 2 * n
            || top5.len() != 2 * TOP_K * n
            || scores.len() != 4 * TOP_K * n
        {
            return Err(self.corrupt(format!(
                "run {run}: packed predictions of inconsistent lengths"
            )));
        }
        let mut predictions = Vec::with_capacity(n);
        for (i, (name, file)) in names.into_iter().zip(files).enumerate() {
            let label = u16::from_le_bytes([labels[2 * i], labels[2 * i + 1]]);
            let top5 = unpack_top5(&top5[2 * TOP_K * i..2 * TOP_K * (i + 1)]);
            let scores = unpack_scores(&scores[4 * TOP_K * i..4 * TOP_K * (i + 1)]);
            let (Some(top5), Some(scores)) = (top5, scores) else {
                return Err(self.corrupt(format!("run {run}: malformed packed row {i}")));
            };
            predictions.push(Prediction {
                name: name.to_string(),
                file: file.to_string(),
                label: (label != u16::MAX).then_some(label),
                outcome: Outcome::Ranked { top5, scores },
            });
        }
        Ok(Some(predictions))
    }

    /// Marks a run complete with `images` rows and stores its summary; a run is only reported as
    /// a finished result after this.
    pub fn mark_complete(&mut self, run: RunId, images: usize) -> Result<(), StoreError> {
        let summary = Summary::of(&self.predictions(run)?);
        if summary.images < images {
            return Err(self.corrupt(format!(
                "run {run} has {} rows, not the {images} it claims",
                summary.images
            )));
        }
        self.connection
            .execute(
                "UPDATE runs SET complete = 1, summary_json = ?2, updated_at = ?3 WHERE id = ?1",
                params![
                    run,
                    serde_json::to_string(&summary).unwrap_or_default(),
                    now()
                ],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    pub fn delete_run(&mut self, id: RunId) -> Result<bool, StoreError> {
        let deleted = self
            .connection
            .execute("DELETE FROM runs WHERE id = ?1", [id])
            .map_err(|e| self.sqlite(e))?;
        Ok(deleted > 0)
    }

    /// Stores a whole run in one transaction: all of it, or nothing. A run with the same key is
    /// left as it is.
    pub fn import_run(
        &mut self,
        key: &RunKey,
        meta: &serde_json::Value,
        rows: &[Prediction],
    ) -> Result<ImportOutcome, StoreError> {
        let digest = key.digest();
        if let Some(existing) = self.run_by_digest(&digest)? {
            return Ok(ImportOutcome::AlreadyPresent(existing.id));
        }
        let mut names = String::with_capacity(rows.len() * 30);
        let mut files = String::with_capacity(rows.len() * 40);
        let mut labels = Vec::with_capacity(rows.len() * 2);
        let mut top5_bytes = Vec::with_capacity(rows.len() * 2 * TOP_K);
        let mut score_bytes = Vec::with_capacity(rows.len() * 4 * TOP_K);
        let mut seen = HashSet::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if row.name.contains('\n') || row.file.contains('\n') || !seen.insert(row.name.as_str())
            {
                return Err(self.corrupt(format!(
                    "import row {i} ({}) is duplicated or malformed",
                    row.name
                )));
            }
            let Outcome::Ranked { top5, scores } = &row.outcome else {
                return Err(
                    self.corrupt(format!("import row {i} ({}) has no prediction", row.name))
                );
            };
            if i > 0 {
                names.push('\n');
                files.push('\n');
            }
            names.push_str(&row.name);
            files.push_str(&row.file);
            labels.extend_from_slice(&row.label.unwrap_or(u16::MAX).to_le_bytes());
            pack_top5(top5, &mut top5_bytes);
            pack_scores(scores, &mut score_bytes);
        }
        let summary = Summary::of(rows);
        let time = now();
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| sqlite_error(&path, e);
        // IMMEDIATE takes the write lock up front, so a second process waits on the busy timeout
        // instead of failing when it would upgrade a read transaction.
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let inserted = transaction
            .execute(
                "INSERT OR IGNORE INTO runs (key_digest, key_json, model_id, kind, created_at, updated_at, meta_json, complete, images, summary_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, 1, ?7, ?8)",
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
            .map_err(fail)?;
        let id: RunId = transaction
            .query_row(
                "SELECT id FROM runs WHERE key_digest = ?1",
                [&digest],
                |row| row.get(0),
            )
            .map_err(fail)?;
        if inserted == 0 {
            // Another process imported the same file meanwhile.
            return Ok(ImportOutcome::AlreadyPresent(id));
        }
        transaction
            .execute(
                "INSERT INTO packed_predictions (run_id, names, files, labels, top5, scores) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, names, files, labels, top5_bytes, score_bytes],
            )
            .map_err(fail)?;
        transaction.commit().map_err(fail)?;
        Ok(ImportOutcome::New(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(batch: usize) -> RunKey {
        RunKey::verify(
            "coral/x",
            "ab",
            &crate::recipe::preset("torchvision").unwrap(),
            PillowCompat::V13,
            "1.32.0",
            "cpu",
            "all",
            batch,
        )
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
        store
            .insert(run.id, &[ranked("a.JPEG", Some(7), 7), failed.clone()])
            .unwrap();
        assert_eq!(
            store.done_names(run.id).unwrap(),
            HashSet::from(["a.JPEG".to_string(), "b.JPEG".to_string()])
        );
        // A resumed batch replaces the rows it repeats.
        store
            .insert(run.id, &[ranked("a.JPEG", Some(7), 9)])
            .unwrap();
        let rows = store.predictions(run.id).unwrap();
        assert_eq!(rows, vec![ranked("a.JPEG", Some(7), 9), failed]);
        assert_eq!(store.run(run.id).unwrap().unwrap().images, 2);
        assert!(store.predictions(other.id).unwrap().is_empty());

        assert!(!store.run(run.id).unwrap().unwrap().complete);
        store.mark_complete(run.id, 2).unwrap();
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
                image_set_sha256: crate::manifest::image_set_digest(["a.JPEG"]),
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
        assert!(store.done_names(run.id).unwrap().is_empty());
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
                        store.insert(run.id, &rows).unwrap();
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
}
