//! A failed attempt and what answers it: this is where a 429, a 503 or a
//! timeout is handled.
//!
//! What happens after a failed attempt (`after_error`), in order:
//! 1. a Retry-After holds the endpoint off for everyone; a quota benches it
//!    (`note_error`);
//! 2. a fatal kind marks the endpoint done for this request;
//! 3. the policy's `on_error` answers retry / next / fail (SPEC's defaults
//!    without it); "retry" after a fatal kind becomes "next";
//! 4. past the deadline the request fails with `deadline`; at the attempt
//!    limit with the upstream's reason;
//! 5. retry waits for backoff (and any Retry-After), then `retry_now` starts
//!    it; next takes the next chain entry that is usable (`advance`).
//!
//! Two failures skip the policy: one after the request was committed to the
//! failing attempt (its first byte reached the client), which ends the
//! request, and one while a hedge is still out, which lets the hedge answer.

use super::claim::{Claim, Skips};
use super::flight::{AttemptId, FlightId, Running};
use super::{Action, Executor, WakeKind};
use windtunnel_core::{
    AttemptError, AttemptInfo, AttemptReport, EndpointIdx, ErrorAction, ErrorKind, Event, EventSink, FailReason,
    Nanodollars, Outcome, Planner,
};

/// How long an endpoint that answered `quota_exceeded` is benched when it
/// gave no Retry-After. Quotas reset on the scale of minutes (per-minute
/// spend caps) to months (credits); a minute keeps a refreshed quota from
/// going unused for long while sparing the endpoint a storm of doomed attempts.
pub const QUOTA_BENCH_MS: u64 = 60_000;

impl<P: Planner> Executor<P> {
    /// Attempt `r` of request `id` failed (`report` is a failure).
    pub(super) fn on_failure(
        &mut self,
        now: u64,
        id: AttemptId,
        r: Running,
        report: &AttemptReport,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        let Err(err) = &report.result else { return };
        // A streamed answer whose first byte went out cannot fail over
        // unseen: the request ends with this failure.
        let first_token = report.ttft_ms.is_some();
        let committed = self.flight(id.flight).is_some_and(|f| f.committed || (f.req.stream && first_token));
        if committed {
            self.note_error(now, id.flight, r.endpoint, err);
            let Some(f) = self.flight_mut(id.flight) else { return };
            f.last_error = Some(err.kind);
            f.committed = true;
            let others: Vec<u32> = f.running.iter().map(|r| r.attempt).collect();
            if others.is_empty() {
                if self.rescue(now, id.flight, r, err.kind, log, out) {
                    return;
                }
                return self.finish(now, id.flight, Outcome::Failed(FailReason::Upstream(err.kind)), log);
            }
            for attempt in others {
                out.push(Action::Cancel { id: AttemptId { flight: id.flight, attempt } });
            }
            return;
        }
        if self.flight(id.flight).is_some_and(|f| !f.running.is_empty()) {
            // A hedge is still out: let it answer.
            if let Some(f) = self.flight_mut(id.flight) {
                f.last_error = Some(err.kind);
            }
            self.note_error(now, id.flight, r.endpoint, err);
            return;
        }
        self.after_error(now, id.flight, r, err, log, out);
    }

    /// Mid-stream rescue (live): a committed stream whose attempt failed
    /// continues on a later chain entry that accepts a prefill (the driver
    /// sends the text so far as an assistant prefix and streams the
    /// continuation into the same answer). An attempt like any other: within
    /// the attempt limit and the deadline, past breakers, Retry-After and
    /// budgets, with a failover event. False when there is no such entry.
    fn rescue(
        &mut self,
        now: u64,
        id: FlightId,
        r: Running,
        kind: ErrorKind,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) -> bool {
        if self.rescuers.is_empty() || !self.flight(id).is_some_and(|f| f.req.stream) {
            return false;
        }
        let rescuers = std::mem::take(&mut self.rescuers);
        let from = self.flight(id).map_or(r.pos, |f| f.pos.max(r.pos)) + 1;
        let mut skips = Skips::default();
        let claim = self.claim_where(now, id, from, &mut skips, |e| {
            e != r.endpoint && rescuers.get(e.get()).copied().unwrap_or(false)
        });
        self.rescuers = rescuers;
        let Some(claim) = claim else { return false };
        if let Some(f) = self.flight(id) {
            let to = f.plan.chain[claim.pos];
            log.record(&Event::Failover { at: now, req: &f.req, from: r.endpoint, to, reason: kind });
        }
        self.start_attempt(now, id, claim, log, out);
        true
    }

