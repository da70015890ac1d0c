//! Hedging (plan `hedge_after_ms`): when the first attempt of a request is
//! still out after the hedge delay, a second one starts on the next usable
//! chain entry; the first answer accepted wins and the other is cancelled.
//! A request hedges at most once.

use super::claim::Skips;
use super::flight::{Flight, FlightId};
use super::{Action, Executor, WakeKind};
use windtunnel_core::{EventSink, Planner};

/// After an attempt starts: asks to be woken at the hedge delay, when the
/// plan hedges, the request has not hedged yet, this is its only attempt out
/// and the attempt limit leaves room for another.
pub(super) fn schedule(now: u64, id: FlightId, f: &mut Flight, out: &mut Vec<Action>) {
    if let Some(h) = f.plan.hedge_after_ms
        && !f.hedged
        && f.running.len() == 1
        && f.attempts < f.plan.attempt_limit()
    {
        f.wake_token += 1;
        let at = now.saturating_add(h);
        out.push(Action::Wake { flight: id, at, kind: WakeKind::Hedge, token: f.wake_token });
    }
}

impl<P: Planner> Executor<P> {
    /// The hedge wake-up: if the first attempt is still the only one out,
    /// starts the hedge after chain position `pos`.
    pub(super) fn start_hedge(
        &mut self,
        now: u64,
        flight: FlightId,
        pos: usize,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        let Some(f) = self.flight(flight) else { return };
        if f.running.len() != 1 || f.hedged {
            return;
        }
        let mut skips = Skips::default();
        if let Some(claim) = self.claim(now, flight, pos + 1, &mut skips) {
            if let Some(f) = self.flight_mut(flight) {
                f.hedged = true;
            }
            self.start_attempt(now, flight, claim, log, out);
        }
    }
}
