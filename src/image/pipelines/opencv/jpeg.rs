//! `cv2.imread(path)` (IMREAD_COLOR) on JPEG files, accepted, refused and pixelled as OpenCV 5.1
//! does it: the libjpeg glue ([`crate::image::libjpeg`]) with imread's policy, this file for
//! OpenCV's CMYK conversion and for the EXIF orientation imread applies (its own EXIF reader,
//! quirks included: see [`Exif`]).

use crate::image::decoding::{DecodeError, MAX_SCANS, jpeg_part};
use crate::image::libjpeg::{self, Colour, Failure, Hooks, Policy, Source};
use crate::image::raster::{RgbImage, Window};

/// imread's libjpeg: a file source (running out of data is a warning and a fake EOI), libjpeg's
/// defaults (accurate DCT, fancy upsampling), RGB or CMYK, validateInputImageSize's limits (sides
/// up to 2^20, at most 2^30 pixels), and an image whose rows are all out is kept whatever
/// jpeg_finish_decompress then says.
const IMREAD: Policy = Policy {
    keep_after_rows: true,
    max_side: 1 << 20,
    max_pixels: 1 << 30,
    ..Policy::new(Source::FakeEoi, Colour::RgbOrCmyk, MAX_SCANS)
};

/// What the C side calls back into: the caller's rectangle and the EXIF reader.
struct ImreadHooks<'a> {
    needed: &'a mut dyn FnMut(usize, usize) -> Window,
    allow_region: bool,
    /// A part was asked for (then a failed or warned decode is run again whole).
    asked_part: bool,
    exif: Exif,
}

impl Hooks for ImreadHooks<'_> {
    fn region(&mut self, width: usize, height: usize) -> Option<Window> {
        // An oriented picture is flipped or turned after decoding: decode it whole.
        if !self.allow_region || matches!(self.exif.orientation, Some(2..=8)) {
            return None;
        }
        let part = jpeg_part(width, height, (self.needed)(width, height));
        self.asked_part = part.is_some();
        part
    }

    fn wants_app1(&self) -> bool {
        true
    }

    fn app1(&mut self, marker: &[u8]) {
        // grfmt_jpeg.cpp: an APP1 longer than its 6-byte "Exif\0\0" header is parsed after it.
        if marker.len() > 6 && marker.starts_with(b"Exif\0\0") {
            self.exif.parse(&marker[6..]);
        }
    }
}

/// The EXIF orientation tag.
const ORIENTATION: u16 = 0x0112;

/// OpenCV's ExifReader as imread uses it: every "Exif" APP1 segment is parsed in turn into one
/// map in which the first entry of a tag wins, and a segment whose parsing fails part-way keeps
/// the entries read before the failure. Only the orientation matters here.
#[derive(Default)]
struct Exif {
    orientation: Option<u16>,
}

/// Raised where OpenCV's reader throws: a read past the segment's end.
struct OutOfRange;

struct Segment<'a> {
    data: &'a [u8],
    intel: bool,
}

