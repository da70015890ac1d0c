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
//! - **A closed stdout** (`windtunnel run … | head`) is a quiet exit 0: a
//!   broken pipe is not the user's mistake, and the reader has what it
//!   wanted. Commands write with `write!` on a locked stdout and return the
//!   error; a `println!` that panics on it instead is caught here too.
//! - **Negative numbers** reach the commands' own checks (`--rate -5` says
//!   what is wrong with -5): every option that takes a value accepts one,
//!   where clap would call it an unexpected argument.
//! - **A CSV trace read as JSON lines** gets the flag that gives its format,
//!   which only the command line knows.
//!
//! # Dependencies
//! - clap: arguments and `--help`.
//! - anyhow: context on errors at the top, where they are rendered.
//! - indicatif: the progress bar of long runs (terminal only).
//! - serde_json: `trace stats --json`.

#![expect(clippy::print_stderr, reason = "the CLI is the one place that prints")]

mod check_cmd;
mod load_cmd;
mod policy_cmd;
mod progress;
mod proxy_cmd;
mod run_cmd;
mod scenario_args;
mod serve_sim_cmd;
mod trace_cmd;
mod whatif_cmd;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use windtunnel_harness::RunError;
use windtunnel_trace::{Problem, TraceError};

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
    /// Live mode: an OpenAI-compatible proxy running the scenario's policy in front of real endpoints.
    Proxy(proxy_cmd::ProxyArgs),
    /// Serve the scenario's simulated endpoints over HTTP (OpenAI-compatible), in real time / --speed.
    ServeSim(serve_sim_cmd::ServeSimArgs),
    /// Replay a trace open loop against any OpenAI-compatible URL and count what comes back.
    Load(load_cmd::LoadArgs),
}

fn main() -> ExitCode {
    // What `Cli::try_parse` does, on the command with negative numbers allowed.
    let parsed = allow_negative_numbers(Cli::command())
        .try_get_matches()
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut Cli::command())));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with exit 0, usage errors with 2.
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let csv_hint = csv_hint(&cli.command);
    quiet_broken_pipe_panics();
    match panic::catch_unwind(AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(code)) => code,
        Ok(Err(err)) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            let hint = if looks_like_csv(&err) { csv_hint } else { "" };
            eprintln!("error: {}{hint}", render_chain(&err));
            ExitCode::from(2)
        }
        Err(payload) if is_broken_pipe_panic(&*payload) => ExitCode::SUCCESS,
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Lets every option that takes a value take a negative number (`--rate -5`,
/// `--seed -1`), so that the value reaches its check and gets a message that
/// says what is wrong with it, instead of clap's "unexpected argument '-5'"
/// and a tip to write `-- -5`.
fn allow_negative_numbers(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| if a.get_action().takes_values() { a.allow_negative_numbers(true) } else { a })
        .mut_subcommands(allow_negative_numbers)
}

/// What to add to a "this looks like csv" trace error: the flag that gives
/// the format in this command.
fn csv_hint(command: &Command) -> &'static str {
    match command {
        Command::Trace { command: trace_cmd::TraceCommand::Stats(_) } => "; pass --format azure|burstgpt",
        Command::Trace { command: trace_cmd::TraceCommand::Import(_) } => "; pass --from azure|burstgpt",
        Command::Run(_) | Command::Check(_) | Command::Whatif(_) => {
            "; pass --trace-format azure|burstgpt with --trace, or set `format` under [trace] in the scenario"
        }
        _ => "",
    }
}

/// Whether the error is a JSON-lines trace whose first line looks like CSV.
fn looks_like_csv(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let trace = e.downcast_ref::<TraceError>().or_else(|| match e.downcast_ref::<RunError>() {
            Some(RunError::Trace(t)) => Some(t),
            _ => None,
        });
        trace.and_then(TraceError::problem).is_some_and(|p| matches!(p, Problem::LooksLikeCsv { .. }))
    })
}

/// Whether writing failed because the reader of stdout went away.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// Whether a panic is `println!`'s on a closed stdout ("failed printing to
/// stdout: Broken pipe (os error 32)").
fn is_broken_pipe_panic(payload: &(dyn Any + Send)) -> bool {
    let message =
        payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
    message.is_some_and(|m| m.starts_with("failed printing to stdout") && m.to_lowercase().contains("broken pipe"))
}

/// Keeps the panic message and backtrace of a `println!` on a closed stdout
/// off the terminal; `main` catches the panic and exits quietly. Any other
/// panic is reported as before.
fn quiet_broken_pipe_panics() {
    let report = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !is_broken_pipe_panic(info.payload()) {
            report(info);
        }
    }));
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Check(args) => check_cmd::run(args),
        Command::Whatif(args) => whatif_cmd::run(args),
        Command::Trace { command } => trace_cmd::run(command),
        Command::Policy { command } => policy_cmd::run(command),
        Command::Proxy(args) => proxy_cmd::run(args),
        Command::ServeSim(args) => serve_sim_cmd::run(args),
        Command::Load(args) => load_cmd::run(args),
    }
}

/// `outer: inner: innermost`, each layer printing only its own context.
fn render_chain(err: &anyhow::Error) -> String {
    err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
