//! The `--val` sources: an ImageFolder tree, ImageNetV2's class-index tree, a flat folder of
//! validation files, or the original
//! `ILSVRC2012_img_val.tar` read as a stream (never extracted, so hostile member paths are never
//! written anywhere).
//!
//! With `--ground-truth`, whose rows give the labels, a folder of any other shape is read at every
//! depth (layout `tree`).
//!
//! Dataset order is the order published caches and torchvision use: for folders, classes sorted by
//! wnid then files sorted by name (byte order, like Python's `sorted`); for a tar, archive order.
//! An image's identity is its basename (`ILSVRC2012_val_00000001.JPEG`), the same in every layout.
//! Two images of one basename are refused, except in a folder labelled by `--ground-truth`, where
//! each of them is named by its path relative to `--val` instead (`a/x.jpg`, `b/x.jpg`): the
//! store keys a run's images by name, and a name must never stand for two files.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

mod folder;
mod ground_truth;
pub mod labels;
mod named_sets;

mod shard;
mod skipped;
mod tar_stream;

pub use ground_truth::{GroundTruth, GroundTruthError, GroundTruthInfo};
pub use named_sets::{ClassSubset, LAYOUT_SET_NAMES, class_subset, layout_set_name};
pub use shard::Shard;
pub use skipped::{ArchiveEnd, SkipLog, SkipReason, SkippedEntries};
pub(crate) use tar_stream::normalised_member_path;

/// A member larger than this is not an ImageNet JPEG; defined with every other file limit.
pub use crate::util::safe_file::MAX_IMAGE_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(
        "{path}: no such file or directory (pass --val an ImageFolder tree, a flat folder or ILSVRC2012_img_val.tar)"
    )]
    Missing { path: PathBuf },
    #[error("{path} is empty: it holds no .JPEG/.jpg/.png images")]
    Empty { path: PathBuf },
    #[error(
        "{path} holds no images at its top level, and its folders are not one per class (a wnid such as n01440764, or a class index 0 ... 999); to read a folder of any shape, label its images with --ground-truth FILE"
    )]
    NoLayout { path: PathBuf },
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "{path}: folder {folder:?} is not an ImageNet 2012 wnid; an ImageFolder tree has one folder per wnid (n01440764, ...)"
    )]
    UnknownClassFolder { path: PathBuf, folder: String },
    #[error(
        "{path}: folder {folder:?} is not a class index; an ImageNetV2 tree has one folder per class index (0 ... 999)"
    )]
    UnknownClassIndexFolder { path: PathBuf, folder: String },
    #[error(
        "{path}: its name says it is {set}, but folder {folder:?} is not one of {set}'s 200 classes; rename the folder if it is another set"
    )]
    OutsideSubset {
        path: PathBuf,
        set: &'static str,
        folder: String,
    },
    #[error(
        "{path}: two images are named {name} ({first} and {second}); the basename identifies an image in the store"
    )]
    DuplicateName {
        path: PathBuf,
        name: String,
        first: String,
        second: String,
    },
    #[error(
        "{path} is not a readable tar archive or is truncated ({reason}){after}; re-download or re-copy it"
    )]
    BadTar {
        path: PathBuf,
        reason: String,
        after: String,
    },
    #[error(transparent)]
    GroundTruth(#[from] GroundTruthError),
    #[error(
        "{path} is a file but not a tar archive ({what}); pass --val an ImageFolder tree, a flat folder of images, or ILSVRC2012_img_val.tar (.tar.gz)"
    )]
    NotAnArchive { path: PathBuf, what: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    ImageFolder,
    /// ImageNetV2's layout: one folder per class index, `0` to `999`.
    ClassIndexFolder,
    Flat,
    /// A folder of any other shape, read at every depth: only with `--ground-truth`.
    Tree,
    Tar,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::ImageFolder => "image-folder",
            SourceKind::ClassIndexFolder => "class-index-folder",
            SourceKind::Flat => "flat",
            SourceKind::Tree => "tree",
            SourceKind::Tar => "tar",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to `--val` ('/'-separated), or the member path inside a tar.
    pub file: String,
    /// The image's identity across layouts and in the store: its basename, or, in a folder
    /// labelled by `--ground-truth` where another image has the same basename, `file`.
    pub name: String,
    pub label: Option<u16>,
}

#[derive(Debug)]
pub struct Sample {
    pub entry: Entry,
    /// False when the caller's `wanted` said no: the bytes were not read (cached already).
    pub wanted: bool,
    /// The encoded image, or why it could not be read (the caller counts it as failed).
    pub bytes: Result<Vec<u8>, String>,
}

