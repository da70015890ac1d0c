//! The integration trait between the executor's driver and an endpoint:
//! one attempt on one endpoint.
//!
//! The executor itself is sans-IO: it emits "start this attempt" actions and is
//! fed results. A driver turns the actions into calls on an [`Adapter`]:
//! the simulator's event loop in virtual time, or tokio in live mode. A
//! virtual-time adapter knows the whole course of an attempt the moment it
//! starts and answers [`Started::Scheduled`]; a live adapter answers
//! [`Started::Pending`] and reports through its driver's channel later. Either
//! way the executor receives the same [`AttemptReport`].
//!
//! ```
//! use windtunnel_core::{Adapter, AttemptReport, AttemptStart, Price, Scheduled, Started, Usage};
//!
//! /// Answers every attempt after 100 ms, first token at 40 ms.
//! struct Fixed;
//! impl Adapter for Fixed {
//!     fn start(&mut self, now: u64, a: &AttemptStart<'_>) -> Started {
//!         let usage = Usage { input_tokens: a.req.input_tokens, output_tokens: a.req.output_tokens, ..Usage::default() };
//!         Started::Scheduled(Scheduled {
//!             started_at: now,
//!             first_token_at: Some(now + 40),
//!             done_at: now + 100,
//!             report: AttemptReport::success(usage, 0.9, Some(40)),
//!             price: Price::default(),
//!             slot: None,
//!             max_silence_ms: 0,
//!         })
//!     }
//! }
//! ```

use crate::{AttemptError, EndpointIdx, Nanodollars, Price, Request};

/// What the executor asks of an adapter: one attempt of one request.
#[derive(Clone, Copy, Debug)]
pub struct AttemptStart<'a> {
    /// The request.
    pub req: &'a Request,
    /// The endpoint.
    pub endpoint: EndpointIdx,
    /// 1-based attempt number across the request's chain.
    pub attempt: u32,
    /// 1-based number of this attempt among the request's attempts on this
    /// endpoint: the key of the endpoint's random draws, so they do not depend
    /// on where the endpoint sits in a chain.
    pub endpoint_attempt: u32,
}

/// Tokens and money one attempt consumed, as the endpoint counts and bills them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens as this endpoint tokenizes the prompt.
    pub input_tokens: u32,
    /// Of `input_tokens`, those the endpoint's prompt cache held: billed at
    /// the cached-input price.
    pub cached_input_tokens: u32,
    /// Output tokens produced (and billed).
    pub output_tokens: u32,
    /// What the endpoint bills for them.
    pub cost: Nanodollars,
}

/// A successful answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Response {
    /// Quality score in [0, 1], for cascades and reports.
    pub quality: f64,
}

/// The result of one attempt, as the executor receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptReport {
    /// Success or the error.
    pub result: Result<Response, AttemptError>,
    /// Time to first token from the attempt's start, when one arrived.
    pub ttft_ms: Option<u64>,
    /// What was consumed and billed.
    pub usage: Usage,
}

impl AttemptReport {
    /// A success.
    pub fn success(usage: Usage, quality: f64, ttft_ms: Option<u64>) -> AttemptReport {
        AttemptReport { result: Ok(Response { quality }), ttft_ms, usage }
    }

    /// A failure.
    pub fn failure(err: AttemptError, usage: Usage, ttft_ms: Option<u64>) -> AttemptReport {
        AttemptReport { result: Err(err), ttft_ms, usage }
    }
}

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
                let cost =
                    self.price.cost(u64::from(full.input_tokens - cached), u64::from(cached), u64::from(produced));
                Usage { input_tokens: full.input_tokens, cached_input_tokens: cached, output_tokens: produced, cost }
            }
            _ => Usage { output_tokens: 0, cost: Nanodollars::ZERO, ..full },
        }
    }
}

/// How an adapter answered a start.
#[derive(Clone, Debug, PartialEq)]
pub enum Started {
    /// Virtual time: the whole course is known.
    Scheduled(Scheduled),
    /// Live: the report will come later through the driver.
    Pending,
}

/// One attempt on one endpoint. Implemented by simulated endpoints (virtual
/// time) and HTTP upstreams (live).
pub trait Adapter {
    /// Starts an attempt at `now` (milliseconds on the driver's clock).
    fn start(&mut self, now: u64, attempt: &AttemptStart<'_>) -> Started;

    /// The driver gave up on a scheduled attempt at `now` (timeout, deadline,
    /// hedge loser). Returns what it consumed; the adapter frees what it held.
    fn cancel(&mut self, now: u64, scheduled: &Scheduled) -> Usage {
        scheduled.usage_at(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PricePerMtok;

    fn sched() -> Scheduled {
        let price = Price {
            input: PricePerMtok::from_usd(1.0),
            output: PricePerMtok::from_usd(2.0),
            cached_input: PricePerMtok::from_usd(1.0),
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
