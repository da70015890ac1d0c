//! `deadline`: no attempt starts at or after the request's deadline.
//!
//! The deadline is the tightest of three, each in ms after arrival: the
//! request's own `deadline_ms`, the plan's (carried by `AttemptStarted`), and
//! the SLA class's (configuration, from [`World`]). An attempt starting
//! exactly at the deadline has no time left, so it breaks it too.
//!
//! Arrival is the time of the request's `Arrived` event (the run's clock, as
//! the executor measures deadlines), kept while the request is open. An
//! attempt of a request whose arrival was not seen falls back to the
//! request's `at_ms`; `conservation` reports the missing arrival.

use crate::check::{Check, Tally, kind};
use crate::open::OpenRequests;
use crate::result::Example;
use crate::world::World;
use std::collections::BTreeMap;
use windtunnel_core::{Event, SymMap};

/// SPEC's name.
pub(crate) const NAME: &str = "deadline";

/// Arrival times that differ from the trace's, and class deadlines.
#[derive(Clone, Debug, Default)]
pub(crate) struct Deadline {
    /// Arrival time per open request that arrived at another time than its
    /// trace's `at_ms`. A replay's never do, so this is empty (and every
    /// lookup free) unless a live proxy's clock says otherwise.
    arrived_late: BTreeMap<u64, u64>,
    /// Class deadlines from the world, by interned class (a per-request
    /// string lookup otherwise).
    class_deadlines: SymMap<Option<u64>>,
}

impl Deadline {
    /// Entries held for open requests, for the constant-memory test.
    #[cfg(test)]
    pub(crate) fn open_entries(&self) -> usize {
        self.arrived_late.len()
    }
}

impl Check for Deadline {
    fn reads(&self) -> u8 {
        kind::ARRIVED | kind::ATTEMPT_STARTED | kind::FINISHED
    }

    #[inline(always)]
    fn observe(&mut self, event: &Event<'_>, _open: &mut OpenRequests, world: &World, tally: &mut Tally) {
        match *event {
            // Only arrivals that differ from the trace's own time need
            // remembering (a replay's never do; a live proxy's may).
            Event::Arrived { at, req } if at != req.at_ms => {
                self.arrived_late.insert(req.seq, at);
            }
            Event::AttemptStarted { at, req, endpoint, plan_deadline_ms, .. } => {
                let class_deadline = if world.class_deadlines_ms.is_empty() {
                    None
                } else {
                    *self.class_deadlines.get_or_insert_with(&req.class, || world.class_deadline_ms(&req.class))
                };
                let Some(ms) = tightest([req.deadline_ms, plan_deadline_ms, class_deadline]) else {
                    return;
                };
                let arrival = match self.arrived_late.is_empty() {
                    true => req.at_ms,
                    false => self.arrived_late.get(&req.seq).copied().unwrap_or(req.at_ms),
                };
                if at >= arrival.saturating_add(ms) {
                    tally.report(|| {
                        // On a tie, the class's name wins, then the plan's.
                        let whose = if class_deadline == Some(ms) {
                            "class"
                        } else if plan_deadline_ms == Some(ms) {
                            "plan"
                        } else {
                            "request"
                        };
                        let detail = format!(
                            "started {} ms after arrival at {arrival} ms, at or past the {whose}'s {ms} ms deadline",
                            at.saturating_sub(arrival)
                        );
                        Example::new(req, at, Some(endpoint), world, detail)
                    });
                }
            }
            Event::Finished { req, .. } if !self.arrived_late.is_empty() => {
                self.arrived_late.remove(&req.seq);
            }
            _ => {}
        }
    }
}

/// The earliest of optional deadlines. Branch-free: `u64::MAX` stands for
/// none, which is what a deadline of `u64::MAX` ms means anyway (no attempt
/// starts that late).
#[inline(always)]
fn tightest(deadlines: [Option<u64>; 3]) -> Option<u64> {
    let ms = deadlines.iter().fold(u64::MAX, |t, d| t.min(d.unwrap_or(u64::MAX)));
    (ms != u64::MAX).then_some(ms)
}

#[cfg(test)]
mod tests {
    use crate::testing::{Log, Start, all_hold, only_broken, req};
    use windtunnel_core::{FailReason, Outcome};

    #[test]
    fn attempts_before_the_tightest_deadline_pass() {
        let mut a = req(0, 1_000);
        a.deadline_ms = Some(500);
        let mut b = req(1, 1_000);
        b.class = "interactive".into(); // 2 s class deadline
        let c = req(2, 1_000); // no deadline at all
        let mut log = Log::new();
        log.arrive(&a).arrive(&b).arrive(&c);
        log.start(1_499, &a, Start::new(1, 0).plan_deadline(600));
        log.start(2_999, &b, Start::new(1, 0));
        log.start(1_000_000, &c, Start::new(1, 0));
        for r in [&a, &b, &c] {
            log.finish(1_000_001, r, Outcome::Succeeded);
        }
        all_hold(&log.results());
    }

    #[test]
    fn an_attempt_at_or_after_any_deadline_is_a_violation() {
        let mut a = req(0, 1_000);
        a.deadline_ms = Some(500);
        let mut b = req(1, 1_000);
        b.class = "interactive".into();
        let c = req(2, 1_000);
        let mut log = Log::new();
        log.arrive(&a).arrive(&b).arrive(&c);
        log.start(1_100, &c, Start::new(1, 1).plan_deadline(100)); // the plan's
        log.start(1_500, &a, Start::new(1, 1)); // the request's own, exactly
        log.start(3_000, &b, Start::new(1, 1).plan_deadline(2_500)); // the class's is tighter
        for r in [&a, &b, &c] {
            log.finish(4_000, r, Outcome::Failed(FailReason::Deadline));
        }
        let r = only_broken(&log.results(), "deadline", 3);
        let e = &r.examples[1];
        assert_eq!((e.request.as_str(), e.at_ms, e.endpoint.as_deref()), ("1", 1_500, Some("b/large")));
        assert_eq!(e.detail, "started 500 ms after arrival at 1000 ms, at or past the request's 500 ms deadline");
        assert!(r.examples[0].detail.contains("plan's 100 ms"), "{}", r.examples[0].detail);
        assert!(r.examples[2].detail.contains("class's 2000 ms"), "{}", r.examples[2].detail);
    }
}
