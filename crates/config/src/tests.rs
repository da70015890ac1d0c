//! Scenario tests: one known-good scenario using every key of SPEC, then
//! one-key edits of it with their whole error message (STYLE §6).

use crate::*;
use std::path::{Path, PathBuf};
use windtunnel_core::{
    BreakerSettings, DEFAULT_ATTEMPT_TIMEOUT_MS, Dist, EndpointIdx, JitterKind, Nanodollars, Plan, Planner, Price,
    PricePerMtok, RetrySettings,
};
use windtunnel_trace::{ArrivalPattern, TraceFormat};

/// Every key of SPEC's scenario file. `PRICES` becomes the LiteLLM table's path.
const GOOD: &str = r#"name = "quick"
seed = 42
policy = { chain = ["openai/gpt-4o", "openai/gpt-4.1-mini"], attempt_timeout_ms = 3000, max_attempts = 3 }
price_table = "PRICES"

[trace]
path = "traces/sample.jsonl"
format = "azure"
limit = "1h"
speed = 2.0
skip_bad_lines = true

[sla.interactive]
latency_ms = 3000
ttft_ms = 800
deadline_ms = 15000
[sla.batch]
latency_ms = 60000

[budgets]
acme = { usd = 50.0 }

[[endpoints]]
name = "openai/gpt-4o"
price = { input_per_mtok = 2.50, output_per_mtok = 10.00, cached_input_per_mtok = 1.25 }
context_window = 128000
max_output_tokens = 16384
tokenizer = { ratio = 1.1, lang = { zh = 1.3 } }
latency = { ttft_ms = { dist = "lognormal", median = 450, p99 = 2500 }, tokens_per_s = { dist = "normal", mean = 90, sd = 15 } }
rate_limit = { rpm = 500, tpm = 800000 }
concurrency = 64
errors = { server_error_rate = 0.002 }
quality = { mean = 0.85, sd = 0.05 }

[[endpoints.faults]]
kind = "outage"
start = "10m"
end = "15m"
status = 503

[[endpoints.faults]]
kind = "rate_limit_burst"
every = "20m"
lasting = "90s"
probability = 0.8
retry_after = "2s"

[[endpoints.price_changes]]
at = "40m"
input_per_mtok = 1.25
output_per_mtok = 5.00

[[endpoints.price_changes]]
at = "20m"
cached_input_per_mtok = 0.5

[[endpoints]]
name = "openai/gpt-4.1-mini"
latency = { ttft_ms = 300 }

[[endpoints.faults]]
kind = "hang"
start = "1h"

[[endpoints.faults]]
kind = "quota"
start = "2h"
end = "3h"

[[endpoints.faults]]
kind = "latency_spike"
every = "30m"
lasting = "1m"

[[endpoints.faults]]
kind = "error_rate"
start = "0s"
probability = 0.1
status = 502

[[endpoints.faults]]
kind = "malformed"
every = "1h"
lasting = "10s"

[[endpoints.faults]]
kind = "stream_cut"
start = "6h20m"
after_tokens = 10

[[endpoints]]
name = "azure/gpt-4o"
price = { catalog = "gpt-4o" }
max_output_tokens = 4096
latency = { ttft_ms = { dist = "fixed", value = 250 }, tokens_per_s = { dist = "uniform", min = 50, max = 150 } }

[assert]
max_cost_usd = 12.0
max_error_rate = 0.001
max_sla_violation_rate = 0.01
max_p99_ms = 5000
max_p95_ms = 3000
min_quality = 0.8
invariants = ["conservation", "budget"]
"#;

/// A subset of the LiteLLM price table, kept in the repo (see tests/data/README.md).
fn prices_path() -> String {
    format!("{}/../../tests/data/prices/model_prices_subset.json", env!("CARGO_MANIFEST_DIR"))
}

fn good() -> String {
    GOOD.replace("PRICES", &prices_path())
}

/// `good()` with the first `from` replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    let g = good();
    assert!(g.contains(from), "the good scenario has no `{from}`");
    g.replacen(from, to, 1)
}

/// A folder holding the files the good scenario refers to.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("traces")).unwrap();
        std::fs::write(
            dir.path().join("traces/sample.jsonl"),
            "{\"at_ms\": 0, \"input_tokens\": 812, \"output_tokens\": 240}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("route.rhai"), "fn route(req, ctx) { [] }\n").unwrap();
        Fixture { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("quick.toml")
    }

    fn parse_with(&self, text: &str, sets: &[&str]) -> Result<Scenario, String> {
        let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
        // Messages carry the path as given; strip the temp folder so they read `quick.toml:L:C: ...`.
        let prefix = format!("{}/", self.dir.path().display());
        parse_scenario(text, &self.file(), &overrides).map_err(|e| e.to_string().replace(&prefix, ""))
    }

    fn parse(&self, text: &str) -> Result<Scenario, String> {
        self.parse_with(text, &[])
    }
}

/// The whole message for `text`, which must be refused.
fn error(text: &str) -> String {
    error_with(text, &[])
}

fn error_with(text: &str, sets: &[&str]) -> String {
    match Fixture::new().parse_with(text, sets) {
        Ok(_) => panic!("the scenario was accepted"),
        Err(e) => e,
    }
}

/// gpt-4o's price: $2.50 in, $10 out, $1.25 cached per Mtok; writes at input.
fn gpt_4o() -> Price {
    Price { input: usd(2.5), output: usd(10.0), cached_input: usd(1.25), cache_write: usd(2.5), long_context: None }
}

fn usd(v: f64) -> PricePerMtok {
    PricePerMtok::from_usd(v)
}

// === the good scenario ===

