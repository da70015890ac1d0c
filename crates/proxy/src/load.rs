//! `windtunnel load`: open-loop replay of a trace against any
//! OpenAI-compatible URL (windtunnel's proxy, LiteLLM, a provider). Each
//! request is sent at its arrival time divided by `--speed`, whether or not
//! earlier ones have answered, with its tenant, class and id in
//! `x-windtunnel-*` headers; its prompt is the trace's `messages`, or
//! synthetic text that the proxy's token estimate counts as exactly
//! `input_tokens`, sharing blocks with other prompts as the trace's
//! `hash_ids` say ([`synthetic_prompt`]); `max_tokens` is the trace's
//! `output_tokens`.
//!
//! What comes back is counted client side ([`LoadReport`], `load.json`):
//! requests sent, answered, lost (no answer at all: a connection error or a
//! cut body), answered twice (a request id seen in two answers), answers by
//! status, latency and time-to-first-byte percentiles, and answers by the
//! endpoint the proxy named in `x-windtunnel-endpoint`.

use crate::secret::Secret;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use windtunnel_core::Request;

/// `load.json`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// The URL loaded.
    pub target: String,
    /// The speed-up applied to arrival times.
    pub speed: f64,
    /// Requests sent.
    pub sent: u64,
    /// Requests that got an answer (any status).
    pub answered: u64,
    /// Requests that got none: a connection error, or a body cut short.
    pub lost: u64,
    /// Request ids that came back in more than one answer.
    pub answered_twice: u64,
    /// Answers by HTTP status.
    pub by_status: BTreeMap<u16, u64>,
    /// End-to-end latency of answers with status 200, in the experiment's
    /// milliseconds (the wall clock times `speed`, so comparable with the
    /// scenario and the proxy's report); an error answer's speed says
    /// nothing of the answers'.
    pub latency_ms: Percentiles,
    /// Time to the first byte of the body of answers with status 200, in
    /// the experiment's milliseconds (streams: the first chunk).
    pub ttft_ms: Percentiles,
    /// Answers by `x-windtunnel-endpoint`, where the target says.
    pub endpoints: BTreeMap<String, u64>,
    /// Wall time of the whole load, ms.
    pub wall_ms: u64,
}

/// Latency percentiles, ms.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th.
    pub p90: u64,
    /// 99th.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Percentiles {
    /// From a histogram of microseconds, rounded to milliseconds.
    fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us.saturating_add(500) / 1000;
        Percentiles {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// How to load.
#[derive(Debug)]
pub struct LoadOptions {
    /// Base URL: requests go to `{target}/chat/completions` (give `.../v1`).
    pub target: String,
    /// Arrival times are divided by this.
    pub speed: f64,
    /// The bearer key to send, if any.
    pub api_key: Option<Secret>,
    /// At most this many requests in flight; a request due while the limit
    /// is reached waits (and the report says the load fell behind).
    pub max_inflight: usize,
}

/// The prompt `load` sends for a trace line without `messages`: text that
/// the proxy's tokenizer counts as exactly `input_tokens`, whose 512-token
/// blocks follow the line's `hash_ids` (or its one-block `prefix_hash`), so
/// a provider's prompt cache, and the proxy's view of it, see the sharing
/// the trace has. The rest is drawn from the line's `prompt_hash` (repeated
/// prompts are the same text, for a response cache) or else from its number
/// (a prompt no other line shares).
pub fn synthetic_prompt(req: &Request) -> String {
    let blocks = match (&req.hash_ids, &req.prefix_hash) {
        (Some(ids), _) => ids.as_ref(),
        (None, Some(p)) => std::slice::from_ref(p),
        (None, None) => &[],
    };
    // Request numbers kept apart from prompt hashes.
    let salt = req.prompt_hash.unwrap_or(req.seq ^ 0x5eed_0000_0000_0000);
    windtunnel_openai::synthetic_prompt(req.input_tokens, blocks, windtunnel_trace::BLOCK_TOKENS, salt)
}

#[derive(Default)]
struct Tally {
    report: LoadReport,
    latency: Option<Histogram<u64>>,
    ttft: Option<Histogram<u64>>,
    /// Answers per request id, by a 64-bit hash of the id (a few bytes a
    /// request, however long the ids: a million-line trace keeps it small).
    seen: BTreeMap<u64, u32>,
}

/// Sends `requests` open loop, calling `progress(sent)` as they go, and
/// returns what came back.
pub fn run_load(
    requests: impl Iterator<Item = Request>,
    opts: &LoadOptions,
    mut progress: impl FnMut(u64),
) -> std::io::Result<LoadReport> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let url = format!("{}/chat/completions", opts.target.trim_end_matches('/'));
        let tally = Arc::new(Mutex::new(Tally {
            latency: Histogram::new(3).ok(),
            ttft: Histogram::new(3).ok(),
            ..Tally::default()
        }));
        let limit = Arc::new(tokio::sync::Semaphore::new(opts.max_inflight.max(1)));
        let start = tokio::time::Instant::now();
        // Requests in flight; finished ones are reaped as new ones go out,
        // so memory follows what is in flight, not the whole trace.
        let mut tasks = tokio::task::JoinSet::new();
        let mut sent = 0u64;
        let speed = opts.speed;
        for req in requests {
            let due = start + Duration::from_secs_f64(req.at_ms as f64 / opts.speed / 1000.0);
            tokio::time::sleep_until(due).await;
            let Ok(permit) = limit.clone().acquire_owned().await else { break };
            sent += 1;
            progress(sent);
            let (client, url, tally, key) = (client.clone(), url.clone(), tally.clone(), opts.api_key.clone());
            tasks.spawn(async move {
                one(&client, &url, key.as_ref(), &req, &tally, speed).await;
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
        }
        tasks.join_all().await;
        let wall = start.elapsed();
        let mut t = match Arc::try_unwrap(tally) {
            Ok(m) => m.into_inner().unwrap_or_default(),
            Err(shared) => shared.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default(),
        };
        t.report.sent = sent;
        t.report.target = opts.target.clone();
        t.report.speed = opts.speed;
        t.report.answered_twice = t.seen.values().filter(|n| **n > 1).count() as u64;
        t.report.latency_ms = t.latency.as_ref().map(Percentiles::of).unwrap_or_default();
        t.report.ttft_ms = t.ttft.as_ref().map(Percentiles::of).unwrap_or_default();
        t.report.wall_ms = u64::try_from(wall.as_millis()).unwrap_or(u64::MAX);
        Ok(t.report)
    })
}

