//! The upstream conformance suite: both upstream kinds (OpenAI chat
//! completions and Anthropic Messages) against wiremock servers, one case
//! per SPEC error kind and per Retry-After form, streams broken before and
//! after their first byte, a silent first token, malformed chunks, missing
//! end markers, usage present and absent, and Anthropic's stream translated.
//!
//! Each case puts the broken upstream first (`w/a`) and, where a failover
//! can help, a healthy one second (`w/b`). It checks what the classifier
//! made of the failure (the client's error `code`, or the live report's
//! `failover.by_reason`), what the client got, and what the upstreams saw.
//! Faults wiremock cannot play (a stall or a reset in the middle of a body)
//! are in `live.rs`, against a scripted server.

#![expect(
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "tests fail loudly; wall-clock bounds on live timeouts and dates for Retry-After"
)]

use std::time::{Duration, SystemTime};
use windtunnel_proxy::{ProxyOptions, Running};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Which dialect the endpoints speak.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    OpenAi,
    Anthropic,
}

impl Kind {
    fn route(self, ep: &str) -> String {
        match self {
            Kind::OpenAi => format!("/{ep}/v1/chat/completions"),
            Kind::Anthropic => format!("/{ep}/v1/messages"),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::OpenAi => "openai",
            Kind::Anthropic => "anthropic",
        }
    }
}

/// A proxy in front of `w/a` and `w/b` on `server`, with this chain.
async fn proxy(server: &MockServer, kind: Kind, chain: &str) -> (Running, String) {
    proxy_at(&server.uri(), &server.uri(), kind, chain).await
}

/// A proxy in front of `w/a` at `a_base` and `w/b` at `b_base`.
async fn proxy_at(a_base: &str, b_base: &str, kind: Kind, chain: &str) -> (Running, String) {
    let k = kind.name();
    let text = format!(
        r#"
name = "conformance"
policy = {{ chain = {chain}, attempt_timeout_ms = 1500, ttft_timeout_ms = 800, stall_timeout_ms = 800 }}
[[endpoints]]
name = "w/a"
price = {{ input_per_mtok = 1, output_per_mtok = 1 }}
upstream = {{ kind = "{k}", base_url = "{a_base}/a/v1", model = "m-a" }}
[[endpoints]]
name = "w/b"
price = {{ input_per_mtok = 1000, output_per_mtok = 1000 }}
upstream = {{ kind = "{k}", base_url = "{b_base}/b/v1", model = "m-b" }}
"#
    );
    let scenario = windtunnel_config::parse_scenario(&text, std::path::Path::new("conformance.toml"), &[]).unwrap();
    let opts = ProxyOptions::loopback();
    let running = windtunnel_proxy::start(scenario, opts).await.unwrap();
    let base = format!("http://{}", running.addr);
    (running, base)
}

const A_THEN_B: &str = r#"["w/a", "w/b"]"#;
const A_ONLY: &str = r#"["w/a"]"#;

async fn post(base: &str, stream: bool) -> reqwest::Response {
    let body = serde_json::json!({
        "model": "anything", "stream": stream, "max_tokens": 50,
        "messages": [{"role": "user", "content": "Say hello."}]
    });
    reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// A whole answer in the dialect, with or without usage.
fn answer(kind: Kind, text: &str, usage: bool) -> ResponseTemplate {
    let body = match kind {
        Kind::OpenAi => {
            let mut v = serde_json::json!({
                "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            });
            if usage {
                v["usage"] = serde_json::json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18});
            }
            v
        }
        Kind::Anthropic => serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 11, "output_tokens": 7}
        }),
    };
    ResponseTemplate::new(200).set_body_json(body)
}

