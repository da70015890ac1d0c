//! windtunnel's vocabulary, shared by every other crate: no I/O, no async.
//!
//! It owns the words of SPEC (request, endpoint, plan, attempt outcome with
//! its error kinds, outcome, event) and the two integration traits:
//! [`Adapter`] (one attempt on one endpoint) and [`Planner`] (route and
//! on_error), much as tower-service holds `Service`. It must not grow
//! behaviour that belongs to the executor, the simulator or the policy engine.
//!
//! # Design
//! - Money is integer ([`Nanodollars`], [`PricePerMtok`]): totals never drift.
//! - Time is a plain `u64` of milliseconds on the driver's clock (virtual in
//!   simulation, since-start in live mode); nothing here reads a clock.
//! - Randomness comes only from [`Streams`]: named, seeded ChaCha8 streams.
//! - Attempt failures are data ([`AttemptError`] with an [`ErrorKind`]), not
//!   Rust errors.
//!
//! # Where things happen
//! - `adapter` — [`AttemptStart`], [`AttemptReport`], [`Usage`]: what an attempt is and what it reports (the simulator's `Adapter` and `Scheduled` live in `windtunnel-sim`).
//! - `planner` — [`Planner`], [`FixedChain`], [`ErrorAction`].
//! - `error_kind` — [`ErrorKind`] (`RateLimited` is a 429), [`AttemptError`].
//! - `event` — the event log ([`Event`], [`EventSink`]).
//! - `view` — what a policy sees: [`RouteContext`], [`EndpointFacts`], [`Health`], [`PolicySettings`].
//! - `sym_map`, `seq_map` — [`SymMap`] (by tenant or class) and [`SeqMap`] (by
//!   request): the per-request lookups of hot paths.
//! - `money`, `duration`, `rng`, `request`, `endpoint`, `plan`, `outcome`.
//! - `xml` — [`xml_escape`] and [`plain_line`]: the one XML/HTML escaper and
//!   the one-line escaper for user text in CI output.
//! - `junit` — [`junit_xml`] and its suites and cases: the one JUnit writer,
//!   for the report's `junit.xml` and the policy tests' `--junit`.
//!
//! # Dependencies
//! - rand_distr: the standard normal behind [`Dist`].
//! - serde: `Serialize` on the few types reports print directly.
//! - thiserror: [`DurationError`].
//! - rand, rand_chacha: the portable ChaCha8 generator behind [`Streams`].

mod adapter;
mod dist;
mod duration;
mod endpoint;
mod error_kind;
mod event;
mod junit;
mod money;
mod outcome;
mod plan;
mod planner;
mod prefix_cache;
mod request;
mod rng;
mod seq_map;
mod sym_map;
mod view;
mod xml;

pub use adapter::{AttemptReport, AttemptStart, Response, Usage};
pub use dist::{Dist, DistError};
pub use duration::{DurationError, MAX_DURATION_MS, format_duration_ms, parse_duration_ms};
pub use endpoint::{EndpointId, EndpointIdx};
pub use error_kind::{AttemptError, ErrorKind};
pub use event::{Event, EventSink, NullSink, PerKind, event_kind};
pub use junit::{JunitCase, JunitFailure, JunitSuite, junit_xml};
pub use money::{Biller, LongContextPrice, NANOS_PER_USD, Nanodollars, Price, PricePerMtok, Rates};
pub use outcome::{FailReason, INVARIANT_NAMES, Outcome, RejectReason};
pub use plan::{DEFAULT_ATTEMPT_TIMEOUT_MS, Plan};
pub use planner::{AttemptInfo, ErrorAction, FirstPolicyError, FixedChain, Planner, PolicyErrorTally, PolicyFailure};
pub use prefix_cache::{CacheUse, PromptCache, PromptCacheSpec};
pub use rand_chacha::ChaCha8Rng;
pub use request::{Request, RequestIdDisplay, Sym};
pub use rng::{KeyedStream, Rng, Streams};
pub use seq_map::SeqMap;
pub use sym_map::SymMap;
pub use view::{
    BreakerSettings, BreakerState, Budgets, DAY_MS, DailySchedule, DailyWindow, EndpointFacts, Health, JitterKind,
    NoBudgets, PolicySettings, ResponseInfo, RetrySettings, RouteContext, TokenRatio, time_of_day_ms,
};
pub use xml::{is_line_control, plain_line, xml_escape};
