//! The Rhai policy sandbox: compile, lint, unit-test and run routing
//! policies (SPEC "Policy API (Rhai)").
//!
//! This crate owns the policy language: the sandboxed engine and its limits,
//! the API a script sees (`req`, `ctx`, endpoint views and lists, `err`,
//! `attempt`, `resp`), the hooks (`settings`, `route`, `on_error`, `accept`),
//! conversion of their answers into core types, `policy lint` and
//! `policy test`. [`Policy`] implements the core [`Planner`] trait. It must
//! not touch what a plan *does* (attempts, timeouts, breakers, budgets: the
//! executor) nor read scenario files (config), and it never prints.
//!
//! # Design
//! - **A sandbox from nothing.** `Engine::new_raw()` plus pure packages
//!   (arithmetic, logic, strings, arrays, maps, math, iteration, function
//!   pointers). No module loader (no files), no time, no `sleep`, no `eval`,
//!   `print` discarded, strict variables, and a limit on everything:
//!   operations per call, call depth, expression depth, string, array and map
//!   sizes, variables, value nesting, data read. See `engine` and `meter`
//!   for the numbers and why.
//! - **Compile once, call functions.** A script is compiled to an AST at
//!   load; a hook call runs that function only (`eval_ast(false)`), with
//!   fresh arguments. A script error or a limit hit fails that call only: it
//!   becomes a [`PolicyFailure`] (hook, message, line and column), is counted
//!   ([`Policy::failure_count`]) and the first few kept
//!   ([`Policy::failures`]); the next call starts clean. Nothing panics.
//! - **Registered types, not maps.** Arguments are small structs with
//!   getters; a call's endpoint data sit in one `Rc` snapshot shared by every
//!   view and list of that call, lists are index vectors, and list methods
//!   (`by_cost`, `p95_below`, ...) run in Rust, so a typical route
//!   (`ctx.candidates(req).by_cost(req).take(3).names()` over 8 endpoints)
//!   takes microseconds. The snapshot's allocation is reused from call to
//!   call.
//! - **Load checks everything it can.** Hooks and their parameter counts,
//!   `settings()` keys and ranges, `default_chain` names, `--set policy.X`
//!   names and types: each is a [`PolicyError`] naming file, line and column,
//!   with a "did you mean" where one is near.
//! - **No wall clock reaches a script.** Time comes in as `ctx.now_ms`.
//! - **Single-threaded values.** rhai is built without `sync`, so values are
//!   `Rc`-based and a [`Policy`] is not `Send`: each simulation run owns its
//!   policy; a multi-threaded driver loads one per thread.
//!
//! # Where things happen
//! - `engine` — the sandbox: packages, disabled symbols, limits.
//! - `meter` — limits on what one operation can cost: value depth, data
//!   read, `pad`, operations inside closures.
//! - `api` — every name a script can call (types, getters, methods).
//! - `views` — the registered types: `request`, `context` (snapshot,
//!   endpoint table, budgets), `endpoint`, `endpoint_list` (native list
//!   methods), `attempt` (`err`, `attempt`), `response`.
//! - `hooks` — hook names, parameters, arity checks.
//! - `policy` — [`Policy`]: load, settings, the [`Planner`] impl, failures.
//! - `convert` — hook answers → [`Plan`](windtunnel_core::Plan), actions, bools.
//! - `settings` — `settings()` → [`PolicySettings`](windtunnel_core::PolicySettings),
//!   params, `--set` overrides.
//! - `lint` — [`lint`], [`lint_source`], [`LintReport`]; `sample` — lint's
//!   sample endpoints and request (also `context(#{})` in tests).
//! - `testing` — [`run_tests`], [`TestRun`]; `testing/helpers` (`request()`,
//!   `context()`, assertions), `testing/render` (text, JUnit).
//! - `script_error` — rhai errors reworded, with positions; `outline` —
//!   positions of `fn` definitions; `suggest` — "did you mean".
//! - `error` — [`PolicyError`].
//!
//! # Dependencies
//! - windtunnel-core: the [`Planner`] trait and the vocabulary it speaks.
//! - rhai: the scripting engine. Built with `default-features = false` and
//!   `std` (the standard library), `no_time` (no `timestamp()`: wall time
//!   breaks determinism), `no_module` (no `import`, so no file access),
//!   `no_custom_syntax` (unused), `only_i64` (one integer type: simpler
//!   scripts, fewer functions to resolve). The default `ahash/runtime-rng` is
//!   left out so hashing never reads the OS random source. Not `sync`: see
//!   Design. Not `unchecked`: the limits are the sandbox.
//! - serde_json: decoding request tags, which traces carry as JSON text.
//! - strsim: edit distance for "did you mean".
//! - thiserror: [`PolicyError`].

mod api;
mod convert;
mod engine;
mod error;
mod hooks;
mod lint;
mod meter;
mod outline;
mod policy;
mod sample;
mod script_error;
mod settings;
mod suggest;
mod testing;
mod views;

pub use error::PolicyError;
pub use lint::{LintReport, LintScenario, lint, lint_for_scenario, lint_source};
pub use policy::{MAX_RECORDED_FAILURES, Policy, RecordedFailure};
pub use suggest::Hint;
pub use testing::{TestResult, TestRun, run_tests};
pub use windtunnel_core::{Planner, PolicyFailure};

#[cfg(test)]
mod tests;
