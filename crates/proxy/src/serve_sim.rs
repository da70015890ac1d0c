//! `windtunnel serve-sim`: every simulated endpoint of a scenario served over
//! HTTP as an OpenAI-compatible route, `/<endpoint name>/v1/chat/completions`
//! (and in Anthropic's Messages dialect at `/<endpoint name>/v1/messages`),
//! in real time divided by `--speed`. The course of each call is decided by
//! the simulator's own endpoint (`windtunnel_sim::SimEndpoint::start`, the
//! same code `run` uses: latency, queueing, RPM/TPM limits with Retry-After,
//! context window, tokenizer skew, prices, faults), then played out: a
//! refusal answers at once with its status, an answer arrives at its first
//! token and its end, a stream's chunks are spread between them, a cut
//! stream stops where the simulator cut it, a hang never answers.
//!
//! It produces `max_tokens` output tokens (the trace's `output_tokens` when
//! `load` sends them as `max_tokens`), and counts prompt tokens with the
//! estimate the proxy uses, times the endpoint's tokenizer ratio. An
//! endpoint with `prompt_cache` keeps the prompt's blocks (of its
//! `block_tokens`) as the simulator keeps a trace's `hash_ids` (the proxy's scheme,
//! `windtunnel_openai::prompt_blocks`), and answers the tokens it held as
//! cached (OpenAI `prompt_tokens_details.cached_tokens`, Anthropic
//! `cache_read_input_tokens`), and in Anthropic's dialect the tokens it
//! wrote (`cache_creation_input_tokens`; OpenAI's has no field for them).
//! Usage in its answers is what the simulator bills.

use crate::clock::LiveClock;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use windtunnel_config::Scenario;
use windtunnel_core::{AttemptStart, EndpointIdx, ErrorKind, Request, Streams};
use windtunnel_openai::{
    ChatRequest, Usage, count_tokens, error_body, openai_chunk, prompt_blocks, sse_data, sse_event,
};
use windtunnel_sim::SimEndpoint;
use windtunnel_sim::{Adapter, NEVER};

/// What the routes share.
#[derive(Clone)]
struct SimState {
    endpoints: Arc<Mutex<Vec<SimEndpoint>>>,
    names: Arc<Vec<String>>,
    /// Each endpoint's prompt-cache block size, if it caches prompts
    /// (`prompt_cache`).
    prompt_caches: Arc<Vec<Option<u32>>>,
    clock: LiveClock,
    speed: f64,
    seq: Arc<Mutex<u64>>,
}

impl SimState {
    /// Virtual milliseconds now.
    fn now(&self) -> u64 {
        (self.clock.now_ms() as f64 * self.speed) as u64
    }

    /// Real time until virtual time `at`.
    fn until(&self, at: u64) -> Duration {
        let now = self.now();
        Duration::from_secs_f64(at.saturating_sub(now) as f64 / self.speed / 1000.0)
    }

    /// Waits until `at`, on the scenario's clock. A time already passed
    /// returns at once: even a zero sleep waits for the timer's next
    /// millisecond tick, which at a high speed-up would stretch a stream of
    /// many tokens several times over.
    async fn wait_until(&self, at: u64) {
        let d = self.until(at);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }
}

/// The router of `serve-sim` for `scenario` at `speed`.
pub fn router(scenario: &Scenario, speed: f64) -> Router {
    windtunnel_openai::warm_tokenizer();
    let streams = Streams::from_seed(scenario.seed);
    let endpoints = scenario
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| SimEndpoint::from_seed(EndpointIdx(i as u16), e, &streams))
        .collect();
    let state = SimState {
        endpoints: Arc::new(Mutex::new(endpoints)),
        names: Arc::new(scenario.endpoints.iter().map(|e| e.id.to_string()).collect()),
        prompt_caches: Arc::new(scenario.endpoints.iter().map(|e| e.prompt_cache.map(|c| c.block_tokens)).collect()),
        clock: LiveClock::start(),
        speed: speed.clamp(1e-3, 1e6),
        seq: Arc::new(Mutex::new(0)),
    };
    Router::new().route("/{*path}", post(chat)).with_state(state)
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], error_body(message, kind, Some(kind)).to_string())
        .into_response()
}

