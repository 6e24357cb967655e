//! `compare`'s text format, for a terminal: the side-by-side figures and the lists in aligned
//! columns, the store's text escaped for the terminal.

use std::fmt::Write;

use super::{Comparison, class_heading, class_rows, findings, listed, sides, thousands};
use crate::report::Render;
use crate::util::escape::terminal;
use crate::util::text_table::aligned;

/// The text report, listing at most `limit` differing images (0: all).
pub struct Text {
    pub limit: usize,
}

impl Render<Comparison> for Text {
    fn render(&self, c: &Comparison) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = write(&mut out, c, self.limit);
        out
    }
}

fn write(out: &mut String, c: &Comparison, limit: usize) -> std::fmt::Result {
    writeln!(out, "Run {} vs run {}\n", c.a.run, c.b.run)?;
    let mut table = vec![[String::new(), "A".into(), "B".into()]];
    table.extend(sides(c, terminal));
    write!(out, "{}", aligned(&table))?;
    for line in c.pairing.lines() {
        writeln!(out, "\n{}", terminal(&line))?;
    }
    writeln!(out, "\nOn the {} images both scored:", c.images)?;
    for line in findings(c) {
        writeln!(out, "  {line}")?;
    }
    if !c.class_changes.is_empty() {
        writeln!(out, "\n{}", class_heading(c))?;
        write!(out, "{}", aligned(&class_rows(c)))?;
    }
    if c.top1_differs.is_empty() {
        return Ok(());
    }
    let (shown, note) = listed(c, limit);
    let heading = note.unwrap_or_else(|| {
        format!(
            "{} images whose top-1 differs",
            thousands(c.top1_differs.len())
        )
    });
    writeln!(out, "\n{heading}")?;
    let mut rows = vec![["file", "label", "A top-1", "B top-1"].map(String::from)];
    rows.extend(shown.iter().map(|d| {
        [
            terminal(&d.file),
            format!("{} {}", d.label, d.label_name),
            format!("{} {}", d.a_top1, d.a_name),
            format!("{} {}", d.b_top1, d.b_name),
        ]
    }));
    write!(out, "{}", aligned(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_columns_are_aligned() {
        let text = Text { limit: 5 }.render(&super::super::tests::comparison(25));
        assert!(text.contains("showing 5 of 25 images"), "{text}");
        let rows: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("file"))
            .collect();
        assert_eq!(rows.len(), 6, "{text}");
        let column = |line: &str| line.find("0 tench").unwrap();
        assert!(
            rows[1..]
                .iter()
                .all(|r| column(r) == rows[0].find("label").unwrap())
        );
        let model = text.lines().find(|l| l.starts_with("model")).unwrap();
        assert_eq!(
            model.find("pytorch/model3"),
            text.lines().nth(2).unwrap().find('A'),
            "{text}"
        );
        assert!(!text.contains('|'), "{text}");
    }
}
