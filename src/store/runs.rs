//! Run rows: finding, creating, listing and deleting runs.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::error::classify;
use super::images::{collect_orphans, leases_of};
use super::lease::{boot_id, lease_is_live, process_start};
use super::{RunId, RunKey, RunMeta, Store, StoreError};
use crate::eval::prediction::Summary;
use crate::util::time::{now, unix_now, utc_timestamp};

#[derive(Clone, Debug)]
pub struct RunInfo {
    pub id: RunId,
    /// Random, set when the run is created: a row write checks it, so a process never writes
    /// into another run that happens to have the same id or key.
    pub token: String,
    pub key: RunKey,
    /// The digest of `key` as stored: the key of the run's rows in the per-image cache.
    pub key_digest: String,
    pub model_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub complete: bool,
    /// Rows stored so far.
    pub images: usize,
    pub meta: RunMeta,
    /// Set for complete runs.
    pub summary: Option<Summary>,
}

const RUN_COLUMNS: &str = "id, key_json, model_id, created_at, updated_at, complete, images, meta_json, summary_json, token, key_digest";

impl Store {
    fn run_from_row(&self, row: &rusqlite::Row) -> rusqlite::Result<Result<RunInfo, StoreError>> {
        let id: RunId = row.get(0)?;
        let key_json: String = row.get(1)?;
        let meta_json: String = row.get(7)?;
        let summary_json: Option<String> = row.get(8)?;
        let token: String = row.get(9)?;
        let key_digest: String = row.get(10)?;
        let parsed = (|| -> Result<RunInfo, String> {
            Ok(RunInfo {
                id,
                token,
                key: serde_json::from_str(&key_json).map_err(|e| format!("run {id} key: {e}"))?,
                key_digest,
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

    /// The newest complete run of a key.
    pub fn latest_complete_run(&self, key: &RunKey) -> Result<Option<RunInfo>, StoreError> {
        let found = self
            .connection
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE key_digest = ?1 AND complete = 1
                     ORDER BY id DESC LIMIT 1"
                ),
                [key.digest()],
                |row| self.run_from_row(row),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        found.transpose()
    }

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

    /// The runs of a key, oldest first: they share the key's per-image cache.
    pub fn runs_of_key(&self, key_digest: &str) -> Result<Vec<RunId>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT id FROM runs WHERE key_digest = ?1 ORDER BY id")
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([key_digest], |row| row.get(0))
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Starts a run: one invocation, with a new id, its own image set and this process's lease
    /// on it. Runs of the same key share the per-image cache underneath, so a run answers the
    /// images an earlier run of its key computed from the same content without evaluating them.
    pub fn create_run(&mut self, key: &RunKey, meta: &RunMeta) -> Result<RunInfo, StoreError> {
        self.create(key, meta, false)
    }

    /// As [`Store::create_run`], and the run is the only one of its key written while this
    /// process writes it: where a live process holds a lease on another run of the key, nothing
    /// is created and the error (`KeyInUse`) names that run and process. Two passes of one key
    /// share its rows, which is sound only when the same key means the same predictions (an ONNX
    /// file's sha256); a native model's key holds only its caller's word (a name and a digest),
    /// so two processes under one key may be two models, and their rows would mix in one record.
    /// The check and the new lease are one IMMEDIATE transaction, so of two processes starting at
    /// once one gets the key; a lease ends with its process (pid and start time, `lease.rs`),
    /// so a killed process leaves no claim.
    pub fn create_claimed_run(
        &mut self,
        key: &RunKey,
        meta: &RunMeta,
    ) -> Result<RunInfo, StoreError> {
        self.create(key, meta, true)
    }

    fn create(
        &mut self,
        key: &RunKey,
        meta: &RunMeta,
        claimed: bool,
    ) -> Result<RunInfo, StoreError> {
        let digest = key.digest();
        let key_json = serde_json::to_string(key).unwrap_or_default();
        let time = now();
        // The run and this process's lease on it in one transaction, so that `runs --delete`
        // never sees the run without its writer.
        let transaction =
            Transaction::new_unchecked(&self.connection, TransactionBehavior::Immediate)
                .map_err(|e| self.sqlite(e))?;
        if claimed {
            self.check_unclaimed(&transaction, &digest)?;
        }
        let id: RunId = transaction
            .query_row(
                "INSERT INTO runs (key_digest, key_json, model_id, kind, created_at, updated_at, meta_json, token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, lower(hex(randomblob(16)))) RETURNING id",
                params![
                    digest,
                    key_json,
                    key.model_id,
                    key.kind.name(),
                    time,
                    serde_json::to_string(meta).unwrap_or_default()
                ],
                |row| row.get(0),
            )
            .map_err(|e| self.sqlite(e))?;
        let run = self
            .run(id)?
            .ok_or_else(|| self.corrupt(format!("run {id} vanished as it was created")))?;
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
    /// Fails with `KeyInUse` where a live process writes a run of the key `digest`.
    fn check_unclaimed(&self, transaction: &Connection, digest: &str) -> Result<(), StoreError> {
        for id in self.runs_of_key(digest)? {
            let leases = leases_of(transaction, id).map_err(|e| self.sqlite(e))?;
            let live = leases.into_iter().find(|lease| {
                lease_is_live(
                    lease.boot_id.as_deref(),
                    lease.pid,
                    lease.pid_start.as_deref(),
                    lease.heartbeat,
                )
            });
            if let Some(lease) = live {
                return Err(StoreError::KeyInUse {
                    path: self.path.clone(),
                    id,
                    pid: lease.pid,
                    heartbeat: heartbeat_text(lease.heartbeat),
                });
            }
        }
        Ok(())
    }

    /// Fails unless `run` is still the run this process opened: the same id with the same token.
    pub(super) fn check_run(
        transaction: &Connection,
        path: &Path,
        run: &RunInfo,
    ) -> Result<(), StoreError> {
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
    /// The runs this process writes (its leases), in the order they were made, each with its
    /// model id and how many rows (images) it holds, counted after taking the store's write
    /// lock, which is deliberately kept: the caller is about to exit (Ctrl-C during `verify`),
    /// and no batch can commit after the count, so it is exactly what a resumed run finds. The
    /// lock ends with the process, or with this `Store` (the transaction then rolls back; it
    /// wrote nothing).
    pub fn own_runs_holding_writes(&mut self) -> Result<Vec<(String, usize)>, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, e);
        self.connection
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sql)?;
        let pid = i64::from(std::process::id());
        let mut statement = self
            .connection
            .prepare(
                "SELECT r.model_id, (SELECT COUNT(*) FROM run_images p WHERE p.run_id = r.id)
                 FROM runs r WHERE r.id IN
                     (SELECT run_id FROM writers WHERE pid = ?1 AND boot_id IS ?2 AND pid_start IS ?3)
                 ORDER BY r.id",
            )
            .map_err(sql)?;
        let rows = statement
            .query_map(params![pid, boot_id(), process_start(pid)], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(sql)?;
        rows.map(|row| {
            row.map(|(model, images)| (model, usize::try_from(images).unwrap_or(0)))
                .map_err(sql)
        })
        .collect()
    }

    /// Whether a live process holds a writer's lease on this run (it is being written now,
    /// rather than left unfinished by a process that ended).
    pub fn is_being_written(&self, id: RunId) -> Result<bool, StoreError> {
        let leases = leases_of(&self.connection, id).map_err(|e| self.sqlite(e))?;
        Ok(leases.iter().any(|lease| {
            lease_is_live(
                lease.boot_id.as_deref(),
                lease.pid,
                lease.pid_start.as_deref(),
                lease.heartbeat,
            )
        }))
    }

    /// Deletes a run, and the cache rows no other run refers to; false when there was no such run. A run that another live
    /// process is writing is refused (`RunInUse`); leases of dead processes are cleared.
    pub fn delete_run(&mut self, id: RunId) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let sql = |e| classify(&path, e);
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let leases = leases_of(&transaction, id).map_err(sql)?;
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
                    heartbeat: heartbeat_text(lease.heartbeat),
                });
            }
        }
        let key_digest: Option<String> = transaction
            .query_row("SELECT key_digest FROM runs WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .map_err(sql)?;
        let deleted = transaction
            .execute("DELETE FROM runs WHERE id = ?1", [id])
            .map_err(sql)?;
        if let Some(key_digest) = key_digest {
            collect_orphans(&transaction, &key_digest).map_err(sql)?;
        }
        transaction.commit().map_err(sql)?;
        Ok(deleted > 0)
    }
}

