use super::*;
use crate::fixtures::fixture;
use crate::openai::{StreamItem, parse_openai_event};
use crate::sse::SseDecoder;
use windtunnel_core::ErrorKind;

fn events(name: &str) -> Vec<SseEvent> {
    let mut dec = SseDecoder::new();
    let mut events = dec.push(fixture(name).as_bytes()).unwrap();
    events.extend(dec.finish().unwrap());
    events
}

/// Runs a whole fixture stream; the chunks, or the first error.
fn translate(stream: &mut AnthropicStream, name: &str) -> Result<Vec<Value>, (AttemptError, String)> {
    let mut chunks = Vec::new();
    for ev in events(name) {
        chunks.extend(stream.on_event(&ev)?);
    }
    Ok(chunks)
}

fn text_of(chunks: &[Value]) -> String {
    chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect()
}

#[test]
fn a_stream_translates_to_openai_chunks() {
    let mut s = AnthropicStream::new("claude-haiku");
    let chunks = translate(&mut s, "anthropic/stream.sse").unwrap();
    assert_eq!(text_of(&chunks), "Okay, let's see: the capital of France is Paris — パリ in Japanese.");
    assert!(s.is_finished());
    assert_eq!(
        s.usage(),
        Usage { prompt_tokens: 472, completion_tokens: 24, cached_prompt_tokens: 0, cache_write_prompt_tokens: 0 }
    );
    // Role first, as OpenAI starts.
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
    // Then four text deltas, the finish reason, and the usage.
    assert_eq!(chunks.len(), 7);
    let finish = &chunks[5];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let last = &chunks[6];
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"], json!({"prompt_tokens": 472, "completion_tokens": 24, "total_tokens": 496}));
    for c in &chunks {
        assert_eq!(c["id"], "msg_014p7gG3wDgGV9EUtLvnow3U");
        assert_eq!(c["model"], "claude-haiku");
        assert_eq!(c["object"], "chat.completion.chunk");
    }
}

#[test]
fn translated_chunks_parse_as_openai_events() {
    let mut s = AnthropicStream::new("claude-haiku");
    let chunks = translate(&mut s, "anthropic/stream.sse").unwrap();
    let mut text = String::new();
    let mut usage = None;
    for c in &chunks {
        let Ok(StreamItem::Chunk { text: t, usage: u, .. }) = parse_openai_event(&c.to_string()) else { panic!("{c}") };
        text.push_str(&t);
        usage = u.or(usage);
    }
    assert_eq!(text, text_of(&chunks));
    assert_eq!(usage, Some(s.usage()));
}

#[test]
fn not_finished_before_message_stop() {
    let mut s = AnthropicStream::new("m");
    let all = events("anthropic/stream.sse");
    for ev in &all[..all.len() - 1] {
        s.on_event(ev).unwrap();
    }
    assert!(!s.is_finished());
    s.on_event(&all[all.len() - 1]).unwrap();
    assert!(s.is_finished());
    // Anything after the end is ignored.
    assert_eq!(s.on_event(&all[3]).unwrap(), Vec::<Value>::new());
}

#[test]
fn an_error_event_is_classified() {
    let mut s = AnthropicStream::new("m");
    let (err, message) = translate(&mut s, "anthropic/stream_overloaded.sse").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Overloaded);
    assert_eq!(message, "Overloaded");
    assert!(!s.is_finished());
    // The tokens that came before it are still counted.
    assert_eq!(s.usage().prompt_tokens, 1893);
}

