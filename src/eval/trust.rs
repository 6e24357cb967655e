//! The verdict rule, in one place.
//!
//! A verdict is a function of what was really evaluated, and of nothing a user can move:
//!
//! - the **model bytes**: the sha256 of the very bytes ONNX Runtime was given, matched (or not) to
//!   the manifest's pin;
//! - the **image set**: its contents (or, where the files are not at hand to pin, its names and
//!   count, or a folder name and count), with no file counted twice;
//! - the **labels**: a file named like an ILSVRC2012 validation file is scored under the ground
//!   truth that ships with zoorepro; a set whose labels disagree gets no verdict against a
//!   reference at all;
//! - the **reference and its origin**: built in, or a user manifest (its path and sha256), stored
//!   with the record so that a later manifest cannot rewrite an old verdict;
//! - **completeness**: whether the run covers the whole image set it was started on (no
//!   `--limit`, no shard, no interrupt);
//! - the **recipe** (part of the run key: another recipe is another run).
//!
//! [`rule`] turns the numeric status (reproduced / consistent / drift / no-reference, from
//! [`super::verdict`]) and that [`Evidence`] into the final status and its [`Mark`]s. Every output
//! shows the marks beside the status; `--strict` turns any mark into exit status 1. Anything the
//! rule needs that a record does not say (a store written by an older release) is
//! [`Mark::UnknownIdentity`]: never silently trusted.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::verdict::{ReferenceResult, Verdict, VerdictStatus};

/// Something a verdict's reader must know, shown beside its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    /// The evaluated bytes were not matched to a pin: the manifest pins none, they differ from it
    /// (`--allow-unverified`), or the record does not say.
    UnverifiedModel,
    /// The run does not cover the whole image set it was started on (`--limit`, a shard, an
    /// interrupt), or a merge took such a part (`--allow-partial`).
    Partial,
    /// The image set was recognised by its folder's name and its count only (ImageNetV2, -Sketch,
    /// -A, -R): nothing pins its files.
    WeakIdentity,
    /// The reference judged against comes from a user's manifest, not zoorepro's own.
    UserReference,
    /// Files named like ILSVRC2012 validation files carry labels that disagree with its ground
    /// truth: no verdict against a reference is given.
    Relabelled,
    /// The same content appears under more than one name in the scored set.
    DuplicateContent,
    /// The record lacks an identity the rule needs (a run stored by an older release).
    UnknownIdentity,
}

impl Mark {
    pub const ALL: [Mark; 7] = [
        Mark::UnverifiedModel,
        Mark::Partial,
        Mark::WeakIdentity,
        Mark::UserReference,
        Mark::Relabelled,
        Mark::DuplicateContent,
        Mark::UnknownIdentity,
    ];

    /// The mark as JSON spells it.
    pub fn name(self) -> &'static str {
        match self {
            Mark::UnverifiedModel => "unverified-model",
            Mark::Partial => "partial",
            Mark::WeakIdentity => "weak-identity",
            Mark::UserReference => "user-reference",
            Mark::Relabelled => "relabelled",
            Mark::DuplicateContent => "duplicate-content",
            Mark::UnknownIdentity => "unknown-identity",
        }
    }
}

impl Mark {
    /// What the mark means for this verdict, in a few words.
    pub fn explanation(self) -> &'static str {
        match self {
            Mark::UnverifiedModel => "the evaluated bytes match no sha256 pin",
            Mark::Partial => "the run does not cover its whole image set",
            Mark::WeakIdentity => "the image set is known by its folder name and count only",
            Mark::UserReference => "the reference comes from a user's manifest",
            Mark::Relabelled => "labels disagree with the ILSVRC2012 ground truth",
            Mark::DuplicateContent => "some files have the same content",
            Mark::UnknownIdentity => "the record lacks an identity the verdict rule needs",
        }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Marks as every text output shows them: `unverified-model, partial`, or empty.
pub fn marks_text(marks: &[Mark]) -> String {
    marks
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A status with its marks, as tables and summary lines show it: `reproduced [partial]`.
pub fn status_text(status: VerdictStatus, marks: &[Mark]) -> String {
    if marks.is_empty() {
        status.name().to_string()
    } else {
        format!("{} [{}]", status.name(), marks_text(marks))
    }
}

/// How strongly the evaluated image set is tied to the set a reference was measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Identity {
    /// The names and the sha256 of every file.
    Content,
    /// The names and their count (the 50,000 ILSVRC2012 validation files, whose bytes are not
    /// at hand to pin), with every label checked against the shipped ground truth.
    NamesAndCount,
    /// The folder's name and the image count only.
    FolderNameAndCount,
}

impl Identity {
    pub fn name(self) -> &'static str {
        match self {
            Identity::Content => "content",
            Identity::NamesAndCount => "names-and-count",
            Identity::FolderNameAndCount => "folder-name-and-count",
        }
    }
}

