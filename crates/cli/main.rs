//! The `windtunnel` command line.
//!
//! It owns argument parsing (clap), exit codes (0 ok, 1 a check failed, 2 bad
//! input), error rendering and the only printing in the workspace. It must
//! not hold simulation, policy or report logic: each command calls one
//! library entry point.
//!
//! Layout follows ripgrep: `main` calls `run() -> anyhow::Result<ExitCode>`;
//! an `Err` is printed as its chain of causes and exits 2, never a panic or a
//! backtrace.
//!
//! # Dependencies
//! - clap: arguments and `--help`.
//! - anyhow: context on errors at the top, where they are rendered.
//! - indicatif: the progress bar of long runs (terminal only).
//! - serde_json: `trace stats --json`.

#![expect(clippy::print_stdout, clippy::print_stderr, reason = "the CLI is the one place that prints")]

mod check_cmd;
mod policy_cmd;
mod progress;
mod run_cmd;
mod scenario_args;
mod trace_cmd;
mod whatif_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A wind tunnel for LLM routing policies.
#[derive(Debug, Parser)]
#[command(name = "windtunnel", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay a scenario's trace against its simulated endpoints and write reports.
    Run(run_cmd::RunArgs),
    /// The CI gate: every assertion and invariant of each scenario, over seeds.
    Check(check_cmd::CheckArgs),
    /// Compare policies or settings on one scenario over the same seeds (paired differences).
    Whatif(whatif_cmd::WhatifArgs),
    /// Import, generate or summarise traces.
    Trace {
        #[command(subcommand)]
        command: trace_cmd::TraceCommand,
    },
    /// Lint policies and run their unit tests.
    Policy {
        #[command(subcommand)]
        command: policy_cmd::PolicyCommand,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with exit 0, usage errors with 2.
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", render_chain(&err));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Check(args) => check_cmd::run(args),
        Command::Whatif(args) => whatif_cmd::run(args),
        Command::Trace { command } => trace_cmd::run(command),
        Command::Policy { command } => policy_cmd::run(command),
    }
}

/// `outer: inner: innermost`, each layer printing only its own context.
fn render_chain(err: &anyhow::Error) -> String {
    err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
