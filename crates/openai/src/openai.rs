//! OpenAI's chat-completions wire: stream chunks ([`parse_openai_event`],
//! [`openai_chunk`]), whole answers ([`parse_openai_response`]) and the error
//! shape ([`error_body`]).
//!
//! Parsing is lenient about what routing does not need (extra fields, a
//! missing `object`, `usage: null`) and strict about what it does: a chunk
//! must have `choices` or `usage`, an answer must have a first choice with a
//! message. Of several choices (`n > 1`) only index 0 is read: the proxy
//! routes one answer.

use crate::classify::ErrorInfo;
use crate::sse::sse_data;
use crate::usage::Usage;
use serde_json::{Map, Value, json};
use windtunnel_core::{AttemptError, ErrorKind};

/// One OpenAI stream event, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamItem {
    /// A `chat.completion.chunk`.
    Chunk {
        /// The text delta of choice 0 (`""` for a role-only, finish-only or
        /// usage-only chunk).
        text: String,
        /// Choice 0's `finish_reason`, on the last content chunk.
        finish_reason: Option<String>,
        /// The usage, on the last chunk of a stream asked with
        /// `stream_options.include_usage`.
        usage: Option<Usage>,
    },
    /// `[DONE]`: the stream is complete.
    Done,
}

/// Parses an OpenAI `data:` payload: `[DONE]` or a `chat.completion.chunk`
/// JSON.
///
/// Errors, with a message: an unparseable payload, or a chunk with neither
/// `choices` nor `usage`, is `malformed`; a chunk with an `error` object is
/// the error's classified kind (`server_error` when it names none: the
/// upstream said it failed, so the bytes are not malformed).
///
/// ```
/// use windtunnel_openai::{StreamItem, parse_openai_event};
/// let data = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
/// assert_eq!(
///     parse_openai_event(data),
///     Ok(StreamItem::Chunk { text: "Hi".into(), finish_reason: None, usage: None })
/// );
/// assert_eq!(parse_openai_event("[DONE]"), Ok(StreamItem::Done));
/// ```
pub fn parse_openai_event(data: &str) -> Result<StreamItem, (AttemptError, String)> {
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(StreamItem::Done);
    }
    let v: Value = serde_json::from_str(data).map_err(|e| malformed(format!("malformed stream chunk: {e}")))?;
    if let Some(info) = ErrorInfo::from_error_member(&v) {
        return Err(upstream_error(&info, "the upstream reported an error mid-stream"));
    }
    let obj = v.as_object().ok_or_else(|| malformed("malformed stream chunk: not a JSON object"))?;
    let usage = obj.get("usage").and_then(Usage::from_openai);
    let choice = match obj.get("choices") {
        Some(Value::Array(choices)) => first_choice(choices),
        Some(Value::Null) | None if usage.is_some() => None,
        _ => return Err(malformed("malformed stream chunk: no `choices` array")),
    };
    let text = match choice.and_then(|c| c.get("delta")).and_then(|d| d.get("content")) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(malformed("malformed stream chunk: `delta.content` is not a string")),
    };
    let finish_reason = choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str).map(str::to_string);
    Ok(StreamItem::Chunk { text, finish_reason, usage })
}

/// The non-streamed answer: its text (choice 0's `message.content`, `""`
/// when null) and usage (`None` when the body has none).
///
/// Errors, with a message: a body that does not parse as a
/// `chat.completion` is `malformed`; a body with an `error` object (some
/// gateways answer 200 with one) is the error's classified kind.
pub fn parse_openai_response(body: &[u8]) -> Result<(String, Option<Usage>), (AttemptError, String)> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| malformed(format!("the answer is not a chat.completion: {e}")))?;
    if let Some(info) = ErrorInfo::from_error_member(&v) {
        return Err(upstream_error(&info, "the upstream answered with an error"));
    }
    let choice = match v.get("choices") {
        Some(Value::Array(choices)) => first_choice(choices),
        _ => None,
    };
    let Some(message) = choice.and_then(|c| c.get("message")).filter(|m| m.is_object()) else {
        return Err(malformed("the answer is not a chat.completion: no `choices[0].message`"));
    };
    let text = match message.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        // Some servers answer with content parts.
        Some(Value::Array(parts)) => crate::request::text_of_parts(parts).collect::<Vec<_>>().join(""),
        Some(_) => return Err(malformed("the answer is not a chat.completion: `message.content` is not text")),
    };
    Ok((text, v.get("usage").and_then(Usage::from_openai)))
}

