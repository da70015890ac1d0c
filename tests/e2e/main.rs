//! End-to-end tests of the `windtunnel` binary: one test binary (one link on a
//! 2-core machine), each test running the real command line.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

mod bad_input;
mod check;
mod live;
mod run;
mod trace;
mod whatif;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/data/<rel>`: slices of the public traces kept in the repo (see its README).
pub fn test_data(rel: &str) -> PathBuf {
    root().join("tests/data").join(rel)
}

/// Runs `windtunnel args…` from the repository root.
pub fn windtunnel(args: &[&str]) -> Output {
    windtunnel_in(&root(), args)
}

/// Runs `windtunnel args…` from `dir`.
pub fn windtunnel_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_windtunnel")).args(args).current_dir(dir).output().expect("run windtunnel")
}

/// Stdout and stderr as text, for assertion messages.
pub fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}
