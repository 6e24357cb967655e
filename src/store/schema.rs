//! The schema: the SQL that creates it, the upgrades from every released version, and opening
//! a connection in the mode every write relies on.

use rusqlite::{Transaction, TransactionBehavior, params};

use super::{BUSY_TIMEOUT, RunId, RunKind, RunMeta, Store, StoreError};
use crate::eval::prediction::Summary;

pub(super) const SCHEMA_VERSION: i64 = 6;

const CREATE_SCHEMA: &str = "
    -- One row per invocation (a run): its key, its image set (run_images) and its summary.
    -- AUTOINCREMENT: an id is never given again after its run is deleted.
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key_digest TEXT NOT NULL,
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
    CREATE INDEX runs_by_key ON runs (key_digest);
    -- The per-image cache under the runs, shared by every run of one key: a row per image name
    -- and the content (size, sha256) it was computed from, so a changed file adds a row and
    -- never rewrites what an earlier run answered. Unknown content: size -1, sha256 x''.
    CREATE TABLE predictions (
        key_digest TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        file TEXT NOT NULL,
        label INTEGER,
        top5 BLOB,
        scores BLOB,
        error TEXT,
        PRIMARY KEY (key_digest, name, size, sha256)
    ) WITHOUT ROWID;
    -- Each run's images, with the content it saw: the run reads its rows through this.
    -- `file` and `label` are where and under which label this run saw the image (a cached row
    -- keeps the first run's): NULL in runs settled before schema 6, which read the row's own.
    CREATE TABLE run_images (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        file TEXT,
        label INTEGER,
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
    PRAGMA user_version = 6;
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

/// Version 3 stored run metadata as untyped JSON; version 4 rewrites it as `RunMeta`
/// (`type_run_metadata`), with no change to the tables.
const UPGRADE_FROM_3: &str = "PRAGMA user_version = 4;";

/// Version 4 had one run per key, whose rows a later pass over other images or changed files
/// replaced. Version 5 makes a run one invocation: rows move to a cache keyed by the run's key
/// and the image's content, and each run keeps its own image set. Ids stay as they were.
/// Runs on foreign_keys = OFF (the DROP would otherwise cascade to every row).
const UPGRADE_FROM_4: &str = "
    CREATE TABLE runs_5 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key_digest TEXT NOT NULL,
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
    INSERT INTO runs_5 SELECT id, key_digest, key_json, model_id, kind, created_at, updated_at,
                              meta_json, complete, images, summary_json, token FROM runs;
    CREATE TABLE predictions_5 (
        key_digest TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        file TEXT NOT NULL,
        label INTEGER,
        top5 BLOB,
        scores BLOB,
        error TEXT,
        PRIMARY KEY (key_digest, name, size, sha256)
    ) WITHOUT ROWID;
    INSERT OR REPLACE INTO predictions_5
        SELECT r.key_digest, p.name, coalesce(p.size, -1), coalesce(p.sha256, x''), p.file,
               p.label, p.top5, p.scores, p.error
        FROM predictions p JOIN runs r ON r.id = p.run_id;
    CREATE TABLE run_images (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID;
    INSERT INTO run_images
        SELECT run_id, name, coalesce(size, -1), coalesce(sha256, x'') FROM predictions;
    DROP TABLE predictions;
    ALTER TABLE predictions_5 RENAME TO predictions;
    -- The ids of deleted runs stay used: the sequence is carried over, not recomputed.
    CREATE TEMP TABLE old_sequence AS SELECT seq FROM sqlite_sequence WHERE name = 'runs';
    DROP TABLE runs;
    ALTER TABLE runs_5 RENAME TO runs;
    DELETE FROM sqlite_sequence WHERE name = 'runs';
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'runs', max(coalesce((SELECT max(seq) FROM temp.old_sequence), 0),
                           coalesce((SELECT max(id) FROM runs), 0));
    DROP TABLE temp.old_sequence;
    CREATE INDEX runs_by_key ON runs (key_digest);
    PRAGMA user_version = 5;
";

/// Version 5 read a run's labels and file paths from the cached rows, which keep those of the
/// run that first computed them: a file moved to another class folder was scored under its old
/// label. Each run now keeps its own.
const UPGRADE_FROM_5: &str = "
    ALTER TABLE run_images ADD COLUMN file TEXT;
    ALTER TABLE run_images ADD COLUMN label INTEGER;
    PRAGMA user_version = 6;
";

impl Store {
    pub(super) fn initialise(&mut self) -> Result<(), StoreError> {
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
                2 => (UPGRADE_FROM_2, 3),
                3 => (UPGRADE_FROM_3, 4),
                4 => (UPGRADE_FROM_4, 5),
                _ => (UPGRADE_FROM_5, 6),
            };
            transaction
                .execute_batch(upgrade)
                .map_err(|e| self.sqlite(e))?;
            version = next;
        }
        if (1..4).contains(&from) {
            self.rewrite_summaries(&transaction)?;
        }
        if (1..4).contains(&from) {
            self.type_run_metadata(&transaction)?;
        }
        transaction.commit().map_err(|e| self.sqlite(e))
    }

    /// Version 3 hashes image sets with another encoding, and version 4 adds the content digest
    /// of the image set: summaries carry both, so they are computed again from the rows.
    fn rewrite_summaries(&self, transaction: &Transaction) -> Result<(), StoreError> {
        let complete: Vec<RunId> = transaction
            .prepare("SELECT id FROM runs WHERE complete = 1")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get(0))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| self.sqlite(e))?;
        for id in complete {
            let summary = Summary::of(&self.predictions(id)?, Some(&self.contents(id)?));
            transaction
                .execute(
                    "UPDATE runs SET summary_json = ?2 WHERE id = ?1",
                    params![id, serde_json::to_string(&summary).unwrap_or_default()],
                )
                .map_err(|e| self.sqlite(e))?;
        }
        Ok(())
    }

    /// Version 4 types run metadata: every run's JSON becomes a `RunMeta`, what it lacked `None`.
    fn type_run_metadata(&self, transaction: &Transaction) -> Result<(), StoreError> {
        let runs: Vec<(RunId, String, String)> = transaction
            .prepare("SELECT id, kind, meta_json FROM runs")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| self.sqlite(e))?;
        for (id, kind, meta_json) in runs {
            let kind = RunKind::from_name(&kind)
                .ok_or_else(|| self.corrupt(format!("run {id} is of an unknown kind {kind:?}")))?;
            let old = serde_json::from_str(&meta_json).unwrap_or(serde_json::Value::Null);
            let meta = RunMeta::from_legacy(kind, &old);
            transaction
                .execute(
                    "UPDATE runs SET meta_json = ?2 WHERE id = ?1",
                    params![id, serde_json::to_string(&meta).unwrap_or_default()],
                )
                .map_err(|e| self.sqlite(e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    use rusqlite::{Connection, params};

    use super::super::packed::{NO_LABEL, pack_scores, pack_top5};
    use super::super::schema::SCHEMA_VERSION;
    use super::super::tests::{import_meta, key, meta, put, ranked};
    use super::super::*;
    use crate::eval::prediction::Outcome;

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
        import_key.kind = RunKind::Import;
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
                .import_run(&import_key, &import_meta(), &rows)
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
        // The upgraded run's rows are in its key's cache, unchanged by a new run of the key.
        let again = store.create_run(&key(8), &meta()).unwrap();
        assert!(again.id > 5, "{}", again.id);
        put(&mut store, &again, &[ranked("a.JPEG", None, 9)]).unwrap();
        assert_eq!(store.predictions(5).unwrap(), vec![row.clone()]);
        // Ids are not reused after the upgrade either.
        drop(store);
        let mut store = Store::open(dir.path()).unwrap();
        assert!(store.delete_run(again.id).unwrap());
        assert!(store.delete_run(5).unwrap());
        assert!(store.predictions(5).unwrap().is_empty());
        let cached: i64 = store
            .connection
            .query_row("SELECT count(*) FROM predictions", [], |row| row.get(0))
            .unwrap();
        assert_eq!(cached, 0, "rows no run refers to go with the last run");
        let next = store.create_run(&key(1), &meta()).unwrap();
        assert!(next.id > again.id, "{}", next.id);
    }

    /// Version 3 as it was released.
    const SCHEMA_3: &str = "
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

    #[test]
    fn a_version_3_store_gets_typed_run_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let old = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        old.execute_batch(SCHEMA_3).unwrap();
        let recipe = crate::image::recipe::preset("torchvision").unwrap();
        // Metadata as `verify` and `import-seed` wrote it with `json!`, and an empty one.
        let verify_meta = serde_json::json!({
            "framework": "pytorch",
            "onnx": {"path": "m.onnx", "sha256": "ab", "verification": "verified",
                     "manifest_sha256": "ab", "sidecar": null},
            "recipe": {"name": "torchvision", "pillow_compat": "13", "definition": recipe},
            "dataset": {"path": "/data/val", "layout": "image-folder"},
            "ort_library": "/lib/libonnxruntime.so",
            "threads": 8,
            "tool_version": "0.1.0",
        });
        let seed_meta = serde_json::json!({
            "framework": "keras",
            "source": "benchmarking-keras-pytorch",
            "preds": {"path": "/seed/p.npy", "sha256": "01"},
            "probs": {"path": "/seed/q.npy", "sha256": "02", "dtype": "<f2"},
        });
        let mut import_key = key(1);
        import_key.kind = RunKind::Import;
        for (id, key, kind, meta) in [
            (3, key(8), "verify", verify_meta.to_string()),
            (4, import_key.clone(), "import", seed_meta.to_string()),
            (5, key(16), "verify", "{}".to_string()),
        ] {
            old.execute(
                "INSERT INTO runs (id, key_digest, key_json, model_id, kind, created_at, updated_at, meta_json, token)
                 VALUES (?1, ?2, ?3, 'coral/x', ?4, 't', 't', ?5, 'token')",
                params![id, key.digest(), serde_json::to_string(&key).unwrap(), kind, meta],
            )
            .unwrap();
        }
        // Run 9 was deleted before the upgrade: its id stays used.
        old.execute_batch("UPDATE sqlite_sequence SET seq = 9 WHERE name = 'runs'")
            .unwrap();
        drop(old);

        let mut store = Store::open(dir.path()).unwrap();
        let version: i64 = store
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let runs = store.runs().unwrap();
        assert_eq!(runs.len(), 3);
        let verify = &runs[0].meta;
        assert_eq!(verify.schema, RUN_META_SCHEMA);
        assert_eq!(verify.framework.as_deref(), Some("pytorch"));
        assert_eq!(verify.tool_version.as_deref(), Some("0.1.0"));
        let RunOrigin::Verify(parts) = &verify.origin else {
            panic!("{verify:?}")
        };
        let onnx = parts.onnx.as_ref().unwrap();
        assert_eq!((onnx.path.as_str(), onnx.sha256.as_str()), ("m.onnx", "ab"));
        assert_eq!(onnx.manifest_sha256.as_deref(), Some("ab"));
        let recipe_meta = parts.recipe.as_ref().unwrap();
        assert_eq!(recipe_meta.definition, recipe);
        assert_eq!(recipe_meta.pillow_compat, "13");
        assert_eq!(
            parts.dataset,
            Some(DatasetMeta {
                path: Some("/data/val".into()),
                layout: Some("image-folder".into()),
                ground_truth: None,
            })
        );
        assert_eq!(parts.ort_library.as_deref(), Some("/lib/libonnxruntime.so"));
        assert_eq!(parts.threads, Some(8));

        let import = runs[1].meta.import().unwrap();
        assert_eq!(import.source.as_deref(), Some("benchmarking-keras-pytorch"));
        let probs = import.probs.as_ref().unwrap();
        assert_eq!(probs.path.as_deref(), Some("/seed/q.npy"));
        assert_eq!(probs.dtype.as_deref(), Some("<f2"));
        assert_eq!(import.preds.as_ref().unwrap().dtype, None);
        assert_eq!(runs[1].meta.framework.as_deref(), Some("keras"));

        assert_eq!(
            runs[2].meta,
            RunMeta::unknown(RunKind::Verify),
            "missing parts are None"
        );
        // The keys keep their digests: the runs are found again.
        assert_eq!(runs[0].key_digest, key(8).digest());
        assert_eq!(store.create_run(&key(8), &meta()).unwrap().id, 10);
        assert!(matches!(
            store.import_run(&import_key, &import_meta(), &[]).unwrap(),
            ImportOutcome::AlreadyPresent(4)
        ));
    }
}
