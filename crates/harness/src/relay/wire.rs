//! The relay's wire format: events as a stream of `u64` words, and back.
//!
//! Each event is a header word (its kind in the low byte, small fields and
//! presence flags above) and a fixed number of payload words for its kind;
//! an absent optional value is a cleared flag, not a sentinel, so every
//! value round-trips. Requests travel once, with `Arrived`; later events name
//! theirs by `seq`. Strings (tenant, class, model, language) travel once
//! each as a `SYMBOL` record and then as their number. A trace's own request
//! id travels as bytes after its `Arrived` record: sending the `Arc` instead
//! made both threads write its count, one cache line bouncing between the
//! cores per request, which measured slower than copying the bytes
//! (`crates/harness/benches/README.md`).
//!
//! This module owns the format and nothing else: it must not look at what
//! an event means.

use windtunnel_core::{
    AttemptError, AttemptReport, BreakerState, EndpointIdx, ErrorKind, Event, EventSink, FailReason, Nanodollars,
    Outcome, RejectReason, Request, Response, SeqMap, Sym, SymMap, Usage,
};

/// Record kinds, the header's low byte.
mod kind {
    pub(super) const SYMBOL: u8 = 1;
    pub(super) const ARRIVED: u8 = 2;
    pub(super) const ATTEMPT_STARTED: u8 = 3;
    pub(super) const ATTEMPT_FINISHED: u8 = 4;
    pub(super) const ATTEMPT_CANCELLED: u8 = 5;
    pub(super) const BREAKER: u8 = 6;
    pub(super) const FAILOVER: u8 = 7;
    pub(super) const FAULT_WINDOW: u8 = 8;
    pub(super) const FINISHED: u8 = 9;
}

/// The longest record but one that carries a string (a `SYMBOL`, an
/// `ARRIVED` with the trace's id): a failed `ATTEMPT_FINISHED` that wrote
/// to a prompt cache, a header and nine words.
pub(crate) const MAX_RECORD_WORDS: usize = 10;

/// Presence flags, header bits 8..16.
const F0: u64 = 1 << 8;
const F1: u64 = 1 << 9;
const F2: u64 = 1 << 10;
const F3: u64 = 1 << 11;
const F4: u64 = 1 << 12;
const F5: u64 = 1 << 13;

/// A batch of encoded events.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub(crate) words: Vec<u64>,
}

impl Chunk {
    pub(crate) fn with_capacity(words: usize) -> Chunk {
        Chunk { words: Vec::with_capacity(words) }
    }

    pub(crate) fn clear(&mut self) {
        self.words.clear();
    }

    #[inline(always)]
    fn put<const N: usize>(&mut self, words: [u64; N]) {
        self.words.extend_from_slice(&words);
    }

    /// Appends `bytes` as whole little-endian words, the last zero-padded.
    fn put_bytes(&mut self, bytes: &[u8]) {
        self.words.extend(bytes.chunks(8).map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        }));
    }
}

/// The stream did not decode: a bug in this module, never bad input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Garbled {
    /// The word where decoding stopped.
    pub(crate) at_word: usize,
}

fn opt(flag: u64, value: Option<u64>) -> (u64, u64) {
    match value {
        Some(v) => (flag, v),
        None => (0, 0),
    }
}

fn header(kind: u8, flags: u64, endpoint: u16, high: u32) -> u64 {
    u64::from(kind) | flags | u64::from(endpoint) << 16 | u64::from(high) << 32
}

fn pair(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | u64::from(hi) << 32
}

fn outcome_code(o: Outcome) -> u64 {
    match o {
        Outcome::Succeeded => 0,
        Outcome::Cached => 1,
        Outcome::Failed(FailReason::Deadline) => 2,
        Outcome::Failed(FailReason::NoEndpoint) => 3,
        Outcome::Rejected(RejectReason::Budget) => 4,
        Outcome::Rejected(RejectReason::Policy) => 5,
        Outcome::Failed(FailReason::Upstream(k)) => 16 + k.index() as u64,
    }
}

fn outcome_of(code: u64) -> Option<Outcome> {
    Some(match code {
        0 => Outcome::Succeeded,
        1 => Outcome::Cached,
        2 => Outcome::Failed(FailReason::Deadline),
        3 => Outcome::Failed(FailReason::NoEndpoint),
        4 => Outcome::Rejected(RejectReason::Budget),
        5 => Outcome::Rejected(RejectReason::Policy),
        c => Outcome::Failed(FailReason::Upstream(error_kind(c.checked_sub(16)?)?)),
    })
}

fn error_kind(i: u64) -> Option<ErrorKind> {
    ErrorKind::from_index(usize::try_from(i).ok()?)
}

