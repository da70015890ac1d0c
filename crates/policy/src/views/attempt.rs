//! What `on_error(req, attempt, err)` sees: the failed attempt and its error.

use crate::views::int;
use rhai::{Dynamic, INT, ImmutableString};
use windtunnel_core::{AttemptError, ErrorKind};

/// `err`.
#[derive(Clone, Debug)]
pub(crate) struct ErrView {
    /// What went wrong.
    pub(crate) kind: ErrorKind,
    /// Upstream HTTP status.
    pub(crate) status: Option<u16>,
    /// Announced Retry-After.
    pub(crate) retry_after_ms: Option<u64>,
}

impl ErrView {
    /// A view of `err`.
    pub(crate) fn new(err: &AttemptError) -> ErrView {
        ErrView { kind: err.kind, status: err.status, retry_after_ms: err.retry_after_ms }
    }

    /// `err.kind`: SPEC's name.
    pub(crate) fn kind(&self) -> ImmutableString {
        self.kind.as_str().into()
    }

    /// `err.status` or `()`.
    pub(crate) fn status(&self) -> Dynamic {
        self.status.map_or(Dynamic::UNIT, |s| Dynamic::from_int(INT::from(s)))
    }

    /// `err.retry_after_ms` or `()`.
    pub(crate) fn retry_after_ms(&self) -> Dynamic {
        self.retry_after_ms.map_or(Dynamic::UNIT, |s| Dynamic::from_int(int(s)))
    }

    /// `err.message`: the attempt error carries no upstream text, so this is
    /// the kind, the status and the Retry-After in words
    /// (`rate_limited (HTTP 429, retry after 2000 ms)`).
    pub(crate) fn message(&self) -> ImmutableString {
        let mut m = self.kind.as_str().to_string();
        match (self.status, self.retry_after_ms) {
            (Some(s), Some(r)) => m.push_str(&format!(" (HTTP {s}, retry after {r} ms)")),
            (Some(s), None) => m.push_str(&format!(" (HTTP {s})")),
            (None, Some(r)) => m.push_str(&format!(" (retry after {r} ms)")),
            (None, None) => {}
        }
        m.into()
    }
}

/// `attempt`.
#[derive(Clone, Debug)]
pub(crate) struct AttemptView {
    /// 1-based across the chain.
    pub(crate) number: u32,
    /// The endpoint's name.
    pub(crate) endpoint: ImmutableString,
    /// Since the request arrived.
    pub(crate) elapsed_ms: u64,
}

impl AttemptView {
    /// `attempt.number`.
    pub(crate) fn number(&self) -> INT {
        INT::from(self.number)
    }

    /// `attempt.elapsed_ms`.
    pub(crate) fn elapsed_ms(&self) -> INT {
        int(self.elapsed_ms)
    }
}
