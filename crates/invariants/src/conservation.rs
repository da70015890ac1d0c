//! `conservation`: every request of the trace ends in exactly one outcome
//! (succeeded, failed, rejected or cached).
//!
//! Why it is checked from arrivals and not from a count: a count (arrivals ==
//! outcomes) lets a lost request and a doubled one cancel out. Here each
//! `Finished` must close a request that is open, and every request still open
//! when the log ends is a violation.
//!
//! Memory: only open requests are remembered. So a `Finished` for a request
//! that is not open is one violation whether it is a second outcome or an
//! outcome that never arrived; telling the two apart would mean remembering
//! every finished request, and both break the same invariant.

use crate::check::{Check, Tally, kind};
use crate::open::{OpenRequest, OpenRequests};
use crate::result::Example;
use crate::world::World;
use windtunnel_core::{Event, Request};

/// SPEC's name.
pub(crate) const NAME: &str = "conservation";

/// Requests between their arrival and their outcome: the `arrived`,
/// `arrived_at` and `id` fields of [`OpenRequest`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Conservation;

impl Check for Conservation {
    fn reads(&self) -> u8 {
        kind::ARRIVED | kind::FINISHED
    }

    #[inline(always)]
    fn observe(&mut self, event: &Event<'_>, open: &mut OpenRequests, world: &World, tally: &mut Tally) {
        match *event {
            Event::Arrived { at, req } => {
                let r = open.of(req.seq);
                if r.arrived {
                    let first = r.arrived_at;
                    tally.report(|| {
                        Example::new(req, at, None, world, format!("arrived again while open since {first} ms"))
                    });
                } else {
                    (r.arrived, r.arrived_at, r.id) = (true, at, req.id.clone());
                }
            }
            Event::Finished { at, req, outcome, endpoint, .. } => {
                // The checker closes the record after this event.
                let was_open = open.get(req.seq).is_some_and(|r| r.arrived);
                if !was_open {
                    tally.report(|| {
                        let detail = format!(
                            "outcome `{outcome}` for a request that is not open: a second outcome, or one without an arrival"
                        );
                        Example::new(req, at, endpoint, world, detail)
                    });
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, still_open: &[(u64, OpenRequest)], world: &World, tally: &mut Tally) {
        for (seq, r) in still_open.iter().filter(|(_, r)| r.arrived) {
            tally.report(|| {
                // A stand-in request, so the id prints by core's own rule.
                let mut req = Request::new(*seq, r.arrived_at, 0, 0);
                req.id = r.id.clone();
                Example::new(&req, r.arrived_at, None, world, "arrived but never reached an outcome".to_string())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{Log, all_hold, only_broken, req};
    use windtunnel_core::{ErrorKind, FailReason, Outcome, RejectReason};

    #[test]
    fn one_outcome_each_holds_whatever_the_outcome() {
        let (a, b, c, d) = (req(0, 0), req(1, 5), req(2, 6), req(3, 7));
        let mut log = Log::new();
        log.arrive(&a).arrive(&b).arrive(&c).arrive(&d);
        log.finish(10, &b, Outcome::Failed(FailReason::Upstream(ErrorKind::Timeout)));
        log.finish(11, &a, Outcome::Succeeded);
        log.finish(12, &c, Outcome::Rejected(RejectReason::Budget));
        log.finish(13, &d, Outcome::Cached);
        all_hold(&log.results());
    }

    #[test]
    fn a_second_outcome_is_a_violation() {
        let a = req(0, 0);
        let mut log = Log::new();
        log.arrive(&a).finish(10, &a, Outcome::Succeeded).finish(12, &a, Outcome::Succeeded);
        let r = only_broken(&log.results(), "conservation", 1);
        assert_eq!(r.examples[0].request, "1");
        assert_eq!(r.examples[0].at_ms, 12);
        assert!(r.examples[0].detail.contains("not open"), "{}", r.examples[0].detail);
    }

    #[test]
    fn an_outcome_without_arrival_is_a_violation() {
        let mut a = req(0, 0);
        a.id = Some("r-a".into());
        let mut log = Log::new();
        log.finish(3, &a, Outcome::Rejected(RejectReason::Policy));
        let r = only_broken(&log.results(), "conservation", 1);
        assert_eq!(r.examples[0].request, "r-a");
        assert!(r.examples[0].detail.contains("rejected: policy"), "{}", r.examples[0].detail);
    }

    #[test]
    fn requests_still_open_at_the_end_are_violations_in_seq_order() {
        let (a, b, c) = (req(0, 0), req(1, 5), req(2, 9));
        let mut log = Log::new();
        log.arrive(&a).arrive(&b).arrive(&c).finish(10, &b, Outcome::Succeeded);
        let r = only_broken(&log.results(), "conservation", 2);
        let got: Vec<_> = r.examples.iter().map(|e| (e.request.as_str(), e.at_ms)).collect();
        assert_eq!(got, [("1", 0), ("3", 9)], "id = line number, at = arrival");
        assert_eq!(r.examples[0].detail, "arrived but never reached an outcome");
    }

    #[test]
    fn arriving_twice_is_a_violation() {
        let a = req(0, 0);
        let mut log = Log::new();
        log.arrive(&a).arrive(&a).finish(10, &a, Outcome::Succeeded);
        only_broken(&log.results(), "conservation", 1);
    }
}
