//! TIFF, chunk by chunk and row by row straight into 8-bit RGB, as Pillow 13 reads it.
//!
//! A few hundred kilobytes of deflate can describe a 13377x13377 16-bit RGBA strip (1.43 GB), and
//! a single strip may hold the whole image, so no strip or tile is ever held whole: each is
//! decompressed one row at a time into a row buffer and converted into the RGB image. That covers
//! the layouts photographs and scans use (8- and 16-bit gray, gray + alpha, RGB, RGBA; strips or
//! tiles; uncompressed, LZW, deflate or PackBits; with or without the horizontal predictor).
//! Anything else returns `None` and is left to the `image` crate.

use std::io::Cursor;

use tiff::decoder::Decoder;
use tiff::tags::Tag;

use super::DecodeError;
use super::layout::Layout;
use crate::image::raster::RgbImage;

pub(super) fn is_tiff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
}

/// The RGB image, or `None` when the file's layout is outside what this module streams.
pub(super) fn decode_tiff(bytes: &[u8]) -> Result<Option<RgbImage>, DecodeError> {
    let mut decoder = Decoder::new(Cursor::new(bytes)).map_err(map_tiff_error)?;
    let Some(plan) = Plan::read(&mut decoder)? else {
        return Ok(None);
    };
    let len = super::other::rgb_len(plan.width, plan.height)?;
    let mut pixels = super::other::try_zeroed(len)?;
    for (index, chunk) in plan.chunks.iter().enumerate() {
        plan.decode_chunk(bytes, index, *chunk, &mut pixels)?;
    }
    Ok(Some(RgbImage::new(
        plan.width as usize,
        plan.height as usize,
        pixels,
    )))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    None,
    Lzw,
    Deflate,
    PackBits,
}

impl Compression {
    /// The Compression tag's value, `None` for one this module does not stream; JPEG is
    /// refused outright.
    fn of(code: u64) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match code {
            6 | 7 => {
                return Err(DecodeError::Unsupported(
                    "JPEG-compressed TIFF (libtiff's JPEG decoding, which Pillow uses, is not \
                     reproduced bit for bit)"
                        .into(),
                ));
            }
            1 => Compression::None,
            5 => Compression::Lzw,
            8 | 32946 => Compression::Deflate,
            32773 => Compression::PackBits,
            _ => return Ok(None),
        }))
    }
}

/// The RGB colour of each index where samples are indices (a palette image, or gray below 8
/// bits); `None` where they are not.
fn index_colours(
    decoder: &mut Decoder<Cursor<&[u8]>>,
    photometric: u64,
    depth: u64,
) -> Result<Option<Vec<u8>>, DecodeError> {
    Ok(match (photometric, depth) {
        (3, _) => Some(palette(tag_values(decoder, Tag::ColorMap)?, depth)?),
        (0 | 1, 1 | 2 | 4) => Some(gray_levels(depth, photometric == 0)),
        _ => None,
    })
}

/// A tag's values, `None` where the file does not have it.
fn tag_values(
    decoder: &mut Decoder<Cursor<&[u8]>>,
    tag: Tag,
) -> Result<Option<Vec<u64>>, DecodeError> {
    decoder
        .find_tag_unsigned_vec::<u64>(tag)
        .map_err(map_tiff_error)
}

/// A tag that holds one value: the value, the default where the tag is absent, `None` where it
/// holds several.
fn one(values: Option<Vec<u64>>, default: u64) -> Option<u64> {
    match values.as_deref() {
        None => Some(default),
        Some([value]) => Some(*value),
        Some(_) => None,
    }
}

/// Where each chunk (strip or tile) lies in the file and how to turn its rows into RGB.
struct Plan {
    width: u32,
    height: u32,
    layout: Layout,
    /// Samples per pixel and bytes per sample, for the horizontal predictor.
    samples: usize,
    bytes_per_sample: usize,
    big_endian: bool,
    compression: Compression,
    horizontal_predictor: bool,
    /// FillOrder 2 on uncompressed samples: the bits of each byte come in reverse (Pillow's
    /// `;R` raw modes).
    reversed_bits: bool,
    /// A chunk's size in pixels: a strip is the image's width by RowsPerStrip (clipped to the
    /// image); a tile is always encoded whole, even where it runs past the image's edge.
    chunk_width: u32,
    chunk_height: u32,
    tiled: bool,
    /// (offset, byte count) of each chunk, left to right then top to bottom.
    chunks: Vec<(u64, u64)>,
    /// Where each sample is an index (a palette image, or gray below 8 bits): the RGB colour of
    /// each index (up to 256 entries). Samples below 8 bits are unpacked first.
    palette: Option<Vec<u8>>,
    /// Bits per sample, for the indexed layouts below 8 bits.
    bits: usize,
}

