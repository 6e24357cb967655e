//! Hostile and broken input, end to end: each kind has its exact expected outcome — the image
//! counted as failed where the contract says the run goes on, otherwise one clear message naming
//! the file, exit status 2 — never a panic (checked by `common::run`), and the store unchanged.
//! Kinds covered elsewhere: corrupt/truncated JPEG, --strict, missing/empty --val, unknown and
//! ambiguous model, sha256 mismatch, ONNX that is not protobuf, input/manifest mismatch, tar cut
//! inside data (tests/commands/verify.rs); npy without probabilities, wrong shape, truncated, zero-byte,
//! wrong dtype, out-of-range classes, unknown model name, labels CSV with unknown files or
//! out-of-range classes (tests/commands/tables.rs).

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{Run, assert_error, run, shared, shared_model, zoorepro};

const MODEL: &str = "coral/mobilenet_v1_0.5_160_quant";

fn verify(cache: &Path, shared: &Path, val: &Path, extra: &[&str]) -> Run {
    let mut command = zoorepro(cache);
    command
        .args(["verify", "--model", MODEL, "--onnx"])
        .arg(shared_model(shared, MODEL))
        .arg("--val")
        .arg(val)
        .arg("--report-dir")
        .arg(cache.join("reports"))
        .args(extra);
    run(&mut command)
}

fn store_state(cache: &Path) -> serde_json::Value {
    run(zoorepro(cache).args(["runs", "--json"])).json()
}

fn sample_jpegs(shared: &Path, count: usize) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join("imagenet-val"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.truncate(count);
    files
}

#[test]
fn broken_images_are_counted_as_failed_and_odd_but_valid_ones_are_evaluated() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    std::fs::create_dir(&val).unwrap();
    let jpegs = sample_jpegs(&shared, 6);
    for jpeg in &jpegs[..2] {
        std::fs::copy(jpeg, val.join(jpeg.file_name().unwrap())).unwrap();
    }
    // Empty file; text named .JPEG; JPEG with garbage after its end marker; a PNG named .JPEG.
    std::fs::write(val.join(jpegs[2].file_name().unwrap()), b"").unwrap();
    std::fs::write(
        val.join(jpegs[3].file_name().unwrap()),
        b"these are not the pixels you are looking for",
    )
    .unwrap();
    let mut trailing = std::fs::read(&jpegs[4]).unwrap();
    trailing.extend_from_slice(b"GARBAGE AFTER EOI \x00\xff\xd9 more");
    std::fs::write(val.join(jpegs[4].file_name().unwrap()), trailing).unwrap();
    let png = image_as_png(&jpegs[5]);
    std::fs::write(val.join(jpegs[5].file_name().unwrap()), png).unwrap();
    // A symlink loop named like an image, and a folder that is not an image.
    std::os::unix::fs::symlink(val.join("loop.JPEG"), val.join("loop.JPEG")).unwrap();
    std::fs::create_dir(val.join("subfolder.JPEG")).unwrap();

    let predictions = scratch.path().join("p.jsonl");
    let result = verify(
        scratch.path(),
        &shared,
        &val,
        &["--json", "--predictions", predictions.to_str().unwrap()],
    );
    assert_eq!(result.status, 0, "the run goes on: {}", result.stderr);
    let record = result.json();
    let failed: Vec<&str> = record["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    let empty = jpegs[2].file_name().unwrap().to_str().unwrap();
    let text = jpegs[3].file_name().unwrap().to_str().unwrap();
    assert_eq!(failed, [empty, text, "loop.JPEG"], "{}", result.stderr);
    for name in &failed {
        assert!(
            result.stderr.contains(&format!("{name}: ")),
            "each failure is named on stderr: {}",
            result.stderr
        );
    }
    assert_eq!(
        record["evaluated"], 4,
        "the two intact, the trailing-garbage JPEG and the PNG"
    );
    assert_eq!(
        record["dataset"]["ignored_files"], 1,
        "the folder named .JPEG"
    );
    let lines = std::fs::read_to_string(&predictions).unwrap();
    assert_eq!(lines.lines().count(), 7);
}

