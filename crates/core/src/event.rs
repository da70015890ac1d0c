//! The event log: every arrival, attempt, failover, fault window and outcome
//! with its time. Reports and invariant checks are computed from it alone, in
//! sim and live alike. Events borrow the request so that recording costs no
//! clone; sinks that keep events convert them.

use crate::{AttemptReport, BreakerState, EndpointIdx, ErrorKind, Nanodollars, Outcome, Request, Usage};

/// One record of the event log.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A request arrived.
    Arrived {
        /// Time.
        at: u64,
        /// The request.
        req: &'a Request,
    },
    /// An attempt was sent.
    AttemptStarted {
        /// Time.
        at: u64,
        /// The request.
        req: &'a Request,
        /// 1-based across the chain.
        attempt: u32,
        /// Where it went.
        endpoint: EndpointIdx,
        /// The attempt limit of the request's plan.
        attempt_limit: u32,
        /// A half-open breaker's probe.
        probe: bool,
        /// Tokens of the request as this endpoint counts them (input, max_tokens).
        tokens: (u32, u32),
        /// The plan's own deadline (ms after arrival), if it set one; the
        /// request's and its class's deadlines are known from the request and
        /// the scenario.
        plan_deadline_ms: Option<u64>,
    },
    /// An attempt was given up by the executor (a hedge that lost); what it
    /// had consumed is billed.
    AttemptCancelled {
        /// Time.
        at: u64,
        /// The request.
        req: &'a Request,
        /// 1-based across the chain.
        attempt: u32,
        /// Where it went.
        endpoint: EndpointIdx,
        /// What it consumed.
        usage: Usage,
    },
    /// An endpoint's circuit breaker changed state.
    Breaker {
        /// Time.
        at: u64,
        /// The endpoint.
        endpoint: EndpointIdx,
        /// Before.
        from: BreakerState,
        /// After.
        to: BreakerState,
    },
    /// An attempt ended.
    AttemptFinished {
        /// Time.
        at: u64,
        /// The request.
        req: &'a Request,
        /// 1-based across the chain.
        attempt: u32,
        /// Where it went.
        endpoint: EndpointIdx,
        /// When it started.
        started_at: u64,
        /// What came back.
        report: &'a AttemptReport,
    },
    /// The executor moved a request to another endpoint after an error.
    Failover {
        /// Time.
        at: u64,
        /// The request.
        req: &'a Request,
        /// The endpoint that failed.
        from: EndpointIdx,
        /// The next endpoint.
        to: EndpointIdx,
        /// The error that caused it.
        reason: ErrorKind,
    },
    /// A fault window became active on an endpoint (the sim emits these).
    FaultWindow {
        /// The endpoint.
        endpoint: EndpointIdx,
        /// The index of the fault in the endpoint's `faults` list.
        fault: u16,
        /// Start of the window.
        start: u64,
        /// End of the window (`u64::MAX` = to the end of the run).
        end: u64,
    },
    /// A request reached its one outcome.
    Finished {
        /// Time.
        at: u64,
        /// The request.
        req: &'a Request,
        /// How it ended.
        outcome: Outcome,
        /// Attempts made.
        attempts: u32,
        /// The endpoint that answered, for successes.
        endpoint: Option<EndpointIdx>,
        /// Time to first token of the answer, from arrival.
        ttft_ms: Option<u64>,
        /// All attempts' cost.
        cost: Nanodollars,
        /// The answer's quality.
        quality: Option<f64>,
    },
}