#[test]
fn good_scenario_parses_to_spec_values() {
    let fx = Fixture::new();
    let s = fx.parse(&good()).unwrap();
    assert_eq!(s.name, "quick");
    assert_eq!(s.seed, 42);
    assert_eq!(s.file, fx.file());
    assert_eq!(s.policy, PolicySpec::Chain(vec![EndpointIdx(0), EndpointIdx(1)]));
    assert_eq!(
        s.chain_limits,
        ChainLimits { attempt_timeout_ms: 3000, max_attempts: Some(3), ..ChainLimits::default() }
    );
    let mut plan = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]);
    plan.attempt_timeout_ms = 3000;
    plan.max_attempts = Some(3);
    assert_eq!(s.chain_plan(), Some(plan));
    assert_eq!(
        s.trace,
        TraceSpec {
            source: TraceSource::File { path: fx.dir.path().join("traces/sample.jsonl"), format: TraceFormat::Azure },
            limit_ms: Some(3_600_000),
            speed: 2.0,
            skip_bad_lines: true,
            start_ms_of_day: 0,
        }
    );
    assert_eq!(s.sla["interactive"], SlaSpec { latency_ms: Some(3000), ttft_ms: Some(800), deadline_ms: Some(15000) });
    assert_eq!(s.sla["batch"], SlaSpec { latency_ms: Some(60000), ttft_ms: None, deadline_ms: None });
    assert_eq!(s.budgets["acme"], Nanodollars(50_000_000_000));
    assert_eq!(
        s.assert,
        AssertSpec {
            max_cost_usd: Some(Nanodollars(12_000_000_000)),
            max_error_rate: Some(0.001),
            max_sla_violation_rate: Some(0.01),
            max_p99_ms: Some(5000),
            max_p95_ms: Some(3000),
            min_quality: Some(0.8),
            max_policy_errors: 0,
            invariants: InvariantSelection::Only(vec!["conservation".into(), "budget".into()]),
        }
    );
    assert!(s.policy_params.is_empty());
    assert_eq!(s.endpoint_idx("azure/gpt-4o"), Some(EndpointIdx(2)));
}

#[test]
fn good_scenario_endpoint_with_every_key() {
    let s = Fixture::new().parse(&good()).unwrap();
    let e = &s.endpoints[0];
    assert_eq!(e.id.as_str(), "openai/gpt-4o");
    assert_eq!(e.price, gpt_4o());
    assert_eq!((e.context_window, e.max_output_tokens), (Some(128_000), Some(16_384)));
    assert_eq!(e.tokenizer.ratio, 1.1);
    assert_eq!(e.tokenizer.lang.get("zh"), Some(&1.3));
    assert_eq!(e.latency.ttft_ms, Dist::lognormal(450.0, 2500.0).unwrap());
    assert_eq!(e.latency.tokens_per_s, Dist::normal(90.0, 15.0).unwrap());
    assert_eq!(e.rate_limit, RateLimitSpec { rpm: Some(500), tpm: Some(800_000) });
    assert_eq!(e.concurrency, Some(64));
    assert_eq!(e.errors.server_error_rate, 0.002);
    assert_eq!(e.quality, QualitySpec { mean: 0.85, sd: 0.05 });
    assert_eq!(
        e.faults,
        vec![
            FaultSpec {
                kind: FaultKind::Outage { status: 503 },
                window: FaultWindowSpec::Fixed { start_ms: 600_000, end_ms: Some(900_000) },
                probability: 1.0,
            },
            FaultSpec {
                kind: FaultKind::RateLimitBurst { retry_after_ms: 2000 },
                window: FaultWindowSpec::Stochastic { every_ms: 1_200_000, lasting_ms: 90_000 },
                probability: 0.8,
            },
        ]
    );
}

#[test]
fn price_changes_are_sorted_and_carry_the_previous_price() {
    let s = Fixture::new().parse(&good()).unwrap();
    assert_eq!(
        s.endpoints[0].price_changes,
        vec![
            // At 20m only the cached price changes.
            PriceChange {
                at_ms: 1_200_000,
                price: Price {
                    input: usd(2.5),
                    output: usd(10.0),
                    cached_input: usd(0.5),
                    cache_write: usd(2.5),
                    long_context: None
                },
            },
            // At 40m input and output change; cached stays at 0.5.
            PriceChange {
                at_ms: 2_400_000,
                price: Price {
                    input: usd(1.25),
                    output: usd(5.0),
                    cached_input: usd(0.5),
                    cache_write: usd(1.25),
                    long_context: None
                },
            },
        ]
    );
}

#[test]
fn omitted_keys_take_their_defaults() {
    let s = Fixture::new().parse(&good()).unwrap();
    let e = &s.endpoints[1];
    assert_eq!(e.price, Price::default());
    assert_eq!((e.context_window, e.max_output_tokens, e.concurrency), (None, None, None));
    assert_eq!(e.tokenizer, TokenizerSpec::default());
    assert_eq!(e.latency.ttft_ms, Dist::Fixed(300.0));
    assert_eq!(e.latency.tokens_per_s, Dist::normal(80.0, 10.0).unwrap());
    assert_eq!(e.rate_limit, RateLimitSpec::default());
    assert_eq!(e.errors.server_error_rate, 0.0);
    assert_eq!(e.quality, QualitySpec { mean: 0.9, sd: 0.0 });
    assert!(e.price_changes.is_empty());

    let minimal = "policy = \"route.rhai\"\n[trace]\npath = \"traces/sample.jsonl\"\n[[endpoints]]\nname = \"a/b\"\n";
    let fx = Fixture::new();
    let s = fx.parse(minimal).unwrap();
    assert_eq!(s.name, "quick", "the file stem");
    assert_eq!(s.seed, 0);
    assert_eq!(s.policy, PolicySpec::Script(fx.dir.path().join("route.rhai")));
    assert_eq!(s.chain_limits, ChainLimits::default());
    assert_eq!(s.chain_plan(), None);
    assert_eq!(s.trace.limit_ms, None);
    assert_eq!(s.trace.speed, 1.0);
    assert!(!s.trace.skip_bad_lines);
    assert!(matches!(s.trace.source, TraceSource::File { format: TraceFormat::Jsonl, .. }));
    assert_eq!(s.endpoints[0].latency.ttft_ms, Dist::lognormal(500.0, 2000.0).unwrap());
    assert!(s.sla.is_empty() && s.budgets.is_empty());
    assert_eq!(s.assert, AssertSpec::default());
    assert_eq!(s.assert.invariants, InvariantSelection::All);
}

