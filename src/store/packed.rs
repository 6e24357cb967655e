//! The columnar blobs of imported runs (and the top-5 / score blobs of verified rows): packing,
//! unpacking and the length checks.

use std::collections::HashSet;

use rusqlite::OptionalExtension;
use rusqlite::types::ValueRef;

use super::{RunId, Store, StoreError};
use crate::eval::prediction::{Outcome, Prediction};
use crate::eval::rank::TOP_K;

pub(super) fn pack_top5(top5: &[u16; TOP_K], out: &mut Vec<u8>) {
    for class in top5 {
        out.extend_from_slice(&class.to_le_bytes());
    }
}

pub(super) fn pack_scores(scores: &[f32; TOP_K], out: &mut Vec<u8>) {
    for score in scores {
        out.extend_from_slice(&score.to_le_bytes());
    }
}

pub(super) fn unpack_top5(bytes: &[u8]) -> Option<[u16; TOP_K]> {
    (bytes.len() == 2 * TOP_K)
        .then(|| std::array::from_fn(|i| u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]])))
}

pub(super) fn unpack_scores(bytes: &[u8]) -> Option<[f32; TOP_K]> {
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

/// The stored label of a packed row without one.
pub(super) const NO_LABEL: u16 = u16::MAX;

/// An imported run's columns as stored: names and files joined by line breaks, labels, top-5
/// and scores as little-endian arrays. Lengths are checked when it is read.
pub(super) struct PackedRun {
    pub(super) names: String,
    pub(super) files: String,
    pub(super) labels: Vec<u8>,
    pub(super) top5: Vec<u8>,
    pub(super) scores: Vec<u8>,
    pub(super) len: usize,
}

impl PackedRun {
    /// An imported run's rows, packed; the reason names the first row that cannot be stored
    /// (every row must be ranked, with a unique, non-empty name on one line).
    pub(super) fn pack(rows: &[Prediction]) -> Result<PackedRun, String> {
        let mut packed = PackedRun {
            names: String::with_capacity(rows.len() * 30),
            files: String::with_capacity(rows.len() * 40),
            labels: Vec::with_capacity(rows.len() * 2),
            top5: Vec::with_capacity(rows.len() * 2 * TOP_K),
            scores: Vec::with_capacity(rows.len() * 4 * TOP_K),
            len: rows.len(),
        };
        let mut seen = HashSet::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let invalid = |what: &str| Err(format!("row {i} ({}) {what}", row.name));
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
                packed.names.push('\n');
                packed.files.push('\n');
            }
            packed.names.push_str(&row.name);
            packed.files.push_str(&row.file);
            let label = row.label.unwrap_or(NO_LABEL);
            packed.labels.extend_from_slice(&label.to_le_bytes());
            pack_top5(top5, &mut packed.top5);
            pack_scores(scores, &mut packed.scores);
        }
        Ok(packed)
    }

    pub(super) fn lines(text: &str) -> impl Iterator<Item = &str> {
        // "".split('\n') yields one empty name; an empty run has none.
        (!text.is_empty())
            .then(|| text.split('\n'))
            .into_iter()
            .flatten()
    }

    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        Self::lines(&self.names)
    }

    pub(super) fn files(&self) -> impl Iterator<Item = &str> {
        Self::lines(&self.files)
    }

    pub(super) fn label(&self, i: usize) -> Option<u16> {
        let label = u16::from_le_bytes([self.labels[2 * i], self.labels[2 * i + 1]]);
        (label != NO_LABEL).then_some(label)
    }

    pub(super) fn top5(&self, i: usize) -> [u16; TOP_K] {
        let bytes = &self.top5[2 * TOP_K * i..2 * TOP_K * (i + 1)];
        std::array::from_fn(|k| u16::from_le_bytes([bytes[2 * k], bytes[2 * k + 1]]))
    }

    pub(super) fn scores(&self, i: usize) -> [f32; TOP_K] {
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

impl Store {
    pub(super) fn packed(&self, run: RunId) -> Result<Option<PackedRun>, StoreError> {
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
}

pub(super) fn blob(value: ValueRef<'_>) -> Option<&[u8]> {
    match value {
        ValueRef::Blob(bytes) => Some(bytes),
        _ => None,
    }
}
