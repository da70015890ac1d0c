//! Behaviour and statistical tests of simulated endpoints. Statistical tests
//! loop over a fixed range of seeds and assert against stated tolerances.

use crate::{Adapter, NEVER, Scheduled, SimEndpoint};
use windtunnel_config::*;
use windtunnel_core::*;

fn spec(name: &str) -> EndpointSpec {
    EndpointSpec {
        id: EndpointId::new(name),
        price: Price {
            input: PricePerMtok::from_usd(2.5),
            output: PricePerMtok::from_usd(10.0),
            cached_input: PricePerMtok::from_usd(1.25),
            cache_write: PricePerMtok::from_usd(2.5),
            long_context: None,
        },
        context_window: None,
        max_output_tokens: None,
        tokenizer: TokenizerSpec::default(),
        latency: LatencySpec { ttft_ms: Dist::Fixed(400.0), tokens_per_s: Dist::Fixed(100.0) },
        rate_limit: RateLimitSpec::default(),
        concurrency: None,
        errors: ErrorsSpec::default(),
        quality: QualitySpec::default(),
        faults: Vec::new(),
        price_changes: Vec::new(),
        upstream: None,
        prompt_cache: None,
        price_schedule: None,
    }
}

fn start(ep: &mut SimEndpoint, now: u64, req: &Request, endpoint_attempt: u32) -> Scheduled {
    let a = AttemptStart { req, endpoint: EndpointIdx(0), attempt: 1, endpoint_attempt };
    ep.start(now, &a)
}

fn kind(s: &Scheduled) -> Option<ErrorKind> {
    s.report.result.as_ref().err().map(|e| e.kind)
}

#[test]
fn latency_is_ttft_plus_decode_and_cost_is_integer() {
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &spec("a/x"), &Streams::from_seed(1));
    let s = start(&mut ep, 1000, &Request::new(0, 1000, 800, 200), 1);
    assert_eq!(s.first_token_at, Some(1400));
    assert_eq!(s.done_at, 1400 + 2000);
    assert_eq!(s.report.usage.cost, Nanodollars(800 * 2500 + 200 * 10_000));
    assert_eq!(s.report.ttft_ms, Some(400));
    assert_eq!(s.max_silence_ms, 0, "no stream, no silences");
    let mut streamed = Request::new(1, 1000, 800, 200);
    streamed.stream = true;
    assert_eq!(start(&mut ep, 1000, &streamed, 1).max_silence_ms, 10, "one token's time at 100 tokens/s");
}

#[test]
fn context_window_counts_tokens_as_this_endpoint_tokenizes_them() {
    let mut sp = spec("a/x");
    sp.context_window = Some(10_000);
    sp.tokenizer.lang.insert("zh".into(), 1.5);
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    let mut req = Request::new(0, 0, 7_000, 1_000);
    assert_eq!(kind(&start(&mut ep, 0, &req, 1)), None, "8,000 tokens fit");
    req.lang = Some("zh".into());
    let s = start(&mut ep, 0, &req, 1);
    assert_eq!(kind(&s), Some(ErrorKind::ContextExceeded), "12,000 tokens do not");
    assert_eq!(s.report.usage.cost, Nanodollars::ZERO);
}

#[test]
fn max_tokens_over_max_output_tokens_is_a_bad_request() {
    let mut sp = spec("a/x");
    sp.max_output_tokens = Some(100);
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    // Asking for 500 where 100 is the most: refused, not silently capped.
    let s = start(&mut ep, 0, &Request::new(0, 0, 10, 500), 1);
    assert_eq!(kind(&s), Some(ErrorKind::BadRequest));
    assert_eq!(s.report.usage.cost, Nanodollars::ZERO);
    assert!(!ep.spec().facts().fits(&Request::new(0, 0, 10, 500)), "and not a candidate");
    let ok = start(&mut ep, 0, &Request::new(1, 0, 10, 100), 1);
    assert_eq!((kind(&ok), ok.report.usage.output_tokens), (None, 100));
}

#[test]
fn a_request_larger_than_the_tpm_is_refused_at_once_and_blocks_nothing() {
    let mut sp = spec("a/x");
    sp.rate_limit = RateLimitSpec { rpm: None, tpm: Some(10_000) };
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    let big = start(&mut ep, 0, &Request::new(0, 0, 12_000, 100), 1);
    assert_eq!(kind(&big), Some(ErrorKind::ContextExceeded));
    let err = big.report.result.as_ref().unwrap_err();
    assert_eq!(err.retry_after_ms, None, "no Retry-After: waiting cannot help");
    assert!(!ep.spec().facts().fits(&Request::new(0, 0, 12_000, 100)), "not a candidate either");
    // The bucket is untouched: the next sixty small requests pass at once.
    for seq in 1..=60 {
        let s = start(&mut ep, 1, &Request::new(seq, 1, 100, 50), 1);
        assert_eq!(kind(&s), None, "request {seq}");
    }
}

