//! Flags shared by the commands that load a scenario: `--policy`, `--trace`,
//! `--seed`, `--set`.

use anyhow::bail;
use clap::Args;
use std::path::{Path, PathBuf};
use windtunnel_config::{Override, PolicySpec, Scenario, TraceSource, load_scenario};
use windtunnel_trace::TraceFormat;

/// Trace formats on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TraceFormatArg {
    /// windtunnel's JSON lines.
    Jsonl,
    /// Azure LLM inference CSV.
    Azure,
    /// BurstGPT CSV.
    Burstgpt,
    /// Mooncake JSON lines.
    Mooncake,
}

impl TraceFormatArg {
    /// The library's format.
    pub(crate) fn format(self) -> TraceFormat {
        match self {
            TraceFormatArg::Jsonl => TraceFormat::Jsonl,
            TraceFormatArg::Azure => TraceFormat::Azure,
            TraceFormatArg::Burstgpt => TraceFormat::Burstgpt,
            TraceFormatArg::Mooncake => TraceFormat::Mooncake,
        }
    }
}

/// Scenario overrides from the command line.
#[derive(Debug, Args)]
pub(crate) struct ScenarioArgs {
    /// Use this policy instead of the scenario's.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Replay this trace instead of the scenario's.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// The format of `--trace`.
    #[arg(long, value_enum, default_value = "jsonl", requires = "trace")]
    trace_format: TraceFormatArg,
    /// Seed for every random draw (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scenario value, e.g. `endpoints.openai/gpt-4o.price.output_per_mtok=15`
    /// or a policy parameter, `policy.max_p95_ms=2000`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Skip trace lines that cannot be read and count them in the report,
    /// instead of stopping at the first.
    #[arg(long)]
    skip_bad_lines: bool,
}

/// Refuses a `--policy` or `--trace` that is missing or a folder, saying
/// which; devices and pipes go on to the reader, which bounds what it reads.
fn readable(what: &str, path: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => bail!("cannot read {what} `{}`: is a directory, expected a file", path.display()),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("cannot read {what} `{}`: no such file", path.display())
        }
        Err(e) => bail!("cannot read {what} `{}`: {e}", path.display()),
    }
}

impl ScenarioArgs {
    /// Loads `path` with these overrides applied.
    pub(crate) fn load(&self, path: &Path) -> anyhow::Result<Scenario> {
        self.load_with(path, self.policy.as_deref(), &[])
    }

    /// Loads `path` with these overrides, another policy, and more `--set`s.
    pub(crate) fn load_with(&self, path: &Path, policy: Option<&Path>, extra: &[String]) -> anyhow::Result<Scenario> {
        let overrides = self.sets.iter().chain(extra).map(|s| Override::parse(s)).collect::<Result<Vec<_>, _>>()?;
        let mut scenario = load_scenario(path, &overrides)?;
        if let Some(seed) = self.seed {
            scenario.seed = seed;
        }
        if self.skip_bad_lines {
            scenario.trace.skip_bad_lines = true;
        }
        if let Some(policy) = policy {
            readable("policy", policy)?;
            scenario.policy = PolicySpec::Script(policy.to_path_buf());
        }
        if let Some(trace) = &self.trace {
            readable("trace", trace)?;
            scenario.trace.source = TraceSource::File { path: trace.clone(), format: self.trace_format.format() };
        }
        Ok(scenario)
    }
}
