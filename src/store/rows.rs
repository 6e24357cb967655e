//! Prediction rows: inserting a verified run batch by batch, reading any run back, and marking a
//! run complete.

use std::collections::HashMap;

use rusqlite::types::ValueRef;
use rusqlite::{Transaction, TransactionBehavior, params};

use super::error::classify;
use super::packed::{
    NO_LABEL, PackedRun, blob, pack_scores, pack_top5, unpack_scores, unpack_top5,
};
use super::{RunId, RunInfo, Store, StoreError};
use crate::eval::prediction::{Content, Outcome, Prediction};
use crate::eval::rank::TOP_K;
use crate::util::time::{now, unix_now};

/// A run's rows: its images (`i`) joined with the cache rows (`p`) computed from their content.
/// Where and under which label the run saw each image: its own, or (runs settled before
/// schema 6) the cached row's.
const RUN_FILE: &str = "coalesce(i.file, p.file)";
const RUN_LABEL: &str = "CASE WHEN i.file IS NULL THEN p.label ELSE i.label END";

pub(super) const RUN_ROWS: &str = "FROM run_images i JOIN runs r ON r.id = i.run_id
     JOIN predictions p ON p.key_digest = r.key_digest AND p.name = i.name
         AND p.size = i.size AND p.sha256 = i.sha256
     WHERE i.run_id = ?1";

/// How a row's content is stored: unknown content as size -1 and an empty digest, because the
/// columns are part of the cache's primary key.
pub(super) fn stored_content(content: Option<&Content>) -> (i64, &[u8]) {
    match content {
        Some(c) => (c.size as i64, &c.sha256[..]),
        None => (-1, &[]),
    }
}

/// A stored image of a run, as `verify` needs it to decide what to evaluate again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredImage {
    /// `None` for rows written before version 3 of the store, or for files that could not be read.
    pub content: Option<Content>,
    pub failed: bool,
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

    /// The name of image `i`: its basename, or its path where two images share one.
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

