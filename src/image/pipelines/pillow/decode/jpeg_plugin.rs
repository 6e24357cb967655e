//! What Pillow's `JpegImagePlugin` reads of a JPEG before libjpeg sees it.
//!
//! `Image.open` parses the markers in Python up to the first start-of-scan, and refuses some
//! files there that libjpeg alone would decode (a byte pair that is no marker, a short DQT,
//! a JFIF or Adobe segment too short for its version field, ...). It also takes the picture's
//! size and mode from the last frame header it saw. This is a port of that parse
//! (`JpegImageFile._open` with its marker handlers, Pillow 13.0.0), so zoorepro refuses exactly
//! the files Pillow refuses at this stage and decodes the rest with Pillow's mode.

use super::reader::Reader;

/// The frame header Pillow takes the size and mode from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// 1 (mode L), 3 (RGB) or 4 (CMYK).
    pub layers: u8,
    /// The frame marker (0xC0..=0xCF or 0xDE).
    pub marker: u8,
}

impl Frame {
    /// A lossless process (SOF3, 7, 11, 15): libjpeg cannot decode part of such a picture.
    pub fn is_lossless(&self) -> bool {
        matches!(self.marker, 0xC3 | 0xC7 | 0xCB | 0xCF)
    }
}

/// Why Pillow would not open the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// A `SyntaxError`, `struct.error` or `IndexError` in the parse: `Image.open` then says
    /// "cannot identify image file".
    Unidentified(String),
    /// A frame Pillow cannot represent (also a `SyntaxError`, named apart for the message).
    Unsupported(String),
    /// `ImageFile._safe_read`'s "Truncated File Read", or no scan before the end of the file
    /// ("cannot load this image").
    Truncated(String),
}

/// JpegImagePlugin's reads.
impl<'a> Reader<'a> {
    /// `i16(fp.read(2)) - 2` then `ImageFile._safe_read(fp, n)`: a marker segment's payload.
    fn segment(&mut self, name: &str) -> Result<&'a [u8], OpenError> {
        let length = self.read(2);
        let [high, low] = length else {
            return Err(OpenError::Unidentified(format!(
                "the file ends inside the length of a {name} segment"
            )));
        };
        let n = i64::from(u16::from_be_bytes([*high, *low])) - 2;
        if n <= 0 {
            return Ok(&[]);
        }
        let payload = self.read(n as usize);
        if payload.len() < n as usize {
            return Err(OpenError::Truncated(format!(
                "a {name} segment runs past the end of the file"
            )));
        }
        Ok(payload)
    }
}

fn be16(s: &[u8], offset: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*s.get(offset)?, *s.get(offset + 1)?]))
}

