//! Crate tests: hand-built event logs through the aggregator, the fault-window
//! analysis, assertions, and every renderer.

use crate::*;
use windtunnel_config::{AssertSpec, InvariantSelection, Scenario};
use windtunnel_core::{
    AttemptError, AttemptReport, BreakerState, EndpointIdx, ErrorKind, Event, EventSink, FailReason, Nanodollars,
    Outcome, RejectReason, Request, Sym, Usage,
};

const SCENARIO: &str = r#"
name = "unit"
seed = 7
policy = { chain = ["a/x", "b/y"] }

[trace.synthetic]
rate_per_s = 1
duration = "1m"

[sla.interactive]
latency_ms = 250

[[endpoints]]
name = "a/x"

[[endpoints.faults]]
kind = "outage"
start = "1s"
end = "5s"

[[endpoints]]
name = "b/y"

[[endpoints.faults]]
kind = "hang"
start = "6s"
"#;

const A: EndpointIdx = EndpointIdx(0);
const B: EndpointIdx = EndpointIdx(1);

fn scenario() -> Scenario {
    windtunnel_test_support::scenario(SCENARIO, "unit.toml")
}

fn req(seq: u64, at_ms: u64) -> Request {
    let mut r = Request::new(seq, at_ms, 100, 50);
    r.class = Sym::from("interactive");
    r
}

fn usage(cost: i64) -> Usage {
    Usage { input_tokens: 100, output_tokens: 50, cost: Nanodollars(cost), ..Usage::default() }
}

/// Writes events into an aggregator with little ceremony.
struct Log {
    agg: Aggregator,
}

impl Log {
    fn new() -> Log {
        Log { agg: Aggregator::new(&scenario()) }
    }

    fn arrive(&mut self, r: &Request) {
        self.agg.record(&Event::Arrived { at: r.at_ms, req: r });
    }

    fn start(&mut self, at: u64, r: &Request, attempt: u32, endpoint: EndpointIdx) {
        self.agg.record(&Event::AttemptStarted {
            at,
            req: r,
            attempt,
            endpoint,
            attempt_limit: 3,
            probe: false,
            tokens: (100, 50),
            plan_deadline_ms: None,
        });
    }

    fn attempt_ok(&mut self, at: u64, r: &Request, attempt: u32, endpoint: EndpointIdx, cost: i64) {
        let report = AttemptReport::success(usage(cost), 0.9, Some(10));
        self.agg.record(&Event::AttemptFinished { at, req: r, attempt, endpoint, started_at: at, report: &report });
    }

    fn attempt_err(&mut self, at: u64, r: &Request, attempt: u32, endpoint: EndpointIdx, kind: ErrorKind, cost: i64) {
        let report = AttemptReport::failure(AttemptError::new(kind), usage(cost), None);
        self.agg.record(&Event::AttemptFinished { at, req: r, attempt, endpoint, started_at: at, report: &report });
    }

    fn failover(&mut self, at: u64, r: &Request, from: EndpointIdx, to: EndpointIdx, reason: ErrorKind) {
        self.agg.record(&Event::Failover { at, req: r, from, to, reason });
    }

    fn done(&mut self, at: u64, r: &Request, outcome: Outcome, endpoint: Option<EndpointIdx>, quality: Option<f64>) {
        self.agg.record(&Event::Finished {
            at,
            req: r,
            outcome,
            attempts: 1,
            endpoint,
            ttft_ms: None,
            cost: Nanodollars::ZERO,
            quality,
        });
    }

    fn window(&mut self, endpoint: EndpointIdx, fault: u16, start: u64, end: u64) {
        self.agg.record(&Event::FaultWindow { endpoint, fault, start, end });
    }

    /// A request answered by its first attempt on `endpoint`.
    fn simple(&mut self, seq: u64, at: u64, endpoint: EndpointIdx, latency: u64) {
        let r = req(seq, at);
        self.arrive(&r);
        self.start(at, &r, 1, endpoint);
        self.attempt_ok(at + latency, &r, 1, endpoint, 500_000_000);
        self.done(at + latency, &r, Outcome::Succeeded, Some(endpoint), Some(0.5));
    }

    fn report(&self) -> Report {
        self.agg.report(ReportHead {
            scenario: "unit".into(),
            policy: "chain: a/x > b/y".into(),
            seed: 7,
            skipped_lines: 0,
            policy_errors: 0,
            first_policy_error: None,
        })
    }
}

