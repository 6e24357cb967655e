//! The run record shared by `verify` and `merge`: the score of an evaluated image set, the
//! verdict against the manifest's references, the report files and the exit status.

use std::path::Path;
use std::time::SystemTime;

use anyhow::Context as _;

use crate::dataset::Entry;
use crate::eval::prediction::{Outcome, Prediction};
use crate::exit;
use crate::model::manifest::{self, Manifest};
use crate::report::{
    self, DatasetInfo, Failure, OnnxInfo, Provenance, RecipeInfo, ReferenceResult, RunRecord,
    StoreInfo, Verdict, VerdictStatus,
};
use crate::store::RunKey;

/// Failures listed in a record; the count is always complete.
const MAX_LISTED_FAILURES: usize = 100;

/// Float noise allowance when comparing a percentage difference with the tolerance.
const TOLERANCE_EPSILON: f64 = 1e-9;

pub(super) fn report_stem(started_at: SystemTime, key: &RunKey) -> String {
    format!(
        "{}-{}",
        crate::util::time::utc_timestamp(started_at).replace([':', '-'], ""),
        &key.digest()[..12]
    )
}

/// Writes the report files, prints the record (`--json`) and the summary, and turns the verdict
/// into the exit status.
pub(super) fn emit(
    record: &RunRecord,
    report_dir: &Path,
    stem: &str,
    json: bool,
) -> anyhow::Result<i32> {
    let written = report::write_reports(report_dir, record, stem).with_context(|| {
        format!(
            "cannot write the run report under {} (pass --report-dir DIR)",
            report_dir.display()
        )
    })?;
    if json {
        super::print_json(record)?;
    }
    eprintln!("{}", summary_line(record));
    for path in written {
        eprintln!("  report: {}", path.display());
    }
    Ok(match record.verdict.status {
        VerdictStatus::Drift => exit::DRIFT,
        VerdictStatus::Reproduced | VerdictStatus::NoReference => exit::SUCCESS,
    })
}

fn failures(ordered: &[(Entry, Prediction)]) -> Vec<Failure> {
    ordered
        .iter()
        .filter_map(|(entry, p)| match &p.outcome {
            Outcome::Failed(error) => Some(Failure {
                file: entry.file.clone(),
                error: error.clone(),
            }),
            Outcome::Ranked { .. } => None,
        })
        .take(MAX_LISTED_FAILURES)
        .collect()
}

/// The numbers of an evaluated image set and what the manifest's references say of them.
struct Assessment {
    pub score: Score,
    pub image_set_sha256: String,
    pub references: Vec<ReferenceResult>,
    pub verdict: Verdict,
}

/// What a record needs beyond the predictions: where they came from and how they were made.
pub(super) struct RecordParts {
    pub onnx: OnnxInfo,
    pub recipe: RecipeInfo,
    pub dataset_path: String,
    pub layout: String,
    pub ignored_files: usize,
    pub store: Option<StoreInfo>,
    pub provenance: Provenance,
}

/// The run record of an evaluated image set, as `verify` and `merge` both report it.
pub(super) fn build_record(
    manifest: &Manifest,
    ordered: &[(Entry, Prediction)],
    tolerance: f64,
    parts: RecordParts,
) -> RunRecord {
    let Assessment {
        score,
        image_set_sha256,
        references,
        verdict,
    } = assess(manifest, &parts.recipe.name, ordered, tolerance);
    RunRecord {
        model_id: manifest.id.clone(),
        onnx: parts.onnx,
        recipe: parts.recipe,
        dataset: DatasetInfo {
            path: parts.dataset_path,
            layout: parts.layout,
            image_set_name: manifest
                .image_set_name(&image_set_sha256, score.images)
                .map(str::to_string),
            image_set_sha256,
            unlabelled: ordered
                .iter()
                .filter(|(entry, _)| entry.label.is_none())
                .count(),
            ignored_files: parts.ignored_files,
        },
        images: score.images,
        evaluated: score.evaluated,
        failed: score.failed,
        top1_correct: score.top1_correct,
        top5_correct: score.top5_correct,
        top1: score.top1(),
        top5: score.top5(),
        references,
        verdict,
        store: parts.store,
        failures: failures(ordered),
        provenance: parts.provenance,
    }
}

