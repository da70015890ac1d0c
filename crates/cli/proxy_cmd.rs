//! `windtunnel proxy`: live mode. Loads the scenario, starts the proxy on
//! loopback by default, prints where it listens, and on SIGINT or SIGTERM
//! drains requests in flight, writes the report (with `--report DIR`) and
//! exits 0.

use crate::scenario_args::ScenarioArgs;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use windtunnel_proxy::{ChaosRules, ProxyOptions};

/// Arguments of `windtunnel proxy`.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// The scenario file (TOML): endpoints with an `upstream`, the policy, SLAs, budgets.
    scenario: PathBuf,
    #[command(flatten)]
    common: ScenarioArgs,
    /// Listen here instead of `[proxy] listen` (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// Write report.json, report.md and report.html here on shutdown.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write served traffic as a trace (JSON lines), replayable with `windtunnel run`.
    #[arg(long, value_name = "TRACE.jsonl")]
    record: Option<PathBuf>,
    /// With --record: write the prompts too (never keys or headers).
    #[arg(long, requires = "record")]
    record_prompts: bool,
    /// Run the executor's clock this many times faster than the wall clock
    /// (breakers, backoff, Retry-After, timeouts), to fly with serve-sim and
    /// load at one speed. For experiments only.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Chaos rules (TOML, `[[rule]]` tables) in force from the start; at run
    /// time they are read and replaced at /admin/chaos.
    #[arg(long, value_name = "FILE")]
    chaos: Option<PathBuf>,
    /// Point every endpoint without an `upstream` at serve-sim's route for it
    /// under this URL (`URL/<endpoint name>/v1`).
    #[arg(long, value_name = "URL")]
    sim: Option<String>,
}

pub(crate) fn run(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    if !(args.speed >= 0.001 && args.speed <= 1e6) {
        anyhow::bail!("--speed: found {}, expected a number from 0.001 to 1000000", args.speed);
    }
    let mut scenario = args.common.load(&args.scenario)?;
    if let Some(url) = &args.sim {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("--sim: found `{url}`, expected serve-sim's URL such as http://127.0.0.1:8100");
        }
        windtunnel_proxy::point_at_sim(&mut scenario, url);
    }
    let chaos = match &args.chaos {
        Some(path) => ChaosRules::load(path, &scenario).map_err(anyhow::Error::msg)?,
        None => ChaosRules::default(),
    };
    let name = scenario.name.clone();
    let opts = ProxyOptions {
        listen: args.listen,
        report_dir: args.report.clone(),
        env: Box::new(|k| std::env::var(k).ok()),
        record: args.record.map(|p| (p, args.record_prompts)),
        speed: args.speed,
        chaos,
    };
    let report = windtunnel_proxy::run(scenario, opts, |addr| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "windtunnel proxy: scenario {name}, listening on http://{addr} (Ctrl-C to stop)");
    })?;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "windtunnel proxy: stopped after {} requests ({} succeeded, {} failed){}",
        report.trace.requests,
        report.outcomes.succeeded,
        report.outcomes.failed,
        args.report.map(|d| format!("; report in {}", d.display())).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
