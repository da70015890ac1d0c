//! What a policy sees when it routes: a view of every endpoint (static facts
//! plus live health) and of tenants' budgets, at one moment.

use crate::{EndpointId, EndpointIdx, Nanodollars, Price, Request};
use std::sync::Arc;

/// A circuit breaker's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BreakerState {
    /// Traffic flows.
    #[default]
    Closed,
    /// No traffic until the open period ends.
    Open,
    /// A limited number of probes may go through.
    HalfOpen,
}

impl BreakerState {
    /// SPEC's name (`half_open`).
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// How an endpoint counts tokens relative to the reference tokenizer.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenRatio {
    /// Default ratio.
    pub ratio: f64,
    /// Per-language overrides.
    pub lang: Vec<(Arc<str>, f64)>,
}

impl Default for TokenRatio {
    fn default() -> TokenRatio {
        TokenRatio { ratio: 1.0, lang: Vec::new() }
    }
}

impl TokenRatio {
    /// The ratio for this request's language.
    pub fn for_request(&self, req: &Request) -> f64 {
        if let Some(l) = &req.lang
            && let Some((_, r)) = self.lang.iter().find(|(k, _)| **k == **l)
        {
            return *r;
        }
        self.ratio
    }

    /// `reference` tokens as counted with `ratio`, rounded up (the epsilon keeps
    /// float noise such as 1000 × 1.1 = 1100.0000000000002 from adding a token).
    pub fn count(ratio: f64, reference: u32) -> u32 {
        if ratio == 1.0 { reference } else { (f64::from(reference) * ratio - 1e-9).ceil() as u32 }
    }
}

/// The static facts of an endpoint that routing and the executor need.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointFacts {
    /// Name.
    pub id: EndpointId,
    /// Context window in this endpoint's tokens.
    pub context_window: Option<u32>,
    /// Most output tokens per answer: a request asking for more is a
    /// `bad_request` here.
    pub max_output_tokens: Option<u32>,
    /// Most tokens (prompt plus `max_tokens`) one request may hold: the TPM
    /// limit, since a request larger than a minute's allowance can never pass.
    pub max_request_tokens: Option<u64>,
    /// Tokenizer skew.
    pub tokenizer: TokenRatio,
    /// Prices over time: `(from_ms, price)`, sorted, the first from 0.
    pub prices: Vec<(u64, Price)>,
    /// Expected answer quality (configured, or measured), for ranking.
    pub quality: f64,
    /// `prompt_cache`: provider prefix caching, if the endpoint has it.
    pub prompt_cache: Option<crate::PromptCacheSpec>,
    /// `price_schedule`: recurring daily price windows, if any.
    pub schedule: Option<Box<DailySchedule>>,
}

/// Milliseconds in a day.
pub const DAY_MS: u64 = 86_400_000;

/// Recurring daily price windows (`[[endpoints.price_schedule]]`), in UTC.
#[derive(Clone, Debug, PartialEq)]
pub struct DailySchedule {
    /// The time of day (ms since midnight UTC) at the run's time 0 (the
    /// trace's `start_at`).
    pub offset_ms: u64,
    /// The windows, in file order: the first that holds a time wins.
    pub windows: Vec<DailyWindow>,
}

/// One daily window: from `from_ms` (inclusive) to `to_ms` (exclusive),
/// milliseconds since midnight UTC; `to_ms < from_ms` crosses midnight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DailyWindow {
    /// Start, ms since midnight.
    pub from_ms: u64,
    /// End, ms since midnight.
    pub to_ms: u64,
    /// The price inside the window.
    pub price: Price,
}

impl DailyWindow {
    /// Whether the window holds `time_of_day` (ms since midnight).
    pub fn holds(&self, time_of_day: u64) -> bool {
        if self.from_ms <= self.to_ms {
            (self.from_ms..self.to_ms).contains(&time_of_day)
        } else {
            time_of_day >= self.from_ms || time_of_day < self.to_ms
        }
    }
}

