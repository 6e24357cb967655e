//! What a person at a terminal sees: listings fitted to its width (run under a pseudo-terminal
//! made by util-linux `script`), and Ctrl-C during `verify`.

use std::process::Command;

use crate::common;
use crate::common::repo;

/// Runs `zoorepro ARGS` on a pseudo-terminal of `rows` x `columns` (0 x 0: a terminal that does
/// not say its size) and returns its lines, or None when `script` is not installed.
fn on_terminal(rows: u16, columns: u16, args: &str) -> Option<Vec<String>> {
    let available = Command::new("script").arg("--version").output();
    if !available.is_ok_and(|o| o.status.success()) {
        common::skip("util-linux `script` is not installed");
        return None;
    }
    let inner = format!(
        "stty rows {rows} cols {columns}; exec {} {args}",
        env!("CARGO_BIN_EXE_zoorepro")
    );
    let output = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("ZOOREPRO_HOME", repo())
        .output()
        .expect("script runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    Some(text.split("\r\n").map(str::to_string).collect())
}

fn piped(args: &[&str]) -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_zoorepro"))
        .env("ZOOREPRO_HOME", repo())
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn widest(lines: &[String]) -> usize {
    lines.iter().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn listings_fit_the_terminal_and_pipes_get_whole_lines() {
    for listing in ["models", "recipes"] {
        let whole = piped(&[listing]);
        assert!(widest(&whole) > 100, "{listing} piped is cut: {whole:?}");
        let Some(lines) = on_terminal(40, 90, listing) else {
            return;
        };
        assert_eq!(widest(&lines), 90, "{listing}: {lines:?}");
        assert!(lines[0].ends_with('…'), "{listing}: {lines:?}");
        assert_eq!(
            lines.iter().filter(|l| !l.is_empty()).count(),
            whole.len(),
            "{listing}: one line per row still"
        );
        // The start of every row is kept as it was.
        assert!(
            whole[1].starts_with(lines[1].trim_end_matches('…')),
            "{listing}"
        );
        let unknown = on_terminal(0, 0, listing).unwrap();
        assert_eq!(widest(&unknown), 100, "{listing}: {unknown:?}");
    }
}

/// The shared 100-image sample four times over (`copyK-` names), so that a run at batch 1 lasts
/// long enough to be interrupted in the middle.
fn four_copies_of_the_sample(shared: &std::path::Path, to: &std::path::Path) -> usize {
    let mut n = 0;
    for (class, path) in common::sample_files(shared) {
        let folder = to.join(&class);
        std::fs::create_dir_all(&folder).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for k in 1..=4 {
            std::fs::copy(&path, folder.join(format!("copy{k}-{name}"))).unwrap();
            n += 1;
        }
    }
    n
}

#[test]
fn ctrl_c_during_verify_says_what_is_kept_and_the_same_command_resumes() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let Some(shared) = common::shared() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    let images = four_copies_of_the_sample(&shared, &val);
    let onnx = common::shared_model(&shared, "pypi/efficientnet_lite0");
    let cache = scratch.path().join("cache");
    let reports = scratch.path().join("reports");
    let args: Vec<String> = [
        "verify",
        "--model",
        "pypi/efficientnet_lite0",
        "--onnx",
        onnx.to_str().unwrap(),
        "--val",
        val.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
        "--batch",
        "1",
        "--threads",
        "1",
        "--json",
    ]
    .map(String::from)
    .to_vec();

    let mut child = common::zoorepro(&cache)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = Vec::new();
    let mut interrupted = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if !interrupted && line.starts_with("verify: ") && line.contains("images/s") {
            // SAFETY: signals our own child, which has not been waited for.
            assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
            interrupted = true;
        }
        stderr.push(line);
    }
    let status = child.wait().unwrap();
    let stderr = stderr.join("\n");
    assert!(interrupted, "no progress line: {stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");

    let message = stderr
        .lines()
        .find(|l| l.starts_with("zoorepro: interrupted: "))
        .unwrap_or_else(|| panic!("no message: {stderr}"));
    let (count, rest) = message["zoorepro: interrupted: ".len()..]
        .split_once(" images of this run are stored; run the same command again to resume: ")
        .unwrap_or_else(|| panic!("{message}"));
    let kept: usize = count.parse().unwrap();
    assert!(kept > 0 && kept < images, "{message}");
    let cache_dir = cache.to_str().unwrap();
    let command = format!(
        "{} --cache-dir {cache_dir} {}",
        env!("CARGO_BIN_EXE_zoorepro"),
        args.join(" ")
    );
    assert_eq!(rest, command, "the command as given");

    // The same command again takes up the stored rows and evaluates only the rest.
    let again = common::run(common::zoorepro(&cache).args(&args));
    assert_eq!(again.status, 0, "{}", again.stderr);
    let record = again.json();
    assert_eq!(record["store"]["reused"], kept, "{}", again.stderr);
    assert_eq!(record["provenance"]["inferred"], images - kept);
    assert_eq!(record["images"], images);
}