/// Four requests: one answered at once, one after a failover, one failed,
/// one rejected; costs chosen so that float sums would drift.
fn mixed_log() -> Log {
    let mut log = Log::new();
    let (r0, r1, r2, r3) = (req(0, 0), req(1, 100), req(2, 200), req(3, 300));
    log.arrive(&r0);
    log.start(0, &r0, 1, A);
    log.attempt_ok(120, &r0, 1, A, 100_000_001);
    log.done(120, &r0, Outcome::Succeeded, Some(A), Some(0.8));
    log.arrive(&r1);
    log.start(100, &r1, 1, A);
    log.attempt_err(150, &r1, 1, A, ErrorKind::StreamCut, 200_000_002);
    log.failover(150, &r1, A, B, ErrorKind::StreamCut);
    log.start(150, &r1, 2, B);
    log.attempt_ok(400, &r1, 2, B, 300_000_003);
    log.done(400, &r1, Outcome::Succeeded, Some(B), Some(0.6));
    log.arrive(&r2);
    log.start(200, &r2, 1, B);
    log.attempt_err(260, &r2, 1, B, ErrorKind::Overloaded, 0);
    log.done(260, &r2, Outcome::Failed(FailReason::Upstream(ErrorKind::Overloaded)), None, None);
    log.arrive(&r3);
    log.done(300, &r3, Outcome::Rejected(RejectReason::Budget), None, None);
    log
}

#[test]
fn aggregates_counts_money_and_sla_exactly() {
    let r = mixed_log().report();
    assert_eq!(r.trace.requests, 4);
    assert_eq!(r.trace.span_ms, 300);
    let o = &r.outcomes;
    assert_eq!((o.succeeded, o.failed, o.rejected, o.cached), (2, 1, 1, 0));
    assert_eq!(o.by_reason.get("overloaded"), Some(&1));
    assert_eq!(o.by_reason.get("budget"), Some(&1));
    assert_eq!(r.cost.total_usd, Nanodollars(600_000_006));
    assert_eq!(r.cost.wasted_usd, Nanodollars(200_000_002));
    assert_eq!(r.cost.per_success_usd, Nanodollars(300_000_003));
    assert_eq!(r.cost.by_endpoint["a/x"], Nanodollars(300_000_003));
    assert_eq!(r.cost.by_endpoint["b/y"], Nanodollars(300_000_003));
    assert_eq!(r.attempts.total, 4);
    assert_eq!(r.attempts.by_endpoint["a/x"].errors.get("stream_cut"), Some(&1));
    assert_eq!(r.failover.events, 1);
    assert_eq!(r.failover.by_reason.get("stream_cut"), Some(&1));
    assert_eq!((r.latency_ms.p50, r.latency_ms.max), (120, 300));
    // Latency 120 is inside the 250 ms SLA, 300 is not; failed and rejected requests break it too.
    assert_eq!(r.sla.violations, 3);
    assert_eq!(r.sla.rate, 0.75);
    assert!((r.quality.mean - 0.7).abs() < 1e-12);
    // The time series carries the same money and attempts.
    let ts = &r.timeseries;
    assert_eq!(ts.endpoints, vec!["a/x".to_string(), "b/y".to_string()]);
    assert_eq!(ts.buckets.iter().map(|b| b.cost_usd).sum::<Nanodollars>(), r.cost.total_usd);
    let attempts: u64 = ts.buckets.iter().flat_map(|b| &b.attempts).sum();
    assert_eq!(attempts, r.attempts.total);
    assert_eq!(ts.buckets.iter().map(|b| b.succeeded).sum::<u64>(), 2);
    assert_eq!(ts.buckets.iter().map(|b| b.failed).sum::<u64>(), 2);
}

#[test]
fn percentiles_come_from_the_histogram() {
    let mut log = Log::new();
    for i in 0..100u64 {
        log.simple(i, i * 10, A, i + 1);
    }
    let r = log.report();
    let l = &r.latency_ms;
    assert_eq!((l.p50, l.p90, l.p95, l.p99, l.max), (50, 90, 95, 99, 100));
    let bins = &r.timeseries.latency_histogram;
    assert_eq!(bins.iter().map(|b| b.count).sum::<u64>(), 100);
    assert_eq!(bins[0].lo_ms, 1);
    let last = bins.last().unwrap();
    assert!(last.lo_ms <= 100 && 100 < last.hi_ms);
}

#[test]
fn latency_max_is_exact_not_a_bucket_edge() {
    // 12,345 ms sits inside a histogram bucket wider than 1 ms at 3 figures:
    // the bucket's edge would read 12,351.
    let mut log = Log::new();
    log.simple(0, 0, A, 12_345);
    log.simple(1, 10, A, 7);
    assert_eq!(log.report().latency_ms.max, 12_345);
}

#[test]
fn ttft_is_null_when_nothing_was_streamed() {
    let r = mixed_log().report();
    assert!(r.ttft_ms.is_none());
    let json = to_json(&r).unwrap();
    assert!(json.contains("\"ttft_ms\": null"), "{json}");
    assert!(to_markdown(&r).contains("Time to first token: not measured (no streamed request succeeded)."));
}

