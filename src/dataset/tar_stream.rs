//! `ILSVRC2012_img_val.tar` (or an ImageNetV2 `.tar.gz`) read as a stream on a reader thread:
//! never extracted, links never followed, member names never trusted, no header read whole
//! before its size is checked, and a cut inside a member an error rather than a smaller dataset.
//!
//! What is accepted follows GNU tar and Python's `tarfile` where they agree: an archive that ends
//! right after a member, part-way into the next header, or with one zero block instead of two is
//! read (both tools accept it), with a warning and the way it ended recorded; a `.tar.gz` may be
//! several gzip members and end in zero padding. Where they disagree (a damaged header after the
//! members, bytes after the gzip stream that are not padding), the archive is refused.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::skipped::{ArchiveEnd, SkipLog, SkipReason};
use super::{DatasetError, Entry, MAX_IMAGE_BYTES, Sample, folder, is_image_name, labels};

/// Decides whether an image's bytes are read.
pub(super) type Wanted = Box<dyn Fn(&Entry) -> bool + Send>;
/// The samples of a stream, in dataset order.
pub(super) type Samples<'a> = Box<dyn Iterator<Item = Result<Sample, DatasetError>> + Send + 'a>;

/// The most a `.tar.gz` may inflate to after its tar's end (tar pads archives to 10 KiB records;
/// nothing legitimate comes near this).
const MAX_GZIP_TAIL: u64 = 16 << 20;

/// The most zero padding read after a gzip stream (tape blocks are kilobytes).
const MAX_GZIP_PADDING: u64 = 16 << 20;

/// The longest GNU long name (`L`) read: a path of Linux's PATH_MAX. A longer one is not read;
/// its member is skipped and counted.
pub const MAX_LONG_NAME: u64 = 4 << 10;

/// The largest PAX extended header (`x`) read. A larger one is not read; its member is skipped
/// and counted. Global PAX headers (`g`) and GNU long link names (`K`) are never read at all:
/// nothing in them decides which images an archive holds.
pub const MAX_PAX_HEADER: u64 = 64 << 10;

/// A tar's block: headers are one, data is padded to whole blocks.
const BLOCK: u64 = 512;

/// Members a tar's reader thread may have read ahead of the consumer.
const TAR_QUEUE: usize = 8;

