//! [`CsvRows`]: the row loop shared by the CSV importers (Azure, BurstGPT).
//!
//! Why a module: both importers find their columns **by header name** (the
//! BurstGPT files insert columns in the middle between releases), reuse one
//! record buffer so memory does not grow with trace length, and turn the
//! `csv` crate's errors and bad values into [`TraceError`]s that name the
//! line, the column and the header.
//!
//! # Line numbers
//! The `csv` crate's record positions are off by one on CRLF files (the
//! Azure traces) and after blank lines: it notes a record's line before
//! skipping the previous record's `\n` and any blank lines. So the rows are
//! fed to it through [`LineFeed`], which hands out at most one line per
//! `read` and counts the lines handed out. The parser returns a record as
//! soon as it sees its terminator, so when a row comes back, the last line
//! handed out is the row's.
//!
//! # What the feed refuses
//! [`LineFeed`] also follows the CSV quoting as the bytes go by, and stops
//! the parser (with an error of its own, [`Fault`]) at:
//! - **a line break inside a quoted field**, and the end of the input inside
//!   one: an unterminated quote would otherwise swallow every row after it,
//!   and the parser would blame the line where it finally gave up. The error
//!   points at the opening quote instead. No public trace has a field that
//!   spans lines, and no column an importer reads may hold a line break.
//! - **a line longer than [`MAX_LINE_BYTES`]**, so that `/dev/zero` or a
//!   binary file is an error and not all of memory.
//!
//! # Bytes, then text
//! Rows are read as bytes and checked for UTF-8 here, so that an invalid byte
//! is reported with its column (the `csv` crate's own check wipes the row).

use crate::error::{Problem, TraceError, escape_for_display};
use crate::json::integer_text;
use crate::lines::MAX_LINE_BYTES;
use csv::{ByteRecord, StringRecord};
use std::io::{self, BufRead, Read};
use std::sync::Arc;

/// How much of a bad value an error quotes.
const QUOTE_CHARS: usize = 40;

/// A header's column positions and the rows under it.
#[derive(Debug)]
pub(crate) struct CsvRows<R> {
    reader: csv::Reader<LineFeed<R>>,
    record: StringRecord,
    headers: StringRecord,
    file: Arc<str>,
    done: bool,
}

impl<R: BufRead> CsvRows<R> {
    /// Reads the header line.
    pub(crate) fn new(src: R, file: Arc<str>) -> Result<CsvRows<R>, TraceError> {
        CsvRows::with_line_limit(src, file, MAX_LINE_BYTES)
    }

    /// Reads the header line; lines may be at most `max_line` bytes.
    fn with_line_limit(src: R, file: Arc<str>, max_line: usize) -> Result<CsvRows<R>, TraceError> {
        let feed = LineFeed::new(src, max_line);
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(feed);
        let headers = match reader.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(csv_error(&file, reader.get_ref(), e)),
        };
        let headers = to_text(headers).map_err(|col| TraceError::Line {
            file: file.clone(),
            line: reader.get_ref().line(),
            col: Some(col),
            problem: Problem::InvalidUtf8,
        })?;
        Ok(CsvRows { reader, record: StringRecord::new(), headers, file, done: false })
    }

    /// The position of a column the importer needs (name matched ignoring
    /// case and surrounding spaces).
    pub(crate) fn column(&self, name: &'static str) -> Result<usize, TraceError> {
        self.optional_column(name).ok_or_else(|| {
            let found = if self.headers.iter().all(|h| h.trim().is_empty()) {
                "no header".to_string()
            } else {
                self.headers
                    .iter()
                    .map(|h| format!("`{}`", escape_for_display(h, QUOTE_CHARS)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            TraceError::Line {
                file: self.file.clone(),
                line: 1,
                col: None,
                problem: Problem::MissingColumn { column: name, found },
            }
        })
    }

    /// The position of a column the importer uses when present.
    pub(crate) fn optional_column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name))
    }

    /// The next row; `None` at the end. After an I/O error, `None` forever.
    pub(crate) fn next_row(&mut self) -> Option<Result<Row<'_>, TraceError>> {
        if self.done {
            return None;
        }
        loop {
            // The record's buffer goes round: text record, bytes, text again.
            let mut bytes = std::mem::take(&mut self.record).into_byte_record();
            let read = self.reader.read_byte_record(&mut bytes);
            let line = self.reader.get_ref().line();
            match read {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => {
                    // A blank line (or one of spaces) reads as one empty
                    // field. A row of empty fields (`,,`) is a row, and its
                    // importer says what it lacks.
                    if bytes.len() <= 1 && bytes.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                        self.record = StringRecord::from_byte_record(bytes).unwrap_or_default();
                        continue;
                    }
                    return Some(match to_text(bytes) {
                        Ok(record) => {
                            self.record = record;
                            Ok(Row { record: &self.record, line, file: &self.file })
                        }
                        Err(col) => Err(TraceError::Line {
                            file: self.file.clone(),
                            line,
                            col: Some(col),
                            problem: Problem::InvalidUtf8,
                        }),
                    });
                }
                Err(e) => {
                    let err = csv_error(&self.file, self.reader.get_ref(), e);
                    self.done = !err.is_bad_line();
                    return Some(Err(err));
                }
            }
        }
    }
}

