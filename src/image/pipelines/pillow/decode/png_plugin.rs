//! What Pillow's `PngImagePlugin` reads of a PNG around its image data.
//!
//! Pillow walks the chunks in Python and judges them differently from the `png` crate: before
//! the first IDAT every chunk's CRC is checked and each known chunk's handler may refuse it
//! (a zero-length gAMA, a short cHRM, ...), unknown chunks are skipped whether critical or not;
//! the image data is the run of consecutive IDAT chunks whose CRCs are never read; after it the
//! chunks up to IEND go through the same handlers again, still without CRC checks. This is a port
//! of that walk (`PngImageFile._open`, `load_read` and `load_end` with `PngStream`'s handlers,
//! Pillow 13.0.0): it refuses what Pillow refuses there and hands the `png` crate a clean PNG
//! (the header Pillow uses, its palette, the image data exactly as Pillow feeds its decoder, all
//! with valid CRCs) whose decoding then only judges the compressed rows.

use super::DecodeError;
use super::reader::Reader;

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// `ImageFile.SAFEBLOCK`: the most a zTXt, iTXt or iCCP chunk may inflate to.
const MAX_TEXT_CHUNK: u64 = 1 << 20;
/// `MAX_TEXT_MEMORY`: the most all text chunks together may hold.
const MAX_TEXT_MEMORY: u64 = 64 * MAX_TEXT_CHUNK;

fn broken(why: String) -> DecodeError {
    DecodeError::Broken(why)
}

fn truncated(why: &str) -> DecodeError {
    DecodeError::Truncated(why.to_string())
}

/// A chunk too short for its fields.
fn short(what: &str) -> DecodeError {
    broken(format!("truncated {what} chunk"))
}

/// iCCP: the compression method must be 0 and the profile must inflate.
fn icc_profile(s: &[u8]) -> Result<(), DecodeError> {
    // `s[s.find(b"\0") + 1]`: with no NUL that is s[0].
    let method_at = s.iter().position(|&b| b == 0).map_or(0, |i| i + 1);
    let method = *s
        .get(method_at)
        .ok_or_else(|| DecodeError::Unidentified("empty PNG iCCP chunk".into()))?;
    if method != 0 {
        return Err(broken(format!(
            "unknown compression method {method} in iCCP chunk"
        )));
    }
    inflate_bounded(&s[method_at + 1..])?;
    Ok(())
}

fn be32(s: &[u8], at: usize) -> Option<u32> {
    let b = s.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// `re.compile(rb"\w\w\w\w").match`: ASCII letters, digits and underscore.
fn is_chunk_type(kind: &[u8]) -> bool {
    kind.len() == 4 && kind.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

fn crc32(kind: &[u8], data: &[u8]) -> u32 {
    let mut hasher = flate2::Crc::new();
    hasher.update(kind);
    hasher.update(data);
    hasher.sum()
}

/// The PNG modes of `_MODES`, by (bit depth, colour type).
fn mode_of(depth: u8, color: u8) -> Option<Mode> {
    Some(match (depth, color) {
        (1, 0) => Mode::Bilevel,
        (2 | 4 | 8, 0) => Mode::Gray,
        (16, 0) => Mode::Gray16,
        (8 | 16, 2) => Mode::Rgb,
        (1 | 2 | 4 | 8, 3) => Mode::Palette,
        (8, 4) => Mode::GrayAlpha,
        (16, 4) | (8 | 16, 6) => Mode::Rgba,
        _ => return None,
    })
}

/// Pillow's image mode, as far as the chunk handlers look at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Bilevel,
    Gray,
    Gray16,
    Rgb,
    Palette,
    GrayAlpha,
    Rgba,
}

/// PngImagePlugin's reads.
impl<'a> Reader<'a> {
    /// `ImageFile._safe_read`: exactly `n` bytes or "Truncated File Read".
    fn safe_read(&mut self, n: u32, kind: &[u8]) -> Result<&'a [u8], DecodeError> {
        let data = self.read(n as usize);
        if data.len() < n as usize {
            return Err(truncated(&format!(
                "the PNG chunk {} runs past the end of the file",
                String::from_utf8_lossy(kind)
            )));
        }
        Ok(data)
    }

    /// `ChunkStream.read`: a chunk's type and length, or `None` where Pillow's read raises
    /// (`struct.error` on a short length, `SyntaxError` on a type that is not four word bytes).
    fn header(&mut self) -> Option<([u8; 4], u32)> {
        let s = self.read(8);
        let length = be32(s, 0)?;
        let kind = &s[4..];
        is_chunk_type(kind).then(|| ([kind[0], kind[1], kind[2], kind[3]], length))
    }
}

