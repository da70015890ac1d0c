//! A progress bar for long runs: requests replayed, virtual time, ETA. Only on
//! a terminal: when stderr is a pipe or a file (CI logs), nothing is drawn.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;
use windtunnel_config::{Scenario, TraceSource};
use windtunnel_core::format_duration_ms;

/// Draws replay progress, or nothing when stderr is not a terminal.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar sized to the scenario's expected request count when it is known
    /// (synthetic traces), a counter otherwise.
    pub(crate) fn for_run(scenario: &Scenario) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let expected = match &scenario.trace.source {
            TraceSource::Synthetic(s) => Some((s.rate_per_s * s.duration_ms as f64 / 1000.0) as u64),
            TraceSource::File { .. } | TraceSource::None => None,
        };
        let bar = match expected {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{bar:30} {pos}/~{len} requests · virtual {msg} · eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {pos} requests · virtual {msg} · {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    /// Records `arrivals` requests replayed up to virtual time `now_ms`.
    pub(crate) fn update(&mut self, arrivals: u64, now_ms: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(arrivals);
            bar.set_message(format_duration_ms(now_ms - now_ms % 1000));
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs finished out of all (check over scenarios and seeds, what-if
/// variants), on a terminal only.
pub(crate) struct RunsProgress {
    bar: Option<ProgressBar>,
}

impl RunsProgress {
    /// A bar for `total` runs, or nothing when stderr is not a terminal.
    pub(crate) fn new(total: u64) -> RunsProgress {
        if !std::io::stderr().is_terminal() {
            return RunsProgress { bar: None };
        }
        let bar = ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} runs · eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        RunsProgress { bar: Some(bar) }
    }

    /// `done` runs have finished.
    pub(crate) fn set(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