/// A record as text, or the 1-based column of its first byte that is not
/// UTF-8, counted in characters like [`Row::error`]'s (and, like it, exact for
/// unquoted CSV).
fn to_text(bytes: ByteRecord) -> Result<StringRecord, u64> {
    StringRecord::from_byte_record(bytes).map_err(|e| {
        let (field, valid_up_to) = (e.utf8_error().field(), e.utf8_error().valid_up_to());
        let record = e.into_byte_record();
        let chars = |b: &[u8]| String::from_utf8_lossy(b).chars().count() as u64;
        let before: u64 = record.iter().take(field).map(|f| chars(f) + 1).sum();
        let prefix = record.get(field).and_then(|f| f.get(..valid_up_to)).map_or(0, chars);
        before + prefix + 1
    })
}

/// Hands the CSV parser at most one line per `read`, counting lines and
/// following the quoting (see the module's "What the feed refuses").
#[derive(Debug)]
pub(crate) struct LineFeed<R> {
    src: R,
    /// Lines handed out whole (their `\n` included).
    lines: u64,
    /// Whether part of the next line has been handed out.
    partial: bool,
    /// Bytes of the current line handed out so far.
    line_len: usize,
    /// The longest line allowed, line break excluded.
    max_line: usize,
    /// Where the CSV lexer is, as the parser will see it.
    lex: Lex,
    /// The 1-based line and byte column of the quote that opened the current
    /// quoted field.
    opened_at: (u64, u64),
    /// Why the feed stopped the parser; every later `read` fails too.
    fault: Option<Fault>,
}

/// The CSV lexer's state, as far as quotes go (`csv-core`'s defaults: `"`
/// opens a field that starts with it, `""` inside is a quote, and a quote
/// elsewhere is a plain byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    /// At the start of a field.
    FieldStart,
    /// In an unquoted field (or after a quoted one's closing quote).
    InField,
    /// Inside a quoted field.
    InQuotes,
    /// Just after a `"` inside a quoted field: a closing quote, or the first
    /// of `""`.
    QuoteInQuotes,
}

/// A problem the feed found itself, where it is.
#[derive(Debug)]
struct Fault {
    line: u64,
    col: Option<u64>,
    problem: Problem,
}

impl<R> LineFeed<R> {
    fn new(src: R, max_line: usize) -> LineFeed<R> {
        LineFeed {
            src,
            lines: 0,
            partial: false,
            line_len: 0,
            max_line,
            lex: Lex::FieldStart,
            opened_at: (1, 1),
            fault: None,
        }
    }

    /// The 1-based line of the last byte handed out.
    fn line(&self) -> u64 {
        (self.lines + u64::from(self.partial)).max(1)
    }

    /// Stops the parser: the fault is kept for [`csv_error`], and the parser
    /// gets an I/O error.
    fn stop(&mut self, fault: Fault) -> io::Error {
        self.fault = Some(fault);
        io::Error::other("stopped by the line feed")
    }

    fn unterminated_quote(&mut self) -> io::Error {
        let (line, col) = self.opened_at;
        self.stop(Fault { line, col: Some(col), problem: Problem::UnterminatedQuote })
    }
}

