//! Every format but JPEG (PNG, GIF, BMP, TIFF, WebP), converted the way Pillow 13's
//! `convert('RGB')` converts it (alpha dropped, no compositing), with memory bounded by the
//! 8-bit RGB image that comes out.
//!
//! A few kilobytes of PNG can describe 178 million pixels at 8 bytes each, so holding the
//! decoder's native layout before converting would cost up to 11 bytes per pixel. PNG is
//! therefore decoded row by row straight into the RGB buffer, and so is TIFF (`tiff.rs`, for the
//! layouts it streams); the other formats decode into one buffer that is converted to RGB in
//! place. Both refuse what Pillow refuses as a decompression
//! bomb (more than `2 * MAX_IMAGE_PIXELS` pixels) before allocating anything for the pixels, and
//! an allocation that fails is an error for that image, never an abort of the process.

use std::io::Cursor;

use super::layout::Layout;
use super::{DecodeError, MAX_PIXELS, check_size};
use crate::image::raster::RgbImage;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub(crate) fn decode_other(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    if bytes.starts_with(PNG_SIGNATURE) {
        return decode_png(bytes);
    }
    if super::tiff::is_tiff(bytes) {
        let image = match super::tiff::decode_tiff(bytes)? {
            Some(image) => image,
            None => decode_with_image_crate(bytes)?,
        };
        return super::tiff::orient(bytes, image);
    }
    if super::webp::is_webp(bytes) {
        return super::webp::decode_webp(bytes);
    }
    if bytes.starts_with(b"BM")
        && let Some(bgr16) = bmp_gate(bytes)?
    {
        return decode_bmp16(bytes, bgr16);
    }
    if bytes.starts_with(b"GIF8") {
        return decode_gif(bytes);
    }
    decode_with_image_crate(bytes)
}

fn le16(s: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([
        *s.get(at)?,
        *s.get(at + 1)?,
    ])))
}

fn le32(s: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(s.get(at..at + 4)?.try_into().ok()?))
}

/// What Pillow 13's BmpImagePlugin refuses (pixel depths and bit-field layouts it has no raw
/// mode for), and the layouts where the `image` crate's pixels are not Pillow's, refused as
/// unsupported: 16-bit colour (its 5- and 6-bit channels are widened with other rounding), RLE
/// with jumps or an early end (Pillow leaves the skipped pixels at index 0), and a palette image
/// whose data offset points at its palette (Pillow then reads the pixels after the palette).
fn bmp_gate(bytes: &[u8]) -> Result<Option<Bgr16>, DecodeError> {
    let unsupported = |why: &str| Err(DecodeError::Unsupported(format!("BMP {why}")));
    let short = || DecodeError::Truncated("the BMP header is cut short".into());
    let header_size = le32(bytes, 14).ok_or_else(short)?;
    let (bits, compression) = match header_size {
        12 => (le16(bytes, 24).ok_or_else(short)?, 0),
        40 | 52 | 56 | 64 | 108 | 124 => (
            le16(bytes, 28).ok_or_else(short)?,
            le32(bytes, 30).ok_or_else(short)?,
        ),
        // Pillow refuses other header sizes too ("Unsupported BMP header type").
        _ => return unsupported(&format!("header size {header_size}")),
    };
    if !matches!(bits, 1 | 4 | 8 | 16 | 24 | 32) {
        return Err(DecodeError::Unidentified(format!(
            "unsupported BMP pixel depth ({bits})"
        )));
    }
    if compression == 3 {
        // BITFIELDS: masks in the header from 52 bytes on, else in the 12 bytes after it.
        let at = 54;
        let alpha = if header_size >= 56 {
            le32(bytes, at + 12).ok_or_else(short)?
        } else {
            0
        };
        let masks = [
            le32(bytes, at).ok_or_else(short)?,
            le32(bytes, at + 4).ok_or_else(short)?,
            le32(bytes, at + 8).ok_or_else(short)?,
            alpha,
        ];
        let supported = match bits {
            32 => matches!(
                masks,
                [0xFF0000, 0xFF00, 0xFF, 0]
                    | [0xFF000000, 0xFF0000, 0xFF00, 0]
                    | [0xFF000000, 0xFF00, 0xFF, 0]
                    | [0xFF000000, 0xFF0000, 0xFF00, 0xFF]
                    | [0xFF, 0xFF00, 0xFF0000, 0xFF000000]
                    | [0xFF0000, 0xFF00, 0xFF, 0xFF000000]
                    | [0xFF000000, 0xFF00, 0xFF, 0xFF0000]
                    | [0, 0, 0, 0]
            ),
            24 => masks[..3] == [0xFF0000, 0xFF00, 0xFF],
            16 => masks[..3] == [0xF800, 0x7E0, 0x1F] || masks[..3] == [0x7C00, 0x3E0, 0x1F],
            _ => false,
        };
        if !supported {
            return Err(DecodeError::Unidentified(
                "unsupported BMP bitfields layout".into(),
            ));
        }
    }
    if bits == 16 {
        if !matches!(compression, 0 | 3) {
            return unsupported("16-bit colour with RLE compression");
        }
        let green_6_bits = compression == 3 && le32(bytes, 58) == Some(0x7E0);
        return Ok(Some(Bgr16 {
            header_size,
            green_6_bits,
        }));
    }
    if bits <= 8 && le32(bytes, 10) == Some(14 + header_size) {
        return unsupported("palette image whose data offset points at its palette");
    }
    if matches!(compression, 1 | 2) && !rle_fills_every_pixel(bytes, bits, compression) {
        return unsupported("RLE data that skips pixels (delta or early end of bitmap)");
    }
    Ok(None)
}

