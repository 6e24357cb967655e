//! A stored run judged as `verify` judged it: against the references the run stored when it was
//! settled (with their origins), never against whatever manifests exist now; and with the marks
//! of [`crate::eval::trust`] from what the run recorded. A run stored by an older release, which
//! kept no references, is judged against today's manifests and marked `unknown-identity`.

use crate::eval::prediction::Summary;
use crate::eval::scoring::{LabelSet, Tally};
use crate::eval::trust::{
    self, Coverage, Identity, ImageSetCheck, Mark, ModelCheck, ReferenceOrigin,
};
use crate::eval::verdict::{
    Applicable, DEFAULT_TOLERANCE, ReferenceResult, Verdict, VerdictStatus, applicable,
    judge_applicable,
};
use crate::model::manifest::Manifest;
use crate::report::table::ReferenceDelta;
use crate::store::RunInfo;

pub(super) struct Judged {
    pub references: Vec<ReferenceDelta>,
    pub verdict: Verdict,
    /// When today's manifests say something else of the run's set than the stored references.
    pub changed_reference: Option<String>,
}

/// The published numbers measured on the run's image set and the verdict, judged as `verify`
/// judges (same code, default tolerance) on the run's own labels (`own`, the original label
/// set's tally). Under another label set (`primary_set`) there is no verdict: the references
/// scored with ReaL (timm's) are shown beside under ReaL, and the marks are the verdict's, which
/// belong to the run (its file, coverage, images and labels) whatever labels a view scores.
pub(super) fn judged(
    run: &RunInfo,
    manifest: Option<&Manifest>,
    primary_set: LabelSet,
    primary: &Tally,
    own: &Tally,
    label_disagreements: usize,
) -> Judged {
    let nothing = |references, marks| Judged {
        references,
        verdict: Verdict {
            status: VerdictStatus::NoReference,
            tolerance: DEFAULT_TOLERANCE,
            expected_source: None,
            summary: String::new(),
            marks,
        },
        changed_reference: None,
    };
    let Some(summary) = &run.summary else {
        return nothing(Vec::new(), Vec::new());
    };
    let mut image_set = summary.image_set();
    image_set.layout_name = crate::commands::shared::image_set::layout_name(run);
    let current = manifest.map(|m| applicable(m, &run.key.recipe, &image_set));
    let (found, changed_reference) = references_to_judge(&summary.references, current);
    let (mut results, mut verdict) = judge_applicable(
        &found,
        &run.model_id,
        &run.key.recipe,
        own,
        DEFAULT_TOLERANCE,
    );
    let scored = own.percentages().is_some();
    if !scored {
        // As verify judged it: no ranked image, no number, and no reference decides anything.
        results.iter_mut().for_each(|r| r.expected = false);
        verdict.status = VerdictStatus::NoReference;
        verdict.expected_source = None;
    }
    let check = image_set_check(&results, summary, label_disagreements);
    trust::finish(&mut verdict, &results, model_check(run), &check);
    match (primary_set, manifest) {
        (LabelSet::Original, _) => {}
        (LabelSet::Real, Some(manifest)) => {
            return nothing(
                real_label_deltas(manifest, &image_set, primary),
                verdict.marks,
            );
        }
        _ => return nothing(Vec::new(), verdict.marks),
    }
    // Labels that disagree with the ILSVRC2012 ground truth measure no published number, and a
    // run that ranked nothing has no number: a delta would read as a distance the run never had.
    let references = if verdict.marks.contains(&Mark::Relabelled) || !scored {
        Vec::new()
    } else {
        results
            .into_iter()
            .map(|r| ReferenceDelta {
                source: r.source,
                top1: r.top1,
                top5: r.top5,
                delta_top1: r.delta_top1,
                delta_top5: r.delta_top5,
                expected: r.expected,
            })
            .collect()
    };
    Judged {
        references,
        verdict,
        changed_reference,
    }
}

/// What the run recorded of its model file: verified against a pin, or not (an import, a
/// `--like` export, `--allow-unverified`).
fn model_check(run: &RunInfo) -> ModelCheck {
    run.meta
        .verify()
        .and_then(|v| v.onnx.as_ref())
        .map_or(ModelCheck::NotVerified, |onnx| {
            ModelCheck::from_verification(&onnx.verification)
        })
}

/// The references the run is judged by: those it stored (with a note when today's manifests say
/// something else), or where it kept none, today's manifests of an origin it cannot vouch for.
fn references_to_judge(
    stored: &Option<Vec<Applicable>>,
    current: Option<Vec<Applicable>>,
) -> (Vec<Applicable>, Option<String>) {
    match (stored, current) {
        (Some(stored), current) => {
            let changed = current
                .filter(|current| current != stored)
                .map(|current| changed_note(stored, &current));
            (stored.clone(), changed)
        }
        // Kept nothing: today's manifests, of an origin the run cannot vouch for.
        (None, Some(current)) => (
            current
                .into_iter()
                .map(|a| Applicable {
                    origin: ReferenceOrigin::Unknown,
                    ..a
                })
                .collect(),
            None,
        ),
        (None, None) => (Vec::new(), None),
    }
}

