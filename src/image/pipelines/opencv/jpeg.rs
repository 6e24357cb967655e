//! `cv2.imread(path)` (IMREAD_COLOR) on JPEG files, accepted, refused and pixelled as OpenCV 5.1
//! does it: `opencv_jpeg.c` for the libjpeg settings, this file for OpenCV's CMYK conversion and
//! for the EXIF orientation imread applies (its own EXIF reader, quirks included: see [`Exif`]).

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

use crate::image::decoding::{DecodeError, MAX_SCANS, jpeg_part};
use crate::image::raster::{RgbImage, Window};

#[repr(C)]
struct CWindow {
    x: c_uint,
    y: c_uint,
    width: c_uint,
    height: c_uint,
}

#[repr(C)]
struct Request {
    max_scans: c_int,
    allow_region: c_int,
    plan: extern "C" fn(*mut c_void, c_uint, c_uint, *mut CWindow) -> c_int,
    alloc: extern "C" fn(*mut c_void, usize) -> *mut u8,
    app1: extern "C" fn(*mut c_void, *const u8, c_uint),
    opaque: *mut c_void,
}

/// jpeglib.h's JMSG_LENGTH_MAX.
const MESSAGE_LEN: usize = 200;

#[repr(C)]
struct Outcome {
    status: c_int,
    warnings: c_int,
    components: c_int,
    full_width: c_uint,
    full_height: c_uint,
    x: c_uint,
    y: c_uint,
    width: c_uint,
    height: c_uint,
    message: [c_char; MESSAGE_LEN],
}

const OK: c_int = 0;
const BROKEN: c_int = 2;
const TOO_MANY_SCANS: c_int = 3;
const NO_MEMORY: c_int = 4;
const TOO_LARGE: c_int = 6;

unsafe extern "C" {
    fn zr_cv_jpeg_decode(
        data: *const u8,
        len: usize,
        request: *const Request,
        outcome: *mut Outcome,
    ) -> c_int;
}

/// What the C side calls back into: the caller's rectangle, the output buffer and the EXIF
/// reader.
struct Callbacks<'a> {
    needed: &'a mut dyn FnMut(usize, usize) -> Window,
    pixels: Vec<u8>,
    exif: Exif,
}

extern "C" fn plan(opaque: *mut c_void, width: c_uint, height: c_uint, out: *mut CWindow) -> c_int {
    // SAFETY: `opaque` is the `&mut Callbacks` passed in the request, alive for the whole call,
    // and `out` points at the C side's window.
    let callbacks = unsafe { &mut *opaque.cast::<Callbacks>() };
    // An oriented picture is flipped or turned after decoding: decode it whole.
    if matches!(callbacks.exif.orientation, Some(2..=8)) {
        return 0;
    }
    let (width, height) = (width as usize, height as usize);
    let Some(part) = jpeg_part(width, height, (callbacks.needed)(width, height)) else {
        return 0;
    };
    // SAFETY: see above.
    unsafe {
        *out = CWindow {
            x: part.x as c_uint,
            y: part.y as c_uint,
            width: part.width as c_uint,
            height: part.height as c_uint,
        };
    }
    1
}

extern "C" fn allocate(opaque: *mut c_void, len: usize) -> *mut u8 {
    // SAFETY: `opaque` is the `&mut Callbacks` passed in the request, alive for the whole call.
    let callbacks = unsafe { &mut *opaque.cast::<Callbacks>() };
    callbacks.pixels.clear();
    match callbacks.pixels.try_reserve_exact(len) {
        Ok(()) => callbacks.pixels.as_mut_ptr(),
        Err(_) => std::ptr::null_mut(),
    }
}

extern "C" fn app1(opaque: *mut c_void, data: *const u8, len: c_uint) {
    // SAFETY: as in `allocate`; `data` points at the saved marker's `len` bytes.
    let (callbacks, marker) = unsafe {
        (
            &mut *opaque.cast::<Callbacks>(),
            std::slice::from_raw_parts(data, len as usize),
        )
    };
    // grfmt_jpeg.cpp: an APP1 longer than its 6-byte "Exif\0\0" header is parsed after it.
    if marker.len() > 6 && marker.starts_with(b"Exif\0\0") {
        callbacks.exif.parse(&marker[6..]);
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

fn error_of(outcome: &Outcome) -> DecodeError {
    // SAFETY: format_message writes a NUL-terminated string into the zeroed buffer.
    let message = unsafe { CStr::from_ptr(outcome.message.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    match outcome.status {
        BROKEN => DecodeError::Broken(format!("OpenCV's imread refuses it: {message}")),
        TOO_MANY_SCANS => DecodeError::Unsupported(format!(
            "progressive JPEG with {message} (refused so that a scan bomb cannot stall the run)"
        )),
        NO_MEMORY => DecodeError::Unsupported("not enough memory for the decoded image".into()),
        TOO_LARGE => DecodeError::Unsupported(
            "more than 2^20 pixels a side or 2^30 pixels, which OpenCV's imread refuses".into(),
        ),
        other => DecodeError::Broken(format!("decoder status {other}")),
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

/// One libjpeg run.
fn run(
    bytes: &[u8],
    allow_region: bool,
    needed: &mut dyn FnMut(usize, usize) -> Window,
) -> (Vec<u8>, Outcome, Exif) {
    let mut callbacks = Callbacks {
        needed,
        pixels: Vec::new(),
        exif: Exif::default(),
    };
    let request = Request {
        max_scans: MAX_SCANS,
        allow_region: c_int::from(allow_region),
        plan,
        alloc: allocate,
        app1,
        opaque: (&mut callbacks as *mut Callbacks).cast(),
    };
    let mut outcome = std::mem::MaybeUninit::<Outcome>::uninit();
    // SAFETY: `bytes` outlives the call; the callbacks and the opaque pointer stay valid for it;
    // the C side fills `outcome` whole before returning and writes at most the length it asked
    // `allocate` for into the buffer.
    let outcome = unsafe {
        zr_cv_jpeg_decode(bytes.as_ptr(), bytes.len(), &request, outcome.as_mut_ptr());
        outcome.assume_init()
    };
    let mut pixels = callbacks.pixels;
    if outcome.status == OK {
        let len = outcome.width as usize * outcome.height as usize * outcome.components as usize;
        // SAFETY: a successful decode wrote every row of the window (plus one scratch row after
        // them, left out here) into the buffer it allocated.
        unsafe { pixels.set_len(len) };
    }
    (pixels, outcome, callbacks.exif)
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
    let (mut pixels, mut outcome, mut exif) = run(bytes, true, &mut needed);
    let partial = outcome.width != outcome.full_width || outcome.height != outcome.full_height;
    if partial && (outcome.status != OK || outcome.warnings != 0) {
        (pixels, outcome, exif) = run(bytes, false, &mut needed);
    }
    if outcome.status != OK {
        return Err(error_of(&outcome));
    }
    if outcome.components == 4 {
        pixels = cmyk_to_rgb(pixels);
    }
    let img = RgbImage::new(outcome.width as usize, outcome.height as usize, pixels);
    let (x, y) = (outcome.x as usize, outcome.y as usize);
    if x != 0
        || y != 0
        || img.width != outcome.full_width as usize
        || img.height != outcome.full_height as usize
    {
        // A part: never an oriented picture (see `plan`).
        return Ok(Decoded {
            x,
            y,
            full_width: outcome.full_width as usize,
            full_height: outcome.full_height as usize,
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
