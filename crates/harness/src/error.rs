//! Why a run could not be carried out. Every variant is a user-input problem
//! (exit code 2 at the command line) or an infrastructure failure.

use std::path::PathBuf;
use thiserror::Error;
use windtunnel_trace::TraceError;

/// A run that could not be carried out.
#[derive(Debug, Error)]
pub enum RunError {
    /// A bad trace line, or a trace file that cannot be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// A Rhai policy script: the engine is not part of this build yet.
    #[error(
        "{}: Rhai policy scripts are not supported by this build yet; use `policy = {{ chain = [...] }}` in the scenario",
        path.display()
    )]
    ScriptPolicy {
        /// The script.
        path: PathBuf,
    },
    /// An adapter that did not schedule a virtual-time attempt.
    #[error("endpoint `{endpoint}` did not answer in virtual time; only simulated endpoints can replay a trace")]
    NotVirtual {
        /// The endpoint.
        endpoint: String,
    },
}
