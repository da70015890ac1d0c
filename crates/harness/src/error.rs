//! Why a run could not be carried out: a user-input problem (exit code 2 at
//! the command line), an infrastructure failure, or, for the report relay's
//! `Garbled`, a bug of ours that the run reports instead of a wrong report.

use thiserror::Error;
use windtunnel_trace::TraceError;

/// A run that could not be carried out.
#[derive(Debug, Error)]
pub enum RunError {
    /// A bad trace line, or a trace file that cannot be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The policy script cannot be loaded.
    #[error(transparent)]
    Policy(#[from] windtunnel_policy::PolicyError),
    /// `--set policy.NAME=…` on a scenario whose policy is a fixed chain.
    #[error(
        "--set policy.{name}=…: the scenario's policy is a fixed chain, which has no parameters; give a policy script with --policy"
    )]
    ParamOnChain {
        /// The parameter.
        name: String,
    },
    /// A scenario without `[trace]` (live mode only) given to a replay.
    #[error("scenario `{scenario}` has no [trace] to replay; add a [trace] table or pass --trace FILE")]
    NoTrace {
        /// The scenario's name.
        scenario: String,
    },
    /// The report thread failed.
    #[error(transparent)]
    Relay(#[from] crate::relay::RelayError),
}

impl RunError {
    /// Names the scenario in errors that lack it.
    pub(crate) fn named(self, name: &str) -> RunError {
        match self {
            RunError::NoTrace { .. } => RunError::NoTrace { scenario: name.to_string() },
            e => e,
        }
    }
}
