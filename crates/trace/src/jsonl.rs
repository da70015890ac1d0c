//! windtunnel's own trace format, JSON lines: [`JsonlReader`] and
//! [`TraceWriter`].
//!
//! One request per line, ordered by `at_ms` (SPEC "Trace format"):
//!
//! ```json
//! {"at_ms": 0, "id": "r1", "tenant": "acme", "class": "interactive", "model": "chat", "input_tokens": 812, "output_tokens": 240, "max_tokens": 1024, "stream": true, "lang": "en"}
//! ```
//!
//! - Required: `at_ms`, `input_tokens`, `output_tokens` (non-negative
//!   integers; an integral float such as `812.0` is accepted).
//! - Defaults: `id` = line number (the request's `id` stays `None`),
//!   `tenant` and `class` = `"default"`, `model` and `lang` = none,
//!   `max_tokens` = `output_tokens`, `stream` = false. An explicit `null` is
//!   the same as an absent field.
//! - Optional: `deadline_ms` (integer), `tags` (object: a string value is kept
//!   as its text, any other value as its JSON text), `prefix_hash` (integer, or
//!   a string hashed with 64-bit FNV-1a), `messages` (an array of objects,
//!   the chat messages, kept as its raw text for live replay).
//! - **Unknown fields are ignored**, so traces written by other tools, which
//!   carry extra fields, read as they are. A misspelt optional field is
//!   therefore silently absent; required fields are always checked.
//! - Blank lines are skipped (but counted in line numbers). A line earlier
//!   than the previous one is an error naming it. A first line that is not
//!   JSON but looks like CSV says so ([`Problem::LooksLikeCsv`]): the file is
//!   probably a public trace read without its format.
//! - `seq` is the 0-based index among the requests read.
//!
//! [`TraceWriter`] writes the same format back, leaving out every field equal
//! to its default, so that reading what it wrote gives the same requests.

use crate::error::{Problem, TraceError};
use crate::intern::Interner;
use crate::json::{Bad, Field, csv_hint, fnv1a64, present, scan_object};
use crate::lines::LineSource;
use serde_json::value::RawValue;
use std::io::{self, BufRead, Write};
use std::sync::Arc;
use windtunnel_core::{Request, Sym};

/// The fields a line may carry, in the order the writer writes them.
const FIELDS: [&str; 16] = [
    "at_ms",
    "id",
    "tenant",
    "class",
    "model",
    "input_tokens",
    "output_tokens",
    "max_tokens",
    "stream",
    "lang",
    "deadline_ms",
    "prefix_hash",
    "prompt_hash",
    "hash_ids",
    "tags",
    "messages",
];
const AT_MS: usize = 0;
const ID: usize = 1;
const TENANT: usize = 2;
const CLASS: usize = 3;
const MODEL: usize = 4;
const INPUT_TOKENS: usize = 5;
const OUTPUT_TOKENS: usize = 6;
const MAX_TOKENS: usize = 7;
const STREAM: usize = 8;
const LANG: usize = 9;
const DEADLINE_MS: usize = 10;
const PREFIX_HASH: usize = 11;
const PROMPT_HASH: usize = 12;
const HASH_IDS: usize = 13;
const TAGS: usize = 14;
const MESSAGES: usize = 15;

/// The value SPEC gives an absent `tenant` or `class`.
const DEFAULT: &str = "default";

/// Streams requests out of a JSON-lines trace, one line at a time.
///
/// A bad line yields an `Err` naming it and reading goes on with the next
/// line; a read failure yields an `Err` and ends the stream.
#[derive(Debug)]
pub struct JsonlReader<R> {
    lines: LineSource<R>,
    file: Arc<str>,
    interner: Interner,
    seq: u64,
    prev_at_ms: Option<u64>,
    /// Whether a non-blank line has been read (the CSV hint is for the first).
    started: bool,
}

impl<R: BufRead> JsonlReader<R> {
    /// Reads `src`; `name` is the file name errors print.
    pub fn new(src: R, name: &str) -> JsonlReader<R> {
        let file: Arc<str> = name.into();
        JsonlReader {
            lines: LineSource::new(src, file.clone()),
            file,
            interner: Interner::default(),
            seq: 0,
            prev_at_ms: None,
            started: false,
        }
    }

    /// The 1-based number of the last line read.
    pub fn line(&self) -> u64 {
        self.lines.line()
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read().transpose()
    }
}