/// A 16-bit BMP, which zoorepro decodes itself: the `image` crate widens its 5- and 6-bit
/// channels with other rounding than Pillow's `BGR;15` and `BGR;16` raw modes.
struct Bgr16 {
    header_size: u32,
    /// 5-6-5 bit fields (`BGR;16`); otherwise 5-5-5 (`BGR;15`, also for BI_RGB).
    green_6_bits: bool,
}

/// Pillow's raw decoding of a 16-bit BMP: rows of `(16 * width + 31) / 32 * 4` bytes from the
/// data offset, bottom-up unless the height is negative, each channel widened as `v * 255 / max`.
fn decode_bmp16(bytes: &[u8], layout: Bgr16) -> Result<RgbImage, DecodeError> {
    let short = || DecodeError::Truncated("the BMP header is cut short".into());
    let (width, height, top_down) = if layout.header_size == 12 {
        (
            le16(bytes, 18).ok_or_else(short)?,
            le16(bytes, 20).ok_or_else(short)?,
            false,
        )
    } else {
        let raw_height = le32(bytes, 22).ok_or_else(short)?;
        // Pillow takes a height whose top byte is 0xFF as negative: a top-down image.
        let top_down = raw_height >> 24 == 0xFF;
        let height = if top_down {
            raw_height.wrapping_neg()
        } else {
            raw_height
        };
        (le32(bytes, 18).ok_or_else(short)?, height, top_down)
    };
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(DecodeError::Unidentified(format!(
            "a BMP of {width}x{height} pixels"
        )));
    }
    let len = rgb_len(width, height)?;
    let offset = le32(bytes, 10).ok_or_else(short)? as usize;
    let stride = (width as usize * 16).div_ceil(32) * 4;
    let data = bytes
        .get(offset..)
        .filter(|d| d.len() / stride >= height as usize)
        .ok_or_else(|| DecodeError::Truncated("the BMP's pixel rows end early".into()))?;
    let mut pixels = try_zeroed(len)?;
    let out_stride = width as usize * 3;
    for (row, out) in pixels.chunks_exact_mut(out_stride).enumerate() {
        let source_row = if top_down {
            row
        } else {
            height as usize - 1 - row
        };
        let line = &data[source_row * stride..];
        for (x, rgb) in out.chunks_exact_mut(3).enumerate() {
            let v = u32::from(u16::from_le_bytes([line[2 * x], line[2 * x + 1]]));
            let widen = |value: u32, max: u32| (value * 255 / max) as u8;
            rgb.copy_from_slice(&if layout.green_6_bits {
                [
                    widen(v >> 11 & 31, 31),
                    widen(v >> 5 & 63, 63),
                    widen(v & 31, 31),
                ]
            } else {
                [
                    widen(v >> 10 & 31, 31),
                    widen(v >> 5 & 31, 31),
                    widen(v & 31, 31),
                ]
            });
        }
    }
    Ok(RgbImage::new(width as usize, height as usize, pixels))
}

