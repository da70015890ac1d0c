//! Chaos injection end to end, in process: a healthy loopback upstream, the
//! proxy in front of it with chaos rules, and a plain HTTP client. Each test
//! checks that an injected fault meets the policy as a real failure (failed
//! over, or honestly reported), and that injections are counted in the
//! response header, `/metrics` and the live report.

#![expect(
    clippy::unwrap_used,
    clippy::disallowed_types,
    reason = "tests fail loudly; wall-clock bounds on live timeouts"
)]

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use windtunnel_proxy::{ChaosRules, ProxyOptions, Running};

/// Hits per endpoint path.
#[derive(Clone, Default)]
struct Hits(Arc<Mutex<BTreeMap<String, u32>>>);

impl Hits {
    fn of(&self, ep: &str) -> u32 {
        self.0.lock().unwrap().get(ep).copied().unwrap_or(0)
    }
}

fn chunk(text: &str) -> String {
    serde_json::json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    })
    .to_string()
}

/// A healthy upstream: a JSON answer, or a stream of six chunks and `[DONE]`.
async fn upstream(State(hits): State<Hits>, Path(ep): Path<String>, body: String) -> Response {
    *hits.0.lock().unwrap().entry(ep.clone()).or_insert(0) += 1;
    let stream = serde_json::from_str::<serde_json::Value>(&body).unwrap()["stream"].as_bool().unwrap_or(false);
    if stream {
        let mut events: Vec<String> = (0..6).map(|i| format!("data: {}\n\n", chunk(&format!("{ep}{i} ")))).collect();
        events.push("data: [DONE]\n\n".into());
        let body = Body::from_stream(futures_util::stream::iter(events.into_iter().map(Ok::<_, std::io::Error>)));
        return ([("content-type", "text/event-stream")], body).into_response();
    }
    let answer = serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("from {ep}")}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    });
    ([("content-type", "application/json")], answer.to_string()).into_response()
}

const ADMIN: &str = "admin-token-1";

struct Setup {
    running: Running,
    base: String,
    hits: Hits,
    record: tempfile::TempDir,
}

/// A proxy in front of endpoints `a` and `b` with these chaos rules (TOML),
/// an admin token when `admin`, and `--record` into a temporary folder. The
/// breakers never open, so every request's first attempt goes to `a`.
async fn setup(rules: &str, admin: bool) -> Setup {
    let hits = Hits::default();
    let app = Router::new().route("/{ep}/v1/chat/completions", post(upstream)).with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let text = format!(
        r#"
name = "chaos-test"
policy = {{ chain = ["test/a", "test/b"], attempt_timeout_ms = 500, ttft_timeout_ms = 400, stall_timeout_ms = 300, max_attempts = 2, breaker = {{ failure_rate = 1.0, min_requests = 1000000, consecutive_failures = 0 }} }}

[[endpoints]]
name = "test/a"
upstream = {{ kind = "openai", base_url = "http://{up}/a/v1" }}

[[endpoints]]
name = "test/b"
upstream = {{ kind = "openai", base_url = "http://{up}/b/v1" }}
"#
    );
    let scenario = windtunnel_config::parse_scenario(&text, std::path::Path::new("chaos.toml"), &[]).unwrap();
    let record = tempfile::tempdir().unwrap();
    let rules_path = record.path().join("rules.toml");
    std::fs::write(&rules_path, rules).unwrap();
    let chaos = ChaosRules::load(&rules_path, &scenario).unwrap();
    let opts = ProxyOptions {
        env: Box::new(move |k| (admin && k == "WINDTUNNEL_ADMIN_TOKEN").then(|| ADMIN.to_string())),
        record: Some((record.path().join("served.jsonl"), false)),
        chaos,
        ..ProxyOptions::loopback()
    };
    let running = windtunnel_proxy::start(scenario, opts).await.unwrap();
    let base = format!("http://{}", running.addr);
    Setup { running, base, hits, record }
}

