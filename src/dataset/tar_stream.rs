//! `ILSVRC2012_img_val.tar` (or an ImageNetV2 `.tar.gz`) read as a stream on a reader thread:
//! never extracted, links never followed, and a truncated archive an error rather than a smaller
//! dataset.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{DatasetError, Entry, MAX_IMAGE_BYTES, Sample, folder, is_image_name, labels};

/// Decides whether an image's bytes are read.
pub(super) type Wanted = Box<dyn Fn(&Entry) -> bool + Send>;
/// The samples of a stream, in dataset order.
pub(super) type Samples<'a> = Box<dyn Iterator<Item = Result<Sample, DatasetError>> + Send + 'a>;

/// The most a `.tar.gz` may inflate to after its tar's end (tar pads archives to 10 KiB records;
/// nothing legitimate comes near this).
const MAX_GZIP_TAIL: u64 = 16 << 20;

/// Members a tar's reader thread may have read ahead of the consumer.
const TAR_QUEUE: usize = 8;

/// Starts the reader thread of the archive at `root`: at most `limit` images, counting skipped
/// members into `ignored` and link members into `links`.
pub(super) fn stream<'a>(
    root: &Path,
    limit: usize,
    wanted: Wanted,
    ignored: Arc<AtomicUsize>,
    links: Arc<AtomicUsize>,
) -> Result<Samples<'a>, DatasetError> {
    let unreadable = |e: &dyn std::fmt::Display| DatasetError::Unreadable {
        path: root.to_path_buf(),
        reason: e.to_string(),
    };
    let (file, archive_len) =
        crate::util::safe_file::open_regular(root).map_err(|e| unreadable(&e))?;
    let mut file = BufReader::with_capacity(1 << 20, file);
    let gzipped = std::io::BufRead::fill_buf(&mut file)
        .map_err(|e| unreadable(&e))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: ArchiveReader = if gzipped {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let stream = TarStream {
        path: root.to_path_buf(),
        archive_len,
        wanted,
        remaining: limit,
        ignored,
        links,
        seen: std::collections::HashMap::new(),
        last_member: None,
        end_of_members: 0,
        gzipped,
        reached_end: false,
        done: false,
    };
    let (tx, rx) = crossbeam_channel::bounded(TAR_QUEUE);
    std::thread::Builder::new()
        .name("tar-reader".into())
        .spawn(move || stream.run(reader, tx))
        .map_err(|e| DatasetError::Unreadable {
            path: root.to_path_buf(),
            reason: format!("cannot start its reader thread: {e}"),
        })?;
    Ok(Box::new(rx.into_iter()))
}

/// Streams a tar's members on a thread of its own, which owns the archive (`tar::Entries` borrows
/// it) and sends each sample over a bounded channel; the consumer iterates the receiver. When the
/// consumer stops early, the next send fails and the thread ends.
struct TarStream {
    path: PathBuf,
    /// The archive's size: no member can hold more, whatever its header claims.
    archive_len: u64,
    wanted: Box<dyn Fn(&Entry) -> bool + Send>,
    remaining: usize,
    ignored: Arc<AtomicUsize>,
    links: Arc<AtomicUsize>,
    seen: std::collections::HashMap<String, String>,
    last_member: Option<String>,
    /// Where the last member's data ends (padded to 512 bytes): the end-of-archive marker must follow.
    end_of_members: u64,
    /// A `.tar.gz`: gzip's trailer (CRC-32 and length) guards the whole stream instead.
    gzipped: bool,
    /// The archive's members were read to its end (not stopped by a limit or an error).
    reached_end: bool,
    done: bool,
}

/// The archive's bytes: the file itself, or its gzip stream decompressed.
type ArchiveReader = Box<dyn Read + Send>;
type TarEntries<'a> = tar::Entries<'a, ArchiveReader>;

impl TarStream {
    fn run(
        mut self,
        reader: ArchiveReader,
        tx: crossbeam_channel::Sender<Result<Sample, DatasetError>>,
    ) {
        let mut archive = tar::Archive::new(reader);
        let mut entries = match archive.entries() {
            Ok(entries) => entries,
            Err(e) => {
                let _ = tx.send(Err(self.fail(e.to_string())));
                return;
            }
        };
        while !self.done {
            let Some(item) = self.next_sample(&mut entries) else {
                break;
            };
            if tx.send(item).is_err() {
                return;
            }
        }
        // The tar ends at its zero blocks; gzip's trailer after them is what proves the stream
        // whole, so a `.tar.gz` read to its end is drained to the trailer's check.
        if self.gzipped && self.reached_end {
            // Bounded: a stream that inflates to gigabytes of padding is refused, not drained.
            let mut rest = archive.into_inner().take(MAX_GZIP_TAIL + 1);
            match std::io::copy(&mut rest, &mut std::io::sink()) {
                Ok(tail) if tail > MAX_GZIP_TAIL => {
                    let reason = format!(
                        "its gzip stream goes on for more than {} MiB after the archive's end",
                        MAX_GZIP_TAIL >> 20
                    );
                    let _ = tx.send(Err(self.fail(reason)));
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(self.fail(format!("its gzip stream: {e}"))));
                }
            }
        }
    }
}

