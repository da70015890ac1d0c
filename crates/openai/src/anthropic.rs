//! Anthropic's Messages API translated into OpenAI's shapes: a whole answer
//! ([`anthropic_response_to_openai`]) and a stream, event by event
//! ([`AnthropicStream`]). The request direction is
//! [`ChatRequest::to_anthropic_body`](crate::ChatRequest::to_anthropic_body).
//!
//! Stop reasons map as `end_turn`, `stop_sequence`, `pause_turn` → `stop`,
//! `max_tokens` → `length`, `tool_use` → `tool_calls`, `refusal` →
//! `content_filter` (anything new → `stop`). Prompt tokens are
//! `input_tokens + cache_creation_input_tokens + cache_read_input_tokens`:
//! Anthropic counts cached prompt tokens apart, OpenAI inside
//! `prompt_tokens`.

use crate::classify::ErrorInfo;
use crate::openai::{malformed, openai_chunk, openai_role_chunk, upstream_error};
use crate::sse::SseEvent;
use crate::usage::{Usage, sat_u32};
use serde_json::{Value, json};
use windtunnel_core::AttemptError;

/// Anthropic → OpenAI: a whole Messages response as an OpenAI
/// `chat.completion` JSON (`id`, `object`, `created` = 0, `model`,
/// `choices[0].message{role, content}`, `finish_reason` mapped, `usage`),
/// plus its usage.
///
/// Errors, with a message: a body that is not a Messages response (no
/// `content` array, no `usage`) is `malformed`; an Anthropic error body is
/// its classified kind.
///
/// ```
/// let body = br#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-3-5-haiku-20241022","content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":3}}"#;
/// let (v, usage) = windtunnel_openai::anthropic_response_to_openai(body, "claude-haiku").unwrap();
/// assert_eq!(v["choices"][0]["message"]["content"], "Hi!");
/// assert_eq!(v["choices"][0]["finish_reason"], "stop");
/// assert_eq!((usage.prompt_tokens, usage.completion_tokens), (10, 3));
/// ```
pub fn anthropic_response_to_openai(body: &[u8], model: &str) -> Result<(Value, Usage), (AttemptError, String)> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| malformed(format!("the answer is not an Anthropic message: {e}")))?;
    if v.get("type").and_then(Value::as_str) == Some("error") {
        let info = ErrorInfo::from_error_member(&v).unwrap_or_default();
        return Err(upstream_error(&info, "the upstream answered with an error"));
    }
    let Some(Value::Array(blocks)) = v.get("content") else {
        return Err(malformed("the answer is not an Anthropic message: no `content` array"));
    };
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let Some(u) = v.get("usage").filter(|u| u.is_object()) else {
        return Err(malformed("the answer is not an Anthropic message: no `usage`"));
    };
    let usage = Usage { completion_tokens: count(u, "output_tokens"), ..prompt_usage(u) };
    let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
    let finish = v.get("stop_reason").and_then(Value::as_str).map(finish_reason);
    let out = json!({
        "id": id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": text },
            "finish_reason": finish,
        }],
        "usage": usage.to_json(),
    });
    Ok((out, usage))
}

/// Anthropic stream → OpenAI chunks, event by event.
///
/// | Anthropic event | OpenAI chunks |
/// |---|---|
/// | `message_start` | the role chunk (`delta: {role: "assistant", content: ""}`), as OpenAI starts; prompt tokens noted |
/// | `content_block_delta` with a `text_delta` | a chunk with `delta.content` |
/// | `message_delta` | a chunk with the mapped `finish_reason`; output tokens noted |
/// | `message_stop` | a usage-only chunk (empty `choices`), and the stream is finished |
/// | `error` | `Err`: the error's classified kind (`overloaded_error` → `overloaded`) |
/// | `ping`, `content_block_start`/`_stop`, other deltas (tool input, thinking), unknown events | nothing |
///
/// Chunks carry the message's id and the model given to [`AnthropicStream::new`].
/// Events after `message_stop` are ignored. The `[DONE]` line is the
/// caller's to write.
#[derive(Clone, Debug)]
pub struct AnthropicStream {
    model: String,
    id: String,
    usage: Usage,
    finished: bool,
}