impl<R: BufRead> JsonlReader<R> {
    fn read(&mut self) -> Result<Option<Request>, TraceError> {
        let Some((line, text)) = self.lines.next_line().transpose()? else { return Ok(None) };
        let first = !std::mem::replace(&mut self.started, true);
        let req = parse_line(text, self.seq, &mut self.interner)
            .map_err(|bad| with_csv_hint(bad, text, first).at(&self.file, line))?;
        if let Some(prev) = self.prev_at_ms.filter(|prev| req.at_ms < *prev) {
            let problem =
                Problem::OutOfOrder { field: "at_ms", found: req.at_ms.to_string(), previous: prev.to_string() };
            return Err(TraceError::Line { file: self.file.clone(), line, col: None, problem });
        }
        if req.at_ms > crate::MAX_SPAN_MS {
            let problem = Problem::TooLate { field: "at_ms", found: req.at_ms.to_string() };
            return Err(TraceError::Line { file: self.file.clone(), line, col: None, problem });
        }
        self.prev_at_ms = Some(req.at_ms);
        self.seq += 1;
        Ok(Some(req))
    }
}

/// A first line that is not JSON but looks like CSV gets the hint instead of
/// the parser's words.
pub(crate) fn with_csv_hint(bad: Bad, text: &str, first: bool) -> Bad {
    match (&bad.problem, first) {
        (Problem::InvalidJson { .. }, true) => match csv_hint(text) {
            Some(problem) => Bad { col: Some(1), problem },
            None => bad,
        },
        _ => bad,
    }
}

/// One line to one request.
fn parse_line(text: &str, seq: u64, interner: &mut Interner) -> Result<Request, Bad> {
    let values = scan_object(text, &FIELDS)?;
    let field = |i: usize| -> Option<Field<'_>> {
        let raw: &RawValue = present(values.get(i).copied().flatten())?;
        Some(Field { line: text, name: FIELDS.get(i).copied().unwrap_or_default(), raw })
    };
    let required = |i: usize| -> Result<Field<'_>, Bad> {
        let name = FIELDS.get(i).copied().unwrap_or_default();
        let raw = values.get(i).copied().flatten().ok_or(Problem::MissingField { field: name })?;
        Ok(Field { line: text, name, raw })
    };

    let at_ms = required(AT_MS)?.u64()?;
    let input_tokens = required(INPUT_TOKENS)?.u32()?;
    let output_tokens = required(OUTPUT_TOKENS)?.u32()?;
    let mut req = Request::new(seq, at_ms, input_tokens, output_tokens);
    if let Some(f) = field(ID) {
        req.id = Some(Sym::from(&*f.str_or_integer()?));
    }
    if let Some(f) = field(TENANT) {
        req.tenant = interner.intern(&f.str()?);
    }
    if let Some(f) = field(CLASS) {
        req.class = interner.intern(&f.str()?);
    }
    if let Some(f) = field(MODEL) {
        req.model = Some(interner.intern(&f.str()?));
    }
    if let Some(f) = field(MAX_TOKENS) {
        req.max_tokens = f.u32()?;
    }
    if let Some(f) = field(STREAM) {
        req.stream = f.bool()?;
    }
    if let Some(f) = field(LANG) {
        req.lang = Some(interner.intern(&f.str()?));
    }
    if let Some(f) = field(DEADLINE_MS) {
        req.deadline_ms = Some(f.u64()?);
    }
    if let Some(f) = field(PREFIX_HASH) {
        req.prefix_hash = Some(match f.str() {
            Ok(s) => fnv1a64(&s),
            Err(_) => f.u64().map_err(|_| f.invalid_type("a non-negative integer or a string"))?,
        });
    }
    if let Some(f) = field(PROMPT_HASH) {
        req.prompt_hash = Some(match f.str() {
            Ok(s) => fnv1a64(&s),
            Err(_) => f.u64().map_err(|_| f.invalid_type("a non-negative integer or a string"))?,
        });
    }
    if let Some(f) = field(HASH_IDS) {
        req.hash_ids = Some(f.u64_array()?);
    }
    if let Some(f) = field(TAGS) {
        req.tags = Some(Box::new(f.tags()?));
    }
    if let Some(f) = field(MESSAGES) {
        f.array_of_objects()?;
        // A carriage return inside the line can only be whitespace between
        // tokens (in a string it is escaped): read as the space the writer
        // writes for it, so reading and writing agree.
        req.messages = Some(f.raw.get().replace('\r', " ").into());
    }
    Ok(req)
}

// === TraceWriter ===