fn breaker_state(i: u64) -> Option<BreakerState> {
    match i {
        0 => Some(BreakerState::Closed),
        1 => Some(BreakerState::Open),
        2 => Some(BreakerState::HalfOpen),
        _ => None,
    }
}

/// The sending side: numbers the strings it has sent.
#[derive(Default)]
pub(crate) struct Encoder {
    /// By string; [`SymMap`] checks its recent keys by pointer inline, so a
    /// trace's few interned tenants and classes cost a comparison or two.
    symbols: SymMap<u32>,
    next_symbol: u32,
}

impl Encoder {
    /// The number of `s`, writing its `SYMBOL` record first if it is new.
    #[inline(always)]
    fn symbol(&mut self, out: &mut Chunk, s: &Sym) -> u32 {
        let next = self.next_symbol;
        let n = *self.symbols.get_or_insert_with(s, || next);
        if n == next {
            self.introduce(out, s);
        }
        n
    }

    /// Writes the `SYMBOL` record of the next number. (Strings are request
    /// fields: a length past 4 GiB cannot occur.)
    #[cold]
    #[inline(never)]
    fn introduce(&mut self, out: &mut Chunk, s: &Sym) {
        self.next_symbol += 1;
        let bytes = s.as_bytes();
        out.words.push(header(kind::SYMBOL, 0, 0, 0) | (bytes.len() as u64) << 32);
        out.put_bytes(bytes);
    }

    /// Appends one event: the common kinds inline (see [`crate::relay::Relay`]),
    /// the rare ones by a call.
    #[inline(always)]
    pub(crate) fn encode(&mut self, out: &mut Chunk, event: &Event<'_>) {
        match *event {
            Event::Arrived { at, req } => self.arrived(out, at, req),
            Event::AttemptStarted { .. } => attempt_started(out, event),
            Event::AttemptFinished { .. } => attempt_finished(out, event),
            Event::Finished { .. } => finished(out, event),
            _ => rare(out, event),
        }
    }

    #[inline(always)]
    fn arrived(&mut self, out: &mut Chunk, at: u64, r: &Request) {
        let tenant = self.symbol(out, &r.tenant);
        let class = self.symbol(out, &r.class);
        let model = r.model.as_ref().map(|m| self.symbol(out, m));
        let lang = r.lang.as_ref().map(|l| self.symbol(out, l));
        let (f_model, model) = opt(F2, model.map(u64::from));
        let (f_lang, lang) = opt(F3, lang.map(u64::from));
        let (f_deadline, deadline) = opt(F4, r.deadline_ms);
        let (f_prefix, prefix) = opt(F5, r.prefix_hash);
        let f_id = if r.id.is_some() { F1 } else { 0 };
        let f_stream = if r.stream { F0 } else { 0 };
        let flags = f_stream | f_id | f_model | f_lang | f_deadline | f_prefix;
        out.put([
            header(kind::ARRIVED, flags, 0, r.max_tokens),
            at,
            r.seq,
            r.at_ms,
            pair(tenant, class),
            pair(r.input_tokens, r.output_tokens),
            model | lang << 32,
            deadline,
            prefix,
        ]);
        if let Some(id) = &r.id {
            put_id(out, id);
        }
    }
}

/// The trace's id after its `ARRIVED` record: its length in bytes, then the
/// bytes.
#[inline(never)]
fn put_id(out: &mut Chunk, id: &str) {
    out.words.push(id.len() as u64);
    out.put_bytes(id.as_bytes());
}

#[inline(always)]
fn attempt_started(out: &mut Chunk, event: &Event<'_>) {
    let Event::AttemptStarted { at, req, attempt, endpoint, attempt_limit, probe, tokens, plan_deadline_ms } = *event
    else {
        return;
    };
    let (f_plan, plan) = opt(F1, plan_deadline_ms);
    let flags = if probe { F0 } else { 0 } | f_plan;
    out.put([
        header(kind::ATTEMPT_STARTED, flags, endpoint.0, attempt),
        at,
        req.seq,
        u64::from(attempt_limit),
        pair(tokens.0, tokens.1),
        plan,
    ]);
}