#[test]
fn the_table_is_aligned_text_on_a_terminal_and_markdown_when_piped() {
    let Some(shared) = common::shared() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let seed = shared.join("reference/benchmarking-keras-pytorch");
    let import = common::run(common::zoorepro(&cache).arg("import-seed").arg(&seed));
    assert_eq!(import.status, 0, "{}", import.stderr);
    let args = format!("--cache-dir {} table", cache.display());
    let Some(lines) = on_terminal(40, 200, &args) else {
        return;
    };
    assert_eq!(lines[0], "ilsvrc2012-val (50000 images)", "{lines:?}");
    let header = &lines[2];
    assert!(
        header.starts_with("rank1  rank5  framework  model"),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains('|')),
        "no pipes: {lines:?}"
    );
    // Every row's model column starts where the header's does.
    let column = header.find("model").unwrap();
    assert!(
        lines[3..7]
            .iter()
            .all(|l| l[column..].starts_with(|c: char| c.is_ascii_alphabetic()))
    );
    let piped = common::run(common::zoorepro(&cache).arg("table"));
    assert!(piped.stdout.contains("|---|"), "{}", piped.stdout);
    // Every verdict names the reference that decided it, so a mark beside a small delta in
    // another source's column is not misread.
    let judged: Vec<&str> = piped
        .stdout
        .lines()
        .filter(|l| l.ends_with(" |") && (l.contains("| drift") || l.contains("| reproduced")))
        .collect();
    assert!(!judged.is_empty(), "{}", piped.stdout);
    assert!(
        judged.iter().all(|l| l.contains(" vs ")),
        "{}",
        piped.stdout
    );
}

#[test]
fn ctrl_c_during_a_pass_of_several_models_gives_each_model_its_count() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let Some(shared) = common::shared() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    four_copies_of_the_sample(&shared, &val);
    let cache = scratch.path().join("cache");
    let models = [
        "coral/mobilenet_v1_0.5_160_quant",
        "pypi/efficientnet_lite0",
    ];
    let models_dir = shared.join("models");
    let args: Vec<String> = [
        "verify",
        "--model",
        &models.join(","),
        "--models-dir",
        models_dir.to_str().unwrap(),
        "--val",
        val.to_str().unwrap(),
        "--report-dir",
        scratch.path().join("reports").to_str().unwrap(),
        "--batch",
        "1",
        "--threads",
        "1",
        "--json",
    ]
    .map(String::from)
    .to_vec();
    let mut child = common::zoorepro(&cache)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = Vec::new();
    let mut interrupted = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if !interrupted && line.starts_with("verify: ") && line.contains("images/s") {
            // Progress names both models' running top-1.
            assert!(
                line.contains(models[0]) && line.contains(models[1]),
                "{line}"
            );
            // SAFETY: signals our own child, which has not been waited for.
            assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
            interrupted = true;
        }
        stderr.push(line);
    }
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let stderr = stderr.join("\n");
    let message = stderr
        .lines()
        .find(|l| l.starts_with("zoorepro: interrupted: stored so far, by model: "))
        .unwrap_or_else(|| panic!("no per-model message: {stderr}"));
    let counts: Vec<usize> = models
        .iter()
        .map(|model| {
            let after = message.split(&format!("{model} ")).nth(1).unwrap();
            after.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(counts.iter().all(|&n| n > 0 && n < 400), "{message}");

    // The same command resumes, each model from its own count.
    let again = common::run(common::zoorepro(&cache).args(&args));
    assert_eq!(again.status, 0, "{}", again.stderr);
    let records = again.json();
    for (record, kept) in records.as_array().unwrap().iter().zip(counts) {
        assert_eq!(record["store"]["reused"], kept, "{record}");
    }
}