/// The first GIF frame as Pillow 13 loads it: a palette image (gray without a colour table) the
/// size of the logical screen, grown to hold the frame; outside the frame it holds the frame's
/// transparent index, else index 0; transparent pixels keep their index. `convert('RGB')` then
/// looks each index up in the frame's palette (local, else global; indexes past its end are
/// black), or takes the index as the gray level where the file has no colour table.
fn decode_gif(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    let gif_error = |e: gif::DecodingError| match e {
        gif::DecodingError::Io(e) => DecodeError::Truncated(e.to_string()),
        other => DecodeError::Corrupt(other.to_string()),
    };
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    // One byte per pixel of the largest frame Pillow would accept.
    options.set_memory_limit(gif::MemoryLimit::Bytes(
        std::num::NonZeroU64::new(MAX_PIXELS).expect("a positive limit"),
    ));
    let mut decoder = options.read_info(Cursor::new(bytes)).map_err(gif_error)?;
    let (screen_w, screen_h) = (u32::from(decoder.width()), u32::from(decoder.height()));
    let global = decoder.global_palette().map(<[u8]>::to_vec);
    let frame = decoder
        .read_next_frame()
        .map_err(gif_error)?
        .ok_or_else(|| DecodeError::Unidentified("a GIF without any image".into()))?;
    let (left, top) = (u32::from(frame.left), u32::from(frame.top));
    let (frame_w, frame_h) = (u32::from(frame.width), u32::from(frame.height));
    let width = screen_w.max(left + frame_w);
    let height = screen_h.max(top + frame_h);
    if width == 0 || height == 0 {
        return Err(DecodeError::Unidentified("a GIF of no pixels".into()));
    }
    let len = rgb_len(width, height)?;
    let mut colours = [0u8; 768];
    match frame.palette.as_ref().or(global.as_ref()) {
        Some(palette) => {
            let n = palette.len().min(768);
            colours[..n].copy_from_slice(&palette[..n]);
        }
        // Mode L: the index is the gray level.
        None => {
            for (i, entry) in colours.chunks_exact_mut(3).enumerate() {
                entry.fill(i as u8);
            }
        }
    }
    let background = usize::from(frame.transparent.unwrap_or(0));
    let mut pixels = try_zeroed(len)?;
    for px in pixels.chunks_exact_mut(3) {
        px.copy_from_slice(&colours[background * 3..background * 3 + 3]);
    }
    let stride = width as usize * 3;
    for (y, row) in frame
        .buffer
        .chunks_exact(frame_w.max(1) as usize)
        .enumerate()
    {
        let at = (top as usize + y) * stride + left as usize * 3;
        for (x, &index) in row.iter().enumerate() {
            let i = usize::from(index) * 3;
            pixels[at + x * 3..at + x * 3 + 3].copy_from_slice(&colours[i..i + 3]);
        }
    }
    Ok(RgbImage::new(width as usize, height as usize, pixels))
}

/// Whether the RLE4/RLE8 stream after the header draws every row without a delta jump or an
/// early end of bitmap (a broken stream is left for the decoder to judge).
fn rle_fills_every_pixel(bytes: &[u8], bits: u32, compression: u32) -> bool {
    let height = le32(bytes, 22).map_or(0, |h| (h as i32).unsigned_abs());
    let Some(mut at) = le32(bytes, 10).map(|o| o as usize) else {
        return true;
    };
    let mut row = 0;
    while let (Some(&count), Some(&value)) = (bytes.get(at), bytes.get(at + 1)) {
        at += 2;
        match (count, value) {
            (0, 0) => row += 1,
            (0, 1) => return row + 1 >= height,
            (0, 2) => return false,
            (0, n) => {
                let n = usize::from(n);
                let data = if compression == 1 || bits == 8 {
                    n
                } else {
                    n.div_ceil(2)
                };
                at += data + data % 2;
            }
            _ => {}
        }
    }
    true
}

/// A zeroed buffer of `len` bytes, or an error when the allocator cannot give it.
pub(super) fn try_zeroed(len: usize) -> Result<Vec<u8>, DecodeError> {
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(len).map_err(|_| {
        DecodeError::Unsupported(format!(
            "cannot allocate {len} bytes for the decoded image (out of memory)"
        ))
    })?;
    buffer.resize(len, 0);
    Ok(buffer)
}

pub(super) fn rgb_len(width: u32, height: u32) -> Result<usize, DecodeError> {
    check_size(u64::from(width), u64::from(height))?;
    // At most 3 * MAX_PIXELS, about 0.5 GiB: fits usize on every 64-bit target.
    Ok(width as usize * height as usize * 3)
}

