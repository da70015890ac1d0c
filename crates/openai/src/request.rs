//! [`ChatRequest`]: a client's chat-completions body, read as far as routing
//! needs, and written back out for an OpenAI-compatible or an Anthropic
//! upstream.
//!
//! Why keep the rest as raw JSON (`extra`) rather than model every field?
//! The proxy must forward what it does not understand (tools,
//! `response_format`, `logprobs`, a vendor's own knobs) byte-for-byte in
//! meaning; a typed model would silently drop the fields it lacks. Routing
//! needs five fields; those are typed and checked, with messages that name
//! the field (`` `messages[2].role` must be a string, found null ``).

use serde_json::{Map, Value, json};

/// `max_tokens` sent to Anthropic when the client set none: the Messages API
/// requires one. 4096 is the largest output every current Claude model
/// accepts, and the proxy's own default for budgets.
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 4_096;

/// A client's chat-completions request, as much as routing needs; every
/// other field is kept verbatim in `extra` and forwarded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatRequest {
    /// The client's `model`: an endpoint name, a group, or anything the
    /// policy understands (`req.model`).
    pub model: String,
    /// The messages, verbatim (each an object with a string `role`).
    pub messages: Vec<Value>,
    /// `stream: true`.
    pub stream: bool,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u32>,
    /// Every other top-level field, verbatim. A client's
    /// `max_completion_tokens` stays here too (so it is forwarded under the
    /// name the client chose, see [`ChatRequest::to_openai_body`]); its value
    /// is also read into `max_tokens`.
    pub extra: Map<String, Value>,
}

/// Why a client's body is not a chat-completions request. The message is
/// meant for the client's 400 answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not JSON at all.
    #[error("invalid JSON at line {line} column {column}: {reason}")]
    InvalidJson {
        /// 1-based line.
        line: usize,
        /// 1-based column (0 at the end of input).
        column: usize,
        /// What the JSON parser found wrong.
        reason: String,
    },
    /// JSON, but not an object.
    #[error("the request body must be a JSON object, found {found}")]
    NotAnObject {
        /// What it is instead.
        found: String,
    },
    /// A required field is absent.
    #[error("missing `{field}`")]
    MissingField {
        /// The field's path (`messages[1].role`).
        field: String,
    },
    /// A field has the wrong type or value.
    #[error("`{field}` must be {expected}, found {found}")]
    InvalidField {
        /// The field's path.
        field: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: String,
    },
    /// `messages` is an empty array.
    #[error("`messages` must not be empty")]
    NoMessages,
}

impl RequestError {
    fn invalid(field: impl Into<String>, expected: &'static str, found: &Value) -> RequestError {
        RequestError::InvalidField { field: field.into(), expected, found: describe(found) }
    }
}