/// Receives the event log as it is written.
///
/// A sink on the replay's hot path should make `record` an
/// `#[inline(always)]` match that calls one function per event kind: the
/// executor builds each event with its kind known, so after inlining the
/// match folds away and the call is direct. A non-inlined `record` pays an
/// unpredictable jump on the kind for every event. Sinks that always run
/// together can leave even those functions inline and sit in one
/// [`PerKind`], which makes the one call per event.
pub trait EventSink {
    /// Records one event. Events arrive in time order.
    fn record(&mut self, event: &Event<'_>);
}

/// The one numbering of event kinds, 0 to 7: [`Event::kind`] answers with
/// it, [`PerKind`] dispatches on it, and the invariant checker's kind bits
/// are `1 << kind`. (The report relay's wire records number their own kinds:
/// they include records that are not events, such as symbols.)
pub mod event_kind {
    /// [`super::Event::Arrived`].
    pub const ARRIVED: u8 = 0;
    /// [`super::Event::AttemptStarted`].
    pub const ATTEMPT_STARTED: u8 = 1;
    /// [`super::Event::AttemptCancelled`].
    pub const ATTEMPT_CANCELLED: u8 = 2;
    /// [`super::Event::Breaker`].
    pub const BREAKER: u8 = 3;
    /// [`super::Event::AttemptFinished`].
    pub const ATTEMPT_FINISHED: u8 = 4;
    /// [`super::Event::Failover`].
    pub const FAILOVER: u8 = 5;
    /// [`super::Event::FaultWindow`].
    pub const FAULT_WINDOW: u8 = 6;
    /// [`super::Event::Finished`].
    pub const FINISHED: u8 = 7;
}

impl<'a> Event<'a> {
    /// `req` answered by the gateway's response cache at `at`: no attempt,
    /// no endpoint, no cost.
    pub fn cached(at: u64, req: &'a Request) -> Event<'a> {
        Event::Finished {
            at,
            req,
            outcome: Outcome::Cached,
            attempts: 0,
            endpoint: None,
            ttft_ms: None,
            cost: Nanodollars::ZERO,
            quality: None,
        }
    }

    /// The event's kind ([`event_kind`]).
    #[inline(always)]
    pub fn kind(&self) -> u8 {
        match self {
            Event::Arrived { .. } => event_kind::ARRIVED,
            Event::AttemptStarted { .. } => event_kind::ATTEMPT_STARTED,
            Event::AttemptCancelled { .. } => event_kind::ATTEMPT_CANCELLED,
            Event::Breaker { .. } => event_kind::BREAKER,
            Event::AttemptFinished { .. } => event_kind::ATTEMPT_FINISHED,
            Event::Failover { .. } => event_kind::FAILOVER,
            Event::FaultWindow { .. } => event_kind::FAULT_WINDOW,
            Event::Finished { .. } => event_kind::FINISHED,
        }
    }
}

/// Feeds `S` from one outlined function per event kind, inside which the
/// kind is known.
///
/// Why: a sink whose per-kind work is inlined into `record` costs each
/// call site of the executor that code; one whose per-kind functions are
/// outlined costs each event a call, with its register saves and restores,
/// per sink. Wrapped here, several sinks with inlined work cost one call per
/// event, and in that call every sink's own `match` on the kind folds away
/// (the function checks the kind first, so the compiler knows it).
#[derive(Debug, Default)]
pub struct PerKind<S>(pub S);

impl<S: EventSink> PerKind<S> {
    #[inline(never)]
    fn on<const KIND: u8>(&mut self, event: &Event<'_>) {
        // Always true (`record` dispatched on it); stated so that the
        // compiler folds every inlined `match` on the kind below.
        if event.kind() == KIND {
            self.0.record(event);
        }
    }
}

impl<S: EventSink> EventSink for PerKind<S> {
    #[inline(always)]
    fn record(&mut self, event: &Event<'_>) {
        match event.kind() {
            0 => self.on::<0>(event),
            1 => self.on::<1>(event),
            2 => self.on::<2>(event),
            3 => self.on::<3>(event),
            4 => self.on::<4>(event),
            5 => self.on::<5>(event),
            6 => self.on::<6>(event),
            7 => self.on::<7>(event),
            // A kind added to `Event` without an arm here still arrives.
            _ => self.0.record(event),
        }
    }
}

/// Discards events.
#[derive(Debug, Default)]
pub struct NullSink;

impl EventSink for NullSink {
    #[inline(always)]
    fn record(&mut self, _: &Event<'_>) {}
}

impl<A: EventSink, B: EventSink> EventSink for (A, B) {
    #[inline(always)]
    fn record(&mut self, event: &Event<'_>) {
        self.0.record(event);
        self.1.record(event);
    }
}

impl<S: EventSink + ?Sized> EventSink for &mut S {
    #[inline(always)]
    fn record(&mut self, event: &Event<'_>) {
        (**self).record(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AttemptError, AttemptReport, BreakerState, EndpointIdx, ErrorKind, FailReason, Nanodollars, Usage};

    /// Keeps each event's kind and time.
    #[derive(Default)]
    struct Seen(Vec<(u8, u64)>);

    impl EventSink for Seen {
        fn record(&mut self, event: &Event<'_>) {
            let at = match *event {
                Event::FaultWindow { start, .. } => start,
                Event::Arrived { at, .. }
                | Event::AttemptStarted { at, .. }
                | Event::AttemptCancelled { at, .. }
                | Event::Breaker { at, .. }
                | Event::AttemptFinished { at, .. }
                | Event::Failover { at, .. }
                | Event::Finished { at, .. } => at,
            };
            self.0.push((event.kind(), at));
        }
    }

    #[test]
    fn per_kind_passes_every_event_on_in_order_and_kinds_follow_the_declaration() {
        let req = Request::new(3, 0, 100, 10);
        let e = EndpointIdx(1);
        let report = AttemptReport::failure(AttemptError::new(ErrorKind::RateLimited), Usage::default(), None);
        let events = [
            Event::Finished {
                at: 8,
                req: &req,
                outcome: Outcome::Failed(FailReason::Deadline),
                attempts: 1,
                endpoint: None,
                ttft_ms: None,
                cost: Nanodollars::ZERO,
                quality: None,
            },
            Event::Arrived { at: 1, req: &req },
            Event::AttemptStarted {
                at: 2,
                req: &req,
                attempt: 1,
                endpoint: e,
                attempt_limit: 2,
                probe: false,
                tokens: (100, 10),
                plan_deadline_ms: None,
            },
            Event::AttemptCancelled { at: 3, req: &req, attempt: 1, endpoint: e, usage: Usage::default() },
            Event::Breaker { at: 4, endpoint: e, from: BreakerState::Closed, to: BreakerState::Open },
            Event::AttemptFinished { at: 5, req: &req, attempt: 1, endpoint: e, started_at: 2, report: &report },
            Event::Failover { at: 6, req: &req, from: e, to: EndpointIdx(0), reason: ErrorKind::RateLimited },
            Event::FaultWindow { endpoint: e, fault: 0, start: 7, end: 9 },
            Event::Arrived { at: 9, req: &req },
        ];
        let mut sink = PerKind(Seen::default());
        for event in &events {
            sink.record(event);
        }
        assert_eq!(sink.0.0, [(7, 8), (0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (0, 9)]);
    }
}