impl Segment<'_> {
    fn u16_at(&self, offset: u64) -> Result<u16, OutOfRange> {
        if offset + 1 >= self.data.len() as u64 {
            return Err(OutOfRange);
        }
        let (a, b) = (self.data[offset as usize], self.data[offset as usize + 1]);
        Ok(if self.intel {
            u16::from_le_bytes([a, b])
        } else {
            u16::from_be_bytes([a, b])
        })
    }

    fn u32_at(&self, offset: u64) -> Result<u32, OutOfRange> {
        if offset + 3 >= self.data.len() as u64 {
            return Err(OutOfRange);
        }
        let b: [u8; 4] = self.data[offset as usize..offset as usize + 4]
            .try_into()
            .expect("four bytes");
        Ok(if self.intel {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// `count` rationals from the offset the entry holds, as the reader fetches them (the
    /// offset steps in 32-bit arithmetic).
    fn rationals(&self, entry: u64, count: u32) -> Result<(), OutOfRange> {
        let mut at = self.u32_at(entry + 8)?;
        for _ in 0..count {
            self.u32_at(u64::from(at))?;
            self.u32_at(u64::from(at) + 4)?;
            at = at.wrapping_add(8);
        }
        Ok(())
    }

    /// A string entry: inline (at byte 8 of the segment, the reader's slip) up to 4 bytes,
    /// else at the offset the entry holds; it must lie inside the segment.
    fn string(&self, entry: u64) -> Result<(), OutOfRange> {
        let size = u64::from(self.u32_at(entry + 4)?);
        let at = if size > 4 {
            u64::from(self.u32_at(entry + 8)?)
        } else {
            8
        };
        let len = self.data.len() as u64;
        if at > len || at + size > len {
            return Err(OutOfRange);
        }
        Ok(())
    }

    /// Reads one entry as the reader does; the orientation's value when it is one.
    fn entry(&self, offset: u64) -> Result<Option<u16>, OutOfRange> {
        match self.u16_at(offset)? {
            ORIENTATION => return self.u16_at(offset + 8).map(Some),
            // Description, make, model, software, date, copyright.
            0x010E | 0x010F | 0x0110 | 0x0131 | 0x0132 | 0x8298 => self.string(offset)?,
            // Resolution unit, YCbCr positioning.
            0x0128 | 0x0213 => {
                self.u16_at(offset + 8)?;
            }
            // X and Y resolution, white point, primary chromaticities, YCbCr coefficients,
            // reference black and white.
            0x011A | 0x011B => self.rationals(offset, 1)?,
            0x013E => self.rationals(offset, 2)?,
            0x013F | 0x0214 => self.rationals(offset, 6)?,
            0x0211 => self.rationals(offset, 3)?,
            _ => {}
        }
        Ok(None)
    }
}

impl Exif {
    fn parse(&mut self, data: &[u8]) {
        // Byte order: "II" little-endian, "MM" or anything unrecognised big-endian.
        let intel = data.len() >= 2 && data[0] == data[1] && data[0] == b'I'
            || data.len() == 1 && data[0] == b'I';
        let segment = Segment { data, intel };
        let _ = self.parse_entries(&segment);
    }

    fn parse_entries(&mut self, segment: &Segment) -> Result<(), OutOfRange> {
        if segment.u16_at(2)? != 0x2A {
            return Ok(());
        }
        let start = segment.u32_at(4)?;
        let count = segment.u16_at(u64::from(start))?;
        let mut offset = start.wrapping_add(2);
        for _ in 0..count {
            if let Some(value) = segment.entry(u64::from(offset))? {
                self.orientation.get_or_insert(value);
            }
            offset = offset.wrapping_add(12);
        }
        Ok(())
    }
}

/// imread's ExifTransform: flips and a transpose for orientations 2 to 8; any other value (or
/// none) leaves the image as decoded.
fn orient(img: RgbImage, orientation: Option<u16>) -> RgbImage {
    let Some(o @ 2..=8) = orientation else {
        return img;
    };
    let transpose = o >= 5;
    // After the transpose (if any): flip around the vertical axis, the horizontal one, or both.
    let (flip_x, flip_y) = match o {
        2 | 6 => (true, false),
        3 | 7 => (true, true),
        4 | 8 => (false, true),
        _ => (false, false),
    };
    let (w, h) = if transpose {
        (img.height, img.width)
    } else {
        (img.width, img.height)
    };
    let mut out = vec![0u8; img.pixels.len()];
    for y in 0..h {
        let sy_base = if flip_y { h - 1 - y } else { y };
        for x in 0..w {
            let sx_base = if flip_x { w - 1 - x } else { x };
            // (sx_base, sy_base) in the transposed image is (sy_base, sx_base) in the source.
            let (sx, sy) = if transpose {
                (sy_base, sx_base)
            } else {
                (sx_base, sy_base)
            };
            let from = (sy * img.width + sx) * 3;
            out[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&img.pixels[from..from + 3]);
        }
    }
    RgbImage::new(w, h, out)
}

fn error_of(failure: Failure) -> DecodeError {
    match failure {
        Failure::Broken(message) => {
            DecodeError::Broken(format!("OpenCV's imread refuses it: {message}"))
        }
        Failure::TooManyScans(message) => DecodeError::Unsupported(format!(
            "progressive JPEG with {message} (refused so that a scan bomb cannot stall the run)"
        )),
        Failure::NoMemory => {
            DecodeError::Unsupported("not enough memory for the decoded image".into())
        }
        Failure::TooLarge => DecodeError::Unsupported(
            "more than 2^20 pixels a side or 2^30 pixels, which OpenCV's imread refuses".into(),
        ),
        // Neither happens: the file source never suspends, and no parsed frame is checked.
        other @ (Failure::Truncated | Failure::SizeMismatch) => {
            DecodeError::Broken(format!("OpenCV's imread refuses it: {other:?}"))
        }
    }
}

/// A decoded picture, or the part of it a caller asked for.
pub struct Decoded {
    pub img: RgbImage,
    /// Where `img` lies in the (oriented) picture, and the picture's size.
    pub x: usize,
    pub y: usize,
    pub full_width: usize,
    pub full_height: usize,
}

/// One libjpeg run, and the EXIF it read.
fn run(
    bytes: &[u8],
    allow_region: bool,
    needed: &mut dyn FnMut(usize, usize) -> Window,
) -> (Result<libjpeg::Decoded, Failure>, bool, Exif) {
    let mut hooks = ImreadHooks {
        needed,
        allow_region,
        asked_part: false,
        exif: Exif::default(),
    };
    let result = libjpeg::decode(bytes, &IMREAD, &mut hooks);
    (result, hooks.asked_part, hooks.exif)
}

/// Decodes a JPEG as `cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)` sees it (RGB, EXIF
/// orientation applied): the part `needed` asks for (plus a margin) when the decode is clean and
/// the picture needs no turning, else the whole picture, so that acceptance and pixels never
/// depend on the part.
pub fn decode(
    bytes: &[u8],
    mut needed: impl FnMut(usize, usize) -> Window,
) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(DecodeError::Unsupported(
            "not a JPEG: the OpenCV presets reproduce imread on JPEG files only".into(),
        ));
    }
    let (mut result, asked_part, mut exif) = run(bytes, true, &mut needed);
    let retry = match &result {
        Ok(decoded) => decoded.is_partial() && decoded.warnings != 0,
        Err(_) => asked_part,
    };
    if retry {
        (result, _, exif) = run(bytes, false, &mut needed);
    }
    let decoded = result.map_err(error_of)?;
    let (window, full_width, full_height) =
        (decoded.window, decoded.full_width, decoded.full_height);
    let partial = decoded.is_partial();
    let pixels = if decoded.components == 4 {
        cmyk_to_rgb(decoded.pixels)
    } else {
        decoded.pixels
    };
    let img = RgbImage::new(window.width, window.height, pixels);
    if partial {
        // A part: never an oriented picture (see `ImreadHooks::region`).
        return Ok(Decoded {
            x: window.x,
            y: window.y,
            full_width,
            full_height,
            img,
        });
    }
    let img = orient(img, exif.orientation);
    Ok(Decoded {
        x: 0,
        y: 0,
        full_width: img.width,
        full_height: img.height,
        img,
    })
}

/// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R, in place and in RGB order: `R = k - ((255 - c) * k >> 8)`,
/// likewise G from m and B from y (libjpeg hands Adobe's inverted CMYK over as it is).
fn cmyk_to_rgb(mut pixels: Vec<u8>) -> Vec<u8> {
    let n = pixels.len() / 4;
    for i in 0..n {
        let k = i32::from(pixels[4 * i + 3]);
        for channel in 0..3 {
            let c = i32::from(pixels[4 * i + channel]);
            pixels[3 * i + channel] = (k - (((255 - c) * k) >> 8)) as u8;
        }
    }
    pixels.truncate(n * 3);
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_follows_opencvs_formula() {
        assert_eq!(cmyk_to_rgb(vec![255, 255, 255, 255]), [255, 255, 255]);
        assert_eq!(cmyk_to_rgb(vec![0, 0, 0, 0]), [0, 0, 0]);
        // k = 200, c = 100: 200 - (155 * 200 >> 8) = 200 - 121 = 79.
        assert_eq!(cmyk_to_rgb(vec![100, 100, 100, 200])[0], 79);
    }

    #[test]
    fn refuses_what_is_not_a_jpeg() {
        let whole = |w, h| Window::full(w, h);
        assert!(matches!(decode(b"", whole), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(b"\x89PNG\r\n\x1a\n", whole),
            Err(DecodeError::Unsupported(_))
        ));
    }

    fn tiff(intel: bool, entries: &[(u16, u16)]) -> Vec<u8> {
        let mut d = Vec::new();
        let u16b = |v: u16| {
            if intel {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let u32b = |v: u32| {
            if intel {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        d.extend_from_slice(if intel { b"II" } else { b"MM" });
        d.extend_from_slice(&u16b(0x2A));
        d.extend_from_slice(&u32b(8));
        d.extend_from_slice(&u16b(entries.len() as u16));
        for &(tag, value) in entries {
            d.extend_from_slice(&u16b(tag));
            d.extend_from_slice(&u16b(3));
            d.extend_from_slice(&u32b(1));
            d.extend_from_slice(&u16b(value));
            d.extend_from_slice(&[0, 0]);
        }
        d.extend_from_slice(&[0; 4]);
        d
    }

    #[test]
    fn exif_orientation_is_read_in_both_byte_orders_first_one_winning() {
        for intel in [true, false] {
            let mut exif = Exif::default();
            exif.parse(&tiff(intel, &[(0x0128, 2), (ORIENTATION, 6)]));
            exif.parse(&tiff(intel, &[(ORIENTATION, 3)]));
            assert_eq!(exif.orientation, Some(6));
        }
        // A failure after the orientation keeps it; one before it loses it.
        let mut cut = tiff(true, &[(ORIENTATION, 8), (0x011A, 0)]);
        cut.truncate(cut.len() - 4);
        let mut exif = Exif::default();
        exif.parse(&cut);
        assert_eq!(exif.orientation, Some(8));
        let mut exif = Exif::default();
        // A resolution whose rationals lie past the end (offset 0xFFFF) stops the parse.
        exif.parse(&tiff(true, &[(0x011A, 0xFFFF), (ORIENTATION, 8)]));
        assert_eq!(exif.orientation, None);
    }

    #[test]
    fn orientations_flip_and_transpose() {
        // 3 x 2: pixels numbered 0..6 row by row.
        let img = RgbImage::new(3, 2, (0..6u8).flat_map(|v| [v, v, v]).collect());
        let firsts = |o| {
            let out = orient(img.clone(), Some(o));
            let values: Vec<u8> = out.pixels.iter().step_by(3).copied().collect();
            (out.width, out.height, values)
        };
        assert_eq!(firsts(1), (3, 2, vec![0, 1, 2, 3, 4, 5]));
        assert_eq!(firsts(2), (3, 2, vec![2, 1, 0, 5, 4, 3]));
        assert_eq!(firsts(3), (3, 2, vec![5, 4, 3, 2, 1, 0]));
        assert_eq!(firsts(4), (3, 2, vec![3, 4, 5, 0, 1, 2]));
        assert_eq!(firsts(5), (2, 3, vec![0, 3, 1, 4, 2, 5]));
        // 6: rotate 90 degrees clockwise.
        assert_eq!(firsts(6), (2, 3, vec![3, 0, 4, 1, 5, 2]));
        assert_eq!(firsts(7), (2, 3, vec![5, 2, 4, 1, 3, 0]));
        // 8: rotate 90 degrees counter-clockwise.
        assert_eq!(firsts(8), (2, 3, vec![2, 5, 1, 4, 0, 3]));
        assert_eq!(firsts(9), (3, 2, vec![0, 1, 2, 3, 4, 5]));
    }
}
