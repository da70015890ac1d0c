//! Replay tests: determinism by seed and common random numbers across policies.

use crate::{Fold, RunOptions, run, run_with};
use std::path::Path;
use windtunnel_config::{Scenario, parse_scenario};
use windtunnel_core::{EndpointIdx, Event, EventSink, FixedChain, Plan};

const SCENARIO: &str = r#"
name = "crn"
seed = 3
policy = { chain = ["a/x", "b/y"] }

[trace.synthetic]
rate_per_s = 5
duration = "30m"
classes = { interactive = 0.5, batch = 0.5 }

[sla.interactive]
latency_ms = 8000
deadline_ms = 20000

[[endpoints]]
name = "a/x"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
rate_limit = { rpm = 200 }

[[endpoints.faults]]
kind = "outage"
every = "5m"
lasting = "1m"

[[endpoints.faults]]
kind = "rate_limit_burst"
every = "3m"
lasting = "20s"
probability = 0.7

[[endpoints]]
name = "b/y"
price = { input_per_mtok = 3.0, output_per_mtok = 6.0 }
concurrency = 4

[[endpoints.faults]]
kind = "hang"
start = "10m"
end = "12m"
probability = 0.5
"#;

fn scenario() -> Scenario {
    windtunnel_test_support::scenario(SCENARIO, "crn.toml")
}

/// Keeps what the world did, as opposed to what the policy did.
#[derive(Default)]
struct World {
    arrivals: Vec<(u64, u64, String, u32, u32)>,
    windows: Vec<(EndpointIdx, u16, u64, u64)>,
    outcomes: u64,
}

impl EventSink for World {
    fn record(&mut self, e: &Event<'_>) {
        match *e {
            Event::Arrived { at, req } => {
                self.arrivals.push((at, req.seq, req.class.to_string(), req.input_tokens, req.output_tokens))
            }
            Event::FaultWindow { endpoint, fault, start, end } => self.windows.push((endpoint, fault, start, end)),
            Event::Finished { .. } => self.outcomes += 1,
            _ => {}
        }
    }
}

fn world_of(s: &Scenario, chain: Vec<EndpointIdx>) -> (World, String) {
    let mut world = World::default();
    let opts = RunOptions { extra_sink: Some(&mut world), progress: None, ..RunOptions::default() };
    let report = run_with(s, FixedChain::new(Plan::chain(chain)), "test".into(), opts).expect("run");
    let json = crate::tests::json(&report);
    (world, json)
}

fn json(r: &windtunnel_report::Report) -> String {
    windtunnel_report::to_json(r).expect("serialize")
}

#[test]
fn same_seed_same_report_bytes_other_seed_other_report() {
    let s = scenario();
    let a = json(&run(&s, RunOptions::default()).expect("run"));
    let b = json(&run(&s, RunOptions::default()).expect("run"));
    assert_eq!(a, b);
    let mut other = s.clone();
    other.seed = 4;
    assert_ne!(a, json(&run(&other, RunOptions::default()).expect("run")));
}

#[test]
fn a_different_chain_meets_the_same_arrivals_and_fault_windows() {
    let s = scenario();
    let (w1, r1) = world_of(&s, vec![EndpointIdx(0), EndpointIdx(1)]);
    let (w2, r2) = world_of(&s, vec![EndpointIdx(1), EndpointIdx(0)]);
    assert_ne!(r1, r2, "the policies differ, so their reports do");
    assert!(w1.arrivals.len() > 8000, "{} arrivals", w1.arrivals.len());
    assert_eq!(w1.arrivals, w2.arrivals, "arrivals do not depend on the policy");
    assert!(w1.windows.len() >= 5, "stochastic windows were announced: {:?}", w1.windows);
    assert_eq!(w1.windows, w2.windows, "fault windows do not depend on the policy");
    assert_eq!(w1.outcomes, w1.arrivals.len() as u64, "one outcome per request");
    assert_eq!(w2.outcomes, w2.arrivals.len() as u64);
}

