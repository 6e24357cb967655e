//! NumPy `.npy` files: float32 tensors out (`preprocess`), prediction caches in (`import-seed`).
//!
//! Format: the magic `\x93NUMPY`, a version, a little-endian header length, a Python dict literal
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a newline
//! so that the data starts on a 64-byte boundary, then the raw array in C order.

use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
const ALIGN: usize = 64;

/// Write `data` as a float32 array of `shape` (C order), atomically: the file appears complete
/// under `path` or not at all.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> io::Result<()> {
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "array shape overflows"))?;
    if count != data.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "shape {shape:?} holds {count} values but {} were given",
                data.len()
            ),
        ));
    }
    let header = header_bytes("<f4", shape);
    write_atomically(path, |out| {
        out.write_all(&header)?;
        let mut buf = Vec::with_capacity(64 * 1024);
        for chunk in data.chunks(16 * 1024) {
            buf.clear();
            buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
            out.write_all(&buf)?;
        }
        Ok(())
    })
}

/// Streams float32 samples of `sample_shape` to `path` as one `[N, ...sample_shape]` array,
/// atomically, holding none of them: `samples` is handed a sink to push each sample to (at most
/// `max_count` of them, each `sample_shape`'s product long) and returns when done. The header is
/// written first for `max_count` samples and rewritten, at the same length, for the number
/// pushed; a device or FIFO, which cannot be rewritten, must get exactly `max_count`.
pub fn write_f32_samples(
    path: &Path,
    sample_shape: &[usize],
    max_count: usize,
    samples: impl FnOnce(&mut dyn FnMut(&[f32]) -> io::Result<()>) -> io::Result<()>,
) -> io::Result<usize> {
    let sample_len = sample_shape.iter().product::<usize>();
    let shape_of = |count: usize| [&[count][..], sample_shape].concat();
    let reserved = header_bytes("<f4", &shape_of(max_count));
    let mut count = 0;
    write_atomically_seekable(path, |file| {
        let mut out = io::BufWriter::with_capacity(1 << 16, &mut *file);
        out.write_all(&reserved)?;
        let mut bytes = Vec::with_capacity(sample_len * 4);
        samples(&mut |sample: &[f32]| {
            if sample.len() != sample_len || count == max_count {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "sample {count} of at most {max_count} holds {} values, not {sample_len}",
                        sample.len()
                    ),
                ));
            }
            bytes.clear();
            bytes.extend(sample.iter().flat_map(|v| v.to_le_bytes()));
            count += 1;
            out.write_all(&bytes)
        })?;
        out.flush()?;
        drop(out);
        if count < max_count {
            let header = header_padded_to(&shape_of(count), reserved.len());
            file.seek(io::SeekFrom::Start(0)).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{count} of {max_count} arrays written to a stream whose header says \
                         {max_count}: write to a regular file ({e})"
                    ),
                )
            })?;
            file.write_all(&header)?;
        }
        Ok(())
    })?;
    Ok(count)
}

/// A float32 header for `shape`, padded with spaces to `len` bytes (a header for a larger first
/// dimension, whose place it takes).
fn header_padded_to(shape: &[usize], len: usize) -> Vec<u8> {
    let mut header = header_bytes("<f4", shape);
    let extra = len - header.len();
    let newline = header.pop();
    header.resize(header.len() + extra, b' ');
    header.extend(newline);
    // The length field: 2 bytes after the version 1.0's magic and version, 4 after 2.0's.
    let dict_len = len - MAGIC.len() - 2;
    match header[MAGIC.len()] {
        1 => header[8..10].copy_from_slice(&((dict_len - 2) as u16).to_le_bytes()),
        _ => header[8..12].copy_from_slice(&((dict_len - 4) as u32).to_le_bytes()),
    }
    header
}

