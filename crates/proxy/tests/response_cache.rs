//! The gateway response cache (`[cache]`) in live mode, against a wiremock
//! upstream: an identical non-streamed request within the TTL is answered
//! from the cache (the upstream is not called, the report counts a hit,
//! outcome `cached`, and what it saved), streamed or not; any difference in
//! the request, another tenant or an expired entry goes to the upstream,
//! and a streamed answer is not kept.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use windtunnel_proxy::{ProxyOptions, Running};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn proxy(server: &MockServer, ttl: &str) -> (Running, String) {
    proxy_with(server, &format!("ttl = \"{ttl}\"\nmax_entries = 100")).await
}

/// A proxy whose `[cache]` table holds `cache`.
async fn proxy_with(server: &MockServer, cache: &str) -> (Running, String) {
    let base = server.uri();
    let text = format!(
        r#"
name = "live-response-cache"
policy = {{ chain = ["w/a"] }}
[cache]
{cache}
[[endpoints]]
name = "w/a"
price = {{ input_per_mtok = 1, output_per_mtok = 2 }}
upstream = {{ kind = "openai", base_url = "{base}/a/v1", model = "m-a" }}
"#
    );
    let scenario = windtunnel_config::parse_scenario(&text, std::path::Path::new("rc.toml"), &[]).unwrap();
    let running = windtunnel_proxy::start(scenario, ProxyOptions::loopback()).await.unwrap();
    let base = format!("http://{}", running.addr);
    (running, base)
}

/// Posts a chat request; the answer's status, `x-windtunnel-attempts` and body.
async fn post(base: &str, body: serde_json::Value) -> (u16, String, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let attempts = r.headers().get("x-windtunnel-attempts").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (r.status().as_u16(), attempts, r.text().await.unwrap())
}

fn ask(question: &str, temperature: f64, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": "anything", "max_tokens": 50, "temperature": temperature, "stream": stream,
        "messages": [{"role": "user", "content": question}]
    })
}

