//! `windtunnel check`: the CI gate. Every scenario × seed is replayed; every
//! assertion of `[assert]` and every selected invariant must hold for every
//! seed. One line per scenario × assertion; exit 0 all hold, 1 one failed, 2
//! bad input.

use crate::progress::RunsProgress;
use crate::scenario_args::ScenarioArgs;
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use windtunnel_report::{
    JunitCase, JunitFailure, JunitSuite, Report, junit_document, to_github_annotations, to_github_summary,
};

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
        anyhow::bail!("--seeds 0: expected at least one seed");
    }
    let baseline = args.baseline.as_ref().map(read_baseline).transpose()?;
    // Load everything first: a bad input is exit 2 before anything runs.
    let scenarios = args.scenarios.iter().map(|p| args.common.load(p)).collect::<anyhow::Result<Vec<_>>>()?;
    // A baseline compares like with like: one of another scenario would
    // otherwise be silently skipped and the gate pass on nothing.
    if let (Some(b), Some(path)) = (&baseline, &args.baseline)
        && !scenarios.iter().any(|s| s.name == b.scenario)
    {
        let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
        anyhow::bail!(
            "baseline `{}` is a report of scenario `{}`, expected one of the checked scenarios: {}",
            path.display(),
            b.scenario,
            names.join(", ")
        );
    }
    let mut reports: Vec<Report> = Vec::new();
    let mut failed = 0usize;
    let bar = RunsProgress::new(scenarios.len() as u64 * args.seeds);
    // Lines wait until the bar is gone, so the two never interleave.
    let mut lines: Vec<String> = Vec::new();
    // JUnit: one case per assertion line (each assertion over the seeds) and
    // per baseline line; a scenario without assertions has an empty suite.
    let mut suites: Vec<JunitSuite> = Vec::new();
    for scenario in &scenarios {
        let mut runs = Vec::new();
        for i in 0..args.seeds {
            let mut s = scenario.clone();
            s.seed = scenario.seed.wrapping_add(i);
            let run = windtunnel_harness::run(&s, windtunnel_harness::RunOptions::default());
            bar.set(reports.len() as u64 + runs.len() as u64 + 1);
            runs.push(run?);
        }
        let seeds = if args.seeds > 1 { format!(" ({} seeds)", args.seeds) } else { String::new() };
        if runs[0].assertions.is_empty() {
            lines.push(format!("ok    {}: no assertions{seeds}", scenario.name));
        }
        let mut suite = check_suite(&runs);
        for (k, first) in runs[0].assertions.iter().enumerate() {
            // The first seed that breaks it, or the first seed.
            let (report, shown) =
                runs.iter().map(|r| (r, &r.assertions[k])).find(|(_, a)| !a.passed).unwrap_or((&runs[0], first));
            let mut case = JunitCase::assertion(report, shown);
            if let Some(f) = case.failure.as_mut().filter(|_| runs.len() > 1) {
                let broken = runs.iter().filter(|r| !r.assertions[k].passed).count();
                f.message = format!("{} (seed {}; failed on {broken} of {} seeds)", f.message, report.seed, runs.len());
            }
            suite.cases.push(case);
            if !shown.passed {
                failed += 1;
            }
            let verdict = if shown.passed { "ok  " } else { "FAIL" };
            // A failing policy-error count names the first error, so the
            // author knows where to look without opening the report.
            let first = match &report.policy_error_first {
                Some(e) if !shown.passed && shown.name == "max_policy_errors" => format!(" (first: {e})"),
                _ => String::new(),
            };
            lines.push(format!("{verdict}  {}: {}: {}{first}{seeds}", scenario.name, shown.name, shown.message()));
        }
        for class in &runs[0].sla.classes_without_sla {
            lines.push(format!(
                "warn  {}: class `{class}` has traffic but no [sla.{class}]: its requests cannot violate an SLA",
                scenario.name
            ));
        }
        if let Some(b) = baseline.as_ref().filter(|b| b.scenario == scenario.name) {
            let n = runs.len() as f64;
            let cost = runs.iter().map(|r| r.cost.total_usd.as_usd()).sum::<f64>() / n;
            let p95 = runs.iter().map(|r| r.latency_ms.p95 as f64).sum::<f64>() / n;
            for (name, actual, base) in [("baseline:cost_usd", cost, b.cost_usd), ("baseline:p95_ms", p95, b.p95_ms)] {
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
                lines.push(format!(
                    "{}  {}: {name}: {message}{seeds}",
                    if ok { "ok  " } else { "FAIL" },
                    scenario.name
                ));
                let failure = (!ok).then(|| JunitFailure { message, details: Vec::new() });
                suite.cases.push(JunitCase { name: name.to_string(), failure });
            }
        }
        suites.push(suite);
        reports.extend(runs);
    }
    bar.finish();
    for line in &lines {
        println!("{line}");
    }
    let refs: Vec<&Report> = reports.iter().collect();
    if let Some(path) = &args.junit {
        std::fs::write(path, junit_document(&suites)).with_context(|| format!("writing `{}`", path.display()))?;
    }
    if args.format == CheckFormat::Github {
        for r in &reports {
            print!("{}", to_github_annotations(r));
        }
        if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
            std::fs::write(&summary, to_github_summary(&refs))
                .with_context(|| format!("writing the job summary `{}`", PathBuf::from(&summary).display()))?;
        }
    }
    println!(
        "\n{} scenario(s), {} seed(s) each: {}",
        scenarios.len(),
        args.seeds,
        if failed == 0 { "all assertions hold".to_string() } else { format!("{failed} failed") }
    );
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The JUnit suite of one scenario's runs, its cases still to add
/// (`--seeds 0` is refused, so there is a first run).
fn check_suite(runs: &[Report]) -> JunitSuite {
    match (runs.first(), runs.last()) {
        (Some(first), Some(last)) => JunitSuite::of_seeds(first, last.seed),
        _ => JunitSuite::default(),
    }
}