#[test]
fn every_fault_kind_and_window_form() {
    let s = Fixture::new().parse(&good()).unwrap();
    let f: Vec<(FaultKind, FaultWindowSpec, f64)> =
        s.endpoints[1].faults.iter().map(|f| (f.kind, f.window, f.probability)).collect();
    let fixed = |start_ms, end_ms| FaultWindowSpec::Fixed { start_ms, end_ms };
    let every = |every_ms, lasting_ms| FaultWindowSpec::Stochastic { every_ms, lasting_ms };
    assert_eq!(
        f,
        vec![
            (FaultKind::Hang, fixed(3_600_000, None), 1.0),
            (FaultKind::Quota { status: 429 }, fixed(7_200_000, Some(10_800_000)), 1.0),
            (FaultKind::LatencySpike { multiplier: 5.0 }, every(1_800_000, 60_000), 1.0),
            (FaultKind::ErrorRate { status: 502 }, fixed(0, None), 0.1),
            (FaultKind::Malformed, every(3_600_000, 10_000), 1.0),
            (FaultKind::StreamCut { after_tokens: Some(10) }, fixed(22_800_000, None), 1.0),
        ]
    );
    let defaults =
        edit("kind = \"outage\"\nstart = \"10m\"\nend = \"15m\"\nstatus = 503", "kind = \"outage\"\nstart = \"10m\"");
    let s = Fixture::new().parse(&defaults).unwrap();
    assert_eq!(s.endpoints[0].faults[0].kind, FaultKind::Outage { status: 503 });
    let burst = edit("retry_after = \"2s\"\n", "");
    let s = Fixture::new().parse(&burst).unwrap();
    assert_eq!(s.endpoints[0].faults[1].kind, FaultKind::RateLimitBurst { retry_after_ms: 1000 });
}

#[test]
fn catalog_prices_come_from_the_litellm_table() {
    let s = Fixture::new().parse(&good()).unwrap();
    let e = &s.endpoints[2];
    // gpt-4o: $2.5 in, $10 out, $1.25 cached per Mtok; 128,000 in, 16,384 out.
    assert_eq!(e.price, gpt_4o());
    assert_eq!(e.context_window, Some(128_000));
    assert_eq!(e.max_output_tokens, Some(4096), "the endpoint's own value wins over the catalog's");
    assert_eq!(e.latency.ttft_ms, Dist::Fixed(250.0));
    assert_eq!(e.latency.tokens_per_s, Dist::uniform(50.0, 150.0).unwrap());

    // An explicit price beside `catalog` would silently win over the table: refused.
    let explicit = edit("price = { catalog = \"gpt-4o\" }", "price = { catalog = \"gpt-4o\", output_per_mtok = 12 }");
    let e = Fixture::new().parse(&explicit).unwrap_err().to_string();
    assert!(e.contains("`endpoints[2].price.output_per_mtok` does not apply to a price from the table"), "{e}");
}

#[test]
fn a_fixed_chain_takes_every_plan_field_and_breaker_and_retry() {
    let g = good();
    let line = g.lines().find(|l| l.starts_with("policy = {")).unwrap().to_string();
    let text = g.replacen(
        &line,
        "policy = { chain = [\"openai/gpt-4o\", \"openai/gpt-4.1-mini\"], attempt_timeout_ms = 3000, \
         ttft_timeout_ms = 800, stall_timeout_ms = 2000, max_attempts = 4, hedge_after_ms = 1500, deadline_ms = 20000, \
         max_wait_ms = 10000, breaker = { failure_rate = 0.3, min_requests = 10, window_s = 30, open_s = 5, \
         half_open_probes = 2, consecutive_failures = 0 }, retry = { base_ms = 100, max_ms = 1000, jitter = \"equal\" } }",
        1,
    );
    let s = Fixture::new().parse(&text).unwrap();
    let l = s.chain_limits;
    assert_eq!(
        (l.ttft_timeout_ms, l.stall_timeout_ms, l.max_attempts, l.hedge_after_ms, l.deadline_ms, l.max_wait_ms),
        (Some(800), Some(2000), Some(4), Some(1500), Some(20000), Some(10000))
    );
    assert_eq!(
        l.breaker,
        BreakerSettings {
            failure_rate: 0.3,
            min_requests: 10,
            window_ms: 30_000,
            open_ms: 5_000,
            half_open_probes: 2,
            consecutive_failures: 0
        }
    );
    assert_eq!(l.retry, RetrySettings { base_ms: 100, max_ms: 1000, jitter: JitterKind::Equal });
    let PolicySpec::Chain(chain) = &s.policy else { panic!("a chain") };
    assert_eq!(l.plan(chain).max_wait_ms, Some(10_000));
    assert_eq!(l.planner(chain).settings().breaker.open_ms, 5_000);

    let bad = g.replacen(&line, "policy = { chain = [\"openai/gpt-4o\"], retry = { jitter = \"fuzzy\" } }", 1);
    let e = Fixture::new().parse(&bad).unwrap_err().to_string();
    assert!(e.contains("policy.retry.jitter") && e.contains("fuzzy"), "{e}");
    let bad = g.replacen(&line, "policy = { chain = [\"openai/gpt-4o\"], breaker = { open_sec = 5 } }", 1);
    let e = Fixture::new().parse(&bad).unwrap_err().to_string();
    assert!(e.contains("unknown key `open_sec`") && e.contains("did you mean `open_s`?"), "{e}");
}

