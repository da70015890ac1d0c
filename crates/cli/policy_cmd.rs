//! `windtunnel policy lint|test`.

use anyhow::Context;
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `windtunnel policy …`.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Compile a policy, check its hooks, and run `route` on sample requests:
    /// one built-in request, or with `--scenario` one per class, tenant and
    /// language of the scenario, whose endpoint names are checked too.
    Lint {
        /// The policy script.
        file: PathBuf,
        /// A scenario whose endpoints and traffic to lint against.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Run policy unit tests: every `fn test_*()` in `*_test.rhai` files.
    Test {
        /// A folder (searched recursively) or one `*_test.rhai` file.
        #[arg(default_value = "policies")]
        path: PathBuf,
        /// Also write the results as JUnit XML.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
}

pub(crate) fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Lint { file, scenario: None } => {
            let report = windtunnel_policy::lint(&file)?;
            // `write!`, not `print!`: a closed stdout is an error main
            // turns into a quiet exit, not a panic.
            let mut out = std::io::stdout().lock();
            write!(out, "{report}")?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Lint { file, scenario: Some(path) } => {
            let scenario = windtunnel_config::load_scenario(&path, &[])?;
            let facts: Vec<_> = scenario.endpoints.iter().map(|e| e.facts()).collect();
            let requests = windtunnel_harness::lint_samples(&scenario)?;
            let world = windtunnel_policy::LintScenario {
                name: &scenario.name,
                facts: &facts,
                requests: &requests,
                params: &scenario.policy_params,
            };
            let report = windtunnel_policy::lint_for_scenario(&file, world)?;
            let mut out = std::io::stdout().lock();
            write!(out, "{report}")?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Test { path, junit } => {
            let run = windtunnel_policy::run_tests(&path)?;
            if let Some(j) = junit {
                std::fs::write(&j, run.render_junit()).with_context(|| format!("writing `{}`", j.display()))?;
            }
            let mut out = std::io::stdout().lock();
            write!(out, "{}", run.render_text())?;
            out.flush()?;
            Ok(ExitCode::from(run.exit_code()))
        }
    }
}
