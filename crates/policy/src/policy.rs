//! [`Policy`]: a compiled script, its settings and parameters, run as a
//! [`Planner`].
//!
//! Load does everything that can fail before traffic: compile, find the
//! hooks and check their parameters, call `settings()`, apply `--set`
//! overrides, resolve `default_chain`. A call then runs one hook function of
//! the compiled AST (top-level statements are not re-run) with fresh
//! arguments; whatever happens inside, the next call starts clean, because a
//! rhai call keeps no state between calls.
//!
//! Why copy health and budgets into a snapshot per call? rhai values must be
//! `'static`, and [`RouteContext`] borrows the executor's state for the call
//! only; `unsafe` lifetime tricks are forbidden here. The copy is small (a
//! `Health` per endpoint), reuses the previous call's allocation when no
//! value of that call survived it, and the endpoint facts (names, prices) are
//! shared across calls and rebuilt only if the driver passes different ones.

use crate::engine::{MAX_OPERATIONS, Purpose, sandbox};
use crate::hooks::{Hooks, SETTINGS};
use crate::outline::{Outline, outline};
use crate::script_error::ScriptError;
use crate::settings::{self, OverrideProblem};
use crate::views::{AttemptView, BudgetView, CtxView, EndpointTable, ErrView, ReqView, RespView, Snapshot};
use crate::{PolicyError, convert};
use rhai::{AST, CallFnOptions, Dynamic, Engine, FuncArgs, Map, Scope};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::rc::Rc;
use windtunnel_core::{
    AttemptError, AttemptInfo, EndpointFacts, EndpointIdx, ErrorAction, Plan, Planner, PolicyFailure, PolicySettings,
    Request, ResponseInfo, RouteContext,
};

/// How many failures a policy keeps for the report; the rest are counted.
/// Twenty show the pattern (one bug usually fails every request the same
/// way) without letting a broken policy grow memory for a day of traffic.
pub const MAX_RECORDED_FAILURES: usize = 20;

/// One failed hook call, kept for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedFailure {
    /// What failed, where.
    pub failure: PolicyFailure,
    /// The request it failed on.
    pub request_id: String,
}

impl fmt::Display for RecordedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request {}: {}", self.request_id, self.failure)
    }
}

/// A loaded routing policy.
pub struct Policy {
    file: String,
    engine: Engine,
    ast: AST,
    hooks: Hooks,
    settings: PolicySettings,
    params: Rc<Map>,
    snap: Rc<Snapshot>,
    scope: Scope<'static>,
    failures: Vec<RecordedFailure>,
    failure_count: u64,
    /// Whether the script reads latency, error-rate or quality statistics.
    needs_health: bool,
    /// Whether the script reads prompt caches (`cached_tokens`, or costs).
    needs_cached_tokens: bool,
}

/// Names through which a script can read what prompt caches hold: directly,
/// or through a cost that counts cached input at its price.
const CACHE_READERS: [&str; 4] = ["cached_tokens", "est_cost", "by_cost", "cheaper_than"];

/// Names through which a script can read health statistics. A script that
/// uses none of them routes on breaker state and Retry-After alone, and the
/// executor can skip refreshing percentiles before each call.
const HEALTH_READERS: [&str; 9] =
    ["p50_ms", "p95_ms", "p99_ms", "error_rate", "quality", "by_p95", "by_quality", "p95_below", "error_rate_below"];

fn reads_health(source: &str) -> bool {
    HEALTH_READERS.iter().any(|name| source.contains(name))
}

fn reads_cached_tokens(source: &str) -> bool {
    CACHE_READERS.iter().any(|name| source.contains(name))
}

#[cfg(test)]
mod health_reader_tests {
    use super::reads_health;