/// Re-encodes a JPEG as PNG with the repo's Python (Pillow), or writes a tiny valid PNG by hand.
fn image_as_png(jpeg: &Path) -> Vec<u8> {
    let python = std::env::var("ZOOREPRO_PYTHON").unwrap_or_else(|_| {
        common::repo()
            .join(".venv/bin/python")
            .display()
            .to_string()
    });
    let out = tempfile::NamedTempFile::new().unwrap();
    let status = std::process::Command::new(&python)
        .args(["-c", "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], 'PNG')"])
        .arg(jpeg)
        .arg(out.path())
        .status();
    match status {
        Ok(s) if s.success() => std::fs::read(out.path()).unwrap(),
        _ => panic!("the PNG fixture needs Python with Pillow ({python}); run scripts/setup.sh"),
    }
}

#[test]
fn hostile_tars_are_read_without_writing_anything_and_cuts_are_errors() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let jpegs = sample_jpegs(&shared, 3);
    let mut builder = tar::Builder::new(Vec::new());
    for (jpeg, name) in jpegs
        .iter()
        .zip(["../../escape/", "/tmp/zoorepro-absolute/", "ok/"])
    {
        let bytes = std::fs::read(jpeg).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        let path = format!("{name}{}", jpeg.file_name().unwrap().to_str().unwrap());
        // Write the raw name: the tar crate's safe setters refuse `..`, a hostile archive does not.
        let field = &mut header.as_old_mut().name;
        field[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, bytes.as_slice()).unwrap();
    }
    let archive = builder.into_inner().unwrap();
    let tar_path = scratch.path().join("inner/val.tar");
    std::fs::create_dir_all(tar_path.parent().unwrap()).unwrap();
    std::fs::write(&tar_path, &archive).unwrap();

    let result = verify(
        scratch.path(),
        &shared,
        &tar_path,
        &["--json", "--no-cache"],
    );
    assert_eq!(result.status, 0, "{}", result.stderr);
    let record = result.json();
    assert_eq!(
        record["evaluated"], 1,
        "members named outside the archive are never read"
    );
    assert_eq!(record["dataset"]["skipped"][0]["reason"], "unsafe-path");
    assert_eq!(record["dataset"]["skipped"][0]["count"], 2);
    assert!(
        !scratch.path().join("escape").exists() && !Path::new("/tmp/zoorepro-absolute").exists(),
        "nothing is extracted"
    );

    // Cut inside the second member's data (a cut inside a header is read to the cut, as GNU tar
    // and Python's tarfile read it: tests/inputs/adversarial_archives.rs).
    let cut =
        512 + std::fs::metadata(&jpegs[0]).unwrap().len().div_ceil(512) as usize * 512 + 512 + 100;
    let cut_path = scratch.path().join("cut-data.tar");
    std::fs::write(&cut_path, &archive[..cut]).unwrap();
    let before = store_state(scratch.path());
    let result = verify(scratch.path(), &shared, &cut_path, &[]);
    assert_error(&result, &["cut-data.tar", "truncated"]);
    let after = store_state(scratch.path());
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["complete"] == false),
        "a broken tar never completes a run"
    );
    assert!(after.as_array().unwrap().len() <= before.as_array().unwrap().len() + 1);
}

#[test]
fn a_folder_that_links_to_itself_terminates() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    let class = val.join("n01440764");
    std::fs::create_dir_all(&class).unwrap();
    let jpeg = &sample_jpegs(&shared, 1)[0];
    std::fs::copy(jpeg, class.join(jpeg.file_name().unwrap())).unwrap();
    // A class folder that is a link back to the root: its entries are folders, not images.
    std::os::unix::fs::symlink(&val, val.join("n01443537")).unwrap();
    let result = verify(scratch.path(), &shared, &val, &["--json", "--no-cache"]);
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert_eq!(result.json()["evaluated"], 1);
}

