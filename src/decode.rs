//! Image decoding, bit for bit like `PIL.Image.open(p).convert('RGB')`.
//!
//! JPEG goes through libjpeg-turbo's TurboJPEG API with its default settings (ISLOW DCT, fancy
//! upsampling), which are Pillow's settings too, so the pixels are the ones Pillow 13 produces
//! (see ../shared/docs/IMPLEMENTATION_FACTS.md). Everything else goes through the `image` crate
//! and is converted the way Pillow's `convert('RGB')` converts it (alpha dropped, no compositing).
//! No EXIF orientation is applied: neither Pillow nor torchvision nor Keras applies it.

use std::cell::RefCell;
use std::ffi::CStr;
use std::os::raw::c_int;

use turbojpeg::raw;

use crate::raster::{Placement, RgbImage, Window};

/// Pillow refuses images above twice `PIL.Image.MAX_IMAGE_PIXELS` (2 * 89,478,485) with a
/// `DecompressionBombError`; refusing the same ones keeps "what the oracle can read" and "what
/// zoorepro can read" the same set, and caps memory at about 0.5 GiB per decoded image.
pub const MAX_PIXELS: u64 = 2 * 89_478_485;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "not an image in a supported format (JPEG, PNG, GIF, BMP, TIFF, WebP); check that the file is an image"
    )]
    UnsupportedFormat,
    #[error("unsupported image: {0}")]
    Unsupported(String),
    #[error("image file is truncated ({0}); re-download or re-extract it")]
    Truncated(String),
    #[error("corrupt image data: {0}")]
    Corrupt(String),
    #[error(
        "image is {width}x{height} pixels, more than the {MAX_PIXELS}-pixel limit that guards against \
         decompression bombs (Pillow refuses it too)"
    )]
    TooLarge { width: u64, height: u64 },
}

/// Decode JPEG (libjpeg-turbo, Pillow's decoder settings) or another format (the `image` crate)
/// to 8-bit RGB. JPEG is recognised by its SOI marker, never by file name.
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    decode_rgb_part(bytes, Window::full).map(|(image, _)| image)
}

/// [`decode_rgb`], decoding only what the caller reads where that saves work: `needed` gets the
/// picture's width and height and returns the rectangle the caller will read. The image returned
/// covers at least that rectangle, and the placement says where it lies in the picture. Its
/// pixels equal the same pixels of a whole decode, bit for bit.
pub fn decode_rgb_part(
    bytes: &[u8],
    needed: impl FnOnce(usize, usize) -> Window,
) -> Result<(RgbImage, Placement), DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    // Pillow's JPEG plugin accepts exactly the files that start with FF D8 FF.
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes, needed)
    } else {
        let image = crate::decode_other::decode_other(bytes)?;
        let placement = Placement::whole(&image);
        Ok((image, placement))
    }
}

pub(crate) fn check_size(width: u64, height: u64) -> Result<(), DecodeError> {
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(DecodeError::TooLarge { width, height });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JPEG

/// One TurboJPEG decompressor per thread: creating one allocates libjpeg's state, which is worth
/// reusing across the thousands of images a worker decodes.
struct TjDecompressor(raw::tjhandle);

impl TjDecompressor {
    fn new() -> Result<Self, DecodeError> {
        // SAFETY: tj3Init has no preconditions; a null return is handled below.
        let handle = unsafe { raw::tj3Init(raw::TJINIT_TJINIT_DECOMPRESS as c_int) };
        if handle.is_null() {
            return Err(DecodeError::Corrupt(
                "could not initialise libjpeg-turbo (out of memory?)".into(),
            ));
        }
        Ok(Self(handle))
    }

    fn param(&self, param: raw::TJPARAM) -> c_int {
        // SAFETY: self.0 is a live handle (see new/drop).
        unsafe { raw::tj3Get(self.0, param as c_int) }
    }

    /// The last error's message and whether TurboJPEG classes it as a warning (the decode ran
    /// to the end) rather than a fatal error.
    fn last_error(&self) -> (String, bool) {
        // SAFETY: self.0 is a live handle; tj3GetErrorStr returns a NUL-terminated string owned
        // by the handle (or a thread-local buffer), copied before any other TurboJPEG call.
        let message = unsafe { CStr::from_ptr(raw::tj3GetErrorStr(self.0)) }
            .to_string_lossy()
            .into_owned();
        let is_warning = unsafe { raw::tj3GetErrorCode(self.0) } == raw::TJERR_TJERR_WARNING as i32;
        (message, is_warning)
    }
}

impl Drop for TjDecompressor {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed exactly once.
        unsafe { raw::tj3Destroy(self.0) }
    }
}

