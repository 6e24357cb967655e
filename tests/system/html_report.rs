//! The HTML report in a real browser: `verify` of the bundled demo writes a page beside its JSON
//! and Markdown, and `scripts/report/check_html.sh` renders it in headless Chromium (from Debian's
//! packages), checking that it loads without a console message, that its chart is in the rendered
//! DOM, and that a screenshot comes out.

use std::process::Command;

use crate::common;
use crate::common::{repo, run, shared, shared_model, zoorepro};

const MODEL: &str = "coral/mobilenet_v2_1.0_224_quant";

fn browser_available() -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()
        .is_ok_and(|o| o.status.success());
    // SAFETY: getuid has no preconditions and cannot fail.
    let can_install = unsafe { libc::getuid() == 0 };
    if !found && !can_install {
        common::skip("no chromium, and no root to install it");
    }
    found || can_install
}

/// Renders `page` with scripts/report/check_html.sh (screenshots into `shots` when given) and
/// asserts it loaded without a console message with `charts` charts drawn.
fn assert_renders(page: &std::path::Path, charts: usize, shots: Option<&std::path::Path>) {
    let mut command = Command::new("bash");
    command.arg(repo().join("scripts/report/check_html.sh"));
    if let Some(shots) = shots {
        command.arg("--screenshot").arg(shots);
    }
    let checked = command.arg(page).output().unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success()
            && stdout.contains(&format!("{charts} chart(s), no console messages")),
        "{stdout}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn the_demo_report_renders_in_headless_chromium() {
    let Some(shared) = shared() else { return };
    if !browser_available() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let reports = scratch.path().join("reports");
    let verified = run(zoorepro(&scratch.path().join("cache"))
        .args(["verify", "--model", MODEL, "--onnx"])
        .arg(shared_model(&shared, MODEL))
        .arg("--val")
        .arg(repo().join("demo"))
        .arg("--report-dir")
        .arg(&reports));
    assert_eq!(verified.status, 0, "{}", verified.stderr);
    let page = std::fs::read_dir(reports.join(MODEL))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .expect("verify writes an HTML report");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("reproduced") && html.contains("95% interval"));

    let shots = scratch.path().join("shots");
    assert_renders(&page, 2, Some(&shots));
    let png = std::fs::read_dir(&shots)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "{}",
        png.display()
    );
}

#[test]
fn the_table_of_the_seed_caches_and_a_sample_run_renders_in_headless_chromium() {
    let Some(shared) = shared() else { return };
    if !browser_available() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let seed = shared.join("reference/benchmarking-keras-pytorch");
    assert_eq!(
        run(zoorepro(&cache).arg("import-seed").arg(&seed)).status,
        0
    );
    let verified = run(zoorepro(&cache)
        .args(["verify", "--model", MODEL, "--onnx"])
        .arg(shared_model(&shared, MODEL))
        .arg("--val")
        .arg(shared.join("imagenet-sample"))
        .arg("--report-dir")
        .arg(scratch.path().join("reports")));
    assert_eq!(verified.status, 0, "{}", verified.stderr);
    let table = run(zoorepro(&cache).args(["table", "--labels", "all", "--format", "html"]));
    assert_eq!(table.status, 0, "{}", table.stderr);
    // Two image sets: a dot plot each, and the rank chart of the set scored under every label set.
    assert_eq!(table.stdout.matches("class=\"chart-table\"").count(), 2);
    assert_eq!(table.stdout.matches("class=\"chart-ranks\"").count(), 1);
    let page = scratch.path().join("table.html");
    std::fs::write(&page, &table.stdout).unwrap();
    assert_renders(&page, 3, None);
}

#[test]
fn a_compare_page_with_thumbnails_renders_in_headless_chromium() {
    let Some(shared) = shared() else { return };
    if !browser_available() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let sample = shared.join("imagenet-sample");
    let broken = "coral/broken-mobilenet_v2_1.0_224_quant";
    for model in [MODEL, broken] {
        let verified = run(zoorepro(&cache)
            .args(["verify", "--model", model, "--onnx"])
            .arg(shared_model(&shared, model))
            .arg("--val")
            .arg(&sample)
            .arg("--report-dir")
            .arg(scratch.path().join("reports")));
        assert!(verified.status <= 1, "{}", verified.stderr);
    }
    let compared = run(zoorepro(&cache)
        .args([
            "compare", MODEL, broken, "--format", "html", "--limit", "5", "--val",
        ])
        .arg(&sample));
    assert_eq!(compared.status, 0, "{}", compared.stderr);
    // 37 images differ (72 vs 53 right, MODELS.md's two models); 5 thumbnails, the rest counted.
    let page = &compared.stdout;
    assert!(page.contains("Images whose top-1 differs (37)"), "{page}");
    assert_eq!(page.matches("src=\"data:image/png;base64,").count(), 5);
    assert!(page.contains("5 shown, 32 left out"));
    let file = scratch.path().join("compare.html");
    std::fs::write(&file, page).unwrap();
    assert_renders(&file, 1, None);
}

