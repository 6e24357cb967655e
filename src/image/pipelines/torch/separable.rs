//! What torch's two separable resizes share (v2's int16 kernel in [`super::resample`], v1's
//! float32 one in [`super::resample_float`]): one set of taps per axis, an axis left alone when
//! its size does not change (ATen skips that pass), and the window of outputs wanted, from which
//! the source window the caller must decode follows.

use std::ops::Range;

/// One axis's taps for every output position, in either kernel's arithmetic.
pub(super) trait AxisWeights: Sized {
    /// The taps of a resize from `in_size` to `out_size` (both above 0).
    fn for_axis(in_size: usize, out_size: usize) -> Self;
    /// The source positions the outputs in `outputs` read.
    fn span(&self, outputs: Range<usize>) -> Range<usize>;
}

/// A resize of one picture to `resized` = (width, height), of which only the output `columns`
/// x `rows` are wanted; each kernel implements its passes on `Separable<ItsAxis>`.
pub(super) struct Separable<A> {
    /// None for an axis whose size does not change.
    pub(super) xs: Option<A>,
    pub(super) ys: Option<A>,
    pub(super) columns: Range<usize>,
    pub(super) rows: Range<usize>,
}

impl<A: AxisWeights> Separable<A> {
    pub(super) fn new(
        (width, height): (usize, usize),
        resized: (usize, usize),
        columns: Range<usize>,
        rows: Range<usize>,
    ) -> Self {
        let axis = |from: usize, to: usize| (from != to).then(|| A::for_axis(from, to));
        Self {
            xs: axis(width, resized.0),
            ys: axis(height, resized.1),
            columns,
            rows,
        }
    }

    /// The source columns and rows the wanted outputs read.
    pub(super) fn source(&self) -> (Range<usize>, Range<usize>) {
        let span = |taps: &Option<A>, wanted: &Range<usize>| match taps {
            Some(taps) => taps.span(wanted.clone()),
            None => wanted.clone(),
        };
        (span(&self.xs, &self.columns), span(&self.ys, &self.rows))
    }
}