/// An OpenAI `chat.completion.chunk` JSON with one text delta (or a
/// `finish_reason`, or usage only), as the proxy emits them.
///
/// `choices` holds choice 0 with `delta: {"content": text}` (or `{}`) and
/// the finish reason; with neither text nor finish reason but with `usage`,
/// `choices` is empty, as in OpenAI's last `include_usage` chunk. `created`
/// is 0: this crate reads no clock.
///
/// ```
/// let c = windtunnel_openai::openai_chunk("chatcmpl-1", "gpt-4o-mini", Some("Hi"), None, None);
/// assert_eq!(c["choices"][0]["delta"]["content"], "Hi");
/// assert_eq!(c["object"], "chat.completion.chunk");
/// ```
pub fn openai_chunk(
    id: &str,
    model: &str,
    text: Option<&str>,
    finish_reason: Option<&str>,
    usage: Option<Usage>,
) -> Value {
    let mut chunk = Map::new();
    chunk.insert("id".into(), json!(id));
    chunk.insert("object".into(), json!("chat.completion.chunk"));
    chunk.insert("created".into(), json!(0));
    chunk.insert("model".into(), json!(model));
    let choices = if text.is_none() && finish_reason.is_none() && usage.is_some() {
        json!([])
    } else {
        let delta = match text {
            Some(t) => json!({ "content": t }),
            None => json!({}),
        };
        json!([{ "index": 0, "delta": delta, "finish_reason": finish_reason }])
    };
    chunk.insert("choices".into(), choices);
    if let Some(u) = usage {
        chunk.insert("usage".into(), u.to_json());
    }
    Value::Object(chunk)
}

/// A whole chat completion (OpenAI's JSON) told again as a stream's
/// server-sent events: the role chunk, the content, the finish reason, and
/// a usage chunk when `include_usage` and the answer has usage; `[DONE]` is
/// the caller's. `None` for an answer that is not one plain text message
/// (tool calls, several choices, not JSON): it cannot be told as a text
/// stream faithfully. For the proxy's response cache.
///
/// ```
/// let body = br#"{"id":"c1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi."},"finish_reason":"stop"}]}"#;
/// let sse = windtunnel_openai::completion_as_stream(body, false).unwrap();
/// assert_eq!(sse.matches("data: ").count(), 3);
/// assert!(sse.contains(r#""content":"Hi.""#) && sse.contains(r#""finish_reason":"stop""#));
/// ```
pub fn completion_as_stream(body: &[u8], include_usage: bool) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let choices = v.get("choices")?.as_array()?;
    let [choice] = choices.as_slice() else { return None };
    let message = choice.get("message")?;
    if message.get("tool_calls").is_some_and(|t| !t.is_null()) || message.get("function_call").is_some() {
        return None;
    }
    let text = message.get("content")?.as_str()?;
    let id = v.get("id").and_then(Value::as_str).unwrap_or("cached");
    let model = v.get("model").and_then(Value::as_str).unwrap_or_default();
    let finish = choice.get("finish_reason").and_then(Value::as_str).unwrap_or("stop");
    let mut out = sse_data(&openai_role_chunk(id, model).to_string());
    if !text.is_empty() {
        out.push_str(&sse_data(&openai_chunk(id, model, Some(text), None, None).to_string()));
    }
    out.push_str(&sse_data(&openai_chunk(id, model, None, Some(finish), None).to_string()));
    if include_usage && let Some(u) = v.get("usage").and_then(Usage::from_openai) {
        out.push_str(&sse_data(&openai_chunk(id, model, None, None, Some(u)).to_string()));
    }
    Some(out)
}

/// OpenAI's first chunk of a stream: `delta: {"role": "assistant", "content": ""}`.
pub(crate) fn openai_role_chunk(id: &str, model: &str) -> Value {
    let mut chunk = openai_chunk(id, model, Some(""), None, None);
    chunk["choices"][0]["delta"]["role"] = json!("assistant");
    chunk
}

/// OpenAI's error shape: `{"error": {"message", "type", "code"}}` (`code`
/// null when `None`).
///
/// ```
/// let b = windtunnel_openai::error_body("no endpoint available", "server_error", Some("no_endpoint"));
/// assert_eq!(b.to_string(), r#"{"error":{"code":"no_endpoint","message":"no endpoint available","type":"server_error"}}"#);
/// ```
pub fn error_body(message: &str, error_type: &str, code: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": error_type, "code": code } })
}

/// Choice 0: the one whose `index` is 0, else the first.
fn first_choice(choices: &[Value]) -> Option<&Value> {
    choices.iter().find(|c| c.get("index").and_then(Value::as_u64) == Some(0)).or_else(|| choices.first())
}

/// A `malformed` failure.
pub(crate) fn malformed(message: impl Into<String>) -> (AttemptError, String) {
    (AttemptError::new(ErrorKind::Malformed), message.into())
}

/// The failure an upstream's error object describes (`server_error` when it
/// names no kind).
pub(crate) fn upstream_error(info: &ErrorInfo, fallback: &str) -> (AttemptError, String) {
    let kind = info.kind().unwrap_or(ErrorKind::ServerError);
    (AttemptError::new(kind), info.message_or(fallback))
}

#[cfg(test)]
mod tests;
