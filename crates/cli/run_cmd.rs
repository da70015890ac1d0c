//! `windtunnel run`.

use crate::progress::Progress;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use windtunnel_config::{Override, PolicySpec, TraceSource, load_scenario};
use windtunnel_harness::RunOptions;
use windtunnel_report::{Report, to_json};
use windtunnel_trace::TraceFormat;

/// Arguments of `windtunnel run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Use this policy instead of the scenario's.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Replay this trace (JSON lines) instead of the scenario's.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Seed for every random draw (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scenario value, e.g. `endpoints.openai/gpt-4o.price.output_per_mtok=15`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Output folder (default `reports/<scenario name>/`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Report formats, comma-separated: json, md.
    #[arg(long, value_delimiter = ',', default_value = "json,md")]
    format: Vec<String>,
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let overrides = args.sets.iter().map(|s| Override::parse(s)).collect::<Result<Vec<_>, _>>()?;
    let mut scenario = load_scenario(&args.scenario, &overrides)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(policy) = args.policy {
        if !policy.is_file() {
            bail!("cannot read policy `{}`: no such file", policy.display());
        }
        scenario.policy = PolicySpec::Script(policy);
    }
    if let Some(trace) = args.trace {
        if !trace.is_file() {
            bail!("cannot read trace `{}`: no such file", trace.display());
        }
        let format = match &scenario.trace.source {
            TraceSource::File { format, .. } => *format,
            TraceSource::Synthetic(_) => TraceFormat::Jsonl,
        };
        scenario.trace.source = TraceSource::File { path: trace, format };
    }
    for f in &args.format {
        if !matches!(f.as_str(), "json" | "md") {
            bail!("unknown report format `{f}`, expected a comma-separated list of: json, md");
        }
    }
    let mut progress = Progress::for_run(&scenario);
    let mut update = |n, now| progress.update(n, now);
    let report = windtunnel_harness::run(&scenario, RunOptions { extra_sink: None, progress: Some(&mut update) });
    progress.finish();
    let report = report?;
    let out = args.out.unwrap_or_else(|| Path::new("reports").join(&scenario.name));
    std::fs::create_dir_all(&out).with_context(|| format!("creating output folder `{}`", out.display()))?;
    let mut written = Vec::new();
    if args.format.iter().any(|f| f == "json") {
        let path = out.join("report.json");
        std::fs::write(&path, to_json(&report)?).with_context(|| format!("writing `{}`", path.display()))?;
        written.push(path);
    }
    if args.format.iter().any(|f| f == "md") {
        let path = out.join("report.md");
        std::fs::write(&path, windtunnel_report::to_markdown(&report))
            .with_context(|| format!("writing `{}`", path.display()))?;
        written.push(path);
    }
    print_summary(&report);
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
}
