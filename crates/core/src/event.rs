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
/// unpredictable jump on the kind for every event.
pub trait EventSink {
    /// Records one event. Events arrive in time order.
    fn record(&mut self, event: &Event<'_>);
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
