//! `windtunnel load`: replays a trace (a scenario's, or a trace file) open
//! loop against any OpenAI-compatible URL, then writes `load.json` and prints
//! a summary of what came back.

use crate::scenario_args::TraceFormatArg;
use anyhow::{Context, bail};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use windtunnel_core::{Request, Streams};
use windtunnel_proxy::{LoadOptions, Secret, run_load};
use windtunnel_trace::{ReadOptions, TraceReader};

/// Arguments of `windtunnel load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// A scenario (its trace is replayed) or a trace file.
    source: PathBuf,
    /// The OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1.
    #[arg(long)]
    target: String,
    /// Arrival times are divided by this.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// The environment variable holding the bearer key to send, if any.
    #[arg(long)]
    api_key_env: Option<String>,
    /// At most this many requests in flight.
    #[arg(long, default_value_t = 4096)]
    max_inflight: usize,
    /// The format of a trace file.
    #[arg(long, value_enum, default_value = "jsonl")]
    trace_format: TraceFormatArg,
    /// Output folder (default `reports/load/`).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: LoadArgs) -> anyhow::Result<ExitCode> {
    if !(args.speed >= 0.001 && args.speed <= 1e6) {
        bail!("--speed: found {}, expected a number from 0.001 to 1000000", args.speed);
    }
    if !(args.target.starts_with("http://") || args.target.starts_with("https://")) {
        bail!(
            "--target: found `{}`, expected an http:// or https:// URL such as http://127.0.0.1:8080/v1",
            args.target
        );
    }
    let api_key = match &args.api_key_env {
        Some(var) => Some(Secret::new(
            std::env::var(var).with_context(|| format!("--api-key-env: environment variable {var} is not set"))?,
        )),
        None => None,
    };
    // The trace is read twice: once to check every line and count them (a
    // bad line stops the load before it sends anything), then streamed as
    // it is sent, so memory holds the requests in flight, not the trace.
    let scenario = match args.source.extension().is_some_and(|e| e == "toml") {
        true => Some(windtunnel_config::load_scenario(&args.source, &[])?),
        false => None,
    };
    let open = || -> anyhow::Result<Box<dyn Iterator<Item = anyhow::Result<Request>>>> {
        Ok(match &scenario {
            Some(scenario) => {
                let mut source =
                    windtunnel_harness::Requests::open(&scenario.trace, &Streams::from_seed(scenario.seed))?;
                Box::new(std::iter::from_fn(move || source.next_request().map_err(anyhow::Error::from).transpose()))
            }
            None => {
                let reader = TraceReader::open(&args.source, args.trace_format.format(), ReadOptions::default())?;
                Box::new(reader.map(|r| r.map_err(anyhow::Error::from)))
            }
        })
    };
    let mut total = 0u64;
    for r in open()? {
        r?;
        total += 1;
    }
    let opts = LoadOptions { target: args.target.clone(), speed: args.speed, api_key, max_inflight: args.max_inflight };
    let bar = crate::progress::RunsProgress::new(total);
    let failed = std::cell::RefCell::new(None);
    let requests = open()?.map_while(|r| r.map_err(|e| *failed.borrow_mut() = Some(e)).ok());
    let report = run_load(requests, &opts, |n| bar.set(n))?;
    if let Some(e) = failed.into_inner() {
        // The file changed between the two readings.
        return Err(e.context("the trace changed while it was being sent"));
    }
    bar.finish();
    let out = args.out.unwrap_or_else(|| Path::new("reports").join("load"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating output folder `{}`", out.display()))?;
    let path = out.join("load.json");
    let json = serde_json::to_string_pretty(&report).context("serializing load.json")?;
    std::fs::write(&path, json + "\n").with_context(|| format!("writing `{}`", path.display()))?;
    let mut o = std::io::stdout().lock();
    writeln!(o, "load → {} at speed {}", report.target, report.speed)?;
    writeln!(
        o,
        "  sent {}   answered {}   lost {}   answered twice {}   wall {:.1} s",
        report.sent,
        report.answered,
        report.lost,
        report.answered_twice,
        report.wall_ms as f64 / 1000.0
    )?;
    let statuses: Vec<String> = report.by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
    writeln!(o, "  status   {}", statuses.join(", "))?;
    let l = &report.latency_ms;
    let t = &report.ttft_ms;
    let clock =
        if report.speed == 1.0 { String::new() } else { format!("   (experiment ms: wall x {})", report.speed) };
    writeln!(o, "  200s     p50/p90/p99 of answers with status 200{clock}")?;
    writeln!(o, "  latency  p50 {} ms   p90 {} ms   p99 {} ms   max {} ms", l.p50, l.p90, l.p99, l.max)?;
    writeln!(o, "  ttfb     p50 {} ms   p90 {} ms   p99 {} ms", t.p50, t.p90, t.p99)?;
    if !report.endpoints.is_empty() {
        let e: Vec<String> = report.endpoints.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(o, "  served   {}", e.join(", "))?;
    }
    writeln!(o, "wrote {}", path.display())?;
    Ok(ExitCode::SUCCESS)
}
