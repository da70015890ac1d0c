//! `breaker_respected`: no attempt reaches an endpoint while its breaker is
//! open; while half-open, only probes.
//!
//! Why the state comes from `Breaker` events and nothing else: when to open
//! and close is the executor's policy (thresholds, windows, open period),
//! not this crate's. The invariant is that the executor obeys the states it
//! announced, at the moment it announced them. A probe while closed is fine
//! here: a probe is a promise to be careful, not an attempt the breaker
//! forbade.

use crate::check::{Check, Tally, kind};
use crate::open::OpenRequests;
use crate::result::Example;
use crate::world::World;
use windtunnel_core::{BreakerState, Event};

/// SPEC's name.
pub(crate) const NAME: &str = "breaker_respected";

/// Every endpoint's breaker, as announced.
#[derive(Clone, Debug, Default)]
pub(crate) struct BreakerRespected {
    /// By endpoint index: the state and since when. Absent = closed since the start.
    states: Vec<(BreakerState, u64)>,
}

impl Check for BreakerRespected {
    fn reads(&self) -> u8 {
        kind::BREAKER | kind::ATTEMPT_STARTED
    }

    #[inline(always)]
    fn observe(&mut self, event: &Event<'_>, _open: &mut OpenRequests, world: &World, tally: &mut Tally) {
        match *event {
            Event::Breaker { at, endpoint, to, .. } => {
                let i = endpoint.get();
                if self.states.len() <= i {
                    self.states.resize(i + 1, (BreakerState::Closed, 0));
                }
                self.states[i] = (to, at);
            }
            Event::AttemptStarted { at, req, endpoint, probe, .. } => {
                let (state, since) = self.states.get(endpoint.get()).copied().unwrap_or_default();
                let (what, why) = match state {
                    BreakerState::Open => ("open", ""),
                    BreakerState::HalfOpen if !probe => ("half-open", " and not a probe"),
                    BreakerState::Closed | BreakerState::HalfOpen => return,
                };
                tally.report(|| {
                    let detail = format!("breaker {what} since {since} ms{why}");
                    Example::new(req, at, Some(endpoint), world, detail)
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{Log, Start, all_hold, only_broken, req};
    use windtunnel_core::BreakerState::{Closed, HalfOpen, Open};
    use windtunnel_core::Outcome;

    #[test]
    fn open_blocks_half_open_admits_probes_closed_admits_all() {
        let (a, b, c, d) = (req(0, 0), req(1, 0), req(2, 0), req(3, 0));
        let mut log = Log::new();
        log.arrive(&a).arrive(&b).arrive(&c).arrive(&d);
        log.start(1, &a, Start::new(1, 0).probe()); // a probe while closed is fine
        log.breaker(10, 0, Closed, Open);
        log.start(11, &b, Start::new(1, 1)); // another endpoint is unaffected
        log.breaker(40, 0, Open, HalfOpen);
        log.start(40, &c, Start::new(1, 0).probe());
        log.breaker(50, 0, HalfOpen, Closed);
        log.start(50, &d, Start::new(1, 0));
        for r in [&a, &b, &c, &d] {
            log.finish(60, r, Outcome::Succeeded);
        }
        all_hold(&log.results());
    }

    #[test]
    fn an_attempt_while_open_is_a_violation() {
        let (a, b) = (req(0, 0), req(1, 0));
        let mut log = Log::new();
        log.arrive(&a).arrive(&b);
        log.breaker(10, 1, Closed, Open);
        log.start(20, &a, Start::new(1, 1));
        log.start(30, &b, Start::new(1, 1).probe()); // a probe does not excuse an open breaker
        log.finish(40, &a, Outcome::Succeeded).finish(40, &b, Outcome::Succeeded);
        let r = only_broken(&log.results(), "breaker_respected", 2);
        let e = &r.examples[0];
        assert_eq!((e.request.as_str(), e.at_ms, e.endpoint.as_deref()), ("1", 20, Some("b/large")));
        assert_eq!(e.detail, "breaker open since 10 ms");
    }

    #[test]
    fn a_non_probe_while_half_open_is_a_violation() {
        let a = req(0, 0);
        let mut log = Log::new();
        log.arrive(&a);
        log.breaker(10, 2, Closed, Open).breaker(20, 2, Open, HalfOpen);
        log.start(25, &a, Start::new(1, 2));
        log.finish(40, &a, Outcome::Succeeded);
        let r = only_broken(&log.results(), "breaker_respected", 1);
        assert_eq!(r.examples[0].endpoint.as_deref(), Some("c/unlimited"));
        assert_eq!(r.examples[0].detail, "breaker half-open since 20 ms and not a probe");
    }
}