    #[test]
    fn only_scripts_that_read_statistics_need_them() {
        assert!(!reads_health("fn route(req, ctx) { ctx.candidates(req).by_cost(req).names() }"));
        assert!(reads_health("fn route(req, ctx) { ctx.candidates(req).p95_below(900).names() }"));
        assert!(reads_health(
            "fn route(req, ctx) { let e = ctx.endpoint(\"a/x\"); if e.error_rate > 0.1 { [] } else { [e] } }"
        ));
        assert!(super::reads_cached_tokens("fn route(req, ctx) { ctx.candidates(req).by_cost(req).names() }"));
        assert!(!super::reads_cached_tokens("fn route(req, ctx) { ctx.candidates(req).names() }"));
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("file", &self.file)
            .field("hooks", &self.hooks.signatures())
            .field("settings", &self.settings)
            .field("params", &self.params())
            .field("failure_count", &self.failure_count)
            .finish_non_exhaustive()
    }
}

/// Compiles `source` with `engine`; a syntax error names `file:line:col`.
pub(crate) fn compile(engine: &Engine, file: &str, source: &str) -> Result<AST, PolicyError> {
    engine.compile(source).map_err(|e| {
        let e = ScriptError::from_parse(&e);
        let (line, col) = e.position.unwrap_or((1, 1));
        PolicyError::Compile { file: file.to_string(), line, col, message: e.message }
    })
}

/// Reads a script.
pub(crate) fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|source| PolicyError::Read { file: display(path), source })
}

/// A path as messages print it.
pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Options for a hook call: run the function only, not the script's top level.
fn call_options() -> CallFnOptions<'static> {
    CallFnOptions::new().eval_ast(false).rewind_scope(true)
}

/// Calls `settings()` if the script has it and reads its answer, with the
/// `--set` overrides applied to the parameters.
pub(crate) fn load_settings(
    engine: &Engine,
    ast: &AST,
    hooks: &Hooks,
    file: &str,
    overrides: &[(String, String)],
    max_operations: u64,
) -> Result<settings::Settings, PolicyError> {
    let mut s = match hooks.settings {
        Some((line, col)) => {
            let value: Dynamic = engine
                .call_fn_with_options(call_options(), &mut Scope::new(), ast, SETTINGS.name, ())
                .map_err(|e| {
                    let e = ScriptError::from_eval(&e, max_operations);
                    let (line, col) = e.position.unwrap_or((line, col));
                    PolicyError::Hook {
                        file: file.to_string(),
                        line,
                        col,
                        hook: "settings",
                        sample: None,
                        message: e.message,
                    }
                })?;
            settings::parse(value).map_err(|p| PolicyError::Settings {
                file: file.to_string(),
                line,
                col,
                key: p.key,
                message: p.message,
            })?
        }
        None => settings::Settings::default(),
    };
    settings::apply_overrides(&mut s.params, overrides).map_err(|p| match p {
        OverrideProblem::Unknown { name, hint } => {
            PolicyError::UnknownParam { file: file.to_string(), name, hint, none_declared: s.params.is_empty() }
        }
        OverrideProblem::Type { name, expected, found } => {
            PolicyError::BadParam { file: file.to_string(), name, expected, found }
        }
    })?;
    Ok(s)
}

impl Policy {
    /// Loads the policy at `path` for a scenario whose endpoints are `facts`
    /// (in scenario order: [`EndpointIdx`] indexes them), with
    /// `--set policy.NAME=VALUE` overrides as `(NAME, VALUE)`.
    pub fn load(path: &Path, facts: &[EndpointFacts], params: &[(String, String)]) -> Result<Policy, PolicyError> {
        let source = read(path)?;
        Policy::from_source(&display(path), &source, facts, params)
    }

    /// Loads a policy from its text; `file` names it in messages.
    pub fn from_source(
        file: &str,
        source: &str,
        facts: &[EndpointFacts],
        params: &[(String, String)],
    ) -> Result<Policy, PolicyError> {
        let engine = sandbox(Purpose::Hooks);
        let ast = compile(&engine, file, source)?;
        let mut policy = Policy::from_ast(file, engine, ast, &outline(source), facts, params)?;
        policy.needs_health = reads_health(source);
        policy.needs_cached_tokens = reads_cached_tokens(source);
        Ok(policy)
    }