#[test]
fn a_model_of_another_input_rank_is_refused() {
    let Some(shared) = shared() else { return };
    let python = std::env::var("ZOOREPRO_PYTHON").unwrap_or_else(|_| {
        common::repo()
            .join(".venv/bin/python")
            .display()
            .to_string()
    });
    let scratch = tempfile::tempdir().unwrap();
    let model = scratch.path().join("rank3.onnx");
    let script = "import sys, numpy as np, onnx\nfrom onnx import helper as h, TensorProto as T, numpy_helper as nh\n\
                  w = nh.from_array(np.zeros((480, 1001), np.float32), 'w')\n\
                  g = h.make_graph([h.make_node('Flatten', ['input'], ['f']), h.make_node('MatMul', ['f', 'w'], ['out'])], 'rank3',\n\
                  [h.make_tensor_value_info('input', T.FLOAT, ['N', 160, 3])], [h.make_tensor_value_info('out', T.FLOAT, ['N', 1001])], [w])\n\
                  onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 13)]), sys.argv[1])";
    let made = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(&model)
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "the fixture needs Python with onnx ({python}); run scripts/setup.sh"
    );
    let mut command = zoorepro(scratch.path());
    command
        .args(["verify", "--model", MODEL, "--allow-unverified", "--onnx"])
        .arg(&model)
        .arg("--val")
        .arg(shared.join("imagenet-sample"));
    assert_error(&run(&mut command), &["rank3.onnx", "rank 3"]);
    assert!(
        store_state(scratch.path()).as_array().unwrap().is_empty(),
        "nothing stored for a refused model"
    );
}

#[test]
fn a_manifest_with_missing_fields_names_the_file_and_field() {
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    std::fs::create_dir_all(home.join("manifests")).unwrap();
    let good = std::fs::read_to_string(
        common::repo().join("manifests/coral__mobilenet_v2_1.0_224_quant.json"),
    )
    .unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&good).unwrap();
    value.as_object_mut().unwrap().remove("output");
    std::fs::write(home.join("manifests/mine.json"), value.to_string()).unwrap();
    let mut command = zoorepro(scratch.path());
    command.env("ZOOREPRO_HOME", &home).arg("models");
    assert_error(&run(&mut command), &["mine.json", "output"]);
}

#[test]
fn unwritable_cache_and_report_dirs_are_named_and_leave_the_store_intact() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    // A path below a regular file cannot be created, even by root.
    let blocker = scratch.path().join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    let sample = shared.join("imagenet-sample");

    let result = verify(&blocker.join("cache"), &shared, &sample, &[]);
    assert_error(&result, &["a-file/cache", "--cache-dir"]);

    let cache = scratch.path().join("cache");
    let complete = verify(&cache, &shared, &sample, &[]);
    assert_eq!(complete.status, 0, "{}", complete.stderr);
    let before = store_state(&cache);
    let mut command = zoorepro(&cache);
    command
        .args(["verify", "--model", MODEL, "--onnx"])
        .arg(shared_model(&shared, MODEL))
        .arg("--val")
        .arg(&sample)
        .arg("--report-dir")
        .arg(blocker.join("reports"));
    assert_error(&run(&mut command), &["a-file/reports", "--report-dir"]);
    let after = store_state(&cache);
    assert_eq!(before[0]["key"], after[0]["key"]);
    assert_eq!(after[0]["images"], 100);
    assert_eq!(
        after[0]["complete"], true,
        "the stored run is untouched by a report failure"
    );
}

