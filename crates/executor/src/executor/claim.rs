//! Choosing where the next attempt goes: [`Claim`]ing the first usable chain
//! entry (not done for this request, not held off, its breaker admitting, the
//! prompt fitting its window, the budget covering it), moving on to it
//! (`advance`, with the failover event), waiting for a held one (plan
//! `max_wait_ms`), and, when nothing is left, the outcome the [`Skips`] explain.

use super::flight::{FlightId, Waiting};
use super::{Action, Executor, WakeKind};
use crate::breaker::Admission;
use windtunnel_core::{
    EndpointIdx, ErrorKind, Event, EventSink, FailReason, Nanodollars, Outcome, Planner, RejectReason,
};

/// A chain entry that can take the next attempt, its cost reserved.
#[derive(Clone, Copy, Debug)]
pub(super) struct Claim {
    /// Its position in the chain.
    pub(super) pos: usize,
    /// A half-open breaker's probe.
    pub(super) probe: bool,
    /// The budget reservation.
    pub(super) reserved: Nanodollars,
    /// The request's (input, max_tokens) as the endpoint counts them, for
    /// the `AttemptStarted` event.
    pub(super) tokens: (u32, u32),
}

/// Why no chain entry could take the request, for its outcome.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Skips {
    budget: bool,
    context: bool,
    held_off: bool,
}

impl<P: Planner> Executor<P> {
    /// Starts the first usable chain entry at or after `from`; when there is
    /// none, ends the request (unless a hedge is still out).
    pub(super) fn advance(
        &mut self,
        now: u64,
        id: FlightId,
        from: usize,
        failed: Option<(EndpointIdx, ErrorKind)>,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        let mut skips = Skips::default();
        match self.claim(now, id, from, &mut skips) {
            Some(claim) => {
                if let (Some((from_e, kind)), Some(f)) = (failed, self.flight(id))
                    && f.plan.chain[claim.pos] != from_e
                {
                    let to = f.plan.chain[claim.pos];
                    log.record(&Event::Failover { at: now, req: &f.req, from: from_e, to, reason: kind });
                }
                if let Some(f) = self.flight_mut(id) {
                    f.retries_here = 0;
                }
                self.start_attempt(now, id, claim, log, out);
            }
            None => {
                let Some(f) = self.flight(id) else { return };
                if !f.running.is_empty() {
                    return; // a hedge is still out; its report decides
                }
                if self.wait_for_free(now, id, failed, out) {
                    return;
                }
                let Some(f) = self.flight(id) else { return };
                let outcome = match (f.last_error, f.attempts) {
                    _ if now >= f.deadline_at => Outcome::Failed(FailReason::Deadline),
                    (Some(k), _) => Outcome::Failed(FailReason::Upstream(k)),
                    (None, 0) if skips.budget => Outcome::Rejected(RejectReason::Budget),
                    (None, _) if skips.context => Outcome::Failed(FailReason::Upstream(ErrorKind::ContextExceeded)),
                    (None, _) if skips.held_off => Outcome::Failed(FailReason::Upstream(ErrorKind::RateLimited)),
                    (None, _) if skips.budget => Outcome::Rejected(RejectReason::Budget),
                    (None, _) => Outcome::Failed(FailReason::NoEndpoint),
                };
                self.finish(now, id, outcome, log);
            }
        }
    }

    /// Plan `max_wait_ms`: when no chain entry can take the request now but
    /// one is only held back (a Retry-After or quota bench that ends, an open
    /// breaker that turns half-open), asks to be woken when the first comes
    /// free, if that is within the request's waiting allowance, its deadline
    /// and its attempt limit; the chain is then claimed again from its start.
    /// True when the request waits.
    fn wait_for_free(
        &mut self,
        now: u64,
        id: FlightId,
        failed: Option<(EndpointIdx, ErrorKind)>,
        out: &mut Vec<Action>,
    ) -> bool {
        let Some(f) = self.flight(id) else { return false };
        let Some(max_wait) = f.plan.max_wait_ms else { return false };
        if f.attempts >= f.plan.attempt_limit() || now >= f.deadline_at {
            return false;
        }
        let free_at = f
            .plan
            .chain
            .iter()
            .filter(|e| !f.is_dead(**e))
            .filter_map(|e| {
                let state = &self.endpoints[e.get()];
                if state.not_before > now {
                    Some(state.not_before.max(state.breaker.reopens_at().unwrap_or(0)))
                } else {
                    state.breaker.reopens_at()
                }
            })
            .min();
        let Some(free_at) = free_at.filter(|&t| t > now) else { return false };
        let until = f.wait.as_ref().map_or(now.saturating_add(max_wait), |w| w.until);
        if free_at > until || free_at >= f.deadline_at {
            return false;
        }
        let Some(f) = self.flight_mut(id) else { return false };
        f.wait = Some(Box::new(Waiting { until, failed }));
        f.wake_token += 1;
        out.push(Action::Wake { flight: id, at: free_at, kind: WakeKind::Wait, token: f.wake_token });
        true
    }

    /// Finds the first usable chain entry at or after `from` and reserves its cost.
    #[inline]
    pub(super) fn claim(&mut self, now: u64, id: FlightId, from: usize, skips: &mut Skips) -> Option<Claim> {
        self.claim_where(now, id, from, skips, |_| true)
    }

    /// [`Executor::claim`] among the entries `keep` allows (a mid-stream
    /// rescue: only endpoints that continue an assistant message).
    #[inline]
    pub(super) fn claim_where(
        &mut self,
        now: u64,
        id: FlightId,
        from: usize,
        skips: &mut Skips,
        keep: impl Fn(EndpointIdx) -> bool,
    ) -> Option<Claim> {
        let f = self.flights.get(id.slot as usize)?.as_ref().filter(|f| f.generation == id.generation)?;
        if f.attempts >= f.plan.attempt_limit() || now >= f.deadline_at {
            return None;
        }
        for pos in from..f.plan.chain.len() {
            let e = f.plan.chain[pos];
            if f.is_dead(e) || !keep(e) {
                continue;
            }
            if f.window_too_small(self.facts[e.get()].context_window) {
                skips.context = true;
                continue;
            }
            let state = &mut self.endpoints[e.get()];
            if state.not_before > now {
                skips.held_off = true;
                continue;
            }
            // Counted once for the window and the reservation.
            let facts = &self.facts[e.get()];
            let tokens = facts.tokens(&f.req);
            if !facts.fits_tokens(tokens) {
                skips.context = true;
                continue;
            }
            let probe = match state.breaker.admit() {
                Admission::Allow => false,
                Admission::Probe => true,
                Admission::Deny => continue,
            };
            let amount = facts.max_cost_tokens(tokens, now);
            if !self.ledger.reserve(&f.req.tenant, amount) {
                skips.budget = true;
                continue;
            }
            return Some(Claim { pos, probe, reserved: amount, tokens });
        }
        None
    }
}
