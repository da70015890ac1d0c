//! `windtunnel check`: the CI gate. Every scenario × seed is replayed; every
//! assertion of `[assert]` and every selected invariant must hold for every
//! seed. One line per scenario × assertion; exit 0 all hold, 1 one failed, 2
//! bad input.
//!
//! - **Memory does not grow with `--seeds`.** A report is tens of kilobytes;
//!   of a scenario's runs `check` keeps the first and, per assertion, the
//!   first that broke it (what its line, JUnit case and annotation show),
//!   with counts and the sums the baseline's means need. The job summary
//!   keeps a small row per run for a bounded number of runs
//!   ([`GithubSummary`]). `--seeds` above [`MAX_SEEDS`] is refused.
//! - **User text stays on its line.** Scenario and class names and policy
//!   errors go through [`plain_line`], so none can start a line of its own
//!   (on GitHub, a line starting with `::` is a workflow command).
//! - **The exit code is the gate's** even when stdout is closed
//!   (`check … | head -1`): everything is decided before the first line is
//!   printed, and a reader that went away only stops the printing.

use crate::progress::RunsProgress;
use crate::scenario_args::ScenarioArgs;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use windtunnel_report::{
    CaseOfAssertion, GithubSummary, JunitCase, JunitFailure, JunitSuite, Report, SuiteOfReport, TimeSeries,
    junit_document, plain_line, to_github_annotation,
};

/// Most seeds per scenario (`whatif` takes as many): far more than a gate
/// needs, and a typo such as `--seeds 10000000000` is refused rather than
/// left to run for years.
pub(crate) const MAX_SEEDS: u64 = 1_000_000;

/// Arguments of `windtunnel check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Scenario files.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    #[command(flatten)]
    common: ScenarioArgs,
    /// Seeds per scenario: the scenario's seed and the N-1 after it.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// A report.json to compare against: cost or p95 above it by more than
    /// `--tolerance` fails the gate.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Allowed regression against the baseline, as a share (0.05 = 5%).
    #[arg(long, default_value_t = 0.05)]
    tolerance: f64,
    /// Also write the results as JUnit XML.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Output: plain lines, or GitHub annotations plus a job summary.
    #[arg(long, value_enum, default_value = "text")]
    format: CheckFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    Text,
    Github,
}

/// Cost and p95 of a baseline report.
struct Baseline {
    scenario: String,
    cost_usd: f64,
    p95_ms: f64,
}

fn read_baseline(path: &PathBuf) -> anyhow::Result<Baseline> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read baseline `{}`", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("baseline `{}` is not JSON", path.display()))?;
    let num = |ptr: &str| {
        v.pointer(ptr)
            .and_then(serde_json::Value::as_f64)
            .with_context(|| format!("baseline `{}` has no number at `{ptr}`", path.display()))
    };
    let scenario = v
        .pointer("/scenario")
        .and_then(|s| s.as_str())
        .with_context(|| format!("baseline `{}` has no `scenario` name: expected a report.json", path.display()))?;
    Ok(Baseline { scenario: scenario.to_string(), cost_usd: num("/cost/total_usd")?, p95_ms: num("/latency_ms/p95")? })
}

