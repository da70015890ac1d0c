//! GitHub Actions output: workflow-command annotations for `check --format
//! github`, and a Markdown summary for `$GITHUB_STEP_SUMMARY`.
//!
//! Annotations name no file (a failed assertion belongs to a run, not to a
//! line), so GitHub shows them on the job and in the run summary. Values are
//! escaped as the workflow-command syntax requires (`%`, CR, LF in messages;
//! also `:` and `,` in properties such as the title); other control
//! characters of user text are written as their escapes.
//!
//! The summary of many runs (`check --seeds 100000`) is built run by run with
//! [`GithubSummary`], which keeps a small row per run for at most
//! [`SUMMARY_ROWS`] runs of each scenario (and as many failing runs again),
//! and only counts the others: its memory does not grow with the seeds, and
//! an "… and N more runs" row says what is not listed.

use crate::Report;
use crate::escape::{gh_data, gh_property, md, md_code};
use crate::markdown::verdict_of;
use crate::schema::Assertion;
use std::fmt::Write;

/// Runs of one scenario listed in the job summary, in the order they were
/// added; beyond them, failing runs are still listed (as many again), and the
/// rest are only counted.
pub const SUMMARY_ROWS: usize = 50;

/// One `::error` line per failed assertion, e.g.
/// `::error title=windtunnel quickstart::assertion max_cost_usd failed: actual 1.59, limit 1.0`.
/// A failed invariant's line ends with its first example. Empty when all passed.
pub fn to_github_annotations(r: &Report) -> String {
    r.failed_assertions().map(|a| to_github_annotation(r, a, "")).collect()
}

/// The `::error` line (with its newline) of assertion `a` of report `r`,
/// `note` (e.g. ` (seed 43; failed on 2 of 3 seeds)`) after its message.
pub fn to_github_annotation(r: &Report, a: &Assertion, note: &str) -> String {
    let title = gh_property(&format!("windtunnel {}", r.scenario));
    let mut message = format!("assertion {} failed: {}{note}", a.name, a.message());
    if let Some(e) = a.invariant_name().and_then(|n| r.invariant(n)).and_then(|i| i.examples.first()) {
        let on = e.endpoint.as_deref().map(|n| format!(" on {n}")).unwrap_or_default();
        let _ = write!(message, " (first: request {} at {} ms{on}: {})", e.request, e.at_ms, e.detail);
    }
    format!("::error title={title}::{}\n", gh_data(&message))
}

/// Markdown for `$GITHUB_STEP_SUMMARY`: one row per report (scenario and
/// seed), then the failed assertions of each failing report. Many runs are
/// better summarised with a [`GithubSummary`], which bounds the rows.
pub fn to_github_summary(reports: &[&Report]) -> String {
    let mut summary = GithubSummary::default();
    for r in reports {
        summary.add(r);
    }
    summary.render()
}

/// What the summary shows of one run.
#[derive(Clone, Debug)]
struct Row {
    seed: u64,
    assertions: usize,
    /// The failed assertions: name, actual, limit, as printed.
    failed: Vec<(String, String, String)>,
    requests: u64,
    answered: u64,
    cost_usd: f64,
    p95_ms: u64,
    sla_violations: u64,
    sla_rate: f64,
}

impl Row {
    fn of(r: &Report) -> Row {
        Row {
            seed: r.seed,
            assertions: r.assertions.len(),
            failed: r
                .failed_assertions()
                .map(|a| (a.name.clone(), a.actual.to_string(), a.limit.to_string()))
                .collect(),
            requests: r.trace.requests,
            answered: r.outcomes.succeeded + r.outcomes.cached,
            cost_usd: r.cost.total_usd.as_usd(),
            p95_ms: r.latency_ms.p95,
            sla_violations: r.sla.violations,
            sla_rate: r.sla.rate,
        }
    }

    fn passed(&self) -> bool {
        self.failed.is_empty()
    }
}

/// The runs of one scenario.
#[derive(Clone, Debug)]
struct Group {
    scenario: String,
    rows: Vec<Row>,
    /// Listed rows that failed.
    failing_rows: usize,
    /// Runs not listed, and how many of them failed.
    omitted: u64,
    omitted_failing: u64,
}