impl Plan {
    fn read(decoder: &mut Decoder<Cursor<&[u8]>>) -> Result<Option<Self>, DecodeError> {
        let (width, height) = decoder.dimensions().map_err(map_tiff_error)?;
        super::check_size(u64::from(width), u64::from(height))?;
        let samples = one(tag_values(decoder, Tag::SamplesPerPixel)?, 1);
        let bits = tag_values(decoder, Tag::BitsPerSample)?.unwrap_or_else(|| vec![1]);
        let photometric = one(
            tag_values(decoder, Tag::PhotometricInterpretation)?,
            u64::MAX,
        );
        let compression = one(tag_values(decoder, Tag::Compression)?, 1);
        let predictor = one(tag_values(decoder, Tag::Predictor)?, 1);
        let planar = one(tag_values(decoder, Tag::PlanarConfiguration)?, 1);
        let fill_order = one(tag_values(decoder, Tag::FillOrder)?, 1);
        let sample_format = tag_values(decoder, Tag::SampleFormat)?.unwrap_or_default();
        let extra = tag_values(decoder, Tag::ExtraSamples)?.unwrap_or_default();
        let (Some(samples), Some(photometric), Some(compression), Some(predictor)) =
            (samples, photometric, compression, predictor)
        else {
            return Ok(None);
        };
        let depth = match bits.as_slice() {
            [first, rest @ ..] if rest.iter().all(|b| b == first) => *first,
            _ => return Ok(None),
        };
        let Some(compression) = Compression::of(compression)? else {
            return Ok(None);
        };
        if planar != Some(1) {
            // The image crate reads some planar layouts, with other pixels than Pillow's.
            return Err(DecodeError::Unsupported(
                "planar TIFF (PlanarConfiguration 2, samples in separate planes) is not \
                 reproduced"
                    .into(),
            ));
        }
        let format = sample_format.first().copied().unwrap_or(1);
        let plain = planar == Some(1)
            && (fill_order == Some(1)
                || fill_order == Some(2) && compression == Compression::None && depth <= 8)
            && sample_format.iter().all(|&f| f == format)
            && (predictor == 1 || predictor == 2 && depth <= 16)
            && bits.len() as u64 == samples;
        if !plain {
            return Ok(None);
        }
        let big_endian = decoder.inner().get_ref().starts_with(b"MM");
        let sample = Sample {
            depth,
            format,
            big_endian,
        };
        let Some(layout) = pillow_layout(photometric, samples, sample, &extra)? else {
            return Ok(None);
        };
        let palette = index_colours(decoder, photometric, depth)?;
        if depth < 8 && predictor != 1 {
            return Ok(None);
        }
        let mut plan = Plan {
            width,
            height,
            layout,
            samples: samples as usize,
            bytes_per_sample: (depth as usize / 8).max(1),
            bits: depth as usize,
            big_endian,
            compression,
            horizontal_predictor: predictor == 2,
            reversed_bits: fill_order == Some(2),
            chunk_width: width,
            chunk_height: height,
            tiled: false,
            chunks: Vec::new(),
            palette,
        };
        plan.read_chunks(decoder, tag_values)?;
        Ok(Some(plan))
    }

