//! The checker: one [`EventSink`] that fans every event out to the eight
//! checks, and turns their tallies into results at the end.

use crate::check::{Check, Tally, kind_of};
use crate::result::InvariantResult;
use crate::world::World;
use crate::{
    attempt_limit, breaker_respected, budget, conservation, context_fits, deadline, no_retry_on_fatal,
    retry_after_respected,
};
use windtunnel_core::{Event, EventSink};

/// Checks SPEC's invariants on an event log as it is written.
///
/// Feed it every event of a run (it is an [`EventSink`], so it can sit
/// beside the report's aggregator), then call [`InvariantChecker::finish`].
/// Memory does not grow with the length of the log: see the crate docs.
///
/// ```
/// use std::collections::BTreeMap;
/// use windtunnel_core::{EndpointIdx, Event, EventSink, Nanodollars, Outcome, Request};
/// use windtunnel_invariants::{InvariantChecker, World, INVARIANT_NAMES};
///
/// let world = World::new([("openai/gpt-4o", Some(128_000))])
///     .with_budgets(BTreeMap::from([("acme".to_string(), Nanodollars(1_000_000))]));
/// let mut checker = InvariantChecker::new(world);
/// let req = Request::new(0, 0, 800, 200);
/// checker.record(&Event::Arrived { at: 0, req: &req });
/// checker.record(&Event::AttemptStarted {
///     at: 0, req: &req, attempt: 1, endpoint: EndpointIdx(0), attempt_limit: 3,
///     probe: false, tokens: (800, 200), plan_deadline_ms: None,
/// });
/// checker.record(&Event::AttemptStarted {
///     at: 5, req: &req, attempt: 2, endpoint: EndpointIdx(0), attempt_limit: 1,
///     probe: false, tokens: (800, 200), plan_deadline_ms: None,
/// });
/// let results = checker.finish();
/// assert_eq!(results.iter().map(|r| r.name).collect::<Vec<_>>(), INVARIANT_NAMES);
/// let broken: Vec<_> = results.iter().filter(|r| !r.holds()).map(|r| r.name).collect();
/// // Never finished, and a second attempt over a limit of one.
/// assert_eq!(broken, ["conservation", "attempt_limit"]);
/// ```
#[derive(Debug)]
pub struct InvariantChecker {
    world: World,
    // One field per invariant, in SPEC's table order. Static dispatch: each
    // event goes only to the checks whose `reads()` name its kind, and the
    // compiler folds those constant masks away.
    conservation: Slot<conservation::Conservation>,
    breaker_respected: Slot<breaker_respected::BreakerRespected>,
    retry_after_respected: Slot<retry_after_respected::RetryAfterRespected>,
    no_retry_on_fatal: Slot<no_retry_on_fatal::NoRetryOnFatal>,
    context_fits: Slot<context_fits::ContextFits>,
    attempt_limit: Slot<attempt_limit::AttemptLimit>,
    deadline: Slot<deadline::Deadline>,
    budget: Slot<budget::Budget>,
}

/// One invariant: its check and its violations so far.
#[derive(Debug)]
struct Slot<C> {
    check: C,
    tally: Tally,
}

impl<C: Check> Slot<C> {
    fn new(check: C) -> Slot<C> {
        Slot { check, tally: Tally::default() }
    }

    #[inline]
    fn feed(&mut self, kind: u8, event: &Event<'_>, world: &World) {
        if self.check.reads() & kind != 0 {
            self.check.observe(event, world, &mut self.tally);
        }
    }

    fn finish(mut self, name: &'static str, world: &World) -> InvariantResult {
        self.check.finish(world, &mut self.tally);
        self.tally.into_result(name)
    }
}

impl InvariantChecker {
    /// A checker for a run in `world`.
    pub fn new(world: World) -> InvariantChecker {
        InvariantChecker {
            conservation: Slot::new(conservation::Conservation::default()),
            breaker_respected: Slot::new(breaker_respected::BreakerRespected::default()),
            retry_after_respected: Slot::new(retry_after_respected::RetryAfterRespected::default()),
            no_retry_on_fatal: Slot::new(no_retry_on_fatal::NoRetryOnFatal::default()),
            context_fits: Slot::new(context_fits::ContextFits),
            attempt_limit: Slot::new(attempt_limit::AttemptLimit::default()),
            deadline: Slot::new(deadline::Deadline::default()),
            budget: Slot::new(budget::Budget::new(&world)),
            world,
        }
    }

    /// Ends the log: requests still open break `conservation`. Returns every
    /// invariant, in SPEC order, violations or not.
    pub fn finish(self) -> Vec<InvariantResult> {
        let w = &self.world;
        vec![
            self.conservation.finish(conservation::NAME, w),
            self.breaker_respected.finish(breaker_respected::NAME, w),
            self.retry_after_respected.finish(retry_after_respected::NAME, w),
            self.no_retry_on_fatal.finish(no_retry_on_fatal::NAME, w),
            self.context_fits.finish(context_fits::NAME, w),
            self.attempt_limit.finish(attempt_limit::NAME, w),
            self.deadline.finish(deadline::NAME, w),
            self.budget.finish(budget::NAME, w),
        ]
    }

    /// Per-request state entries held across all checks.
    #[cfg(test)]
    pub(crate) fn open_entries(&self) -> usize {
        self.conservation.check.open_entries()
            + self.breaker_respected.check.open_entries()
            + self.retry_after_respected.check.open_entries()
            + self.no_retry_on_fatal.check.open_entries()
            + self.context_fits.check.open_entries()
            + self.attempt_limit.check.open_entries()
            + self.deadline.check.open_entries()
            + self.budget.check.open_entries()
    }
}

impl EventSink for InvariantChecker {
    fn record(&mut self, event: &Event<'_>) {
        let kind = kind_of(event);
        let w = &self.world;
        self.conservation.feed(kind, event, w);
        self.breaker_respected.feed(kind, event, w);
        self.retry_after_respected.feed(kind, event, w);
        self.no_retry_on_fatal.feed(kind, event, w);
        self.context_fits.feed(kind, event, w);
        self.attempt_limit.feed(kind, event, w);
        self.deadline.feed(kind, event, w);
        self.budget.feed(kind, event, w);
    }
}
