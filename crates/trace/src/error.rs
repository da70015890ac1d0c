//! [`TraceError`]: what went wrong reading a trace, and where.
//!
//! A trace error is a user input error (STYLE §3): it carries its location as
//! structured fields (file, 1-based line, optional 1-based column) and a
//! [`Problem`] that says what was found and what was expected. It is rendered
//! once, by the CLI, as `{file}:{line}:{col}: {problem}` or
//! `{file}:{line}: {problem}`.
//!
//! Why a separate [`Problem`] and not one flat enum: the location is the same
//! for every kind of bad line, and the reader decides from the problem alone
//! whether `skip_bad_lines` may skip it ([`TraceError::is_bad_line`]).

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::Arc;

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened.
    #[error("cannot open trace `{file}`")]
    Open {
        /// The path as given.
        file: Arc<str>,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// Reading failed midway (not a bad line: the stream itself broke).
    #[error("{file}:{line}: cannot read the trace")]
    Read {
        /// The trace's name.
        file: Arc<str>,
        /// The line being read.
        line: u64,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// One line (or CSV row) is bad; with `skip_bad_lines` it is skipped and
    /// counted, unless the problem is in the header.
    #[error("{file}:{line}{}: {problem}", ColSuffix(*.col))]
    Line {
        /// The trace's name.
        file: Arc<str>,
        /// 1-based line number.
        line: u64,
        /// 1-based column (in characters) of the offending value, when known.
        col: Option<u64>,
        /// What was wrong.
        problem: Problem,
    },
    /// A reader option is out of range.
    #[error("invalid trace speed: found {speed}, expected a number from 0.001 to 1000000")]
    Speed {
        /// The speed given.
        speed: f64,
    },
}

impl TraceError {
    /// Whether this is one bad line that `skip_bad_lines` may skip. I/O
    /// failures and fatal problems ([`Problem::is_fatal`]: a bad header, a
    /// line too long, an unterminated quote) are never skipped: nothing after
    /// them can be trusted.
    pub fn is_bad_line(&self) -> bool {
        match self {
            TraceError::Line { problem, .. } => !problem.is_fatal(),
            TraceError::Open { .. } | TraceError::Read { .. } | TraceError::Speed { .. } => false,
        }
    }

    /// The 1-based line the error points at, when it points at one.
    pub fn line(&self) -> Option<u64> {
        match self {
            TraceError::Read { line, .. } | TraceError::Line { line, .. } => Some(*line),
            TraceError::Open { .. } | TraceError::Speed { .. } => None,
        }
    }

    /// The problem of a bad line.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            TraceError::Line { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// Renders `:{col}` when there is a column.
struct ColSuffix(Option<u64>);

impl fmt::Display for ColSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(col) => write!(f, ":{col}"),
            None => Ok(()),
        }
    }
}

/// What was wrong with one line. Messages are lowercase, name the field and
/// say what was found and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The line is not JSON at all.
    #[error("invalid json: {detail}")]
    InvalidJson {
        /// The parser's words, without its position (the error has it).
        detail: String,
    },
    /// The line is JSON but not an object.
    #[error("invalid line: found {found}, expected a json object")]
    NotAnObject {
        /// What the line holds (`array`, `string "x"`, ...).
        found: String,
    },
    /// The line is not UTF-8.
    #[error("invalid utf-8, expected a utf-8 text line")]
    InvalidUtf8,
    /// A required field is absent.
    #[error("missing field `{field}`")]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// A field appears twice in one object.
    #[error("duplicate field `{field}`")]
    DuplicateField {
        /// The field.
        field: &'static str,
    },
    /// A field holds the wrong kind of value.
    #[error("invalid type for `{field}`: found {found}, expected {expected}")]
    InvalidType {
        /// The field (or CSV column).
        field: Cow<'static, str>,
        /// What it holds: `string "x"`, `number 1.5`, `array`, `null`, ...
        found: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// A field holds the right kind of value, out of range.
    #[error("invalid value for `{field}`: found {found}, expected {expected}")]
    InvalidValue {
        /// The field (or CSV column).
        field: Cow<'static, str>,
        /// The value.
        found: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A CSV row has fewer fields than the header.
    #[error("missing value for `{column}`")]
    MissingValue {
        /// The column.
        column: &'static str,
    },
    /// An arrival earlier than the previous line's.
    #[error("{field} {found} is before the previous line's {previous}, expected lines ordered by {field}")]
    OutOfOrder {
        /// The time field (`at_ms`, `TIMESTAMP`, ...).
        field: &'static str,
        /// This line's value.
        found: String,
        /// The previous line's value.
        previous: String,
    },
    /// An arrival more than [`MAX_SPAN_MS`](crate::MAX_SPAN_MS) after the
    /// trace's start: a timestamp in the wrong unit (epoch milliseconds in an
    /// `at_ms` trace) or a typo, which would otherwise stretch the run over
    /// millennia of virtual time before a later line could be reported.
    #[error(
        "{field} {found} is more than ten years after the trace's start, expected times relative to the first line"
    )]
    TooLate {
        /// The time field.
        field: &'static str,
        /// This line's value.
        found: String,
    },
    /// The CSV header lacks a column the importer needs.
    #[error("missing column `{column}` in the header, found {found}")]
    MissingColumn {
        /// The column needed.
        column: &'static str,
        /// The header's columns, quoted and comma-separated (or `no header`).
        found: String,
    },
    /// The CSV reader refused a row for another reason.
    #[error("invalid csv: {detail}")]
    InvalidCsv {
        /// The CSV reader's words.
        detail: String,
    },
    /// A line longer than the reader's limit (`/dev/zero`, a binary file, a
    /// file with no line breaks): reading stops here rather than buffer it.
    #[error("line too long: found more than {} without a line break, expected at most {} per line", Bytes(*.limit), Bytes(*.limit))]
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A CSV field opened with `"` and not closed on its line. The error
    /// points at the opening quote; nothing after it can be trusted, since
    /// the quote swallows the rows that follow.
    #[error("unterminated quote: found an opening `\"` with no closing `\"` on its line, expected a closing `\"`")]
    UnterminatedQuote,
    /// The first line of a JSON-lines trace is not JSON but looks like a CSV
    /// header or row: the trace's format was probably not given. The command
    /// line adds which flag gives it.
    #[error("invalid json: found `{found}`, expected a json object; this looks like csv")]
    LooksLikeCsv {
        /// The start of the line, escaped for display.
        found: String,
    },
}

