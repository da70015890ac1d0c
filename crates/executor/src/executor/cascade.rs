//! An answer and what becomes of it. Without an `accept` hook every answer
//! is taken. A cascade's `accept` may turn one down: the request then goes on
//! to the next tier, keeping the best answer turned down as a fallback that
//! `finish` answers with if no later tier does. Taking an answer cancels the
//! other attempts still out (hedges) and succeeds the request once they have
//! reported.

use super::claim::Skips;
use super::flight::{Answer, AttemptId, FlightId, Running};
use super::{Action, Executor};
use windtunnel_core::{AttemptReport, EventSink, Outcome, Planner, Response, ResponseInfo};

impl<P: Planner> Executor<P> {
    /// Attempt `r` of request `id` answered (`report` is a success):
    /// accepted, the answer concludes the request; turned down, the next tier
    /// is tried.
    pub(super) fn on_answer(
        &mut self,
        now: u64,
        id: AttemptId,
        r: Running,
        report: &AttemptReport,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        let Ok(Response { quality }) = report.result else { return };
        let Some(Some(f)) = self.flights.get(id.flight.slot as usize) else { return };
        let ttft_ms = report.ttft_ms.map(|t| (r.started_at - f.arrived).saturating_add(t));
        let answer = Answer { endpoint: r.endpoint, quality, ttft_ms };
        let others_running = !f.running.is_empty();
        if self.planner.has_accept() {
            let info = ResponseInfo {
                endpoint: r.endpoint,
                quality,
                latency_ms: now - r.started_at,
                ttft_ms: report.ttft_ms,
                output_tokens: report.usage.output_tokens,
                cost: report.usage.cost,
            };
            let accepted = match self.planner.accept(&f.req, &info) {
                Ok(a) => a,
                Err(failure) => {
                    self.policy_errors.record(failure, &f.req, now);
                    true
                }
            };
            if !accepted {
                let Some(f) = self.flight_mut(id.flight) else { return };
                if f.fallback.is_none_or(|b| answer.quality > b.quality) {
                    f.fallback = Some(answer);
                }
                if others_running {
                    return; // a hedge is still out: its answer may be accepted
                }
                let from = f.pos.max(r.pos) + 1;
                let mut skips = Skips::default();
                if let Some(claim) = self.claim(now, id.flight, from, &mut skips) {
                    self.start_attempt(now, id.flight, claim, log, out);
                    return;
                }
                // No tier left: the last answer stands.
            }
        }
        self.conclude(now, id.flight, answer, log, out);
    }

    /// Succeeds the request, cancelling other attempts still out first.
    fn conclude(&mut self, now: u64, id: FlightId, answer: Answer, log: &mut impl EventSink, out: &mut Vec<Action>) {
        let Some(f) = self.flight_mut(id) else { return };
        if f.running.is_empty() {
            f.answer = Some(answer);
            return self.finish(now, id, Outcome::Succeeded, log);
        }
        f.answer = Some(answer);
        for r in &f.running {
            out.push(Action::Cancel { id: AttemptId { flight: id, attempt: r.attempt } });
        }
    }
}
