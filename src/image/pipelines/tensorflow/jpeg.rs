//! `tf.io.decode_jpeg(contents, channels=3)`, accepted, refused and pixelled as TensorFlow does
//! it: see `tensorflow_jpeg.c` for the libjpeg settings (fast integer DCT, fancy upsampling, every
//! read past the end fatal) and this file for TensorFlow's CMYK conversion. torchvision's
//! `decode_jpeg` drives libjpeg the same way but for the DCT and the size limit: it shares the C
//! side through a [`Flavour`] (see `torch_jpeg.rs`).

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

use crate::image::decoding::{DecodeError, MAX_SCANS, jpeg_part};
use crate::image::raster::{Placement, RgbImage, Window};

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
    dct_islow: c_int,
    max_bytes: std::ffi::c_longlong,
    plan: extern "C" fn(*mut c_void, c_uint, c_uint, *mut CWindow) -> c_int,
    alloc: extern "C" fn(*mut c_void, usize) -> *mut u8,
    opaque: *mut c_void,
}

/// jpeglib.h's JMSG_LENGTH_MAX.
const MESSAGE_LEN: usize = 200;

#[repr(C)]
struct Outcome {
    status: c_int,
    warnings: c_int,
    components: c_int,
    adobe: c_int,
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
    fn zr_tf_jpeg_decode(
        data: *const u8,
        len: usize,
        request: *const Request,
        outcome: *mut Outcome,
    ) -> c_int;
}

/// What the C side calls back into: the caller's rectangle and the output buffer.
struct Callbacks<'a> {
    needed: &'a mut dyn FnMut(usize, usize) -> Window,
    pixels: Vec<u8>,
}

extern "C" fn plan(opaque: *mut c_void, width: c_uint, height: c_uint, out: *mut CWindow) -> c_int {
    // SAFETY: `opaque` is the `&mut Callbacks` passed in the request, alive for the whole call,
    // and `out` points at the C side's window.
    let callbacks = unsafe { &mut *opaque.cast::<Callbacks>() };
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
    // SAFETY: as in `plan`.
    let callbacks = unsafe { &mut *opaque.cast::<Callbacks>() };
    callbacks.pixels.clear();
    match callbacks.pixels.try_reserve_exact(len) {
        Ok(()) => callbacks.pixels.as_mut_ptr(),
        Err(_) => std::ptr::null_mut(),
    }
}

/// How a library drives libjpeg and converts CMYK.
pub(in crate::image::pipelines) struct Flavour {
    /// Whose decoder, for messages ("TensorFlow's decode_jpeg").
    pub who: &'static str,
    /// The presets' family, for the not-a-JPEG message ("TensorFlow").
    pub family: &'static str,
    /// The bytes a file must start with to be handed to libjpeg at all.
    pub signature: &'static [u8],
    /// libjpeg's accurate integer DCT (else the fast one).
    pub dct_islow: bool,
    /// Outputs of this many bytes or more are refused (0: none), and whose limit that is.
    pub max_bytes: i64,
    pub limit_of: &'static str,
    /// CMYK pixels (4 per pixel) and whether an Adobe marker was seen -> RGB.
    pub cmyk_to_rgb: fn(Vec<u8>, bool) -> Vec<u8>,
}

/// TensorFlow's decode_jpeg: fast DCT, 2^29-byte limit, its own CMYK formula.
const TENSORFLOW: Flavour = Flavour {
    who: "TensorFlow's decode_jpeg",
    family: "TensorFlow",
    signature: &[0xFF, 0xD8, 0xFF],
    dct_islow: false,
    max_bytes: 1 << 29,
    limit_of: "TensorFlow's decode_jpeg",
    cmyk_to_rgb,
};

/// One libjpeg run: the pixels (RGB, or CMYK still to convert), and the outcome.
fn run(
    bytes: &[u8],
    flavour: &Flavour,
    allow_region: bool,
    needed: &mut dyn FnMut(usize, usize) -> Window,
) -> (Vec<u8>, Outcome) {
    let mut callbacks = Callbacks {
        needed,
        pixels: Vec::new(),
    };
    let request = Request {
        max_scans: MAX_SCANS,
        allow_region: c_int::from(allow_region),
        dct_islow: c_int::from(flavour.dct_islow),
        max_bytes: flavour.max_bytes,
        plan,
        alloc: allocate,
        opaque: (&mut callbacks as *mut Callbacks).cast(),
    };
    let mut outcome = std::mem::MaybeUninit::<Outcome>::uninit();
    // SAFETY: `bytes` outlives the call; the callbacks and the opaque pointer stay valid for it;
    // the C side fills `outcome` whole before returning and writes at most the length it asked
    // `allocate` for into the buffer.
    let outcome = unsafe {
        zr_tf_jpeg_decode(bytes.as_ptr(), bytes.len(), &request, outcome.as_mut_ptr());
        outcome.assume_init()
    };
    let mut pixels = callbacks.pixels;
    if outcome.status == OK {
        let len = outcome.width as usize * outcome.height as usize * outcome.components as usize;
        // SAFETY: a successful decode wrote every row of the window (plus one scratch row after
        // them, left out here) into the buffer it allocated.
        unsafe { pixels.set_len(len) };
    }
    (pixels, outcome)
}

