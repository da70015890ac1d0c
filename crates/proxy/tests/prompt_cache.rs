//! Provider prompt caching in live mode, against wiremock upstreams: the
//! cached prompt tokens an upstream reports (OpenAI
//! `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`)
//! are billed at the cached-input price and counted in the report; and live
//! requests carry `hash_ids` of their prompt, so a policy reading
//! `cached_tokens(req)` sends a conversation's next turn back to the
//! endpoint that holds its prefix, as in simulation.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use windtunnel_proxy::{ProxyOptions, Running};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A proxy in front of `w/a` and `w/b` on `server` (both of `kind`, both
/// caching prompts), routed by `policy`: a chain (`{ chain = [...] }`) or a
/// script's text.
async fn proxy(server: &MockServer, kind: &str, policy: &str) -> (Running, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let policy_line = if policy.starts_with('{') {
        format!("policy = {policy}")
    } else {
        std::fs::write(dir.path().join("p.rhai"), policy).unwrap();
        "policy = \"p.rhai\"".to_string()
    };
    let base = server.uri();
    let text = format!(
        r#"
name = "live-prompt-cache"
{policy_line}
[[endpoints]]
name = "w/a"
price = {{ input_per_mtok = 1, output_per_mtok = 2, cached_input_per_mtok = 0.1, cache_write_per_mtok = 1.25 }}
prompt_cache = {{ ttl = "5m", min_tokens = 1024 }}
upstream = {{ kind = "{kind}", base_url = "{base}/a/v1", model = "m-a" }}
[[endpoints]]
name = "w/b"
price = {{ input_per_mtok = 1, output_per_mtok = 2, cached_input_per_mtok = 0.1, cache_write_per_mtok = 1.25 }}
prompt_cache = {{ ttl = "5m", min_tokens = 1024 }}
upstream = {{ kind = "{kind}", base_url = "{base}/b/v1", model = "m-b" }}
"#
    );
    let scenario = windtunnel_config::parse_scenario(&text, &dir.path().join("s.toml"), &[]).unwrap();
    let running = windtunnel_proxy::start(scenario, ProxyOptions::loopback()).await.unwrap();
    let base = format!("http://{}", running.addr);
    (running, base, dir)
}

async fn post(base: &str, class: &str, messages: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({ "model": "anything", "max_tokens": 50, "messages": messages });
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-windtunnel-class", class)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

fn say(text: &str) -> serde_json::Value {
    serde_json::json!([{"role": "user", "content": text}])
}

/// An answer reporting 2,000 prompt tokens of which 1,536 were cached, and
/// 10 completion tokens, in the dialect; Anthropic's also says 400 of the
/// others were written to its cache (OpenAI reports no writes).
fn cached_answer(kind: &str) -> ResponseTemplate {
    let body = if kind == "openai" {
        serde_json::json!({
            "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2000, "completion_tokens": 10, "total_tokens": 2010,
                      "prompt_tokens_details": {"cached_tokens": 1536}}
        })
    } else {
        // Anthropic counts cache reads and writes outside `input_tokens`.
        serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 64, "cache_creation_input_tokens": 400, "cache_read_input_tokens": 1536,
                      "output_tokens": 10}
        })
    };
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn cached_prompt_tokens_the_upstream_reports_are_billed_at_the_cached_price() {
    for kind in ["openai", "anthropic"] {
        let server = MockServer::start().await;
        let route = if kind == "openai" { "/a/v1/chat/completions" } else { "/a/v1/messages" };
        Mock::given(method("POST")).and(path(route)).respond_with(cached_answer(kind)).mount(&server).await;
        let (p, base, _dir) = proxy(&server, kind, r#"{ chain = ["w/a"] }"#).await;
        let v = post(&base, "default", say("Hello")).await;
        // The client sees OpenAI's usage, cached tokens included.
        assert_eq!(v["usage"]["prompt_tokens"], 2000, "{kind}: {v}");
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 1536, "{kind}: {v}");
        let (plain, written) = if kind == "openai" { (464, 0) } else { (64, 400) };
        // `/metrics` counts what was read from and written to the cache.
        let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        for line in [
            "windtunnel_prompt_cache_tokens_total{endpoint=\"w/a\",op=\"read\"} 1536".to_string(),
            format!("windtunnel_prompt_cache_tokens_total{{endpoint=\"w/a\",op=\"write\"}} {written}"),
        ] {
            assert!(metrics.lines().any(|l| l == line), "{kind}: no `{line}` in\n{metrics}");
        }
        let report = p.shutdown().await.unwrap();
        // 1,536 cached at $0.10, 10 output at $2 per Mtok; the other 464
        // input at $1, but Anthropic's 400 written at $1.25.
        let cost = plain * 1_000 + written * 1_250 + 1_536 * 100 + 10 * 2_000;
        assert_eq!(report.cost.total_usd.0, cost, "{kind}");
        assert_eq!(report.cache.prompt_cached_tokens, 1_536, "{kind}");
        // Saved: the reads' discount less the writes' premium.
        assert_eq!(report.cache.prompt_cache_saved_usd.0, 1_536 * 900 - written * 250, "{kind}");
    }
}