/// Starts the reader thread of the archive at `root`: at most `limit` images, counting every
/// member left out into `skipped`, and storing how the archive ended into `end`.
pub(super) fn stream<'a>(
    root: &Path,
    limit: usize,
    wanted: Wanted,
    skipped: SkipLog,
    end: Arc<Mutex<Option<ArchiveEnd>>>,
) -> Result<Samples<'a>, DatasetError> {
    let unreadable = |e: &dyn std::fmt::Display| DatasetError::Unreadable {
        path: root.to_path_buf(),
        reason: e.to_string(),
    };
    let (file, archive_len) =
        crate::util::safe_file::open_regular(root).map_err(|e| unreadable(&e))?;
    let mut file = BufReader::with_capacity(1 << 20, file);
    let gzipped = file
        .fill_buf()
        .map_err(|e| unreadable(&e))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: ArchiveReader = if gzipped {
        Box::new(GzipMembers::new(file))
    } else {
        Box::new(file)
    };
    let stream = TarStream {
        path: root.to_path_buf(),
        archive_len,
        wanted,
        remaining: limit,
        skipped,
        end,
        position: Arc::default(),
        at_eof: Arc::default(),
        seen: std::collections::HashMap::new(),
        last_member: None,
        next_header: 0,
        extension: Extension::default(),
        gzipped,
        ended: None,
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

/// The archive's bytes: the file itself, or its gzip stream decompressed.
type ArchiveReader = Box<dyn Read + Send>;
type TarEntries<'a> = tar::Entries<'a, Counted>;
type Member<'a> = tar::Entry<'a, Counted>;

/// The tar's bytes, counted: where the reader stands and whether it met the end tell an archive
/// cut part-way into a header (which GNU tar and `tarfile` read to the cut) from one cut inside a
/// member's data (an error), after the `tar` crate has reported both as a failed read.
struct Counted {
    inner: ArchiveReader,
    position: Arc<AtomicU64>,
    at_eof: Arc<AtomicBool>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 && !buf.is_empty() {
            self.at_eof.store(true, Ordering::Relaxed);
        }
        self.position.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// A `.tar.gz`'s gzip stream: one or more gzip members, each checked against its trailer
/// (CRC-32 and length), optionally followed by zero padding (which GNU gzip and Python's `gzip`
/// skip). Anything else after the last member is an error, as GNU tar makes it.
struct GzipMembers {
    decoder: Option<flate2::bufread::GzDecoder<BufReader<File>>>,
}

impl GzipMembers {
    fn new(file: BufReader<File>) -> GzipMembers {
        GzipMembers {
            decoder: Some(flate2::bufread::GzDecoder::new(file)),
        }
    }
}

impl Read for GzipMembers {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(decoder) = self.decoder.as_mut() else {
                return Ok(0);
            };
            let read = decoder.read(buf)?;
            if read > 0 || buf.is_empty() {
                return Ok(read);
            }
            // This member ended, its trailer checked: another member, padding, or the end.
            let mut input = self.decoder.take().expect("a decoder").into_inner();
            match input.fill_buf()?.first() {
                None => return Ok(0),
                Some(0x1f) => self.decoder = Some(flate2::bufread::GzDecoder::new(input)),
                Some(0) => {
                    skip_zero_padding(&mut input)?;
                    return Ok(0);
                }
                Some(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "bytes after its gzip stream that are neither another gzip member nor \
                         zero padding",
                    ));
                }
            }
        }
    }
}

/// Reads zero padding to the end of the file; anything else after it is an error.
fn skip_zero_padding(input: &mut impl BufRead) -> std::io::Result<()> {
    let mut padding = 0u64;
    loop {
        let block = input.fill_buf()?;
        if block.is_empty() {
            return Ok(());
        }
        if block.iter().any(|&b| b != 0) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "bytes after the zero padding that ends its gzip stream",
            ));
        }
        padding += block.len() as u64;
        if padding > MAX_GZIP_PADDING {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "more than {} MiB of zero padding after its gzip stream",
                    MAX_GZIP_PADDING >> 20
                ),
            ));
        }
        let len = block.len();
        input.consume(len);
    }
}

/// What the long-name and PAX headers before a member said about it.
#[derive(Default)]
struct Extension {
    long_name: Option<Vec<u8>>,
    /// A `K` header came (never read: links are not followed).
    long_link: bool,
    pax: Option<Pax>,
    /// Why the member these headers describe is skipped, if one was over its bound or malformed.
    refused: Option<String>,
}

impl Extension {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && !self.long_link && self.pax.is_none() && self.refused.is_none()
    }
}

/// The records of a PAX extended header that decide what a member is.
#[derive(Debug, Default, PartialEq)]
struct Pax {
    path: Option<Vec<u8>>,
    size: Option<u64>,
    /// GNU's PAX sparse format: the member's data is a sparse map, not the file.
    sparse: bool,
}

