//! The prediction store: one SQLite database per cache dir; runs, and a per-image top-5 cache
//! under them.
//!
//! A run is one invocation (`verify`, `merge`, an import) with its own image set, forever: its
//! id always answers with the same images and predictions. Underneath, every run of one key (the
//! same model bytes, recipe, runtime, provider, batch) shares a cache of rows keyed by image
//! name and content, so a changed file adds a row instead of rewriting an earlier run's answer,
//! and a new run reads what an earlier one computed. A run holds its images in `run_images`;
//! rows no run refers to are removed when their last run is deleted.
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
//! `mark_complete` sets a run's images to exactly those of one pass, with those contents.
//!
//! `verify` writes one row per image (`predictions`), batch by batch, so an interrupted run
//! resumes. Imports arrive whole, so they are stored packed (`packed_predictions`, one row per run
//! of columnar blobs): 50,000 images are one insert, and reading a run back is one read.
//!
//! Reading speed (release, one 50,000-image run, `tests::read_speed`): `ranked_columns` of an
//! imported run about 1 ms, of a verified run about 31 ms; `predictions` about 8 ms and 43 ms
//! (a verified run's rows are read through its image set).
//! `table` with the original labels reads no rows at all: complete runs carry a `Summary`.
//!
//! Layout: `schema` (SQL, upgrades), `key` (what identifies a run's cache), `runs` (run rows),
//! `lease` (writer leases), `rows` (prediction rows), `images` (a run's image set, the cache), `packed` (imported runs' columns), `import`,
//! `error`. The predictions themselves are domain types of [`crate::eval::prediction`].

mod error;
mod images;
pub use images::PassImage;
mod import;
mod key;
mod lease;
mod meta;
mod packed;
mod rows;
mod runs;
mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use error::StoreError;
pub use import::{ImportOutcome, Importer};
pub use key::{RunKey, RunKind};
pub use meta::{
    DatasetMeta, ImportMeta, IoNames, LikeInfo, NativeMeta, OnnxMeta, RUN_META_SCHEMA, RecipeMeta,
    RunMeta, RunOrigin, SourceFile, VerifyMeta,
};
pub use rows::{RankedColumns, StoredImage};
pub use runs::RunInfo;

use error::classify;
use schema::SCHEMA_VERSION;

const DATABASE_FILE: &str = "zoorepro.sqlite3";

/// The files of the store in `dir`: its database, and the journals SQLite keeps beside it.
pub fn database_files(dir: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| dir.join(format!("{DATABASE_FILE}{suffix}")))
        .collect()
}
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|dir| dir.join("zoorepro"))
}

pub type RunId = i64;

pub struct Store {
    connection: Connection,
    path: PathBuf,
    /// The database file's `(device, inode)` once open: a store deleted or replaced while a run
    /// writes it is told apart from the one it opened (`check_on_disk`).
    identity: Option<(u64, u64)>,
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
        if self.identity.is_some() && file_identity(&self.path) != self.identity {
            self.close_moved();
        }
    }
}

impl Store {
    /// Closes a store whose database file was deleted or replaced while open. SQLite then
    /// neither checkpoints nor deletes its write-ahead log, which is named after the path, not
    /// the file: left there, the next process reads this file's pages over the database now at
    /// the path (a restored backup lost its own runs). So the log and its index, where they are
    /// still the files this process has open, are removed once the connection is closed.
    fn close_moved(&mut self) {
        let held = open_files();
        let ours: Vec<(PathBuf, (u64, u64))> = ["-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut name = self.path.as_os_str().to_owned();
                name.push(suffix);
                let path = PathBuf::from(name);
                let identity = file_identity(&path)?;
                held.contains(&identity).then_some((path, identity))
            })
            .collect();
        let closed = std::mem::replace(
            &mut self.connection,
            match Connection::open_in_memory() {
                Ok(connection) => connection,
                Err(_) => return,
            },
        );
        if closed.close().is_err() {
            return;
        }
        for (path, identity) in ours {
            if file_identity(&path) == Some(identity) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// The `(device, inode)` of every file this process has open.
fn open_files() -> std::collections::HashSet<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return Default::default();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

/// The database and SQLite's files beside it must be regular files where they exist: SQLite
/// would wait forever on a FIFO and read a device without end.
fn check_regular_files(database: &Path) -> Result<(), StoreError> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        crate::util::safe_file::check_regular_if_present(Path::new(&name)).map_err(|e| {
            StoreError::NotRegular {
                path: PathBuf::from(&name),
                reason: e.reason(),
            }
        })?;
    }
    Ok(())
}

