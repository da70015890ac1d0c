//! [`PolicyError`]: a policy that cannot be loaded, linted or tested, with
//! the file, line and column to blame (STYLE §3: a user input error, exit 2).
//!
//! A failing *call* at run time is not a `PolicyError` but a
//! [`PolicyFailure`](windtunnel_core::PolicyFailure): that request takes the
//! default chain and the run goes on.

use crate::suggest::Hint;

/// Why a policy could not be loaded, linted or tested.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read {file}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The script does not compile.
    #[error("{file}:{line}:{col}: {message}")]
    Compile {
        /// The file.
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        col: u32,
        /// rhai's description, lowercased.
        message: String,
    },

    /// There is no `fn route(req, ctx)`.
    #[error("{file}: missing required hook `route(req, ctx)`")]
    MissingRoute {
        /// The file.
        file: String,
    },

    /// A hook is defined with the wrong number of parameters.
    #[error("{file}:{line}:{col}: hook `{hook}` takes {}, found {found}", params(expected))]
    HookArity {
        /// The file.
        file: String,
        /// Line of its `fn`.
        line: u32,
        /// Column of its `fn`.
        col: u32,
        /// `route`, `on_error`, `accept` or `settings`.
        hook: &'static str,
        /// The parameters it must take.
        expected: &'static [&'static str],
        /// How many it takes.
        found: usize,
    },

    /// A hook failed while loading (`settings()`), or on lint's sample input.
    #[error("{file}:{line}:{col}: {hook}() failed{}: {message}", .sample.as_deref().map(|s| format!(" on {s}")).unwrap_or_default())]
    Hook {
        /// The file.
        file: String,
        /// Where it failed (the hook's `fn` when rhai gives no position, as for a limit hit).
        line: u32,
        /// See `line`.
        col: u32,
        /// The hook.
        hook: &'static str,
        /// Lint's sample request, described (`the sample request`,
        /// `sample request lint-2 (class batch, tenant acme)`); `None` for a load-time call.
        sample: Option<String>,
        /// What went wrong.
        message: String,
    },

    /// `policy lint --scenario`: the script names an endpoint the scenario lacks.
    #[error("{file}:{line}:{col}: endpoint `{name}` is not in scenario `{scenario}`{hint}")]
    UnknownEndpoint {
        /// The file.
        file: String,
        /// Line of the string literal.
        line: u32,
        /// Column of the string literal.
        col: u32,
        /// The name as written.
        name: String,
        /// The scenario's name.
        scenario: String,
        /// The nearest endpoint of the scenario.
        hint: Hint,
    },

    /// `settings()` returned a value that is not a valid setting.
    #[error("{file}:{line}:{col}: settings(): `{key}`: {message}")]
    Settings {
        /// The file.
        file: String,
        /// Line of `fn settings`.
        line: u32,
        /// Column of `fn settings`.
        col: u32,
        /// The key path (`breaker.window_s`, `default_chain[1]`).
        key: String,
        /// What is wrong with it.
        message: String,
    },

    /// `--set policy.NAME=VALUE` names a parameter `settings().params` does not declare.
    #[error("{file}: unknown policy parameter `{name}` in --set policy.{name}=...{hint}{}", if *.none_declared { " (settings() declares no params)" } else { "" })]
    UnknownParam {
        /// The file.
        file: String,
        /// The parameter.
        name: String,
        /// The nearest declared name.
        hint: Hint,
        /// Whether the policy declares no parameter at all.
        none_declared: bool,
    },

    /// `--set policy.NAME=VALUE` with a value of the wrong type.
    #[error("{file}: policy parameter `{name}` expects {expected}, found `{found}`")]
    BadParam {
        /// The file.
        file: String,
        /// The parameter.
        name: String,
        /// What its default's type asks for.
        expected: &'static str,
        /// The value given.
        found: String,
    },

    /// A test file has no policy beside it.
    #[error("{test_file}: no policy beside it (expected {policy_file})")]
    MissingPolicy {
        /// The `*_test.rhai` file.
        test_file: String,
        /// The policy it needs.
        policy_file: String,
    },

    /// `policy test PATH` with a PATH that is neither a folder nor a `*_test.rhai` file.
    #[error("{path}: not a folder or a `*_test.rhai` file")]
    NotATest {
        /// The path given.
        path: String,
    },
}

impl PolicyError {
    /// The file to blame.
    pub fn file(&self) -> &str {
        match self {
            PolicyError::Read { file, .. }
            | PolicyError::Compile { file, .. }
            | PolicyError::MissingRoute { file }
            | PolicyError::HookArity { file, .. }
            | PolicyError::Hook { file, .. }
            | PolicyError::UnknownEndpoint { file, .. }
            | PolicyError::Settings { file, .. }
            | PolicyError::UnknownParam { file, .. }
            | PolicyError::BadParam { file, .. } => file,
            PolicyError::MissingPolicy { test_file, .. } => test_file,
            PolicyError::NotATest { path } => path,
        }
    }

    /// Line and column, when the error has them.
    pub fn position(&self) -> Option<(u32, u32)> {
        match self {
            PolicyError::Compile { line, col, .. }
            | PolicyError::HookArity { line, col, .. }
            | PolicyError::Hook { line, col, .. }
            | PolicyError::UnknownEndpoint { line, col, .. }
            | PolicyError::Settings { line, col, .. } => Some((*line, *col)),
            _ => None,
        }
    }
}

/// `2 parameters (req, ctx)`, `no parameters`.
fn params(names: &[&str]) -> String {
    match names {
        [] => "no parameters".to_string(),
        [one] => format!("1 parameter ({one})"),
        _ => format!("{} parameters ({})", names.len(), names.join(", ")),
    }
}
