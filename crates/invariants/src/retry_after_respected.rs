//! `retry_after_respected`: no attempt reaches an endpoint before a
//! Retry-After it announced has passed.
//!
//! Why for every request and not just the one that got the 429: a
//! Retry-After is the endpoint telling the *client* (the gateway) to back
//! off, and the executor holds the endpoint off for everyone. So an error
//! with `retry_after_ms = ra` finished at `t` on endpoint `e` forbids any
//! attempt on `e` starting before `t + ra`. Attempts started before the
//! answer arrived could not have known, and are fine. Most such errors are
//! `RateLimited`, but any kind that carries a Retry-After counts.

use crate::check::{Check, Tally, kind};
use crate::open::OpenRequests;
use crate::result::Example;
use crate::world::World;
use windtunnel_core::Event;

/// SPEC's name.
pub(crate) const NAME: &str = "retry_after_respected";

/// The latest-ending Retry-After hold of one endpoint.
#[derive(Clone, Copy, Debug, Default)]
struct Hold {
    /// No attempt before this.
    until: u64,
    /// When the Retry-After that set it arrived.
    announced_at: u64,
    /// Its value in ms.
    retry_after_ms: u64,
}

/// Every endpoint's hold.
#[derive(Clone, Debug, Default)]
pub(crate) struct RetryAfterRespected {
    /// By endpoint index. Absent = never held.
    holds: Vec<Hold>,
}

impl Check for RetryAfterRespected {
    fn reads(&self) -> u8 {
        kind::ATTEMPT_FINISHED | kind::ATTEMPT_STARTED
    }

    #[inline(always)]
    fn observe(&mut self, event: &Event<'_>, _open: &mut OpenRequests, world: &World, tally: &mut Tally) {
        match *event {
            Event::AttemptFinished { at, endpoint, report, .. } => {
                let Some(ra) = report.result.as_ref().err().and_then(|e| e.retry_after_ms) else { return };
                let until = at.saturating_add(ra);
                let i = endpoint.get();
                if self.holds.len() <= i {
                    self.holds.resize(i + 1, Hold::default());
                }
                if until > self.holds[i].until {
                    self.holds[i] = Hold { until, announced_at: at, retry_after_ms: ra };
                }
            }
            Event::AttemptStarted { at, req, endpoint, .. } => {
                let Some(h) = self.holds.get(endpoint.get()).copied() else { return };
                if at < h.until {
                    tally.report(|| {
                        let detail = format!(
                            "Retry-After of {} ms announced at {} ms holds the endpoint until {} ms",
                            h.retry_after_ms, h.announced_at, h.until
                        );
                        Example::new(req, at, Some(endpoint), world, detail)
                    });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{Log, Start, all_hold, only_broken, req};
    use windtunnel_core::{AttemptError, ErrorKind, Outcome};

    fn rate_limited(ra: u64) -> AttemptError {
        AttemptError { retry_after_ms: Some(ra), ..AttemptError::from_status(429) }
    }

    #[test]
    fn attempts_from_the_end_of_the_hold_and_ones_already_started_pass() {
        let (a, b) = (req(0, 0), req(1, 0));
        let mut log = Log::new();
        log.arrive(&a).arrive(&b);
        log.start(0, &a, Start::new(1, 0));
        log.start(5, &b, Start::new(1, 0)); // in flight before the 429 came back
        log.fail(10, &a, 1, 0, rate_limited(1_000), 0);
        log.start(10, &a, Start::new(2, 1)); // elsewhere at once is fine
        log.ok(20, &b, 1, 0, 0);
        log.fail(30, &a, 2, 1, AttemptError::new(ErrorKind::ServerError), 0);
        log.start(30, &a, Start::new(3, 1).limit(4)); // no Retry-After, no hold
        log.fail(40, &a, 3, 1, AttemptError::new(ErrorKind::Overloaded), 0);
        log.start(1_010, &a, Start::new(4, 0).limit(4)); // exactly when the hold ends
        log.ok(1_100, &a, 4, 0, 0);
        log.finish(1_100, &a, Outcome::Succeeded).finish(1_100, &b, Outcome::Succeeded);
        all_hold(&log.results());
    }

    #[test]
    fn an_attempt_inside_the_hold_is_a_violation_for_any_request() {
        let (a, b) = (req(0, 0), req(1, 500));
        let mut log = Log::new();
        log.arrive(&a).start(0, &a, Start::new(1, 1));
        log.fail(10, &a, 1, 1, rate_limited(1_000), 0);
        log.fail(20, &a, 1, 1, rate_limited(100), 0); // a shorter hold does not shorten it
        log.finish(20, &a, Outcome::Succeeded);
        log.arrive(&b).start(1_009, &b, Start::new(1, 1));
        log.finish(1_100, &b, Outcome::Succeeded);
        let r = only_broken(&log.results(), "retry_after_respected", 1);
        let e = &r.examples[0];
        assert_eq!((e.request.as_str(), e.at_ms, e.endpoint.as_deref()), ("2", 1_009, Some("b/large")));
        assert_eq!(e.detail, "Retry-After of 1000 ms announced at 10 ms holds the endpoint until 1010 ms");
    }
}