/// Server-sent events of a stream of `texts` in the dialect; `end`: with
/// the end marker (`[DONE]`, `message_stop`); `usage`: a usage chunk.
fn stream_body(kind: Kind, texts: &[&str], end: bool, usage: bool) -> String {
    let mut out = String::new();
    match kind {
        Kind::OpenAi => {
            for t in texts {
                let c = serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                    "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]});
                out.push_str(&format!("data: {c}\n\n"));
            }
            if end {
                let last = serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
                out.push_str(&format!("data: {last}\n\n"));
                if usage {
                    let u = serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                        "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}});
                    out.push_str(&format!("data: {u}\n\n"));
                }
                out.push_str("data: [DONE]\n\n");
            }
        }
        Kind::Anthropic => {
            let ev = |name: &str, v: serde_json::Value| format!("event: {name}\ndata: {v}\n\n");
            out.push_str(&ev(
                "message_start",
                serde_json::json!({"type": "message_start", "message": {"id": "m1",
                "type": "message", "role": "assistant", "model": "m", "content": [],
                "usage": {"input_tokens": 11, "output_tokens": 1}}}),
            ));
            out.push_str(&ev(
                "content_block_start",
                serde_json::json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ));
            out.push_str(&ev("ping", serde_json::json!({"type": "ping"})));
            for t in texts {
                out.push_str(&ev(
                    "content_block_delta",
                    serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}),
                ));
            }
            if end {
                out.push_str(&ev("content_block_stop", serde_json::json!({"type": "content_block_stop", "index": 0})));
                out.push_str(&ev(
                    "message_delta",
                    serde_json::json!({"type": "message_delta",
                    "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}),
                ));
                out.push_str(&ev("message_stop", serde_json::json!({"type": "message_stop"})));
            }
        }
    }
    out
}

