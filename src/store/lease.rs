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
    let this_boot = boot.is_some() && boot == boot_id().as_deref();
    match start {
        Some(start) if this_boot => process_start(pid).as_deref() == Some(start),
        // No start time was readable when the lease was taken: a pid of this boot that no
        // longer exists is certainly gone; one that exists may be another process by now, so
        // the lease lapses with its heartbeat.
        None if this_boot && process_start(pid).is_none() => false,
        _ => unix_now() - heartbeat < LEASE_STALE_AFTER_SECS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_pid() -> i64 {
        i64::from(std::process::id())
    }

    /// A pid of this boot that no process has now: a child that has exited and been reaped.
    fn gone_pid() -> i64 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        i64::from(child.id())
    }

    #[test]
    fn a_lease_with_its_start_time_lives_exactly_as_long_as_its_process() {
        let boot = boot_id();
        let start = process_start(own_pid());
        assert!(lease_is_live(
            boot.as_deref(),
            own_pid(),
            start.as_deref(),
            0
        ));
        assert!(!lease_is_live(
            boot.as_deref(),
            own_pid(),
            Some("1"),
            unix_now()
        ));
    }

    #[test]
    fn a_lease_without_a_start_time_lapses_with_its_process_or_its_heartbeat() {
        let boot = boot_id();
        let fresh = unix_now();
        let aged = fresh - LEASE_STALE_AFTER_SECS - 1;
        // Its pid is gone on this boot: dead at once, however fresh the heartbeat.
        assert!(!lease_is_live(boot.as_deref(), gone_pid(), None, fresh));
        // Its pid lives (maybe reused): the heartbeat decides.
        assert!(lease_is_live(boot.as_deref(), own_pid(), None, fresh));
        assert!(!lease_is_live(boot.as_deref(), own_pid(), None, aged));
        // Another machine's or boot's lease: only the heartbeat can tell.
        assert!(lease_is_live(Some("another boot"), gone_pid(), None, fresh));
        assert!(!lease_is_live(None, own_pid(), Some("1"), aged));
    }
}
