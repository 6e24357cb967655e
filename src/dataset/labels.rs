//! ImageNet 2012 validation labels, embedded in the binary (`data/labels/`, sources and licences
//! in `data/labels/README.md`): the ground truth that labels flat folders and tars, class names,
//! ImageNet-ReaL, and the validated label errors.
//!
//! Class index = position of the wnid among the 1000 sorted wnids (torchvision ImageFolder and
//! Keras agree on it). Parsing happens once, on first use.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

pub const NUM_CLASSES: usize = 1000;
pub const NUM_VAL_IMAGES: usize = 50_000;

const GROUND_TRUTH_TSV: &str = include_str!("../../data/labels/val_ground_truth.tsv");
const SYNSETS_TSV: &str = include_str!("../../data/labels/synsets.tsv");
const REAL_JSON: &str = include_str!("../../data/labels/real.json");
const LABEL_ERRORS_CSV: &str = include_str!("../../data/labels/label_errors.csv");

#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("{source_name}, line {line}: {message}")]
    Invalid {
        source_name: String,
        line: usize,
        message: String,
    },
}

struct Synsets {
    wnids: Vec<String>,
    names: Vec<String>,
    index: HashMap<String, u16>,
}

fn synsets() -> &'static Synsets {
    static SYNSETS: OnceLock<Synsets> = OnceLock::new();
    SYNSETS.get_or_init(|| {
        let mut wnids = Vec::with_capacity(NUM_CLASSES);
        let mut names = Vec::with_capacity(NUM_CLASSES);
        for line in SYNSETS_TSV.lines().skip(1).filter(|l| !l.is_empty()) {
            let mut fields = line.split('\t');
            let (_, wnid, name) = (fields.next(), fields.next(), fields.next());
            wnids.push(wnid.unwrap_or_default().to_string());
            names.push(name.unwrap_or_default().to_string());
        }
        let index = wnids
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u16))
            .collect();
        Synsets {
            wnids,
            names,
            index,
        }
    })
}

/// The 1000 wnids, sorted: position = class index.
pub fn wnids() -> &'static [String] {
    &synsets().wnids
}

pub fn class_index(wnid: &str) -> Option<u16> {
    synsets().index.get(wnid).copied()
}

/// The Keras `decode_predictions` name of a class ("tench"). Names are not unique; use the index.
pub fn class_name(index: u16) -> &'static str {
    synsets()
        .names
        .get(usize::from(index))
        .map_or("?", String::as_str)
}

pub fn wnid(index: u16) -> &'static str {
    synsets()
        .wnids
        .get(usize::from(index))
        .map_or("?", String::as_str)
}

/// Ground-truth classes of the 50,000 validation files, in file order (file number - 1).
fn ground_truth() -> &'static [u16] {
    static TRUTH: OnceLock<Vec<u16>> = OnceLock::new();
    TRUTH.get_or_init(|| {
        GROUND_TRUTH_TSV
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|line| {
                line.rsplit('\t')
                    .next()
                    .and_then(|i| i.parse().ok())
                    .unwrap_or(u16::MAX)
            })
            .collect()
    })
}

/// The file number of a canonical validation file name (`ILSVRC2012_val_00000001.JPEG` -> 1).
pub fn val_file_number(file_name: &str) -> Option<usize> {
    let digits = file_name
        .strip_prefix("ILSVRC2012_val_")?
        .strip_suffix(".JPEG")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: usize = digits.parse().ok()?;
    (1..=NUM_VAL_IMAGES).contains(&number).then_some(number)
}

/// Ground-truth class of a validation file, by its basename.
pub fn val_label(file_name: &str) -> Option<u16> {
    let number = val_file_number(file_name)?;
    ground_truth()
        .get(number - 1)
        .copied()
        .filter(|&c| usize::from(c) < NUM_CLASSES)
}

/// Whether an image labelled `label` is the validation file its name says, under its own
/// ground truth: a set of such images is part of the validation set, which full-set numbers
/// can judge by interval.
pub fn is_own_validation_file(file_name: &str, label: u16) -> bool {
    val_label(file_name) == Some(label)
}

/// The canonical name of validation file `number` (1-based).
pub fn val_file_name(number: usize) -> String {
    format!("ILSVRC2012_val_{number:08}.JPEG")
}

/// ImageNet-ReaL label sets, in file order; an empty set means the image is not scored.
pub fn real_labels() -> &'static [Vec<u16>] {
    static REAL: OnceLock<Vec<Vec<u16>>> = OnceLock::new();
    REAL.get_or_init(|| serde_json::from_str(REAL_JSON).unwrap_or_default())
}

/// The 3-of-5 consensus outcome of one validated label error (Northcutt et al. 2021).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consensus {
    /// Workers agreed on another label: `corrected` holds it.
    Correctable,
    MultiLabel,
    Neither,
    NonAgreement,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelError {
    pub file: String,
    pub original: u16,
    pub corrected: Option<u16>,
    pub consensus: Consensus,
}

/// Parses a label-errors CSV (`file,original_index,corrected_index,consensus`), checking every
/// file against the validation set and every class against the ground truth, so that a bad file
/// is refused whole rather than silently scoring the wrong images.
pub fn parse_label_errors(text: &str, source_name: &str) -> Result<Vec<LabelError>, LabelsError> {
    let invalid = |line: usize, message: String| LabelsError::Invalid {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim() == "file,original_index,corrected_index,consensus" => {}
        _ => {
            return Err(invalid(
                1,
                "the header must be `file,original_index,corrected_index,consensus`".into(),
            ));
        }
    }
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (number, line) in lines {
        let line_number = number + 1;
        if line.trim().is_empty() {
            continue;
        }
        let row = parse_label_error_row(line, &mut seen).map_err(|m| invalid(line_number, m))?;
        errors.push(row);
    }
    Ok(errors)
}