const OUTAGE: &str = r#"
name = "breaker"
seed = 9
policy = { chain = ["a/primary", "b/backup"] }

[trace.synthetic]
rate_per_s = 20
duration = "20m"

[[endpoints]]
name = "a/primary"
latency = { ttft_ms = { dist = "lognormal", median = 300, p99 = 1000 }, tokens_per_s = 100 }

[[endpoints.faults]]
kind = "outage"
start = "5m"
end = "10m"

[[endpoints]]
name = "b/backup"
"#;

#[derive(Default)]
struct BreakerLog {
    transitions: Vec<(u64, windtunnel_core::BreakerState, windtunnel_core::BreakerState)>,
    starts_on_primary: Vec<(u64, bool)>,
}

impl EventSink for BreakerLog {
    fn record(&mut self, e: &Event<'_>) {
        match *e {
            Event::Breaker { at, endpoint: EndpointIdx(0), from, to } => self.transitions.push((at, from, to)),
            Event::AttemptStarted { at, endpoint: EndpointIdx(0), probe, .. } => {
                self.starts_on_primary.push((at, probe))
            }
            _ => {}
        }
    }
}

#[test]
fn an_outage_opens_the_breaker_probes_fail_and_traffic_returns_after_it_ends() {
    use windtunnel_core::BreakerState::*;
    let s = parse_scenario(OUTAGE, Path::new("breaker.toml"), &[]).expect("valid scenario");
    let mut log = BreakerLog::default();
    let report =
        run(&s, RunOptions { extra_sink: Some(&mut log), progress: None, ..RunOptions::default() }).expect("run");
    let (start, end, open_ms) = (300_000, 600_000, 30_000);
    // Opens within seconds of the outage's start: 5 failures in a row at 20
    // req/s, once the answers to requests sent before it (which succeed and
    // break the streak) are in.
    let first_open = log.transitions.iter().find(|t| t.2 == Open).expect("the breaker opened");
    assert!(first_open.0 >= start && first_open.0 < start + 5_000, "{first_open:?}");
    // While the outage lasts, every attempt on the primary after the first
    // opening is a probe, and every probe fails (half-open → open).
    let during: Vec<_> = log.starts_on_primary.iter().filter(|s| s.0 > first_open.0 && s.0 < end).collect();
    assert!(!during.is_empty() && during.iter().all(|s| s.1), "only probes during the outage: {during:?}");
    let reopen =
        log.transitions.iter().filter(|t| t.0 > first_open.0 && t.0 < end && t.1 == HalfOpen && t.2 == Open).count();
    assert!(reopen >= 8, "a failed probe about every 30 s for 5 min, got {reopen}");
    // After the outage, the breaker closes within one open period.
    let closed = log.transitions.iter().find(|t| t.0 >= end && t.2 == Closed).expect("closed again");
    assert!(closed.0 < end + open_ms + 1_000, "closed at {} ms", closed.0);
    // And it is the primary that serves again.
    assert!(log.starts_on_primary.iter().filter(|s| s.0 > closed.0).count() > 1000);
    assert_eq!(report.outcomes.failed, 0, "the backup took every request the primary could not");
}

/// The relay hands the sinks the events the replay wrote, in its order: a
/// relayed report is the same bytes as one folded on the replay's thread,
/// for a scenario with every kind of event and for every shipped scenario.
#[test]
fn a_relayed_report_is_the_same_bytes_as_an_inline_one() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut scenarios = vec![scenario()];
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for p in &paths {
        scenarios.push(windtunnel_config::load_scenario(p, &[]).expect("shipped scenario loads"));
    }
    assert!(scenarios.len() > 5, "the shipped scenarios were found");
    for s in &scenarios {
        let inline = json(&run(s, RunOptions { fold: Fold::Inline, ..RunOptions::default() }).expect("run"));
        let relayed = json(&run(s, RunOptions { fold: Fold::Relayed, ..RunOptions::default() }).expect("run"));
        assert_eq!(relayed, inline, "scenario {}", s.name);
    }
}