/// What the run recorded of its image set, for the trust marks: the expected reference's
/// identity (or what the summary can vouch for), coverage, duplicates and label disagreements.
fn image_set_check(
    results: &[ReferenceResult],
    summary: &Summary,
    label_disagreements: usize,
) -> ImageSetCheck {
    ImageSetCheck {
        identity: results
            .iter()
            .find(|r| r.expected)
            .and_then(|r| r.identity)
            .unwrap_or(if summary.image_set_content_sha256.is_some() {
                Identity::Content
            } else {
                Identity::NamesAndCount
            }),
        coverage: summary.coverage.unwrap_or(Coverage::Unknown),
        duplicates: summary.duplicates,
        label_disagreements,
        label_disagreement_examples: Vec::new(),
    }
}

/// Both sides, when the manifests now say something else of the run's set than the run stored.
fn changed_note(stored: &[Applicable], current: &[Applicable]) -> String {
    let describe = |found: &[Applicable]| {
        let expected: Vec<String> = found
            .iter()
            .filter(|a| a.expected)
            .map(|a| {
                format!(
                    "{} top-1 {:.3} ({})",
                    a.reference.source,
                    a.reference.top1,
                    a.origin.describe()
                )
            })
            .collect();
        if expected.is_empty() {
            "no expected reference".to_string()
        } else {
            expected.join(", ")
        }
    };
    format!(
        "judged against the reference stored with the run: {}; today's manifests say {}.",
        describe(stored),
        describe(current)
    )
}

