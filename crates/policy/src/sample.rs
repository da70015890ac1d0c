//! The built-in sample world of `policy lint` (and of `context(#{})` in
//! policy tests): four well-known endpoints at list prices, healthy, with
//! plausible latencies, and one ordinary request.
//!
//! Prices are USD per million tokens, input/output, as the providers list them
//! (late 2024); windows and output caps likewise. They only need to be
//! plausible: lint checks that `route` runs and returns a valid plan.

use windtunnel_core::{BreakerState, EndpointFacts, EndpointId, Health, Price, PricePerMtok, Request, Sym, TokenRatio};

/// One sample endpoint: name, input and output price, window, output cap,
/// tokenizer ratio, quality, p50/p95/p99 and error rate.
struct SampleEndpoint {
    name: &'static str,
    price_in: f64,
    price_out: f64,
    window: u32,
    max_out: u32,
    ratio: f64,
    quality: f64,
    p: [u64; 3],
    error_rate: f64,
}

const ENDPOINTS: [SampleEndpoint; 4] = [
    SampleEndpoint {
        name: "openai/gpt-4o",
        price_in: 2.50,
        price_out: 10.00,
        window: 128_000,
        max_out: 16_384,
        ratio: 1.0,
        quality: 0.90,
        p: [600, 1_800, 3_000],
        error_rate: 0.01,
    },
    SampleEndpoint {
        name: "openai/gpt-4o-mini",
        price_in: 0.15,
        price_out: 0.60,
        window: 128_000,
        max_out: 16_384,
        ratio: 1.0,
        quality: 0.80,
        p: [400, 1_200, 2_000],
        error_rate: 0.005,
    },
    SampleEndpoint {
        name: "anthropic/claude-3-5-haiku",
        price_in: 0.80,
        price_out: 4.00,
        window: 200_000,
        max_out: 8_192,
        // Anthropic's tokenizer counts about 10% more tokens than OpenAI's.
        ratio: 1.1,
        quality: 0.82,
        p: [500, 1_500, 2_500],
        error_rate: 0.02,
    },
    SampleEndpoint {
        name: "deepseek/deepseek-chat",
        price_in: 0.27,
        price_out: 1.10,
        window: 64_000,
        max_out: 8_192,
        ratio: 1.0,
        quality: 0.85,
        p: [900, 2_500, 4_000],
        error_rate: 0.03,
    },
];

/// Facts of an endpoint the script names that is not among the samples.
pub(crate) fn generic_facts(name: &str) -> EndpointFacts {
    facts(name, 1.0, 4.0, Some(128_000), None, 1.0, 0.8)
}

/// Facts with one price from time 0.
pub(crate) fn facts(
    name: &str,
    price_in: f64,
    price_out: f64,
    window: Option<u32>,
    max_out: Option<u32>,
    ratio: f64,
    quality: f64,
) -> EndpointFacts {
    let input = PricePerMtok::from_usd(price_in);
    EndpointFacts {
        id: EndpointId::new(name),
        context_window: window,
        max_output_tokens: max_out,
        max_request_tokens: None,
        tokenizer: TokenRatio { ratio, lang: Vec::new() },
        prices: vec![(
            0,
            Price {
                input,
                output: PricePerMtok::from_usd(price_out),
                cached_input: input,
                cache_write: input,
                long_context: None,
            },
        )],
        quality,
        prompt_cache: None,
        schedule: None,
    }
}

/// A sample endpoint's facts and health by name; any other name gets
/// generic facts ($1/$4 per Mtok, a 128k window) and no latency data.
pub(crate) fn endpoint(name: &str) -> (EndpointFacts, Health) {
    match ENDPOINTS.iter().find(|e| e.name == name) {
        Some(e) => (
            facts(e.name, e.price_in, e.price_out, Some(e.window), Some(e.max_out), e.ratio, e.quality),
            Health {
                breaker: BreakerState::Closed,
                p50_ms: e.p[0],
                p95_ms: e.p[1],
                p99_ms: e.p[2],
                error_rate: e.error_rate,
                inflight: 0,
                rate_limited_until_ms: 0,
                quality: e.quality,
            },
        ),
        None => (generic_facts(name), Health { quality: 0.8, ..Health::default() }),
    }
}

/// The sample endpoints plus, after them, one generic endpoint per name in
/// `extra` that is not a sample (names the script mentions).
pub(crate) fn world(extra: &[String]) -> (Vec<EndpointFacts>, Vec<Health>) {
    let names = ENDPOINTS.iter().map(|e| e.name.to_string());
    let mut all: Vec<String> = names.collect();
    for name in extra {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    all.iter().map(|n| endpoint(n)).unzip()
}

/// Lint's request: `lint-1`, tenant `default`, class `interactive`, 800 tokens
/// in, 200 out, `max_tokens` 1024, English.
pub(crate) fn request() -> Request {
    let mut r = Request::new(0, 0, 800, 200);
    r.id = Some(Sym::from("lint-1"));
    r.class = Sym::from("interactive");
    r.max_tokens = 1024;
    r.lang = Some(Sym::from("en"));
    r
}
