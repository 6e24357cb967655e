//! Exit statuses, in one place, as scripts and later commands rely on them.

/// The command did what was asked; for `verify`, top-1 is within tolerance of the expected
/// reference, or no reference applies to the evaluated image set.
pub const SUCCESS: i32 = 0;
/// The command ran, and its answer is "no": `verify` drifted beyond tolerance, `determinism`
/// found a non-deterministic axis.
pub const DRIFT: i32 = 1;
/// Bad input, bad usage or a runtime failure: nothing was concluded.
pub const ERROR: i32 = 2;
/// `verify` / `merge --require-reference`: the run was made, but no reference applies to its
/// image set, so nothing was checked.
pub const NO_REFERENCE: i32 = 3;
