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
    // As the browser shows it: every label set's values in a column of its own (not only their
    // ranks), and every verdict beside the reference that decided it (issue 38).
    let dom = rendered_dom(&page);
    for header in ["ReaL top-1", "cleaned top-1", "corrected top-1"] {
        assert!(
            dom.contains(&format!("<th>{header}</th>")),
            "{header}: {dom}"
        );
    }
    // pytorch/resnet152's ReaL top-1 from the seed cache, a value in its cell.
    assert!(
        dom.contains("<td class=\"num labels\" title=\"top-5 "),
        "{dom}"
    );
    let verdicts = dom.matches("<span class=\"verdict ").count();
    assert!(verdicts >= 5, "{verdicts}");
    assert_eq!(
        dom.matches("</span> vs ").count(),
        verdicts,
        "every verdict names its deciding reference: {dom}"
    );
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
    assert_renders(&file, 1, Some(&scratch.path().join("shots")));
    // Laid out by the browser: no card's text runs past its card (long class names wrap).
    assert_eq!(
        overflowing(&file, "figure"),
        "",
        "cards whose text overflows"
    );
}

/// The elements matching `selector` whose content is wider than their box, as Chromium lays
/// out `page` at 1000 px (check_html.sh's width): their text, `|`-separated, empty when none.
/// The page is copied with a script that writes the answer into the DOM Chromium dumps (the
/// pages themselves carry no script).
fn overflowing(page: &std::path::Path, selector: &str) -> String {
    let html = std::fs::read_to_string(page).unwrap();
    let probe = format!(
        "<script>document.body.dataset.overflowing=[...document.querySelectorAll('{selector}')]\
         .filter(e=>e.scrollWidth>e.clientWidth+1).map(e=>e.textContent.trim().slice(0,60)).join('|')\
         ;document.body.dataset.checked='yes';</script></body>"
    );
    let probed = page.with_extension("probe.html");
    std::fs::write(&probed, html.replacen("</body>", &probe, 1)).unwrap();
    let dom = rendered_dom(&probed);
    assert!(dom.contains("data-checked=\"yes\""), "the probe ran: {dom}");
    dom.split("data-overflowing=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
        .to_string()
}

#[test]
fn an_explain_page_states_its_comparison_and_renders_in_headless_chromium() {
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
    // A full-set reference, so that a sample of 10 is judged by its intervals: too few images
    // to tell the candidates apart. The recipe sources join, with their long names.
    let added = zoo(&[
        "add-model",
        onnx.to_str().unwrap(),
        "--id",
        "mine/effnet",
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
        "paper:68:93",
    ]);
    assert_eq!(added.status, 0, "{}", added.stderr);
    let sample = shared.join("imagenet-sample");
    let explained = zoo(&[
        "explain",
        "--model",
        "mine/effnet",
        "--val",
        sample.to_str().unwrap(),
        "--samples",
        "10",
        "--format",
        "html",
    ]);
    assert_eq!(explained.status, 1, "{}", explained.stderr);
    let page = scratch.path().join("explain.html");
    std::fs::write(&page, &explained.stdout).unwrap();
    assert_renders(&page, 1, Some(&scratch.path().join("shots")));
    let dom = rendered_dom(&page);
    for said in [
        "<li>Sample: 10 images of ",
        "(10 labelled, labels from the layout).",
        "<li>Reference: paper: 68.00% top-1, 93.00% top-5, measured on ilsvrc2012-val (50,000 images) with the original ILSVRC2012 labels; the sample is a part of that set.",
        "<li>Cannot tell apart: ",
        "<th class=\"num\">top-5</th>",
        "Dashed line: the reference, 68.00% top-1.",
    ] {
        assert!(dom.contains(said), "{said}: {dom}");
    }
    // Long candidate names wrap in the table and are cut in the chart's label column, which
    // ends where the plot begins (320 px).
    assert_eq!(
        overflowing(&page, "td"),
        "",
        "table cells whose text overflows"
    );
    let probe = page.with_extension("labels.html");
    let html = std::fs::read_to_string(&page).unwrap().replacen(
        "</body>",
        "<script>document.body.dataset.widest=Math.max(...[...document.querySelectorAll('svg.chart-explain text[x=\"0\"]')]\
         .map(t=>t.getComputedTextLength()));</script></body>",
        1,
    );
    std::fs::write(&probe, html).unwrap();
    let dom = rendered_dom(&probe);
    let widest: f64 = dom
        .split("data-widest=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("the probe ran: {dom}"));
    assert!(
        widest > 50.0 && widest < 315.0,
        "the widest chart label is {widest} px"
    );
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
