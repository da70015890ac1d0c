//! Escaping for the text formats: scenario, endpoint and policy names and
//! invariant details are user text and must never become markup.

use std::fmt::Write;

/// Escapes text for XML and HTML, in element content and in quoted attribute
/// values alike: the five markup characters become entities, tab, newline and
/// carriage return become character references (attribute normalization would
/// otherwise turn them into spaces), and characters XML 1.0 forbids even as
/// references (other C0 controls, U+FFFE, U+FFFF) become U+FFFD.
pub(crate) fn xml(s: &str) -> String {
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

/// Escapes text for a Markdown table cell: `|` would end the cell, a line
/// break the row, and `<`, `&` could open HTML, which GitHub renders.
pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' | '`' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span for a name (endpoint, policy), safe in a table cell:
/// a backtick inside gets a longer fence, `|` is escaped (GitHub honours `\|`
/// inside code spans in tables), line breaks become spaces.
pub(crate) fn md_code(s: &str) -> String {
    let body: String = s
        .chars()
        .map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|");
    if body.contains('`') { format!("`` {body} ``") } else { format!("`{body}`") }
}

/// Escapes a GitHub workflow command's message (`%`, CR, LF).
pub(crate) fn gh_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a GitHub workflow command's property value (the message's
/// escapes plus `:` and `,`, which end a property).
pub(crate) fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_controls() {
        assert_eq!(xml(r#"<a href="x">&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(xml("a\nb\u{1}c"), "a&#10;b\u{fffd}c");
    }

    #[test]
    fn markdown_cells_cannot_break_tables() {
        assert_eq!(md("a|b\n<script>"), "a\\|b &lt;script&gt;");
        assert_eq!(md_code("a|b"), "`a\\|b`");
        assert_eq!(md_code("a`b"), "`` a`b ``");
    }

    #[test]
    fn github_commands_escape_their_separators() {
        assert_eq!(gh_data("100%\nok"), "100%25%0Aok");
        assert_eq!(gh_property("a:b,c"), "a%3Ab%2Cc");
    }
}
