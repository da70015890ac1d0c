//! `windtunnel run`.

use crate::progress::Progress;
use crate::scenario_args::ScenarioArgs;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use windtunnel_harness::RunOptions;
use windtunnel_report::{Report, to_html, to_json, to_junit, to_markdown};

/// Arguments of `windtunnel run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    #[command(flatten)]
    common: ScenarioArgs,
    /// Output folder (default `reports/<scenario name>/`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Report formats, comma-separated: json, md, html, junit.
    #[arg(long, value_delimiter = ',', default_value = "json,md,html")]
    format: Vec<String>,
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    for f in &args.format {
        if !matches!(f.as_str(), "json" | "md" | "html" | "junit") {
            bail!("unknown report format `{f}`, expected a comma-separated list of: json, md, html, junit");
        }
    }
    let scenario = args.common.load(&args.scenario)?;
    let mut progress = Progress::for_run(&scenario);
    let mut update = |n, now| progress.update(n, now);
    let report = windtunnel_harness::run(
        &scenario,
        RunOptions { extra_sink: None, progress: Some(&mut update), ..RunOptions::default() },
    );
    progress.finish();
    let report = report?;
    let out = args.out.unwrap_or_else(|| Path::new("reports").join(&scenario.name));
    std::fs::create_dir_all(&out).with_context(|| format!("creating output folder `{}`", out.display()))?;
    let mut written = Vec::new();
    for format in &args.format {
        let (name, body) = match format.as_str() {
            "json" => ("report.json", to_json(&report)?),
            "md" => ("report.md", to_markdown(&report)),
            "html" => ("report.html", to_html(&report)),
            _ => ("junit.xml", to_junit(&[&report])),
        };
        let path = out.join(name);
        std::fs::write(&path, body).with_context(|| format!("writing `{}`", path.display()))?;
        written.push(path);
    }
    print_summary(&report);
    for class in &report.sla.classes_without_sla {
        eprintln!("warning: class `{class}` has traffic but no [sla.{class}]: its requests cannot violate an SLA");
    }
    for p in written {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(r: &Report) {
    let o = &r.outcomes;
    println!("{} · {} · seed {}", r.scenario, r.policy, r.seed);
    println!(
        "  requests {:>9}   succeeded {}   failed {}   rejected {}   cached {}",
        r.trace.requests, o.succeeded, o.failed, o.rejected, o.cached
    );
    println!(
        "  cost     ${:.4} (${:.6} per success, ${:.4} wasted)",
        r.cost.total_usd.as_usd(),
        r.cost.per_success_usd.as_usd(),
        r.cost.wasted_usd.as_usd()
    );
    println!(
        "  latency  p50 {} ms   p95 {} ms   p99 {} ms   max {} ms",
        r.latency_ms.p50, r.latency_ms.p95, r.latency_ms.p99, r.latency_ms.max
    );
    println!(
        "  sla      {} violations ({:.2}%)   failovers {}   attempts {}",
        r.sla.violations,
        r.sla.rate * 100.0,
        r.failover.events,
        r.attempts.total
    );
    if !o.by_reason.is_empty() {
        let reasons: Vec<String> = o.by_reason.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!("  reasons  {}", reasons.join(", "));
    }
    if r.policy_errors > 0 {
        let first = r.policy_error_first.as_ref().map(|e| format!("; first: {e}")).unwrap_or_default();
        println!("  policy   {} errors{first}", r.policy_errors);
    }
    let broken: Vec<String> =
        r.invariants.iter().filter(|i| i.violations > 0).map(|i| format!("{} ({})", i.name, i.violations)).collect();
    let failed = r.assertions.iter().filter(|a| !a.passed).count();
    println!(
        "  checks   invariants: {}   assertions: {} of {} hold",
        if broken.is_empty() { "all hold".to_string() } else { broken.join(", ") },
        r.assertions.len() - failed,
        r.assertions.len()
    );
}
