//! [`classify`]: an upstream's failed answer (status, headers, body) into
//! SPEC's error kinds, and the reading of error objects shared with the
//! stream parsers.
//!
//! Why one classifier for both dialects? OpenAI-compatible servers and
//! Anthropic disagree on bodies, not on statuses: the status decides the
//! kind, and the body only refines it where a status is ambiguous (a 429 that
//! is a spent quota, a 400 that is a context overflow or a refusal). Reading
//! every body shape in one place keeps the kinds identical whichever
//! upstream answered, which the failover rules (a quota benches the endpoint,
//! a context overflow fails over only to larger windows) depend on.
//!
//! Body shapes read: `{"error": {"message", "type", "code"}}` (OpenAI,
//! Azure, DeepSeek, Mistral, Groq, newer vLLM), `{"type": "error", "error":
//! {"type", "message"}}` (Anthropic), `[{"error": {...}}]` (Gemini's OpenAI
//! layer), `{"error": "text"}`, a top-level `{"message", "type", "code"}`
//! (older vLLM) and `{"detail": "text"}` (FastAPI servers). Any other body
//! is text.

use crate::retry_after::retry_after_ms;
use serde_json::Value;
use std::time::SystemTime;
use windtunnel_core::{AttemptError, ErrorKind};

/// The longest message kept from an upstream's error body, in characters:
/// enough for any provider's explanation, short enough for a log line.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Error codes and types of a spent quota or credit.
const QUOTA: &[&str] = &["insufficient_quota", "billing_hard_limit_reached", "billing_error"];
/// Codes and types of a rate limit proper.
const RATE_LIMIT: &[&str] = &["rate_limit_exceeded", "rate_limit_error"];
const OVERLOADED: &[&str] = &["overloaded_error"];
const CONTEXT: &[&str] = &["context_length_exceeded"];
/// Message words of a context overflow (OpenAI, vLLM, Anthropic, Mistral).
const CONTEXT_WORDS: &[&str] =
    &["context length", "maximum context", "context window", "too many tokens", "prompt is too long"];
const CONTENT: &[&str] = &["content_filter", "content_policy_violation"];
/// Message words of a refusal (Azure's content filter, Gemini's safety).
const CONTENT_WORDS: &[&str] = &["content management policy", "safety"];
const AUTH: &[&str] =
    &["authentication_error", "permission_error", "invalid_api_key", "invalid_authentication", "unauthorized"];
const BAD_REQUEST: &[&str] =
    &["invalid_request_error", "not_found_error", "request_too_large", "model_not_found", "invalid_request"];
const SERVER: &[&str] = &["api_error", "server_error", "internal_error", "internal_server_error"];