#[test]
fn a_full_disk_fails_cleanly_and_keeps_committed_runs() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let sample = shared.join("imagenet-sample");
    assert_eq!(verify(&cache, &shared, &sample, &[]).status, 0);
    let before = store_state(&cache);
    let database = std::fs::metadata(cache.join("zoorepro.sqlite3"))
        .unwrap()
        .len();

    // RLIMIT_FSIZE stands in for a full disk: writes past the limit fail with EFBIG (SIGXFSZ ignored).
    let limit_kib = database / 1024 + 8;
    let command = format!(
        "trap '' XFSZ; ulimit -f {limit_kib}; exec \"$0\" --cache-dir \"$1\" verify --model {MODEL} --onnx \"$2\" --val \"$3\" --batch 4 --report-dir \"$1/reports\""
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &command, env!("CARGO_BIN_EXE_zoorepro")])
        .arg(&cache)
        .arg(shared_model(&shared, MODEL))
        .arg(&sample)
        .env("ZOOREPRO_HOME", common::repo())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("zoorepro.sqlite3") && stderr.contains("disk"),
        "{stderr}"
    );

    let after = store_state(&cache);
    let complete: Vec<_> = after
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["complete"] == true)
        .collect();
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0]["key"], before[0]["key"]);
    assert_eq!(complete[0]["images"], 100);
    let table = run(zoorepro(&cache).args(["table", "--format", "json"]));
    assert_eq!(table.status, 0, "{}", table.stderr);
}

#[test]
fn cuda_without_a_gpu_build_fails_clearly_instead_of_falling_back() {
    let scratch = tempfile::tempdir().unwrap();
    let mut command = zoorepro(scratch.path());
    command
        .args([
            "verify",
            "--model",
            "coral/mobilenet_v2_1.0_224_quant",
            "--provider",
            "cuda",
            "--no-cache",
            "--val",
        ])
        .arg(common::repo().join("demo"))
        .arg("--report-dir")
        .arg(scratch.path().join("reports"));
    let result = run(&mut command);
    if result.status == 0 {
        // A machine whose ONNX Runtime has a working CUDA provider: nothing to refuse, so the
        // check is that the run really used CUDA rather than falling back to the CPU.
        let provider = result.json()["provenance"]["provider"].clone();
        assert!(
            provider.as_str().is_some_and(|p| p.contains("cuda")),
            "exit 0 with --provider cuda, but the record names provider {provider}"
        );
        return;
    }
    assert_error(&result, &["CUDA", "never falls back"]);
}