/// What the chunk handlers collect: the header Pillow decodes with and its palette.
#[derive(Default)]
struct Stream<'a> {
    ihdr: Option<[u8; 13]>,
    mode: Option<Mode>,
    palette: Option<&'a [u8]>,
    text_memory: u64,
    animated: bool,
    /// The last frame control's sequence number (APNG).
    sequence: Option<u32>,
    /// Set by an fcTL before the image data: the default image covers only this part.
    frame_region: Option<(u32, u32, u32, u32)>,
}

/// How a handler ended: its data was read, or it is image data (Pillow's `EOFError`).
enum Handled {
    Read,
    ImageData,
    End,
}

impl<'a> Stream<'a> {
    fn size(&self) -> (u32, u32) {
        self.ihdr
            .map(|h| (be32(&h, 0).unwrap_or(0), be32(&h, 4).unwrap_or(0)))
            .unwrap_or((0, 0))
    }

    /// `PngStream.call` and the handler it reaches; unknown chunk types are read and skipped.
    fn call(
        &mut self,
        kind: [u8; 4],
        length: u32,
        r: &mut Reader<'a>,
    ) -> Result<Handled, DecodeError> {
        match &kind {
            b"IDAT" => return Ok(Handled::ImageData),
            b"IEND" => return Ok(Handled::End),
            b"fdAT" => {
                if length < 4 {
                    return Err(short("fdAT"));
                }
                let s = r.safe_read(4, &kind)?;
                self.sequence_step(be32(s, 0).unwrap_or(0), false)?;
                return Ok(Handled::ImageData);
            }
            _ => {}
        }
        let s = r.safe_read(length, &kind)?;
        match &kind {
            b"IHDR" => self.image_header(s)?,
            b"PLTE" if self.mode == Some(Mode::Palette) => self.palette = Some(s),
            b"tRNS" => {
                let needed = match self.mode {
                    Some(Mode::Rgb) => 6,
                    Some(Mode::Bilevel | Mode::Gray | Mode::Gray16) => 2,
                    _ => 0,
                };
                if s.len() < needed {
                    return Err(short("tRNS"));
                }
            }
            b"gAMA" if s.len() < 4 => return Err(short("gAMA")),
            b"cHRM" if s.len() < 32 => return Err(short("cHRM")),
            b"sRGB" if s.is_empty() => return Err(short("sRGB")),
            b"pHYs" if s.len() < 9 => return Err(short("pHYs")),
            b"iCCP" => icc_profile(s)?,
            b"tEXt" => {
                let (key, value) = split_nul(s);
                if !key.is_empty() {
                    self.add_text(value.len() as u64)?;
                }
            }
            b"zTXt" => self.compressed_text(s)?,
            b"iTXt" => self.international_text(s)?,
            b"acTL" => self.animation_control(s)?,
            b"fcTL" => self.frame_control(s)?,
            _ => {}
        }
        Ok(Handled::Read)
    }

