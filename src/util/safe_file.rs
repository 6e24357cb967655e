//! Opening the files zoorepro reads (images, `.npy`, ONNX, sidecars) and writing the files it
//! produces (reports, predictions, tensors, manifests), safely whatever sits at the path.
//!
//! Reading: only regular files, checked after following symlinks and again on the open file
//! descriptor, so a device (`/dev/zero` reads without end) or a FIFO (an open blocks until a
//! writer comes) is refused with a message instead of hanging the run. The open itself is
//! non-blocking, so a FIFO swapped in between the two checks cannot hang it either. A size
//! limit per kind of file (the `MAX_*_BYTES` constants below, all in this one place) bounds what
//! one file can make zoorepro allocate, and is checked on the file's size before any byte is read,
//! so a sparse 3 GB file is refused at once.
//!
//! Writing: [`write_atomically`] writes a temporary file created exclusively, with an
//! unpredictable name, in the target's own directory, fsyncs it and renames it over the target;
//! readers see the old file or the new one, never a torn one, and nothing at a guessable
//! temporary path (a planted symlink) is ever followed. A destination that is not a regular file
//! or a symlink to one — `/dev/stdout`, a FIFO, a character device — is streamed to instead, since
//! renaming over it would replace the device node with a file. A symlink to a regular file is
//! written through: the link stays and its target gets the new contents atomically (the
//! temporary file goes beside the target), as `--predictions link.jsonl` plainly asks. A new
//! file gets the mode `open(2)` gives (0666 less the umask); a file written over keeps its mode.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An image file (a dataset member, a `preprocess` or `compare` input): the largest ImageNet
/// JPEG is about 15 MB, and refusing more keeps a lying tar header from allocating gigabytes.
pub const MAX_IMAGE_BYTES: u64 = 256 << 20;
/// A model manifest (`manifests/*.json`): the shipped ones are under 6 KB.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// A label-errors CSV (`table --labels-file`): one row per validation image at most, 50,000 rows
/// of about 40 bytes (the shipped list is 138 KB).
pub const MAX_LABELS_FILE_BYTES: u64 = 16 << 20;
/// A `.npy` file: a benchmarking-keras-pytorch seed cache (50,000 x 5 int64 is 2 MB, float32
/// probabilities 1 MB), or a `preprocess` output read back (100 images at 299 x 299 x 3 float32
/// are 107 MB; the parity tests read those).
pub const MAX_NPY_BYTES: u64 = 1 << 30;
// The ONNX file's own limit (protobuf's 2 GiB) and the export sidecar's (1 MiB) live with the
// ONNX reading code (src/model/onnx.rs, src/commands/shared/model_under_test.rs).

#[derive(Debug, thiserror::Error)]
pub enum SafeFileError {
    #[error("{path} is {kind}, not a regular file; point zoorepro at a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "{path} is {size} bytes, more than the {limit}-byte limit for {what}; check that it is the right file"
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
        what: &'static str,
    },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl SafeFileError {
    /// The message without the path, for a caller whose own message names the file.
    pub fn reason(&self) -> String {
        match self {
            SafeFileError::NotRegular { kind, .. } => {
                format!("it is {kind}, not a regular file")
            }
            SafeFileError::TooLarge {
                size, limit, what, ..
            } => format!("it is {size} bytes, more than the {limit}-byte limit for {what}"),
            SafeFileError::Io { source, .. } => source.to_string(),
        }
    }
}

fn kind_of(file_type: fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file (symlinks followed), and returns its size.
pub fn open_regular(path: &Path) -> Result<(File, u64), SafeFileError> {
    let io_error = |source| SafeFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_regular = |file_type: fs::FileType| SafeFileError::NotRegular {
        path: path.to_path_buf(),
        kind: kind_of(file_type),
    };
    let metadata = fs::metadata(path).map_err(io_error)?;
    if !metadata.is_file() {
        return Err(not_regular(metadata.file_type()));
    }
    // O_NONBLOCK: should a FIFO replace the file after the check, the open returns at once
    // instead of waiting for a writer; on a regular file the flag changes nothing.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(not_regular(metadata.file_type()));
    }
    Ok((file, metadata.len()))
}

/// Reads a whole regular file of at most `limit` bytes; `what` names the kind of file in the
/// message ("an image file"). A file that grows past the limit while read is refused too.
pub fn read_regular(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, SafeFileError> {
    let (file, size) = open_regular(path)?;
    let too_large = |size| SafeFileError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit,
        what,
    };
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| SafeFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Writes `path` atomically through a temporary sibling (see the module's doc), or streams to it
/// when it is a device, FIFO or socket. `write` gets a buffered writer and may be called once.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    write_atomically_seekable(path, |file| {
        let mut out = io::BufWriter::new(file);
        write(&mut out)?;
        out.flush()
    })
}