#[test]
fn long_prompts_pay_the_long_context_rates() {
    // gemini-1.5-flash: $0.075/$0.30 per Mtok, $0.15/$0.60 above 128k tokens.
    let mut sp = spec("gemini/gemini-1.5-flash");
    sp.price = Price {
        input: PricePerMtok::from_usd(0.075),
        output: PricePerMtok::from_usd(0.30),
        cached_input: PricePerMtok::from_usd(0.075),
        cache_write: PricePerMtok::from_usd(0.075),
        long_context: Some(LongContextPrice {
            above_tokens: 128_000,
            input: PricePerMtok::from_usd(0.15),
            output: PricePerMtok::from_usd(0.60),
            cached_input: PricePerMtok::from_usd(0.15),
            cache_write: PricePerMtok::from_usd(0.15),
        }),
    };
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    let s = start(&mut ep, 0, &Request::new(0, 0, 200_000, 1_000), 1);
    // LiteLLM's cost for 200k in, 1k out: 200,000 × 1.5e-7 + 1,000 × 6e-7 = $0.0306.
    assert_eq!(s.report.usage.cost, Nanodollars(30_600_000));
    let short = start(&mut ep, 0, &Request::new(1, 0, 100_000, 1_000), 1);
    assert_eq!(short.report.usage.cost, Nanodollars(100_000 * 75 + 1_000 * 300));
}

#[test]
fn sub_nanodollar_prices_do_not_drift_upward() {
    // 4.7e-9 $/token: 1,000 one-token requests cost 4,700 nd, not 5,000.
    let mut sp = spec("a/x");
    sp.price = Price { input: PricePerMtok::from_usd(0.0047), ..Price::default() };
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    let total: Nanodollars =
        (0..1_000).map(|seq| start(&mut ep, seq, &Request::new(seq, seq, 1, 0), 1).report.usage.cost).sum();
    assert_eq!(total, Nanodollars(4_700));
}

#[test]
fn requests_queue_above_concurrency() {
    let mut sp = spec("a/x");
    sp.concurrency = Some(2);
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    let req = Request::new(0, 0, 10, 100); // 400 ms TTFT + 1 s decode
    let a = start(&mut ep, 0, &req, 1);
    let _b = start(&mut ep, 0, &req, 1);
    let c = start(&mut ep, 0, &req, 1);
    assert_eq!(c.first_token_at, Some(a.done_at + 400), "third waits for a server");
    assert_eq!(c.report.ttft_ms, Some(a.done_at + 400), "queueing counts in TTFT");
    // A queued attempt cancelled early leaves the attempt ahead of it in service.
    ep.cancel(100, &c);
    assert_eq!(ep.busy(100), 2);
    assert_eq!(ep.busy(a.done_at), 0, "and its server frees when that one ends");
}

#[test]
fn rate_limit_answers_429_with_retry_after_until_the_bucket_refills() {
    let mut sp = spec("a/x");
    sp.rate_limit.rpm = Some(60);
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    let req = Request::new(0, 0, 10, 10);
    for _ in 0..60 {
        assert_eq!(kind(&start(&mut ep, 0, &req, 1)), None);
    }
    let s = start(&mut ep, 0, &req, 1);
    assert_eq!(kind(&s), Some(ErrorKind::RateLimited));
    let err = s.report.result.unwrap_err();
    assert_eq!((err.status, err.retry_after_ms), (Some(429), Some(1000)));
    assert_eq!(kind(&start(&mut ep, 1000, &req, 1)), None, "Retry-After was honest");
}

#[test]
fn tpm_counts_input_plus_max_tokens() {
    let mut sp = spec("a/x");
    sp.rate_limit.tpm = Some(10_000);
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    let mut req = Request::new(0, 0, 4_000, 100);
    req.max_tokens = 1_000;
    assert_eq!(kind(&start(&mut ep, 0, &req, 1)), None);
    assert_eq!(kind(&start(&mut ep, 0, &req, 1)), None);
    assert_eq!(kind(&start(&mut ep, 0, &req, 1)), Some(ErrorKind::RateLimited));
}

#[test]
fn share_of_429_under_a_rate_limit_matches_the_limit() {
    // 20 req/s against rpm = 600 (10/s) for 10 minutes: a full bucket of 600,
    // then 10/s get through: 6,600 of 12,000 succeed, 45.0% are 429s.
    for seed in 0..5 {
        let mut sp = spec("a/x");
        sp.rate_limit.rpm = Some(600);
        let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(seed));
        let mut limited = 0;
        for i in 0..12_000u64 {
            let req = Request::new(i, i * 50, 10, 10);
            if kind(&start(&mut ep, i * 50, &req, 1)) == Some(ErrorKind::RateLimited) {
                limited += 1;
            }
        }
        let share = f64::from(limited) / 12_000.0;
        assert!((share - 0.45).abs() < 0.005, "seed {seed}: 429 share {share}");
    }
}

