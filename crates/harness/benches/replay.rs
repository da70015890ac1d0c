//! Hot-path benchmarks: one simulated attempt, and a whole replay through the
//! executor and the report aggregator.
//!
//! `cargo bench -p windtunnel-harness`

#![expect(clippy::expect_used, clippy::unreachable, missing_docs, reason = "benchmark set-up")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use windtunnel_config::parse_scenario;
use windtunnel_core::{AttemptStart, EndpointIdx, NullSink, PerKind, Request, Streams};
use windtunnel_harness::{RunOptions, replay, run};
use windtunnel_invariants::{InvariantChecker, World};
use windtunnel_report::Aggregator;
use windtunnel_sim::{Adapter, SimEndpoint};

fn facts(s: &windtunnel_config::Scenario) -> Vec<windtunnel_core::EndpointFacts> {
    s.endpoints.iter().map(|e| e.facts()).collect()
}

fn scenario(requests_per_hour: u64) -> windtunnel_config::Scenario {
    let text = format!(
        r#"
name = "bench"
seed = 1
policy = {{ chain = ["a/primary", "b/fallback"] }}

[trace.synthetic]
rate_per_s = {rate}
duration = "1h"
input_tokens = {{ dist = "lognormal", median = 800, p99 = 8000 }}
output_tokens = {{ dist = "lognormal", median = 200, p99 = 1500 }}
classes = {{ interactive = 0.7, batch = 0.3 }}

[sla.interactive]
latency_ms = 10000

[[endpoints]]
name = "a/primary"
price = {{ input_per_mtok = 0.15, output_per_mtok = 0.60 }}
latency = {{ ttft_ms = {{ dist = "lognormal", median = 350, p99 = 2000 }}, tokens_per_s = {{ dist = "normal", mean = 85, sd = 15 }} }}
errors = {{ server_error_rate = 0.002 }}

[[endpoints.faults]]
kind = "rate_limit_burst"
every = "10m"
lasting = "1m"
probability = 0.5

[[endpoints]]
name = "b/fallback"
price = {{ input_per_mtok = 0.80, output_per_mtok = 4.00 }}
"#,
        rate = requests_per_hour as f64 / 3600.0
    );
    parse_scenario(&text, Path::new("bench.toml"), &[]).expect("valid bench scenario")
}

fn sim_attempt(c: &mut Criterion) {
    let s = scenario(1000);
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &s.endpoints[0], &Streams::from_seed(1));
    let mut seq = 0u64;
    c.bench_function("sim_endpoint_start", |b| {
        b.iter(|| {
            seq += 1;
            let req = Request::new(seq, seq, 800, 200);
            let a = AttemptStart { req: &req, endpoint: EndpointIdx(0), attempt: 1, endpoint_attempt: 1 };
            black_box(ep.start(seq, &a))
        })
    });
}

fn replay_100k(c: &mut Criterion) {
    let s = scenario(100_000);
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(100_000));
    g.sample_size(10);
    g.bench_function("100k_requests_two_endpoint_chain", |b| {
        b.iter(|| black_box(run(&s, RunOptions::default()).expect("run")))
    });
    g.finish();
}

