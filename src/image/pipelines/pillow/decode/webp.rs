//! WebP, as Pillow 13 reads it (libwebp's animation decoder, frame 0, alpha dropped), with memory
//! bounded by the 8-bit RGB image that comes out.
//!
//! image-webp decodes a lossless image without alpha through a temporary RGBA copy, and an
//! animation into a frame buffer plus an RGBA canvas: up to 4 bytes per pixel on top of the
//! output (a 13377x13377 animation: 2.1 GB). So the first frame is cut out of its animation and
//! decoded as a still image, a lossless bitstream is marked as carrying alpha (a hint that only
//! changes the output layout, never the colour), a large lossy image's alpha is not decoded (see
//! [`decode_alpha`]), and the frame is placed on its canvas in place.

use std::io::Cursor;

use super::DecodeError;
use super::other::{map_image_error, read_rgb_in_place, rgb_len};
use crate::image::raster::RgbImage;

pub(super) fn is_webp(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP"
}

pub(super) fn decode_webp(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    let chunks = chunks(&bytes[12..]);
    let animation = match chunks.first() {
        Some((b"VP8X", header)) if header.first().is_some_and(|flags| flags & 0x02 != 0) => {
            Some(canvas_size(header)?)
        }
        _ => None,
    };
    let Some((canvas_width, canvas_height)) = animation else {
        let lossy = chunks.iter().find(|(id, _)| *id == b"VP8 ");
        if let (Some(lossy), Some((b"VP8X", header))) = (lossy, chunks.first()) {
            let (width, height) = canvas_size(header)?;
            rgb_len(width, height)?;
            if !decode_alpha(width, height) {
                return decode_still(&riff(&[*lossy]), 0);
            }
        }
        let still = still_with_alpha_hint(bytes, &chunks);
        return decode_still(&still, 0);
    };
    let len = rgb_len(canvas_width, canvas_height)?;
    let frame = chunks
        .iter()
        .find(|(id, _)| *id == b"ANMF")
        .ok_or_else(|| DecodeError::Corrupt("WebP animation without frames".into()))?;
    let placement = FramePlacement::read(frame.1)?;
    if placement.x + placement.width > canvas_width
        || placement.y + placement.height > canvas_height
    {
        return Err(DecodeError::Corrupt("WebP frame outside its canvas".into()));
    }
    let keep_alpha = decode_alpha(placement.width, placement.height);
    let still = frame_as_still(
        &frame.1[16..],
        placement.width,
        placement.height,
        keep_alpha,
    )?;
    let frame_image = decode_still(&still, len)?;
    let pixels = place_on_canvas(frame_image.pixels, &placement, canvas_width, len);
    Ok(RgbImage::new(
        canvas_width as usize,
        canvas_height as usize,
        pixels,
    ))
}

/// The chunks of a RIFF body: (fourcc, payload), payloads clipped to the file.
fn chunks(mut body: &[u8]) -> Vec<(&[u8; 4], &[u8])> {
    let mut chunks = Vec::new();
    while body.len() >= 8 {
        let id: &[u8; 4] = body[0..4].try_into().unwrap();
        let size = u32::from_le_bytes(body[4..8].try_into().unwrap()) as usize;
        let end = 8usize.saturating_add(size).min(body.len());
        chunks.push((id, &body[8..end]));
        body = &body[end.saturating_add(size & 1).min(body.len())..];
    }
    chunks
}

fn u24(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0])
}

fn canvas_size(vp8x: &[u8]) -> Result<(u32, u32), DecodeError> {
    if vp8x.len() < 10 {
        return Err(DecodeError::Truncated("WebP VP8X header".into()));
    }
    Ok((u24(&vp8x[4..]) + 1, u24(&vp8x[7..]) + 1))
}

struct FramePlacement {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

impl FramePlacement {
    fn read(anmf: &[u8]) -> Result<Self, DecodeError> {
        if anmf.len() < 16 {
            return Err(DecodeError::Truncated("WebP ANMF header".into()));
        }
        Ok(FramePlacement {
            x: u24(anmf) * 2,
            y: u24(&anmf[3..]) * 2,
            width: u24(&anmf[6..]) + 1,
            height: u24(&anmf[9..]) + 1,
        })
    }
}

fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    for (id, payload) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        body.extend_from_slice(payload);
        if payload.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend(body);
    file
}

/// A still image whose lossless bitstream says it carries alpha, so that image-webp decodes it
/// straight into the output instead of through a temporary RGBA copy. Borrowed unchanged when
/// there is nothing to mark.
fn still_with_alpha_hint<'a>(
    bytes: &'a [u8],
    chunks: &[(&[u8; 4], &[u8])],
) -> std::borrow::Cow<'a, [u8]> {
    let lossless = chunks.iter().position(|(id, _)| *id == b"VP8L");
    let marked = |at: usize, bit: u8| {
        let mut copy = bytes.to_vec();
        copy[at] |= bit;
        std::borrow::Cow::Owned(copy)
    };
    match (chunks.first(), lossless) {
        // VP8X's alpha flag (bit 4 of its first byte, at file offset 20).
        (Some((b"VP8X", header)), Some(_)) if header.first().is_some_and(|f| f & 0x10 == 0) => {
            marked(20, 0x10)
        }
        // VP8L's alpha_is_used bit: bit 28 of the 32 bits after the signature byte 0x2f, so
        // bit 4 of the header's last byte (file offset 20 + 1 + 3).
        (Some((b"VP8L", payload)), Some(0)) if payload.len() >= 5 && payload[4] & 0x10 == 0 => {
            marked(24, 0x10)
        }
        _ => std::borrow::Cow::Borrowed(bytes),
    }
}