fn sse(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

/// An error answer in the dialect's shape.
fn error(kind: Kind, status: u16, ty: &str, code: Option<&str>, message: &str) -> ResponseTemplate {
    let body = match kind {
        Kind::OpenAi => serde_json::json!({"error": {"message": message, "type": ty, "code": code, "param": null}}),
        Kind::Anthropic => serde_json::json!({"type": "error", "error": {"type": ty, "message": message}}),
    };
    ResponseTemplate::new(status).set_body_json(body)
}

async fn mount(server: &MockServer, kind: Kind, ep: &str, t: ResponseTemplate) {
    Mock::given(method("POST")).and(path(kind.route(ep))).respond_with(t).mount(server).await;
}

async fn hits(server: &MockServer, kind: Kind, ep: &str) -> usize {
    let route = kind.route(ep);
    server.received_requests().await.unwrap_or_default().iter().filter(|r| r.url.path() == route).count()
}

/// Every SPEC error kind an upstream can answer with, in both dialects:
/// (status, error type, code, message) → the classified kind, and whether
/// the default rules fail it over to `w/b` or pass it to the client.
#[tokio::test]
async fn every_error_kind_is_classified_and_handled_by_its_rule() {
    struct Case {
        kind: Kind,
        status: u16,
        ty: &'static str,
        code: Option<&'static str>,
        message: &'static str,
        want: &'static str,
        /// Failed over to `w/b` (else the client gets the error, `w/b` untouched).
        failover: bool,
    }
    let case =
        |kind, status, ty, code, message, want, failover| Case { kind, status, ty, code, message, want, failover };
    use Kind::{Anthropic, OpenAi};
    let cases = [
        case(OpenAi, 429, "requests", Some("rate_limit_exceeded"), "Rate limit reached", "rate_limited", true),
        case(
            OpenAi,
            429,
            "insufficient_quota",
            Some("insufficient_quota"),
            "You exceeded your quota",
            "quota_exceeded",
            true,
        ),
        case(OpenAi, 402, "billing", None, "Payment required", "quota_exceeded", true),
        case(OpenAi, 500, "server_error", None, "boom", "server_error", true),
        case(OpenAi, 502, "server_error", None, "bad gateway", "server_error", true),
        case(OpenAi, 503, "server_error", None, "Service Unavailable", "overloaded", true),
        case(OpenAi, 529, "overloaded", None, "Overloaded", "overloaded", true),
        case(OpenAi, 504, "timeout", None, "gateway timeout", "timeout", true),
        case(
            OpenAi,
            400,
            "invalid_request_error",
            Some("context_length_exceeded"),
            "This model's maximum context length is 8192 tokens",
            "context_exceeded",
            false,
        ),
        case(
            OpenAi,
            400,
            "invalid_request_error",
            Some("content_filter"),
            "The response was filtered due to the prompt triggering content management policy",
            "content_filter",
            false,
        ),
        case(OpenAi, 400, "invalid_request_error", None, "Unrecognized request argument", "bad_request", false),
        case(OpenAi, 401, "invalid_request_error", Some("invalid_api_key"), "Incorrect API key", "auth", false),
        case(
            Anthropic,
            429,
            "rate_limit_error",
            None,
            "Number of requests has exceeded your rate limit",
            "rate_limited",
            true,
        ),
        case(Anthropic, 529, "overloaded_error", None, "Overloaded", "overloaded", true),
        case(Anthropic, 500, "api_error", None, "Internal server error", "server_error", true),
        case(
            Anthropic,
            400,
            "invalid_request_error",
            None,
            "prompt is too long: 210000 tokens > 200000 maximum",
            "context_exceeded",
            false,
        ),
        case(Anthropic, 400, "invalid_request_error", None, "max_tokens: field required", "bad_request", false),
        case(Anthropic, 401, "authentication_error", None, "invalid x-api-key", "auth", false),
        case(
            Anthropic,
            400,
            "invalid_request_error",
            None,
            "Your credit balance is too low to access the Anthropic API",
            "quota_exceeded",
            true,
        ),
    ];
    for c in cases {
        let what = format!("{:?} {} {:?} {:?}", c.kind, c.status, c.code, c.message);
        let server = MockServer::start().await;
        mount(&server, c.kind, "a", error(c.kind, c.status, c.ty, c.code, c.message)).await;
        mount(&server, c.kind, "b", answer(c.kind, "from b", true)).await;
        let (p, base) = proxy(&server, c.kind, A_THEN_B).await;
        let r = post(&base, false).await;
        let status = r.status().as_u16();
        let attempts = header(&r, "x-windtunnel-attempts");
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        let report = p.shutdown().await.unwrap();
        assert_eq!(hits(&server, c.kind, "a").await, 1, "{what}: one attempt on a, never retried in place");
        if c.failover {
            assert_eq!((status, attempts.as_str()), (200, "2"), "{what}: {v}");
            assert_eq!(v["choices"][0]["message"]["content"], "from b", "{what}");
            assert_eq!(report.failover.by_reason.get(c.want), Some(&1), "{what}: {:?}", report.failover.by_reason);
        } else {
            assert_eq!(hits(&server, c.kind, "b").await, 0, "{what}: a fatal error is not sent elsewhere");
            assert_eq!(v["error"]["code"], c.want, "{what}: {v}");
            assert_eq!(attempts, "1", "{what}");
            // The upstream's own status for a 4xx the client caused.
            assert_eq!(status, if c.want == "auth" { 502 } else { c.status }, "{what}: {v}");
        }
    }
}

/// Every form of "come back later": `retry-after` in seconds and as an
/// HTTP date, `retry-after-ms`, OpenAI's `x-ratelimit-reset-*` durations and
/// Anthropic's `anthropic-ratelimit-*-reset` dates. With only `w/a` in the
/// chain, the client's own `Retry-After` is when `w/a` may be tried again.
#[tokio::test]
async fn every_retry_after_form_holds_the_endpoint_off_that_long() {
    let in_secs = |s: u64| httpdate(SystemTime::now() + Duration::from_secs(s));
    let rfc3339_in = |s: u64| {
        let t = SystemTime::now() + Duration::from_secs(s);
        rfc3339(t)
    };
    type Headers = Vec<(&'static str, String)>;
    let cases: Vec<(Kind, Headers, u64)> = vec![
        (Kind::OpenAi, vec![("retry-after", "7".into())], 7),
        (Kind::OpenAi, vec![("retry-after", in_secs(9))], 9),
        (Kind::OpenAi, vec![("retry-after-ms", "4500".into())], 5),
        (
            Kind::OpenAi,
            vec![
                ("x-ratelimit-remaining-requests", "0".into()),
                ("x-ratelimit-reset-requests", "6s".into()),
                ("x-ratelimit-remaining-tokens", "1000".into()),
                ("x-ratelimit-reset-tokens", "1m0s".into()),
            ],
            6,
        ),
        (Kind::Anthropic, vec![("retry-after", "8".into())], 8),
        (
            Kind::Anthropic,
            vec![
                ("anthropic-ratelimit-requests-remaining", "0".into()),
                ("anthropic-ratelimit-requests-reset", rfc3339_in(11)),
            ],
            11,
        ),
    ];
    for (kind, headers, want_s) in cases {
        let what = format!("{kind:?} {headers:?}");
        let server = MockServer::start().await;
        let mut t = error(kind, 429, "rate_limit_error", Some("rate_limit_exceeded"), "slow down");
        for (k, v) in &headers {
            t = t.insert_header(*k, v.as_str());
        }
        mount(&server, kind, "a", t).await;
        let (p, base) = proxy(&server, kind, A_ONLY).await;
        let r = post(&base, false).await;
        assert_eq!(r.status(), 429, "{what}");
        let got: u64 = header(&r, "retry-after").parse().unwrap();
        // Whole seconds, rounded up; a date loses up to a second to the clock.
        assert!(got == want_s || got + 1 == want_s, "{what}: retry-after {got}, want {want_s}");
        // Held off: a second request is answered at once, without calling w/a.
        let r2 = post(&base, false).await;
        assert_eq!(r2.status(), 429, "{what}");
        let got2: u64 = header(&r2, "retry-after").parse().unwrap();
        assert!((1..=got).contains(&got2), "{what}: second retry-after {got2}, first {got}");
        assert_eq!(hits(&server, kind, "a").await, 1, "{what}: w/a called again inside its Retry-After");
        drop(p.shutdown().await.unwrap());
    }
}

/// Failures with no HTTP status: a refused connection, an upstream silent
/// past the attempt's timeout, a 200 whose body is not an answer.
#[tokio::test]
async fn connection_refused_timeout_and_a_malformed_answer_fail_over() {
    // Nothing listens on a port just released.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        // w/a on a closed port, w/b on wiremock.
        let server = MockServer::start().await;
        mount(&server, kind, "b", answer(kind, "from b", true)).await;
        let (p, base) = proxy_at(&closed, &server.uri(), kind, A_THEN_B).await;
        let r = post(&base, false).await;
        assert_eq!((r.status().as_u16(), header(&r, "x-windtunnel-attempts")), (200, "2".into()), "{kind:?}");
        let report = p.shutdown().await.unwrap();
        assert_eq!(report.failover.by_reason.get("connection"), Some(&1), "{kind:?}: {:?}", report.failover.by_reason);
    }
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        // Silent past the attempt timeout (1.5 s): cut, failed over.
        let server = MockServer::start().await;
        mount(&server, kind, "a", answer(kind, "too late", true).set_delay(Duration::from_secs(5))).await;
        mount(&server, kind, "b", answer(kind, "from b", true)).await;
        let (p, base) = proxy(&server, kind, A_THEN_B).await;
        let started = std::time::Instant::now();
        let r = post(&base, false).await;
        assert_eq!((r.status().as_u16(), header(&r, "x-windtunnel-attempts")), (200, "2".into()), "{kind:?}");
        assert!(started.elapsed() < Duration::from_secs(4), "{kind:?}: waited {:?}", started.elapsed());
        let report = p.shutdown().await.unwrap();
        assert_eq!(report.failover.by_reason.get("timeout"), Some(&1), "{kind:?}");
        // A 200 that is not an answer.
        let server = MockServer::start().await;
        mount(&server, kind, "a", ResponseTemplate::new(200).set_body_raw("<html>gateway</html>", "text/html")).await;
        mount(&server, kind, "b", answer(kind, "from b", true)).await;
        let (p, base) = proxy(&server, kind, A_THEN_B).await;
        let r = post(&base, false).await;
        assert_eq!((r.status().as_u16(), header(&r, "x-windtunnel-attempts")), (200, "2".into()), "{kind:?}");
        let report = p.shutdown().await.unwrap();
        assert_eq!(report.failover.by_reason.get("malformed"), Some(&1), "{kind:?}");
    }
}

