//! The executor: carries out a [`windtunnel_core::Plan`] through adapters.
//!
//! It owns attempts along the plan's chain; per-attempt, TTFT and deadline
//! cut-offs (which the driver applies); retries with exponential backoff and
//! jitter; Retry-After (for every request, not only the one that was told);
//! circuit breakers; health statistics; per-tenant budgets (reserve, then
//! settle); context-window filtering on each endpoint's own token count;
//! quota benching; hedging; cascades (`accept`); SPEC's defaults when the
//! policy has no `on_error`, and the rule that a fatal kind is never retried
//! on the same endpoint. It writes the event log. It must not know Rhai, HTTP
//! or the simulator: policies come in through [`windtunnel_core::Planner`],
//! attempts go out as [`Action`]s.
//!
//! # Design
//! A sans-IO state machine in the style of quinn-proto: fed events, emitting
//! actions. Breakers, health windows and budgets are plain structs that take
//! `now` as an argument. Deterministic by construction (no clock, no tasks, no
//! hash-map iteration); the simulator drives it from a discrete-event loop at
//! millions of requests per second, and live mode will drive it from tokio.
//!
//! # Where things happen
//! - `executor` — [`Executor`]: submit, on_report, on_cancelled, on_wake,
//!   and how a request ends; beside it, one concept a module:
//!   - `executor/flight` — a request in flight, its attempts out and the
//!     endpoints it has tried;
//!   - `executor/claim` — which chain entry takes the next attempt, and
//!     waiting for a held one (`max_wait_ms`);
//!   - `executor/attempt` — starting an attempt ([`Cutoffs`]) and settling it;
//!   - `executor/errors` — `after_error`, where a 429, a 503 or a timeout is
//!     answered (Retry-After, quota bench, fatal kinds, retry, failover);
//!   - `executor/cascade` — an answer: `accept` and the fallback answer;
//!   - `executor/hedge` — hedging.
//! - `backoff` — [`Backoff`]: exponential backoff with full or equal jitter.
//! - `breaker` — [`Breaker`] and its [`SuccessRateWindow`].
//! - `health` — [`HealthWindow`]: p50/p95/p99, error rate, in-flight.
//! - `budget` — [`Ledger`]: per-tenant reservations.
//!
//! # Dependencies
//! - windtunnel-core only: the vocabulary.

mod backoff;
mod breaker;
mod budget;
mod executor;
mod health;

pub use backoff::Backoff;
pub use breaker::{Admission, Breaker, SuccessRateWindow, Transition, TripReason};
pub use budget::Ledger;
pub use executor::{Action, AttemptId, Concluded, Cutoffs, Executor, FlightId, QUOTA_BENCH_MS, WakeKind};
pub use health::{HealthWindow, REFRESH_MS, SAMPLES};

#[cfg(test)]
mod tests;