/// A JSONL trace with request ids, long and non-ASCII ones among them, runs
/// end to end through the reader and the relay and reports as inline. (No
/// id reaches a clean run's report: that the ids arrive exactly is
/// `request_ids_of_any_length_arrive_exactly`.)
#[test]
fn a_trace_with_request_ids_reports_alike_relayed_and_inline() {
    let dir = std::env::temp_dir().join(format!("wt-relay-ids-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut trace = String::new();
    for i in 0..6000u64 {
        // Every 50th id is 300 bytes (38 words): longer than a chunk's slack.
        let id = if i % 50 == 0 { format!("{i}-{}", "ü".repeat(148)) } else { format!("req-{i}") };
        trace.push_str(&format!(
            "{{\"at_ms\": {}, \"id\": \"{id}\", \"class\": \"interactive\", \"input_tokens\": 500, \"output_tokens\": 80}}\n",
            i * 20
        ));
    }
    std::fs::write(dir.join("ids.jsonl"), trace).expect("write trace");
    let toml = SCENARIO.replace(
        "[trace.synthetic]\nrate_per_s = 5\nduration = \"30m\"\nclasses = { interactive = 0.5, batch = 0.5 }",
        "[trace]\npath = \"ids.jsonl\"\nformat = \"jsonl\"",
    );
    assert!(toml.contains("ids.jsonl"), "the trace section was replaced");
    let s = parse_scenario(&toml, &dir.join("ids.toml"), &[]).expect("valid scenario");
    let inline = run(&s, RunOptions { fold: Fold::Inline, ..RunOptions::default() }).expect("run");
    let relayed = run(&s, RunOptions { fold: Fold::Relayed, ..RunOptions::default() }).expect("run");
    assert_eq!(inline.trace.requests, 6000);
    assert_eq!(json(&relayed), json(&inline));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An extra sink sees the same events beside a relay as without one, and
/// the report does not change.
#[test]
fn an_extra_sink_beside_the_relay_sees_what_it_sees_inline() {
    let s = scenario();
    let chain = FixedChain::new(Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]));
    let mut outcomes = Vec::new();
    for fold in [Fold::Inline, Fold::Relayed] {
        let mut world = World::default();
        let opts = RunOptions { extra_sink: Some(&mut world), fold, ..RunOptions::default() };
        let report = run_with(&s, chain.clone(), "test".into(), opts).expect("run");
        outcomes.push((world.arrivals, world.windows, world.outcomes, json(&report)));
    }
    assert!(outcomes[0].2 > 100, "the run finished requests");
    assert_eq!(outcomes[0], outcomes[1]);
}

mod relay_failures {
    use crate::relayed;
    use windtunnel_core::{Event, EventSink, Request};

    struct Panics;

    impl EventSink for Panics {
        fn record(&mut self, _: &Event<'_>) {
            panic!("sink gave up");
        }
    }

    /// Keeps each event's request `seq`.
    #[derive(Default)]
    struct Seqs(Vec<u64>);

    impl EventSink for Seqs {
        fn record(&mut self, e: &Event<'_>) {
            if let Event::Arrived { req, .. } = e {
                self.0.push(req.seq);
            }
        }
    }

    /// A panic in the sink reaches the caller as that panic, as it would on
    /// the replay's thread, and nothing hangs.
    #[test]
    fn a_panicking_sink_panics_the_caller() {
        let req = Request::new(0, 0, 1, 1);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = relayed(&mut Panics, |relay| relay.record(&Event::Arrived { at: 0, req: &req }));
        }));
        let message = caught.expect_err("the panic came through");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"sink gave up"));
    }

    /// A panic in the replay ends the relay's thread too: the panic comes
    /// through instead of a hang.
    #[test]
    fn a_panicking_body_does_not_hang() {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = relayed(&mut Seqs::default(), |_| -> () { panic!("replay gave up") });
        }));
        assert!(caught.is_err());
    }

    /// Many chunks' worth of events all arrive, in order.
    #[test]
    fn every_event_arrives() {
        let reqs: Vec<Request> = (0..50_000).map(|i| Request::new(i, i, 1, 1)).collect();
        let mut sink = Seqs::default();
        relayed(&mut sink, |relay| {
            for r in &reqs {
                relay.record(&Event::Arrived { at: r.at_ms, req: r });
            }
        })
        .expect("relayed");
        assert_eq!(sink.0, (0..50_000).collect::<Vec<u64>>());
    }

    /// Keeps each arrival's request id.
    #[derive(Default)]
    struct Ids(Vec<Option<String>>);

    impl EventSink for Ids {
        fn record(&mut self, e: &Event<'_>) {
            if let Event::Arrived { req, .. } = e {
                self.0.push(req.id.as_deref().map(str::to_string));
            }
        }
    }

    /// Request ids cross as bytes, whatever their length: ids up to 2,000
    /// bytes (250 words, longer than a chunk's slack of 9) land across many
    /// chunk edges and arrive exactly.
    #[test]
    fn request_ids_of_any_length_arrive_exactly() {
        let reqs: Vec<Request> = (0..20_000u64)
            .map(|i| {
                let mut r = Request::new(i, i, 1, 1);
                r.id = match i % 7 {
                    0 => None,
                    1 => Some("".into()),
                    k => Some(format!("{i}:{}", "é".repeat((i as usize * 37 + k as usize) % 1000)).into()),
                };
                r
            })
            .collect();
        let mut sink = Ids::default();
        relayed(&mut sink, |relay| {
            for r in &reqs {
                relay.record(&Event::Arrived { at: r.at_ms, req: r });
            }
        })
        .expect("relayed");
        let sent: Vec<Option<String>> = reqs.iter().map(|r| r.id.as_deref().map(str::to_string)).collect();
        assert_eq!(sink.0, sent);
    }
}