/// Writes an array whose elements are already little-endian bytes of `descr` (`<i8`, `<f2`, ...),
/// atomically: for caches and fixtures in the dtypes the seed project used.
pub fn write_raw(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> io::Result<()> {
    let header = header_bytes(descr, shape);
    write_atomically(path, |out| {
        out.write_all(&header)?;
        out.write_all(data)
    })
}

/// Magic, version and header dict, padded so that the data is 64-byte aligned. Version 1.0
/// unless the header does not fit its 16-bit length (never for real shapes), then 2.0.
fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let build = |major: u8, len_bytes: usize| {
        let unpadded = MAGIC.len() + 2 + len_bytes + dict.len() + 1;
        let padding = (ALIGN - unpadded % ALIGN) % ALIGN;
        let header_len = dict.len() + padding + 1;
        let mut out = Vec::with_capacity(unpadded + padding);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[major, 0]);
        if len_bytes == 2 {
            out.extend_from_slice(&(header_len as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header_len as u32).to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.resize(out.len() + padding, b' ');
        out.push(b'\n');
        (out, header_len)
    };
    let (v1, len) = build(1, 2);
    if len <= usize::from(u16::MAX) {
        v1
    } else {
        build(2, 4).0
    }
}

/// Reports, predictions and tensors share one writer: exclusive temporary file, fsync, rename
/// (or streaming to a device or FIFO); see [`crate::util::safe_file`].
use crate::util::safe_file::{write_atomically, write_atomically_seekable};

/// An array read from a `.npy` file, widened to the two element types zoorepro works with.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    /// The dtype as stored (`<i8`, `<i4`, `<f4`, `<f2`): provenance for imports.
    pub descr: &'static str,
    pub data: NpyData,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    /// From `<i8` or `<i4`.
    I64(Vec<i64>),
    /// From `<f4`, or `<f2` converted exactly.
    F32(Vec<f32>),
}

#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a NumPy .npy file (bad magic bytes)")]
    NotNpy { path: PathBuf },
    #[error("{path}: unsupported .npy format version {major}.{minor} (1.0, 2.0 and 3.0 are read)")]
    UnsupportedVersion { path: PathBuf, major: u8, minor: u8 },
    #[error("{path}: malformed .npy header: {reason}")]
    BadHeader { path: PathBuf, reason: String },
    #[error(
        "{path}: unsupported dtype {descr:?} (little-endian int64, int32, float32 and float16 are read); \
         re-save the array with one of those"
    )]
    UnsupportedDtype { path: PathBuf, descr: String },
    #[error("{path}: array is stored in Fortran order; re-save it with np.ascontiguousarray")]
    FortranOrder { path: PathBuf },
    #[error(
        "{path}: truncated: the header promises {expected} data bytes but the file holds {actual}; \
         the file is incomplete"
    )]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error(
        "{path}: the header promises {expected} data bytes but the file holds {actual}; \
         header and data disagree"
    )]
    SizeMismatch {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    I8,
    I4,
    F4,
    F2,
}

impl Dtype {
    fn parse(descr: &str) -> Option<Dtype> {
        match descr {
            "<i8" => Some(Dtype::I8),
            "<i4" => Some(Dtype::I4),
            "<f4" => Some(Dtype::F4),
            "<f2" => Some(Dtype::F2),
            _ => None,
        }
    }

    fn descr(self) -> &'static str {
        match self {
            Dtype::I8 => "<i8",
            Dtype::I4 => "<i4",
            Dtype::F4 => "<f4",
            Dtype::F2 => "<f2",
        }
    }

    fn size(self) -> u64 {
        match self {
            Dtype::I8 => 8,
            Dtype::I4 | Dtype::F4 => 4,
            Dtype::F2 => 2,
        }
    }
}

/// Read a `.npy` file of little-endian int64, int32, float32 or float16, in C order.
pub fn read(path: &Path) -> Result<NpyArray, NpyError> {
    let io_err = |source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    };
    use crate::util::safe_file::{MAX_NPY_BYTES, SafeFileError, open_regular};
    // A FIFO or device would block or read without end: only regular files, and no larger than
    // a seed cache can be (a sparse 3 GB file is refused on its size, unread).
    let (file, file_len) = open_regular(path).map_err(|e| match e {
        SafeFileError::Io { source, .. } => io_err(source),
        other => io_err(io::Error::other(other.reason())),
    })?;
    if file_len > MAX_NPY_BYTES {
        return Err(io_err(io::Error::other(
            SafeFileError::TooLarge {
                path: path.to_path_buf(),
                size: file_len,
                limit: MAX_NPY_BYTES,
                what: "a .npy seed cache",
            }
            .reason(),
        )));
    }
    read_from(BufReader::new(file), file_len, path)
}