#[test]
fn long_context_prices_come_from_the_table_or_the_scenario() {
    let flash = edit("price = { catalog = \"gpt-4o\" }", "price = { catalog = \"gemini/gemini-1.5-flash\" }");
    let s = Fixture::new().parse(&flash).unwrap();
    let lc = s.endpoints[2].price.long_context.expect("gemini-1.5-flash has a 128k tier");
    assert_eq!((lc.above_tokens, lc.input, lc.output), (128_000, usd(0.15), usd(0.6)));
    // 200k tokens in, 1k out: what LiteLLM's cost function charges.
    assert_eq!(s.endpoints[2].price.cost(200_000, 0, 1_000), Nanodollars(30_600_000));

    let own = edit(
        "price = { catalog = \"gpt-4o\" }",
        "price = { input_per_mtok = 1.25, output_per_mtok = 5.0, long_context = { above_tokens = 200000, \
         input_per_mtok = 2.5, output_per_mtok = 10.0 } }",
    );
    let s = Fixture::new().parse(&own).unwrap();
    let lc = s.endpoints[2].price.long_context.unwrap();
    assert_eq!((lc.above_tokens, lc.input, lc.output, lc.cached_input), (200_000, usd(2.5), usd(10.0), usd(2.5)));
    let bad = edit(
        "price = { catalog = \"gpt-4o\" }",
        "price = { input_per_mtok = 1, output_per_mtok = 5, long_context = { above_tokens = 0, input_per_mtok = 2, \
         output_per_mtok = 10 } }",
    );
    let e = Fixture::new().parse(&bad).unwrap_err().to_string();
    assert!(e.contains("endpoints[2].price.long_context.above_tokens") && e.contains("1 or more"), "{e}");
}

#[test]
fn synthetic_trace_parses() {
    let text = edit(
        "path = \"traces/sample.jsonl\"\nformat = \"azure\"\n",
        r#"[trace.synthetic]
rate_per_s = 20
duration = "1h"
pattern = "bursty"
input_tokens = { dist = "exponential", mean = 800 }
output_tokens = 200
classes = { interactive = 0.7, batch = 0.3 }
tenants = { acme = 1 }
langs = { en = 0.9, zh = 0.1 }
stream = 0.5
"#,
    );
    // The synthetic table now sits between `[trace]` and its other keys; move them up.
    let text = text.replace(
        "[trace]\n[trace.synthetic]",
        "[trace]\nlimit = \"1h\"\nspeed = 2.0\nskip_bad_lines = true\n[trace.synthetic]",
    );
    let text = text.replacen("stream = 0.5\nlimit = \"1h\"\nspeed = 2.0\nskip_bad_lines = true\n", "stream = 0.5\n", 1);
    let s = Fixture::new().parse(&text).unwrap();
    let TraceSource::Synthetic(g) = &s.trace.source else { panic!("not synthetic: {:?}", s.trace.source) };
    assert_eq!(g.rate_per_s, 20.0);
    assert_eq!(g.duration_ms, 3_600_000);
    assert_eq!(g.pattern, ArrivalPattern::Bursty);
    assert_eq!(g.input_tokens, Dist::Exponential { mean: 800.0 });
    assert_eq!(g.output_tokens, Dist::Fixed(200.0));
    assert_eq!(g.classes, vec![("batch".to_string(), 0.3), ("interactive".to_string(), 0.7)]);
    assert_eq!(g.tenants, vec![("acme".to_string(), 1.0)]);
    assert_eq!(g.langs, vec![("en".to_string(), 0.9), ("zh".to_string(), 0.1)]);
    assert_eq!(g.stream_share, 0.5);
    assert_eq!((s.trace.limit_ms, s.trace.speed), (Some(3_600_000), 2.0));
}

// === whole-message errors ===

#[test]
fn unknown_key_suggests_the_nearest() {
    assert_eq!(
        error(&edit("concurrency = 64", "latncy = 64")),
        "quick.toml:31:1: unknown key `latncy` in endpoints[0], did you mean `latency`?"
    );
}

#[test]
fn unknown_key_lists_keys_when_none_is_near() {
    assert_eq!(
        error(&edit("concurrency = 64", "zzz = 64")),
        "quick.toml:31:1: unknown key `zzz` in endpoints[0], expected one of `name`, `price`, `context_window`, \
         `max_output_tokens`, `tokenizer`, `latency`, `rate_limit`, `concurrency`, `errors`, `quality`, `faults`, \
         `price_changes`, `upstream`, `prompt_cache`, `price_schedule`"
    );
    assert_eq!(
        error(&edit("seed = 42", "sed = 42")),
        "quick.toml:2:1: unknown key `sed` in the scenario, did you mean `seed`?"
    );
    assert_eq!(
        error(&edit("median = 450", "medain = 450")),
        "quick.toml:29:45: unknown key `medain` in endpoints[0].latency.ttft_ms, did you mean `median`?"
    );
}

#[test]
fn wrong_type_names_the_key() {
    assert_eq!(
        error(&edit("concurrency = 64", "concurrency = \"many\"")),
        "quick.toml:31:15: invalid type for `endpoints[0].concurrency`: found string \"many\", expected an integer"
    );
    assert_eq!(
        error(&edit("concurrency = 64", "concurrency = -1")),
        "quick.toml:31:15: invalid value for `endpoints[0].concurrency`: found -1, expected an integer from 0 to \
         4294967295"
    );
    assert_eq!(
        error(&edit("start = \"10m\"", "start = 10")),
        "quick.toml:37:9: invalid type for `endpoints[0].faults[0].start`: found integer `10`, expected a duration \
         with a unit such as \"90s\" or \"6h20m\""
    );
}

#[test]
fn negative_duration() {
    assert_eq!(
        error(&edit("start = \"10m\"", "start = \"-5m\"")),
        "quick.toml:37:9: invalid duration for `endpoints[0].faults[0].start`: negative duration `-5m`, expected zero \
         or more"
    );
    assert_eq!(
        error(&edit("limit = \"1h\"", "limit = \"1 hour\"")),
        "quick.toml:9:9: invalid duration for `trace.limit`: found `1 hour`, expected a number with a unit (ms, s, m, \
         h) such as `90s` or `6h20m`"
    );
}

#[test]
fn unknown_endpoint_in_chain() {
    assert_eq!(
        error(&edit("\"openai/gpt-4.1-mini\"]", "\"openai/gpt-4.1-mni\"]")),
        "quick.toml:3:38: unknown endpoint `openai/gpt-4.1-mni` in policy.chain, did you mean `openai/gpt-4.1-mini`?"
    );
}

