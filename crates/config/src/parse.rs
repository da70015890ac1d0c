//! TOML text → [`RawScenario`], with toml's and serde's errors reworded into
//! [`ConfigErrorKind`]s that name the key path.
//!
//! Why reword: serde says "unknown field `latncy`, expected one of `name`,
//! `price`, ..." and "invalid type: string \"many\", expected u32", with no
//! key path. `serde_path_to_error` supplies the path, toml's error its byte
//! span; the text is parsed back into structured fields here, once, so every
//! other module deals only in [`ConfigError`].

use crate::error::{ConfigError, ConfigErrorKind, Location, did_you_mean, line_col};
use crate::raw::RawScenario;
use serde_path_to_error::Segment;
use std::path::Path;

/// Parses `text` into its raw form; errors point into `file`.
pub(crate) fn parse_raw(text: &str, file: &Path) -> Result<RawScenario, ConfigError> {
    let at = |span: Option<std::ops::Range<usize>>| {
        let (line, col) = line_col(text, span.map_or(0, |s| s.start));
        Location::File { file: file.to_path_buf(), line, col }
    };
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let mut message = one_line(e.message());
        // toml says "duplicate key" without the key; it starts at the span.
        if message.contains("duplicate key")
            && let Some(key) = e.span().and_then(|s| key_at(text, s.start))
        {
            message = message.replacen("duplicate key", &format!("duplicate key `{key}`"), 1);
        }
        ConfigError::new(at(e.span()), ConfigErrorKind::Syntax { message })
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = path_segments(e.path());
        let inner = e.into_inner();
        ConfigError::new(at(inner.span()), reword(inner.message(), path))
    })
}

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// `endpoints[0].faults[1].start`.
pub(crate) fn render_path(segs: &[Seg]) -> String {
    let mut out = String::new();
    for s in segs {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn path_segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            // `toml::Spanned` travels as a map with private keys; they are not the user's.
            Segment::Map { key } if key.starts_with("$__") => None,
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            Segment::Unknown => Some(Seg::Key("?".to_string())),
        })
        .collect()
}

/// The bare key written at byte `at` (`max_output_tokens` in
/// `max_output_tokens = 5`), if one starts there.
fn key_at(text: &str, at: usize) -> Option<&str> {
    let rest = text.get(at..)?.trim_start_matches([' ', '\t', '[']);
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Keys whose value is a table: an array there is refused as such, not as
/// the table's first field read by position (serde reads a struct from a
/// sequence too).
const TABLE_KEYS: [&str; 17] = [
    "trace",
    "synthetic",
    "assert",
    "price",
    "long_context",
    "tokenizer",
    "latency",
    "rate_limit",
    "errors",
    "quality",
    "breaker",
    "retry",
    "budgets",
    "cache",
    "sla",
    "ttft_ms",
    "tokens_per_s",
];

fn one_line(message: &str) -> String {
    message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(", ")
}

/// Turns serde's message for a value at `path` into a structured kind.
fn reword(message: &str, mut path: Vec<Seg>) -> ConfigErrorKind {
    // An array where a table belongs: serde read the table's fields by
    // position, so its message names a field or "struct RawX with N elements".
    if let Some(i) = path
        .windows(2)
        .position(|w| matches!((&w[0], &w[1]), (Seg::Key(k), Seg::Index(_)) if TABLE_KEYS.contains(&k.as_str())))
    {
        return ConfigErrorKind::InvalidType {
            key: render_path(&path[..=i]),
            found: "an array".into(),
            expected: "a table".into(),
        };
    }
    if message.starts_with("invalid length") && message.contains("expected struct ") {
        return ConfigErrorKind::InvalidType {
            key: render_path(&path),
            found: "an array".into(),
            expected: "a table".into(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, tail) = rest.split_once('`').unwrap_or((rest, ""));
        if path.last() == Some(&Seg::Key(key.to_string())) {
            path.pop();
        }
        let expected = backticked_names(tail);
        return ConfigErrorKind::UnknownKey {
            table: render_path(&path),
            key: key.to_string(),
            suggestion: did_you_mean(key, expected.iter().map(String::as_str)),
            expected,
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split_once('`').map_or(rest, |(k, _)| k);
        return ConfigErrorKind::MissingKey { table: render_path(&path), key: key.to_string() };
    }
    let key = render_path(&path);
    for (prefix, is_type) in [("invalid type: ", true), ("invalid value: ", false)] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.rsplit_once(", expected ")
        {
            return if is_type {
                ConfigErrorKind::InvalidType { key, found: found_type(found), expected: expected_type(expected) }
            } else {
                ConfigErrorKind::InvalidValue { key, found: found_value(found), expected: expected_value(expected) }
            };
        }
    }
    ConfigErrorKind::Other { key, message: one_line(message) }
}

/// The names between backticks in `expected one of `a`, `b``.
fn backticked_names(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// serde's `Unexpected` in TOML's words, for a type mismatch.
fn found_type(found: &str) -> String {
    match found {
        "map" => "a table".to_string(),
        "sequence" => "an array".to_string(),
        _ => match found.strip_prefix("floating point ") {
            Some(v) => format!("float {v}"),
            None => found.to_string(),
        },
    }
}

/// serde's `Unexpected` for a value of the right type: just the value.
fn found_value(found: &str) -> String {
    for prefix in ["integer ", "floating point ", "boolean "] {
        if let Some(v) = found.strip_prefix(prefix) {
            return v.trim_matches('`').to_string();
        }
    }
    match found.strip_prefix("string ") {
        Some(s) => format!("`{}`", s.trim_matches('"')),
        None => found_type(found),
    }
}

/// serde's expectation (often a Rust type name) in TOML's words.
fn expected_type(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => {
            "an integer".to_string()
        }
        "f32" | "f64" => "a number".to_string(),
        "a borrowed string" => "a string".to_string(),
        "a sequence" => "an array".to_string(),
        "a map" => "a table".to_string(),
        e if e.starts_with("struct ") => "a table".to_string(),
        e => e.to_string(),
    }
}

/// Like [`expected_type`], with the range an integer type allows.
fn expected_value(expected: &str) -> String {
    match expected {
        "u8" => "an integer from 0 to 255".to_string(),
        "u16" => "an integer from 0 to 65535".to_string(),
        "u32" => "an integer from 0 to 4294967295".to_string(),
        "u64" | "usize" => "an integer of 0 or more".to_string(),
        e => expected_type(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewords_serde_messages() {
        let path = vec![Seg::Key("endpoints".into()), Seg::Index(0), Seg::Key("concurrency".into())];
        let k = reword("invalid type: string \"many\", expected u32", path.clone());
        assert_eq!(
            k.to_string(),
            "invalid type for `endpoints[0].concurrency`: found string \"many\", expected an integer"
        );
        let k = reword("invalid value: integer `-5`, expected u32", path);
        assert_eq!(
            k.to_string(),
            "invalid value for `endpoints[0].concurrency`: found -5, expected an integer from 0 to 4294967295"
        );
        let k = reword("unknown field `zzz`, expected `name` or `price`", vec![Seg::Key("zzz".into())]);
        assert_eq!(k.to_string(), "unknown key `zzz` in the scenario, expected one of `name`, `price`");
    }
}
