//! Output rows compared across runs, gathered per axis value, and the verdict they add up to.

use serde::Serialize;

use super::dedup;
use super::measure::Outputs;
use super::plan::{Config, Study};
use crate::eval::rank;

/// A row difference above this fraction of the row's scale is beyond rounding (module doc).
pub const ROUNDING_TOLERANCE: f64 = 1e-3;
/// Images listed per report row, the largest relative differences first.
const WORST_IMAGES: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeterminismVerdict {
    Deterministic,
    NumericallyUnstable,
    BatchDependent,
    Nondeterministic,
}

impl DeterminismVerdict {
    pub fn name(self) -> &'static str {
        match self {
            DeterminismVerdict::Deterministic => "deterministic",
            DeterminismVerdict::NumericallyUnstable => "numerically-unstable",
            DeterminismVerdict::BatchDependent => "batch-dependent",
            DeterminismVerdict::Nondeterministic => "nondeterministic",
        }
    }

    /// The verdict of a set of axis rows, in the documented order (module doc).
    pub fn of(axes: &[AxisRow]) -> DeterminismVerdict {
        let differs = |row: &&AxisRow| row.identical != row.compared;
        if axes
            .iter()
            .filter(|r| r.axis == "repetition")
            .any(|r| differs(&r))
        {
            DeterminismVerdict::Nondeterministic
        } else if axes
            .iter()
            .any(|r| (r.axis == "batch" || r.axis == "composition") && r.beyond_rounding)
        {
            DeterminismVerdict::BatchDependent
        } else if axes.iter().any(|r| differs(&r)) {
            DeterminismVerdict::NumericallyUnstable
        } else {
            DeterminismVerdict::Deterministic
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct WorstImage {
    pub file: String,
    pub configuration: String,
    pub max_abs_diff: f64,
    pub max_rel_diff: f64,
    pub top1_reference: u16,
    pub top1_other: u16,
}

/// An image whose top-1 class differs between the two runs of an axis row.
#[derive(Clone, Debug, Serialize)]
pub struct Flip {
    pub file: String,
    pub configuration: String,
    pub top1_reference: u16,
    pub top1_other: u16,
}

#[derive(Clone, Debug, Serialize)]
pub struct AxisRow {
    pub axis: &'static str,
    pub value: String,
    pub reference: String,
    /// Image rows compared (images x configurations x repeats, as the axis has them).
    pub compared: usize,
    pub identical: usize,
    pub max_abs_diff: f64,
    pub max_rel_diff: f64,
    pub top1_changes: usize,
    pub top5_changes: usize,
    pub beyond_rounding: bool,
    pub worst: Vec<WorstImage>,
    /// Every top-1 change of the row (`top1_changes` of them), in the order compared.
    pub flips: Vec<Flip>,
}

impl AxisRow {
    fn new(axis: &'static str, value: String, reference: String) -> AxisRow {
        AxisRow {
            axis,
            value,
            reference,
            compared: 0,
            identical: 0,
            max_abs_diff: 0.0,
            max_rel_diff: 0.0,
            top1_changes: 0,
            top5_changes: 0,
            beyond_rounding: false,
            worst: Vec::new(),
            flips: Vec::new(),
        }
    }

    /// Compares every image row of `other` with `reference` (both `images x classes`).
    fn add(
        &mut self,
        files: &[String],
        configuration: &str,
        reference: &[f32],
        other: &[f32],
        classes: usize,
    ) {
        for (i, (a, b)) in reference
            .chunks_exact(classes)
            .zip(other.chunks_exact(classes))
            .enumerate()
        {
            let diff = RowDiff::of(a, b);
            self.compared += 1;
            self.identical += usize::from(diff.identical);
            self.max_abs_diff = self.max_abs_diff.max(diff.abs);
            self.max_rel_diff = self.max_rel_diff.max(diff.rel);
            self.top1_changes += usize::from(diff.top1.0 != diff.top1.1);
            self.top5_changes += usize::from(diff.top5_changed);
            self.beyond_rounding |= diff.rel > ROUNDING_TOLERANCE;
            if diff.top1.0 != diff.top1.1 {
                self.flips.push(Flip {
                    file: files[i].clone(),
                    configuration: configuration.to_string(),
                    top1_reference: diff.top1.0,
                    top1_other: diff.top1.1,
                });
            }
            if !diff.identical {
                self.worst.push(WorstImage {
                    file: files[i].clone(),
                    configuration: configuration.to_string(),
                    max_abs_diff: diff.abs,
                    max_rel_diff: diff.rel,
                    top1_reference: diff.top1.0,
                    top1_other: diff.top1.1,
                });
                self.worst
                    .sort_by(|x, y| y.max_rel_diff.total_cmp(&x.max_rel_diff));
                self.worst.truncate(WORST_IMAGES);
            }
        }
    }
}

/// How one image's output row differs between two runs.
#[derive(Clone, Copy, Debug, PartialEq)]
struct RowDiff {
    identical: bool,
    abs: f64,
    /// `abs` over the row's largest magnitude (of either run): relative to the output's scale,
    /// since an element-wise ratio explodes on logits that happen to be near zero.
    rel: f64,
    top1: (u16, u16),
    /// The top-5 *sets* differ (an order change within the five is not a changed result).
    top5_changed: bool,
}

impl RowDiff {
    fn of(a: &[f32], b: &[f32]) -> RowDiff {
        let identical =
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        let mut abs = 0.0f64;
        let mut scale = 0.0f64;
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (f64::from(x), f64::from(y));
            // A NaN on one side only is as different as it gets.
            let d = if x.is_nan() || y.is_nan() {
                if x.is_nan() && y.is_nan() {
                    0.0
                } else {
                    f64::INFINITY
                }
            } else {
                (x - y).abs()
            };
            abs = abs.max(d);
            scale = scale.max(x.abs()).max(y.abs());
        }
        let abs = if identical { 0.0 } else { abs };
        let rel = if abs == 0.0 {
            0.0
        } else {
            abs / scale.max(f64::from(f32::MIN_POSITIVE))
        };
        let (ra, rb) = (rank::top_k(a), rank::top_k(b));
        let mut set_a = ra.classes;
        let mut set_b = rb.classes;
        set_a.sort_unstable();
        set_b.sort_unstable();
        RowDiff {
            identical,
            abs,
            rel,
            top1: (ra.classes[0], rb.classes[0]),
            top5_changed: set_a != set_b,
        }
    }
}

/// Every axis row of a study, in report order: batch, composition, repetition, then the
/// session settings.
pub(super) fn compare_all(study: &Study, outputs: &Outputs, files: &[String]) -> Vec<AxisRow> {
    let mut axes = batch_axes(study, outputs, files);
    axes.extend(composition_axes(study, outputs, files));
    axes.extend(repetition_axes(study, outputs, files));
    axes.extend(setting_axes(study, outputs, files));
    axes
}

/// Each packed plan against batch 1, per configuration, first repeats.
fn batch_axes(study: &Study, outputs: &Outputs, files: &[String]) -> Vec<AxisRow> {
    let alone = study.plans[0].label();
    let mut axes = Vec::new();
    for (p, plan) in study.plans.iter().enumerate().skip(1) {
        let mut row = AxisRow::new("batch", plan.label(), alone.clone());
        for (c, config) in study.configs.iter().enumerate() {
            row.add(
                files,
                &config.label(),
                outputs.rows(c, 0, 0),
                outputs.rows(c, p, 0),
                outputs.classes,
            );
        }
        axes.push(row);
    }
    axes
}

/// Neighbours B (and on) against neighbours A of the same batch size.
fn composition_axes(study: &Study, outputs: &Outputs, files: &[String]) -> Vec<AxisRow> {
    let plans = &study.plans;
    let mut axes = Vec::new();
    for (p, plan) in plans.iter().enumerate().skip(1) {
        if plan.composition == Some(0) {
            continue;
        }
        let Some(first) = plans
            .iter()
            .position(|q| q.batch == plan.batch && q.composition == Some(0))
        else {
            continue;
        };
        let mut row = AxisRow::new("composition", plan.label(), plans[first].label());
        for (c, config) in study.configs.iter().enumerate() {
            row.add(
                files,
                &config.label(),
                outputs.rows(c, first, 0),
                outputs.rows(c, p, 0),
                outputs.classes,
            );
        }
        axes.push(row);
    }
    axes
}

/// Every run's repeat r against its first.
fn repetition_axes(study: &Study, outputs: &Outputs, files: &[String]) -> Vec<AxisRow> {
    let mut axes = Vec::new();
    for r in 1..study.repeats {
        let mut row = AxisRow::new("repetition", format!("repeat {}", r + 1), "repeat 1".into());
        for (c, config) in study.configs.iter().enumerate() {
            for (p, plan) in study.plans.iter().enumerate() {
                let label = format!("{}, batch {}", config.label(), plan.label());
                row.add(
                    files,
                    &label,
                    outputs.rows(c, p, 0),
                    outputs.rows(c, p, r),
                    outputs.classes,
                );
            }
        }
        axes.push(row);
    }
    axes
}

/// Reads one session setting of a configuration, as text.
type SettingOf = fn(&Config) -> String;

/// Batch-1 outputs against the first value listed, everything else equal.
fn setting_axes(study: &Study, outputs: &Outputs, files: &[String]) -> Vec<AxisRow> {
    let configs = &study.configs;
    let settings: [(&'static str, SettingOf); 3] = [
        ("threads", |c| c.threads.to_string()),
        ("opt-level", |c| c.opt_level.name().to_string()),
        ("provider", |c| c.provider.name().to_string()),
    ];
    let mut axes = Vec::new();
    for (axis, value_of) in settings {
        let Some(first_value) = configs.first().map(value_of) else {
            continue;
        };
        for value in dedup(configs.iter().map(value_of)).iter().skip(1) {
            let mut row = AxisRow::new(axis, value.clone(), first_value.clone());
            for (c, config) in configs.iter().enumerate() {
                if value_of(config) != *value {
                    continue;
                }
                // The configuration that differs from this one on this axis only.
                let Some(reference) = configs.iter().position(|other| {
                    value_of(other) == first_value && same_except(axis, config, other)
                }) else {
                    continue;
                };
                row.add(
                    files,
                    &config.label(),
                    outputs.rows(reference, 0, 0),
                    outputs.rows(c, 0, 0),
                    outputs.classes,
                );
            }
            axes.push(row);
        }
    }
    axes
}

fn same_except(axis: &str, a: &Config, b: &Config) -> bool {
    (axis == "threads" || a.threads == b.threads)
        && (axis == "opt-level" || a.opt_level == b.opt_level)
        && (axis == "provider" || a.provider == b.provider)
}

/// A difference as the report prints it: `0` when there is none (`0.000e0` reads as a rounded
/// value, and a zero is exact), else three significant digits in scientific notation, since the
/// differences of interest span from 1e-8 to 1.
pub fn format_difference(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else {
        format!("{x:.3e}")
    }
}

/// The one-line summary printed on stderr and stored in the report.
pub fn summary_line(
    model: &str,
    verdict: DeterminismVerdict,
    axes: &[AxisRow],
    images: usize,
    configs: usize,
) -> String {
    let differing: Vec<String> = dedup(
        axes.iter()
            .filter(|r| r.identical != r.compared)
            .map(|r| r.axis.to_string()),
    );
    let detail = if differing.is_empty() {
        "bitwise identical on every axis".to_string()
    } else {
        let worst = axes.iter().map(|r| r.max_rel_diff).fold(0.0f64, f64::max);
        let top1: usize = axes.iter().map(|r| r.top1_changes).sum();
        format!(
            "outputs differ on {} (max relative difference {}, {top1} top-1 changes)",
            differing.join(", "),
            format_difference(worst)
        )
    };
    format!(
        "{model}: {} — {images} images, {configs} configuration(s); {detail}",
        verdict.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_differences_are_relative_to_the_row_scale() {
        let a = [10.0f32, 1.0, 0.0, 0.0, 0.0, 0.0];
        let same = RowDiff::of(&a, &a);
        assert!(same.identical && same.abs == 0.0 && same.rel == 0.0);
        let b = [10.0f32, 1.0, 1e-6, 0.0, 0.0, 0.0];
        let d = RowDiff::of(&a, &b);
        assert!(!d.identical);
        assert!((d.rel - 1e-7).abs() < 1e-9, "{}", d.rel);
        assert!(!d.top5_changed && d.top1 == (0, 0));
        // A near-tie broken by rounding changes the top-5 set without changing the scale.
        let e = [10.0f32, 1.0, 0.0, 0.0, 0.0, 1e-6];
        assert!(RowDiff::of(&a, &e).top5_changed);
        let c = [1.0f32, 10.0, 0.0, 0.0, 0.0, 0.0];
        let d = RowDiff::of(&a, &c);
        assert_eq!(d.top1, (0, 1));
        assert!(!d.top5_changed);
        // -0.0 and 0.0 are equal numbers but not the same bits.
        let z = [10.0f32, 1.0, -0.0, 0.0, 0.0, 0.0];
        let d = RowDiff::of(&a, &z);
        assert!(!d.identical && d.abs == 0.0);
    }

    #[test]
    fn every_top1_change_is_listed_with_its_file_and_zero_prints_as_0() {
        let files = ["a.JPEG".to_string(), "b.JPEG".to_string()];
        let reference = [
            10.0f32, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 10.0, 0.0, 0.0, 0.0, 0.0,
        ];
        let other = [
            10.0f32, 1.0, 0.0, 0.0, 0.0, 0.0, 10.0, 1.0, 0.0, 0.0, 0.0, 0.0,
        ];
        let mut row = AxisRow::new("batch", "8 A".into(), "1".into());
        row.add(&files, "cpu", &reference, &other, 6);
        assert_eq!(row.top1_changes, 1);
        assert_eq!(row.flips.len(), 1);
        let flip = &row.flips[0];
        assert_eq!(flip.file, "b.JPEG");
        assert_eq!((flip.top1_reference, flip.top1_other), (1, 0));
        assert_eq!(format_difference(0.0), "0");
        assert_eq!(format_difference(1.24e-5), "1.240e-5");
    }

    fn row(axis: &'static str, identical: bool, beyond: bool) -> AxisRow {
        let mut r = AxisRow::new(axis, "v".into(), "r".into());
        r.compared = 4;
        r.identical = if identical { 4 } else { 3 };
        r.beyond_rounding = beyond;
        r
    }

    #[test]
    fn verdicts_follow_the_documented_order() {
        use DeterminismVerdict::*;
        let verdict_of = DeterminismVerdict::of;
        assert_eq!(verdict_of(&[row("batch", true, false)]), Deterministic);
        assert_eq!(
            verdict_of(&[row("threads", false, false)]),
            NumericallyUnstable
        );
        assert_eq!(
            verdict_of(&[row("batch", false, false)]),
            NumericallyUnstable
        );
        assert_eq!(verdict_of(&[row("batch", false, true)]), BatchDependent);
        assert_eq!(
            verdict_of(&[row("composition", false, true)]),
            BatchDependent
        );
        // A setting axis beyond rounding is not batch dependence.
        assert_eq!(
            verdict_of(&[row("opt-level", false, true)]),
            NumericallyUnstable
        );
        assert_eq!(
            verdict_of(&[row("batch", false, true), row("repetition", false, false)]),
            Nondeterministic
        );
    }
}
