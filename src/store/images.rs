//! A run's image set: settling it at the end of a pass, answering from the per-image cache, and
//! removing cache rows no run refers to any more.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::error::classify;
use super::lease::{LeaseRow, lease_is_live};
use super::rows::{content_of, stored_content};
use super::{RunId, RunInfo, Store, StoreError};
use crate::eval::prediction::{Content, Prediction, Settle, Summary};
use crate::eval::rank::TOP_K;
use crate::util::time::now;

/// One image of a pass, as the pass saw it: its name, the content it read, where it found it
/// and under which label. The run keeps its own file and label: a cached row keeps those of the
/// run that computed it, which a moved file no longer has.
#[derive(Clone, Copy, Debug)]
pub struct PassImage<'a> {
    pub name: &'a str,
    pub content: Option<Content>,
    pub file: &'a str,
    pub label: Option<u16>,
}

/// The contents a pass knows, by image name.
fn known_contents(images: &[PassImage<'_>]) -> HashMap<String, Content> {
    images
        .iter()
        .filter_map(|image| Some((image.name.to_string(), image.content?)))
        .collect()
}

impl Store {
    /// The images the cache of `run`'s key can answer: ranked rows with a known content, by
    /// (name, content). A changed file or a failed image is evaluated again.
    pub fn answerable(&self, run: &RunInfo) -> Result<HashSet<(String, Content)>, StoreError> {
        let sql = |e| classify(&self.path, e);
        let mut statement = self
            .connection
            .prepare(
                "SELECT name, size, sha256 FROM predictions
                 WHERE key_digest = ?1 AND error IS NULL AND size >= 0",
            )
            .map_err(sql)?;
        let rows = statement
            .query_map([&run.key_digest], |row| {
                let size: i64 = row.get(1)?;
                let sha256: Vec<u8> = row.get(2)?;
                Ok((
                    row.get::<_, String>(0)?,
                    content_of(Some(size), Some(&sha256)),
                ))
            })
            .map_err(sql)?;
        let mut answerable = HashSet::new();
        for row in rows {
            if let (name, Some(content)) = row.map_err(sql)? {
                answerable.insert((name, content));
            }
        }
        Ok(answerable)
    }

    /// Of the rows [`Store::answerable`] gives, those with a label, and whether each one's top-1
    /// is its label: what a resumed pass adds to its running top-1 for the images it does not
    /// infer again.
    pub fn answerable_top1(
        &self,
        run: &RunInfo,
    ) -> Result<HashMap<(String, Content), bool>, StoreError> {
        let sql = |e| classify(&self.path, e);
        let mut statement = self
            .connection
            .prepare(
                "SELECT name, size, sha256, label, top5 FROM predictions
                 WHERE key_digest = ?1 AND error IS NULL AND size >= 0 AND label IS NOT NULL",
            )
            .map_err(sql)?;
        let mut query = statement.query([&run.key_digest]).map_err(sql)?;
        let mut hits = HashMap::new();
        while let Some(row) = query.next().map_err(sql)? {
            let size: i64 = row.get(1).map_err(sql)?;
            let sha256: Vec<u8> = row.get(2).map_err(sql)?;
            let label: u16 = row.get(3).map_err(sql)?;
            let top1 = super::packed::blob(row.get_ref(4).map_err(sql)?)
                .and_then(super::packed::unpack_top5)
                .map(|top5| top5[0]);
            if let Some(content) = content_of(Some(size), Some(&sha256)) {
                hits.insert((row.get(0).map_err(sql)?, content), top1 == Some(label));
            }
        }
        Ok(hits)
    }

    /// The top-5 classes of every row [`Store::answerable`] gives, labelled or not: what a
    /// resumed native run's spot check compares its model's new top-5s with.
    pub fn answerable_top5(
        &self,
        run: &RunInfo,
    ) -> Result<HashMap<(String, Content), [u16; TOP_K]>, StoreError> {
        self.top5_of_key(&run.key_digest)
    }

    /// Refuses `rows` (with the content each was computed from) that are to be written under a
    /// native run's key, `merge` of native shards, where the key's stored rows of the same images
    /// are another model's. A native key is its caller's word (a name and a checkpoint digest)
    /// and the rows are shared by every run of the key, so rows written over them would change
    /// the predictions of runs already complete. The rule is verify's spot check of a resumed
    /// native run (commands/verify/spot_check.rs): an image differs when its top-1 or the set of
    /// its five best classes does, and more than 1 in 64 of the images both hold refuses.
    pub fn check_same_model(
        &self,
        key_digest: &str,
        rows: &[Prediction],
        contents: &[Option<Content>],
    ) -> Result<(), StoreError> {
        let stored = self.top5_of_key(key_digest)?;
        let set = |top5: &[u16; TOP_K]| top5.iter().copied().collect::<HashSet<u16>>();
        let (mut compared, mut differing, mut example) = (0, 0, None);
        for (row, content) in rows.iter().zip(contents) {
            let (Some(content), Some(top5)) = (content, row.outcome.top5()) else {
                continue;
            };
            let Some(old) = stored.get(&(row.name.clone(), *content)) else {
                continue;
            };
            compared += 1;
            if old[0] != top5[0] || set(old) != set(top5) {
                differing += 1;
                example.get_or_insert_with(|| {
                    format!(
                        "{}: stored class {}, now class {}",
                        row.file, old[0], top5[0]
                    )
                });
            }
        }
        if differing * 64 <= compared {
            return Ok(());
        }
        let runs: Vec<String> = self
            .runs_of_key(key_digest)?
            .iter()
            .map(ToString::to_string)
            .collect();
        Err(StoreError::AnotherModelsRows {
            path: self.path.clone(),
            runs: runs.join(", "),
            differing,
            compared,
            example: example.unwrap_or_default(),
        })
    }

    /// The top-5 classes of every ranked row of a key, by name and content.
    fn top5_of_key(
        &self,
        key_digest: &str,
    ) -> Result<HashMap<(String, Content), [u16; TOP_K]>, StoreError> {
        let sql = |e| classify(&self.path, e);
        let mut statement = self
            .connection
            .prepare(
                "SELECT name, size, sha256, top5 FROM predictions
                 WHERE key_digest = ?1 AND error IS NULL AND size >= 0",
            )
            .map_err(sql)?;
        let mut query = statement.query([key_digest]).map_err(sql)?;
        let mut classes = HashMap::new();
        while let Some(row) = query.next().map_err(sql)? {
            let size: i64 = row.get(1).map_err(sql)?;
            let sha256: Vec<u8> = row.get(2).map_err(sql)?;
            let top5 = super::packed::blob(row.get_ref(3).map_err(sql)?)
                .and_then(super::packed::unpack_top5);
            if let (Some(content), Some(top5)) = (content_of(Some(size), Some(&sha256)), top5) {
                classes.insert((row.get(0).map_err(sql)?, content), top5);
            }
        }
        Ok(classes)
    }

    /// Marks a run complete as exactly the images of one pass over a dataset: `images` gives each
    /// image's name and the content it was read with. In one transaction the run's image set
    /// becomes these images, every one must have a cache row computed from that content, and the
    /// summary is stored; a run is only reported as a finished result after this. Earlier runs of
    /// the key that were abandoned (incomplete, no live writer) are removed with it.
    /// `settle` records whether the pass covered its whole image set and the references that
    /// apply to it, with the summary, in the same transaction.
    pub fn mark_complete(
        &mut self,
        run: &RunInfo,
        images: &[PassImage<'_>],
        settle: &Settle<'_>,
    ) -> Result<(), StoreError> {
        self.check_on_disk()?;
        self.settle_complete(run, images, settle)
    }

    /// Fails where the database file at the store's path is no longer the one this process
    /// opened (deleted, or replaced by another file): SQLite goes on writing the unlinked file,
    /// so a run it completed would be named in a record but held by no store.
    pub(super) fn check_on_disk(&self) -> Result<(), StoreError> {
        match self.identity {
            Some(identity) if super::file_identity(&self.path) != Some(identity) => {
                Err(StoreError::Replaced {
                    path: self.path.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    fn settle_complete(
        &mut self,
        run: &RunInfo,
        images: &[PassImage<'_>],
        settle: &Settle<'_>,
    ) -> Result<(), StoreError> {
        let sql = |e| classify(&self.path, e);
        let transaction =
            Transaction::new_unchecked(&self.connection, TransactionBehavior::Immediate)
                .map_err(sql)?;
        Store::check_run(&transaction, &self.path, run)?;
        transaction
            .execute("DELETE FROM run_images WHERE run_id = ?1", [run.id])
            .map_err(sql)?;
        {
            let mut statement = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO run_images (run_id, name, size, sha256, file, label)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql)?;
            for image in images {
                let (size, sha256) = stored_content(image.content.as_ref());
                statement
                    .execute(params![
                        run.id,
                        image.name,
                        size,
                        sha256,
                        image.file,
                        image.label
                    ])
                    .map_err(sql)?;
            }
        }
        self.check_rows(&transaction, run)?;
        // The rows now hold exactly this pass's contents (checked above).
        let mut summary = Summary::of(&self.predictions(run.id)?, Some(&known_contents(images)));
        summary.settle(settle);
        transaction
            .execute(
                "UPDATE runs SET complete = 1, images = ?2, summary_json = ?3, updated_at = ?4
                 WHERE id = ?1",
                params![
                    run.id,
                    images.len() as i64,
                    serde_json::to_string(&summary).unwrap_or_default(),
                    now()
                ],
            )
            .map_err(sql)?;
        remove_abandoned_runs(&transaction, &run.key_digest, run.id).map_err(sql)?;
        collect_orphans(&transaction, &run.key_digest).map_err(sql)?;
        transaction.commit().map_err(sql)
    }

    /// Every image of the run has a cache row computed from the content the run saw.
    fn check_rows(&self, transaction: &Transaction, run: &RunInfo) -> Result<(), StoreError> {
        let mismatch: Option<(String, bool)> = transaction
            .query_row(
                "SELECT i.name, NOT EXISTS (SELECT 1 FROM predictions q
                     WHERE q.key_digest = ?2 AND q.name = i.name)
                 FROM run_images i
                 LEFT JOIN predictions p ON p.key_digest = ?2 AND p.name = i.name
                     AND p.size = i.size AND p.sha256 = i.sha256
                 WHERE i.run_id = ?1 AND p.name IS NULL
                 LIMIT 1",
                params![run.id, run.key_digest],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| classify(&self.path, e))?;
        match mismatch {
            Some((name, true)) => {
                Err(self.corrupt(format!("run {} has no row for image {name}", run.id)))
            }
            Some((name, false)) => Err(StoreError::ContentChanged {
                path: self.path.clone(),
                id: run.id,
                name,
            }),
            None => Ok(()),
        }
    }
}

/// The writer leases of a run.
pub(super) fn leases_of(connection: &Connection, run: RunId) -> rusqlite::Result<Vec<LeaseRow>> {
    connection
        .prepare("SELECT lease, boot_id, pid, pid_start, heartbeat FROM writers WHERE run_id = ?1")?
        .query_map([run], |row| {
            Ok(LeaseRow {
                lease: row.get(0)?,
                boot_id: row.get(1)?,
                pid: row.get(2)?,
                pid_start: row.get(3)?,
                heartbeat: row.get(4)?,
            })
        })?
        .collect()
}

/// Removes the incomplete runs of a key (other than `keep`) whose writers are gone: interrupted
/// passes that a later complete run of the same key supersedes. Their rows stay in the cache
/// while a run refers to them.
fn remove_abandoned_runs(
    transaction: &Transaction,
    key_digest: &str,
    keep: RunId,
) -> rusqlite::Result<()> {
    let incomplete: Vec<RunId> = transaction
        .prepare("SELECT id FROM runs WHERE key_digest = ?1 AND complete = 0 AND id != ?2")?
        .query_map(params![key_digest, keep], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for id in incomplete {
        let live = leases_of(transaction, id)?.iter().any(|lease| {
            lease_is_live(
                lease.boot_id.as_deref(),
                lease.pid,
                lease.pid_start.as_deref(),
                lease.heartbeat,
            )
        });
        if !live {
            transaction.execute("DELETE FROM runs WHERE id = ?1", [id])?;
        }
    }
    Ok(())
}

/// Removes the cache rows of a key that no run refers to, unless a run of the key is still
/// under way: its pass may be about to answer images from rows no run holds yet.
pub(super) fn collect_orphans(transaction: &Connection, key_digest: &str) -> rusqlite::Result<()> {
    let under_way: bool = transaction.query_row(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE key_digest = ?1 AND complete = 0)",
        [key_digest],
        |row| row.get(0),
    )?;
    if under_way {
        return Ok(());
    }
    transaction.execute(
        "DELETE FROM predictions WHERE key_digest = ?1 AND NOT EXISTS (
             SELECT 1 FROM runs r JOIN run_images i ON i.run_id = r.id AND i.name = predictions.name
             WHERE r.key_digest = ?1 AND i.size = predictions.size AND i.sha256 = predictions.sha256)",
        [key_digest],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{complete, content, key, meta, put, ranked};
    use super::super::*;
    use super::Content;
    use crate::eval::prediction::{Outcome, Prediction};

    #[test]
    fn a_run_keeps_its_answer_when_a_file_changes_and_another_run_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let first = store.create_run(&key(8), &meta()).unwrap();
        put(
            &mut store,
            &first,
            &[ranked("a.JPEG", Some(1), 1), ranked("b.JPEG", Some(2), 2)],
        )
        .unwrap();
        complete(&mut store, &first, &["a.JPEG", "b.JPEG"]).unwrap();
        let before = store.predictions(first.id).unwrap();

        // a.JPEG is replaced by other bytes, and another folder adds c.JPEG.
        let second = store.create_run(&key(8), &meta()).unwrap();
        let changed = Content::of(b"new bytes");
        assert!(
            !store
                .answerable(&second)
                .unwrap()
                .contains(&("a.JPEG".to_string(), changed))
        );
        store
            .insert(
                &second,
                &[ranked("a.JPEG", Some(1), 7), ranked("c.JPEG", Some(3), 3)],
                &[Some(changed), content("c.JPEG")],
            )
            .unwrap();
        store
            .mark_complete(
                &second,
                &[
                    PassImage {
                        name: "a.JPEG",
                        content: Some(changed),
                        file: "n0/a.JPEG",
                        label: Some(1),
                    },
                    PassImage {
                        name: "c.JPEG",
                        content: content("c.JPEG"),
                        file: "n0/c.JPEG",
                        label: Some(3),
                    },
                ],
                &crate::eval::prediction::Settle::coverage_only(
                    crate::eval::trust::Coverage::Complete,
                ),
            )
            .unwrap();

        assert_eq!(store.predictions(first.id).unwrap(), before);
        let first_summary = store.run(first.id).unwrap().unwrap().summary.unwrap();
        assert_eq!((first_summary.images, first_summary.top1_correct), (2, 2));
        let second_rows = store.predictions(second.id).unwrap();
        assert_eq!(
            second_rows,
            vec![ranked("a.JPEG", Some(1), 7), ranked("c.JPEG", Some(3), 3)]
        );
        // Deleting the first run frees the rows only it held.
        assert!(store.delete_run(first.id).unwrap());
        let cached: i64 = store
            .connection
            .query_row("SELECT count(*) FROM predictions", [], |row| row.get(0))
            .unwrap();
        assert_eq!(cached, 2);
        assert_eq!(store.predictions(second.id).unwrap(), second_rows);
    }

    #[test]
    fn a_complete_run_removes_abandoned_runs_of_its_key_but_not_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let abandoned = store.create_run(&key(8), &meta()).unwrap();
        put(&mut store, &abandoned, &[ranked("a.JPEG", Some(1), 1)]).unwrap();
        let live = store.create_run(&key(8), &meta()).unwrap();
        let other_key = store.create_run(&key(1), &meta()).unwrap();
        // The first run's process is gone: its lease is stale.
        store
            .connection
            .execute(
                "UPDATE writers SET pid_start = 'gone', heartbeat = 0 WHERE run_id = ?1",
                [abandoned.id],
            )
            .unwrap();
        let resumed = store.create_run(&key(8), &meta()).unwrap();
        assert!(store.answerable(&resumed).unwrap().len() == 1);
        put(&mut store, &resumed, &[ranked("b.JPEG", Some(1), 1)]).unwrap();
        complete(&mut store, &resumed, &["a.JPEG", "b.JPEG"]).unwrap();

        let ids: Vec<RunId> = store.runs().unwrap().iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![live.id, other_key.id, resumed.id]);
        assert_eq!(store.predictions(resumed.id).unwrap().len(), 2);
    }

    #[test]
    fn the_stored_top5_of_each_answerable_row_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store.create_run(&key(8), &meta()).unwrap();
        let failed = Prediction {
            outcome: Outcome::Failed("unreadable".into()),
            ..ranked("c.JPEG", Some(3), 0)
        };
        put(
            &mut store,
            &run,
            &[
                ranked("a.JPEG", Some(1), 7),
                ranked("b.JPEG", None, 9),
                failed,
            ],
        )
        .unwrap();
        let classes = store.answerable_top5(&run).unwrap();
        let of = |name: &str| classes.get(&(name.to_string(), content(name).unwrap()));
        assert_eq!(
            (of("a.JPEG"), of("b.JPEG")),
            (Some(&[7, 1, 2, 3, 4]), Some(&[9, 1, 2, 3, 4]))
        );
        assert_eq!(classes.len(), 2, "a failed row answers nothing");
    }
}
