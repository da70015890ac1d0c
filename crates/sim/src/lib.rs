//! Simulated endpoints in virtual time.
//!
//! It owns everything SPEC lists under "What simulated endpoints must model":
//! latency (TTFT plus decode at a sampled speed), queueing above
//! `concurrency`, RPM/TPM token buckets answering 429 with Retry-After,
//! context windows, tokenizer skew, fault windows (fixed and stochastic) of
//! every kind, price changes, partial billing and quality. It must not touch
//! HTTP, the executor's decisions or the policy: it answers attempts, nothing
//! more.
//!
//! # Design
//! A [`SimEndpoint`] implements [`Adapter`] and decides an attempt's whole
//! course the moment it starts (a [`Scheduled`]):
//! no task, no timer, no clock. The driver's event loop delivers the result at
//! its time, or cuts it short on a timeout and asks [`SimEndpoint`] what was
//! consumed by then. All randomness comes from named streams of the run's seed.
//!
//! # Where things happen
//! - `adapter` — [`Adapter`] and [`Scheduled`]: a virtual-time attempt.
//! - `endpoint` — [`SimEndpoint`]: the order of checks for one attempt.
//! - `rate_limit` — [`TokenBucket`]: where a simulated 429 (`RateLimited`) comes from.
//! - `queue` — [`Slots`]: FIFO queueing above `concurrency`.
//! - `fault` — [`FaultWindows`]: fixed and stochastic windows.
//! - token counts (tokenizer skew) and prices over time come from
//!   [`windtunnel_core::EndpointFacts`], shared with the executor and policies,
//!   so the simulator and the router can never disagree on them.
//!
//! # Dependencies
//! - windtunnel-config: the validated endpoint description it simulates.
//! - rand, rand_distr (through windtunnel-core's `Dist`): sampling.

mod adapter;
mod endpoint;
mod fault;
mod queue;
mod rate_limit;

pub use adapter::{Adapter, NEVER, Scheduled, SlotHold};
pub use endpoint::{FAST_FAIL_MS, SimEndpoint};
pub use fault::FaultWindows;
pub use queue::{Admission, Slots};
pub use rate_limit::TokenBucket;

#[cfg(test)]
mod tests;