/// `toml`, parsed beside a JSON-lines trace `file` of `lines` in `dir`.
fn with_trace(dir: &tempfile::TempDir, file: &str, lines: &[&str], toml: &str) -> Scenario {
    std::fs::write(dir.path().join(file), lines.join("\n") + "\n").expect("write trace");
    parse_scenario(toml, &dir.path().join("scenario.toml"), &[]).expect("valid scenario")
}

/// `[cache]`: a repeated prompt within the TTL is served from the cache
/// (outcome `cached`, no attempt, no cost), one after it is not; the saving
/// is the hit priced on the endpoint that answered, to the nano-dollar.
#[test]
fn the_response_cache_serves_repeats_within_its_ttl_and_prices_what_it_saved() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Prompt 7 at 0 s (answered by a/x), again at 30 s (a hit) and at 200 s
    // (after the 100 s TTL: a miss, which fills the cache again), then at
    // 210 s (a hit). Prompt 8 once. A request without a hash never hits.
    let lines = [
        r#"{"at_ms": 0, "id": "p7-1", "input_tokens": 1000, "output_tokens": 100, "prompt_hash": 7}"#,
        r#"{"at_ms": 1000, "id": "p8-1", "input_tokens": 1000, "output_tokens": 100, "prompt_hash": "eight"}"#,
        r#"{"at_ms": 2000, "id": "none", "input_tokens": 1000, "output_tokens": 100}"#,
        r#"{"at_ms": 30000, "id": "p7-2", "input_tokens": 1000, "output_tokens": 300, "prompt_hash": 7}"#,
        r#"{"at_ms": 40000, "id": "none-2", "input_tokens": 1000, "output_tokens": 100}"#,
        r#"{"at_ms": 200000, "id": "p7-3", "input_tokens": 1000, "output_tokens": 100, "prompt_hash": 7}"#,
        r#"{"at_ms": 210000, "id": "p7-4", "input_tokens": 2000, "output_tokens": 50, "prompt_hash": 7}"#,
    ];
    let toml = r#"
