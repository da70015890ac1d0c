//! [`Secret`]: an API key or token that never prints. Its `Debug` and
//! `Display` say `<redacted>`, so a key cannot reach a log line, an error or
//! a report by accident; only [`Secret::expose`] hands the value out, at the
//! one place it goes on the wire.

use std::fmt;

/// A secret string (API key, client key, admin token).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the `Authorization` header it goes into.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with a presented token in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("sk-canary-123".into());
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        assert!(s.matches("sk-canary-123") && !s.matches("sk-canary-124") && !s.matches("sk"));
    }
}
