//! The integration trait between the executor and a policy: route, on_error,
//! accept. Implemented by the built-in fixed chain here and by the Rhai
//! policy engine.
//!
//! ```
//! use windtunnel_core::{EndpointIdx, Plan, Planner, PolicyFailure, Request, RouteContext};
//!
//! /// Everything to endpoint 0, then endpoint 1.
//! struct Two;
//! impl Planner for Two {
//!     fn route(&mut self, _req: &Request, _ctx: &RouteContext<'_>) -> Result<Plan, PolicyFailure> {
//!         Ok(Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]))
//!     }
//! }
//! ```

use crate::{
    AttemptError, BreakerSettings, EndpointIdx, Plan, PolicySettings, Request, ResponseInfo, RetrySettings,
    RouteContext,
};

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorAction {
    /// The same endpoint again, after backoff.
    Retry,
    /// The next endpoint of the chain.
    Next,
    /// Give up on the request.
    Fail,
}

/// A failed attempt as the policy sees it.
#[derive(Clone, Copy, Debug)]
pub struct AttemptInfo {
    /// 1-based across the chain.
    pub number: u32,
    /// Where it went.
    pub endpoint: EndpointIdx,
    /// Milliseconds since the request arrived.
    pub elapsed_ms: u64,
}

/// A policy hook that could not produce an answer (script error, limit hit,
/// a route to an unknown endpoint). The request then takes the default chain
/// (or the built-in default reaction) and the report counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyFailure {
    /// The hook (`route`, `on_error`, `accept`).
    pub hook: &'static str,
    /// What went wrong.
    pub message: String,
    /// Line and column in the script, when known.
    pub position: Option<(u32, u32)>,
}

impl std::fmt::Display for PolicyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((l, c)) => write!(f, "{} at {l}:{c}: {}", self.hook, self.message),
            None => write!(f, "{}: {}", self.hook, self.message),
        }
    }
}

/// The first failed policy call of a run, kept so that summaries and reports
/// can say what failed and where, not only how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstPolicyError {
    /// The failure itself (hook, message, position).
    pub failure: PolicyFailure,
    /// The request it happened on (its trace id, else its line number).
    pub request: String,
    /// When.
    pub at_ms: u64,
}

/// Failed policy calls of a run: how many, and the first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyErrorTally {
    /// Failed hook calls (route, on_error, accept).
    pub count: u64,
    /// The first of them.
    pub first: Option<FirstPolicyError>,
}

impl PolicyErrorTally {
    /// Counts `failure`, met on `req` at `now`; the first one is kept whole.
    pub fn record(&mut self, failure: PolicyFailure, req: &Request, now: u64) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(FirstPolicyError { failure, request: req.id().to_string(), at_ms: now });
        }
    }
}

/// Decides plans for requests. The executor calls it; it never calls the executor.
pub trait Planner {
    /// Engine settings (breakers, retry backoff, default chain). Read once
    /// when the executor is built.
    fn settings(&self) -> PolicySettings {
        PolicySettings::default()
    }

    /// Whether `route` reads endpoint health (latency percentiles, error
    /// rates). When false the executor skips refreshing them before each
    /// call; breaker states and Retry-After holds are always current.
    fn needs_health(&self) -> bool {
        true
    }

    /// Whether `route` reads what endpoints' prompt caches hold
    /// (`cached_tokens`, or costs that count it). When false the executor
    /// keeps no view of them (the simulated endpoints still bill caching).
    fn needs_cached_tokens(&self) -> bool {
        true
    }

    /// The plan for one request.
    fn route(&mut self, req: &Request, ctx: &RouteContext<'_>) -> Result<Plan, PolicyFailure>;

    /// What to do after a failed attempt. `Ok(None)` = the built-in default.
    fn on_error(
        &mut self,
        _req: &Request,
        _attempt: &AttemptInfo,
        _err: &AttemptError,
    ) -> Result<Option<ErrorAction>, PolicyFailure> {
        Ok(None)
    }

    /// Whether the policy has an `accept` hook (cascades); when false the
    /// executor accepts every answer without calling it.
    fn has_accept(&self) -> bool {
        false
    }

    /// Cascade: `false` sends the request on to the next endpoint of the chain.
    fn accept(&mut self, _req: &Request, _resp: &ResponseInfo) -> Result<bool, PolicyFailure> {
        Ok(true)
    }
}

/// The built-in policy: the same chain for every request (`policy = { chain = [...] }`).
#[derive(Clone, Debug)]
pub struct FixedChain {
    plan: Plan,
    breaker: BreakerSettings,
    retry: RetrySettings,
}

impl FixedChain {
    /// A planner that always answers `plan`, with default breakers and backoff.
    pub fn new(plan: Plan) -> FixedChain {
        FixedChain { plan, breaker: BreakerSettings::default(), retry: RetrySettings::default() }
    }

    /// A planner that always answers `plan`, with these breakers and backoff.
    pub fn with_settings(plan: Plan, breaker: BreakerSettings, retry: RetrySettings) -> FixedChain {
        FixedChain { plan, breaker, retry }
    }
}

impl Planner for FixedChain {
    fn needs_health(&self) -> bool {
        false
    }

    fn needs_cached_tokens(&self) -> bool {
        false
    }

    fn settings(&self) -> PolicySettings {
        PolicySettings { breaker: self.breaker, retry: self.retry, default_chain: Some(self.plan.chain.clone()) }
    }

    fn route(&mut self, _req: &Request, _ctx: &RouteContext<'_>) -> Result<Plan, PolicyFailure> {
        Ok(self.plan.clone())
    }
}