/// Whether to decode a lossy image's alpha (ALPH) at all. Alpha never changes the RGB that
/// comes out (libwebp writes colour unpremultiplied, and Pillow's `convert('RGB')` drops alpha),
/// but a damaged ALPH chunk makes Pillow refuse the file, so it is decoded, and checked, while
/// that is cheap. image-webp decodes ALPH through a 4-byte-per-pixel image: above 32 Mpixels
/// (128 MiB of it) the chunk is skipped to keep memory within the bound, and such a file with
/// damaged alpha is accepted where Pillow refuses it.
fn decode_alpha(width: u32, height: u32) -> bool {
    u64::from(width) * u64::from(height) <= 32 << 20
}

/// An animation frame's bitstream (optional ALPH, then VP8 or VP8L) as a still WebP file.
fn frame_as_still(
    frame: &[u8],
    width: u32,
    height: u32,
    keep_alpha: bool,
) -> Result<Vec<u8>, DecodeError> {
    let parts = chunks(frame);
    if let Some((_, lossless)) = parts.iter().find(|(id, _)| *id == b"VP8L") {
        let mut payload = lossless.to_vec();
        if payload.len() >= 5 {
            payload[4] |= 0x10;
        }
        return Ok(riff(&[(b"VP8L", &payload)]));
    }
    let lossy = parts
        .iter()
        .find(|(id, _)| *id == b"VP8 ")
        .ok_or_else(|| DecodeError::Corrupt("WebP frame without image data".into()))?;
    let alpha = parts
        .iter()
        .find(|(id, _)| *id == b"ALPH")
        .filter(|_| keep_alpha);
    let mut header = vec![if alpha.is_some() { 0x10 } else { 0 }, 0, 0, 0];
    header.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    header.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut still = vec![(b"VP8X", header.as_slice())];
    still.extend(alpha.copied());
    still.push(*lossy);
    Ok(riff(&still))
}

fn decode_still(still: &[u8], room: usize) -> Result<RgbImage, DecodeError> {
    let decoder =
        image::codecs::webp::WebPDecoder::new(Cursor::new(still)).map_err(map_image_error)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    let pixels = read_rgb_in_place(decoder, room)?;
    Ok(RgbImage::new(width as usize, height as usize, pixels))
}

/// Moves the frame's rows (packed at the buffer's start) to their place on a black canvas of
/// `len` bytes, as libwebp's animation decoder composites a first frame onto a transparent one.
/// Rows move from the last to the first: each lands at or after where it was.
fn place_on_canvas(
    mut pixels: Vec<u8>,
    frame: &FramePlacement,
    canvas_width: u32,
    len: usize,
) -> Vec<u8> {
    let frame_stride = frame.width as usize * 3;
    let canvas_stride = canvas_width as usize * 3;
    if frame_stride == canvas_stride && frame.y == 0 {
        pixels.resize(len, 0);
        return pixels;
    }
    let frame_len = pixels.len();
    pixels.resize(len.max(frame_len), 0);
    for row in (0..frame.height as usize).rev() {
        let from = row * frame_stride;
        let to = (frame.y as usize + row) * canvas_stride + frame.x as usize * 3;
        pixels.copy_within(from..from + frame_stride, to);
        // What the move leaves behind, outside the frame's new place, is canvas: black.
        let old = from..from + frame_stride;
        let new = to..to + frame_stride;
        if old.start < new.start {
            pixels[old.start..old.end.min(new.start)].fill(0);
        }
    }
    pixels.truncate(len);
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stills, animations and an offset first frame, each as Pillow decodes it.
    #[test]
    fn webp_files_decode_to_pillows_pixels() {
        let script = include_str!("testdata/webp_layouts.py");
        if let Some(mismatches) =
            crate::image::pipelines::pillow::decode::pillow_cases::mismatches_with_pillow(
                script, "webp",
            )
        {
            assert!(mismatches.is_empty(), "{mismatches:#?}");
        }
    }

    /// A lossless WebP of zeros: five one-symbol prefix codes, so pixels take no bits.
    fn zero_vp8l(width: u32, height: u32) -> Vec<u8> {
        let mut bitstream = vec![0x2f];
        bitstream.extend_from_slice(&((width - 1) | (height - 1) << 14).to_le_bytes());
        bitstream.extend_from_slice(&[0x88, 0x88, 0x08]);
        riff(&[(b"VP8L", &bitstream)])
    }

    #[test]
    fn a_lossless_image_decodes_through_the_alpha_hint_and_bombs_are_refused() {
        use crate::image::pipelines::pillow::decode::decode_rgb;
        let image = decode_rgb(&zero_vp8l(5, 3)).unwrap();
        assert_eq!((image.width, image.height), (5, 3));
        assert_eq!(image.pixels, vec![0; 45]);
        // 16383 x 10924 is over Pillow's limit (WebP itself allows 16384 x 16384).
        assert!(matches!(
            decode_rgb(&zero_vp8l(16383, 10924)),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_frame_moves_to_its_place_on_a_black_canvas() {
        // A 2x2 frame at (1, 1) of a 3x3 canvas, one byte per channel numbered.
        let frame: Vec<u8> = (1..=12).collect();
        let placement = FramePlacement {
            x: 1,
            y: 1,
            width: 2,
            height: 2,
        };
        let canvas = place_on_canvas(frame, &placement, 3, 27);
        let mut expected = vec![0u8; 27];
        expected[12..18].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        expected[21..27].copy_from_slice(&[7, 8, 9, 10, 11, 12]);
        assert_eq!(canvas, expected);
    }
}
