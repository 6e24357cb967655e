//! `--ground-truth FILE`: labels for any folder or tar, from a CSV or TSV file whose rows name an
//! image (its path relative to `--val`, or its basename) and its class (an index 0-999 or a
//! wnid). The file is the labels: its rows override what a layout says (an ImageFolder's
//! folders, the names of ILSVRC2012 validation files), and an image it does not list is
//! unlabelled. Files named like ILSVRC2012's are still checked against the shipped ground truth
//! by the verdict rule (`eval::trust::check_labels`), so a file cannot relabel the validation set
//! unnoticed. Every defect of the file is one message naming it and the line.
//!
//! A row naming a path (it holds a `/`) names that file only; a row naming a basename names the
//! one image of that basename, and is refused when two images have it (which one it meant cannot
//! be told). The first row is a header only when it cannot be data: its class is neither an
//! index nor a wnid, and its image is not an image file name (`.JPEG`, `.jpg`, `.png`, the only
//! files `--val` lists). Any other bad row is an error, so a typo on line 1 is not dropped unseen.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::{Entry, is_image_name, labels};
use crate::util::safe_file::{self, MAX_LABELS_FILE_BYTES, SafeFileError};

#[derive(Debug, thiserror::Error)]
pub enum GroundTruthError {
    #[error("cannot read the ground-truth file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path}, line {line}: {message}")]
    Line {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "{path} holds no labelled row: each row names an image (its path relative to --val, or its basename), then its class (an index 0-999 or a wnid such as n01440764)"
    )]
    NoRows { path: PathBuf },
}

/// What a record says of the ground-truth file a run was labelled with: it is part of the run's
/// identity (its sha256 enters the run key), so another file is another run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundTruthInfo {
    pub path: String,
    pub sha256: String,
    /// Labelled rows in the file.
    pub rows: usize,
    /// Images of `--val` the file does not list (unlabelled, not scored); `None` in a merged
    /// record, whose shards counted their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlisted: Option<usize>,
}

/// One labelled row.
#[derive(Clone, Debug)]
struct Row {
    /// As written, after trimming and a leading `./`: a path when it holds a `/`.
    key: String,
    label: u16,
    line: u64,
}

impl Row {
    fn is_path(&self) -> bool {
        self.key.contains('/')
    }
}

/// A parsed ground-truth file, and which of its rows the images seen so far matched.
#[derive(Debug)]
pub struct GroundTruth {
    path: PathBuf,
    sha256: String,
    /// In file order.
    rows: Vec<Row>,
    /// The rows naming a path, by that path.
    by_path: RowIndex,
    /// The rows naming a basename, by that basename.
    by_name: RowIndex,
    /// The file of the image each matched row labelled (a tar's, while it is streamed).
    matched: Mutex<HashMap<usize, String>>,
    /// Images seen that no row lists.
    unlisted: AtomicUsize,
}

/// Rows (their place in file order) by the path or basename they name.
type RowIndex = HashMap<String, usize>;

