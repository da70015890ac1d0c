//! [`Upstream`] and [`run_attempt`]: one attempt on one real endpoint over
//! HTTP, the live counterpart of a simulated endpoint. It sends the body in
//! the upstream's dialect (OpenAI chat completions, or Anthropic Messages
//! translated both ways), applies the attempt's cut-offs (time to first
//! token, stall between chunks, the attempt timeout), classifies every
//! failure into SPEC's kinds (`windtunnel_openai::classify`), and reports to
//! the driver: the first token (the driver decides whether this attempt may
//! start the client's answer) and the end, with usage.
//!
//! A streamed answer's chunks go from here straight to the client's channel
//! once the driver has committed the request to this attempt; the driver
//! only sees the first token and the end.

use crate::chaos::{ChaosFault, Injection};
use crate::driver::{AttemptOutcome, ClientEvent, DriverMsg};
use crate::secret::Secret;
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};
use windtunnel_config::UpstreamKind;
use windtunnel_core::{AttemptError, ErrorKind};
use windtunnel_executor::AttemptId;
use windtunnel_openai::{
    AnthropicStream, ChatRequest, SseDecoder, StreamItem, Usage, anthropic_response_to_openai, classify, count_tokens,
    error_body, parse_openai_event, parse_openai_response, sse_data,
};

/// The most bytes of a non-streamed answer or an error body read.
const MAX_BODY_BYTES: usize = 16 << 20;

/// How long a stream may stay silent after its first token when the plan
/// sets no `stall_timeout_ms`: without some bound a dead connection would
/// hold the client forever.
pub(crate) const DEFAULT_STALL: Duration = Duration::from_secs(60);

/// A real endpoint.
#[derive(Debug)]
pub(crate) struct Upstream {
    /// The dialect.
    pub(crate) kind: UpstreamKind,
    /// The full URL attempts are POSTed to.
    pub(crate) url: String,
    /// The model name sent.
    pub(crate) model: String,
    /// The API key, if the upstream needs one.
    pub(crate) key: Option<Secret>,
    /// Continues an assistant message: a mid-stream rescue target.
    pub(crate) accepts_prefill: bool,
    /// The endpoint has `prompt_cache`: an Anthropic body is marked for
    /// caching (`cache_control`), which Anthropic needs to cache at all.
    pub(crate) cache_prompts: bool,
}

impl Upstream {
    /// The URL for `base_url` in this dialect.
    pub(crate) fn endpoint_url(kind: UpstreamKind, base_url: &str) -> String {
        match kind {
            UpstreamKind::OpenAi => format!("{base_url}/chat/completions"),
            UpstreamKind::Anthropic => format!("{base_url}/messages"),
        }
    }
}

/// One attempt's work order.
#[derive(Debug)]
pub(crate) struct AttemptJob {
    /// Which attempt.
    pub(crate) id: AttemptId,
    /// Where it goes.
    pub(crate) upstream: Arc<Upstream>,
    /// The client's request.
    pub(crate) chat: Arc<ChatRequest>,
    /// When it started.
    pub(crate) started: Instant,
    /// The whole attempt (non-streamed) or its first token (streamed) must come by then.
    pub(crate) timeout_at: Instant,
    /// Streams: the first token must come by then (plan `ttft_timeout_ms`).
    pub(crate) first_token_by: Option<Instant>,
    /// Streams: the longest silence between chunks.
    pub(crate) stall: Duration,
    /// The request's deadline: after the first token, a stream is bounded by
    /// it and by the stall timeout, no longer by the attempt timeout.
    pub(crate) deadline: Option<Instant>,
    /// The client's answer channel.
    pub(crate) client: mpsc::UnboundedSender<ClientEvent>,
    /// The driver.
    pub(crate) driver: mpsc::UnboundedSender<DriverMsg>,
    /// A mid-stream rescue: the answer so far, sent as an assistant prefix;
    /// the continuation goes to the client without asking the driver first
    /// (the request is already committed).
    pub(crate) prefill: Option<String>,
    /// A chaos fault to meet on the way (`--chaos`): carried out here,
    /// between the executor and the upstream.
    pub(crate) chaos: Option<Injection>,
}

