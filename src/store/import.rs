//! Imports: whole, complete runs stored packed, several in one transaction.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::error::classify;
use super::packed::PackedRun;
use super::{RunId, RunKey, RunMeta, Store, StoreError};
use crate::eval::prediction::{Prediction, Summary};
use crate::util::time::now;

pub enum ImportOutcome {
    New(RunId),
    AlreadyPresent(RunId),
}

impl Store {
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
        meta: &RunMeta,
        rows: &[Prediction],
    ) -> Result<ImportOutcome, StoreError> {
        let whole =
            crate::eval::prediction::Settle::coverage_only(crate::eval::trust::Coverage::Complete);
        self.import_all(|importer| importer.import_run(key, meta, rows, &whole))
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
        meta: &RunMeta,
        rows: &[Prediction],
        settle: &crate::eval::prediction::Settle<'_>,
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
        let packed = PackedRun::pack(rows).map_err(|reason| StoreError::InvalidImport {
            path: self.path.clone(),
            reason,
        })?;
        let mut summary = Summary::of(rows, None);
        summary.settle(settle);
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
                    key.kind.name(),
                    time,
                    serde_json::to_string(meta).unwrap_or_default(),
                    rows.len() as i64,
                    serde_json::to_string(&summary).unwrap_or_default()
                ],
            )
            .map_err(sql)?;
        let id = transaction.last_insert_rowid();
        transaction
            .execute(
                "INSERT INTO packed_predictions (run_id, names, files, labels, top5, scores) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    packed.names,
                    packed.files,
                    packed.labels,
                    packed.top5,
                    packed.scores
                ],
            )
            .map_err(sql)?;
        Ok(ImportOutcome::New(id))
    }
}

#[cfg(test)]
mod tests {

    use super::super::packed::NO_LABEL;

    use super::super::tests::{import_meta, key, ranked};
    use super::super::*;
    use super::*;
    use crate::eval::prediction::{Outcome, Prediction};

    #[test]
    fn imports_are_all_or_nothing_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut import_key = key(1);
        import_key.kind = RunKind::Import;
        import_key.source_sha256 = Some("f00d".into());
        let rows: Vec<Prediction> = (0..1000)
            .map(|i| ranked(&format!("{i}.JPEG"), Some(i as u16 % 7), 3))
            .collect();

        let mut duplicated = rows.clone();
        duplicated.push(rows[10].clone());
        assert!(
            store
                .import_run(&import_key, &import_meta(), &duplicated)
                .is_err()
        );
        assert!(
            store.runs().unwrap().is_empty(),
            "a refused import leaves nothing"
        );

        let ImportOutcome::New(id) = store
            .import_run(&import_key, &import_meta(), &rows)
            .unwrap()
        else {
            panic!("first import is new")
        };
        assert!(
            matches!(store.import_run(&import_key, &import_meta(), &rows).unwrap(), ImportOutcome::AlreadyPresent(same) if same == id)
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
    fn several_imports_are_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut first = key(1);
        first.kind = RunKind::Import;
        let mut second = first.clone();
        second.model_id = "coral/y".into();
        let rows = vec![ranked("a.JPEG", Some(1), 1)];
        let result: Result<(), StoreError> = store.import_all(|importer| {
            let whole = crate::eval::prediction::Settle::coverage_only(
                crate::eval::trust::Coverage::Complete,
            );
            importer.import_run(&first, &import_meta(), &rows, &whole)?;
            importer.import_run(&second, &import_meta(), &[ranked("", None, 1)], &whole)?;
            Ok(())
        });
        assert!(result.is_err());
        assert!(
            store.runs().unwrap().is_empty(),
            "the first import went with the second"
        );
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
        import_key.kind = RunKind::Import;
        import_key.source_sha256 = Some("beef".into());
        let rows = vec![ranked("a.JPEG", Some(1), 1), ranked("b.JPEG", Some(2), 1)];
        let error = store
            .import_run(&import_key, &import_meta(), &rows)
            .err()
            .unwrap();
        assert!(error.to_string().contains("simulated failure"), "{error}");
        assert!(store.runs().unwrap().is_empty(), "no half-imported run");

        store
            .connection
            .execute_batch("DROP TRIGGER fail_rows")
            .unwrap();
        let ImportOutcome::New(id) = store
            .import_run(&import_key, &import_meta(), &rows)
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
        import_key.kind = RunKind::Import;
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
                .import_run(&import_key, &import_meta(), &rows)
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
}