/// As [`write_atomically`], for a writer that must go back to what it wrote (a header known
/// only at the end): `write` gets the file itself, at offset 0, and buffers as it needs. A
/// device, FIFO or socket is written in place, where seeking back fails.
pub fn write_atomically_seekable(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() && !metadata.is_dir() => {
            // Streaming, not renaming: `/dev/stdout`, a FIFO or a device must stay what it is.
            let mut file = File::options().write(true).open(path)?;
            return write(&mut file);
        }
        _ => {}
    }
    // A symlink (chain) to a regular file: write its final target, keeping the link.
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() && fs::metadata(path).is_ok() => {
            fs::canonicalize(path)?
        }
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if target.file_name().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        ));
    }
    // A file written over keeps its permission bits (a 0644 report stays readable by others; set-id
    // bits are not carried over); a new one is created 0666 and the kernel takes the umask off, as
    // for any file a program creates.
    let kept_mode = fs::metadata(&target)
        .ok()
        .filter(fs::Metadata::is_file)
        .map(|m| m.permissions().mode() & 0o777);
    let mut temporary = tempfile::Builder::new()
        .prefix(".zoorepro-")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(&dir)?;
    if let Some(mode) = kept_mode {
        temporary
            .as_file()
            .set_permissions(fs::Permissions::from_mode(mode))?;
    }
    write(temporary.as_file_mut())?;
    temporary.as_file().sync_all()?;
    // `persist` renames; on failure the temporary file is removed when dropped.
    temporary.persist(&target).map_err(|e| e.error)?;
    // Make the rename itself durable; not every platform lets a directory be opened, and the
    // file is complete either way, so a failure here is not an error.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// [`read_regular`] of a text file: UTF-8, or an error naming the file.
pub fn read_regular_text(
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<String, SafeFileError> {
    let bytes = read_regular(path, limit, what)?;
    String::from_utf8(bytes).map_err(|_| SafeFileError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"),
    })
}

/// Refuses `path` when something other than a regular file (symlinks followed) is there; an
/// absent path is fine. For files another library opens (SQLite's database): a FIFO there would
/// block it, a device feed it without end.
pub fn check_regular_if_present(path: &Path) -> Result<(), SafeFileError> {
    match fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => Err(SafeFileError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(metadata.file_type()),
        }),
        _ => Ok(()),
    }
}

/// [`write_atomically`] with the whole contents at hand.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically(path, |out| out.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.JPEG");
        mkfifo(&fifo);
        let zero = dir.path().join("zero.JPEG");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        for (path, kind) in [
            (&fifo, "a FIFO (named pipe)"),
            (&zero, "a character device"),
            (&dir.path().to_path_buf(), "a directory"),
        ] {
            match read_regular(path, 1 << 20, "an image file") {
                Err(SafeFileError::NotRegular { kind: got, .. }) => assert_eq!(got, kind),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }

    #[test]
    fn files_over_the_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        fs::write(&path, vec![1u8; 100]).unwrap();
        assert_eq!(read_regular(&path, 100, "x").unwrap().len(), 100);
        let err = read_regular(&path, 99, "an export sidecar").unwrap_err();
        assert!(
            err.to_string()
                .contains("99-byte limit for an export sidecar"),
            "{err}"
        );
    }

    #[test]
    fn atomic_writes_use_no_predictable_name_and_keep_links_and_devices() {
        let dir = tempfile::tempdir().unwrap();
        // A planted link at the old predictable temporary name is never followed.
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let out = dir.path().join("report.json");
        std::os::unix::fs::symlink(
            &victim,
            dir.path()
                .join(format!(".report.json.{}.tmp", std::process::id())),
        )
        .unwrap();
        write_bytes_atomically(&out, b"one").unwrap();
        write_bytes_atomically(&out, b"two").unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"two");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        // Nothing left behind but the outputs, the victim and the planted link.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);

        // A link to a regular file: the link stays, its target is replaced.
        let real = dir.path().join("real.jsonl");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_bytes_atomically(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");

        // A character device is written to, not replaced.
        let null = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        write_bytes_atomically(&null, b"gone").unwrap();
        assert!(
            fs::symlink_metadata(&null)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn a_file_written_over_keeps_its_mode_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, b"old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_bytes_atomically(&real, b"direct").unwrap();
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        write_bytes_atomically(&link, b"through the link").unwrap();
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(fs::read(&real).unwrap(), b"through the link");
    }

    #[test]
    fn limits_are_checked_on_the_size_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        // Sparse: 3 GB long, nothing allocated on disk, and nothing may be read from it.
        let sparse = dir.path().join("big.json");
        File::create(&sparse).unwrap().set_len(3 << 30).unwrap();
        let started = std::time::Instant::now();
        let err = read_regular_text(&sparse, MAX_MANIFEST_BYTES, "a manifest").unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(
            err.to_string()
                .contains("3221225472 bytes, more than the 1048576-byte limit for a manifest"),
            "{err}"
        );
        let latin1 = dir.path().join("latin1.csv");
        fs::write(&latin1, b"caf\xe9").unwrap();
        let err = read_regular_text(&latin1, 100, "x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("latin1.csv") && err.contains("not UTF-8"),
            "{err}"
        );
        assert!(check_regular_if_present(&dir.path().join("absent")).is_ok());
        assert!(check_regular_if_present(Path::new("/dev/null")).is_err());
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_bytes_atomically(&path, b"old").unwrap();
        write_bytes_atomically(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left behind"
        );
    }
}
