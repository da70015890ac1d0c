//! Escaping for the text formats: scenario, endpoint and policy names and
//! invariant details are user text and must never become markup.

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