    fn read_chunks(
        &mut self,
        decoder: &mut Decoder<Cursor<&[u8]>>,
        tag: impl Fn(&mut Decoder<Cursor<&[u8]>>, Tag) -> Result<Option<Vec<u64>>, DecodeError>,
    ) -> Result<(), DecodeError> {
        let corrupt = |what: &str| DecodeError::Corrupt(format!("TIFF {what}"));
        let (offsets, counts, across, down);
        if let Some(tile_offsets) = tag(decoder, Tag::TileOffsets)? {
            let tile_width = tag(decoder, Tag::TileWidth)?.and_then(|v| v.first().copied());
            let tile_length = tag(decoder, Tag::TileLength)?.and_then(|v| v.first().copied());
            let (Some(tile_width), Some(tile_length)) = (tile_width, tile_length) else {
                return Err(corrupt("tiles without a tile size"));
            };
            // A tile row is one row buffer: a tile far wider than the image is refused rather
            // than allocated.
            let widest = u64::from(self.width).next_multiple_of(16).max(1 << 16);
            if tile_width == 0 || tile_length == 0 || tile_width > widest {
                return Err(corrupt("tile size"));
            }
            self.tiled = true;
            self.chunk_width = tile_width as u32;
            self.chunk_height = tile_length.min(u64::from(u32::MAX)) as u32;
            across = u64::from(self.width).div_ceil(tile_width);
            down = u64::from(self.height).div_ceil(tile_length);
            offsets = tile_offsets;
            counts = tag(decoder, Tag::TileByteCounts)?;
        } else {
            let rows = tag(decoder, Tag::RowsPerStrip)?
                .and_then(|v| v.first().copied())
                .unwrap_or(u64::from(u32::MAX))
                .clamp(1, u64::from(self.height.max(1)));
            self.chunk_height = rows as u32;
            across = 1;
            down = u64::from(self.height).div_ceil(rows);
            offsets = tag(decoder, Tag::StripOffsets)?.ok_or_else(|| corrupt("without strips"))?;
            counts = tag(decoder, Tag::StripByteCounts)?;
        }
        let counts = counts.ok_or_else(|| corrupt("without byte counts"))?;
        let needed = across * down;
        if (offsets.len() as u64) < needed || (counts.len() as u64) < needed {
            return Err(corrupt("with fewer chunks than its size needs"));
        }
        self.chunks = offsets
            .into_iter()
            .zip(counts)
            .take(needed as usize)
            .collect();
        Ok(())
    }

    /// Decodes chunk `index` row by row into its place in `pixels`.
    fn decode_chunk(
        &self,
        file: &[u8],
        index: usize,
        (offset, count): (u64, u64),
        pixels: &mut [u8],
    ) -> Result<(), DecodeError> {
        let start = (offset as usize).min(file.len());
        // Pillow reads an uncompressed chunk from its offset on, whatever its byte count says
        // (only the end of the file is truncation); libtiff reads a compressed one by its count.
        let end = match self.compression {
            Compression::None => file.len(),
            _ => (offset.saturating_add(count) as usize).clamp(start, file.len()),
        };
        let mut source = RowSource::new(self.compression, &file[start..end]);
        let across = self.width.div_ceil(self.chunk_width) as usize;
        let (left, top) = (
            (index % across) * self.chunk_width as usize,
            (index / across) * self.chunk_height as usize,
        );
        let chunk_width = if self.tiled {
            self.chunk_width as usize
        } else {
            self.width as usize
        };
        // Only the part inside the image is kept; a tile's padding is decoded and dropped.
        let visible_width = chunk_width.min(self.width as usize - left);
        let visible_rows = (self.chunk_height as usize).min(self.height as usize - top);
        let pixel_bytes = self.samples * self.bytes_per_sample;
        let row_bytes = if self.bits < 8 {
            (chunk_width * self.bits).div_ceil(8)
        } else {
            chunk_width * pixel_bytes
        };
        let mut row = super::other::try_zeroed(row_bytes)?;
        let mut indexes = Vec::new();
        let stride = self.width as usize * 3;
        for y in top..top + visible_rows {
            source.fill(&mut row)?;
            if self.reversed_bits {
                row.iter_mut().for_each(|b| *b = b.reverse_bits());
            }
            if self.horizontal_predictor {
                self.undo_horizontal_predictor(&mut row);
            }
            let out = &mut pixels[y * stride + left * 3..y * stride + (left + visible_width) * 3];
            match &self.palette {
                Some(colours) => {
                    let row = if self.bits < 8 {
                        unpack_samples(&row, self.bits, visible_width, &mut indexes);
                        &indexes[..]
                    } else {
                        &row[..]
                    };
                    for (&index, rgb) in row[..visible_width].iter().zip(out.chunks_exact_mut(3)) {
                        let at = usize::from(index) * 3;
                        rgb.copy_from_slice(&colours[at..at + 3]);
                    }
                }
                None => self.layout.to_rgb(&row[..visible_width * pixel_bytes], out),
            }
        }
        Ok(())
    }

    /// Predictor 2: each sample was stored as the difference from the same sample of the pixel
    /// to its left, modulo the sample's size.
    fn undo_horizontal_predictor(&self, row: &mut [u8]) {
        let step = self.samples;
        if self.bytes_per_sample == 1 {
            for i in step..row.len() {
                row[i] = row[i].wrapping_add(row[i - step]);
            }
            return;
        }
        let read = |b: &[u8]| {
            if self.big_endian {
                u16::from_be_bytes([b[0], b[1]])
            } else {
                u16::from_le_bytes([b[0], b[1]])
            }
        };
        for i in step..row.len() / 2 {
            let sum = read(&row[i * 2..]).wrapping_add(read(&row[(i - step) * 2..]));
            let bytes = if self.big_endian {
                sum.to_be_bytes()
            } else {
                sum.to_le_bytes()
            };
            row[i * 2..i * 2 + 2].copy_from_slice(&bytes);
        }
    }
}

