//! `no_retry_on_fatal`: within one request, no second attempt on an endpoint
//! after an error that is fatal there (bad_request, auth, content_filter,
//! quota_exceeded, context_exceeded: [`ErrorKind::is_fatal_for_endpoint`]).
//!
//! Why per request: these errors say "this endpoint will not serve this
//! request" (a quota also benches the endpoint for others for a while, but
//! that is a Retry-After-like hold, not this invariant). Other endpoints
//! remain fair game, and so do attempts on the same endpoint that were
//! already in flight (a hedge) when the error came back.

use crate::check::{Check, Tally, kind};
use crate::open::OpenRequests;
use crate::result::Example;
use crate::world::World;
use std::collections::BTreeMap;
use windtunnel_core::{EndpointIdx, ErrorKind, Event};

/// SPEC's name.
pub(crate) const NAME: &str = "no_retry_on_fatal";

/// An endpoint closed to a request by a fatal error: which, why, since when.
#[derive(Clone, Copy, Debug)]
struct DeadEndpoint {
    endpoint: EndpointIdx,
    kind: ErrorKind,
    at: u64,
}

/// For each open request that met a fatal error, the endpoints it may no
/// longer use. Few requests ever meet one, so a small map of its own (empty
/// on most runs, which makes every lookup free) rather than a field in every
/// open request's record; a chain is short, so a `Vec` per request.
#[derive(Clone, Debug, Default)]
pub(crate) struct NoRetryOnFatal {
    dead: BTreeMap<u64, Vec<DeadEndpoint>>,
}

impl NoRetryOnFatal {
    /// Entries held for open requests, for the constant-memory test.
    #[cfg(test)]
    pub(crate) fn open_entries(&self) -> usize {
        self.dead.len()
    }
}

impl Check for NoRetryOnFatal {
    fn reads(&self) -> u8 {
        kind::ATTEMPT_FINISHED | kind::ATTEMPT_STARTED | kind::FINISHED
    }

    #[inline(always)]
    fn observe(&mut self, event: &Event<'_>, _open: &mut OpenRequests, world: &World, tally: &mut Tally) {
        match *event {
            Event::AttemptFinished { at, req, endpoint, report, .. } => {
                let Err(err) = &report.result else { return };
                if !err.kind.is_fatal_for_endpoint() {
                    return;
                }
                let dead = self.dead.entry(req.seq).or_default();
                if !dead.iter().any(|d| d.endpoint == endpoint) {
                    dead.push(DeadEndpoint { endpoint, kind: err.kind, at });
                }
            }
            Event::AttemptStarted { at, req, endpoint, .. } if !self.dead.is_empty() => {
                let Some(d) = self.dead.get(&req.seq).and_then(|v| v.iter().find(|d| d.endpoint == endpoint)) else {
                    return;
                };
                let d = *d;
                tally.report(|| {
                    let detail = format!("attempt on the endpoint after `{}` at {} ms", d.kind, d.at);
                    Example::new(req, at, Some(endpoint), world, detail)
                });
            }
            Event::Finished { req, .. } if !self.dead.is_empty() => {
                self.dead.remove(&req.seq);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{Log, Start, all_hold, only_broken, req};
    use windtunnel_core::{AttemptError, ErrorKind, FailReason, Outcome};

    #[test]
    fn retrying_after_retryable_kinds_and_moving_on_after_fatal_ones_pass() {
        let (a, b) = (req(0, 0), req(1, 0));
        let mut log = Log::new();
        log.arrive(&a).arrive(&b);
        log.start(0, &a, Start::new(1, 0)).start(0, &b, Start::new(1, 0));
        log.fail(10, &a, 1, 0, AttemptError::new(ErrorKind::ServerError), 0);
        log.start(10, &a, Start::new(2, 0)); // a retryable kind may be retried here
        log.fail(20, &a, 2, 0, AttemptError::new(ErrorKind::Auth), 0);
        log.start(20, &a, Start::new(3, 1)); // a fatal kind: the next endpoint is fine
        log.fail(25, &b, 1, 0, AttemptError::new(ErrorKind::ContentFilter), 0);
        log.ok(30, &a, 3, 1, 0);
        log.finish(30, &a, Outcome::Succeeded);
        log.finish(30, &b, Outcome::Failed(FailReason::Upstream(ErrorKind::ContentFilter)));
        // Another request may still use the endpoint.
        let c = req(2, 40);
        log.arrive(&c).start(40, &c, Start::new(1, 0)).ok(50, &c, 1, 0, 0).finish(50, &c, Outcome::Succeeded);
        all_hold(&log.results());
    }

    #[test]
    fn a_second_attempt_after_each_fatal_kind_is_a_violation() {
        let fatal: Vec<_> = ErrorKind::ALL.into_iter().filter(|k| k.is_fatal_for_endpoint()).collect();
        assert_eq!(fatal.len(), 5, "SPEC names five");
        let mut log = Log::new();
        let reqs: Vec<_> = (0..5).map(|i| req(i, 0)).collect();
        for (r, &kind) in reqs.iter().zip(&fatal) {
            log.arrive(r).start(0, r, Start::new(1, 2));
            log.fail(10, r, 1, 2, AttemptError::new(kind), 0);
            log.start(10, r, Start::new(2, 1)); // elsewhere: fine
            log.fail(20, r, 2, 1, AttemptError::new(ErrorKind::Timeout), 0);
            log.start(30, r, Start::new(3, 2)); // back to the fatal endpoint
            log.finish(40, r, Outcome::Failed(FailReason::Upstream(kind)));
        }
        let r = only_broken(&log.results(), "no_retry_on_fatal", 5);
        let e = &r.examples[0];
        assert_eq!((e.request.as_str(), e.at_ms, e.endpoint.as_deref()), ("1", 30, Some("c/unlimited")));
        assert_eq!(e.detail, "attempt on the endpoint after `quota_exceeded` at 10 ms");
        assert!(r.examples[4].detail.contains("content_filter"), "{}", r.examples[4].detail);
    }
}
