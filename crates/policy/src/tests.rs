//! Behaviour tests of the whole crate: the API on hand-built contexts, the
//! sandbox's robustness, load errors, params, lint and `policy test`.

mod api;
mod fuzz;
mod load;
mod robustness;
mod testing;

use crate::Policy;
use windtunnel_core::{
    BreakerState, EndpointFacts, Health, NoBudgets, Plan, Planner, PolicyFailure, Request, RouteContext, Sym,
    TokenRatio,
};

/// A world of endpoints: facts and health side by side.
pub(crate) struct World {
    pub(crate) facts: Vec<EndpointFacts>,
    pub(crate) health: Vec<Health>,
    pub(crate) now_ms: u64,
}

impl World {
    /// Eight endpoints, cheapest last, all healthy, p95 rising with the index.
    pub(crate) fn eight() -> World {
        let names = [
            "openai/gpt-4o",
            "openai/gpt-4o-mini",
            "anthropic/claude-3-5-sonnet",
            "anthropic/claude-3-5-haiku",
            "google/gemini-1.5-pro",
            "google/gemini-1.5-flash",
            "mistral/mistral-large",
            "deepseek/deepseek-chat",
        ];
        let mut facts = Vec::new();
        let mut health = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let price = 8.0 - i as f64; // 8, 7, ..., 1 USD per Mtok
            facts.push(crate::sample::facts(
                n,
                price,
                price * 4.0,
                Some(128_000),
                Some(8_192),
                1.0,
                0.5 + i as f64 / 20.0,
            ));
            health.push(Health {
                p50_ms: 100 * (i as u64 + 1),
                p95_ms: 300 * (i as u64 + 1),
                p99_ms: 500 * (i as u64 + 1),
                error_rate: 0.01 * i as f64,
                quality: 0.5 + i as f64 / 20.0,
                ..Health::default()
            });
        }
        World { facts, health, now_ms: 1_000 }
    }

    pub(crate) fn ctx(&self) -> RouteContext<'_> {
        RouteContext {
            now_ms: self.now_ms,
            facts: &self.facts,
            health: &self.health,
            budgets: &NoBudgets,
            cached_tokens: &[],
            start_of_day_ms: 0,
        }
    }

    pub(crate) fn policy(&self, src: &str) -> Policy {
        match Policy::from_source("p.rhai", src, &self.facts, &[]) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    pub(crate) fn names(&self, plan: &Plan) -> Vec<&str> {
        plan.chain.iter().map(|e| self.facts[e.get()].id.as_str()).collect()
    }

    /// Runs `route` and returns the chain's names.
    pub(crate) fn route(&self, p: &mut Policy, req: &Request) -> Result<Vec<String>, PolicyFailure> {
        p.route(req, &self.ctx()).map(|plan| self.names(&plan).into_iter().map(String::from).collect())
    }

    pub(crate) fn set_breaker(&mut self, i: usize, b: BreakerState) {
        self.health[i].breaker = b;
    }
}

/// 1000 tokens in, 200 out, max_tokens 500, class `interactive`.
pub(crate) fn req() -> Request {
    let mut r = Request::new(0, 0, 1_000, 200);
    r.id = Some(Sym::from("r1"));
    r.class = Sym::from("interactive");
    r.max_tokens = 500;
    r
}
