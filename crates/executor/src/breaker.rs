//! Circuit breakers: one state machine per endpoint, a plain struct that takes
//! `now` as an argument (no task, no clock), so its transitions land in the
//! event log in a deterministic order and its tests need no runtime.
//!
//! Closed → Open when, within the sliding window, at least `min_requests`
//! attempts were made and the failure share reached `failure_rate`, or after
//! `consecutive_failures` failures in a row. Open → HalfOpen once `open_ms`
//! has passed. HalfOpen lets `half_open_probes` attempts through: that many
//! successes close the breaker, one failure opens it again.
//!
//! Only failures that say something about the endpoint's health count
//! ([`windtunnel_core::ErrorKind::counts_against_health`]): a 429 is handled by
//! Retry-After, a 400 is the client's fault.

mod success_rate;

pub use success_rate::SuccessRateWindow;
use windtunnel_core::{BreakerSettings, BreakerState};

/// Why a breaker opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TripReason {
    /// The failure share over the window.
    FailureRate,
    /// Failures in a row.
    ConsecutiveFailures,
    /// A half-open probe failed.
    ProbeFailed,
}

/// A state change, for the event log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Before.
    pub from: BreakerState,
    /// After.
    pub to: BreakerState,
    /// Why it opened, for transitions to open.
    pub reason: Option<TripReason>,
}

/// Whether an attempt may go through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Closed: go.
    Allow,
    /// Half-open: go as a probe.
    Probe,
    /// Open, or half-open with every probe out: do not send.
    Deny,
}

