//! Traces: where a run's requests come from.
//!
//! This crate owns the trace side of SPEC: the JSON-lines trace format (read
//! and write), the importers of the public Azure, BurstGPT and Mooncake
//! traces, the synthetic generator behind `[trace.synthetic]` and
//! `windtunnel trace gen`, and the statistics of `windtunnel trace stats`.
//! It produces [`Request`]s and nothing else: it must not know the simulator,
//! the executor, policies or reports, and it reads no clock.
//!
//! # Design
//! - **Streaming.** Every reader is an iterator that parses one line (or CSV
//!   row) at a time into a reused buffer; a trace of any length is read in
//!   constant memory, and `limit` stops reading the file at the first request
//!   past it. [`TraceStats`] is constant-memory too (fixed-size histograms,
//!   a bounded number of names).
//! - **Borrowed parsing with precise errors.** A JSON line is scanned once
//!   into borrowed raw field values; each field is then checked by code that
//!   knows its name, so an error says `trace.jsonl:3:18: invalid type for
//!   `input_tokens`: found string "x", expected an integer` rather than
//!   serde's generic words (see `json`).
//! - **Interning.** Tenants, classes, models and languages repeat; each
//!   distinct value is one shared [`Sym`](windtunnel_core::Sym), so a request
//!   costs reference counts, not string allocations.
//! - **Bad lines are counted, never silently dropped.** With `skip_bad_lines`
//!   a bad line is skipped and counted ([`TraceReader::skipped`]); without it,
//!   it is an error naming the line. Header problems, a line longer than
//!   16 MiB, an unterminated CSV quote (errors point at the opening quote)
//!   and I/O errors always end the read.
//! - **Input echoed in errors is escaped** (control and invisible characters
//!   as `\0`, `\u{feff}`, ...) and cut short, so a message shows what the
//!   file holds and stays one line.
//! - **Generator randomness** comes only from named [`Streams`] of the
//!   scenario seed, one stream per purpose, so changing one knob (a mix, a
//!   token distribution) never moves arrivals (see `generator`).
//!
//! # Example
//! ```
//! use std::io::BufReader;
//! use windtunnel_trace::{ReadOptions, TraceFormat, TraceReader, TraceStats, TraceWriter};
//!
//! let csv = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
//!            5,ChatGPT,472,18,490,Conversation log\n\
//!            45,GPT-4,1087,0,1087,Conversation log\n";
//! let opts = ReadOptions { skip_bad_lines: true, ..ReadOptions::default() };
//! let reader = TraceReader::from_reader(Box::new(BufReader::new(csv.as_bytes())), "slice.csv", TraceFormat::Burstgpt, opts)?;
//! let mut out = TraceWriter::new(Vec::new());
//! let mut stats = TraceStats::new();
//! for req in reader {
//!     let req = req?;
//!     stats.record(&req);
//!     out.write(&req)?;
//! }
//! assert_eq!(stats.requests(), 2);
//! assert_eq!(
//!     String::from_utf8(out.into_inner())?.lines().nth(1),
//!     Some(r#"{"at_ms":40000,"model":"GPT-4","input_tokens":1087,"output_tokens":0,"tags":{"failed":"true","log_type":"Conversation log"}}"#)
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Dependencies
//! - windtunnel-core: [`Request`], [`Dist`](windtunnel_core::Dist),
//!   [`Streams`].
//! - serde, serde_json (with `raw_value`): borrowed JSON scanning, string
//!   escaping in the writer, `Serialize` for [`TraceSummary`].
//! - csv: the CSV importers (quoting, CRLF, byte-order marks); line numbers
//!   are counted by `csv_rows` itself.
//! - thiserror: [`TraceError`].
//!
//! No rand of its own: the generator draws through the `Rng` and `ChaCha8Rng`
//! that windtunnel-core re-exports, so there is one rand version to agree on.
//!
//! # Where things happen
//! - `reader` — [`TraceReader`], [`ReadOptions`]: the one entry point; speed,
//!   limit, skipping.
//! - `jsonl` — [`JsonlReader`], [`TraceWriter`]: windtunnel's own format.
//! - `azure`, `burstgpt`, `mooncake` — the importers (`TraceFormat::Azure`, ...).
//! - `csv_rows`, `lines` — the row and line loops the importers share;
//!   `clock` — their relative timestamps and order check.
//! - `json` — borrowed field scanning and typed field checks.
//! - `intern` — the bounded string interner.
//! - `error` — [`TraceError`] and its [`Problem`].
//! - `generator` — [`Generator`]; `arrivals` (Poisson, diurnal, bursty) and
//!   `mix` (weighted picks) serve it.
//! - `stats` — [`TraceStats`], [`TraceSummary`]; `histogram` serves it.
//! - `synthetic_spec` — [`SyntheticSpec`] and its size limits
//!   ([`SyntheticSpec::check_limits`]), [`ArrivalPattern`], [`TraceFormat`].
//!
//! [`Request`]: windtunnel_core::Request
//! [`Streams`]: windtunnel_core::Streams

mod arrivals;
mod azure;
mod burstgpt;
mod clock;
mod csv_rows;
mod error;
mod generator;
mod histogram;
mod intern;
mod json;
mod jsonl;
mod lines;
mod mix;
mod mooncake;
mod reader;
mod stats;
mod synthetic_spec;

#[cfg(test)]
mod fuzz_tests;

/// The latest arrival a trace may have, counted from its start: ten years
/// (the longest duration a scenario may name). A later one is a timestamp in
/// the wrong unit, refused at its line.
pub const MAX_SPAN_MS: u64 = windtunnel_core::MAX_DURATION_MS;

pub use error::{Problem, TraceError};
pub use generator::{BLOCK_TOKENS, Generator, MAX_ACTIVE, MAX_CONVERSATION_TOKENS};
pub use jsonl::{JsonlReader, TraceWriter};
pub use reader::{ReadOptions, TraceReader};
pub use stats::{MAX_KEYS, RateSummary, TokenSummary, TraceStats, TraceSummary};
pub use synthetic_spec::{
    ArrivalPattern, ConversationSpec, MAX_DURATION_MS, MAX_RATE_PER_S, MAX_REPEATED_PROMPTS, MAX_REQUESTS, RepeatSpec,
    SpecError, SyntheticSpec, TraceFormat,
};
