//! Image decoding, bit for bit like `PIL.Image.open(p).convert('RGB')`.

use crate::raster::RgbImage;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a readable image: {0}")]
    Invalid(String),
}

/// Decode JPEG (libjpeg-turbo, Pillow's decoder settings) or another format (the `image` crate) to RGB.
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    let _ = bytes;
    todo!("pixels helper")
}