/// A request id as a 64-bit hash (SipHash, fixed keys): two ids of a trace
/// sharing one is a chance in about 37 million for a million requests.
fn id_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

async fn one(
    client: &reqwest::Client,
    url: &str,
    key: Option<&Secret>,
    req: &Request,
    tally: &Mutex<Tally>,
    speed: f64,
) {
    let id = req.id().to_string();
    let messages = match req.messages.as_deref().and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok()) {
        Some(m) => m,
        None => serde_json::json!([{"role": "user", "content": synthetic_prompt(req)}]),
    };
    let body = serde_json::json!({
        "model": req.model.as_deref().unwrap_or("default"),
        "messages": messages,
        "max_tokens": req.output_tokens.max(1),
        "stream": req.stream,
    });
    let mut rb = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-windtunnel-request-id", &id)
        .header("x-windtunnel-tenant", &*req.tenant)
        .header("x-windtunnel-class", &*req.class)
        .body(body.to_string());
    if let Some(k) = key {
        rb = rb.bearer_auth(k.expose());
    }
    let started = tokio::time::Instant::now();
    // Experiment microseconds: the wall clock times the speed.
    let us = |d: Duration| (d.as_secs_f64() * speed * 1e6).min(u64::MAX as f64) as u64;
    let Ok(mut resp) = rb.send().await else {
        if let Ok(mut t) = tally.lock() {
            t.report.lost += 1;
        }
        return;
    };
    let status = resp.status().as_u16();
    let endpoint = resp.headers().get("x-windtunnel-endpoint").and_then(|v| v.to_str().ok()).map(str::to_string);
    let answered_id = resp.headers().get("x-windtunnel-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut first = None;
    let mut whole = true;
    loop {
        match resp.chunk().await {
            Ok(Some(_)) => {
                first.get_or_insert_with(|| started.elapsed());
            }
            Ok(None) => break,
            Err(_) => {
                whole = false;
                break;
            }
        }
    }
    let latency = started.elapsed();
    let Ok(mut t) = tally.lock() else { return };
    if !whole {
        t.report.lost += 1;
        return;
    }
    t.report.answered += 1;
    *t.report.by_status.entry(status).or_insert(0) += 1;
    if let Some(e) = endpoint {
        *t.report.endpoints.entry(e).or_insert(0) += 1;
    }
    *t.seen.entry(id_hash(&answered_id.unwrap_or(id))).or_insert(0) += 1;
    if status != 200 {
        return;
    }
    if let Some(h) = t.latency.as_mut() {
        let _ = h.record(us(latency));
    }
    if let (Some(h), Some(f)) = (t.ttft.as_mut(), first) {
        let _ = h.record(us(f));
    }
}