#[test]
fn other_error_events_keep_their_kind() {
    let mut s = AnthropicStream::new("m");
    let ev = SseEvent {
        event: Some("error".into()),
        data: r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#.into(),
    };
    assert_eq!(s.on_event(&ev).unwrap_err().0.kind, ErrorKind::RateLimited);
    let ev = SseEvent { event: None, data: r#"{"type":"error","error":{"type":"api_error","message":"boom"}}"#.into() };
    assert_eq!(s.on_event(&ev).unwrap_err().0.kind, ErrorKind::ServerError);
}

#[test]
fn the_event_kind_may_come_from_the_data() {
    let mut s = AnthropicStream::new("m");
    let ev = SseEvent {
        event: None,
        data: r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#.into(),
    };
    assert_eq!(text_of(&s.on_event(&ev).unwrap()), "hi");
}

#[test]
fn ping_and_non_text_deltas_emit_nothing() {
    let mut s = AnthropicStream::new("m");
    for (event, data) in [
        ("ping", r#"{"type": "ping"}"#),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"loc"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#,
        ),
        ("some_future_event", r#"{"type":"some_future_event"}"#),
    ] {
        let ev = SseEvent { event: Some(event.into()), data: data.into() };
        assert_eq!(s.on_event(&ev).unwrap(), Vec::<Value>::new(), "{event}");
    }
}

#[test]
fn a_malformed_event_is_malformed() {
    let mut s = AnthropicStream::new("m");
    let ev = SseEvent { event: Some("content_block_delta".into()), data: r#"{"type":"content_block_delta","#.into() };
    assert_eq!(s.on_event(&ev).unwrap_err().0.kind, ErrorKind::Malformed);
    let ev = SseEvent {
        event: Some("content_block_delta".into()),
        data: r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}"#.into(),
    };
    assert_eq!(s.on_event(&ev).unwrap_err().0.kind, ErrorKind::Malformed);
}

#[test]
fn max_tokens_stop_maps_to_length() {
    let mut s = AnthropicStream::new("m");
    let ev = SseEvent {
        event: Some("message_delta".into()),
        data: r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":64}}"#.into(),
    };
    let chunks = s.on_event(&ev).unwrap();
    assert_eq!(chunks[0]["choices"][0]["finish_reason"], "length");
    assert_eq!(s.usage().completion_tokens, 64);
}

#[test]
fn a_whole_message_translates_to_a_chat_completion() {
    let (v, usage) =
        anthropic_response_to_openai(fixture("anthropic/message.json").as_bytes(), "claude-haiku").unwrap();
    assert_eq!(
        usage,
        Usage { prompt_tokens: 21, completion_tokens: 10, cached_prompt_tokens: 0, cache_write_prompt_tokens: 0 }
    );
    assert_eq!(
        v,
        json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "object": "chat.completion",
            "created": 0,
            "model": "claude-haiku",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "The capital of France is Paris."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 21, "completion_tokens": 10, "total_tokens": 31}
        })
    );
    // The translation is an answer the OpenAI parser reads.
    assert_eq!(
        crate::parse_openai_response(v.to_string().as_bytes()),
        Ok(("The capital of France is Paris.".to_string(), Some(usage)))
    );
}

#[test]
fn a_cut_message_joins_its_blocks_and_counts_cached_tokens() {
    let (v, usage) =
        anthropic_response_to_openai(fixture("anthropic/message_max_tokens.json").as_bytes(), "m").unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Here is the first part of the essay. It goes on");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    // Cache reads are the cached part of the prompt, cache writes the written part.
    assert_eq!(
        usage,
        Usage {
            prompt_tokens: 12 + 1024 + 2048,
            completion_tokens: 64,
            cached_prompt_tokens: 2048,
            cache_write_prompt_tokens: 1024
        }
    );
}

#[test]
fn stop_reasons_map_to_openais() {
    assert_eq!(finish_reason("end_turn"), "stop");
    assert_eq!(finish_reason("stop_sequence"), "stop");
    assert_eq!(finish_reason("max_tokens"), "length");
    assert_eq!(finish_reason("tool_use"), "tool_calls");
    assert_eq!(finish_reason("refusal"), "content_filter");
}

#[test]
fn an_unparseable_message_is_malformed_and_an_error_body_is_classified() {
    for body in [&b"<html>"[..], b"{}", br#"{"type":"message","content":[{"type":"text","text":"x"}]}"#] {
        assert_eq!(anthropic_response_to_openai(body, "m").unwrap_err().0.kind, ErrorKind::Malformed);
    }
    let (err, message) =
        anthropic_response_to_openai(fixture("anthropic/error_529_overloaded.json").as_bytes(), "m").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Overloaded);
    assert_eq!(message, "Overloaded");
}

#[test]
fn usage_written_in_anthropics_shape_reads_back_the_same() {
    for usage in [
        Usage {
            prompt_tokens: 3_000,
            completion_tokens: 40,
            cached_prompt_tokens: 2_560,
            cache_write_prompt_tokens: 0,
        },
        Usage { prompt_tokens: 12, completion_tokens: 3, cached_prompt_tokens: 0, cache_write_prompt_tokens: 0 },
    ] {
        let body = serde_json::json!({"id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "x"}], "stop_reason": "end_turn", "usage": usage.to_anthropic_json()});
        let (_, read) = anthropic_response_to_openai(body.to_string().as_bytes(), "m").unwrap();
        assert_eq!(read, usage);
    }
    // Without cached tokens, no cache field at all.
    let plain =
        Usage { prompt_tokens: 12, completion_tokens: 3, cached_prompt_tokens: 0, cache_write_prompt_tokens: 0 }
            .to_anthropic_json();
    assert!(plain.get("cache_read_input_tokens").is_none(), "{plain}");
}
