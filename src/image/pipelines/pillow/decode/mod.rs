//! Image decoding, bit for bit like `PIL.Image.open(p).convert('RGB')`.
//!
//! JPEG goes through libjpeg-turbo driven as Pillow's own decoder drives it (ISLOW DCT, fancy
//! upsampling, the same acceptance of damaged and truncated files): see `jpeg.rs`. PNG (the `png`
//! crate) and TIFF (`tiff.rs`) are decoded row by row, WebP through image-webp without its
//! temporary copies (`webp.rs`), GIF and BMP through the `image` crate; each is converted the way
//! Pillow's `convert('RGB')` converts it (alpha dropped, no compositing; `layout.rs`).
//! No EXIF orientation is applied: neither Pillow nor torchvision nor Keras applies it.

use crate::image::raster::{Placement, RgbImage, Window};

mod jpeg;
mod jpeg_plugin;
mod layout;
mod other;
#[cfg(test)]
mod pillow_cases;
mod png_plugin;
mod reader;
mod tiff;
mod webp;

use crate::image::decoding::{DecodeError, MAX_PIXELS, check_size};

/// Decode JPEG (libjpeg-turbo, Pillow's decoder settings) or another format (PNG, GIF, BMP, TIFF,
/// WebP) to 8-bit RGB. JPEG is recognised by its SOI marker, never by file name.
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
        jpeg::decode(bytes, needed)
    } else {
        // The other formats go through third-party decoders (png, tiff, image, gif,
        // image-webp): a panic in one of them on a crafted file is that file's error, not the
        // end of the pass (the tiff crate's IFD reader panicked on an empty SampleFormat tag).
        let image =
            std::panic::catch_unwind(|| other::decode_other(bytes)).map_err(|panic| {
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                DecodeError::Corrupt(format!(
                    "the decoder failed on this file ({reason}); check that it is a valid image"
                ))
            })??;
        let placement = Placement::whole(&image);
        Ok((image, placement))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::decoding::MAX_SCANS;

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
        // A JPEG signature and nothing else: no frame header, so Pillow cannot identify it.
        assert!(matches!(
            decode_rgb(&[0xFF, 0xD8, 0xFF]),
            Err(DecodeError::Unidentified(_))
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
                        let got = crate::image::pipelines::pillow::resample::crop(&part, local);
                        assert!(
                            got == crate::image::pipelines::pillow::resample::crop(&whole, need),
                            "{case}"
                        );
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
                matches!(
                    err,
                    DecodeError::Truncated(_)
                        | DecodeError::Broken(_)
                        | DecodeError::Unidentified(_)
                ),
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
    fn cmyk_jpeg_decodes_to_rgb() {
        let jpeg = encode_jpeg(8, 8, turbojpeg::PixelFormat::CMYK);
        let img = decode_rgb(&jpeg).unwrap();
        assert_eq!((img.width, img.height), (8, 8));
    }

    /// `jpeg` without its segments of marker `code` (those before the first scan).
    fn without_segments(jpeg: &[u8], code: u8) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        let mut i = 2;
        while jpeg[i + 1] != 0xDA {
            let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
            if jpeg[i + 1] != code {
                out.extend(&jpeg[i..i + 2 + len]);
            }
            i += 2 + len;
        }
        out.extend(&jpeg[i..]);
        out
    }

    /// `jpeg` with `bytes` inserted before its first marker `code`.
    fn inserted_before(jpeg: &[u8], code: u8, bytes: &[u8]) -> Vec<u8> {
        let at = jpeg.windows(2).position(|w| w == [0xFF, code]).unwrap();
        [&jpeg[..at], bytes, &jpeg[at..]].concat()
    }

    fn plain_jpeg(optimize: bool) -> Vec<u8> {
        let pixels: Vec<u8> = (0..96 * 64 * 3).map(|i| (i * 7 % 253) as u8).collect();
        compress(&pixels, 96, 64, turbojpeg::PixelFormat::RGB, |c| {
            c.set_optimize(optimize).unwrap();
        })
    }

    #[test]
    fn every_image_decodes_as_if_it_were_the_first() {
        // A frame without Huffman tables (MJPEG style) must use the standard tables, which are
        // the ones this encoder writes unless it optimises them.
        let standard = plain_jpeg(false);
        let no_dht = without_segments(&standard, 0xC4);
        assert_ne!(no_dht.len(), standard.len());
        let alone = decode_rgb(&no_dht).unwrap();
        assert_eq!(alone, decode_rgb(&standard).unwrap());
        // After an image with other tables, in the same thread, nothing is carried over.
        decode_rgb(&plain_jpeg(true)).unwrap();
        assert_eq!(decode_rgb(&no_dht).unwrap(), alone);
        // A frame without quantization tables is refused, before and after another image.
        let no_dqt = without_segments(&standard, 0xDB);
        assert!(decode_rgb(&no_dqt).is_err());
        decode_rgb(&standard).unwrap();
        assert!(decode_rgb(&no_dqt).is_err());
    }

    #[test]
    fn libjpeg_warnings_are_not_errors() {
        let base = plain_jpeg(false);
        let expected = decode_rgb(&base).unwrap();
        let icc = |sequence: u8, count: u8| {
            let mut payload = b"ICC_PROFILE\0".to_vec();
            payload.extend([sequence, count, 1, 2, 3, 4]);
            let mut segment = vec![0xFF, 0xE2];
            segment.extend(((payload.len() + 2) as u16).to_be_bytes());
            segment.extend(payload);
            segment
        };
        let cases = [
            (
                "extraneous bytes",
                inserted_before(&base, 0xDB, &[0x00, 0x11, 0x22]),
            ),
            ("ICC chunk 0", inserted_before(&base, 0xDB, &icc(0, 1))),
            (
                "ICC chunks duplicated",
                inserted_before(&base, 0xDB, &[icc(1, 2), icc(1, 2)].concat()),
            ),
            (
                "junk in APP1",
                inserted_before(&base, 0xDB, b"\xFF\xE1\x00\x0AExif\0\0\xFF\xFF"),
            ),
        ];
        for (what, jpeg) in cases {
            assert_eq!(decode_rgb(&jpeg).unwrap(), expected, "{what}");
        }
    }

    /// The outcomes asserted here are Pillow 13.0.0's on the same bytes (`Image.open(p)
    /// .convert('RGB')`), measured on the shared sample image.
    #[test]
    fn the_end_of_the_image_is_judged_as_pillow_judges_it() {
        let base = sample_jpeg().expect("../shared/imagenet-val is needed");
        let expected = decode_rgb(&base).unwrap();
        let body = &base[..base.len() - 2];
        // Every row decodes: junk instead of the end marker, or another marker there, is fine.
        for tail in [
            &b"\x12\x34\x56\x78\x9A"[..],
            b"\x12\x34\x56\x78\x9A\xFF\xD9",
            b"\xFF\xC4\x00\x02",
        ] {
            let jpeg = [body, tail].concat();
            assert_eq!(decode_rgb(&jpeg).unwrap(), expected, "{tail:?}");
        }
        // A second start-of-image where the end should be: libjpeg fails after the last row.
        assert!(matches!(
            decode_rgb(&[body, b"\xFF\xD8"].concat()),
            Err(DecodeError::Broken(_))
        ));
        // No end marker, or a stuffed zero in its place: the entropy decoder's look-ahead runs
        // out of data before the last row is out.
        for jpeg in [body.to_vec(), [body, b"\xFF\x00"].concat()] {
            assert!(matches!(decode_rgb(&jpeg), Err(DecodeError::Truncated(_))));
        }
    }

    #[test]
    fn lossless_grayscale_decodes_to_its_samples() {
        let samples: Vec<u8> = (0..37 * 23).map(|i| (i * 11 % 256) as u8).collect();
        let jpeg = compress(&samples, 37, 23, turbojpeg::PixelFormat::GRAY, |c| {
            c.set_subsamp(turbojpeg::Subsamp::Gray).unwrap();
            c.set_lossless(true).unwrap();
        });
        assert!(
            jpeg.windows(2).any(|w| w == [0xFF, 0xC3]),
            "not a SOF3 file"
        );
        let image = decode_rgb(&jpeg).unwrap();
        let replicated: Vec<u8> = samples.iter().flat_map(|&l| [l; 3]).collect();
        assert_eq!(image.pixels, replicated);
        // Part of a lossless picture cannot be decoded: the whole one is.
        let (part, placement) = decode_rgb_part(&jpeg, |_, _| window(4, 4, 8, 8)).unwrap();
        assert_eq!((part, placement.window), (image, Window::full(37, 23)));
    }

    #[test]
    fn acceptance_does_not_depend_on_the_part_asked_for() {
        let jpeg = textured_jpeg(
            320,
            480,
            turbojpeg::PixelFormat::RGB,
            turbojpeg::Subsamp::Sub2x2,
            (false, false),
        );
        let top_left = |_: usize, _: usize| window(8, 8, 64, 64);
        let mut refused = 0;
        // Cuts in the bottom rows, far below the part asked for.
        for cut in (jpeg.len() - 2000..jpeg.len()).step_by(97) {
            let whole = decode_rgb(&jpeg[..cut]).map_err(|e| e.to_string());
            let part = decode_rgb_part(&jpeg[..cut], top_left).map_err(|e| e.to_string());
            assert_eq!(whole.is_ok(), part.is_ok(), "cut at {cut}");
            if let (Err(whole), Err(part)) = (&whole, &part) {
                assert_eq!(whole, part, "cut at {cut}");
                refused += 1;
            }
        }
        assert!(refused > 10, "only {refused} cuts refused");
    }

    #[test]
    fn scan_bombs_are_refused() {
        let pixels = vec![128u8; 64 * 64 * 3];
        let progressive = compress(&pixels, 64, 64, turbojpeg::PixelFormat::RGB, |c| {
            c.set_progressive(true).unwrap();
        });
        let last_scan = progressive
            .windows(2)
            .rposition(|w| w == [0xFF, 0xDA])
            .unwrap();
        let scan = &progressive[last_scan..progressive.len() - 2];
        let with_repeats = |n: usize| {
            let mut out = progressive[..progressive.len() - 2].to_vec();
            (0..n).for_each(|_| out.extend(scan));
            out.extend([0xFF, 0xD9]);
            out
        };
        assert!(decode_rgb(&with_repeats(5)).is_ok());
        let bomb = with_repeats(MAX_SCANS as usize);
        assert!(matches!(
            decode_rgb(&bomb),
            Err(DecodeError::Unsupported(message)) if message.contains("scans")
        ));
    }
}
