//! One simulated endpoint: the [`Adapter`] that answers attempts in virtual time.
//!
//! An attempt's whole course is decided when it starts, in this order (one
//! method a step, called in turn by `start`):
//! 1. `refusal` — what the endpoint refuses whatever its state: the prompt and
//!    `max_tokens` as tokenized here over the context window, or over the TPM
//!    limit ("request too large"), is `context_exceeded`; `max_tokens` over
//!    `max_output_tokens` is a `bad_request`. None is retryable here, and none
//!    takes anything from the rate-limit buckets;
//! 2. `faults_hit` — faults that refuse at once (outage, quota, rate-limit
//!    burst) and hangs;
//! 3. `take_rate_limits` — RPM/TPM buckets (over: a rate 429 with Retry-After);
//! 4. the queue above `concurrency` (`Slots::admit`);
//! 5. `serve` and `ending` — service: TTFT plus decode at a sampled speed,
//!    with latency spikes, errors after TTFT (error_rate faults,
//!    `server_error_rate`), malformed bodies and stream cuts; partial billing
//!    for cuts.
//!
//! Every random draw of an attempt comes from the endpoint's stream keyed by
//! the request's position in the trace and the attempt's number *on this
//! endpoint*, drawn in a fixed order whatever happens, so two policies meet the
//! same draws (common random numbers).

use crate::adapter::{Adapter, NEVER, Scheduled, SlotHold};
use crate::fault::FaultWindows;
use crate::queue::{Admission, Slots};
use crate::rate_limit::TokenBucket;
use windtunnel_config::{EndpointSpec, FaultKind};
use windtunnel_core::{
    AttemptError, AttemptReport, AttemptStart, Biller, CacheUse, Dist, EndpointFacts, EndpointIdx, ErrorKind,
    KeyedStream, MAX_DURATION_MS, Price, PromptCache, Rng, Streams, TokenRatio, Usage,
};

/// How long an upstream takes to refuse at once (429, 503, 400): one round
/// trip to a provider's edge. Constant so that refusals cost time but add no
/// randomness of their own.
pub const FAST_FAIL_MS: u64 = 20;

/// A simulated endpoint.
#[derive(Clone, Debug)]
pub struct SimEndpoint {
    idx: EndpointIdx,
    spec: EndpointSpec,
    facts: EndpointFacts,
    rpm: Option<TokenBucket>,
    tpm: Option<TokenBucket>,
    slots: Option<Slots>,
    faults: Vec<FaultWindows>,
    draws: KeyedStream,
    quality: Dist,
    /// Bills without drift at sub-nano-dollar token prices.
    biller: Biller,
    /// `prompt_cache`: the prompt blocks this endpoint holds.
    prompt_cache: Option<PromptCache>,
}

/// A draw per fault and the fixed per-attempt draws, taken in one order.
struct Draws {
    fault_u: [f64; MAX_FAULT_DRAWS],
    server_error_u: f64,
    ttft_ms: f64,
    tokens_per_s: f64,
    quality: f64,
}

/// Faults beyond this many per endpoint share the last draw. Scenarios use a
/// handful; a fixed array keeps the hot path free of allocation.
const MAX_FAULT_DRAWS: usize = 16;