/// One sample's bits, SampleFormat (1 unsigned, 2 signed, 3 float) and byte order.
#[derive(Clone, Copy)]
struct Sample {
    depth: u64,
    format: u64,
    big_endian: bool,
}

/// A palette TIFF's ColorMap as Pillow reads it: 2^depth reds, then greens, then blues, each
/// 16-bit value cut to its high byte (`b // 256`), interleaved here as RGB.
fn palette(colour_map: Option<Vec<u64>>, depth: u64) -> Result<Vec<u8>, DecodeError> {
    let map = colour_map.unwrap_or_default();
    let entries = 1usize << depth.min(8);
    if map.len() != 3 * entries {
        return Err(DecodeError::Unsupported(format!(
            "a palette TIFF whose ColorMap has {} values instead of {}",
            map.len(),
            3 * entries
        )));
    }
    Ok((0..entries)
        .flat_map(|i| {
            [0, entries, 2 * entries].map(|channel| (map[channel + i] / 256).min(255) as u8)
        })
        .collect())
}

/// Gray below 8 bits as Pillow's raw modes widen it (`1`, `L;2`, `L;4`: the level times
/// 255 / (2^depth - 1)), inverted for WhiteIsZero (`1;I`, `L;2I`, `L;4I`), as RGB entries.
fn gray_levels(depth: u64, white_is_zero: bool) -> Vec<u8> {
    let top = (1u32 << depth) - 1;
    (0..=top)
        .flat_map(|level| {
            let value = (level * 255 / top) as u8;
            [if white_is_zero { 255 - value } else { value }; 3]
        })
        .collect()
}

/// Splits `row` (samples of `bits` bits, most significant first) into one byte per sample.
fn unpack_samples(row: &[u8], bits: usize, count: usize, out: &mut Vec<u8>) {
    out.clear();
    let mask = (1u8 << bits) - 1;
    for i in 0..count {
        let bit = i * bits;
        let byte = row.get(bit / 8).copied().unwrap_or(0);
        out.push((byte >> (8 - bits - bit % 8)) & mask);
    }
}

/// The layout Pillow 13's TiffImagePlugin gives each combination (its OPEN_INFO table), as far
/// as this module streams it: `Ok(None)` leaves the file to the `image` crate, `Err` is what
/// Pillow refuses.
fn pillow_layout(
    photometric: u64,
    samples: u64,
    sample: Sample,
    extra: &[u64],
) -> Result<Option<Layout>, DecodeError> {
    let Sample {
        depth,
        format,
        big_endian,
    } = sample;
    // Signed and float samples: Pillow's modes I and F, gray only.
    match (photometric, samples, depth, format) {
        (_, _, _, 1) => {}
        (1, 1, 16, 2) => return Ok(Some(Layout::I16Signed { big_endian })),
        (1, 1, 32, 2) => return Ok(Some(Layout::I32 { big_endian })),
        (0 | 1, 1, 32, 3) => return Ok(Some(Layout::F32 { big_endian })),
        _ => return Ok(None),
    }
    if matches!(
        (photometric, samples, depth),
        (3, 1, 1 | 2 | 4 | 8) | (0 | 1, 1, 1 | 2 | 4)
    ) {
        // The index is carried as gray and looked up in the palette.
        return Ok(Some(Layout::L8));
    }
    // ExtraSamples: 0 unspecified (Pillow: "LX"/"RGBX", ignored), 1 associated alpha (Pillow
    // un-premultiplies: "RGBa"), 2 unassociated alpha.
    let associated = extra.first() == Some(&1);
    Ok(Some(match (photometric, samples, depth) {
        (1, 1, 8) => Layout::L8,
        // WhiteIsZero: Pillow inverts 8-bit samples ("L;I") but reads 16-bit ones as they are,
        // and only little-endian ones (its OPEN_INFO has no big-endian entry).
        (0, 1, 8) => Layout::L8Inverted,
        (0, 1, 16) if big_endian => {
            return Err(DecodeError::Unidentified(
                "big-endian 16-bit WhiteIsZero TIFF".into(),
            ));
        }
        (0 | 1, 1, 16) => Layout::L16 { big_endian },
        // Pillow reads unsigned 32-bit gray as `I;32N` (native order, signed) and has no
        // big-endian entry for it.
        (1, 1, 32) if !big_endian => Layout::I32 { big_endian },
        (1, 2, 8) if associated => {
            return Err(DecodeError::Unsupported(
                "gray with premultiplied alpha (Pillow's mode La cannot be converted)".into(),
            ));
        }
        (1, 2, 8) => Layout::La8,
        (1, 2, 16) => {
            return Err(DecodeError::Unidentified(
                "16-bit gray with alpha TIFF".into(),
            ));
        }
        (2, 3, 8) => Layout::Rgb8,
        (2, 3, 16) => Layout::Rgb16 { big_endian },
        (2, 4, 8) if associated => Layout::Rgba8Premultiplied,
        (2, 4, 8) => Layout::Rgba8,
        (2, 4, 16) if associated => Layout::Rgba16Premultiplied { big_endian },
        (2, 4, 16) => Layout::Rgba16 { big_endian },
        (5, 4, 8) if extra.is_empty() => Layout::Cmyk8,
        (5, 4, 16) if extra.is_empty() => Layout::Cmyk16 { big_endian },
        _ => return Ok(None),
    }))
}