/// [`read`] on bytes already in memory; `path` only names the source in error messages. The
/// fuzz target calls this, so it must stay the very code path `read` takes.
pub fn parse(bytes: &[u8], path: &Path) -> Result<NpyArray, NpyError> {
    read_from(io::Cursor::new(bytes), bytes.len() as u64, path)
}

/// The reader behind [`read`] and [`parse`]: `file_len` is the whole source's length, which
/// bounds every allocation a lying header could ask for.
fn read_from(mut reader: impl Read, file_len: u64, path: &Path) -> Result<NpyArray, NpyError> {
    let (dict, data_start) = read_header(&mut reader, file_len, path)?;
    if dict.fortran_order {
        return Err(NpyError::FortranOrder {
            path: path.to_path_buf(),
        });
    }
    let dtype = Dtype::parse(&dict.descr).ok_or_else(|| NpyError::UnsupportedDtype {
        path: path.to_path_buf(),
        descr: dict.descr.clone(),
    })?;
    let count = element_count(&dict.shape, dtype, file_len - data_start, path)?;
    let data = read_data(&mut reader, dtype, count).map_err(|source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(NpyArray {
        shape: dict.shape,
        descr: dtype.descr(),
        data,
    })
}

/// The magic bytes, version, and header dictionary; returns the dictionary and where the data
/// starts.
fn read_header(
    reader: &mut impl Read,
    file_len: u64,
    path: &Path,
) -> Result<(HeaderDict, u64), NpyError> {
    let io_err = |source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut prefix = [0u8; 8];
    if let Err(e) = reader.read_exact(&mut prefix) {
        return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
            NpyError::NotNpy {
                path: path.to_path_buf(),
            }
        } else {
            io_err(e)
        });
    }
    if &prefix[..6] != MAGIC {
        return Err(NpyError::NotNpy {
            path: path.to_path_buf(),
        });
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(NpyError::UnsupportedVersion {
                path: path.to_path_buf(),
                major,
                minor,
            });
        }
    };
    let bad_header = |reason: String| NpyError::BadHeader {
        path: path.to_path_buf(),
        reason,
    };
    let mut len_buf = [0u8; 4];
    reader
        .read_exact(&mut len_buf[..len_bytes])
        .map_err(|_| bad_header("file ends inside the header length".into()))?;
    let header_len = u32::from_le_bytes(len_buf) as u64;
    let data_start = 8 + len_bytes as u64 + header_len;
    if data_start > file_len {
        return Err(bad_header(format!(
            "header length {header_len} runs past the end of the {file_len}-byte file"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    reader.read_exact(&mut header).map_err(io_err)?;
    // Version 3.0 allows UTF-8; 1.0 and 2.0 are latin-1, of which the dict syntax uses ASCII.
    let header = String::from_utf8(header).map_err(|_| bad_header("header is not text".into()))?;
    let dict = parse_header(&header).map_err(bad_header)?;
    Ok((dict, data_start))
}

/// The number of elements `shape` holds, once the `actual` data bytes are exactly what it
/// promises.
fn element_count(
    shape: &[usize],
    dtype: Dtype,
    actual: u64,
    path: &Path,
) -> Result<usize, NpyError> {
    let count = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|n| n.checked_mul(dtype.size()).map(|bytes| (n, bytes)));
    let Some((count, expected)) = count else {
        return Err(NpyError::BadHeader {
            path: path.to_path_buf(),
            reason: format!("shape {shape:?} is too large"),
        });
    };
    if actual < expected {
        return Err(NpyError::Truncated {
            path: path.to_path_buf(),
            expected,
            actual,
        });
    }
    if actual > expected {
        return Err(NpyError::SizeMismatch {
            path: path.to_path_buf(),
            expected,
            actual,
        });
    }
    Ok(count as usize)
}

/// `count` values of `dtype`, widened to the two element types zoorepro works with.
fn read_data(reader: &mut impl Read, dtype: Dtype, count: usize) -> io::Result<NpyData> {
    Ok(match dtype {
        Dtype::I8 => NpyData::I64(read_values(reader, count, i64::from_le_bytes)?),
        Dtype::I4 => NpyData::I64(read_values(reader, count, |b: [u8; 4]| {
            i64::from(i32::from_le_bytes(b))
        })?),
        Dtype::F4 => NpyData::F32(read_values(reader, count, f32::from_le_bytes)?),
        Dtype::F2 => NpyData::F32(read_values(reader, count, |b: [u8; 2]| {
            f16_to_f32(u16::from_le_bytes(b))
        })?),
    })
}

/// Read `count` values of `N` bytes each, converting as they come so that the raw bytes are
/// never held in memory alongside the result.
fn read_values<const N: usize, T>(
    reader: &mut impl Read,
    count: usize,
    convert: impl Fn([u8; N]) -> T,
) -> io::Result<Vec<T>> {
    let mut values = Vec::with_capacity(count);
    let mut buf = vec![0u8; N * 8192];
    let mut left = count;
    while left > 0 {
        let n = left.min(8192);
        let bytes = &mut buf[..n * N];
        reader.read_exact(bytes)?;
        values.extend(
            bytes
                .chunks_exact(N)
                .map(|c| convert(c.try_into().expect("chunks are N bytes"))),
        );
        left -= n;
    }
    Ok(values)
}

/// IEEE half to single precision; every half value is exactly representable as a single.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exponent = u32::from((h >> 10) & 0x1F);
    let mantissa = u32::from(h & 0x3FF);
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m * 2^-24, normalised for single precision.
            let shift = m.leading_zeros() - 21; // places to bring the top bit to bit 10
            let m = (m << shift) & 0x3FF;
            let e = 127 - 15 + 1 - shift;
            sign | (e << 23) | (m << 13)
        }
        (0x1F, m) => sign | 0x7F80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

struct HeaderDict {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parse the header's Python dict literal: string keys; string, boolean or int-tuple values.
fn parse_header(text: &str) -> Result<HeaderDict, String> {
    let mut p = Parser {
        s: text.trim_end_matches(['\n', ' ', '\0']).as_bytes(),
        i: 0,
    };
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        match key.as_str() {
            "descr" => descr = Some(p.string()?),
            "fortran_order" => fortran_order = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("unexpected key {other:?}")),
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.skip_ws();
            p.expect(b'}')?;
            break;
        }
    }
    p.skip_ws();
    if p.i != p.s.len() {
        return Err("text after the header dict".into());
    }
    Ok(HeaderDict {
        descr: descr.ok_or("no 'descr' key")?,
        fortran_order: fortran_order.ok_or("no 'fortran_order' key")?,
        shape: shape.ok_or("no 'shape' key")?,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", b as char, self.i))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {}", self.i)),
        };
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&b| b == quote)
            .ok_or("unterminated string")?;
        self.i = start + len + 1;
        String::from_utf8(self.s[start..start + len].to_vec()).map_err(|e| e.to_string())
    }

    fn boolean(&mut self) -> Result<bool, String> {
        for (word, value) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(value);
            }
        }
        Err(format!("expected True or False at byte {}", self.i))
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let start = self.i;
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
            // Python 2 era writers append L to longs.
            self.eat(b'L');
            let dim = digits
                .parse::<usize>()
                .map_err(|_| format!("bad dimension at byte {start}"))?;
            dims.push(dim);
            self.skip_ws();
            if !self.eat(b',') {
                self.skip_ws();
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn streamed_samples_read_back_with_the_count_pushed_and_aligned_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.npy");
        // 1,000 promised, 7 pushed: the header shrinks by digits, its padding makes up for them.
        for (max_count, pushed) in [(1000, 7), (7, 7), (100_000, 0)] {
            let written = write_f32_samples(&path, &[2, 3], max_count, |push| {
                for i in 0..pushed {
                    push(&[i as f32; 6])?;
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(written, pushed);
            let bytes = fs::read(&path).unwrap();
            assert_eq!((bytes.len() - pushed * 24) % ALIGN, 0);
            let array = read(&path).unwrap();
            assert_eq!(array.shape, [pushed, 2, 3]);
            let NpyData::F32(values) = array.data else {
                panic!("{:?}", array.data)
            };
            assert_eq!(values.len(), pushed * 6);
            assert!(
                values
                    .chunks(6)
                    .enumerate()
                    .all(|(i, v)| v == [i as f32; 6])
            );
        }
    }

    #[test]
    fn a_sample_too_many_or_of_the_wrong_size_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.npy");
        let too_many = write_f32_samples(&path, &[2], 1, |push| {
            push(&[0.0; 2])?;
            push(&[0.0; 2])
        });
        assert!(too_many.is_err());
        let wrong_size = write_f32_samples(&path, &[2], 3, |push| push(&[0.0; 3]));
        assert!(
            wrong_size
                .unwrap_err()
                .to_string()
                .contains("holds 3 values, not 2")
        );
        assert!(!path.exists());
    }

    fn raw_npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_string();
        header.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn f32_round_trip_and_header_alignment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        write_f32(&path, &[2, 3, 4], &data).unwrap();
        let bytes = fs::read(&path).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes[10 + header_len - 1], b'\n');
        assert!(
            std::str::from_utf8(&bytes[10..10 + header_len])
                .unwrap()
                .starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }")
        );
        let back = read(&path).unwrap();
        assert_eq!(back.shape, [2, 3, 4]);
        assert_eq!(back.data, NpyData::F32(data));
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn one_dimensional_shape_has_a_trailing_comma() {
        let h = header_bytes("<f4", &[5]);
        assert!(String::from_utf8_lossy(&h).contains("'shape': (5,)"));
        assert_eq!(h.len() % 64, 0);
    }

    #[test]
    fn write_rejects_a_shape_that_does_not_match_the_data() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_f32(&dir.path().join("x.npy"), &[2, 2], &[1.0; 3]).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn reads_int64_int32_and_float16() {
        let dir = tempfile::tempdir().unwrap();
        let i8s: Vec<u8> = [-1i64, 2, 1 << 40]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let p = write_temp(
            dir.path(),
            "a.npy",
            &raw_npy(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 3), }",
                &i8s,
            ),
        );
        let a = read(&p).unwrap();
        assert_eq!(
            (a.shape, a.data),
            (vec![1, 3], NpyData::I64(vec![-1, 2, 1 << 40]))
        );

        let i4s: Vec<u8> = [-7i32, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
        let p = write_temp(
            dir.path(),
            "b.npy",
            &raw_npy(
                "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i4\"}",
                &i4s,
            ),
        );
        assert_eq!(read(&p).unwrap().data, NpyData::I64(vec![-7, 9]));

        let f2s: Vec<u8> = [0x3C00u16, 0xC000, 0x7BFF, 0x0001, 0x8000]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let p = write_temp(
            dir.path(),
            "c.npy",
            &raw_npy(
                "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }",
                &f2s,
            ),
        );
        let NpyData::F32(v) = read(&p).unwrap().data else {
            panic!("float16 should read as F32")
        };
        assert_eq!(v[..3], [1.0, -2.0, 65504.0]);
        assert_eq!(v[3], 2f32.powi(-24));
        assert!(v[4] == 0.0 && v[4].is_sign_negative());
    }

    #[test]
    fn every_float16_converts_exactly() {
        for h in 0..=u16::MAX {
            let (sign, e, m) = (h >> 15, (h >> 10) & 0x1F, h & 0x3FF);
            let magnitude = match e {
                0 => f64::from(m) * 2f64.powi(-24),
                0x1F if m == 0 => f64::INFINITY,
                0x1F => f64::NAN,
                _ => (1.0 + f64::from(m) / 1024.0) * 2f64.powi(i32::from(e) - 15),
            };
            let expected = if sign == 1 { -magnitude } else { magnitude };
            let got = f16_to_f32(h);
            if expected.is_nan() {
                assert!(got.is_nan(), "{h:#06x}");
            } else {
                assert_eq!(f64::from(got), expected, "{h:#06x}");
                assert_eq!(got.is_sign_negative(), sign == 1, "{h:#06x}");
            }
        }
    }

    #[test]
    fn malformed_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
        let data = [0u8; 16];

        let p = write_temp(dir.path(), "text.npy", b"hello world, not numpy");
        assert!(matches!(read(&p), Err(NpyError::NotNpy { .. })));
        let p = write_temp(dir.path(), "tiny.npy", b"\x93NU");
        assert!(matches!(read(&p), Err(NpyError::NotNpy { .. })));

        let p = write_temp(dir.path(), "short.npy", &raw_npy(ok_dict, &data[..10]));
        let err = read(&p).unwrap_err();
        assert!(
            matches!(
                err,
                NpyError::Truncated {
                    expected: 16,
                    actual: 10,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("short.npy"));

        let p = write_temp(dir.path(), "long.npy", &raw_npy(ok_dict, &[0u8; 20]));
        assert!(matches!(read(&p), Err(NpyError::SizeMismatch { .. })));

        let p = write_temp(
            dir.path(),
            "fortran.npy",
            &raw_npy(
                "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                &data,
            ),
        );
        assert!(matches!(read(&p), Err(NpyError::FortranOrder { .. })));

        for descr in [">f4", "<f8", "|u1", "<c8"] {
            let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (2, 2), }}");
            let p = write_temp(dir.path(), "dtype.npy", &raw_npy(&dict, &data));
            assert!(
                matches!(read(&p), Err(NpyError::UnsupportedDtype { .. })),
                "{descr}"
            );
        }

        // A header length pointing past the end of the file.
        let mut lying = raw_npy(ok_dict, &data);
        lying[8..10].copy_from_slice(&60000u16.to_le_bytes());
        let p = write_temp(dir.path(), "lying.npy", &lying);
        assert!(matches!(read(&p), Err(NpyError::BadHeader { .. })));

        for dict in [
            "{'descr': '<f4', 'shape': (2, 2), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2) ",
            "not a dict at all",
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 2), }",
        ] {
            let p = write_temp(dir.path(), "bad.npy", &raw_npy(dict, &data));
            assert!(
                matches!(read(&p), Err(NpyError::BadHeader { .. })),
                "{dict}"
            );
        }

        let mut v9 = raw_npy(ok_dict, &data);
        v9[6] = 9;
        let p = write_temp(dir.path(), "v9.npy", &v9);
        assert!(matches!(
            read(&p),
            Err(NpyError::UnsupportedVersion { major: 9, .. })
        ));

        // An absurd shape must not be allocated.
        let p = write_temp(
            dir.path(),
            "huge.npy",
            &raw_npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }",
                &data,
            ),
        );
        assert!(read(&p).is_err());

        assert!(matches!(
            read(&dir.path().join("missing.npy")),
            Err(NpyError::Io { .. })
        ));
    }

    #[test]
    fn reads_version_2_headers() {
        let dir = tempfile::tempdir().unwrap();
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[2, 0]);
        bytes.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        bytes.extend_from_slice(&1.5f32.to_le_bytes());
        let p = write_temp(dir.path(), "v2.npy", &bytes);
        assert_eq!(read(&p).unwrap().data, NpyData::F32(vec![1.5]));
    }

    #[test]
    fn parse_agrees_with_read() {
        let dir = tempfile::tempdir().unwrap();
        let ok = raw_npy(
            "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
            &[1, 0, 0, 0, 255, 255, 255, 255],
        );
        let p = write_temp(dir.path(), "ok.npy", &ok);
        assert_eq!(parse(&ok, &p).unwrap(), read(&p).unwrap());
        assert_eq!(parse(&ok, &p).unwrap().data, NpyData::I64(vec![1, -1]));
        let cut = &ok[..ok.len() - 1];
        let p = write_temp(dir.path(), "cut.npy", cut);
        assert_eq!(
            parse(cut, &p).unwrap_err().to_string(),
            read(&p).unwrap_err().to_string()
        );
    }
}
