//! `report.md`: what a reviewer reads in a pull request.

use crate::Report;
use std::fmt::Write;

/// Renders a report as Markdown.
pub fn to_markdown(r: &Report) -> String {
    let mut s = String::new();
    let o = &r.outcomes;
    let pct = |n: u64| if r.trace.requests == 0 { 0.0 } else { n as f64 * 100.0 / r.trace.requests as f64 };
    // Writing to a String cannot fail.
    let _ = writeln!(s, "# windtunnel report: {}\n", r.scenario);
    let _ = writeln!(
        s,
        "Policy `{}`, seed {}, {} requests over {} ms.\n",
        r.policy, r.seed, r.trace.requests, r.trace.span_ms
    );
    let _ = writeln!(s, "## Outcomes\n\n| outcome | requests | share |\n|---|---:|---:|");
    for (name, n) in [("succeeded", o.succeeded), ("failed", o.failed), ("rejected", o.rejected), ("cached", o.cached)]
    {
        let _ = writeln!(s, "| {name} | {n} | {:.2}% |", pct(n));
    }
    if !o.by_reason.is_empty() {
        let _ = writeln!(s, "\n| reason | requests |\n|---|---:|");
        for (k, v) in &o.by_reason {
            let _ = writeln!(s, "| {k} | {v} |");
        }
    }
    let _ = writeln!(s, "\n## Cost\n\n| | USD |\n|---|---:|");
    let _ = writeln!(s, "| total | {:.6} |", r.cost.total_usd.as_usd());
    let _ = writeln!(s, "| per success | {:.6} |", r.cost.per_success_usd.as_usd());
    let _ = writeln!(s, "| wasted on failed attempts | {:.6} |", r.cost.wasted_usd.as_usd());
    for (e, c) in &r.cost.by_endpoint {
        let _ = writeln!(s, "| `{e}` | {:.6} |", c.as_usd());
    }
    let l = &r.latency_ms;
    let _ = writeln!(
        s,
        "\n## Latency (ms, succeeded requests)\n\n| p50 | p90 | p95 | p99 | max |\n|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(s, "| {} | {} | {} | {} | {} |", l.p50, l.p90, l.p95, l.p99, l.max);
    let t = &r.ttft_ms;
    let _ = writeln!(
        s,
        "\nTime to first token of streamed requests: p50 {} ms, p95 {} ms, p99 {} ms.",
        t.p50, t.p95, t.p99
    );
    let _ = writeln!(
        s,
        "\n## SLA\n\n{} violations ({:.2}%).\n\n| class | requests | violations |\n|---|---:|---:|",
        r.sla.violations,
        r.sla.rate * 100.0
    );
    for (c, v) in &r.sla.by_class {
        let _ = writeln!(s, "| {c} | {} | {} |", v.requests, v.violations);
    }
    let _ = writeln!(
        s,
        "\n## Attempts\n\n{} attempts, {} failovers.\n\n| endpoint | attempts | succeeded | errors |\n|---|---:|---:|---|",
        r.attempts.total, r.failover.events
    );
    for (e, a) in &r.attempts.by_endpoint {
        let errors: Vec<String> = a.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(s, "| `{e}` | {} | {} | {} |", a.attempts, a.succeeded, errors.join(", "));
    }
    let _ = writeln!(s, "\nPolicy errors: {}. Mean quality: {:.3}.", r.policy_errors, r.quality.mean);
    s
}