fn body(stream: bool) -> String {
    serde_json::json!({
        "model": "anything", "stream": stream, "max_tokens": 50,
        "messages": [{"role": "user", "content": "Say hello."}]
    })
    .to_string()
}

/// What a client got: status, the chaos header, the endpoint, the body.
#[derive(Debug)]
struct Got {
    status: u16,
    id: String,
    chaos: String,
    endpoint: String,
    text: String,
}

async fn call(base: &str, id: &str, stream: bool, force: Option<&str>) -> Got {
    let mut rb = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-windtunnel-request-id", id)
        .body(body(stream));
    if let Some(rule) = force {
        rb = rb.header("x-windtunnel-chaos", rule);
    }
    let r = rb.send().await.unwrap();
    let h = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (status, id, chaos, endpoint) =
        (r.status().as_u16(), h("x-windtunnel-request-id"), h("x-windtunnel-chaos"), h("x-windtunnel-endpoint"));
    let text = r.text().await.unwrap();
    Got { status, id, chaos, endpoint, text }
}

fn complete(g: &Got, stream: bool) -> bool {
    g.status == 200 && (!stream || g.text.trim_end().ends_with("data: [DONE]"))
}

/// An honest error: an error status, or a stream that ends with an error event and no `[DONE]`.
fn honest_error(g: &Got) -> bool {
    g.status >= 400 || (g.text.contains("\"error\"") && !g.text.contains("[DONE]"))
}

async fn metrics(base: &str) -> String {
    reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifth_of_the_traffic_meets_the_fault_and_none_is_lost_or_answered_twice() {
    let s = setup(
        r#"
[[rule]]
name = "a-503"
match = { endpoint = "test/a" }
probability = 0.2
fault = { kind = "status", status = 503 }
"#,
        false,
    )
    .await;
    let n = 400;
    let mut tasks = Vec::new();
    for i in 0..n {
        let base = s.base.clone();
        tasks.push(tokio::spawn(async move { call(&base, &format!("req-{i}"), i % 2 == 0, None).await }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    // Client side: every request answered once, with its own id, whole.
    let ids: BTreeSet<&str> = got.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids.len(), n, "every request id answered exactly once");
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.id, format!("req-{i}"));
        assert!(complete(g, i % 2 == 0), "an injected 503 is failed over unseen: {g:?}");
        if g.chaos.is_empty() {
            assert_eq!(g.endpoint, "test/a", "{g:?}");
        } else {
            assert_eq!((g.chaos.as_str(), g.endpoint.as_str()), ("a-503", "test/b"), "{g:?}");
        }
    }
    let marked = got.iter().filter(|g| !g.chaos.is_empty()).count() as u64;
    let text = metrics(&s.base).await;
    let report = s.running.shutdown().await.unwrap();
    // The proxy's side: the recorded trace has the same ids, once each.
    let served = std::fs::read_to_string(s.record.path().join("served.jsonl")).unwrap();
    let recorded: Vec<String> = served
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(recorded.len(), n);
    assert_eq!(recorded.iter().map(String::as_str).collect::<BTreeSet<_>>(), ids);
    // The injected share is the rule's probability, within five standard deviations.
    let chaos = report.chaos.clone().unwrap();
    let on_a = report.attempts.by_endpoint["test/a"].attempts;
    let expected = on_a as f64 * 0.2;
    let sd = (on_a as f64 * 0.2 * 0.8).sqrt();
    assert!(
        (chaos.injected as f64 - expected).abs() <= 5.0 * sd,
        "injected {} of {on_a} attempts on a",
        chaos.injected
    );
    assert_eq!(chaos.injected, marked, "every injection is named in x-windtunnel-chaos");
    assert_eq!(chaos.by_rule["a-503"], chaos.injected);
    assert_eq!(chaos.by_kind["status"], chaos.injected);
    assert_eq!(u64::from(s.hits.of("a")), on_a - chaos.injected, "a status fault answers without calling the upstream");
    assert_eq!(report.outcomes.succeeded, n as u64);
    assert_eq!(report.failover.by_reason.get("overloaded").copied().unwrap_or(0), chaos.injected);
    assert!(
        text.contains(&format!("windtunnel_chaos_injected_total{{rule=\"a-503\",kind=\"status\"}} {}", chaos.injected)),
        "{text}"
    );
    // The rule's active period is a fault window on the endpoint it matches.
    let w = &report.failover.windows;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].endpoint.as_str(), w[0].fault.as_str(), w[0].rule.as_deref()),
        ("test/a", "status", Some("a-503"))
    );
    assert_eq!(w[0].end_ms, None, "the rule was in force to the end");
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
}

