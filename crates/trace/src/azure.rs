//! Importer for the Azure LLM inference traces (2023 code and conversation
//! files; the 2024 week-long files have the same schema).
//!
//! CSV with a header `TIMESTAMP,ContextTokens,GeneratedTokens`, columns found
//! by name:
//! - `TIMESTAMP`: absolute wall time such as `2023-11-16 18:17:03.9799600`
//!   (any number of fractional digits; a `T` separator and a `Z` or `+HH:MM`
//!   offset, as in the 2024 files, are accepted). `at_ms` is the time since
//!   the first row, to the millisecond below.
//! - `ContextTokens` → `input_tokens`; `GeneratedTokens` → `output_tokens`.
//!
//! The files carry no tenant, class or model: those keep SPEC's defaults.

use crate::clock::RelativeClock;
use crate::csv_rows::CsvRows;
use crate::error::TraceError;
use std::io::BufRead;
use std::sync::Arc;
use windtunnel_core::Request;

const TIMESTAMP: &str = "TIMESTAMP";
const CONTEXT_TOKENS: &str = "ContextTokens";
const GENERATED_TOKENS: &str = "GeneratedTokens";

/// Streams requests out of an Azure trace CSV.
#[derive(Debug)]
pub(crate) struct AzureReader<R> {
    rows: CsvRows<R>,
    timestamp: usize,
    context: usize,
    generated: usize,
    clock: RelativeClock,
    seq: u64,
}

impl<R: BufRead> AzureReader<R> {
    /// Reads the header; a missing column is an error here.
    pub(crate) fn new(src: R, file: Arc<str>) -> Result<AzureReader<R>, TraceError> {
        let rows = CsvRows::new(src, file)?;
        Ok(AzureReader {
            timestamp: rows.column(TIMESTAMP)?,
            context: rows.column(CONTEXT_TOKENS)?,
            generated: rows.column(GENERATED_TOKENS)?,
            rows,
            clock: RelativeClock::new(1_000),
            seq: 0,
        })
    }

    fn read(&mut self) -> Result<Option<Request>, TraceError> {
        let Some(row) = self.rows.next_row().transpose()? else { return Ok(None) };
        let text = row.text(self.timestamp, TIMESTAMP)?;
        let us = parse_timestamp_us(text)
            .ok_or_else(|| row.invalid(self.timestamp, TIMESTAMP, text, "a time like `2023-11-16 18:17:03.9799600`"))?;
        let input = row.u32(self.context, CONTEXT_TOKENS)?;
        let output = row.u32(self.generated, GENERATED_TOKENS)?;
        let offset = self.clock.accept(TIMESTAMP, us, text).map_err(|p| row.error(None, p))?;
        let req = Request::new(self.seq, u64::try_from(offset / 1000).unwrap_or(0), input, output);
        self.seq += 1;
        Ok(Some(req))
    }
}

impl<R: BufRead> Iterator for AzureReader<R> {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read().transpose()
    }
}