// ---------------------------------------------------------------------------------------------
// PNG, row by row

fn decode_png(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    // Pillow's chunk-level judgement first; the png crate then sees a clean file whose CRCs
    // are right by construction.
    let clean = super::png_plugin::normalise(bytes)?;
    let mut decoder = png::Decoder::new(Cursor::new(&clean[..]));
    // The same output layouts the `image` crate produces (and Pillow's raw modes read): palette
    // and low bit depths expanded to 8 bits, 16 bits kept so the high byte can be taken.
    decoder.set_transformations(png::Transformations::EXPAND);
    // One row of the widest allowed image at 16-bit RGBA, plus the decoder's own buffers.
    decoder.set_limits(png::Limits {
        bytes: (MAX_PIXELS as usize) * 8 + (64 << 20),
    });
    let mut reader = decoder.read_info().map_err(map_png_error)?;
    let (width, height) = (reader.info().width, reader.info().height);
    let len = rgb_len(width, height)?;
    let (color, depth) = reader.output_color_type();
    let layout = Layout::of_png(color, depth)?;
    let mut pixels = try_zeroed(len)?;
    let stride = width as usize * 3;
    let mut row_rgb = Vec::new();
    let mut next_row = 0;
    while let Some(row) = reader.next_interlaced_row().map_err(map_png_error)? {
        match *row.interlace() {
            png::InterlaceInfo::Null(_) => {
                // Rows come in order: the n-th non-interlaced row is image row n.
                let y = next_row;
                next_row += 1;
                let target = &mut pixels[y * stride..(y + 1) * stride];
                layout.to_rgb(row.data(), target);
            }
            png::InterlaceInfo::Adam7(info) => {
                let samples = row.data().len() / layout.bytes_per_pixel();
                row_rgb.clear();
                row_rgb.resize(samples * 3, 0);
                layout.to_rgb(row.data(), &mut row_rgb);
                png::expand_interlaced_row(&mut pixels, stride, &row_rgb, &info, 24);
            }
        }
    }
    Ok(RgbImage::new(width as usize, height as usize, pixels))
}