thread_local! {
    static DECOMPRESSOR: RefCell<Option<TjDecompressor>> = const { RefCell::new(None) };
}

/// libjpeg's warning texts (jerror.h `JWRN_*`). libjpeg-turbo reports a warning with the same
/// return code as a fatal error, and a fatal error that follows a warning is still classed as a
/// warning, so the text is what tells "decoded to the end with a complaint" (Pillow ignores
/// those) from "gave up half way".
const LIBJPEG_WARNINGS: [&str; 7] = [
    "Corrupt JPEG data",
    "Premature end of JPEG file",
    "Unknown Adobe color transform code",
    "Inconsistent progression sequence",
    "Warning: unknown JFIF revision number",
    "Invalid SOS parameters for sequential JPEG",
    "Application transferred too many scanlines",
];
const LIBJPEG_EOF_WARNING: &str = "Premature end of JPEG file";

fn decode_jpeg(
    bytes: &[u8],
    needed: impl FnOnce(usize, usize) -> Window,
) -> Result<(RgbImage, Placement), DecodeError> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(TjDecompressor::new()?);
        }
        let tj = slot.as_ref().expect("initialised just above");
        decode_jpeg_with(tj, bytes, needed)
    })
}

/// Pixels kept around a requested rectangle when decoding part of a JPEG. libjpeg-turbo documents
/// that a partial-width decode may upsample the chroma of the part's left and right edge pixels
/// as if they were the picture's edges; with this margin (two chroma blocks at 4:2:0) every pixel
/// the caller reads is an interior one. Rows get the same margin, for the same smoothing across
/// rows.
const PART_MARGIN: usize = 16;

/// Width in pixels of an iMCU for TurboJPEG's subsampling codes (its `tjMCUWidth`, which the
/// bindings cannot link: it is a `static const` array in the header). A partial decode must start
/// on an iMCU boundary.
fn imcu_width(subsampling: c_int) -> Option<usize> {
    const WIDTHS: [usize; 7] = [8, 16, 16, 8, 8, 32, 8];
    usize::try_from(subsampling)
        .ok()
        .and_then(|i| WIDTHS.get(i).copied())
}

/// The part of a `width` x `height` JPEG to decode for `needed`: `needed` plus the margin, its
/// left edge moved to an iMCU boundary. None when that is the whole picture or TurboJPEG cannot
/// decode part of this one (unknown subsampling).
fn jpeg_part(width: usize, height: usize, needed: Window, subsampling: c_int) -> Option<Window> {
    let imcu = imcu_width(subsampling)?;
    let whole = Window::full(width, height);
    if needed.width == 0 || needed.height == 0 || !whole.contains(&needed) {
        return None;
    }
    let x = needed.x.saturating_sub(PART_MARGIN) / imcu * imcu;
    let y = needed.y.saturating_sub(PART_MARGIN);
    let right = (needed.x + needed.width + PART_MARGIN).min(width);
    let bottom = (needed.y + needed.height + PART_MARGIN).min(height);
    let part = Window {
        x,
        y,
        width: right - x,
        height: bottom - y,
    };
    (part != whole).then_some(part)
}

