use super::*;
use crate::jsonl::TraceWriter;
use crate::stats::TraceStats;
use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::PathBuf;

fn data(rel: &str) -> PathBuf {
    // Slices of the public traces, kept in the repo (origins in tests/data/README.md).
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data")).join(rel)
}

fn read_all(rel: &str, format: TraceFormat) -> Vec<Request> {
    let reader = TraceReader::open(&data(rel), format, ReadOptions::default()).unwrap();
    reader.collect::<Result<_, _>>().unwrap()
}

fn from_text(text: &'static str, format: TraceFormat, opts: ReadOptions) -> TraceReader {
    TraceReader::from_reader(Box::new(text.as_bytes()), "t", format, opts).unwrap()
}

/// Writing requests as JSONL and reading them back gives the same requests.
fn assert_round_trips(reqs: &[Request]) {
    let mut w = TraceWriter::new(Vec::new());
    for r in reqs {
        w.write(r).unwrap();
    }
    let bytes = w.into_inner();
    let back =
        TraceReader::from_reader(Box::new(io::Cursor::new(bytes)), "rt", TraceFormat::Jsonl, ReadOptions::default())
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
    assert!(back == reqs, "round trip changed the requests");
}

fn tag<'a>(r: &'a Request, key: &str) -> Option<&'a str> {
    r.tags.as_deref().and_then(|t| t.get(key)).map(String::as_str)
}