/// One endpoint's breaker.
#[derive(Clone, Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    state: BreakerState,
    window: SuccessRateWindow,
    consecutive: u32,
    opened_at: u64,
    probes_out: u32,
    probe_successes: u32,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Breaker {
        Breaker {
            settings,
            state: BreakerState::Closed,
            window: SuccessRateWindow::new(settings.window_ms),
            consecutive: 0,
            opened_at: 0,
            probes_out: 0,
            probe_successes: 0,
        }
    }

    /// The state at `now`, moving Open → HalfOpen when the open period is over.
    pub fn poll(&mut self, now: u64) -> (BreakerState, Option<Transition>) {
        if self.state == BreakerState::Open && now >= self.opened_at.saturating_add(self.settings.open_ms) {
            self.state = BreakerState::HalfOpen;
            self.probes_out = 0;
            self.probe_successes = 0;
            return (
                self.state,
                Some(Transition { from: BreakerState::Open, to: BreakerState::HalfOpen, reason: None }),
            );
        }
        (self.state, None)
    }

    /// The state as last polled.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// When an open breaker turns half-open and lets a probe through; `None`
    /// when it is not open.
    pub fn reopens_at(&self) -> Option<u64> {
        (self.state == BreakerState::Open).then(|| self.opened_at.saturating_add(self.settings.open_ms))
    }

    /// Whether an attempt may go at `now` (call [`Breaker::poll`] first).
    pub fn admit(&self) -> Admission {
        match self.state {
            BreakerState::Closed => Admission::Allow,
            BreakerState::Open => Admission::Deny,
            BreakerState::HalfOpen if self.probes_out < self.settings.half_open_probes.max(1) => Admission::Probe,
            BreakerState::HalfOpen => Admission::Deny,
        }
    }

    /// An admitted probe is on its way.
    pub fn probe_sent(&mut self) {
        self.probes_out += 1;
    }

    /// A probe ended without a verdict (cancelled, or its failure did not
    /// count against health): its place is free again.
    pub fn probe_abandoned(&mut self) {
        self.probes_out = self.probes_out.saturating_sub(1);
    }

    /// Records the outcome of an attempt that counts for health.
    pub fn record(&mut self, now: u64, success: bool, was_probe: bool) -> Option<Transition> {
        match self.state {
            BreakerState::Closed => {
                self.window.record(now, success);
                self.consecutive = if success { 0 } else { self.consecutive + 1 };
                let (n, f) = self.window.counts(now);
                let rate_trip = n >= u64::from(self.settings.min_requests.max(1))
                    && f as f64 >= self.settings.failure_rate * n as f64
                    && f > 0;
                let streak_trip =
                    self.settings.consecutive_failures > 0 && self.consecutive >= self.settings.consecutive_failures;
                if !success && (rate_trip || streak_trip) {
                    let reason = if rate_trip { TripReason::FailureRate } else { TripReason::ConsecutiveFailures };
                    return Some(self.open(now, BreakerState::Closed, reason));
                }
                None
            }
            BreakerState::HalfOpen if was_probe => {
                if success {
                    self.probe_successes += 1;
                    if self.probe_successes >= self.settings.half_open_probes.max(1) {
                        self.state = BreakerState::Closed;
                        self.window.clear();
                        self.consecutive = 0;
                        return Some(Transition {
                            from: BreakerState::HalfOpen,
                            to: BreakerState::Closed,
                            reason: None,
                        });
                    }
                    None
                } else {
                    Some(self.open(now, BreakerState::HalfOpen, TripReason::ProbeFailed))
                }
            }
            // Late results of attempts sent before the breaker opened.
            BreakerState::HalfOpen | BreakerState::Open => None,
        }
    }

    fn open(&mut self, now: u64, from: BreakerState, reason: TripReason) -> Transition {
        self.state = BreakerState::Open;
        self.opened_at = now;
        self.probes_out = 0;
        Transition { from, to: BreakerState::Open, reason: Some(reason) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            failure_rate: 0.5,
            min_requests: 10,
            window_ms: 10_000,
            consecutive_failures: 0,
            open_ms: 5_000,
            half_open_probes: 2,
        }
    }

    #[test]
    fn opens_after_min_requests_at_the_failure_rate() {
        let mut b = Breaker::new(settings());
        for t in 0..9 {
            assert_eq!(b.record(t, t % 2 == 0, false), None, "fewer than min_requests");
        }
        let tr = b.record(9, false, false).expect("10 attempts, 5 failures: 50%");
        assert_eq!(
            (tr.from, tr.to, tr.reason),
            (BreakerState::Closed, BreakerState::Open, Some(TripReason::FailureRate))
        );
        assert_eq!(b.admit(), Admission::Deny);
    }

    #[test]
    fn stays_closed_below_the_failure_rate() {
        let mut b = Breaker::new(settings());
        for t in 0..100 {
            assert_eq!(b.record(t * 10, t % 3 != 0, false), None);
        }
    }

    #[test]
    fn opens_after_consecutive_failures() {
        let mut b = Breaker::new(BreakerSettings { consecutive_failures: 3, min_requests: 1000, ..settings() });
        b.record(0, false, false);
        b.record(1, false, false);
        let tr = b.record(2, false, false).expect("third failure in a row");
        assert_eq!(tr.reason, Some(TripReason::ConsecutiveFailures));
    }

    #[test]
    fn half_opens_after_the_open_period_and_closes_after_probe_successes() {
        let mut b = Breaker::new(BreakerSettings { consecutive_failures: 1, ..settings() });
        b.record(1_000, false, false);
        assert_eq!(b.poll(5_999).0, BreakerState::Open);
        let (state, tr) = b.poll(6_000);
        assert_eq!(state, BreakerState::HalfOpen);
        assert_eq!(tr.map(|t| t.to), Some(BreakerState::HalfOpen));
        assert_eq!(b.admit(), Admission::Probe);
        b.probe_sent();
        b.probe_sent();
        assert_eq!(b.admit(), Admission::Deny, "two probes out, no more");
        assert_eq!(b.record(6_100, true, true), None);
        let tr = b.record(6_200, true, true).expect("second probe success closes");
        assert_eq!(tr.to, BreakerState::Closed);
        assert_eq!(b.admit(), Admission::Allow);
    }

    #[test]
    fn a_failed_probe_reopens() {
        let mut b = Breaker::new(BreakerSettings { consecutive_failures: 1, ..settings() });
        b.record(0, false, false);
        b.poll(5_000);
        b.probe_sent();
        let tr = b.record(5_100, false, true).expect("probe failed");
        assert_eq!(
            (tr.from, tr.to, tr.reason),
            (BreakerState::HalfOpen, BreakerState::Open, Some(TripReason::ProbeFailed))
        );
        assert_eq!(b.poll(10_099).0, BreakerState::Open, "open period restarts at the failed probe");
        assert_eq!(b.poll(10_100).0, BreakerState::HalfOpen);
    }
}
