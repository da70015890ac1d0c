//! GitHub Actions output: workflow-command annotations for `check --format
//! github`, and a Markdown summary for `$GITHUB_STEP_SUMMARY`.
//!
//! Annotations name no file (a failed assertion belongs to a run, not to a
//! line), so GitHub shows them on the job and in the run summary. Values are
//! escaped as the workflow-command syntax requires (`%`, CR, LF in messages;
//! also `:` and `,` in properties such as the title).

use crate::Report;
use crate::escape::{gh_data, gh_property, md, md_code};
use crate::markdown::verdict;
use std::fmt::Write;

/// One `::error` line per failed assertion, e.g.
/// `::error title=windtunnel quickstart::assertion max_cost_usd failed: actual 1.59, limit 1.0`.
/// A failed invariant's line ends with its first example. Empty when all passed.
pub fn to_github_annotations(r: &Report) -> String {
    let mut s = String::new();
    let title = gh_property(&format!("windtunnel {}", r.scenario));
    for a in r.failed_assertions() {
        let mut message = format!("assertion {} failed: {}", a.name, a.message());
        if let Some(e) = a.invariant_name().and_then(|n| r.invariant(n)).and_then(|i| i.examples.first()) {
            let on = e.endpoint.as_deref().map(|n| format!(" on {n}")).unwrap_or_default();
            let _ = write!(message, " (first: request {} at {} ms{on}: {})", e.request, e.at_ms, e.detail);
        }
        let _ = writeln!(s, "::error title={title}::{}", gh_data(&message));
    }
    s
}

/// Markdown for `$GITHUB_STEP_SUMMARY`: one row per report (scenario and
/// seed), then the failed assertions of each failing report.
pub fn to_github_summary(reports: &[&Report]) -> String {
    let mut s = String::from("## windtunnel\n\n");
    if reports.is_empty() {
        s.push_str("No scenarios were run.\n");
        return s;
    }
    let failing = reports.iter().filter(|r| !r.passed()).count();
    if failing == 0 {
        let _ = writeln!(s, "✅ **All assertions passed** in {} run{}.\n", reports.len(), plural(reports.len()));
    } else {
        let _ = writeln!(s, "❌ **{failing} of {} run{} failed.**\n", reports.len(), plural(reports.len()));
    }
    s.push_str(
        "| | scenario | seed | assertions | requests | success | cost (USD) | p95 (ms) | SLA violations |\n\
         |---|---|---:|---|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        let total = r.assertions.len();
        let failed = r.failed_assertions().count();
        let mark = if r.passed() { "✅" } else { "❌" };
        let answered = r.outcomes.succeeded + r.outcomes.cached;
        let success = if r.trace.requests == 0 {
            "—".to_string()
        } else {
            format!("{:.2}%", answered as f64 * 100.0 / r.trace.requests as f64)
        };
        let _ = writeln!(
            s,
            "| {mark} | {} | {} | {} | {} | {success} | {:.4} | {} | {} ({:.2}%) |",
            md(&r.scenario),
            r.seed,
            if total == 0 { "none".to_string() } else { format!("{}/{total} passed", total - failed) },
            r.trace.requests,
            r.cost.total_usd.as_usd(),
            r.latency_ms.p95,
            r.sla.violations,
            r.sla.rate * 100.0
        );
    }
    for r in reports.iter().filter(|r| !r.passed()) {
        let _ = writeln!(s, "\n### {} (seed {})\n\n{}\n", md(&r.scenario), r.seed, verdict(r));
        s.push_str("| assertion | actual | limit |\n|---|---:|---:|\n");
        for a in r.failed_assertions() {
            let _ = writeln!(s, "| {} | {} | {} |", md_code(&a.name), md(&a.actual.to_string()), a.limit);
        }
    }
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