#[test]
fn fault_probability_is_the_share_of_attempts_hit() {
    for (p, kind_expected) in [(0.3, ErrorKind::Overloaded), (0.8, ErrorKind::Overloaded)] {
        let mut hits = 0u32;
        let n = 20_000u32;
        for seed in 0..10 {
            let mut sp = spec("a/x");
            sp.faults.push(FaultSpec {
                kind: FaultKind::Outage { status: 503 },
                window: FaultWindowSpec::Fixed { start_ms: 0, end_ms: None },
                probability: p,
            });
            let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(seed));
            for i in 0..n / 10 {
                let s = start(&mut ep, u64::from(i), &Request::new(u64::from(i), 0, 10, 10), 1);
                if kind(&s) == Some(kind_expected) {
                    hits += 1;
                }
            }
        }
        let share = f64::from(hits) / f64::from(n);
        assert!((share - p).abs() < 0.015, "p = {p}: share {share}");
    }
}

#[test]
fn latency_quantiles_match_the_configured_distribution() {
    // TTFT lognormal median 450 p99 2500: over 5 seeds × 20,000 attempts the
    // sampled median is within 3% and the p99 within 8%.
    for seed in 0..5 {
        let mut sp = spec("a/x");
        sp.latency.ttft_ms = Dist::lognormal(450.0, 2500.0).unwrap();
        let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(seed));
        let mut ttft: Vec<u64> =
            (0..20_000u64).map(|i| start(&mut ep, 0, &Request::new(i, 0, 10, 1), 1).report.ttft_ms.unwrap()).collect();
        ttft.sort_unstable();
        let (p50, p99) = (ttft[10_000] as f64, ttft[19_800] as f64);
        assert!((p50 / 450.0 - 1.0).abs() < 0.03, "seed {seed}: p50 {p50}");
        assert!((p99 / 2500.0 - 1.0).abs() < 0.08, "seed {seed}: p99 {p99}");
    }
}

#[test]
fn server_error_rate_is_the_share_of_500s() {
    let mut sp = spec("a/x");
    sp.errors.server_error_rate = 0.05;
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(9));
    let errors = (0..40_000u64)
        .filter(|&i| kind(&start(&mut ep, 0, &Request::new(i, 0, 10, 1), 1)) == Some(ErrorKind::ServerError))
        .count();
    let share = errors as f64 / 40_000.0;
    assert!((share - 0.05).abs() < 0.004, "share {share}");
}

#[test]
fn every_fault_kind_has_its_effect() {
    let run = |kind: FaultKind, stream: bool| {
        let mut sp = spec("a/x");
        sp.faults.push(FaultSpec {
            kind,
            window: FaultWindowSpec::Fixed { start_ms: 0, end_ms: None },
            probability: 1.0,
        });
        let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(2));
        let mut req = Request::new(0, 0, 100, 100);
        req.stream = stream;
        start(&mut ep, 0, &req, 1)
    };
    let hang = run(FaultKind::Hang, false);
    assert_eq!(hang.done_at, NEVER);
    assert_eq!(hang.usage_at(1_000_000).cost, Nanodollars::ZERO);
    let burst = run(FaultKind::RateLimitBurst { retry_after_ms: 2000 }, false).report.result.unwrap_err();
    assert_eq!((burst.kind, burst.retry_after_ms), (ErrorKind::RateLimited, Some(2000)));
    assert_eq!(kind(&run(FaultKind::Quota { status: 429 }, false)), Some(ErrorKind::QuotaExceeded));
    assert_eq!(kind(&run(FaultKind::Outage { status: 500 }, false)), Some(ErrorKind::ServerError));
    let spike = run(FaultKind::LatencySpike { multiplier: 5.0 }, false);
    assert_eq!((spike.first_token_at, spike.done_at), (Some(2000), 2000 + 5000));
    let err = run(FaultKind::ErrorRate { status: 502 }, false);
    assert_eq!((kind(&err), err.done_at), (Some(ErrorKind::ServerError), 400));
    let malformed = run(FaultKind::Malformed, false);
    assert_eq!(kind(&malformed), Some(ErrorKind::Malformed));
    assert!(malformed.report.usage.cost > Nanodollars::ZERO, "a malformed answer is still billed");
    let cut = run(FaultKind::StreamCut { after_tokens: Some(30) }, true);
    assert_eq!(kind(&cut), Some(ErrorKind::StreamCut));
    assert_eq!(cut.report.usage.output_tokens, 30, "partial billing");
    assert_eq!(cut.done_at, 400 + 300);
    assert_eq!(kind(&run(FaultKind::StreamCut { after_tokens: None }, false)), Some(ErrorKind::Connection));
}