impl SimEndpoint {
    /// The endpoint at `idx` of a scenario, with streams from the run's seed.
    pub fn from_seed(idx: EndpointIdx, spec: &EndpointSpec, streams: &Streams) -> SimEndpoint {
        let name = spec.id.as_str();
        let faults = spec
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| FaultWindows::new(f.window, streams.stream(&format!("fault:{name}:{i}"))))
            .collect();
        SimEndpoint {
            idx,
            facts: spec.facts(),
            rpm: spec.rate_limit.rpm.map(TokenBucket::new),
            tpm: spec.rate_limit.tpm.map(TokenBucket::new),
            slots: spec.concurrency.map(Slots::new),
            faults,
            draws: streams.keyed(&format!("endpoint:{name}")),
            quality: Dist::Normal { mean: spec.quality.mean, sd: spec.quality.sd },
            biller: Biller::default(),
            prompt_cache: spec.prompt_cache.map(PromptCache::new),
            spec: spec.clone(),
        }
    }

    /// The scenario's description of this endpoint.
    pub fn spec(&self) -> &EndpointSpec {
        &self.spec
    }

    /// Announces fault windows that have started by `now`, as
    /// `(fault index, start, end)`. The driver calls it as time advances.
    pub fn announce_faults(&mut self, now: u64, mut f: impl FnMut(u16, u64, u64)) {
        for (i, w) in self.faults.iter_mut().enumerate() {
            while let Some((s, e)) = w.announce(now) {
                f(i as u16, s, e);
            }
        }
    }

    /// Attempts in service or queued at `now` (concurrency-limited endpoints only).
    pub fn busy(&self, now: u64) -> usize {
        self.slots.as_ref().map_or(0, |s| s.busy(now))
    }

    fn draw(&mut self, a: &AttemptStart<'_>) -> Draws {
        let rng = self.draws.at(a.req.seq, u64::from(a.endpoint_attempt));
        let mut fault_u = [0.0; MAX_FAULT_DRAWS];
        for u in fault_u.iter_mut().take(self.spec.faults.len().min(MAX_FAULT_DRAWS)) {
            *u = rng.random();
        }
        Draws {
            fault_u,
            server_error_u: rng.random(),
            ttft_ms: self.spec.latency.ttft_ms.sample(rng),
            tokens_per_s: self.spec.latency.tokens_per_s.sample(rng).max(1.0),
            quality: self.quality.sample(rng).clamp(0.0, 1.0),
        }
    }

    fn refuse(&self, now: u64, err: AttemptError, input_tokens: u32) -> Scheduled {
        Scheduled {
            started_at: now,
            first_token_at: None,
            done_at: now.saturating_add(FAST_FAIL_MS),
            report: AttemptReport::failure(err, Usage { input_tokens, ..Usage::default() }, None),
            price: self.facts.price_at(now),
            slot: None,
            max_silence_ms: 0,
        }
    }
}

/// A sampled time in whole milliseconds, at most [`MAX_DURATION_MS`] (ten
/// years): NaN and negatives are 0, anything larger saturates.
fn whole_ms(x: f64) -> u64 {
    if x.is_nan() || x <= 0.0 { 0 } else { x.round().min(MAX_DURATION_MS as f64) as u64 }
}

/// What the faults active at an attempt's start do to it.
enum FaultVerdict {
    /// Refused at once with this error (outage, quota, rate-limit burst).
    Refuse(AttemptError),
    /// Never answered (hang): only a timeout ends it.
    Hang,
    /// Served, its latency multiplied by `spike`, failing after TTFT with
    /// `after_ttft` (an error-rate, malformed or stream-cut fault) if set.
    Serve { spike: f64, after_ttft: Option<FaultKind> },
}

// === the steps of an attempt, in the order it meets them ===

impl SimEndpoint {
    /// Step 1: what the endpoint refuses whatever its state, for a request
    /// of `input` prompt tokens and `max_tokens` as tokenized here.
    fn refusal(&self, input: u32, max_tokens: u32) -> Option<AttemptError> {
        if let Some(window) = self.spec.context_window
            && u64::from(input) + u64::from(max_tokens) > u64::from(window)
        {
            return Some(AttemptError::new(ErrorKind::ContextExceeded).with_status(400));
        }
        if self.spec.max_output_tokens.is_some_and(|cap| max_tokens > cap) {
            return Some(AttemptError::new(ErrorKind::BadRequest).with_status(400));
        }
        // A request larger than a whole minute's TPM can never pass: refused
        // at once, as providers answer "request too large", holding nothing
        // back (no Retry-After) for the requests behind it.
        if self.spec.rate_limit.tpm.is_some_and(|tpm| u64::from(input) + u64::from(max_tokens) > tpm) {
            return Some(AttemptError::new(ErrorKind::ContextExceeded).with_status(429));
        }
        None
    }

    /// Step 2: the faults active at `now` that hit this attempt (each fault
    /// hits with its probability, on its own draw). Latency spikes combine;
    /// of the others the first hit wins.
    fn faults_hit(&mut self, now: u64, d: &Draws) -> FaultVerdict {
        let mut spike = 1.0;
        let mut after_ttft: Option<FaultKind> = None;
        for (i, f) in self.spec.faults.iter().enumerate() {
            if !self.faults[i].is_active(now) || d.fault_u[i.min(MAX_FAULT_DRAWS - 1)] >= f.probability {
                continue;
            }
            match f.kind {
                FaultKind::Outage { status } => return FaultVerdict::Refuse(AttemptError::from_status(status)),
                FaultKind::Quota { status } => {
                    return FaultVerdict::Refuse(AttemptError::new(ErrorKind::QuotaExceeded).with_status(status));
                }
                FaultKind::RateLimitBurst { retry_after_ms } => {
                    let mut err = AttemptError::new(ErrorKind::RateLimited).with_status(429);
                    err.retry_after_ms = Some(retry_after_ms);
                    return FaultVerdict::Refuse(err);
                }
                FaultKind::Hang => return FaultVerdict::Hang,
                FaultKind::LatencySpike { multiplier } => spike *= multiplier,
                FaultKind::ErrorRate { .. } | FaultKind::Malformed | FaultKind::StreamCut { .. } => {
                    after_ttft = after_ttft.or(Some(f.kind));
                }
            }
        }
        FaultVerdict::Serve { spike, after_ttft }
    }