#[test]
fn missing_files() {
    assert_eq!(
        error(&edit("traces/sample.jsonl", "traces/nope.jsonl")),
        "quick.toml:7:8: cannot read trace.path `traces/nope.jsonl`: no such file"
    );
    let policy = edit(
        "policy = { chain = [\"openai/gpt-4o\", \"openai/gpt-4.1-mini\"], attempt_timeout_ms = 3000, max_attempts = 3 }",
        "policy = \"policies/nope.rhai\"",
    );
    assert_eq!(error(&policy), "quick.toml:3:10: cannot read policy `policies/nope.rhai`: no such file");
    let e = load_scenario(Path::new("nope.toml"), &[]).unwrap_err();
    assert_eq!(e.to_string(), "cannot read scenario `nope.toml`: No such file or directory (os error 2)");
    assert_eq!(e.at, Location::Nowhere);
}

#[test]
fn toml_syntax_keeps_line_and_column() {
    assert_eq!(error(&edit("seed = 42", "seed = = 42")), "quick.toml:2:8: invalid toml: extra `=`, expected nothing");
}

#[test]
fn key_of_another_fault_kind() {
    assert_eq!(
        error(&edit("status = 503", "retry_after = \"1s\"")),
        "quick.toml:39:15: `endpoints[0].faults[0].retry_after` does not apply to fault kind `outage`"
    );
}

#[test]
fn fault_window_both_or_neither() {
    assert_eq!(
        error(&edit("end = \"15m\"", "every = \"15m\"")),
        "quick.toml:38:9: fault endpoints[0].faults[0] has both a fixed window (`start`) and a stochastic one \
         (`every`), expected one of them"
    );
    assert_eq!(
        error(&edit("start = \"10m\"\nend = \"15m\"\n", "")),
        "quick.toml:36:8: fault endpoints[0].faults[0] has no window, expected `start` (and optionally `end`) or \
         `every` and `lasting`"
    );
    assert_eq!(
        error(&edit("lasting = \"90s\"\n", "")),
        "quick.toml:42:8: missing key `lasting` in endpoints[0].faults[1]"
    );
    assert_eq!(
        error(&edit("end = \"15m\"", "end = \"5m\"")),
        "quick.toml:38:7: invalid value for `endpoints[0].faults[0].end`: found `5m`, expected a time after \
         `endpoints[0].faults[0].start` (`10m`)"
    );
}

#[test]
fn duplicate_endpoint_name() {
    assert_eq!(
        error(&edit("name = \"azure/gpt-4o\"", "name = \"openai/gpt-4o\"")),
        "quick.toml:92:8: duplicate endpoint name `openai/gpt-4o` in endpoints[2], already used by endpoints[0]"
    );
}

#[test]
fn probability_out_of_range() {
    assert_eq!(
        error(&edit("probability = 0.8", "probability = 1.5")),
        "quick.toml:45:15: invalid value for `endpoints[0].faults[1].probability`: found 1.5, expected a probability \
         from 0 to 1"
    );
}

#[test]
fn bad_dist_name() {
    assert_eq!(
        error(&edit("dist = \"lognormal\"", "dist = \"lognorm\"")),
        "quick.toml:29:32: invalid value for `endpoints[0].latency.ttft_ms.dist`: found `lognorm`, did you mean \
         `lognormal`?"
    );
    assert_eq!(
        error(&edit("dist = \"lognormal\"", "dist = \"zipf\"")),
        "quick.toml:29:32: invalid value for `endpoints[0].latency.ttft_ms.dist`: found `zipf`, expected one of \
         `lognormal`, `normal`, `uniform`, `fixed`, `exponential`"
    );
}

#[test]
fn dist_parameters_are_checked() {
    assert_eq!(
        error(&edit("p99 = 2500", "p99 = 100")),
        "quick.toml:29:23: invalid distribution for `endpoints[0].latency.ttft_ms`: p99 must be at least the median \
         (450), found 100"
    );
    assert_eq!(
        error(&edit("p99 = 2500", "sd = 100")),
        "quick.toml:29:64: `endpoints[0].latency.ttft_ms.sd` does not apply to dist `lognormal`"
    );
    assert_eq!(
        error(&edit("mean = 90, sd = 15", "mean = 90")),
        "quick.toml:29:88: missing key `sd` in endpoints[0].latency.tokens_per_s"
    );
}

#[test]
fn catalog_errors() {
    assert_eq!(
        error(&edit("catalog = \"gpt-4o\"", "catalog = \"gpt-4oo\"")),
        format!("quick.toml:93:21: unknown model `gpt-4oo` in price table `{}`, did you mean `gpt-4o`?", prices_path())
    );
    let no_table = edit(&format!("price_table = \"{}\"\n", prices_path()), "");
    assert_eq!(
        Fixture::new().parse(&no_table).unwrap_err(),
        "quick.toml:92:21: `endpoints[2].price.catalog` needs a `price_table` at the top of the scenario"
    );
}

#[test]
fn other_range_checks() {
    assert_eq!(
        error(&edit("rpm = 500", "rpm = 0")),
        "quick.toml:30:22: invalid value for `endpoints[0].rate_limit.rpm`: found 0, expected an integer greater than 0"
    );
    assert_eq!(
        error(&edit("ratio = 1.1", "ratio = 0")),
        "quick.toml:28:23: invalid value for `endpoints[0].tokenizer.ratio`: found 0, expected a number greater than 0"
    );
    assert_eq!(
        error(&edit("invariants = [\"conservation\", \"budget\"]", "invariants = [\"conservation\", \"budgte\"]")),
        "quick.toml:104:31: invalid value for `assert.invariants[1]`: found `budgte`, did you mean `budget`?"
    );
    assert_eq!(
        error(&edit("format = \"azure\"", "format = \"csv\"")),
        "quick.toml:8:10: invalid value for `trace.format`: found `csv`, expected one of `jsonl`, `azure`, \
         `burstgpt`, `mooncake`"
    );
}