fn decode_jpeg_with(
    tj: &TjDecompressor,
    bytes: &[u8],
    needed: impl FnOnce(usize, usize) -> Window,
) -> Result<(RgbImage, Placement), DecodeError> {
    // Pillow reads JPEG through a suspending source: when the data ends before libjpeg is done it
    // raises "image file is truncated". libjpeg-turbo's memory source instead pads with a fake EOI
    // and warns, and only its first warning's text survives; so look for the EOI marker ourselves.
    // A clean decode read the end marker itself (running out of data is a warning), so only a
    // decode that warned or failed needs the walk.
    match decode_jpeg_unchecked(tj, bytes, needed) {
        Ok((image, placement, Clean::Yes)) => Ok((image, placement)),
        _ if !reaches_end_marker(bytes) => {
            Err(DecodeError::Truncated("no JPEG end-of-image marker".into()))
        }
        outcome => outcome.map(|(image, placement, _)| (image, placement)),
    }
}

/// Whether libjpeg decoded without a warning.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clean {
    Yes,
    No,
}

/// [`decode_jpeg_with`] without the check for a missing end marker.
fn decode_jpeg_unchecked(
    tj: &TjDecompressor,
    bytes: &[u8],
    needed: impl FnOnce(usize, usize) -> Window,
) -> Result<(RgbImage, Placement, Clean), DecodeError> {
    // SAFETY: the handle is live; the pointer and length describe `bytes`.
    let rc = unsafe { raw::tj3DecompressHeader(tj.0, bytes.as_ptr(), bytes.len() as raw::size_t) };
    if rc != 0 {
        let (message, _) = tj.last_error();
        return Err(classify_fatal(message));
    }
    let width = tj.param(raw::TJPARAM_TJPARAM_JPEGWIDTH);
    let height = tj.param(raw::TJPARAM_TJPARAM_JPEGHEIGHT);
    let precision = tj.param(raw::TJPARAM_TJPARAM_PRECISION);
    let colorspace = tj.param(raw::TJPARAM_TJPARAM_COLORSPACE);
    let subsampling = tj.param(raw::TJPARAM_TJPARAM_SUBSAMP);
    if width <= 0 || height <= 0 {
        return Err(DecodeError::Corrupt(format!(
            "JPEG header gives an empty size {width}x{height}"
        )));
    }
    if precision != 8 {
        // Pillow: "cannot handle 12-bit layers".
        return Err(DecodeError::Unsupported(format!(
            "{precision}-bit JPEG (only 8-bit JPEG is supported, as in Pillow)"
        )));
    }
    let (width, height) = (width as usize, height as usize);
    check_size(width as u64, height as u64)?;

    // Pillow opens 4-component JPEGs as CMYK with Adobe's inverted polarity ("CMYK;I"); TurboJPEG
    // will not convert CMYK to RGB, so take the stored bytes and convert like Pillow does.
    let cmyk = colorspace == raw::TJCS_TJCS_CMYK as i32 || colorspace == raw::TJCS_TJCS_YCCK as i32;
    let format = if cmyk {
        raw::TJPF_TJPF_CMYK
    } else {
        // Grayscale comes out replicated into R, G and B, as Pillow's L -> RGB does.
        raw::TJPF_TJPF_RGB
    };
    let whole = Window::full(width, height);
    let to_rgb = |pixels: Vec<u8>| {
        if cmyk {
            adobe_cmyk_to_rgb(&pixels)
        } else {
            pixels
        }
    };
    let placed = |window: Window, pixels: Vec<u8>, clean: Clean| {
        let image = RgbImage::new(window.width, window.height, to_rgb(pixels));
        let placement = Placement {
            window,
            full_width: width,
            full_height: height,
        };
        (image, placement, clean)
    };

    // A part is trusted only from a clean decode. After any warning or error the whole picture is
    // decoded, so a damaged file is accepted, refused and pixelled exactly as a whole decode
    // (the one compared with Pillow) has it.
    if let Some(part) = jpeg_part(width, height, needed(width, height), subsampling)
        && let Ok((pixels, None)) = tj.decompress(bytes, part, format)
    {
        return Ok(placed(part, pixels, Clean::Yes));
    }
    match tj.decompress(bytes, whole, format) {
        Ok((pixels, None)) => Ok(placed(whole, pixels, Clean::Yes)),
        Ok((_, Some(warning))) if warning.starts_with(LIBJPEG_EOF_WARNING) => {
            Err(DecodeError::Truncated(warning))
        }
        // Any other warning: libjpeg decoded every row, as Pillow's decoder would have.
        Ok((pixels, Some(_))) => Ok(placed(whole, pixels, Clean::No)),
        Err(message) => Err(classify_fatal(message)),
    }
}