#[inline(always)]
fn attempt_finished(out: &mut Chunk, event: &Event<'_>) {
    let Event::AttemptFinished { at, req, attempt, endpoint, started_at, report } = *event else { return };
    // Ok: the quality's bits, and the cached and written input tokens. Err:
    // kind, status and cached input tokens, and the Retry-After; the written
    // tokens in a word of their own (flag F4) when there are any.
    let cached = u64::from(report.usage.cached_input_tokens);
    let written = u64::from(report.usage.cache_write_tokens);
    let (f_result, a, b) = match &report.result {
        Ok(r) => (0, r.quality.to_bits(), pair(report.usage.cached_input_tokens, report.usage.cache_write_tokens)),
        Err(e) => {
            let (f_status, status) = opt(F2, e.status.map(u64::from));
            let (f_retry, retry) = opt(F3, e.retry_after_ms);
            let f_written = if written > 0 { F4 } else { 0 };
            (F0 | f_status | f_retry | f_written, e.kind.index() as u64 | status << 8 | cached << 32, retry)
        }
    };
    let (f_ttft, ttft) = opt(F1, report.ttft_ms);
    out.put([
        header(kind::ATTEMPT_FINISHED, f_result | f_ttft, endpoint.0, attempt),
        at,
        req.seq,
        started_at,
        a,
        b,
        ttft,
        pair(report.usage.input_tokens, report.usage.output_tokens),
        report.usage.cost.0 as u64,
    ]);
    if f_result & F4 != 0 {
        out.put([written]);
    }
}

#[inline(always)]
fn finished(out: &mut Chunk, event: &Event<'_>) {
    let Event::Finished { at, req, outcome, attempts, endpoint, ttft_ms, cost, quality } = *event else { return };
    let f_endpoint = if endpoint.is_some() { F0 } else { 0 };
    let (f_ttft, ttft) = opt(F1, ttft_ms);
    let (f_quality, quality) = opt(F2, quality.map(f64::to_bits));
    out.put([
        header(kind::FINISHED, f_endpoint | f_ttft | f_quality, endpoint.map_or(0, |e| e.0), attempts),
        at,
        req.seq,
        outcome_code(outcome),
        ttft,
        cost.0 as u64,
        quality,
    ]);
}

/// The kinds a replay writes a few of.
#[inline(never)]
fn rare(out: &mut Chunk, event: &Event<'_>) {
    match *event {
        Event::AttemptCancelled { at, req, attempt, endpoint, usage } => out.put([
            header(kind::ATTEMPT_CANCELLED, 0, endpoint.0, attempt),
            at,
            req.seq,
            pair(usage.input_tokens, usage.output_tokens),
            usage.cost.0 as u64,
            pair(usage.cached_input_tokens, usage.cache_write_tokens),
        ]),
        Event::Breaker { at, endpoint, from, to } => {
            out.put([header(kind::BREAKER, 0, endpoint.0, pair32(from as u16, to as u16)), at])
        }
        Event::Failover { at, req, from, to, reason } => {
            out.put([header(kind::FAILOVER, 0, from.0, pair32(to.0, reason.index() as u16)), at, req.seq])
        }
        Event::FaultWindow { endpoint, fault, start, end } => {
            out.put([header(kind::FAULT_WINDOW, 0, endpoint.0, u32::from(fault)), start, end])
        }
        Event::Arrived { .. }
        | Event::AttemptStarted { .. }
        | Event::AttemptFinished { .. }
        | Event::Finished { .. } => {}
    }
}

fn pair32(lo: u16, hi: u16) -> u32 {
    u32::from(lo) | u32::from(hi) << 16
}

/// The receiving side: its own copies of the symbols and of the open requests.
pub(crate) struct Decoder {
    symbols: Vec<Sym>,
    /// Open requests by `seq`, as places in `requests`: the table's size
    /// follows the span of open `seq`s, not their number, so its slots stay
    /// small, and a request costs no allocation of its own.
    open: SeqMap<u32>,
    requests: Vec<Request>,
    /// Places in `requests` free for the next arrival.
    free: Vec<u32>,
    /// Lent for events whose request is not open (which the executor never
    /// writes): the right `seq`, SPEC's defaults elsewhere.
    stand_in: Request,
    /// A string's bytes on their way from words to a `Sym`.
    scratch: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder {
            symbols: Vec::new(),
            open: SeqMap::default(),
            requests: Vec::new(),
            free: Vec::new(),
            stand_in: Request::new(0, 0, 0, 0),
            scratch: Vec::new(),
        }
    }
}

/// A cursor over a chunk's words.
struct Words<'a> {
    words: &'a [u64],
    at: usize,
}

impl Words<'_> {
    #[inline(always)]
    fn take<const N: usize>(&mut self) -> Option<[u64; N]> {
        let w: [u64; N] = self.words.get(self.at..self.at + N)?.try_into().ok()?;
        self.at += N;
        Some(w)
    }
}

impl Decoder {
    /// A string of `len` bytes from the next words (see [`Chunk::put_bytes`]).
    fn string(&mut self, words: &mut Words<'_>, len: u64) -> Option<Sym> {
        let len = usize::try_from(len).ok()?;
        let n = len.div_ceil(8);
        let raw = words.words.get(words.at..words.at + n)?;
        words.at += n;
        self.scratch.clear();
        self.scratch.extend(raw.iter().flat_map(|w| w.to_le_bytes()));
        Some(Sym::from(std::str::from_utf8(self.scratch.get(..len)?).ok()?))
    }

