//! `report.md`: what a reviewer reads in a pull request. The verdict comes
//! first, then what decides it (assertions, invariants with their first
//! examples), then how the policy met each fault window, then the figures.
//! Names are user text and are escaped for Markdown tables.

use crate::Report;
use crate::escape::{md, md_code};
use crate::numbers::{human_ms, int, usd};
use std::fmt::Write;
use windtunnel_core::format_duration_ms;

/// Invariant examples shown per invariant in the Markdown table.
const MD_EXAMPLES: usize = 3;

/// Fault windows shown in the Markdown table; a line counts the rest.
pub(crate) const MD_WINDOWS: usize = 100;

/// The verdict line: `✅ All 7 assertions passed.` or `❌ 2 of 7 assertions failed: …`.
pub(crate) fn verdict(r: &Report) -> String {
    let failed: Vec<&str> = r.failed_assertions().map(|a| a.name.as_str()).collect();
    verdict_of(r.assertions.len(), &failed)
}

/// [`verdict`] from the number of assertions and the names of the failed ones.
pub(crate) fn verdict_of(n: usize, failed: &[&str]) -> String {
    let plural = |n: usize| if n == 1 { "assertion" } else { "assertions" };
    if n == 0 {
        "No assertions were evaluated for this run.".to_string()
    } else if failed.is_empty() {
        format!("✅ **All {n} {} passed.**", plural(n))
    } else {
        let names: Vec<String> = failed.iter().map(|f| md_code(f)).collect();
        format!("❌ **{} of {n} {} failed:** {}.", failed.len(), plural(n), names.join(", "))
    }
}

/// `3 s` for a duration; `none` for none.
fn ms_or(v: Option<u64>, none: &str) -> String {
    v.map_or_else(|| none.to_string(), human_ms)
}

/// Renders a report as Markdown.
pub fn to_markdown(r: &Report) -> String {
    let mut s = String::new();
    let o = &r.outcomes;
    let pct = |n: u64| if r.trace.requests == 0 { 0.0 } else { n as f64 * 100.0 / r.trace.requests as f64 };
    // Writing to a String cannot fail.
    let _ = writeln!(s, "# windtunnel report: {}\n", md(&r.scenario));
    let _ = writeln!(
        s,
        "Policy {}, seed {}, {} requests over {}.\n",
        md_code(&r.policy),
        r.seed,
        r.trace.requests,
        human_ms(r.trace.span_ms)
    );
    let _ = writeln!(s, "{}\n", verdict(r));
    write_assertions(&mut s, r);
    write_invariants(&mut s, r);
    write_windows(&mut s, r);
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
        let _ = writeln!(s, "| {} | {:.6} |", md_code(e), c.as_usd());
    }
    let l = &r.latency_ms;
    let _ = writeln!(
        s,
        "\n## Latency (ms, succeeded requests)\n\n| p50 | p90 | p95 | p99 | max |\n|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(s, "| {} | {} | {} | {} | {} |", l.p50, l.p90, l.p95, l.p99, l.max);
    match &r.ttft_ms {
        Some(t) => {
            let _ = writeln!(
                s,
                "\nTime to first token of streamed requests: p50 {} ms, p95 {} ms, p99 {} ms.",
                t.p50, t.p95, t.p99
            );
        }
        None => {
            let _ = writeln!(s, "\nTime to first token: not measured (no streamed request succeeded).");
        }
    }
    let _ = writeln!(
        s,
        "\n## SLA\n\n{} violations ({:.2}%).\n\n| class | requests | violations |\n|---|---:|---:|",
        r.sla.violations,
        r.sla.rate * 100.0
    );
    for (c, v) in &r.sla.by_class {
        let _ = writeln!(s, "| {} | {} | {} |", md(c), v.requests, v.violations);
    }
    if !r.sla.classes_without_sla.is_empty() {
        let names: Vec<String> = r.sla.classes_without_sla.iter().map(|c| md_code(c)).collect();
        let _ = writeln!(s, "\nWarning: no SLA for {}; their requests cannot violate one.", names.join(", "));
    }
    let _ = writeln!(
        s,
        "\n## Attempts\n\n{} attempts, {} failovers.\n\n| endpoint | attempts | succeeded | errors | cancelled |\n\
         |---|---:|---:|---|---:|",
        r.attempts.total, r.failover.events
    );
    for (e, a) in &r.attempts.by_endpoint {
        let errors: Vec<String> = a.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            md_code(e),
            a.attempts,
            a.succeeded,
            errors.join(", "),
            a.cancelled
        );
    }
    let _ = writeln!(s, "\nPolicy errors: {}. Mean quality: {:.3}.", r.policy_errors, r.quality.mean);
    let c = &r.cache;
    if c.hits > 0 || c.prompt_cached_tokens > 0 {
        let _ = writeln!(
            s,
            "\nCaching: {} requests served from the response cache ({:.2}%), saving {}; {} input tokens billed as \
             cached by providers' prompt caches, saving {}.",
            int(c.hits),
            c.hit_rate * 100.0,
            usd(c.saved_usd),
            int(c.prompt_cached_tokens),
            usd(c.prompt_cache_saved_usd)
        );
    }
    s
}