/// The DOM headless Chromium renders of `page`, scripts and network off as check_html.sh has them.
fn rendered_dom(page: &std::path::Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The newest HTML report under `dir` and the JSON record beside it.
fn newest_report(dir: &std::path::Path) -> (std::path::PathBuf, serde_json::Value) {
    let mut pages: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    pages.sort();
    let page = pages.pop().expect("an HTML report");
    let json = std::fs::read_to_string(page.with_extension("json")).unwrap();
    (page, serde_json::from_str(&json).unwrap())
}

#[test]
fn the_run_page_badge_is_the_record_verdict_and_names_what_decided_it() {
    let Some(shared) = shared() else { return };
    if !browser_available() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let onnx = shared_model(&shared, "pypi/efficientnet_lite0");
    let zoo = |args: &[&str]| {
        run(Command::new(env!("CARGO_BIN_EXE_zoorepro"))
            .env("ZOOREPRO_HOME", &home)
            .arg("--cache-dir")
            .arg(scratch.path().join("cache"))
            .args(args))
    };
    // Full-set references: the sample, part of the validation set, is judged by its interval,
    // which holds 68 (consistent) and misses 95 (drift).
    let sample = shared.join("imagenet-sample");
    let shots = scratch.path().join("shots");
    for (id, reference, status, exit) in [
        ("mine/effnet", "paper:68:93", "consistent", 0),
        ("mine/effnet-far", "paper:95:99", "drift", 1),
    ] {
        let added = zoo(&[
            "add-model",
            onnx.to_str().unwrap(),
            "--id",
            id,
            "--resize-mode",
            "shorter-side",
            "--size",
            "224",
            "--crop",
            "224",
            "--filter",
            "BILINEAR",
            "--scale",
            "255",
            "--mean",
            "0.485,0.456,0.406",
            "--std",
            "0.229,0.224,0.225",
            "--channels",
            "rgb",
            "--reference",
            reference,
        ]);
        assert_eq!(added.status, 0, "{}", added.stderr);
        let verified = zoo(&["verify", "--model", id, "--val", sample.to_str().unwrap()]);
        assert_eq!(verified.status, exit, "{}", verified.stderr);
        let (page, record) = newest_report(&home.join("reports").join(id));
        assert_eq!(record["verdict"]["status"], status);
        let dom = rendered_dom(&page);
        let badge = format!("<span class=\"verdict {status}\" id=\"verdict\">{status}</span>");
        assert!(dom.contains(&badge), "{dom}");
        assert!(!dom.contains("class=\"verdict reproduced\""), "{dom}");
        assert!(dom.contains("<th>decided by</th><td>paper</td>"), "{dom}");
        assert_renders(&page, 2, Some(&shots));
    }
    // A folder of unlabelled files: no percentage, no chart, the grey badge.
    let mine = scratch.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    for (i, (_, path)) in common::sample_files(&shared)
        .into_iter()
        .take(5)
        .enumerate()
    {
        std::fs::copy(path, mine.join(format!("photo{i}.jpg"))).unwrap();
    }
    let empty = zoo(&[
        "verify",
        "--model",
        "mine/effnet",
        "--val",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(empty.status, 3, "{}", empty.stderr);
    let (page, record) = newest_report(&home.join("reports/mine/effnet"));
    assert_eq!(record["verdict"]["status"], "no-reference");
    let dom = rendered_dom(&page);
    assert!(
        dom.contains("<span class=\"verdict no-reference\" id=\"verdict\">no-reference</span>")
            && dom.contains("<td class=\"num\">n/a</td>")
            && dom.contains("<th>decided by</th><td>no reference</td>"),
        "{dom}"
    );
}
