use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn read(text: &str) -> Vec<Result<Request, String>> {
    JsonlReader::new(text.as_bytes(), "trace.jsonl").map(|r| r.map_err(|e| e.to_string())).collect()
}

fn read_ok(text: &str) -> Vec<Request> {
    JsonlReader::new(text.as_bytes(), "trace.jsonl").map(Result::unwrap).collect()
}

fn write_all(reqs: &[Request]) -> String {
    let mut w = TraceWriter::new(Vec::new());
    for r in reqs {
        w.write(r).unwrap();
    }
    assert_eq!(w.written(), reqs.len() as u64);
    String::from_utf8(w.into_inner()).unwrap()
}

#[test]
fn spec_example_line_reads_every_field() {
    let line = r#"{"at_ms": 0, "id": "r1", "tenant": "acme", "class": "interactive", "model": "chat", "input_tokens": 812, "output_tokens": 240, "max_tokens": 1024, "stream": true, "lang": "en"}"#;
    let r = &read_ok(line)[0];
    assert_eq!(r.id.as_deref(), Some("r1"));
    assert_eq!(
        (&*r.tenant, &*r.class, r.model.as_deref(), r.lang.as_deref()),
        ("acme", "interactive", Some("chat"), Some("en"))
    );
    assert_eq!((r.input_tokens, r.output_tokens, r.max_tokens, r.stream), (812, 240, 1024, true));
}

#[test]
fn absent_and_null_fields_take_spec_defaults() {
    let got = read_ok(
        "{\"at_ms\": 5, \"input_tokens\": 10, \"output_tokens\": 20}\n\
         {\"at_ms\": 6, \"input_tokens\": 10, \"output_tokens\": 20, \"tenant\": null, \"model\": null, \"max_tokens\": null}\n",
    );
    assert_eq!(got[0], Request::new(0, 5, 10, 20));
    assert_eq!(got[1], Request::new(1, 6, 10, 20));
    assert_eq!(got[1].id().to_string(), "2");
}

#[test]
fn optional_fields_are_kept() {
    let r = &read_ok(
        r#"{"at_ms": 1, "input_tokens": 1, "output_tokens": 1, "deadline_ms": 1500, "prefix_hash": 42, "tags": {"team": "search", "n": 3}, "messages": [{"role": "user", "content": "hi"}]}"#,
    )[0];
    assert_eq!(r.deadline_ms, Some(1500));
    assert_eq!(r.prefix_hash, Some(42));
    let tags = r.tags.as_deref().unwrap();
    assert_eq!((tags["team"].as_str(), tags["n"].as_str()), ("search", "3"));
    assert_eq!(r.messages.as_deref(), Some(r#"[{"role": "user", "content": "hi"}]"#));
}

#[test]
fn string_prefix_hashes_are_stable_fnv1a() {
    let got = read_ok(
        "{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1, \"prefix_hash\": \"sys-prompt-v2\"}\n\
         {\"at_ms\": 2, \"input_tokens\": 1, \"output_tokens\": 1, \"prefix_hash\": \"sys-prompt-v2\"}\n\
         {\"at_ms\": 3, \"input_tokens\": 1, \"output_tokens\": 1, \"prefix_hash\": \"\"}\n",
    );
    assert_eq!(got[0].prefix_hash, got[1].prefix_hash);
    // FNV-1a of the empty string is its offset basis.
    assert_eq!(got[2].prefix_hash, Some(0xcbf2_9ce4_8422_2325));
}

#[test]
fn unknown_fields_and_blank_lines_are_ignored() {
    let got = read_ok(
        "\n{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1, \"ttft_ms\": 200, \"extra\": {\"deep\": [1, {\"x\": null}]}}\n\r\n\
         {\"at_ms\": 1.0, \"input_tokens\": 2, \"output_tokens\": 2, \"id\": 77}\n",
    );
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].seq, got[1].seq), (0, 1));
    assert_eq!(got[1].at_ms, 1);
    assert_eq!(got[1].id.as_deref(), Some("77"));
}

#[test]
fn repeated_names_share_one_allocation() {
    let got = read_ok(
        "{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1, \"tenant\": \"acme\", \"model\": \"m\"}\n\
         {\"at_ms\": 2, \"input_tokens\": 1, \"output_tokens\": 1, \"tenant\": \"acme\", \"model\": \"m\"}\n",
    );
    assert!(Arc::ptr_eq(&got[0].tenant, &got[1].tenant));
    assert!(Arc::ptr_eq(got[0].model.as_ref().unwrap(), got[1].model.as_ref().unwrap()));
}

