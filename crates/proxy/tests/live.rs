//! The proxy end to end, in process: a loopback upstream that breaks on
//! purpose (scripted answers per endpoint), the proxy in front of it, and a
//! plain HTTP client. Each test checks what the client gets, what the
//! upstream saw (no retry of a fatal error, no hammering) and the live
//! report's invariants.

#![expect(
    clippy::unwrap_used,
    clippy::disallowed_types,
    reason = "tests fail loudly; a wall-clock bound on a live timeout"
)]

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use windtunnel_proxy::{ProxyOptions, Running};

/// One scripted answer.
#[derive(Clone, Debug)]
enum Answer {
    /// A JSON answer with this status and extra headers.
    Json(u16, String, Vec<(&'static str, String)>),
    /// A stream of these chunk texts, then `[DONE]` (or not, then the connection closes).
    Stream(Vec<String>, bool),
    /// Never answers.
    Hang,
    /// Raw server-sent-event text, sent as is, then the connection closes.
    Raw(String),
    /// These chunks, then silence for an hour.
    Stall(Vec<String>),
    /// The first chunk only after this long, then the rest.
    Late(Duration, Vec<String>),
    /// One chunk every `Duration`, for ever.
    Slow(Duration),
}

fn ok_json(text: &str) -> Answer {
    Answer::Json(
        200,
        serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
        })
        .to_string(),
        Vec::new(),
    )
}

fn error_json(status: u16, code: &str, message: &str) -> Answer {
    Answer::Json(
        status,
        serde_json::json!({"error": {"message": message, "type": code, "code": code}}).to_string(),
        Vec::new(),
    )
}

/// Per endpoint path: the answers in order (the last repeats), and the hits.
#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<BTreeMap<String, Vec<Answer>>>>,
    hits: Arc<Mutex<BTreeMap<String, u32>>>,
    auth: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<(String, String)>>>,
}

impl Script {
    fn set(&self, ep: &str, answers: Vec<Answer>) {
        self.answers.lock().unwrap().insert(ep.to_string(), answers);
    }
    fn hits(&self, ep: &str) -> u32 {
        self.hits.lock().unwrap().get(ep).copied().unwrap_or(0)
    }
}

fn chunk(text: &str) -> String {
    serde_json::json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    })
    .to_string()
}

async fn upstream(State(s): State<Script>, Path(ep): Path<String>, headers: HeaderMap, body: String) -> Response {
    s.bodies.lock().unwrap().push((ep.clone(), body));
    let n = {
        let mut hits = s.hits.lock().unwrap();
        let h = hits.entry(ep.clone()).or_insert(0);
        *h += 1;
        *h
    };
    if let Some(a) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        s.auth.lock().unwrap().push(a.to_string());
    }
    let answer = {
        let answers = s.answers.lock().unwrap();
        let list = answers.get(&ep).cloned().unwrap_or_default();
        list.get((n as usize - 1).min(list.len().saturating_sub(1))).cloned().unwrap_or_else(|| ok_json("default"))
    };
    match answer {
        Answer::Json(status, body, extra) => {
            let mut r =
                (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], body).into_response();
            for (k, v) in extra {
                r.headers_mut().insert(k, v.parse().unwrap());
            }
            r
        }
        Answer::Stream(chunks, done) => {
            let mut events: Vec<Result<String, std::io::Error>> =
                chunks.iter().map(|c| Ok(format!("data: {}\n\n", chunk(c)))).collect();
            if done {
                events.push(Ok("data: [DONE]\n\n".to_string()));
            } else {
                events.push(Err(std::io::Error::other("cut")));
            }
            // Paced, so that every chunk is on the wire before a cut.
            let body = Body::from_stream(futures_util::stream::unfold(events.into_iter(), |mut it| async move {
                let next = it.next()?;
                tokio::time::sleep(Duration::from_millis(2)).await;
                Some((next, it))
            }));
            ([("content-type", "text/event-stream")], body).into_response()
        }
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
        Answer::Raw(text) => ([("content-type", "text/event-stream")], text).into_response(),
        Answer::Slow(every) => {
            let body = Body::from_stream(futures_util::stream::unfold(0u32, move |i| async move {
                tokio::time::sleep(every).await;
                Some((Ok::<_, std::io::Error>(format!("data: {}\n\n", chunk(&format!("t{i} ")))), i + 1))
            }));
            ([("content-type", "text/event-stream")], body).into_response()
        }
        Answer::Late(wait, chunks) => {
            let mut events: Vec<String> = chunks.iter().map(|c| format!("data: {}\n\n", chunk(c))).collect();
            events.push("data: [DONE]\n\n".to_string());
            let body = Body::from_stream(futures_util::stream::unfold(
                (events.into_iter(), Some(wait)),
                |(mut it, wait)| async move {
                    if let Some(w) = wait {
                        tokio::time::sleep(w).await;
                    }
                    it.next().map(|e| (Ok::<_, std::io::Error>(e), (it, None)))
                },
            ));
            ([("content-type", "text/event-stream")], body).into_response()
        }
        Answer::Stall(chunks) => {
            let events: Vec<String> = chunks.iter().map(|c| format!("data: {}\n\n", chunk(c))).collect();
            let body = Body::from_stream(futures_util::stream::unfold(events.into_iter(), |mut it| async move {
                match it.next() {
                    Some(e) => Some((Ok::<_, std::io::Error>(e), it)),
                    None => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        None
                    }
                }
            }));
            ([("content-type", "text/event-stream")], body).into_response()
        }
    }
}