name = "cache"
policy = { chain = ["a/x"] }
[trace]
path = "t.jsonl"
format = "jsonl"
[cache]
ttl = "100s"
max_entries = 10
latency_ms = 7
[[endpoints]]
name = "a/x"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
latency = { ttft_ms = 100, tokens_per_s = 100 }
"#;
    let s = with_trace(&dir, "t.jsonl", &lines, toml);
    let report = run(&s, RunOptions::default()).expect("run");
    assert_eq!((report.outcomes.succeeded, report.outcomes.cached), (5, 2), "{:?}", report.outcomes);
    // A hit never reaches an endpoint.
    assert_eq!(report.attempts.total, 5);
    assert_eq!((report.cache.hits, report.cache.hit_rate), (2, 2.0 / 7.0));
    // p7-2: 1,000 in at $1 + 300 out at $2 per Mtok; p7-4: 2,000 in + 50 out.
    let saved = (1_000 * 1_000 + 300 * 2_000) + (2_000 * 1_000 + 50 * 2_000);
    assert_eq!(report.cache.saved_usd.0, saved);
    // Billed: only the five answered requests.
    assert_eq!(report.cost.total_usd.0, 4 * (1_000 * 1_000 + 100 * 2_000) + (1_000 * 1_000 + 100 * 2_000));
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
    // Without [cache], every request is routed.
    let s = parse_scenario(
        &toml.replace("[cache]\nttl = \"100s\"\nmax_entries = 10\nlatency_ms = 7\n", ""),
        &dir.path().join("c.toml"),
        &[],
    )
    .expect("valid scenario");
    let report = run(&s, RunOptions::default()).expect("run");
    assert_eq!((report.outcomes.succeeded, report.outcomes.cached, report.cache.saved_usd.0), (7, 0, 0));
    // `max_entries = 0` (what-if's way to turn the cache off): the same.
    let s = parse_scenario(&toml.replace("max_entries = 10", "max_entries = 0"), &dir.path().join("d.toml"), &[])
        .expect("valid scenario");
    let report = run(&s, RunOptions::default()).expect("run");
    assert_eq!((report.outcomes.succeeded, report.outcomes.cached, report.cache.saved_usd.0), (7, 0, 0));
}

/// `prompt_cache`: a prompt whose leading blocks the endpoint saw within
/// the TTL bills them at the cached-input price, to the nano-dollar; the
/// report counts the cached tokens and what they saved. Cached tokens never
/// exceed the input.
#[test]
fn prompt_caching_bills_a_held_prefix_at_the_cached_price() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lines = [
        // Blocks 1, 2, 3: nothing held yet.
        r#"{"at_ms": 0, "input_tokens": 1536, "output_tokens": 10, "hash_ids": [1, 2, 3]}"#,
        // The same three blocks and one more: 3 × 512 tokens held.
        r#"{"at_ms": 10000, "input_tokens": 2000, "output_tokens": 10, "hash_ids": [1, 2, 3, 4]}"#,
        // A different first block: nothing held, though 2 and 3 are.
        r#"{"at_ms": 20000, "input_tokens": 1536, "output_tokens": 10, "hash_ids": [9, 2, 3]}"#,
        // Under min_tokens: never cached.
        r#"{"at_ms": 30000, "input_tokens": 600, "output_tokens": 10, "hash_ids": [1]}"#,
        // After the TTL (60 s since block 1 was last sent at 10 s): gone.
        r#"{"at_ms": 200000, "input_tokens": 1536, "output_tokens": 10, "hash_ids": [1, 2, 3]}"#,
        // Blocks that claim more tokens than the prompt has: capped at the input.
        r#"{"at_ms": 210000, "input_tokens": 1024, "output_tokens": 10, "hash_ids": [1, 2, 3]}"#,
    ];
    let toml = r#"
