use super::*;
use crate::fixtures::fixture;

fn parse(s: &str) -> Result<ChatRequest, RequestError> {
    ChatRequest::parse(s.as_bytes())
}

fn err(s: &str) -> String {
    parse(s).unwrap_err().to_string()
}

fn simple(stream: bool, max_tokens: Option<u32>) -> ChatRequest {
    ChatRequest {
        model: "fast".into(),
        messages: vec![json!({"role": "user", "content": "Hi"})],
        stream,
        max_tokens,
        extra: Map::new(),
    }
}

#[test]
fn parses_the_routing_fields_and_keeps_the_rest() {
    let req = ChatRequest::parse(fixture("openai/request.json").as_bytes()).unwrap();
    assert_eq!(req.model, "fast");
    assert_eq!(req.messages.len(), 5);
    assert!(req.stream);
    assert_eq!(req.max_tokens, Some(256));
    for key in
        ["temperature", "top_p", "stop", "user", "response_format", "seed", "stream_options", "max_completion_tokens"]
    {
        assert!(req.extra.contains_key(key), "{key}");
    }
    for key in ["model", "messages", "stream"] {
        assert!(!req.extra.contains_key(key), "{key}");
    }
    assert!(!req.wants_usage());
}

#[test]
fn max_tokens_and_max_completion_tokens() {
    let m = r#""messages": [{"role": "user", "content": "Hi"}]"#;
    assert_eq!(parse(&format!(r#"{{"model": "a", {m}, "max_tokens": 100}}"#)).unwrap().max_tokens, Some(100));
    assert_eq!(parse(&format!(r#"{{"model": "a", {m}, "max_completion_tokens": 50}}"#)).unwrap().max_tokens, Some(50));
    // The newer name wins when both are sent.
    let both = parse(&format!(r#"{{"model": "a", {m}, "max_tokens": 100, "max_completion_tokens": 50}}"#)).unwrap();
    assert_eq!(both.max_tokens, Some(50));
    assert_eq!(parse(&format!(r#"{{"model": "a", {m}, "max_tokens": null}}"#)).unwrap().max_tokens, None);
    assert_eq!(
        err(&format!(r#"{{"model": "a", {m}, "max_tokens": -1}}"#)),
        "`max_tokens` must be a whole number from 0 to 4294967295, found -1"
    );
    assert_eq!(
        err(&format!(r#"{{"model": "a", {m}, "max_completion_tokens": "many"}}"#)),
        "`max_completion_tokens` must be a whole number from 0 to 4294967295, found a string"
    );
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(err(r#"{"model": "a", "messages": "Hi"}"#), "`messages` must be an array of objects, found a string");
    assert_eq!(err(r#"{"model": "a", "messages": [1]}"#), "`messages[0]` must be an object, found 1");
    assert_eq!(err(r#"{"model": "a", "messages": []}"#), "`messages` must not be empty");
    assert_eq!(err(r#"{"model": "a"}"#), "missing `messages`");
    assert_eq!(err(r#"{"messages": [{"role": "user", "content": "x"}]}"#), "missing `model`");
    assert_eq!(err(r#"{"model": 4, "messages": []}"#), "`model` must be a string, found 4");
    assert_eq!(err(r#"{"model": "a", "messages": [{"content": "x"}]}"#), "missing `messages[0].role`");
    assert_eq!(
        err(r#"{"model": "a", "messages": [{"role": "user", "content": "x"}, {"role": null}]}"#),
        "`messages[1].role` must be a string, found null"
    );
    assert_eq!(
        err(r#"{"model": "a", "messages": [{"role": "user", "content": 7}]}"#),
        "`messages[0].content` must be a string or an array of content parts, found 7"
    );
    assert_eq!(
        err(r#"{"model": "a", "messages": [{"role": "user", "content": ["x"]}]}"#),
        "`messages[0].content[0]` must be an object, found a string"
    );
    assert_eq!(
        err(r#"{"model": "a", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}"#),
        "`stream` must be a boolean, found a string"
    );
    assert_eq!(err("[1, 2]"), "the request body must be a JSON object, found an array");
}

#[test]
fn invalid_json_names_line_and_column() {
    assert_eq!(err("{\n  \"model\": \"a\",\n  \"messages\": [}\n"), "invalid JSON at line 3 column 16: expected value");
    assert_eq!(err(""), "invalid JSON at line 1 column 0: EOF while parsing a value");
    assert!(matches!(parse("{\"model\": tru}"), Err(RequestError::InvalidJson { line: 1, .. })));
}

#[test]
fn prompt_text_joins_string_and_text_part_content() {
    let req = ChatRequest::parse(fixture("openai/request.json").as_bytes()).unwrap();
    assert_eq!(
        req.prompt_text(),
        "You are a terse geography tutor.\nAnswer in one sentence.\nWhat is the capital of France?\nParis.\nAnd of this country?"
    );
    let mut req = simple(false, None);
    req.messages.push(json!({"role": "assistant", "content": null, "tool_calls": []}));
    req.messages.push(json!({"role": "user", "content": ""}));
    assert_eq!(req.prompt_text(), "Hi");
}

#[test]
fn openai_body_replaces_the_model_and_asks_for_usage_on_streams() {
    let req = ChatRequest::parse(fixture("openai/request.json").as_bytes()).unwrap();
    let body = req.to_openai_body("gpt-4o-mini", None);
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    // Forwarded under the client's name.
    assert_eq!(body["max_completion_tokens"], 256);
    assert!(body.get("max_tokens").is_none());
    assert_eq!(body["messages"], json!(req.messages));
    for key in ["temperature", "top_p", "stop", "user", "response_format", "seed"] {
        assert_eq!(body[key], req.extra[key], "{key}");
    }
}

#[test]
fn openai_body_without_streaming_has_no_stream_options() {
    let mut req = simple(false, Some(64));
    req.extra.insert("stream_options".into(), json!({"include_usage": true}));
    let body = req.to_openai_body("m", None);
    assert_eq!(
        body,
        json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": false, "max_tokens": 64})
    );
}

#[test]
fn openai_body_appends_the_prefill() {
    let body = simple(true, None).to_openai_body("m", Some("The answer so far "));
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "The answer so far "}])
    );
    assert!(body.get("max_tokens").is_none());
    assert_eq!(simple(true, None).to_openai_body("m", Some(""))["messages"].as_array().map(Vec::len), Some(1));
}

#[test]
fn openai_body_round_trips_through_parse() {
    let req = ChatRequest::parse(fixture("openai/request.json").as_bytes()).unwrap();
    let again = ChatRequest::parse(req.to_openai_body("fast", None).to_string().as_bytes()).unwrap();
    assert_eq!(again.messages, req.messages);
    assert_eq!(again.max_tokens, req.max_tokens);
    assert!(again.wants_usage());
}

#[test]
fn anthropic_body_moves_system_out_and_keeps_text() {
    let req = ChatRequest::parse(fixture("openai/request.json").as_bytes()).unwrap();
    let body = req.to_anthropic_body("claude-3-5-haiku-20241022", None);
    assert_eq!(
        body,
        json!({
            "model": "claude-3-5-haiku-20241022",
            "max_tokens": 256,
            "system": "You are a terse geography tutor.\n\nAnswer in one sentence.",
            "messages": [
                {"role": "user", "content": "What is the capital of France?"},
                {"role": "assistant", "content": "Paris."},
                {"role": "user", "content": [{"type": "text", "text": "And of this country?"}]}
            ],
            "stream": true,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop_sequences": ["\n\n"],
            "metadata": {"user_id": "tenant-42"}
        })
    );
}

#[test]
fn anthropic_body_defaults_max_tokens_and_appends_a_trimmed_prefill() {
    let body = simple(false, None).to_anthropic_body("claude", Some("Partial answer, \n"));
    assert_eq!(body["max_tokens"], ANTHROPIC_DEFAULT_MAX_TOKENS);
    assert_eq!(body["stream"], false);
    assert!(body.get("system").is_none());
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Partial answer,"}])
    );
    let only_space = simple(false, None).to_anthropic_body("claude", Some("  "));
    assert_eq!(only_space["messages"].as_array().map(Vec::len), Some(1));
}

#[test]
fn anthropic_body_leaves_out_what_it_cannot_translate() {
    let mut req = simple(false, Some(10));
    req.messages.push(json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1"}]}));
    req.messages.push(json!({"role": "tool", "tool_call_id": "call_1", "content": "22C"}));
    req.messages.push(json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}));
    req.extra.insert("tools".into(), json!([]));
    req.extra.insert("stop".into(), json!(["END", "STOP"]));
    let body = req.to_anthropic_body("claude", None);
    assert_eq!(body["messages"], json!([{"role": "user", "content": "Hi"}]));
    assert!(body.get("tools").is_none());
    assert_eq!(body["stop_sequences"], json!(["END", "STOP"]));
}
