//! What a `--val` source left out and why: every file or member that is not evaluated is counted
//! under its reason with its first names, so that nothing vanishes from the evaluated set
//! without a word; and how a tar ended.

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// Names kept per reason: enough to find the culprits, bounded whatever the archive holds.
pub const FIRST_NAMES: usize = 20;

/// A name as listed: at most this many characters (a hostile member name can be kilobytes).
const NAME_CHARS: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// A file whose name is not `.JPEG`/`.jpg`/`.png` (notes, manifests), or a hidden one.
    NotAnImage,
    /// An image at the top of a class-folder tree, in no class folder.
    OutsideClassFolders,
    /// A tar symlink or hard link: never followed, since it could point anywhere.
    Link,
    /// A device, FIFO, sparse file, or directory named like an image.
    NotARegularFile,
    /// A tar member named by an absolute path or one that climbs out with `..`.
    UnsafePath,
    /// A tar member whose long-name or PAX header is over its bound, or malformed.
    BadHeader,
    /// An image under a folder named by a number that is not a class index (`0` ... `999`).
    NotAClassIndex,
    /// A folder link, in a folder read at every depth (`--ground-truth`), to a folder read
    /// already (one above it, or one another path reached first): each folder is read once.
    RepeatedFolder,
}

impl SkipReason {
    /// The reason as the record names it.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::NotAnImage => "not-an-image",
            SkipReason::OutsideClassFolders => "outside-class-folders",
            SkipReason::Link => "link",
            SkipReason::NotARegularFile => "not-a-regular-file",
            SkipReason::UnsafePath => "unsafe-path",
            SkipReason::BadHeader => "bad-header",
            SkipReason::NotAClassIndex => "not-a-class-index",
            SkipReason::RepeatedFolder => "repeated-folder",
        }
    }

    /// What the warning says about entries skipped for this reason.
    pub fn explanation(self) -> &'static str {
        match self {
            SkipReason::NotAnImage => "not .JPEG/.jpg/.png files, or hidden ones",
            SkipReason::OutsideClassFolders => "images outside the class folders",
            SkipReason::Link => "symlinks or hard links, which are never followed",
            SkipReason::NotARegularFile => {
                "devices, FIFOs, sparse files or directories named like images"
            }
            SkipReason::UnsafePath => {
                "members named by an absolute path or one with `..`, which are never read"
            }
            SkipReason::BadHeader => {
                "members whose long-name or PAX header is over its bound or malformed"
            }
            SkipReason::NotAClassIndex => {
                "images in folders named by a number that is not a class index (0 ... 999)"
            }
            SkipReason::RepeatedFolder => {
                "links to folders read already (above them or by another path), not read again"
            }
        }
    }
}

/// Entries skipped for one reason, as the record lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEntries {
    /// `not-an-image`, `outside-class-folders`, `link`, `not-a-regular-file`, `unsafe-path`, `bad-header`,
    /// `not-a-class-index`, `repeated-folder` (a string, so that records of later versions still read).
    pub reason: String,
    pub count: usize,
    /// The first names skipped for it, at most `FIRST_NAMES`, each cut to 256 characters.
    pub first: Vec<String>,
}

/// How a tar's member list ended. Whole archives end with two zero blocks; GNU tar and Python's
/// `tarfile` also accept the others, so they are read, with a warning, and recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveEnd {
    /// Two zero blocks: the end-of-archive marker.
    Marker,
    /// One zero block and no second.
    LoneZeroBlock,
    /// The file (or gzip stream) ends right after a member: no marker at all.
    MissingMarker,
    /// The file ends part-way into a header block: a member was cut off there.
    CutInHeader,
}

impl ArchiveEnd {
    /// The warning for an archive that ended without its marker; `None` for a whole one.
    pub fn warning(self) -> Option<&'static str> {
        match self {
            ArchiveEnd::Marker => None,
            ArchiveEnd::LoneZeroBlock => {
                Some("ends with one zero block instead of the two of its end-of-archive marker")
            }
            ArchiveEnd::MissingMarker => Some(
                "ends right after a member, without its end-of-archive marker: it may have been \
                 cut, and the members after the cut are missing",
            ),
            ArchiveEnd::CutInHeader => Some(
                "ends part-way into a member's header, without its end-of-archive marker: it was \
                 cut, and that member and any after it are missing",
            ),
        }
    }
}

/// The skipped entries of a source, in the order their reasons first appeared. Shared with a
/// tar's reader thread, which adds to it while streaming.
#[derive(Clone, Debug, Default)]
pub struct SkipLog {
    inner: Arc<Mutex<Vec<(SkipReason, SkippedEntries)>>>,
}

impl SkipLog {
    pub fn add(&self, reason: SkipReason, name: &str) {
        let mut entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match entries.iter().position(|(r, _)| *r == reason) {
            Some(index) => index,
            None => {
                entries.push((
                    reason,
                    SkippedEntries {
                        reason: reason.name().to_string(),
                        count: 0,
                        first: Vec::new(),
                    },
                ));
                entries.len() - 1
            }
        };
        let skipped = &mut entries[index].1;
        skipped.count += 1;
        if skipped.first.len() < FIRST_NAMES {
            skipped.first.push(listed_name(name));
        }
    }

    /// Every reason with its count and first names.
    pub fn entries(&self) -> Vec<(SkipReason, SkippedEntries)> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn count(&self, reason: SkipReason) -> usize {
        self.entries()
            .iter()
            .filter(|(r, _)| *r == reason)
            .map(|(_, skipped)| skipped.count)
            .sum()
    }

    pub fn total(&self) -> usize {
        self.entries()
            .iter()
            .map(|(_, skipped)| skipped.count)
            .sum()
    }
}

fn listed_name(name: &str) -> String {
    if name.chars().count() <= NAME_CHARS {
        return name.to_string();
    }
    let mut cut: String = name.chars().take(NAME_CHARS).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_entry_and_keeps_the_first_names_cut_short() {
        let log = SkipLog::default();
        for i in 0..25 {
            log.add(SkipReason::UnsafePath, &format!("/etc/{i}.JPEG"));
        }
        log.add(SkipReason::Link, &"x".repeat(5000));
        let entries = log.entries();
        assert_eq!(entries[0].1.reason, "unsafe-path");
        assert_eq!(entries[0].1.count, 25);
        assert_eq!(entries[0].1.first.len(), FIRST_NAMES);
        assert_eq!(entries[0].1.first[19], "/etc/19.JPEG");
        assert_eq!(entries[1].1.first[0].chars().count(), NAME_CHARS + 1);
        assert_eq!(log.total(), 26);
        assert_eq!(log.count(SkipReason::Link), 1);
    }
}
