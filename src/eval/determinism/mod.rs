//! Determinism analysis: the same images alone, inside batches with different neighbours,
//! repeatedly, and under every requested thread count, optimization level and provider; the raw
//! outputs compared image by image and classified into a verdict.
//!
//! What is compared with what (each row of the report is one axis value against its reference):
//! - batch: each image's row from a batch of B (two different neighbour sets, "A" and "B") against
//!   the same image run alone, in the same session;
//! - composition: neighbours B against neighbours A, same batch size;
//! - repetition: repeat r of every run against the first, in the same session;
//! - threads / opt-level / provider: the batch-1 outputs against those of the first value listed,
//!   all other settings equal.
//!
//! Verdict, in this order: any repetition that is not bitwise identical -> `nondeterministic`;
//! a batch or composition difference beyond rounding -> `batch-dependent`; any difference at all
//! -> `numerically-unstable`; else `deterministic`. "Beyond rounding" is a difference in a row
//! larger than `ROUNDING_TOLERANCE` of that row's largest magnitude: summing in another order
//! (another batch blocking, thread split or fused kernel) moves float32 results by a few units
//! in the last place per operation, which through a deep network stays orders of magnitude
//! below 1e-3 of the output's scale; normalising with the statistics of the batch moves them by
//! the order of the output itself.

mod compare;
mod measure;
mod plan;
mod sample;

pub use compare::{
    AxisRow, DeterminismVerdict, Flip, ROUNDING_TOLERANCE, WorstImage, format_difference,
    summary_line,
};
pub use measure::{DeterminismError, Input, OutputColumns, Outputs};
pub use plan::{Config, Plan, Study, configurations};
pub use sample::{Chosen, choose_samples, choose_samples_where};

/// Keeps the first occurrence of each value, in the order given.
pub fn dedup<T: PartialEq + Clone>(values: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