pub(crate) fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    if args.seeds == 0 {
        bail!("--seeds 0: expected at least one seed");
    }
    if args.seeds > MAX_SEEDS {
        bail!("--seeds {}: expected at most {MAX_SEEDS} seeds", args.seeds);
    }
    check_tolerance(args.tolerance)?;
    let baseline = args.baseline.as_ref().map(read_baseline).transpose()?;
    // Load everything first: a bad input is exit 2 before anything runs.
    let scenarios = args.scenarios.iter().map(|p| args.common.load(p)).collect::<anyhow::Result<Vec<_>>>()?;
    // A baseline compares like with like: one of another scenario would
    // otherwise be silently skipped and the gate pass on nothing.
    if let (Some(b), Some(path)) = (&baseline, &args.baseline)
        && !scenarios.iter().any(|s| s.name == b.scenario)
    {
        let names: Vec<String> = scenarios.iter().map(|s| plain_line(&s.name)).collect();
        bail!(
            "baseline `{}` is a report of scenario `{}`, expected one of the checked scenarios: {}",
            path.display(),
            plain_line(&b.scenario),
            names.join(", ")
        );
    }
    let github = args.format == CheckFormat::Github;
    let mut failed = 0usize;
    let mut done = 0u64;
    let bar = RunsProgress::new((scenarios.len() as u64).saturating_mul(args.seeds));
    // Lines wait until the bar is gone, so the two never interleave.
    let mut lines: Vec<String> = Vec::new();
    // JUnit: one case per assertion line (each assertion over the seeds) and
    // per baseline line; a scenario without assertions has an empty suite.
    let mut suites: Vec<JunitSuite> = Vec::new();
    // GitHub: one annotation per failed assertion line, and the job summary.
    let mut annotations: Vec<String> = Vec::new();
    let mut summary = GithubSummary::new();
    for scenario in &scenarios {
        let mut runs = SeedRuns::default();
        for i in 0..args.seeds {
            let mut s = scenario.clone();
            s.seed = scenario.seed.wrapping_add(i);
            let run = windtunnel_harness::run(&s, windtunnel_harness::RunOptions::default());
            done += 1;
            bar.set(done);
            let run = run?;
            if github {
                summary.add(&run);
            }
            runs.add(run);
        }
        let Some(first) = runs.kept.first() else { continue };
        let name = plain_line(&scenario.name);
        let seeds = if args.seeds > 1 { format!(" ({} seeds)", args.seeds) } else { String::new() };
        if first.assertions.is_empty() {
            lines.push(format!("ok    {name}: no assertions{seeds}"));
        }
        let mut suite = JunitSuite::of_seeds(first, runs.last_seed);
        for (k, a) in first.assertions.iter().enumerate() {
            // The first seed that breaks it, or the first seed.
            let (report, shown) = runs.shown(k).unwrap_or((first, a));
            let broken = runs.broken.get(k).copied().unwrap_or(0);
            let note = if runs.count > 1 {
                format!(" (seed {}; failed on {broken} of {} seeds)", report.seed, runs.count)
            } else {
                String::new()
            };
            let mut case = JunitCase::assertion(report, shown);
            if let Some(f) = case.failure.as_mut() {
                f.message.push_str(&note);
            }
            suite.cases.push(case);
            if !shown.passed {
                failed += 1;
                if github {
                    annotations.push(to_github_annotation(report, shown, &note));
                }
            }
            let verdict = if shown.passed { "ok  " } else { "FAIL" };
            // A failing policy-error count names the first error, so the
            // author knows where to look without opening the report.
            let first_error = match &report.policy_error_first {
                Some(e) if !shown.passed && shown.name == "max_policy_errors" => {
                    format!(" (first: {})", plain_line(&e.to_string()))
                }
                _ => String::new(),
            };
            lines.push(format!("{verdict}  {name}: {}: {}{first_error}{seeds}", shown.name, shown.message()));
        }
        for class in &first.sla.classes_without_sla {
            let class = plain_line(class);
            lines.push(format!(
                "warn  {name}: class `{class}` has traffic but no [sla.{class}]: its requests cannot violate an SLA"
            ));
        }
        if let Some(b) = baseline.as_ref().filter(|b| b.scenario == scenario.name) {
            let n = runs.count as f64;
            let (cost, p95) = (runs.cost_sum / n, runs.p95_sum / n);
            for (check, actual, base) in [("baseline:cost_usd", cost, b.cost_usd), ("baseline:p95_ms", p95, b.p95_ms)] {
                let limit = base * (1.0 + args.tolerance);
                let ok = actual <= limit;
                if !ok {
                    failed += 1;
                }
                let change = if base > 0.0 { (actual / base - 1.0) * 100.0 } else { 0.0 };
                let message = format!(
                    "actual {actual}, baseline {base} ({change:+.1}%, tolerance {:.1}%)",
                    args.tolerance * 100.0
                );
                lines.push(format!("{}  {name}: {check}: {message}{seeds}", if ok { "ok  " } else { "FAIL" }));
                let failure = (!ok).then(|| JunitFailure { message, details: Vec::new() });
                suite.cases.push(JunitCase { name: check.to_string(), failure });
            }
        }
        suites.push(suite);
    }
    bar.finish();
    // The gate is decided; from here on only the printing can go wrong.
    let code = if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) };
    let mut out = GateOutput::new(io::stdout().lock());
    for line in &lines {
        out.write(line)?;
        out.write("\n")?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit_document(&suites)).with_context(|| format!("writing `{}`", path.display()))?;
    }
    if github {
        for a in &annotations {
            out.write(a)?;
        }
        if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
            std::fs::write(&path, summary.render())
                .with_context(|| format!("writing the job summary `{}`", PathBuf::from(&path).display()))?;
        }
    }
    out.write(&format!(
        "\n{} scenario(s), {} seed(s) each: {}\n",
        scenarios.len(),
        args.seeds,
        if failed == 0 { "all assertions hold".to_string() } else { format!("{failed} failed") }
    ))?;
    out.flush()?;
    Ok(code)
}