#[test]
fn cancelled_attempts_are_counted_per_endpoint() {
    // A hedge: a/x and b/y both run, b/y answers, a/x is called off.
    let mut log = Log::new();
    let r = req(0, 0);
    log.arrive(&r);
    log.start(0, &r, 1, A);
    log.start(100, &r, 2, B);
    log.attempt_ok(150, &r, 2, B, 10);
    log.agg.record(&Event::AttemptCancelled { at: 150, req: &r, attempt: 1, endpoint: A, usage: usage(3) });
    log.done(150, &r, Outcome::Succeeded, Some(B), Some(0.9));
    let report = log.report();
    for a in report.attempts.by_endpoint.values() {
        assert_eq!(a.attempts, a.succeeded + a.errors.values().sum::<u64>() + a.cancelled);
    }
    assert_eq!(report.attempts.by_endpoint["a/x"].cancelled, 1);
    assert_eq!(report.cost.wasted_usd, Nanodollars(3));
}

#[test]
fn classes_without_an_sla_are_named() {
    let mut log = Log::new();
    log.simple(0, 0, A, 10);
    let mut other = req(1, 5);
    other.class = Sym::from("batch");
    log.arrive(&other);
    log.done(20, &other, Outcome::Succeeded, Some(A), None);
    assert_eq!(log.report().sla.classes_without_sla, vec!["batch".to_string()]);
}

/// The fault-window log: an outage on a/x from 1 s to 5 s and an open-ended
/// hang on b/y from 6 s, with requests inside and around them.
fn window_log() -> Log {
    let mut log = Log::new();
    log.simple(0, 0, A, 50);
    log.window(A, 0, 1000, 5000);
    // X: a/x fails inside the window, the executor fails over at 1200 (detection).
    let x = req(1, 1100);
    log.arrive(&x);
    log.start(1100, &x, 1, A);
    log.attempt_err(1200, &x, 1, A, ErrorKind::Overloaded, 0);
    log.failover(1200, &x, A, B, ErrorKind::Overloaded);
    log.start(1200, &x, 2, B);
    log.attempt_ok(1300, &x, 2, B, 90_000_000);
    log.done(1300, &x, Outcome::Succeeded, Some(B), Some(0.9));
    // Y: tried a/x, then b/y, failed inside the window: counts.
    let y = req(2, 2000);
    log.arrive(&y);
    log.start(2000, &y, 1, A);
    log.attempt_err(2010, &y, 1, A, ErrorKind::Overloaded, 0);
    log.failover(2010, &y, A, B, ErrorKind::Overloaded);
    log.start(2010, &y, 2, B);
    // Z arrives while Y is in flight and fails without touching a/x: does not count.
    let z = req(3, 2100);
    log.arrive(&z);
    log.start(2100, &z, 1, B);
    log.attempt_err(2400, &y, 2, B, ErrorKind::ServerError, 0);
    log.done(2500, &y, Outcome::Failed(FailReason::Upstream(ErrorKind::ServerError)), None, None);
    log.attempt_err(3100, &z, 1, B, ErrorKind::ServerError, 0);
    log.done(3100, &z, Outcome::Failed(FailReason::Upstream(ErrorKind::ServerError)), None, None);
    // W tried a/x inside the window but failed after its end: does not count.
    let w = req(4, 4900);
    log.arrive(&w);
    log.start(4900, &w, 1, A);
    log.attempt_err(4950, &w, 1, A, ErrorKind::Overloaded, 0);
    log.done(5200, &w, Outcome::Failed(FailReason::Deadline), None, None);
    // a/x answers again at 5800: recovered 800 ms after the end.
    log.simple(5, 5500, A, 300);
    log.window(B, 0, 6000, u64::MAX);
    log.simple(6, 7000, A, 100);
    log
}

#[test]
fn fault_windows_report_detection_failures_and_recovery() {
    let r = window_log().report();
    assert_eq!(
        r.failover.windows,
        vec![
            FaultWindowSection {
                endpoint: "a/x".into(),
                fault: "outage".into(),
                rule: None,
                start_ms: 1000,
                end_ms: Some(5000),
                detected_after_ms: Some(200),
                failed_requests: 1,
                recovered_after_ms: Some(800),
            },
            FaultWindowSection {
                endpoint: "b/y".into(),
                fault: "hang".into(),
                rule: None,
                start_ms: 6000,
                end_ms: None,
                detected_after_ms: None,
                failed_requests: 0,
                recovered_after_ms: None,
            },
        ]
    );
    let json = to_json(&r).unwrap();
    assert!(json.contains("\"end_ms\": null"), "{json}");
}

#[test]
fn a_breaker_opening_counts_as_detection() {
    let mut log = Log::new();
    log.window(A, 0, 1000, 5000);
    log.agg.record(&Event::Breaker { at: 1700, endpoint: B, from: BreakerState::Closed, to: BreakerState::Open });
    log.agg.record(&Event::Breaker { at: 1800, endpoint: A, from: BreakerState::Closed, to: BreakerState::HalfOpen });
    log.agg.record(&Event::Breaker { at: 1900, endpoint: A, from: BreakerState::Closed, to: BreakerState::Open });
    let r = log.report();
    assert_eq!(r.failover.windows[0].detected_after_ms, Some(900));
    assert_eq!(r.failover.windows[0].recovered_after_ms, None);
}

