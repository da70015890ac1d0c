//! [`LiveClock`]: the executor's clock in live mode, milliseconds since the
//! proxy started, from the monotonic clock. The one place live mode reads
//! wall time; the simulator never does.

#![expect(clippy::disallowed_types, reason = "live mode runs on the wall clock; this is its one reader")]

use std::time::{Duration, Instant};

/// Milliseconds since start, running `speed` times faster than the wall
/// clock (`--speed`, to fly with serve-sim and load at one speed; 1 live).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LiveClock {
    start: Instant,
    speed: f64,
}

impl LiveClock {
    /// A clock starting now, at wall speed.
    pub(crate) fn start() -> LiveClock {
        LiveClock::with_speed(1.0)
    }

    /// A clock starting now, `speed` times faster than the wall clock.
    pub(crate) fn with_speed(speed: f64) -> LiveClock {
        LiveClock { start: Instant::now(), speed: speed.clamp(1e-3, 1e6) }
    }

    /// Milliseconds since start, on this clock.
    pub(crate) fn now_ms(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * 1000.0 * self.speed) as u64
    }

    /// Wall milliseconds as this clock's.
    pub(crate) fn scale(&self, wall_ms: u64) -> u64 {
        (wall_ms as f64 * self.speed) as u64
    }

    /// This clock's milliseconds as wall milliseconds (rounded up, so a
    /// non-zero span stays non-zero).
    pub(crate) fn wall_ms(&self, ms: u64) -> u64 {
        (ms as f64 / self.speed).ceil() as u64
    }

    /// The tokio instant of `ms` on this clock.
    pub(crate) fn instant(&self, ms: u64) -> tokio::time::Instant {
        let wall = (ms.min(10 * 365 * 86_400_000) as f64 / self.speed).min(1e13);
        tokio::time::Instant::from_std(self.start) + Duration::from_secs_f64(wall / 1000.0)
    }
}
