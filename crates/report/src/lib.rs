//! Reports: the event log folded into `report.json`, checked against the
//! scenario's assertions, and rendered for people and CI.
//!
//! It owns aggregation (integer money, hdrhistogram percentiles, per-class
//! SLA, per-endpoint attempts and errors, failover counts, fault-window
//! analysis, time series for charts), the report's schema types, assertion
//! evaluation, and the renderers: Markdown, self-contained HTML, JUnit XML and
//! GitHub Actions output. It must not reach into the executor or the
//! simulator: the event log is its only input, so live and simulated runs
//! report alike. It does not check invariants either: the harness runs the
//! invariant checker (a crate that sees only the event log) and copies its
//! results in with [`Report::set_invariants`], so this crate does not depend on
//! it (unlike STYLE's crate table, which lists `invariants` as a dependency)
//! and a report can be built, evaluated and rendered without it.
//!
//! # Design
//! - The [`Aggregator`] is an [`windtunnel_core::EventSink`]: it sees each
//!   event once as the run streams it and keeps constant memory in the trace
//!   length (fixed counters, a fixed number of time buckets, a ring of
//!   in-flight requests' tried endpoints, one small record per listed fault
//!   window, at most [`Report::MAX_LISTED_WINDOWS`], and a count of the rest),
//!   so a 4 M-request replay costs what a 1 M one does. In steady state it
//!   allocates nothing per event; only first sightings allocate (a new SLA
//!   class, a fault window, table growth, a latency histogram's first value
//!   in a bucket of its bins, of which there are a few dozen).
//! - A [`Report`] is plain data in SPEC's key order; everything after
//!   aggregation (assertions, rendering) reads only the report, never the
//!   aggregator, so each renderer is a pure function of it.
//! - Typical use: `let mut r = aggregator.report(head); r.set_invariants(..);
//!   r.evaluate(&scenario.assert);` then [`to_json`], [`to_markdown`],
//!   [`to_html`], [`to_junit`], [`to_github_annotations`] /
//!   [`to_github_summary`]; [`Report::passed`] is the gate.
//! - Every renderer is deterministic: same report, same bytes (no
//!   timestamps, ordered maps, fixed number formatting).
//!
//! # Where things happen
//! - `aggregate` — [`Aggregator`]: what each event adds; what counts as an SLA violation.
//! - `fault_windows` — `failover.windows`: when a fault was detected, what
//!   failed inside it, when traffic came back (definitions in its docs).
//! - `timeseries` — the bucketed series and latency histogram behind the charts.
//! - `bin_counts` — where latencies are counted on the hot path (in
//!   hdrhistogram's bins, handed to it for percentiles).
//! - `assertions` — [`Report::evaluate`], [`Report::set_invariants`].
//! - `schema` — [`Report`] and its sections, in SPEC's key order.
//! - `markdown` — [`to_markdown`]: report.md.
//! - `html`, `chart` — [`to_html`]: report.html and its inline SVG charts.
//! - `junit` — [`to_junit`], [`junit_document`]: junit.xml.
//! - `github` — [`to_github_annotations`], [`to_github_summary`].
//! - `whatif` — the what-if comparison's schema and its Markdown, JSON and HTML (frontier charts).
//! - `style` — the CSS both HTML pages share.
//! - `escape` — XML/HTML, Markdown and workflow-command escaping of user text.
//! - `numbers` — display formatting of counts, dollars and durations.
//!
//! # Dependencies
//! - hdrhistogram: integer latency histograms with bounded relative error
//!   (whole run at 3 significant figures, per time bucket at 2): their
//!   bins, percentiles and merging. Recording goes through `bin_counts`,
//!   a plain array in the same bins, which costs much less per value.
//! - serde, serde_json: the JSON report.
//! - windtunnel-config: SLA definitions, endpoint names and fault kinds, the
//!   `[assert]` table.
//! - windtunnel-core: the event log and its vocabulary.

mod aggregate;
mod assertions;
mod bin_counts;
mod chart;
mod escape;
mod fault_windows;
mod github;
mod html;
mod junit;
mod markdown;
mod numbers;
mod schema;
mod style;
mod timeseries;
mod whatif;

#[cfg(test)]
mod tests;

pub use aggregate::Aggregator;
pub use escape::plain_line;
pub use github::{GithubSummary, SUMMARY_ROWS, to_github_annotation, to_github_annotations, to_github_summary};
pub use html::to_html;
pub use junit::{CaseOfAssertion, JunitCase, JunitFailure, JunitSuite, SuiteOfReport, junit_document, to_junit};
pub use markdown::to_markdown;
pub use schema::*;
pub use whatif::{
    Better, Difference, Frontier, FrontierPoint, Interval, Metric, MetricResult, SweepAxis, VariantStats,
    WHATIF_SCHEMA_VERSION, WhatifReport, WhatifVariant, to_whatif_html, to_whatif_json, to_whatif_markdown,
    to_whatif_markdown_table,
};

/// Renders a report as pretty JSON with a trailing newline.
pub fn to_json(report: &Report) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(report)?;
    s.push('\n');
    Ok(s)
}