fn assess(
    manifest: &Manifest,
    recipe: &str,
    ordered: &[(Entry, Prediction)],
    tolerance: f64,
) -> Assessment {
    let score = Score::of(ordered);
    let image_set_sha256 = manifest::image_set_digest(
        ordered
            .iter()
            .filter(|(entry, _)| entry.label.is_some())
            .map(|(entry, _)| entry.name.as_str()),
    );
    let (references, verdict) = judge(manifest, recipe, &image_set_sha256, &score, tolerance);
    Assessment {
        score,
        image_set_sha256,
        references,
        verdict,
    }
}

pub(super) fn summary_line(record: &RunRecord) -> String {
    format!(
        "{}: top-1 {:.2}% ({}/{}), top-5 {:.2}% ({}/{}), {} failed; {}",
        record.model_id,
        record.top1,
        record.top1_correct,
        record.images,
        record.top5,
        record.top5_correct,
        record.images,
        record.failed,
        record.verdict.summary
    )
}

/// Accuracy over the labelled images; failed images count as incorrect.
#[derive(Clone, Copy, Debug, Default)]
struct Score {
    pub images: usize,
    pub evaluated: usize,
    pub failed: usize,
    pub top1_correct: usize,
    pub top5_correct: usize,
}

impl Score {
    fn of(ordered: &[(Entry, Prediction)]) -> Score {
        let mut score = Score::default();
        for (entry, prediction) in ordered {
            let Some(label) = entry.label else { continue };
            score.images += 1;
            match &prediction.outcome {
                Outcome::Ranked { top5, .. } => {
                    score.evaluated += 1;
                    score.top1_correct += usize::from(top5[0] == label);
                    score.top5_correct += usize::from(top5.contains(&label));
                }
                Outcome::Failed(_) => score.failed += 1,
            }
        }
        score
    }

    fn percent(count: usize, of: usize) -> f64 {
        if of == 0 {
            0.0
        } else {
            100.0 * count as f64 / of as f64
        }
    }

    pub fn top1(&self) -> f64 {
        Self::percent(self.top1_correct, self.images)
    }

    pub fn top5(&self) -> f64 {
        Self::percent(self.top5_correct, self.images)
    }
}

fn judge(
    manifest: &Manifest,
    recipe: &str,
    image_set_sha256: &str,
    score: &Score,
    tolerance: f64,
) -> (Vec<ReferenceResult>, Verdict) {
    let (top1, top5) = (score.top1(), score.top5());
    let applicable = manifest.references_for(recipe, image_set_sha256, score.images);
    let results: Vec<ReferenceResult> = applicable
        .iter()
        .map(|(reference, expected)| ReferenceResult {
            source: reference.source.clone(),
            top1: reference.top1,
            top5: reference.top5,
            delta_top1: top1 - reference.top1,
            delta_top5: top5 - reference.top5,
            expected: *expected,
            recipe: reference.recipe.clone(),
            note: reference.note.clone(),
        })
        .collect();
    let verdict = match results.iter().find(|r| r.expected) {
        None => Verdict {
            status: VerdictStatus::NoReference,
            tolerance,
            expected_source: None,
            summary: format!(
                "no reference of {} was measured with recipe {} on this image set ({} images); nothing to compare",
                manifest.id, recipe, score.images
            ),
        },
        Some(expected) if expected.delta_top1.abs() <= tolerance + TOLERANCE_EPSILON => Verdict {
            status: VerdictStatus::Reproduced,
            tolerance,
            expected_source: Some(expected.source.clone()),
            summary: format!(
                "reproduced: top-1 {:.3} vs {:.3} ({}), delta {:+.3} within ±{tolerance}",
                top1, expected.top1, expected.source, expected.delta_top1
            ),
        },
        Some(expected) => Verdict {
            status: VerdictStatus::Drift,
            tolerance,
            expected_source: Some(expected.source.clone()),
            summary: format!(
                "DRIFT: top-1 {:.3} vs {:.3} ({}), delta {:+.3} beyond ±{tolerance}",
                top1, expected.top1, expected.source, expected.delta_top1
            ),
        },
    };
    (results, verdict)
}
