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
//! handed out is the row's (for a quoted field spanning lines: its last line).

use crate::error::{Problem, TraceError};
use crate::json::integer_text;
use csv::StringRecord;
use std::io::{self, BufRead, Read};
use std::sync::Arc;

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
        let feed = LineFeed { src, lines: 0, partial: false };
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(feed);
        let headers = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                let line = reader.get_ref().line();
                return Err(csv_error(&file, line, e));
            }
        };
        Ok(CsvRows { reader, record: StringRecord::new(), headers, file, done: false })
    }

    /// The position of a column the importer needs (name matched ignoring
    /// case and surrounding spaces).
    pub(crate) fn column(&self, name: &'static str) -> Result<usize, TraceError> {
        self.optional_column(name).ok_or_else(|| {
            let found = if self.headers.iter().all(|h| h.trim().is_empty()) {
                "no header".to_string()
            } else {
                self.headers.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
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
            match self.reader.read_record(&mut self.record) {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => {
                    // A blank line inside the file reads as one empty field.
                    if self.record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    let line = self.reader.get_ref().line();
                    return Some(Ok(Row { record: &self.record, line, file: &self.file }));
                }
                Err(e) => {
                    let line = self.reader.get_ref().line();
                    let err = csv_error(&self.file, line, e);
                    self.done = !err.is_bad_line();
                    return Some(Err(err));
                }
            }
        }
    }
}

/// Hands the CSV parser at most one line per `read`, counting lines.
#[derive(Debug)]
pub(crate) struct LineFeed<R> {
    src: R,
    /// Lines handed out whole (their `\n` included).
    lines: u64,
    /// Whether part of the next line has been handed out.
    partial: bool,
}

impl<R> LineFeed<R> {
    /// The 1-based line of the last byte handed out.
    fn line(&self) -> u64 {
        (self.lines + u64::from(self.partial)).max(1)
    }
}

impl<R: BufRead> Read for LineFeed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.src.fill_buf()?;
        let line_end = avail.iter().position(|b| *b == b'\n').map_or(avail.len(), |i| i + 1);
        let n = line_end.min(out.len());
        let (Some(to), Some(from)) = (out.get_mut(..n), avail.get(..n)) else {
            return Ok(0);
        };
        to.copy_from_slice(from);
        if n > 0 {
            if from.last() == Some(&b'\n') {
                self.lines += 1;
                self.partial = false;
            } else {
                self.partial = true;
            }
        }
        self.src.consume(n);
        Ok(n)
    }
}

fn csv_error(file: &Arc<str>, line: u64, e: csv::Error) -> TraceError {
    let file = file.clone();
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
        let found = if text.is_empty() { "nothing".to_string() } else { format!("\"{text}\"") };
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
