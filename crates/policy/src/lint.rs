//! `windtunnel policy lint FILE.rhai`: compile, check the hooks and their
//! parameters, call `settings()`, and run the hooks once on a sample request
//! against the sample endpoints of [`sample`](crate::sample).
//!
//! Without a scenario, lint cannot know the real endpoints. Besides the
//! four samples it adds a generic endpoint for every string literal in the
//! script shaped like `provider/model`, so a policy that names its endpoints
//! (`"mistral/mistral-large"`) lints without a false "unknown endpoint".
//!
//! With a scenario ([`lint_for_scenario`]) the endpoints are the scenario's:
//! every `provider/model` literal must name one of them, and `route` runs on
//! one sample request per class, tenant and language of the scenario (the
//! caller collects them), so a branch taken only for batch traffic or for
//! Chinese prompts is exercised before a run counts its failures.

use crate::hooks::{ACCEPT, Hook, ON_ERROR, ROUTE};
use crate::outline::outline;
use crate::policy::{display, read};
use crate::{Hint, Policy, PolicyError, sample};
use std::fmt;
use std::path::Path;
use windtunnel_core::{
    AttemptError, AttemptInfo, EndpointFacts, EndpointIdx, ErrorAction, ErrorKind, Health, Nanodollars, NoBudgets,
    Plan, Planner, PolicyFailure, Request, ResponseInfo, RouteContext,
};

/// What lint found: a script that compiles and whose hooks ran on the sample.
#[derive(Clone, Debug, PartialEq)]
pub struct LintReport {
    /// The file.
    pub file: String,
    /// Hooks defined (`route(req, ctx)`, ...), in SPEC order.
    pub hooks: Vec<String>,
    /// Parameters and their defaults.
    pub params: Vec<(String, String)>,
    /// How many endpoints the context held.
    pub endpoints: usize,
    /// How many sample requests `route` ran on.
    pub samples: usize,
    /// `route`'s plan for the sample request.
    pub plan: Plan,
    /// The plan's chain by name.
    pub chain: Vec<String>,
    /// `on_error`'s answer to a `server_error` (HTTP 500) on attempt 1, if the hook exists.
    pub on_error: Option<ErrorAction>,
    /// `accept`'s answer to an answer of quality 0.8, if the hook exists.
    pub accept: Option<bool>,
}

/// Lints the policy at `path`.
pub fn lint(path: &Path) -> Result<LintReport, PolicyError> {
    let source = read(path)?;
    lint_source(&display(path), &source)
}

/// Lints a policy from its text; `file` names it in messages.
pub fn lint_source(file: &str, source: &str) -> Result<LintReport, PolicyError> {
    let names: Vec<String> = outline(source).endpoint_literals.into_iter().map(|e| e.0).collect();
    let (facts, health) = sample::world(&names);
    lint_world(file, source, &facts, &health, &[sample::request()], &[])
}

/// A scenario's world for [`lint_for_scenario`].
#[derive(Clone, Copy, Debug)]
pub struct LintScenario<'a> {
    /// The scenario's name, for messages.
    pub name: &'a str,
    /// Its endpoints, in scenario order.
    pub facts: &'a [EndpointFacts],
    /// Sample requests: at least one per class, tenant and language of the
    /// scenario. Empty means lint's own sample request.
    pub requests: &'a [Request],
    /// `--set policy.NAME=VALUE` overrides.
    pub params: &'a [(String, String)],
}

/// Lints the policy at `path` against a scenario: its endpoints (every
/// `provider/model` literal of the script must be one of them) and `route`
/// on each of its sample requests.
pub fn lint_for_scenario(path: &Path, scenario: LintScenario<'_>) -> Result<LintReport, PolicyError> {
    let source = read(path)?;
    let file = display(path);
    let names = scenario.facts.iter().map(|f| f.id.as_str());
    if let Some((name, line, col)) =
        outline(&source).endpoint_literals.into_iter().find(|e| !scenario.facts.iter().any(|f| f.id.as_str() == e.0))
    {
        let hint = Hint::for_name(&name, names);
        return Err(PolicyError::UnknownEndpoint { file, line, col, name, scenario: scenario.name.to_string(), hint });
    }
    let health: Vec<Health> =
        scenario.facts.iter().map(|f| Health { quality: f.quality, ..Health::default() }).collect();
    let own = [sample::request()];
    let requests = if scenario.requests.is_empty() { &own[..] } else { scenario.requests };
    lint_world(&file, &source, scenario.facts, &health, requests, scenario.params)
}

/// `sample request lint-2 (class batch, tenant acme, lang zh, streamed)`.
fn describe(req: &Request) -> String {
    let lang = req.lang.as_deref().map(|l| format!(", lang {l}")).unwrap_or_default();
    let stream = if req.stream { ", streamed" } else { "" };
    format!("sample request {} (class {}, tenant {}{lang}{stream})", req.id(), req.class, req.tenant)
}