/// Every file of `dir` (recursively) with its bytes, to tell that nothing in it changed.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn an_output_naming_an_input_or_the_store_is_refused_before_anything_is_written() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let (cache, val, inputs) = (root.join("cache"), root.join("val"), root.join("inputs"));
    std::fs::create_dir_all(val.join("n01440764")).unwrap();
    std::fs::create_dir_all(&inputs).unwrap();
    for jpeg in sample_jpegs(&shared, 3) {
        std::fs::copy(&jpeg, val.join("n01440764").join(jpeg.file_name().unwrap())).unwrap();
    }
    let image = std::fs::read_dir(val.join("n01440764"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let model = inputs.join("m.onnx");
    std::fs::copy(shared_model(&shared, MODEL), &model).unwrap();
    let truth = inputs.join("truth.csv");
    let rows: String = std::fs::read_dir(val.join("n01440764"))
        .unwrap()
        .map(|e| format!("{},0\n", e.unwrap().file_name().to_str().unwrap()))
        .collect();
    std::fs::write(&truth, rows).unwrap();
    let run_verify = |extra: &[&std::ffi::OsStr]| {
        let mut command = zoorepro(&cache);
        command
            .args(["verify", "--model", MODEL, "--onnx"])
            .arg(&model)
            .arg("--val")
            .arg(&val)
            .arg("--ground-truth")
            .arg(&truth)
            .arg("--report-dir")
            .arg(root.join("reports"))
            .args(extra);
        run(&mut command)
    };
    assert_eq!(run_verify(&[]).status, 0);
    let database = cache.join("zoorepro.sqlite3");
    // Other spellings of the same files: a symbolic link, a path through `..`. A hard link is
    // another name (named as a results file must be): written, by a rename over that name.
    std::os::unix::fs::symlink(&model, root.join("link.onnx")).unwrap();
    std::os::unix::fs::symlink(&database, root.join("store-link.csv")).unwrap();
    std::fs::hard_link(&database, root.join("store.csv")).unwrap();
    std::fs::hard_link(&image, root.join("image.json")).unwrap();
    let dotted = val
        .join("n01440764/../n01440764")
        .join(image.file_name().unwrap());
    let before = [contents(&cache), contents(&val), contents(&inputs)];
    let runs_before = store_state(&cache);

    let predictions =
        |path: &Path| [std::ffi::OsStr::new("--predictions"), path.as_os_str()].map(Into::into);
    let results =
        |path: &Path| [std::ffi::OsStr::new("--results-file"), path.as_os_str()].map(Into::into);
    let cases: Vec<([std::ffi::OsString; 2], &str)> = vec![
        (predictions(&database), "the prediction store's database"),
        (
            predictions(&cache.join("zoorepro.sqlite3-wal")),
            "the prediction store's database",
        ),
        (predictions(&image), "lies inside the image set"),
        (predictions(&dotted), "lies inside the image set"),
        (
            predictions(&val.join("n01440764/new.jsonl")),
            "lies inside the image set",
        ),
        (predictions(&model), "the model file"),
        (predictions(&root.join("link.onnx")), "the model file"),
        (predictions(&truth), "the ground-truth file"),
        (
            results(&root.join("store-link.csv")),
            "the prediction store's database",
        ),
        (results(&truth), "the ground-truth file"),
    ];
    for (flags, needle) in &cases {
        let flags: Vec<&std::ffi::OsStr> = flags.iter().map(|f| f.as_os_str()).collect();
        assert_error(&run_verify(&flags), &["cannot write", needle]);
    }
    // Reports or a store inside the image set: refused before either folder is made.
    let inside = val.join("made-by-zoorepro");
    let mut reports_inside = zoorepro(&cache);
    reports_inside
        .args(["verify", "--model", MODEL, "--onnx"])
        .arg(&model)
        .arg("--val")
        .arg(&val)
        .arg("--report-dir")
        .arg(&inside);
    assert_error(
        &run(&mut reports_inside),
        &["run reports", "lies inside the image set"],
    );
    let mut store_inside = zoorepro(&inside);
    store_inside
        .args(["verify", "--model", MODEL, "--onnx"])
        .arg(&model)
        .arg("--val")
        .arg(&val);
    assert_error(
        &run(&mut store_inside),
        &["the prediction store", "lies inside the image set"],
    );
    assert!(!inside.exists());
    let mut preprocess = zoorepro(&cache);
    preprocess
        .args(["preprocess", "--model", MODEL])
        .arg(&image)
        .arg("--out")
        .arg(&dotted);
    assert_error(
        &run(&mut preprocess),
        &["cannot write the tensors", "is the image"],
    );
    // A shard to merge into the store, which must not be the results file.
    let shards = root.join("shards");
    let mut shard = zoorepro(&shards);
    shard
        .args(["verify", "--shard", "0/2", "--model", MODEL, "--onnx"])
        .arg(&model)
        .arg("--val")
        .arg(&val)
        .arg("--report-dir")
        .arg(root.join("reports"));
    assert_eq!(run(&mut shard).status, 0);
    let mut merge = zoorepro(&cache);
    merge
        .arg("merge")
        .arg(&shards)
        .arg("--report-dir")
        .arg(root.join("reports"))
        .arg("--results-file")
        .arg(root.join("store-link.csv"));
    assert_error(
        &run(&mut merge),
        &[
            "cannot write the results file",
            "prediction store's database",
        ],
    );
    assert!(
        [contents(&cache), contents(&val), contents(&inputs)] == before,
        "the store, the images, the model and the ground truth are as they were"
    );
    assert_eq!(store_state(&cache), runs_before);
    // A hard link of the database or of an image is another name: the results file replaces
    // that name, and the store and the image keep their bytes.
    for hard_link in ["store.csv", "image.json"] {
        let flags = results(&root.join(hard_link));
        let flags: Vec<&std::ffi::OsStr> = flags.iter().map(|f| f.as_os_str()).collect();
        assert_eq!(run_verify(&flags).status, 0, "{hard_link}");
    }
    assert!(contents(&val) == before[1]);
    assert_eq!(store_state(&cache)[0], runs_before[0]);
}

/// A store or report folder that is a regular file, or a symbolic link that loops: the message
/// names the path, says what it is, and which flag to change ("File exists (os error 17)" did not).
#[test]
fn an_output_folder_that_is_a_file_or_a_loop_says_which() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let looped = scratch.path().join("loop");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    for (cache, what) in [
        (&file, "a-file is a file, not a folder"),
        (&looped, "loop is a symbolic link that loops"),
    ] {
        let mut command = zoorepro(cache);
        command.arg("runs");
        assert_error(&run(&mut command), &[what, "--cache-dir"]);
        let result = verify(cache, &shared, &shared.join("imagenet-sample"), &[]);
        assert_error(&result, &[what, "--cache-dir"]);
        let mut command = zoorepro(&scratch.path().join("cache"));
        command
            .args(["verify", "--model", MODEL, "--onnx"])
            .arg(shared_model(&shared, MODEL))
            .arg("--val")
            .arg(shared.join("imagenet-sample"))
            .arg("--report-dir")
            .arg(cache);
        assert_error(&run(&mut command), &[what, "--report-dir"]);
    }
}