/// Runs one attempt to its end and tells the driver.
pub(crate) async fn run_attempt(http: reqwest::Client, job: AttemptJob) {
    let outcome = attempt(&http, &job).await;
    if let Some(outcome) = outcome {
        let _ = job.driver.send(DriverMsg::Done { id: job.id, outcome });
    }
}

fn failure(err: AttemptError, message: impl Into<String>) -> AttemptOutcome {
    AttemptOutcome { result: Err((err, message.into())), ttft_ms: None, usage: None, body: None, text: String::new() }
}

/// `None` when the driver called the attempt off (another one answered first).
async fn attempt(http: &reqwest::Client, job: &AttemptJob) -> Option<AttemptOutcome> {
    let up = &job.upstream;
    let body = match up.kind {
        UpstreamKind::OpenAi => job.chat.to_openai_body(&up.model, job.prefill.as_deref()),
        UpstreamKind::Anthropic => {
            let mut body = job.chat.to_anthropic_body(&up.model, job.prefill.as_deref());
            if up.cache_prompts {
                windtunnel_openai::mark_anthropic_prompt_cache(&mut body);
            }
            body
        }
    };
    let mut rb = http.post(&up.url).header("content-type", "application/json").body(body.to_string());
    match (up.kind, &up.key) {
        (UpstreamKind::OpenAi, Some(k)) => rb = rb.bearer_auth(k.expose()),
        (UpstreamKind::Anthropic, Some(k)) => rb = rb.header("x-api-key", k.expose()),
        _ => {}
    }
    if up.kind == UpstreamKind::Anthropic {
        rb = rb.header("anthropic-version", "2023-06-01");
    }
    let head_by = match job.first_token_by {
        Some(t) if job.chat.stream => t.min(job.timeout_at),
        _ => job.timeout_at,
    };
    if let Some(inj) = &job.chaos
        && let Some(outcome) = before_send(inj, head_by).await
    {
        return Some(outcome);
    }
    let resp = match timeout_at(head_by, rb.send()).await {
        Err(_) => {
            return Some(failure(AttemptError::new(ErrorKind::Timeout), "no answer before the attempt's timeout"));
        }
        Ok(Err(e)) => return Some(failure(connection_error(&e), "upstream connection failed")),
        Ok(Ok(r)) => r,
    };
    let status = resp.status().as_u16();
    if status != 200 {
        let headers = resp.headers().clone();
        let body = read_body(resp, job.timeout_at).await.unwrap_or_default();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        #[expect(clippy::disallowed_methods, reason = "an HTTP-date Retry-After counts from the wall clock")]
        let now = SystemTime::now();
        let (err, message) = classify(status, &header, &body, now);
        return Some(failure(err, message));
    }
    if let Some(Injection { fault: ChaosFault::TtftDelay { ms }, .. }) = &job.chaos
        && !pause(*ms, head_by).await
    {
        return Some(failure(AttemptError::new(ErrorKind::Timeout), "no first token in time"));
    }
    if job.chat.stream { stream(resp, job).await } else { Some(whole(resp, job).await) }
}

/// Sleeps `ms`, unless `by` comes first; true when the whole pause was slept.
async fn pause(ms: u64, by: Instant) -> bool {
    let until = Instant::now() + Duration::from_millis(ms);
    tokio::time::sleep_until(until.min(by)).await;
    until <= by
}

