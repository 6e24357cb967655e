//! JPEG decoding, accepted, refused and pixelled as Pillow 13 does it.
//!
//! Two stages, as in Pillow: [`jpeg_plugin`](super::jpeg_plugin) refuses what
//! `JpegImagePlugin` refuses while parsing markers and gives the frame's size and mode; then
//! `pillow_jpeg.c` drives libjpeg-turbo exactly as Pillow's `JpegDecode.c` does (suspending
//! source over the whole file, warnings ignored, a fresh decompressor per image). Grayscale is
//! replicated into RGB and Adobe CMYK converted with Pillow's formula, as `convert('RGB')` does.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

// Links libjpeg-turbo (the crate's static library holds the libjpeg API pillow_jpeg.c calls);
// no Rust item of the bindings is used.
use turbojpeg_sys as _;

use super::jpeg_plugin::{Frame, OpenError, open_like_pillow};
use crate::image::decoding::{DecodeError, MAX_SCANS, check_size, jpeg_part};
use crate::image::raster::{Placement, RgbImage, Window};

#[repr(C)]
struct Request {
    components: c_int,
    expect_width: c_uint,
    expect_height: c_uint,
    max_scans: c_int,
    region: c_int,
    x: c_uint,
    y: c_uint,
    width: c_uint,
    height: c_uint,
    alloc: extern "C" fn(*mut c_void, usize) -> *mut u8,
    opaque: *mut c_void,
}

/// jpeglib.h's JMSG_LENGTH_MAX.
const MESSAGE_LEN: usize = 200;

#[repr(C)]
struct Outcome {
    status: c_int,
    warnings: c_int,
    ran_out: c_int,
    x: c_uint,
    y: c_uint,
    width: c_uint,
    height: c_uint,
    message: [c_char; MESSAGE_LEN],
}

const OK: c_int = 0;
const TRUNCATED: c_int = 1;
const BROKEN: c_int = 2;
const TOO_MANY_SCANS: c_int = 3;
const NO_MEMORY: c_int = 4;
const SIZE_MISMATCH: c_int = 5;

unsafe extern "C" {
    fn zr_pillow_jpeg_decode(
        data: *const u8,
        len: usize,
        request: *const Request,
        outcome: *mut Outcome,
    ) -> c_int;
}

/// The output buffer, sized by the C side once it knows the region. Grayscale gets room to be
/// turned into RGB in place (CMYK shrinks in place, RGB stays).
struct Output {
    pixels: Vec<u8>,
    components: usize,
}

extern "C" fn allocate(opaque: *mut c_void, len: usize) -> *mut u8 {
    // SAFETY: `opaque` is the `&mut Output` passed in the request, alive for the whole call.
    let output = unsafe { &mut *opaque.cast::<Output>() };
    let wanted = if output.components == 1 {
        len.checked_mul(3)
    } else {
        Some(len)
    };
    output.pixels.clear();
    match wanted {
        Some(wanted) if output.pixels.try_reserve_exact(wanted).is_ok() => {
            output.pixels.as_mut_ptr()
        }
        _ => std::ptr::null_mut(),
    }
}

/// A successful decode: the pixels (in libjpeg's output format) and where they lie.
struct Decoded {
    pixels: Vec<u8>,
    window: Window,
    clean: bool,
}

