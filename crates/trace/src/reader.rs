//! [`TraceReader`]: the one way the rest of windtunnel reads a trace file,
//! whatever its format, with SPEC's `limit`, `speed` and `--skip-bad-lines`.
//!
//! Why one entry point: the harness, the CLI (`trace import`, `trace stats`)
//! and the proxy all need the same three options applied the same way, and a
//! single iterator type keeps them from growing a `match` on the format each.
//!
//! Order of operations for every request: parse (bad lines skipped and
//! counted, or returned), then `speed` (arrival times divided, rounded to the
//! nearest millisecond), then `limit` (the first request at or after it ends
//! the trace, and the rest of the file is never read).

use crate::azure::AzureReader;
use crate::burstgpt::BurstgptReader;
use crate::error::TraceError;
use crate::jsonl::JsonlReader;
use crate::mooncake::MooncakeReader;
use crate::synthetic_spec::TraceFormat;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use windtunnel_core::Request;

/// Read buffer for trace files: large enough that a line-at-a-time parser
/// spends its time parsing, not in `read` calls.
const FILE_BUFFER: usize = 64 << 10;

/// How a trace is read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadOptions {
    /// Skip bad lines and count them ([`TraceReader::skipped`]) instead of
    /// returning an error for them. Header and I/O errors are never skipped.
    pub skip_bad_lines: bool,
    /// Stop at the first request arriving at or after this (after `speed`).
    pub limit_ms: Option<u64>,
    /// Arrival times are divided by this; > 1 compresses the trace. Must be
    /// finite and greater than 0.
    pub speed: f64,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions { skip_bad_lines: false, limit_ms: None, speed: 1.0 }
    }
}

type Source = Box<dyn Iterator<Item = Result<Request, TraceError>> + Send>;

/// Requests of a trace file, streamed, in arrival order.
///
/// A bad line yields an `Err` (unless skipped) and reading goes on; an I/O
/// error yields an `Err` and ends the trace.
pub struct TraceReader {
    source: Source,
    name: Arc<str>,
    format: TraceFormat,
    opts: ReadOptions,
    skipped: u64,
    first_skipped: Option<TraceError>,
    done: bool,
}

impl fmt::Debug for TraceReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceReader")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("opts", &self.opts)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl TraceReader {
    /// Opens a trace file. A CSV header that lacks a needed column is an
    /// error here, before any request is read; so is a folder. Other files
    /// that are not regular files (`/dev/null`, a pipe) are read as they
    /// come; a line longer than 16 MiB (`/dev/zero`) ends the read with an
    /// error.
    pub fn open(path: &Path, format: TraceFormat, opts: ReadOptions) -> Result<TraceReader, TraceError> {
        let name = path.display().to_string();
        let open_error = |source| TraceError::Open { file: name.as_str().into(), source };
        let file = File::open(path).map_err(open_error)?;
        // Opening a folder succeeds on Unix; reading it is what fails, with
        // words about reading. Say what it is instead.
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(open_error(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory, expected a trace file",
            )));
        }
        TraceReader::from_reader(Box::new(BufReader::with_capacity(FILE_BUFFER, file)), &name, format, opts)
    }

    /// Reads a trace from any buffered source (stdin, a test's bytes);
    /// `name` is what errors print as the file. The source must be `Send` so
    /// that a reader can be handed to the thread that runs a simulation
    /// (`BufReader::new(std::io::stdin())` is; a `StdinLock` is not).
    pub fn from_reader(
        src: Box<dyn BufRead + Send>,
        name: &str,
        format: TraceFormat,
        opts: ReadOptions,
    ) -> Result<TraceReader, TraceError> {
        // Bounded below so that stretched arrival times stay far from
        // overflow: ten years of trace at speed 0.001 is ten millennia.
        if !(opts.speed >= 0.001 && opts.speed <= 1e6) {
            return Err(TraceError::Speed { speed: opts.speed });
        }
        let name: Arc<str> = name.into();
        let source: Source = match format {
            TraceFormat::Jsonl => Box::new(JsonlReader::new(src, &name)),
            TraceFormat::Azure => Box::new(AzureReader::new(src, name.clone())?),
            TraceFormat::Burstgpt => Box::new(BurstgptReader::new(src, name.clone())?),
            TraceFormat::Mooncake => Box::new(MooncakeReader::new(src, name.clone())),
        };
        Ok(TraceReader { source, name, format, opts, skipped: 0, first_skipped: None, done: false })
    }

    /// Bad lines skipped so far (with `skip_bad_lines`).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The first bad line skipped, to show the user what kind of line was
    /// dropped.
    pub fn first_skipped(&self) -> Option<&TraceError> {
        self.first_skipped.as_ref()
    }

    /// The name errors print.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The format being read.
    pub fn format(&self) -> TraceFormat {
        self.format
    }

    fn apply_speed(&self, at_ms: u64) -> u64 {
        if self.opts.speed == 1.0 { at_ms } else { (at_ms as f64 / self.opts.speed).round() as u64 }
    }
}

impl Iterator for TraceReader {
    type Item = Result<Request, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let item = self.source.next();
            match item {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Ok(mut req)) => {
                    req.at_ms = self.apply_speed(req.at_ms);
                    if self.opts.limit_ms.is_some_and(|limit| req.at_ms >= limit) {
                        self.done = true;
                        return None;
                    }
                    return Some(Ok(req));
                }
                Some(Err(e)) if e.is_bad_line() && self.opts.skip_bad_lines => {
                    self.skipped += 1;
                    if self.first_skipped.is_none() {
                        self.first_skipped = Some(e);
                    }
                }
                Some(Err(e)) => {
                    self.done = !e.is_bad_line();
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