impl ChatRequest {
    /// Parses a client's body.
    ///
    /// ```
    /// use windtunnel_openai::ChatRequest;
    /// let req = ChatRequest::parse(br#"{"model": "fast", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.2}"#)?;
    /// assert_eq!(req.model, "fast");
    /// assert_eq!(req.extra["temperature"], 0.2);
    /// let err = ChatRequest::parse(br#"{"model": "fast", "messages": "Hi"}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "`messages` must be an array of objects, found a string");
    /// # Ok::<(), windtunnel_openai::RequestError>(())
    /// ```
    pub fn parse(body: &[u8]) -> Result<ChatRequest, RequestError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            let text = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let reason = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
            RequestError::InvalidJson { line: e.line(), column: e.column(), reason }
        })?;
        let mut extra = match v {
            Value::Object(m) => m,
            other => return Err(RequestError::NotAnObject { found: describe(&other) }),
        };
        let model = match extra.remove("model") {
            Some(Value::String(s)) => s,
            Some(other) => return Err(RequestError::invalid("model", "a string", &other)),
            None => return Err(RequestError::MissingField { field: "model".into() }),
        };
        let messages = match extra.remove("messages") {
            Some(Value::Array(a)) => a,
            Some(other) => return Err(RequestError::invalid("messages", "an array of objects", &other)),
            None => return Err(RequestError::MissingField { field: "messages".into() }),
        };
        if messages.is_empty() {
            return Err(RequestError::NoMessages);
        }
        for (i, m) in messages.iter().enumerate() {
            check_message(i, m)?;
        }
        let stream = match extra.remove("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(other) => return Err(RequestError::invalid("stream", "a boolean", &other)),
        };
        let max_tokens = token_limit("max_tokens", extra.remove("max_tokens").as_ref())?;
        let max_completion_tokens = token_limit("max_completion_tokens", extra.get("max_completion_tokens"))?;
        if max_completion_tokens.is_none() {
            extra.remove("max_completion_tokens");
        }
        Ok(ChatRequest { model, messages, stream, max_tokens: max_completion_tokens.or(max_tokens), extra })
    }

    /// All text of the messages (string content, or the `text` parts of
    /// array content), joined with `\n`; empty pieces are skipped.
    pub fn prompt_text(&self) -> String {
        let mut pieces: Vec<&str> = Vec::new();
        for m in &self.messages {
            match m.get("content") {
                Some(Value::String(s)) => pieces.push(s),
                Some(Value::Array(parts)) => pieces.extend(text_of_parts(parts)),
                _ => {}
            }
        }
        pieces.retain(|p| !p.is_empty());
        pieces.join("\n")
    }

    /// The client asked for a usage chunk at the end of its stream
    /// (`stream_options.include_usage: true`). The upstream is always asked
    /// for one; the proxy forwards it only to clients that asked, since a
    /// chunk with empty `choices` breaks clients that do not expect it.
    pub fn wants_usage(&self) -> bool {
        self.extra.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool) == Some(true)
    }

    /// The body to send to an OpenAI-compatible upstream: `model` replaced
    /// by `upstream_model`, `stream_options.include_usage = true` when
    /// streaming (and `stream_options` removed when not: OpenAI refuses it
    /// then), `max_tokens` kept (under `max_completion_tokens` if that is the
    /// name the client used); optional assistant `prefill` text appended as a
    /// final assistant message (mid-stream rescue). Every field of `extra` is
    /// forwarded.
    ///
    /// The prefill is a plain assistant message, which Ollama and
    /// serve-sim continue; dialect flags (DeepSeek's and Mistral's
    /// `prefix: true`, vLLM's `continue_final_message`) are the caller's to
    /// add for the upstreams that need them.
    pub fn to_openai_body(&self, upstream_model: &str, prefill: Option<&str>) -> Value {
        let mut body = self.extra.clone();
        body.insert("model".into(), json!(upstream_model));
        let mut messages = self.messages.clone();
        if let Some(p) = prefill.filter(|p| !p.is_empty()) {
            messages.push(json!({ "role": "assistant", "content": p }));
        }
        body.insert("messages".into(), Value::Array(messages));
        body.insert("stream".into(), json!(self.stream));
        match self.max_tokens {
            Some(n) if body.contains_key("max_completion_tokens") => {
                body.insert("max_completion_tokens".into(), json!(n));
            }
            Some(n) => {
                body.insert("max_tokens".into(), json!(n));
            }
            None => {
                body.remove("max_tokens");
                body.remove("max_completion_tokens");
            }
        }
        if self.stream {
            let options = body.entry("stream_options").or_insert_with(|| json!({}));
            if !options.is_object() {
                *options = json!({});
            }
            options["include_usage"] = json!(true);
        } else {
            body.remove("stream_options");
        }
        Value::Object(body)
    }

    /// The Anthropic Messages body: `system` and `developer` messages joined
    /// (with a blank line) into `system`; user and assistant messages kept
    /// (string content, or its text parts as text blocks; a message without
    /// text is left out, since Anthropic refuses empty content); `max_tokens`
    /// required ([`ANTHROPIC_DEFAULT_MAX_TOKENS`] when absent); `stream`;
    /// `prefill` as a trailing assistant message.
    ///
    /// Anthropic refuses a final assistant message that ends in whitespace,
    /// so the prefill is sent without its trailing whitespace (the
    /// continuation may then start with that whitespace again). Of `extra`,
    /// only what has a Messages equivalent is sent (`temperature`, `top_p`,
    /// `stop` as `stop_sequences`, `user` as `metadata.user_id`): the
    /// Messages API refuses unknown fields. Tool calls, tool results and
    /// images are not translated.
    pub fn to_anthropic_body(&self, upstream_model: &str, prefill: Option<&str>) -> Value {
        let mut system: Vec<&str> = Vec::new();
        let mut messages = Vec::new();
        for m in &self.messages {
            let content = m.get("content").unwrap_or(&Value::Null);
            match m.get("role").and_then(Value::as_str) {
                Some("system" | "developer") => match content {
                    Value::String(s) => system.push(s),
                    Value::Array(parts) => system.extend(text_of_parts(parts)),
                    _ => {}
                },
                Some(role @ ("user" | "assistant")) => {
                    if let Some(content) = anthropic_content(content) {
                        messages.push(json!({ "role": role, "content": content }));
                    }
                }
                _ => {}
            }
        }
        if let Some(p) = prefill.map(str::trim_end).filter(|p| !p.is_empty()) {
            messages.push(json!({ "role": "assistant", "content": p }));
        }
        let mut body = Map::new();
        body.insert("model".into(), json!(upstream_model));
        body.insert("max_tokens".into(), json!(self.max_tokens.unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS)));
        body.insert("messages".into(), Value::Array(messages));
        system.retain(|s| !s.is_empty());
        if !system.is_empty() {
            body.insert("system".into(), json!(system.join("\n\n")));
        }
        body.insert("stream".into(), json!(self.stream));
        for key in ["temperature", "top_p"] {
            if let Some(v) = self.extra.get(key).filter(|v| v.is_number()) {
                body.insert(key.into(), v.clone());
            }
        }
        match self.extra.get("stop") {
            Some(Value::String(s)) => {
                body.insert("stop_sequences".into(), json!([s]));
            }
            Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => {
                body.insert("stop_sequences".into(), Value::Array(a.clone()));
            }
            _ => {}
        }
        if let Some(Value::String(user)) = self.extra.get("user") {
            body.insert("metadata".into(), json!({ "user_id": user }));
        }
        Value::Object(body)
    }
}

