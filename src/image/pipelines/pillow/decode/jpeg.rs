//! JPEG decoding, accepted, refused and pixelled as Pillow 13 does it.
//!
//! Two stages, as in Pillow: [`jpeg_plugin`](super::jpeg_plugin) refuses what
//! `JpegImagePlugin` refuses while parsing markers and gives the frame's size and mode; then
//! the libjpeg glue ([`crate::image::libjpeg`]) drives libjpeg-turbo exactly as Pillow's
//! `JpegDecode.c` does (suspending source over the whole file, warnings ignored, a fresh
//! decompressor per image). Grayscale is replicated into RGB and Adobe CMYK converted with
//! Pillow's formula, as `convert('RGB')` does.

use super::jpeg_plugin::{Frame, OpenError, open_like_pillow};
use crate::image::decoding::{DecodeError, MAX_SCANS, check_size, jpeg_part};
use crate::image::libjpeg::{self, Colour, Failure, Hooks, Policy, Source};
use crate::image::raster::{Placement, RgbImage, Window};

/// The region to decode, fixed before libjpeg runs (Pillow's frame gives the size), and room for
/// grayscale to be turned into RGB in place (CMYK shrinks in place, RGB stays).
struct PillowHooks {
    region: Option<Window>,
    components: usize,
}

impl Hooks for PillowHooks {
    fn region(&mut self, _width: usize, _height: usize) -> Option<Window> {
        self.region
    }

    fn capacity(&self, len: usize) -> Option<usize> {
        if self.components == 1 {
            len.checked_mul(3)
        } else {
            Some(len)
        }
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
    // Pillow's JpegDecode.c: a suspending source over the whole file, libjpeg's defaults, the
    // mode (and size) Pillow parsed from the frame header.
    let colour = Colour::AsParsed {
        components: frame.layers,
        width: frame.width,
        height: frame.height,
    };
    let policy = Policy::new(Source::Suspending, colour, MAX_SCANS);
    let mut hooks = PillowHooks {
        region,
        components: usize::from(frame.layers),
    };
    let decoded = libjpeg::decode(bytes, &policy, &mut hooks).map_err(|failure| match failure {
        Failure::Truncated => DecodeError::Truncated("the data ends before the last row".into()),
        Failure::Broken(message) => DecodeError::Broken(message),
        Failure::TooManyScans(message) => DecodeError::Unsupported(format!(
            "progressive JPEG with {message} (more than any encoder writes; refused so that \
             a scan bomb cannot stall the run)"
        )),
        Failure::NoMemory => {
            DecodeError::Unsupported("not enough memory for the decoded image".into())
        }
        Failure::SizeMismatch => {
            DecodeError::Broken("libjpeg's frame is not the one Pillow reads the size from".into())
        }
        // Pillow's policy sets no size limit of libjpeg's; the frame size was checked before.
        Failure::TooLarge => DecodeError::TooLarge {
            width: u64::from(frame.width),
            height: u64::from(frame.height),
        },
    })?;
    Ok(Decoded {
        clean: decoded.warnings == 0 && !decoded.ran_out,
        pixels: decoded.pixels,
        window: decoded.window,
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