/// Where a reference comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ReferenceOrigin {
    /// A manifest built into zoorepro (or a home's copy identical to it).
    BuiltIn,
    /// A user's manifest: its path and the sha256 of its bytes. `replaces_built_in` when it
    /// carries the id of a built-in manifest it differs from.
    User {
        path: String,
        sha256: String,
        #[serde(default)]
        replaces_built_in: bool,
    },
    /// Not recorded (a run stored by an older release).
    #[default]
    Unknown,
}

impl ReferenceOrigin {
    /// One line for text outputs: `built-in`, `user manifest PATH (sha256 …)`.
    pub fn describe(&self) -> String {
        match self {
            ReferenceOrigin::BuiltIn => "built-in".into(),
            ReferenceOrigin::User {
                path,
                sha256,
                replaces_built_in,
            } => format!(
                "user manifest {path} (sha256 {}){}",
                &sha256[..sha256.len().min(12)],
                if *replaces_built_in {
                    ", replacing the built-in one"
                } else {
                    ""
                }
            ),
            ReferenceOrigin::Unknown => "unknown origin".into(),
        }
    }
}

/// Whether the model's evaluated bytes were matched to a pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelCheck {
    Verified,
    /// Unpinned, mismatched (`--allow-unverified`), or not recorded.
    NotVerified,
}

impl ModelCheck {
    /// From the record's `onnx.verification` word.
    pub fn from_verification(word: &str) -> ModelCheck {
        if word == "verified" {
            ModelCheck::Verified
        } else {
            ModelCheck::NotVerified
        }
    }
}

/// Whether the run covers the whole image set it was started on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coverage {
    Complete,
    /// All of one shard (`--shard K/N`): a part, whole once `merge` joins every shard.
    Shard,
    /// Cut short (`--limit`), or a merge that took such a part (`--allow-partial`).
    Partial,
    /// Not recorded (a run stored by an older release).
    Unknown,
}

/// A labelled file named like an ILSVRC2012 validation file whose label is not its ground truth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelDisagreement {
    pub file: String,
    pub label: u16,
    pub truth: u16,
}

/// How many labelled files disagree with the shipped ground truth, and the first of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelCheck {
    pub disagreements: usize,
    pub examples: Vec<LabelDisagreement>,
}

/// Disagreements a record lists; the count is always complete.
pub const MAX_LISTED_DISAGREEMENTS: usize = 20;

/// Checks every labelled image `(name, file, label)` named like a validation file against the
/// ground truth that ships with zoorepro: in an ImageFolder the folder gives the label, so a
/// moved file would otherwise be scored under the label of the folder it was moved to. The
/// basename decides: an image named by its path (two files of one basename, `--ground-truth`)
/// is still checked.
pub fn check_labels<'a>(images: impl IntoIterator<Item = (&'a str, &'a str, u16)>) -> LabelCheck {
    let mut check = LabelCheck::default();
    for (name, file, label) in images {
        let basename = name.rsplit('/').next().unwrap_or(name);
        let Some(truth) = crate::dataset::labels::val_label(basename) else {
            continue;
        };
        if truth != label {
            check.disagreements += 1;
            if check.examples.len() < MAX_LISTED_DISAGREEMENTS {
                check.examples.push(LabelDisagreement {
                    file: file.to_string(),
                    label,
                    truth,
                });
            }
        }
    }
    check
}

