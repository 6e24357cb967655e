//! The Slurm recipe on a real Slurm: `scripts/slurm/test_cluster.sh` starts munged, slurmctld and
//! slurmd as a one-node cluster and runs `verify_array.sh` on it (`tests/commands/scale.rs` runs
//! the same shards as plain processes).

use std::process::Command;

use crate::common::{self, shared};

/// `test_cluster.sh` runs `verify_array.sh` with 4 shards, cancels one task mid-run, resubmits it,
/// and checks that it resumed, that the merge waited for it, and that the merged run equals an
/// unsharded run.
#[test]
fn the_slurm_recipe_runs_on_a_real_slurm() {
    let Some(shared) = shared() else { return };
    if !running_as_root() {
        common::skip("the real-Slurm test needs root (slurmd launches jobs as their user)");
        return;
    }
    let repo = common::repo();
    let output = Command::new("bash")
        .arg(repo.join("scripts/slurm/test_cluster.sh"))
        .env("ZOOREPRO_BIN", env!("CARGO_BIN_EXE_zoorepro"))
        .env("ZOOREPRO_SHARED", &shared)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("merged run equals the unsharded run"),
        "{stdout}{stderr}"
    );
    eprintln!("{stdout}");
}

fn running_as_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() == 0 }
}