impl DailySchedule {
    /// The window price in force at run time `t`, if a window holds it.
    pub fn price_at(&self, t: u64) -> Option<Price> {
        let tod = time_of_day_ms(self.offset_ms, t);
        self.windows.iter().find(|w| w.holds(tod)).map(|w| w.price)
    }
}

impl EndpointFacts {
    /// The price in force at `t`: a daily window's, else the base price
    /// (with its `price_changes`).
    pub fn price_at(&self, t: u64) -> Price {
        if let Some(p) = self.schedule.as_ref().and_then(|s| s.price_at(t)) {
            return p;
        }
        let i = self.prices.partition_point(|(at, _)| *at <= t);
        self.prices.get(i.saturating_sub(1)).map(|p| p.1).unwrap_or_default()
    }

    /// (input tokens, max_tokens) of `req` as this endpoint counts them.
    pub fn tokens(&self, req: &Request) -> (u32, u32) {
        let r = self.tokenizer.for_request(req);
        (TokenRatio::count(r, req.input_tokens), TokenRatio::count(r, req.max_tokens))
    }

    /// Whether this endpoint can take the request at all: the prompt plus
    /// `max_tokens` fit the window and the TPM limit, and `max_tokens` is
    /// within the output cap.
    pub fn fits(&self, req: &Request) -> bool {
        self.fits_tokens(self.tokens(req))
    }

    /// [`EndpointFacts::fits`] for tokens already counted by [`EndpointFacts::tokens`].
    pub fn fits_tokens(&self, (input, max): (u32, u32)) -> bool {
        let total = u64::from(input) + u64::from(max);
        self.context_window.is_none_or(|w| total <= u64::from(w))
            && self.max_output_tokens.is_none_or(|cap| max <= cap)
            && self.max_request_tokens.is_none_or(|tpm| total <= tpm)
    }

    /// The cost of the request if it produces `max_tokens` (an upper bound,
    /// what budgets reserve) at the price in force at `t`: its whole prompt
    /// at the dearer of the input and cache-write prices when the endpoint
    /// has a `prompt_cache` the prompt is long enough for (it may write all
    /// of it); plain input otherwise.
    pub fn max_cost(&self, req: &Request, t: u64) -> Nanodollars {
        self.max_cost_tokens(self.tokens(req), t)
    }

    /// [`EndpointFacts::max_cost`] for tokens already counted by [`EndpointFacts::tokens`].
    pub fn max_cost_tokens(&self, (input, max): (u32, u32), t: u64) -> Nanodollars {
        let r = self.price_at(t).rates(u64::from(input));
        let cacheable = self.prompt_cache.is_some_and(|c| input >= c.min_tokens);
        let per_input = if cacheable && r.cache_write.0 > r.input.0 { r.cache_write } else { r.input };
        Nanodollars::from_micro_rounded(per_input.micro_cost(u64::from(input)) + r.output.micro_cost(u64::from(max)))
    }

    /// The cost a policy can expect before the answer: the input plus
    /// `max_tokens` of output, nothing read from or written to a prompt
    /// cache ([`EndpointFacts::est_cost_cached`] counts those). Never the
    /// trace's `output_tokens`: that is what the answer will turn out to be,
    /// which no live gateway knows.
    pub fn est_cost(&self, req: &Request, t: u64) -> Nanodollars {
        self.est_cost_cached(req, t, crate::CacheUse::default())
    }

    /// [`EndpointFacts::est_cost`] with what the endpoint's prompt cache
    /// would do with the prompt: `cache.read` of the input tokens (as
    /// counted here) at the cached-input price, `cache.written` at the
    /// cache-write price.
    pub fn est_cost_cached(&self, req: &Request, t: u64, cache: crate::CacheUse) -> Nanodollars {
        let (input, max) = self.tokens(req);
        let read = cache.read.min(input);
        let written = cache.written.min(input - read);
        self.price_at(t).cost_with_writes(u64::from(input - read), u64::from(read), u64::from(written), u64::from(max))
    }
}

