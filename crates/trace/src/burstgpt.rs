//! Importer for BurstGPT (Azure OpenAI GPT-3.5/GPT-4 usage logs).
//!
//! CSV with a header; **columns are found by name**, because release v2.0
//! inserted `Session ID` and `Elapsed time` in the middle of the v1 layout
//! `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`.
//! - `Timestamp`: seconds on the trace's own clock, integer (`5`) or float
//!   (`19440110.0`). `at_ms` is the time since the first row.
//! - `Model` → `model` (when present and not empty).
//! - `Request tokens` → `input_tokens`; `Response tokens` → `output_tokens`.
//! - `Log Type` → tag `log_type`; `Session ID`, when present and not empty,
//!   → tag `session`.
//! - A row with 0 response tokens is a request that failed upstream. It is
//!   **kept** (it still arrived and still loads a gateway) with the tag
//!   `failed` = `true`, so a report can tell it apart or filter it.
//!
//! `Total tokens` and `Elapsed time` are not used: the first is the sum of the
//! two counts, the second is the upstream's latency, which the simulator
//! produces itself.

use crate::clock::RelativeClock;
use crate::csv_rows::CsvRows;
use crate::error::TraceError;
use crate::intern::Interner;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;
use windtunnel_core::Request;

const TIMESTAMP: &str = "Timestamp";
const MODEL: &str = "Model";
const REQUEST_TOKENS: &str = "Request tokens";
const RESPONSE_TOKENS: &str = "Response tokens";
const LOG_TYPE: &str = "Log Type";
const SESSION_ID: &str = "Session ID";

/// Streams requests out of a BurstGPT CSV.
#[derive(Debug)]
pub(crate) struct BurstgptReader<R> {
    rows: CsvRows<R>,
    timestamp: usize,
    request_tokens: usize,
    response_tokens: usize,
    model: Option<usize>,
    log_type: Option<usize>,
    session: Option<usize>,
    interner: Interner,
    clock: RelativeClock,
    seq: u64,
}

impl<R: BufRead> BurstgptReader<R> {
    /// Reads the header; `Timestamp`, `Request tokens` and `Response tokens`
    /// are required, the other columns are used when present.
    pub(crate) fn new(src: R, file: Arc<str>) -> Result<BurstgptReader<R>, TraceError> {
        let rows = CsvRows::new(src, file)?;
        Ok(BurstgptReader {
            timestamp: rows.column(TIMESTAMP)?,
            request_tokens: rows.column(REQUEST_TOKENS)?,
            response_tokens: rows.column(RESPONSE_TOKENS)?,
            model: rows.optional_column(MODEL),
            log_type: rows.optional_column(LOG_TYPE),
            session: rows.optional_column(SESSION_ID),
            rows,
            interner: Interner::default(),
            clock: RelativeClock::new(1),
            seq: 0,
        })
    }

    fn read(&mut self) -> Result<Option<Request>, TraceError> {
        let Some(row) = self.rows.next_row().transpose()? else { return Ok(None) };
        let text = row.text(self.timestamp, TIMESTAMP)?;
        let ms =
            seconds_to_ms(text).ok_or_else(|| row.invalid(self.timestamp, TIMESTAMP, text, "non-negative seconds"))?;
        let input = row.u32(self.request_tokens, REQUEST_TOKENS)?;
        let output = row.u32(self.response_tokens, RESPONSE_TOKENS)?;
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        let offset = self.clock.accept(TIMESTAMP, ms, text).map_err(|p| row.error(None, p))?;
        let mut req = Request::new(self.seq, u64::try_from(offset).unwrap_or(0), input, output);
        req.model = row.optional_text(self.model).map(|m| self.interner.intern(m));
        let mut tags = BTreeMap::new();
        if let Some(log_type) = row.optional_text(self.log_type) {
            tags.insert("log_type".to_string(), log_type.to_string());
        }
        if let Some(session) = row.optional_text(self.session) {
            tags.insert("session".to_string(), session.to_string());
        }
        if output == 0 {
            tags.insert("failed".to_string(), "true".to_string());
        }
        if !tags.is_empty() {
            req.tags = Some(Box::new(tags));
        }
        self.seq += 1;
        Ok(Some(req))
    }
}

impl<R: BufRead> Iterator for BurstgptReader<R> {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read().transpose()
    }
}

/// Decimal seconds (`5`, `19440110.0`, `1.2345`) as milliseconds, rounded to
/// the nearest; exact, with no float in the common case.
pub(crate) fn seconds_to_ms(text: &str) -> Option<u64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let plain = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit());
    if !plain {
        // Exponents and the like: a float is exact enough at these scales.
        let f: f64 = text.parse().ok()?;
        return (f.is_finite() && f >= 0.0 && f * 1000.0 < u64::MAX as f64).then(|| (f * 1000.0).round() as u64);
    }
    let seconds: u64 = int.parse().ok()?;
    let mut ms = 0;
    let mut digits = frac.bytes().map(|b| u64::from(b - b'0'));
    for _ in 0..3 {
        ms = ms * 10 + digits.next().unwrap_or(0);
    }
    if digits.next().is_some_and(|d| d >= 5) {
        ms += 1;
    }
    seconds.checked_mul(1000)?.checked_add(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_parse_exactly() {
        assert_eq!(seconds_to_ms("5"), Some(5000));
        assert_eq!(seconds_to_ms("19440110.0"), Some(19_440_110_000));
        assert_eq!(seconds_to_ms("1.2345"), Some(1235));
        assert_eq!(seconds_to_ms("0.0004"), Some(0));
        assert_eq!(seconds_to_ms("1e3"), Some(1_000_000));
        assert_eq!(seconds_to_ms("-1"), None);
        assert_eq!(seconds_to_ms("abc"), None);
        assert_eq!(seconds_to_ms(""), None);
    }

    fn read(csv: &str) -> Vec<Result<Request, String>> {
        BurstgptReader::new(csv.as_bytes(), "b.csv".into()).unwrap().map(|r| r.map_err(|e| e.to_string())).collect()
    }

    #[test]
    fn columns_map_to_fields_and_tags() {
        let got = read(
            "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
             10.0,abc,3,GPT-4,906,446,1352,Conversation log\n\
             12.5,,1,ChatGPT,0,0,0,API log\n",
        );
        let a = got[0].as_ref().unwrap();
        assert_eq!((a.at_ms, a.input_tokens, a.output_tokens), (0, 906, 446));
        assert_eq!(a.model.as_deref(), Some("GPT-4"));
        let tags = a.tags.as_deref().unwrap();
        assert_eq!(tags.get("session").map(String::as_str), Some("abc"));
        assert_eq!(tags.get("log_type").map(String::as_str), Some("Conversation log"));
        assert!(!tags.contains_key("failed"));
        let b = got[1].as_ref().unwrap();
        assert_eq!(b.at_ms, 2500);
        let tags = b.tags.as_deref().unwrap();
        assert!(!tags.contains_key("session"));
        assert_eq!(tags.get("failed").map(String::as_str), Some("true"));
    }

    #[test]
    fn bad_number_is_an_error_naming_line_and_column() {
        let got = read("Timestamp,Model,Request tokens,Response tokens\n1,ChatGPT,12,3\n2,ChatGPT,12,-3\n");
        assert_eq!(
            got[1],
            Err("b.csv:3:14: invalid value for `Response tokens`: found \"-3\", expected an integer from 0 to 4294967295"
                .into())
        );
    }
}