#[test]
fn trace_needs_exactly_one_source() {
    let both = edit(
        "skip_bad_lines = true\n",
        "skip_bad_lines = true\n[trace.synthetic]\nrate_per_s = 1\nduration = \"1m\"\n",
    );
    assert_eq!(
        error(&both),
        "quick.toml:12:1: `[trace]` needs exactly one of `path` or `[trace.synthetic]`, found both"
    );
    let weights = both
        .replace("path = \"traces/sample.jsonl\"\nformat = \"azure\"\n", "")
        .replace("duration = \"1m\"\n", "duration = \"1m\"\nclasses = { a = 0, b = 0 }\n");
    assert_eq!(
        error(&weights),
        "quick.toml:13:11: invalid value for `trace.synthetic.classes`: found weights summing to 0, expected a \
         positive sum"
    );
}

// === overrides ===

#[test]
fn override_changes_a_price() {
    let s = Fixture::new().parse_with(&good(), &["endpoints.openai/gpt-4o.price.output_per_mtok=15"]).unwrap();
    assert_eq!(s.endpoints[0].price.output, usd(15.0));
    assert_eq!(s.endpoints[0].price.input, usd(2.5));
}

#[test]
fn override_addresses_names_with_dots_and_indexes_arrays() {
    let s = Fixture::new()
        .parse_with(
            &good(),
            &["endpoints.openai/gpt-4.1-mini.concurrency=8", "endpoints.openai/gpt-4o.faults.0.start=11m"],
        )
        .unwrap();
    assert_eq!(s.endpoints[1].concurrency, Some(8));
    assert_eq!(s.endpoints[0].faults[0].window, FaultWindowSpec::Fixed { start_ms: 660_000, end_ms: Some(900_000) });
}

#[test]
fn override_creates_a_missing_key() {
    let s = Fixture::new().parse_with(&good(), &["endpoints.openai/gpt-4.1-mini.rate_limit.rpm=5"]).unwrap();
    assert_eq!(s.endpoints[1].rate_limit, RateLimitSpec { rpm: Some(5), tpm: None });
    let s = Fixture::new().parse_with(&good(), &["policy={ chain = [\"azure/gpt-4o\"] }"]).unwrap();
    assert_eq!(s.policy, PolicySpec::Chain(vec![EndpointIdx(2)]));
    assert_eq!(
        s.chain_limits,
        ChainLimits { attempt_timeout_ms: DEFAULT_ATTEMPT_TIMEOUT_MS, max_attempts: None, ..ChainLimits::default() }
    );
}

#[test]
fn policy_overrides_become_policy_params() {
    let s = Fixture::new().parse_with(&good(), &["policy.x=3", "policy.max_p95_ms=2500"]).unwrap();
    assert_eq!(s.policy_params, vec![("x".to_string(), "3".to_string()), ("max_p95_ms".into(), "2500".into())]);
    assert_eq!(s.seed, 42);
}

#[test]
fn override_of_an_unknown_endpoint() {
    assert_eq!(
        error_with(&good(), &["endpoints.openai/gpt4o.price.output_per_mtok=15"]),
        "--set endpoints.openai/gpt4o.price.output_per_mtok=15: unknown endpoint `openai/gpt4o`, did you mean \
         `openai/gpt-4o`?"
    );
}

#[test]
fn override_with_a_bad_value_names_the_argument() {
    assert_eq!(
        error_with(&good(), &["seed=7", "endpoints.openai/gpt-4o.concurrency=abc"]),
        "--set endpoints.openai/gpt-4o.concurrency=abc: invalid type for `endpoints[0].concurrency`: found string \
         \"abc\", expected an integer"
    );
    assert_eq!(
        error_with(&good(), &["endpoints.openai/gpt-4o.faults.1.probability=1.5"]),
        "--set endpoints.openai/gpt-4o.faults.1.probability=1.5: invalid value for \
         `endpoints[0].faults[1].probability`: found 1.5, expected a probability from 0 to 1"
    );
    assert_eq!(
        error_with(&good(), &["endpoints.openai/gpt-4o.latncy=1"]),
        "--set endpoints.openai/gpt-4o.latncy=1: unknown key `latncy` in endpoints[0], did you mean `latency`?"
    );
}

#[test]
fn a_file_error_wins_over_overrides_that_do_not_fix_it() {
    let text = edit("concurrency = 64", "concurrency = \"many\"");
    assert_eq!(
        error_with(&text, &["seed=1"]),
        "quick.toml:31:15: invalid type for `endpoints[0].concurrency`: found string \"many\", expected an integer"
    );
    let s = Fixture::new().parse_with(&text, &["endpoints.openai/gpt-4o.concurrency=8"]).unwrap();
    assert_eq!(s.endpoints[0].concurrency, Some(8));
}

/// Fuzzing findings: each bad value is refused at its line and column with
/// what was expected, in the user's words (no internal type names).
#[test]
fn fuzzed_values_are_refused_in_the_users_words() {
    let cases = [
        (
            "concurrency = 64",
            "concurrency = 64\nconcurrency = 65",
            "quick.toml:32:1: invalid toml: duplicate key `concurrency`",
        ),
        (
            "price = { input_per_mtok = 2.50, output_per_mtok = 10.00, cached_input_per_mtok = 1.25 }",
            "price = [2.5, 10.0]",
            "invalid type for `endpoints[0].price`: found an array, expected a table",
        ),
        (
            "price = { input_per_mtok = 2.50,",
            "price = { input_per_mtok = 1e308,",
            "invalid value for `endpoints[0].price.input_per_mtok`: found 1e308, expected a price from 0 to 1000000 USD per million tokens",
        ),
        (
            "concurrency = 64",
            "concurrency = 4294967295",
            "invalid value for `endpoints[0].concurrency`: found 4294967295, expected an integer from 1 to 1000000",
        ),
        (
            "tokens_per_s = { dist = \"normal\", mean = 90, sd = 15 }",
            "tokens_per_s = { dist = \"normal\", mean = -5, sd = 15 }",
            "invalid value for `endpoints[0].latency.tokens_per_s`: found -5, expected a decode speed above 0",
        ),
        ("start = \"10m\"", "start = \" 10m\"", "invalid duration for `endpoints[0].faults[0].start`: found ` 10m`"),
        ("start = \"10m\"", "start = \"5m5m\"", "invalid duration for `endpoints[0].faults[0].start`: found `5m5m`"),
    ];
    for (from, to, want) in cases {
        let Err(e) = Fixture::new().parse(&edit(from, to)) else { panic!("{to}: accepted") };
        let e = e.to_string();
        assert!(e.contains(want), "{to}: {e}");
        assert!(!e.contains("Raw") && !e.contains("struct "), "internal names leak: {e}");
    }
}

