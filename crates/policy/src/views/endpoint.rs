//! An endpoint view: one endpoint's facts and health at the call's moment.

use crate::views::{ReqView, Snapshot, int};
use rhai::{Dynamic, INT, ImmutableString};
use std::rc::Rc;
use windtunnel_core::{EndpointFacts, Health};

/// `e` in `for e in ctx.endpoints()`, `ctx.endpoint(name)`, `list[i]`.
#[derive(Clone, Debug)]
pub(crate) struct EndpointView {
    snap: Rc<Snapshot>,
    idx: u16,
}

impl EndpointView {
    /// Endpoint `idx` of `snap`.
    pub(crate) fn new(snap: Rc<Snapshot>, idx: u16) -> EndpointView {
        EndpointView { snap, idx }
    }

    /// Its index.
    pub(crate) fn idx(&self) -> u16 {
        self.idx
    }

    /// The snapshot it belongs to.
    pub(crate) fn snapshot(&self) -> &Rc<Snapshot> {
        &self.snap
    }

    fn facts(&self) -> &EndpointFacts {
        self.snap.facts(self.idx)
    }

    fn health(&self) -> Health {
        self.snap.health(self.idx)
    }

    /// `e.name`.
    pub(crate) fn name(&self) -> ImmutableString {
        self.snap.table.names[usize::from(self.idx)].clone()
    }

    /// `e.provider`.
    pub(crate) fn provider(&self) -> ImmutableString {
        self.snap.table.providers[usize::from(self.idx)].clone()
    }

    /// `e.model`.
    pub(crate) fn model(&self) -> ImmutableString {
        self.snap.table.models[usize::from(self.idx)].clone()
    }

    /// `e.healthy`.
    pub(crate) fn healthy(&self) -> bool {
        self.snap.healthy(self.idx)
    }

    /// `e.breaker`.
    pub(crate) fn breaker(&self) -> ImmutableString {
        self.snap.table.breaker_name(self.health().breaker)
    }

    /// `e.p50_ms`.
    pub(crate) fn p50_ms(&self) -> INT {
        int(self.health().p50_ms)
    }

    /// `e.p95_ms`.
    pub(crate) fn p95_ms(&self) -> INT {
        int(self.health().p95_ms)
    }

    /// `e.p99_ms`.
    pub(crate) fn p99_ms(&self) -> INT {
        int(self.health().p99_ms)
    }

    /// `e.error_rate`.
    pub(crate) fn error_rate(&self) -> f64 {
        self.health().error_rate
    }

    /// `e.inflight`.
    pub(crate) fn inflight(&self) -> INT {
        INT::from(self.health().inflight)
    }

    /// `e.rate_limited_until_ms`.
    pub(crate) fn rate_limited_until_ms(&self) -> INT {
        int(self.health().rate_limited_until_ms)
    }

    /// `e.quality`: measured mean, or the configured expectation without data.
    pub(crate) fn quality(&self) -> f64 {
        self.health().quality
    }

    /// `e.price_in`: USD per million input tokens now.
    pub(crate) fn price_in(&self) -> f64 {
        self.facts().price_at(self.snap.now_ms).input.as_usd()
    }

    /// `e.price_out`: USD per million output tokens now.
    pub(crate) fn price_out(&self) -> f64 {
        self.facts().price_at(self.snap.now_ms).output.as_usd()
    }

    /// `e.context_window`, `()` when unlimited.
    pub(crate) fn context_window(&self) -> Dynamic {
        self.facts().context_window.map_or(Dynamic::UNIT, |w| Dynamic::from_int(INT::from(w)))
    }

    /// `e.max_output_tokens`, `()` when unlimited.
    pub(crate) fn max_output_tokens(&self) -> Dynamic {
        self.facts().max_output_tokens.map_or(Dynamic::UNIT, |w| Dynamic::from_int(INT::from(w)))
    }

    /// `e.fits(req)`.
    pub(crate) fn fits(&self, req: &ReqView) -> bool {
        self.facts().fits(req.request())
    }

    /// `e.est_cost(req)` in USD: cached input (`cached_tokens`) at its price,
    /// and the input the prompt cache would write at the cache-write price.
    pub(crate) fn est_cost(&self, req: &ReqView) -> f64 {
        self.facts().est_cost_cached(req.request(), self.snap.now_ms, self.snap.cached(self.idx)).as_usd()
    }

    /// `e.cached_tokens(req)`: of the routed request's input tokens (as
    /// counted here), those this endpoint's prompt cache holds, as far as
    /// the gateway can tell from what it sent there.
    pub(crate) fn cached_tokens(&self, _req: &ReqView) -> INT {
        INT::from(self.snap.cached(self.idx).read)
    }

    /// `e.max_cost(req)` in USD: the cost if the answer is `max_tokens` long.
    pub(crate) fn max_cost(&self, req: &ReqView) -> f64 {
        self.facts().max_cost(req.request(), self.snap.now_ms).as_usd()
    }

    /// `e.tokens(req)`: the prompt's tokens as this endpoint counts them.
    pub(crate) fn tokens(&self, req: &ReqView) -> INT {
        INT::from(self.facts().tokens(req.request()).0)
    }
}