#[test]
fn bad_lines_are_errors_naming_line_and_column() {
    let got = read(concat!(
        "{\"at_ms\": 100, \"input_tokens\": 1, \"output_tokens\": 1}\n",
        "{\"at_ms\": 200, \"input_tokens\": 1, \"output_tokens\": 1\n",
        "{\"at_ms\": 300, \"input_tokens\": \"x\", \"output_tokens\": 1}\n",
        "{\"input_tokens\": 1, \"output_tokens\": 1}\n",
        "{\"at_ms\": 50, \"input_tokens\": 1, \"output_tokens\": 1}\n",
        "{\"at_ms\": 400, \"input_tokens\": 1, \"output_tokens\": 1, \"stream\": \"yes\"}\n",
        "[1, 2]\n",
        "{\"at_ms\": 500, \"input_tokens\": 1, \"output_tokens\": 1, \"tags\": [\"a\"]}\n",
        "{\"at_ms\": 600, \"input_tokens\": 2, \"output_tokens\": 2}\n",
    ));
    let errors: Vec<&str> = got.iter().filter_map(|r| r.as_ref().err().map(String::as_str)).collect();
    assert_eq!(
        errors,
        [
            "trace.jsonl:2:52: invalid json: end of line while parsing an object",
            "trace.jsonl:3:32: invalid type for `input_tokens`: found string \"x\", expected an integer",
            "trace.jsonl:4: missing field `at_ms`",
            "trace.jsonl:5: at_ms 50 is before the previous line's 100, expected lines ordered by at_ms",
            "trace.jsonl:6:65: invalid type for `stream`: found string \"yes\", expected a boolean",
            "trace.jsonl:7:1: invalid line: found array, expected a json object",
            "trace.jsonl:8:63: invalid type for `tags`: found array, expected an object",
        ]
    );
    // Reading goes on after a bad line, and seq counts only requests.
    let last = got.last().unwrap().as_ref().unwrap();
    assert_eq!((last.seq, last.at_ms), (1, 600));
}

#[test]
fn messages_must_be_an_array_of_objects() {
    let line = |messages: &str| {
        format!("{{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1, \"messages\": {messages}}}\n")
    };
    let text: String = ["5", "\"hi\"", "{\"role\": \"user\"}", "[{\"role\": \"user\"}, 7]", "[]", "null"]
        .iter()
        .map(|m| line(m))
        .collect();
    let got = read(&text);
    assert_eq!(
        got[..4],
        [
            Err("trace.jsonl:1:65: invalid type for `messages`: found number 5, expected an array of objects".into()),
            Err("trace.jsonl:2:65: invalid type for `messages`: found string \"hi\", expected an array of objects"
                .into()),
            Err("trace.jsonl:3:65: invalid type for `messages`: found object, expected an array of objects".into()),
            Err("trace.jsonl:4:84: invalid type for `messages[1]`: found number 7, expected an object".into()),
        ]
    );
    assert_eq!(got[4].as_ref().unwrap().messages.as_deref(), Some("[]"));
    assert_eq!(got[5].as_ref().unwrap().messages, None, "null is absent");
}

#[test]
fn csv_read_as_json_lines_gets_a_hint() {
    let got = read("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n");
    assert_eq!(
        got[0],
        Err("trace.jsonl:1:1: invalid json: found `TIMESTAMP,ContextTokens,GeneratedTokens`, expected a json object; \
             this looks like csv"
            .into())
    );
    // Only the first line: a stray line later in a JSON-lines file is not a
    // sign of CSV.
    assert_eq!(got[1], Err("trace.jsonl:2:5: invalid json: trailing characters".into()));
    // A first line that is JSON gone wrong gets the parser's words.
    for text in ["{\"at_ms\": 1,, 2}\n", "[1,, 2]\n", "not json\n"] {
        let got = read(text);
        let e = got[0].as_ref().unwrap_err();
        assert!(e.contains("invalid json: ") && !e.contains("csv"), "{e}");
    }
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let got =
        read("{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1}\n{\"at_ms\": 2, \"tenant\": \"a\u{ff}\"}\n");
    assert_eq!(got.len(), 2);
    let bytes = b"{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1}\n{\"at_ms\": 2, \"tenant\": \"a\xFF\"}\n";
    let got: Vec<_> = JsonlReader::new(&bytes[..], "t.jsonl").map(|r| r.map_err(|e| e.to_string())).collect();
    assert_eq!(got[1], Err("t.jsonl:2:26: invalid utf-8, expected a utf-8 text line".into()));
}

#[test]
fn a_leading_byte_order_mark_is_skipped_and_others_are_shown_escaped() {
    let got = read("\u{feff}{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1}\n");
    assert_eq!(got[0].as_ref().map(|r| r.at_ms), Ok(1));
    let got = read(concat!(
        "{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1}\n",
        "{\"at_ms\": 2, \"input_tokens\": \"\u{feff}12\u{200b}\", \"output_tokens\": 1}\n",
        "{\"at_ms\": 3, \"input_tokens\": \"\\u0000\", \"output_tokens\": 1}\n",
    ));
    assert_eq!(
        got[1],
        Err("trace.jsonl:2:30: invalid type for `input_tokens`: found string \"\\u{feff}12\\u{200b}\", expected an integer"
            .into())
    );
    // JSON's own escapes are shown as written.
    assert_eq!(
        got[2],
        Err("trace.jsonl:3:30: invalid type for `input_tokens`: found string \"\\u0000\", expected an integer".into())
    );
}