    /// IHDR: the size, colour mode and filter category.
    fn image_header(&mut self, s: &[u8]) -> Result<(), DecodeError> {
        if s.len() < 13 {
            return Err(short("IHDR"));
        }
        let mut ihdr = [0; 13];
        ihdr.copy_from_slice(&s[..13]);
        self.ihdr = Some(ihdr);
        // An unknown depth/colour pair keeps the mode of an earlier header.
        if let Some(mode) = mode_of(ihdr[8], ihdr[9]) {
            self.mode = Some(mode);
        }
        if ihdr[11] != 0 {
            return Err(DecodeError::Unidentified(
                "unknown PNG filter category".into(),
            ));
        }
        Ok(())
    }

    /// zTXt: the compression method is checked and the text inflated, keyed or not.
    fn compressed_text(&mut self, s: &[u8]) -> Result<(), DecodeError> {
        let (key, value) = split_nul(s);
        let method = value.first().copied().unwrap_or(0);
        if method != 0 {
            return Err(broken(format!(
                "unknown compression method {method} in zTXt chunk"
            )));
        }
        let text = inflate_bounded(value.get(1..).unwrap_or_default())?;
        if !key.is_empty() {
            self.add_text(text.map_or(0, |t| t.len() as u64))?;
        }
        Ok(())
    }

    /// acTL: the stream is animated unless the control is repeated or its frame count is out
    /// of range.
    fn animation_control(&mut self, s: &[u8]) -> Result<(), DecodeError> {
        if s.len() < 8 {
            return Err(short("acTL"));
        }
        let frames = be32(s, 0).unwrap_or(0);
        // A second acTL, or a frame count of 0 or over 2^31: "Invalid APNG, will use
        // default PNG image if possible".
        self.animated = !self.animated && frames != 0 && frames <= 0x8000_0000;
        Ok(())
    }

    /// fcTL: the next sequence number, and a frame region that must lie inside the image.
    fn frame_control(&mut self, s: &[u8]) -> Result<(), DecodeError> {
        if s.len() < 26 {
            return Err(short("fcTL"));
        }
        self.sequence_step(be32(s, 0).unwrap_or(0), true)?;
        let (width, height, x, y) = (
            u64::from(be32(s, 4).unwrap_or(0)),
            u64::from(be32(s, 8).unwrap_or(0)),
            u64::from(be32(s, 12).unwrap_or(0)),
            u64::from(be32(s, 16).unwrap_or(0)),
        );
        let (image_width, image_height) = self.size();
        if x + width > u64::from(image_width) || y + height > u64::from(image_height) {
            return Err(broken("APNG contains invalid frames".into()));
        }
        self.frame_region = Some((x as u32, y as u32, width as u32, height as u32));
        Ok(())
    }

    /// Pillow's frame sequence check: an fcTL may start the count at 0; after that each fcTL
    /// and fdAT must carry the next number.
    fn sequence_step(&mut self, sequence: u32, first_may_start: bool) -> Result<(), DecodeError> {
        let in_order = match self.sequence {
            None => first_may_start && sequence == 0,
            Some(previous) => previous.checked_add(1) == Some(sequence),
        };
        if !in_order {
            return Err(broken("APNG contains frame sequence errors".into()));
        }
        self.sequence = Some(sequence);
        Ok(())
    }

    fn add_text(&mut self, len: u64) -> Result<(), DecodeError> {
        self.text_memory += len;
        if self.text_memory > MAX_TEXT_MEMORY {
            return Err(DecodeError::Unsupported(
                "the PNG's text chunks hold more than Pillow's 64 MiB limit".into(),
            ));
        }
        Ok(())
    }

    /// `chunk_iTXt`: malformed ones are skipped; only a compressed text over the limit fails.
    fn international_text(&mut self, s: &[u8]) -> Result<(), DecodeError> {
        let Some(nul) = s.iter().position(|&b| b == 0) else {
            return Ok(());
        };
        let rest = &s[nul + 1..];
        if rest.len() < 2 {
            return Ok(());
        }
        let (flag, method, rest) = (rest[0], rest[1], &rest[2..]);
        let mut parts = rest.splitn(3, |&b| b == 0);
        let (Some(language), Some(translated), Some(value)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Ok(());
        };
        let inflated;
        let value = if flag != 0 {
            if method != 0 {
                return Ok(());
            }
            match inflate_bounded(value)? {
                Some(text) => {
                    inflated = text;
                    &inflated[..]
                }
                None => return Ok(()),
            }
        } else {
            value
        };
        let utf8 = |b: &[u8]| std::str::from_utf8(b).is_ok();
        if utf8(language) && utf8(translated) && utf8(value) {
            let chars = String::from_utf8_lossy(value).chars().count();
            self.add_text(chars as u64)?;
        }
        Ok(())
    }
}

