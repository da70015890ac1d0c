//! Test helpers: a small world, requests, and a builder that writes an event
//! log straight into a checker, so each test reads as the log it checks.

use crate::{INVARIANT_NAMES, InvariantChecker, InvariantResult, World};
use std::collections::BTreeMap;
use windtunnel_core::{
    AttemptError, AttemptReport, BreakerState, EndpointIdx, Event, EventSink, Nanodollars, Outcome, Request, Usage,
};

/// Endpoint 0: `a/small`, 1,000-token window. 1: `b/large`, 8,000. 2:
/// `c/unlimited`. Class `interactive` has a 2 s deadline; tenant `acme` a
/// budget of 1,000 nano-dollars.
pub(crate) fn world() -> World {
    World::new([("a/small", Some(1_000)), ("b/large", Some(8_000)), ("c/unlimited", None)])
        .with_class_deadlines(BTreeMap::from([("interactive".to_string(), 2_000)]))
        .with_budgets(BTreeMap::from([("acme".to_string(), Nanodollars(1_000))]))
}

/// Request `seq` arriving at `at`: 100 input tokens, 50 output (and max).
pub(crate) fn req(seq: u64, at: u64) -> Request {
    Request::new(seq, at, 100, 50)
}

/// An `AttemptStarted`'s fields beyond time and request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Start {
    attempt: u32,
    endpoint: u16,
    attempt_limit: u32,
    probe: bool,
    tokens: Option<(u32, u32)>,
    plan_deadline_ms: Option<u64>,
}

impl Start {
    /// Attempt `attempt` on endpoint `endpoint`, of a plan allowing 3, not a
    /// probe, the request's own token counts, no plan deadline.
    pub(crate) fn new(attempt: u32, endpoint: u16) -> Start {
        Start { attempt, endpoint, attempt_limit: 3, probe: false, tokens: None, plan_deadline_ms: None }
    }

    pub(crate) fn limit(mut self, n: u32) -> Start {
        self.attempt_limit = n;
        self
    }

    pub(crate) fn probe(mut self) -> Start {
        self.probe = true;
        self
    }

    pub(crate) fn tokens(mut self, input: u32, max: u32) -> Start {
        self.tokens = Some((input, max));
        self
    }

    pub(crate) fn plan_deadline(mut self, ms: u64) -> Start {
        self.plan_deadline_ms = Some(ms);
        self
    }
}

/// An event log being written into a checker.
pub(crate) struct Log {
    checker: InvariantChecker,
}

impl Log {
    /// A log in [`world`].
    pub(crate) fn new() -> Log {
        Log::in_world(world())
    }

    pub(crate) fn in_world(world: World) -> Log {
        Log { checker: InvariantChecker::new(world) }
    }

    pub(crate) fn event(&mut self, event: &Event<'_>) -> &mut Log {
        self.checker.record(event);
        self
    }

    /// `req` arrives at its `at_ms`.
    pub(crate) fn arrive(&mut self, req: &Request) -> &mut Log {
        self.event(&Event::Arrived { at: req.at_ms, req })
    }

    pub(crate) fn start(&mut self, at: u64, req: &Request, s: Start) -> &mut Log {
        self.event(&Event::AttemptStarted {
            at,
            req,
            attempt: s.attempt,
            endpoint: EndpointIdx(s.endpoint),
            attempt_limit: s.attempt_limit,
            probe: s.probe,
            tokens: s.tokens.unwrap_or((req.input_tokens, req.max_tokens)),
            plan_deadline_ms: s.plan_deadline_ms,
        })
    }

    fn attempt_finished(
        &mut self,
        at: u64,
        req: &Request,
        attempt: u32,
        endpoint: u16,
        report: &AttemptReport,
    ) -> &mut Log {
        self.event(&Event::AttemptFinished {
            at,
            req,
            attempt,
            endpoint: EndpointIdx(endpoint),
            started_at: at,
            report,
        })
    }

    /// Attempt `attempt` on `endpoint` succeeded at `at`, billing `cost` nano-dollars.
    pub(crate) fn ok(&mut self, at: u64, req: &Request, attempt: u32, endpoint: u16, cost: i64) -> &mut Log {
        let report = AttemptReport::success(usage(cost), 0.9, Some(10));
        self.attempt_finished(at, req, attempt, endpoint, &report)
    }

    /// Attempt `attempt` on `endpoint` failed at `at` with `err`, billing `cost`.
    pub(crate) fn fail(
        &mut self,
        at: u64,
        req: &Request,
        attempt: u32,
        endpoint: u16,
        err: AttemptError,
        cost: i64,
    ) -> &mut Log {
        let report = AttemptReport::failure(err, usage(cost), None);
        self.attempt_finished(at, req, attempt, endpoint, &report)
    }

    /// Attempt `attempt` on `endpoint` lost a hedge at `at`, billing `cost`.
    pub(crate) fn cancel(&mut self, at: u64, req: &Request, attempt: u32, endpoint: u16, cost: i64) -> &mut Log {
        self.event(&Event::AttemptCancelled { at, req, attempt, endpoint: EndpointIdx(endpoint), usage: usage(cost) })
    }

    pub(crate) fn breaker(&mut self, at: u64, endpoint: u16, from: BreakerState, to: BreakerState) -> &mut Log {
        self.event(&Event::Breaker { at, endpoint: EndpointIdx(endpoint), from, to })
    }

    /// `req` ends at `at` with `outcome`.
    pub(crate) fn finish(&mut self, at: u64, req: &Request, outcome: Outcome) -> &mut Log {
        self.event(&Event::Finished {
            at,
            req,
            outcome,
            attempts: 0,
            endpoint: None,
            ttft_ms: None,
            cost: Nanodollars::ZERO,
            quality: None,
        })
    }

    pub(crate) fn open_entries(&self) -> usize {
        self.checker.open_entries()
    }

    /// Ends the log.
    pub(crate) fn results(self) -> Vec<InvariantResult> {
        self.checker.finish()
    }
}

fn usage(cost: i64) -> Usage {
    Usage { input_tokens: 100, output_tokens: 50, cost: Nanodollars(cost), ..Usage::default() }
}

/// Asserts that `name` was broken `count` times and every other invariant
/// held; returns `name`'s result.
#[track_caller]
pub(crate) fn only_broken(results: &[InvariantResult], name: &str, count: u64) -> InvariantResult {
    assert!(INVARIANT_NAMES.contains(&name), "unknown invariant {name}");
    for r in results {
        if r.name == name {
            assert_eq!(r.violations, count, "{name}: {:#?}", r.examples);
        } else {
            assert!(r.holds(), "{} broken too: {:#?}", r.name, r.examples);
        }
    }
    results.iter().find(|r| r.name == name).cloned().expect("every invariant is reported")
}

/// Asserts that every invariant held.
#[track_caller]
pub(crate) fn all_hold(results: &[InvariantResult]) {
    assert_eq!(results.len(), INVARIANT_NAMES.len());
    for r in results {
        assert!(r.holds(), "{} broken: {:#?}", r.name, r.examples);
    }
}
