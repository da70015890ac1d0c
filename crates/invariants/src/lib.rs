//! SPEC's failover-correctness invariants, checked from the event log alone.
//!
//! This crate owns the eight invariants of SPEC's table (`conservation`,
//! `breaker_respected`, `retry_after_respected`, `no_retry_on_fatal`,
//! `context_fits`, `attempt_limit`, `deadline`, `budget`) and the
//! [`InvariantResult`]s that `report.json` embeds as
//! `invariants: [ {name, violations, examples: [...]} ]`.
//!
//! It must not touch the executor, and cannot: it depends on
//! `windtunnel-core` alone, so SPEC's "checked by code that does not share
//! state with the executor" is a fact the compiler enforces, not a promise.
//! Everything it knows comes from two places: the [`Event`]s of the log, and
//! the static description of the world ([`World`]: endpoint names and
//! context windows, SLA deadlines per class, tenants' budgets), which is
//! configuration, not executor state. It keeps its own breaker states, holds,
//! counters and ledgers, rebuilt from the events, and never asks the executor
//! what it thinks they are.
//!
//! # Design
//! - **One module per invariant, one small trait.** Each invariant is a
//!   private `Check` (observe an event, maybe report at the end) in a module
//!   named after it, with its own state. No check reads another's state, so
//!   a bug in one cannot hide a violation of another, and a new invariant is
//!   a new module plus one line in the checker's table. State every request
//!   needs (conservation's arrival, attempt_limit's count) sits in one shared
//!   record per open request, a field per check, because one lookup per event
//!   instead of one per check is most of the checker's speed on long replays.
//! - **Static dispatch.** `record` and the per-kind `feed` are inlined where
//!   the event is built, so the match on its kind folds away and only the
//!   checks that read that kind remain; the harness outlines them, with the
//!   aggregator's work, in one function per kind (core's `PerKind`).
//! - **Streaming, constant memory in the trace length.** The checker is an
//!   [`EventSink`]: it sees each event once, in time order, and keeps
//!   per-request state only while the request is open (between its `Arrived`
//!   and its `Finished`), per-endpoint state (breaker state, Retry-After
//!   hold), and spend per *budgeted* tenant. Examples are capped at
//!   [`MAX_EXAMPLES`] per invariant and built lazily, so a run with a
//!   million violations allocates five examples.
//! - **Independent recounting.** Where the event repeats what the executor
//!   believes (the attempt number), the check also counts for itself and
//!   trusts the larger: `attempt_limit` counts `AttemptStarted` events per
//!   request. Breaker state is taken from `Breaker` events, because the
//!   breaker's policy (thresholds, windows) is the executor's to choose; the
//!   invariant is that attempts obey whatever state was announced.
//! - **Deterministic output.** State is in `BTreeMap`s and `Vec`s, results
//!   come in SPEC order, and examples are the first violations in log order
//!   (requests still open at the end: in `seq` order).
//!
//! # Where things happen
//! - `checker` — [`InvariantChecker`]: the [`EventSink`] that fans each event
//!   out to the eight checks, and `finish` into results.
//! - `check` — the internal `Check` trait and `Tally` (count plus capped examples).
//! - `open` — `OpenRequests`: the one record per open request that the checks
//!   with per-request state share, each owning its fields.
//! - `result` — [`InvariantResult`], [`Example`], [`select`].
//! - `world` — [`World`], [`WorldEndpoint`]: the static configuration the checks need.
//! - `conservation` — one outcome per arrived request.
//! - `breaker_respected` — no attempt while open; only probes while half-open.
//! - `retry_after_respected` — a `RateLimited` (or any) error's Retry-After holds the endpoint for everyone.
//! - `no_retry_on_fatal` — no second attempt on an endpoint after a kind that is fatal there.
//! - `context_fits` — input plus `max_tokens`, as the endpoint counts them, fit its window.
//! - `attempt_limit` — no more attempts than the plan allows.
//! - `deadline` — no attempt at or after arrival plus the tightest deadline.
//! - `budget` — billed cost per tenant within its budget.
//!
//! # Dependencies
//! - `windtunnel-core`: the event log's vocabulary ([`Event`], `Request`,
//!   `ErrorKind`, `Nanodollars`). The only workspace crate, by design.
//! - `serde`: `Serialize` on [`InvariantResult`] and [`Example`], so the
//!   report embeds them as they are.

mod attempt_limit;
mod breaker_respected;
mod budget;
mod check;
mod checker;
mod conservation;
mod context_fits;
mod deadline;
mod no_retry_on_fatal;
mod open;
mod result;
mod retry_after_respected;
mod world;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use checker::InvariantChecker;
pub use result::{Example, InvariantResult, MAX_EXAMPLES, select};
pub use world::{World, WorldEndpoint};

#[cfg(doc)]
use windtunnel_core::{Event, EventSink};

/// SPEC's invariant names, in the order of SPEC's table (and of
/// [`InvariantChecker::finish`]'s results): core's one list, which each
/// check's `NAME` must match (tested).
pub use windtunnel_core::INVARIANT_NAMES;