/// A lease's last heartbeat, as the errors naming a writer show it.
fn heartbeat_text(heartbeat: i64) -> String {
    utc_timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(heartbeat.max(0) as u64))
}

#[cfg(test)]
mod tests {

    use super::super::tests::{complete, key, meta, put, ranked};
    use super::super::*;
    use super::*;

    #[test]
    fn two_processes_on_one_key_share_the_union() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).unwrap();
                    let run = store.create_run(&key(8), &meta()).unwrap();
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
        assert_ne!(ids[0], ids[1], "each process its own run");
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.stored_images(ids[0]).unwrap().len(), 1500);
        let run = store.run(ids[0]).unwrap().unwrap();
        assert_eq!(run.images, 1500);
        // The key's cache holds the union: either run completes over all of it.
        assert_eq!(store.answerable(&run).unwrap().len(), 2000);
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
    fn a_claimed_key_refuses_a_second_writer_until_the_first_process_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Store::open(dir.path()).unwrap();
        let claimed = first.create_claimed_run(&key(8), &meta()).unwrap();
        // Another process (here another connection of this live one) under the same key.
        let mut other = Store::open(dir.path()).unwrap();
        let error = other.create_claimed_run(&key(8), &meta()).err().unwrap();
        let message = error.to_string();
        assert!(
            matches!(error, StoreError::KeyInUse { id, .. } if id == claimed.id)
                && message.contains(&format!("process {}", std::process::id()))
                && message.contains("wait for that process to finish"),
            "{message}"
        );
        assert_eq!(
            other.runs().unwrap().len(),
            1,
            "the refused call made no run"
        );
        // Another key is free; an unclaimed run of an ONNX key never asks.
        other.create_claimed_run(&key(16), &meta()).unwrap();
        other.create_run(&key(8), &meta()).unwrap();
        // The first writer's process gone (killed: its start time no longer matches), its claim
        // went with it; so did the unclaimed writer's, once its store is dropped.
        other
            .connection
            .execute(
                "UPDATE writers SET pid_start = 'gone', heartbeat = 0 WHERE run_id = ?1",
                [claimed.id],
            )
            .unwrap();
        drop(other);
        let mut later = Store::open(dir.path()).unwrap();
        later.create_claimed_run(&key(8), &meta()).unwrap();
    }

    #[test]
    fn run_ids_are_never_reused_and_writes_check_the_run_token() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Store::open(dir.path()).unwrap();
        let first = writer.create_run(&key(8), &meta()).unwrap();
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
        let second = other.create_run(&key(8), &meta()).unwrap();
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
    fn a_run_is_being_written_while_its_writer_lives() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Store::open(dir.path()).unwrap();
        let run = writer.create_run(&key(8), &meta()).unwrap();
        let reader = Store::open_for_reading(dir.path()).unwrap();
        assert!(reader.is_being_written(run.id).unwrap());
        drop(writer);
        assert!(
            !reader.is_being_written(run.id).unwrap(),
            "a writer that ended leaves an unfinished run, written by nobody"
        );
    }

    #[test]
    fn a_deleted_run_takes_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store.create_run(&key(8), &meta()).unwrap();
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
}