/// What building the report costs: the README's 1 M-request replay
/// (`scenarios/bench/bench-1m.toml`) bare (the event log goes nowhere), with
/// only the aggregator, with only the invariant checker, with a sink that only
/// counts (the price of the events themselves), and whole (`run`:
/// both, plus the report built and assertions evaluated). Issue 4's target:
/// whole ≤ 1.1 × bare.
fn report_overhead(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/bench/bench-1m.toml");
    let s = windtunnel_config::load_scenario(&path, &[]).expect("scenarios/bench/bench-1m.toml loads");
    let chain = || {
        let windtunnel_config::PolicySpec::Chain(chain) = &s.policy else {
            unreachable!("the bench scenario is a chain")
        };
        s.chain_limits.planner(chain)
    };
    let mut g = c.benchmark_group("report_overhead_1m");
    g.throughput(Throughput::Elements(999_388));
    g.sample_size(10);
    g.bench_function("bare_replay", |b| {
        b.iter(|| black_box(replay(&s, chain(), &mut NullSink, None).expect("replay")))
    });
    // Right after the bare replay: the machine's speed drifts over the
    // minute the group takes, so the pair that answers issue 4 runs adjacent.
    g.bench_function("run_with_report", |b| b.iter(|| black_box(run(&s, RunOptions::default()).expect("run"))));
    g.bench_function("replay_with_aggregator", |b| {
        b.iter(|| {
            // Wrapped as `run` wraps it (its per-kind work is inlined).
            let mut agg = PerKind(Aggregator::new(&s));
            black_box(replay(&s, chain(), &mut agg, None).expect("replay"));
            black_box(agg)
        })
    });
    g.bench_function("replay_with_invariants", |b| {
        b.iter(|| {
            let mut checker = PerKind(InvariantChecker::new(World::from_facts(&facts(&s))));
            black_box(replay(&s, chain(), &mut checker, None).expect("replay"));
            black_box(checker.0.finish())
        })
    });
    g.bench_function("replay_with_counting_sink", |b| {
        b.iter(|| {
            let mut sink = Counting::default();
            black_box(replay(&s, chain(), &mut sink, None).expect("replay"));
            black_box(sink.0)
        })
    });
    g.finish();
}

/// A prompt cache alone, on the first 300 k turns of
/// `scenarios/bench/bench-1m-prompt-cache.toml` (13.4 blocks a prompt on
/// average): each turn's prompt sent to one endpoint's cache, at its arrival
/// time, as the simulated endpoint sends it. What caching adds to a replay
/// is mostly this.
fn prompt_cache(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/bench/bench-1m-prompt-cache.toml");
    let s = windtunnel_config::load_scenario(&path, &[]).expect("scenarios/bench/bench-1m-prompt-cache.toml loads");
    let windtunnel_config::TraceSource::Synthetic(spec) = &s.trace.source else {
        unreachable!("the bench scenario's trace is synthetic")
    };
    let turns: Vec<Request> =
        windtunnel_trace::Generator::new(spec, &Streams::from_seed(s.seed)).take(300_000).collect();
    let cache_spec = s.endpoints[0].prompt_cache.expect("the bench scenario caches prompts");
    let mut g = c.benchmark_group("prompt_cache");
    g.throughput(Throughput::Elements(turns.len() as u64));
    g.sample_size(10);
    g.bench_function("send_300k_conversation_turns", |b| {
        b.iter(|| {
            let mut cache = windtunnel_core::PromptCache::new(cache_spec);
            let held: u64 = turns.iter().map(|r| u64::from(cache.send(r.at_ms, r, r.input_tokens, 1.0).read)).sum();
            black_box(held)
        })
    });
    g.finish();
}

/// A sink that only counts events by kind: the replay with it against the
/// bare replay prices building and handing over the events themselves.
#[derive(Default)]
struct Counting([u64; 8]);
impl Counting {
    #[inline(never)]
    fn count(&mut self, k: usize, seq: u64) {
        self.0[k] += 1 + (seq & 1);
    }
}
impl windtunnel_core::EventSink for Counting {
    #[inline(always)]
    fn record(&mut self, event: &windtunnel_core::Event<'_>) {
        use windtunnel_core::Event as E;
        match event {
            E::Arrived { req, .. } => self.count(0, req.seq),
            E::AttemptStarted { req, .. } => self.count(1, req.seq),
            E::AttemptFinished { req, .. } => self.count(2, req.seq),
            E::Finished { req, .. } => self.count(3, req.seq),
            _ => self.count(4, 0),
        }
    }
}

criterion_group!(benches, sim_attempt, replay_100k, report_overhead, prompt_cache);
criterion_main!(benches);
