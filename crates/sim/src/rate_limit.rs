//! RPM and TPM token buckets. Over the limit an attempt gets a rate 429
//! ([`windtunnel_core::ErrorKind::RateLimited`]) with a Retry-After equal to
//! the time until the bucket holds enough again.
//!
//! Integer arithmetic: a bucket of `limit` units per minute holds its level in
//! units × 60 000, so it refills by exactly `limit` per millisecond and never
//! drifts.

const MS_PER_MIN: u64 = 60_000;

/// One bucket: `limit` units per minute, burst of one minute's worth.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    limit: u64,
    level: u64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket of `limit_per_min`.
    pub fn new(limit_per_min: u64) -> TokenBucket {
        TokenBucket { limit: limit_per_min, level: limit_per_min.saturating_mul(MS_PER_MIN), last_ms: 0 }
    }

    fn refill(&mut self, now: u64) {
        // A minute refills the bucket whatever the limit: capping the elapsed
        // time keeps the arithmetic in range for any configured limit.
        let elapsed = now.saturating_sub(self.last_ms).min(MS_PER_MIN);
        self.level =
            self.level.saturating_add(elapsed.saturating_mul(self.limit)).min(self.limit.saturating_mul(MS_PER_MIN));
        self.last_ms = self.last_ms.max(now);
    }

    /// Milliseconds until `units` fit at `now` (0 = they fit now). Units
    /// larger than the whole minute's allowance are told to wait a minute;
    /// the endpoint refuses such a request before asking (`context_exceeded`).
    pub fn wait_ms(&mut self, now: u64, units: u64) -> u64 {
        self.refill(now);
        let need = units.saturating_mul(MS_PER_MIN);
        if need <= self.level {
            0
        } else if units > self.limit {
            MS_PER_MIN
        } else {
            (need - self.level).div_ceil(self.limit)
        }
    }

    /// Takes `units`; call only after `wait_ms` returned 0 at the same `now`.
    pub fn take(&mut self, units: u64) {
        self.level = self.level.saturating_sub(units.saturating_mul(MS_PER_MIN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_minute_of_burst_then_refills_at_the_rate() {
        let mut b = TokenBucket::new(60); // one per second
        for _ in 0..60 {
            assert_eq!(b.wait_ms(0, 1), 0);
            b.take(1);
        }
        assert_eq!(b.wait_ms(0, 1), 1000);
        assert_eq!(b.wait_ms(500, 1), 500);
        assert_eq!(b.wait_ms(1000, 1), 0);
    }

    #[test]
    fn oversized_requests_wait_a_minute() {
        let mut b = TokenBucket::new(1000);
        assert_eq!(b.wait_ms(0, 1001), 60_000);
    }
}