/// A value a message repeats is cut to its first 200 characters and its length: a 100 kB
/// `--recipe` gave a 200 kB line (quoted twice).
#[test]
fn a_long_value_is_repeated_in_part() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let long = "x".repeat(100_000);
    let image = sample_jpegs(&shared, 1).remove(0);
    let mut command = zoorepro(scratch.path());
    command
        .args(["preprocess", "--recipe", &long, "--out"])
        .arg(scratch.path().join("t.npy"))
        .arg(&image);
    let result = run(&mut command);
    assert_error(&result, &["… (100000 bytes)", "neither a recipe preset"]);
    assert!(result.stderr.len() < 3000, "{}", result.stderr.len());
    let result = verify(
        scratch.path(),
        &shared,
        &shared.join("imagenet-sample"),
        &["--recipe", &long],
    );
    assert_error(&result, &["… (100000 bytes)", "has no recipe"]);
    assert!(result.stderr.len() < 3000, "{}", result.stderr.len());
}

/// Negative numbers reach the flags' parsers: one line, as 0 gives (`runs --delete -1` was
/// clap's "unexpected argument" and its usage); `--shard -1/2` reaches the shard's parser.
#[test]
fn a_negative_run_id_or_shard_is_one_line() {
    let scratch = tempfile::tempdir().unwrap();
    for value in ["-1", "0"] {
        let mut command = zoorepro(scratch.path());
        command.args(["runs", "--delete", value]);
        assert_error(&run(&mut command), &["run ids start at 1"]);
    }
    let mut command = zoorepro(scratch.path());
    command.args(["compare", "1", "2", "--limit", "-1"]);
    assert_error(&run(&mut command), &["'--limit <N>': must be at least 0"]);
    let Some(shared) = shared() else { return };
    let result = verify(
        scratch.path(),
        &shared,
        &shared.join("imagenet-sample"),
        &["--shard", "-1/2"],
    );
    assert_error(&result, &["--shard takes K/N with 0 <= K < N", "\"-1/2\""]);
}

/// A shard that holds none of a small set's images is an empty part of the run (docs/cluster.md:
/// `merge` needs it), exit 0 and verdict no-reference, and a warning says so and what to do.
#[test]
fn an_empty_shard_is_a_run_of_0_images_and_says_so() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    // Shard 0 of 100 holds none of the sample's 100 names (sha256 of each, mod 100).
    let result = verify(
        scratch.path(),
        &shared,
        &shared.join("imagenet-sample"),
        &["--shard", "0/100", "--json"],
    );
    assert_eq!(result.status, 0, "{}", result.stderr);
    let record = result.json();
    assert_eq!(record["images"], 0);
    assert_eq!(record["verdict"]["status"], "no-reference");
    assert!(
        result
            .stderr
            .contains("zoorepro: warning: shard 0/100 holds none of the 100 images of ")
            && result.stderr.contains("run fewer shards"),
        "{}",
        result.stderr
    );
}