/// The identity of a set's labels: sha256 of a domain tag, then of each byte-sorted name as its
/// length (8 bytes, big-endian), its bytes and its label (2 bytes, big-endian).
pub fn labels_digest<'a>(images: impl IntoIterator<Item = (&'a str, u16)>) -> String {
    use sha2::{Digest, Sha256};
    let mut images: Vec<(&str, u16)> = images.into_iter().collect();
    images.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut hasher = Sha256::new();
    hasher.update(b"zoorepro labels v1\0");
    for (name, label) in images {
        hasher.update((name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
        hasher.update(label.to_be_bytes());
    }
    crate::util::hex::hex(&hasher.finalize())
}

/// How every output names a set whose labels disagree with the shipped ground truth: not by the
/// name of the set its files come from (it is not that set), but `relabelled-<images>-<digest>`
/// of its labels, so that it is grouped apart and two relabellings never read alike.
pub fn relabelled_set_name(images: usize, labels_sha256: &str) -> String {
    format!(
        "relabelled-{images}-{}",
        &labels_sha256[..labels_sha256.len().min(12)]
    )
}

/// Files whose content an earlier file of the same set already has: 10,000 links to 100 images
/// are 9,900 duplicates, whatever their names.
pub fn duplicate_contents<'a>(contents: impl IntoIterator<Item = &'a [u8; 32]>) -> usize {
    let mut seen = std::collections::HashSet::new();
    contents.into_iter().filter(|c| !seen.insert(*c)).count()
}

/// What the duplicate check of a set found. An image that could not be read has no known
/// content, and then the set's duplicates are not all known: the count is `None` (the record's
/// `null`, never 0), with the unread images and the duplicates among the others beside it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicates {
    /// Images whose content an earlier image of the set has; `None` when not every content is
    /// known (or the run did not record contents).
    #[serde(default)]
    pub duplicate_contents: Option<usize>,
    /// With the count unknown: the images whose content is unknown (they could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread_images: Option<usize>,
    /// With the count unknown: the duplicates among the images that were read, which the set
    /// holds at the least (they give the duplicate-content mark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_contents_among_read: Option<usize>,
}

impl Duplicates {
    /// The check of a set's contents, in order (`None`: that image's content is unknown).
    pub fn of<'a>(contents: impl IntoIterator<Item = Option<&'a [u8; 32]>>) -> Duplicates {
        let mut unread = 0;
        let among_read = duplicate_contents(contents.into_iter().filter_map(|content| {
            unread += usize::from(content.is_none());
            content
        }));
        if unread == 0 {
            return Duplicates {
                duplicate_contents: Some(among_read),
                ..Duplicates::default()
            };
        }
        Duplicates {
            duplicate_contents: None,
            unread_images: Some(unread),
            duplicate_contents_among_read: Some(among_read),
        }
    }

    /// The duplicates the set is known to hold: the count, else those among the images read.
    pub fn at_least(&self) -> usize {
        self.duplicate_contents
            .or(self.duplicate_contents_among_read)
            .unwrap_or(0)
    }
}

/// The record's account of the evaluated image set: how it is known, whether the run covers
/// it, and what the label and duplicate checks found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageSetCheck {
    pub identity: Identity,
    pub coverage: Coverage,
    /// `duplicate_contents` (`null` when some content is unknown), and with it unknown
    /// `unread_images` and `duplicate_contents_among_read`.
    #[serde(flatten)]
    pub duplicates: Duplicates,
    pub label_disagreements: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_disagreement_examples: Vec<LabelDisagreement>,
}