impl TjDecompressor {
    /// Decode the `region` of the JPEG whose header was just read into `format` pixels. Ok with
    /// the pixels and libjpeg's warning, if it gave one (the decode still ran to the end); Err
    /// with the message of a fatal error.
    fn decompress(
        &self,
        bytes: &[u8],
        region: Window,
        format: raw::TJPF,
    ) -> Result<(Vec<u8>, Option<String>), String> {
        let channels = if format == raw::TJPF_TJPF_CMYK { 4 } else { 3 };
        let full = region
            == Window::full(
                self.param(raw::TJPARAM_TJPARAM_JPEGWIDTH) as usize,
                self.param(raw::TJPARAM_TJPARAM_JPEGHEIGHT) as usize,
            );
        // All zeros means "no cropping"; the handle keeps its region from one decode to the next.
        let cropping = if full {
            raw::tjregion {
                x: 0,
                y: 0,
                w: 0,
                h: 0,
            }
        } else {
            raw::tjregion {
                x: region.x as c_int,
                y: region.y as c_int,
                w: region.width as c_int,
                h: region.height as c_int,
            }
        };
        // SAFETY: the handle is live and has read this JPEG's header.
        if unsafe { raw::tj3SetCroppingRegion(self.0, cropping) } != 0 {
            return Err(self.last_error().0);
        }
        // Not zero-filled: TurboJPEG writes every byte of a successful or merely warned decode,
        // and zeroing half a megabyte per image costs about 2% of decoding.
        let len = region.width * region.height * channels;
        let mut pixels: Vec<u8> = Vec::with_capacity(len);
        // SAFETY: `pixels` has room for the region's rows in this pixel format, tightly packed
        // (pitch 0), which is what TurboJPEG writes for the cropping region just set.
        let rc = unsafe {
            raw::tj3Decompress8(
                self.0,
                bytes.as_ptr(),
                bytes.len() as raw::size_t,
                pixels.as_mut_ptr(),
                0,
                format as c_int,
            )
        };
        let mut warning = None;
        if rc != 0 {
            let (message, is_warning) = self.last_error();
            let known_warning = LIBJPEG_WARNINGS.iter().any(|w| message.starts_with(w));
            if !(is_warning && known_warning) {
                return Err(message);
            }
            warning = Some(message);
        }
        // SAFETY: no fatal error, so tj3Decompress8 ran its scanline loop to the region's last
        // row (warnings do not stop it: stop-on-warning is off by default) and wrote all `len`
        // bytes.
        unsafe { pixels.set_len(len) };
        Ok((pixels, warning))
    }
}

fn classify_fatal(message: String) -> DecodeError {
    if message.contains(LIBJPEG_EOF_WARNING) {
        DecodeError::Truncated(message)
    } else {
        DecodeError::Corrupt(message)
    }
}

