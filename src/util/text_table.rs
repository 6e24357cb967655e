//! Aligned plain-text tables for a terminal: the same rows the Markdown output holds, in columns
//! padded to their widest cell instead of between pipes.

/// `rows` (the first is the header) in columns two spaces apart; trailing spaces trimmed.
pub fn aligned<R: AsRef<[String]>>(rows: &[R]) -> String {
    let columns = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (w, cell) in widths.iter().zip(row.as_ref()) {
            line.push_str(&format!("{cell:<w$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Markdown as zoorepro writes it, for a terminal: every table aligned in columns, headings
/// without their `#`s, cell escapes undone (the text is shown, not rendered).
pub fn from_markdown(markdown: &str) -> String {
    let mut out = String::new();
    let mut table: Vec<Vec<String>> = Vec::new();
    for line in markdown.lines() {
        if line.starts_with('|') {
            if !is_separator(line) {
                table.push(cells(line));
            }
            continue;
        }
        if !table.is_empty() {
            out.push_str(&aligned(&table));
            table.clear();
        }
        out.push_str(line.trim_start_matches('#').trim_start());
        out.push('\n');
    }
    if !table.is_empty() {
        out.push_str(&aligned(&table));
    }
    out
}

fn is_separator(line: &str) -> bool {
    line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// The cells of a table line, split at the pipes no backslash escapes, unescaped. Only a
/// backslash before ASCII punctuation is an escape (CommonMark's rule): the `\x1b` that stands
/// for a control character keeps its backslash, as `runs` and the terminal show it.
fn cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.trim().trim_start_matches('|').chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.clone().next() {
                Some(next) if next.is_ascii_punctuation() => {
                    cell.push(next);
                    chars.next();
                }
                _ => cell.push('\\'),
            },
            '|' => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    if !cell.trim().is_empty() {
        cells.push(cell);
    }
    cells
        .into_iter()
        .map(|c| {
            c.trim()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_become_aligned_columns() {
        let markdown = "## ilsvrc2012-val (50000 images)\n\n| rank | model |\n|---|---|\n| 1 | pytorch/resnet152 |\n| 10 | a \\| b &amp; c |\n\nNotes:\n- x\n";
        let text = from_markdown(markdown);
        assert_eq!(
            text,
            "ilsvrc2012-val (50000 images)\n\nrank  model\n1     pytorch/resnet152\n10    a | b & c\n\nNotes:\n- x\n"
        );
    }

    #[test]
    fn a_control_character_stays_a_visible_escape() {
        let name = "a\x1b[2Kb\r \\ c\t";
        let markdown = format!(
            "| model |\n|---|\n| {} |\n",
            crate::util::escape::markdown_text(name)
        );
        let text = from_markdown(&markdown);
        assert_eq!(
            text.lines().nth(1),
            Some(crate::util::escape::terminal(name).as_str()),
            "{text}"
        );
    }
}
