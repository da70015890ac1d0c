//! What the checker hands to the report: per invariant, a count of
//! violations and the first few examples (request id, time, endpoint), as
//! SPEC's `invariants: [ {name, violations, examples: [...]} ]`.

use crate::world::World;
use serde::Serialize;
use windtunnel_core::{EndpointIdx, Request};

/// Examples kept per invariant. SPEC asks for "the first few"; five is
/// enough to find the pattern in a report and keeps `report.json` small,
/// whatever the number of violations.
pub const MAX_EXAMPLES: usize = 5;

/// One invariant's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvariantResult {
    /// SPEC's name (`retry_after_respected`), one of [`crate::INVARIANT_NAMES`].
    pub name: &'static str,
    /// How many times it was broken.
    pub violations: u64,
    /// The first [`MAX_EXAMPLES`] violations, in log order.
    pub examples: Vec<Example>,
}

impl InvariantResult {
    /// Whether the invariant held over the whole log.
    pub fn holds(&self) -> bool {
        self.violations == 0
    }
}

/// One violation, as a report prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Example {
    /// The request's id as reports print it (the trace's `id`, or its line number).
    pub request: String,
    /// When it happened, on the run's clock (ms).
    pub at_ms: u64,
    /// The endpoint concerned, if one is.
    pub endpoint: Option<String>,
    /// What went wrong, in a sentence.
    pub detail: String,
}

impl Example {
    /// An example about `req` at `at_ms`, naming `endpoint` as `world` does.
    pub(crate) fn new(
        req: &Request,
        at_ms: u64,
        endpoint: Option<EndpointIdx>,
        world: &World,
        detail: String,
    ) -> Example {
        Example { request: req.id().to_string(), at_ms, endpoint: endpoint.map(|e| world.endpoint_name(e)), detail }
    }
}

/// Keeps the results whose names are in `names` (all of them for `None`, as
/// a scenario's `invariants = "all"`), in SPEC order. Unknown names select
/// nothing: the scenario loader has already refused them.
pub fn select(results: Vec<InvariantResult>, names: Option<&[String]>) -> Vec<InvariantResult> {
    match names {
        None => results,
        Some(names) => results.into_iter().filter(|r| names.iter().any(|n| n == r.name)).collect(),
    }
}