impl Sample {
    /// Makes the sample unreadable when its name holds a control character (a line break, tab,
    /// escape...): such a name would let one name pass for several in the image set (or a line of
    /// a report for another). `verify` and the Python `Loader` apply the same rule.
    pub fn refuse_control_characters(&mut self) {
        if self.entry.name.chars().any(char::is_control) {
            self.bytes = Err(
                "its file name holds a control character (a line break, tab, escape...), which would make the image set ambiguous: rename the file".into(),
            );
        }
    }
}

pub struct Dataset {
    root: PathBuf,
    kind: SourceKind,
    /// Folders: every image, in dataset order, with its absolute path. Tars: listed while streaming.
    listing: Vec<(Entry, PathBuf)>,
    /// Every entry left out, by reason (for a tar, complete once it has been streamed).
    skipped: SkipLog,
    /// How a tar ended, once streamed to its end.
    archive_end: Arc<Mutex<Option<ArchiveEnd>>>,
    /// `--ground-truth`: the labels of every image (a folder's are applied to its listing, a
    /// tar's as it is streamed).
    ground_truth: Option<Arc<GroundTruth>>,
}

pub fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.starts_with('.')
        && (lower.ends_with(".jpeg") || lower.ends_with(".jpg") || lower.ends_with(".png"))
}

impl Dataset {
    pub fn open(path: &Path) -> Result<Dataset, DatasetError> {
        Dataset::open_labelled(path, None)
    }

    /// Opens `path`, its images labelled by `ground_truth` when one is given (`--ground-truth`):
    /// the file's rows override the layout's labels, and an image it does not list is
    /// unlabelled. Then a folder may have any shape, and images of one basename are named by
    /// their paths. In a folder every row must name one of its images; a tar's rows are checked
    /// once it is streamed ([`Dataset::check_ground_truth`]).
    pub fn open_labelled(
        path: &Path,
        ground_truth: Option<GroundTruth>,
    ) -> Result<Dataset, DatasetError> {
        let Some(truth) = ground_truth else {
            return Dataset::open_layout(path, false);
        };
        let mut dataset = Dataset::open_layout(path, true)?;
        if dataset.kind != SourceKind::Tar {
            folder::name_shared_basenames_by_path(&mut dataset.listing);
            for (entry, _) in &mut dataset.listing {
                entry.label = truth.label_of(entry)?;
            }
            truth.check_all_matched(path)?;
        }
        dataset.ground_truth = Some(Arc::new(truth));
        dataset.check_subset()?;
        Ok(dataset)
    }

    /// After a tar was streamed to its end: every row of `--ground-truth` named one of its
    /// members. Folders were checked when opened.
    pub fn check_ground_truth(&self) -> Result<(), DatasetError> {
        match &self.ground_truth {
            Some(truth) if self.kind == SourceKind::Tar => Ok(truth.check_all_matched(&self.root)?),
            _ => Ok(()),
        }
    }

    /// What a record says of `--ground-truth` (its path, sha256 and rows), if one labels the set.
    pub fn ground_truth(&self) -> Option<GroundTruthInfo> {
        self.ground_truth.as_ref().map(|truth| truth.info())
    }