async fn read(r: reqwest::Response) -> String {
    r.text().await.unwrap_or_default()
}

/// Streams in both dialects: whole (translated to OpenAI chunks, `[DONE]`
/// last), broken before their first byte (failed over unseen), broken
/// after it (an error event, never `[DONE]`), a silent first token.
#[tokio::test]
async fn streams_whole_cut_malformed_and_silent() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        // Whole: the client reads OpenAI chunks and [DONE], whatever the dialect.
        let server = MockServer::start().await;
        mount(&server, kind, "a", sse(stream_body(kind, &["Hel", "lo", " there"], true, true))).await;
        let (p, base) = proxy(&server, kind, A_THEN_B).await;
        let r = post(&base, true).await;
        assert_eq!((r.status().as_u16(), header(&r, "x-windtunnel-endpoint")), (200, "w/a".into()), "{kind:?}");
        let text = read(r).await;
        let content: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_string))
            .collect();
        assert_eq!(content, "Hello there", "{kind:?}: {text}");
        assert!(text.trim_end().ends_with("data: [DONE]"), "{kind:?}: {text}");
        assert!(!text.contains("event: "), "{kind:?}: Anthropic's event names reach the client: {text}");
        let report = p.shutdown().await.unwrap();
        // Billed on the upstream's usage: 11 in, 7 out at $1 per Mtok.
        assert_eq!(report.cost.total_usd.0, 18 * 1_000, "{kind:?}");

        // Ends before any content (no end marker): failed over unseen.
        let server = MockServer::start().await;
        // (OpenAI: a role chunk; Anthropic: message_start, a block start, a ping.)
        let head_only = match kind {
            Kind::OpenAi => {
                let role = serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]});
                format!("data: {role}\n\n")
            }
            Kind::Anthropic => stream_body(kind, &[], false, false),
        };
        mount(&server, kind, "a", sse(head_only)).await;
        mount(&server, kind, "b", sse(stream_body(kind, &["from b"], true, true))).await;
        let (p, base) = proxy(&server, kind, A_THEN_B).await;
        let r = post(&base, true).await;
        assert_eq!(header(&r, "x-windtunnel-attempts"), "2", "{kind:?}");
        let text = read(r).await;
        assert!(text.contains("from b") && text.trim_end().ends_with("data: [DONE]"), "{kind:?}: {text}");
        drop(p.shutdown().await.unwrap());

        // A malformed first chunk: failed over unseen.
        let server = MockServer::start().await;
        mount(&server, kind, "a", sse("data: {not json\n\n".into())).await;
        mount(&server, kind, "b", sse(stream_body(kind, &["from b"], true, true))).await;
        let (p, base) = proxy(&server, kind, A_THEN_B).await;
        let r = post(&base, true).await;
        assert_eq!(header(&r, "x-windtunnel-attempts"), "2", "{kind:?}");
        let text = read(r).await;
        assert!(text.contains("from b") && text.trim_end().ends_with("data: [DONE]"), "{kind:?}: {text}");
        let report = p.shutdown().await.unwrap();
        assert_eq!(report.failover.by_reason.get("malformed"), Some(&1), "{kind:?}");

        // Content, then the connection ends without the end marker: the
        // client has the first bytes, so it gets an error event and no [DONE].
        let server = MockServer::start().await;
        mount(&server, kind, "a", sse(stream_body(kind, &["Hel", "lo"], false, false))).await;
        mount(&server, kind, "b", sse(stream_body(kind, &["from b"], true, true))).await;
        let (p, base) = proxy(&server, kind, A_THEN_B).await;
        let r = post(&base, true).await;
        assert_eq!(r.status(), 200, "{kind:?}");
        let text = read(r).await;
        assert!(text.contains("Hel") && text.contains("stream_interrupted"), "{kind:?}: {text}");
        assert!(!text.contains("[DONE]"), "{kind:?}: a cut stream presented as complete: {text}");
        let report = p.shutdown().await.unwrap();
        assert_eq!(report.outcomes.succeeded, 0, "{kind:?}");

        // Content, then a malformed chunk: the same honest end.
        let server = MockServer::start().await;
        let mut broken = stream_body(kind, &["Hel"], false, false);
        broken.push_str("data: {not json\n\n");
        mount(&server, kind, "a", sse(broken)).await;
        let (p, base) = proxy(&server, kind, A_THEN_B).await;
        let text = read(post(&base, true).await).await;
        assert!(text.contains("Hel") && text.contains("stream_interrupted"), "{kind:?}: {text}");
        assert!(!text.contains("[DONE]"), "{kind:?}: {text}");
        drop(p.shutdown().await.unwrap());

        // No first token within ttft_timeout_ms (0.8 s): failed over unseen.
        let server = MockServer::start().await;
        let late = sse(stream_body(kind, &["late"], true, true)).set_delay(Duration::from_secs(3));
        mount(&server, kind, "a", late).await;
        mount(&server, kind, "b", sse(stream_body(kind, &["from b"], true, true))).await;
        let (p, base) = proxy(&server, kind, A_THEN_B).await;
        let started = std::time::Instant::now();
        let r = post(&base, true).await;
        assert_eq!(header(&r, "x-windtunnel-attempts"), "2", "{kind:?}");
        let text = read(r).await;
        assert!(text.contains("from b") && !text.contains("late"), "{kind:?}: {text}");
        assert!(started.elapsed() < Duration::from_millis(2500), "{kind:?}: {:?}", started.elapsed());
        let report = p.shutdown().await.unwrap();
        assert_eq!(report.failover.by_reason.get("timeout"), Some(&1), "{kind:?}");
    }
}