fn split_nul(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == 0) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

/// `_safe_zlib_decompress`: `None` for a broken stream (Pillow ignores it), an error when it
/// inflates past `MAX_TEXT_CHUNK`.
fn inflate_bounded(data: &[u8]) -> Result<Option<Vec<u8>>, DecodeError> {
    let mut inflater = flate2::Decompress::new(true);
    let mut out = Vec::with_capacity(4096);
    loop {
        if out.len() == out.capacity() {
            if out.len() as u64 >= MAX_TEXT_CHUNK {
                // Pillow asks for at most MAX_TEXT_CHUNK bytes and fails if input is left.
                let consumed = inflater.total_in() as usize;
                if consumed < data.len() {
                    return Err(DecodeError::Unsupported(
                        "a PNG text or ICC chunk inflates past Pillow's 1 MiB limit".into(),
                    ));
                }
                return Ok(Some(out));
            }
            out.reserve(
                (out.len())
                    .min(MAX_TEXT_CHUNK as usize - out.len())
                    .max(4096),
            );
        }
        let consumed = inflater.total_in() as usize;
        let before = out.len();
        let status =
            inflater.decompress_vec(&data[consumed..], &mut out, flate2::FlushDecompress::Sync);
        match status {
            Err(_) => return Ok(None),
            Ok(flate2::Status::StreamEnd) => return Ok(Some(out)),
            Ok(_) if out.len() == before && inflater.total_in() as usize == consumed => {
                return Ok(Some(out));
            }
            Ok(_) => {}
        }
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(kind, data).to_be_bytes());
}

fn unidentified(why: &str) -> DecodeError {
    DecodeError::Unidentified(why.to_string())
}

/// Walks `bytes` (which start with the PNG signature) as Pillow does and returns the PNG the
/// `png` crate should decode, or why Pillow refuses the file at the chunk level.
pub fn normalise(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut r = Reader {
        bytes,
        pos: SIGNATURE.len(),
    };
    let mut stream = Stream::default();
    let first_data = open_chunks(&mut stream, &mut r)?;
    let (Some(ihdr), Some(mode)) = (stream.ihdr, stream.mode) else {
        return Err(unidentified("a PNG without a usable IHDR chunk"));
    };
    let (width, height) = stream.size();
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(unidentified("a PNG with an empty or negative size"));
    }
    // Pillow's decompression bomb check comes with `Image.open`, before any data is inflated.
    super::check_size(u64::from(width), u64::from(height))?;
    let Some(first_length) = first_data else {
        return Err(truncated("the PNG ends before its image data"));
    };
    if let Some((x, y, w, h)) = stream.frame_region
        && (x, y, w, h) != (0, 0, width, height)
    {
        return Err(DecodeError::Unsupported(
            "an APNG whose first frame covers only part of the image".into(),
        ));
    }
    let data = load_read(&mut r, first_length);
    load_end(&mut stream, &mut r)?;
    rebuilt(ihdr, mode, stream.palette, &data)
}

