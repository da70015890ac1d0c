//! `windtunnel policy lint|test`.

use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// `windtunnel policy …`.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Compile a policy, check its hooks, and run `route` once on a sample request.
    Lint {
        /// The policy script.
        file: PathBuf,
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
        PolicyCommand::Lint { file } => {
            let report = windtunnel_policy::lint(&file)?;
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Test { path, junit } => {
            let run = windtunnel_policy::run_tests(&path)?;
            print!("{}", run.render_text());
            if let Some(j) = junit {
                std::fs::write(&j, run.render_junit()).with_context(|| format!("writing `{}`", j.display()))?;
            }
            Ok(ExitCode::from(run.exit_code()))
        }
    }
}