name = "prefix"
policy = { chain = ["a/x"] }
[trace]
path = "p.jsonl"
format = "jsonl"
[[endpoints]]
name = "a/x"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0, cached_input_per_mtok = 0.1 }
latency = { ttft_ms = 100, tokens_per_s = 100 }
prompt_cache = { ttl = "60s", min_tokens = 1024, block_tokens = 512 }
"#;
    let s = with_trace(&dir, "p.jsonl", &lines, toml);
    let report = run(&s, RunOptions::default()).expect("run");
    assert_eq!(report.outcomes.succeeded, 6);
    // Nano-dollars: 1,000 per uncached input token, 100 per cached one, 2,000 per output token.
    let out = 10 * 2_000;
    let expected = (1_536 * 1_000 + out)
        + (1_536 * 100 + 464 * 1_000 + out)
        + (1_536 * 1_000 + out)
        + (600 * 1_000 + out)
        + (1_536 * 1_000 + out)
        + (1_024 * 100 + out);
    assert_eq!(report.cost.total_usd.0, expected);
    assert_eq!(report.cache.prompt_cached_tokens, 1_536 + 1_024);
    assert_eq!(report.cache.prompt_cache_saved_usd.0, (1_536 + 1_024) * 900);
    // The HTML report charts it over time; the time series holds the tokens.
    assert!(windtunnel_report::to_html(&report).contains("Caching over time"));
    let buckets = &report.timeseries.buckets;
    assert_eq!(buckets.iter().map(|b| b.cached_input_tokens).sum::<u64>(), 1_536 + 1_024);
    assert_eq!(buckets.iter().map(|b| b.input_tokens).sum::<u64>(), 1_536 * 3 + 2_000 + 600 + 1_024);
    // With Anthropic's cache-write price (1.25 times the input's), the blocks
    // each prompt writes (the first, all 1,536; the second, its 464 new
    // tokens; the third and fifth, all theirs; the sixth, none) cost 250 nd
    // a token more, and the saving is net of it.
    let anthropic = parse_scenario(
        &toml.replace("cached_input_per_mtok = 0.1 }", "cached_input_per_mtok = 0.1, cache_write_per_mtok = 1.25 }"),
        &dir.path().join("anthropic.toml"),
        &[],
    )
    .expect("valid scenario");
    let written = 1_536 + 464 + 1_536 + 1_536;
    let report = run(&anthropic, RunOptions::default()).expect("run");
    assert_eq!(report.cost.total_usd.0, expected + written * 250);
    assert_eq!(report.cache.prompt_cached_tokens, 1_536 + 1_024);
    assert_eq!(report.cache.prompt_cache_saved_usd.0, (1_536 + 1_024) * 900 - written * 250);
    // A budget reserves the input at the dearer cache-write price: $0.0017
    // covers the first request's plain input ($0.001556) but not its bill
    // with writes ($0.00194), so it is refused rather than overspent.
    let tight = format!(
        "{}[budgets]\ndefault = {{ usd = 0.0017 }}\n",
        toml.replace("cached_input_per_mtok = 0.1 }", "cached_input_per_mtok = 0.1, cache_write_per_mtok = 1.25 }")
    );
    let tight = parse_scenario(&tight, &dir.path().join("tight.toml"), &[]).expect("valid scenario");
    let report = run(&tight, RunOptions::default()).expect("run");
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
    assert!(report.cost.total_usd.0 <= 1_700_000, "{}", report.cost.total_usd);
    assert!(report.outcomes.by_reason.get("budget").is_some_and(|&n| n > 0), "{:?}", report.outcomes);
    // Without prompt_cache the same trace bills every input token in full.
    let plain = parse_scenario(
        &toml.replace("prompt_cache = { ttl = \"60s\", min_tokens = 1024, block_tokens = 512 }\n", ""),
        &dir.path().join("plain.toml"),
        &[],
    )
    .expect("valid scenario");
    let report = run(&plain, RunOptions::default()).expect("run");
    assert_eq!(report.cache.prompt_cached_tokens, 0);
    assert!(!windtunnel_report::to_html(&report).contains("Caching over time"));
    assert_eq!(report.cost.total_usd.0, (1_536 * 3 + 2_000 + 600 + 1_024) * 1_000 + 6 * out);
}