    pub(crate) fn from_ast(
        file: &str,
        engine: Engine,
        ast: AST,
        outline: &Outline,
        facts: &[EndpointFacts],
        overrides: &[(String, String)],
    ) -> Result<Policy, PolicyError> {
        let hooks = Hooks::find(&ast, outline, file)?;
        let s = load_settings(&engine, &ast, &hooks, file, overrides, MAX_OPERATIONS)?;
        let table = Rc::new(EndpointTable::new(facts));
        let mut settings = s.engine;
        if let Some(names) = &s.default_chain {
            let (line, col) = hooks.settings.unwrap_or((1, 1));
            let chain = names
                .iter()
                .enumerate()
                .map(|(n, name)| {
                    table.find(name).map(EndpointIdx).ok_or_else(|| PolicyError::Settings {
                        file: file.to_string(),
                        line,
                        col,
                        key: format!("default_chain[{n}]"),
                        message: format!(
                            "unknown endpoint `{name}`{}",
                            crate::suggest::Hint::for_name(name, table.name_strs())
                        ),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            settings.default_chain = Some(chain);
        }
        let params = Rc::new(s.params);
        let mut engine = engine;
        crate::api::register_global_param(&mut engine, params.clone());
        let snap = Rc::new(Snapshot {
            table,
            health: Vec::new(),
            now_ms: 0,
            budgets: BudgetView::Table(BTreeMap::new()),
            params: params.clone(),
            cached: Vec::new(),
            time_of_day_ms: 0,
        });
        Ok(Policy {
            file: file.to_string(),
            engine,
            ast,
            hooks,
            settings,
            params,
            snap,
            scope: Scope::new(),
            failures: Vec::new(),
            failure_count: 0,
            needs_health: true,
            needs_cached_tokens: true,
        })
    }

    /// The file it was loaded from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The first [`MAX_RECORDED_FAILURES`] failed hook calls.
    pub fn failures(&self) -> &[RecordedFailure] {
        &self.failures
    }

    /// How many hook calls failed in all.
    pub fn failure_count(&self) -> u64 {
        self.failure_count
    }

    /// The parameters with their values (defaults from `settings()`, then
    /// overrides), by name, values as rhai prints them.
    pub fn params(&self) -> Vec<(String, String)> {
        self.params.iter().map(|(k, v)| (k.to_string(), convert::render(v))).collect()
    }

    /// The signatures of the hooks the script defines (`route(req, ctx)`, ...).
    pub fn hooks(&self) -> Vec<String> {
        self.hooks.signatures()
    }

    pub(crate) fn hook_positions(&self) -> &Hooks {
        &self.hooks
    }

    pub(crate) fn table(&self) -> &Rc<EndpointTable> {
        &self.snap.table
    }

    /// Runs hook `name` with `args`.
    fn call(&mut self, name: &'static str, args: impl FuncArgs) -> Result<Dynamic, ScriptError> {
        self.engine
            .call_fn_with_options(call_options(), &mut self.scope, &self.ast, name, args)
            .map_err(|e| ScriptError::from_eval(&e, MAX_OPERATIONS))
    }

    /// Counts and maybe records a failure of `hook` on `req`.
    fn failed(&mut self, hook: &'static str, e: ScriptError, req: &Request) -> PolicyFailure {
        let failure = PolicyFailure { hook, message: e.message, position: e.position };
        self.failure_count += 1;
        if self.failures.len() < MAX_RECORDED_FAILURES {
            self.failures.push(RecordedFailure { failure: failure.clone(), request_id: req.id().to_string() });
        }
        failure
    }

    /// Brings the snapshot to `ctx` for `req`, reusing its allocation when
    /// the last call left no value holding it.
    fn snapshot(&mut self, req: &Request, ctx: &RouteContext<'_>) -> Rc<Snapshot> {
        let table = if self.snap.table.facts.as_slice() == ctx.facts {
            self.snap.table.clone()
        } else {
            Rc::new(EndpointTable::new(ctx.facts))
        };
        let budgets = BudgetView::Tenant {
            tenant: req.tenant.clone(),
            spent: ctx.budgets.spent(&req.tenant),
            left: ctx.budgets.budget_left(&req.tenant),
        };
        match Rc::get_mut(&mut self.snap) {
            Some(s) => {
                s.table = table;
                s.health.clear();
                s.health.extend_from_slice(ctx.health);
                s.now_ms = ctx.now_ms;
                s.budgets = budgets;
                s.cached.clear();
                s.cached.extend_from_slice(ctx.cached_tokens);
                s.time_of_day_ms = ctx.time_of_day_ms();
            }
            None => {
                self.snap = Rc::new(Snapshot {
                    table,
                    health: ctx.health.to_vec(),
                    now_ms: ctx.now_ms,
                    budgets,
                    params: self.params.clone(),
                    cached: ctx.cached_tokens.to_vec(),
                    time_of_day_ms: ctx.time_of_day_ms(),
                });
            }
        }
        self.snap.clone()
    }
}

impl Planner for Policy {
    fn needs_health(&self) -> bool {
        self.needs_health
    }

    fn needs_cached_tokens(&self) -> bool {
        self.needs_cached_tokens
    }

    fn settings(&self) -> PolicySettings {
        self.settings.clone()
    }

    fn route(&mut self, req: &Request, ctx: &RouteContext<'_>) -> Result<Plan, PolicyFailure> {
        let snap = self.snapshot(req, ctx);
        let table = snap.table.clone();
        let args = (Dynamic::from(ReqView::new(req)), Dynamic::from(CtxView(snap)));
        let result = self.call("route", args);
        let converted =
            result.and_then(|v| convert::to_plan(v, &table).map_err(|m| ScriptError::new(m, Some(self.hooks.route))));
        converted.map_err(|e| self.failed("route", e, req))
    }

    fn on_error(
        &mut self,
        req: &Request,
        attempt: &AttemptInfo,
        err: &AttemptError,
    ) -> Result<Option<ErrorAction>, PolicyFailure> {
        let Some(pos) = self.hooks.on_error else { return Ok(None) };
        let attempt = AttemptView {
            number: attempt.number,
            endpoint: self.snap.table.name_of(attempt.endpoint),
            elapsed_ms: attempt.elapsed_ms,
        };
        let args = (Dynamic::from(ReqView::new(req)), Dynamic::from(attempt), Dynamic::from(ErrView::new(err)));
        let result =
            self.call("on_error", args).and_then(|v| convert::to_action(v).map_err(|m| ScriptError::new(m, Some(pos))));
        result.map(Some).map_err(|e| self.failed("on_error", e, req))
    }

    fn has_accept(&self) -> bool {
        self.hooks.accept.is_some()
    }

    fn accept(&mut self, req: &Request, resp: &ResponseInfo) -> Result<bool, PolicyFailure> {
        let Some(pos) = self.hooks.accept else { return Ok(true) };
        let resp = RespView {
            endpoint: self.snap.table.name_of(resp.endpoint),
            quality: resp.quality,
            latency_ms: resp.latency_ms,
            ttft_ms: resp.ttft_ms,
            output_tokens: resp.output_tokens,
            cost: resp.cost,
        };
        let args = (Dynamic::from(ReqView::new(req)), Dynamic::from(resp));
        let result = self
            .call("accept", args)
            .and_then(|v| convert::to_bool(v, "accept").map_err(|m| ScriptError::new(m, Some(pos))));
        result.map_err(|e| self.failed("accept", e, req))
    }
}

#[cfg(test)]
impl Policy {
    /// Calls script function `name(req, ctx)` and returns its raw answer.
    pub(crate) fn probe(
        &mut self,
        name: &'static str,
        req: &Request,
        ctx: &RouteContext<'_>,
    ) -> Result<Dynamic, ScriptError> {
        let snap = self.snapshot(req, ctx);
        self.call(name, (Dynamic::from(ReqView::new(req)), Dynamic::from(CtxView(snap))))
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::{World, req};
    use std::rc::Rc;
    use windtunnel_core::Planner;

    #[test]
    fn the_snapshot_allocation_is_reused_across_calls() {
        let w = World::eight();
        let mut p = w.policy("fn route(req, ctx) { ctx.candidates(req).by_cost(req).take(3).names() }");
        p.route(&req(), &w.ctx()).unwrap();
        let first = Rc::as_ptr(&p.snap);
        p.route(&req(), &w.ctx()).unwrap();
        assert_eq!(Rc::as_ptr(&p.snap), first);
        assert_eq!(Rc::strong_count(&p.snap), 1, "no value of the call outlived it");
    }
}