    /// An attempt that never answers: a timeout will cut it.
    fn hang(&self, now: u64, input: u32) -> Scheduled {
        Scheduled {
            started_at: now,
            first_token_at: None,
            done_at: NEVER,
            report: AttemptReport::failure(
                AttemptError::new(ErrorKind::Timeout),
                Usage { input_tokens: input, ..Usage::default() },
                None,
            ),
            price: self.facts.price_at(now),
            slot: None,
            max_silence_ms: 0,
        }
    }

    /// Step 3: the RPM and TPM buckets, charged one request and
    /// `tpm_units` tokens. Both must have room before either is charged;
    /// over either, a rate 429 with the wait as Retry-After.
    fn take_rate_limits(&mut self, now: u64, tpm_units: u64) -> Option<AttemptError> {
        let wait = self
            .rpm
            .as_mut()
            .map_or(0, |b| b.wait_ms(now, 1))
            .max(self.tpm.as_mut().map_or(0, |b| b.wait_ms(now, tpm_units)));
        if wait > 0 {
            let mut err = AttemptError::new(ErrorKind::RateLimited).with_status(429);
            err.retry_after_ms = Some(wait);
            return Some(err);
        }
        if let Some(b) = self.rpm.as_mut() {
            b.take(1);
        }
        if let Some(b) = self.tpm.as_mut() {
            b.take(tpm_units);
        }
        None
    }

    /// Step 5: service from `service_start` (after the queue, step 4):
    /// `prompt_cache`: the input tokens (as counted here) of the prompt's
    /// leading blocks this endpoint holds, at most the whole input, are read
    /// from it; the rest of its blocks are written. A trace line with only
    /// the older `prefix_hash` is a one-block prompt.
    fn cache_use(&mut self, now: u64, req: &windtunnel_core::Request, input: u32) -> CacheUse {
        let Some(cache) = self.prompt_cache.as_mut() else { return CacheUse::default() };
        cache.send(now, req, input, self.facts.tokenizer.for_request(req))
    }

    /// TTFT, then decode at the drawn speed, both slowed by a latency spike;
    /// the queue slot, if any, is held until the attempt ends.
    fn serve(&mut self, now: u64, d: &Draws, service: &Service, admission: Option<Admission>) -> Scheduled {
        let service_start = admission.map_or(now, |a| a.start);
        // Times saturate (a latency of 1e300 ms or a spike of 1e18 is ten
        // years, which a timeout then cuts), never wrap.
        let first_token_at = service_start.saturating_add(whole_ms(d.ttft_ms * service.spike));
        let price = self.facts.price_at(now);
        let (first, done_at, report) = self.ending(now, d, service, first_token_at, &price);
        let slot = match (self.slots.as_mut(), admission) {
            (Some(s), Some(a)) => {
                s.occupy(a, done_at);
                Some(SlotHold { slot: a.slot, owner: a.owner, since: a.start })
            }
            _ => None,
        };
        // Decode is steady in the simulator: the longest silence is one
        // token's time (stretched by a latency spike).
        let max_silence_ms =
            if service.stream { whole_ms((1000.0 / d.tokens_per_s * service.spike).ceil()) } else { 0 };
        Scheduled { started_at: now, first_token_at: first, done_at, report, price, slot, max_silence_ms }
    }