impl TarStream {
    fn fail(&mut self, reason: String) -> DatasetError {
        self.done = true;
        let after = match &self.last_member {
            Some(member) => format!(" after member {member}"),
            None => " at its first member".to_string(),
        };
        DatasetError::BadTar {
            path: self.path.clone(),
            reason,
            after,
        }
    }

    /// A wanted member's bytes, all of them: a size claim beyond any image, or a member cut
    /// short, fails the stream.
    fn read_member(
        &mut self,
        member: &mut tar::Entry<'_, ArchiveReader>,
        member_path: &str,
    ) -> Result<Vec<u8>, DatasetError> {
        let size = member.header().size().unwrap_or(u64::MAX);
        if size > MAX_IMAGE_BYTES {
            return Err(self.fail(format!("member {member_path} claims {size} bytes")));
        }
        // The header's size is only a claim until the data is read: reserve no more than the
        // archive could hold, so a short file cannot make us allocate 256 MiB.
        let mut bytes = Vec::with_capacity(size.min(self.archive_len) as usize);
        if let Err(e) = member.read_to_end(&mut bytes) {
            return Err(self.fail(format!("member {member_path}: {e}")));
        }
        // A cut inside a member's data is not an error when reading it: only the length tells.
        if bytes.len() as u64 != size {
            return Err(self.fail(format!(
                "member {member_path} has {} of its {size} bytes",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    fn next_sample(&mut self, entries: &mut TarEntries) -> Option<Result<Sample, DatasetError>> {
        loop {
            let Some(next) = entries.next() else {
                self.reached_end = true;
                return self.check_end_marker().err().map(Err);
            };
            let mut member = match next {
                Ok(member) => member,
                Err(e) => return Some(Err(self.fail(e.to_string()))),
            };
            let member_path = String::from_utf8_lossy(&member.path_bytes()).into_owned();
            self.end_of_members = member.raw_file_position() + member.size().div_ceil(512) * 512;
            let kind = member.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                // Never followed (it could point anywhere), but counted: an image that is a
                // link would otherwise vanish from the evaluated set without a word.
                self.ignored.fetch_add(1, Ordering::Relaxed);
                self.links.fetch_add(1, Ordering::Relaxed);
                self.last_member = Some(member_path);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let name = member_path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            if !is_image_name(&name) {
                self.ignored.fetch_add(1, Ordering::Relaxed);
                self.last_member = Some(member_path);
                continue;
            }
            if self.remaining == 0 {
                self.done = true;
                return None;
            }
            self.remaining -= 1;
            if let Some(first) = self.seen.insert(name.clone(), member_path.clone()) {
                self.done = true;
                return Some(Err(DatasetError::DuplicateName {
                    path: self.path.clone(),
                    name,
                    first,
                    second: member_path,
                }));
            }
            let entry = Entry {
                file: member_path.clone(),
                label: member_label(&member_path, &name),
                name,
            };
            let wanted = (self.wanted)(&entry);
            let bytes = if wanted {
                match self.read_member(&mut member, &member_path) {
                    Ok(bytes) => Ok(bytes),
                    Err(e) => return Some(Err(e)),
                }
            } else {
                Ok(Vec::new())
            };
            self.last_member = Some(member_path);
            return Some(Ok(Sample {
                entry,
                wanted,
                bytes,
            }));
        }
    }
}

impl TarStream {
    /// The `tar` crate ends quietly at EOF between members, so an archive cut at a member boundary
    /// would pass as a smaller dataset. A whole archive ends with two zero blocks: require them.
    fn check_end_marker(&mut self) -> Result<(), DatasetError> {
        use std::io::{Seek, SeekFrom};
        self.done = true;
        // Offsets are in the decompressed stream, which cannot be sought; a cut `.tar.gz` fails
        // in the decoder, whose trailer check reads to the stream's end.
        if self.gzipped {
            return Ok(());
        }
        let mut marker = [0u8; 1024];
        // Reopened through the same guard: the path may have been swapped for a FIFO meanwhile.
        let read = crate::util::safe_file::open_regular(&self.path)
            .map_err(|e| std::io::Error::other(e.reason()))
            .and_then(|(mut file, _)| {
                file.seek(SeekFrom::Start(self.end_of_members))?;
                file.read_exact(&mut marker)
            });
        match read {
            Ok(()) if marker.iter().all(|&b| b == 0) => Ok(()),
            Ok(()) => Err(self.fail("no end-of-archive marker after the last member".into())),
            Err(e) => Err(self.fail(format!("it ends without its end-of-archive marker ({e})"))),
        }
    }
}

/// An ILSVRC2012 validation file's label, from its name; else, for an ImageNetV2 archive, the
/// class index its folder is named by (`.../<index>/<hash>.jpeg`).
fn member_label(member_path: &str, name: &str) -> Option<u16> {
    labels::val_label(name).or_else(|| {
        let mut parts = member_path.rsplit('/');
        parts.next();
        parts.next().and_then(folder::class_index_folder)
    })
}
