//! Fuzzing every trace reader (windtunnel JSONL and the Azure, BurstGPT and
//! Mooncake importers, all behind [`TraceReader::from_reader`]) with
//! arbitrary bytes and with mutations of valid samples, with and without
//! `skip_bad_lines`, under random `limit` and `speed`. Each read is iterated
//! to its end (or 10 000 items): it must never panic, the requests it yields
//! must survive [`TraceStats`] and a JSONL round trip, and its errors must
//! render.
//!
//! Bounded memory: the inputs are at most a few KiB, and every reader holds
//! one line (or CSV row) at a time in a reused buffer capped at
//! [`MAX_LINE_BYTES`] (16 MiB, `lines` and `csv_rows`):
//! `an_endless_line_is_an_error_not_all_of_memory` feeds each format an
//! endless line and checks that reading stops with an error.

use crate::lines::MAX_LINE_BYTES;
use crate::{ReadOptions, TraceError, TraceFormat, TraceReader, TraceStats, TraceWriter};
use proptest::prelude::*;
use std::io::{self, Read};
use windtunnel_core::Request;

const FORMATS: [TraceFormat; 4] =
    [TraceFormat::Jsonl, TraceFormat::Azure, TraceFormat::Burstgpt, TraceFormat::Mooncake];

/// Items read from one trace at most: the inputs are small, so a reader
/// that yields more is looping.
const MAX_ITEMS: usize = 10_000;

/// A valid sample of each format, in [`FORMATS`] order.
const SAMPLES: [&str; 4] = [
    concat!(
        "{\"at_ms\": 0, \"id\": \"r1\", \"tenant\": \"acme\", \"class\": \"interactive\", \"model\": \"chat\", ",
        "\"input_tokens\": 812, \"output_tokens\": 240, \"max_tokens\": 1024, \"stream\": true, \"lang\": \"en\"}\n",
        "{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1, \"deadline_ms\": 1500, \"prefix_hash\": 42, ",
        "\"tags\": {\"team\": \"search\", \"n\": 3}, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n",
        "\n",
        "{\"at_ms\": 2, \"input_tokens\": 10, \"output_tokens\": 20, \"prefix_hash\": \"sys-prompt-v2\", \"tenant\": null}\r\n",
        "{\"at_ms\": 2000, \"input_tokens\": 0, \"output_tokens\": 0, \"max_tokens\": null, \"lang\": \"zh\"}\n",
    ),
    concat!(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n",
        "2023-11-16 18:17:03.9799600,4808,10\n",
        "2023-11-16 18:17:04.0319600,3180,8\r\n",
        "2023-11-16 18:17:04.0319600,0,0\n",
        "\n",
        "2023-11-16 18:18:00.5,1,1\n",
    ),
    concat!(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n",
        "5,ChatGPT,472,18,490,Conversation log\n",
        "12.5,ChatGPT,1,0,1,API log\n",
        "45,GPT-4,1087,0,1087,Conversation log\n",
        "\"46\",\"ChatGPT\",1,2,3,\"API log\"\n",
        "118,GPT-4,417,276,693,Conversation log\n",
    ),
    concat!(
        "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1, 2, 3]}\n",
        "{\"timestamp\": 0, \"input_length\": 7322, \"output_length\": 490, \"hash_ids\": [0, 14, 15]}\n",
        "{\"timestamp\": 3051, \"input_length\": 2290, \"output_length\": 316, \"hash_ids\": []}\n",
        "{\"timestamp\": 4000, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [9], \"extra\": {\"a\": [1]}}\n",
    ),
];

/// Byte strings that break assumptions, to put where a number was.
const EXTREME_NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"-0",
    b"1e308",
    b"-1e308",
    b"1e-320",
    b"4294967295",
    b"4294967296",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775807",
    b"NaN",
    b"inf",
    b"0.0000001",
    b"99999999999999999999999999999999",
    b"1_000",
    b"0x10",
    b"",
    b"\"1\"",
    b"null",
];

/// Pieces to insert: separators, quotes, escapes, invalid UTF-8.
const PIECES: &[&[u8]] = &[
    b",",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r",
    b"\r\n",
    b"\0",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\xff",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"\xe2\x80\xae",
    b"null",
    b"true",
    b" ",
    b"\t",
    b"\"at_ms\": 1",
    b"\"tags\": {}",
    b"\"messages\": 1",
];

