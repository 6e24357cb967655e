//! Test support: files that a Python script writes with Pillow, each beside the bytes Pillow 13's
//! `convert('RGB')` makes of it (or `refused: <error>`), compared with what zoorepro decodes.

use super::decode_rgb;

/// Runs `script` (given the output folder) with the Python that has Pillow (`ZOOREPRO_PYTHON`)
/// and returns one line per file that zoorepro decodes differently from Pillow, or accepts where
/// Pillow refuses, or refuses where Pillow decodes. `None` when no such Python is available.
pub(super) fn mismatches_with_pillow(script: &str, extension: &str) -> Option<Vec<String>> {
    let python = std::env::var("ZOOREPRO_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_string());
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(dir.path())
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        crate::testing::skip(&format!("no Python with Pillow at {python}"));
        return None;
    }
    let names = std::fs::read_to_string(dir.path().join("names.txt")).unwrap();
    let mut mismatches = Vec::new();
    for name in names.lines() {
        let file = std::fs::read(dir.path().join(format!("{name}.{extension}"))).unwrap();
        let expected = std::fs::read(dir.path().join(format!("{name}.rgb"))).unwrap();
        let pillow_refuses = expected.starts_with(b"refused: ");
        match (decode_rgb(&file), pillow_refuses) {
            (Ok(image), false) if image.pixels == expected => {}
            (Err(_), true) => {}
            (Ok(_), false) => mismatches.push(format!("{name}: pixels differ")),
            (Ok(_), true) => mismatches.push(format!("{name}: Pillow refuses, we decode")),
            (Err(e), false) => mismatches.push(format!("{name}: Pillow decodes, we: {e}")),
        }
    }
    Some(mismatches)
}