    /// The layout at `path` and its images; `any_shape` (`--ground-truth` labels them) lets a
    /// folder of any shape through, and images of one basename (named by path by the caller).
    fn open_layout(path: &Path, any_shape: bool) -> Result<Dataset, DatasetError> {
        // `metadata` follows symlinks; a dangling link or a loop reads as missing/unreadable.
        let metadata = fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DatasetError::Missing {
                path: path.to_path_buf(),
            },
            _ => DatasetError::Unreadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            },
        })?;
        let skipped = SkipLog::default();
        if metadata.is_file() {
            check_archive(path)?;
            return Ok(Dataset {
                root: path.to_path_buf(),
                kind: SourceKind::Tar,
                listing: Vec::new(),
                skipped,
                archive_end: Arc::default(),
                ground_truth: None,
            });
        }
        let top = folder::sorted_dir(path)?;
        let (kind, listing) = folder::list(path, top, any_shape, &skipped)?;
        if listing.is_empty() {
            return Err(DatasetError::Empty {
                path: path.to_path_buf(),
            });
        }
        if !any_shape {
            check_unique_names(path, listing.iter().map(|(entry, _)| entry))?;
        }
        let dataset = Dataset {
            root: path.to_path_buf(),
            kind,
            listing,
            skipped,
            archive_end: Arc::default(),
            ground_truth: None,
        };
        dataset.check_subset()?;
        Ok(dataset)
    }

    /// On a 200-class set, an image of another class could never be predicted right: refused.
    fn check_subset(&self) -> Result<(), DatasetError> {
        let (Some(set), Some(subset)) = (self.layout_set_name(), self.class_subset()) else {
            return Ok(());
        };
        let outside = self
            .listing
            .iter()
            .find(|(entry, _)| entry.label.is_some_and(|label| !subset.contains(label)));
        match outside {
            None => Ok(()),
            Some((entry, _)) => Err(DatasetError::OutsideSubset {
                path: self.root.clone(),
                set,
                folder: entry.file.split('/').next().unwrap_or_default().to_string(),
            }),
        }
    }

    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The name of the set its layout and root's name say it is (ImageNetV2, -Sketch, -A, -R).
    pub fn layout_set_name(&self) -> Option<&'static str> {
        layout_set_name(self.kind.name(), &self.root)
    }

    /// The classes that compete on this set, where it holds fewer than the 1000 (ImageNet-A, -R).
    pub fn class_subset(&self) -> Option<&'static ClassSubset> {
        self.layout_set_name().and_then(class_subset)
    }

    /// Entries in dataset order; `None` for a tar, which is only known by streaming it.
    pub fn entries(&self) -> Option<Vec<&Entry>> {
        (self.kind != SourceKind::Tar)
            .then(|| self.listing.iter().map(|(entry, _)| entry).collect())
    }

    /// Files and members skipped so far, for every reason (for a tar, complete once it has been
    /// streamed).
    pub fn ignored_files(&self) -> usize {
        self.skipped.total()
    }

    /// Tar members skipped because they are links (never followed); 0 for folders.
    pub fn skipped_links(&self) -> usize {
        self.skipped.count(SkipReason::Link)
    }

    /// What was skipped, by reason, with the first names of each.
    pub fn skipped(&self) -> Vec<SkippedEntries> {
        self.skipped
            .entries()
            .into_iter()
            .map(|(_, skipped)| skipped)
            .collect()
    }

    /// The log of what was skipped, shared: it stays current while the dataset is streamed on
    /// another thread (the Python `Loader`'s, which lists it as `verify`'s record does).
    pub fn skip_log(&self) -> SkipLog {
        self.skipped.clone()
    }

    /// How a tar ended, once it has been streamed to its end; `None` for folders.
    pub fn archive_end(&self) -> Option<ArchiveEnd> {
        *self
            .archive_end
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The warnings a run over this source prints once it has been read: entries skipped for a
    /// reason other than not being images (those are only counted), and a tar that ended without
    /// its end-of-archive marker. Names are escaped for the terminal.
    pub fn warnings(&self) -> Vec<String> {
        let root = crate::util::escape::terminal(&self.root.display().to_string());
        let mut warnings: Vec<String> = self
            .skipped
            .entries()
            .into_iter()
            .filter(|(reason, _)| *reason != SkipReason::NotAnImage)
            .map(|(reason, skipped)| {
                let first: Vec<String> = skipped
                    .first
                    .iter()
                    .take(3)
                    .map(|name| crate::util::escape::terminal(name))
                    .collect();
                let more = if skipped.count > first.len() {
                    ", ..."
                } else {
                    ""
                };
                format!(
                    "{root}: skipped {} {} ({}{more}); the record lists them under dataset.skipped",
                    skipped.count,
                    reason.explanation(),
                    first.join(", "),
                )
            })
            .collect();
        if let Some(truth) = &self.ground_truth
            && truth.unlisted() > 0
        {
            warnings.push(format!(
                "{root}: {} images are not listed in the ground-truth file {}: they are unlabelled, and not scored",
                truth.unlisted(),
                crate::util::escape::terminal(&truth.path().display().to_string())
            ));
        }
        if let Some(warning) = self.archive_end().and_then(ArchiveEnd::warning) {
            warnings.push(format!(
                "{root} {warning} (recorded as dataset.archive_end)"
            ));
        }
        warnings
    }

    /// The images of `shard` (every image when `None`) in dataset order, as `verify` reads them:
    /// images of other shards are neither read nor yielded.
    pub fn stream_shard(
        &self,
        shard: Option<Shard>,
    ) -> Result<impl Iterator<Item = Result<Sample, DatasetError>> + Send + '_, DatasetError> {
        let in_shard = move |name: &str| shard.is_none_or(|s| s.contains(name));
        Ok(self
            .stream(None, move |entry: &Entry| in_shard(&entry.name))?
            .filter(move |sample| sample.as_ref().map_or(true, |s| in_shard(&s.entry.name))))
    }

    /// Yields at most `limit` images in dataset order; bytes are read only where `wanted` says so.
    /// An unreadable folder image is a sample with an `Err` (counted as failed); a broken tar is a
    /// `DatasetError` and ends the stream, since nothing after the damage can be trusted.
    pub fn stream<'a>(
        &'a self,
        limit: Option<usize>,
        wanted: impl Fn(&Entry) -> bool + Send + 'static,
    ) -> Result<Box<dyn Iterator<Item = Result<Sample, DatasetError>> + Send + 'a>, DatasetError>
    {
        let limit = limit.unwrap_or(usize::MAX);
        if self.kind != SourceKind::Tar {
            return Ok(Box::new(self.listing.iter().take(limit).map(
                move |(entry, path)| {
                    let wanted = wanted(entry);
                    let bytes = if wanted {
                        read_image(path)
                    } else {
                        Ok(Vec::new())
                    };
                    Ok(Sample {
                        entry: entry.clone(),
                        wanted,
                        bytes,
                    })
                },
            )));
        }
        let stream = tar_stream::stream(
            &self.root,
            limit,
            Box::new(wanted),
            self.skipped.clone(),
            Arc::clone(&self.archive_end),
        )?;
        let Some(truth) = self.ground_truth.clone() else {
            return Ok(stream);
        };
        Ok(Box::new(stream.map(move |sample| {
            let mut sample = sample?;
            sample.entry.label = truth.label_of(&sample.entry)?;
            Ok(sample)
        })))
    }
}