const FORCED_ONLY: &str = r#"
[[rule]]
name = "r429"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "status", status = 429, retry_after = "1s" }
[[rule]]
name = "reset"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "reset" }
[[rule]]
name = "hang"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "hang" }
[[rule]]
name = "delay"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "delay", ms = 150 }
[[rule]]
name = "slow-first"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "ttft_delay", ms = 150 }
[[rule]]
name = "late-first"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "ttft_delay", ms = 2000 }
[[rule]]
name = "short-stall"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "stall", after_tokens = 2, ms = 100 }
[[rule]]
name = "long-stall"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "stall", after_tokens = 2, ms = 5000 }
[[rule]]
name = "cut-3"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "stream_cut", after_tokens = 3 }
[[rule]]
name = "cut-0"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "stream_cut" }
[[rule]]
name = "garbled"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "malformed" }
[[rule]]
name = "garbled-late"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "malformed", after_tokens = 2 }
[[rule]]
name = "no-done"
match = { endpoint = "test/a" }
probability = 0.0
fault = { kind = "no_done" }
"#;

/// How a forced fault must end for the client.
#[derive(Debug, PartialEq)]
enum Expect {
    /// Served whole by `a` anyway (the fault only slowed it).
    ServedByA,
    /// Failed over unseen: served whole by `b`.
    FailedOver,
    /// Cut after the first byte: an honest error, no `[DONE]`.
    HonestError,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_meets_the_policy_as_a_real_failure() {
    let s = setup(FORCED_ONLY, false).await;
    use Expect::*;
    let cases: [(&str, bool, Expect, &str); 17] = [
        ("r429", false, FailedOver, "rate_limited"),
        ("reset", false, FailedOver, "connection"),
        ("reset", true, FailedOver, "connection"),
        ("hang", false, FailedOver, "timeout"),
        ("delay", false, ServedByA, ""),
        ("slow-first", true, ServedByA, ""),
        ("late-first", true, FailedOver, "timeout"),
        ("short-stall", true, ServedByA, ""),
        ("long-stall", true, HonestError, "stream_cut"),
        ("cut-3", true, HonestError, "stream_cut"),
        ("cut-0", true, FailedOver, "connection"),
        ("cut-0", false, FailedOver, "connection"),
        ("garbled", true, FailedOver, "malformed"),
        ("garbled-late", true, HonestError, "malformed"),
        ("garbled", false, FailedOver, "malformed"),
        ("no-done", true, HonestError, "stream_cut"),
        ("long-stall", false, FailedOver, "timeout"),
    ];
    for (i, (rule, stream, expect, kind)) in cases.iter().enumerate() {
        let started = Instant::now();
        let g = call(&s.base, &format!("f{i}"), *stream, Some(rule)).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{rule}: bounded time, took {took:?}");
        assert_eq!(g.chaos, *rule, "{rule}: named in x-windtunnel-chaos");
        match expect {
            ServedByA => {
                assert!(complete(&g, *stream) && g.endpoint == "test/a", "{rule} stream={stream}: {g:?}");
                assert!(took >= Duration::from_millis(100), "{rule}: the fault slowed it ({took:?})");
            }
            FailedOver => assert!(complete(&g, *stream) && g.endpoint == "test/b", "{rule} stream={stream}: {g:?}"),
            HonestError => {
                assert!(honest_error(&g), "{rule}: {g:?}");
                assert!(g.text.contains(kind), "{rule}: the error names the failure `{kind}`: {}", g.text);
            }
        }
        // Let a 429's Retry-After and a stall's held connection pass before the next case.
        if *rule == "r429" {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
    }
    let report = s.running.shutdown().await.unwrap();
    let a = &report.attempts.by_endpoint["test/a"];
    for (_, _, expect, kind) in &cases {
        if *expect != ServedByA {
            assert!(a.errors.get(*kind).copied().unwrap_or(0) > 0, "a's `{kind}` errors: {:?}", a.errors);
        }
    }
    let chaos = report.chaos.unwrap();
    assert_eq!(chaos.injected, cases.len() as u64);
    assert_eq!(chaos.by_kind["stall"], 3);
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_chaos_api_needs_the_token_and_keeps_the_old_rules_on_a_bad_set() {
    let s = setup("", true).await;
    let http = reqwest::Client::new();
    let url = format!("{}/admin/chaos", s.base);
    // No token, a wrong token: 401, for every verb.
    for token in [None, Some("wrong")] {
        for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let mut rb = http.request(method.clone(), &url).body("[]");
            if let Some(t) = token {
                rb = rb.bearer_auth(t);
            }
            assert_eq!(rb.send().await.unwrap().status().as_u16(), 401, "{method} with {token:?}");
        }
    }
    let get = || async {
        let text = http.get(&url).bearer_auth(ADMIN).send().await.unwrap().text().await.unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    assert_eq!(get().await, serde_json::json!({"rule": []}));
    let rules = serde_json::json!({"rule": [{
        "name": "b-hang", "match": {"endpoint": "test/b", "header": "x-canary"}, "probability": 1.0,
        "fault": {"kind": "hang"}
    }]});
    let put = http.put(&url).bearer_auth(ADMIN).body(rules.to_string()).send().await.unwrap();
    assert_eq!(put.status().as_u16(), 200);
    assert_eq!(get().await["rule"][0]["name"], "b-hang");
    // Malformed sets are refused with what is wrong; the old rules stay.
    for (bad, says) in [
        ("{\"rule\": [", "EOF while parsing"),
        ("[{\"name\": \"x\", \"fault\": {\"kind\": \"explode\"}}]", "unknown variant `explode`"),
        ("[{\"name\": \"x\", \"probability\": 2, \"fault\": {\"kind\": \"hang\"}}]", "probability: found 2"),
        ("[{\"name\": \"x\", \"match\": {\"endpoint\": \"test/zz\"}, \"fault\": {\"kind\": \"hang\"}}]", "test/zz"),
    ] {
        let r = http.put(&url).bearer_auth(ADMIN).body(bad).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{bad}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says) && text.contains("the old ones stay"), "{bad}: {text}");
        assert_eq!(get().await["rule"][0]["name"], "b-hang", "{bad}");
    }
    // The rule hits only requests with the header.
    let plain = call(&s.base, "p1", false, None).await;
    assert!(plain.chaos.is_empty() && plain.endpoint == "test/a", "{plain:?}");
    let del = http.delete(&url).bearer_auth(ADMIN).send().await.unwrap();
    let del: serde_json::Value = serde_json::from_str(&del.text().await.unwrap()).unwrap();
    assert_eq!(del, serde_json::json!({"rule": []}));
    let report = s.running.shutdown().await.unwrap();
    let w = &report.failover.windows;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!((w[0].endpoint.as_str(), w[0].rule.as_deref()), ("test/b", Some("b-hang")));
    assert!(w[0].end_ms.is_some_and(|e| e >= w[0].start_ms), "DELETE ended the window: {w:?}");

    // Without an admin token configured, the routes do not exist.
    let s = setup("", false).await;
    for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
        let r = http.request(method.clone(), format!("{}/admin/chaos", s.base)).bearer_auth(ADMIN).body("[]");
        assert_eq!(r.send().await.unwrap().status().as_u16(), 404, "{method}");
    }
    s.running.shutdown().await.unwrap();
}