fn map_png_error(error: png::DecodingError) -> DecodeError {
    use png::DecodingError as E;
    match error {
        E::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated(e.to_string())
        }
        E::LimitsExceeded => {
            DecodeError::Unsupported("the PNG needs more memory than its pixel count allows".into())
        }
        other => {
            let message = other.to_string();
            if message.to_ascii_lowercase().contains("eof") {
                DecodeError::Truncated(message)
            } else {
                DecodeError::Corrupt(message)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The other formats, converted in place

fn decode_with_image_crate(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(DecodeError::UnsupportedFormat);
    };
    let decoder = reader.into_decoder().map_err(map_image_error)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    // The TIFF layouts tiff.rs leaves to the `image` crate are refused there when their native
    // buffer is over its allocation limit, but only once that buffer exists (a 16-bit RGBA one
    // near Pillow's limit: 1.43 GB). Refuse them before allocating it.
    let limit = image::Limits::default().max_alloc.unwrap_or(u64::MAX);
    if format == image::ImageFormat::Tiff && image::ImageDecoder::total_bytes(&decoder) > limit {
        return Err(DecodeError::Unsupported(format!(
            "this TIFF layout needs more than {} MiB before conversion",
            limit >> 20
        )));
    }
    let mut pixels = read_rgb_in_place(decoder, 0)?;
    pixels.shrink_to_fit();
    Ok(RgbImage::new(width as usize, height as usize, pixels))
}

/// Decodes the whole image with `decoder` and returns its 8-bit RGB pixels, converted in place
/// where the native layout has 3 or more bytes per pixel, in a buffer that keeps room for at
/// least `room` bytes (so a caller can widen the image in place).
pub(super) fn read_rgb_in_place(
    decoder: impl image::ImageDecoder,
    room: usize,
) -> Result<Vec<u8>, DecodeError> {
    let (width, height) = decoder.dimensions();
    let len = rgb_len(width, height)?;
    let layout = Layout::of_image(decoder.color_type())?;
    let native = decoder.total_bytes();
    if native != (width as u64) * (height as u64) * layout.bytes_per_pixel() as u64 {
        return Err(DecodeError::Corrupt(format!(
            "the decoder reports {native} bytes for {width}x{height} pixels"
        )));
    }
    let native = native as usize;
    if layout.bytes_per_pixel() < 3 {
        let mut buffer = try_zeroed(native)?;
        decoder.read_image(&mut buffer).map_err(map_image_error)?;
        let mut pixels = try_zeroed(len.max(room))?;
        layout.to_rgb(&buffer, &mut pixels[..len]);
        pixels.truncate(len);
        return Ok(pixels);
    }
    let mut buffer = try_zeroed(native.max(room))?;
    decoder
        .read_image(&mut buffer[..native])
        .map_err(map_image_error)?;
    // Each RGB pixel lands at or before the native pixel it comes from, so a forward walk
    // converts in place without a second buffer.
    let bpp = layout.bytes_per_pixel();
    let mut rgb = [0u8; 3];
    for i in 0..width as usize * height as usize {
        layout.to_rgb(&buffer[i * bpp..(i + 1) * bpp], &mut rgb);
        buffer[i * 3..i * 3 + 3].copy_from_slice(&rgb);
    }
    buffer.truncate(len);
    Ok(buffer)
}

pub(super) fn map_image_error(error: image::ImageError) -> DecodeError {
    use image::ImageError as E;
    match error {
        E::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated(e.to_string())
        }
        E::Unsupported(e) => DecodeError::Unsupported(e.to_string()),
        E::Limits(e) => DecodeError::Unsupported(e.to_string()),
        other => {
            let message = other.to_string();
            if message.to_ascii_lowercase().contains("eof") {
                DecodeError::Truncated(message)
            } else {
                DecodeError::Corrupt(message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::pipelines::pillow::decode::decode_rgb;

    fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn png_layouts_convert_like_pillow() {
        use image::{DynamicImage, ImageFormat::Png};
        let rgba = image::RgbaImage::from_raw(2, 1, vec![1, 2, 3, 0, 4, 5, 6, 255]).unwrap();
        let img = decode_rgb(&encode(DynamicImage::ImageRgba8(rgba), Png)).unwrap();
        assert_eq!(img.pixels, [1, 2, 3, 4, 5, 6]);

        let la = image::GrayAlphaImage::from_raw(2, 1, vec![7, 0, 9, 128]).unwrap();
        let img = decode_rgb(&encode(DynamicImage::ImageLumaA8(la), Png)).unwrap();
        assert_eq!(img.pixels, [7, 7, 7, 9, 9, 9]);

        let rgb16 =
            image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(1, 1, vec![0x1234, 0xFF00, 0x00FF])
                .unwrap();
        let img = decode_rgb(&encode(DynamicImage::ImageRgb16(rgb16), Png)).unwrap();
        assert_eq!(img.pixels, [0x12, 0xFF, 0x00]);

        let l16 =
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![200, 300]).unwrap();
        let img = decode_rgb(&encode(DynamicImage::ImageLuma16(l16), Png)).unwrap();
        assert_eq!(img.pixels, [200, 200, 200, 255, 255, 255]);

        let png = encode(DynamicImage::ImageRgb8(image::RgbImage::new(3, 3)), Png);
        assert!(decode_rgb(&png[..png.len() / 2]).is_err());
    }

    #[test]
    fn other_formats_convert_in_place_like_a_whole_conversion() {
        use image::{DynamicImage, ImageFormat};
        let rgba = image::RgbaImage::from_fn(5, 3, |x, y| {
            image::Rgba([x as u8 * 40, y as u8 * 70, (x + y) as u8, 255])
        });
        let expected: Vec<u8> = rgba
            .pixels()
            .flat_map(|p| [p.0[0], p.0[1], p.0[2]])
            .collect();
        for format in [ImageFormat::Bmp, ImageFormat::Tiff] {
            let img = decode_rgb(&encode(DynamicImage::ImageRgba8(rgba.clone()), format)).unwrap();
            assert_eq!((img.width, img.height), (5, 3), "{format:?}");
            assert_eq!(img.pixels, expected, "{format:?}");
        }
        let rgba16 = image::ImageBuffer::<image::Rgba<u16>, _>::from_fn(4, 2, |x, y| {
            image::Rgba([x as u16 * 0x1111, y as u16 * 0x7000 + 0xFF, 0x00FF, 0])
        });
        let img = decode_rgb(&encode(
            DynamicImage::ImageRgba16(rgba16),
            ImageFormat::Tiff,
        ))
        .unwrap();
        let expected: Vec<u8> = (0..2u16)
            .flat_map(|y| (0..4u16).flat_map(move |x| [(x * 0x11) as u8, (y * 0x70) as u8, 0]))
            .collect();
        assert_eq!(img.pixels, expected);
    }

    /// A 2x1 BMP (40-byte header, BI_RGB) of `bits` per pixel, a gray palette below 16 bits,
    /// and `data` as its pixel row.
    fn bmp(bits: u16, data: &[u8]) -> Vec<u8> {
        let palette: Vec<u8> = if bits < 16 {
            (0..1u32 << bits)
                .flat_map(|i| [i as u8 * 60, i as u8 * 60, i as u8 * 60, 0])
                .collect()
        } else {
            Vec::new()
        };
        let offset = 14 + 40 + palette.len();
        let mut file = b"BM".to_vec();
        file.extend_from_slice(&((offset + data.len()) as u32).to_le_bytes());
        file.extend_from_slice(&[0; 4]);
        file.extend_from_slice(&(offset as u32).to_le_bytes());
        file.extend_from_slice(&40u32.to_le_bytes());
        file.extend_from_slice(&2i32.to_le_bytes());
        file.extend_from_slice(&1i32.to_le_bytes());
        file.extend_from_slice(&1u16.to_le_bytes());
        file.extend_from_slice(&bits.to_le_bytes());
        file.extend_from_slice(&[0; 24]);
        file.extend_from_slice(&palette);
        file.extend_from_slice(data);
        file
    }

    /// Pillow 13 refuses a 2-bit BMP ("Unsupported BMP pixel depth"); the image crate decodes it.
    /// A 16-bit BMP comes out as Pillow widens it (the image crate rounded otherwise). A
    /// transparent GIF, whose transparent pixels Pillow keeps in their palette colour, is
    /// refused as unsupported.
    #[test]
    fn bmp_and_gif_layouts_pillow_reads_otherwise_are_refused() {
        assert!(matches!(
            decode_rgb(&bmp(2, &[0x40, 0, 0, 0])),
            Err(DecodeError::Unidentified(m)) if m.contains("depth")
        ));
        assert_eq!(
            decode_rgb(&bmp(16, &[0x1F, 0x7C, 0xE0, 0x03]))
                .unwrap()
                .pixels,
            [255, 0, 255, 0, 255, 0]
        );
        assert_eq!(
            decode_rgb(&bmp(24, &[1, 2, 3, 4, 5, 6, 0, 0]))
                .unwrap()
                .pixels,
            [3, 2, 1, 6, 5, 4]
        );
        let rgba = image::RgbaImage::from_raw(2, 1, vec![1, 2, 3, 0, 4, 5, 6, 255]).unwrap();
        let gif = encode(
            image::DynamicImage::ImageRgba8(rgba),
            image::ImageFormat::Gif,
        );
        // A transparent pixel keeps its palette colour, as in Pillow's P-mode first frame.
        assert_eq!(decode_rgb(&gif).unwrap().pixels, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn interlaced_png_rows_land_where_a_whole_decode_puts_them() {
        let (width, height) = (13u32, 11u32);
        let pixels: Vec<u8> = (0..width * height * 3)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&pixels).unwrap();
        }
        assert_eq!(decode_rgb(&out).unwrap().pixels, pixels);
        // Adam7: the encoder cannot interlace, so the test writes the passes itself.
        let adam7 = adam7_png(width, height, &pixels);
        let decoded = decode_rgb(&adam7).unwrap();
        assert_eq!(decoded.pixels, pixels);
    }

    /// A minimal interlaced (Adam7) 8-bit RGB PNG, filter type 0 on every line.
    fn adam7_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
        use std::io::Write;
        const PASSES: [(u32, u32, u32, u32); 7] = [
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ];
        let mut raw = Vec::new();
        for (x0, y0, dx, dy) in PASSES {
            let columns: Vec<u32> = (x0..width).step_by(dx as usize).collect();
            if columns.is_empty() {
                continue;
            }
            for y in (y0..height).step_by(dy as usize) {
                raw.push(0);
                for &x in &columns {
                    let at = ((y * width + x) * 3) as usize;
                    raw.extend_from_slice(&rgb[at..at + 3]);
                }
            }
        }
        let mut zlib = Vec::new();
        {
            let mut encoder = flate_stored(&mut zlib);
            encoder.write_all(&raw).unwrap();
        }
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend_from_slice(data);
            let crc = crc32(&c[4..]);
            c.extend_from_slice(&crc.to_be_bytes());
            c
        };
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 1]);
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend(chunk(b"IHDR", &ihdr));
        png.extend(chunk(b"IDAT", &zlib));
        png.extend(chunk(b"IEND", b""));
        png
    }

    /// zlib with stored (uncompressed) blocks: enough for a test PNG, no compressor needed.
    fn flate_stored(out: &mut Vec<u8>) -> StoredWriter<'_> {
        out.extend_from_slice(&[0x78, 0x01]);
        StoredWriter {
            out,
            data: Vec::new(),
        }
    }

    struct StoredWriter<'a> {
        out: &'a mut Vec<u8>,
        data: Vec<u8>,
    }

    impl std::io::Write for StoredWriter<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.data.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Drop for StoredWriter<'_> {
        fn drop(&mut self) {
            let blocks: Vec<&[u8]> = self.data.chunks(65535).collect();
            for (i, block) in blocks.iter().enumerate() {
                self.out.push(u8::from(i + 1 == blocks.len()));
                let len = block.len() as u16;
                self.out.extend_from_slice(&len.to_le_bytes());
                self.out.extend_from_slice(&(!len).to_le_bytes());
                self.out.extend_from_slice(block);
            }
            let (mut a, mut b) = (1u32, 0u32);
            for &byte in &self.data {
                a = (a + u32::from(byte)) % 65521;
                b = (b + a) % 65521;
            }
            self.out.extend_from_slice(&((b << 16) | a).to_be_bytes());
        }
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// Pillow 13 itself writes PNGs in its layouts (palette with and without transparency, 4-bit
    /// palette, 1-bit, LA, I;16, RGBA) and their `convert('RGB')`; zoorepro must decode each to
    /// those bytes. Skipped without a Python that has Pillow (`ZOOREPRO_PYTHON`).
    #[test]
    fn png_layouts_decode_to_pillows_pixels() {
        let python = std::env::var("ZOOREPRO_PYTHON").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_string()
        });
        let dir = tempfile::tempdir().unwrap();
        let script = r#"
