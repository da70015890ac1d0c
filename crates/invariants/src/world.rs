//! The static world the invariants are checked against: configuration read
//! from the scenario (or the proxy's config), never the executor's state.

use std::collections::BTreeMap;
use windtunnel_core::{EndpointFacts, EndpointIdx, Nanodollars};

/// Endpoints, SLA deadlines and budgets, as configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct World {
    /// The endpoints, indexed by [`EndpointIdx`] (scenario order).
    pub endpoints: Vec<WorldEndpoint>,
    /// SLA deadline per class (`[sla.CLASS] deadline_ms`); classes absent have none.
    pub class_deadlines_ms: BTreeMap<String, u64>,
    /// Budget per tenant for the whole run; tenants absent have none.
    pub budgets: BTreeMap<String, Nanodollars>,
}

/// What the checks need to know of one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldEndpoint {
    /// Its name (`openai/gpt-4o`), for examples.
    pub name: String,
    /// Its context window in its own tokens; `None` = unlimited.
    pub context_window: Option<u32>,
}

impl World {
    /// A world of these endpoints, `(name, context window)` in scenario
    /// order, with no SLA deadlines and no budgets.
    pub fn new<S: Into<String>>(endpoints: impl IntoIterator<Item = (S, Option<u32>)>) -> World {
        World {
            endpoints: endpoints
                .into_iter()
                .map(|(name, context_window)| WorldEndpoint { name: name.into(), context_window })
                .collect(),
            ..World::default()
        }
    }

    /// A world of the endpoints the executor was given, in the same order.
    pub fn from_facts(facts: &[EndpointFacts]) -> World {
        World::new(facts.iter().map(|f| (f.id.as_str(), f.context_window)))
    }

    /// With SLA deadlines per class.
    pub fn with_class_deadlines(mut self, class_deadlines_ms: BTreeMap<String, u64>) -> World {
        self.class_deadlines_ms = class_deadlines_ms;
        self
    }

    /// With budgets per tenant.
    pub fn with_budgets(mut self, budgets: BTreeMap<String, Nanodollars>) -> World {
        self.budgets = budgets;
        self
    }

    /// The endpoint's name; `#N` for an index the world does not know.
    pub(crate) fn endpoint_name(&self, e: EndpointIdx) -> String {
        match self.endpoints.get(e.get()) {
            Some(w) => w.name.clone(),
            None => format!("#{}", e.0),
        }
    }

    /// The endpoint's context window; `None` when unlimited or unknown.
    pub(crate) fn context_window(&self, e: EndpointIdx) -> Option<u32> {
        self.endpoints.get(e.get()).and_then(|w| w.context_window)
    }

    /// The SLA deadline of a class.
    pub(crate) fn class_deadline_ms(&self, class: &str) -> Option<u64> {
        self.class_deadlines_ms.get(class).copied()
    }
}
