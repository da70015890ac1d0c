//! A bucketed sliding window of attempt outcomes: the failure share over the
//! last `window_ms`, in constant memory.
//!
//! Ten buckets: an outcome ages out within 10% of the window's length, which
//! is plenty for a breaker (linkerd uses the same shape) and keeps `record`
//! O(1) and `rate` O(buckets).

/// Buckets per window.
const BUCKETS: usize = 10;

/// Counts of successes and failures over a sliding window.
#[derive(Clone, Debug)]
pub struct SuccessRateWindow {
    bucket_ms: u64,
    /// (bucket start, successes, failures)
    buckets: [(u64, u32, u32); BUCKETS],
}

impl SuccessRateWindow {
    /// A window of `window_ms` (at least 10 ms).
    pub fn new(window_ms: u64) -> SuccessRateWindow {
        SuccessRateWindow { bucket_ms: (window_ms / BUCKETS as u64).max(1), buckets: [(u64::MAX, 0, 0); BUCKETS] }
    }

    fn slot(&mut self, now: u64) -> &mut (u64, u32, u32) {
        let start = now - now % self.bucket_ms;
        let i = ((now / self.bucket_ms) % BUCKETS as u64) as usize;
        let b = &mut self.buckets[i];
        if b.0 != start {
            *b = (start, 0, 0);
        }
        b
    }

    /// Records one outcome at `now`.
    pub fn record(&mut self, now: u64, success: bool) {
        let b = self.slot(now);
        if success {
            b.1 += 1;
        } else {
            b.2 += 1;
        }
    }

    /// (attempts, failures) within the window ending at `now`.
    pub fn counts(&self, now: u64) -> (u64, u64) {
        let window = self.bucket_ms * BUCKETS as u64;
        self.buckets
            .iter()
            .filter(|b| b.0 != u64::MAX && b.0 <= now && now - b.0 < window)
            .fold((0, 0), |(n, f), b| (n + u64::from(b.1) + u64::from(b.2), f + u64::from(b.2)))
    }

    /// Forgets everything (a breaker that closes starts afresh).
    pub fn clear(&mut self) {
        self.buckets = [(u64::MAX, 0, 0); BUCKETS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_age_out_after_the_window() {
        let mut w = SuccessRateWindow::new(10_000);
        for t in 0..10 {
            w.record(t * 100, t % 2 == 0);
        }
        assert_eq!(w.counts(1_000), (10, 5));
        assert_eq!(w.counts(10_500), (0, 0));
        w.record(20_000, false);
        assert_eq!(w.counts(20_000), (1, 1));
        w.clear();
        assert_eq!(w.counts(20_000), (0, 0));
    }
}
