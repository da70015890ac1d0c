//! Fault windows, fixed or stochastic, generated lazily in time order.
//!
//! A stochastic window starts after an exponential gap of mean `every` and
//! lasts an exponential time of mean `lasting`, from a stream named after the
//! endpoint and the fault's position: the windows depend on the seed only,
//! never on the policy (common random numbers). They are generated as virtual
//! time reaches them, so memory does not grow with the run's length.

use std::collections::VecDeque;
use windtunnel_config::FaultWindowSpec;
use windtunnel_core::{ChaCha8Rng, Dist};

/// The windows of one fault.
#[derive(Clone, Debug)]
pub struct FaultWindows {
    spec: FaultWindowSpec,
    rng: ChaCha8Rng,
    /// Generated windows not yet both announced and over.
    windows: VecDeque<(u64, u64)>,
    /// How many of the front windows have been announced.
    announced: usize,
    /// Where the next stochastic gap starts counting; `None` when no more windows come.
    cursor: Option<u64>,
    /// No window is to be announced before this time: the start of the next
    /// unannounced window once it is known (`u64::MAX` when none comes), 0
    /// until then. The replay asks on every event; this answers most asks
    /// with one comparison.
    quiet_until: u64,
}

impl FaultWindows {
    /// Windows for `spec`, drawing from `rng` (a stream of this fault's own).
    pub fn new(spec: FaultWindowSpec, rng: ChaCha8Rng) -> FaultWindows {
        let (windows, cursor) = match spec {
            FaultWindowSpec::Fixed { start_ms, end_ms } => {
                (VecDeque::from([(start_ms, end_ms.unwrap_or(u64::MAX))]), None)
            }
            FaultWindowSpec::Stochastic { .. } => (VecDeque::new(), Some(0)),
        };
        FaultWindows { spec, rng, windows, announced: 0, cursor, quiet_until: 0 }
    }

    fn generate_through(&mut self, t: u64) {
        while self.cursor.is_some() && self.windows.back().is_none_or(|&(s, _)| s <= t) {
            self.generate_one();
        }
    }

    /// Draws the next stochastic window, if one comes.
    fn generate_one(&mut self) {
        let FaultWindowSpec::Stochastic { every_ms, lasting_ms } = self.spec else { return };
        let Some(from) = self.cursor else { return };
        let gap = Dist::Exponential { mean: every_ms as f64 };
        let len = Dist::Exponential { mean: lasting_ms as f64 };
        let start = from.saturating_add(gap.sample(&mut self.rng).round() as u64);
        let end = start.saturating_add((len.sample(&mut self.rng).round() as u64).max(1));
        self.windows.push_back((start, end));
        self.cursor = if end == u64::MAX { None } else { Some(end) };
    }

    /// Drops announced windows that are over by `t`: nothing asks about them
    /// again, and a long jump in time must not keep them all.
    fn forget_over(&mut self, t: u64) {
        while self.announced > 0 && self.windows.front().is_some_and(|&(_, e)| e <= t) {
            self.windows.pop_front();
            self.announced -= 1;
        }
    }

    /// The next window that has started by `t` and was not announced yet, as
    /// `(start, end)`. Call until `None` to announce every window up to `t`.
    pub fn announce(&mut self, t: u64) -> Option<(u64, u64)> {
        if t < self.quiet_until {
            return None;
        }
        // One window at a time, dropping those already over: a jump across
        // a long stretch of time holds one window in memory, not all of them.
        self.forget_over(t);
        if self.windows.len() == self.announced {
            self.generate_one();
        }
        match self.windows.get(self.announced).copied() {
            Some(w) if w.0 <= t => {
                self.announced += 1;
                Some(w)
            }
            Some((start, _)) => {
                self.quiet_until = start;
                None
            }
            // Generation stops only past `t` or when no more windows come.
            None => {
                self.quiet_until = if self.cursor.is_none() { u64::MAX } else { 0 };
                None
            }
        }
    }

