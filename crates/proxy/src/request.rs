//! [`Incoming`]: a client's chat-completions call turned into the core
//! [`Request`] the policy and the executor see: tenant, class, request id,
//! deadline and language from `x-windtunnel-*` headers, the prompt's tokens
//! counted before routing (so context fit and budget reservation work as in
//! the simulator), `max_tokens` from the body, and `hash_ids` of the prompt's
//! 512-token blocks (so `cached_tokens(req)` sees which endpoint holds a
//! conversation's prefix, as in simulation), and a `prompt_hash` of the whole
//! request ([`prompt_hash`]). The policy never sees the answer's length:
//! `output_tokens` is set to `max_tokens`, the most it can be.

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
        r.prompt_hash = Some(prompt_hash(&chat, &r.tenant));
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

/// A request's `prompt_hash`: a hash of its tenant and of everything that
/// shapes the answer (model, messages, `max_tokens` and every other field
/// as sent, but not whether or how it is streamed), so only an identical
/// request of the same tenant has the same one. It is the response cache's
/// key, the policy's `req.prompt_hash`, and (with `--record-prompts`) what a
/// recording says, so a replay finds the same repeats. The body is hashed as
/// it is serialised, never copied.
pub(crate) fn prompt_hash(chat: &ChatRequest, tenant: &str) -> u64 {
    use std::hash::Hasher;
    /// Feeds serialised JSON straight into the hasher.
    struct Feed<'a>(&'a mut std::collections::hash_map::DefaultHasher);
    impl std::io::Write for Feed<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // SipHash with fixed keys: the same request, the same hash, in every run.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for part in [tenant, chat.model.as_str()] {
        h.write(part.as_bytes());
        h.write_u8(0xff);
    }
    h.write_u64(chat.max_tokens.map_or(u64::MAX, u64::from));
    // Serialising a JSON value cannot fail, and the feed never does.
    let _ = serde_json::to_writer(Feed(&mut h), &chat.messages);
    for (k, v) in chat.extra.iter().filter(|(k, _)| *k != "stream_options") {
        h.write(k.as_bytes());
        h.write_u8(0xff);
        let _ = serde_json::to_writer(Feed(&mut h), v);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: serde_json::Value) -> ChatRequest {
        ChatRequest::parse(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn only_an_identical_request_of_the_same_tenant_has_the_same_prompt_hash() {
        let base = serde_json::json!({"model": "m", "max_tokens": 5, "temperature": 0.2,
            "messages": [{"role": "user", "content": "Capital of France?"}]});
        let h = prompt_hash(&chat(base.clone()), "t");
        assert_eq!(h, prompt_hash(&chat(base.clone()), "t"));
        // Streaming, and how, do not count.
        let mut streamed = base.clone();
        streamed["stream"] = true.into();
        streamed["stream_options"] = serde_json::json!({"include_usage": true});
        assert_eq!(h, prompt_hash(&chat(streamed), "t"));
        // Anything else does.
        assert_ne!(h, prompt_hash(&chat(base.clone()), "u"));
        for (field, value) in [
            ("model", serde_json::json!("n")),
            ("max_tokens", serde_json::json!(6)),
            ("temperature", serde_json::json!(0.3)),
            ("messages", serde_json::json!([{"role": "user", "content": "Capital of Spain?"}])),
        ] {
            let mut other = base.clone();
            other[field] = value;
            assert_ne!(h, prompt_hash(&chat(other), "t"), "{field}");
        }
    }
}