/// The job summary of any number of runs, built one report at a time in
/// memory bounded per scenario (see [`SUMMARY_ROWS`]). Scenarios appear in
/// the order of their first run.
#[derive(Clone, Debug, Default)]
pub struct GithubSummary {
    runs: u64,
    failing: u64,
    groups: Vec<Group>,
}

impl GithubSummary {
    /// An empty summary.
    pub fn new() -> GithubSummary {
        GithubSummary::default()
    }

    /// Adds one run: a row if its scenario has fewer than [`SUMMARY_ROWS`]
    /// rows (or, failing, fewer than that many failing rows), else a count.
    pub fn add(&mut self, r: &Report) {
        let passed = r.passed();
        self.runs += 1;
        if !passed {
            self.failing += 1;
        }
        let i = match self.groups.iter().position(|g| g.scenario == r.scenario) {
            Some(i) => i,
            None => {
                self.groups.push(Group {
                    scenario: r.scenario.clone(),
                    rows: Vec::new(),
                    failing_rows: 0,
                    omitted: 0,
                    omitted_failing: 0,
                });
                self.groups.len() - 1
            }
        };
        let Some(g) = self.groups.get_mut(i) else { return };
        if g.rows.len() < SUMMARY_ROWS || (!passed && g.failing_rows < SUMMARY_ROWS) {
            g.rows.push(Row::of(r));
            if !passed {
                g.failing_rows += 1;
            }
        } else {
            g.omitted += 1;
            if !passed {
                g.omitted_failing += 1;
            }
        }
    }

    /// The Markdown.
    pub fn render(&self) -> String {
        let mut s = String::from("## windtunnel\n\n");
        if self.runs == 0 {
            s.push_str("No scenarios were run.\n");
            return s;
        }
        let runs = self.runs;
        if self.failing == 0 {
            let _ = writeln!(s, "✅ **All assertions passed** in {runs} run{}.\n", plural(runs));
        } else {
            let _ = writeln!(s, "❌ **{} of {runs} run{} failed.**\n", self.failing, plural(runs));
        }
        s.push_str(
            "| | scenario | seed | assertions | requests | success | cost (USD) | p95 (ms) | SLA violations |\n\
             |---|---|---:|---|---:|---:|---:|---:|---:|\n",
        );
        for g in &self.groups {
            let scenario = md(&g.scenario);
            for r in &g.rows {
                let total = r.assertions;
                let failed = r.failed.len();
                let mark = if r.passed() { "✅" } else { "❌" };
                let success = if r.requests == 0 {
                    "—".to_string()
                } else {
                    format!("{:.2}%", r.answered as f64 * 100.0 / r.requests as f64)
                };
                let _ = writeln!(
                    s,
                    "| {mark} | {scenario} | {} | {} | {} | {success} | {:.4} | {} | {} ({:.2}%) |",
                    r.seed,
                    if total == 0 { "none".to_string() } else { format!("{}/{total} passed", total - failed) },
                    r.requests,
                    r.cost_usd,
                    r.p95_ms,
                    r.sla_violations,
                    r.sla_rate * 100.0
                );
            }
            if g.omitted > 0 {
                let mark = if g.omitted_failing == 0 { "✅" } else { "❌" };
                let _ = writeln!(
                    s,
                    "| {mark} | {scenario} | … | and {} more run{} not listed, {} failed | | | | | |",
                    g.omitted,
                    plural(g.omitted),
                    g.omitted_failing
                );
            }
        }
        for g in &self.groups {
            for r in g.rows.iter().filter(|r| !r.passed()) {
                let names: Vec<&str> = r.failed.iter().map(|(name, _, _)| name.as_str()).collect();
                let _ = writeln!(
                    s,
                    "\n### {} (seed {})\n\n{}\n",
                    md(&g.scenario),
                    r.seed,
                    verdict_of(r.assertions, &names)
                );
                s.push_str("| assertion | actual | limit |\n|---|---:|---:|\n");
                for (name, actual, limit) in &r.failed {
                    let _ = writeln!(s, "| {} | {} | {} |", md_code(name), md(actual), md(limit));
                }
            }
        }
        s
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
