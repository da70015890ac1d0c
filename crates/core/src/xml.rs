//! Escaping user text, shared by every writer: for XML and HTML (the
//! report's pages, JUnit), user text (names, messages, invariant details)
//! must never become markup or make a file unparseable; for one line of plain
//! output ([`plain_line`]: `check`'s lines, JUnit names), it must never end
//! the line or start a CI workflow command.

use std::fmt::Write;

/// Escapes text for XML and HTML, in element content and in quoted attribute
/// values alike: the five markup characters become entities, tab, newline and
/// carriage return become character references (attribute normalization would
/// otherwise turn them into spaces), and characters XML 1.0 forbids even as
/// references (other C0 controls, U+FFFE, U+FFFF) become U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Whether `c` may not appear raw in one line of output: a control
/// character (C0, DEL, C1 such as NEL) or a Unicode line or paragraph separator.
pub fn is_line_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// User text (a scenario, class or endpoint name, a policy's error message)
/// made safe to print inside one line of plain output, such as `check`'s
/// lines or `run`'s summary:
/// - control characters become their Rust escapes (`\n`, `\r`, `\t`,
///   `\u{1b}`, ...), so the text can neither end the line nor start another,
///   nor move a terminal's cursor;
/// - a leading `::` (after spaces) has its first `:` escaped as `\u{3a}`, so
///   the text cannot begin a workflow command even where it opens a line;
/// - `##[` has its first `#` escaped as `\u{23}` (the older command form,
///   honoured anywhere in a line).
///
/// Text without any of these is returned as it is: `quickstart` stays
/// `quickstart`.
pub fn plain_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let body = s.trim_start();
    let lead = &s[..s.len() - body.len()];
    for c in lead.chars() {
        if is_line_control(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    let mut rest = body;
    if let Some(after) = rest.strip_prefix("::") {
        out.push_str("\\u{3a}:");
        rest = after;
    }
    for (i, c) in rest.char_indices() {
        if c == '#' && rest[i..].starts_with("##[") {
            out.push_str("\\u{23}");
        } else if is_line_control(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(xml_escape(r#"<a href="x">&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(xml_escape("a\nb\u{1}c\u{fffe}"), "a&#10;b\u{fffd}c\u{fffd}");
    }
}