/// The Orientation tag of the first IFD (1 when absent or unreadable).
fn orientation(bytes: &[u8]) -> u16 {
    Decoder::new(Cursor::new(bytes))
        .ok()
        .and_then(|mut d| d.find_tag_unsigned::<u16>(Tag::Orientation).ok().flatten())
        .unwrap_or(1)
}

/// Pillow's TIFF `load_end` calls `ImageOps.exif_transpose`: the picture comes out turned as
/// its Orientation tag (2..=8) says, unlike any other format zoorepro reads.
pub(super) fn orient(bytes: &[u8], image: RgbImage) -> Result<RgbImage, DecodeError> {
    let turn = orientation(bytes);
    if !(2..=8).contains(&turn) {
        return Ok(image);
    }
    let (w, h) = (image.width, image.height);
    let (out_w, out_h) = if turn >= 5 { (h, w) } else { (w, h) };
    let mut pixels = super::other::try_zeroed(image.pixels.len())?;
    for y in 0..out_h {
        for x in 0..out_w {
            // FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270, TRANSVERSE,
            // ROTATE_90: where each output pixel comes from.
            let (sx, sy) = match turn {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x),
            };
            let from = (sy * w + sx) * 3;
            let to = (y * out_w + x) * 3;
            pixels[to..to + 3].copy_from_slice(&image.pixels[from..from + 3]);
        }
    }
    Ok(RgbImage::new(out_w, out_h, pixels))
}

/// A chunk's decompressed bytes, handed out one row at a time.
enum RowSource<'a> {
    Raw(&'a [u8]),
    Lzw {
        input: &'a [u8],
        decoder: Box<weezl::decode::Decoder>,
    },
    Deflate {
        input: &'a [u8],
        inflater: Box<flate2::Decompress>,
    },
    PackBits {
        input: &'a [u8],
        /// A run that a row boundary cut: (bytes left, `Some(byte)` for a repeat run).
        pending: (usize, Option<u8>),
    },
}

impl<'a> RowSource<'a> {
    fn new(compression: Compression, input: &'a [u8]) -> Self {
        match compression {
            Compression::None => RowSource::Raw(input),
            Compression::Lzw => RowSource::Lzw {
                input,
                decoder: Box::new(weezl::decode::Decoder::with_tiff_size_switch(
                    weezl::BitOrder::Msb,
                    8,
                )),
            },
            Compression::Deflate => RowSource::Deflate {
                input,
                inflater: Box::new(flate2::Decompress::new(true)),
            },
            Compression::PackBits => RowSource::PackBits {
                input,
                pending: (0, None),
            },
        }
    }

