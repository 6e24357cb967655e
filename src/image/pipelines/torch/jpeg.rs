//! `torchvision.io.decode_jpeg(data, mode=ImageReadMode.RGB)` on CPU (torchvision 0.29.2, its
//! bundled libjpeg-turbo): libjpeg driven as TensorFlow drives it (`tensorflow/jpeg.rs`'s policy
//! for the libjpeg glue: fancy upsampling, every read past the end fatal, libjpeg's warnings not
//! errors) but with libjpeg's default accurate integer DCT, EXIF orientation not applied
//! (`apply_exif_orientation=False`), and torchvision's own CMYK conversion.

use crate::image::decoding::{DecodeError, MAX_PIXELS};
use crate::image::raster::{Placement, RgbImage, Window};

use crate::image::pipelines::tensorflow::jpeg::{Flavour, decode_as};

/// torchvision sets no size limit of its own; zoorepro's pixel limit guards the memory, as for
/// Pillow's recipes (3 bytes a pixel once decoded).
const TORCHVISION: Flavour = Flavour {
    who: "torchvision's decode_jpeg",
    pipeline: "torchvision-tensor",
    // torchvision hands any bytes to libjpeg, which asks for SOI only: the next marker may
    // follow junk bytes (a warning, not an error).
    signature: &[0xFF, 0xD8],
    dct_islow: true,
    max_bytes: 3 * MAX_PIXELS as i64 + 1,
    limit_of: "zoorepro's pixel limit",
    cmyk_to_rgb,
};

/// Decodes the part `needed` asks for (plus a margin), or the whole picture when the partial
/// decode is not clean, as torchvision's decode_jpeg would decode it.
pub fn decode(
    bytes: &[u8],
    needed: impl FnMut(usize, usize) -> Window,
) -> Result<(RgbImage, Placement), DecodeError> {
    decode_as(bytes, &TORCHVISION, needed)
}

/// torchvision's CMYK -> RGB (modelled on Pillow's): per channel, with `x = 255 - c`,
/// `v = k * x + 128; v = ((v >> 8) + v) >> 8; clamp(k - v, 0, 255)`. libjpeg hands over the
/// channels as stored; unlike TensorFlow, an Adobe marker changes nothing.
fn cmyk_to_rgb(mut pixels: Vec<u8>, _adobe: bool) -> Vec<u8> {
    let n = pixels.len() / 4;
    for i in 0..n {
        let k = i32::from(pixels[4 * i + 3]);
        for channel in 0..3 {
            let x = 255 - i32::from(pixels[4 * i + channel]);
            let v = k * x + 128;
            let v = ((v >> 8) + v) >> 8;
            pixels[3 * i + channel] = (k - v).clamp(0, 255) as u8;
        }
    }
    pixels.truncate(n * 3);
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_follows_torchvisions_formula() {
        // k = 255, c = 255: x = 0, v = (128 >> 8 + 128) >> 8 = 0 -> 255.
        assert_eq!(cmyk_to_rgb(vec![255, 0, 100, 255], false), [255, 0, 100]);
        assert_eq!(cmyk_to_rgb(vec![255, 0, 100, 255], true), [255, 0, 100]);
        // k = 200, c = 100: x = 155, v = 31128 -> (121 + 31128) >> 8 = 122; 200 - 122 = 78.
        assert_eq!(cmyk_to_rgb(vec![100, 100, 100, 200], false)[0], 78);
        assert_eq!(cmyk_to_rgb(vec![9, 9, 9, 0], false), [0, 0, 0]);
    }

    #[test]
    fn refuses_what_is_not_a_jpeg() {
        let whole = |w, h| Window::full(w, h);
        assert!(matches!(decode(b"", whole), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(b"GIF89a", whole),
            Err(DecodeError::Unsupported(_))
        ));
        assert!(matches!(
            decode(b"\xff\xd8\xff\xe0", whole),
            Err(DecodeError::Broken(_))
        ));
    }
}