import sys
from PIL import Image
out = sys.argv[1]
base = Image.linear_gradient("L").resize((37, 23)).convert("RGB")
base = Image.merge("RGB", (base.getchannel(0), base.getchannel(0).rotate(90), base.getchannel(0).transpose(0)))
cases = {
    "p": base.convert("P", palette=Image.Palette.ADAPTIVE, colors=200),
    "p4": base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16),
    "one": base.convert("1"),
    "la": base.convert("LA"),
    "i16": base.convert("I").point(lambda v: v * 3).convert("I;16"),
    "rgba": base.convert("RGBA"),
}
for name, im in cases.items():
    kwargs = {"bits": 4} if name == "p4" else {}
    im.save(f"{out}/{name}.png", **kwargs)
Image.open(f"{out}/p.png").save(f"{out}/ptrns.png", transparency=3)
for name in list(cases) + ["ptrns"]:
    with Image.open(f"{out}/{name}.png") as im:
        open(f"{out}/{name}.rgb", "wb").write(im.convert("RGB").tobytes())
"#;
        let status = std::process::Command::new(&python)
            .arg("-c")
            .arg(script)
            .arg(dir.path())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            crate::testing::skip(&format!("no Python with Pillow at {python}"));
            return;
        }
        for name in ["p", "p4", "one", "la", "i16", "rgba", "ptrns"] {
            let png = std::fs::read(dir.path().join(format!("{name}.png"))).unwrap();
            let expected = std::fs::read(dir.path().join(format!("{name}.rgb"))).unwrap();
            let decoded = decode_rgb(&png).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((decoded.width, decoded.height), (37, 23), "{name}");
            assert!(
                decoded.pixels == expected,
                "{name}: pixels differ from Pillow's"
            );
        }
    }

    #[test]
    fn bombs_are_refused_before_any_pixel_buffer() {
        // Pillow: more than 2 * MAX_IMAGE_PIXELS is a DecompressionBombError; exactly that is read.
        let over = adam7_header_only(MAX_PIXELS as u32 + 1, 1);
        assert!(matches!(
            decode_rgb(&over),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    fn adam7_header_only(width: u32, height: u32) -> Vec<u8> {
        let mut png = adam7_png(1, 1, &[0, 0, 0]);
        png[16..20].copy_from_slice(&width.to_be_bytes());
        png[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }
}
