//! What every pipeline's decoder shares: the one decode error, the pixel limit that guards
//! memory, and the two libjpeg policies every JPEG decoder here applies (the scan limit and the
//! part of a picture decoded for a crop).

use crate::image::raster::Window;

/// Pillow refuses images above twice `PIL.Image.MAX_IMAGE_PIXELS` (2 * 89,478,485) with a
/// `DecompressionBombError`; refusing the same ones keeps "what the oracle can read" and "what
/// zoorepro can read" the same set, and caps memory at about 0.5 GiB per decoded image.
pub const MAX_PIXELS: u64 = 2 * 89_478_485;

/// Why a file gave no tensor: one message, the same whichever pipeline refused it.
#[derive(Clone, Debug, thiserror::Error)]
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
    #[error("broken data stream when reading image file ({0}); the file is damaged")]
    Broken(String),
    #[error("corrupt image data: {0}")]
    Corrupt(String),
    #[error("cannot identify image file ({0}); Pillow refuses it too")]
    Unidentified(String),
    #[error(
        "image is {width}x{height} pixels, more than the {MAX_PIXELS}-pixel limit that guards against \
         decompression bombs (Pillow refuses it too)"
    )]
    TooLarge { width: u64, height: u64 },
}

/// Refuses a picture above [`MAX_PIXELS`] before anything is allocated for it.
pub(crate) fn check_size(width: u64, height: u64) -> Result<(), DecodeError> {
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(DecodeError::TooLarge { width, height });
    }
    Ok(())
}

/// Scans a progressive JPEG may have before it is refused. Pillow sets no limit, so a few
/// hundred kilobytes of repeated scans keep it busy for many seconds; libjpeg-turbo's own tools
/// guard against that with such a limit. Encoders write 10 or fewer (libjpeg's default script)
/// and rarely more than a few dozen.
pub const MAX_SCANS: i32 = 100;

/// Pixels kept around a requested rectangle when decoding part of a JPEG. libjpeg-turbo documents
/// that a partial-width decode may upsample the chroma of the part's left and right edge pixels
/// as if they were the picture's edges; with this margin (two chroma blocks at 4:2:0) every pixel
/// the caller reads is an interior one. Rows get the same margin, for the same smoothing across
/// rows.
const PART_MARGIN: usize = 16;

/// The part of a `width` x `height` JPEG to decode for `needed`: `needed` plus the margin (libjpeg
/// moves its left edge to an iMCU boundary). None when that is the whole picture. Every decoder
/// that decodes part of a JPEG (Pillow's, TensorFlow's, torchvision's, OpenCV's) asks this.
pub(crate) fn jpeg_part(width: usize, height: usize, needed: Window) -> Option<Window> {
    let whole = Window::full(width, height);
    if needed.width == 0 || needed.height == 0 || !whole.contains(&needed) {
        return None;
    }
    let x = needed.x.saturating_sub(PART_MARGIN);
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
