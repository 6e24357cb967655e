//! Imports: whole, complete runs stored packed, several in one transaction.

use std::collections::HashSet;
use std::path::PathBuf;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::error::classify;
use super::packed::{NO_LABEL, pack_scores, pack_top5};
use super::{RunId, RunKey, Store, StoreError};
use crate::eval::prediction::{Outcome, Prediction, Summary};
use crate::eval::rank::TOP_K;
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

#[cfg(test)]
mod tests {

    use super::super::packed::NO_LABEL;

    use super::super::tests::{key, ranked};
    use super::super::*;
    use super::*;

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
}