    fn symbol(&self, n: u64) -> Option<Sym> {
        self.symbols.get(usize::try_from(n).ok()?).cloned()
    }

    /// The open request `seq`, or the stand-in.
    fn req(&mut self, seq: u64) -> &Request {
        match self.open.get(seq).and_then(|&i| self.requests.get(i as usize)) {
            Some(r) => r,
            None => {
                self.stand_in.seq = seq;
                &self.stand_in
            }
        }
    }

    /// Opens `req` under its `seq` (a second arrival replaces the first) and
    /// lends it back for its `Arrived` event.
    fn open_request(&mut self, req: Request) -> &Request {
        let seq = req.seq;
        let i = match self.open.get(seq) {
            Some(&i) => i,
            None => {
                let i = self.free.pop().unwrap_or(self.requests.len() as u32);
                self.open.insert(seq, i);
                i
            }
        };
        match self.requests.get_mut(i as usize) {
            Some(slot) => *slot = req,
            None => self.requests.push(req),
        }
        match self.requests.get(i as usize) {
            Some(r) => r,
            None => &self.stand_in,
        }
    }

    /// Closes request `seq`; its place is reused by a later arrival.
    fn close_request(&mut self, seq: u64) {
        if let Some(i) = self.open.remove(seq) {
            self.free.push(i);
        }
    }

    /// Passes every event of `chunk` to `sink`, in order.
    pub(crate) fn decode<S: EventSink>(&mut self, chunk: &Chunk, sink: &mut S) -> Result<(), Garbled> {
        let mut words = Words { words: &chunk.words, at: 0 };
        while words.at < words.words.len() {
            let start = words.at;
            if self.one(&mut words, sink).is_none() {
                return Err(Garbled { at_word: start });
            }
        }
        Ok(())
    }

    /// Decodes the record at the cursor and passes its event to `sink`;
    /// `None` when the words do not decode. The kinds are laid out as in the
    /// encoder, one function each.
    #[inline(always)]
    fn one<S: EventSink>(&mut self, words: &mut Words<'_>, sink: &mut S) -> Option<()> {
        let [h] = words.take::<1>()?;
        let h = Header(h);
        match h.kind() {
            kind::SYMBOL => {
                let s = self.string(words, u64::from(h.high()))?;
                self.symbols.push(s);
            }
            kind::ARRIVED => self.arrived(h, words, sink)?,
            kind::ATTEMPT_STARTED => self.attempt_started(h, words, sink)?,
            kind::ATTEMPT_FINISHED => self.attempt_finished(h, words, sink)?,
            kind::FINISHED => self.finished(h, words, sink)?,
            _ => self.rare(h, words, sink)?,
        }
        Some(())
    }

    #[inline(always)]
    fn arrived<S: EventSink>(&mut self, h: Header, words: &mut Words<'_>, sink: &mut S) -> Option<()> {
        let [at, seq, at_ms, symbols, tokens, model_lang, deadline, prefix] = words.take::<8>()?;
        let id = match h.has(F1) {
            true => {
                let [len] = words.take::<1>()?;
                Some(self.string(words, len)?)
            }
            false => None,
        };
        let (tenant, class) = unpair(symbols);
        let (model, lang) = unpair(model_lang);
        let (input_tokens, output_tokens) = unpair(tokens);
        let req = Request {
            seq,
            id,
            at_ms,
            tenant: self.symbol(u64::from(tenant))?,
            class: self.symbol(u64::from(class))?,
            model: if h.has(F2) { Some(self.symbol(u64::from(model))?) } else { None },
            input_tokens,
            output_tokens,
            max_tokens: h.high(),
            stream: h.has(F0),
            lang: if h.has(F3) { Some(self.symbol(u64::from(lang))?) } else { None },
            deadline_ms: h.optional(F4, deadline),
            tags: None,
            prefix_hash: h.optional(F5, prefix),
            // Not carried: no report or invariant reads it (the cache's
            // figures travel beside the event log).
            hash_ids: None,
            prompt_hash: None,
            messages: None,
        };
        sink.record(&Event::Arrived { at, req: self.open_request(req) });
        Some(())
    }

    #[inline(always)]
    fn attempt_started<S: EventSink>(&mut self, h: Header, words: &mut Words<'_>, sink: &mut S) -> Option<()> {
        let [at, seq, limit, tokens, plan] = words.take::<5>()?;
        let event = Event::AttemptStarted {
            at,
            req: self.req(seq),
            attempt: h.high(),
            endpoint: h.endpoint(),
            attempt_limit: u32::try_from(limit).ok()?,
            probe: h.has(F0),
            tokens: unpair(tokens),
            plan_deadline_ms: h.optional(F1, plan),
        };
        sink.record(&event);
        Some(())
    }

