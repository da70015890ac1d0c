//! How a request ends: exactly one of succeeded, failed, rejected or cached.

use crate::ErrorKind;
use std::fmt;

/// The one outcome of a request (SPEC invariant `conservation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// An endpoint answered and the answer was accepted.
    Succeeded,
    /// Every allowed attempt failed, or the deadline passed.
    Failed(FailReason),
    /// Never sent: over budget, or refused by the policy.
    Rejected(RejectReason),
    /// Answered from the response cache.
    Cached,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailReason {
    /// The last attempt's error, with the upstream's own reason.
    Upstream(ErrorKind),
    /// The request's deadline passed.
    Deadline,
    /// The plan's chain was empty or held no usable endpoint.
    NoEndpoint,
}

/// Why a request was never sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// The tenant's budget cannot cover the attempt.
    Budget,
    /// The policy refused the request.
    Policy,
}

impl Outcome {
    /// The reason as reports key it (`timeout`, `deadline`, `budget`), or `None`
    /// for successes and cache hits.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Outcome::Succeeded | Outcome::Cached => None,
            Outcome::Failed(FailReason::Upstream(k)) => Some(k.as_str()),
            Outcome::Failed(FailReason::Deadline) => Some("deadline"),
            Outcome::Failed(FailReason::NoEndpoint) => Some("no_endpoint"),
            Outcome::Rejected(RejectReason::Budget) => Some("budget"),
            Outcome::Rejected(RejectReason::Policy) => Some("policy"),
        }
    }

    /// `succeeded`, `failed`, `rejected` or `cached`.
    pub fn class_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed(_) => "failed",
            Outcome::Rejected(_) => "rejected",
            Outcome::Cached => "cached",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(r) => write!(f, "{}: {r}", self.class_str()),
            None => f.write_str(self.class_str()),
        }
    }
}

/// SPEC's failover-correctness invariants, in SPEC's table order. The one
/// list the config loader (names in `[assert] invariants`), the checker and
/// the report all use.
pub const INVARIANT_NAMES: [&str; 8] = [
    "conservation",
    "breaker_respected",
    "retry_after_respected",
    "no_retry_on_fatal",
    "context_fits",
    "attempt_limit",
    "deadline",
    "budget",
];