/// `YYYY-MM-DD HH:MM:SS[.f*][Z|±HH:MM]` as microseconds since the Unix epoch
/// (UTC when an offset is given; otherwise the clock of the file, which is
/// all a relative time needs).
pub(crate) fn parse_timestamp_us(s: &str) -> Option<i64> {
    let mut c = Cursor(s.trim().as_bytes());
    let year = c.digits(4)?;
    c.byte(b'-')?;
    let month = c.digits(2)?;
    c.byte(b'-')?;
    let day = c.digits(2)?;
    c.byte_of(b" T")?;
    let hour = c.digits(2)?;
    c.byte(b':')?;
    let minute = c.digits(2)?;
    c.byte(b':')?;
    let second = c.digits(2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut micros = 0;
    if c.byte(b'.').is_some() {
        let mut scale = 100_000;
        let mut any = false;
        while let Some(d) = c.digit() {
            micros += d * scale;
            scale /= 10;
            any = true;
        }
        if !any {
            return None;
        }
    }
    let offset_s = match c.0.first() {
        None => 0,
        Some(b'Z') => {
            c.0 = c.0.get(1..)?;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            c.0 = c.0.get(1..)?;
            let h = c.digits(2)?;
            c.byte(b':');
            let m = c.digits(2)?;
            let off = h * 3600 + m * 60;
            if sign == b'+' { off } else { -off }
        }
        Some(_) => return None,
    };
    if !c.0.is_empty() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(seconds * 1_000_000 + micros)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A tiny byte cursor for [`parse_timestamp_us`].
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn digit(&mut self) -> Option<i64> {
        let (&b, rest) = self.0.split_first()?;
        if !b.is_ascii_digit() {
            return None;
        }
        self.0 = rest;
        Some(i64::from(b - b'0'))
    }

    fn digits(&mut self, n: usize) -> Option<i64> {
        (0..n).try_fold(0, |acc, _| Some(acc * 10 + self.digit()?))
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        self.byte_of(&[want])
    }

    fn byte_of(&mut self, any: &[u8]) -> Option<()> {
        let (b, rest) = self.0.split_first()?;
        if !any.contains(b) {
            return None;
        }
        self.0 = rest;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_to_microseconds() {
        let a = parse_timestamp_us("2023-11-16 18:17:03.9799600").unwrap();
        let b = parse_timestamp_us("2023-11-16 18:17:04.0319600").unwrap();
        assert_eq!(b - a, 52_000);
        // 2023-11-16 is day 19,677 of the Unix epoch.
        assert_eq!(parse_timestamp_us("2023-11-16 00:00:00").unwrap(), 19_677 * 86_400 * 1_000_000);
        let utc = parse_timestamp_us("2024-05-10 00:00:00.009930+00:00").unwrap();
        assert_eq!(parse_timestamp_us("2024-05-10T02:00:00.00993+02:00").unwrap(), utc);
        assert_eq!(parse_timestamp_us("2024-05-10 00:00:00Z").unwrap(), utc - 9_930);
    }

    #[test]
    fn day_and_year_boundaries_are_continuous() {
        let a = parse_timestamp_us("2023-12-31 23:59:59.5").unwrap();
        let b = parse_timestamp_us("2024-01-01 00:00:00.5").unwrap();
        assert_eq!(b - a, 1_000_000);
        let c = parse_timestamp_us("2024-02-29 00:00:00").unwrap();
        let d = parse_timestamp_us("2024-03-01 00:00:00").unwrap();
        assert_eq!(d - c, 86_400_000_000);
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for bad in
            ["", "2023-11-16", "2023-11-16 18:17", "2023-13-01 00:00:00", "2023-11-16 18:17:03.", "x023-11-16 18:17:03"]
        {
            assert_eq!(parse_timestamp_us(bad), None, "{bad}");
        }
    }

    fn read(csv: &str) -> Vec<Result<Request, String>> {
        AzureReader::new(csv.as_bytes(), "az.csv".into()).unwrap().map(|r| r.map_err(|e| e.to_string())).collect()
    }

    #[test]
    fn rows_become_requests_relative_to_the_first() {
        let got = read(
            "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808,10\r\n2023-11-16 18:17:05.0000000,3180,8",
        );
        let got: Vec<Request> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(got[0], Request::new(0, 0, 4808, 10));
        assert_eq!(got[1], Request::new(1, 1020, 3180, 8));
    }

    #[test]
    fn bad_rows_name_their_line_and_column() {
        let got = read(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,1,2\n2023-11-16 18:17:04.0,x,2\nyesterday,1,2\n2023-11-16 18:17:01.0,1,2\n",
        );
        assert_eq!(
            got[1],
            Err(
                "az.csv:3:23: invalid value for `ContextTokens`: found \"x\", expected an integer from 0 to 4294967295"
                    .into()
            )
        );
        assert_eq!(
            got[2],
            Err("az.csv:4:1: invalid value for `TIMESTAMP`: found \"yesterday\", expected a time like `2023-11-16 18:17:03.9799600`".into())
        );
        assert_eq!(
            got[3],
            Err("az.csv:5: TIMESTAMP 2023-11-16 18:17:01.0 is before the previous line's 2023-11-16 18:17:03.9, expected lines ordered by TIMESTAMP".into())
        );
    }

    #[test]
    fn a_row_of_empty_fields_is_an_error_naming_its_line() {
        let got = read(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,1,2\n,,\n\n2023-11-16 18:17:04.0,3,4\n",
        );
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[1],
            Err("az.csv:3:1: invalid value for `TIMESTAMP`: found nothing, expected a time like `2023-11-16 18:17:03.9799600`".into())
        );
        assert_eq!(got[2].as_ref().map(|r| r.at_ms), Ok(100));
    }

    #[test]
    fn missing_column_fails_at_open() {
        let e = AzureReader::new(&b"TIMESTAMP,Context\n"[..], "az.csv".into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "az.csv:1: missing column `ContextTokens` in the header, found `TIMESTAMP`, `Context`"
        );
    }
}
