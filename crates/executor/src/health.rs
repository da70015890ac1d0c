//! Health statistics per endpoint: sliding-window latency percentiles, error
//! rate, mean quality and attempts in flight, as policies see them.
//!
//! Latencies of the last [`SAMPLES`] successes within the window are kept in
//! a ring and their percentiles computed on demand, at most once per
//! [`REFRESH_MS`] of clock time per endpoint: a policy sees statistics at most
//! a second old (gateways export health on that scale too), and a replay
//! does not sort on every request.

use crate::breaker::SuccessRateWindow;
use windtunnel_core::Health;

/// Successes kept per endpoint for percentiles: enough for a stable p99
/// (2–3 samples above it) at 4 KiB per endpoint.
pub const SAMPLES: usize = 256;

/// How often an endpoint's snapshot is recomputed when it has news.
pub const REFRESH_MS: u64 = 1_000;

/// One endpoint's recent history.
#[derive(Clone, Debug)]
pub struct HealthWindow {
    window_ms: u64,
    ring: Vec<(u64, u32, f32)>,
    next: usize,
    outcomes: SuccessRateWindow,
    inflight: u32,
    prior_quality: f64,
    snapshot: Health,
    dirty: bool,
    refreshed_at: Option<u64>,
    scratch: Vec<u32>,
}

impl HealthWindow {
    /// An empty history over `window_ms`, expecting `prior_quality` until
    /// answers say otherwise.
    pub fn new(window_ms: u64, prior_quality: f64) -> HealthWindow {
        HealthWindow {
            window_ms,
            ring: Vec::with_capacity(SAMPLES),
            next: 0,
            outcomes: SuccessRateWindow::new(window_ms),
            inflight: 0,
            prior_quality,
            snapshot: Health { quality: prior_quality, ..Health::default() },
            dirty: false,
            refreshed_at: None,
            scratch: Vec::with_capacity(SAMPLES),
        }
    }

    /// An attempt started.
    pub fn started(&mut self) {
        self.inflight += 1;
    }

    /// An attempt ended: `latency_ms` and `quality` for successes, `failed`
    /// when its error counts against health; `None` for outcomes that say
    /// nothing about health (429s, client errors, cancellations).
    pub fn finished(&mut self, now: u64, outcome: Option<Result<(u64, f64), ()>>) {
        self.inflight = self.inflight.saturating_sub(1);
        match outcome {
            Some(Ok((latency, quality))) => {
                self.outcomes.record(now, true);
                let entry = (now, latency.min(u64::from(u32::MAX)) as u32, quality as f32);
                if self.ring.len() < SAMPLES {
                    self.ring.push(entry);
                } else {
                    self.ring[self.next] = entry;
                }
                self.next = (self.next + 1) % SAMPLES;
            }
            Some(Err(())) => self.outcomes.record(now, false),
            None => return,
        }
        self.dirty = true;
    }

    /// The snapshot, recomputed if there is news and the last one is older
    /// than [`REFRESH_MS`] (or the window has moved past old samples).
    pub fn snapshot(&mut self, now: u64) -> &Health {
        let stale = self.refreshed_at.is_none_or(|t| now >= t + REFRESH_MS);
        if stale && (self.dirty || self.refreshed_at.is_some_and(|t| now >= t + self.window_ms / 10)) {
            self.recompute(now);
        }
        &self.snapshot
    }

    fn recompute(&mut self, now: u64) {
        let oldest = now.saturating_sub(self.window_ms);
        self.scratch.clear();
        let mut qsum = 0.0;
        for &(t, l, q) in &self.ring {
            if t >= oldest {
                self.scratch.push(l);
                qsum += f64::from(q);
            }
        }
        let n = self.scratch.len();
        let pct = |s: &mut Vec<u32>, q: f64| -> u64 {
            if s.is_empty() {
                return 0;
            }
            let k = ((s.len() as f64 * q).ceil() as usize).clamp(1, s.len()) - 1;
            u64::from(*s.select_nth_unstable(k).1)
        };
        let (p50, p95, p99) =
            (pct(&mut self.scratch, 0.50), pct(&mut self.scratch, 0.95), pct(&mut self.scratch, 0.99));
        let (attempts, failures) = self.outcomes.counts(now);
        self.snapshot.p50_ms = p50;
        self.snapshot.p95_ms = p95;
        self.snapshot.p99_ms = p99;
        self.snapshot.error_rate = if attempts == 0 { 0.0 } else { failures as f64 / attempts as f64 };
        self.snapshot.quality = if n == 0 { self.prior_quality } else { qsum / n as f64 };
        self.dirty = false;
        self.refreshed_at = Some(now);
    }

    /// Attempts in flight now. A counter, not a statistic: the executor
    /// copies it into the view on every call, refreshed snapshot or not.
    pub fn inflight(&self) -> u32 {
        self.inflight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_recent_successes() {
        let mut h = HealthWindow::new(60_000, 0.9);
        for i in 1..=100u64 {
            h.started();
            h.finished(i * 10, Some(Ok((i * 10, 0.5))));
        }
        let s = *h.snapshot(1_000);
        assert_eq!((s.p50_ms, s.p95_ms, s.p99_ms), (500, 950, 990));
        assert_eq!(h.inflight(), 0);
        assert!((s.quality - 0.5).abs() < 1e-6);
        // A minute later the samples have aged out.
        let s = *h.snapshot(200_000);
        assert_eq!(s.p95_ms, 0);
        assert!((s.quality - 0.9).abs() < 1e-9, "back to the prior");
    }

    #[test]
    fn error_rate_counts_health_failures_only() {
        let mut h = HealthWindow::new(60_000, 0.9);
        for i in 0..10u64 {
            h.started();
            let o = match i % 5 {
                0 => Some(Err(())),
                1 => None, // a 429: says nothing about health
                _ => Some(Ok((100, 0.9))),
            };
            h.finished(i, o);
        }
        assert!((h.snapshot(10).error_rate - 2.0 / 8.0).abs() < 1e-9);
    }

    #[test]
    fn snapshots_refresh_at_most_every_second() {
        let mut h = HealthWindow::new(60_000, 0.9);
        h.finished(0, Some(Ok((100, 0.9))));
        assert_eq!(h.snapshot(0).p50_ms, 100);
        h.finished(10, Some(Ok((300, 0.9))));
        h.finished(10, Some(Ok((300, 0.9))));
        assert_eq!(h.snapshot(999).p50_ms, 100, "not yet refreshed");
        assert_eq!(h.snapshot(1_000).p50_ms, 300);
    }
}