impl Store {
    pub fn open(cache_dir: &Path) -> Result<Store, StoreError> {
        crate::util::folder::create_folder(cache_dir).map_err(|e| StoreError::Create {
            dir: cache_dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let path = cache_dir.join(DATABASE_FILE);
        check_regular_files(&path)?;
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
                identity: None,
                leases: Vec::new(),
            };
            match store.initialise() {
                Ok(()) => {
                    store.identity = file_identity(&path);
                    return Ok(store);
                }
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
        check_regular_files(path)?;
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
                identity: file_identity(path),
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
    pub fn path(&self) -> &Path {
        &self.path
    }
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

#[cfg(test)]
mod tests {
    //! Helpers shared by the store's test modules, and tests of opening a store.

    use std::path::Path;

    use super::*;
    use crate::eval::prediction::{Content, Outcome, Prediction};
    use crate::image::pipelines::PillowCompat;

    pub(super) fn meta() -> RunMeta {
        RunMeta::unknown(RunKind::Verify)
    }

    pub(super) fn import_meta() -> RunMeta {
        RunMeta::unknown(RunKind::Import)
    }

    pub(super) fn key(batch: usize) -> RunKey {
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
    pub(super) fn content(name: &str) -> Option<Content> {
        Some(Content::of(name.as_bytes()))
    }

    pub(super) fn put(
        store: &mut Store,
        run: &RunInfo,
        rows: &[Prediction],
    ) -> Result<(), StoreError> {
        let contents: Vec<Option<Content>> = rows.iter().map(|r| content(&r.name)).collect();
        store.insert(run, rows, &contents)
    }

    pub(super) fn complete(
        store: &mut Store,
        run: &RunInfo,
        names: &[&str],
    ) -> Result<(), StoreError> {
        // The pass sees each image where and under the label its cached row (of any run of the
        // key) was written with.
        let rows: std::collections::HashMap<String, (String, Option<u16>)> = {
            let mut statement = store
                .connection
                .prepare("SELECT name, file, label FROM predictions WHERE key_digest = ?1")
                .unwrap();
            statement
                .query_map([&run.key_digest], |row| {
                    Ok((row.get::<_, String>(0)?, (row.get(1)?, row.get(2)?)))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let pass: Vec<super::PassImage<'_>> = names
            .iter()
            .map(|n| super::PassImage {
                name: n,
                content: content(n),
                file: rows.get(*n).map_or(n, |(file, _)| file.as_str()),
                label: rows.get(*n).and_then(|(_, label)| *label),
            })
            .collect();
        store.mark_complete(
            run,
            &pass,
            &crate::eval::prediction::Settle::coverage_only(crate::eval::trust::Coverage::Complete),
        )
    }

    pub(super) fn ranked(name: &str, label: Option<u16>, top1: u16) -> Prediction {
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
    fn processes_creating_one_store_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|w| {
                let (path, start) = (dir.path().to_path_buf(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mut store = Store::open(&path).unwrap();
                    store.create_run(&key(w + 1), &meta()).unwrap().id
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
    fn a_deleted_write_ahead_log_gives_advice() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Store::open(dir.path()).unwrap();
        let run = writer.create_run(&key(8), &meta()).unwrap();
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

    #[test]
    fn a_store_deleted_or_replaced_under_a_writer_completes_no_run() {
        for replace in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut writer = Store::open(dir.path()).unwrap();
            let run = writer.create_run(&key(8), &meta()).unwrap();
            put(&mut writer, &run, &[ranked("a.JPEG", Some(1), 1)]).unwrap();
            for file in database_files(dir.path()) {
                let _ = std::fs::remove_file(file);
            }
            if replace {
                // Another store made at the same path meanwhile.
                drop(Store::open(dir.path()).unwrap());
            }
            let error = complete(&mut writer, &run, &["a.JPEG"]).unwrap_err();
            assert!(
                matches!(error, StoreError::Replaced { .. }),
                "{replace}: {error}"
            );
            assert!(error.to_string().contains("run the command again"));
        }
    }

    #[test]
    fn a_store_moved_in_under_a_writer_keeps_its_own_runs() {
        let (dir, backup) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut writer = Store::open(dir.path()).unwrap();
        let run = writer.create_run(&key(8), &meta()).unwrap();
        put(&mut writer, &run, &[ranked("a.JPEG", Some(1), 1)]).unwrap();
        let restored = {
            let mut store = Store::open(backup.path()).unwrap();
            let first = store.create_run(&key(4), &meta()).unwrap();
            let second = store.create_run(&key(2), &meta()).unwrap();
            vec![first.id, second.id]
        };
        std::fs::rename(
            backup.path().join(DATABASE_FILE),
            dir.path().join(DATABASE_FILE),
        )
        .unwrap();
        // The writer's next batch notices, before it writes into its log (named after the path).
        let error = put(&mut writer, &run, &[ranked("b.JPEG", Some(1), 1)]).unwrap_err();
        assert!(matches!(error, StoreError::Replaced { .. }), "{error}");
        assert!(complete(&mut writer, &run, &["a.JPEG"]).is_err());
        drop(writer);
        let ids: Vec<RunId> = Store::open(dir.path())
            .unwrap()
            .runs()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, restored, "the restored store's runs, not the writer's");
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
            let run = store.create_run(&key(8), &meta()).unwrap();
            put(&mut store, &run, &[ranked("a.JPEG", Some(1), 1)]).unwrap();
            complete(&mut store, &run, &["a.JPEG"]).unwrap();
        }
        let file = cache.join(DATABASE_FILE);
        if !make_unwritable(&[&file, &cache], true) {
            crate::testing::not_applicable(
                "cannot take write permission away here (as root: chattr +i refused)",
            );
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
        let run = store.create_run(&key(32), &meta()).unwrap();
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
        import_key.kind = RunKind::Import;
        let start = Instant::now();
        let ImportOutcome::New(imported) = store
            .import_run(&import_key, &import_meta(), &rows)
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
                .import_run(&import_key, &import_meta(), &rows)
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