impl Problem {
    /// Whether the problem is in a CSV header, which no row can recover from.
    pub fn is_header(&self) -> bool {
        matches!(self, Problem::MissingColumn { .. })
    }

    /// Whether the problem ends the read even with `skip_bad_lines`: a bad
    /// header, a line too long to buffer, a quote that swallows the rows
    /// after it.
    pub fn is_fatal(&self) -> bool {
        self.is_header() || matches!(self, Problem::LineTooLong { .. } | Problem::UnterminatedQuote)
    }
}

/// Renders a byte count the way a limit is written: `16 MiB`, `512 KiB`,
/// `100 bytes`.
struct Bytes(usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= 1 << 20 && n % (1 << 20) == 0 => write!(f, "{} MiB", n >> 20),
            n if n >= 1 << 10 && n % (1 << 10) == 0 => write!(f, "{} KiB", n >> 10),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// Input text as an error message shows it: control characters and
/// invisible ones (byte-order marks, zero-width spaces, direction marks)
/// escaped, so that what the user sees is what the file holds: `\0` for NUL,
/// `\t`, `\r`, `\n`, and `\u{feff}` for the others. At most `max_chars`
/// characters of the input are shown, then `...`.
pub(crate) fn escape_for_display(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 2));
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push_str("...");
            break;
        }
        match c {
            '\0' => out.push_str("\\0"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() || is_invisible(c) => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters that render as nothing (or move other text) in a terminal:
/// Unicode format characters and the odd spaces that look like none.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(col: Option<u64>, problem: Problem) -> TraceError {
        TraceError::Line { file: "trace.jsonl".into(), line: 3, col, problem }
    }

    #[test]
    fn renders_file_line_and_column_when_known() {
        let e = line(
            Some(18),
            Problem::InvalidType { field: "input_tokens".into(), found: "string \"x\"".into(), expected: "an integer" },
        );
        assert_eq!(
            e.to_string(),
            "trace.jsonl:3:18: invalid type for `input_tokens`: found string \"x\", expected an integer"
        );
        let e = line(None, Problem::MissingField { field: "at_ms" });
        assert_eq!(e.to_string(), "trace.jsonl:3: missing field `at_ms`");
    }

    #[test]
    fn out_of_order_names_both_times() {
        let e = line(None, Problem::OutOfOrder { field: "at_ms", found: "1200".into(), previous: "1500".into() });
        assert_eq!(
            e.to_string(),
            "trace.jsonl:3: at_ms 1200 is before the previous line's 1500, expected lines ordered by at_ms"
        );
    }

    #[test]
    fn open_error_names_the_file_and_keeps_the_cause_as_source() {
        let e = TraceError::Open { file: "nope.jsonl".into(), source: io::Error::from(io::ErrorKind::NotFound) };
        assert_eq!(e.to_string(), "cannot open trace `nope.jsonl`");
        assert!(std::error::Error::source(&e).is_some());
        assert!(!e.is_bad_line());
    }

    #[test]
    fn input_is_echoed_with_invisible_characters_escaped() {
        assert_eq!(escape_for_display("plain café", 40), "plain café");
        assert_eq!(escape_for_display("\u{feff}a\0b\tc\r\n", 40), "\\u{feff}a\\0b\\tc\\r\\n");
        assert_eq!(escape_for_display("\u{200b}\u{202e}\u{1b}x\u{7f}", 40), "\\u{200b}\\u{202e}\\u{1b}x\\u{7f}");
        assert_eq!(escape_for_display("abcdef", 3), "abc...");
        assert_eq!(escape_for_display("abc", 3), "abc");
    }

    #[test]
    fn limits_render_in_their_unit() {
        let e = line(None, Problem::LineTooLong { limit: 16 << 20 });
        assert_eq!(
            e.to_string(),
            "trace.jsonl:3: line too long: found more than 16 MiB without a line break, expected at most 16 MiB per line"
        );
        assert!(!e.is_bad_line());
        assert_eq!(Bytes(1536).to_string(), "1536 bytes");
        assert_eq!(Bytes(2048).to_string(), "2 KiB");
    }

    #[test]
    fn header_problems_are_not_skippable() {
        let e = line(None, Problem::MissingColumn { column: "TIMESTAMP", found: "`a`, `b`".into() });
        assert!(!e.is_bad_line());
        assert!(line(None, Problem::InvalidUtf8).is_bad_line());
    }
}
