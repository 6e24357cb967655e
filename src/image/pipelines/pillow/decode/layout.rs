//! The decoders' native pixel layouts and what Pillow 13's `convert('RGB')` makes of each.

use super::DecodeError;

/// What Pillow's `convert('RGB')` makes of each layout the decoders produce. Pillow reads 16-bit
/// RGB(A) and LA PNGs by their high byte (`RGB;16B` etc.), but 16-bit grayscale as mode `I;16`,
/// whose conversion to RGB clamps at 255 instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    L8,
    /// TIFF's WhiteIsZero gray (Pillow's `L;I`): 0 is white.
    L8Inverted,
    La8,
    Rgb8,
    Rgba8,
    /// 16-bit samples; `big_endian` is how the decoder hands them over (PNG: big, `image`: native).
    L16 {
        big_endian: bool,
    },
    La16 {
        big_endian: bool,
    },
    Rgb16 {
        big_endian: bool,
    },
    Rgba16 {
        big_endian: bool,
    },
    /// TIFF's associated alpha (Pillow's `RGBa`): colour was multiplied by alpha, and Pillow
    /// divides it back out (`c * 255 / a`, truncated, clipped) before dropping alpha.
    Rgba8Premultiplied,
    Rgba16Premultiplied {
        big_endian: bool,
    },
    /// TIFF's CMYK (Pillow's `CMYK`, `CMYK;16L/B` keeping the high byte), converted as
    /// Pillow's `cmyk2rgb` does.
    Cmyk8,
    Cmyk16 {
        big_endian: bool,
    },
    /// TIFF's signed 16-bit gray (Pillow's `I;16S` into mode `I`): clamped to 0..=255.
    I16Signed {
        big_endian: bool,
    },
    /// TIFF's 32-bit integer gray (Pillow's mode `I`, `I;32S`/`I;32N`: read as signed either
    /// way): clamped to 0..=255.
    I32 {
        big_endian: bool,
    },
    /// TIFF's 32-bit float gray (Pillow's mode `F`): `convert('RGB')` goes through `L`, which
    /// truncates towards zero and clamps to 0..=255 (NaN gives 0).
    F32 {
        big_endian: bool,
    },
}

impl Layout {
    pub(super) fn of_png(color: png::ColorType, depth: png::BitDepth) -> Result<Self, DecodeError> {
        use png::{BitDepth as B, ColorType as C};
        let big_endian = true;
        Ok(match (color, depth) {
            (C::Grayscale, B::Eight) => Layout::L8,
            (C::GrayscaleAlpha, B::Eight) => Layout::La8,
            (C::Rgb, B::Eight) => Layout::Rgb8,
            (C::Rgba, B::Eight) => Layout::Rgba8,
            (C::Grayscale, B::Sixteen) => Layout::L16 { big_endian },
            (C::GrayscaleAlpha, B::Sixteen) => Layout::La16 { big_endian },
            (C::Rgb, B::Sixteen) => Layout::Rgb16 { big_endian },
            (C::Rgba, B::Sixteen) => Layout::Rgba16 { big_endian },
            (color, depth) => {
                return Err(DecodeError::Unsupported(format!(
                    "PNG {color:?} at {depth:?} bits after expansion"
                )));
            }
        })
    }

    pub(super) fn of_image(color: image::ColorType) -> Result<Self, DecodeError> {
        use image::ColorType as C;
        let big_endian = cfg!(target_endian = "big");
        Ok(match color {
            C::L8 => Layout::L8,
            C::La8 => Layout::La8,
            C::Rgb8 => Layout::Rgb8,
            C::Rgba8 => Layout::Rgba8,
            C::L16 => Layout::L16 { big_endian },
            C::La16 => Layout::La16 { big_endian },
            C::Rgb16 => Layout::Rgb16 { big_endian },
            C::Rgba16 => Layout::Rgba16 { big_endian },
            other => {
                return Err(DecodeError::Unsupported(format!(
                    "{other:?} pixels (only 8- and 16-bit integer images are supported)"
                )));
            }
        })
    }