    /// Whether `t` falls inside a window.
    pub fn is_active(&mut self, t: u64) -> bool {
        self.generate_through(t);
        self.forget_over(t);
        self.windows.iter().take_while(|&&(s, _)| s <= t).any(|&(s, e)| s <= t && t < e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use windtunnel_core::Streams;

    fn windows(spec: FaultWindowSpec, seed: u64, until: u64) -> Vec<(u64, u64)> {
        let mut w = FaultWindows::new(spec, Streams::from_seed(seed).stream("f"));
        let mut out = Vec::new();
        let mut t = 0;
        while t < until {
            while let Some(x) = w.announce(t) {
                out.push(x);
            }
            t += 1000;
        }
        out
    }

    #[test]
    fn a_long_jump_in_time_holds_one_window_at_a_time() {
        let spec = FaultWindowSpec::Stochastic { every_ms: 1_000, lasting_ms: 100 };
        let mut w = FaultWindows::new(spec, Streams::from_seed(3).stream("f"));
        // A day in one step: every window is announced, one in memory at a time.
        let (mut n, mut most) = (0u64, 0usize);
        while w.announce(86_400_000).is_some() {
            n += 1;
            most = most.max(w.windows.len());
        }
        assert!(n > 70_000, "about one window per 1.1 s: {n}");
        assert!(most <= 2, "held {most} windows at once");
    }

    #[test]
    fn fixed_window_is_active_between_start_and_end() {
        let mut w = FaultWindows::new(
            FaultWindowSpec::Fixed { start_ms: 100, end_ms: Some(200) },
            Streams::from_seed(0).stream("f"),
        );
        assert!(!w.is_active(99));
        assert!(w.is_active(100));
        assert!(w.is_active(199));
        assert!(!w.is_active(200));
        let mut open =
            FaultWindows::new(FaultWindowSpec::Fixed { start_ms: 5, end_ms: None }, Streams::from_seed(0).stream("f"));
        assert!(open.is_active(u64::MAX - 1));
    }

    #[test]
    fn stochastic_windows_match_their_means_over_many_seeds() {
        // every = 20 min, lasting = 90 s over 10 days per seed, 10 seeds:
        // ~6,700 windows; the mean gap and length land within 5%.
        let spec = FaultWindowSpec::Stochastic { every_ms: 1_200_000, lasting_ms: 90_000 };
        let (mut n, mut len, mut gaps, mut prev_end) = (0u64, 0u64, 0u64, 0u64);
        for seed in 0..10 {
            prev_end = 0;
            for (s, e) in windows(spec, seed, 864_000_000) {
                assert!(s >= prev_end, "windows never overlap");
                n += 1;
                len += e - s;
                gaps += s - prev_end;
                prev_end = e;
            }
        }
        let _ = prev_end;
        let (mean_len, mean_gap) = (len as f64 / n as f64, gaps as f64 / n as f64);
        assert!((mean_len / 90_000.0 - 1.0).abs() < 0.05, "mean length {mean_len}");
        assert!((mean_gap / 1_200_000.0 - 1.0).abs() < 0.05, "mean gap {mean_gap}");
    }

    #[test]
    fn is_active_agrees_with_announced_windows() {
        let spec = FaultWindowSpec::Stochastic { every_ms: 60_000, lasting_ms: 20_000 };
        let all = windows(spec, 3, 3_600_000);
        let mut w = FaultWindows::new(spec, Streams::from_seed(3).stream("f"));
        for t in (0..3_600_000).step_by(700) {
            while w.announce(t).is_some() {}
            let expected = all.iter().any(|&(s, e)| s <= t && t < e);
            assert_eq!(w.is_active(t), expected, "t = {t}");
        }
    }

    #[test]
    fn asking_often_or_seldom_announces_the_same_windows() {
        let spec = FaultWindowSpec::Stochastic { every_ms: 60_000, lasting_ms: 20_000 };
        let seldom = windows(spec, 5, 7_200_000);
        let mut w = FaultWindows::new(spec, Streams::from_seed(5).stream("f"));
        let mut often = Vec::new();
        for t in (0..7_200_000).step_by(37) {
            while let Some(x) = w.announce(t) {
                // Announced at the first ask at or after its start, not later.
                assert!(x.0 <= t && t < x.0 + 37, "{x:?} announced at {t}");
                often.push(x);
            }
            // Asking again, or about an earlier time, announces nothing new.
            assert_eq!(w.announce(t), None);
            assert_eq!(w.announce(t / 2), None);
        }
        assert!(often.len() > 50, "two hours of windows every minute: {}", often.len());
        let seldom: Vec<_> = seldom.into_iter().filter(|&(s, _)| s < 7_200_000 - 37).collect();
        assert_eq!(often[..seldom.len()], seldom[..]);
        let mut fixed = FaultWindows::new(
            FaultWindowSpec::Fixed { start_ms: 50, end_ms: Some(60) },
            Streams::from_seed(0).stream("f"),
        );
        assert_eq!(fixed.announce(49), None);
        assert_eq!(fixed.announce(50), Some((50, 60)));
        assert_eq!(fixed.announce(u64::MAX), None);
    }
}