/// Parses PAX records (`<length> <key>=<value>\n`, the length counting the whole record).
fn parse_pax(mut data: &[u8]) -> Result<Pax, &'static str> {
    let mut pax = Pax::default();
    while !data.is_empty() && data.iter().any(|&b| b != 0) {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or("a PAX record without its length")?;
        let length = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|digits| digits.parse::<usize>().ok())
            .filter(|&length| length > space + 1 && length <= data.len())
            .ok_or("a PAX record whose length is wrong")?;
        let record = &data[space + 1..length];
        let record = record
            .strip_suffix(b"\n")
            .ok_or("a PAX record that does not end its line")?;
        let equals = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("a PAX record without '='")?;
        let (key, value) = (&record[..equals], &record[equals + 1..]);
        // An empty value removes the keyword (POSIX).
        let value = (!value.is_empty()).then_some(value);
        match key {
            b"path" => pax.path = value.map(<[u8]>::to_vec),
            b"size" => {
                pax.size = value
                    .map(|v| {
                        std::str::from_utf8(v)
                            .ok()
                            .and_then(|v| v.parse::<u64>().ok())
                            .ok_or("a PAX size that is not a number")
                    })
                    .transpose()?
            }
            key if key.starts_with(b"GNU.sparse.") => pax.sparse = true,
            _ => {}
        }
        data = &data[length..];
    }
    Ok(pax)
}