async fn serve_upstream(script: Script) -> SocketAddr {
    let app = Router::new().route("/{ep}/v1/chat/completions", post(upstream)).with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

const CANARY: &str = "sk-canary-7f3a9c";

/// A proxy in front of endpoints `a` and `b` of the fake upstream.
async fn proxy(script: &Script, policy: &str, admin: Option<&str>) -> (Running, String) {
    let up = serve_upstream(script.clone()).await;
    let text = format!(
        r#"
name = "live-test"
policy = {policy}

[sla.default]
latency_ms = 30000

[[endpoints]]
name = "test/a"
upstream = {{ kind = "openai", base_url = "http://{up}/a/v1", api_key_env = "KEY_A" }}

[[endpoints]]
name = "test/b"
upstream = {{ kind = "openai", base_url = "http://{up}/b/v1", api_key_env = "KEY_A" }}
"#
    );
    let scenario = windtunnel_config::parse_scenario(&text, std::path::Path::new("live.toml"), &[]).unwrap();
    let admin = admin.map(str::to_string);
    let env = move |k: &str| match k {
        "KEY_A" => Some(CANARY.to_string()),
        "WINDTUNNEL_ADMIN_TOKEN" => admin.clone(),
        _ => None,
    };
    let opts = ProxyOptions { env: Box::new(env), ..ProxyOptions::loopback() };
    let running = windtunnel_proxy::start(scenario, opts).await.unwrap();
    let base = format!("http://{}", running.addr);
    (running, base)
}

const CHAIN: &str =
    r#"{ chain = ["test/a", "test/b"], attempt_timeout_ms = 2000, ttft_timeout_ms = 1000, stall_timeout_ms = 1000 }"#;

fn body(stream: bool) -> String {
    serde_json::json!({
        "model": "anything", "stream": stream, "max_tokens": 50,
        "messages": [{"role": "user", "content": "Say hello."}]
    })
    .to_string()
}

async fn post_chat(base: &str, stream: bool) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-windtunnel-request-id", "r-test")
        .body(body(stream))
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_json_answer_passes_through_with_its_headers() {
    let s = Script::default();
    s.set("a", vec![ok_json("hello from a")]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        (header(&r, "x-windtunnel-endpoint"), header(&r, "x-windtunnel-attempts")),
        ("test/a".into(), "1".into())
    );
    assert_eq!(header(&r, "x-windtunnel-request-id"), "r-test");
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hello from a");
    assert_eq!(s.auth.lock().unwrap().first().map(String::as_str), Some(&*format!("Bearer {CANARY}")));
    let report = p.shutdown().await.unwrap();
    assert_eq!(report.outcomes.succeeded, 1);
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
    // Usage from the upstream's answer: 12 in, 5 out.
    assert!(report.cost.total_usd.0 >= 0);
}

#[tokio::test]
async fn a_429_with_retry_after_fails_over_unseen_and_holds_the_endpoint_off() {
    let s = Script::default();
    s.set(
        "a",
        vec![Answer::Json(
            429,
            serde_json::json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}).to_string(),
            vec![("retry-after", "30".to_string())],
        )],
    );
    s.set("b", vec![ok_json("hello from b")]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        (header(&r, "x-windtunnel-endpoint"), header(&r, "x-windtunnel-attempts")),
        ("test/b".into(), "2".into())
    );
    // The next requests skip `a` while its Retry-After runs: no hammering.
    for _ in 0..5 {
        assert_eq!(post_chat(&base, false).await.status(), 200);
    }
    assert_eq!(s.hits("a"), 1, "a 429'd once and was left alone for 30 s");
    let report = p.shutdown().await.unwrap();
    assert_eq!(report.outcomes.succeeded, 6);
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
}