impl<R: BufRead> Read for LineFeed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.fault.is_some() {
            return Err(io::Error::other("stopped by the line feed"));
        }
        let avail = self.src.fill_buf()?;
        if avail.is_empty() {
            if self.lex == Lex::InQuotes {
                return Err(self.unterminated_quote());
            }
            return Ok(0);
        }
        let line_end = avail.iter().position(|b| *b == b'\n').map_or(avail.len(), |i| i + 1);
        let n = line_end.min(out.len());
        let (Some(to), Some(from)) = (out.get_mut(..n), avail.get(..n)) else {
            return Ok(0);
        };
        let ends_line = from.last() == Some(&b'\n');
        // Room for a `\r` before the `\n`, as the JSON-lines reader allows.
        if self.line_len + n - usize::from(ends_line) > self.max_line + 1 {
            let (line, limit) = (self.lines + 1, self.max_line);
            return Err(self.stop(Fault { line, col: None, problem: Problem::LineTooLong { limit } }));
        }
        // A byte-order mark is not part of the first field (the parser drops
        // it too), so columns count from after it.
        let bom = usize::from(self.lines == 0 && self.line_len == 0 && from.starts_with(b"\xEF\xBB\xBF")) * 3;
        let line = self.lines + 1;
        if matches!(self.lex, Lex::FieldStart | Lex::InField) && !from.contains(&b'"') {
            // No quote outside a quoted field (every row of every public
            // trace): the state after the chunk is its last byte's.
            if let Some(last) = from.get(bom..).and_then(<[u8]>::last) {
                self.lex = if matches!(last, b',' | b'\n' | b'\r') { Lex::FieldStart } else { Lex::InField };
            }
        } else {
            for (i, b) in from.iter().enumerate().skip(bom) {
                self.lex = match (self.lex, *b) {
                    (Lex::InQuotes, b'\n') => return Err(self.unterminated_quote()),
                    (Lex::InQuotes, b'"') => Lex::QuoteInQuotes,
                    (Lex::InQuotes, _) => Lex::InQuotes,
                    (Lex::QuoteInQuotes, b'"') => Lex::InQuotes,
                    (Lex::FieldStart, b'"') => {
                        self.opened_at = (line, (self.line_len + i + 1 - bom) as u64);
                        Lex::InQuotes
                    }
                    (_, b',' | b'\n' | b'\r') => Lex::FieldStart,
                    (_, _) => Lex::InField,
                };
            }
        }
        to.copy_from_slice(from);
        if ends_line {
            self.lines += 1;
            self.partial = false;
            self.line_len = 0;
        } else {
            self.partial = true;
            self.line_len += n;
        }
        self.src.consume(n);
        Ok(n)
    }
}

/// A `csv` error as a trace error: the feed's own fault when it stopped the
/// parser, else the parser's words.
fn csv_error<R>(file: &Arc<str>, feed: &LineFeed<R>, e: csv::Error) -> TraceError {
    let file = file.clone();
    if let Some(Fault { line, col, problem }) = &feed.fault {
        return TraceError::Line { file, line: *line, col: *col, problem: problem.clone() };
    }
    let line = feed.line();
    let detail = e.to_string().to_lowercase();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => TraceError::Read { file, line, source },
        csv::ErrorKind::Utf8 { .. } => TraceError::Line { file, line, col: None, problem: Problem::InvalidUtf8 },
        _ => TraceError::Line { file, line, col: None, problem: Problem::InvalidCsv { detail } },
    }
}

/// One row, borrowed from the reader's buffer.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    record: &'a StringRecord,
    line: u64,
    file: &'a Arc<str>,
}

impl<'a> Row<'a> {
    /// The trimmed text of a column.
    pub(crate) fn text(&self, idx: usize, column: &'static str) -> Result<&'a str, TraceError> {
        match self.record.get(idx) {
            Some(text) => Ok(text.trim()),
            None => Err(self.error(None, Problem::MissingValue { column })),
        }
    }

    /// The trimmed text of an optional column; `None` when absent or empty.
    pub(crate) fn optional_text(&self, idx: Option<usize>) -> Option<&'a str> {
        idx.and_then(|i| self.record.get(i)).map(str::trim).filter(|t| !t.is_empty())
    }

