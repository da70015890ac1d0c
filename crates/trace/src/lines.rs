//! [`LineSource`]: the line loop shared by the JSON-lines formats (ours and
//! Mooncake's).
//!
//! Why a module: both formats need the same four things, done once here:
//! - one reused byte buffer, so memory does not grow with trace length;
//! - 1-based line numbers that count blank lines, so errors point at the
//!   line an editor shows;
//! - a UTF-8 check per line (a bad byte is one bad line, not a dead reader);
//! - `\r\n` endings and a leading byte-order mark accepted;
//! - a bound on the length of one line ([`MAX_LINE_BYTES`]), so that
//!   `/dev/zero` or a binary file is an error, not all of memory.

use crate::error::{Problem, TraceError};
use std::io::{self, BufRead};
use std::sync::Arc;

/// The longest line (or CSV row) a trace may hold, line break excluded. Far
/// above any real request (a 200k-token prompt kept in `messages` is about
/// 1 MiB), far below what would strain memory.
pub(crate) const MAX_LINE_BYTES: usize = 16 << 20;

/// A buffer grown past this by one long line is given back afterwards.
const SHRINK_ABOVE: usize = 1 << 20;
/// What it is shrunk to: room for any ordinary line.
const KEEP: usize = 64 << 10;

/// Reads non-blank lines one at a time into a reused buffer.
#[derive(Debug)]
pub(crate) struct LineSource<R> {
    src: R,
    file: Arc<str>,
    buf: Vec<u8>,
    line: u64,
    /// A read failed: the source is not read again.
    done: bool,
}

impl<R: BufRead> LineSource<R> {
    pub(crate) fn new(src: R, file: Arc<str>) -> LineSource<R> {
        LineSource { src, file, buf: Vec::with_capacity(4096), line: 0, done: false }
    }

    /// The 1-based number of the line last returned.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The next non-blank line and its number, `None` at the end. A read
    /// failure is returned once as [`TraceError::Read`], and ends the lines;
    /// a line that is not UTF-8 is an error of its own and reading goes on.
    pub(crate) fn next_line(&mut self) -> Option<Result<(u64, &str), TraceError>> {
        if self.done {
            return None;
        }
        // Find the line as a range first, and borrow the buffer only to
        // return it: a borrow returned from inside the loop would keep the
        // buffer borrowed across iterations.
        let range = loop {
            if self.buf.capacity() > SHRINK_ABOVE {
                self.buf = Vec::with_capacity(KEEP);
            }
            self.buf.clear();
            match read_line_bounded(&mut self.src, &mut self.buf) {
                Ok(Bounded::End) => return None,
                Ok(Bounded::Line) => {}
                Ok(Bounded::TooLong) => {
                    self.done = true;
                    return Some(Err(TraceError::Line {
                        file: self.file.clone(),
                        line: self.line + 1,
                        col: None,
                        problem: Problem::LineTooLong { limit: MAX_LINE_BYTES },
                    }));
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(TraceError::Read { file: self.file.clone(), line: self.line + 1, source }));
                }
            }
            self.line += 1;
            let mut start = 0;
            if self.line == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
                start = 3;
            }
            let mut end = self.buf.len();
            if self.buf.ends_with(b"\n") {
                end -= 1;
            }
            if end > start && self.buf.get(end - 1) == Some(&b'\r') {
                end -= 1;
            }
            let line = self.buf.get(start..end).unwrap_or_default();
            if !line.iter().all(u8::is_ascii_whitespace) {
                break start..end;
            }
        };
        let line = self.line;
        let bytes = self.buf.get(range).unwrap_or_default();
        Some(match std::str::from_utf8(bytes) {
            Ok(text) => Ok((line, text)),
            Err(e) => {
                // The column in characters, as every other column.
                let valid = bytes.get(..e.valid_up_to()).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default();
                Err(TraceError::Line {
                    file: self.file.clone(),
                    line,
                    col: Some(valid.chars().count() as u64 + 1),
                    problem: Problem::InvalidUtf8,
                })
            }
        })
    }
}

