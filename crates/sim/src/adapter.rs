//! The simulator's side of an attempt: [`Adapter`], which a simulated
//! endpoint implements, and [`Scheduled`], the whole course of a virtual-time
//! attempt, known when it starts (when its first token comes, when it ends,
//! what it reports, the queue slot it holds). These are virtual-time types:
//! live mode never sees them (its attempts report through the proxy's
//! driver), so they live here rather than in `windtunnel-core`.
//!
//! ```
//! use windtunnel_core::{AttemptReport, AttemptStart, Price, Usage};
//! use windtunnel_sim::{Adapter, Scheduled};
//!
//! /// Answers every attempt after 100 ms, first token at 40 ms.
//! struct Fixed;
//! impl Adapter for Fixed {
//!     fn start(&mut self, now: u64, a: &AttemptStart<'_>) -> Scheduled {
//!         let usage = Usage { input_tokens: a.req.input_tokens, output_tokens: a.req.output_tokens, ..Usage::default() };
//!         Scheduled {
//!             started_at: now,
//!             first_token_at: Some(now + 40),
//!             done_at: now + 100,
//!             report: AttemptReport::success(usage, 0.9, Some(40)),
//!             price: Price::default(),
//!             slot: None,
//!             max_silence_ms: 0,
//!         }
//!     }
//! }
//! ```

use windtunnel_core::{AttemptReport, AttemptStart, Price, Usage};

/// The whole course of a virtual-time attempt, known when it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled {
    /// When the attempt was started.
    pub started_at: u64,
    /// When the first token arrives, if one ever does.
    pub first_token_at: Option<u64>,
    /// When the attempt ends; `u64::MAX` when it never answers (a hang).
    pub done_at: u64,
    /// What the attempt ends with if nothing cuts it short.
    pub report: AttemptReport,
    /// The price at the attempt's start, for partial billing.
    pub price: Price,
    /// The concurrency slot the attempt holds, to release on cancel.
    pub slot: Option<SlotHold>,
    /// The longest silence between chunks after the first token (0 when
    /// there is no stream), for stall timeouts.
    pub max_silence_ms: u64,
}

/// A concurrency slot held by a scheduled attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotHold {
    /// Which slot.
    pub slot: u32,
    /// Who holds it (a later attempt may have taken it over).
    pub owner: u64,
    /// When the attempt's service started (it may have queued before).
    pub since: u64,
}

/// A never-answering attempt's `done_at`.
pub const NEVER: u64 = u64::MAX;

impl Scheduled {
    /// What the attempt has consumed if it is cut off at `t`: nothing before its
    /// first token; after it, the input plus the output decoded so far (linear
    /// decode between first token and the end), as SPEC's partial billing says.
    pub fn usage_at(&self, t: u64) -> Usage {
        let full = self.report.usage;
        match self.first_token_at {
            Some(ft) if t >= ft => {
                let produced = if self.done_at == NEVER || t >= self.done_at {
                    if self.done_at == NEVER { 1 } else { full.output_tokens }
                } else {
                    let span = (self.done_at - ft).max(1);
                    let tokens = u64::from(full.output_tokens.max(1)) * (t - ft) / span;
                    (tokens as u32).clamp(1, full.output_tokens.max(1))
                };
                let cached = full.cached_input_tokens.min(full.input_tokens);
                let written = full.cache_write_tokens.min(full.input_tokens - cached);
                let cost = self.price.cost_with_writes(
                    u64::from(full.input_tokens - cached),
                    u64::from(cached),
                    u64::from(written),
                    u64::from(produced),
                );
                Usage {
                    cached_input_tokens: cached,
                    cache_write_tokens: written,
                    output_tokens: produced,
                    cost,
                    ..full
                }
            }
            // Cut before its first token: nothing billed, none of its input
            // cached or written as far as the bill goes.
            _ => Usage { input_tokens: full.input_tokens, ..Usage::default() },
        }
    }
}

/// One attempt on one simulated endpoint, in virtual time.
pub trait Adapter {
    /// Starts an attempt at `now` (milliseconds on the driver's clock): its
    /// whole course, known at once.
    fn start(&mut self, now: u64, attempt: &AttemptStart<'_>) -> Scheduled;

    /// The driver gave up on a scheduled attempt at `now` (timeout, deadline,
    /// hedge loser). Returns what it consumed; the adapter frees what it held.
    fn cancel(&mut self, now: u64, scheduled: &Scheduled) -> Usage {
        scheduled.usage_at(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use windtunnel_core::{Nanodollars, PricePerMtok};

    fn sched() -> Scheduled {
        let price = Price {
            input: PricePerMtok::from_usd(1.0),
            output: PricePerMtok::from_usd(2.0),
            cached_input: PricePerMtok::from_usd(1.0),
            cache_write: PricePerMtok::from_usd(1.0),
            long_context: None,
        };
        let usage =
            Usage { input_tokens: 1000, output_tokens: 100, cost: price.cost(1000, 0, 100), ..Usage::default() };
        Scheduled {
            started_at: 0,
            first_token_at: Some(100),
            done_at: 1100,
            report: AttemptReport::success(usage, 1.0, Some(100)),
            price,
            slot: None,
            max_silence_ms: 0,
        }
    }

    #[test]
    fn nothing_is_billed_before_the_first_token() {
        assert_eq!(sched().usage_at(99).cost, Nanodollars::ZERO);
    }

    #[test]
    fn partial_billing_counts_decoded_tokens() {
        let u = sched().usage_at(600);
        assert_eq!(u.output_tokens, 50);
        assert_eq!(u.cost, Nanodollars(1000 * 1000 + 50 * 2000));
        assert_eq!(sched().usage_at(5000).output_tokens, 100);
    }
}
