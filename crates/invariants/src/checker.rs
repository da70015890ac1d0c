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
    checks: Vec<Slot>,
    /// Per event kind bit (0..7), the checks that read it, in SPEC order.
    readers: [Vec<usize>; 8],
}

/// One invariant: its name, its check, its violations so far.
#[derive(Debug)]
struct Slot {
    name: &'static str,
    reads: u8,
    check: Box<dyn Check>,
    tally: Tally,
}

impl InvariantChecker {
    /// A checker for a run in `world`.
    pub fn new(world: World) -> InvariantChecker {
        // SPEC's table order: the order of results.
        let checks: [(&'static str, Box<dyn Check>); 8] = [
            (conservation::NAME, Box::new(conservation::Conservation::default())),
            (breaker_respected::NAME, Box::new(breaker_respected::BreakerRespected::default())),
            (retry_after_respected::NAME, Box::new(retry_after_respected::RetryAfterRespected::default())),
            (no_retry_on_fatal::NAME, Box::new(no_retry_on_fatal::NoRetryOnFatal::default())),
            (context_fits::NAME, Box::new(context_fits::ContextFits)),
            (attempt_limit::NAME, Box::new(attempt_limit::AttemptLimit::default())),
            (deadline::NAME, Box::new(deadline::Deadline::default())),
            (budget::NAME, Box::new(budget::Budget::new(&world))),
        ];
        let checks: Vec<Slot> = checks
            .into_iter()
            .map(|(name, check)| Slot { name, reads: check.reads(), check, tally: Tally::default() })
            .collect();
        let readers = std::array::from_fn(|bit| {
            checks.iter().enumerate().filter(|(_, s)| s.reads & (1 << bit) != 0).map(|(i, _)| i).collect()
        });
        InvariantChecker { world, checks, readers }
    }

    /// Ends the log: requests still open break `conservation`. Returns every
    /// invariant, in SPEC order, violations or not.
    pub fn finish(self) -> Vec<InvariantResult> {
        self.checks
            .into_iter()
            .map(|mut slot| {
                slot.check.finish(&self.world, &mut slot.tally);
                slot.tally.into_result(slot.name)
            })
            .collect()
    }

    /// Per-request state entries held across all checks.
    #[cfg(test)]
    pub(crate) fn open_entries(&self) -> usize {
        self.checks.iter().map(|s| s.check.open_entries()).sum()
    }
}

impl EventSink for InvariantChecker {
    fn record(&mut self, event: &Event<'_>) {
        let bit = kind_of(event).trailing_zeros() as usize;
        for &i in &self.readers[bit] {
            let slot = &mut self.checks[i];
            slot.check.observe(event, &self.world, &mut slot.tally);
        }
    }
}