/// `_open`: every chunk up to the first IDAT, each CRC checked. Returns the first IDAT's
/// length, or None when IEND comes first.
fn open_chunks<'a>(
    stream: &mut Stream<'a>,
    r: &mut Reader<'a>,
) -> Result<Option<u32>, DecodeError> {
    loop {
        let Some((kind, length)) = r.header() else {
            return Err(unidentified(
                "broken PNG chunk header before the image data",
            ));
        };
        let start = r.pos;
        match stream.call(kind, length, r)? {
            Handled::ImageData => return Ok(Some(length)),
            Handled::End => return Ok(None),
            Handled::Read => {}
        }
        let data = &r.bytes[start..r.pos];
        let stored = r.read(4);
        if stored.len() < 4 {
            return Err(unidentified("incomplete PNG chunk checksum"));
        }
        if be32(stored, 0) != Some(crc32(&kind, data)) {
            return Err(unidentified(&format!(
                "bad checksum in PNG chunk {}",
                String::from_utf8_lossy(&kind)
            )));
        }
    }
}

/// `load_read`: the first IDAT, then each IDAT right after it (CRCs skipped, unchecked);
/// whatever ends the run ends the data the decoder sees. The reader is left after the first
/// IDAT's data, where `load_end` starts.
fn load_read(r: &mut Reader<'_>, first_length: u32) -> Vec<u8> {
    let mut data = r.read(first_length as usize).to_vec();
    let mut complete_run = data.len() == first_length as usize;
    let after_first = r.pos;
    while complete_run {
        r.read(4);
        match r.header() {
            Some((kind, length)) if &kind == b"IDAT" || &kind == b"DDAT" => {
                let piece = r.read(length as usize);
                data.extend_from_slice(piece);
                complete_run = piece.len() == length as usize;
            }
            _ => break,
        }
    }
    r.pos = after_first;
    data
}

/// `load_end`: every chunk after the first IDAT up to IEND through the handlers, no CRCs.
fn load_end<'a>(stream: &mut Stream<'a>, r: &mut Reader<'a>) -> Result<(), DecodeError> {
    loop {
        r.read(4);
        let Some((kind, length)) = r.header() else {
            break;
        };
        if &kind == b"IEND" || (&kind == b"fcTL" && stream.animated) {
            break;
        }
        match stream.call(kind, length, r)? {
            Handled::ImageData => {
                let skip = if &kind == b"fdAT" { length - 4 } else { length };
                r.safe_read(skip, &kind)?;
            }
            Handled::Read | Handled::End => {}
        }
    }
    Ok(())
}