#[test]
fn windows_are_listed_by_start_whatever_the_announcement_order() {
    let mut log = Log::new();
    // Both start before the next event; the sim announces them endpoint by endpoint.
    log.window(B, 0, 3000, 4000);
    log.window(A, 0, 2000, 5000);
    let starts: Vec<(String, u64)> =
        log.report().failover.windows.into_iter().map(|w| (w.endpoint, w.start_ms)).collect();
    assert_eq!(starts, [("a/x".to_string(), 2000), ("b/y".to_string(), 3000)]);
}

#[test]
fn routing_around_a_sole_first_choice_counts_as_detection() {
    let mut log = Log::new();
    let mut seq = 0;
    let mut next = |log: &mut Log, at: u64, e: EndpointIdx| {
        log.simple(seq, at, e, 10);
        seq += 1;
    };
    for i in 0..40 {
        next(&mut log, i * 20, A);
    }
    log.window(A, 0, 1000, 5000);
    // One request of another class goes elsewhere, then the policy comes back: not a detection.
    next(&mut log, 1050, B);
    next(&mut log, 1060, A);
    // From 1100 on the policy routes around a/x.
    for i in 0..10 {
        next(&mut log, 1100 + i * 10, B);
    }
    let r = log.report();
    assert_eq!(r.failover.windows[0].detected_after_ms, Some(100));
    // a/x answered inside the window (1060): that is not a recovery.
    assert_eq!(r.failover.windows[0].recovered_after_ms, None);
}

#[test]
fn routing_is_no_detection_for_a_split_policy() {
    let mut log = Log::new();
    for i in 0..40 {
        log.simple(i, i * 20, if i % 2 == 0 { A } else { B }, 10);
    }
    log.window(A, 0, 1000, 5000);
    for i in 0..20 {
        log.simple(40 + i, 1100 + i * 10, B, 10);
    }
    assert_eq!(log.report().failover.windows[0].detected_after_ms, None);
}

fn assert_spec() -> AssertSpec {
    AssertSpec {
        max_cost_usd: None,
        max_error_rate: None,
        max_sla_violation_rate: None,
        max_p99_ms: None,
        max_p95_ms: None,
        min_quality: None,
        max_policy_errors: 0,
        invariants: InvariantSelection::Only(Vec::new()),
    }
}

fn invariant(name: &str, violations: u64) -> InvariantEntry {
    InvariantEntry {
        name: name.into(),
        violations,
        examples: (0..violations)
            .map(|i| InvariantExample {
                request: format!("r{i}"),
                at_ms: 1000 + i,
                endpoint: Some("a/x".into()),
                detail: "attempt while the breaker was open".into(),
            })
            .collect(),
    }
}

#[test]
fn assertions_pass_at_the_boundary_and_fail_past_it() {
    let r = mixed_log().report();
    // Exactly at the report's figures: everything passes.
    let at = AssertSpec {
        max_cost_usd: Some(Nanodollars(600_000_006)),
        max_error_rate: Some(0.25),
        max_sla_violation_rate: Some(0.75),
        max_p99_ms: Some(r.latency_ms.p99),
        max_p95_ms: Some(r.latency_ms.p95),
        min_quality: Some(r.quality.mean),
        ..assert_spec()
    };
    let results = r.assertions_for(&at);
    let names: Vec<&str> = results.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "max_cost_usd",
            "max_error_rate",
            "max_sla_violation_rate",
            "max_p99_ms",
            "max_p95_ms",
            "min_quality",
            "max_policy_errors"
        ]
    );
    assert!(results.iter().all(|a| a.passed), "{results:?}");
    // One step past each: everything fails.
    let past = AssertSpec {
        max_cost_usd: Some(Nanodollars(600_000_005)),
        max_error_rate: Some(0.2499),
        max_sla_violation_rate: Some(0.7499),
        max_p99_ms: Some(r.latency_ms.p99 - 1),
        max_p95_ms: Some(r.latency_ms.p95 - 1),
        min_quality: Some(r.quality.mean + 1e-9),
        ..assert_spec()
    };
    let mut r = r;
    r.policy_errors = 1;
    let results = r.assertions_for(&past);
    assert_eq!(results.len(), 7);
    assert!(results.iter().all(|a| !a.passed), "{results:?}");
    assert_eq!(results[0].message(), "actual 0.600000006, limit 0.600000005");
    assert_eq!(results[1].message(), "actual 0.25, limit 0.2499");
    // The error rate counts failed requests only, not rejected ones (SPEC: failed / total).
    assert_eq!(results[1].actual, Figure::Real(0.25));
}

#[test]
fn a_thousandth_passes_a_limit_of_one_thousandth() {
    let mut r = mixed_log().report();
    r.outcomes.failed = 1;
    r.trace.requests = 1000;
    let spec = AssertSpec { max_error_rate: Some(0.001), ..assert_spec() };
    assert!(r.assertions_for(&spec)[0].passed);
}