#[tokio::test]
async fn a_500_once_fails_over_and_a_context_length_400_is_not_retried() {
    let s = Script::default();
    s.set("a", vec![error_json(500, "server_error", "boom"), ok_json("a recovered")]);
    s.set("b", vec![ok_json("hello from b")]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, false).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-windtunnel-endpoint")), (200, "test/b".into()));
    p.shutdown().await.unwrap();

    let s = Script::default();
    s.set("a", vec![error_json(400, "context_length_exceeded", "This model's maximum context length is 8192 tokens")]);
    s.set("b", vec![error_json(400, "context_length_exceeded", "This model's maximum context length is 8192 tokens")]);
    let (p, base) = proxy(&s, r#"{ chain = ["test/a", "test/b"], max_attempts = 4 }"#, None).await;
    let r = post_chat(&base, false).await;
    assert_eq!(r.status(), 400, "a context-length 400 stays a 400");
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("maximum context length"), "{v}");
    assert_eq!(s.hits("a"), 1, "never retried on the endpoint that refused");
    let report = p.shutdown().await.unwrap();
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
}

#[tokio::test]
async fn when_every_endpoint_is_down_the_client_gets_an_honest_error() {
    let s = Script::default();
    s.set("a", vec![error_json(503, "overloaded", "Service Unavailable")]);
    s.set("b", vec![error_json(503, "overloaded", "Service Unavailable")]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, false).await;
    assert_eq!(r.status(), 503);
    let text = r.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["error"]["message"].is_string() && v["error"]["type"].is_string(), "{v}");
    assert!(!text.contains(CANARY));
    p.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_cut_by_the_timeout_and_failed_over() {
    let s = Script::default();
    s.set("a", vec![Answer::Hang]);
    s.set("b", vec![ok_json("hello from b")]);
    let (p, base) = proxy(&s, r#"{ chain = ["test/a", "test/b"], attempt_timeout_ms = 300 }"#, None).await;
    let started = std::time::Instant::now();
    let r = post_chat(&base, false).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-windtunnel-endpoint")), (200, "test/b".into()));
    assert!(started.elapsed() < Duration::from_secs(5));
    p.shutdown().await.unwrap();
}

async fn read_sse(r: reqwest::Response) -> String {
    r.text().await.unwrap_or_default()
}

#[tokio::test]
async fn a_stream_arrives_whole_with_done() {
    let s = Script::default();
    s.set("a", vec![Answer::Stream(vec!["Hel".into(), "lo".into()], true)]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, true).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-windtunnel-endpoint"), "test/a");
    let text = read_sse(r).await;
    assert!(text.contains("\"Hel\"") && text.contains("\"lo\""), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let report = p.shutdown().await.unwrap();
    assert_eq!(report.outcomes.succeeded, 1);
}

#[tokio::test]
async fn a_stream_that_fails_before_its_first_byte_fails_over_unseen() {
    let s = Script::default();
    s.set("a", vec![error_json(503, "overloaded", "busy")]);
    s.set("b", vec![Answer::Stream(vec!["from b".into()], true)]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, true).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-windtunnel-endpoint")), (200, "test/b".into()));
    let text = read_sse(r).await;
    assert!(text.contains("from b") && text.trim_end().ends_with("data: [DONE]"), "{text}");
    p.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stream_cut_after_its_first_byte_ends_with_an_error_event_and_no_done() {
    let s = Script::default();
    s.set("a", vec![Answer::Stream((0..40).map(|i| format!("t{i} ")).collect(), false)]);
    s.set("b", vec![Answer::Stream(vec!["never".into()], true)]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, true).await;
    assert_eq!(r.status(), 200);
    let text = read_sse(r).await;
    assert!(text.contains("t39"), "the 40 tokens arrived: {text}");
    assert!(!text.contains("data: [DONE]"), "a cut answer never looks complete: {text}");
    assert!(text.contains("\"error\"") && text.contains("stream_cut"), "{text}");
    assert!(!text.contains("never"), "no silent restart on another endpoint");
    assert_eq!(s.hits("b"), 0);
    let report = p.shutdown().await.unwrap();
    assert_eq!(report.outcomes.failed, 1);
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
}

#[tokio::test]
async fn keys_never_leak_and_admin_routes_need_the_token() {
    let s = Script::default();
    s.set("a", vec![error_json(401, "invalid_api_key", "Incorrect API key provided")]);
    s.set("b", vec![error_json(401, "invalid_api_key", "Incorrect API key provided")]);
    let (p, base) = proxy(&s, CHAIN, Some("admin-secret")).await;
    let r = post_chat(&base, false).await;
    let text = r.text().await.unwrap();
    assert!(!text.contains(CANARY), "{text}");
    let client = reqwest::Client::new();
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("windtunnel_attempts_total{endpoint=\"test/a\",result=\"auth\"} 1"), "{metrics}");
    assert!(!metrics.contains(CANARY));
    let no = client.get(format!("{base}/admin/report")).send().await.unwrap();
    assert_eq!(no.status(), 401);
    let wrong = client.get(format!("{base}/admin/report")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = client.get(format!("{base}/admin/report")).bearer_auth("admin-secret").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let report = ok.text().await.unwrap();
    assert!(report.contains("\"scenario\": \"live-test\"") && !report.contains(CANARY), "{report}");
    let models = client.get(format!("{base}/v1/models")).send().await.unwrap().text().await.unwrap();
    assert!(models.contains("test/a"));
    p.shutdown().await.unwrap();

    // Without an admin token the admin routes do not exist.
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = client.get(format!("{base}/admin/report")).bearer_auth("admin-secret").send().await.unwrap();
    assert_eq!(r.status(), 404);
    p.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_public_address_without_client_keys_is_refused() {
    let text = r#"
name = "exposed"
policy = { chain = ["test/a"] }
[[endpoints]]
name = "test/a"
upstream = { kind = "openai", base_url = "http://127.0.0.1:9/v1" }
"#;
    let scenario = windtunnel_config::parse_scenario(text, std::path::Path::new("x.toml"), &[]).unwrap();
    let opts = ProxyOptions { listen: Some("0.0.0.0:0".into()), ..ProxyOptions::loopback() };
    let e = windtunnel_proxy::start(scenario, opts).await.unwrap_err();
    assert!(e.to_string().contains("refusing to listen on 0.0.0.0:0 without client keys"), "{e}");
}

#[tokio::test]
async fn a_stall_mid_stream_is_cut_by_the_stall_timeout_with_an_error_event() {
    let s = Script::default();
    s.set("a", vec![Answer::Stall(vec!["partial ".into(), "answer".into()])]);
    let (p, base) = proxy(&s, r#"{ chain = ["test/a", "test/b"], stall_timeout_ms = 300 }"#, None).await;
    let started = std::time::Instant::now();
    let text = read_sse(post_chat(&base, true).await).await;
    assert!(started.elapsed() < Duration::from_secs(5), "bounded by the stall timeout");
    assert!(text.contains("partial") && !text.contains("data: [DONE]") && text.contains("stream_cut"), "{text}");
    p.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_malformed_chunk_or_a_missing_done_is_never_presented_as_complete() {
    // Malformed before anything was forwarded: failed over, unseen.
    let s = Script::default();
    s.set("a", vec![Answer::Raw("data: {not json\n\n".into())]);
    s.set("b", vec![Answer::Stream(vec!["fine".into()], true)]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, true).await;
    assert_eq!(header(&r, "x-windtunnel-endpoint"), "test/b");
    let text = read_sse(r).await;
    assert!(text.contains("fine") && text.trim_end().ends_with("data: [DONE]"), "{text}");
    p.shutdown().await.unwrap();

    // A stream that ends cleanly but without [DONE] after its first token.
    let s = Script::default();
    s.set("a", vec![Answer::Raw(format!("data: {}\n\n", chunk("half an answer")))]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let text = read_sse(post_chat(&base, true).await).await;
    assert!(text.contains("half an answer") && !text.contains("data: [DONE]") && text.contains("\"error\""), "{text}");
    let report = p.shutdown().await.unwrap();
    assert_eq!((report.outcomes.failed, report.outcomes.succeeded), (1, 0));
}

#[tokio::test]
async fn usage_and_cost_come_from_the_answer_that_served_after_a_failover() {
    let s = Script::default();
    s.set("a", vec![error_json(500, "server_error", "boom")]);
    s.set("b", vec![ok_json("from b")]);
    let up = serve_upstream(s.clone()).await;
    let text = format!(
        r#"
name = "priced"
policy = {{ chain = ["test/a", "test/b"] }}
[[endpoints]]
name = "test/a"
price = {{ input_per_mtok = 1000, output_per_mtok = 1000 }}
upstream = {{ kind = "openai", base_url = "http://{up}/a/v1" }}
[[endpoints]]
name = "test/b"
price = {{ input_per_mtok = 2, output_per_mtok = 10 }}
upstream = {{ kind = "openai", base_url = "http://{up}/b/v1" }}
"#
    );
    let scenario = windtunnel_config::parse_scenario(&text, std::path::Path::new("p.toml"), &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = ProxyOptions { report_dir: Some(dir.path().to_path_buf()), ..ProxyOptions::loopback() };
    let p = windtunnel_proxy::start(scenario, opts).await.unwrap();
    let r = post_chat(&format!("http://{}", p.addr), false).await;
    assert_eq!(r.status(), 200);
    let report = p.shutdown().await.unwrap();
    // b's answer: 12 prompt and 5 completion tokens at $2 and $10 per Mtok; a's 500 billed nothing.
    assert_eq!(report.cost.total_usd.0, 12 * 2_000 + 5 * 10_000);
    assert_eq!(report.cost.by_endpoint["test/a"].0, 0);
    assert_eq!(report.attempts.total, 2);
    assert_eq!(report.failover.events, 1);
    // The report was written on shutdown.
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert!(json.contains("\"scenario\": \"priced\""));
    assert!(dir.path().join("report.html").exists());
}

/// Anthropic's Messages API behind the OpenAI shape: request translated,
/// answer and stream translated back.
#[tokio::test]
async fn an_anthropic_upstream_is_translated_both_ways() {
    async fn messages(axum::Json(body): axum::Json<serde_json::Value>) -> Response {
        assert_eq!(body["model"], "claude-test");
        assert!(body["max_tokens"].as_u64().is_some());
        if body["stream"].as_bool() == Some(true) {
            let events = [
                (
                    "message_start",
                    serde_json::json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "claude-test", "content": [], "usage": {"input_tokens": 9, "output_tokens": 1}}}),
                ),
                (
                    "content_block_start",
                    serde_json::json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ),
                (
                    "content_block_delta",
                    serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Bonjour"}}),
                ),
                (
                    "content_block_delta",
                    serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " !"}}),
                ),
                ("content_block_stop", serde_json::json!({"type": "content_block_stop", "index": 0})),
                (
                    "message_delta",
                    serde_json::json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
                ),
                ("message_stop", serde_json::json!({"type": "message_stop"})),
            ];
            let text: String = events.iter().map(|(e, d)| format!("event: {e}\ndata: {d}\n\n")).collect();
            return ([("content-type", "text/event-stream")], text).into_response();
        }
        axum::Json(serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [{"type": "text", "text": "Bonjour !"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 9, "output_tokens": 3}
        }))
        .into_response()
    }
    let app = Router::new().route("/v1/messages", post(messages));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let text = format!(
        r#"
name = "anthropic"
policy = {{ chain = ["anthropic/claude"] }}
[[endpoints]]
name = "anthropic/claude"
upstream = {{ kind = "anthropic", base_url = "http://{up}/v1", model = "claude-test" }}
"#
    );
    let scenario = windtunnel_config::parse_scenario(&text, std::path::Path::new("a.toml"), &[]).unwrap();
    let opts = ProxyOptions::loopback();
    let p = windtunnel_proxy::start(scenario, opts).await.unwrap();
    let base = format!("http://{}", p.addr);
    let r = post_chat(&base, false).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Bonjour !");
    assert_eq!(v["usage"]["prompt_tokens"], 9);
    let text = read_sse(post_chat(&base, true).await).await;
    assert!(text.contains("Bonjour") && text.contains(" !") && text.trim_end().ends_with("data: [DONE]"), "{text}");
    let report = p.shutdown().await.unwrap();
    assert_eq!(report.outcomes.succeeded, 2);
}

/// Hot reload: a changed policy serves the next requests; a broken change is
/// refused and the previous version keeps serving.
#[tokio::test]
async fn the_policy_reloads_when_its_file_changes_and_a_broken_version_is_refused() {
    let s = Script::default();
    s.set("a", vec![ok_json("from a")]);
    s.set("b", vec![ok_json("from b")]);
    let up = serve_upstream(s.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.rhai");
    std::fs::write(&policy, "fn route(req, ctx) { [\"test/a\"] }\n").unwrap();
    let text = format!(
        r#"
name = "reload"
policy = "p.rhai"
[[endpoints]]
name = "test/a"
upstream = {{ kind = "openai", base_url = "http://{up}/a/v1" }}
[[endpoints]]
name = "test/b"
upstream = {{ kind = "openai", base_url = "http://{up}/b/v1" }}
"#
    );
    let scenario = windtunnel_config::parse_scenario(&text, &dir.path().join("reload.toml"), &[]).unwrap();
    let opts = ProxyOptions::loopback();
    let p = windtunnel_proxy::start(scenario, opts).await.unwrap();
    let base = format!("http://{}", p.addr);
    assert_eq!(header(&post_chat(&base, false).await, "x-windtunnel-endpoint"), "test/a");
    std::fs::write(&policy, "fn route(req, ctx) { [\"test/b\"] }\n").unwrap();
    let mut served = String::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        served = header(&post_chat(&base, false).await, "x-windtunnel-endpoint");
        if served == "test/b" {
            break;
        }
    }
    assert_eq!(served, "test/b", "the new version serves");
    std::fs::write(&policy, "fn route(req, ctx) { [\"test/a\"\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(header(&post_chat(&base, false).await, "x-windtunnel-endpoint"), "test/b", "the broken one is refused");
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("windtunnel_policy_reloads_total{result=\"refused\"} 1"), "{metrics}");
    p.shutdown().await.unwrap();
}

mod invariants_hold_live {
    //! The simulator's invariants, checked on the live event log: random
    //! upstream behaviour (answers, 429s with a Retry-After, 5xx, refusals,
    //! cut streams, hangs) and random traffic through the proxy; every
    //! request is answered exactly once and the live report breaks no
    //! invariant.

    use super::*;
    use proptest::prelude::*;

    fn answer() -> impl Strategy<Value = Answer> {
        prop_oneof![
            3 => Just(ok_json("fine")),
            1 => Just(Answer::Json(
                429,
                r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#.into(),
                vec![("retry-after-ms", "40".to_string())],
            )),
            1 => Just(error_json(500, "server_error", "boom")),
            1 => Just(error_json(503, "overloaded", "busy")),
            1 => Just(error_json(400, "context_length_exceeded", "maximum context length exceeded")),
            2 => Just(Answer::Stream(vec!["a".into(), "b".into()], true)),
            1 => Just(Answer::Stream(vec!["a".into()], false)),
            1 => Just(Answer::Hang),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

        #[test]
        fn every_request_is_answered_once_and_no_invariant_breaks(
            a in proptest::collection::vec(answer(), 1..5),
            b in proptest::collection::vec(answer(), 1..5),
            streams in proptest::collection::vec(any::<bool>(), 1..7),
        ) {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            let (report, answered) = rt.block_on(async {
                let s = Script::default();
                s.set("a", a);
                s.set("b", b);
                let policy = r#"{ chain = ["test/a", "test/b"], attempt_timeout_ms = 400, ttft_timeout_ms = 300, stall_timeout_ms = 300, max_attempts = 3 }"#;
                let (p, base) = proxy(&s, policy, None).await;
                let mut answered = 0;
                let calls: Vec<_> = streams.iter().map(|&stream| {
                    let base = base.clone();
                    tokio::spawn(async move {
                        let r = post_chat(&base, stream).await;
                        let status = r.status().as_u16();
                        let _ = r.text().await;
                        status
                    })
                }).collect();
                for c in calls {
                    let status = tokio::time::timeout(Duration::from_secs(10), c).await.unwrap().unwrap();
                    assert!(status == 200 || (400..600).contains(&status), "status {status}");
                    answered += 1;
                }
                (p.shutdown().await.unwrap(), answered)
            });
            prop_assert_eq!(answered, streams.len());
            let o = &report.outcomes;
            prop_assert_eq!(o.succeeded + o.failed + o.rejected + o.cached, streams.len() as u64);
            for i in &report.invariants {
                prop_assert_eq!(i.violations, 0, "{}: {:?}", i.name, i.examples);
            }
        }
    }
}

#[tokio::test]
async fn a_persistent_429_on_every_endpoint_is_a_429_with_retry_after_for_the_client() {
    let s = Script::default();
    let limited = Answer::Json(
        429,
        r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#.into(),
        vec![("retry-after", "20".to_string())],
    );
    s.set("a", vec![limited.clone()]);
    s.set("b", vec![limited]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, false).await;
    assert_eq!(r.status(), 429);
    let ra: u64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=20).contains(&ra), "Retry-After {ra}");
    // While both are held off, requests fail at once without touching them.
    for _ in 0..5 {
        assert_eq!(post_chat(&base, false).await.status(), 429);
    }
    assert_eq!((s.hits("a"), s.hits("b")), (1, 1), "no hammering of a rate-limited upstream");
    p.shutdown().await.unwrap();
}