/// The faults met before the request is sent: a status answered without
/// calling the upstream, a reset, a hang, a delay. `None`: send it.
async fn before_send(inj: &Injection, head_by: Instant) -> Option<AttemptOutcome> {
    let why = |what: &str| format!("{what} (chaos rule `{}`)", inj.name);
    match &inj.fault {
        ChaosFault::Status { status, body, .. } => {
            let ra = inj.fault.retry_after_ms();
            let header = |name: &str| match name {
                "retry-after-ms" => ra.map(|ms| ms.to_string()),
                "retry-after" => ra.map(|ms| ms.div_ceil(1000).to_string()),
                _ => None,
            };
            let body = body.clone().unwrap_or_else(|| {
                let (kind, code) = match status {
                    429 => ("rate_limit_error", "rate_limit_exceeded"),
                    400..=499 => ("invalid_request_error", "chaos"),
                    _ => ("server_error", "chaos"),
                };
                error_body(&why(&format!("injected {status}")), kind, Some(code)).to_string()
            });
            #[expect(clippy::disallowed_methods, reason = "an HTTP-date Retry-After counts from the wall clock")]
            let now = SystemTime::now();
            let (err, message) = classify(*status, &header, body.as_bytes(), now);
            Some(failure(err, why(&message)))
        }
        ChaosFault::Reset {} => Some(failure(AttemptError::new(ErrorKind::Connection), why("connection reset"))),
        ChaosFault::Hang {} => {
            tokio::time::sleep_until(head_by).await;
            Some(failure(AttemptError::new(ErrorKind::Timeout), why("no answer before the attempt's timeout")))
        }
        ChaosFault::Delay { ms } if !pause(*ms, head_by).await => {
            Some(failure(AttemptError::new(ErrorKind::Timeout), why("no answer before the attempt's timeout")))
        }
        _ => None,
    }
}

fn connection_error(e: &reqwest::Error) -> AttemptError {
    if e.is_timeout() { AttemptError::new(ErrorKind::Timeout) } else { AttemptError::new(ErrorKind::Connection) }
}

/// Reads a body of at most [`MAX_BODY_BYTES`] by `by`.
async fn read_body(mut resp: reqwest::Response, by: Instant) -> Result<Vec<u8>, AttemptError> {
    let mut out = Vec::new();
    loop {
        match timeout_at(by, resp.chunk()).await {
            Err(_) => return Err(AttemptError::new(ErrorKind::Timeout)),
            Ok(Err(e)) => return Err(connection_error(&e)),
            Ok(Ok(None)) => return Ok(out),
            Ok(Ok(Some(c))) => {
                if out.len() + c.len() > MAX_BODY_BYTES {
                    return Err(AttemptError::new(ErrorKind::Malformed));
                }
                out.extend_from_slice(&c);
            }
        }
    }
}

/// Usage counted by the proxy, for an answer that did not report it.
fn counted_usage(chat: &ChatRequest, answer: &str) -> Usage {
    Usage {
        prompt_tokens: count_tokens(&chat.prompt_text()),
        completion_tokens: count_tokens(answer),
        cached_prompt_tokens: 0,
        cache_write_prompt_tokens: 0,
    }
}

