//! Assertions: the scenario's `[assert]` table checked against the report's
//! own figures, and the invariant results the caller copies in.
//!
//! # Why the report evaluates itself
//! `check` gates CI on these results and `run` prints them, so they must be
//! computed once, from exactly the numbers the report shows: an assertion's
//! `actual` is the report's figure, not a recomputation that could round
//! differently. Comparisons are exact in the figure's own type: money in
//! integer nano-dollars, milliseconds and counts as integers, rates as the
//! correctly rounded `f64` quotient (so `1 / 1000 <= 0.001` holds, as a user
//! writing the boundary expects).
//!
//! # Order and names
//! `[assert]` keys in SPEC's order (`max_cost_usd`, `max_error_rate`,
//! `max_sla_violation_rate`, `max_p99_ms`, then `max_p95_ms`, which SPEC's
//! example leaves out, beside its sibling, then `min_quality`, then
//! `max_policy_errors`, which is always checked: its default is 0), then one
//! `invariant:<name>` per selected invariant in SPEC's invariant order.
//!
//! # Invariants
//! `invariants = "all"` selects every invariant the checker reported;
//! a list selects those names. A listed name the checker did not report fails
//! with a `null` actual: a gate must not pass on a check that never ran.

use crate::schema::{Assertion, Figure, InvariantEntry, Report};
use std::fmt;
use windtunnel_config::{AssertSpec, InvariantSelection};
use windtunnel_core::INVARIANT_NAMES;

/// Sort key: SPEC's invariants first in SPEC order, then any other by name.
fn rank(name: &str) -> (usize, &str) {
    (INVARIANT_NAMES.iter().position(|n| *n == name).unwrap_or(INVARIANT_NAMES.len()), name)
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

// === impl Report ===

impl Report {
    /// Stores the invariant checker's results, sorted into SPEC order. Call it
    /// before [`Report::evaluate`], which reads them.
    pub fn set_invariants(&mut self, mut invariants: Vec<InvariantEntry>) {
        invariants.sort_by(|a, b| rank(&a.name).cmp(&rank(&b.name)));
        self.invariants = invariants;
    }

    /// Checks `spec` against this report's figures and stores the results in
    /// [`Report::assertions`] (replacing earlier ones).
    pub fn evaluate(&mut self, spec: &AssertSpec) {
        self.assertions = self.assertions_for(spec);
    }

    /// The results of `spec` against this report, without storing them.
    pub fn assertions_for(&self, spec: &AssertSpec) -> Vec<Assertion> {
        let mut out = Vec::new();
        let mut push = |name: &str, passed: bool, actual: Figure, limit: Figure| {
            out.push(Assertion { name: name.to_string(), passed, actual, limit });
        };
        if let Some(limit) = spec.max_cost_usd {
            let actual = self.cost.total_usd;
            push("max_cost_usd", actual <= limit, Figure::Usd(actual), Figure::Usd(limit));
        }
        if let Some(limit) = spec.max_error_rate {
            let actual = ratio(self.outcomes.failed, self.trace.requests);
            push("max_error_rate", actual <= limit, Figure::Real(actual), Figure::Real(limit));
        }
        if let Some(limit) = spec.max_sla_violation_rate {
            let actual = self.sla.rate;
            push("max_sla_violation_rate", actual <= limit, Figure::Real(actual), Figure::Real(limit));
        }
        if let Some(limit) = spec.max_p99_ms {
            let actual = self.latency_ms.p99;
            push("max_p99_ms", actual <= limit, Figure::Int(actual), Figure::Int(limit));
        }
        if let Some(limit) = spec.max_p95_ms {
            let actual = self.latency_ms.p95;
            push("max_p95_ms", actual <= limit, Figure::Int(actual), Figure::Int(limit));
        }
        if let Some(limit) = spec.min_quality {
            let actual = self.quality.mean;
            push("min_quality", actual >= limit, Figure::Real(actual), Figure::Real(limit));
        }
        let limit = spec.max_policy_errors;
        push("max_policy_errors", self.policy_errors <= limit, Figure::Int(self.policy_errors), Figure::Int(limit));
        let mut selected: Vec<&str> = match &spec.invariants {
            InvariantSelection::All => self.invariants.iter().map(|i| i.name.as_str()).collect(),
            InvariantSelection::Only(names) => names.iter().map(String::as_str).collect(),
        };
        selected.sort_by_key(|n| rank(n));
        selected.dedup();
        for name in selected {
            let (passed, actual) = match self.invariants.iter().find(|i| i.name == name) {
                Some(i) => (i.violations == 0, Figure::Int(i.violations)),
                None => (false, Figure::Missing),
            };
            push(&format!("invariant:{name}"), passed, actual, Figure::Int(0));
        }
        out
    }

    /// Whether every stored assertion held (true when there are none).
    pub fn passed(&self) -> bool {
        self.assertions.iter().all(|a| a.passed)
    }

    /// The stored assertions that failed.
    pub fn failed_assertions(&self) -> impl Iterator<Item = &Assertion> {
        self.assertions.iter().filter(|a| !a.passed)
    }

    /// The invariant an `invariant:<name>` assertion stands for.
    pub fn invariant(&self, name: &str) -> Option<&InvariantEntry> {
        self.invariants.iter().find(|i| i.name == name)
    }
}

// === impl Assertion ===

impl Assertion {
    /// `actual 1.59, limit 1.0`: what `check`, JUnit and GitHub print.
    pub fn message(&self) -> String {
        format!("actual {}, limit {}", self.actual, self.limit)
    }

    /// For `invariant:<name>` assertions, the invariant's name.
    pub fn invariant_name(&self) -> Option<&str> {
        self.name.strip_prefix("invariant:")
    }
}

// === impl Figure ===

impl fmt::Display for Figure {
    /// The number as the JSON report prints it: the shortest text that reads
    /// back to the same `f64` (`1.0`, `0.001`), integers as integers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Figure::Usd(usd) => write!(f, "{:?}", usd.as_usd()),
            Figure::Real(x) => write!(f, "{x:?}"),
            Figure::Int(n) => write!(f, "{n}"),
            Figure::Missing => f.write_str("missing (not checked)"),
        }
    }
}