/// A primary down for a while, then healthy: the breaker stops sending it
/// traffic after a few failures, probes it once its open period is over, and
/// traffic returns. Every request is answered.
#[tokio::test]
async fn a_dead_primary_is_not_hammered_and_traffic_returns_when_it_heals() {
    let s = Script::default();
    let mut a: Vec<Answer> = (0..3).map(|_| error_json(503, "overloaded", "down")).collect();
    a.push(ok_json("a is back"));
    s.set("a", a);
    s.set("b", vec![ok_json("from b")]);
    let policy = r#"{ chain = ["test/a", "test/b"], breaker = { consecutive_failures = 3, open_s = 0.4 } }"#;
    let (p, base) = proxy(&s, policy, None).await;
    let mut served = Vec::new();
    for i in 0..20 {
        if i == 10 {
            tokio::time::sleep(Duration::from_millis(500)).await; // the open period passes
        }
        let r = post_chat(&base, false).await;
        assert_eq!(r.status(), 200, "request {i}");
        served.push(header(&r, "x-windtunnel-endpoint"));
    }
    assert!(served[3..10].iter().all(|e| e == "test/b"), "breaker open: {served:?}");
    assert_eq!(s.hits("a"), 3 + 1 + 9, "3 failures, then nothing until the probe, then the 10 after it: {served:?}");
    assert!(served[10..].iter().all(|e| e == "test/a"), "traffic returned: {served:?}");
    let report = p.shutdown().await.unwrap();
    assert_eq!(report.outcomes.succeeded, 20);
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);
}