/// Usage: taken from the answer when the upstream sends it (the proxy asks
/// for it on streams with `stream_options.include_usage`), counted from the
/// text when it does not. Either way the request is billed.
#[tokio::test]
async fn usage_is_taken_when_present_and_counted_when_absent() {
    let kind = Kind::OpenAi;
    // Present, non-streamed: 11 + 7 tokens at $1 per Mtok.
    let server = MockServer::start().await;
    mount(&server, kind, "a", answer(kind, "Hello there", true)).await;
    let (p, base) = proxy(&server, kind, A_ONLY).await;
    let v: serde_json::Value = serde_json::from_str(&read(post(&base, false).await).await).unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], 11);
    assert_eq!(p.shutdown().await.unwrap().cost.total_usd.0, 18_000);
    // Asked for on a stream.
    let sent = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["model"], "m-a");
    assert!(body.get("stream_options").is_none(), "a non-streamed request asks for no stream options: {body}");

    let server = MockServer::start().await;
    mount(&server, kind, "a", sse(stream_body(kind, &["Hello", " there"], true, true))).await;
    let (p, base) = proxy(&server, kind, A_ONLY).await;
    let _ = read(post(&base, true).await).await;
    assert_eq!(p.shutdown().await.unwrap().cost.total_usd.0, 18_000);
    let sent = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["stream_options"]["include_usage"], true, "{body}");

    // Absent: counted. The prompt and the answer are a handful of tokens
    // each; the bill is that, not zero and not the 50 max_tokens.
    for stream in [false, true] {
        let server = MockServer::start().await;
        let t = if stream {
            sse(stream_body(kind, &["Hello", " there"], true, false))
        } else {
            answer(kind, "Hello there", false)
        };
        mount(&server, kind, "a", t).await;
        let (p, base) = proxy(&server, kind, A_ONLY).await;
        let r = post(&base, stream).await;
        assert_eq!(r.status(), 200);
        let _ = read(r).await;
        let cost = p.shutdown().await.unwrap().cost.total_usd.0;
        assert!((2_000..=30_000).contains(&cost), "stream {stream}: counted usage billed {cost} nano-dollars");
    }
}

/// An HTTP date (RFC 9110's IMF-fixdate).
fn httpdate(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][(m - 1) as usize];
    format!("{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// An RFC 3339 UTC date.
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's algorithm.
fn civil(days: u64) -> (i64, u32, u32) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