#[test]
fn price_changes_apply_from_their_time() {
    let mut sp = spec("a/x");
    let half = Price {
        input: PricePerMtok::from_usd(1.25),
        output: PricePerMtok::from_usd(5.0),
        cached_input: PricePerMtok::from_usd(0.5),
        cache_write: PricePerMtok::from_usd(1.25),
        long_context: None,
    };
    sp.price_changes.push(PriceChange { at_ms: 60_000, price: half });
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(2));
    let before = start(&mut ep, 59_999, &Request::new(0, 0, 1000, 100), 1).report.usage.cost;
    let after = start(&mut ep, 60_000, &Request::new(1, 0, 1000, 100), 1).report.usage.cost;
    assert_eq!(before, Nanodollars(2 * after.0));
}

#[test]
fn draws_depend_on_request_and_endpoint_attempt_only() {
    let mut sp = spec("a/x");
    sp.latency.ttft_ms = Dist::lognormal(450.0, 2500.0).unwrap();
    let streams = Streams::from_seed(5);
    let mut a = SimEndpoint::from_seed(EndpointIdx(0), &sp, &streams);
    let mut b = SimEndpoint::from_seed(EndpointIdx(0), &sp, &streams);
    let r7 = Request::new(7, 0, 10, 10);
    // `b` serves other requests first; request 7's draws do not move.
    for i in 0..50 {
        start(&mut b, 0, &Request::new(100 + i, 0, 10, 10), 1);
    }
    assert_eq!(start(&mut a, 0, &r7, 1), start(&mut b, 0, &r7, 1));
    assert_ne!(start(&mut a, 0, &r7, 1).first_token_at, start(&mut a, 0, &r7, 2).first_token_at);
}

#[test]
fn huge_latencies_saturate_instead_of_wrapping() {
    let mut sp = spec("a/x");
    sp.latency = LatencySpec { ttft_ms: Dist::Fixed(1e300), tokens_per_s: Dist::Fixed(100.0) };
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    let s = start(&mut ep, 1_000, &Request::new(0, 1_000, 10, 10), 1);
    // Ten years, not a wrapped-around few milliseconds.
    assert_eq!(s.first_token_at, Some(1_000 + MAX_DURATION_MS));
    assert!(s.done_at >= 1_000 + MAX_DURATION_MS);
    assert_eq!(s.report.ttft_ms, Some(MAX_DURATION_MS));
}

/// Anthropic-style prompt caching, by hand: the first send of a prompt
/// writes its blocks at the cache-write price, the next reads them at the
/// cached price and writes only its new blocks; the bill matches to the
/// nano-dollar.
#[test]
fn prompt_cache_writes_and_reads_are_billed_at_their_prices() {
    let mut sp = spec("anthropic/sonnet");
    sp.price = Price {
        input: PricePerMtok::from_usd(3.0),
        output: PricePerMtok::from_usd(15.0),
        cached_input: PricePerMtok::from_usd(0.30),
        cache_write: PricePerMtok::from_usd(3.75),
        long_context: None,
    };
    sp.prompt_cache = Some(PromptCacheSpec { ttl_ms: 300_000, min_tokens: 1024, block_tokens: 512 });
    let mut ep = SimEndpoint::from_seed(EndpointIdx(0), &sp, &Streams::from_seed(1));
    let turn = |seq: u64, at: u64, input: u32, ids: &[u64]| {
        let mut r = Request::new(seq, at, input, 100);
        r.hash_ids = Some(ids.into());
        r
    };
    // 1,600 tokens in 4 blocks (the last partial): all written.
    let first = start(&mut ep, 0, &turn(0, 0, 1_600, &[1, 2, 3, 4]), 1);
    let u = first.report.usage;
    assert_eq!((u.cached_input_tokens, u.cache_write_tokens), (0, 1_600));
    assert_eq!(u.cost, Nanodollars(1_600 * 3_750 + 100 * 15_000));
    // The next turn shares 3 full blocks (1,536 tokens) and adds two.
    let next = start(&mut ep, 10_000, &turn(1, 10_000, 2_300, &[1, 2, 3, 5, 6]), 1);
    let u = next.report.usage;
    assert_eq!((u.cached_input_tokens, u.cache_write_tokens), (1_536, 2_300 - 1_536));
    assert_eq!(u.cost, Nanodollars(1_536 * 300 + 764 * 3_750 + 100 * 15_000));
    // Under `min_tokens`, neither read nor written: plain input.
    let short = start(&mut ep, 20_000, &turn(2, 20_000, 1_000, &[1, 2]), 1);
    assert_eq!(short.report.usage.cost, Nanodollars(1_000 * 3_000 + 100 * 15_000));
}