/// The PNG the `png` crate decodes: the header, the palette, the image data as one IDAT.
fn rebuilt(
    ihdr: [u8; 13],
    mode: Mode,
    palette: Option<&[u8]>,
    data: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    // The header Pillow decodes with: its compression and filter bytes are not looked at (the
    // filter byte was refused above when set), any interlace value but 0 means Adam7.
    let mut header = ihdr;
    header[10] = 0;
    header[11] = 0;
    header[12] = u8::from(ihdr[12] != 0);
    let mut out = Vec::with_capacity(data.len() + 1024);
    out.extend_from_slice(SIGNATURE);
    chunk(&mut out, b"IHDR", &header);
    if mode == Mode::Palette {
        let palette = palette.ok_or_else(|| {
            DecodeError::Unsupported("a palette PNG without a palette (PLTE chunk)".into())
        })?;
        // Pillow reads whole RGB entries and ignores a partial one at the end; the `png` crate
        // 0.18 panics on a PLTE whose length is not a multiple of 3 (found by fuzzing).
        chunk(&mut out, b"PLTE", &palette[..palette.len() / 3 * 3]);
    }
    check_zlib(data, &header)?;
    chunk(&mut out, b"IDAT", data);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// Pillow's zlib stops at the first error in the stream, the Adler-32 at its end included
/// (zlib reaches it within the call that writes the last row); the `png` crate's inflater
/// is more lenient. So the stream is inflated once here, its output dropped, up to its end or
/// up to a little past what the picture can hold.
fn check_zlib(data: &[u8], ihdr: &[u8; 13]) -> Result<(), DecodeError> {
    let (width, height) = (
        u64::from(be32(ihdr, 0).unwrap_or(0)),
        u64::from(be32(ihdr, 4).unwrap_or(0)),
    );
    let channels = match ihdr[9] {
        2 => 3,
        4 => 2,
        6 => 4,
        _ => 1,
    };
    let bits = channels * u64::from(ihdr[8]);
    // Filter bytes and Adam7's partial rows included, with room to spare.
    let limit = height
        .saturating_mul(2 + (width.saturating_mul(bits)).div_ceil(8))
        .saturating_mul(2)
        .saturating_add(1 << 20);
    let mut inflater = flate2::Decompress::new(true);
    let mut scratch = vec![0u8; 64 << 10];
    loop {
        let consumed = inflater.total_in() as usize;
        let before = inflater.total_out();
        let status = inflater
            .decompress(
                &data[consumed..],
                &mut scratch,
                flate2::FlushDecompress::None,
            )
            .map_err(|e| broken(format!("broken PNG image data: {e}")))?;
        let stalled = inflater.total_in() as usize == consumed && inflater.total_out() == before;
        if status == flate2::Status::StreamEnd || stalled || inflater.total_out() > limit {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::pipelines::pillow::decode::decode_rgb;

    /// A PNG's chunks after the signature: (type, data).
    type Chunks = Vec<([u8; 4], Vec<u8>)>;

    /// A 5x3 8-bit RGB PNG written by the png crate, as (type, data) chunks after the signature.
    fn base_chunks() -> (Chunks, Vec<u8>) {
        let pixels: Vec<u8> = (0..5 * 3 * 3).map(|i| (i * 17 % 256) as u8).collect();
        let mut png = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut png, 5, 3);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .write_header()
                .unwrap()
                .write_image_data(&pixels)
                .unwrap();
        }
        let mut chunks = Vec::new();
        let mut at = SIGNATURE.len();
        while at < png.len() {
            let length = be32(&png, at).unwrap() as usize;
            let kind: [u8; 4] = png[at + 4..at + 8].try_into().unwrap();
            chunks.push((kind, png[at + 8..at + 8 + length].to_vec()));
            at += 12 + length;
        }
        (chunks, pixels)
    }

    /// Found by `fuzz/fuzz_targets/png_decode.rs`: a PLTE of 8 or 5 bytes made the `png` crate
    /// panic (a slice past the palette's end). Pillow reads the whole entries and leaves an index
    /// past them black.
    #[test]
    fn a_palette_with_a_partial_entry_decodes_as_pillow_reads_it() {
        let palette_png = |palette: &[u8]| {
            let header = [0, 0, 0, 2, 0, 0, 0, 1, 8, 3, 0, 0, 0];
            let mut idat = Vec::new();
            let mut z = flate2::write::ZlibEncoder::new(&mut idat, flate2::Compression::fast());
            std::io::Write::write_all(&mut z, &[0, 0, 1]).unwrap();
            z.finish().unwrap();
            let chunks = [
                (*b"IHDR", header.to_vec()),
                (*b"PLTE", palette.to_vec()),
                (*b"IDAT", idat),
                (*b"IEND", Vec::new()),
            ];
            assemble(&chunks, None)
        };
        let palette: Vec<u8> = (10..18).collect();
        let image = decode_rgb(&palette_png(&palette)).unwrap();
        assert_eq!(image.pixels, [10, 11, 12, 13, 14, 15]);
        let image = decode_rgb(&palette_png(&palette[..5])).unwrap();
        assert_eq!(image.pixels, [10, 11, 12, 0, 0, 0]);
    }

    /// The chunks as a file; `bad_crc` names a chunk type whose first CRC is spoiled.
    fn assemble(chunks: &[([u8; 4], Vec<u8>)], bad_crc: Option<&[u8; 4]>) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        for (kind, data) in chunks {
            let from = out.len();
            chunk(&mut out, kind, data);
            if Some(kind) == bad_crc {
                let end = out.len();
                out[end - 1] ^= 0x55;
                assert!(from < end);
            }
        }
        out
    }

    /// `chunks` with (`kind`, `data`) inserted before the first chunk of type `before`.
    fn inserted(
        chunks: &[([u8; 4], Vec<u8>)],
        before: &[u8; 4],
        kind: &[u8; 4],
        data: &[u8],
    ) -> Chunks {
        let at = chunks.iter().position(|(k, _)| k == before).unwrap();
        let mut out = chunks.to_vec();
        out.insert(at, (*kind, data.to_vec()));
        out
    }

    /// The four PNG cases of issue 35 item 11, each the opposite of what zoorepro did before
    /// (Pillow 13.0.0's outcome on the same bytes).
    #[test]
    fn png_chunks_are_judged_as_pillow_judges_them() {
        let (chunks, pixels) = base_chunks();
        assert_eq!(decode_rgb(&assemble(&chunks, None)).unwrap().pixels, pixels);
        // An ancillary chunk with a bad CRC before the image data: Pillow refuses.
        let text = inserted(&chunks, b"IDAT", b"tEXt", b"Comment\0hello");
        assert!(decode_rgb(&assemble(&text, None)).is_ok());
        assert!(matches!(
            decode_rgb(&assemble(&text, Some(b"tEXt"))),
            Err(DecodeError::Unidentified(_))
        ));
        // An IDAT with a bad CRC: Pillow never reads image data CRCs.
        let idat_bad = assemble(&chunks, Some(b"IDAT"));
        assert_eq!(decode_rgb(&idat_bad).unwrap().pixels, pixels);
        // An unknown critical chunk is skipped like any unknown chunk.
        let critical = inserted(&chunks, b"IDAT", b"CRIT", b"\x01\x02\x03");
        assert_eq!(
            decode_rgb(&assemble(&critical, None)).unwrap().pixels,
            pixels
        );
        // A zero-length gAMA ("Truncated gAMA chunk"), before or after the image data.
        for before in [b"IDAT", b"IEND"] {
            let gamma = inserted(&chunks, before, b"gAMA", b"");
            assert!(
                matches!(
                    decode_rgb(&assemble(&gamma, None)),
                    Err(DecodeError::Broken(_))
                ),
                "before {before:?}"
            );
            let gamma = inserted(&chunks, before, b"gAMA", &45455u32.to_be_bytes());
            assert_eq!(decode_rgb(&assemble(&gamma, None)).unwrap().pixels, pixels);
        }
        // After the image data CRCs are not read either.
        let late_text = inserted(&chunks, b"IEND", b"tEXt", b"Comment\0hello");
        assert_eq!(
            decode_rgb(&assemble(&late_text, Some(b"tEXt")))
                .unwrap()
                .pixels,
            pixels
        );
    }

    #[test]
    fn image_data_ends_where_pillow_stops_reading_it() {
        let (chunks, pixels) = base_chunks();
        let idat = chunks.iter().position(|(k, _)| k == b"IDAT").unwrap();
        let data = chunks[idat].1.clone();
        // Split over three IDATs: one stream.
        let mut split = chunks.clone();
        let third = data.len() / 3;
        split.splice(
            idat..=idat,
            [
                (*b"IDAT", data[..third].to_vec()),
                (*b"IDAT", data[third..2 * third].to_vec()),
                (*b"IDAT", data[2 * third..].to_vec()),
            ],
        );
        assert_eq!(decode_rgb(&assemble(&split, None)).unwrap().pixels, pixels);
        // Another chunk between two IDATs ends the data: the rows after it are missing.
        let mut between = split.clone();
        between.insert(idat + 1, (*b"tEXt", b"a\0b".to_vec()));
        assert!(decode_rgb(&assemble(&between, None)).is_err());
        // A file without IEND, and garbage after IEND, are fine.
        let whole = assemble(&chunks, None);
        assert_eq!(
            decode_rgb(&whole[..whole.len() - 12]).unwrap().pixels,
            pixels
        );
        let mut trailing = whole.clone();
        trailing.extend_from_slice(b"\x00\x00\x00\x00gAMA junk");
        assert_eq!(decode_rgb(&trailing).unwrap().pixels, pixels);
    }
}
