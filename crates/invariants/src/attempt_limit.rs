//! `attempt_limit`: no request makes more attempts than its plan allows.
//!
//! Why count and not only read the event's `attempt` number: that number is
//! the executor's own counter, and an executor that forgot to bump it would
//! also pass its own check. So each open request's `AttemptStarted` events
//! are counted here too, and an attempt breaks the limit when either its
//! number or the count so far exceeds the plan's `attempt_limit`. Hedges and
//! retries are attempts like any other.

use crate::check::{Check, Tally, kind};
use crate::open::OpenRequests;
use crate::result::Example;
use crate::world::World;
use windtunnel_core::Event;

/// SPEC's name.
pub(crate) const NAME: &str = "attempt_limit";

/// Attempts started so far, per open request: the
/// `attempts_started` field of [`crate::open::OpenRequest`].
#[derive(Clone, Debug, Default)]
pub(crate) struct AttemptLimit;

impl Check for AttemptLimit {
    fn reads(&self) -> u8 {
        kind::ATTEMPT_STARTED
    }

    #[inline(always)]
    fn observe(&mut self, event: &Event<'_>, open: &mut OpenRequests, world: &World, tally: &mut Tally) {
        let Event::AttemptStarted { at, req, attempt, endpoint, attempt_limit, .. } = *event else { return };
        let count = &mut open.of(req.seq).attempts_started;
        *count = count.saturating_add(1);
        let made = (*count).max(attempt);
        if made > attempt_limit {
            tally.report(|| {
                let detail = format!("attempt {made} of a plan allowing {attempt_limit}");
                Example::new(req, at, Some(endpoint), world, detail)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{Log, Start, all_hold, only_broken, req};
    use windtunnel_core::{AttemptError, ErrorKind, FailReason, Outcome};

    #[test]
    fn attempts_up_to_the_limit_pass() {
        let (a, b) = (req(0, 0), req(1, 0));
        let mut log = Log::new();
        log.arrive(&a).arrive(&b);
        for n in 1..=3 {
            log.start(n.into(), &a, Start::new(n, 2).limit(3));
            log.fail(u64::from(n) + 1, &a, n, 2, AttemptError::new(ErrorKind::Timeout), 0);
        }
        log.finish(10, &a, Outcome::Failed(FailReason::Upstream(ErrorKind::Timeout)));
        log.start(10, &b, Start::new(1, 2).limit(1)); // counts are per request
        log.finish(20, &b, Outcome::Succeeded);
        all_hold(&log.results());
    }

    #[test]
    fn an_attempt_over_the_limit_is_a_violation() {
        let a = req(0, 0);
        let mut log = Log::new();
        log.arrive(&a);
        log.start(0, &a, Start::new(1, 0).limit(2));
        log.start(5, &a, Start::new(2, 1).limit(2)); // a hedge
        log.start(9, &a, Start::new(3, 2).limit(2));
        log.finish(20, &a, Outcome::Succeeded);
        let r = only_broken(&log.results(), "attempt_limit", 1);
        let e = &r.examples[0];
        assert_eq!((e.request.as_str(), e.at_ms, e.endpoint.as_deref()), ("1", 9, Some("c/unlimited")));
        assert_eq!(e.detail, "attempt 3 of a plan allowing 2");
    }

    #[test]
    fn a_miscounted_attempt_number_does_not_hide_an_extra_attempt() {
        let a = req(0, 0);
        let mut log = Log::new();
        log.arrive(&a);
        log.start(0, &a, Start::new(1, 0).limit(1));
        log.start(5, &a, Start::new(1, 1).limit(1)); // claims to be the first again
        log.finish(20, &a, Outcome::Succeeded);
        let r = only_broken(&log.results(), "attempt_limit", 1);
        assert_eq!(r.examples[0].detail, "attempt 2 of a plan allowing 1");
    }
}