/// Marks an Anthropic Messages body for prompt caching, as Anthropic needs
/// (it caches only up to a `cache_control` breakpoint): the system prompt
/// and the last block of the last message get `cache_control: {"type":
/// "ephemeral"}`, so the next turn of the conversation reads its whole
/// prefix from the cache. Two of the four breakpoints Anthropic allows. A
/// body the client already marked is left as the client marked it (its own
/// breakpoints and TTLs; more marks could pass Anthropic's limit).
///
/// ```
/// let mut body = serde_json::json!({"system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}]});
/// windtunnel_openai::mark_anthropic_prompt_cache(&mut body);
/// assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
/// assert_eq!(body["messages"][0]["content"][0]["text"], "Hi");
/// assert_eq!(body["messages"][0]["content"][0]["cache_control"]["type"], "ephemeral");
/// ```
pub fn mark_anthropic_prompt_cache(body: &mut Value) {
    let marked = |v: Option<&Value>| {
        v.and_then(Value::as_array).is_some_and(|blocks| blocks.iter().any(|b| b.get("cache_control").is_some()))
    };
    let messages = body.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if marked(body.get("system")) || messages.iter().any(|m| marked(m.get("content"))) {
        return;
    }
    let mark = json!({ "type": "ephemeral" });
    let as_blocks = |v: &mut Value| {
        if let Value::String(s) = v {
            *v = json!([{ "type": "text", "text": std::mem::take(s) }]);
        }
    };
    if let Some(system) = body.get_mut("system") {
        as_blocks(system);
        if let Some(last) = system.as_array_mut().and_then(|b| b.last_mut()) {
            last["cache_control"] = mark.clone();
        }
    }
    let last_message = body.get_mut("messages").and_then(Value::as_array_mut).and_then(|m| m.last_mut());
    if let Some(content) = last_message.and_then(|m| m.get_mut("content")) {
        as_blocks(content);
        if let Some(last) = content.as_array_mut().and_then(|b| b.last_mut()) {
            last["cache_control"] = mark;
        }
    }
}

/// The text of content parts: every part's string `text` (`{"type": "text",
/// "text": ...}`; images and audio have none).
pub(crate) fn text_of_parts(parts: &[Value]) -> impl Iterator<Item = &str> {
    parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str))
}

/// An OpenAI message's content as Anthropic content: a string, or text
/// blocks; `None` when no text is left.
fn anthropic_content(content: &Value) -> Option<Value> {
    match content {
        Value::String(s) if !s.is_empty() => Some(json!(s)),
        Value::Array(parts) => {
            // Text parts, with the client's own `cache_control` mark if any.
            let blocks: Vec<Value> = parts
                .iter()
                .filter_map(|p| {
                    let text = p.get("text").and_then(Value::as_str).filter(|t| !t.is_empty())?;
                    let mut block = json!({ "type": "text", "text": text });
                    if let Some(mark) = p.get("cache_control") {
                        block["cache_control"] = mark.clone();
                    }
                    Some(block)
                })
                .collect();
            (!blocks.is_empty()).then_some(Value::Array(blocks))
        }
        _ => None,
    }
}

fn check_message(i: usize, m: &Value) -> Result<(), RequestError> {
    let Value::Object(obj) = m else {
        return Err(RequestError::invalid(format!("messages[{i}]"), "an object", m));
    };
    match obj.get("role") {
        Some(Value::String(_)) => {}
        Some(other) => return Err(RequestError::invalid(format!("messages[{i}].role"), "a string", other)),
        None => return Err(RequestError::MissingField { field: format!("messages[{i}].role") }),
    }
    match obj.get("content") {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(Value::Array(parts)) => match parts.iter().position(|p| !p.is_object()) {
            Some(j) => Err(RequestError::invalid(format!("messages[{i}].content[{j}]"), "an object", &parts[j])),
            None => Ok(()),
        },
        Some(other) => {
            Err(RequestError::invalid(format!("messages[{i}].content"), "a string or an array of content parts", other))
        }
    }
}

/// A token limit: absent or null is `None`, else a whole number that fits `u32`.
fn token_limit(field: &str, v: Option<&Value>) -> Result<Option<u32>, RequestError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(RequestError::invalid(field, "a whole number from 0 to 4294967295", v)),
        },
    }
}

/// A JSON value's type, or the value itself for scalars that fit a message.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests;