/// Whether an OpenAI chunk's JSON carries output beyond its text: a tool
/// or function call (a role-only chunk does not).
fn carries_output(chunk: &str) -> bool {
    chunk.contains("\"tool_calls\"") || chunk.contains("\"function_call\"")
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A non-streamed answer: read whole, parsed, usage taken (or counted).
async fn whole(resp: reqwest::Response, job: &AttemptJob) -> AttemptOutcome {
    let body = match read_body(resp, job.timeout_at).await {
        Ok(b) => b,
        Err(e) => return failure(e, "the answer did not arrive whole"),
    };
    let ttft = Some(elapsed_ms(job.started));
    let parsed = match job.upstream.kind {
        UpstreamKind::OpenAi => parse_openai_response(&body).map(|(text, usage)| (Bytes::from(body), text, usage)),
        UpstreamKind::Anthropic => anthropic_response_to_openai(&body, &job.upstream.model).map(|(v, usage)| {
            let text = v["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string();
            (Bytes::from(v.to_string()), text, Some(usage))
        }),
    };
    match parsed {
        Ok((body, text, usage)) => {
            // A fault meant for a stream's middle meets a whole answer as a
            // body that never arrives whole: the upstream did the work, so
            // its usage is billed.
            if let Some(inj) = &job.chaos {
                let why = |what: &str| format!("{what} (chaos rule `{}`)", inj.name);
                let failed = |kind, what: &str| AttemptOutcome {
                    result: Err((AttemptError::new(kind), why(what))),
                    ttft_ms: None,
                    usage,
                    body: None,
                    text: String::new(),
                };
                match inj.fault {
                    ChaosFault::StreamCut { .. } => {
                        return failed(ErrorKind::Connection, "the answer was cut before it arrived whole");
                    }
                    ChaosFault::Malformed { .. } | ChaosFault::NoDone {} => {
                        return failed(ErrorKind::Malformed, "the answer arrived malformed");
                    }
                    ChaosFault::Stall { ms, .. } if !pause(ms, job.timeout_at).await => {
                        return failed(ErrorKind::Timeout, "the answer stalled past the attempt's timeout");
                    }
                    _ => {}
                }
            }
            // No usage in the answer: counted, so the request is billed.
            let usage = usage.or_else(|| Some(counted_usage(&job.chat, &text)));
            AttemptOutcome { result: Ok(()), ttft_ms: ttft, usage, body: Some(body), text }
        }
        Err(e) => AttemptOutcome { result: Err(e), ttft_ms: ttft, usage: None, body: None, text: String::new() },
    }
}

/// A streamed answer: the first token is offered to the driver; once
/// committed, chunks go straight to the client.
async fn stream(mut resp: reqwest::Response, job: &AttemptJob) -> Option<AttemptOutcome> {
    let mut sse = SseDecoder::new();
    let mut anthropic =
        (job.upstream.kind == UpstreamKind::Anthropic).then(|| AnthropicStream::new(&job.upstream.model));
    let mut committed = job.prefill.is_some();
    let mut ttft = None;
    let mut text = String::new();
    let mut usage: Option<Usage> = None;
    // A chaos fault due after so many content chunks, until it fires.
    let mut pending = job.chaos.as_ref().filter(|i| {
        matches!(
            i.fault,
            ChaosFault::Stall { .. }
                | ChaosFault::StreamCut { .. }
                | ChaosFault::Malformed { .. }
                | ChaosFault::NoDone {}
        )
    });
    let mut chunks: u32 = 0;
    // Chunks without output, held until the first token commits the request.
    let mut held: Vec<String> = Vec::new();
    let cut = |msg: &str, kind: ErrorKind, ttft: Option<u64>, text: &str, usage: Option<Usage>| AttemptOutcome {
        result: Err((AttemptError::new(kind), msg.to_string())),
        ttft_ms: ttft,
        usage,
        body: None,
        text: text.to_string(),
    };
    loop {
        // Before the first token: the TTFT and attempt cut-offs; after it,
        // the longest silence between chunks.
        let by = if committed {
            let stall = Instant::now() + job.stall;
            job.deadline.map_or(stall, |d| d.min(stall))
        } else {
            job.first_token_by.map_or(job.timeout_at, |t| t.min(job.timeout_at))
        };
        let chunk = match timeout_at(by, resp.chunk()).await {
            Err(_) if committed => {
                return Some(cut("the stream stalled", ErrorKind::StreamCut, ttft, &text, usage));
            }
            Err(_) => return Some(cut("no first token in time", ErrorKind::Timeout, ttft, &text, usage)),
            Ok(Err(_)) => {
                let kind = if committed { ErrorKind::StreamCut } else { ErrorKind::Connection };
                return Some(cut("the upstream connection was cut", kind, ttft, &text, usage));
            }
            Ok(Ok(None)) => {
                let kind = if committed { ErrorKind::StreamCut } else { ErrorKind::Malformed };
                return Some(cut("the stream ended early, without its end marker", kind, ttft, &text, usage));
            }
            Ok(Ok(Some(c))) => c,
        };
        let events = match sse.push(&chunk) {
            Ok(ev) => ev,
            Err(_) => return Some(cut("a malformed stream", ErrorKind::Malformed, ttft, &text, usage)),
        };
        for ev in events {
            // Each event as OpenAI chunks to forward, or the end; `content`:
            // they carry output (text or a tool call), not only a role.
            let mut content = false;
            let (mut out, done): (Vec<String>, bool) = match anthropic.as_mut() {
                Some(a) => match a.on_event(&ev) {
                    Ok(chunks) => {
                        for c in &chunks {
                            if let Some(t) = c["choices"][0]["delta"]["content"].as_str() {
                                content |= !t.is_empty();
                                text.push_str(t);
                            }
                        }
                        let finished = a.is_finished();
                        if finished {
                            usage = Some(a.usage());
                        }
                        let data: Vec<String> = chunks.iter().map(|c| c.to_string()).collect();
                        content |= data.iter().any(|d| carries_output(d));
                        (data.iter().map(|d| sse_data(d)).collect(), finished)
                    }
                    Err((e, m)) => return Some(cut(&m, e.kind, ttft, &text, usage)),
                },
                None => match parse_openai_event(&ev.data) {
                    Ok(StreamItem::Done) => (Vec::new(), true),
                    Ok(StreamItem::Chunk { text: t, usage: u, .. }) => {
                        content = !t.is_empty() || carries_output(&ev.data);
                        text.push_str(&t);
                        if u.is_some() {
                            usage = u;
                        }
                        (vec![sse_data(&ev.data)], false)
                    }
                    Err((e, m)) => return Some(cut(&m, e.kind, ttft, &text, usage)),
                },
            };
            // The fault fires before its chunk, or before the end of an answer shorter than it asks for.
            if let Some(inj) = pending
                && (done || content)
            {
                let due = match inj.fault {
                    ChaosFault::Stall { after_tokens, .. }
                    | ChaosFault::StreamCut { after_tokens }
                    | ChaosFault::Malformed { after_tokens } => done || chunks >= after_tokens,
                    _ => done,
                };
                if due {
                    pending = None;
                    let why = |what: &str| format!("{what} (chaos rule `{}`)", inj.name);
                    match inj.fault {
                        ChaosFault::StreamCut { .. } => {
                            let kind = if committed { ErrorKind::StreamCut } else { ErrorKind::Connection };
                            return Some(cut(&why("the upstream connection was cut"), kind, ttft, &text, usage));
                        }
                        ChaosFault::Malformed { .. } => {
                            return Some(cut(&why("a malformed stream"), ErrorKind::Malformed, ttft, &text, usage));
                        }
                        ChaosFault::NoDone {} => {
                            let kind = if committed { ErrorKind::StreamCut } else { ErrorKind::Malformed };
                            let m = why("the stream ended early, without its end marker");
                            return Some(cut(&m, kind, ttft, &text, usage));
                        }
                        ChaosFault::Stall { ms, .. } => {
                            let by = if committed {
                                let stall = Instant::now() + job.stall;
                                job.deadline.map_or(stall, |d| d.min(stall))
                            } else {
                                job.first_token_by.map_or(job.timeout_at, |t| t.min(job.timeout_at))
                            };
                            if !pause(ms, by).await {
                                let (kind, m) = if committed {
                                    (ErrorKind::StreamCut, "the stream stalled")
                                } else {
                                    (ErrorKind::Timeout, "no first token in time")
                                };
                                return Some(cut(&why(m), kind, ttft, &text, usage));
                            }
                        }
                        _ => {}
                    }
                }
            }
            if !done && content {
                chunks = chunks.saturating_add(1);
            }
            if ttft.is_none() && content {
                ttft = Some(elapsed_ms(job.started));
            }
            if !committed {
                // Chunks without output (the role chunk, a ping) wait for the
                // first token: a stream that dies before it still fails over
                // unseen.
                held.append(&mut out);
                if !content && !done {
                    continue;
                }
                // The first token (or an answer without one): may this
                // attempt start the client's answer?
                ttft = Some(elapsed_ms(job.started));
                let (tx, rx) = oneshot::channel();
                if job.driver.send(DriverMsg::FirstToken { id: job.id, reply: tx }).is_err() {
                    return None;
                }
                match rx.await {
                    Ok(true) => committed = true,
                    _ => return None,
                }
                out = std::mem::take(&mut held);
            }
            for data in out {
                if job.client.send(ClientEvent::Data(Bytes::from(data))).is_err() {
                    // The client went away: the attempt ends, billed for what came.
                    return Some(cut("the client went away", ErrorKind::StreamCut, ttft, &text, usage));
                }
            }
            if done {
                if ttft.is_none() {
                    ttft = Some(elapsed_ms(job.started));
                }
                let usage = usage.or_else(|| Some(counted_usage(&job.chat, &text)));
                return Some(AttemptOutcome { result: Ok(()), ttft_ms: ttft, usage, body: None, text });
            }
        }
    }
}
