//! `windtunnel policy lint FILE.rhai`: compile, check the hooks and their
//! parameters, call `settings()`, and run the hooks once on a sample request
//! against the sample endpoints of [`sample`](crate::sample).
//!
//! Lint has no scenario, so it cannot know the real endpoints. Besides the
//! four samples it adds a generic endpoint for every string literal in the
//! script shaped like `provider/model`, so a policy that names its endpoints
//! (`"mistral/mistral-large"`) lints without a false "unknown endpoint".

use crate::hooks::{ACCEPT, Hook, ON_ERROR, ROUTE};
use crate::outline::outline;
use crate::policy::{display, read};
use crate::{Policy, PolicyError, sample};
use std::fmt;
use std::path::Path;
use windtunnel_core::{
    AttemptError, AttemptInfo, EndpointIdx, ErrorAction, ErrorKind, Nanodollars, NoBudgets, Plan, Planner,
    PolicyFailure, ResponseInfo, RouteContext,
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
    /// How many sample endpoints the context held.
    pub endpoints: usize,
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
    let (facts, health) = sample::world(&outline(source).endpoint_literals);
    let mut policy = Policy::from_source(file, source, &facts, &[])?;
    let req = sample::request();
    let ctx = RouteContext { now_ms: 0, facts: &facts, health: &health, budgets: &NoBudgets };
    let hooks = *policy.hook_positions();
    let sample_err = |hook: Hook, pos: (u32, u32), f: PolicyFailure| {
        let (line, col) = f.position.unwrap_or(pos);
        PolicyError::Hook { file: file.to_string(), line, col, hook: hook.name, sample: true, message: f.message }
    };

    let plan = policy.route(&req, &ctx).map_err(|f| sample_err(ROUTE, hooks.route, f))?;
    let first = plan.chain.first().copied().unwrap_or(EndpointIdx(0));
    let on_error = match hooks.on_error {
        Some(pos) => {
            let attempt = AttemptInfo { number: 1, endpoint: first, elapsed_ms: 1_200 };
            let err = AttemptError::new(ErrorKind::ServerError).with_status(500);
            policy.on_error(&req, &attempt, &err).map_err(|f| sample_err(ON_ERROR, pos, f))?
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
            Some(policy.accept(&req, &resp).map_err(|f| sample_err(ACCEPT, pos, f))?)
        }
        None => None,
    };
    let chain = plan.chain.iter().map(|&e| policy.table().name_of(e).to_string()).collect();
    Ok(LintReport {
        file: file.to_string(),
        hooks: policy.hooks(),
        params: policy.params(),
        endpoints: facts.len(),
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
        writeln!(
            f,
            "  sample request lint-1 (interactive, 800 input tokens, max_tokens 1024) on {} sample endpoints:",
            self.endpoints
        )?;
        let mut limits = vec![format!("attempt_timeout_ms {}", self.plan.attempt_timeout_ms)];
        let opt = [
            ("ttft_timeout_ms", self.plan.ttft_timeout_ms),
            ("stall_timeout_ms", self.plan.stall_timeout_ms),
            ("max_attempts", self.plan.max_attempts.map(u64::from)),
            ("hedge_after_ms", self.plan.hedge_after_ms),
            ("deadline_ms", self.plan.deadline_ms),
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