    pub(super) fn bytes_per_pixel(self) -> usize {
        match self {
            Layout::L8 | Layout::L8Inverted => 1,
            Layout::La8 | Layout::L16 { .. } | Layout::I16Signed { .. } => 2,
            Layout::I32 { .. } | Layout::F32 { .. } => 4,
            Layout::Rgb8 => 3,
            Layout::Rgba8 | Layout::Rgba8Premultiplied | Layout::La16 { .. } | Layout::Cmyk8 => 4,
            Layout::Rgb16 { .. } => 6,
            Layout::Rgba16 { .. } | Layout::Rgba16Premultiplied { .. } | Layout::Cmyk16 { .. } => 8,
        }
    }

    /// Converts whole pixels of `native` into `rgb` (3 bytes per pixel), as many as `rgb` holds.
    pub(super) fn to_rgb(self, native: &[u8], rgb: &mut [u8]) {
        let bpp = self.bytes_per_pixel();
        // The high byte of a 16-bit sample, and the whole sample (for `I;16`'s clamp).
        let high = |s: &[u8], big: bool| if big { s[0] } else { s[1] };
        let whole = |s: &[u8], big: bool| {
            if big {
                u16::from_be_bytes([s[0], s[1]])
            } else {
                u16::from_le_bytes([s[0], s[1]])
            }
        };
        for (p, out) in native.chunks_exact(bpp).zip(rgb.chunks_exact_mut(3)) {
            let value = match self {
                Layout::L8 | Layout::La8 => [p[0]; 3],
                Layout::L8Inverted => [255 - p[0]; 3],
                Layout::Rgb8 | Layout::Rgba8 => [p[0], p[1], p[2]],
                Layout::L16 { big_endian } => [whole(p, big_endian).min(255) as u8; 3],
                Layout::La16 { big_endian } => [high(p, big_endian); 3],
                Layout::Rgb16 { big_endian } | Layout::Rgba16 { big_endian } => [
                    high(&p[0..2], big_endian),
                    high(&p[2..4], big_endian),
                    high(&p[4..6], big_endian),
                ],
                Layout::Cmyk8 => cmyk_to_rgb([p[0], p[1], p[2], p[3]]),
                Layout::Cmyk16 { big_endian } => cmyk_to_rgb([
                    high(&p[0..2], big_endian),
                    high(&p[2..4], big_endian),
                    high(&p[4..6], big_endian),
                    high(&p[6..8], big_endian),
                ]),
                Layout::I16Signed { big_endian } => {
                    [(whole(p, big_endian) as i16).clamp(0, 255) as u8; 3]
                }
                Layout::I32 { big_endian } => {
                    let b = [p[0], p[1], p[2], p[3]];
                    let v = if big_endian {
                        i32::from_be_bytes(b)
                    } else {
                        i32::from_le_bytes(b)
                    };
                    [v.clamp(0, 255) as u8; 3]
                }
                Layout::F32 { big_endian } => {
                    let b = [p[0], p[1], p[2], p[3]];
                    let v = if big_endian {
                        f32::from_be_bytes(b)
                    } else {
                        f32::from_le_bytes(b)
                    };
                    // `as u8` saturates and maps NaN to 0: Pillow's f2l clamp, then truncation.
                    [v as u8; 3]
                }
                Layout::Rgba8Premultiplied => unpremultiply([p[0], p[1], p[2]], p[3]),
                Layout::Rgba16Premultiplied { big_endian } => unpremultiply(
                    [
                        high(&p[0..2], big_endian),
                        high(&p[2..4], big_endian),
                        high(&p[4..6], big_endian),
                    ],
                    high(&p[6..8], big_endian),
                ),
            };
            out.copy_from_slice(&value);
        }
    }
}

/// Pillow's `cmyk2rgb`: each channel is (255 - k) less its ink times (255 - k) / 255, rounded
/// the way Pillow's MULDIV255 rounds.
fn cmyk_to_rgb([c, m, y, k]: [u8; 4]) -> [u8; 3] {
    let nk = 255 - u32::from(k);
    [c, m, y].map(|ink| {
        let t = u32::from(ink) * nk + 128;
        (nk - ((t >> 8) + t) / 256) as u8
    })
}

/// Pillow's `unpackRGBa`: colour divided by alpha, black where alpha is 0.
fn unpremultiply(rgb: [u8; 3], alpha: u8) -> [u8; 3] {
    match alpha {
        0 => [0; 3],
        255 => rgb,
        a => rgb.map(|c| (u32::from(c) * 255 / u32::from(a)).min(255) as u8),
    }
}