/// An endpoint's live health, as the executor measures it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Health {
    /// Breaker state.
    pub breaker: BreakerState,
    /// Median latency of recent successes (0 without data).
    pub p50_ms: u64,
    /// 95th percentile.
    pub p95_ms: u64,
    /// 99th percentile.
    pub p99_ms: u64,
    /// Share of recent attempts that failed.
    pub error_rate: f64,
    /// Attempts in flight.
    pub inflight: u32,
    /// No attempt before this (Retry-After, quota bench).
    pub rate_limited_until_ms: u64,
    /// Mean quality of recent answers (the configured expectation without data).
    pub quality: f64,
}

/// What a policy may ask about tenants' money.
pub trait Budgets {
    /// Spent (and reserved) so far.
    fn spent(&self, tenant: &str) -> Nanodollars;
    /// What is left, `None` when the tenant has no budget.
    fn budget_left(&self, tenant: &str) -> Option<Nanodollars>;
}

/// No budgets at all.
#[derive(Debug, Default)]
pub struct NoBudgets;

impl Budgets for NoBudgets {
    fn spent(&self, _: &str) -> Nanodollars {
        Nanodollars::ZERO
    }
    fn budget_left(&self, _: &str) -> Option<Nanodollars> {
        None
    }
}

/// The context of one `route` call.
pub struct RouteContext<'a> {
    /// Now, on the driver's clock.
    pub now_ms: u64,
    /// Static facts, indexed by [`EndpointIdx`].
    pub facts: &'a [EndpointFacts],
    /// Live health, indexed likewise.
    pub health: &'a [Health],
    /// Tenants' budgets.
    pub budgets: &'a dyn Budgets,
    /// Per endpoint, what its prompt cache would do with the request's prompt
    /// (input tokens as counted there: held, and to be written), as the
    /// gateway estimates it from what it sent; empty when no endpoint has
    /// `prompt_cache`.
    pub cached_tokens: &'a [crate::CacheUse],
    /// The UTC time of day (ms since midnight) at the driver's time 0: the
    /// trace's `start_at` in simulation, the proxy's start in live mode.
    pub start_of_day_ms: u64,
}

impl RouteContext<'_> {
    /// The UTC time of day now, ms since midnight.
    pub fn time_of_day_ms(&self) -> u64 {
        time_of_day_ms(self.start_of_day_ms, self.now_ms)
    }
}

/// The UTC time of day (ms since midnight) at time `t` of a run whose time
/// 0 fell at `start_of_day_ms`.
pub fn time_of_day_ms(start_of_day_ms: u64, t: u64) -> u64 {
    (start_of_day_ms % DAY_MS + t % DAY_MS) % DAY_MS
}

impl RouteContext<'_> {
    /// Whether an endpoint may take traffic now: breaker not open, not held
    /// off by a Retry-After or a quota bench.
    pub fn healthy(&self, e: EndpointIdx) -> bool {
        self.health
            .get(e.get())
            .is_some_and(|h| h.breaker != BreakerState::Open && h.rate_limited_until_ms <= self.now_ms)
    }

    /// Endpoints by name.
    pub fn find(&self, name: &str) -> Option<EndpointIdx> {
        self.facts.iter().position(|f| f.id.as_str() == name).map(|i| EndpointIdx(i as u16))
    }
}

/// What `accept` sees of an answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResponseInfo {
    /// Who answered.
    pub endpoint: EndpointIdx,
    /// Quality score.
    pub quality: f64,
    /// The attempt's latency.
    pub latency_ms: u64,
    /// The attempt's time to first token.
    pub ttft_ms: Option<u64>,
    /// Output tokens.
    pub output_tokens: u32,
    /// The attempt's cost.
    pub cost: Nanodollars,
}

/// Engine settings a policy may set (`settings()`), as plain data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicySettings {
    /// Circuit breakers.
    pub breaker: BreakerSettings,
    /// Retries on one endpoint.
    pub retry: RetrySettings,
    /// The chain used when `route` fails; `None` = fail the request (`policy`).
    pub default_chain: Option<Vec<EndpointIdx>>,
}