/// A file given as `--val` is read as a tar: one that is plainly something else (an image, a
/// text, an empty file) is refused now, naming what it looks like, rather than streamed into a
/// "truncated archive, re-download it" message that would send the user after the wrong fix.
fn check_archive(path: &Path) -> Result<(), DatasetError> {
    use std::io::Read as _;
    let unreadable = |e: std::io::Error| DatasetError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut head = Vec::with_capacity(512);
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(512)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    match archive_kind(&head) {
        Ok(()) => Ok(()),
        Err(what) => Err(DatasetError::NotAnArchive {
            path: path.to_path_buf(),
            what: what.to_string(),
        }),
    }
}

/// Whether the first 512 bytes of a file open a gzip stream or a tar header (POSIX `ustar`, or
/// an old-style header with a valid checksum); else what the file looks like.
fn archive_kind(head: &[u8]) -> Result<(), &'static str> {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(());
    }
    if head.len() == 512 {
        if &head[257..262] == b"ustar" {
            return Ok(());
        }
        let stored = std::str::from_utf8(&head[148..156])
            .ok()
            .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
            .and_then(|s| u32::from_str_radix(s, 8).ok());
        let sum: u32 = head
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        if stored == Some(sum) && head[0] != 0 {
            return Ok(());
        }
    }
    Err(match head {
        [] => "it is empty",
        [0xFF, 0xD8, ..] => "it is a JPEG image",
        [0x89, b'P', b'N', b'G', ..] => "it is a PNG image",
        _ if head.len() < 512 => "it is shorter than one tar header",
        _ => "it starts with no tar header",
    })
}

fn read_image(path: &Path) -> Result<Vec<u8>, String> {
    // Devices and FIFOs are refused (they would read without end or block the run).
    crate::util::safe_file::read_regular(path, MAX_IMAGE_BYTES, "an image file")
        .map_err(|e| e.to_string())
}

