use super::*;
use crate::fixtures::fixture;

/// Decodes `pieces` in order, then finishes.
fn decode(pieces: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
    let mut dec = SseDecoder::new();
    let mut out = Vec::new();
    for p in pieces {
        out.extend(dec.push(p)?);
    }
    out.extend(dec.finish()?);
    Ok(out)
}

fn ev(event: Option<&str>, data: &str) -> SseEvent {
    SseEvent { event: event.map(str::to_string), data: data.to_string() }
}

/// The fixture with `\n`, `\r\n` and `\r` line ends.
fn line_end_variants(text: &str) -> Vec<(String, &'static str)> {
    vec![(text.to_string(), "LF"), (text.replace('\n', "\r\n"), "CRLF"), (text.replace('\n', "\r"), "CR")]
}

#[test]
fn any_split_of_a_fixture_stream_gives_the_same_events() {
    for name in ["anthropic/stream.sse", "openai/stream_openrouter.sse", "openai/stream_with_usage.sse"] {
        let text = fixture(name);
        let whole = decode(&[text.as_bytes()]).unwrap();
        assert!(whole.len() >= 5, "{name}: {whole:?}");
        for (variant, label) in line_end_variants(&text) {
            let bytes = variant.as_bytes();
            assert_eq!(decode(&[bytes]).unwrap(), whole, "{name} {label} whole");
            for i in 0..=bytes.len() {
                let (a, b) = bytes.split_at(i);
                assert_eq!(decode(&[a, b]).unwrap(), whole, "{name} {label} split at {i}");
            }
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(decode(&singles).unwrap(), whole, "{name} {label} byte by byte");
        }
    }
}

#[test]
fn fixture_events_carry_names_and_data() {
    let events = decode(&[fixture("anthropic/stream.sse").as_bytes()]).unwrap();
    assert_eq!(events[0].event.as_deref(), Some("message_start"));
    assert!(events[0].data.starts_with(r#"{"type":"message_start""#));
    assert_eq!(events.last().map(|e| e.data.as_str()), Some(r#"{"type":"message_stop"}"#));
    // OpenRouter's `: OPENROUTER PROCESSING` comments are not events.
    let events = decode(&[fixture("openai/stream_openrouter.sse").as_bytes()]).unwrap();
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e.event.is_none()));
    assert_eq!(events[4].data, "[DONE]");
}

#[test]
fn multi_line_data_joins_with_newlines() {
    let events = decode(&[b"data: first\ndata:second\ndata\ndata:  indented\n\n"]).unwrap();
    assert_eq!(events, vec![ev(None, "first\nsecond\n\n indented")]);
}

#[test]
fn comments_ids_retries_and_unknown_fields_are_ignored() {
    let text = b": keep-alive\nid: 7\nretry: 1000\nfoo: bar\nevent: delta\ndata: x\n\n:\n\n";
    assert_eq!(decode(&[text]).unwrap(), vec![ev(Some("delta"), "x")]);
}

#[test]
fn an_event_without_data_dispatches_nothing_and_resets_its_name() {
    let events = decode(&[b"event: ping\n\ndata: after\n\n"]).unwrap();
    assert_eq!(events, vec![ev(None, "after")]);
}

#[test]
fn an_empty_data_line_is_an_event_with_empty_data() {
    assert_eq!(decode(&[b"data:\n\n"]).unwrap(), vec![ev(None, "")]);
}

#[test]
fn a_leading_bom_is_skipped_even_when_split() {
    let text = b"\xEF\xBB\xBFdata: hi\n\n";
    assert_eq!(decode(&[&text[..1], &text[1..]]).unwrap(), vec![ev(None, "hi")]);
}

#[test]
fn finish_returns_an_event_without_its_blank_line() {
    assert_eq!(decode(&[b"data: [DONE]\n"]).unwrap(), vec![ev(None, "[DONE]")]);
    assert_eq!(decode(&[b"data: [DONE]"]).unwrap(), vec![ev(None, "[DONE]")]);
    assert_eq!(decode(&[b"data: a\n\ndata: b"]).unwrap(), vec![ev(None, "a"), ev(None, "b")]);
    assert_eq!(decode(&[b": only a comment"]).unwrap(), vec![]);
    let mut dec = SseDecoder::new();
    assert_eq!(dec.finish(), Ok(None));
}

#[test]
fn crlf_split_between_cr_and_lf_is_one_line_end() {
    let events = decode(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]).unwrap();
    assert_eq!(events, vec![ev(None, "a\nb")]);
}

#[test]
fn an_endless_line_is_refused_past_the_limit() {
    let mut dec = SseDecoder::new();
    let chunk = vec![b'x'; 1 << 20];
    assert!(dec.push(b"data: ").unwrap().is_empty());
    let mut result = Ok(Vec::new());
    for _ in 0..9 {
        result = dec.push(&chunk);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(SseError::EventTooLarge { limit_bytes: MAX_EVENT_BYTES }));
    // The stream stays broken.
    assert_eq!(dec.push(b"\n\n"), Err(SseError::EventTooLarge { limit_bytes: MAX_EVENT_BYTES }));
    assert!(dec.finish().is_err());
}

#[test]
fn many_data_lines_count_towards_the_limit() {
    let line = format!("data: {}\n", "y".repeat(1 << 16));
    let mut dec = SseDecoder::new();
    let mut failed = false;
    for _ in 0..200 {
        if dec.push(line.as_bytes()).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed);
}

#[test]
fn an_event_just_under_the_limit_passes() {
    let data = "z".repeat(MAX_EVENT_BYTES - 16);
    let events = decode(&[format!("data: {data}\n\n").as_bytes()]).unwrap();
    assert_eq!(events[0].data.len(), data.len());
}

#[test]
fn invalid_utf8_names_its_line() {
    assert_eq!(decode(&[b": ok\ndata: \xFF\xFE\n\n"]), Err(SseError::InvalidUtf8 { line: 2 }));
    assert_eq!(SseError::InvalidUtf8 { line: 2 }.to_string(), "server-sent event stream: line 2 is not valid UTF-8");
}

#[test]
fn encoders_round_trip_through_the_decoder() {
    assert_eq!(sse_data("[DONE]"), "data: [DONE]\n\n");
    assert_eq!(sse_data("a\nb\r\nc"), "data: a\ndata: b\ndata: c\n\n");
    assert_eq!(sse_data(""), "data: \n\n");
    let text = sse_data("line one\nline two") + &sse_event("message_stop", r#"{"type":"message_stop"}"#);
    assert_eq!(
        decode(&[text.as_bytes()]).unwrap(),
        vec![ev(None, "line one\nline two"), ev(Some("message_stop"), r#"{"type":"message_stop"}"#)]
    );
}
