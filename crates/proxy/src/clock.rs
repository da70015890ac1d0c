//! [`LiveClock`]: the executor's clock in live mode, milliseconds since the
//! proxy started, from the monotonic clock. The one place live mode reads
//! wall time; the simulator never does.

#![expect(clippy::disallowed_types, reason = "live mode runs on the wall clock; this is its one reader")]

use std::time::{Duration, Instant};

/// Milliseconds since start.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LiveClock {
    start: Instant,
}

impl LiveClock {
    /// A clock starting now.
    pub(crate) fn start() -> LiveClock {
        LiveClock { start: Instant::now() }
    }

    /// Milliseconds since start.
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The tokio instant of `ms` on this clock.
    pub(crate) fn instant(&self, ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.start) + Duration::from_millis(ms.min(10 * 365 * 86_400_000))
    }
}