/// The manifest's ReaL-label numbers on this image set, with the run's deltas to them (none
/// where the run ranked no image: it has no number).
fn real_label_deltas(
    manifest: &Manifest,
    image_set: &crate::model::manifest::ImageSetId<'_>,
    primary: &Tally,
) -> Vec<ReferenceDelta> {
    if primary.percentages().is_none() {
        return Vec::new();
    }
    manifest
        .references
        .iter()
        .filter(|r| r.labels.as_deref() == Some("real") && r.image_set.is(image_set))
        .map(|r| ReferenceDelta {
            source: format!("{} (ReaL)", r.source),
            top1: r.top1,
            top5: r.top5,
            delta_top1: primary.top1() - r.top1,
            delta_top5: r.top5.map(|top5| primary.top5() - top5),
            expected: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::manifest::{self, FULL_VAL_SHA256};
    use crate::store::{OnnxMeta, RunKey, RunKind, RunMeta, RunOrigin, VerifyMeta};

    fn resnet50() -> Manifest {
        let manifests =
            manifest::load_all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests")).unwrap();
        let mut found = manifest::resolve(&manifests, "pytorch/resnet50")
            .unwrap()
            .clone();
        found.origin = ReferenceOrigin::BuiltIn;
        found
    }

    /// A complete verify run of resnet50 on the 50,000 validation files, its summary as `old`
    /// JSON (a store written before the verdict rule kept coverage and references, or after).
    fn full_set_run(summary: serde_json::Value) -> RunInfo {
        let mut meta = RunMeta::unknown(RunKind::Verify);
        meta.origin = RunOrigin::Verify(VerifyMeta {
            onnx: Some(OnnxMeta {
                path: "m.onnx".into(),
                sha256: "ab".into(),
                verification: "verified".into(),
                manifest_sha256: Some("ab".into()),
                sidecar: None,
                io_names: None,
                like: None,
            }),
            ..VerifyMeta::default()
        });
        RunInfo {
            id: 1,
            token: String::new(),
            key: RunKey {
                kind: RunKind::Verify,
                model_id: "pytorch/resnet50".into(),
                onnx_sha256: "ab".into(),
                recipe: "torchvision".into(),
                recipe_sha256: String::new(),
                pillow_compat: "13".into(),
                ort_version: "1.32.0".into(),
                provider: "cpu".into(),
                opt_level: "all".into(),
                batch: 32,
                shard: None,
                source_sha256: None,
                class_subset: None,
                ground_truth_sha256: None,
            },
            key_digest: String::new(),
            model_id: "pytorch/resnet50".into(),
            created_at: String::new(),
            updated_at: String::new(),
            complete: true,
            images: 50_000,
            meta,
            summary: Some(serde_json::from_value(summary).unwrap()),
        }
    }

    fn tally(top1_correct: usize) -> Tally {
        Tally {
            images: 50_000,
            top1_correct,
            top5_correct: 46_000,
            failed: 0,
        }
    }

    #[test]
    fn a_run_of_an_older_store_is_marked_unknown_never_trusted() {
        let old = full_set_run(serde_json::json!({
            "images": 50000, "labelled": 50000, "failed": 0,
            "top1_correct": 38065, "top5_correct": 46000,
            "image_set_sha256": FULL_VAL_SHA256,
        }));
        let manifest = resnet50();
        let judged = judged(
            &old,
            Some(&manifest),
            LabelSet::Original,
            &tally(38065),
            &tally(38065),
            0,
        );
        assert_eq!(judged.verdict.status, VerdictStatus::Reproduced);
        assert_eq!(judged.verdict.marks, vec![Mark::UnknownIdentity]);
    }

    #[test]
    fn a_stored_reference_outlives_a_later_manifest() {
        let mut manifest = resnet50();
        let image_set = crate::model::manifest::ImageSetId {
            sha256: FULL_VAL_SHA256,
            content_sha256: None,
            images: 50_000,
            layout_name: None,
            within_full_val: true,
        };
        let stored = applicable(&manifest, "torchvision", &image_set);
        let run = full_set_run(serde_json::json!({
            "images": 50000, "labelled": 50000, "failed": 0,
            "top1_correct": 30000, "top5_correct": 46000,
            "image_set_sha256": FULL_VAL_SHA256, "within_full_val": true,
            "coverage": "complete", "label_disagreements": 0,
            "references": serde_json::to_value(&stored).unwrap(),
        }));
        // A user's manifest now says resnet50 scores 60%: the stored drift stands, both shown.
        for reference in &mut manifest.references {
            reference.top1 = 60.0;
        }
        manifest.origin = ReferenceOrigin::User {
            path: "/tmp/planted.json".into(),
            sha256: "cd".repeat(32),
            replaces_built_in: true,
        };
        let judged = judged(
            &run,
            Some(&manifest),
            LabelSet::Original,
            &tally(30000),
            &tally(30000),
            0,
        );
        assert_eq!(judged.verdict.status, VerdictStatus::Drift);
        assert!(
            judged.verdict.marks.is_empty(),
            "{:?}",
            judged.verdict.marks
        );
        let note = judged.changed_reference.unwrap();
        assert!(
            note.contains("planted.json") && note.contains("built-in"),
            "{note}"
        );
    }

    /// A settled run of resnet50 on the full set (references stored), its summary as given.
    fn settled_run(summary: serde_json::Value) -> RunInfo {
        let manifest = resnet50();
        let image_set = crate::model::manifest::ImageSetId {
            sha256: FULL_VAL_SHA256,
            content_sha256: None,
            images: 50_000,
            layout_name: None,
            within_full_val: true,
        };
        let mut summary = summary;
        summary["references"] =
            serde_json::to_value(applicable(&manifest, "torchvision", &image_set)).unwrap();
        full_set_run(summary)
    }

    #[test]
    fn every_label_set_shows_the_marks_of_the_run() {
        let mut run = settled_run(serde_json::json!({
            "images": 50000, "labelled": 50000, "failed": 0,
            "top1_correct": 38065, "top5_correct": 46000,
            "image_set_sha256": FULL_VAL_SHA256, "within_full_val": true,
            "coverage": "shard", "label_disagreements": 0,
        }));
        if let RunOrigin::Verify(verify) = &mut run.meta.origin {
            verify.onnx.as_mut().unwrap().verification = "unverified (--allow-unverified)".into();
        }
        let manifest = resnet50();
        let own = tally(38065);
        let original = judged(&run, Some(&manifest), LabelSet::Original, &own, &own, 0);
        assert_eq!(
            original.verdict.marks,
            vec![Mark::UnverifiedModel, Mark::Partial]
        );
        for set in [LabelSet::Real, LabelSet::Cleaned, LabelSet::Corrected] {
            let view = judged(&run, Some(&manifest), set, &tally(40000), &own, 0);
            assert_eq!(view.verdict.status, VerdictStatus::NoReference, "{set:?}");
            assert_eq!(view.verdict.marks, original.verdict.marks, "{set:?}");
        }
    }

    #[test]
    fn a_relabelled_run_shows_no_delta_to_any_reference() {
        let run = settled_run(serde_json::json!({
            "images": 50000, "labelled": 50000, "failed": 0,
            "top1_correct": 38000, "top5_correct": 46000,
            "image_set_sha256": FULL_VAL_SHA256, "within_full_val": false,
            "coverage": "complete", "label_disagreements": 3,
        }));
        let manifest = resnet50();
        let own = tally(38000);
        let judged = judged(&run, Some(&manifest), LabelSet::Original, &own, &own, 3);
        assert_eq!(judged.verdict.status, VerdictStatus::NoReference);
        assert_eq!(judged.verdict.marks, vec![Mark::Relabelled]);
        assert!(judged.references.is_empty(), "{:?}", judged.references);
    }
}
