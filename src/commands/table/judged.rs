//! A stored run judged as `verify` judged it: against the references the run stored when it was
//! settled (with their origins), never against whatever manifests exist now; and with the marks
//! of [`crate::eval::trust`] from what the run recorded. A run stored by an older release, which
//! kept no references, is judged against today's manifests and marked `unknown-identity`.

use crate::eval::scoring::{LabelSet, Tally};
use crate::eval::trust::{self, Coverage, Identity, ImageSetCheck, ModelCheck, ReferenceOrigin};
use crate::eval::verdict::{
    Applicable, DEFAULT_TOLERANCE, Verdict, VerdictStatus, applicable, judge_applicable,
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
/// judges (same code, default tolerance). Verdicts are judged on original-label figures; under
/// ReaL labels the references scored with ReaL (timm's) are shown beside, without a verdict.
pub(super) fn judged(
    run: &RunInfo,
    manifest: Option<&Manifest>,
    primary_set: LabelSet,
    primary: &Tally,
    label_disagreements: usize,
) -> Judged {
    let nothing = |references| Judged {
        references,
        verdict: Verdict {
            status: VerdictStatus::NoReference,
            tolerance: DEFAULT_TOLERANCE,
            expected_source: None,
            summary: String::new(),
            marks: Vec::new(),
        },
        changed_reference: None,
    };
    let Some(summary) = &run.summary else {
        return nothing(Vec::new());
    };
    let mut image_set = summary.image_set();
    image_set.layout_name = super::super::lookup::layout_name(run);
    match (primary_set, manifest) {
        (LabelSet::Original, _) => {}
        (LabelSet::Real, Some(manifest)) => {
            return nothing(real_label_deltas(manifest, &image_set, primary));
        }
        _ => return nothing(Vec::new()),
    }
    let current = manifest.map(|m| applicable(m, &run.key.recipe, &image_set));
    let (found, changed_reference) = match (&summary.references, current) {
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
    };
    let (results, mut verdict) = judge_applicable(
        &found,
        &run.model_id,
        &run.key.recipe,
        primary,
        DEFAULT_TOLERANCE,
    );
    let check = ImageSetCheck {
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
        duplicate_contents: summary.duplicate_contents.unwrap_or(0),
        label_disagreements,
        label_disagreement_examples: Vec::new(),
    };
    let model = run
        .meta
        .verify()
        .and_then(|v| v.onnx.as_ref())
        .map_or(ModelCheck::NotVerified, |onnx| {
            ModelCheck::from_verification(&onnx.verification)
        });
    trust::finish(&mut verdict, &results, model, &check);
    let references = results
        .into_iter()
        .map(|r| ReferenceDelta {
            source: r.source,
            top1: r.top1,
            top5: r.top5,
            delta_top1: r.delta_top1,
            delta_top5: r.delta_top5,
            expected: r.expected,
        })
        .collect();
    Judged {
        references,
        verdict,
        changed_reference,
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

/// The manifest's ReaL-label numbers on this image set, with the run's deltas to them.
fn real_label_deltas(
    manifest: &Manifest,
    image_set: &crate::model::manifest::ImageSetId<'_>,
    primary: &Tally,
) -> Vec<ReferenceDelta> {
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
