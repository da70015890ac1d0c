//! Importer for the Mooncake traces (FAST'25 release, Kimi traffic).
//!
//! JSON lines `{"timestamp": ms, "input_length": n, "output_length": n,
//! "hash_ids": [..]}`:
//! - `timestamp` (milliseconds) → `at_ms`, made relative to the first line so
//!   that every importer's trace starts at 0 (the published files already
//!   start at 0; a slice from the middle then still does);
//! - `input_length` → `input_tokens`; `output_length` → `output_tokens`;
//! - `hash_ids` (ids of 512-token prompt blocks; equal leading ids mean a
//!   shareable KV prefix) → `prefix_hash` = the first id, and tag
//!   `prefix_blocks` = how many blocks. The array is counted, not collected.
//!
//! Other fields are ignored, as in our own JSONL.

use crate::clock::RelativeClock;
use crate::error::{Problem, TraceError};
use crate::json::{Bad, Field, present, scan_object};
use crate::jsonl::with_csv_hint;
use crate::lines::LineSource;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;
use windtunnel_core::Request;

const FIELDS: [&str; 4] = ["timestamp", "input_length", "output_length", "hash_ids"];
const TIMESTAMP: usize = 0;
const INPUT_LENGTH: usize = 1;
const OUTPUT_LENGTH: usize = 2;
const HASH_IDS: usize = 3;

/// Streams requests out of a Mooncake trace.
#[derive(Debug)]
pub(crate) struct MooncakeReader<R> {
    lines: LineSource<R>,
    file: Arc<str>,
    clock: RelativeClock,
    seq: u64,
    /// Whether a non-blank line has been read (the CSV hint is for the first).
    started: bool,
}

impl<R: BufRead> MooncakeReader<R> {
    fn read(&mut self) -> Result<Option<Request>, TraceError> {
        let Some((line, text)) = self.lines.next_line().transpose()? else { return Ok(None) };
        let first = !std::mem::replace(&mut self.started, true);
        let (ms, mut req) =
            parse_line(text, self.seq).map_err(|bad| with_csv_hint(bad, text, first).at(&self.file, line))?;
        let t = i64::try_from(ms).unwrap_or(i64::MAX);
        let text = ms.to_string();
        let offset = self.clock.accept("timestamp", t, &text).map_err(|problem| TraceError::Line {
            file: self.file.clone(),
            line,
            col: None,
            problem,
        })?;
        req.at_ms = u64::try_from(offset).unwrap_or(0);
        self.seq += 1;
        Ok(Some(req))
    }

    pub(crate) fn new(src: R, file: Arc<str>) -> MooncakeReader<R> {
        MooncakeReader {
            lines: LineSource::new(src, file.clone()),
            file,
            clock: RelativeClock::new(1),
            seq: 0,
            started: false,
        }
    }
}

impl<R: BufRead> Iterator for MooncakeReader<R> {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read().transpose()
    }
}

/// One line: its absolute timestamp and the request (with `at_ms` unset).
fn parse_line(text: &str, seq: u64) -> Result<(u64, Request), Bad> {
    let values = scan_object(text, &FIELDS)?;
    let required = |i: usize| -> Result<Field<'_>, Bad> {
        let name = FIELDS.get(i).copied().unwrap_or_default();
        let raw = values.get(i).copied().flatten().ok_or(Problem::MissingField { field: name })?;
        Ok(Field { line: text, name, raw })
    };
    let ms = required(TIMESTAMP)?.u64()?;
    let input = required(INPUT_LENGTH)?.u32()?;
    let output = required(OUTPUT_LENGTH)?.u32()?;
    let mut req = Request::new(seq, 0, input, output);
    if let Some(raw) = present(values.get(HASH_IDS).copied().flatten()) {
        let ids = Field { line: text, name: "hash_ids", raw }.u64_array()?;
        req.prefix_hash = ids.first().copied();
        req.tags = Some(Box::new(BTreeMap::from([("prefix_blocks".to_string(), ids.len().to_string())])));
        req.hash_ids = Some(ids);
    }
    Ok((ms, req))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<Request, String>> {
        MooncakeReader::new(text.as_bytes(), "m.jsonl".into()).map(|r| r.map_err(|e| e.to_string())).collect()
    }

    #[test]
    fn lines_map_to_requests_with_prefix() {
        let got = read(
            "{\"timestamp\": 100, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [7, 1, 2]}\n\
             {\"timestamp\": 350, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": []}\n",
        );
        let a = got[0].as_ref().unwrap();
        assert_eq!((a.at_ms, a.input_tokens, a.output_tokens, a.prefix_hash), (0, 6758, 500, Some(7)));
        assert_eq!(a.tags.as_deref().unwrap()["prefix_blocks"], "3");
        let b = got[1].as_ref().unwrap();
        assert_eq!((b.seq, b.at_ms, b.prefix_hash), (1, 250, None));
    }

    #[test]
    fn bad_lines_name_the_field() {
        let got = read(
            "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1}\n\
             {\"timestamp\": 6, \"input_length\": 1}\n\
             {\"timestamp\": 7, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1, -2]}\n\
             {\"timestamp\": 4, \"input_length\": 1, \"output_length\": 1}\n",
        );
        assert_eq!(got[1], Err("m.jsonl:2: missing field `output_length`".into()));
        assert_eq!(
            got[2],
            Err("m.jsonl:3:73: invalid value for `hash_ids[1]`: found number -2, expected a non-negative integer"
                .into())
        );
        assert_eq!(
            got[3],
            Err("m.jsonl:4: timestamp 4 is before the previous line's 5, expected lines ordered by timestamp".into())
        );
    }
}