    #[inline(always)]
    fn attempt_finished<S: EventSink>(&mut self, h: Header, words: &mut Words<'_>, sink: &mut S) -> Option<()> {
        let [at, seq, started_at, a, b, ttft, tokens, cost] = words.take::<8>()?;
        let (result, cached, written): (_, u64, u64) = if h.has(F0) {
            let err = AttemptError {
                kind: error_kind(a & 0xFF)?,
                status: h.optional(F2, (a >> 8) & 0xFFFF).map(|s| s as u16),
                retry_after_ms: h.optional(F3, b),
            };
            let written = if h.has(F4) { words.take::<1>()?[0] } else { 0 };
            (Err(err), a >> 32, written)
        } else {
            let (cached, written) = unpair(b);
            (Ok(Response { quality: f64::from_bits(a) }), u64::from(cached), u64::from(written))
        };
        let usage =
            Usage { cached_input_tokens: cached as u32, cache_write_tokens: written as u32, ..usage(tokens, cost) };
        let report = AttemptReport { result, ttft_ms: h.optional(F1, ttft), usage };
        let req = self.req(seq);
        let (attempt, endpoint) = (h.high(), h.endpoint());
        sink.record(&Event::AttemptFinished { at, req, attempt, endpoint, started_at, report: &report });
        Some(())
    }

    #[inline(always)]
    fn finished<S: EventSink>(&mut self, h: Header, words: &mut Words<'_>, sink: &mut S) -> Option<()> {
        let [at, seq, outcome, ttft, cost, quality] = words.take::<6>()?;
        let event = Event::Finished {
            at,
            req: self.req(seq),
            outcome: outcome_of(outcome)?,
            attempts: h.high(),
            endpoint: h.has(F0).then_some(h.endpoint()),
            ttft_ms: h.optional(F1, ttft),
            cost: Nanodollars(cost as i64),
            quality: h.optional(F2, quality).map(f64::from_bits),
        };
        sink.record(&event);
        self.close_request(seq);
        Some(())
    }

    /// The kinds a replay writes a few of; `None` for an unknown kind.
    #[inline(always)]
    fn rare<S: EventSink>(&mut self, h: Header, words: &mut Words<'_>, sink: &mut S) -> Option<()> {
        let (endpoint, high) = (h.endpoint(), h.high());
        match h.kind() {
            kind::ATTEMPT_CANCELLED => {
                let [at, seq, tokens, cost, cache] = words.take::<5>()?;
                let (cached, written) = unpair(cache);
                let usage = Usage { cached_input_tokens: cached, cache_write_tokens: written, ..usage(tokens, cost) };
                sink.record(&Event::AttemptCancelled { at, req: self.req(seq), attempt: high, endpoint, usage });
            }
            kind::BREAKER => {
                let [at] = words.take::<1>()?;
                let from = breaker_state(u64::from(high & 0xFFFF))?;
                let to = breaker_state(u64::from(high >> 16))?;
                sink.record(&Event::Breaker { at, endpoint, from, to });
            }
            kind::FAILOVER => {
                let [at, seq] = words.take::<2>()?;
                let to = EndpointIdx((high & 0xFFFF) as u16);
                let reason = error_kind(u64::from(high >> 16))?;
                sink.record(&Event::Failover { at, req: self.req(seq), from: endpoint, to, reason });
            }
            kind::FAULT_WINDOW => {
                let [start, end] = words.take::<2>()?;
                let fault = u16::try_from(high).ok()?;
                sink.record(&Event::FaultWindow { endpoint, fault, start, end });
            }
            _ => return None,
        }
        Some(())
    }
}

/// A record's header word: the kind in the low byte, presence flags in bits
/// 8..16, an endpoint in bits 16..32 and a small field in the high half.
#[derive(Clone, Copy)]
struct Header(u64);

impl Header {
    #[inline(always)]
    fn kind(self) -> u8 {
        self.0 as u8
    }

    #[inline(always)]
    fn has(self, flag: u64) -> bool {
        self.0 & flag != 0
    }

    /// `value` when `flag` is set (see [`opt`]).
    #[inline(always)]
    fn optional(self, flag: u64, value: u64) -> Option<u64> {
        self.has(flag).then_some(value)
    }

    #[inline(always)]
    fn endpoint(self) -> EndpointIdx {
        EndpointIdx((self.0 >> 16) as u16)
    }

