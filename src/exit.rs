//! Exit statuses, in one place, as scripts and later commands rely on them.

/// The command did what was asked; for `verify`, top-1 is within tolerance of the expected
/// reference, or no reference applies to the evaluated image set.
pub const SUCCESS: i32 = 0;
/// The command ran, and its answer is "no": `verify` drifted beyond tolerance, `determinism`
/// found a non-deterministic axis.
pub const DRIFT: i32 = 1;
/// Bad input, bad usage or a runtime failure: nothing was concluded.
pub const ERROR: i32 = 2;
/// The run was made, but nothing was checked. It has two meanings: `verify` / `merge
/// --require-reference` and no reference applies to the run's image set; or, with or without
/// that flag, the run scored nothing (none of its images is labelled, or every labelled one
/// failed; not a shard that got no image), which a warning on stderr names with the count and
/// the reason.
pub const NO_REFERENCE: i32 = 3;

/// The status of several verdicts in one invocation (`verify` over several models): an error
/// outranks a drift, which outranks "nothing checked", which outranks success.
pub fn worst(a: i32, b: i32) -> i32 {
    let severity = |code: i32| match code {
        SUCCESS => 0,
        NO_REFERENCE => 1,
        DRIFT => 2,
        _ => 3,
    };
    if severity(b) > severity(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_status_wins() {
        assert_eq!(
            [SUCCESS, DRIFT, SUCCESS].into_iter().fold(SUCCESS, worst),
            DRIFT
        );
        assert_eq!(worst(DRIFT, ERROR), ERROR);
        assert_eq!(worst(NO_REFERENCE, DRIFT), DRIFT);
        assert_eq!(worst(SUCCESS, NO_REFERENCE), NO_REFERENCE);
        assert_eq!(worst(ERROR, SUCCESS), ERROR);
    }
}