/// Classifies an upstream's failed answer into SPEC's kinds, with the
/// message to report.
///
/// `header(name)` looks a response header up case-insensitively (it is
/// called with lowercase names); `now` is the wall clock, for an HTTP-date
/// Retry-After.
///
/// The kind, from the status, refined by the body's error code, type or
/// message:
///
/// | status | kind |
/// |---|---|
/// | 429 | `rate_limited`; `quota_exceeded` when the code or type is `insufficient_quota`, `billing_hard_limit_reached` or `billing_error`, or the message mentions "quota" or "credit" (unless the code says `rate_limit_exceeded`) |
/// | 402 | `quota_exceeded` |
/// | 401, 403 | `auth` |
/// | 400, 404, 413, 422 | `context_exceeded` (`context_length_exceeded`, or "context length", "maximum context", "context window", "too many tokens", "prompt is too long"); `content_filter` (`content_filter`, `content_policy_violation`, "content management policy", "safety"); a 400 with a quota code or "credit balance" (Anthropic's answer when out of credit) is `quota_exceeded`; else `bad_request` |
/// | 408 | `timeout` |
/// | 503, 529 | `overloaded` |
/// | 504 | `timeout`, as [`AttemptError::from_status`] says, so a simulated and a real 504 mean the same |
/// | other 5xx | `server_error` |
/// | other 4xx | `bad_request` |
/// | below 400 | the error object's numeric `code` as a status (OpenRouter answers 200 with `{"error": {"code": 502}}`), else its type, else `malformed` |
///
/// An Anthropic `overloaded_error` is `overloaded` whatever the status.
///
/// Retry-After: `retry-after-ms`, then `retry-after` (seconds or an HTTP
/// date), then on a 429 the rate-limit reset headers (see the
/// `retry_after` module). The status is always set.
///
/// The message is the body's error message cut to [`MAX_MESSAGE_CHARS`]
/// (a non-JSON body's text, whitespace collapsed), or `upstream answered
/// <status>` when there is none. It never holds a header value, so an API
/// key echoed in a header cannot leak through it.
///
/// Why a `(AttemptError, String)` pair? `AttemptError` is the executor's
/// data and has no message; the message is for logs and the client's error
/// body, so it travels beside it.
///
/// ```
/// use std::time::UNIX_EPOCH;
/// use windtunnel_core::ErrorKind;
/// let body = br#"{"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}"#;
/// let header = |name: &str| (name == "retry-after").then(|| "20".to_string());
/// let (err, message) = windtunnel_openai::classify(429, &header, body, UNIX_EPOCH);
/// assert_eq!(err.kind, ErrorKind::QuotaExceeded);
/// assert_eq!(err.status, Some(429));
/// assert_eq!(err.retry_after_ms, Some(20_000));
/// assert!(message.starts_with("You exceeded your current quota"));
/// ```
pub fn classify(
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    now: SystemTime,
) -> (AttemptError, String) {
    let info = match serde_json::from_slice::<Value>(body) {
        Ok(v) => ErrorInfo::from_body(&v),
        Err(_) => body_text(body).map(|t| ErrorInfo::from_message(&t)).unwrap_or_default(),
    };
    let mut err = AttemptError::new(kind_for_status(status, &info)).with_status(status);
    err.retry_after_ms = retry_after_ms(status, header, now);
    let message = info.message_or(&format!("upstream answered {status}"));
    (err, message)
}

fn kind_for_status(status: u16, info: &ErrorInfo) -> ErrorKind {
    if info.has(OVERLOADED) {
        return ErrorKind::Overloaded;
    }
    match status {
        429 if !info.has(RATE_LIMIT) && (info.has(QUOTA) || info.says(&["quota", "credit"])) => {
            ErrorKind::QuotaExceeded
        }
        429 => ErrorKind::RateLimited,
        402 => ErrorKind::QuotaExceeded,
        401 | 403 => ErrorKind::Auth,
        400 | 404 | 413 | 422 => {
            if info.is_context() {
                ErrorKind::ContextExceeded
            } else if info.is_content_filter() {
                ErrorKind::ContentFilter
            } else if status == 400 && (info.has(QUOTA) || info.says(&["credit balance"])) {
                ErrorKind::QuotaExceeded
            } else {
                ErrorKind::BadRequest
            }
        }
        408 | 504 => ErrorKind::Timeout,
        503 | 529 => ErrorKind::Overloaded,
        500..=599 => ErrorKind::ServerError,
        400..=499 => ErrorKind::BadRequest,
        _ => match info.numeric_code {
            Some(code) if code >= 400 => kind_for_status(code, info),
            _ => info.kind().unwrap_or(ErrorKind::Malformed),
        },
    }
}

/// What an error body says, read from any of the shapes above.
#[derive(Clone, Debug, Default)]
pub(crate) struct ErrorInfo {
    /// The error's message.
    pub(crate) message: Option<String>,
    /// The string `type`, `code` and `status` fields, lowercased.
    markers: Vec<String>,
    /// A numeric `code` that is an HTTP status.
    numeric_code: Option<u16>,
    /// `message`, lowercased, for word matching.
    lower: String,
}

