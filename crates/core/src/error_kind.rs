//! Attempt failures as data: the closed list of kinds SPEC names, and how the
//! executor must treat each. A 429 is [`ErrorKind::RateLimited`].

use serde::Serialize;
use std::fmt;

/// Why one attempt on one endpoint failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A rate 429: retry later, after Retry-After.
    RateLimited,
    /// A spend or credit 429/402: this endpoint is done for now.
    QuotaExceeded,
    /// 5xx other than 503/529.
    ServerError,
    /// 503 or 529.
    Overloaded,
    /// No answer within the attempt, TTFT or stall timeout.
    Timeout,
    /// A stream that died after its first token.
    StreamCut,
    /// The prompt plus `max_tokens` do not fit the endpoint's window.
    ContextExceeded,
    /// 400 for any other reason.
    BadRequest,
    /// 401/403.
    Auth,
    /// The provider refused the content.
    ContentFilter,
    /// A 200 whose body cannot be parsed.
    Malformed,
    /// Connection refused or reset before an answer.
    Connection,
}

impl ErrorKind {
    /// How many kinds there are: the length of per-kind counter arrays.
    pub const COUNT: usize = 12;

    /// Every kind, in SPEC order (= declaration order, so `ALL[k.index()] == k`).
    pub const ALL: [ErrorKind; ErrorKind::COUNT] = [
        ErrorKind::RateLimited,
        ErrorKind::QuotaExceeded,
        ErrorKind::ServerError,
        ErrorKind::Overloaded,
        ErrorKind::Timeout,
        ErrorKind::StreamCut,
        ErrorKind::ContextExceeded,
        ErrorKind::BadRequest,
        ErrorKind::Auth,
        ErrorKind::ContentFilter,
        ErrorKind::Malformed,
        ErrorKind::Connection,
    ];

    /// The kind's position in [`ErrorKind::ALL`], for per-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The kind at `i` in [`ErrorKind::ALL`].
    pub fn from_index(i: usize) -> Option<ErrorKind> {
        ErrorKind::ALL.get(i).copied()
    }

    /// SPEC's name (`rate_limited`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Timeout => "timeout",
            ErrorKind::StreamCut => "stream_cut",
            ErrorKind::ContextExceeded => "context_exceeded",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Auth => "auth",
            ErrorKind::ContentFilter => "content_filter",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Connection => "connection",
        }
    }

    /// Parses SPEC's name.
    pub fn from_name(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Transient kinds: another attempt (here later, or elsewhere) may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::ServerError
                | ErrorKind::Overloaded
                | ErrorKind::Timeout
                | ErrorKind::StreamCut
                | ErrorKind::Malformed
                | ErrorKind::Connection
        )
    }

    /// Kinds after which the executor never tries the same endpoint again for
    /// this request, whatever the policy says.
    pub fn is_fatal_for_endpoint(self) -> bool {
        matches!(
            self,
            ErrorKind::BadRequest
                | ErrorKind::Auth
                | ErrorKind::ContentFilter
                | ErrorKind::QuotaExceeded
                | ErrorKind::ContextExceeded
        )
    }

    /// Kinds that say the endpoint itself is unwell, and so count in breakers
    /// and error rates. A 429 is not one (Retry-After deals with it), nor are
    /// a quota (benched separately) or the client's own mistakes.
    pub fn counts_against_health(self) -> bool {
        matches!(
            self,
            ErrorKind::ServerError
                | ErrorKind::Overloaded
                | ErrorKind::Timeout
                | ErrorKind::StreamCut
                | ErrorKind::Malformed
                | ErrorKind::Connection
        )
    }

    /// Kinds where another endpoint can help by default (without `on_error`):
    /// the retryable ones, a quota (another provider has credit) and a context
    /// overflow (another endpoint may have a larger window).
    pub fn fails_over_by_default(self) -> bool {
        self.is_retryable() || matches!(self, ErrorKind::QuotaExceeded | ErrorKind::ContextExceeded)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed attempt: data that travels into the event log, into the policy's
/// `on_error` and into the report. Never a Rust error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The upstream HTTP status, when there was one.
    pub status: Option<u16>,
    /// Retry-After announced by the upstream.
    pub retry_after_ms: Option<u64>,
}

impl AttemptError {
    /// An error of `kind` with no status.
    pub fn new(kind: ErrorKind) -> AttemptError {
        AttemptError { kind, status: None, retry_after_ms: None }
    }

    /// With an HTTP status.
    pub fn with_status(mut self, status: u16) -> AttemptError {
        self.status = Some(status);
        self
    }

    /// Classifies an upstream HTTP status the way providers use them: 429 is a
    /// rate limit, 402 a quota, 503/529 overload, other 5xx server errors.
    pub fn from_status(status: u16) -> AttemptError {
        let kind = match status {
            400 | 404 | 413 | 422 => ErrorKind::BadRequest,
            401 | 403 => ErrorKind::Auth,
            402 => ErrorKind::QuotaExceeded,
            408 | 504 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimited,
            503 | 529 => ErrorKind::Overloaded,
            _ => ErrorKind::ServerError,
        };
        AttemptError::new(kind).with_status(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_name(k.as_str()), Some(k));
        }
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::COUNT);
    }

    #[test]
    fn index_is_the_position_in_all() {
        for (i, k) in ErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(ErrorKind::from_index(i), Some(k));
        }
        assert_eq!(ErrorKind::from_index(ErrorKind::COUNT), None);
    }

    #[test]
    fn fatal_and_retryable_are_disjoint() {
        for k in ErrorKind::ALL {
            assert!(!(k.is_fatal_for_endpoint() && k.is_retryable()), "{k}");
        }
        assert!(ErrorKind::RateLimited.is_retryable());
        assert!(ErrorKind::QuotaExceeded.is_fatal_for_endpoint());
        assert!(!ErrorKind::Auth.fails_over_by_default());
    }

    #[test]
    fn statuses_classify_like_providers() {
        assert_eq!(AttemptError::from_status(429).kind, ErrorKind::RateLimited);
        assert_eq!(AttemptError::from_status(529).kind, ErrorKind::Overloaded);
        assert_eq!(AttemptError::from_status(500).kind, ErrorKind::ServerError);
        assert_eq!(AttemptError::from_status(401).kind, ErrorKind::Auth);
    }
}