/// One row of a label-errors CSV, checked (see [`parse_label_errors`]); `seen` holds the files of
/// the rows before it.
fn parse_label_error_row(line: &str, seen: &mut HashSet<String>) -> Result<LabelError, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let [file, original, corrected, consensus] = fields[..] else {
        return Err(format!(
            "expected 4 comma-separated fields, found {}",
            fields.len()
        ));
    };
    let truth = val_label(file)
        .ok_or_else(|| format!("{file:?} is not an ImageNet 2012 validation file name"))?;
    if !seen.insert(file.to_string()) {
        return Err(format!("{file} is listed twice"));
    }
    let class = |text: &str, what: &str| -> Result<u16, String> {
        text.parse::<u16>()
            .ok()
            .filter(|&c| usize::from(c) < NUM_CLASSES)
            .ok_or_else(|| format!("{what} {text:?} is not a class index in 0..1000"))
    };
    let original = class(original, "original_index")?;
    if original != truth {
        return Err(format!(
            "original_index {original} of {file} is not its ground-truth class {truth}"
        ));
    }
    let corrected = if corrected.is_empty() {
        None
    } else {
        Some(class(corrected, "corrected_index")?)
    };
    let consensus = match consensus {
        "correctable" => Consensus::Correctable,
        "multi-label" => Consensus::MultiLabel,
        "neither" => Consensus::Neither,
        "non-agreement" => Consensus::NonAgreement,
        other => {
            return Err(format!(
                "consensus {other:?} is not one of correctable, multi-label, neither, non-agreement"
            ));
        }
    };
    if (consensus == Consensus::Correctable) != corrected.is_some() {
        return Err("a corrected_index is given exactly for `correctable` rows".into());
    }
    Ok(LabelError {
        file: file.to_string(),
        original,
        corrected,
        consensus,
    })
}

/// The validated label errors shipped with zoorepro (cleanlab/label-errors, 3-of-5 consensus).
pub fn shipped_label_errors() -> &'static [LabelError] {
    static ERRORS: OnceLock<Vec<LabelError>> = OnceLock::new();
    ERRORS.get_or_init(|| {
        parse_label_errors(LABEL_ERRORS_CSV, "data/labels/label_errors.csv").unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ground_truth_has_50_000_files_and_1000_classes_of_50() {
        assert_eq!(ground_truth().len(), NUM_VAL_IMAGES);
        assert_eq!(wnids().len(), NUM_CLASSES);
        assert!(wnids().windows(2).all(|w| w[0] < w[1]), "wnids are sorted");
        let mut per_class = [0usize; NUM_CLASSES];
        for &class in ground_truth() {
            per_class[usize::from(class)] += 1;
        }
        assert!(per_class.iter().all(|&n| n == 50));
        assert_eq!(val_label("ILSVRC2012_val_00000001.JPEG"), Some(65));
        assert_eq!(val_label("ILSVRC2012_val_00050000.JPEG"), Some(355));
        assert_eq!(class_name(0), "tench");
        assert_eq!(wnid(65), "n01751748");
        assert_eq!(class_index("n01751748"), Some(65));
    }

    #[test]
    fn only_canonical_validation_names_have_labels() {
        for name in [
            "ILSVRC2012_val_00000000.JPEG",
            "ILSVRC2012_val_00050001.JPEG",
            "ILSVRC2012_val_1.JPEG",
            "ILSVRC2012_val_00000001.jpeg",
            "foo.JPEG",
        ] {
            assert_eq!(val_label(name), None, "{name}");
        }
        assert_eq!(val_file_name(7), "ILSVRC2012_val_00000007.JPEG");
    }

    #[test]
    fn real_labels_score_46_837_images() {
        assert_eq!(real_labels().len(), NUM_VAL_IMAGES);
        assert_eq!(
            real_labels().iter().filter(|set| !set.is_empty()).count(),
            46_837
        );
    }

    #[test]
    fn shipped_label_errors_are_the_paper_counts() {
        let errors = shipped_label_errors();
        assert_eq!(errors.len(), 2_916);
        assert_eq!(
            errors
                .iter()
                .filter(|e| e.consensus == Consensus::Correctable)
                .count(),
            1_428
        );
        assert!(errors.iter().all(|e| e.corrected != Some(e.original)));
    }

    #[test]
    fn bad_label_error_files_are_refused_with_the_line() {
        let header = "file,original_index,corrected_index,consensus\n";
        let cases = [
            (
                "ILSVRC2012_val_00000033.JPEG,150,1000,correctable",
                "0..1000",
            ),
            (
                "ILSVRC2012_val_00000033.JPEG,151,360,correctable",
                "ground-truth",
            ),
            (
                "ILSVRC2012_val_99999999.JPEG,150,360,correctable",
                "validation file",
            ),
            ("ILSVRC2012_val_00000033.JPEG,150,360,maybe", "consensus"),
            (
                "ILSVRC2012_val_00000033.JPEG,150,,correctable",
                "corrected_index",
            ),
            ("ILSVRC2012_val_00000033.JPEG,150", "4 comma-separated"),
        ];
        for (row, needle) in cases {
            let error = parse_label_errors(&format!("{header}{row}\n"), "mine.csv")
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("mine.csv, line 2") && error.contains(needle),
                "{row}: {error}"
            );
        }
        assert!(parse_label_errors("a,b\n", "x.csv").is_err());
        let ok = parse_label_errors(
            &format!("{header}ILSVRC2012_val_00000033.JPEG,150,360,correctable\n"),
            "ok.csv",
        );
        assert_eq!(ok.unwrap()[0].corrected, Some(360));
    }
}
