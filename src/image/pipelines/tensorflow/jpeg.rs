//! `tf.io.decode_jpeg(contents, channels=3)`, accepted, refused and pixelled as TensorFlow does
//! it: the libjpeg glue ([`crate::image::libjpeg`]) with TensorFlow's policy (fast integer DCT,
//! fancy upsampling, every read past the end fatal), and this file for TensorFlow's CMYK
//! conversion. torchvision's `decode_jpeg` drives libjpeg the same way but for the DCT and the
//! size limit: it shares this policy through a [`Flavour`] (see `torch/jpeg.rs`).

use crate::image::decoding::{DecodeError, MAX_SCANS, jpeg_part};
use crate::image::libjpeg::{self, Colour, Dct, Failure, Hooks, Policy, Source};
use crate::image::raster::{Placement, RgbImage, Window};

/// The caller's rectangle, plus the margin, when a part may be decoded.
struct PartHooks<'a> {
    needed: &'a mut dyn FnMut(usize, usize) -> Window,
    allow_region: bool,
}

impl Hooks for PartHooks<'_> {
    fn region(&mut self, width: usize, height: usize) -> Option<Window> {
        if !self.allow_region {
            return None;
        }
        jpeg_part(width, height, (self.needed)(width, height))
    }
}

/// How a library drives libjpeg and converts CMYK.
pub(in crate::image::pipelines) struct Flavour {
    /// Whose decoder, for messages ("TensorFlow's decode_jpeg").
    pub who: &'static str,
    /// The presets' pipeline, for the not-a-JPEG message ("TensorFlow").
    pub pipeline: &'static str,
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
    pipeline: "TensorFlow",
    signature: &[0xFF, 0xD8, 0xFF],
    dct_islow: false,
    max_bytes: 1 << 29,
    limit_of: "TensorFlow's decode_jpeg",
    cmyk_to_rgb,
};

/// One libjpeg run, as TensorFlow's memory source and settings drive it.
fn run(
    bytes: &[u8],
    flavour: &Flavour,
    allow_region: bool,
    needed: &mut dyn FnMut(usize, usize) -> Window,
) -> Result<libjpeg::Decoded, Failure> {
    let policy = Policy {
        dct: if flavour.dct_islow {
            Dct::Islow
        } else {
            Dct::Ifast
        },
        max_bytes: u64::try_from(flavour.max_bytes).unwrap_or(0),
        ..Policy::new(Source::FatalEof, Colour::RgbOrCmyk, MAX_SCANS)
    };
    let mut hooks = PartHooks {
        needed,
        allow_region,
    };
    libjpeg::decode(bytes, &policy, &mut hooks)
}

fn error_of(failure: Failure, flavour: &Flavour) -> DecodeError {
    match failure {
        Failure::Broken(message) => {
            DecodeError::Broken(format!("{} refuses it: {message}", flavour.who))
        }
        Failure::TooManyScans(message) => DecodeError::Unsupported(format!(
            "progressive JPEG with {message} (refused so that a scan bomb cannot stall the run)"
        )),
        Failure::NoMemory => {
            DecodeError::Unsupported("not enough memory for the decoded image".into())
        }
        Failure::TooLarge => DecodeError::Unsupported(format!(
            "{} bytes or more once decoded, which {} refuses",
            flavour.max_bytes, flavour.limit_of
        )),
        // Neither happens: this source never suspends, and no parsed frame is checked.
        other @ (Failure::Truncated | Failure::SizeMismatch) => {
            DecodeError::Broken(format!("{} refuses it: {other:?}", flavour.who))
        }
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
            flavour.pipeline
        )));
    }
    let decoded = match run(bytes, flavour, true, &mut needed) {
        Ok(decoded) if !(decoded.is_partial() && decoded.warnings != 0) => decoded,
        _ => run(bytes, flavour, false, &mut needed).map_err(|f| error_of(f, flavour))?,
    };
    let rgb = if decoded.components == 4 {
        (flavour.cmyk_to_rgb)(decoded.pixels, decoded.adobe)
    } else {
        decoded.pixels
    };
    let window = decoded.window;
    let placement = Placement {
        window,
        full_width: decoded.full_width,
        full_height: decoded.full_height,
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
