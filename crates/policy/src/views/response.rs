//! What `accept(req, resp)` sees: one answer.

use crate::views::int;
use rhai::{Dynamic, INT, ImmutableString};
use windtunnel_core::Nanodollars;

/// `resp`.
#[derive(Clone, Debug)]
pub(crate) struct RespView {
    /// Who answered.
    pub(crate) endpoint: ImmutableString,
    /// Quality score.
    pub(crate) quality: f64,
    /// The attempt's latency.
    pub(crate) latency_ms: u64,
    /// Time to first token, for streams.
    pub(crate) ttft_ms: Option<u64>,
    /// Output tokens.
    pub(crate) output_tokens: u32,
    /// The attempt's cost.
    pub(crate) cost: Nanodollars,
}

impl RespView {
    /// `resp.latency_ms`.
    pub(crate) fn latency_ms(&self) -> INT {
        int(self.latency_ms)
    }

    /// `resp.ttft_ms` or `()`.
    pub(crate) fn ttft_ms(&self) -> Dynamic {
        self.ttft_ms.map_or(Dynamic::UNIT, |t| Dynamic::from_int(int(t)))
    }

    /// `resp.output_tokens`.
    pub(crate) fn output_tokens(&self) -> INT {
        INT::from(self.output_tokens)
    }

    /// `resp.cost_usd`.
    pub(crate) fn cost_usd(&self) -> f64 {
        self.cost.as_usd()
    }
}
