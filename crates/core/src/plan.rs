//! A plan: what the policy decided for one request, and what the executor carries out.

use crate::EndpointIdx;

/// The attempt timeout used when neither the plan nor the policy sets one.
/// 600 s is the OpenAI and Anthropic SDK default; without some bound a `hang`
/// fault would keep a request open forever.
pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 600_000;

/// The ordered chain of endpoints and the limits for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Endpoints to try, in order. May be empty (the request then fails: no endpoint).
    pub chain: Vec<EndpointIdx>,
    /// Per-attempt timeout (whole response).
    pub attempt_timeout_ms: u64,
    /// Streams: longest wait for the first token.
    pub ttft_timeout_ms: Option<u64>,
    /// Streams: longest silence between chunks.
    pub stall_timeout_ms: Option<u64>,
    /// Most attempts across the chain; `None` = one per chain entry.
    pub max_attempts: Option<u32>,
    /// Start a second attempt on the next endpoint after this long without an answer.
    pub hedge_after_ms: Option<u64>,
    /// Overall deadline after arrival; overrides the class deadline when shorter.
    pub deadline_ms: Option<u64>,
    /// When every endpoint left in the chain is held back (a Retry-After, an
    /// open breaker, a quota bench), wait up to this long for the first to
    /// come free instead of failing at once. `None` = do not wait.
    pub max_wait_ms: Option<u64>,
    /// Defer the first attempt this long after arrival (batch work waiting
    /// for an off-peak window), at most until just before the deadline.
    pub start_after_ms: Option<u64>,
}

impl Plan {
    /// A plan that tries `chain` in order with default limits.
    pub fn chain(chain: Vec<EndpointIdx>) -> Plan {
        Plan {
            chain,
            attempt_timeout_ms: DEFAULT_ATTEMPT_TIMEOUT_MS,
            ttft_timeout_ms: None,
            stall_timeout_ms: None,
            max_attempts: None,
            hedge_after_ms: None,
            deadline_ms: None,
            max_wait_ms: None,
            start_after_ms: None,
        }
    }

    /// The attempt limit this plan allows.
    pub fn attempt_limit(&self) -> u32 {
        self.max_attempts.unwrap_or(self.chain.len() as u32)
    }
}
