//! XML escaping, shared by every writer of XML and HTML (the report's
//! pages and JUnit, the policy tests' JUnit): user text (names, messages,
//! invariant details) must never become markup or make a file unparseable.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(xml_escape(r#"<a href="x">&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(xml_escape("a\nb\u{1}c\u{fffe}"), "a&#10;b\u{fffd}c\u{fffd}");
    }
}
