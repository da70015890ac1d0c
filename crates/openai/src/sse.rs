//! Server-sent events: [`SseDecoder`] turns bytes, split anywhere, into
//! [`SseEvent`]s; [`sse_data`] and [`sse_event`] encode them.
//!
//! The decoder follows the WHATWG event-stream rules (lines end with `\n`,
//! `\r\n` or `\r`; `:` starts a comment; a value loses one leading space;
//! `data:` lines join with `\n`; a blank line dispatches; a leading BOM is
//! skipped), with two departures, both for the sake of an HTTP client
//! reading untrusted upstreams:
//! - **Bounded.** An event (its pending line plus its data so far) larger
//!   than [`MAX_EVENT_BYTES`] is an error, so an upstream that never sends a
//!   line end cannot make the proxy buffer without limit.
//! - **Strict text.** A line that is not UTF-8 is an error rather than being
//!   patched with U+FFFD: relaying corrupted text as if it were the answer
//!   is worse than failing the attempt (which can fail over).
//!
//! And one addition: [`SseDecoder::finish`] returns an event the stream
//! ended without its blank line (the spec drops it), since servers that end
//! with `data: [DONE]\n` exist.
//!
//! `id:` and `retry:` fields are ignored: nothing here reconnects.

/// The largest event the decoder accepts, in bytes: far above any real
/// chunk (OpenAI's are a few hundred bytes; a whole non-streamed answer is
/// rarely over 1 MiB), small enough that a runaway upstream costs little.
pub const MAX_EVENT_BYTES: usize = 8 << 20;

/// One server-sent event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the event had one (Anthropic names every
    /// event; OpenAI names none).
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Why an event stream cannot be decoded. The stream is broken after one:
/// the decoder keeps returning it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// An event grew past [`MAX_EVENT_BYTES`].
    #[error("server-sent event larger than {limit_bytes} bytes")]
    EventTooLarge {
        /// The limit.
        limit_bytes: usize,
    },
    /// A line is not UTF-8.
    #[error("server-sent event stream: line {line} is not valid UTF-8")]
    InvalidUtf8 {
        /// 1-based line number in the stream.
        line: u64,
    },
}

/// Server-sent events decoder: feed bytes as they arrive (any split), get
/// complete events.
///
/// ```
/// use windtunnel_openai::SseDecoder;
/// let mut dec = SseDecoder::new();
/// assert!(dec.push(b"event: ping\r\ndata: {\"a\"").unwrap().is_empty());
/// let events = dec.push(b":1}\r\n\r\n").unwrap();
/// assert_eq!(events[0].event.as_deref(), Some("ping"));
/// assert_eq!(events[0].data, r#"{"a":1}"#);
/// ```
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// The current line, not yet ended.
    line: Vec<u8>,
    /// The last byte pushed ended a line with `\r`: a `\n` first in the next
    /// push belongs to that line end.
    after_cr: bool,
    /// Data lines of the current event, each followed by `\n`; non-empty
    /// exactly when the event has a `data` field.
    data: String,
    /// The current event's `event:` field.
    event: Option<String>,
    /// Lines ended so far.
    lines: u64,
    /// Set once decoding failed.
    failed: Option<SseError>,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        SseDecoder::default()
    }

    /// Feeds the next bytes; returns the events they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut out = Vec::new();
        let mut rest = bytes;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            let Some(i) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                self.line.extend_from_slice(rest);
                self.check_size()?;
                break;
            };
            self.line.extend_from_slice(&rest[..i]);
            self.check_size()?;
            let cr = rest[i] == b'\r';
            rest = &rest[i + 1..];
            if cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if let Some(ev) = self.end_line()? {
                out.push(ev);
            }
        }
        Ok(out)
    }

    /// Ends the stream: a last line without its line end is taken, and an
    /// event without its closing blank line is returned.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, SseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.after_cr = false;
        if !self.line.is_empty() {
            // A non-empty line never dispatches.
            self.end_line()?;
        }
        Ok(self.dispatch())
    }

    fn check_size(&mut self) -> Result<(), SseError> {
        if self.line.len() + self.data.len() > MAX_EVENT_BYTES {
            return Err(self.fail(SseError::EventTooLarge { limit_bytes: MAX_EVENT_BYTES }));
        }
        Ok(())
    }

    fn fail(&mut self, e: SseError) -> SseError {
        self.failed = Some(e.clone());
        self.line = Vec::new();
        self.data = String::new();
        e
    }

    /// Interprets the line in `self.line`; an empty line dispatches.
    fn end_line(&mut self) -> Result<Option<SseEvent>, SseError> {
        self.lines += 1;
        let mut bytes: &[u8] = &self.line;
        if self.lines == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        if bytes.is_empty() {
            self.line.clear();
            return Ok(self.dispatch());
        }
        let Ok(line) = std::str::from_utf8(bytes) else {
            let line = self.lines;
            return Err(self.fail(SseError::InvalidUtf8 { line }));
        };
        if !line.starts_with(':') {
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "data" => {
                    self.data.push_str(value);
                    self.data.push('\n');
                    if self.data.len() > MAX_EVENT_BYTES {
                        return Err(self.fail(SseError::EventTooLarge { limit_bytes: MAX_EVENT_BYTES }));
                    }
                }
                "event" => self.event = Some(value.to_string()),
                _ => {}
            }
        }
        self.line.clear();
        Ok(None)
    }

    /// Ends the current event: `Some` if it had data.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if self.data.is_empty() {
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the `\n` after the last data line
        Some(SseEvent { event, data })
    }
}

/// Encodes one SSE `data:` event (with trailing blank line); a multi-line
/// `data` becomes one `data:` line per line.
///
/// ```
/// assert_eq!(windtunnel_openai::sse_data("[DONE]"), "data: [DONE]\n\n");
/// ```
pub fn sse_data(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 8);
    push_data_lines(&mut out, data);
    out.push('\n');
    out
}

/// Encodes one named SSE event (`event:` then `data:` lines, then a blank
/// line), as the Anthropic dialect sends them.
///
/// ```
/// assert_eq!(
///     windtunnel_openai::sse_event("ping", r#"{"type": "ping"}"#),
///     "event: ping\ndata: {\"type\": \"ping\"}\n\n"
/// );
/// ```
pub fn sse_event(event: &str, data: &str) -> String {
    let mut out = String::with_capacity(event.len() + data.len() + 16);
    out.push_str("event: ");
    // A line end in the name would start a field of its own.
    out.extend(event.chars().filter(|&c| c != '\n' && c != '\r'));
    out.push('\n');
    push_data_lines(&mut out, data);
    out.push('\n');
    out
}

fn push_data_lines(out: &mut String, data: &str) {
    let mut rest = data;
    loop {
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        out.push_str("data: ");
        out.push_str(&rest[..end]);
        out.push('\n');
        if end == rest.len() {
            break;
        }
        let skip = if rest[end..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[end + skip..];
    }
}

#[cfg(test)]
mod tests;
