//! Escaping for the text formats: scenario, endpoint and policy names and
//! invariant details are user text and must never become markup, nor, in
//! plain output, a line of its own: on GitHub Actions a line of a step's
//! output that begins with `::` (after leading spaces) is a workflow command
//! (`::warning::`, `::add-mask::`, `::stop-commands::`), and `##[` anywhere
//! in a line is the older form of one.

use windtunnel_core::is_line_control;
pub use windtunnel_core::plain_line;
/// XML and HTML text: core's escaper, shared with the policy crate's JUnit.
pub(crate) use windtunnel_core::xml_escape as xml;

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
            // Other control characters as their escape (`\u{1b}`), its
            // backslash escaped for Markdown.
            c if is_line_control(c) => out.push_str(&c.escape_debug().to_string().replace('\\', "\\\\")),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span for a name (endpoint, policy), safe in a table cell:
/// a backtick inside gets a longer fence, `|` is escaped (GitHub honours `\|`
/// inside code spans in tables), line breaks become spaces.
pub(crate) fn md_code(s: &str) -> String {
    let mut body = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => body.push(' '),
            c if is_line_control(c) => body.extend(c.escape_debug()),
            c => body.push(c),
        }
    }
    let body = body.replace('|', "\\|");
    if body.contains('`') { format!("`` {body} ``") } else { format!("`{body}`") }
}

/// Escapes a GitHub workflow command's message (`%`, CR, LF); other
/// control characters, which the syntax has no escape for, become their Rust
/// escape (`\u{1b}`) as in [`plain_line`].
pub(crate) fn gh_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if is_line_control(c) => out.extend(c.escape_debug()),
            c => out.push(c),
        }
    }
    out
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
    fn markdown_cells_cannot_break_tables() {
        assert_eq!(md("a|b\n<script>"), "a\\|b &lt;script&gt;");
        assert_eq!(md_code("a|b"), "`a\\|b`");
        assert_eq!(md_code("a`b"), "`` a`b ``");
    }

    #[test]
    fn github_commands_escape_their_separators() {
        assert_eq!(gh_data("100%\nok"), "100%25%0Aok");
        assert_eq!(gh_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(gh_data("a\u{1b}[2Kb\u{85}c"), "a\\u{1b}[2Kb\\u{85}c");
    }

    #[test]
    fn plain_text_cannot_start_a_line_or_a_workflow_command() {
        assert_eq!(plain_line("quickstart"), "quickstart");
        assert_eq!(plain_line("my scenario: v2.1 (50%)"), "my scenario: v2.1 (50%)");
        assert_eq!(plain_line("x\n::warning::forged"), "x\\n::warning::forged");
        assert_eq!(plain_line("a\r\n\tb"), "a\\r\\n\\tb");
        assert_eq!(plain_line("::error::forged"), "\\u{3a}:error::forged");
        assert_eq!(plain_line("  ::error::forged"), "  \\u{3a}:error::forged");
        assert_eq!(plain_line("\n::error::x"), "\\n\\u{3a}:error::x");
        assert_eq!(plain_line("a ##[warning]b"), "a \\u{23}#[warning]b");
        assert_eq!(plain_line("\u{1b}[31mred\u{2028}x\u{85}"), "\\u{1b}[31mred\\u{2028}x\\u{85}");
        for evil in ["x\n::warning::y", "::a", " \u{2028}::b", "a\rb", "\u{85}::c"] {
            let out = plain_line(evil);
            assert!(!out.chars().any(is_line_control), "{out:?}");
            assert!(!out.trim_start().starts_with("::"), "{out:?}");
        }
    }

    #[test]
    fn markdown_escapes_every_control_character() {
        assert_eq!(md("a\u{1b}b"), "a\\\\u{1b}b");
        assert_eq!(md_code("a\u{85}b"), "`a\\u{85}b`");
    }
}