impl ErrorInfo {
    /// Reads a whole body.
    pub(crate) fn from_body(v: &Value) -> ErrorInfo {
        let v = match v {
            Value::Array(items) => items.first().unwrap_or(&Value::Null),
            other => other,
        };
        match v.get("error") {
            Some(e @ Value::Object(_)) => ErrorInfo::from_object(e),
            Some(Value::String(s)) => ErrorInfo::from_message(s),
            _ if v.get("message").is_some_and(Value::is_string) => ErrorInfo::from_object(v),
            _ => match v.get("detail") {
                Some(Value::String(s)) => ErrorInfo::from_message(s),
                _ => ErrorInfo::default(),
            },
        }
    }

    /// The `error` member of a body or stream chunk, if it has one.
    pub(crate) fn from_error_member(v: &Value) -> Option<ErrorInfo> {
        match v.get("error")? {
            e @ Value::Object(_) => Some(ErrorInfo::from_object(e)),
            Value::String(s) => Some(ErrorInfo::from_message(s)),
            _ => None,
        }
    }

    fn from_message(s: &str) -> ErrorInfo {
        ErrorInfo { message: Some(s.to_string()), lower: s.to_lowercase(), ..ErrorInfo::default() }
    }

    fn from_object(e: &Value) -> ErrorInfo {
        let mut info = match e.get("message") {
            Some(Value::String(s)) => ErrorInfo::from_message(s),
            _ => ErrorInfo::default(),
        };
        for field in ["type", "code", "status"] {
            match e.get(field) {
                Some(Value::String(s)) => info.markers.push(s.to_lowercase()),
                Some(Value::Number(n)) if field == "code" => {
                    info.numeric_code =
                        n.as_u64().and_then(|c| u16::try_from(c).ok()).filter(|c| (100..=599).contains(c));
                }
                _ => {}
            }
        }
        info
    }

    /// The message for a failure, cut short, or `fallback`.
    pub(crate) fn message_or(&self, fallback: &str) -> String {
        match &self.message {
            Some(m) => cut(m),
            None => match self.markers.first() {
                Some(t) => format!("{fallback} ({})", cut(t)),
                None => fallback.to_string(),
            },
        }
    }

    fn has(&self, names: &[&str]) -> bool {
        self.markers.iter().any(|m| names.contains(&m.as_str()))
    }

    fn says(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.lower.contains(w))
    }

    fn is_context(&self) -> bool {
        self.has(CONTEXT) || self.says(CONTEXT_WORDS)
    }

    fn is_content_filter(&self) -> bool {
        self.has(CONTENT) || self.says(CONTENT_WORDS)
    }

    /// The kind an error object names without a status (a stream's error
    /// event, a 200 with an error body); `None` when it names none.
    pub(crate) fn kind(&self) -> Option<ErrorKind> {
        let kind = if self.has(OVERLOADED) {
            ErrorKind::Overloaded
        } else if self.has(QUOTA) {
            ErrorKind::QuotaExceeded
        } else if self.has(RATE_LIMIT) {
            ErrorKind::RateLimited
        } else if self.has(AUTH) {
            ErrorKind::Auth
        } else if self.has(SERVER) {
            ErrorKind::ServerError
        } else if self.is_context() {
            ErrorKind::ContextExceeded
        } else if self.is_content_filter() {
            ErrorKind::ContentFilter
        } else if self.has(BAD_REQUEST) {
            ErrorKind::BadRequest
        } else if let Some(code) = self.numeric_code.filter(|&c| c >= 400) {
            kind_for_status(code, self)
        } else {
            return None;
        };
        Some(kind)
    }
}

/// A non-JSON body as one line of text; `None` when empty or not text.
fn body_text(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then_some(line)
}

/// `s` cut to [`MAX_MESSAGE_CHARS`] characters, the last one `…` when cut.
pub(crate) fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS - 1) {
        Some((i, _)) if s[i..].chars().nth(1).is_some() => {
            let mut out = s[..i].to_string();
            out.push('…');
            out
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests;
