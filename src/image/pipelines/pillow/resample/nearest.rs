//! NEAREST, which Pillow runs through its affine path rather than the convolution.

use std::ops::Range;

use super::taps::Stretch;
use crate::image::raster::{Placement, RgbImage, Window};

/// Source index per output position, as Pillow's `ImagingScaleAffine` computes it: a running
/// double sum starting at the box's edge plus half a step (`a[2] + a[0] * 0.5`, the box edges
/// being C floats), truncated; positions outside the source are `None` (Pillow fills them with
/// zeros; with a plain resize that does not happen in practice).
fn nearest_indices(stretch: Stretch, outputs: Range<usize>) -> Vec<Option<usize>> {
    let step = f64::from(stretch.end as f32 - stretch.start as f32) / stretch.out_size as f64;
    // Adding Pillow's 0.0 for a resize without a box changes no bit.
    let mut position = f64::from(stretch.start as f32) + step * 0.5;
    let mut indices = Vec::with_capacity(outputs.len());
    for out in 0..outputs.end {
        if out >= outputs.start {
            let index = if position < 0.0 { -1 } else { position as i64 };
            indices.push(
                (0..stretch.in_size as i64)
                    .contains(&index)
                    .then_some(index as usize),
            );
        }
        position += step;
    }
    indices
}

/// The source positions the outputs in `outputs` read.
pub(super) fn span(stretch: Stretch, outputs: Range<usize>) -> Range<usize> {
    let indices = nearest_indices(stretch, outputs);
    let mut read = indices.iter().flatten();
    let Some(&first) = read.next() else {
        return 0..0;
    };
    // The running sum only grows.
    let last = indices
        .iter()
        .rev()
        .flatten()
        .next()
        .copied()
        .unwrap_or(first);
    first..last + 1
}

pub(super) fn nearest(
    src: &RgbImage,
    placement: Placement,
    (columns, rows): (Stretch, Stretch),
    window: Window,
) -> RgbImage {
    let (x0, y0) = (placement.window.x, placement.window.y);
    let columns = nearest_indices(columns, window.columns());
    let rows = nearest_indices(rows, window.rows());
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