/// Circuit-breaker settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerSettings {
    /// Open when the failure share over the window reaches this...
    pub failure_rate: f64,
    /// ...and the window holds at least this many attempts.
    pub min_requests: u32,
    /// Sliding window length.
    pub window_ms: u64,
    /// Also open after this many failures in a row (0 = off).
    pub consecutive_failures: u32,
    /// How long the breaker stays open.
    pub open_ms: u64,
    /// Probes let through when half-open; that many successes close it.
    pub half_open_probes: u32,
}

impl Default for BreakerSettings {
    /// SPEC's example: 15% over 60 s with at least 20 attempts, open 30 s,
    /// one probe; plus 5 consecutive failures.
    fn default() -> BreakerSettings {
        BreakerSettings {
            failure_rate: 0.15,
            min_requests: 20,
            window_ms: 60_000,
            consecutive_failures: 5,
            open_ms: 30_000,
            half_open_probes: 1,
        }
    }
}

/// Retry backoff settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrySettings {
    /// First retry's cap.
    pub base_ms: u64,
    /// Largest cap.
    pub max_ms: u64,
    /// Jitter kind.
    pub jitter: JitterKind,
}

impl Default for RetrySettings {
    fn default() -> RetrySettings {
        RetrySettings { base_ms: 200, max_ms: 5_000, jitter: JitterKind::Full }
    }
}