    /// Retry-After and quota bench, and the fatal mark, for one error.
    fn note_error(&mut self, now: u64, id: FlightId, endpoint: EndpointIdx, err: &AttemptError) {
        let hold = match (err.retry_after_ms, err.kind) {
            (Some(ra), _) => Some(now.saturating_add(ra)),
            (None, ErrorKind::QuotaExceeded) => Some(now.saturating_add(QUOTA_BENCH_MS)),
            _ => None,
        };
        if let Some(until) = hold {
            let nb = &mut self.endpoints[endpoint.get()].not_before;
            *nb = (*nb).max(until);
        }
        if err.kind.is_fatal_for_endpoint()
            && let Some(f) = self.flight_mut(id)
        {
            f.mark_dead(endpoint);
        }
        // A refusal for the request's length (not a request over the TPM,
        // which comes as a 429): only a larger window can take it.
        if err.kind == ErrorKind::ContextExceeded && err.status != Some(429) {
            let window = self.facts[endpoint.get()].context_window;
            if let Some(f) = self.flight_mut(id) {
                f.refused_for_length(window);
            }
        }
    }

    fn after_error(
        &mut self,
        now: u64,
        id: FlightId,
        r: Running,
        err: &AttemptError,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        self.note_error(now, id, r.endpoint, err);
        let Some(Some(f)) = self.flights.get_mut(id.slot as usize) else { return };
        f.last_error = Some(err.kind);
        let info = AttemptInfo { number: r.attempt, endpoint: r.endpoint, elapsed_ms: now - f.arrived };
        let asked = match self.planner.on_error(&f.req, &info, err) {
            Ok(a) => a,
            Err(failure) => {
                self.policy_errors.record(failure, &f.req, now);
                None
            }
        };
        let default = if err.kind.fails_over_by_default() { ErrorAction::Next } else { ErrorAction::Fail };
        let mut action = asked.unwrap_or(default);
        if action == ErrorAction::Retry && err.kind.is_fatal_for_endpoint() {
            action = ErrorAction::Next; // SPEC: never retry an endpoint after a fatal kind
        }
        let (attempts, limit, deadline_at, seq) = (f.attempts, f.plan.attempt_limit(), f.deadline_at, f.req.seq);
        if now >= deadline_at {
            return self.finish(now, id, Outcome::Failed(FailReason::Deadline), log);
        }
        let failed = Outcome::Failed(FailReason::Upstream(err.kind));
        if action == ErrorAction::Fail || attempts >= limit {
            return self.finish(now, id, failed, log);
        }
        match action {
            ErrorAction::Retry => {
                f.retries_here += 1;
                let retry = f.retries_here;
                let backoff = self.backoff.wait_ms(retry, self.backoff_draws.at(seq, u64::from(attempts)));
                let at = (now + backoff).max(self.endpoints[r.endpoint.get()].not_before);
                if at >= deadline_at {
                    return self.finish(now, id, Outcome::Failed(FailReason::Deadline), log);
                }
                f.pos = r.pos;
                f.wake_token += 1;
                out.push(Action::Wake { flight: id, at, kind: WakeKind::Retry, token: f.wake_token });
            }
            ErrorAction::Next | ErrorAction::Fail => {
                // From the furthest position reached: after a hedge, `r` may
                // be the earlier of two attempts.
                let from = self.flight(id).map_or(r.pos, |f| f.pos.max(r.pos)) + 1;
                self.advance(now, id, from, Some((r.endpoint, err.kind)), log, out);
            }
        }
    }

    /// The retry wake-up: retries on the endpoint at chain position `pos`
    /// unless the deadline has passed or will before it comes free; waits
    /// again if another request's Retry-After pushed it back; moves on when
    /// it cannot take the attempt (breaker, budget).
    pub(super) fn retry_now(
        &mut self,
        now: u64,
        flight: FlightId,
        pos: usize,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        let Some(f) = self.flight(flight) else { return };
        let endpoint = f.plan.chain[pos];
        let ready = self.not_before(endpoint);
        let last = f.last_error.unwrap_or(ErrorKind::ServerError);
        if now >= f.deadline_at || ready >= f.deadline_at {
            return self.finish(now, flight, Outcome::Failed(FailReason::Deadline), log);
        }
        if ready > now {
            // Another request's 429 pushed the endpoint back.
            if let Some(f) = self.flight_mut(flight) {
                f.wake_token += 1;
                out.push(Action::Wake { flight, at: ready, kind: WakeKind::Retry, token: f.wake_token });
            }
            return;
        }
        let mut skips = Skips::default();
        match self.claim(now, flight, pos, &mut skips) {
            Some(claim) if claim.pos == pos => self.start_attempt(now, flight, claim, log, out),
            Some(Claim { reserved, .. }) => {
                // The endpoint cannot take it now (breaker, budget): give
                // the reservation back and move on.
                if let Some(f) = self.flight(flight) {
                    let tenant = f.req.tenant.clone();
                    self.ledger.settle(&tenant, reserved, Nanodollars::ZERO);
                }
                self.advance(now, flight, pos + 1, Some((endpoint, last)), log, out);
            }
            None => self.advance(now, flight, pos + 1, Some((endpoint, last)), log, out),
        }
    }
}
