//! Crash safety: `verify` killed with SIGKILL at 20 seeded points and resumed each time ends with
//! exactly the per-image predictions of an uninterrupted run, and no intermediate state ever
//! reports numbers (a partial run is never in `table`, never complete in `runs`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{run, sample_files, shared, shared_model, zoorepro};

const MODEL: &str = "coral/mobilenet_v1_0.5_160_quant";
const IMAGES: usize = 2000;
const KILLS: usize = 20;

/// 2,000 symlinks to the 100 sample images, ImageFolder layout, validation-style unique names.
fn symlinked_val(shared: &Path, root: &Path) {
    let files = sample_files(shared);
    for i in 0..IMAGES {
        let (class, target) = &files[i % files.len()];
        let folder = root.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        std::os::unix::fs::symlink(
            target,
            folder.join(format!("ILSVRC2012_val_{:08}.JPEG", i + 1)),
        )
        .unwrap();
    }
}

/// xorshift64*: a fixed, seeded sequence of fractions in [0, 1) that place the kills.
fn kill_fractions(seed: u64, count: usize) -> Vec<f64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            (r >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

/// Kill delays scaled to this machine's speed: each restarted `verify` first spends `startup`
/// (process start, ONNX Runtime session) and then evaluates images, so a delay of `startup` plus a
/// seeded share of `work / count` lands most kills mid-run however fast the machine is, and the
/// 20 kills together cover about 80% of the run.
fn delays(seed: u64, count: usize, startup: Duration, work: Duration) -> Vec<Duration> {
    let slice = work.mul_f64(1.6 / count as f64);
    kill_fractions(seed, count)
        .into_iter()
        .map(|f| startup + slice.mul_f64(f))
        .collect()
}

#[test]
fn sigkill_at_twenty_points_then_resume_equals_an_uninterrupted_run() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    symlinked_val(&shared, &val);
    let onnx = shared_model(&shared, MODEL);
    let cache = scratch.path().join("cache");
    let verify = |cache: &Path, extra: &[&str]| {
        let mut command = zoorepro(cache);
        command
            .args(["verify", "--model", MODEL, "--batch", "16", "--onnx"])
            .arg(&onnx)
            .arg("--val")
            .arg(&val)
            .arg("--report-dir")
            .arg(scratch.path().join("reports"))
            .args(extra);
        command
    };

    let baseline = scratch.path().join("baseline.jsonl");
    let started = Instant::now();
    let uninterrupted = run(&mut verify(
        &scratch.path().join("other"),
        &["--no-cache", "--predictions", baseline.to_str().unwrap()],
    ));
    let full = started.elapsed();
    assert_eq!(uninterrupted.status, 0, "{}", uninterrupted.stderr);
    let started = Instant::now();
    let first_batch = run(&mut verify(
        &scratch.path().join("other"),
        &["--no-cache", "--limit", "16"],
    ));
    let startup = started.elapsed();
    assert_eq!(first_batch.status, 0, "{}", first_batch.stderr);

    let mut stored = 0u64;
    let mut kills = 0;
    for delay in delays(0x5EED_2026, KILLS, startup, full.saturating_sub(startup)) {
        let mut child = verify(&cache, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap_or(()); // SIGKILL on Unix; a no-op if it already exited
        child.wait().unwrap();
        kills += usize::from(!finished);

        let runs = run(zoorepro(&cache).args(["runs", "--json"])).json();
        let Some(state) = runs.as_array().unwrap().first() else {
            continue;
        };
        let images = state["images"].as_u64().unwrap();
        assert!(
            images >= stored,
            "a resume never loses stored rows ({images} < {stored})"
        );
        stored = images;
        if state["complete"] == false {
            assert!(
                state["top1"].is_null(),
                "a partial run reports no accuracy: {state}"
            );
            let table = run(zoorepro(&cache).args(["table", "--format", "json"]));
            assert_eq!(
                table.status, 2,
                "a partial run is never in the table: {}",
                table.stdout
            );
        }
    }
    eprintln!("{kills} of {KILLS} kills landed mid-run");
    assert!(
        kills >= KILLS / 2,
        "most kills must land mid-run ({kills} of {KILLS}); the delays are too long"
    );

    let resumed = scratch.path().join("resumed.jsonl");
    let finish = run(&mut verify(
        &cache,
        &["--json", "--predictions", resumed.to_str().unwrap()],
    ));
    assert_eq!(finish.status, 0, "{}", finish.stderr);
    let record = finish.json();
    assert_eq!(record["images"], IMAGES as u64);
    assert!(
        record["store"]["reused"].as_u64().unwrap() >= stored,
        "the rows stored before the last kill were reused"
    );
    assert_eq!(
        std::fs::read_to_string(&resumed).unwrap(),
        std::fs::read_to_string(&baseline).unwrap(),
        "killed and resumed 20 times, the per-image predictions equal an uninterrupted run's"
    );
    let runs = run(zoorepro(&cache).args(["runs", "--json"])).json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["complete"], true);
}