impl AnthropicStream {
    /// A translator for one stream, whose chunks name `model`.
    pub fn new(model: &str) -> Self {
        AnthropicStream { model: model.to_string(), id: String::new(), usage: Usage::default(), finished: false }
    }

    /// Translates one event. The event's kind is its `event:` field, else the
    /// data's `type`.
    pub fn on_event(&mut self, ev: &SseEvent) -> Result<Vec<Value>, (AttemptError, String)> {
        if self.finished {
            return Ok(Vec::new());
        }
        let v: Value =
            serde_json::from_str(&ev.data).map_err(|e| malformed(format!("malformed Anthropic stream event: {e}")))?;
        let kind = match ev.event.as_deref() {
            Some(k) => k,
            None => v.get("type").and_then(Value::as_str).unwrap_or_default(),
        };
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                let message = v.get("message").unwrap_or(&Value::Null);
                self.id = message.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                if let Some(u) = message.get("usage").filter(|u| u.is_object()) {
                    self.usage = Usage { completion_tokens: count(u, "output_tokens"), ..prompt_usage(u) };
                }
                out.push(openai_role_chunk(&self.id, &self.model));
            }
            "content_block_start" => {
                let block = v.get("content_block").unwrap_or(&Value::Null);
                if let Some(t) = block.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                    out.push(openai_chunk(&self.id, &self.model, Some(t), None, None));
                }
            }
            "content_block_delta" => {
                let delta = v.get("delta").unwrap_or(&Value::Null);
                if delta.get("type").and_then(Value::as_str) == Some("text_delta") {
                    let Some(t) = delta.get("text").and_then(Value::as_str) else {
                        return Err(malformed("malformed Anthropic stream event: a text_delta without text"));
                    };
                    if !t.is_empty() {
                        out.push(openai_chunk(&self.id, &self.model, Some(t), None, None));
                    }
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                    if u.get("output_tokens").is_some() {
                        self.usage.completion_tokens = count(u, "output_tokens");
                    }
                    // Newer API versions repeat the (cumulative) input counts here.
                    if u.get("input_tokens").and_then(Value::as_u64).is_some() {
                        self.usage = Usage { completion_tokens: self.usage.completion_tokens, ..prompt_usage(u) };
                    }
                }
                let stop = v.get("delta").and_then(|d| d.get("stop_reason")).and_then(Value::as_str);
                if let Some(stop) = stop {
                    out.push(openai_chunk(&self.id, &self.model, None, Some(finish_reason(stop)), None));
                }
            }
            "message_stop" => {
                self.finished = true;
                out.push(openai_chunk(&self.id, &self.model, None, None, Some(self.usage)));
            }
            "error" => {
                let info = ErrorInfo::from_error_member(&v).unwrap_or_default();
                return Err(upstream_error(&info, "the upstream reported an error mid-stream"));
            }
            _ => {}
        }
        Ok(out)
    }

    /// `message_stop` has been seen: the answer is complete.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The usage so far (complete once finished).
    pub fn usage(&self) -> Usage {
        self.usage
    }
}

/// An Anthropic `stop_reason` in OpenAI's words.
fn finish_reason(stop: &str) -> &'static str {
    match stop {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

fn count(u: &Value, field: &str) -> u32 {
    sat_u32(u.get(field).and_then(Value::as_u64).unwrap_or(0))
}

/// The prompt's side of an Anthropic `usage`: all its tokens (input, cache
/// writes and cache reads), of which those read from and written to the
/// cache.
fn prompt_usage(u: &Value) -> Usage {
    let (read, written) = (count(u, "cache_read_input_tokens"), count(u, "cache_creation_input_tokens"));
    Usage {
        prompt_tokens: count(u, "input_tokens").saturating_add(written).saturating_add(read),
        completion_tokens: 0,
        cached_prompt_tokens: read,
        cache_write_prompt_tokens: written,
    }
}

#[cfg(test)]
mod tests;