    /// How service ends, as (first token at, done at, report): with the
    /// failure of a fault that acts after TTFT (error rate, malformed body,
    /// stream cut, billed for what was decoded), a server error
    /// (`server_error_rate`), or an answer of `output` tokens.
    fn ending(
        &mut self,
        now: u64,
        d: &Draws,
        service: &Service,
        first_token_at: u64,
        price: &Price,
    ) -> (Option<u64>, u64, AttemptReport) {
        let &Service { input, cache, output, spike, after_ttft, stream } = service;
        let (cached, written) = (cache.read, cache.written);
        let decode_ms = |tokens: u32| whole_ms(f64::from(tokens) * 1000.0 / d.tokens_per_s * spike);
        let biller = &mut self.biller;
        let mut bill = |out: u32| Usage {
            input_tokens: input,
            cached_input_tokens: cached,
            cache_write_tokens: written,
            output_tokens: out,
            cost: biller.bill(price, u64::from(input - cached), u64::from(cached), u64::from(written), u64::from(out)),
        };
        // A failure before the first token bills nothing: no cached or
        // written tokens either (the blocks are held all the same).
        let unbilled = Usage { input_tokens: input, ..Usage::default() };
        let queue_ttft = Some(first_token_at - now);
        match after_ttft {
            Some(FaultKind::ErrorRate { status }) => {
                (None, first_token_at, AttemptReport::failure(AttemptError::from_status(status), unbilled, None))
            }
            Some(FaultKind::Malformed) => {
                let err = AttemptError::new(ErrorKind::Malformed).with_status(200);
                (
                    Some(first_token_at),
                    first_token_at.saturating_add(decode_ms(output)),
                    AttemptReport::failure(err, bill(output), queue_ttft),
                )
            }
            Some(FaultKind::StreamCut { after_tokens }) if after_tokens.unwrap_or(output / 2) < output => {
                let cut = after_tokens.unwrap_or(output / 2).max(1).min(output);
                let kind = if stream { ErrorKind::StreamCut } else { ErrorKind::Connection };
                (
                    Some(first_token_at),
                    first_token_at.saturating_add(decode_ms(cut)),
                    AttemptReport::failure(AttemptError::new(kind), bill(cut), queue_ttft),
                )
            }
            _ if d.server_error_u < self.spec.errors.server_error_rate => {
                (None, first_token_at, AttemptReport::failure(AttemptError::from_status(500), unbilled, None))
            }
            _ => (
                Some(first_token_at),
                first_token_at.saturating_add(decode_ms(output)),
                AttemptReport::success(bill(output), d.quality, queue_ttft),
            ),
        }
    }
}

/// What an attempt's service depends on besides the draws.
struct Service {
    /// Prompt tokens as this endpoint counts them.
    input: u32,
    /// Of `input`, the tokens the prompt cache held, and those it wrote.
    cache: CacheUse,
    /// Tokens of the answer, as this endpoint counts them, at most `max_tokens`.
    output: u32,
    /// The product of the active latency spikes' multipliers (1 without one).
    spike: f64,
    /// A fault that fails the attempt after TTFT.
    after_ttft: Option<FaultKind>,
    /// A streamed request.
    stream: bool,
}

impl Adapter for SimEndpoint {
    fn start(&mut self, now: u64, a: &AttemptStart<'_>) -> Scheduled {
        debug_assert_eq!(a.endpoint, self.idx);
        // Every draw first, whatever happens (common random numbers).
        let d = self.draw(a);
        let req = a.req;
        let (input, max_tokens) = self.facts.tokens(req);
        let output = TokenRatio::count(self.facts.tokenizer.for_request(req), req.output_tokens).min(max_tokens);
        // 1. Refusals: context window, output cap, a request over a minute's TPM.
        if let Some(err) = self.refusal(input, max_tokens) {
            return self.refuse(now, err, input);
        }
        // 2. Faults.
        let (spike, after_ttft) = match self.faults_hit(now, &d) {
            FaultVerdict::Refuse(err) => return self.refuse(now, err, input),
            FaultVerdict::Hang => return self.hang(now, input),
            FaultVerdict::Serve { spike, after_ttft } => (spike, after_ttft),
        };
        // 3. Rate limits.
        if let Some(err) = self.take_rate_limits(now, u64::from(input) + u64::from(max_tokens)) {
            return self.refuse(now, err, input);
        }
        // The prompt reaches the model: its leading blocks this endpoint
        // holds are cached input, the rest are written to the cache.
        let cache = self.cache_use(now, req, input);
        let service = Service { input, cache, output, spike, after_ttft, stream: req.stream };
        // 4. Queue.
        let admission = self.slots.as_mut().map(|s| s.admit(now));
        // 5. Service.
        self.serve(now, &d, &service, admission)
    }

    fn cancel(&mut self, now: u64, scheduled: &Scheduled) -> Usage {
        if let (Some(s), Some(hold)) = (self.slots.as_mut(), scheduled.slot) {
            s.release(hold, now);
        }
        scheduled.usage_at(now)
    }
}
