//! `windtunnel policy test [PATH]`: policy unit tests.
//!
//! Each `X_test.rhai` is compiled together with the `X.rhai` beside it (the
//! two ASTs merged, the test file's functions winning a clash), so a test
//! calls the policy's hooks directly: `route(req, ctx)`, `on_error(...)`,
//! `accept(...)`, `settings()`. Every `fn test_*()` runs in file order, as
//! its own call: a failed assertion, a runtime error or a limit hit fails
//! that test, never the run. Helpers (see `helpers`) build requests,
//! contexts in chosen states, errors, attempts and responses.
//!
//! Output is OPA's (`PASS: file: test`, `FAIL: file: test: line:col: why`,
//! then `N passed, M failed`) and JUnit XML. Durations are left out on
//! purpose: the output of a run is the same bytes every time.

mod helpers;
mod render;

use crate::PolicyError;
use crate::engine::{Purpose, max_operations, sandbox};
use crate::hooks::Hooks;
use crate::outline::{Outline, outline};
use crate::policy::{compile, display, load_settings, read};
use crate::script_error::ScriptError;
use rhai::{CallFnOptions, Dynamic, Scope};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The suffix that marks a test file.
const TEST_SUFFIX: &str = "_test.rhai";

/// One test's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    /// The test file, as found from the PATH given.
    pub file: String,
    /// The test function.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed: `line:col: message` in the test file, or
    /// `policy.rhai:line:col: message` when the error is in the policy.
    pub message: Option<String>,
}

/// The results of a `policy test` run, in file then definition order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestRun {
    /// Every test.
    pub results: Vec<TestResult>,
}

impl TestRun {
    /// Tests that passed.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }

    /// Tests that failed.
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// 0 when every test passed, 1 when one failed (SPEC; 2, a file that does
    /// not compile, is the `Err` of [`run_tests`]).
    pub fn exit_code(&self) -> u8 {
        u8::from(self.failed() > 0)
    }
}

/// Runs the policy tests under `path`: a folder (searched recursively for
/// `*_test.rhai`, in path order) or one `*_test.rhai` file. A file that does
/// not compile, or a test file without its policy, is an `Err`.
pub fn run_tests(path: &Path) -> Result<TestRun, PolicyError> {
    let files = if path.is_dir() {
        let mut files = Vec::new();
        find_tests(path, &mut files)?;
        files.sort();
        files
    } else if path.is_file() && path.to_string_lossy().ends_with(TEST_SUFFIX) {
        vec![path.to_path_buf()]
    } else {
        return Err(PolicyError::NotATest { path: display(path) });
    };
    let mut run = TestRun::default();
    for f in files {
        run.results.extend(run_file(&f)?);
    }
    Ok(run)
}

/// Every `*_test.rhai` under `dir`. Symbolic links to folders are not
/// followed: a link to a parent folder would make the walk endless (two of
/// them, exponential). Links to test files are taken.
fn find_tests(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| PolicyError::Read { file: display(dir), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| PolicyError::Read { file: display(dir), source })?;
        let p = entry.path();
        // The entry's own type: a symbolic link is a link, wherever it points.
        let kind = entry.file_type().map_err(|source| PolicyError::Read { file: display(&p), source })?;
        if kind.is_dir() {
            find_tests(&p, out)?;
        } else if kind.is_symlink() && p.is_dir() {
            continue;
        } else if p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(TEST_SUFFIX)) {
            out.push(p);
        }
    }
    Ok(())
}

/// Runs one test file.
fn run_file(test_path: &Path) -> Result<Vec<TestResult>, PolicyError> {
    let test_file = display(test_path);
    let name = test_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let policy_path = test_path.with_file_name(format!("{}.rhai", name.trim_end_matches(TEST_SUFFIX)));
    if !policy_path.is_file() {
        return Err(PolicyError::MissingPolicy { test_file, policy_file: display(&policy_path) });
    }
    let policy_file = display(&policy_path);
    let policy_src = read(&policy_path)?;
    let test_src = read(test_path)?;

    let mut engine = sandbox(Purpose::Tests);
    let limit = max_operations(Purpose::Tests);
    let policy_ast = compile(&engine, &policy_file, &policy_src)?;
    let policy_outline = outline(&policy_src);
    let hooks = Hooks::find(&policy_ast, &policy_outline, &policy_file)?;
    let settings = load_settings(&engine, &policy_ast, &hooks, &policy_file, &[], limit)?;
    let params = Rc::new(settings.params);
    crate::api::register_global_param(&mut engine, params.clone());
    helpers::register(&mut engine, params);
    let test_ast = compile(&engine, &test_file, &test_src)?;
    let ast = policy_ast.merge(&test_ast);
    let test_outline = outline(&test_src);

    let mut results = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for f in test_outline.fns.iter().filter(|f| f.name.starts_with("test_")) {
        if seen.contains(&f.name.as_str()) {
            continue;
        }
        seen.push(&f.name);
        let outcome = if f.params > 0 {
            Err(format!("{}:{}: test functions take no parameters, found {}", f.line, f.col, f.params))
        } else {
            let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
            engine.call_fn_with_options::<Dynamic>(options, &mut Scope::new(), &ast, &f.name, ()).map(|_| ()).map_err(
                |e| {
                    let e = ScriptError::from_eval(&e, limit);
                    blame(&e, &f.name, &test_outline, &policy_outline, &policy_file)
                },
            )
        };
        results.push(TestResult {
            file: test_file.clone(),
            name: f.name.clone(),
            passed: outcome.is_ok(),
            message: outcome.err(),
        });
    }
    Ok(results)
}

/// `line:col: message`, prefixed with the policy file when the error
/// happened in a function only the policy defines.
fn blame(e: &ScriptError, test: &str, tests: &Outline, policy: &Outline, policy_file: &str) -> String {
    let defines = |o: &Outline, name: &str| o.fns.iter().any(|f| f.name == name);
    // The innermost named function (closures have generated names).
    let function =
        e.functions.iter().rev().map(String::as_str).find(|n| defines(tests, n) || defines(policy, n)).unwrap_or(test);
    let in_policy = !defines(tests, function) && defines(policy, function);
    match (e.position, in_policy) {
        (Some((l, c)), true) => format!("{policy_file}:{l}:{c}: {}", e.message),
        (Some((l, c)), false) => format!("{l}:{c}: {}", e.message),
        (None, _) => e.message.clone(),
    }
}
