//! The checker: one [`EventSink`] that fans every event out to the eight
//! checks, and turns their tallies into results at the end.

use crate::check::{Check, Tally, kind};
use crate::open::{OpenRequest, OpenRequests};
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
#[derive(Clone, Debug)]
pub struct InvariantChecker {
    world: World,
    /// Per-request state of the checks that keep some, one record per open request.
    open: OpenRequests,
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
#[derive(Clone, Debug)]
struct Slot<C> {
    check: C,
    tally: Tally,
}

impl<C: Check> Slot<C> {
    fn new(check: C) -> Slot<C> {
        Slot { check, tally: Tally::default() }
    }

    #[inline(always)]
    fn feed(&mut self, kind: u8, event: &Event<'_>, open: &mut OpenRequests, world: &World) {
        if self.check.reads() & kind != 0 {
            self.check.observe(event, open, world, &mut self.tally);
        }
    }

    fn finish(mut self, name: &'static str, still_open: &[(u64, OpenRequest)], world: &World) -> InvariantResult {
        self.check.finish(still_open, world, &mut self.tally);
        self.tally.into_result(name)
    }
}

impl InvariantChecker {
    /// A checker for a run in `world`.
    pub fn new(world: World) -> InvariantChecker {
        InvariantChecker {
            conservation: Slot::new(conservation::Conservation),
            breaker_respected: Slot::new(breaker_respected::BreakerRespected::default()),
            retry_after_respected: Slot::new(retry_after_respected::RetryAfterRespected::default()),
            no_retry_on_fatal: Slot::new(no_retry_on_fatal::NoRetryOnFatal::default()),
            context_fits: Slot::new(context_fits::ContextFits),
            attempt_limit: Slot::new(attempt_limit::AttemptLimit),
            deadline: Slot::new(deadline::Deadline::default()),
            budget: Slot::new(budget::Budget::new(&world)),
            world,
            open: OpenRequests::default(),
        }
    }

    /// Ends the log: requests still open break `conservation`. Returns every
    /// invariant, in SPEC order, violations or not.
    pub fn finish(mut self) -> Vec<InvariantResult> {
        let open = self.open.take_sorted();
        let w = &self.world;
        vec![
            self.conservation.finish(conservation::NAME, &open, w),
            self.breaker_respected.finish(breaker_respected::NAME, &open, w),
            self.retry_after_respected.finish(retry_after_respected::NAME, &open, w),
            self.no_retry_on_fatal.finish(no_retry_on_fatal::NAME, &open, w),
            self.context_fits.finish(context_fits::NAME, &open, w),
            self.attempt_limit.finish(attempt_limit::NAME, &open, w),
            self.deadline.finish(deadline::NAME, &open, w),
            self.budget.finish(budget::NAME, &open, w),
        ]
    }

    /// Per-request entries held: records, and the checks' own maps.
    #[cfg(test)]
    pub(crate) fn open_entries(&self) -> usize {
        self.open.len() + self.no_retry_on_fatal.check.open_entries() + self.deadline.check.open_entries()
    }
}

impl InvariantChecker {
    /// Feeds an event of kind `KIND` to the checks that read that kind.
    /// Inlined into `record`'s arm for that kind, where the compiler knows
    /// the kind and folds each check's own `match` on it; the harness
    /// outlines it with the aggregator's work in a [`windtunnel_core::PerKind`].
    #[inline(always)]
    fn feed<const KIND: u8>(&mut self, event: &Event<'_>) {
        let (w, open) = (&self.world, &mut self.open);
        self.conservation.feed(KIND, event, open, w);
        self.breaker_respected.feed(KIND, event, open, w);
        self.retry_after_respected.feed(KIND, event, open, w);
        self.no_retry_on_fatal.feed(KIND, event, open, w);
        self.context_fits.feed(KIND, event, open, w);
        self.attempt_limit.feed(KIND, event, open, w);
        self.deadline.feed(KIND, event, open, w);
        self.budget.feed(KIND, event, open, w);
        if KIND == kind::FINISHED
            && let Event::Finished { req, .. } = event
        {
            open.close(req.seq);
        }
    }
}

impl EventSink for InvariantChecker {
    /// Inlined where each event's kind is known, so the match folds away
    /// (see [`EventSink`]).
    #[inline(always)]
    fn record(&mut self, event: &Event<'_>) {
        match event {
            Event::Arrived { .. } => self.feed::<{ kind::ARRIVED }>(event),
            Event::AttemptStarted { .. } => self.feed::<{ kind::ATTEMPT_STARTED }>(event),
            Event::AttemptFinished { .. } => self.feed::<{ kind::ATTEMPT_FINISHED }>(event),
            Event::AttemptCancelled { .. } => self.feed::<{ kind::ATTEMPT_CANCELLED }>(event),
            Event::Breaker { .. } => self.feed::<{ kind::BREAKER }>(event),
            Event::Finished { .. } => self.feed::<{ kind::FINISHED }>(event),
            // No check reads these.
            Event::Failover { .. } | Event::FaultWindow { .. } => {}
        }
    }
}