#[test]
fn invariants_are_selected_and_ordered_as_spec_lists_them() {
    let mut r = mixed_log().report();
    r.set_invariants(vec![invariant("budget", 0), invariant("conservation", 2), invariant("deadline", 0)]);
    let names: Vec<&str> = r.invariants.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["conservation", "deadline", "budget"]);

    r.evaluate(&AssertSpec { max_p99_ms: Some(10_000), invariants: InvariantSelection::All, ..assert_spec() });
    let got: Vec<(&str, bool, Figure)> = r.assertions.iter().map(|a| (a.name.as_str(), a.passed, a.actual)).collect();
    assert_eq!(
        got,
        [
            ("max_p99_ms", true, Figure::Int(300)),
            ("max_policy_errors", true, Figure::Int(0)),
            ("invariant:conservation", false, Figure::Int(2)),
            ("invariant:deadline", true, Figure::Int(0)),
            ("invariant:budget", true, Figure::Int(0)),
        ]
    );
    assert!(r.assertions.iter().skip(1).all(|a| a.limit == Figure::Int(0)));
    assert!(!r.passed());

    let only = InvariantSelection::Only(vec!["budget".into(), "breaker_respected".into()]);
    r.evaluate(&AssertSpec { invariants: only, ..assert_spec() });
    let got: Vec<(&str, bool, Figure)> = r.assertions.iter().map(|a| (a.name.as_str(), a.passed, a.actual)).collect();
    // SPEC order; a selected invariant the checker did not report fails.
    assert_eq!(
        got,
        [
            ("max_policy_errors", true, Figure::Int(0)),
            ("invariant:breaker_respected", false, Figure::Missing),
            ("invariant:budget", true, Figure::Int(0))
        ]
    );
    let json = to_json(&r).unwrap();
    assert!(json.contains("\"actual\": null"), "{json}");

    // With nothing asked, only the always-on policy-error count is checked.
    r.evaluate(&assert_spec());
    assert!(r.assertions.len() == 1 && r.passed());
}

#[test]
fn assertion_figures_are_json_numbers() {
    let mut r = mixed_log().report();
    r.evaluate(&AssertSpec {
        max_cost_usd: Some(Nanodollars(1_000_000_000)),
        max_error_rate: Some(0.001),
        max_p99_ms: Some(5000),
        ..assert_spec()
    });
    let v: serde_json::Value = serde_json::from_str(&to_json(&r).unwrap()).unwrap();
    let a = &v["assertions"];
    assert_eq!(a[0]["name"], "max_cost_usd");
    assert_eq!(a[0]["actual"], serde_json::json!(0.600000006));
    assert_eq!(a[0]["limit"], serde_json::json!(1.0));
    assert_eq!(a[1]["actual"], serde_json::json!(0.25));
    assert_eq!(a[2]["limit"], serde_json::json!(5000));
    assert_eq!(a[1]["passed"], false);
}