/// `price_schedule`: a daily window (UTC) across midnight, placed by the
/// trace's `start_at`; the price at an attempt's start applies.
#[test]
fn a_daily_price_window_across_midnight_prices_the_attempts_inside_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    // start_at 16:00 UTC; the window is 23:00 to 01:00.
    let lines = [
        r#"{"at_ms": 0, "input_tokens": 1000, "output_tokens": 10}"#, // 16:00: base
        r#"{"at_ms": 25200000, "input_tokens": 1000, "output_tokens": 10}"#, // 23:00: window
        r#"{"at_ms": 30600000, "input_tokens": 1000, "output_tokens": 10}"#, // 00:30 next day: window
        r#"{"at_ms": 32400000, "input_tokens": 1000, "output_tokens": 10}"#, // 01:00: base again
        r#"{"at_ms": 111600000, "input_tokens": 1000, "output_tokens": 10}"#, // 23:00 a day later: window
    ];
    let toml = r#"
name = "offpeak"
policy = { chain = ["a/x"] }
[trace]
path = "d.jsonl"
format = "jsonl"
start_at = "2024-05-01T16:00:00Z"
[[endpoints]]
name = "a/x"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
latency = { ttft_ms = 100, tokens_per_s = 100 }
[[endpoints.price_schedule]]
from = "23:00"
to = "01:00"
input_per_mtok = 0.5
"#;
    let s = with_trace(&dir, "d.jsonl", &lines, toml);
    let report = run(&s, RunOptions::default()).expect("run");
    let base = 1_000 * 1_000 + 10 * 2_000;
    // In the window: input at half price, output (left out) at the base price.
    let window = 1_000 * 500 + 10 * 2_000;
    assert_eq!(report.cost.total_usd.0, 2 * base + 3 * window);
}

/// Plan `start_after_ms` (deferral): the first attempt waits that long, but
/// never starts at or after the request's deadline, whatever the two are.
mod deferral {
    use crate::{RunOptions, run_with};
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use windtunnel_config::parse_scenario;
    use windtunnel_core::{EndpointIdx, Event, EventSink, FixedChain, Plan};

    /// First attempt start per request: (arrival, first start).
    #[derive(Default)]
    struct Starts(BTreeMap<u64, (u64, u64)>);

    impl EventSink for Starts {
        fn record(&mut self, e: &Event<'_>) {
            if let Event::AttemptStarted { at, req, .. } = e {
                self.0.entry(req.seq).or_insert((req.at_ms, *at));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        #[test]
        fn the_first_attempt_waits_but_never_past_the_deadline(defer in 1u64..200_000, deadline in 1_000u64..100_000) {
            let toml = format!(
                "policy = {{ chain = [\"a/x\"] }}\n[trace.synthetic]\nrate_per_s = 2\nduration = \"1m\"\n\
                 [sla.default]\ndeadline_ms = {deadline}\n[[endpoints]]\nname = \"a/x\"\n\
                 latency = {{ ttft_ms = 100, tokens_per_s = 1000 }}\n"
            );
            let s = parse_scenario(&toml, std::path::Path::new("defer.toml"), &[]).expect("valid scenario");
            let plan = Plan { start_after_ms: Some(defer), ..Plan::chain(vec![EndpointIdx(0)]) };
            let mut starts = Starts::default();
            let opts = RunOptions { extra_sink: Some(&mut starts), ..RunOptions::default() };
            let report = run_with(&s, FixedChain::new(plan), "deferred".into(), opts).expect("run");
            prop_assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
            prop_assert_eq!(starts.0.len() as u64, report.trace.requests);
            for (arrival, start) in starts.0.values() {
                prop_assert!(*start < arrival + deadline, "started at {start}, deadline {}", arrival + deadline);
                prop_assert_eq!(*start, arrival + defer.min(deadline - 1));
            }
        }
    }
}