/// Walks the marker structure from SOI and says whether an EOI marker is reached, skipping
/// marker segments by their length and entropy-coded data up to the next real marker.
fn reaches_end_marker(bytes: &[u8]) -> bool {
    let mut i = 2; // after SOI
    loop {
        // Find the next marker: 0xFF, then any fill bytes 0xFF, then the marker code.
        let Some(offset) = bytes.get(i..).and_then(|rest| memchr::memchr(0xFF, rest)) else {
            return false;
        };
        let mut j = i + offset + 1;
        while bytes.get(j) == Some(&0xFF) {
            j += 1;
        }
        let Some(&code) = bytes.get(j) else {
            return false;
        };
        match code {
            0xD9 => return true,
            // Stuffed zero, TEM, RSTn and stray SOI carry no length.
            0x00 | 0x01 | 0xD0..=0xD8 => i = j + 1,
            _ => {
                let Some(len) = bytes.get(j + 1..j + 3) else {
                    return false;
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                // After SOS comes entropy-coded data, in which a 0xFF is stuffed (FF 00), a
                // restart marker or the next real marker: the marker search above handles all.
                i = j + 1 + len;
                if i > bytes.len() {
                    return false;
                }
            }
        }
    }
}

/// Pillow's `CMYK;I` unpacking then `cmyk2rgb`: with stored bytes c', k' (Adobe polarity),
/// `R = k' - MULDIV255(255 - c', k')`, likewise G from m' and B from y'.
fn adobe_cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    fn muldiv255(a: u32, b: u32) -> u32 {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    }
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let k = u32::from(px[3]);
        for &c in &px[..3] {
            let v = k.saturating_sub(muldiv255(255 - u32::from(c), k));
            rgb.push(v as u8);
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_jpeg() -> Option<Vec<u8>> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/imagenet-val");
        std::fs::read(format!("{dir}/ILSVRC2012_val_00000001.JPEG")).ok()
    }

    /// `pixels` (`width` x `height` in `format`) as a JPEG, with the compressor set up by `setup`.
    fn compress(
        pixels: &[u8],
        width: usize,
        height: usize,
        format: turbojpeg::PixelFormat,
        setup: impl FnOnce(&mut turbojpeg::Compressor),
    ) -> Vec<u8> {
        let image = turbojpeg::Image {
            pixels,
            width,
            pitch: width * format.size(),
            height,
            format,
        };
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        setup(&mut compressor);
        compressor.compress_to_vec(image).unwrap()
    }

    fn encode_jpeg(width: usize, height: usize, format: turbojpeg::PixelFormat) -> Vec<u8> {
        let pixels: Vec<u8> = (0..width * height * format.size())
            .map(|i| (i * 37 % 251) as u8)
            .collect();
        compress(&pixels, width, height, format, |compressor| {
            if format == turbojpeg::PixelFormat::GRAY {
                compressor.set_subsamp(turbojpeg::Subsamp::Gray).unwrap();
            }
        })
    }

    #[test]
    fn empty_and_text_input_are_errors_not_panics() {
        assert!(matches!(decode_rgb(b""), Err(DecodeError::Empty)));
        assert!(matches!(
            decode_rgb(b"hello, I am not an image\n"),
            Err(DecodeError::UnsupportedFormat)
        ));
        // A JPEG signature and nothing else.
        assert!(matches!(
            decode_rgb(&[0xFF, 0xD8, 0xFF]),
            Err(DecodeError::Truncated(_))
        ));
        // A PNG signature and nothing else.
        assert!(decode_rgb(b"\x89PNG\r\n\x1a\n").is_err());
    }

    #[test]
    fn small_jpeg_decodes_to_its_size() {
        let jpeg = encode_jpeg(13, 7, turbojpeg::PixelFormat::RGB);
        let img = decode_rgb(&jpeg).unwrap();
        assert_eq!(
            (img.width, img.height, img.pixels.len()),
            (13, 7, 13 * 7 * 3)
        );
    }

    #[test]
    fn grayscale_jpeg_is_replicated_into_rgb() {
        let jpeg = encode_jpeg(9, 5, turbojpeg::PixelFormat::GRAY);
        let img = decode_rgb(&jpeg).unwrap();
        assert!(
            img.pixels
                .chunks_exact(3)
                .all(|p| p[0] == p[1] && p[1] == p[2])
        );
        assert!(img.pixels.iter().any(|&v| v != img.pixels[0]));
    }

    /// A picture whose chroma varies from pixel to pixel, so chroma upsampling matters.
    fn textured_jpeg(
        width: usize,
        height: usize,
        format: turbojpeg::PixelFormat,
        subsamp: turbojpeg::Subsamp,
        (progressive, arithmetic): (bool, bool),
    ) -> Vec<u8> {
        let channels = format.size();
        let mut state = 0x9E37_79B9_u32;
        let pixels: Vec<u8> = (0..width * height * channels)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let (x, y) = ((i / channels) % width, i / channels / width);
                ((x * 3 + y * 2 + (i % channels) * 50) as u32 + state % 64) as u8
            })
            .collect();
        compress(&pixels, width, height, format, |compressor| {
            compressor.set_subsamp(subsamp).unwrap();
            compressor.set_progressive(progressive).unwrap();
            compressor.set_arithmetic(arithmetic).unwrap();
        })
    }

    fn window(x: usize, y: usize, width: usize, height: usize) -> Window {
        Window {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn partial_decodes_equal_the_same_pixels_of_a_whole_decode() {
        use turbojpeg::{PixelFormat as F, Subsamp as S};
        let cases = [
            (F::RGB, S::None),
            (F::RGB, S::Sub2x1),
            (F::RGB, S::Sub2x2),
            (F::RGB, S::Sub1x2),
            (F::RGB, S::Sub4x1),
            (F::RGB, S::Sub1x4),
            (F::GRAY, S::Gray),
            (F::CMYK, S::Sub2x2),
        ];
        let mut partial = 0;
        for (format, subsamp) in cases {
            for (width, height) in [(203, 157), (64, 301), (500, 375)] {
                // Huffman baseline, Huffman progressive, arithmetic-coded baseline.
                for coding in [(false, false), (true, false), (false, true)] {
                    let jpeg = textured_jpeg(width, height, format, subsamp, coding);
                    let whole = decode_rgb(&jpeg).unwrap();
                    let needs = [
                        window(width / 4, height / 5, width / 2, height / 2),
                        window(0, 0, width / 3, height / 3),
                        window(width - 20, height - 9, 20, 9),
                        window(width / 2 + 1, 0, 1, height),
                        window(0, height / 2 + 3, width, 1),
                        window(width / 8, height / 8, width * 3 / 4, height * 3 / 4),
                        Window::full(width, height),
                    ];
                    for need in needs {
                        let case = format!(
                            "{format:?} {subsamp:?} {width}x{height} (progressive, arithmetic) {coding:?} {need:?}"
                        );
                        let (part, placement) = decode_rgb_part(&jpeg, |w, h| {
                            assert_eq!((w, h), (width, height));
                            need
                        })
                        .unwrap();
                        assert_eq!(
                            (placement.full_width, placement.full_height),
                            (width, height)
                        );
                        assert!(placement.window.contains(&need), "{case}: {placement:?}");
                        let size = (part.width, part.height);
                        assert_eq!(size, (placement.window.width, placement.window.height));
                        let local = Window {
                            x: need.x - placement.window.x,
                            y: need.y - placement.window.y,
                            ..need
                        };
                        let got = crate::resample::crop(&part, local);
                        assert!(got == crate::resample::crop(&whole, need), "{case}");
                        partial += usize::from(placement.window != Window::full(width, height));
                    }
                }
            }
        }
        // The saving is real: most of those requests decoded only part of the picture.
        assert!(partial >= 8 * 3 * 3 * 5, "only {partial} partial decodes");
    }

    #[test]
    fn a_damaged_jpeg_is_decoded_whole_even_when_part_is_asked_for() {
        let mut jpeg = textured_jpeg(
            160,
            120,
            turbojpeg::PixelFormat::RGB,
            turbojpeg::Subsamp::Sub2x2,
            (false, false),
        );
        // A stray restart marker in the middle of the entropy-coded data: libjpeg warns ("Corrupt
        // JPEG data") and decodes the rest as best it can.
        let middle = jpeg.len() / 2;
        jpeg[middle..middle + 2].copy_from_slice(&[0xFF, 0xD3]);
        let whole = decode_rgb(&jpeg).unwrap();
        let need = window(60, 40, 40, 40);
        let (part, placement) = decode_rgb_part(&jpeg, |_, _| need).unwrap();
        assert_eq!(placement, Placement::whole(&whole));
        assert_eq!(part, whole);
    }

    #[test]
    fn truncated_jpeg_is_an_error_and_trailing_garbage_is_ignored() {
        let jpeg = match sample_jpeg() {
            Some(bytes) => bytes,
            None => encode_jpeg(64, 48, turbojpeg::PixelFormat::RGB),
        };
        let full = decode_rgb(&jpeg).unwrap();
        for cut in [jpeg.len() / 2, jpeg.len() - 100, jpeg.len() - 2, 200, 4] {
            let err = decode_rgb(&jpeg[..cut]).unwrap_err();
            assert!(
                matches!(err, DecodeError::Truncated(_) | DecodeError::Corrupt(_)),
                "cut at {cut}: {err:?}"
            );
        }
        assert!(matches!(
            decode_rgb(&jpeg[..jpeg.len() / 2]),
            Err(DecodeError::Truncated(_))
        ));
        let mut padded = jpeg.clone();
        padded.extend_from_slice(b"trailing garbage \xFF\xD8\xFF\x00 after EOI");
        assert_eq!(decode_rgb(&padded).unwrap(), full);
    }

    #[test]
    fn corrupt_jpeg_header_is_an_error() {
        let mut jpeg = encode_jpeg(16, 16, turbojpeg::PixelFormat::RGB);
        // Overwrite everything after SOI with a bogus marker sequence, keeping an EOI at the end.
        let n = jpeg.len();
        for b in &mut jpeg[3..n - 2] {
            *b = 0x42;
        }
        assert!(decode_rgb(&jpeg).is_err());
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        let mut jpeg = encode_jpeg(16, 16, turbojpeg::PixelFormat::RGB);
        // Claim 60000x60000 in the SOF0 segment: FF C0, length, precision, height, width.
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        assert!(matches!(
            decode_rgb(&jpeg),
            Err(DecodeError::TooLarge {
                width: 60000,
                height: 60000
            })
        ));
    }

    #[test]
    fn adobe_cmyk_matches_pillow_formula() {
        // Stored (inverted) bytes: k' = 255 means no black ink, c' = 255 no cyan ink -> white.
        assert_eq!(adobe_cmyk_to_rgb(&[255, 255, 255, 255]), [255, 255, 255]);
        // k' = 0: full black whatever the colour.
        assert_eq!(adobe_cmyk_to_rgb(&[10, 200, 255, 0]), [0, 0, 0]);
        // c' = 0 (full cyan), no black: red channel 0, others full.
        assert_eq!(adobe_cmyk_to_rgb(&[0, 255, 255, 255]), [0, 255, 255]);
        // A mid value, by hand: k'=200, c'=100: MULDIV255(155, 200) = 122 -> 78.
        assert_eq!(adobe_cmyk_to_rgb(&[100, 100, 100, 200])[0], 78);
    }

    #[test]
    fn cmyk_jpeg_decodes_to_rgb() {
        let jpeg = encode_jpeg(8, 8, turbojpeg::PixelFormat::CMYK);
        let img = decode_rgb(&jpeg).unwrap();
        assert_eq!((img.width, img.height), (8, 8));
    }

    #[test]
    fn end_marker_walk() {
        assert!(reaches_end_marker(&[0xFF, 0xD8, 0xFF, 0xD9]));
        // A segment whose payload contains FF D9 is skipped by its length.
        assert!(!reaches_end_marker(&[
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xFF, 0xD9
        ]));
        assert!(reaches_end_marker(&[
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xFF, 0xD9, 0xFF, 0xD9
        ]));
        // Entropy data with stuffed bytes and restart markers before EOI.
        assert!(reaches_end_marker(&[
            0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF,
            0xD9
        ]));
        assert!(!reaches_end_marker(&[
            0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34
        ]));
        // A length running past the end.
        assert!(!reaches_end_marker(&[0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF]));
    }
}