async fn upstream() -> MockServer {
    let server = MockServer::start().await;
    let answer = serde_json::json!({
        "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    });
    Mock::given(method("POST"))
        .and(path("/a/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/a/v1/chat/completions"))
        .and(wiremock::matchers::body_string_contains("\"stream\":true"))
        .respond_with(ResponseTemplate::new(200).insert_header("content-type", "text/event-stream").set_body_string(
            "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Paris.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_identical_request_within_the_ttl_is_answered_from_the_cache() {
    let server = upstream().await;
    let (p, base) = proxy(&server, "1h").await;
    let first = post(&base, ask("Capital of France?", 0.0, false)).await;
    let again = post(&base, ask("Capital of France?", 0.0, false)).await;
    assert_eq!((first.0, first.1.as_str()), (200, "1"));
    // Served from the cache: no attempt, the same answer.
    assert_eq!((again.0, again.1.as_str()), (200, "0"));
    assert_eq!(again.2, first.2);
    // Another tenant has a cache of its own.
    let other = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-windtunnel-tenant", "globex")
        .body(ask("Capital of France?", 0.0, false).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(other.headers().get("x-windtunnel-attempts").unwrap(), "1");
    // Anything else that shapes the answer misses: another temperature, another question.
    post(&base, ask("Capital of France?", 0.7, false)).await;
    post(&base, ask("Capital of Spain?", 0.0, false)).await;
    // The same question streamed (usage asked for) is told from the kept answer.
    let mut streamed = ask("Capital of France?", 0.0, true);
    streamed["stream_options"] = serde_json::json!({"include_usage": true});
    let (status, attempts, sse) = post(&base, streamed).await;
    assert_eq!((status, attempts.as_str()), (200, "0"));
    assert!(sse.contains(r#""content":"Paris.""#) && sse.contains(r#""finish_reason":"stop""#), "{sse}");
    assert!(sse.contains(r#""prompt_tokens":11"#), "the usage chunk it asked for: {sse}");
    assert!(sse.ends_with("data: [DONE]\n\n"), "{sse}");
    // A streamed answer is not kept: the same question asked whole goes upstream.
    let (status, attempts, _) = post(&base, ask("Capital of Italy?", 0.0, true)).await;
    assert_eq!((status, attempts.as_str()), (200, "1"));
    let (_, attempts, _) = post(&base, ask("Capital of Italy?", 0.0, false)).await;
    assert_eq!(attempts, "1");
    assert_eq!(server.received_requests().await.unwrap().len(), 6, "all but the two repeats reached the upstream");
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("windtunnel_requests_total{outcome=\"cached\"} 2"), "{metrics}");
    let report = p.shutdown().await.unwrap();
    assert_eq!((report.outcomes.succeeded, report.outcomes.cached), (6, 2));
    assert_eq!((report.cache.hits, report.cache.hit_rate), (2, 2.0 / 8.0));
    // Each hit priced on w/a: 11 input at $1 and 7 output at $2 per Mtok.
    assert_eq!(report.cache.saved_usd.0, 2 * (11 * 1_000 + 7 * 2_000));
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
}

#[tokio::test]
async fn an_expired_answer_is_asked_for_again() {
    let server = upstream().await;
    let (p, base) = proxy(&server, "300ms").await;
    post(&base, ask("Capital of France?", 0.0, false)).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (_, attempts, _) = post(&base, ask("Capital of France?", 0.0, false)).await;
    assert_eq!(attempts, "1", "past the TTL the upstream answers again");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(p.shutdown().await.unwrap().cache.hits, 0);
}

/// `max_bytes` bounds the answers' bodies held: an answer larger than it is
/// not kept (both requests reach the upstream); one that fits is.
#[tokio::test]
async fn an_answer_over_max_bytes_is_not_kept() {
    for (max_bytes, second_attempts) in [(100, "1"), (100_000, "0")] {
        let server = upstream().await;
        let (p, base) = proxy_with(&server, &format!("ttl = \"1h\"\nmax_bytes = {max_bytes}")).await;
        let (status, attempts, body) = post(&base, ask("Capital of France?", 0.0, false)).await;
        assert_eq!((status, attempts.as_str()), (200, "1"), "{body}");
        assert!(body.len() > 100, "the answer is {} bytes", body.len());
        let (status, attempts, _) = post(&base, ask("Capital of France?", 0.0, false)).await;
        assert_eq!((status, attempts.as_str()), (200, second_attempts), "max_bytes {max_bytes}");
        // `/metrics` shows what the cache holds.
        let kept = second_attempts == "0";
        let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        let (entries, bytes) = if kept { (1, body.len()) } else { (0, 0) };
        for line in
            [format!("windtunnel_response_cache_entries {entries}"), format!("windtunnel_response_cache_bytes {bytes}")]
        {
            assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
        }
        let report = p.shutdown().await.unwrap();
        assert_eq!(report.cache.hits, u64::from(second_attempts == "0"), "max_bytes {max_bytes}");
    }
}

/// With `--record-prompts`, a recording says which requests were identical
/// (`prompt_hash`), so replaying it with `[cache]` prices a response cache
/// on the traffic actually served; without it, no hash is written.
#[tokio::test]
async fn a_recording_with_prompts_carries_prompt_hashes_a_replay_caches_on() {
    let server = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    for prompts in [true, false] {
        let served = dir.path().join(format!("served-{prompts}.jsonl"));
        let text = format!(
            r#"
name = "record"
policy = {{ chain = ["w/a"] }}
[[endpoints]]
name = "w/a"
price = {{ input_per_mtok = 1, output_per_mtok = 2 }}
upstream = {{ kind = "openai", base_url = "{}/a/v1", model = "m-a" }}
"#,
            server.uri()
        );
        let scenario = windtunnel_config::parse_scenario(&text, std::path::Path::new("rec.toml"), &[]).unwrap();
        let opts = ProxyOptions { record: Some((served.clone(), prompts)), ..ProxyOptions::loopback() };
        let p = windtunnel_proxy::start(scenario, opts).await.unwrap();
        let base = format!("http://{}", p.addr);
        for question in ["Capital of France?", "Capital of France?", "Capital of Spain?"] {
            assert_eq!(post(&base, ask(question, 0.0, false)).await.0, 200);
            // Apart, so the replay's first answer is in before the repeat.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        p.shutdown().await.unwrap();
        let lines: Vec<serde_json::Value> =
            std::fs::read_to_string(&served).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let hashes: Vec<Option<&serde_json::Value>> = lines.iter().map(|l| l.get("prompt_hash")).collect();
        if !prompts {
            assert!(hashes.iter().all(Option::is_none), "{lines:?}");
            continue;
        }
        assert!(hashes.iter().all(Option::is_some), "{lines:?}");
        assert_eq!(hashes[0], hashes[1]);
        assert_ne!(hashes[0], hashes[2]);
        // The recording replayed with a response cache: the repeat is a hit.
        let replay = format!(
            "name = \"replay\"\npolicy = {{ chain = [\"w/a\"] }}\n[cache]\nttl = \"1h\"\n[trace]\npath = \"{}\"\n[[endpoints]]\nname = \"w/a\"\nprice = {{ input_per_mtok = 1, output_per_mtok = 2 }}\nlatency = {{ ttft_ms = 5, tokens_per_s = 1000 }}\n",
            served.display()
        );
        let sim = windtunnel_config::parse_scenario(&replay, &dir.path().join("replay.toml"), &[]).unwrap();
        let report = windtunnel_harness::run(&sim, windtunnel_harness::RunOptions::default()).unwrap();
        assert_eq!((report.outcomes.succeeded, report.cache.hits), (2, 1));
    }
}