/// Applies [`rule`] to a numeric verdict: its final status, marks and summary. `references` are
/// the results it was judged on (the expected one gives the identity and origin).
pub fn finish(
    verdict: &mut Verdict,
    references: &[ReferenceResult],
    model: ModelCheck,
    check: &ImageSetCheck,
) {
    let expected = references.iter().find(|r| r.expected);
    let evidence = Evidence {
        model,
        identity: expected.and_then(|r| r.identity),
        identity_known: expected.is_none_or(|r| r.identity.is_some()),
        label_disagreements: check.label_disagreements,
        duplicate_contents: check.duplicates.at_least(),
        coverage: check.coverage,
        reference_origin: expected.map(|r| r.origin.clone()),
    };
    let (status, marks) = rule(verdict.status, &evidence);
    if status != verdict.status && marks.contains(&Mark::Relabelled) {
        let first = check
            .label_disagreement_examples
            .first()
            .map(|d| {
                format!(
                    " (first: {} labelled {} ({}), its ground truth is {} ({}))",
                    d.file,
                    d.label,
                    crate::dataset::labels::wnid(d.label),
                    d.truth,
                    crate::dataset::labels::wnid(d.truth)
                )
            })
            .unwrap_or_default();
        verdict.summary = format!(
            "no verdict against a reference: {} files named like ILSVRC2012 validation files carry labels that disagree with its ground truth{first}; put each file back under its own class, or correct its row in the --ground-truth file",
            check.label_disagreements
        );
        verdict.expected_source = None;
    }
    verdict.status = status;
    if !marks.is_empty() {
        let reasons: Vec<String> = marks
            .iter()
            .map(|m| format!("{m} ({})", m.explanation()))
            .collect();
        verdict.summary = format!("{}; marked: {}", verdict.summary, reasons.join(", "));
    }
    verdict.marks = marks;
}

impl Coverage {
    pub fn name(self) -> &'static str {
        match self {
            Coverage::Complete => "complete",
            Coverage::Shard => "shard",
            Coverage::Partial => "partial",
            Coverage::Unknown => "unknown",
        }
    }
}

/// Everything besides the numbers that a verdict depends on.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub model: ModelCheck,
    /// How the set was tied to the reference judged against; `None` when no reference was, or
    /// when the record does not say.
    pub identity: Option<Identity>,
    /// Whether the identity could be established at all (false for records that lack it).
    pub identity_known: bool,
    /// Labelled files named like validation files whose label is not the shipped ground truth.
    pub label_disagreements: usize,
    /// Scored files whose content another scored file also has (at least: those among the files
    /// whose content is known).
    pub duplicate_contents: usize,
    pub coverage: Coverage,
    /// The origin of the reference the status was judged against; `None` when none was.
    pub reference_origin: Option<ReferenceOrigin>,
}