fn decode_with_libjpeg(
    bytes: &[u8],
    frame: &Frame,
    region: Option<Window>,
) -> Result<Decoded, DecodeError> {
    let components = usize::from(frame.layers);
    let mut output = Output {
        pixels: Vec::new(),
        components,
    };
    let region_window = region.unwrap_or(Window::full(0, 0));
    let request = Request {
        components: c_int::from(frame.layers),
        expect_width: frame.width,
        expect_height: frame.height,
        max_scans: MAX_SCANS,
        region: c_int::from(region.is_some()),
        x: region_window.x as c_uint,
        y: region_window.y as c_uint,
        width: region_window.width as c_uint,
        height: region_window.height as c_uint,
        alloc: allocate,
        opaque: (&mut output as *mut Output).cast(),
    };
    let mut outcome = std::mem::MaybeUninit::<Outcome>::uninit();
    // SAFETY: `bytes` outlives the call; the request's callback and opaque pointer stay valid
    // for it; the C side fills `outcome` whole before returning and writes at most the length it
    // asked `allocate` for into the buffer.
    let outcome = unsafe {
        zr_pillow_jpeg_decode(bytes.as_ptr(), bytes.len(), &request, outcome.as_mut_ptr());
        outcome.assume_init()
    };
    // SAFETY: format_message writes a NUL-terminated string into the zeroed buffer.
    let message = unsafe { CStr::from_ptr(outcome.message.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    match outcome.status {
        OK => {}
        TRUNCATED => {
            return Err(DecodeError::Truncated(
                "the data ends before the last row".into(),
            ));
        }
        BROKEN => return Err(DecodeError::Broken(message)),
        TOO_MANY_SCANS => {
            return Err(DecodeError::Unsupported(format!(
                "progressive JPEG with {message} (more than any encoder writes; refused so that \
                 a scan bomb cannot stall the run)"
            )));
        }
        NO_MEMORY => {
            return Err(DecodeError::Unsupported(
                "not enough memory for the decoded image".into(),
            ));
        }
        SIZE_MISMATCH => {
            return Err(DecodeError::Broken(
                "libjpeg's frame is not the one Pillow reads the size from".into(),
            ));
        }
        other => return Err(DecodeError::Broken(format!("decoder status {other}"))),
    }
    let window = Window {
        x: outcome.x as usize,
        y: outcome.y as usize,
        width: outcome.width as usize,
        height: outcome.height as usize,
    };
    let mut pixels = output.pixels;
    // SAFETY: a successful decode wrote every row of the window (plus, for a region, one scratch
    // row after them, which is left out here) into this buffer, `components` bytes per pixel.
    unsafe { pixels.set_len(window.width * window.height * components) };
    Ok(Decoded {
        pixels,
        window,
        clean: outcome.warnings == 0 && outcome.ran_out == 0,
    })
}

/// Decodes a JPEG as Pillow would: the part `needed` asks for (plus a margin) when that saves
/// work and the decode is clean, else the whole picture.
pub(super) fn decode(
    bytes: &[u8],
    needed: impl FnOnce(usize, usize) -> Window,
) -> Result<(RgbImage, Placement), DecodeError> {
    let frame = open_like_pillow(bytes).map_err(|e| match e {
        OpenError::Unidentified(why) => DecodeError::Unidentified(why),
        OpenError::Unsupported(why) => DecodeError::Unsupported(why),
        OpenError::Truncated(why) => DecodeError::Truncated(why),
    })?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    check_size(width as u64, height as u64)?;

    // A part is trusted only from a decode that neither warned nor ran out of data; anything
    // else is decoded again whole, so acceptance and pixels never depend on the recipe.
    let part = (!frame.is_lossless())
        .then(|| jpeg_part(width, height, needed(width, height)))
        .flatten();
    let decoded = match part.map(|part| decode_with_libjpeg(bytes, &frame, Some(part))) {
        Some(Ok(decoded)) if decoded.clean => decoded,
        _ => decode_with_libjpeg(bytes, &frame, None)?,
    };
    let Decoded { pixels, window, .. } = decoded;
    let rgb = match frame.layers {
        1 => gray_to_rgb(pixels),
        4 => adobe_cmyk_to_rgb(pixels),
        _ => pixels,
    };
    let image = RgbImage::new(window.width, window.height, rgb);
    let placement = Placement {
        window,
        full_width: width,
        full_height: height,
    };
    Ok((image, placement))
}

/// Pillow's L -> RGB: the level replicated, done in place in the room `allocate` left.
fn gray_to_rgb(mut pixels: Vec<u8>) -> Vec<u8> {
    let n = pixels.len();
    pixels.resize(n * 3, 0);
    for i in (0..n).rev() {
        let level = pixels[i];
        pixels[3 * i..3 * i + 3].fill(level);
    }
    pixels
}

/// Pillow's `CMYK;I` unpacking then `cmyk2rgb`: with stored bytes c', k' (Adobe polarity),
/// `R = k' - MULDIV255(255 - c', k')`, likewise G from m' and B from y'. In place: pixel i's
/// RGB never overwrites a CMYK byte not yet read.
fn adobe_cmyk_to_rgb(mut pixels: Vec<u8>) -> Vec<u8> {
    fn muldiv255(a: u32, b: u32) -> u32 {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    }
    let n = pixels.len() / 4;
    for i in 0..n {
        let k = u32::from(pixels[4 * i + 3]);
        for channel in 0..3 {
            let c = u32::from(pixels[4 * i + channel]);
            pixels[3 * i + channel] = k.saturating_sub(muldiv255(255 - c, k)) as u8;
        }
    }
    pixels.truncate(n * 3);
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adobe_cmyk_matches_pillow_formula() {
        // Stored (inverted) bytes: k' = 255 means no black ink, c' = 255 no cyan ink -> white.
        assert_eq!(adobe_cmyk_to_rgb(vec![255, 255, 255, 255]), [255, 255, 255]);
        // k' = 0: full black whatever the colour.
        assert_eq!(adobe_cmyk_to_rgb(vec![10, 200, 255, 0]), [0, 0, 0]);
        // c' = 0 (full cyan), no black: red channel 0, others full.
        assert_eq!(adobe_cmyk_to_rgb(vec![0, 255, 255, 255]), [0, 255, 255]);
        // A mid value, by hand: k'=200, c'=100: MULDIV255(155, 200) = 122 -> 78.
        assert_eq!(adobe_cmyk_to_rgb(vec![100, 100, 100, 200])[0], 78);
        // In place over several pixels.
        assert_eq!(
            adobe_cmyk_to_rgb(vec![255, 255, 255, 255, 0, 255, 255, 255]),
            [255, 255, 255, 0, 255, 255]
        );
    }

    #[test]
    fn gray_is_replicated_in_place() {
        assert_eq!(gray_to_rgb(vec![1, 2, 3]), [1, 1, 1, 2, 2, 2, 3, 3, 3]);
    }
}