#[test]
fn a_synthetic_trace_that_would_never_end_is_refused() {
    let text = edit(
        "[trace]\npath = \"traces/sample.jsonl\"\nformat = \"azure\"\n",
        "[trace.synthetic]\nrate_per_s = 1e12\nduration = \"1h\"\n[trace]\n",
    );
    let e = Fixture::new().parse(&text).unwrap_err().to_string();
    assert!(e.contains("`trace.synthetic.rate_per_s`") && e.contains("at most 1000000"), "{e}");
    let text = edit(
        "[trace]\npath = \"traces/sample.jsonl\"\nformat = \"azure\"\n",
        "[trace.synthetic]\nrate_per_s = 1000\nduration = \"300d\"\n[trace]\n",
    );
    let e = Fixture::new().parse(&text).unwrap_err().to_string();
    assert!(e.contains("too many requests"), "{e}");
}

#[test]
fn live_mode_keys_parse_and_a_proxy_scenario_needs_no_trace() {
    let text = r#"
name = "live"
policy = { chain = ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku"] }

[[endpoints]]
name = "openai/gpt-4o-mini"
upstream = { kind = "openai", base_url = "http://127.0.0.1:9000/v1/", api_key_env = "OPENAI_API_KEY" }

[[endpoints]]
name = "anthropic/claude-3-5-haiku"
upstream = { kind = "anthropic", base_url = "https://api.anthropic.com/v1", model = "claude-3-5-haiku-20241022", accepts_prefill = true }

[proxy]
listen = "127.0.0.1:8089"
"#;
    let s = parse_scenario(text, Path::new("live.toml"), &[]).unwrap();
    assert_eq!(s.trace.source, TraceSource::None);
    let u = s.endpoints[0].upstream.as_ref().unwrap();
    assert_eq!(
        (u.kind, u.base_url.as_str(), u.model.as_str()),
        (UpstreamKind::OpenAi, "http://127.0.0.1:9000/v1", "gpt-4o-mini")
    );
    assert_eq!(u.api_key_env.as_deref(), Some("OPENAI_API_KEY"));
    let a = s.endpoints[1].upstream.as_ref().unwrap();
    assert!(a.accepts_prefill && a.kind == UpstreamKind::Anthropic && a.model == "claude-3-5-haiku-20241022");
    assert_eq!(s.proxy.listen, "127.0.0.1:8089");
    assert_eq!(s.proxy.admin_token_env, "WINDTUNNEL_ADMIN_TOKEN");
    let bad = text.replace("http://127.0.0.1:9000/v1/", "127.0.0.1:9000");
    let e = parse_scenario(&bad, Path::new("live.toml"), &[]).unwrap_err().to_string();
    assert!(e.contains("endpoints[0].upstream.base_url") && e.contains("an http:// or https:// URL"), "{e}");
    let bad = text.replace("kind = \"openai\"", "kind = \"openia\"");
    let e = parse_scenario(&bad, Path::new("live.toml"), &[]).unwrap_err().to_string();
    assert!(e.contains("did you mean `openai`?"), "{e}");
}

#[test]
fn every_fault_kind_name_parses_back_to_its_kind() {
    for name in FaultKind::NAMES {
        let text = edit("kind = \"outage\"", &format!("kind = \"{name}\""));
        let text = text.replacen("status = 503\n", "", 1);
        let s = Fixture::new().parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.endpoints[0].faults[0].kind.as_str(), name);
    }
}

#[test]
fn price_schedules_and_start_at_are_read_and_bad_times_are_named() {
    let text = |start: &str, from: &str| {
        format!(
            "policy = {{ chain = [\"a/x\"] }}\n[trace]\npath = \"t.jsonl\"\nstart_at = \"{start}\"\n[[endpoints]]\nname = \"a/x\"\n\
             [[endpoints.price_schedule]]\nfrom = \"{from}\"\nto = \"00:30\"\noutput_per_mtok = 1.0\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.jsonl"), "").unwrap();
    let file = dir.path().join("s.toml");
    let s = parse_scenario(&text("2023-11-16T09:30:00Z", "16:30"), &file, &[]).unwrap();
    assert_eq!(s.trace.start_ms_of_day, (9 * 60 + 30) * 60_000);
    let sched = s.endpoints[0].price_schedule.as_ref().unwrap();
    assert_eq!(
        (sched.offset_ms, sched.windows[0].from_ms, sched.windows[0].to_ms),
        (34_200_000, 59_400_000, 1_800_000)
    );
    let err = parse_scenario(&text("09:30", "16:30"), &file, &[]).unwrap_err().to_string();
    assert!(
        err.contains("s.toml:4:") && err.contains("trace.start_at") && err.contains("2023-11-16T09:00:00Z"),
        "{err}"
    );
    let err = parse_scenario(&text("2023-11-16T09:30:00Z", "25:00"), &file, &[]).unwrap_err().to_string();
    assert!(err.contains("s.toml:8:") && err.contains("endpoints[0].price_schedule[0].from"), "{err}");
}

