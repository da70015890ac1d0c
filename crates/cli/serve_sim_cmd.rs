//! `windtunnel serve-sim`: the scenario's simulated endpoints over HTTP, each
//! an OpenAI-compatible route `/<endpoint name>/v1/chat/completions`, in real
//! time divided by `--speed`, until Ctrl-C.

use crate::scenario_args::ScenarioArgs;
use anyhow::bail;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `windtunnel serve-sim`.
#[derive(Debug, Args)]
pub(crate) struct ServeSimArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    #[command(flatten)]
    common: ScenarioArgs,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8100")]
    listen: String,
    /// Virtual time runs this many times faster than the wall clock.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
}

pub(crate) fn run(args: ServeSimArgs) -> anyhow::Result<ExitCode> {
    if !(args.speed >= 0.001 && args.speed <= 1e6) {
        bail!("--speed: found {}, expected a number from 0.001 to 1000000", args.speed);
    }
    let scenario = args.common.load(&args.scenario)?;
    let names: Vec<String> = scenario.endpoints.iter().map(|e| e.id.to_string()).collect();
    windtunnel_proxy::serve_sim(&scenario, &args.listen, args.speed, |addr| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "windtunnel serve-sim: {} at speed {}, on http://{addr}:", scenario.name, args.speed);
        for n in &names {
            let _ = writeln!(err, "  http://{addr}/{n}/v1/chat/completions");
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