/// The last component of a '/'-separated path.
fn basename(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

impl GroundTruth {
    /// Reads and checks `path`: the delimiter is a tab where the first line holds one, else a
    /// comma; the first row may be a header (see the module's doc).
    pub fn load(path: &Path) -> Result<GroundTruth, GroundTruthError> {
        let unreadable = |reason: String| GroundTruthError::Unreadable {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = safe_file::read_regular(path, MAX_LABELS_FILE_BYTES, "a ground-truth file")
            .map_err(|e: SafeFileError| unreadable(e.reason()))?;
        let sha256 = crate::util::hex::sha256_hex(&bytes);
        let text =
            String::from_utf8(bytes).map_err(|_| unreadable("it is not UTF-8 text".into()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let rows = parse(path, text)?;
        if rows.is_empty() {
            return Err(GroundTruthError::NoRows {
                path: path.to_path_buf(),
            });
        }
        let (by_path, by_name) = index(path, &rows)?;
        Ok(GroundTruth {
            path: path.to_path_buf(),
            sha256,
            rows,
            by_path,
            by_name,
            matched: Mutex::default(),
            unlisted: AtomicUsize::new(0),
        })
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The label the file gives `entry` (found by its path, else by its basename), or `None`
    /// when no row lists it; counts the image as matched or unlisted. A basename row that
    /// matches a second image is an error naming both.
    pub fn label_of(&self, entry: &Entry) -> Result<Option<u16>, GroundTruthError> {
        let found = self
            .by_path
            .get(&entry.file)
            .or_else(|| self.by_name.get(basename(&entry.file)));
        let Some(&index) = found else {
            self.unlisted.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        let row = &self.rows[index];
        let mut matched = self
            .matched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match matched.entry(index) {
            Slot::Vacant(slot) => {
                slot.insert(entry.file.clone());
                Ok(Some(row.label))
            }
            Slot::Occupied(first) if *first.get() == entry.file => Ok(Some(row.label)),
            Slot::Occupied(first) => Err(GroundTruthError::Line {
                path: self.path.clone(),
                line: row.line,
                message: format!(
                    "{} names two images, {} and {}: name each by its path relative to --val",
                    row.key,
                    first.get(),
                    entry.file
                ),
            }),
        }
    }

    /// Images seen so far that no row lists.
    pub fn unlisted(&self) -> usize {
        self.unlisted.load(Ordering::Relaxed)
    }

    /// The first row (in file order) that names no image seen: a typo, or a file meant for
    /// another set. `val` is the dataset's path, for the message.
    pub fn check_all_matched(&self, val: &Path) -> Result<(), GroundTruthError> {
        let matched = self
            .matched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = (0..self.rows.len()).find(|index| !matched.contains_key(index));
        match first.map(|index| &self.rows[index]) {
            None => Ok(()),
            Some(row) => Err(GroundTruthError::Line {
                path: self.path.clone(),
                line: row.line,
                message: format!(
                    "{} is not an image of {} (a row names an image by its path relative to --val, or by its basename)",
                    row.key,
                    val.display()
                ),
            }),
        }
    }

    pub fn info(&self) -> GroundTruthInfo {
        GroundTruthInfo {
            path: self.path.display().to_string(),
            sha256: self.sha256.clone(),
            rows: self.rows.len(),
            unlisted: Some(self.unlisted()),
        }
    }
}

/// The rows by path and by basename. A row listed twice, and a basename row beside a path row of
/// that basename (which file the basename means cannot be told), are errors naming the later line.
fn index(path: &Path, rows: &[Row]) -> Result<(RowIndex, RowIndex), GroundTruthError> {
    let mut by_path = RowIndex::new();
    let mut by_name = RowIndex::new();
    // The first path row of each basename.
    let mut path_of_name: HashMap<&str, usize> = HashMap::new();
    for (index, row) in rows.iter().enumerate() {
        let at = |earlier: usize, message: String| GroundTruthError::Line {
            path: path.to_path_buf(),
            line: row.line,
            message: format!("{message} (first on line {})", rows[earlier].line),
        };
        let name = basename(&row.key);
        let (same_key, same_name) = if row.is_path() {
            (by_path.get(&row.key), by_name.get(name))
        } else {
            (by_name.get(&row.key), path_of_name.get(name))
        };
        if let Some(&earlier) = same_key {
            return Err(at(earlier, format!("{} is listed twice", row.key)));
        }
        if let Some(&earlier) = same_name {
            return Err(at(
                earlier,
                format!(
                    "{} and {} both name an image called {name}: give each image one row, naming it by its path relative to --val",
                    row.key, rows[earlier].key
                ),
            ));
        }
        if row.is_path() {
            by_path.insert(row.key.clone(), index);
            path_of_name.entry(name).or_insert(index);
        } else {
            by_name.insert(row.key.clone(), index);
        }
    }
    Ok((by_path, by_name))
}

/// The labelled rows of `text`, in file order; the first defect is an error naming its line.
fn parse(path: &Path, text: &str) -> Result<Vec<Row>, GroundTruthError> {
    let at = |line: u64, message: String| GroundTruthError::Line {
        path: path.to_path_buf(),
        line,
        message,
    };
    // The first line that holds a row, not a comment, tells the delimiter.
    let first_line = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    let delimiter = if first_line.contains('\t') {
        b'\t'
    } else {
        b','
    };
    let mut rows = Vec::new();
    let mut first = true;
    // One line at a time: csv's own positions skip its comment lines, and a message must name
    // the line an editor shows. (A row is one line: no image path holds a line break.)
    for (index, text_line) in text.lines().enumerate() {
        let line = index as u64 + 1;
        if text_line.trim().is_empty() || text_line.starts_with('#') {
            continue;
        }
        let record = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(text_line.as_bytes())
            .records()
            .next();
        let record = match record {
            Some(Ok(record)) => record,
            Some(Err(e)) => return Err(at(line, format!("not a CSV/TSV row: {e}"))),
            None => continue,
        };
        let fields: Vec<&str> = record.iter().map(str::trim).collect();
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        let may_be_header = std::mem::take(&mut first);
        let (Some(image), Some(class)) = (fields.first(), fields.get(1)) else {
            return Err(at(
                line,
                "a row needs two fields: an image (its path relative to --val, or its basename), then its class (an index 0-999 or a wnid)".into(),
            ));
        };
        let label = match class_of(class) {
            Class::Label(label) => label,
            Class::Other if may_be_header && !is_image_name(basename(image)) => continue,
            Class::Other => {
                return Err(at(
                    line,
                    format!(
                        "{class:?} is neither a class index (0-999) nor a wnid (such as n01440764){}",
                        if may_be_header {
                            "; a first row is read as a header only when its first field is not an image file name (.JPEG, .jpg, .png)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            Class::Invalid(message) => return Err(at(line, message)),
        };
        let key = image.trim_start_matches("./").to_string();
        if basename(&key).is_empty() {
            return Err(at(line, format!("{image:?} names no file")));
        }
        rows.push(Row { key, label, line });
    }
    Ok(rows)
}

enum Class {
    Label(u16),
    /// Neither digits nor wnid-shaped: a header's column name, or a mistake.
    Other,
    /// Shaped like a class but not one.
    Invalid(String),
}

fn class_of(field: &str) -> Class {
    if !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit()) {
        return match field.parse::<u16>() {
            Ok(index) if usize::from(index) < labels::NUM_CLASSES => Class::Label(index),
            _ => Class::Invalid(format!(
                "class index {field} is out of range (0-{})",
                labels::NUM_CLASSES - 1
            )),
        };
    }
    let wnid_shaped = field.len() == 9
        && field.starts_with('n')
        && field[1..].bytes().all(|b| b.is_ascii_digit());
    if !wnid_shaped {
        return Class::Other;
    }
    match labels::class_index(field) {
        Some(index) => Class::Label(index),
        None => Class::Invalid(format!(
            "{field} is not one of the 1000 ImageNet 2012 wnids"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<GroundTruth, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("truth.csv");
        std::fs::write(&path, text).unwrap();
        GroundTruth::load(&path).map_err(|e| e.to_string())
    }

    fn entry(file: &str) -> Entry {
        Entry {
            file: file.into(),
            name: file.rsplit('/').next().unwrap().into(),
            label: None,
        }
    }

    fn label(truth: &GroundTruth, file: &str) -> Option<u16> {
        truth.label_of(&entry(file)).unwrap()
    }

    #[test]
    fn csv_and_tsv_with_or_without_a_header_give_indices_and_wnids() {
        for text in [
            "file,label\ncat.jpg,281\nsub/dog.png,n02085620\n",
            "cat.jpg,281\n./sub/dog.png,n02085620\n",
            "image\tclass\ncat.jpg\t281\nsub/dog.png\tn02085620\textra\n",
            "\u{feff}\"cat.jpg\",281\n# a comment\n\nsub/dog.png,n02085620\n",
            "# made by hand\n\npath,wnid\ncat.jpg,281\nsub/dog.png,n02085620\n",
        ] {
            let truth = load(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(label(&truth, "cats/cat.jpg"), Some(281), "{text:?}");
            assert_eq!(
                label(&truth, "sub/dog.png"),
                labels::class_index("n02085620")
            );
            assert_eq!(label(&truth, "other/dog.png"), None, "a path row");
            assert_eq!(label(&truth, "bird.jpg"), None);
            assert_eq!(truth.unlisted(), 2);
            assert!(truth.check_all_matched(Path::new("/v")).is_ok());
            assert_eq!(truth.info().rows, 2);
        }
    }

    #[test]
    fn every_defect_names_the_file_and_line() {
        for (text, line, needle) in [
            ("a.jpg,1000\n", 1, "class index 1000 is out of range"),
            ("a.jpg,3\nb.jpg,n99999999\n", 2, "n99999999 is not one of"),
            ("a.jpg,3\nb.jpg,cat\n", 2, "neither a class index"),
            ("a.jpg,3\nb.jpg\n", 2, "a row needs two fields"),
            (
                "a.jpg,3\nx/b.jpg,4\na.jpg,5\n",
                3,
                "a.jpg is listed twice (first on line 1)",
            ),
            (
                "y/b.jpg,4\nx/b.jpg,4\nx/b.jpg,5\n",
                3,
                "x/b.jpg is listed twice (first on line 2)",
            ),
            (
                "x/b.jpg,4\nb.jpg,4\n",
                2,
                "b.jpg and x/b.jpg both name an image called b.jpg",
            ),
            (
                "b.jpg,4\nx/b.jpg,4\n",
                2,
                "x/b.jpg and b.jpg both name an image called b.jpg",
            ),
            ("a.jpg,3\nsub/,4\n", 2, "names no file"),
        ] {
            let error = load(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} loaded"));
            assert!(
                error.contains(&format!("truth.csv, line {line}: ")) && error.contains(needle),
                "{text:?}: {error}"
            );
        }
        assert!(
            load("file,label\n")
                .unwrap_err()
                .contains("holds no labelled row")
        );
        let missing = GroundTruth::load(Path::new("/nonexistent/truth.csv")).unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/truth.csv"),
            "{missing}"
        );
    }

    #[test]
    fn a_bad_first_row_naming_an_image_is_an_error_not_a_header() {
        // Its first field is an image file name: data with a bad class, whatever its place.
        for (text, needle) in [
            (
                "ILSVRC2012_val_00000001.JPEG,notaclass\nILSVRC2012_val_00000002.JPEG,970\n",
                "\"notaclass\" is neither a class index",
            ),
            ("sub/photo.PNG,label\n", "\"label\" is neither"),
            ("# a comment\n\nphoto.jpg\tcat\n", "\"cat\" is neither"),
        ] {
            let error = load(text).unwrap_err();
            assert!(
                error.contains(needle)
                    && error.contains(
                        "read as a header only when its first field is not an image file name"
                    ),
                "{text:?}: {error}"
            );
        }
        let error = load("# a comment\n\nphoto.jpg\tcat\n").unwrap_err();
        assert!(error.contains("truth.csv, line 3: "), "{error}");
        // A header is skipped on the first row only.
        let error = load("file,label\nimage,class\n").unwrap_err();
        assert!(error.contains("line 2: \"class\" is neither"), "{error}");
        assert!(!error.contains("header"), "{error}");
    }

    #[test]
    fn path_rows_tell_images_of_one_basename_apart_and_a_basename_matching_two_is_refused() {
        let truth = load("x/b.jpg,4\ny/b.jpg,5\nc.jpg,6\n").unwrap();
        assert_eq!(label(&truth, "x/b.jpg"), Some(4));
        assert_eq!(label(&truth, "y/b.jpg"), Some(5));
        assert_eq!(label(&truth, "z/b.jpg"), None);
        assert_eq!(label(&truth, "x/c.jpg"), Some(6));
        assert_eq!(label(&truth, "x/c.jpg"), Some(6), "the same image again");
        let error = truth.label_of(&entry("y/c.jpg")).unwrap_err().to_string();
        assert!(
            error.contains("truth.csv, line 3: c.jpg names two images, x/c.jpg and y/c.jpg")
                && error.contains("by its path relative to --val"),
            "{error}"
        );
    }

    #[test]
    fn a_row_no_image_matched_is_named() {
        let truth = load("a.jpg,3\nb.jpg,4\n").unwrap();
        label(&truth, "a.jpg");
        let error = truth
            .check_all_matched(Path::new("/data/mine"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("line 2: b.jpg is not an image of /data/mine"),
            "{error}"
        );
    }
}
