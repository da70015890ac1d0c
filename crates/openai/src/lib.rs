//! Live mode's wire level: what the OpenAI and Anthropic APIs look like on
//! the wire, and what an upstream's answer means.
//!
//! This crate owns:
//! - the client's request ([`ChatRequest`]): parsed as far as routing needs,
//!   everything else kept and forwarded, written back out for an
//!   OpenAI-compatible or an Anthropic upstream (with an optional assistant
//!   prefill for mid-stream rescue);
//! - answers: OpenAI's non-streamed answer and stream chunks
//!   ([`parse_openai_response`], [`parse_openai_event`], [`openai_chunk`]),
//!   and Anthropic's translated into them ([`anthropic_response_to_openai`],
//!   [`AnthropicStream`]);
//! - the server-sent events codec ([`SseDecoder`], [`sse_data`], [`sse_event`]);
//! - OpenAI's error shape ([`error_body`]);
//! - the one classifier from status + headers + body to SPEC's error kinds,
//!   Retry-After included ([`classify`]);
//! - token counting (`o200k_base`) and language detection ([`count_tokens`], [`detect_lang`]).
//!
//! It must not touch: sockets, files, the clock, tokio, an HTTP client or
//! server, the executor, the policy or the config. Every function is pure
//! (`classify` takes `now` as an argument), so the HTTP client, the proxy
//! server and serve-sim share one definition of the wire, and its tests are
//! fixture files (`tests/fixtures/{openai,anthropic}/`), no network.
//!
//! # Design
//! - **Sans-IO.** Bytes in, values out, in whatever pieces the network
//!   delivers them ([`SseDecoder::push`] takes any split). The caller owns
//!   the connection, the timeouts and the decision of what a failure means
//!   for the request; this crate only says what the bytes say.
//! - **Failures are `(AttemptError, String)`.** [`AttemptError`](windtunnel_core::AttemptError) is the
//!   executor's data (kind, status, Retry-After) and carries no text; the
//!   message beside it is for logs and the client's error body. Every
//!   function that reads an upstream's bytes fails this way, so the proxy
//!   handles a refused request, an unparseable answer and a mid-stream
//!   `error` event alike. Client-side mistakes are Rust errors instead
//!   ([`RequestError`], [`SseError`]): the proxy answers them with a 400, or
//!   treats a broken stream as `malformed`.
//! - **JSON stays JSON.** Bodies are [`serde_json::Value`]s, not typed
//!   structs: a proxy must forward fields it does not know (tools,
//!   `response_format`, vendor knobs), and read only the few it routes on.
//! - **One classifier for both dialects.** The status decides the kind; the
//!   body refines only what a status leaves open (quota or rate, context or
//!   bad request). See [`classify`].
//! - **Bounded.** An SSE event is at most [`MAX_EVENT_BYTES`]; an error
//!   message at most [`MAX_MESSAGE_CHARS`] characters.
//!
//! # Modules
//! - `request`: [`ChatRequest`], [`RequestError`], the request translations.
//! - `openai`: [`StreamItem`], [`parse_openai_event`], [`parse_openai_response`],
//!   [`openai_chunk`], [`error_body`].
//! - `anthropic`: [`anthropic_response_to_openai`], [`AnthropicStream`].
//! - `sse`: [`SseDecoder`], [`SseEvent`], [`SseError`], [`sse_data`], [`sse_event`].
//! - `classify`: [`classify`] and the error-body reader the parsers share.
//! - `retry_after`: `retry-after-ms`, `retry-after`, rate-limit reset headers.
//! - `text`: [`count_tokens`], [`prompt_blocks`], [`synthetic_prompt`], [`detect_lang`].
//! - `usage`: [`Usage`].
//!
//! # Dependencies
//! - `windtunnel-core`: [`ErrorKind`](windtunnel_core::ErrorKind) and
//!   [`AttemptError`](windtunnel_core::AttemptError), the vocabulary the classifier produces.
//! - `serde_json`: request and answer bodies as JSON values (see Design).
//! - `thiserror`: [`RequestError`] and [`SseError`].
//! - `httpdate`: a `Retry-After` may be an HTTP date in any of RFC 9110's
//!   three formats; hyper already pulls this crate into the build.
//! - `tiktoken-rs`: OpenAI's `o200k_base` byte-pair encoding for
//!   [`count_tokens`] (the issue asked for a real BPE count where an upstream
//!   reports no usage); its tables are compiled in, so no download at run time.
//!
//! # Where things happen
//! | what | where |
//! |---|---|
//! | a client body is checked, `max_completion_tokens` read as `max_tokens` | `request.rs`, [`ChatRequest::parse`] |
//! | `stream_options.include_usage` is requested from upstreams | `request.rs`, [`ChatRequest::to_openai_body`] |
//! | a rescue's prefill is appended | `request.rs`, `to_openai_body` / `to_anthropic_body` |
//! | system messages become Anthropic's `system` | `request.rs`, [`ChatRequest::to_anthropic_body`] |
//! | a 429 becomes `RateLimited` or `QuotaExceeded` | `classify.rs`, `kind_for_status` |
//! | a 400 becomes `ContextExceeded` or `ContentFilter` | `classify.rs`, `kind_for_status` |
//! | Retry-After is read (ms, seconds, HTTP date, reset headers) | `retry_after.rs`, `retry_after_ms` |
//! | a mid-stream `error` object becomes a kind | `classify.rs`, `ErrorInfo::kind`, used by `openai.rs` and `anthropic.rs` |
//! | `[DONE]` is recognised | `openai.rs`, [`parse_openai_event`] |
//! | Anthropic's `message_stop` ends a stream | `anthropic.rs`, [`AnthropicStream::on_event`] |
//! | stop reasons are mapped (`max_tokens` → `length`) | `anthropic.rs`, `finish_reason` |
//! | an oversized SSE event is refused | `sse.rs`, `SseDecoder::check_size` |
//! | prompt and answer tokens are counted | `text.rs`, [`count_tokens`] |

mod anthropic;
mod classify;
mod openai;
mod request;
mod retry_after;
mod sse;
mod text;
mod usage;

pub use anthropic::{AnthropicStream, anthropic_response_to_openai};
pub use classify::{MAX_MESSAGE_CHARS, classify};
pub use openai::{
    StreamItem, completion_as_stream, error_body, openai_chunk, parse_openai_event, parse_openai_response,
};
pub use request::{ANTHROPIC_DEFAULT_MAX_TOKENS, ChatRequest, RequestError, mark_anthropic_prompt_cache};
pub use sse::{MAX_EVENT_BYTES, SseDecoder, SseError, SseEvent, sse_data, sse_event};
pub use text::{count_tokens, detect_lang, prompt_blocks, synthetic_prompt, warm_tokenizer};
pub use usage::Usage;

#[cfg(test)]
mod fixtures;
