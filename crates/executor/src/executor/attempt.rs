//! One attempt's life on the executor's side: starting it on a [`Claim`]
//! with its [`Cutoffs`], and settling it when it reports or is cancelled
//! (money against the reservation, health, the breaker's verdict).

use super::claim::Claim;
use super::flight::{AttemptId, FlightId, Running};
use super::{Action, Executor, breaker_event, hedge};
use windtunnel_core::{Event, EventSink, Planner, Usage};

/// When the driver cuts an attempt short and reports a timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    /// The whole attempt must end by then (attempt timeout or request deadline).
    pub timeout_at: u64,
    /// The first token must arrive by then (streams with a TTFT timeout).
    pub first_token_by: Option<u64>,
    /// Streams: the longest silence allowed between chunks.
    pub stall_ms: Option<u64>,
    /// The request's deadline (`u64::MAX`: none). Live streams are bounded
    /// by it after their first token, when the attempt timeout no longer
    /// applies (SPEC "Timeouts"); `timeout_at` already includes it.
    pub deadline_at: u64,
}

impl Cutoffs {
    /// When an attempt that would deliver its first token at `first_token_at`,
    /// fall silent for at most `max_silence_ms` between chunks, and end at
    /// `done_at` is cut, if it is.
    pub fn cut_at(&self, first_token_at: Option<u64>, done_at: u64, max_silence_ms: u64) -> Option<u64> {
        let ttft_cut = match (self.first_token_by, first_token_at) {
            (Some(by), Some(ft)) if ft > by => Some(by),
            (Some(by), None) if done_at > by => Some(by),
            _ => None,
        };
        // The first silence longer than the stall timeout ends the attempt.
        let stall_cut = match (self.stall_ms, first_token_at) {
            (Some(stall), Some(ft)) if max_silence_ms > stall => Some(ft.saturating_add(stall)),
            _ => None,
        };
        let cut = ttft_cut.unwrap_or(u64::MAX).min(stall_cut.unwrap_or(u64::MAX)).min(self.timeout_at);
        (cut < done_at).then_some(cut)
    }
}

impl<P: Planner> Executor<P> {
    pub(super) fn start_attempt(
        &mut self,
        now: u64,
        id: FlightId,
        claim: Claim,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        let Claim { pos, probe, reserved, tokens } = claim;
        let Some(Some(f)) = self.flights.get_mut(id.slot as usize) else { return };
        let endpoint = f.plan.chain[pos];
        f.pos = pos;
        f.attempts += 1;
        let endpoint_attempt = f.count_attempt(endpoint);
        f.running.push(Running { attempt: f.attempts, endpoint, pos, started_at: now, reserved, probe });
        let state = &mut self.endpoints[endpoint.get()];
        state.health.started();
        if probe {
            state.breaker.probe_sent();
        }
        let attempt_end = now.saturating_add(f.plan.attempt_timeout_ms);
        let cutoffs = Cutoffs {
            timeout_at: attempt_end.min(f.deadline_at),
            first_token_by: f.plan.ttft_timeout_ms.filter(|_| f.req.stream).map(|t| now.saturating_add(t)),
            stall_ms: f.plan.stall_timeout_ms.filter(|_| f.req.stream),
            deadline_at: f.deadline_at,
        };
        log.record(&Event::AttemptStarted {
            at: now,
            req: &f.req,
            attempt: f.attempts,
            endpoint,
            attempt_limit: f.plan.attempt_limit(),
            probe,
            tokens,
            plan_deadline_ms: f.plan.deadline_ms,
        });
        out.push(Action::Start {
            id: AttemptId { flight: id, attempt: f.attempts },
            endpoint,
            endpoint_attempt,
            cutoffs,
        });
        hedge::schedule(now, id, f, out);
        if let Some(Some(cache)) = self.prefixes.get_mut(endpoint.get()) {
            let ratio = self.facts[endpoint.get()].tokenizer.for_request(&f.req);
            cache.send(now, &f.req, tokens.0, ratio);
        }
    }

    /// Removes a running attempt, settles its money and health; returns it.
    pub(super) fn settle(
        &mut self,
        now: u64,
        id: AttemptId,
        usage: &Usage,
        health: Option<Result<f64, ()>>,
    ) -> Option<Running> {
        let f =
            self.flights.get_mut(id.flight.slot as usize)?.as_mut().filter(|f| f.generation == id.flight.generation)?;
        let i = f.running.iter().position(|r| r.attempt == id.attempt)?;
        let r = f.running.swap_remove(i);
        f.cost += usage.cost;
        self.ledger.settle(&f.req.tenant, r.reserved, usage.cost);
        let state = &mut self.endpoints[r.endpoint.get()];
        state.health.finished(now, health.map(|h| h.map(|q| (now - r.started_at, q))));
        Some(r)
    }

    /// The breaker's verdict on a settled attempt: `Some(success)`, or `None`
    /// when it says nothing about the endpoint (a cancelled probe is given back).
    pub(super) fn record_breaker(&mut self, now: u64, r: &Running, verdict: Option<bool>, log: &mut impl EventSink) {
        let state = &mut self.endpoints[r.endpoint.get()];
        match verdict {
            Some(success) => {
                if let Some(t) = state.breaker.record(now, success, r.probe) {
                    log.record(&breaker_event(now, r.endpoint, t));
                }
            }
            None if r.probe => state.breaker.probe_abandoned(),
            None => {}
        }
    }
}