/// How backoff is randomised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JitterKind {
    /// None.
    None,
    /// Uniform in `[0, cap]`.
    Full,
    /// `cap / 2` plus uniform in `[0, cap / 2]`.
    Equal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PricePerMtok;

    fn facts() -> EndpointFacts {
        let p = |x| Price {
            input: PricePerMtok::from_usd(x),
            output: PricePerMtok::from_usd(2.0 * x),
            cached_input: PricePerMtok::from_usd(x),
            cache_write: PricePerMtok::from_usd(x),
            long_context: None,
        };
        EndpointFacts {
            id: EndpointId::new("a/x"),
            context_window: Some(10_000),
            max_output_tokens: Some(500),
            max_request_tokens: None,
            tokenizer: TokenRatio { ratio: 1.1, lang: vec![(Arc::from("zh"), 1.6)] },
            prices: vec![(0, p(2.0)), (1000, p(1.0))],
            quality: 0.9,
            prompt_cache: None,
            schedule: None,
        }
    }

    #[test]
    fn language_overrides_the_default_ratio_without_float_noise() {
        let f = facts();
        let mut r = Request::new(0, 0, 1000, 100);
        r.max_tokens = 1000;
        assert_eq!(f.tokens(&r), (1100, 1100), "1000 × 1.1 is 1100, max_tokens too");
        assert!(!f.fits(&r), "1,100 max_tokens is over the output cap of 500: not a candidate");
        r.lang = Some("zh".into());
        assert_eq!(f.tokens(&r).0, 1600);
    }

    #[test]
    fn the_price_at_a_time_is_the_last_change_before_it() {
        let f = facts();
        assert_eq!(f.price_at(999).input, PricePerMtok::from_usd(2.0));
        assert_eq!(f.price_at(1000).input, PricePerMtok::from_usd(1.0));
        let r = Request::new(0, 0, 1000, 100);
        // 1100 input at $2/Mtok + 110 max_tokens (100 × 1.1) at $4/Mtok.
        assert_eq!(f.max_cost(&r, 0), Nanodollars(1100 * 2000 + 110 * 4000));
        assert_eq!(f.est_cost(&r, 1000), Nanodollars(1100 * 1000 + 110 * 2000));
        // The estimate never reads the trace's answer length.
        let mut longer = r.clone();
        longer.output_tokens = 90;
        assert_eq!(f.est_cost(&longer, 1000), f.est_cost(&r, 1000));
    }

    #[test]
    fn the_estimate_prices_cache_reads_and_writes() {
        let mut f = facts();
        // An endpoint without `prompt_cache` writes nothing: plain input is
        // the most, whatever its cache-write price.
        let r = Request::new(0, 0, 1000, 100);
        f.prices[1].1.cache_write = PricePerMtok::from_usd(1.25);
        assert_eq!(f.max_cost(&r, 1000), Nanodollars(1100 * 1000 + 110 * 2000));
        f.prompt_cache = Some(crate::PromptCacheSpec { min_tokens: 1000, ..Default::default() });
        // $1 input, $2 output, $0.10 cached, $1.25 written per Mtok from t = 1,000.
        f.prices[1].1.cached_input = PricePerMtok::from_usd(0.1);
        f.prices[1].1.cache_write = PricePerMtok::from_usd(1.25);
        let r = Request::new(0, 0, 1000, 100);
        let plain = f.est_cost(&r, 1000);
        assert_eq!(f.est_cost_cached(&r, 1000, crate::CacheUse::default()), plain);
        // Of the 1,100 input tokens, 600 held and 500 to be written.
        let cache = crate::CacheUse { read: 600, written: 500 };
        assert_eq!(f.est_cost_cached(&r, 1000, cache), Nanodollars(600 * 100 + 500 * 1250 + 110 * 2000));
        // Never more read or written than the input.
        let over = crate::CacheUse { read: 1000, written: 900 };
        assert_eq!(f.est_cost_cached(&r, 1000, over), Nanodollars(1000 * 100 + 100 * 1250 + 110 * 2000));
        // What budgets reserve is the most it can cost: every input token
        // written at the dearer cache-write price.
        assert_eq!(f.max_cost(&r, 1000), Nanodollars(1100 * 1250 + 110 * 2000));
        for read in [0, 300, 1100] {
            let all_written = crate::CacheUse { read, written: 1100 - read };
            assert!(f.est_cost_cached(&r, 1000, all_written) <= f.max_cost(&r, 1000));
        }
        // A prompt under `min_tokens` is never written: plain input.
        let short = Request::new(0, 0, 800, 100);
        assert_eq!(f.max_cost(&short, 1000), Nanodollars(880 * 1000 + 110 * 2000));
    }

    #[test]
    fn fits_counts_input_and_max_tokens_in_this_endpoints_tokens() {
        let f = facts();
        let mut r = Request::new(0, 0, 8_600, 100);
        r.max_tokens = 400; // 9,460 + 440 = 9,900 fits 10,000
        assert!(f.fits(&r));
        r.lang = Some("zh".into()); // 13,760 + 500 does not
        assert!(!f.fits(&r));
    }

    #[test]
    fn open_breakers_and_rate_limited_endpoints_are_not_healthy() {
        let facts = [facts(), facts(), facts()];
        let health = [
            Health::default(),
            Health { breaker: BreakerState::Open, ..Health::default() },
            Health { rate_limited_until_ms: 501, ..Health::default() },
        ];
        let ctx = RouteContext {
            now_ms: 500,
            facts: &facts,
            health: &health,
            budgets: &NoBudgets,
            cached_tokens: &[],
            start_of_day_ms: 0,
        };
        assert!(ctx.healthy(EndpointIdx(0)));
        assert!(!ctx.healthy(EndpointIdx(1)));
        assert!(!ctx.healthy(EndpointIdx(2)));
    }

    #[test]
    fn a_daily_window_holds_its_times_across_midnight() {
        let h = |x: u64| x * 3_600_000;
        let price = Price::default();
        let night = DailyWindow { from_ms: h(23), to_ms: h(1), price };
        assert!(night.holds(h(23)) && night.holds(h(0)) && night.holds(h(1) - 1));
        assert!(!night.holds(h(1)) && !night.holds(h(22)) && !night.holds(h(12)));
        let day = DailyWindow { from_ms: h(9), to_ms: h(17), price };
        assert!(day.holds(h(9)) && !day.holds(h(17)) && !day.holds(h(8)));
        // Placed by the run's start: time 0 is 22:00, so 1 h in is 23:00.
        let s = DailySchedule { offset_ms: h(22), windows: vec![night] };
        assert!(s.price_at(0).is_none() && s.price_at(h(1)).is_some() && s.price_at(h(3)).is_none());
        assert!(s.price_at(h(25)).is_some(), "the next day too");
    }
}