fn error_of(outcome: &Outcome, flavour: &Flavour) -> DecodeError {
    // SAFETY: format_message writes a NUL-terminated string into the zeroed buffer.
    let message = unsafe { CStr::from_ptr(outcome.message.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    match outcome.status {
        BROKEN => DecodeError::Broken(format!("{} refuses it: {message}", flavour.who)),
        TOO_MANY_SCANS => DecodeError::Unsupported(format!(
            "progressive JPEG with {message} (refused so that a scan bomb cannot stall the run)"
        )),
        NO_MEMORY => DecodeError::Unsupported("not enough memory for the decoded image".into()),
        TOO_LARGE => DecodeError::Unsupported(format!(
            "{} bytes or more once decoded, which {} refuses",
            flavour.max_bytes, flavour.limit_of
        )),
        other => DecodeError::Broken(format!("decoder status {other}")),
    }
}

/// Decodes a JPEG as `tf.io.decode_jpeg(contents, channels=3)` does: the part `needed` asks for
/// (plus a margin) when the decode is clean, else the whole picture, so that acceptance and
/// pixels never depend on the part.
pub fn decode(
    bytes: &[u8],
    needed: impl FnMut(usize, usize) -> Window,
) -> Result<(RgbImage, Placement), DecodeError> {
    decode_as(bytes, &TENSORFLOW, needed)
}

/// [`decode`] with another library's settings.
pub(in crate::image::pipelines) fn decode_as(
    bytes: &[u8],
    flavour: &Flavour,
    mut needed: impl FnMut(usize, usize) -> Window,
) -> Result<(RgbImage, Placement), DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if !bytes.starts_with(flavour.signature) {
        return Err(DecodeError::Unsupported(format!(
            "not a JPEG: the {} presets reproduce decode_jpeg on JPEG files only",
            flavour.family
        )));
    }
    let (mut pixels, mut outcome) = run(bytes, flavour, true, &mut needed);
    let partial = outcome.width != outcome.full_width || outcome.height != outcome.full_height;
    if outcome.status != OK || (partial && outcome.warnings != 0) {
        (pixels, outcome) = run(bytes, flavour, false, &mut needed);
    }
    if outcome.status != OK {
        return Err(error_of(&outcome, flavour));
    }
    let rgb = if outcome.components == 4 {
        (flavour.cmyk_to_rgb)(pixels, outcome.adobe != 0)
    } else {
        pixels
    };
    let window = Window {
        x: outcome.x as usize,
        y: outcome.y as usize,
        width: outcome.width as usize,
        height: outcome.height as usize,
    };
    let placement = Placement {
        window,
        full_width: outcome.full_width as usize,
        full_height: outcome.full_height as usize,
    };
    Ok((RgbImage::new(window.width, window.height, rgb), placement))
}

/// TensorFlow's CMYK -> RGB (jpeg_mem.cc), in place: with an Adobe marker (inverted CMYK, as
/// Adobe writes it) `R = k * c / 255`, else `R = (255 - k) * (255 - c) / 255`, integer division
/// truncating; likewise G from m and B from y.
fn cmyk_to_rgb(mut pixels: Vec<u8>, adobe: bool) -> Vec<u8> {
    let n = pixels.len() / 4;
    for i in 0..n {
        let k = u32::from(pixels[4 * i + 3]);
        for channel in 0..3 {
            let c = u32::from(pixels[4 * i + channel]);
            let value = if adobe {
                k * c / 255
            } else {
                (255 - k) * (255 - c) / 255
            };
            pixels[3 * i + channel] = value as u8;
        }
    }
    pixels.truncate(n * 3);
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_follows_tensorflows_integer_formula() {
        assert_eq!(cmyk_to_rgb(vec![255, 255, 255, 255], true), [255, 255, 255]);
        assert_eq!(cmyk_to_rgb(vec![10, 200, 255, 0], true), [0, 0, 0]);
        // 200 * 100 / 255 = 78.4 -> 78.
        assert_eq!(cmyk_to_rgb(vec![100, 100, 100, 200], true)[0], 78);
        // Without the marker: (255 - 55) * (255 - 155) / 255 = 78.4 -> 78.
        assert_eq!(cmyk_to_rgb(vec![155, 0, 255, 55], false), [78, 200, 0]);
    }

    #[test]
    fn refuses_what_is_not_a_jpeg() {
        let whole = |w, h| Window::full(w, h);
        assert!(matches!(decode(b"", whole), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(b"\x89PNG\r\n\x1a\n", whole),
            Err(DecodeError::Unsupported(_))
        ));
        // A JPEG cut after its SOI: the read past the end is fatal.
        assert!(matches!(
            decode(b"\xff\xd8\xff\xe0", whole),
            Err(DecodeError::Broken(_))
        ));
    }

    #[test]
    fn parts_keep_a_margin_and_never_cover_the_whole() {
        let needed = Window {
            x: 40,
            y: 30,
            width: 100,
            height: 50,
        };
        let part = jpeg_part(200, 100, needed).unwrap();
        assert_eq!((part.x, part.y, part.width, part.height), (24, 14, 132, 82));
        assert_eq!(jpeg_part(20, 20, Window::full(20, 20)), None);
    }
}