/// Refuses a `--tolerance` that is not a share of 0 or more: NaN would make
/// every comparison false (and the gate pass), a negative one fail on no
/// change at all, an infinite one pass anything.
fn check_tolerance(tolerance: f64) -> anyhow::Result<()> {
    if tolerance.is_finite() && tolerance >= 0.0 {
        return Ok(());
    }
    bail!("--tolerance: found {tolerance}, expected a share of 0 or more such as 0.05")
}

/// What `check` keeps of one scenario's runs, whatever the number of seeds:
/// the first run and, per assertion, the first run that broke it (at most
/// one report per assertion), with counts and the baseline's sums.
#[derive(Default)]
struct SeedRuns {
    /// The first run, then each run that was the first to break an assertion.
    kept: Vec<Report>,
    /// Per assertion (in the first run's order): the index in `kept` of the
    /// run its line shows.
    shown: Vec<usize>,
    /// Per assertion: on how many seeds it failed.
    broken: Vec<u64>,
    /// Runs added.
    count: u64,
    /// The seed of the last run.
    last_seed: u64,
    /// Sums of cost (USD) and p95 (ms) over the runs, in seed order.
    cost_sum: f64,
    p95_sum: f64,
}

impl SeedRuns {
    fn add(&mut self, mut r: Report) {
        // The charts' series are most of a report, and no output of `check` reads them.
        r.timeseries = TimeSeries::default();
        self.count += 1;
        self.last_seed = r.seed;
        self.cost_sum += r.cost.total_usd.as_usd();
        self.p95_sum += r.latency_ms.p95 as f64;
        if self.kept.is_empty() {
            self.shown = vec![0; r.assertions.len()];
            self.broken = r.assertions.iter().map(|a| u64::from(!a.passed)).collect();
            self.kept.push(r);
            return;
        }
        let next = self.kept.len();
        let mut keep = false;
        for (k, a) in r.assertions.iter().enumerate() {
            if a.passed {
                continue;
            }
            if let Some(b) = self.broken.get_mut(k) {
                *b += 1;
            }
            let shown_held = self.shown(k).is_some_and(|(_, shown)| shown.passed);
            if shown_held && let Some(s) = self.shown.get_mut(k) {
                *s = next;
                keep = true;
            }
        }
        if keep {
            self.kept.push(r);
        }
    }

    /// Assertion `k`'s line: the first run that broke it, or the first run.
    fn shown(&self, k: usize) -> Option<(&Report, &windtunnel_report::Assertion)> {
        let report = self.kept.get(*self.shown.get(k)?)?;
        Some((report, report.assertions.get(k)?))
    }
}

/// Stdout for the gate's output. A reader that went away (`check … | head`)
/// stops the printing but not the gate, whose exit code must still say
/// whether it held; any other write error is returned.
struct GateOutput<W: Write> {
    out: W,
    closed: bool,
}

impl<W: Write> GateOutput<W> {
    fn new(out: W) -> GateOutput<W> {
        GateOutput { out, closed: false }
    }

    fn write(&mut self, s: &str) -> io::Result<()> {
        let result = if self.closed { Ok(()) } else { self.out.write_all(s.as_bytes()) };
        self.ignore_broken_pipe(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = if self.closed { Ok(()) } else { self.out.flush() };
        self.ignore_broken_pipe(result)
    }

    fn ignore_broken_pipe(&mut self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}
