//! `compare`'s Markdown format, what a pipe gets by default: the same figures and lists as
//! tables, the store's text escaped for Markdown and file names in code spans.

use std::fmt::Write;

use super::{Comparison, class_heading, class_rows, findings, listed, sides};
use crate::report::Render;
use crate::util::escape::{markdown_code, markdown_text};

/// The Markdown report, listing at most `limit` differing images (0: all).
pub struct Markdown {
    pub limit: usize,
}

impl Render<Comparison> for Markdown {
    fn render(&self, c: &Comparison) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = write(&mut out, c, self.limit);
        out
    }
}

fn write(out: &mut String, c: &Comparison, limit: usize) -> std::fmt::Result {
    writeln!(out, "# Run {} vs run {}\n", c.a.run, c.b.run)?;
    writeln!(out, "| | A | B |\n|---|---|---|")?;
    for [what, a, b] in sides(c, markdown_text) {
        writeln!(out, "| {what} | {a} | {b} |")?;
    }
    for line in c.pairing.lines() {
        writeln!(out, "\n{}", markdown_text(&line))?;
    }
    writeln!(out, "\nOn the {} images both scored:\n", c.images)?;
    for line in findings(c) {
        writeln!(out, "- {line}")?;
    }
    if !c.class_changes.is_empty() {
        writeln!(out, "\n## {}\n", class_heading(c))?;
        for (i, row) in class_rows(c).iter().enumerate() {
            writeln!(out, "| {} |", row.join(" | "))?;
            if i == 0 {
                writeln!(out, "|---|---|---|---|---|")?;
            }
        }
    }
    if c.top1_differs.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n## Images whose top-1 differs ({})\n",
        c.top1_differs.len()
    )?;
    let (shown, note) = listed(c, limit);
    if let Some(note) = note {
        writeln!(out, "{note}\n")?;
    }
    writeln!(
        out,
        "| file | label | A top-1 | B top-1 |\n|---|---|---|---|"
    )?;
    for d in shown {
        writeln!(
            out,
            "| {} | {} {} | {} {} | {} {} |",
            markdown_code(&d.file),
            d.label,
            d.label_name,
            d.a_top1,
            d.a_name,
            d.b_top1,
            d.b_name
        )?;
    }
    Ok(())
}
