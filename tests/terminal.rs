//! What a person at a terminal sees: listings fitted to its width (run under a pseudo-terminal
//! made by util-linux `script`), and Ctrl-C during `verify`.

mod common;

use std::process::Command;

use common::repo;

/// Runs `zoorepro ARGS` on a pseudo-terminal of `rows` x `columns` (0 x 0: a terminal that does
/// not say its size) and returns its lines, or None when `script` is not installed.
fn on_terminal(rows: u16, columns: u16, args: &str) -> Option<Vec<String>> {
    let available = Command::new("script").arg("--version").output();
    if !available.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: util-linux `script` is not installed");
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