    /// Fills `row` entirely; a chunk whose data ends first is truncated (as libtiff, and so
    /// Pillow, reports it).
    fn fill(&mut self, row: &mut [u8]) -> Result<(), DecodeError> {
        let truncated = || DecodeError::Truncated("a TIFF strip or tile ends early".into());
        match self {
            RowSource::Raw(input) => {
                let (head, rest) = input.split_at_checked(row.len()).ok_or_else(truncated)?;
                row.copy_from_slice(head);
                *input = rest;
            }
            RowSource::Lzw { input, decoder } => {
                let mut filled = 0;
                while filled < row.len() {
                    let result = decoder.decode_bytes(input, &mut row[filled..]);
                    *input = &input[result.consumed_in..];
                    filled += result.consumed_out;
                    let stalled = result.consumed_in == 0 && result.consumed_out == 0;
                    match result.status {
                        Err(e) => return Err(DecodeError::Corrupt(format!("TIFF LZW: {e}"))),
                        _ if filled == row.len() => {}
                        Ok(weezl::LzwStatus::Done) => return Err(truncated()),
                        Ok(_) if stalled => return Err(truncated()),
                        Ok(_) => {}
                    }
                }
            }
            RowSource::Deflate { input, inflater } => {
                let mut filled = 0;
                while filled < row.len() {
                    let (before_in, before_out) = (inflater.total_in(), inflater.total_out());
                    let status = inflater
                        .decompress(input, &mut row[filled..], flate2::FlushDecompress::None)
                        .map_err(|e| DecodeError::Corrupt(format!("TIFF deflate: {e}")))?;
                    let consumed = (inflater.total_in() - before_in) as usize;
                    let produced = (inflater.total_out() - before_out) as usize;
                    *input = &input[consumed..];
                    filled += produced;
                    if filled < row.len()
                        && (status == flate2::Status::StreamEnd || produced == 0 && consumed == 0)
                    {
                        return Err(truncated());
                    }
                }
            }
            RowSource::PackBits { input, pending } => {
                unpack_bits(input, pending, row).ok_or_else(truncated)?;
            }
        }
        Ok(())
    }
}

/// PackBits (Apple's run-length code, TIFF compression 32773) into `row`, carrying a run that
/// crosses the row's end over to the next call. `None` when the input ends first.
fn unpack_bits(input: &mut &[u8], pending: &mut (usize, Option<u8>), row: &mut [u8]) -> Option<()> {
    let mut filled = 0;
    while filled < row.len() {
        if pending.0 == 0 {
            let (&header, rest) = input.split_first()?;
            *input = rest;
            *pending = match header as i8 {
                -128 => continue,
                n @ 0.. => (n as usize + 1, None),
                n => {
                    let (&byte, rest) = input.split_first()?;
                    *input = rest;
                    ((1 - n as isize) as usize, Some(byte))
                }
            };
        }
        let take = pending.0.min(row.len() - filled);
        match pending.1 {
            Some(byte) => row[filled..filled + take].fill(byte),
            None => {
                let (literal, rest) = input.split_at_checked(take)?;
                row[filled..filled + take].copy_from_slice(literal);
                *input = rest;
            }
        }
        pending.0 -= take;
        filled += take;
    }
    Some(())
}

