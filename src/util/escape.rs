//! File names and messages come from users and archives, and reach three outputs that each give
//! some characters a meaning: a terminal (control characters move the cursor, `\r` overwrites a
//! line, ANSI sequences recolour or hide text), Markdown (a backtick ends a code span, `<` starts
//! live HTML, `|` a table cell) and JSON (serde escapes it already). Each output gets its own
//! escaping here, so a hostile name can neither forge a line nor inject markup.

use std::fmt::Write;

/// Characters that change how a terminal shows the text around them: C0 and C1 controls, DEL,
/// and the Unicode bidirectional overrides that reorder what is displayed.
pub fn is_dangerous(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Text for a terminal: every control character (and bidi override) as a visible escape
/// (`\r`, `\x1b`, `\u{202e}`), everything else as is.
pub fn terminal(text: &str) -> String {
    visible(text, is_dangerous)
}

/// `text` with each character `hidden` says as a visible escape.
fn visible(text: &str, hidden: impl Fn(char) -> bool) -> String {
    if !text.chars().any(&hidden) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// How much of a value a message repeats: a longer one (a 100 kB `--recipe`, by mistake or not)
/// is cut, so that one error stays one readable line.
pub const QUOTED_CHARS: usize = 200;

/// `text` as a message repeats a value given to it: whole when short, else its first
/// [`QUOTED_CHARS`] characters, `…` and its length (`xxx… (100000 bytes)`).
pub fn ellipsize(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => text.into(),
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()).into(),
    }
}

/// `text` in double quotes with Rust's escapes (as `{:?}` writes it), cut as [`ellipsize`] cuts
/// it: `"xxx"… (100000 bytes)`. Every message that quotes a value a user gave goes through it.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => format!("{text:?}"),
        Some((end, _)) => format!("{:?}… ({} bytes)", &text[..end], text.len()),
    }
}

/// A page for a browser (HTML, already escaped for markup): every control character but the
/// line breaks and tabs that lay it out, and every bidi override, as a visible escape, so that
/// a name can neither hide text nor reorder what the page shows.
pub fn page(text: &str) -> String {
    visible(text, |c| is_dangerous(c) && !matches!(c, '\n' | '\t'))
}

/// Text as a Markdown code span inside a table cell, which nothing in the text can end: the fence
/// is one backtick longer than the longest run of backticks inside, padded with spaces when the
/// text starts or ends with one (CommonMark strips one space each side), pipes are escaped for
/// GFM tables, and control characters are visible escapes. Inside a code span HTML is inert.
pub fn markdown_code(text: &str) -> String {
    let visible = terminal(text).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in visible.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if visible.starts_with('`') || visible.ends_with('`') || visible.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{visible}{pad}{fence}")
}

/// Text as plain Markdown (a table cell or a list item): HTML special characters as entities,
/// the punctuation that starts code, emphasis, links or cells backslash-escaped (`_` is inert
/// inside words, as ids have it), control characters visible, on one line.
pub fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            // `\r` and `\x1b` show literally: a backslash before a letter is no escape.
            c if is_dangerous(c) => push_visible(&mut out, c),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '[' | ']' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_quoted_in_part_with_its_length() {
        assert_eq!(quote("torch\"vision"), "\"torch\\\"vision\"");
        assert_eq!(ellipsize("short"), "short");
        let long = "é".repeat(100_000);
        let quoted = quote(&long);
        assert_eq!(quoted.chars().filter(|&c| c == 'é').count(), QUOTED_CHARS);
        assert!(quoted.ends_with("\"… (200000 bytes)"), "{quoted}");
        assert!(ellipsize(&long).ends_with("é… (200000 bytes)"));
        assert_eq!(quote(&"x".repeat(QUOTED_CHARS)).len(), QUOTED_CHARS + 2);
    }

    #[test]
    fn terminal_escapes_forge_nothing() {
        assert_eq!(terminal("a.JPEG"), "a.JPEG");
        assert_eq!(
            terminal("x\rOK\x1b[2K\n\u{202e}gepj.exe"),
            "x\\rOK\\x1b[2K\\n\\u{202e}gepj.exe"
        );
        assert_eq!(terminal("\u{9b}31m"), "\\x9b31m");
    }

    #[test]
    fn a_page_keeps_its_layout_and_shows_the_rest() {
        assert_eq!(page("<p>a\n\tb</p>"), "<p>a\n\tb</p>");
        assert_eq!(
            page("a\x1b[2K\x07\r\u{202e}b"),
            "a\\x1b[2K\\x07\\r\\u{202e}b"
        );
    }

    #[test]
    fn code_spans_cannot_be_ended_from_inside() {
        assert_eq!(markdown_code("a.JPEG"), "`a.JPEG`");
        let hostile = "x`<img src=x onerror=alert(1)>``y";
        let span = markdown_code(hostile);
        assert_eq!(span, "```x`<img src=x onerror=alert(1)>``y```");
        assert_eq!(markdown_code("`a"), "`` `a ``");
        assert_eq!(markdown_code("a|b\nc"), "`a\\|b\\nc`");
    }

    #[test]
    fn text_has_no_live_html_or_markup() {
        let text = markdown_text("<script>alert(1)</script> *x* | [l](u) \r");
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('\r'));
        assert!(text.contains("&lt;script&gt;"));
        assert!(text.contains("\\*x\\*") && text.contains("\\|") && text.contains("\\[l\\]"));
    }
}