fn write_assertions(s: &mut String, r: &Report) {
    if r.assertions.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Assertions\n\n| | assertion | actual | limit |\n|---|---|---:|---:|");
    for a in &r.assertions {
        let mark = if a.passed { "✅" } else { "❌" };
        let _ = writeln!(s, "| {mark} | {} | {} | {} |", md_code(&a.name), md(&a.actual.to_string()), a.limit);
    }
    s.push('\n');
}

fn write_invariants(s: &mut String, r: &Report) {
    let _ = writeln!(s, "## Invariants\n");
    if r.invariants.is_empty() {
        let _ = writeln!(s, "Not checked in this run.\n");
        return;
    }
    let _ = writeln!(s, "| | invariant | violations | first examples |\n|---|---|---:|---|");
    for i in &r.invariants {
        let mark = if i.violations == 0 { "✅" } else { "❌" };
        let examples: Vec<String> = i
            .examples
            .iter()
            .take(MD_EXAMPLES)
            .map(|e| {
                let on = e.endpoint.as_deref().map(|n| format!(" on {}", md_code(n))).unwrap_or_default();
                format!("request {} at {} ms{on}: {}", md_code(&e.request), e.at_ms, md(&e.detail))
            })
            .collect();
        let _ = writeln!(s, "| {mark} | {} | {} | {} |", md_code(&i.name), i.violations, examples.join("<br>"));
    }
    s.push('\n');
}

fn write_windows(s: &mut String, r: &Report) {
    let windows = &r.failover.windows;
    if windows.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## Fault windows\n\nDetected: first failover away, breaker opening, or routing around the endpoint after the \
         start. Failed: requests that ended failed or rejected inside the window after trying the endpoint. \
         Recovered: first success on the endpoint after the end.\n\n\
         | endpoint | fault | window | detected after | failed requests | recovered after |\n|---|---|---|---:|---:|---:|"
    );
    for w in windows.iter().take(MD_WINDOWS) {
        let span = match w.end_ms {
            Some(end) => format!("{} – {}", format_duration_ms(w.start_ms), format_duration_ms(end)),
            None => format!("{} – end of run", format_duration_ms(w.start_ms)),
        };
        let recovered = if w.end_ms.is_none() { "—".to_string() } else { ms_or(w.recovered_after_ms, "never") };
        let _ = writeln!(
            s,
            "| {} | {} | {span} | {} | {} | {recovered} |",
            md_code(&w.endpoint),
            md(&w.fault),
            ms_or(w.detected_after_ms, "never"),
            w.failed_requests
        );
    }
    if let Some(more) = more_windows(r, MD_WINDOWS) {
        let _ = writeln!(s, "\n{more}");
    }
    s.push('\n');
}

/// `… 4,000 more windows (report.json lists the first 1,000 of 5,000).`
/// when a renderer shows `shown` windows at most and the run had more.
pub(crate) fn more_windows(r: &Report, shown: usize) -> Option<String> {
    let f = &r.failover;
    let total = f.windows_total.max(f.windows.len() as u64);
    let more = total.saturating_sub(f.windows.len().min(shown) as u64);
    if more == 0 {
        return None;
    }
    let listed = if f.windows_omitted > 0 {
        format!(" (report.json lists the first {} of {})", int(f.windows.len() as u64), int(total))
    } else {
        String::new()
    };
    Some(format!("… {} more window{}{listed}.", int(more), if more == 1 { "" } else { "s" }))
}
