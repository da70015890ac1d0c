use super::*;
use crate::fixtures::fixture;
use crate::sse::SseDecoder;

/// Every event of a fixture stream, parsed.
fn items(name: &str) -> Vec<Result<StreamItem, (AttemptError, String)>> {
    let mut dec = SseDecoder::new();
    let mut events = dec.push(fixture(name).as_bytes()).unwrap();
    events.extend(dec.finish().unwrap());
    events.iter().map(|e| parse_openai_event(&e.data)).collect()
}

fn text_of(items: &[Result<StreamItem, (AttemptError, String)>]) -> String {
    items
        .iter()
        .filter_map(|i| match i {
            Ok(StreamItem::Chunk { text, .. }) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn stream_with_usage_ends_with_a_usage_chunk_then_done() {
    let items = items("openai/stream_with_usage.sse");
    assert_eq!(text_of(&items), "The capital of France is Paris.");
    let n = items.len();
    assert_eq!(items[n - 1], Ok(StreamItem::Done));
    assert_eq!(
        items[n - 2],
        Ok(StreamItem::Chunk {
            text: String::new(),
            finish_reason: None,
            usage: Some(Usage {
                prompt_tokens: 24,
                completion_tokens: 8,
                cached_prompt_tokens: 0,
                cache_write_prompt_tokens: 0
            })
        })
    );
    assert_eq!(
        items[n - 3],
        Ok(StreamItem::Chunk { text: String::new(), finish_reason: Some("stop".into()), usage: None })
    );
    // The first chunk only names the role.
    assert_eq!(items[0], Ok(StreamItem::Chunk { text: String::new(), finish_reason: None, usage: None }));
}

#[test]
fn stream_without_usage_has_none() {
    let items = items("openai/stream_without_usage.sse");
    assert_eq!(text_of(&items), "Bonjour !");
    assert!(items.iter().all(|i| !matches!(i, Ok(StreamItem::Chunk { usage: Some(_), .. }))));
    assert!(items.contains(&Ok(StreamItem::Chunk {
        text: String::new(),
        finish_reason: Some("length".into()),
        usage: None
    })));
    assert_eq!(items.last(), Some(&Ok(StreamItem::Done)));
}

#[test]
fn openrouter_usage_rides_on_a_chunk_with_choices() {
    let items = items("openai/stream_openrouter.sse");
    assert_eq!(text_of(&items), "Привет, мир! 你好");
    assert!(items.contains(&Ok(StreamItem::Chunk {
        text: String::new(),
        finish_reason: None,
        usage: Some(Usage {
            prompt_tokens: 11,
            completion_tokens: 7,
            cached_prompt_tokens: 0,
            cache_write_prompt_tokens: 0
        })
    })));
}

#[test]
fn done_is_recognised_with_whitespace() {
    assert_eq!(parse_openai_event("[DONE]"), Ok(StreamItem::Done));
    assert_eq!(parse_openai_event(" [DONE]\n"), Ok(StreamItem::Done));
}

#[test]
fn a_malformed_chunk_is_malformed() {
    for data in [r#"{"id":"chatcmpl-1","choices":[{"delta":{"content":"Hel"#, "", "null", "[1,2]", r#"{"id":"x"}"#] {
        let (err, message) = parse_openai_event(data).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed, "{data}");
        assert!(message.starts_with("malformed stream chunk"), "{message}");
    }
    let (err, _) = parse_openai_event(r#"{"choices":[{"index":0,"delta":{"content":42}}]}"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
}

#[test]
fn an_error_chunk_is_the_errors_kind() {
    let items = items("openai/stream_error_chunk.sse");
    assert_eq!(text_of(&items), "Once upon");
    let Some(Err((err, message))) = items.last() else { panic!("{items:?}") };
    assert_eq!(err.kind, ErrorKind::ServerError);
    assert_eq!(err.status, None);
    assert!(message.starts_with("The server had an error"), "{message}");
    let (err, _) = parse_openai_event(
        r#"{"error":{"message":"Rate limit reached","type":"tokens","code":"rate_limit_exceeded"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    let (err, _) = parse_openai_event(r#"{"error":{"message":"something odd"}}"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServerError);
}

#[test]
fn the_answer_gives_text_and_usage() {
    let (text, usage) = parse_openai_response(fixture("openai/chat_completion.json").as_bytes()).unwrap();
    assert_eq!(text, "The capital of France is Paris.");
    assert_eq!(
        usage,
        Some(Usage { prompt_tokens: 24, completion_tokens: 8, cached_prompt_tokens: 0, cache_write_prompt_tokens: 0 })
    );
    let (text, usage) = parse_openai_response(fixture("openai/chat_completion_no_usage.json").as_bytes()).unwrap();
    assert_eq!(text, "Paris.");
    assert_eq!(usage, None);
}

#[test]
fn an_answer_with_null_content_is_empty_text() {
    let body = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#;
    assert_eq!(
        parse_openai_response(body),
        Ok((
            String::new(),
            Some(Usage {
                prompt_tokens: 5,
                completion_tokens: 1,
                cached_prompt_tokens: 0,
                cache_write_prompt_tokens: 0
            })
        ))
    );
}

#[test]
fn an_unparseable_answer_is_malformed() {
    for body in
        [&b"{\"choices\": ["[..], b"{}", br#"{"choices": []}"#, br#"{"choices": [{"text": "old completions"}]}"#]
    {
        let (err, _) = parse_openai_response(body).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
    }
}

#[test]
fn an_answer_that_is_an_error_is_its_kind() {
    let (err, message) = parse_openai_response(fixture("openai/error_400_context_length.json").as_bytes()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ContextExceeded);
    assert!(message.starts_with("This model's maximum context length"));
}

#[test]
fn chunks_have_openais_shape_and_parse_back() {
    let c = openai_chunk("chatcmpl-9", "fast", Some("Hello"), None, None);
    assert_eq!(
        c,
        json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 0, "model": "fast",
               "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": null}]})
    );
    assert_eq!(
        parse_openai_event(&c.to_string()),
        Ok(StreamItem::Chunk { text: "Hello".into(), finish_reason: None, usage: None })
    );
    let finish = openai_chunk("chatcmpl-9", "fast", None, Some("stop"), None);
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage = Usage { prompt_tokens: 3, completion_tokens: 4, cached_prompt_tokens: 0, cache_write_prompt_tokens: 0 };
    let last = openai_chunk("chatcmpl-9", "fast", None, None, Some(usage));
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"], json!({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}));
    assert_eq!(
        parse_openai_event(&last.to_string()),
        Ok(StreamItem::Chunk { text: String::new(), finish_reason: None, usage: Some(usage) })
    );
}

#[test]
fn error_bodies_have_openais_shape() {
    assert_eq!(
        error_body("every endpoint is rate limited", "rate_limit_error", Some("rate_limited")),
        json!({"error": {"message": "every endpoint is rate limited", "type": "rate_limit_error", "code": "rate_limited"}})
    );
    assert_eq!(error_body("x", "server_error", None)["error"]["code"], Value::Null);
}

#[test]
fn a_completion_tells_as_a_stream_only_when_it_is_one_text_message() {
    let text = br#"{"id":"c1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi."},"finish_reason":"length"}],
                   "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#;
    let sse = completion_as_stream(text, true).unwrap();
    let events: Vec<serde_json::Value> = sse
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    assert_eq!(events.len(), 4, "role, content, finish, usage: {sse}");
    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(events[1]["choices"][0]["delta"]["content"], "Hi.");
    assert_eq!(events[2]["choices"][0]["finish_reason"], "length", "the kept finish reason");
    assert_eq!(events[3]["usage"]["completion_tokens"], 2);
    assert_eq!(completion_as_stream(text, false).unwrap().matches("data: ").count(), 3, "no usage unless asked");
    let tools = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":null,
                    "tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#;
    assert_eq!(completion_as_stream(tools, false), None);
    let two = br#"{"choices":[{"index":0,"message":{"content":"a"}},{"index":1,"message":{"content":"b"}}]}"#;
    assert_eq!(completion_as_stream(two, false), None);
    assert_eq!(completion_as_stream(b"not json", false), None);
}