fn map_tiff_error(error: tiff::TiffError) -> DecodeError {
    use tiff::TiffError as E;
    match error {
        E::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated(e.to_string())
        }
        E::UnsupportedError(e) => DecodeError::Unsupported(e.to_string()),
        E::LimitsExceeded => DecodeError::Unsupported("TIFF tags over the decoder's limits".into()),
        other => DecodeError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pillow writes (and reads back) TIFFs in each layout this module streams; zoorepro must
    /// decode each to Pillow's `convert('RGB')` bytes, or refuse what Pillow refuses.
    #[test]
    fn tiff_layouts_decode_to_pillows_pixels() {
        let script = include_str!("testdata/tiff_layouts.py");
        if let Some(mismatches) =
            crate::image::pipelines::pillow::decode::pillow_cases::mismatches_with_pillow(
                script, "tif",
            )
        {
            assert!(mismatches.is_empty(), "{mismatches:#?}");
        }
    }

    /// A little-endian 8-bit gray TIFF: its IFD (8 entries, StripByteCounts last, its value at
    /// byte 102), then one uncompressed strip of `data`.
    fn gray_tiff(width: u32, height: u32, data: &[u8]) -> Vec<u8> {
        tiff_with(width, height, &[(258, 3, vec![8]), (262, 3, vec![1])], data)
    }

    #[test]
    fn bombs_and_cut_strips_are_refused() {
        use crate::image::decoding::MAX_PIXELS;
        use crate::image::pipelines::pillow::decode::decode_rgb;
        let image = decode_rgb(&gray_tiff(3, 2, &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(
            image.pixels,
            [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6]
        );
        // Pillow reads an uncompressed strip to its end whatever StripByteCounts (entry 8,
        // value at byte 102) says; only the end of the file cuts it.
        let mut short_count = gray_tiff(3, 2, &[1, 2, 3, 4, 5, 6]);
        short_count[102..106].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(decode_rgb(&short_count).unwrap().pixels, image.pixels);
        assert!(matches!(
            decode_rgb(&gray_tiff(3, 2, &[1, 2, 3, 4, 5])),
            Err(DecodeError::Truncated(_))
        ));
        // Over Pillow's limit: refused from the header, before any strip is looked at.
        assert!(matches!(
            decode_rgb(&gray_tiff(MAX_PIXELS as u32 + 1, 1, &[])),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    /// Found by `fuzz/fuzz_targets/tiff_decode.rs`: a SampleFormat tag with no values made the
    /// `tiff` crate's IFD reader (0.10) index an empty list and panic; 0.11 rejects the tag.
    /// Pillow reads a tag without values as absent and decodes the file: no writer makes one,
    /// so zoorepro refuses it as corrupt rather than parse IFDs itself.
    #[test]
    fn an_empty_sample_format_is_refused_without_a_panic() {
        use crate::image::pipelines::pillow::decode::decode_rgb;
        // Entry 6 (RowsPerStrip, bytes 82..94; the strip is the whole image without it)
        // becomes SampleFormat (339), SHORT: with one value it is an ordinary file, with none
        // it is the fuzzer's.
        let with_sample_format = |count: u8| {
            let mut file = gray_tiff(3, 2, &[1, 2, 3, 4, 5, 6]);
            file[82..94].copy_from_slice(&[0x53, 0x01, 3, 0, count, 0, 0, 0, 1, 0, 0, 0]);
            file
        };
        let image = decode_rgb(&with_sample_format(1)).unwrap();
        assert_eq!(image.pixels[..6], [1, 1, 1, 2, 2, 2]);
        assert!(matches!(
            decode_rgb(&with_sample_format(0)),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn packbits_runs_may_cross_rows() {
        // A repeat run of 5 and a literal run of 3, read as rows of 2, 4 and 2.
        let mut input: &[u8] = &[0xFC, 9, 0x02, 1, 2, 3];
        let mut pending = (0, None);
        let mut rows = [vec![0; 2], vec![0; 4], vec![0; 2]];
        for row in &mut rows {
            unpack_bits(&mut input, &mut pending, row).unwrap();
        }
        assert_eq!(rows, [vec![9, 9], vec![9, 9, 9, 1], vec![2, 3]]);
        assert!(unpack_bits(&mut input, &mut pending, &mut [0]).is_none());
    }

    /// A little-endian TIFF with one uncompressed strip of `data`: `tags` are (tag, SHORT or
    /// LONG type, values); values that do not fit the entry go after the IFD.
    fn tiff_with(width: u32, height: u32, tags: &[(u16, u16, Vec<u32>)], data: &[u8]) -> Vec<u8> {
        let mut entries: Vec<(u16, u16, Vec<u32>)> = vec![
            (256, 4, vec![width]),
            (257, 4, vec![height]),
            (259, 3, vec![1]),
            (273, 4, vec![0]),
            (278, 4, vec![height]),
            (279, 4, vec![data.len() as u32]),
        ];
        entries.extend(tags.iter().cloned());
        entries.sort_by_key(|e| e.0);
        let ifd_end = 8 + 2 + entries.len() * 12 + 4;
        let size = |kind: u16| if kind == 3 { 2 } else { 4 };
        let extra: usize = entries
            .iter()
            .map(|(_, kind, v)| v.len() * size(*kind))
            .filter(|&n| n > 4)
            .sum();
        let strip = (ifd_end + extra) as u32;
        let mut file = b"II*\0".to_vec();
        file.extend_from_slice(&8u32.to_le_bytes());
        file.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        let mut outside = Vec::new();
        for (tag, kind, values) in &entries {
            let values = if *tag == 273 { &vec![strip] } else { values };
            let mut bytes = Vec::new();
            for &v in values {
                if *kind == 3 {
                    bytes.extend_from_slice(&(v as u16).to_le_bytes());
                } else {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
            file.extend_from_slice(&tag.to_le_bytes());
            file.extend_from_slice(&kind.to_le_bytes());
            file.extend_from_slice(&(values.len() as u32).to_le_bytes());
            if bytes.len() <= 4 {
                bytes.resize(4, 0);
                file.extend_from_slice(&bytes);
            } else {
                let at = (ifd_end + outside.len()) as u32;
                file.extend_from_slice(&at.to_le_bytes());
                outside.extend_from_slice(&bytes);
            }
        }
        file.extend_from_slice(&0u32.to_le_bytes());
        file.extend_from_slice(&outside);
        file.extend_from_slice(data);
        file
    }

    /// Layouts zoorepro refused before issue 35 while Pillow decodes them; the expected bytes are
    /// Pillow 13.0.0's `convert('RGB')` of the same files.
    #[test]
    fn float_integer_and_palette_tiffs_convert_like_pillow() {
        use crate::image::pipelines::pillow::decode::decode_rgb;
        let gray = |values: &[u8]| values.iter().flat_map(|&v| [v; 3]).collect::<Vec<u8>>();
        // float32: truncated towards zero, clamped, NaN as 0.
        let floats = [
            -5.5f32,
            0.6,
            1.5,
            127.5,
            254.6,
            300.0,
            f32::NAN,
            f32::INFINITY,
        ];
        let data: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        let float = tiff_with(
            8,
            1,
            &[(258, 3, vec![32]), (262, 3, vec![1]), (339, 3, vec![3])],
            &data,
        );
        assert_eq!(
            decode_rgb(&float).unwrap().pixels,
            gray(&[0, 0, 1, 127, 254, 255, 0, 255])
        );
        // int32, signed: clamped.
        let ints = [-70000i32, -1, 0, 1, 255, 256, 70000, 200];
        let data: Vec<u8> = ints.iter().flat_map(|i| i.to_le_bytes()).collect();
        let int = tiff_with(
            8,
            1,
            &[(258, 3, vec![32]), (262, 3, vec![1]), (339, 3, vec![2])],
            &data,
        );
        assert_eq!(
            decode_rgb(&int).unwrap().pixels,
            gray(&[0, 0, 0, 1, 255, 255, 255, 200])
        );
        // 8-bit palette: 256 reds, greens, blues of 16 bits each; Pillow keeps the high byte.
        let map: Vec<u32> = (0..768u32)
            .map(|i| match (i / 256, i % 256) {
                (0, n) => n * 256,
                (1, n) => (255 - n) * 256,
                (_, n) => n / 2 * 256 + 255,
            })
            .collect();
        let palette = tiff_with(
            3,
            1,
            &[(258, 3, vec![8]), (262, 3, vec![3]), (320, 3, map)],
            &[0, 7, 255],
        );
        assert_eq!(
            decode_rgb(&palette).unwrap().pixels,
            [0, 255, 0, 7, 248, 3, 255, 0, 127]
        );
    }

    /// Pillow's TIFF `load_end` applies the Orientation tag; gray below 8 bits is widened as
    /// its raw modes `L;4`, `1;I` widen it. Both were refused or left unturned before issue 35.
    #[test]
    fn orientation_and_low_bit_gray_follow_pillow() {
        use crate::image::pipelines::pillow::decode::decode_rgb;
        let gray = |values: &[u8]| values.iter().flat_map(|&v| [v; 3]).collect::<Vec<u8>>();
        // 3x2 gray, rows [1 2 3] [4 5 6]; Orientation 6 (ROTATE_270): 2x3, rows [4 1] [5 2] [6 3].
        let data = [1, 2, 3, 4, 5, 6];
        let turned = tiff_with(
            3,
            2,
            &[(258, 3, vec![8]), (262, 3, vec![1]), (274, 3, vec![6])],
            &data,
        );
        let image = decode_rgb(&turned).unwrap();
        assert_eq!((image.width, image.height), (2, 3));
        assert_eq!(image.pixels, gray(&[4, 1, 5, 2, 6, 3]));
        let mirrored = tiff_with(
            3,
            2,
            &[(258, 3, vec![8]), (262, 3, vec![1]), (274, 3, vec![2])],
            &data,
        );
        assert_eq!(
            decode_rgb(&mirrored).unwrap().pixels,
            gray(&[3, 2, 1, 6, 5, 4])
        );
        // 4-bit gray, 3 pixels a row (the row is padded to a whole byte): levels times 17.
        let four = tiff_with(
            3,
            2,
            &[(258, 3, vec![4]), (262, 3, vec![1])],
            &[0x0F, 0x80, 0x12, 0x30],
        );
        assert_eq!(
            decode_rgb(&four).unwrap().pixels,
            gray(&[0, 255, 136, 17, 34, 51])
        );
        // 1-bit WhiteIsZero: a set bit is black.
        let bilevel = tiff_with(
            4,
            1,
            &[(258, 3, vec![1]), (262, 3, vec![0])],
            &[0b1010_0000],
        );
        assert_eq!(
            decode_rgb(&bilevel).unwrap().pixels,
            gray(&[0, 255, 0, 255])
        );
    }
}