/// Runs the hooks: `route` on every request, `on_error` and `accept` on the first.
fn lint_world(
    file: &str,
    source: &str,
    facts: &[EndpointFacts],
    health: &[Health],
    requests: &[Request],
    params: &[(String, String)],
) -> Result<LintReport, PolicyError> {
    let mut policy = Policy::from_source(file, source, facts, params)?;
    let ctx = RouteContext { now_ms: 0, facts, health, budgets: &NoBudgets, cached_tokens: &[], start_of_day_ms: 0 };
    let hooks = *policy.hook_positions();
    let sample_err = |hook: Hook, pos: (u32, u32), req: &Request, f: PolicyFailure| {
        let (line, col) = f.position.unwrap_or(pos);
        let sample = Some(if requests.len() == 1 { "the sample request".to_string() } else { describe(req) });
        PolicyError::Hook { file: file.to_string(), line, col, hook: hook.name, sample, message: f.message }
    };
    let mut first_plan = None;
    for req in requests {
        let plan = policy.route(req, &ctx).map_err(|f| sample_err(ROUTE, hooks.route, req, f))?;
        first_plan.get_or_insert(plan);
    }
    let (Some(req), Some(plan)) = (requests.first(), first_plan) else {
        return Err(PolicyError::Hook {
            file: file.to_string(),
            line: hooks.route.0,
            col: hooks.route.1,
            hook: ROUTE.name,
            sample: None,
            message: "no sample request to lint with".to_string(),
        });
    };
    let sample_err = |hook: Hook, pos: (u32, u32), f: PolicyFailure| sample_err(hook, pos, req, f);
    let first = plan.chain.first().copied().unwrap_or(EndpointIdx(0));
    let on_error = match hooks.on_error {
        Some(pos) => {
            let attempt = AttemptInfo { number: 1, endpoint: first, elapsed_ms: 1_200 };
            let err = AttemptError::new(ErrorKind::ServerError).with_status(500);
            policy.on_error(req, &attempt, &err).map_err(|f| sample_err(ON_ERROR, pos, f))?
        }
        None => None,
    };
    let accept = match hooks.accept {
        Some(pos) => {
            let resp = ResponseInfo {
                endpoint: first,
                quality: 0.8,
                latency_ms: 1_500,
                ttft_ms: Some(400),
                output_tokens: 200,
                cost: Nanodollars(500_000),
            };
            Some(policy.accept(req, &resp).map_err(|f| sample_err(ACCEPT, pos, f))?)
        }
        None => None,
    };
    let chain = plan.chain.iter().map(|&e| policy.table().name_of(e).to_string()).collect();
    Ok(LintReport {
        file: file.to_string(),
        hooks: policy.hooks(),
        params: policy.params(),
        endpoints: facts.len(),
        samples: requests.len(),
        plan,
        chain,
        on_error,
        accept,
    })
}

impl fmt::Display for LintReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: ok", self.file)?;
        writeln!(f, "  hooks: {}", self.hooks.join(", "))?;
        if self.params.is_empty() {
            writeln!(f, "  params: none")?;
        } else {
            let p: Vec<String> = self.params.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            writeln!(f, "  params: {}", p.join(", "))?;
        }
        if self.samples > 1 {
            writeln!(f, "  route ran on {} sample requests (every class, tenant and language)", self.samples)?;
            writeln!(f, "  the first, on {} endpoints:", self.endpoints)?;
        } else {
            writeln!(
                f,
                "  sample request lint-1 (interactive, 800 input tokens, max_tokens 1024) on {} sample endpoints:",
                self.endpoints
            )?;
        }
        let mut limits = vec![format!("attempt_timeout_ms {}", self.plan.attempt_timeout_ms)];
        let opt = [
            ("ttft_timeout_ms", self.plan.ttft_timeout_ms),
            ("stall_timeout_ms", self.plan.stall_timeout_ms),
            ("max_attempts", self.plan.max_attempts.map(u64::from)),
            ("hedge_after_ms", self.plan.hedge_after_ms),
            ("deadline_ms", self.plan.deadline_ms),
            ("max_wait_ms", self.plan.max_wait_ms),
        ];
        limits.extend(opt.iter().filter_map(|(k, v)| v.map(|v| format!("{k} {v}"))));
        writeln!(f, "    route -> [{}], {}", self.chain.join(", "), limits.join(", "))?;
        if let Some(a) = self.on_error {
            let a = match a {
                ErrorAction::Retry => "retry",
                ErrorAction::Next => "next",
                ErrorAction::Fail => "fail",
            };
            writeln!(f, "    on_error(server_error, HTTP 500, attempt 1) -> \"{a}\"")?;
        }
        if let Some(a) = self.accept {
            writeln!(f, "    accept(quality 0.8) -> {a}")?;
        }
        Ok(())
    }
}