/// What [`read_line_bounded`] read.
enum Bounded {
    /// Nothing: the end of the input.
    End,
    /// One line, its `\n` included when there was one.
    Line,
    /// More than [`MAX_LINE_BYTES`] (plus room for `\r\n`) without a line
    /// break; what was read is in the buffer, the rest is not read.
    TooLong,
}

/// `read_until(b'\n')` that stops once the line is longer than
/// [`MAX_LINE_BYTES`].
fn read_line_bounded<R: BufRead>(src: &mut R, buf: &mut Vec<u8>) -> io::Result<Bounded> {
    // A line of exactly the limit may still carry `\r\n`.
    let max = MAX_LINE_BYTES + 2;
    loop {
        let avail = match src.fill_buf() {
            Ok(avail) => avail,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if buf.is_empty() { Bounded::End } else { Bounded::Line });
        }
        let room = max.saturating_sub(buf.len());
        let (n, found) = match avail.iter().position(|b| *b == b'\n') {
            Some(i) if i < room => (i + 1, true),
            _ => (avail.len().min(room), false),
        };
        buf.extend_from_slice(avail.get(..n).unwrap_or_default());
        src.consume(n);
        if found {
            return Ok(Bounded::Line);
        }
        if buf.len() >= max {
            return Ok(Bounded::TooLong);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8]) -> Vec<Result<(u64, String), String>> {
        let mut src = LineSource::new(input, "t".into());
        let mut out = Vec::new();
        while let Some(r) = src.next_line() {
            out.push(r.map(|(n, s)| (n, s.to_string())).map_err(|e| e.to_string()));
        }
        out
    }

    #[test]
    fn skips_blank_lines_but_counts_them() {
        let got = collect(b"\xEF\xBB\xBFa\r\n\n  \r\nb");
        assert_eq!(got, vec![Ok((1, "a".to_string())), Ok((4, "b".to_string()))]);
    }

    #[test]
    fn invalid_utf8_is_one_bad_line() {
        let got = collect(b"ok\nab\xFFc\nok2\n\xC3\xA9\xC3\xA9\xC3x\n");
        assert_eq!(got.len(), 4);
        assert_eq!(got[1], Err("t:2:3: invalid utf-8, expected a utf-8 text line".to_string()));
        assert_eq!(got[2], Ok((3, "ok2".to_string())));
        assert_eq!(
            got[3],
            Err("t:4:3: invalid utf-8, expected a utf-8 text line".to_string()),
            "columns count characters"
        );
    }

    #[test]
    fn a_line_longer_than_the_limit_ends_the_lines() {
        // `/dev/zero`: no line break, ever.
        let mut lines = LineSource::new(std::io::BufReader::new(std::io::repeat(0)), "zero".into());
        let e = lines.next_line().unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "zero:1: line too long: found more than 16 MiB without a line break, expected at most 16 MiB per line"
        );
        assert!(!e.is_bad_line(), "not skippable: the rest of the line would have to be read");
        assert!(lines.next_line().is_none());
        // A line of exactly the limit, with `\r\n`, is fine.
        let mut text = vec![b' '; MAX_LINE_BYTES - 1];
        text.extend_from_slice(b"x\r\nnext\n");
        let mut lines = LineSource::new(&text[..], "t".into());
        assert!(matches!(lines.next_line(), Some(Ok((1, l))) if l.len() == MAX_LINE_BYTES));
        assert!(matches!(lines.next_line(), Some(Ok((2, "next")))));
    }

    /// Reads fail from here on.
    struct Broken;

    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk gone"))
        }
    }

    #[test]
    fn a_read_failure_is_reported_once_and_ends_the_lines() {
        use std::io::Read;
        let src = std::io::BufReader::new((&b"ok\n"[..]).chain(Broken));
        let mut lines = LineSource::new(src, "t".into());
        assert!(matches!(lines.next_line(), Some(Ok((1, "ok")))));
        assert!(matches!(lines.next_line(), Some(Err(TraceError::Read { line: 2, .. }))));
        assert!(lines.next_line().is_none(), "a failed source is not read again");
    }
}