impl Store {
    /// Every image of a run by name, with the content its row was computed from.
    pub fn stored_images(&self, run: RunId) -> Result<HashMap<String, StoredImage>, StoreError> {
        let mut statement = self
            .connection
            .prepare(&format!(
                "SELECT i.name, i.size, i.sha256, p.error IS NOT NULL {RUN_ROWS}"
            ))
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
    /// Adds a batch of rows to the run's key's cache, and the images to the run, in one
    /// transaction: the whole batch or, after a crash, none of it. An image repeated in the batch
    /// keeps its last row; a row of the same image and content is replaced. New rows make the run's
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
        // A store replaced under the pass stops it at the next batch: every batch written after
        // would go to a log the database now at the path could read (one stat a batch).
        self.check_on_disk()?;
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
        let new_images = write_rows(&transaction, run, batch, contents).map_err(sql)?;
        let run = run.id;
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
            .prepare_cached(&format!(
                "SELECT i.name, {RUN_FILE}, {RUN_LABEL}, p.top5, p.scores, p.error {RUN_ROWS}
                 ORDER BY i.name"
            ))
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
            .prepare_cached(&format!(
                "SELECT i.name, {RUN_LABEL}, p.top5, p.error IS NULL {RUN_ROWS}
                 ORDER BY i.name"
            ))
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
}

/// Writes (or replaces) each row in the cache of the run's key, and adds the image to the run;
/// returns how many images the run did not hold before.
fn write_rows(
    transaction: &Transaction,
    run: &RunInfo,
    batch: &[Prediction],
    contents: &[Option<Content>],
) -> rusqlite::Result<i64> {
    let mut new_images: i64 = 0;
    let mut statement = transaction.prepare_cached(
        "INSERT OR REPLACE INTO predictions (key_digest, name, size, sha256, file, label, top5, scores, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut member = transaction.prepare_cached(
        "INSERT OR REPLACE INTO run_images (run_id, name, size, sha256, file, label)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut stored =
        transaction.prepare_cached("SELECT 1 FROM run_images WHERE run_id = ?1 AND name = ?2")?;
    let (mut top5_bytes, mut score_bytes) =
        (Vec::with_capacity(2 * TOP_K), Vec::with_capacity(4 * TOP_K));
    for (prediction, content) in batch.iter().zip(contents) {
        // Counted here rather than by COUNT(*) afterwards, which grows with the run
        // (it made inserting a 50,000-image run in batches of 32 about twice as slow).
        if !stored.exists(params![run.id, prediction.name])? {
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
        let (size, sha256) = stored_content(content.as_ref());
        statement.execute(params![
            run.key_digest,
            prediction.name,
            size,
            sha256,
            prediction.file,
            prediction.label,
            ranked.then_some(&top5_bytes),
            ranked.then_some(&score_bytes),
            error,
        ])?;
        member.execute(params![
            run.id,
            prediction.name,
            size,
            sha256,
            prediction.file,
            prediction.label
        ])?;
    }
    Ok(new_images)
}

pub(super) fn content_of(size: Option<i64>, sha256: Option<&[u8]>) -> Option<Content> {
    Some(Content {
        size: u64::try_from(size?).ok()?,
        sha256: sha256?.try_into().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crate::eval::prediction::Summary;

    use super::super::tests::{complete, content, import_meta, key, meta, put, ranked};
    use super::super::*;
    use super::*;

    #[test]
    fn runs_are_found_by_key_and_rows_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store
            .create_run(
                &key(8),
                &RunMeta {
                    framework: Some("a".into()),
                    ..meta()
                },
            )
            .unwrap();
        let again = store.create_run(&key(8), &meta()).unwrap();
        assert_ne!(again.id, run.id, "each invocation is a run of its own");
        let other = store.create_run(&key(1), &meta()).unwrap();
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
        // Another run of the key holds none of these images, but may answer the ranked one.
        assert!(store.predictions(again.id).unwrap().is_empty());
        assert_eq!(
            store.answerable(&again).unwrap(),
            HashSet::from([("a.JPEG".to_string(), content("a.JPEG").unwrap())])
        );
        assert!(store.answerable(&other).unwrap().is_empty());

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
                // The failed image is b.JPEG, which has no label.
                labelled_failed: Some(0),
                top1_correct: 0,
                top5_correct: 0,
                image_set_sha256: crate::model::manifest::image_set_digest(["a.JPEG"]),
                within_full_val: false,
                label_disagreements: Some(0),
                relabelled_sha256: None,
                duplicates: crate::eval::trust::Duplicates {
                    duplicate_contents: Some(0),
                    ..Default::default()
                },
                coverage: Some(crate::eval::trust::Coverage::Complete),
                references: Some(Vec::new()),
                // The labelled set is a.JPEG, whose content the rows carry.
                image_set_content_sha256: Some(crate::model::manifest::image_set_content_digest([
                    (
                        "a.JPEG",
                        &super::super::tests::content("a.JPEG").unwrap().sha256
                    )
                ])),
            }
        );
        assert!(store.delete_run(run.id).unwrap());
        assert!(
            store.predictions(run.id).unwrap().is_empty(),
            "rows go with their run"
        );
        assert_eq!(store.runs().unwrap().len(), 2);
    }

    #[test]
    fn an_aborted_transaction_leaves_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store.create_run(&key(8), &meta()).unwrap();
        {
            let transaction = store.connection.transaction().unwrap();
            transaction
                .execute_batch(&format!(
                    "INSERT INTO predictions (key_digest, name, size, sha256, file)
                         VALUES ('{}', 'x.JPEG', -1, x'', 'x.JPEG');
                     INSERT INTO run_images (run_id, name, size, sha256)
                         VALUES ({}, 'x.JPEG', -1, x'');",
                    run.key_digest, run.id
                ))
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
                    let run = store.create_run(&key(w + 1), &meta()).unwrap();
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
    fn a_complete_run_is_exactly_one_pass_with_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let run = store.create_run(&key(8), &meta()).unwrap();
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
            .mark_complete(
                &run,
                &[super::super::PassImage {
                    name: "a.JPEG",
                    content: Some(Content::of(b"other bytes")),
                    file: "a.JPEG",
                    label: None,
                }],
                &crate::eval::prediction::Settle::coverage_only(
                    crate::eval::trust::Coverage::Complete,
                ),
            )
            .err()
            .unwrap();
        assert!(
            matches!(error, StoreError::ContentChanged { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("a.JPEG"), "{error}");
    }

    #[test]
    fn rows_survive_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let mut store = Store::open(dir.path()).unwrap();
            let run = store
                .create_run(
                    &key(8),
                    &RunMeta {
                        framework: Some("k".into()),
                        ..meta()
                    },
                )
                .unwrap();
            put(&mut store, &run, &[ranked("a.JPEG", Some(1), 1)]).unwrap();
            run.id
        };
        let store = Store::open(dir.path()).unwrap();
        let run = store.run(id).unwrap().unwrap();
        assert_eq!(
            run.meta,
            RunMeta {
                framework: Some("k".into()),
                ..meta()
            },
            "the meta stays"
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
        let run = store.create_run(&key(8), &meta()).unwrap();
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
    fn columns_match_the_rows_for_both_kinds_of_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let verified = store.create_run(&key(8), &meta()).unwrap();
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
        import_key.kind = RunKind::Import;
        // Import order is kept (not sorted by name).
        let imported_rows = vec![ranked("z.JPEG", Some(9), 9), ranked("y.JPEG", None, 8)];
        let ImportOutcome::New(imported) = store
            .import_run(&import_key, &import_meta(), &imported_rows)
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
}
