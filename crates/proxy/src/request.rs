//! [`Incoming`]: a client's chat-completions call turned into the core
//! [`Request`] the policy and the executor see: tenant, class, request id,
//! deadline and language from `x-windtunnel-*` headers, the prompt's tokens
//! counted before routing (so context fit and budget reservation work as in
//! the simulator), `max_tokens` from the body, and `hash_ids` of the prompt's
//! 512-token blocks (so `cached_tokens(req)` sees which endpoint holds a
//! conversation's prefix, as in simulation). The policy never sees the
//! answer's length: `output_tokens` is set to `max_tokens`, the most it can be.

use std::sync::Arc;
use windtunnel_core::{Request, Sym};
use windtunnel_openai::{ChatRequest, detect_lang, prompt_blocks};

/// `max_tokens` assumed when the client sets none: what budgets reserve and
/// context fit counts. OpenAI's own default is the model's whole output cap.
pub const DEFAULT_MAX_TOKENS: u32 = 4_096;

/// What the proxy knows of one client call.
#[derive(Clone, Debug)]
pub(crate) struct Incoming {
    /// The request as routing sees it.
    pub(crate) request: Request,
    /// The body, forwarded upstream.
    pub(crate) chat: Arc<ChatRequest>,
    /// Headers chaos rules may match (lower-cased names; never credentials).
    pub(crate) headers: crate::chaos::RequestHeaders,
}

/// Headers the proxy reads, looked up case-insensitively by the caller.
pub(crate) trait Headers {
    /// The header's value, if present and text.
    fn get(&self, name: &str) -> Option<String>;
}

impl Incoming {
    /// Builds the core request number `seq` from `chat` and the headers.
    /// Errors are messages for a 400 answer.
    pub(crate) fn new(seq: u64, now_ms: u64, chat: ChatRequest, headers: &dyn Headers) -> Result<Incoming, String> {
        let text = chat.prompt_text();
        let (input, blocks) = prompt_blocks(&text, windtunnel_trace::BLOCK_TOKENS as usize);
        let max_tokens = chat.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        let mut r = Request::new(seq, now_ms, input, max_tokens);
        if !blocks.is_empty() {
            r.hash_ids = Some(blocks.into_boxed_slice());
        }
        r.max_tokens = max_tokens;
        r.stream = chat.stream;
        r.id = Some(Sym::from(
            headers.get("x-windtunnel-request-id").unwrap_or_else(|| format!("req-{}", seq + 1)).as_str(),
        ));
        if let Some(t) = headers.get("x-windtunnel-tenant") {
            r.tenant = Sym::from(t.as_str());
        }
        if let Some(c) = headers.get("x-windtunnel-class") {
            r.class = Sym::from(c.as_str());
        }
        if let Some(d) = headers.get("x-windtunnel-deadline-ms") {
            r.deadline_ms = Some(d.trim().parse().map_err(|_| {
                format!("x-windtunnel-deadline-ms: found `{d}`, expected a whole number of milliseconds")
            })?);
        }
        r.lang = headers
            .get("x-windtunnel-lang")
            .map(|l| Sym::from(l.as_str()))
            .or_else(|| detect_lang(&text).map(Sym::from));
        if !chat.model.is_empty() {
            r.model = Some(Sym::from(chat.model.as_str()));
        }
        Ok(Incoming { request: r, chat: Arc::new(chat), headers: Vec::new() })
    }
}