/// Writes requests as JSON lines, one `write_all` per line.
///
/// Fields equal to their SPEC default are left out (`at_ms`, `input_tokens`
/// and `output_tokens` are always written, `id` only when the request has
/// one), so reading the output back gives equal requests. `seq` is not
/// written: the reader numbers requests from 0, so a round trip preserves
/// requests whose `seq` is their index, as a reader's are.
///
/// It refuses (with [`io::ErrorKind::InvalidInput`]) what the reader would
/// refuse: a request earlier than the previous one, and `messages` that is
/// not a JSON array of objects.
#[derive(Debug)]
pub struct TraceWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    written: u64,
    prev_at_ms: Option<u64>,
}

impl<W: Write> TraceWriter<W> {
    /// Writes to `out`; wrap a file in a `BufWriter`.
    pub fn new(out: W) -> TraceWriter<W> {
        TraceWriter { out, buf: Vec::with_capacity(256), written: 0, prev_at_ms: None }
    }

    /// Writes one request as one line.
    pub fn write(&mut self, req: &Request) -> io::Result<()> {
        if let Some(prev) = self.prev_at_ms.filter(|prev| req.at_ms < *prev) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("request {} at_ms {} is before the previous request's {prev}", req.id(), req.at_ms),
            ));
        }
        self.buf.clear();
        encode(&mut self.buf, req)?;
        self.out.write_all(&self.buf)?;
        self.prev_at_ms = Some(req.at_ms);
        self.written += 1;
        Ok(())
    }

    /// Requests written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The underlying writer; every line is already handed to it.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One request as one line, newline included.
fn encode(buf: &mut Vec<u8>, req: &Request) -> io::Result<()> {
    // Field names come from FIELDS, the one list the reader reads too.
    write!(buf, "{{\"{}\":{}", FIELDS[AT_MS], req.at_ms)?;
    if let Some(id) = &req.id {
        string_field(buf, FIELDS[ID], id)?;
    }
    if &*req.tenant != DEFAULT {
        string_field(buf, FIELDS[TENANT], &req.tenant)?;
    }
    if &*req.class != DEFAULT {
        string_field(buf, FIELDS[CLASS], &req.class)?;
    }
    if let Some(model) = &req.model {
        string_field(buf, FIELDS[MODEL], model)?;
    }
    write!(buf, ",\"{}\":{}", FIELDS[INPUT_TOKENS], req.input_tokens)?;
    write!(buf, ",\"{}\":{}", FIELDS[OUTPUT_TOKENS], req.output_tokens)?;
    if req.max_tokens != req.output_tokens {
        write!(buf, ",\"{}\":{}", FIELDS[MAX_TOKENS], req.max_tokens)?;
    }
    if req.stream {
        write!(buf, ",\"{}\":true", FIELDS[STREAM])?;
    }
    if let Some(lang) = &req.lang {
        string_field(buf, FIELDS[LANG], lang)?;
    }
    if let Some(deadline) = req.deadline_ms {
        write!(buf, ",\"{}\":{deadline}", FIELDS[DEADLINE_MS])?;
    }
    if let Some(hash) = req.prefix_hash {
        write!(buf, ",\"{}\":{hash}", FIELDS[PREFIX_HASH])?;
    }
    if let Some(hash) = req.prompt_hash {
        write!(buf, ",\"{}\":{hash}", FIELDS[PROMPT_HASH])?;
    }
    if let Some(ids) = &req.hash_ids {
        write!(buf, ",\"{}\":[", FIELDS[HASH_IDS])?;
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            write!(buf, "{id}")?;
        }
        buf.push(b']');
    }
    if let Some(tags) = &req.tags {
        write!(buf, ",\"{}\":{{", FIELDS[TAGS])?;
        for (i, (k, v)) in tags.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            json_string(buf, k)?;
            buf.push(b':');
            json_string(buf, v)?;
        }
        buf.push(b'}');
    }
    if let Some(messages) = &req.messages {
        let valid = serde_json::from_str::<&RawValue>(messages)
            .is_ok_and(|raw| Field { line: messages, name: FIELDS[MESSAGES], raw }.array_of_objects().is_ok());
        if !valid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("request {}: `messages` is not a json array of objects", req.id()),
            ));
        }
        write!(buf, ",\"{}\":", FIELDS[MESSAGES])?;
        // Valid JSON holds raw line breaks only as whitespace between tokens
        // (inside strings they are escaped), so a space keeps its meaning and
        // the request on one line.
        buf.extend(messages.bytes().map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
    }
    buf.extend_from_slice(b"}\n");
    Ok(())
}

fn string_field(buf: &mut Vec<u8>, name: &str, value: &str) -> io::Result<()> {
    write!(buf, ",\"{name}\":")?;
    json_string(buf, value)
}

fn json_string(buf: &mut Vec<u8>, s: &str) -> io::Result<()> {
    serde_json::to_writer(buf, s).map_err(io::Error::other)
}

#[cfg(test)]
mod tests;