    /// A token count.
    pub(crate) fn u32(&self, idx: usize, column: &'static str) -> Result<u32, TraceError> {
        let text = self.text(idx, column)?;
        integer_text(text)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| self.invalid(idx, column, text, "an integer from 0 to 4294967295"))
    }

    /// An invalid-value error pointing at a column.
    pub(crate) fn invalid(&self, idx: usize, column: &'static str, text: &str, expected: &'static str) -> TraceError {
        let found = if text.is_empty() {
            "nothing".to_string()
        } else {
            format!("\"{}\"", escape_for_display(text, QUOTE_CHARS))
        };
        self.error(Some(idx), Problem::InvalidValue { field: column.into(), found, expected })
    }

    /// An error on this row, with the column of field `idx` when given. The
    /// column counts characters of the unquoted fields before it, which is
    /// exact for unquoted CSV like every public trace's.
    pub(crate) fn error(&self, idx: Option<usize>, problem: Problem) -> TraceError {
        let col = idx.map(|idx| self.record.iter().take(idx).map(|f| f.chars().count() as u64 + 1).sum::<u64>() + 1);
        TraceError::Line { file: self.file.clone(), line: self.line, col, problem }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let rows = CsvRows::new(&b"b, A ,c\n1,2,3\n"[..], "t.csv".into()).unwrap();
        assert_eq!(rows.column("a").unwrap(), 1);
        assert_eq!(rows.optional_column("d"), None);
        let e = rows.column("TIMESTAMP").unwrap_err();
        assert_eq!(e.to_string(), "t.csv:1: missing column `TIMESTAMP` in the header, found `b`, ` A `, `c`");
    }

    #[test]
    fn bad_values_name_line_column_and_header() {
        let mut rows = CsvRows::new(&b"a,b\r\n1,2\r\n\r\n3,x\r\n4"[..], "t.csv".into()).unwrap();
        let row = rows.next_row().unwrap().unwrap();
        assert_eq!(row.u32(1, "b").unwrap(), 2);
        assert_eq!(row.error(None, Problem::InvalidUtf8).line(), Some(2));
        let row = rows.next_row().unwrap().unwrap();
        let e = row.u32(1, "b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv:4:3: invalid value for `b`: found \"x\", expected an integer from 0 to 4294967295"
        );
        let row = rows.next_row().unwrap().unwrap();
        assert_eq!(row.u32(1, "b").unwrap_err().to_string(), "t.csv:5: missing value for `b`");
        assert!(rows.next_row().is_none());
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column() {
        let rows = CsvRows::new(&b"\xEF\xBB\xBFTIMESTAMP,x\n"[..], "t.csv".into()).unwrap();
        assert_eq!(rows.column("TIMESTAMP").unwrap(), 0);
    }

    #[test]
    fn empty_input_has_no_header() {
        let rows = CsvRows::new(&b""[..], "t.csv".into()).unwrap();
        assert_eq!(
            rows.column("x").unwrap_err().to_string(),
            "t.csv:1: missing column `x` in the header, found no header"
        );
    }

    fn rows(input: &[u8]) -> Vec<Result<(u64, Vec<String>), String>> {
        let mut rows = CsvRows::new(input, "t.csv".into()).unwrap();
        let mut out = Vec::new();
        while let Some(row) = rows.next_row() {
            out.push(row.map(|r| (r.line, r.record.iter().map(str::to_string).collect())).map_err(|e| e.to_string()));
        }
        out
    }

    #[test]
    fn a_row_of_empty_fields_is_a_row_not_a_blank_line() {
        let got = rows(b"a,b,c\n1,2,3\n,,\n  \n\n4,5,6\n");
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[1], Ok((3, vec![String::new(); 3])));
        assert_eq!(got[2].as_ref().map(|r| r.0), Ok(6));
    }

    #[test]
    fn an_unterminated_quote_is_blamed_on_its_opening_line() {
        // Mid-file: the quote would swallow the rows after it.
        let got = rows(b"a,b,c\n1,2,3\n4,\"5,6\n7,8,9\n10,11,12\n");
        assert_eq!(
            got,
            [
                Ok((2, vec!["1".into(), "2".into(), "3".into()])),
                Err("t.csv:3:3: unterminated quote: found an opening `\"` with no closing `\"` on its line, expected a closing `\"`".into()),
            ]
        );
        // At the end of the file, without a final line break.
        let got = rows(b"a,b,c\r\n1,2,3\r\n\"4,5,6");
        assert_eq!(
            got[1],
            Err("t.csv:3:1: unterminated quote: found an opening `\"` with no closing `\"` on its line, expected a closing `\"`".into())
        );
        // Not skippable: nothing after it can be trusted.
        let mut r = CsvRows::new(&b"a\n\"x\ny\n"[..], "t.csv".into()).unwrap();
        assert!(!r.next_row().unwrap().unwrap_err().is_bad_line());
        assert!(r.next_row().is_none());
        // In the header.
        let e = CsvRows::new(&b"\xEF\xBB\xBFa,\"b\nc\n"[..], "t.csv".into()).unwrap_err();
        assert_eq!(e.line(), Some(1));
        assert!(e.to_string().starts_with("t.csv:1:3: unterminated quote"), "{e}");
        // Quoted fields that close, with `""` inside, are fine.
        let got = rows(b"a,b\n\"x,\"\"y\"\"\",2\nq\"r,3\n");
        assert_eq!(got, [Ok((2, vec!["x,\"y\"".into(), "2".into()])), Ok((3, vec!["q\"r".into(), "3".into()]))]);
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let got = rows(b"a,b\n1,2\n12,3\xFF4\n5,6\n");
        assert_eq!(got[1], Err("t.csv:3:5: invalid utf-8, expected a utf-8 text line".into()));
        assert_eq!(got[2].as_ref().map(|r| r.0), Ok(4), "a bad byte is one bad line");
        let e = CsvRows::new(&b"a,\xC3b\n"[..], "t.csv".into()).unwrap_err();
        assert_eq!(e.to_string(), "t.csv:1:3: invalid utf-8, expected a utf-8 text line");
        // Columns count characters, as in every other error.
        let got = rows(b"a,b\n\xC3\xA9\xC3\xA9,x\xC3\xA9\xFF\n");
        assert_eq!(got[0], Err("t.csv:2:6: invalid utf-8, expected a utf-8 text line".into()));
    }

    #[test]
    fn a_line_longer_than_the_limit_ends_the_rows() {
        // A small limit: the parser is slow on 16 MiB in a debug build.
        let zero = std::io::BufReader::new(std::io::repeat(b'0'));
        let e = CsvRows::with_line_limit(zero, "zero".into(), 1 << 16).unwrap_err();
        assert_eq!(
            e.to_string(),
            "zero:1: line too long: found more than 64 KiB without a line break, expected at most 64 KiB per line"
        );
        assert!(!e.is_bad_line());
        let mut text = b"a,b\n1,2\n".to_vec();
        text.extend(std::iter::repeat_n(b'9', (1 << 16) + 10));
        let mut r = CsvRows::with_line_limit(&text[..], "t.csv".into(), 1 << 16).unwrap();
        assert!(r.next_row().unwrap().is_ok());
        let e = r.next_row().unwrap().unwrap_err();
        assert!(e.to_string().starts_with("t.csv:3: line too long"), "{e}");
        assert!(r.next_row().is_none());
        // Up to the limit (and a `\r`) is fine.
        let mut text = b"a\n".to_vec();
        text.extend(std::iter::repeat_n(b'9', 1 << 16));
        text.extend_from_slice(b"\r\n");
        let mut r = CsvRows::with_line_limit(&text[..], "t.csv".into(), 1 << 16).unwrap();
        assert!(r.next_row().unwrap().is_ok());
    }

    #[test]
    fn values_and_headers_are_quoted_with_invisible_characters_escaped() {
        let mut r = CsvRows::new(&b"a,\xE2\x80\x8Bb\n\x001,2\n"[..], "t.csv".into()).unwrap();
        assert_eq!(
            r.column("b").unwrap_err().to_string(),
            "t.csv:1: missing column `b` in the header, found `a`, `\\u{200b}b`"
        );
        let row = r.next_row().unwrap().unwrap();
        assert_eq!(
            row.u32(0, "a").unwrap_err().to_string(),
            "t.csv:2:1: invalid value for `a`: found \"\\01\", expected an integer from 0 to 4294967295"
        );
    }

    #[test]
    fn line_numbers_are_exact_with_crlf_and_blank_lines() {
        for input in ["h\r\n1\r\n\r\n\r\n2\r\n3", "h\n1\n\n\n2\n3\n", "\nh\n1\n\n\n2\n3"] {
            let shift = u64::from(input.starts_with('\n'));
            let mut rows = CsvRows::new(input.as_bytes(), "t.csv".into()).unwrap();
            let mut lines = Vec::new();
            while let Some(row) = rows.next_row() {
                lines.push(row.unwrap().error(None, Problem::InvalidUtf8).line().unwrap() - shift);
            }
            assert_eq!(lines, [2, 5, 6], "{input:?}");
        }
    }
}
