//! The executor: carries out a [`windtunnel_core::Plan`] through adapters.
//!
//! It owns attempts along the plan's chain, per-attempt timeouts (as cut-offs
//! the driver applies), request deadlines, retries with exponential backoff
//! and jitter, Retry-After, failover, SPEC's defaults when the policy has no
//! `on_error`, and the rule that a fatal kind is never retried on the same
//! endpoint. It writes the event log. It must not know Rhai, HTTP or the
//! simulator: policies come in through [`windtunnel_core::Planner`], attempts
//! go out as [`Action`]s.
//!
//! # Design
//! A sans-IO state machine in the style of quinn-proto: fed events, emitting
//! actions. Deterministic by construction (no clock, no tasks, no hash-map
//! iteration); the simulator drives it from a discrete-event loop at millions
//! of requests per second, and live mode will drive it from tokio.
//!
//! # Where things happen
//! - `executor` — [`Executor`]: submit, on_report, on_wake; failover and the
//!   default reaction to each [`windtunnel_core::ErrorKind`]; deadlines.
//! - `backoff` — [`Backoff`]: exponential backoff with full or equal jitter.
//!
//! # Dependencies
//! - windtunnel-core only: the vocabulary.

mod backoff;
mod executor;

pub use backoff::{Backoff, Jitter};
pub use executor::{Action, AttemptId, Cutoffs, Executor, ExecutorSettings, FlightId, QUOTA_BENCH_MS};

#[cfg(test)]
mod tests;