/// One edit of a sample. Positions are taken modulo what there is.
#[derive(Clone, Debug)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceNumber(usize, &'static [u8]),
    Insert(usize, Vec<u8>),
    DeleteBytes(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), prop::sample::select(EXTREME_NUMBERS)).prop_map(|(i, n)| Edit::ReplaceNumber(i, n)),
        (any::<usize>(), prop::sample::select(PIECES)).prop_map(|(i, p)| Edit::Insert(i, p.to_vec())),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 0..8)).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), "\\PC{0,4}").prop_map(|(i, s)| Edit::Insert(i, s.into_bytes())),
        (any::<usize>(), 1..40usize).prop_map(|(i, n)| Edit::DeleteBytes(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// `text` with `edits` applied in turn, at the byte level.
fn apply(text: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut text = text.to_vec();
    for e in edits {
        let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        text = match e {
            Edit::DeleteLine(i) => {
                lines.remove(i % lines.len());
                lines.join(&b'\n')
            }
            Edit::DuplicateLine(i) => {
                let n = i % lines.len();
                lines.insert(n, lines[n].clone());
                lines.join(&b'\n')
            }
            Edit::SwapLines(a, b) => {
                let (a, b) = (a % lines.len(), b % lines.len());
                lines.swap(a, b);
                lines.join(&b'\n')
            }
            Edit::ReplaceNumber(i, n) => {
                let spans = number_spans(&text);
                match spans.get(i % spans.len().max(1)) {
                    Some(&(start, end)) => [&text[..start], n, &text[end..]].concat(),
                    None => text,
                }
            }
            Edit::Insert(i, piece) => {
                let at = i % (text.len() + 1);
                [&text[..at], piece, &text[at..]].concat()
            }
            Edit::DeleteBytes(i, n) => {
                let at = i % (text.len() + 1);
                let end = (at + n).min(text.len());
                [&text[..at], &text[end..]].concat()
            }
            Edit::Truncate(i) => {
                text.truncate(i % (text.len() + 1));
                text
            }
        };
    }
    text
}

/// Byte spans of the numbers in `text` (digits with an optional fraction).
fn number_spans(text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_digit() {
            let start = i;
            while i < text.len() && (text[i].is_ascii_digit() || text[i] == b'.') {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

fn options() -> impl Strategy<Value = ReadOptions> {
    let speed = prop_oneof![
        4 => Just(1.0),
        1 => prop::sample::select(vec![0.5, 2.0, 1e-300, 1e300, f64::MIN_POSITIVE, f64::MAX]),
        1 => prop::sample::select(vec![0.0, -1.0, f64::NAN, f64::INFINITY]),
    ];
    (any::<bool>(), prop::option::of(any::<u64>()), speed).prop_map(|(skip_bad_lines, limit_ms, speed)| ReadOptions {
        skip_bad_lines,
        limit_ms,
        speed,
    })
}

/// Reads `bytes` as `format` to the end (at most [`MAX_ITEMS`] items);
/// everything it yields must render, and the requests must go through stats
/// and a JSONL round trip unchanged.
fn read_everything(bytes: Vec<u8>, format: TraceFormat, opts: ReadOptions) {
    let reader = match TraceReader::from_reader(Box::new(io::Cursor::new(bytes)), "t", format, opts) {
        Ok(r) => r,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let mut reader = reader;
    let mut requests: Vec<Request> = Vec::new();
    let mut stats = TraceStats::new();
    let mut items = 0;
    for item in reader.by_ref() {
        items += 1;
        assert!(items <= MAX_ITEMS, "{format:?}: more than {MAX_ITEMS} items from a few KiB");
        match item {
            Ok(req) => {
                stats.record(&req);
                requests.push(req);
            }
            Err(e) => {
                let _ = (e.to_string(), e.is_bad_line());
            }
        }
    }
    let _ = (reader.skipped(), reader.first_skipped().map(TraceError::to_string), format!("{reader:?}"));
    let _ = serde_json::to_string(&stats.summary());
    // A `speed` below 1 (at least 0.001, see `TraceReader::from_reader`) can
    // stretch arrivals past the ten years a JSONL trace may span, and the
    // reader refuses such a file: no round trip for those.
    if requests.iter().all(|r| r.at_ms <= crate::MAX_SPAN_MS) {
        round_trips(&requests);
    }
}

/// Writing `requests` as JSONL and reading them back gives them back.
fn round_trips(requests: &[Request]) {
    let mut w = TraceWriter::new(Vec::new());
    for r in requests {
        w.write(r).unwrap();
    }
    let back: Result<Vec<Request>, _> = TraceReader::from_reader(
        Box::new(io::Cursor::new(w.into_inner())),
        "rt",
        TraceFormat::Jsonl,
        ReadOptions::default(),
    )
    .unwrap()
    .collect();
    match back {
        Ok(back) => {
            assert!(back == requests, "the JSONL round trip changed the requests: {requests:?} became {back:?}")
        }
        Err(e) => panic!("the JSONL round trip failed: {e}, requests {requests:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        format in prop::sample::select(FORMATS.to_vec()),
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        opts in options(),
    ) {
        read_everything(bytes, format, opts);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(
        format in prop::sample::select(FORMATS.to_vec()),
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        opts in options(),
    ) {
        let n = FORMATS.iter().position(|f| *f == format).unwrap_or(0);
        let header = SAMPLES[n].lines().next().unwrap_or("");
        read_everything([header.as_bytes(), b"\n", &bytes].concat(), format, opts);
    }

    #[test]
    fn mutated_samples_never_panic(
        n in 0..FORMATS.len(),
        edits in prop::collection::vec(edit(), 1..6),
        opts in options(),
    ) {
        read_everything(apply(SAMPLES[n].as_bytes(), &edits), FORMATS[n], opts);
    }

    /// A sample read as another format: the wrong importer must refuse it
    /// in words, not fall over.
    #[test]
    fn samples_in_the_wrong_format_never_panic(
        n in 0..FORMATS.len(),
        format in prop::sample::select(FORMATS.to_vec()),
        edits in prop::collection::vec(edit(), 0..3),
        skip_bad_lines in any::<bool>(),
    ) {
        let opts = ReadOptions { skip_bad_lines, ..ReadOptions::default() };
        read_everything(apply(SAMPLES[n].as_bytes(), &edits), format, opts);
    }
}

/// The mutations start from samples that read without a bad line.
#[test]
fn samples_are_valid() {
    for (format, sample) in FORMATS.into_iter().zip(SAMPLES) {
        let reader =
            TraceReader::from_reader(Box::new(sample.as_bytes()), "t", format, ReadOptions::default()).unwrap();
        let reqs = reader.collect::<Result<Vec<_>, _>>().unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(reqs.len() >= 4, "{format:?}: {reqs:?}");
        round_trips(&reqs);
    }
}

/// A source that never ends a line (`/dev/zero`, a binary file, a stuck
/// pipe) stops the read with an error once a line passes [`MAX_LINE_BYTES`],
/// for every format, instead of buffering all of memory.
#[test]
fn an_endless_line_is_an_error_not_all_of_memory() {
    for format in FORMATS {
        for skip_bad_lines in [false, true] {
            // A valid header first, so the CSV importers get to the rows.
            let n = FORMATS.iter().position(|f| *f == format).unwrap_or(0);
            let header = match format {
                TraceFormat::Azure | TraceFormat::Burstgpt => SAMPLES[n].lines().next().unwrap_or(""),
                _ => "",
            };
            let endless = io::Cursor::new(format!("{header}\n")).chain(io::repeat(b'7'));
            let opts = ReadOptions { skip_bad_lines, ..ReadOptions::default() };
            let mut reader =
                TraceReader::from_reader(Box::new(io::BufReader::new(endless)), "t", format, opts).unwrap();
            let err = match reader.next() {
                Some(Err(e)) => e.to_string(),
                other => panic!("{format:?}: expected an error, got {other:?}"),
            };
            assert!(err.contains("line too long") || err.contains("16 MiB"), "{format:?}: {err}");
            assert!(reader.next().is_none(), "{format:?}: the read goes on after an endless line");
            assert_eq!(MAX_LINE_BYTES, 16 << 20);
        }
    }
}

#[test]
fn edits_do_what_they_say() {
    let text = b"a,1\nb,2.5\nc";
    assert_eq!(apply(text, &[Edit::DeleteLine(3)]), b"b,2.5\nc");
    assert_eq!(apply(text, &[Edit::SwapLines(0, 2)]), b"c\nb,2.5\na,1");
    assert_eq!(apply(text, &[Edit::ReplaceNumber(1, b"NaN")]), b"a,1\nb,NaN\nc");
    assert_eq!(apply(text, &[Edit::Insert(1, vec![0xff])]), b"a\xff,1\nb,2.5\nc");
    assert_eq!(apply(text, &[Edit::Truncate(3)]), b"a,1");
    assert_eq!(apply(b"", &[Edit::DeleteLine(2), Edit::DeleteBytes(1, 3), Edit::ReplaceNumber(0, b"1")]), b"");
}

/// A carriage return between the tokens of `messages` (found by the fuzz
/// test above): the writer writes it as a space to keep the line whole, so
/// the reader reads it as one, and a round trip gives the request back.
#[test]
fn a_carriage_return_in_messages_round_trips() {
    let line = "{\"at_ms\": 1, \"input_tokens\": 1, \"output_tokens\": 1, \"messages\": [{\"role\": \"user\", \"content\":\r\"hi\"}]}\n";
    let reader = TraceReader::from_reader(
        Box::new(io::Cursor::new(line.as_bytes().to_vec())),
        "cr",
        TraceFormat::Jsonl,
        ReadOptions::default(),
    )
    .unwrap();
    let requests: Vec<Request> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(requests[0].messages.as_deref(), Some("[{\"role\": \"user\", \"content\": \"hi\"}]"));
    round_trips(&requests);
}