/// Anthropic's error shape, with its error types.
fn anthropic_error(status: u16, kind: ErrorKind, message: &str) -> Response {
    let t = match kind {
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::Overloaded => "overloaded_error",
        ErrorKind::ContextExceeded | ErrorKind::BadRequest => "invalid_request_error",
        ErrorKind::QuotaExceeded => "billing_error",
        _ => "api_error",
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({"type": "error", "error": {"type": t, "message": message}});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The wire a route speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    OpenAi,
    Anthropic,
}

async fn chat(State(s): State<SimState>, Path(path): Path<String>, body: Bytes) -> Response {
    let (name, dialect) = match (path.strip_suffix("/v1/chat/completions"), path.strip_suffix("/v1/messages")) {
        (Some(n), _) => (n, Dialect::OpenAi),
        (_, Some(n)) => (n, Dialect::Anthropic),
        _ => return error(404, "not_found", "expected /<endpoint name>/v1/chat/completions or /v1/messages"),
    };
    let Some(idx) = s.names.iter().position(|n| n == name) else {
        return error(404, "not_found", &format!("no endpoint `{name}` in this scenario"));
    };
    let chat = match ChatRequest::parse(&body) {
        Ok(c) => c,
        Err(e) => return error(400, "invalid_request_error", &e.to_string()),
    };
    let seq = {
        let Ok(mut n) = s.seq.lock() else { return error(500, "internal", "state poisoned") };
        *n += 1;
        *n - 1
    };
    let max_tokens = chat.max_tokens.unwrap_or(crate::request::DEFAULT_MAX_TOKENS);
    let now = s.now();
    let text = chat.prompt_text();
    let mut req = if let Some(block_tokens) = s.prompt_caches[idx] {
        // The prompt's blocks, for the endpoint's prompt cache.
        let (tokens, blocks) = prompt_blocks(&text, block_tokens as usize);
        let mut req = Request::new(seq, now, tokens, max_tokens);
        req.hash_ids = (!blocks.is_empty()).then(|| blocks.into_boxed_slice());
        req
    } else {
        Request::new(seq, now, count_tokens(&text), max_tokens)
    };
    req.stream = chat.stream;
    let start = AttemptStart { req: &req, endpoint: EndpointIdx(idx as u16), attempt: 1, endpoint_attempt: 1 };
    let scheduled = {
        let Ok(mut eps) = s.endpoints.lock() else { return error(500, "internal", "state poisoned") };
        eps[idx].start(now, &start)
    };
    let model = chat.model.clone();
    let usage = Usage {
        prompt_tokens: scheduled.report.usage.input_tokens,
        completion_tokens: scheduled.report.usage.output_tokens,
        cached_prompt_tokens: scheduled.report.usage.cached_input_tokens,
        // Cache writes are the Anthropic dialect's to report; OpenAI's has
        // no field for them.
        cache_write_prompt_tokens: if dialect == Dialect::Anthropic {
            scheduled.report.usage.cache_write_tokens
        } else {
            0
        },
    };
    match (&scheduled.report.result, scheduled.first_token_at) {
        // Refused or failed before a first token: the status, when it is due.
        (Err(e), None) => {
            if scheduled.done_at == NEVER {
                std::future::pending::<()>().await;
            }
            s.wait_until(scheduled.done_at).await;
            let status = e.status.unwrap_or(match e.kind {
                ErrorKind::RateLimited | ErrorKind::QuotaExceeded => 429,
                ErrorKind::ContextExceeded | ErrorKind::BadRequest => 400,
                ErrorKind::Overloaded => 503,
                ErrorKind::Timeout => 504,
                _ => 500,
            });
            let message = format!("simulated {}", e.kind.as_str());
            let mut r = match dialect {
                Dialect::OpenAi => error(status, e.kind.as_str(), &message),
                Dialect::Anthropic => anthropic_error(status, e.kind, &message),
            };
            if let Some(ra) = e.retry_after_ms {
                // In wall time: whole seconds for any client, and the exact
                // milliseconds (`retry-after-ms`) for those that read them.
                let wall_ms = (ra as f64 / s.speed).ceil().max(1.0) as u64;
                if let Ok(v) = wall_ms.div_ceil(1000).to_string().parse() {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                if let Ok(v) = wall_ms.to_string().parse() {
                    r.headers_mut().insert("retry-after-ms", v);
                }
            }
            r
        }
        // A success has a first token; the simulator never answers without one.
        (Ok(_), None) => error(500, "internal", "a simulated answer without a first token"),
        // A whole answer (or a failure after its first token, for a non-stream: a cut body).
        (result, Some(first)) if !chat.stream => {
            s.wait_until(scheduled.done_at).await;
            if result.is_err() {
                return error(502, "upstream_error", "simulated failure after the first token");
            }
            let text = "x ".repeat(usage.completion_tokens as usize);
            let _ = first;
            if dialect == Dialect::Anthropic {
                let body = serde_json::json!({
                    "id": format!("msg_sim{seq}"), "type": "message", "role": "assistant", "model": model,
                    "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                    "usage": usage.to_anthropic_json(),
                });
                return ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
            }
            let body = serde_json::json!({
                "id": format!("sim-{seq}"), "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage.to_json(),
            });
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
        // A stream: tokens spread from the first token to the end; a cut
        // stops there without [DONE]; a malformed one sends a broken chunk.
        (result, Some(first)) => {
            let tokens = usage.completion_tokens.max(1);
            let span = scheduled.done_at.saturating_sub(first);
            let kind = result.as_ref().err().map(|e| e.kind);
            let id = format!("sim-{seq}");
            let st = s.clone();
            let stream = futures_util::stream::unfold(0u32, move |i| {
                let (st, id, model) = (st.clone(), id.clone(), model.clone());
                async move {
                    if i > tokens {
                        return None;
                    }
                    if i == tokens {
                        st.wait_until(first + span).await;
                        let end = match (kind, dialect) {
                            (None, Dialect::OpenAi) => {
                                let last = openai_chunk(&id, &model, None, Some("stop"), Some(usage));
                                format!("{}data: [DONE]\n\n", sse_data(&last.to_string()))
                            }
                            (None, Dialect::Anthropic) => {
                                let delta = serde_json::json!({"type": "message_delta",
                                    "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": usage.completion_tokens}});
                                let stop = serde_json::json!({"type": "content_block_stop", "index": 0});
                                format!(
                                    "{}{}{}",
                                    sse_event("content_block_stop", &stop.to_string()),
                                    sse_event("message_delta", &delta.to_string()),
                                    sse_event("message_stop", r#"{"type":"message_stop"}"#)
                                )
                            }
                            (Some(ErrorKind::Malformed), _) => "data: {not json\n\n".to_string(),
                            // A cut: the connection ends without [DONE].
                            (Some(_), _) => return Some((Err(std::io::Error::other("simulated cut")), i + 1)),
                        };
                        return Some((Ok::<_, std::io::Error>(Bytes::from(end)), i + 1));
                    }
                    let at = first + span * u64::from(i) / u64::from(tokens);
                    st.wait_until(at).await;
                    let frame = match dialect {
                        Dialect::OpenAi => sse_data(&openai_chunk(&id, &model, Some("x "), None, None).to_string()),
                        Dialect::Anthropic => {
                            let delta = serde_json::json!({"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": "x "}});
                            let mut f = String::new();
                            if i == 0 {
                                let start = serde_json::json!({"type": "message_start", "message": {
                                    "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                                    "usage": Usage { completion_tokens: 0, ..usage }.to_anthropic_json()}});
                                let block = serde_json::json!({"type": "content_block_start", "index": 0,
                                    "content_block": {"type": "text", "text": ""}});
                                f.push_str(&sse_event("message_start", &start.to_string()));
                                f.push_str(&sse_event("content_block_start", &block.to_string()));
                            }
                            f.push_str(&sse_event("content_block_delta", &delta.to_string()));
                            f
                        }
                    };
                    Some((Ok(Bytes::from(frame)), i + 1))
                }
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| error(500, "internal", "cannot build the stream"))
        }
    }
}

/// Serves `scenario` on `listen` until SIGINT or SIGTERM. `ready` gets the
/// bound address.
pub fn serve(
    scenario: &Scenario,
    listen: &str,
    speed: f64,
    ready: impl FnOnce(std::net::SocketAddr),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let app = router(scenario, speed);
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        ready(listener.local_addr()?);
        axum::serve(crate::no_delay(listener), app).with_graceful_shutdown(crate::shutdown_signal()).await
    })
}