#[tokio::test]
async fn a_content_filter_400_is_passed_on_and_a_slow_first_token_fails_over() {
    let s = Script::default();
    s.set(
        "a",
        vec![error_json(
            400,
            "content_filter",
            "The response was filtered due to the prompt triggering content management policy",
        )],
    );
    s.set("b", vec![ok_json("never asked")]);
    let (p, base) = proxy(&s, CHAIN, None).await;
    let r = post_chat(&base, false).await;
    assert_eq!(r.status(), 400, "a content-filter refusal is the client's answer");
    let text = r.text().await.unwrap();
    assert!(text.contains("content management policy"), "{text}");
    assert_eq!(s.hits("b"), 0, "no failover where it cannot help");
    p.shutdown().await.unwrap();

    // The first token later than ttft_timeout_ms: cut, failed over unseen.
    let s = Script::default();
    s.set("a", vec![Answer::Late(Duration::from_secs(20), vec!["too late".into()])]);
    s.set("b", vec![Answer::Stream(vec!["on time".into()], true)]);
    let (p, base) = proxy(&s, r#"{ chain = ["test/a", "test/b"], ttft_timeout_ms = 300 }"#, None).await;
    let started = std::time::Instant::now();
    let r = post_chat(&base, true).await;
    assert_eq!(header(&r, "x-windtunnel-endpoint"), "test/b");
    let text = read_sse(r).await;
    assert!(
        text.contains("on time") && !text.contains("too late") && text.trim_end().ends_with("data: [DONE]"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    p.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_connection_reset_before_any_answer_fails_over() {
    // An "upstream" that accepts and closes the connection at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            drop(sock);
        }
    });
    let s = Script::default();
    s.set("b", vec![ok_json("from b")]);
    let up = serve_upstream(s.clone()).await;
    let text = format!(
        r#"
name = "reset"
policy = {{ chain = ["test/a", "test/b"] }}
[[endpoints]]
name = "test/a"
upstream = {{ kind = "openai", base_url = "http://{dead}/v1" }}
[[endpoints]]
name = "test/b"
upstream = {{ kind = "openai", base_url = "http://{up}/b/v1" }}
"#
    );
    let scenario = windtunnel_config::parse_scenario(&text, std::path::Path::new("r.toml"), &[]).unwrap();
    let opts = ProxyOptions::loopback();
    let p = windtunnel_proxy::start(scenario, opts).await.unwrap();
    let r = post_chat(&format!("http://{}", p.addr), false).await;
    assert_eq!((r.status().as_u16(), header(&r, "x-windtunnel-endpoint")), (200, "test/b".into()));
    let report = p.shutdown().await.unwrap();
    assert_eq!(report.attempts.by_endpoint["test/a"].errors.get("connection"), Some(&1), "{:?}", report.attempts);
}

/// Mid-stream rescue: a stream cut after its first bytes continues on the
/// next endpoint that accepts a prefill (the text so far as an assistant
/// prefix), streamed into the same answer; where the fallback refuses the
/// prefill, the stream ends with an error event and no `[DONE]`.
#[tokio::test]
async fn a_cut_stream_is_rescued_on_an_endpoint_that_accepts_a_prefill() {
    async fn run(rescue_answer: Answer) -> (String, Script, windtunnel_report::Report) {
        let s = Script::default();
        s.set("a", vec![Answer::Stream(vec!["Hello ".into(), "wor".into()], false)]);
        s.set("b", vec![rescue_answer]);
        let up = serve_upstream(s.clone()).await;
        let text = format!(
            r#"
name = "rescue"
policy = {{ chain = ["test/a", "test/b"] }}
[[endpoints]]
name = "test/a"
upstream = {{ kind = "openai", base_url = "http://{up}/a/v1" }}
[[endpoints]]
name = "test/b"
upstream = {{ kind = "openai", base_url = "http://{up}/b/v1", accepts_prefill = true }}
"#
        );
        let scenario = windtunnel_config::parse_scenario(&text, std::path::Path::new("r.toml"), &[]).unwrap();
        let opts = ProxyOptions::loopback();
        let p = windtunnel_proxy::start(scenario, opts).await.unwrap();
        let base = format!("http://{}", p.addr);
        let body = read_sse(post_chat(&base, true).await).await;
        let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        assert!(metrics.contains("windtunnel_rescues_total 1"), "{metrics}");
        (body, s, p.shutdown().await.unwrap())
    }

    let (body, s, report) = run(Answer::Stream(vec!["ld!".into()], true)).await;
    assert!(body.contains("\"Hello \"") && body.contains("\"wor\"") && body.contains("\"ld!\""), "{body}");
    assert!(body.trim_end().ends_with("data: [DONE]"), "the rescued answer ends well: {body}");
    let sent_to_b = s.bodies.lock().unwrap().iter().find(|(ep, _)| ep == "b").map(|(_, b)| b.clone()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&sent_to_b).unwrap();
    let last = v["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["role"].as_str(), last["content"].as_str()), (Some("assistant"), Some("Hello wor")), "{v}");
    assert_eq!((report.outcomes.succeeded, report.attempts.total, report.failover.events), (1, 2, 1));
    assert!(report.invariants.iter().all(|i| i.violations == 0), "{:?}", report.invariants);

    // The fallback refuses the prefill: an honest error, no [DONE].
    let (body, _, report) =
        run(error_json(400, "invalid_request_error", "assistant prefill is not supported for this model")).await;
    assert!(body.contains("\"wor\"") && !body.contains("data: [DONE]") && body.contains("\"error\""), "{body}");
    assert_eq!(report.outcomes.failed, 1);
}

/// After its first token a stream is bounded by the request's deadline (and
/// the stall timeout), no longer by the attempt timeout: a deadline that
/// passes mid-stream ends it with an error event, not a hang.
#[tokio::test]
async fn a_deadline_passing_mid_stream_ends_it_honestly() {
    let s = Script::default();
    s.set("a", vec![Answer::Slow(Duration::from_millis(50))]);
    let (p, base) =
        proxy(&s, r#"{ chain = ["test/a", "test/b"], attempt_timeout_ms = 200, stall_timeout_ms = 1000 }"#, None).await;
    let started = std::time::Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-windtunnel-deadline-ms", "600")
        .body(body(true))
        .send()
        .await
        .unwrap();
    let text = read_sse(r).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(3), "{took:?}");
    assert!(text.contains("t5 "), "streamed past the 200 ms attempt timeout: {text}");
    assert!(!text.contains("data: [DONE]") && text.contains("\"error\""), "{text}");
    p.shutdown().await.unwrap();
}

/// `--record`: served traffic becomes a trace that `run` replays: the same
/// requests (count, tokens, tenants, classes), no prompt text without
/// `--record-prompts`, never a key.
#[tokio::test]
async fn recorded_traffic_replays_in_the_simulator() {
    let s = Script::default();
    s.set("a", vec![ok_json("recorded")]);
    let up = serve_upstream(s.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
name = "rec"
policy = {{ chain = ["test/a", "test/b"] }}
[[endpoints]]
name = "test/a"
upstream = {{ kind = "openai", base_url = "http://{up}/a/v1", api_key_env = "KEY_A" }}
[[endpoints]]
name = "test/b"
"#
    );
    for prompts in [false, true] {
        let trace = dir.path().join(format!("rec-{prompts}.jsonl"));
        let scenario = windtunnel_config::parse_scenario(&text, &dir.path().join("rec.toml"), &[]).unwrap();
        let opts = ProxyOptions {
            env: Box::new(|k| (k == "KEY_A").then(|| CANARY.to_string())),
            record: Some((trace.clone(), prompts)),
            ..ProxyOptions::loopback()
        };
        let p = windtunnel_proxy::start(scenario, opts).await.unwrap();
        let base = format!("http://{}", p.addr);
        for (i, (tenant, class)) in [("acme", "interactive"), ("globex", "batch"), ("acme", "batch")].iter().enumerate()
        {
            let r = reqwest::Client::new()
                .post(format!("{base}/v1/chat/completions"))
                .header("content-type", "application/json")
                .header("x-windtunnel-tenant", *tenant)
                .header("x-windtunnel-class", *class)
                .header("x-windtunnel-request-id", format!("rec-{i}"))
                .body(body(false))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        p.shutdown().await.unwrap();
        let recorded = std::fs::read_to_string(&trace).unwrap();
        assert!(!recorded.contains(CANARY));
        assert_eq!(recorded.contains("Say hello."), prompts, "{recorded}");
        let reqs: Vec<windtunnel_core::Request> = windtunnel_trace::TraceReader::open(
            &trace,
            windtunnel_trace::TraceFormat::Jsonl,
            windtunnel_trace::ReadOptions::default(),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
        assert_eq!(reqs.len(), 3);
        assert_eq!(
            reqs.iter().map(|r| (&*r.tenant, &*r.class)).collect::<Vec<_>>(),
            [("acme", "interactive"), ("globex", "batch"), ("acme", "batch")]
        );
        // The prompt as counted before routing; the answer's 5 tokens; max_tokens 50.
        assert!(reqs.iter().all(|r| r.input_tokens == 3 && r.output_tokens == 5 && r.max_tokens == 50), "{reqs:?}");
        // And `run` replays it.
        let sim = format!("{text}\n[trace]\npath = \"{}\"\n", trace.display()).replace(
            &format!("upstream = {{ kind = \"openai\", base_url = \"http://{up}/a/v1\", api_key_env = \"KEY_A\" }}"),
            "",
        );
        let sim = windtunnel_config::parse_scenario(&sim, &dir.path().join("replay.toml"), &[]).unwrap();
        let report = windtunnel_harness::run(&sim, windtunnel_harness::RunOptions::default()).unwrap();
        assert_eq!(report.trace.requests, 3);
    }
}
