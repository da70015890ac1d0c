//! The vocabulary between the executor and whatever carries out an attempt,
//! in simulation and live alike: what to start ([`AttemptStart`]) and what
//! came back ([`AttemptReport`], [`Usage`], [`Response`]).
//!
//! The executor itself is sans-IO: it emits "start this attempt" actions and
//! is fed reports. The simulator's endpoints answer in virtual time (their
//! `Adapter` and `Scheduled` live in `windtunnel-sim`); live mode's HTTP
//! attempts report through the proxy's driver. Either way the executor
//! receives the same [`AttemptReport`]. Nothing here knows a clock.

use crate::{AttemptError, EndpointIdx, Nanodollars, Request};

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
    /// Of the other input tokens, those written to the endpoint's prompt
    /// cache: billed at the cache-write price.
    pub cache_write_tokens: u32,
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