#[test]
fn prompt_cache_takes_its_fields_and_refuses_a_long_ttl_and_other_blocks_live() {
    let text = |ttl: &str| {
        edit(
            "concurrency = 64\n",
            &format!("concurrency = 64\nprompt_cache = {{ ttl = \"{ttl}\", min_tokens = 2048, block_tokens = 256 }}\n"),
        )
    };
    let s = Fixture::new().parse(&text("1h")).unwrap();
    assert_eq!(
        s.endpoints[0].prompt_cache,
        Some(PromptCacheSpec { ttl_ms: 3_600_000, min_tokens: 2048, block_tokens: 256 })
    );
    assert_eq!(s.endpoints[1].prompt_cache, None);
    assert!(Fixture::new().parse(&text("168h")).is_ok(), "7 days is the ceiling, not over it");
    // Live, blocks are 512 tokens: another size would misread `cached_tokens`.
    let live = text("1h").replace(
        "concurrency = 64\n",
        "concurrency = 64\nupstream = { kind = \"openai\", base_url = \"http://127.0.0.1:9/v1\", model = \"m\" }\n",
    );
    assert_eq!(
        error(&live),
        "quick.toml:33:64: invalid value for `endpoints[0].prompt_cache.block_tokens`: found 256, \
         expected 512 on an endpoint with an `upstream` (live requests carry blocks of that size)"
    );
    assert!(Fixture::new().parse(&live.replace("block_tokens = 256", "block_tokens = 512")).is_ok());
    assert_eq!(
        error(&text("169h")),
        "quick.toml:32:24: invalid value for `endpoints[0].prompt_cache.ttl`: found `169h`, \
         expected a duration of at most 7 days"
    );
}

#[test]
fn synthetic_repeats_parse_and_refuse_bad_values_and_conversations() {
    let synthetic = |extra: &str| {
        edit(
            "[trace]\npath = \"traces/sample.jsonl\"\nformat = \"azure\"\nlimit = \"1h\"\nspeed = 2.0\nskip_bad_lines = true\n",
            &format!("[trace.synthetic]\nrate_per_s = 20\nduration = \"1h\"\n{extra}\n"),
        )
    };
    let s = Fixture::new().parse(&synthetic("repeats = { share = 0.3, prompts = 5000 }")).unwrap();
    let TraceSource::Synthetic(g) = &s.trace.source else { panic!("not synthetic") };
    assert_eq!(g.repeats, Some(windtunnel_trace::RepeatSpec { share: 0.3, prompts: 5000 }));
    let s = Fixture::new().parse(&synthetic("repeats = { share = 0.1 }")).unwrap();
    let TraceSource::Synthetic(g) = &s.trace.source else { panic!("not synthetic") };
    assert_eq!(g.repeats.map(|r| r.prompts), Some(1000), "1,000 popular prompts by default");

    assert_eq!(
        error(&synthetic("repeats = { share = 1.5 }")),
        "quick.toml:9:21: invalid value for `trace.synthetic.repeats.share`: found 1.5, expected a share from 0 to 1"
    );
    assert_eq!(
        error(&synthetic("repeats = { share = 0.3, prompts = 0 }")),
        "quick.toml:9:36: invalid value for `trace.synthetic.repeats.prompts`: found 0, \
         expected an integer from 1 to 1000000"
    );
    assert_eq!(
        error(&synthetic("repeats = { prompts = 10 }")),
        "quick.toml:9:11: missing key `share` in trace.synthetic.repeats"
    );
    assert_eq!(
        error(&synthetic("conversations = { turns = 4 }\nrepeats = { share = 0.3 }")),
        "quick.toml:10:11: invalid `trace.synthetic.repeats`: cannot be combined with `conversations` \
         (a repeated prompt is not a conversation's turn)"
    );
}

#[test]
fn cache_writes_have_their_own_price_from_the_table_or_the_file() {
    let scenario = format!(
        r#"
price_table = "{}"
policy = {{ chain = ["anthropic/haiku", "anthropic/sonnet", "openai/mini"] }}
[trace]
path = "traces/sample.jsonl"
[[endpoints]]
name = "anthropic/haiku"
price = {{ catalog = "claude-3-5-haiku-20241022" }}
[[endpoints]]
name = "anthropic/sonnet"
price = {{ input_per_mtok = 3.0, output_per_mtok = 15.0, cached_input_per_mtok = 0.3, cache_write_per_mtok = 3.75, long_context = {{ above_tokens = 200000, input_per_mtok = 6.0, output_per_mtok = 22.5, cache_write_per_mtok = 7.5 }} }}
[[endpoints.price_changes]]
at = "1h"
input_per_mtok = 2.0
[[endpoints]]
name = "openai/mini"
price = {{ input_per_mtok = 0.15, output_per_mtok = 0.6 }}
"#,
        prices_path()
    );
    let s = Fixture::new().parse(&scenario).unwrap();
    // claude-3-5-haiku: $0.80 in, $1.00 cache write, $0.08 cache read.
    let haiku = &s.endpoints[0].price;
    assert_eq!((haiku.input, haiku.cache_write, haiku.cached_input), (usd(0.8), usd(1.0), usd(0.08)));
    let sonnet = &s.endpoints[1];
    assert_eq!(sonnet.price.cache_write, usd(3.75));
    let lc = sonnet.price.long_context.unwrap();
    assert_eq!((lc.cache_write, lc.cached_input), (usd(7.5), usd(6.0)), "an unset tier price follows the tier's input");
    // A change that leaves the cache-write price out keeps it.
    assert_eq!(sonnet.price_changes[0].price.cache_write, usd(3.75));
    // Unset, writes cost what input does.
    assert_eq!(s.endpoints[2].price.cache_write, usd(0.15));

    let negative = scenario.replace("cache_write_per_mtok = 3.75", "cache_write_per_mtok = -1");
    let err = Fixture::new().parse(&negative).unwrap_err();
    assert!(err.contains("endpoints[1].price.cache_write_per_mtok"), "{err}");
    let beside_catalog = scenario.replace(
        r#"catalog = "claude-3-5-haiku-20241022""#,
        r#"catalog = "claude-3-5-haiku-20241022", cache_write_per_mtok = 1.0"#,
    );
    let err = Fixture::new().parse(&beside_catalog).unwrap_err();
    assert!(err.contains("endpoints[0].price.cache_write_per_mtok"), "{err}");
}
