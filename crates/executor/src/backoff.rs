//! Exponential backoff with jitter between retries on the same endpoint.
//!
//! Full jitter (a uniform draw in `[0, cap]`) spreads retries of many clients
//! best (the AWS architecture blog's analysis); equal jitter keeps at least
//! half the cap. The draw comes from a stream keyed by request and attempt, so
//! it is the same for every policy that retries at that point.

use windtunnel_core::{JitterKind, RetrySettings, Rng};

/// A policy's retry settings (core's [`RetrySettings`], whose default is
/// SPEC's 200 ms doubling to 5 s with full jitter), with the arithmetic the
/// executor needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff(pub RetrySettings);

impl Backoff {
    /// The cap before the `retry`-th retry (1-based): `base · 2^(retry-1)`, at most `max`.
    pub fn cap_ms(&self, retry: u32) -> u64 {
        let shift = retry.saturating_sub(1).min(32);
        self.0.base_ms.saturating_mul(1u64 << shift).min(self.0.max_ms)
    }

    /// The wait before the `retry`-th retry.
    pub fn wait_ms<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> u64 {
        let cap = self.cap_ms(retry);
        match self.0.jitter {
            JitterKind::None => cap,
            JitterKind::Full => rng.random_range(0..=cap),
            JitterKind::Equal => cap / 2 + rng.random_range(0..=cap - cap / 2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use windtunnel_core::Streams;

    #[test]
    fn caps_double_until_the_max() {
        let b = Backoff::default();
        assert_eq!([1, 2, 3, 5, 6, 40].map(|n| b.cap_ms(n)), [200, 400, 800, 3200, 5000, 5000]);
    }

    proptest! {
        #[test]
        fn waits_stay_within_their_bounds(base in 0u64..10_000, max in 0u64..100_000, retry in 1u32..100, seed: u64) {
            let mut rng = Streams::from_seed(seed).stream("b");
            for jitter in [JitterKind::None, JitterKind::Full, JitterKind::Equal] {
                let b = Backoff(RetrySettings { base_ms: base, max_ms: max, jitter });
                let cap = b.cap_ms(retry);
                prop_assert!(cap <= max);
                let w = b.wait_ms(retry, &mut rng);
                prop_assert!(w <= cap);
                if jitter == JitterKind::Equal {
                    prop_assert!(w >= cap / 2);
                }
                if jitter == JitterKind::None {
                    prop_assert_eq!(w, cap);
                }
            }
        }
    }
}