#[test]
fn a_read_failure_ends_the_stream() {
    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    let src = io::BufReader::new(io::Read::chain(
        &b"{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1}\n"[..],
        Broken,
    ));
    let got: Vec<_> = JsonlReader::new(src, "t.jsonl").collect();
    assert_eq!(got.len(), 2);
    let e = got[1].as_ref().unwrap_err();
    assert_eq!(e.to_string(), "t.jsonl:2: cannot read the trace");
    assert!(!e.is_bad_line());
}

#[test]
fn writer_leaves_out_defaults() {
    let mut r = Request::new(0, 5, 1, 2);
    assert_eq!(write_all(std::slice::from_ref(&r)), "{\"at_ms\":5,\"input_tokens\":1,\"output_tokens\":2}\n");
    r.id = Some("a\"b".into());
    r.tenant = "acme".into();
    r.max_tokens = 9;
    r.stream = true;
    r.tags = Some(Box::new(BTreeMap::from([("k".to_string(), "v".to_string())])));
    r.messages = Some("[\n {\"role\": \"user\"}\n]".into());
    assert_eq!(
        write_all(&[r]),
        "{\"at_ms\":5,\"id\":\"a\\\"b\",\"tenant\":\"acme\",\"input_tokens\":1,\"output_tokens\":2,\"max_tokens\":9,\
         \"stream\":true,\"tags\":{\"k\":\"v\"},\"messages\":[  {\"role\": \"user\"} ]}\n"
    );
}

#[test]
fn writer_refuses_what_the_reader_would_refuse() {
    let mut w = TraceWriter::new(Vec::new());
    w.write(&Request::new(0, 10, 1, 1)).unwrap();
    let e = w.write(&Request::new(1, 5, 1, 1)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let mut bad = Request::new(1, 20, 1, 1);
    for messages in ["not json", "5", "{\"role\": \"user\"}", "[1]"] {
        bad.messages = Some(messages.into());
        assert_eq!(w.write(&bad).unwrap_err().kind(), io::ErrorKind::InvalidInput, "{messages}");
    }
    assert_eq!(w.written(), 1);
    assert_eq!(w.get_ref().iter().filter(|b| **b == b'\n').count(), 1);
}

// === round trip ===

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("default".to_string()),
        "[a-z]{1,6}",
        prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter),
    ]
}

fn messages() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>()
            .prop_map(|s| format!("[{{\"role\":\"user\",\"content\":{}}}]", serde_json::to_string(&s).unwrap())),
        Just("[{\"a\": [1, 2.5, null, true], \"b\": {}}, {}]".to_string()),
    ]
}

prop_compose! {
    fn request()(
        at_ms in 0..=crate::MAX_SPAN_MS,
        id in proptest::option::of(name()),
        tenant in name(),
        class in name(),
        model in proptest::option::of(name()),
        tokens in (any::<u32>(), any::<u32>(), any::<u32>()),
        stream in any::<bool>(),
        lang in proptest::option::of(name()),
        deadline_ms in proptest::option::of(any::<u64>()),
        tags in proptest::option::of(prop::collection::btree_map(name(), any::<String>(), 0..4)),
        prefix_hash in proptest::option::of(any::<u64>()),
        prompt_hash in proptest::option::of(any::<u64>()),
        hash_ids in proptest::option::of(prop::collection::vec(any::<u64>(), 0..5)),
        messages in proptest::option::of(messages()),
        same_max in any::<bool>(),
    ) -> Request {
        let (input_tokens, output_tokens, max_tokens) = tokens;
        Request {
            seq: 0,
            id: id.map(Sym::from),
            at_ms,
            tenant: tenant.into(),
            class: class.into(),
            model: model.map(Sym::from),
            input_tokens,
            output_tokens,
            max_tokens: if same_max { output_tokens } else { max_tokens },
            stream,
            lang: lang.map(Sym::from),
            deadline_ms,
            tags: tags.map(Box::new),
            prefix_hash,
            hash_ids: hash_ids.map(|h| h.into_boxed_slice()),
            prompt_hash,
            messages: messages.map(Into::into),
        }
    }
}

proptest! {
    #[test]
    fn reading_what_the_writer_wrote_gives_the_same_requests(mut reqs in prop::collection::vec(request(), 0..20)) {
        reqs.sort_by_key(|r| r.at_ms);
        for (i, r) in reqs.iter_mut().enumerate() {
            r.seq = i as u64;
        }
        let text = write_all(&reqs);
        prop_assert_eq!(text.lines().count(), reqs.len());
        let back: Vec<Request> = JsonlReader::new(text.as_bytes(), "rt.jsonl").collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(back, reqs);
    }
}
