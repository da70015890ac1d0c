//! Virtual-time runs: scenario + trace + planner + simulated endpoints →
//! event log → report.
//!
//! It owns the replay loop and nothing else: the executor decides, the
//! simulated endpoints answer, the report aggregates. It must not hold policy
//! logic, endpoint behaviour or report metrics of its own.
//!
//! # Design
//! A discrete-event loop (see `replay`) drives the sans-IO executor. The
//! trace is streamed and pending work is bounded by requests in flight, so
//! memory does not grow with trace length.
//!
//! # Where things happen
//! - `replay` — [`run`] and [`replay`]: the loop, cut-offs (attempt timeouts),
//!   fault-window announcements; `run` adds the report's aggregator and the
//!   invariant checker to the bare [`replay`].
//! - `relay` — [`relayed`]: the aggregator and the checker on a second core,
//!   fed the event log packed into words (`relay::wire`).
//! - `source` — [`Requests`]: trace file or generator, with `limit` and `speed`.
//! - `lint_samples` — [`lint_samples`]: one request per class, tenant and
//!   language of a scenario, for `policy lint --scenario`.
//! - `whatif` — [`whatif`]: variants × seeds, paired and Welch intervals, [`t_quantile`], [`Sweep`].
//! - `response_cache` — [`ResponseCache`], the `[cache]` the replay and the proxy share.
//! - `error` — [`RunError`].
//!
//! # Dependencies
//! - windtunnel-config, -trace, -executor, -sim, -report: the pieces it wires together.
//! - thiserror: [`RunError`].

mod error;
mod lint_samples;
mod relay;
mod replay;
mod response_cache;
mod source;
mod whatif;

pub use error::RunError;
pub use lint_samples::{LINT_SCAN_REQUESTS, lint_samples};
pub use relay::{Relay, RelayError, relayed};
pub use replay::{
    Fold, Replayed, RunOptions, invariant_entry, invariant_world, policy_description, replay, run, run_with,
};
pub use response_cache::ResponseCache;
pub use source::Requests;
pub use whatif::{
    CONFIDENCE, MAX_SWEEP_POINTS, Sweep, SweepError, Variant, WhatifError, WhatifOptions, t_quantile, whatif,
};

#[cfg(test)]
mod tests;