/// A member's path with empty and `.` components dropped; `None` when it is absolute, climbs
/// with `..` or holds a NUL, so that it can never name anything outside `--val`.
pub(crate) fn normalised_member_path(raw: &str) -> Option<String> {
    if raw.starts_with('/') || raw.contains('\0') {
        return None;
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
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
    skipped: SkipLog,
    end: Arc<Mutex<Option<ArchiveEnd>>>,
    /// Bytes of the tar read so far (decompressed, for a `.tar.gz`).
    position: Arc<AtomicU64>,
    /// The tar's bytes ran out.
    at_eof: Arc<AtomicBool>,
    seen: std::collections::HashMap<String, String>,
    last_member: Option<String>,
    /// Where the header after the last one read starts.
    next_header: u64,
    /// The long-name and PAX headers read since the last member.
    extension: Extension,
    /// A `.tar.gz`: gzip's trailer (CRC-32 and length) guards the whole stream too.
    gzipped: bool,
    /// How the member list ended, once read to its end (not stopped by a limit or an error);
    /// `Marker` stands for "a zero block, the second still to be read".
    ended: Option<ArchiveEnd>,
    done: bool,
}

impl TarStream {
    fn run(
        mut self,
        reader: ArchiveReader,
        tx: crossbeam_channel::Sender<Result<Sample, DatasetError>>,
    ) {
        let mut archive = tar::Archive::new(Counted {
            inner: reader,
            position: Arc::clone(&self.position),
            at_eof: Arc::clone(&self.at_eof),
        });
        // Raw: long-name and PAX headers come as entries, so that their sizes are checked here
        // before a byte of them is read (the crate would read them whole, whatever they claim).
        let mut entries = match archive.entries() {
            Ok(entries) => entries.raw(true),
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
        let Some(ended) = self.ended else {
            return;
        };
        let mut rest = archive.into_inner();
        if let Err(error) = self.finish(ended, &mut rest) {
            let _ = tx.send(Err(error));
        }
    }

    /// After the member list: the second zero block of the marker, then, for a `.tar.gz`, the
    /// rest of its gzip stream to the trailer's check.
    fn finish(&mut self, ended: ArchiveEnd, rest: &mut Counted) -> Result<(), DatasetError> {
        let ended = if ended == ArchiveEnd::Marker {
            let mut block = Vec::with_capacity(BLOCK as usize);
            match rest.take(BLOCK).read_to_end(&mut block) {
                Ok(_) if block.len() as u64 == BLOCK && block.iter().all(|&b| b == 0) => {
                    ArchiveEnd::Marker
                }
                Ok(_) => ArchiveEnd::LoneZeroBlock,
                Err(e) => return Err(self.fail(format!("after its last member: {e}"))),
            }
        } else {
            ended
        };
        *self.end.lock().unwrap_or_else(PoisonError::into_inner) = Some(ended);
        if !self.gzipped {
            return Ok(());
        }
        // Bounded: a stream that inflates to gigabytes of padding is refused, not drained.
        match std::io::copy(&mut rest.take(MAX_GZIP_TAIL + 1), &mut std::io::sink()) {
            Ok(tail) if tail > MAX_GZIP_TAIL => Err(self.fail(format!(
                "its gzip stream goes on for more than {} MiB after the archive's end",
                MAX_GZIP_TAIL >> 20
            ))),
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(format!("its gzip stream: {e}"))),
        }
    }

    fn fail(&mut self, reason: String) -> DatasetError {
        self.done = true;
        self.ended = None;
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
        member: &mut Member<'_>,
        member_path: &str,
    ) -> Result<Vec<u8>, DatasetError> {
        let size = member.size();
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

    /// An extension header's data, when its size is within `bound`; `Err` says why not.
    fn read_extension(
        &mut self,
        member: &mut Member<'_>,
        what: &str,
        bound: u64,
    ) -> Result<Result<Vec<u8>, String>, DatasetError> {
        let size = member.size();
        if size > bound {
            // Not read: the crate skips its data (streamed, never held) with the next entry.
            return Ok(Err(format!(
                "its {what} claims {size} bytes, over the {} KiB read",
                bound >> 10
            )));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        if let Err(e) = member.read_to_end(&mut bytes) {
            return Err(self.fail(format!("{what}: {e}")));
        }
        if bytes.len() as u64 != size {
            return Err(self.fail(format!("{what} has {} of its {size} bytes", bytes.len())));
        }
        Ok(Ok(bytes))
    }

    /// The bytes ran out part-way into a header block, after at least one block: GNU tar and
    /// `tarfile` both end the archive there.
    fn cut_in_header(&self) -> bool {
        let position = self.position.load(Ordering::Relaxed);
        self.at_eof.load(Ordering::Relaxed)
            && self.next_header > 0
            && position > self.next_header
            && position < self.next_header + BLOCK
    }

    /// The member list ended (the crate returned no entry): at the end of the bytes, or at a
    /// zero block.
    fn end_of_members(&mut self) -> Option<Result<Sample, DatasetError>> {
        self.done = true;
        if !self.extension.is_empty() {
            return Some(Err(self.fail(
                "a long-name or PAX header describes a member that is not there".into(),
            )));
        }
        let position = self.position.load(Ordering::Relaxed);
        if position == 0 {
            return Some(Err(self.fail("it is empty".into())));
        }
        self.ended = Some(if position == self.next_header {
            ArchiveEnd::MissingMarker
        } else {
            ArchiveEnd::Marker
        });
        None
    }

    fn next_sample(&mut self, entries: &mut TarEntries) -> Option<Result<Sample, DatasetError>> {
        loop {
            let mut member = match entries.next() {
                None => return self.end_of_members(),
                Some(Ok(member)) => member,
                Some(Err(_)) if self.cut_in_header() && self.extension.is_empty() => {
                    self.done = true;
                    self.ended = Some(ArchiveEnd::CutInHeader);
                    return None;
                }
                Some(Err(e)) => return Some(Err(self.fail(e.to_string()))),
            };
            // The crate checked that this cannot overflow.
            self.next_header = member.raw_file_position() + member.size().div_ceil(BLOCK) * BLOCK;
            match member.header().entry_type() {
                tar::EntryType::GNULongName => {
                    if self.extension.long_name.is_some() {
                        return Some(Err(self.fail("two long-name headers for one member".into())));
                    }
                    match self.read_extension(&mut member, "long-name header", MAX_LONG_NAME) {
                        Ok(Ok(mut name)) => {
                            if let Some(nul) = name.iter().position(|&b| b == 0) {
                                name.truncate(nul);
                            }
                            self.extension.long_name = Some(name);
                        }
                        Ok(Err(refused)) => self.extension.refused = Some(refused),
                        Err(e) => return Some(Err(e)),
                    }
                    continue;
                }
                tar::EntryType::GNULongLink => {
                    self.extension.long_link = true;
                    continue;
                }
                tar::EntryType::XHeader => {
                    if self.extension.pax.is_some() {
                        return Some(Err(self.fail("two PAX headers for one member".into())));
                    }
                    match self.read_extension(&mut member, "PAX header", MAX_PAX_HEADER) {
                        Ok(Ok(records)) => match parse_pax(&records) {
                            Ok(pax) => self.extension.pax = Some(pax),
                            Err(malformed) => {
                                self.extension.pax = Some(Pax::default());
                                self.extension.refused =
                                    Some(format!("its PAX header: {malformed}"));
                            }
                        },
                        Ok(Err(refused)) => {
                            self.extension.pax = Some(Pax::default());
                            self.extension.refused = Some(refused);
                        }
                        Err(e) => return Some(Err(e)),
                    }
                    continue;
                }
                tar::EntryType::XGlobalHeader => continue,
                _ => {}
            }
            let extension = std::mem::take(&mut self.extension);
            if let Some(sample) = self.member_sample(&mut member, extension) {
                return Some(sample);
            }
            if self.done {
                return None;
            }
        }
    }

    /// What a member (not an extension header) is: a sample, or `None` when it is skipped.
    fn member_sample(
        &mut self,
        member: &mut Member<'_>,
        extension: Extension,
    ) -> Option<Result<Sample, DatasetError>> {
        let header_path = String::from_utf8_lossy(&member.header().path_bytes()).into_owned();
        let pax = extension.pax.unwrap_or_default();
        let raw_path = match pax.path.as_ref().or(extension.long_name.as_ref()) {
            Some(path) => String::from_utf8_lossy(path).into_owned(),
            None => header_path.clone(),
        };
        if let Some(size) = pax.size.filter(|&size| size != member.size()) {
            // The crate steps over the header's size; following another would misread the rest.
            return Some(Err(self.fail(format!(
                "member {raw_path}: its PAX header gives a size of {size} bytes, its tar header {}",
                member.size()
            ))));
        }
        let kind = member.header().entry_type();
        if let Some(refused) = extension.refused {
            // Its real name is unknown: list the one its own header holds.
            self.skipped
                .add(SkipReason::BadHeader, &format!("{header_path} ({refused})"));
            self.last_member = Some(header_path);
            return None;
        }
        // Directories are often stored as `name/`: their name is the part before the slash.
        let name = raw_path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        // A contiguous file (type '7') is a regular file to GNU tar and Python's tarfile alike.
        let regular = (kind.is_file() || kind.is_contiguous()) && !pax.sparse;
        self.last_member = Some(raw_path.clone());
        if kind.is_symlink() || kind.is_hard_link() {
            // Never followed (it could point anywhere), but counted: an image that is a link
            // would otherwise vanish from the evaluated set without a word.
            self.skipped.add(SkipReason::Link, &raw_path);
            return None;
        }
        if kind == tar::EntryType::GNUSparse
            && member
                .header()
                .as_gnu()
                .is_some_and(|gnu| gnu.is_extended())
        {
            // Its sparse map goes on in blocks the crate's raw reading takes for data.
            return Some(Err(self.fail(format!(
                "member {raw_path} is a sparse file with extended headers, which zoorepro does not read"
            ))));
        }
        if !regular {
            // Directories, devices, FIFOs and sparse files are not images: counted when their
            // name says they would be one, so that none vanishes without a word.
            if is_image_name(&name) {
                self.skipped.add(SkipReason::NotARegularFile, &raw_path);
            }
            return None;
        }
        let Some(member_path) = normalised_member_path(&raw_path) else {
            self.skipped.add(SkipReason::UnsafePath, &raw_path);
            return None;
        };
        if !is_image_name(&name) {
            self.skipped.add(SkipReason::NotAnImage, &member_path);
            return None;
        }
        self.image_sample(member, member_path, name)
    }

    /// The sample of a regular member named like an image, at a safe path: labelled, counted
    /// against `--limit`, read when wanted.
    fn image_sample(
        &mut self,
        member: &mut Member<'_>,
        member_path: String,
        name: String,
    ) -> Option<Result<Sample, DatasetError>> {
        let label = match member_label(&member_path, &name) {
            Ok(label) => label,
            Err(()) => {
                self.skipped.add(SkipReason::NotAClassIndex, &member_path);
                return None;
            }
        };
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
            label,
            name,
        };
        let wanted = (self.wanted)(&entry);
        let bytes = if wanted {
            match self.read_member(member, &member_path) {
                Ok(bytes) => Ok(bytes),
                Err(e) => return Some(Err(e)),
            }
        } else {
            Ok(Vec::new())
        };
        self.last_member = Some(member_path);
        Some(Ok(Sample {
            entry,
            wanted,
            bytes,
        }))
    }
}

/// An ILSVRC2012 validation file's label, from its name; else, for an ImageNetV2 archive, the
/// class index its folder is named by (`.../<index>/<hash>.jpeg`). `Err` for an image whose
/// folder is a number but no class index (`1000`, `007`): it would be scored as unlabelled
/// without a word, where the same tree as folders is refused.
fn member_label(member_path: &str, name: &str) -> Result<Option<u16>, ()> {
    if let Some(label) = labels::val_label(name) {
        return Ok(Some(label));
    }
    let mut parts = member_path.rsplit('/');
    parts.next();
    match parts.next() {
        Some(folder) if !folder.is_empty() && folder.bytes().all(|b| b.is_ascii_digit()) => {
            folder::class_index_folder(folder).map(Some).ok_or(())
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_paths_are_normalised_and_escapes_refused() {
        assert_eq!(
            normalised_member_path("./n01440764//a.JPEG").as_deref(),
            Some("n01440764/a.JPEG")
        );
        for hostile in [
            "/home/u/private/x.JPEG",
            "../../../home/u/x.JPEG",
            "a/../../x.JPEG",
            "a/..",
            "a\0b.JPEG",
        ] {
            assert_eq!(normalised_member_path(hostile), None, "{hostile}");
        }
    }

    #[test]
    fn pax_records_are_parsed_by_their_length() {
        let record = |key: &str, value: &str| {
            let body = format!(" {key}={value}\n");
            let mut length = body.len() + 1;
            if (length.to_string() + &body).len() != length {
                length += 1;
            }
            format!("{length}{body}")
        };
        let data = format!(
            "{}{}{}",
            record("path", "a\nb/ILSVRC2012_val_00000001.JPEG"),
            record("size", "12"),
            record("mtime", "1.5")
        );
        let pax = parse_pax(data.as_bytes()).unwrap();
        assert_eq!(
            pax.path.as_deref(),
            Some(&b"a\nb/ILSVRC2012_val_00000001.JPEG"[..])
        );
        assert_eq!(pax.size, Some(12));
        assert!(!pax.sparse);
        assert!(parse_pax(b"99 path=x\n").is_err());
        assert!(parse_pax(b"garbage").is_err());
        assert!(
            parse_pax(format!("{}\0\0\0", record("GNU.sparse.major", "1")).as_bytes())
                .unwrap()
                .sparse
        );
    }

    #[test]
    fn out_of_range_class_folders_are_no_label() {
        assert_eq!(member_label("v2/13/abc.jpeg", "abc.jpeg"), Ok(Some(13)));
        assert_eq!(member_label("v2/1000/abc.jpeg", "abc.jpeg"), Err(()));
        assert_eq!(member_label("v2/007/abc.jpeg", "abc.jpeg"), Err(()));
        assert_eq!(member_label("cats/abc.jpeg", "abc.jpeg"), Ok(None));
        assert_eq!(
            member_label(
                "1000/ILSVRC2012_val_00000001.JPEG",
                "ILSVRC2012_val_00000001.JPEG"
            ),
            Ok(Some(65))
        );
    }
}
