//! Writer leases: which process writes a run, and whether it still lives, so that `delete_run`
//! never pulls a run from under a live writer.

use crate::util::time::unix_now;

/// A writer's lease whose process cannot be checked (another machine, no /proc) is taken as
/// abandoned after this long without a committed batch.
const LEASE_STALE_AFTER_SECS: i64 = 600;

/// Identifies this boot of this machine, so that a lease's process can be checked for liveness.
pub(super) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
}

/// A process's start time (field 22 of /proc/PID/stat): with the pid, it tells a live writer from
/// a reused pid.
pub(super) fn process_start(pid: i64) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    let (_, after) = stat.rsplit_once(')')?;
    after.split_whitespace().nth(19).map(str::to_string)
}

/// A writer's lease as stored in `writers`.
pub(super) struct LeaseRow {
    pub(super) lease: String,
    pub(super) boot_id: Option<String>,
    pub(super) pid: i64,
    pub(super) pid_start: Option<String>,
    pub(super) heartbeat: i64,
}

pub(super) fn lease_is_live(
    boot: Option<&str>,
    pid: i64,
    start: Option<&str>,
    heartbeat: i64,
) -> bool {
    match (boot, start, boot_id()) {
        (Some(boot), Some(start), Some(current)) if boot == current => {
            process_start(pid).as_deref() == Some(start)
        }
        _ => unix_now() - heartbeat < LEASE_STALE_AFTER_SECS,
    }
}
