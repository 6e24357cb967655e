//! The percent axis the report's dot plots share.

/// Horizontal geometry of the dot plot: maps percent to x.
pub(super) struct Axis {
    lo: f64,
    hi: f64,
    left: f64,
    width: f64,
}

impl Axis {
    /// An axis over every value to draw, widened to at least 2 points and rounded to its ticks.
    pub(super) fn over(values: impl Iterator<Item = f64>, left: f64, width: f64) -> Axis {
        let (mut lo, mut hi) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        if lo > hi {
            (lo, hi) = (0.0, 100.0);
        }
        let pad = ((hi - lo) * 0.08).max(1.0);
        let step = Axis::tick_step(hi - lo + 2.0 * pad);
        Axis {
            lo: ((lo - pad) / step).floor().max(0.0) * step,
            hi: ((hi + pad) / step).ceil().min(100.0 / step) * step,
            left,
            width,
        }
    }

    fn tick_step(span: f64) -> f64 {
        [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
            .into_iter()
            .find(|step| span / step <= 8.0)
            .unwrap_or(25.0)
    }

    pub(super) fn x(&self, percent: f64) -> f64 {
        self.left + (percent - self.lo) / (self.hi - self.lo).max(f64::EPSILON) * self.width
    }

    pub(super) fn ticks(&self) -> Vec<f64> {
        let step = Axis::tick_step(self.hi - self.lo);
        let count = ((self.hi - self.lo) / step).round() as usize;
        (0..=count).map(|i| self.lo + i as f64 * step).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_covers_every_value_on_round_ticks() {
        let axis = Axis::over([57.3, 48.2, 67.2, 58.0].into_iter(), 0.0, 100.0);
        assert!(
            axis.lo <= 48.2 && axis.hi >= 67.2,
            "{} {}",
            axis.lo,
            axis.hi
        );
        let ticks = axis.ticks();
        assert!(ticks.len() >= 3 && ticks.len() <= 9, "{ticks:?}");
        assert!(axis.x(axis.lo) == 0.0 && (axis.x(axis.hi) - 100.0).abs() < 1e-9);
    }
}
