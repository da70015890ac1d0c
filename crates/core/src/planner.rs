//! The integration trait between the executor and a policy: route, on_error,
//! accept. Implemented by the built-in fixed chain here and by the Rhai
//! policy engine.
//!
//! ```
//! use windtunnel_core::{EndpointIdx, Plan, Planner, PolicyFailure, Request};
//!
//! /// Everything to endpoint 0, then endpoint 1.
//! struct Two;
//! impl Planner for Two {
//!     fn route(&mut self, _now: u64, _req: &Request) -> Result<Plan, PolicyFailure> {
//!         Ok(Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]))
//!     }
//! }
//! ```

use crate::{AttemptError, EndpointIdx, Plan, Request};

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

/// A policy hook that could not produce an answer (script error, limit hit).
/// The request then takes the default chain and the report counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyFailure {
    /// What went wrong, with position when known.
    pub message: String,
}

/// Decides plans for requests. The executor calls it; it never calls the executor.
pub trait Planner {
    /// The plan for one request.
    fn route(&mut self, now_ms: u64, req: &Request) -> Result<Plan, PolicyFailure>;

    /// What to do after a failed attempt. `None` = the built-in default.
    fn on_error(&mut self, _req: &Request, _attempt: &AttemptInfo, _err: &AttemptError) -> Option<ErrorAction> {
        None
    }

    /// The chain to use when `route` fails.
    fn default_plan(&self) -> Plan {
        Plan::chain(Vec::new())
    }
}

/// The built-in policy: the same chain for every request (`policy = { chain = [...] }`).
#[derive(Clone, Debug)]
pub struct FixedChain {
    plan: Plan,
}

impl FixedChain {
    /// A planner that always answers `plan`.
    pub fn new(plan: Plan) -> FixedChain {
        FixedChain { plan }
    }
}

impl Planner for FixedChain {
    fn route(&mut self, _now_ms: u64, _req: &Request) -> Result<Plan, PolicyFailure> {
        Ok(self.plan.clone())
    }

    fn default_plan(&self) -> Plan {
        self.plan.clone()
    }
}
