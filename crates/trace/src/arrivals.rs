//! [`Arrivals`]: arrival times for the synthetic generator, one
//! [`ArrivalPattern`] each, all with the same long-run mean rate.
//!
//! - **Poisson**: exponential gaps at the mean rate.
//! - **Diurnal**: a Poisson process whose rate follows a 24-hour sine,
//!   `rate(t) = mean × (1 − 0.8 × cos(2π (t − 04:00) / 24h))`: 20% of the mean
//!   at 04:00, 180% at 16:00, the mean over a whole day. The trace starts at
//!   00:00. Drawn by *thinning* (Lewis–Shedler): candidates at the peak rate,
//!   each kept with probability `rate(t) / peak`. Why thinning and not
//!   inverting the integrated rate: it is exact, needs no root finding, and
//!   costs under two candidates per arrival.
//! - **Bursty**: a two-state Markov-modulated Poisson process. Bursts take
//!   [`BURST_SHARE`] (10%) of the time at [`BURST_FACTOR`] (5×) the mean rate;
//!   quiet spells run at `(1 − 0.1 × 5) / 0.9 ≈ 0.56×` the mean, so the overall
//!   mean is the mean. Bursts last [`BURST_MEAN_MS`] (15 s) on average and
//!   quiet spells 135 s, both exponential. The first state is drawn from the
//!   stationary distribution, so the mean holds from the first second.
//!   Why these numbers: 15 s bursts at 5× are what a retry storm or a batch
//!   job kick-off does to a gateway, long enough to exhaust a per-minute rate
//!   limit, short enough that a one-hour run sees about 24 of them.
//!
//! Each process draws only from its own `ChaCha8Rng` (the generator's
//! `"trace:arrivals"` stream), so token and mix settings never move arrivals.

use crate::synthetic_spec::ArrivalPattern;
use windtunnel_core::{ChaCha8Rng, Rng};

/// One day in milliseconds: the diurnal period.
const DAY_MS: f64 = 86_400_000.0;
/// Diurnal amplitude: the rate swings ±80% around the mean.
const DIURNAL_SWING: f64 = 0.8;
/// Diurnal trough, as a fraction of the day (04:00).
const DIURNAL_TROUGH: f64 = 4.0 / 24.0;
/// Share of time spent in bursts.
pub(crate) const BURST_SHARE: f64 = 0.1;
/// Burst rate as a multiple of the mean rate.
pub(crate) const BURST_FACTOR: f64 = 5.0;
/// Mean burst length.
pub(crate) const BURST_MEAN_MS: f64 = 15_000.0;

/// An arrival process in milliseconds.
#[derive(Clone, Debug)]
pub(crate) struct Arrivals {
    rng: ChaCha8Rng,
    t_ms: f64,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// No arrivals (a rate that is not a positive number).
    Never,
    Poisson {
        mean_gap_ms: f64,
    },
    Diurnal {
        /// Mean gap at the peak rate (1.8× the mean).
        peak_gap_ms: f64,
    },
    Bursty {
        burst: bool,
        state_end_ms: f64,
        burst_gap_ms: f64,
        quiet_gap_ms: f64,
        quiet_mean_ms: f64,
    },
}

impl Arrivals {
    /// Arrivals at `rate_per_s` on average.
    pub(crate) fn new(pattern: ArrivalPattern, rate_per_s: f64, mut rng: ChaCha8Rng) -> Arrivals {
        if !(rate_per_s > 0.0 && rate_per_s.is_finite()) {
            return Arrivals { rng, t_ms: 0.0, kind: Kind::Never };
        }
        let mean_gap_ms = 1000.0 / rate_per_s;
        let kind = match pattern {
            ArrivalPattern::Poisson => Kind::Poisson { mean_gap_ms },
            ArrivalPattern::Diurnal => Kind::Diurnal { peak_gap_ms: mean_gap_ms / (1.0 + DIURNAL_SWING) },
            ArrivalPattern::Bursty => {
                let quiet_factor = (1.0 - BURST_SHARE * BURST_FACTOR) / (1.0 - BURST_SHARE);
                let quiet_mean_ms = BURST_MEAN_MS * (1.0 - BURST_SHARE) / BURST_SHARE;
                let burst = rng.random::<f64>() < BURST_SHARE;
                let first_mean = if burst { BURST_MEAN_MS } else { quiet_mean_ms };
                Kind::Bursty {
                    burst,
                    state_end_ms: exponential(&mut rng, first_mean),
                    burst_gap_ms: mean_gap_ms / BURST_FACTOR,
                    quiet_gap_ms: mean_gap_ms / quiet_factor,
                    quiet_mean_ms,
                }
            }
        };
        Arrivals { rng, t_ms: 0.0, kind }
    }

    /// The next arrival time, or `None` once past `horizon_ms` (which bounds
    /// the work of a process with a tiny rate).
    pub(crate) fn next(&mut self, horizon_ms: f64) -> Option<f64> {
        let rng = &mut self.rng;
        match &mut self.kind {
            Kind::Never => return None,
            Kind::Poisson { mean_gap_ms } => self.t_ms += exponential(rng, *mean_gap_ms),
            Kind::Diurnal { peak_gap_ms } => loop {
                self.t_ms += exponential(rng, *peak_gap_ms);
                if self.t_ms >= horizon_ms {
                    break;
                }
                let day_phase = (self.t_ms / DAY_MS - DIURNAL_TROUGH) * std::f64::consts::TAU;
                let keep = (1.0 - DIURNAL_SWING * day_phase.cos()) / (1.0 + DIURNAL_SWING);
                if rng.random::<f64>() < keep {
                    break;
                }
            },
            Kind::Bursty { burst, state_end_ms, burst_gap_ms, quiet_gap_ms, quiet_mean_ms } => loop {
                let gap_mean = if *burst { *burst_gap_ms } else { *quiet_gap_ms };
                let t = self.t_ms + exponential(rng, gap_mean);
                if t < *state_end_ms {
                    self.t_ms = t;
                    break;
                }
                // No arrival before the state ends: by memorylessness, start
                // over from the switch.
                self.t_ms = *state_end_ms;
                if self.t_ms >= horizon_ms {
                    break;
                }
                *burst = !*burst;
                let mean = if *burst { BURST_MEAN_MS } else { *quiet_mean_ms };
                *state_end_ms = self.t_ms + exponential(rng, mean);
            },
        }
        (self.t_ms < horizon_ms).then_some(self.t_ms)
    }
}

/// An exponential draw by inverse CDF on (0, 1] (never ln 0).
fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    let u = 1.0 - rng.random::<f64>();
    -mean * u.ln()
}