/// Routes a request to the endpoint whose cache holds most of its prompt;
/// a request no endpoint holds goes where its class says.
const AFFINITY: &str = r#"
fn route(req, ctx) {
    let best = "";
    let most = 0;
    for e in ctx.candidates(req) {
        let held = e.cached_tokens(req);
        if held > most { most = held; best = e.name; }
    }
    if best == "" { best = if req.class == "to-b" { "w/b" } else { "w/a" }; }
    #{ chain: [best] }
}
"#;

#[tokio::test]
async fn a_conversations_next_turn_goes_back_to_the_endpoint_holding_its_prefix() {
    let server = MockServer::start().await;
    for ep in ["a", "b"] {
        let ok = serde_json::json!({
            "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Noted."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2000, "completion_tokens": 2, "total_tokens": 2002}
        });
        Mock::given(method("POST"))
            .and(path(format!("/{ep}/v1/chat/completions")))
            .respond_with(ResponseTemplate::new(200).set_body_json(ok))
            .mount(&server)
            .await;
    }
    let (p, base, _dir) = proxy(&server, "openai", AFFINITY).await;
    // A long system prompt (2,000 tokens: three full 512-token blocks)
    // starts the conversation on w/b.
    let system = " x".repeat(2000);
    let turn1 =
        serde_json::json!([{"role": "system", "content": system}, {"role": "user", "content": "First question?"}]);
    post(&base, "to-b", turn1).await;
    // Its next turn is routed by class to w/a, but w/b holds its prefix.
    let turn2 = serde_json::json!([
        {"role": "system", "content": system}, {"role": "user", "content": "First question?"},
        {"role": "assistant", "content": "Noted."}, {"role": "user", "content": "Second question?"}
    ]);
    post(&base, "to-a", turn2).await;
    // Another conversation, with a prompt nobody holds, goes where its class says.
    post(&base, "to-a", say(&" y".repeat(2000))).await;
    let sent = server.received_requests().await.unwrap();
    let to = |ep: &str| sent.iter().filter(|r| r.url.path().starts_with(&format!("/{ep}/"))).count();
    assert_eq!((to("a"), to("b")), (1, 2), "the second turn went back to w/b");
    p.shutdown().await.unwrap();
}

/// Anthropic caches only up to a `cache_control` mark: with `prompt_cache`
/// the proxy marks the system prompt and the last message's last block; a
/// body the client marked itself is forwarded as the client marked it.
#[tokio::test]
async fn an_anthropic_body_is_marked_for_caching_unless_the_client_marked_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/a/v1/messages"))
        .respond_with(cached_answer("anthropic"))
        .mount(&server)
        .await;
    let (p, base, _dir) = proxy(&server, "anthropic", r#"{ chain = ["w/a"] }"#).await;
    let plain = serde_json::json!([
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Summarise it."}
    ]);
    post(&base, "default", plain).await;
    let client_marked = serde_json::json!([
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [
            {"type": "text", "text": "A long document.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "text", "text": "Summarise it."}
        ]}
    ]);
    post(&base, "default", client_marked).await;
    let sent = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["system"][0]["text"], "You are terse.", "{body}");
    assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral", "{body}");
    assert_eq!(body["messages"][0]["content"][0]["text"], "Summarise it.", "{body}");
    assert_eq!(body["messages"][0]["content"][0]["cache_control"]["type"], "ephemeral", "{body}");
    let body: serde_json::Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert_eq!(body["system"], "You are terse.", "no mark added: {body}");
    let blocks = &body["messages"][0]["content"];
    assert_eq!(blocks[0]["cache_control"], serde_json::json!({"type": "ephemeral", "ttl": "1h"}), "{body}");
    assert!(blocks[1].get("cache_control").is_none(), "{body}");
    p.shutdown().await.unwrap();
}
