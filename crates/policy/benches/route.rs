//! `route` on each shipped policy with 8 endpoints (target: median ≤ 5 µs).
//!
//! `cargo bench -p windtunnel-policy`

#![expect(clippy::expect_used, missing_docs, reason = "benchmark set-up")]

use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use windtunnel_core::{
    BreakerState, Budgets, EndpointFacts, EndpointId, Health, Nanodollars, Planner, Price, PricePerMtok, Request,
    RouteContext, TokenRatio,
};
use windtunnel_policy::Policy;

const ENDPOINTS: [(&str, f64, f64, u32); 8] = [
    ("openai/gpt-4o", 2.5, 10.0, 128_000),
    ("openai/gpt-4o-mini", 0.15, 0.6, 128_000),
    ("anthropic/claude-3-5-haiku", 0.8, 4.0, 200_000),
    ("deepseek/deepseek-chat", 0.27, 1.1, 64_000),
    ("gemini/gemini-2.0-flash", 0.1, 0.4, 1_048_576),
    ("mistral/mistral-small-latest", 0.1, 0.3, 32_000),
    ("qwen/qwen-plus", 0.4, 1.2, 131_072),
    ("local/llama-3.1-8b", 0.0, 0.0, 8_192),
];

struct Tenants(BTreeMap<String, (Nanodollars, Nanodollars)>);

impl Budgets for Tenants {
    fn spent(&self, t: &str) -> Nanodollars {
        self.0.get(t).map_or(Nanodollars::ZERO, |b| b.0)
    }
    fn budget_left(&self, t: &str) -> Option<Nanodollars> {
        self.0.get(t).map(|b| b.1 - b.0)
    }
}

fn facts() -> Vec<EndpointFacts> {
    ENDPOINTS
        .iter()
        .enumerate()
        .map(|(i, &(name, pin, pout, window))| EndpointFacts {
            id: EndpointId::new(name),
            context_window: Some(window),
            max_output_tokens: Some(8192),
            max_request_tokens: None,
            tokenizer: TokenRatio::default(),
            prices: vec![(
                0,
                Price {
                    input: PricePerMtok::from_usd(pin),
                    output: PricePerMtok::from_usd(pout),
                    cached_input: PricePerMtok::from_usd(pin / 2.0),
                    cache_write: PricePerMtok::from_usd(pin),
                    long_context: None,
                },
            )],
            quality: 0.75 + 0.025 * i as f64,
            prompt_cache: None,
            schedule: None,
        })
        .collect()
}

fn health() -> Vec<Health> {
    (0..8u64)
        .map(|i| Health {
            breaker: if i == 5 { BreakerState::Open } else { BreakerState::Closed },
            p50_ms: 400 + 100 * i,
            p95_ms: 1200 + 300 * i,
            p99_ms: 2500 + 500 * i,
            error_rate: 0.01 * i as f64,
            inflight: i as u32,
            rate_limited_until_ms: if i == 3 { 2_000 } else { 0 },
            quality: 0.8,
        })
        .collect()
}

fn route(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let facts = facts();
    let health = health();
    let tenants =
        Tenants(BTreeMap::from([("acme".to_string(), (Nanodollars(1_000_000_000), Nanodollars(5_000_000_000)))]));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("policies/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai") && !p.to_string_lossy().ends_with("_test.rhai"))
        .collect();
    files.sort();
    let mut req = Request::new(7, 1_000, 1_200, 300);
    req.tenant = "acme".into();
    req.class = "interactive".into();
    req.max_tokens = 1024;
    let mut g = c.benchmark_group("route_8_endpoints");
    for file in files {
        let name = file.file_stem().expect("stem").to_string_lossy().into_owned();
        let mut policy = Policy::load(&file, &facts, &[]).expect("policy loads");
        g.bench_function(&name, |b| {
            b.iter(|| {
                let ctx = RouteContext {
                    now_ms: 1_000,
                    facts: &facts,
                    health: &health,
                    budgets: &tenants,
                    cached_tokens: &[],
                    start_of_day_ms: 0,
                };
                black_box(policy.route(black_box(&req), &ctx).expect("route"))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, route);
criterion_main!(benches);
