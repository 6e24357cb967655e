//! NEAREST, which Pillow runs through its affine path rather than the convolution.

use std::ops::Range;

use crate::image::raster::{Placement, RgbImage, Window};

/// Source index per output position, as Pillow's `ImagingScaleAffine` computes it: a running
/// double sum starting at half a step, truncated; positions outside the source are `None`
/// (Pillow fills them with zeros; with a plain resize that does not happen in practice).
fn nearest_indices(in_size: usize, out_size: usize, outputs: Range<usize>) -> Vec<Option<usize>> {
    let step = f64::from(in_size as f32) / out_size as f64;
    let mut position = 0.0 + step * 0.5;
    let mut indices = Vec::with_capacity(outputs.len());
    for out in 0..outputs.end {
        if out >= outputs.start {
            let index = if position < 0.0 { -1 } else { position as i64 };
            indices.push(
                (0..in_size as i64)
                    .contains(&index)
                    .then_some(index as usize),
            );
        }
        position += step;
    }
    indices
}

pub(super) fn nearest(
    src: &RgbImage,
    placement: Placement,
    width: usize,
    height: usize,
    window: Window,
) -> RgbImage {
    let (x0, y0) = (placement.window.x, placement.window.y);
    let columns = nearest_indices(placement.full_width, width, window.columns());
    let rows = nearest_indices(placement.full_height, height, window.rows());
    let mut out = RgbImage::zeroed(window.width, window.height);
    for (out_row, source_row) in out.pixels.chunks_exact_mut(window.width * 3).zip(rows) {
        let Some(y) = source_row else { continue };
        let in_row = src.row(y - y0);
        for (px, source_column) in out_row.chunks_exact_mut(3).zip(&columns) {
            if let Some(x) = *source_column {
                let x = x - x0;
                px.copy_from_slice(&in_row[x * 3..x * 3 + 3]);
            }
        }
    }
    out
}