    #[inline(always)]
    fn high(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// The two halves of a word written by [`pair`].
#[inline(always)]
fn unpair(w: u64) -> (u32, u32) {
    (w as u32, (w >> 32) as u32)
}

/// A usage from its tokens (a [`pair`]) and cost words.
#[inline(always)]
fn usage(tokens: u64, cost: u64) -> Usage {
    let (input_tokens, output_tokens) = unpair(tokens);
    Usage { input_tokens, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens, cost: Nanodollars(cost as i64) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Keeps each event's debug form.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl EventSink for Recorder {
        fn record(&mut self, event: &Event<'_>) {
            self.0.push(format!("{event:?}"));
        }
    }

    /// What happens to a request between its arrival and its end.
    #[derive(Clone, Debug)]
    enum Op {
        Started { attempt: u32, endpoint: u16, limit: u32, probe: bool, tokens: (u32, u32), plan: Option<u64> },
        Finished { attempt: u32, endpoint: u16, started_at: u64, report: AttemptReport },
        Cancelled { attempt: u32, endpoint: u16, usage: Usage },
        Failover { from: u16, to: u16, reason: ErrorKind },
        Breaker { endpoint: u16, from: BreakerState, to: BreakerState },
        Window { endpoint: u16, fault: u16, start: u64, end: u64 },
    }

    fn kind() -> impl Strategy<Value = ErrorKind> {
        (0..ErrorKind::ALL.len()).prop_map(|i| ErrorKind::ALL[i])
    }

    fn state() -> impl Strategy<Value = BreakerState> {
        prop_oneof![Just(BreakerState::Closed), Just(BreakerState::Open), Just(BreakerState::HalfOpen)]
    }

    fn usage() -> impl Strategy<Value = Usage> {
        // Written tokens: often none, as most attempts write nothing.
        let written = prop_oneof![Just(0u32), any::<u32>()];
        (any::<u32>(), any::<u32>(), written, any::<u32>(), any::<i64>()).prop_map(|(i, k, w, o, c)| Usage {
            input_tokens: i,
            cached_input_tokens: k,
            cache_write_tokens: w,
            output_tokens: o,
            cost: Nanodollars(c),
        })
    }

    fn report() -> impl Strategy<Value = AttemptReport> {
        let result = prop_oneof![
            any::<f64>().prop_map(|quality| Ok(Response { quality })),
            (kind(), any::<Option<u16>>(), any::<Option<u64>>())
                .prop_map(|(kind, status, retry_after_ms)| Err(AttemptError { kind, status, retry_after_ms })),
        ];
        (result, any::<Option<u64>>(), usage()).prop_map(|(result, ttft_ms, usage)| AttemptReport {
            result,
            ttft_ms,
            usage,
        })
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u32>(), any::<u16>(), any::<u32>(), any::<bool>(), any::<(u32, u32)>(), any::<Option<u64>>())
                .prop_map(|(attempt, endpoint, limit, probe, tokens, plan)| Op::Started {
                    attempt,
                    endpoint,
                    limit,
                    probe,
                    tokens,
                    plan
                }),
            (any::<u32>(), any::<u16>(), any::<u64>(), report()).prop_map(|(attempt, endpoint, started_at, report)| {
                Op::Finished { attempt, endpoint, started_at, report }
            }),
            (any::<u32>(), any::<u16>(), usage()).prop_map(|(attempt, endpoint, usage)| Op::Cancelled {
                attempt,
                endpoint,
                usage
            }),
            (any::<u16>(), any::<u16>(), kind()).prop_map(|(from, to, reason)| Op::Failover { from, to, reason }),
            (any::<u16>(), state(), state()).prop_map(|(endpoint, from, to)| Op::Breaker { endpoint, from, to }),
            (any::<u16>(), any::<u16>(), any::<u64>(), any::<u64>())
                .prop_map(|(endpoint, fault, start, end)| Op::Window { endpoint, fault, start, end }),
        ]
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            Just(Outcome::Succeeded),
            Just(Outcome::Cached),
            Just(Outcome::Failed(FailReason::Deadline)),
            Just(Outcome::Failed(FailReason::NoEndpoint)),
            Just(Outcome::Rejected(RejectReason::Budget)),
            Just(Outcome::Rejected(RejectReason::Policy)),
            kind().prop_map(|k| Outcome::Failed(FailReason::Upstream(k))),
        ]
    }

    /// How a request ends: outcome, attempts, endpoint, TTFT, cost, quality.
    type End = (Outcome, u32, Option<u16>, Option<u64>, i64, Option<f64>);

    /// A request's life: the request, what happens to it, how it ends.
    type Life = (Request, Vec<Op>, End);

    fn life() -> impl Strategy<Value = Life> {
        const NAMES: [&str; 7] = ["acme", "globex", "interactive", "batch", "gpt-4o", "zh", "ünïcode — long name"];
        let names = NAMES;
        let sym = move || (0..names.len(), any::<bool>()).prop_map(move |(i, fresh)| (i, fresh));
        let request = (
            (any::<u64>(), sym(), sym(), proptest::option::of(sym()), proptest::option::of(sym())),
            (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>()),
            (any::<Option<u64>>(), any::<Option<u64>>(), proptest::option::of("\\PC{0,40}")),
        );
        let end =
            (outcome(), any::<u32>(), any::<Option<u16>>(), any::<Option<u64>>(), any::<i64>(), any::<Option<f64>>());
        (request, proptest::collection::vec(op(), 0..6), end).prop_map(move |(r, ops, end)| {
            // The same string sometimes in a fresh allocation: numbering is by
            // string, the pointer is only a shortcut.
            thread_local! {
                static SHARED: Vec<Sym> = NAMES.map(Sym::from).to_vec();
            }
            let pick = |(i, fresh): (usize, bool)| {
                if fresh { Sym::from(names[i]) } else { SHARED.with(|s| s[i].clone()) }
            };
            let ((at_ms, tenant, class, model, lang), (input, output, max, stream), (deadline, prefix, id)) = r;
            let mut req = Request::new(0, at_ms, input, output);
            req.tenant = pick(tenant);
            req.class = pick(class);
            req.model = model.map(pick);
            req.lang = lang.map(pick);
            req.max_tokens = max;
            req.stream = stream;
            req.deadline_ms = deadline;
            req.prefix_hash = prefix;
            req.id = id.map(|s| Sym::from(s.as_str()));
            (req, ops, end)
        })
    }

    fn event_of<'a>(req: &'a Request, op: &'a Op, at: u64) -> Event<'a> {
        match *op {
            Op::Started { attempt, endpoint, limit, probe, tokens, plan } => Event::AttemptStarted {
                at,
                req,
                attempt,
                endpoint: EndpointIdx(endpoint),
                attempt_limit: limit,
                probe,
                tokens,
                plan_deadline_ms: plan,
            },
            Op::Finished { attempt, endpoint, started_at, ref report } => {
                Event::AttemptFinished { at, req, attempt, endpoint: EndpointIdx(endpoint), started_at, report }
            }
            Op::Cancelled { attempt, endpoint, usage } => {
                Event::AttemptCancelled { at, req, attempt, endpoint: EndpointIdx(endpoint), usage }
            }
            Op::Failover { from, to, reason } => {
                Event::Failover { at, req, from: EndpointIdx(from), to: EndpointIdx(to), reason }
            }
            Op::Breaker { endpoint, from, to } => Event::Breaker { at, endpoint: EndpointIdx(endpoint), from, to },
            Op::Window { endpoint, fault, start, end } => {
                Event::FaultWindow { endpoint: EndpointIdx(endpoint), fault, start, end }
            }
        }
    }

    proptest! {
        /// Every event comes out as it went in, across chunk boundaries, with
        /// two requests open at a time.
        #[test]
        fn events_round_trip(
            lives in proptest::collection::vec(life(), 1..20),
            split in 1usize..40,
            base in 0u64..u64::MAX / 2,
            // 1024 and 4096 collide in the open-request table and make it grow.
            stride in prop_oneof![1u64..5000, Just(1024u64), Just(4096u64)],
        ) {
            let lives: Vec<Life> = lives
                .into_iter()
                .enumerate()
                .map(|(i, (mut r, ops, end))| {
                    r.seq = base + i as u64 * stride;
                    (r, ops, end)
                })
                .collect();
            // Arrived(i), its events, then Finished(i - 1): two requests open.
            // Event times differ from the request's own `at_ms`, so a field
            // swapped with it would show.
            let mut events = Vec::new();
            for (i, (req, ops, _)) in lives.iter().enumerate() {
                events.push(Event::Arrived { at: req.at_ms.wrapping_add(7), req });
                events.extend(
                    ops.iter().enumerate().map(|(k, op)| event_of(req, op, req.at_ms.wrapping_add(100 + k as u64))),
                );
                if i > 0 {
                    let (prev, _, end) = &lives[i - 1];
                    events.push(finished(prev, end));
                }
            }
            if let Some((last, _, end)) = lives.last() {
                events.push(finished(last, end));
            }
            let mut encoder = Encoder::default();
            let mut chunks = vec![Chunk::default()];
            for (n, e) in events.iter().enumerate() {
                if n % split == 0 {
                    chunks.push(Chunk::default());
                }
                let chunk = chunks.last_mut().expect("a chunk");
                encoder.encode(chunk, e);
            }
            let (mut decoder, mut out) = (Decoder::default(), Recorder::default());
            for c in &chunks {
                prop_assert_eq!(decoder.decode(c, &mut out), Ok(()));
            }
            let expected: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
            prop_assert_eq!(out.0, expected);
        }
    }

    fn finished<'a>(req: &'a Request, end: &End) -> Event<'a> {
        let (outcome, attempts, endpoint, ttft_ms, cost, quality) = *end;
        Event::Finished {
            at: req.at_ms.wrapping_add(1000),
            req,
            outcome,
            attempts,
            endpoint: endpoint.map(EndpointIdx),
            ttft_ms,
            cost: Nanodollars(cost),
            quality,
        }
    }

    #[test]
    fn an_event_of_a_request_not_open_gets_a_stand_in_with_its_seq() {
        let req = Request::new(42, 7, 100, 10);
        let mut chunk = Chunk::default();
        let mut encoder = Encoder::default();
        encoder.encode(
            &mut chunk,
            &Event::Failover { at: 9, req: &req, from: EndpointIdx(0), to: EndpointIdx(1), reason: ErrorKind::Timeout },
        );
        let mut out = Recorder::default();
        assert_eq!(Decoder::default().decode(&chunk, &mut out), Ok(()));
        assert_eq!(out.0.len(), 1);
        assert!(out.0[0].contains("seq: 42"), "{}", out.0[0]);
        // The stand-in has defaults, not the request's fields.
        assert!(out.0[0].contains("at_ms: 0"), "{}", out.0[0]);
    }

    #[test]
    fn a_stream_that_does_not_decode_says_where() {
        let req = Request::new(0, 0, 1, 1);
        let mut chunk = Chunk::default();
        Encoder::default().encode(&mut chunk, &Event::Arrived { at: 0, req: &req });
        let arrived_words = chunk.words.len();
        chunk.words.push(0xEE);
        let mut out = Recorder::default();
        assert_eq!(Decoder::default().decode(&chunk, &mut out), Err(Garbled { at_word: arrived_words }));
        // A record cut short is caught too.
        chunk.words.truncate(arrived_words - 1);
        assert!(Decoder::default().decode(&chunk, &mut Recorder::default()).is_err());
    }

    #[test]
    fn a_request_id_that_does_not_decode_is_garbled_not_a_panic() {
        let mut req = Request::new(0, 0, 1, 1);
        req.id = Some(Sym::from("ab"));
        let mut chunk = Chunk::default();
        let mut encoder = Encoder::default();
        // A request without an id first, so the symbols are sent before the
        // record under test.
        encoder.encode(&mut chunk, &Event::Arrived { at: 0, req: &Request::new(1, 0, 1, 1) });
        let arrived_at = chunk.words.len();
        encoder.encode(&mut chunk, &Event::Arrived { at: 0, req: &req });
        let (len_at, bytes_at) = (chunk.words.len() - 2, chunk.words.len() - 1);
        let decodes = |c: &Chunk| Decoder::default().decode(c, &mut Recorder::default());
        assert_eq!(decodes(&chunk), Ok(()));
        // A length past the end of the chunk.
        let mut long = Chunk { words: chunk.words.clone() };
        long.words[len_at] = 1 << 40;
        assert_eq!(decodes(&long), Err(Garbled { at_word: arrived_at }));
        // Bytes that are not UTF-8.
        let mut bad = Chunk { words: chunk.words.clone() };
        bad.words[bytes_at] = 0xFFFE;
        assert_eq!(decodes(&bad), Err(Garbled { at_word: arrived_at }));
    }

    #[test]
    fn a_second_arrival_of_a_seq_replaces_the_first_and_frees_nothing_twice() {
        let (mut first, mut second, other) =
            (Request::new(5, 0, 1, 1), Request::new(5, 9, 2, 2), Request::new(6, 1, 3, 3));
        first.id = Some(Sym::from("first"));
        second.id = Some(Sym::from("second"));
        let mut chunk = Chunk::default();
        let mut encoder = Encoder::default();
        for e in [
            Event::Arrived { at: 0, req: &first },
            Event::Arrived { at: 9, req: &second },
            Event::Arrived { at: 10, req: &other },
            Event::AttemptCancelled {
                at: 11,
                req: &second,
                attempt: 1,
                endpoint: EndpointIdx(0),
                usage: Usage::default(),
            },
        ] {
            encoder.encode(&mut chunk, &e);
        }
        let mut decoder = Decoder::default();
        let mut out = Recorder::default();
        assert_eq!(decoder.decode(&chunk, &mut out), Ok(()));
        // Seq 5's later events name the second arrival; seq 6 got a place of its own.
        assert!(out.0[3].contains("\"second\""), "{}", out.0[3]);
        assert_eq!(decoder.requests.len(), 2);
        assert_eq!(decoder.req(6).input_tokens, 3);
    }
}