fn check_unique_names<'a>(
    path: &Path,
    entries: impl Iterator<Item = &'a Entry>,
) -> Result<(), DatasetError> {
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for entry in entries {
        if let Some(first) = seen.insert(&entry.name, &entry.file) {
            return Err(DatasetError::DuplicateName {
                path: path.to_path_buf(),
                name: entry.name.clone(),
                first: first.to_string(),
                second: entry.file.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::shared;

    fn collect(dataset: &Dataset, limit: Option<usize>) -> Result<Vec<Sample>, DatasetError> {
        dataset.stream(limit, |_| true)?.collect()
    }

    fn build_tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, name, bytes.as_slice())
                .unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn image_folder_order_and_labels_match_the_oracle() {
        let Some(shared) = shared() else { return };
        let dataset = Dataset::open(&shared.join("imagenet-sample")).unwrap();
        assert_eq!(dataset.kind(), SourceKind::ImageFolder);
        let entries = dataset.entries().unwrap();
        assert_eq!(entries.len(), 100);
        assert_eq!(entries[0].file, "n01534433/ILSVRC2012_val_00000247.JPEG");
        assert_eq!(entries[0].label, Some(13));
        assert!(
            entries
                .iter()
                .all(|e| e.label == labels::val_label(&e.name)),
            "folder labels agree with the ground truth"
        );
        assert_eq!(dataset.ignored_files(), 2, "SOURCES.md and manifest.tsv");
        let samples = collect(&dataset, Some(3)).unwrap();
        assert_eq!(samples.len(), 3);
        assert!(
            samples[0]
                .bytes
                .as_ref()
                .unwrap()
                .starts_with(&[0xFF, 0xD8])
        );
    }

    #[test]
    fn imagenetv2_class_index_folders_label_by_folder_number() {
        let Some(shared) = shared() else { return };
        // The sample rearranged as ImageNetV2 lays it out: one folder per class index.
        let dir = tempfile::tempdir().unwrap();
        let v2 = dir.path().join("imagenetv2-matched-frequency-format-val");
        let folder = Dataset::open(&shared.join("imagenet-sample")).unwrap();
        for (entry, path) in &folder.listing {
            let class = v2.join(entry.label.unwrap().to_string());
            fs::create_dir_all(&class).unwrap();
            std::os::unix::fs::symlink(path, class.join(&entry.name)).unwrap();
        }
        let dataset = Dataset::open(&v2).unwrap();
        assert_eq!(dataset.kind(), SourceKind::ClassIndexFolder);
        assert_eq!(
            dataset.layout_set_name(),
            Some("imagenetv2-matched-frequency")
        );
        assert_eq!(folder.layout_set_name(), None);
        assert_eq!(dataset.kind().name(), "class-index-folder");
        let entries = dataset.entries().unwrap();
        assert_eq!(entries.len(), 100);
        assert!(
            entries
                .iter()
                .all(|e| e.label == labels::val_label(&e.name))
        );
        // Numeric class order: folder 13 before folder 100.
        let classes: Vec<u16> = entries.iter().map(|e| e.label.unwrap()).collect();
        assert!(classes.windows(2).all(|w| w[0] <= w[1]), "{classes:?}");

        fs::create_dir(v2.join("007")).unwrap();
        let odd = Dataset::open(&v2).err().unwrap().to_string();
        assert!(
            odd.contains("\"007\"") && odd.contains("class index"),
            "{odd}"
        );
    }

    #[test]
    fn flat_folder_is_labelled_by_the_ground_truth() {
        let Some(shared) = shared() else { return };
        let dataset = Dataset::open(&shared.join("imagenet-val")).unwrap();
        assert_eq!(dataset.kind(), SourceKind::Flat);
        let entries = dataset.entries().unwrap();
        assert_eq!(entries.len(), 100);
        assert_eq!(entries[0].name, "ILSVRC2012_val_00000001.JPEG");
        assert_eq!(entries[0].label, Some(65));
    }

    #[test]
    fn unwanted_images_are_not_read() {
        let Some(shared) = shared() else { return };
        let dataset = Dataset::open(&shared.join("imagenet-val")).unwrap();
        let samples: Vec<Sample> = dataset
            .stream(Some(4), |e| e.name.ends_with("02.JPEG"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(samples.iter().filter(|s| s.wanted).count(), 1);
        assert!(
            samples
                .iter()
                .filter(|s| !s.wanted)
                .all(|s| s.bytes.as_ref().unwrap().is_empty())
        );
    }

    #[test]
    fn tar_link_members_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let mut header = tar::Header::new_gnu();
        header.set_size(jpeg.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, "ILSVRC2012_val_00000001.JPEG", &jpeg[..])
            .unwrap();
        for (kind, name) in [
            (tar::EntryType::Symlink, "ILSVRC2012_val_00000002.JPEG"),
            (tar::EntryType::Link, "ILSVRC2012_val_00000003.JPEG"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(0);
            builder
                .append_link(&mut header, name, "ILSVRC2012_val_00000001.JPEG")
                .unwrap();
        }
        let path = dir.path().join("val.tar");
        fs::write(&path, builder.into_inner().unwrap()).unwrap();
        let dataset = Dataset::open(&path).unwrap();
        let samples: Vec<Sample> = dataset
            .stream(None, |_| true)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(dataset.skipped_links(), 2);
        assert_eq!(dataset.ignored_files(), 2);
    }

    #[test]
    fn tar_streams_like_the_flat_folder_and_ignores_hostile_paths() {
        let dir = tempfile::tempdir().unwrap();
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let tar_bytes = build_tar(&[
            ("ILSVRC2012_val_00000001.JPEG".into(), jpeg.clone()),
            ("README.txt".into(), b"hello".to_vec()),
            ("sub/ILSVRC2012_val_00000002.JPEG".into(), jpeg.clone()),
        ]);
        // A member path that climbs out: build the header by hand, as a hostile archive would.
        let mut hostile = tar_bytes.clone();
        let end = hostile.len() - 1024;
        hostile.truncate(end);
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..33].copy_from_slice(b"../../ILSVRC2012_val_00000003.JPE");
        header.set_size(jpeg.len() as u64);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        hostile.extend_from_slice(header.as_bytes());
        let mut data = jpeg.clone();
        data.resize(512, 0);
        hostile.extend_from_slice(&data);
        hostile.extend_from_slice(&[0u8; 1024]);
        let path = dir.path().join("val.tar");
        fs::write(&path, &hostile).unwrap();

        let dataset = Dataset::open(&path).unwrap();
        assert_eq!(dataset.kind(), SourceKind::Tar);
        assert!(dataset.entries().is_none());
        let samples = collect(&dataset, None).unwrap();
        let names: Vec<&str> = samples.iter().map(|s| s.entry.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ILSVRC2012_val_00000001.JPEG",
                "ILSVRC2012_val_00000002.JPEG"
            ]
        );
        assert_eq!(samples[1].entry.file, "sub/ILSVRC2012_val_00000002.JPEG");
        assert_eq!(samples[0].entry.label, Some(65));
        assert_eq!(samples[0].bytes.as_ref().unwrap(), &jpeg);
        assert_eq!(dataset.ignored_files(), 2, "README.txt and the .JPE member");
        assert!(
            !dir.path()
                .parent()
                .unwrap()
                .join("ILSVRC2012_val_00000003.JPE")
                .exists()
        );
        assert_eq!(collect(&dataset, Some(1)).unwrap().len(), 1);
    }

    #[test]
    fn tars_cut_inside_data_are_errors_and_cuts_between_members_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<(String, Vec<u8>)> = (1..=3)
            .map(|i| (labels::val_file_name(i), vec![0xFFu8; 3000]))
            .collect();
        let whole = build_tar(&files);
        let boundary = 512 + 3072;
        let cut = |label: &str, len: usize| {
            let path = dir.path().join(format!("{label}.tar"));
            fs::write(&path, &whole[..len]).unwrap();
            let dataset = Dataset::open(&path).unwrap();
            (collect(&dataset, None), dataset.archive_end(), path)
        };
        let (result, end, path) = cut("inside-data", 512 + 1500);
        let error = result.unwrap_err().to_string();
        assert!(error.contains(&path.display().to_string()) && error.contains("truncated"));
        assert_eq!(end, None);
        // GNU tar and Python's tarfile read these to the cut; so does zoorepro, and says so.
        for (label, len, expected) in [
            ("inside-header", boundary + 100, ArchiveEnd::CutInHeader),
            ("at-boundary", boundary, ArchiveEnd::MissingMarker),
            (
                "lone-zero-block",
                whole.len() - 512,
                ArchiveEnd::LoneZeroBlock,
            ),
        ] {
            let (result, end, _) = cut(label, len);
            let samples = result.unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(end, Some(expected), "{label}");
            assert!(!samples.is_empty(), "{label}");
        }
        let whole_path = dir.path().join("whole.tar");
        fs::write(&whole_path, &whole).unwrap();
        let dataset = Dataset::open(&whole_path).unwrap();
        assert_eq!(
            collect(&dataset, None).unwrap().len(),
            3,
            "a whole archive passes"
        );
        assert_eq!(dataset.archive_end(), Some(ArchiveEnd::Marker));
        assert!(dataset.warnings().is_empty());
        let not_tar = dir.path().join("notes.tar");
        fs::write(&not_tar, vec![b'x'; 2048]).unwrap();
        let refused = Dataset::open(&not_tar).err().unwrap().to_string();
        assert!(
            refused.contains("not a tar archive (it starts with no tar header)")
                && !refused.contains("re-download"),
            "{refused}"
        );
        let image = dir.path().join("photo.jpg");
        fs::write(&image, [0xFF, 0xD8, 0xFF, 0xE0, 0, 16]).unwrap();
        let refused = Dataset::open(&image).err().unwrap().to_string();
        assert!(refused.contains("it is a JPEG image"), "{refused}");
        assert!(archive_kind(&[]).is_err());
    }

    #[test]
    fn symlinked_folders_are_followed_and_loops_do_not_hang() {
        let Some(shared) = shared() else { return };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("val");
        fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(
            shared.join("imagenet-sample/n01534433"),
            root.join("n01534433"),
        )
        .unwrap();
        fs::create_dir(root.join("n01632777")).unwrap();
        std::os::unix::fs::symlink(
            shared.join("imagenet-sample/n01632777/ILSVRC2012_val_00000052.JPEG"),
            root.join("n01632777/ILSVRC2012_val_00000052.JPEG"),
        )
        .unwrap();
        // A loop and a dangling link, both named like images.
        std::os::unix::fs::symlink(
            root.join("n01632777/loop.JPEG"),
            root.join("n01632777/loop.JPEG"),
        )
        .unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("n01632777/dangling.jpg"))
            .unwrap();
        let dataset = Dataset::open(&root).unwrap();
        let samples = collect(&dataset, None).unwrap();
        assert_eq!(samples.len(), 4);
        let failed: Vec<&str> = samples
            .iter()
            .filter(|s| s.bytes.is_err())
            .map(|s| s.entry.name.as_str())
            .collect();
        assert_eq!(failed, ["dangling.jpg", "loop.JPEG"]);
    }

    /// `text` as a ground-truth file in `dir`.
    fn truth(dir: &Path, text: &str) -> GroundTruth {
        let path = dir.join("truth.csv");
        fs::write(&path, text).unwrap();
        GroundTruth::load(&path).unwrap()
    }

    fn files_and_names(dataset: &Dataset) -> Vec<(String, String, Option<u16>)> {
        dataset
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.file.clone(), e.name.clone(), e.label))
            .collect()
    }

    #[test]
    fn with_ground_truth_a_folder_of_any_shape_is_read_at_every_depth() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mine");
        for folder in ["a/b", "c", ".hidden"] {
            fs::create_dir_all(root.join(folder)).unwrap();
        }
        for file in ["a/b/x.jpg", "c/y.png", "top.JPEG", ".hidden/z.jpg"] {
            fs::write(root.join(file), b"\xFF\xD8").unwrap();
        }
        fs::write(root.join("c/notes.txt"), b"notes").unwrap();
        std::os::unix::fs::symlink(&root, root.join("c/back")).unwrap();
        // A second way to a folder listed already: read once, where it is first reached.
        std::os::unix::fs::symlink(root.join("a"), root.join("c/twin")).unwrap();
        let labelled = |text: &str| Dataset::open_labelled(&root, Some(truth(dir.path(), text)));
        let dataset = labelled("a/b/x.jpg,1\ny.png,2\ntop.JPEG,3\n").unwrap();
        assert_eq!(dataset.kind(), SourceKind::Tree);
        assert_eq!(dataset.kind().name(), "tree");
        let named = |file: &str, label| {
            (
                file.to_string(),
                file.rsplit('/').next().unwrap().to_string(),
                Some(label),
            )
        };
        assert_eq!(
            files_and_names(&dataset),
            [
                named("a/b/x.jpg", 1),
                named("c/y.png", 2),
                named("top.JPEG", 3)
            ]
        );
        let skipped: Vec<(String, Vec<String>)> = dataset
            .skipped()
            .into_iter()
            .map(|s| (s.reason, s.first))
            .collect();
        assert_eq!(
            skipped,
            [
                (
                    "not-an-image".to_string(),
                    vec![".hidden".to_string(), "c/notes.txt".into()]
                ),
                (
                    "repeated-folder".to_string(),
                    vec!["c/back".to_string(), "c/twin".to_string()]
                ),
            ]
        );
        // A row that names no image is still refused, a path row naming a file elsewhere too.
        let error = labelled("b/x.jpg,1\n").err().unwrap().to_string();
        assert!(
            error.contains("line 1: b/x.jpg is not an image of"),
            "{error}"
        );
        // Without a ground-truth file the layout is unknown: said so, and what to do.
        fs::remove_file(root.join("top.JPEG")).unwrap();
        let error = Dataset::open(&root).err().unwrap().to_string();
        assert!(
            error.contains("holds no images at its top level")
                && error.contains("--ground-truth FILE"),
            "{error}"
        );
        // A class tree with another folder in it is read whole, as any folder is.
        fs::create_dir(root.join("n01440764")).unwrap();
        fs::write(root.join("n01440764/w.jpg"), b"\xFF\xD8").unwrap();
        let dataset = labelled("w.jpg,0\nx.jpg,1\n").unwrap();
        assert_eq!(dataset.kind(), SourceKind::Tree);
        assert_eq!(dataset.entries().unwrap().len(), 3);
        assert!(
            Dataset::open(&root)
                .err()
                .unwrap()
                .to_string()
                .contains("\"a\" is not an ImageNet 2012 wnid")
        );
    }

    #[test]
    fn with_ground_truth_images_of_one_basename_are_named_by_their_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mine");
        for folder in ["a", "b"] {
            fs::create_dir_all(root.join(folder)).unwrap();
            fs::write(root.join(folder).join("x.jpg"), folder).unwrap();
        }
        fs::write(root.join("a/y.jpg"), b"y").unwrap();
        let labelled = |text: &str| Dataset::open_labelled(&root, Some(truth(dir.path(), text)));
        let dataset = labelled("a/x.jpg,1\nb/x.jpg,2\ny.jpg,3\n").unwrap();
        let entry =
            |file: &str, name: &str, label| (file.to_string(), name.to_string(), Some(label));
        assert_eq!(
            files_and_names(&dataset),
            [
                entry("a/x.jpg", "a/x.jpg", 1),
                entry("a/y.jpg", "y.jpg", 3),
                entry("b/x.jpg", "b/x.jpg", 2),
            ]
        );
        // Each is read from its own file.
        let samples = collect(&dataset, None).unwrap();
        assert_eq!(samples[0].bytes.as_ref().unwrap(), b"a");
        assert_eq!(samples[2].bytes.as_ref().unwrap(), b"b");
        let error = labelled("x.jpg,1\n").err().unwrap().to_string();
        assert!(
            error.contains("truth.csv, line 1: x.jpg names two images, a/x.jpg and b/x.jpg"),
            "{error}"
        );
        // An ImageFolder tree's shared basenames too; without a file they are refused.
        let tree = dir.path().join("classes");
        for wnid in ["n01440764", "n01443537"] {
            fs::create_dir_all(tree.join(wnid)).unwrap();
            fs::write(tree.join(wnid).join("x.JPEG"), wnid).unwrap();
        }
        assert!(
            Dataset::open(&tree)
                .err()
                .unwrap()
                .to_string()
                .contains("two images are named x.JPEG")
        );
        let dataset = Dataset::open_labelled(
            &tree,
            Some(truth(
                dir.path(),
                "n01440764/x.JPEG,0\nn01443537/x.JPEG,1\n",
            )),
        )
        .unwrap();
        assert_eq!(dataset.kind(), SourceKind::ImageFolder);
        let names: Vec<String> = files_and_names(&dataset).into_iter().map(|e| e.1).collect();
        assert_eq!(names, ["n01440764/x.JPEG", "n01443537/x.JPEG"]);
    }

    #[test]
    fn bad_folders_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Dataset::open(&dir.path().join("nope"))
            .err()
            .unwrap()
            .to_string();
        assert!(missing.contains("nope") && missing.contains("no such file"));
        let empty = Dataset::open(dir.path()).err().unwrap().to_string();
        assert!(empty.contains("empty"), "{empty}");
        fs::create_dir(dir.path().join("n01440764")).unwrap();
        fs::write(dir.path().join("n01440764/a.JPEG"), b"x").unwrap();
        fs::create_dir(dir.path().join("cats")).unwrap();
        let unknown = Dataset::open(dir.path()).err().unwrap().to_string();
        assert!(
            unknown.contains("\"cats\"") && unknown.contains("wnid"),
            "{unknown}"
        );
        fs::remove_dir(dir.path().join("cats")).unwrap();
        fs::create_dir(dir.path().join("n01443537")).unwrap();
        fs::write(dir.path().join("n01443537/a.JPEG"), b"x").unwrap();
        let duplicate = Dataset::open(dir.path()).err().unwrap().to_string();
        assert!(
            duplicate.contains("two images are named a.JPEG"),
            "{duplicate}"
        );
        fs::remove_dir_all(dir.path().join("n01443537")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("n01443537")).unwrap();
        let dangling = Dataset::open(dir.path()).err().unwrap().to_string();
        assert!(
            dangling.contains("n01443537") && dangling.contains("leads nowhere"),
            "{dangling}"
        );
        let _ = duplicate;
        assert!(
            duplicate.contains("two images are named a.JPEG"),
            "{duplicate}"
        );
    }

    #[test]
    fn a_tar_gz_is_streamed_and_inflating_padding_after_its_end_is_refused() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<(String, Vec<u8>)> = (1..=2)
            .map(|i| (labels::val_file_name(i), vec![0xFFu8; 3000]))
            .collect();
        let gzip = |bytes: &[u8]| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(bytes).unwrap();
            encoder.finish().unwrap()
        };
        let whole = build_tar(&files);
        let path = dir.path().join("val.tar.gz");
        fs::write(&path, gzip(&whole)).unwrap();
        let samples = collect(&Dataset::open(&path).unwrap(), None).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[1].bytes.as_ref().unwrap().len(), 3000);

        let mut padded = whole.clone();
        padded.resize(whole.len() + (17 << 20), 0);
        let bomb = dir.path().join("bomb.tar.gz");
        fs::write(&bomb, gzip(&padded)).unwrap();
        let error = collect(&Dataset::open(&bomb).unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("bomb.tar.gz") && error.contains("MiB after"),
            "{error}"
        );
    }
}