/// The rule: the final status and marks of a verdict whose numbers alone gave `status`.
///
/// - Disagreeing labels take the reference away (no-reference), and mark it.
/// - Each missing guarantee is a mark; a mark never turns into a plain status.
pub fn rule(status: VerdictStatus, evidence: &Evidence) -> (VerdictStatus, Vec<Mark>) {
    let mut marks = Vec::new();
    let mut status = status;
    if evidence.label_disagreements > 0 {
        status = VerdictStatus::NoReference;
        marks.push(Mark::Relabelled);
    }
    if evidence.model == ModelCheck::NotVerified {
        marks.push(Mark::UnverifiedModel);
    }
    match evidence.coverage {
        Coverage::Complete => {}
        Coverage::Shard | Coverage::Partial => marks.push(Mark::Partial),
        Coverage::Unknown => marks.push(Mark::UnknownIdentity),
    }
    if evidence.duplicate_contents > 0 {
        marks.push(Mark::DuplicateContent);
    }
    let judged = status != VerdictStatus::NoReference;
    if judged {
        if evidence.identity == Some(Identity::FolderNameAndCount) {
            marks.push(Mark::WeakIdentity);
        }
        if !evidence.identity_known {
            marks.push(Mark::UnknownIdentity);
        }
        match &evidence.reference_origin {
            Some(ReferenceOrigin::User { .. }) => marks.push(Mark::UserReference),
            Some(ReferenceOrigin::Unknown) | None => marks.push(Mark::UnknownIdentity),
            Some(ReferenceOrigin::BuiltIn) => {}
        }
    }
    marks.sort();
    marks.dedup();
    (status, marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean() -> Evidence {
        Evidence {
            model: ModelCheck::Verified,
            identity: Some(Identity::Content),
            identity_known: true,
            label_disagreements: 0,
            duplicate_contents: 0,
            coverage: Coverage::Complete,
            reference_origin: Some(ReferenceOrigin::BuiltIn),
        }
    }

    #[test]
    fn a_clean_run_keeps_its_plain_status() {
        for status in [
            VerdictStatus::Reproduced,
            VerdictStatus::Consistent,
            VerdictStatus::Drift,
        ] {
            assert_eq!(rule(status, &clean()), (status, vec![]));
        }
        let mut unjudged = clean();
        unjudged.reference_origin = None;
        unjudged.identity = None;
        assert_eq!(
            rule(VerdictStatus::NoReference, &unjudged),
            (VerdictStatus::NoReference, vec![])
        );
    }

    type Spoil = fn(&mut Evidence);

    #[test]
    fn every_missing_guarantee_is_a_mark() {
        let cases: [(Spoil, Mark); 7] = [
            (|e| e.model = ModelCheck::NotVerified, Mark::UnverifiedModel),
            (|e| e.coverage = Coverage::Partial, Mark::Partial),
            (
                |e| e.identity = Some(Identity::FolderNameAndCount),
                Mark::WeakIdentity,
            ),
            (
                |e| {
                    e.reference_origin = Some(ReferenceOrigin::User {
                        path: "m.json".into(),
                        sha256: "ab".into(),
                        replaces_built_in: true,
                    })
                },
                Mark::UserReference,
            ),
            (|e| e.duplicate_contents = 2, Mark::DuplicateContent),
            (|e| e.coverage = Coverage::Unknown, Mark::UnknownIdentity),
            (
                |e| e.reference_origin = Some(ReferenceOrigin::Unknown),
                Mark::UnknownIdentity,
            ),
        ];
        for (spoil, mark) in cases {
            let mut evidence = clean();
            spoil(&mut evidence);
            let (status, marks) = rule(VerdictStatus::Reproduced, &evidence);
            assert_eq!(status, VerdictStatus::Reproduced);
            assert_eq!(marks, vec![mark]);
        }
    }

    #[test]
    fn disagreeing_labels_take_the_reference_away() {
        let mut evidence = clean();
        evidence.label_disagreements = 19;
        let (status, marks) = rule(VerdictStatus::Reproduced, &evidence);
        assert_eq!(status, VerdictStatus::NoReference);
        assert_eq!(marks, vec![Mark::Relabelled]);
    }

    #[test]
    fn a_validation_file_named_by_its_path_is_checked_by_its_basename() {
        // ILSVRC2012_val_00000001.JPEG is class 65.
        let check = check_labels([
            (
                "a/ILSVRC2012_val_00000001.JPEG",
                "a/ILSVRC2012_val_00000001.JPEG",
                65,
            ),
            (
                "b/ILSVRC2012_val_00000001.JPEG",
                "b/ILSVRC2012_val_00000001.JPEG",
                3,
            ),
            ("photo.jpg", "photo.jpg", 3),
        ]);
        assert_eq!(check.disagreements, 1);
        assert_eq!(check.examples[0].file, "b/ILSVRC2012_val_00000001.JPEG");
    }

    #[test]
    fn marks_read_beside_the_status() {
        assert_eq!(status_text(VerdictStatus::Reproduced, &[]), "reproduced");
        assert_eq!(
            status_text(
                VerdictStatus::Reproduced,
                &[Mark::UnverifiedModel, Mark::Partial]
            ),
            "reproduced [unverified-model, partial]"
        );
        let json = serde_json::to_string(&Mark::ALL).unwrap();
        for mark in Mark::ALL {
            assert!(json.contains(&format!("\"{}\"", mark.name())), "{json}");
        }
    }

    #[test]
    fn an_unknown_content_leaves_the_duplicate_count_unknown_but_not_the_duplicates_found() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let known = Duplicates::of([Some(&a), Some(&b), Some(&a)]);
        assert_eq!(known.duplicate_contents, Some(1));
        assert_eq!((known.unread_images, known.at_least()), (None, 1));
        let unread = Duplicates::of([Some(&a), None, Some(&a), None, Some(&b)]);
        assert_eq!(
            unread,
            Duplicates {
                duplicate_contents: None,
                unread_images: Some(2),
                duplicate_contents_among_read: Some(1),
            }
        );
        assert_eq!(unread.at_least(), 1);
        assert_eq!(Duplicates::of([None]).at_least(), 0);
        let json = serde_json::to_value(Duplicates::of([Some(&a), None])).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"duplicate_contents": null, "unread_images": 1,
                               "duplicate_contents_among_read": 0})
        );
    }
}