fn be32(s: &[u8], offset: usize) -> Option<u32> {
    let b = s.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn unidentified(why: &str) -> OpenError {
    OpenError::Unidentified(why.to_string())
}

/// Parses `bytes` (which start with FF D8 FF) as `JpegImageFile._open` does and returns the
/// frame Pillow would decode, or why Pillow would not open or load it.
pub fn open_like_pillow(bytes: &[u8]) -> Result<Frame, OpenError> {
    let mut reader = Reader { bytes, pos: 3 };
    let mut frame: Option<Frame> = None;
    // Pillow keeps ICC chunks met before a frame header and checks the first one there.
    let mut icc_chunks: Vec<&[u8]> = Vec::new();
    // `s` of the Python loop: the byte in hand, None once a read came back empty.
    let mut current = Some(0xFF_u8);
    while let Some(byte) = current {
        if byte != 0xFF {
            // "Skip non-0xFF junk".
            current = reader.read_byte();
            continue;
        }
        let Some(code) = reader.read_byte() else {
            break;
        };
        match code {
            0xC0..=0xFE => {
                handle_marker(code, &mut reader, &mut frame, &mut icc_chunks)?;
                if code == 0xDA {
                    return finish(frame);
                }
                current = reader.read_byte();
            }
            // A fill byte: the marker code follows.
            0xFF => current = Some(0xFF),
            // A stuffed zero outside entropy-coded data: skipped.
            0x00 => current = reader.read_byte(),
            _ => return Err(unidentified("no marker found")),
        }
    }
    // The markers ended without a start of scan. `Image.open` still needs a frame header with a
    // size; with one, `load()` then says "cannot load this image".
    finish(frame)?;
    Err(OpenError::Truncated(
        "the file ends before the image data (no start-of-scan marker)".into(),
    ))
}

/// `ImageFile.__init__`'s check after `_open`: a mode (so a frame header) and a size.
fn finish(frame: Option<Frame>) -> Result<Frame, OpenError> {
    let frame = frame.ok_or_else(|| unidentified("no frame header"))?;
    if frame.width == 0 || frame.height == 0 {
        return Err(OpenError::Unidentified(format!(
            "the frame header gives an empty size {}x{}",
            frame.width, frame.height
        )));
    }
    Ok(frame)
}

fn handle_marker<'a>(
    code: u8,
    reader: &mut Reader<'a>,
    frame: &mut Option<Frame>,
    icc_chunks: &mut Vec<&'a [u8]>,
) -> Result<(), OpenError> {
    match code {
        // SOF0-3, 5-7, 9-11, 13-15 and DHP share Pillow's SOF handler.
        0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDE => {
            let s = reader.segment("frame header")?;
            *frame = Some(frame_header(code, s, icc_chunks)?);
        }
        // DHT, DAC, SOS, DNL, DRI, EXP: skipped by length.
        0xC4 | 0xCC | 0xDA | 0xDC | 0xDD | 0xDF => {
            reader.segment("marker")?;
        }
        0xDB => quantization_tables(reader.segment("DQT")?)?,
        0xE0..=0xEF => {
            let s = reader.segment("application")?;
            application_segment(code, s, icc_chunks)?;
        }
        0xFE => {
            reader.segment("comment")?;
        }
        // JPG, RSTn, SOI, EOI, JPGn: no handler, nothing read.
        _ => {}
    }
    Ok(())
}

fn frame_header(code: u8, s: &[u8], icc_chunks: &mut Vec<&[u8]>) -> Result<Frame, OpenError> {
    let short = || unidentified("frame header too short");
    let height = be16(s, 1).ok_or_else(short)?;
    let width = be16(s, 3).ok_or_else(short)?;
    let bits = s[0];
    if bits != 8 {
        return Err(OpenError::Unsupported(format!(
            "cannot handle {bits}-bit layers"
        )));
    }
    let layers = *s.get(5).ok_or_else(short)?;
    if !matches!(layers, 1 | 3 | 4) {
        return Err(OpenError::Unsupported(format!(
            "cannot handle {layers}-layer images"
        )));
    }
    if !icc_chunks.is_empty() {
        // `self.icclist.sort()` then `self.icclist[0][13]`: the first chunk in byte order must
        // hold a chunk count.
        icc_chunks.sort_unstable();
        if icc_chunks[0].len() < 14 {
            return Err(unidentified("ICC profile chunk too short"));
        }
        icc_chunks.clear();
    }
    Ok(Frame {
        width: u32::from(width),
        height: u32::from(height),
        layers,
        marker: code,
    })
}

fn quantization_tables(mut s: &[u8]) -> Result<(), OpenError> {
    while let Some(&v) = s.first() {
        let precision = if v / 16 == 0 { 1 } else { 2 };
        let table_length = 1 + precision * 64;
        if s.len() < table_length {
            return Err(unidentified("bad quantization table marker"));
        }
        s = &s[table_length..];
    }
    Ok(())
}

