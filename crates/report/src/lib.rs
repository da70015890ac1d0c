//! Reports: the event log folded into `report.json`.
//!
//! It owns aggregation (integer money, hdrhistogram percentiles, per-class
//! SLA, per-endpoint attempts and errors, failover counts) and the report's
//! schema types. It must not reach into the executor or the simulator: the
//! event log is its only input, so live and simulated runs report alike.
//!
//! # Design
//! The [`Aggregator`] is an [`windtunnel_core::EventSink`]: it sees each event
//! once as the run streams it and keeps constant memory, so a 4 M-request
//! replay costs what a 1 M one does.
//!
//! # Where things happen
//! - `aggregate` — [`Aggregator`]: what each event adds; what counts as an SLA violation.
//! - `markdown` — [`to_markdown`]: report.md.
//! - `schema` — [`Report`] and its sections, in SPEC's key order.
//!
//! # Dependencies
//! - hdrhistogram: integer latency histograms with bounded relative error.
//! - serde, serde_json: the JSON report.
//! - windtunnel-config: SLA definitions and endpoint names.

mod aggregate;
mod markdown;
mod schema;

pub use aggregate::Aggregator;
pub use markdown::to_markdown;
pub use schema::*;

/// Renders a report as pretty JSON with a trailing newline.
pub fn to_json(report: &Report) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(report)?;
    s.push('\n');
    Ok(s)
}