fn assert_numbered_and_ordered(reqs: &[Request]) {
    assert!(reqs.iter().enumerate().all(|(i, r)| r.seq == i as u64 && r.id.is_none()));
    assert!(reqs.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert_eq!(reqs.first().map(|r| r.at_ms), Some(0));
}

// === real traces (slices in tests/data, see its README) ===

#[test]
fn azure_conversation_trace_imports_whole() {
    // The quickstart's slice: the first ten minutes of the conversation trace.
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/traces/azure-conv-first10m.csv"));
    let reqs: Vec<Request> =
        TraceReader::open(path, TraceFormat::Azure, ReadOptions::default()).unwrap().map(Result::unwrap).collect();
    assert_eq!(reqs.len(), 2_863);
    assert_numbered_and_ordered(&reqs);
    // 18:15:46.6805900 to 18:25:45.9496210.
    assert_eq!(reqs.last().unwrap().at_ms, 599_269);
    assert_eq!((reqs[0].input_tokens, reqs[0].output_tokens), (374, 44));
    assert_eq!(reqs[1].at_ms, 4_314);
    let mut stats = TraceStats::new();
    stats.extend(&reqs);
    let s = stats.summary();
    assert_eq!((s.input_tokens.max, s.output_tokens.max), (7_930, 1_000));
    assert!(s.input_tokens.p50.abs_diff(1_041) <= 1 && s.output_tokens.p50.abs_diff(217) <= 1, "{s:?}");
    assert_eq!(s.by_model.get("(none)"), Some(&2_863));
    assert_round_trips(&reqs);
}

#[test]
fn azure_code_trace_slice_imports_whole() {
    // The header and the first 2,000 rows, the last without a newline as upstream.
    let reqs = read_all("azure-llm-2023/AzureLLMInferenceTrace_code_first2000.csv", TraceFormat::Azure);
    assert_eq!(reqs.len(), 2_000);
    assert_numbered_and_ordered(&reqs);
    // 18:17:03.9799600 to 18:31:17.0593070.
    assert_eq!(reqs.last().unwrap().at_ms, 853_079);
    assert_eq!((reqs[0].input_tokens, reqs[0].output_tokens), (4_808, 10));
    assert_eq!(reqs.iter().map(|r| r.input_tokens).max(), Some(7_437));
    assert_eq!(reqs.iter().map(|r| r.output_tokens).max(), Some(1_899));
    assert_round_trips(&reqs);
}

#[test]
fn burstgpt_v1_slice_imports_with_failures_kept() {
    let reqs = read_all("burstgpt/BurstGPT_1_first400.csv", TraceFormat::Burstgpt);
    assert_eq!(reqs.len(), 400);
    assert_numbered_and_ordered(&reqs);
    // Timestamp 5 to 37,274 s.
    assert_eq!(reqs.last().unwrap().at_ms, 37_269_000);
    assert_eq!(reqs[1].at_ms, 40_000);
    let failed: Vec<&Request> = reqs.iter().filter(|r| tag(r, "failed") == Some("true")).collect();
    assert_eq!(failed.len(), 17);
    assert!(failed.iter().all(|r| r.output_tokens == 0 && r.input_tokens == 0));
    assert_eq!(reqs.iter().filter(|r| r.model.as_deref() == Some("ChatGPT")).count(), 320);
    assert_eq!(reqs.iter().filter(|r| r.model.as_deref() == Some("GPT-4")).count(), 80);
    assert_eq!(reqs.iter().filter(|r| tag(r, "log_type") == Some("API log")).count(), 2);
    assert!(reqs.iter().all(|r| tag(r, "session").is_none()));
    assert_round_trips(&reqs);
}

#[test]
fn burstgpt_v2_slice_finds_columns_by_name() {
    let reqs = read_all("burstgpt/BurstGPT_3_first400.csv", TraceFormat::Burstgpt);
    assert_eq!(reqs.len(), 400);
    assert_numbered_and_ordered(&reqs);
    // 19,440,110.0 to 19,481,563.0 s.
    assert_eq!(reqs.last().unwrap().at_ms, 41_453_000);
    assert_eq!((reqs[0].input_tokens, reqs[0].output_tokens, reqs[0].model.as_deref()), (906, 446, Some("GPT-4")));
    let api: Vec<&Request> = reqs.iter().filter(|r| tag(r, "log_type") == Some("API log")).collect();
    assert_eq!(api.len(), 6);
    assert!(api.iter().all(|r| tag(r, "session").is_none()));
    let sessions: BTreeSet<&str> = reqs.iter().filter_map(|r| tag(r, "session")).collect();
    assert_eq!(sessions.len(), 135);
    assert_eq!(reqs.iter().filter(|r| tag(r, "session").is_some()).count(), 394);
    assert_eq!(reqs.iter().filter(|r| tag(r, "failed").is_some()).count(), 1);
    assert_eq!(reqs.iter().filter(|r| r.model.as_deref() == Some("ChatGPT")).count(), 305);
    assert_round_trips(&reqs);
}

#[test]
fn mooncake_conversation_trace_slice_imports_whole() {
    let reqs = read_all("mooncake/conversation_first1000.jsonl", TraceFormat::Mooncake);
    assert_eq!(reqs.len(), 1_000);
    assert_numbered_and_ordered(&reqs);
    assert_eq!(reqs.last().unwrap().at_ms, 330_000);
    assert_eq!((reqs[0].input_tokens, reqs[0].output_tokens, reqs[0].prefix_hash), (6_758, 500, Some(0)));
    assert_eq!(tag(&reqs[0], "prefix_blocks"), Some("14"));
    // len(hash_ids) == ceil(input_length / 512) on every row.
    for r in &reqs {
        let blocks: u32 = tag(r, "prefix_blocks").unwrap().parse().unwrap();
        assert_eq!(blocks, r.input_tokens.div_ceil(512), "request {}", r.seq);
    }
    assert_round_trips(&reqs);
}

#[test]
fn mooncake_synthetic_trace_slice_imports_whole() {
    let reqs = read_all("mooncake/synthetic_first500.jsonl", TraceFormat::Mooncake);
    assert_eq!(reqs.len(), 500);
    assert_numbered_and_ordered(&reqs);
    assert_eq!(reqs.last().unwrap().at_ms, 139_272);
    assert_round_trips(&reqs);
}

// === options ===

const JSONL: &str = "\
{\"at_ms\": 0, \"input_tokens\": 1, \"output_tokens\": 1}
{\"at_ms\": 1000, \"input_tokens\": 2, \"output_tokens\": 1}
{\"at_ms\": 1000, \"input_tokens\": oops}
{\"at_ms\": 2001, \"input_tokens\": 3, \"output_tokens\": 1}
{\"at_ms\": 1500, \"input_tokens\": 4, \"output_tokens\": 1}
{\"at_ms\": 3000, \"input_tokens\": 5, \"output_tokens\": 1}
";

#[test]
fn without_skipping_bad_lines_are_errors_and_reading_goes_on() {
    let got: Vec<Result<Request, TraceError>> = from_text(JSONL, TraceFormat::Jsonl, ReadOptions::default()).collect();
    let errors: Vec<String> = got.iter().filter_map(|r| r.as_ref().err()).map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "t:3:33: invalid json: expected value",
            "t:5: at_ms 1500 is before the previous line's 2001, expected lines ordered by at_ms",
        ]
    );
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 4);
}

#[test]
fn skipped_bad_lines_are_counted() {
    let opts = ReadOptions { skip_bad_lines: true, ..ReadOptions::default() };
    let mut reader = from_text(JSONL, TraceFormat::Jsonl, opts);
    let reqs: Vec<Request> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(reqs.iter().map(|r| r.input_tokens).collect::<Vec<_>>(), [1, 2, 3, 5]);
    assert_eq!(reqs.iter().map(|r| r.seq).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(reader.skipped(), 2);
    assert_eq!(reader.first_skipped().and_then(TraceError::line), Some(3));
}

#[test]
fn bad_csv_numbers_are_skipped_and_counted_too() {
    let csv = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,10,1\n2023-11-16 18:00:01.0,1O,1\n2023-11-16 18:00:02.0,12,1\n";
    let strict: Vec<_> = from_text(csv, TraceFormat::Azure, ReadOptions::default()).collect();
    assert_eq!(
        strict[1].as_ref().unwrap_err().to_string(),
        "t:3:23: invalid value for `ContextTokens`: found \"1O\", expected an integer from 0 to 4294967295"
    );
    let opts = ReadOptions { skip_bad_lines: true, ..ReadOptions::default() };
    let mut reader = from_text(csv, TraceFormat::Azure, opts);
    let at: Vec<u64> = reader.by_ref().map(|r| r.unwrap().at_ms).collect();
    assert_eq!((at, reader.skipped()), (vec![0, 2000], 1));
}

#[test]
fn header_problems_are_never_skipped() {
    let opts = ReadOptions { skip_bad_lines: true, ..ReadOptions::default() };
    let src = Box::new(&b"Timestamp,Model\n1,x\n"[..]);
    let e = TraceReader::from_reader(src, "b.csv", TraceFormat::Burstgpt, opts).unwrap_err();
    assert_eq!(e.to_string(), "b.csv:1: missing column `Request tokens` in the header, found `Timestamp`, `Model`");
}

/// A reader that fails if read past its bytes: proves `limit` stops reading.
struct ThenFail(&'static [u8]);

impl Read for ThenFail {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::other("read past the limit"));
        }
        let n = self.0.len().min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn limit_stops_at_the_first_request_past_it_without_reading_on() {
    let text: &[u8] = b"{\"at_ms\": 0, \"input_tokens\": 1, \"output_tokens\": 1}\n\
        {\"at_ms\": 999, \"input_tokens\": 1, \"output_tokens\": 1}\n\
        {\"at_ms\": 1000, \"input_tokens\": 1, \"output_tokens\": 1}\n";
    let opts = ReadOptions { limit_ms: Some(1000), ..ReadOptions::default() };
    // A tiny buffer so the reader cannot have read ahead into the failure.
    let src = Box::new(io::BufReader::with_capacity(8, ThenFail(text)));
    let reader = TraceReader::from_reader(src, "t", TraceFormat::Jsonl, opts).unwrap();
    let at: Vec<u64> = reader.map(|r| r.unwrap().at_ms).collect();
    assert_eq!(at, [0, 999]);
}

#[test]
fn speed_divides_arrivals_before_the_limit_applies() {
    let opts = ReadOptions { speed: 2.0, limit_ms: Some(1000), ..ReadOptions::default() };
    let reqs: Vec<Request> = from_text(JSONL, TraceFormat::Jsonl, ReadOptions { skip_bad_lines: true, ..opts })
        .map(Result::unwrap)
        .collect();
    // 0, 1000, 2001 → 0, 500, 1001 (rounded); 1001 >= 1000 ends the trace.
    assert_eq!(reqs.iter().map(|r| r.at_ms).collect::<Vec<_>>(), [0, 500]);
    let slow = ReadOptions { speed: 0.5, ..ReadOptions::default() };
    let at: Vec<u64> = read_with(slow).iter().map(|r| r.at_ms).collect();
    assert_eq!(at, [0, 2000, 4002, 6000]);
}

fn read_with(opts: ReadOptions) -> Vec<Request> {
    from_text(JSONL, TraceFormat::Jsonl, ReadOptions { skip_bad_lines: true, ..opts }).map(Result::unwrap).collect()
}

#[test]
fn limit_applies_to_real_traces_too() {
    let opts = ReadOptions { limit_ms: Some(120_000), speed: 1.0, skip_bad_lines: false };
    let path = data("mooncake/conversation_first1000.jsonl");
    let reqs: Vec<Request> =
        TraceReader::open(&path, TraceFormat::Mooncake, opts).unwrap().map(Result::unwrap).collect();
    assert!(!reqs.is_empty());
    assert!(reqs.iter().all(|r| r.at_ms < 120_000));
    let all = read_all("mooncake/conversation_first1000.jsonl", TraceFormat::Mooncake);
    assert!(reqs.len() < all.len());
    assert_eq!(reqs.len(), all.iter().filter(|r| r.at_ms < 120_000).count());
}

#[test]
fn bad_speed_is_refused() {
    for speed in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 0.0009, 2e6] {
        let e = TraceReader::from_reader(
            Box::new(&b""[..]),
            "t",
            TraceFormat::Jsonl,
            ReadOptions { speed, ..ReadOptions::default() },
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("invalid trace speed: found"), "{e}");
    }
}

#[test]
fn a_missing_file_names_the_file() {
    let e = TraceReader::open(Path::new("/nonexistent/trace.jsonl"), TraceFormat::Jsonl, ReadOptions::default())
        .unwrap_err();
    assert_eq!(e.to_string(), "cannot open trace `/nonexistent/trace.jsonl`");
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn an_io_error_mid_file_ends_the_trace_even_when_skipping() {
    let cases: [(TraceFormat, &'static [u8]); 4] = [
        (TraceFormat::Jsonl, b"{\"at_ms\": 0, \"input_tokens\": 1, \"output_tokens\": 1}\n"),
        (TraceFormat::Mooncake, b"{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n"),
        (TraceFormat::Azure, b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00,1,1\n"),
        (TraceFormat::Burstgpt, b"Timestamp,Request tokens,Response tokens\n5,1,1\n"),
    ];
    let opts = ReadOptions { skip_bad_lines: true, ..ReadOptions::default() };
    for (format, text) in cases {
        let src = Box::new(io::BufReader::with_capacity(8, ThenFail(text)));
        let got: Vec<_> = TraceReader::from_reader(src, "t", format, opts).unwrap().collect();
        assert_eq!(got.len(), 2, "{format:?}");
        assert_eq!(got[0].as_ref().unwrap().at_ms, 0);
        let last = got[1].as_ref().unwrap_err();
        assert!(matches!(last, TraceError::Read { .. }), "{format:?}: {last}");
    }
}

#[test]
fn debug_output_is_short() {
    let reader = from_text("", TraceFormat::Jsonl, ReadOptions::default());
    assert!(format!("{reader:?}").starts_with("TraceReader { name: \"t\", format: Jsonl"));
    assert_eq!((reader.name(), reader.format()), ("t", TraceFormat::Jsonl));
}

#[test]
fn a_csv_row_of_empty_fields_is_a_bad_line_not_a_silent_drop() {
    let csv = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,10,1\n,,\n2023-11-16 18:00:02.0,12,1\n";
    let strict: Vec<_> = from_text(csv, TraceFormat::Azure, ReadOptions::default()).collect();
    assert_eq!(
        strict[1].as_ref().unwrap_err().to_string(),
        "t:3:1: invalid value for `TIMESTAMP`: found nothing, expected a time like `2023-11-16 18:17:03.9799600`"
    );
    let opts = ReadOptions { skip_bad_lines: true, ..ReadOptions::default() };
    let mut reader = from_text(csv, TraceFormat::Azure, opts);
    let at: Vec<u64> = reader.by_ref().map(|r| r.unwrap().at_ms).collect();
    assert_eq!((at, reader.skipped()), (vec![0, 2000], 1));
}

#[test]
fn a_folder_is_not_a_trace() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let e = TraceReader::open(dir, TraceFormat::Jsonl, ReadOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), format!("cannot open trace `{}`", dir.display()));
    let source = std::error::Error::source(&e).map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("is a directory, expected a trace file"));
}

#[cfg(unix)]
#[test]
fn dev_null_is_empty_and_dev_zero_is_one_line_too_long() {
    let null = TraceReader::open(Path::new("/dev/null"), TraceFormat::Jsonl, ReadOptions::default()).unwrap();
    assert_eq!(null.count(), 0);
    let opts = ReadOptions { skip_bad_lines: true, ..ReadOptions::default() };
    let got: Vec<_> = TraceReader::open(Path::new("/dev/zero"), TraceFormat::Jsonl, opts).unwrap().collect();
    assert_eq!(got.len(), 1, "even when skipping, a line too long ends the trace");
    assert_eq!(
        got[0].as_ref().unwrap_err().to_string(),
        "/dev/zero:1: line too long: found more than 16 MiB without a line break, expected at most 16 MiB per line"
    );
}

#[test]
fn an_unterminated_quote_ends_the_trace_at_its_line_even_when_skipping() {
    let csv = "Timestamp,Request tokens,Response tokens\n1,2,3\n2,\"4,5\n3,6,7\n4,8,9\n";
    let opts = ReadOptions { skip_bad_lines: true, ..ReadOptions::default() };
    let got: Vec<_> = from_text(csv, TraceFormat::Burstgpt, opts).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].as_ref().unwrap_err().to_string(),
        "t:3:3: unterminated quote: found an opening `\"` with no closing `\"` on its line, expected a closing `\"`"
    );
}

#[test]
fn an_epoch_millisecond_typo_is_refused_at_its_line() {
    let text = "{\"at_ms\": 0, \"input_tokens\": 1, \"output_tokens\": 1}\n\
                {\"at_ms\": 1700000000000, \"input_tokens\": 1, \"output_tokens\": 1}\n";
    let got: Vec<_> = from_text(text, TraceFormat::Jsonl, ReadOptions::default()).collect();
    let e = got[1].as_ref().unwrap_err();
    assert!(e.to_string().contains(":2: at_ms 1700000000000 is more than ten years after the trace's start"), "{e}");
}
