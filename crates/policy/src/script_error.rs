//! rhai's errors, reworded once: a lowercase message in our voice, the line
//! and column where it happened, and the script function it happened in.
//!
//! rhai wraps an error raised inside a nested script function in one
//! `ErrorInFunctionCall` per level; the innermost error carries the real
//! position. Limit errors (operations, call depth, sizes) are passed straight
//! up instead, and rhai moves their position to each call site on the way, so
//! by the time they reach us they have none: we say which limit was hit.

use crate::engine::{MAX_ARRAY_SIZE, MAX_CALL_LEVELS, MAX_MAP_SIZE, MAX_STRING_SIZE, MAX_VARIABLES};
use rhai::{EvalAltResult, ParseError, Position};

/// A script failure, ready for a [`PolicyFailure`](windtunnel_core::PolicyFailure)
/// or a [`PolicyError`](crate::PolicyError).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScriptError {
    /// What went wrong, lowercase, no position.
    pub(crate) message: String,
    /// Line and column, when rhai knows them.
    pub(crate) position: Option<(u32, u32)>,
    /// The script functions the error passed through, outermost first (not
    /// counting the called function itself); the last is where it happened.
    pub(crate) functions: Vec<String>,
}

impl ScriptError {
    /// A failure that is ours (a plan of the wrong shape), not rhai's.
    pub(crate) fn new(message: impl Into<String>, position: Option<(u32, u32)>) -> ScriptError {
        ScriptError { message: message.into(), position, functions: Vec::new() }
    }

    /// From a runtime error; `max_operations` is the engine's limit, for the message.
    pub(crate) fn from_eval(err: &EvalAltResult, max_operations: u64) -> ScriptError {
        let mut functions = Vec::new();
        let mut inner = err;
        while let EvalAltResult::ErrorInFunctionCall(name, _, e, _) = inner {
            functions.push(name.clone());
            inner = e;
        }
        let message = match inner {
            EvalAltResult::ErrorTooManyOperations(_) => crate::meter::too_many_operations(max_operations),
            EvalAltResult::ErrorStackOverflow(_) => {
                format!("too many nested function calls (the limit is {MAX_CALL_LEVELS}): endless recursion?")
            }
            EvalAltResult::ErrorDataTooLarge(what, _) => match what.as_str() {
                "Length of string" => format!("string longer than the limit of {MAX_STRING_SIZE} bytes"),
                "Size of object map" => format!("map larger than the limit of {MAX_MAP_SIZE} entries"),
                _ => format!("array larger than the limit of {MAX_ARRAY_SIZE} items"),
            },
            // The limits of `meter` stop a call with their message as the token.
            EvalAltResult::ErrorTerminated(token, _) => token.to_string(),
            EvalAltResult::ErrorTooManyVariables(_) => {
                format!("too many variables (the limit is {MAX_VARIABLES})")
            }
            EvalAltResult::ErrorRuntime(value, _) => match value.clone().into_immutable_string() {
                Ok(s) if !s.is_empty() => s.to_string(),
                _ => format!("thrown: {value}"),
            },
            other => strip_position(&other.to_string(), other.position()),
        };
        // rhai spells the string type as the Rust types it accepts.
        let message = message.replace("&str | ImmutableString | String", "string");
        ScriptError { message, position: line_col(inner.position()), functions }
    }

    /// From a compile error.
    pub(crate) fn from_parse(err: &ParseError) -> ScriptError {
        ScriptError { message: lowercase_first(&err.0.to_string()), position: line_col(err.1), functions: Vec::new() }
    }
}

/// A rhai position as 1-based `(line, column)`.
pub(crate) fn line_col(pos: Position) -> Option<(u32, u32)> {
    let line = u32::try_from(pos.line()?).ok()?;
    let col = pos.position().and_then(|c| u32::try_from(c).ok()).unwrap_or(1);
    Some((line, col))
}

/// rhai's text without its ` (line L, position C)` suffix, lowercased.
fn strip_position(text: &str, pos: Position) -> String {
    let suffix = format!(" ({pos})");
    lowercase_first(text.strip_suffix(suffix.as_str()).unwrap_or(text))
}

/// `Variable not found` → `variable not found`; `API` stays.
fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && !b.is_uppercase() => {
            let mut out = a.to_lowercase().collect::<String>();
            out.push_str(&s[a.len_utf8()..]);
            out
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_only_words() {
        assert_eq!(lowercase_first("Variable not found: x"), "variable not found: x");
        assert_eq!(lowercase_first("API down"), "API down");
        assert_eq!(lowercase_first(""), "");
    }
}