#[test]
fn report_json_keeps_spec_keys_in_order() {
    let json = to_json(&window_log().report()).unwrap();
    let keys = [
        "\"schema_version\"",
        "\"scenario\"",
        "\"policy\"",
        "\"seed\"",
        "\"trace\"",
        "\"outcomes\"",
        "\"cost\"",
        "\"latency_ms\"",
        "\"ttft_ms\"",
        "\"sla\"",
        "\"attempts\"",
        "\"failover\"",
        "\"windows\"",
        "\"windows_total\"",
        "\"windows_omitted\"",
        "\"invariants\"",
        "\"assertions\"",
        "\"policy_errors\"",
        "\"quality\"",
    ];
    let positions: Vec<usize> = keys.iter().map(|k| json.find(k).unwrap_or_else(|| panic!("{k} missing"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert!(v.get("timeseries").is_none(), "chart series stay out of report.json (baselines stay small)");
    for k in ["endpoint", "fault", "start_ms", "end_ms", "detected_after_ms", "failed_requests", "recovered_after_ms"] {
        assert!(v["failover"]["windows"][0].get(k).is_some(), "{k}");
    }
    assert_eq!(
        (v["failover"]["windows_total"].as_u64(), v["failover"]["windows_omitted"].as_u64()),
        (Some(2), Some(0))
    );
}

/// A fault window every 2 ms, 5,000 of them: report.json lists the first
/// 1,000 and counts the rest, Markdown and HTML list 100 and say how many
/// more there are, and every output stays small.
#[test]
fn many_fault_windows_keep_every_output_bounded() {
    let mut log = Log::new();
    let n = 5000u64;
    for i in 0..n {
        log.window(A, 0, i * 2, i * 2 + 1);
        log.simple(i, i * 2, B, 1);
    }
    let r = log.report();
    let f = &r.failover;
    assert_eq!((f.windows.len(), f.windows_total, f.windows_omitted), (Report::MAX_LISTED_WINDOWS, n, 4000));
    assert!(f.windows.windows(2).all(|w| w[0].start_ms < w[1].start_ms), "by start time");
    assert_eq!(f.windows.last().map(|w| w.start_ms), Some(2 * (Report::MAX_LISTED_WINDOWS as u64 - 1)));
    let json = to_json(&r).unwrap();
    assert!(json.len() < 400_000, "report.json is {} bytes", json.len());
    assert!(json.contains("\"windows_total\": 5000,\n    \"windows_omitted\": 4000"), "{}", &json[json.len() - 2000..]);

    let md = to_markdown(&r);
    let rows = md.lines().filter(|l| l.starts_with("| `a/x` | outage |")).count();
    assert_eq!(rows, 100);
    assert!(md.contains("\n… 4,900 more windows (report.json lists the first 1,000 of 5,000).\n"), "{md}");
    assert!(md.len() < 40_000, "report.md is {} bytes", md.len());

    let html = to_html(&r);
    assert_eq!(html.matches("<tr><td><code>a/x</code></td><td>outage</td>").count(), 100);
    assert!(html.contains("<p class=\"note\">… 4,900 more windows (report.json lists the first 1,000 of 5,000).</p>"));
    // Overlapping windows share a band: at most one per pixel in each of the three charts.
    let bands = html.matches("<rect class=\"shade\"").count();
    assert!((3..=3 * 960).contains(&bands), "{bands} bands");
    assert!(html.contains(" fault windows: 0s – "), "a band's title counts its windows");
    assert!(html.len() < 1_000_000, "report.html is {} bytes", html.len());
    check_xml(html.split_once("<main>").unwrap().1.split_once("</main>").unwrap().0).unwrap();

    // Few windows: no note, one shaded band per window and chart as before.
    let few = evaluated();
    assert!(!to_markdown(&few).contains("more window"));
    assert_eq!(to_html(&few).matches("<rect class=\"shade\"").count(), 3 * 2);
}

/// A report with failing and passing assertions and invariants.
fn evaluated() -> Report {
    let mut r = window_log().report();
    r.set_invariants(vec![invariant("conservation", 0), invariant("breaker_respected", 2)]);
    r.evaluate(&AssertSpec {
        max_cost_usd: Some(Nanodollars(1_000_000_000)),
        max_p99_ms: Some(5000),
        invariants: InvariantSelection::All,
        ..assert_spec()
    });
    r
}

#[test]
fn markdown_opens_with_the_verdict() {
    let r = evaluated();
    let md = to_markdown(&r);
    assert!(md.contains("❌ **2 of 5 assertions failed:** `max_cost_usd`, `invariant:breaker_respected`."), "{md}");
    assert!(md.contains("## Assertions"));
    assert!(md.contains("| ❌ | `max_cost_usd` | 1.59 | 1.0 |"), "{md}");
    assert!(md.contains("| ❌ | `breaker_respected` | 2 | request `r0` at 1000 ms on `a/x`:"), "{md}");
    assert!(md.contains("| `a/x` | outage | 1s – 5s | 200 ms | 1 | 800 ms |"), "{md}");
    assert!(md.contains("| `b/y` | hang | 6s – end of run | never | 0 | — |"), "{md}");
    let mut ok = mixed_log().report();
    ok.evaluate(&AssertSpec { max_p99_ms: Some(5000), ..assert_spec() });
    assert!(to_markdown(&ok).contains("✅ **All 2 assertions passed.**"));
}

#[test]
fn html_is_self_contained_with_four_charts() {
    let html = to_html(&evaluated());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("http://") && !html.contains("https://"), "external reference");
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("@import"));
    assert!(!html.contains("url(http") && !html.contains("src="));
    for class in ["chart traffic", "chart cost", "chart latency", "chart distribution"] {
        assert_eq!(html.matches(&format!("<svg class=\"{class}\"")).count(), 1, "{class}");
    }
    // Fault windows are shaded, with their details on hover.
    assert!(html.contains("<title>outage on a/x: 1s – 5s; detected after 200 ms; 1 failed requests"), "{html}");
    assert!(html.contains("✗ 2 of 5 assertions failed"));
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    check_xml(html.split_once("<main>").unwrap().1.split_once("</main>").unwrap().0).unwrap();
}

#[test]
fn html_escapes_user_text() {
    let mut r = evaluated();
    let evil = "<script>alert(1)</script>";
    r.scenario = format!("{evil} & co");
    r.timeseries.endpoints[0] = evil.into();
    r.failover.windows[0].endpoint = evil.into();
    let a = r.attempts.by_endpoint.remove("a/x").unwrap();
    r.attempts.by_endpoint.insert(evil.into(), a);
    let html = to_html(&r);
    assert!(!html.contains("<script"), "unescaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
    check_xml(html.split_once("<main>").unwrap().1.split_once("</main>").unwrap().0).unwrap();
}

#[test]
fn junit_has_one_testcase_per_assertion() {
    let a = evaluated();
    let mut b = mixed_log().report();
    b.scenario = "b \"quoted\" <&>".into();
    b.evaluate(&AssertSpec { max_p99_ms: Some(5000), ..assert_spec() });
    let xml = to_junit(&[&a, &b]);
    let elements = check_xml(xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").unwrap()).unwrap();
    assert_eq!(elements.iter().filter(|e| *e == "testsuite").count(), 2);
    assert_eq!(elements.iter().filter(|e| *e == "testcase").count(), 7);
    assert_eq!(elements.iter().filter(|e| *e == "failure").count(), 2);
    assert!(xml.contains("<testsuites name=\"windtunnel\" tests=\"7\" failures=\"2\""));
    assert!(xml.contains("<testsuite name=\"unit [seed 7]\" tests=\"5\" failures=\"2\""));
    assert!(xml.contains(
        "<testcase classname=\"unit\" name=\"max_cost_usd\" time=\"0\">\n      <failure message=\"actual 1.59, \
         limit 1.0\""
    ));
    assert!(xml.contains("<testcase classname=\"unit\" name=\"max_p99_ms\" time=\"0\"/>"));
    assert!(xml.contains("classname=\"b &quot;quoted&quot; &lt;&amp;&gt;\""));
    assert!(xml.contains("request r1 at 1001 ms on a/x: attempt while the breaker was open"));
}

#[test]
fn github_output_annotates_failures_and_summarises() {
    let r = evaluated();
    let lines = to_github_annotations(&r);
    assert_eq!(
        lines.lines().next().unwrap(),
        "::error title=windtunnel unit::assertion max_cost_usd failed: actual 1.59, limit 1.0"
    );
    assert!(
        lines
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("(first: request r0 at 1000 ms on a/x: attempt while the breaker was open)")
    );
    assert_eq!(lines.lines().count(), 2);
    let mut ok = mixed_log().report();
    ok.scenario = "a: b, c".into();
    ok.evaluate(&AssertSpec { max_p99_ms: Some(1), ..assert_spec() });
    assert_eq!(
        to_github_annotations(&ok),
        "::error title=windtunnel a%3A b%2C c::assertion max_p99_ms failed: actual 300, limit 1\n"
    );
    let summary = to_github_summary(&[&r, &ok]);
    assert!(summary.contains("❌ **2 of 2 runs failed.**"), "{summary}");
    assert!(summary.contains("| ❌ | unit | 7 | 3/5 passed |"), "{summary}");
    assert!(summary.contains("### unit (seed 7)"));
    assert!(summary.contains("| `max_cost_usd` | 1.59 | 1.0 |"), "{summary}");
    assert!(!summary.contains("more run"), "{summary}");
    // One annotation with a note: the line `check --seeds` prints per assertion.
    let a = r.failed_assertions().next().unwrap();
    assert_eq!(
        to_github_annotation(&r, a, " (seed 7; failed on 2 of 3 seeds)"),
        "::error title=windtunnel unit::assertion max_cost_usd failed: actual 1.59, limit 1.0 (seed 7; failed on 2 \
         of 3 seeds)\n"
    );
}

/// `check --seeds 100000`: the summary keeps a row for the first runs of a
/// scenario (and its failing runs, as many again) and counts the rest.
#[test]
fn github_summary_of_many_runs_is_bounded() {
    let failing = evaluated();
    let mut passing = mixed_log().report();
    passing.evaluate(&AssertSpec { max_p99_ms: Some(5000), ..assert_spec() });
    let mut other = passing.clone();
    other.scenario = "other".into();
    let mut summary = GithubSummary::new();
    let runs = 10_000u64;
    for i in 0..runs {
        let mut r = if i % 100 == 99 { failing.clone() } else { passing.clone() };
        r.seed = i;
        summary.add(&r);
    }
    summary.add(&other);
    let md = summary.render();
    assert!(md.contains("❌ **100 of 10001 runs failed.**"), "{md}");
    let rows = |name: &str| {
        md.lines()
            .filter(|l| l.starts_with(&format!("| ✅ | {name} | ")) || l.starts_with(&format!("| ❌ | {name} | ")))
            .count()
    };
    // 50 first runs (none failing), then the failing ones up to 50 more, then the count row.
    assert_eq!(rows("unit"), SUMMARY_ROWS + SUMMARY_ROWS + 1, "{md}");
    assert!(md.contains("| ❌ | unit | … | and 9900 more runs not listed, 50 failed | | | | | |"), "{md}");
    assert_eq!(rows("other"), 1, "another scenario still has its row");
    assert_eq!(md.matches("\n### unit (seed ").count(), SUMMARY_ROWS);
    assert!(md.len() < 100_000, "{} bytes", md.len());
}

/// Scenario names are user text: no control character of theirs reaches a
/// line of the summary, the annotations or junit.xml raw.
#[test]
fn user_text_cannot_add_lines_to_ci_output() {
    let mut r = evaluated();
    r.scenario = "x\n::warning::forged\r\u{1b}[2K".into();
    r.invariants[1].examples[0].detail = "d\n::error::forged".into();
    let annotations = to_github_annotations(&r);
    assert_eq!(annotations.lines().count(), 2, "{annotations}");
    assert!(annotations.lines().all(|l| l.starts_with("::error title=windtunnel x%0A%3A%3Awarning%3A%3Aforged%0D")));
    let summary = to_github_summary(&[&r]);
    assert!(!summary.lines().any(|l| l.trim_start().starts_with("::")), "{summary}");
    assert!(
        !summary.contains('\u{1b}') && summary.contains("| ❌ | x ::warning::forged \\\\u{1b}\\[2K | 7 |"),
        "{summary}"
    );
    let mut suite = JunitSuite::of_report(&r);
    suite.cases.push(JunitCase {
        name: "a\nb".into(),
        failure: Some(JunitFailure { message: "m\nn".into(), details: vec!["d\ne".into()] }),
    });
    let xml = junit_document(&[suite]);
    assert!(!xml.contains("&#10;::") && !xml.contains("\n::") && !xml.contains('\u{1b}'), "{xml}");
    assert!(xml.contains("<testsuite name=\"x\\n::warning::forged\\r\\u{1b}[2K [seed 7]\""), "{xml}");
    assert!(
        xml.contains(
            "name=\"a\\nb\" time=\"0\">\n      <failure message=\"m\\nn\" type=\"assertion\">m\\nn&#10;d\\ne</failure>"
        ),
        "{xml}"
    );
    check_xml(xml.split_once("?>\n").unwrap().1).unwrap();
}

#[test]
fn renderers_are_byte_identical_across_runs() {
    let (a, b) = (evaluated(), evaluated());
    assert_eq!(to_json(&a).unwrap(), to_json(&b).unwrap());
    assert_eq!(to_markdown(&a), to_markdown(&b));
    assert_eq!(to_html(&a), to_html(&b));
    assert_eq!(to_junit(&[&a]), to_junit(&[&b]));
    assert_eq!(to_github_summary(&[&a]), to_github_summary(&[&b]));
}

#[test]
fn an_empty_run_renders() {
    let r = Log::new().report();
    assert!(r.timeseries.buckets.is_empty());
    let html = to_html(&r);
    assert!(html.contains("No data in this run."));
    check_xml(html.split_once("<main>").unwrap().1.split_once("</main>").unwrap().0).unwrap();
    assert!(to_markdown(&r).contains("No assertions were evaluated"));
    check_xml(to_junit(&[&r]).split_once("?>\n").unwrap().1).unwrap();
}

/// A small well-formedness check: balanced, properly nested elements, quoted
/// attributes, and only known entity or numeric character references. Returns
/// the element names in document order.
fn check_xml(doc: &str) -> Result<Vec<String>, String> {
    fn check_text(t: &str) -> Result<(), String> {
        if t.contains('<') {
            return Err(format!("stray `<` in {t:?}"));
        }
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let end = after.find(';').ok_or_else(|| format!("unterminated reference in {t:?}"))?;
            let name = &after[..end];
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos" | "nbsp")
                || name.strip_prefix('#').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if !ok {
                return Err(format!("bad reference &{name}; in {t:?}"));
            }
            rest = &after[end + 1..];
        }
        Ok(())
    }
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = doc;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open])?;
        rest = &rest[open + 1..];
        if let Some(after) = rest.strip_prefix('/') {
            let end = after.find('>').ok_or("unterminated end tag")?;
            let name = after[..end].trim();
            match stack.pop() {
                Some(top) if top == name => {}
                top => return Err(format!("</{name}> closes {top:?}")),
            }
            rest = &after[end + 1..];
            continue;
        }
        let name_end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').ok_or("unterminated tag")?;
        let name = rest[..name_end].to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
            return Err(format!("bad element name {name:?}"));
        }
        rest = &rest[name_end..];
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix("/>") {
                rest = r;
                break;
            }
            if let Some(r) = rest.strip_prefix('>') {
                rest = r;
                stack.push(name.clone());
                break;
            }
            let eq = rest.find('=').ok_or_else(|| format!("attribute without value in <{name}>"))?;
            let attr = rest[..eq].trim();
            if attr.is_empty() || !attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
                return Err(format!("bad attribute name {attr:?} in <{name}>"));
            }
            let value = rest[eq + 1..].strip_prefix('"').ok_or_else(|| format!("unquoted {attr} in <{name}>"))?;
            let close = value.find('"').ok_or("unterminated attribute")?;
            check_text(&value[..close])?;
            rest = &value[close + 1..];
        }
        names.push(name);
    }
    check_text(rest)?;
    match stack.pop() {
        None => Ok(names),
        Some(open) => Err(format!("<{open}> never closed")),
    }
}