fn application_segment<'a>(
    code: u8,
    s: &'a [u8],
    icc_chunks: &mut Vec<&'a [u8]>,
) -> Result<(), OpenError> {
    match code {
        // JFIF and Adobe: the version field is read without a guard (`struct.error`).
        0xE0 if s.starts_with(b"JFIF") && be16(s, 5).is_none() => {
            Err(unidentified("JFIF segment too short"))
        }
        0xEE if s.starts_with(b"Adobe") && be16(s, 5).is_none() => {
            Err(unidentified("Adobe segment too short"))
        }
        0xE2 if s.starts_with(b"ICC_PROFILE\0") => {
            icc_chunks.push(s);
            Ok(())
        }
        0xED if s.starts_with(b"Photoshop 3.0\0") => photoshop_resources(s),
        _ => Ok(()),
    }
}

/// Pillow walks the 8BIM resource blocks; a short length field ends the walk quietly
/// (`struct.error` is caught), but a block that ends right before its name length raises an
/// `IndexError`, which `Image.open` turns into "cannot identify image file".
fn photoshop_resources(s: &[u8]) -> Result<(), OpenError> {
    let mut offset: usize = 14;
    while s.get(offset..offset.saturating_add(4)) == Some(b"8BIM".as_slice()) {
        offset += 4;
        if be16(s, offset).is_none() {
            return Ok(());
        }
        offset += 2;
        let Some(&name_len) = s.get(offset) else {
            return Err(unidentified("Photoshop resource block too short"));
        };
        offset += 1 + usize::from(name_len);
        offset += offset & 1;
        let Some(size) = be32(s, offset) else {
            return Ok(());
        };
        offset += 4;
        // ResolutionInfo's fields are read with struct.error caught: nothing can fail there.
        offset = offset.saturating_add(size as usize);
        offset += offset & 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, then the given segments (marker, payload), then SOS.
    fn jpeg(segments: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        for (marker, payload) in segments {
            out.extend([0xFF, *marker]);
            out.extend(((payload.len() + 2) as u16).to_be_bytes());
            out.extend(*payload);
        }
        out
    }

    const SOF_RGB: &[u8] = &[8, 0, 7, 0, 13, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
    const SOS: &[u8] = &[1, 1, 0, 0, 63, 0];

    /// Marker segments, each a marker code and its payload.
    type Segments<'a> = &'a [(u8, &'a [u8])];

    #[test]
    fn frame_size_and_mode_come_from_the_last_frame_header() {
        let mut gray = SOF_RGB.to_vec();
        gray[5] = 1;
        gray[1..5].copy_from_slice(&[0, 9, 0, 21]);
        let file = jpeg(&[(0xC0, SOF_RGB), (0xC2, &gray), (0xDA, SOS)]);
        let frame = open_like_pillow(&file).unwrap();
        assert_eq!(
            (frame.width, frame.height, frame.layers, frame.marker),
            (21, 9, 1, 0xC2)
        );
    }

    #[test]
    fn junk_between_segments_is_skipped_but_an_unknown_marker_is_refused() {
        let mut file = jpeg(&[(0xC0, SOF_RGB)]);
        file.extend([0x12, 0x34, 0xFF, 0xFF, 0xFF, 0x00, 0x55]);
        file.extend(&jpeg(&[(0xDA, SOS)])[2..]);
        assert!(open_like_pillow(&file).is_ok());
        let mut bad = jpeg(&[(0xC0, SOF_RGB)]);
        bad.extend([0xFF, 0x42]);
        bad.extend(&jpeg(&[(0xDA, SOS)])[2..]);
        assert_eq!(
            open_like_pillow(&bad),
            Err(OpenError::Unidentified("no marker found".into()))
        );
    }

    #[test]
    fn pillow_refusals_before_decoding() {
        let mut twelve = SOF_RGB.to_vec();
        twelve[0] = 12;
        let mut two_layers = SOF_RGB.to_vec();
        two_layers[5] = 2;
        let cases: [(Segments, &str); 8] = [
            (&[(0xC0, &twelve), (0xDA, SOS)], "Unsupported"),
            (&[(0xC0, &two_layers), (0xDA, SOS)], "Unsupported"),
            (
                &[(0xDB, &[0; 60]), (0xC0, SOF_RGB), (0xDA, SOS)],
                "Unidentified",
            ),
            (
                &[(0xDB, &[0x10; 100]), (0xC0, SOF_RGB), (0xDA, SOS)],
                "Unidentified",
            ),
            (
                &[(0xE0, b"JFIF\0\x01"), (0xC0, SOF_RGB), (0xDA, SOS)],
                "Unidentified",
            ),
            (
                &[(0xEE, b"Adobe\0"), (0xC0, SOF_RGB), (0xDA, SOS)],
                "Unidentified",
            ),
            (
                &[(0xE2, b"ICC_PROFILE\0\x01"), (0xC0, SOF_RGB), (0xDA, SOS)],
                "Unidentified",
            ),
            (&[(0xC0, &SOF_RGB[..5]), (0xDA, SOS)], "Unidentified"),
        ];
        for (segments, kind) in cases {
            let got = open_like_pillow(&jpeg(segments)).unwrap_err();
            assert!(
                format!("{got:?}").starts_with(kind),
                "{segments:?}: {got:?}"
            );
        }
        // Long enough: accepted here (libjpeg judges the rest).
        for segments in [
            &[
                (0xE0, b"JFIF\0\x01\x02".as_slice()),
                (0xC0, SOF_RGB),
                (0xDA, SOS),
            ][..],
            &[
                (0xE2, b"ICC_PROFILE\0\x00\x07"),
                (0xC0, SOF_RGB),
                (0xDA, SOS),
            ],
            &[(0xC0, SOF_RGB), (0xE2, b"ICC_PROFILE\0"), (0xDA, SOS)],
            &[(0xDB, &[0x00; 65]), (0xC0, SOF_RGB), (0xDA, SOS)],
        ] {
            assert!(open_like_pillow(&jpeg(segments)).is_ok(), "{segments:?}");
        }
    }

    #[test]
    fn photoshop_blocks_fail_only_where_python_raises_index_error() {
        let block = |tail: &[u8]| {
            let mut s = b"Photoshop 3.0\0".to_vec();
            s.extend(b"8BIM");
            s.extend(tail);
            s
        };
        let ok = [block(&[3]), block(&[3, 0xED, 0, 0, 0, 0, 0, 2, 1, 2])];
        for s in &ok {
            assert!(open_like_pillow(&jpeg(&[(0xED, s), (0xC0, SOF_RGB), (0xDA, SOS)])).is_ok());
        }
        let bad = block(&[3, 0xED]);
        assert!(matches!(
            open_like_pillow(&jpeg(&[(0xED, &bad), (0xC0, SOF_RGB), (0xDA, SOS)])),
            Err(OpenError::Unidentified(_))
        ));
    }

    #[test]
    fn the_end_of_the_file_before_a_scan_is_truncation() {
        let file = jpeg(&[(0xC0, SOF_RGB), (0xDA, SOS)]);
        let cut = &file[..file.len() - 3];
        assert!(matches!(
            open_like_pillow(cut),
            Err(OpenError::Truncated(_))
        ));
        let no_scan = jpeg(&[(0xC0, SOF_RGB)]);
        assert!(matches!(
            open_like_pillow(&no_scan),
            Err(OpenError::Truncated(_))
        ));
        // Without a frame header Pillow does not even identify the file.
        let tables_only = jpeg(&[(0xDB, &[0; 65])]);
        assert!(matches!(
            open_like_pillow(&tables_only),
            Err(OpenError::Unidentified(_))
        ));
        assert!(matches!(
            open_like_pillow(&jpeg(&[(0xDA, SOS)])),
            Err(OpenError::Unidentified(_))
        ));
    }
}
