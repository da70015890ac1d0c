//! `ctx`: one moment's view of every endpoint, the tenants' budgets and the
//! policy's parameters.

use crate::views::{EndpointList, EndpointView, ReqView};
use rhai::{Dynamic, ImmutableString, Map};
use std::collections::BTreeMap;
use std::rc::Rc;
use windtunnel_core::{BreakerState, EndpointFacts, EndpointIdx, Health, Nanodollars, Sym};

/// The static side of the endpoints, built once per policy: facts plus their
/// names as rhai strings, so `e.name` and `names()` hand out shared strings
/// instead of allocating.
#[derive(Debug)]
pub(crate) struct EndpointTable {
    /// Facts, indexed by [`EndpointIdx`].
    pub(crate) facts: Vec<EndpointFacts>,
    /// `provider/model`.
    pub(crate) names: Vec<ImmutableString>,
    /// The part before the `/`.
    pub(crate) providers: Vec<ImmutableString>,
    /// The part after the `/`.
    pub(crate) models: Vec<ImmutableString>,
    /// Name → index.
    index: BTreeMap<Box<str>, u16>,
    /// `closed`, `open`, `half_open`.
    breaker_names: [ImmutableString; 3],
}

impl EndpointTable {
    /// A table of `facts` (at most `u16::MAX` endpoints: [`EndpointIdx`] is a `u16`).
    pub(crate) fn new(facts: &[EndpointFacts]) -> EndpointTable {
        let facts: Vec<EndpointFacts> = facts.iter().take(usize::from(u16::MAX)).cloned().collect();
        let names = facts.iter().map(|f| ImmutableString::from(f.id.as_str())).collect();
        let providers = facts.iter().map(|f| ImmutableString::from(f.id.provider())).collect();
        let models = facts.iter().map(|f| ImmutableString::from(f.id.model())).collect();
        let mut index = BTreeMap::new();
        for (i, f) in (0u16..).zip(&facts) {
            index.entry(Box::from(f.id.as_str())).or_insert(i);
        }
        let breaker_names =
            [BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen].map(|b| b.as_str().into());
        EndpointTable { facts, names, providers, models, index, breaker_names }
    }

    /// The endpoint called `name`.
    pub(crate) fn find(&self, name: &str) -> Option<u16> {
        self.index.get(name).copied()
    }

    /// Every name, for "did you mean".
    pub(crate) fn name_strs(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(ImmutableString::as_str)
    }

    /// The shared string for a breaker state.
    pub(crate) fn breaker_name(&self, b: BreakerState) -> ImmutableString {
        let i = match b {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        };
        self.breaker_names[i].clone()
    }

    /// The name of `e` (`#N` for an index past the table).
    pub(crate) fn name_of(&self, e: EndpointIdx) -> ImmutableString {
        self.names.get(e.get()).cloned().unwrap_or_else(|| format!("#{}", e.0).into())
    }

    /// The number of endpoints.
    pub(crate) fn len(&self) -> u16 {
        u16::try_from(self.facts.len()).unwrap_or(u16::MAX)
    }
}

/// What a hook may learn about tenants' money.
#[derive(Clone, Debug)]
pub(crate) enum BudgetView {
    /// During `route`: the executor's budgets are borrowed for the call only,
    /// so the request's own tenant is read up front and is the one visible.
    Tenant {
        /// The request's tenant.
        tenant: Sym,
        /// Spent and reserved.
        spent: Nanodollars,
        /// Left, `None` without a budget.
        left: Option<Nanodollars>,
    },
    /// In policy tests: every tenant the test described.
    Table(BTreeMap<String, (Nanodollars, Option<Nanodollars>)>),
}

impl BudgetView {
    /// `(spent, left)` of `tenant`, or why it cannot be seen.
    pub(crate) fn get(&self, tenant: &str) -> Result<(Nanodollars, Option<Nanodollars>), String> {
        match self {
            BudgetView::Tenant { tenant: t, spent, left } if **t == *tenant => Ok((*spent, *left)),
            BudgetView::Tenant { tenant: t, .. } => Err(format!(
                "budget of tenant `{tenant}` is not visible here: route sees only its request's tenant (`{t}`)"
            )),
            BudgetView::Table(t) => Ok(t.get(tenant).copied().unwrap_or((Nanodollars::ZERO, None))),
        }
    }
}

/// Everything one call can see. Shared by the `ctx` object and every
/// endpoint view and list made from it during the call.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Endpoint facts and names.
    pub(crate) table: Rc<EndpointTable>,
    /// Live health, indexed like `table`.
    pub(crate) health: Vec<Health>,
    /// Now, on the driver's clock.
    pub(crate) now_ms: u64,
    /// Tenants' budgets.
    pub(crate) budgets: BudgetView,
    /// Parameter values (defaults from `settings()` with overrides applied).
    pub(crate) params: Rc<Map>,
    /// Per endpoint, the routed request's input tokens its prompt cache
    /// holds (empty: none anywhere).
    pub(crate) cached: Vec<windtunnel_core::CacheUse>,
    /// The UTC time of day now, ms since midnight.
    pub(crate) time_of_day_ms: u64,
}

impl Snapshot {
    /// A snapshot of no endpoints (the list made from an empty array).
    pub(crate) fn empty() -> Rc<Snapshot> {
        Rc::new(Snapshot {
            table: Rc::new(EndpointTable::new(&[])),
            health: Vec::new(),
            now_ms: 0,
            budgets: BudgetView::Table(BTreeMap::new()),
            params: Rc::new(Map::new()),
            cached: Vec::new(),
            time_of_day_ms: 0,
        })
    }

    /// What endpoint `i`'s prompt cache would do with the routed request's
    /// prompt: the input tokens it holds, and those it would write.
    pub(crate) fn cached(&self, i: u16) -> windtunnel_core::CacheUse {
        self.cached.get(usize::from(i)).copied().unwrap_or_default()
    }

    /// Health of endpoint `i` (default when the driver passed fewer).
    pub(crate) fn health(&self, i: u16) -> Health {
        self.health.get(usize::from(i)).copied().unwrap_or_default()
    }

    /// Breaker not open and not held off by a Retry-After or a quota bench,
    /// the rule of [`RouteContext::healthy`](windtunnel_core::RouteContext::healthy).
    pub(crate) fn healthy(&self, i: u16) -> bool {
        let h = self.health(i);
        h.breaker != BreakerState::Open && h.rate_limited_until_ms <= self.now_ms
    }

    /// Facts of endpoint `i`.
    pub(crate) fn facts(&self, i: u16) -> &EndpointFacts {
        &self.table.facts[usize::from(i)]
    }
}

/// `ctx`.
#[derive(Clone, Debug)]
pub(crate) struct CtxView(pub(crate) Rc<Snapshot>);

impl CtxView {
    /// `ctx.now_ms`.
    pub(crate) fn now_ms(&self) -> rhai::INT {
        super::int(self.0.now_ms)
    }

    /// `ctx.time_of_day_ms`: the UTC time of day now, ms since midnight
    /// (the trace's `start_at` plus `now_ms`; the wall clock live).
    pub(crate) fn time_of_day_ms(&self) -> rhai::INT {
        super::int(self.0.time_of_day_ms)
    }

    /// `ctx.endpoints()`: every endpoint, scenario order.
    pub(crate) fn endpoints(&self) -> EndpointList {
        EndpointList::new(self.0.clone(), (0..self.0.table.len()).collect())
    }

    /// `ctx.endpoint(name)`.
    pub(crate) fn endpoint(&self, name: &str) -> Result<EndpointView, String> {
        match self.0.table.find(name) {
            Some(i) => Ok(EndpointView::new(self.0.clone(), i)),
            None => Err(format!(
                "unknown endpoint `{name}`{}",
                crate::suggest::Hint::for_name(name, self.0.table.name_strs())
            )),
        }
    }

    /// `ctx.candidates(req)`: healthy and fitting, scenario order.
    pub(crate) fn candidates(&self, req: &ReqView) -> EndpointList {
        let s = &self.0;
        let items = (0..s.table.len()).filter(|&i| s.healthy(i) && s.facts(i).fits(req.request())).collect();
        EndpointList::new(s.clone(), items)
    }

    /// `ctx.param(name)`.
    pub(crate) fn param(&self, name: &str) -> Result<Dynamic, String> {
        match self.0.params.get(name) {
            Some(v) => Ok(v.clone()),
            None if self.0.params.is_empty() => {
                Err(format!("unknown policy parameter `{name}` (settings() declares no params)"))
            }
            None => Err(format!(
                "unknown policy parameter `{name}`{}",
                crate::suggest::Hint::for_name(name, self.0.params.keys().map(|k| k.as_str()))
            )),
        }
    }

    /// `ctx.spent(tenant)` in USD.
    pub(crate) fn spent(&self, tenant: &str) -> Result<f64, String> {
        self.0.budgets.get(tenant).map(|(s, _)| s.as_usd())
    }

    /// `ctx.budget_left(tenant)` in USD, `()` without a budget.
    pub(crate) fn budget_left(&self, tenant: &str) -> Result<Dynamic, String> {
        self.0.budgets.get(tenant).map(|(_, l)| l.map_or(Dynamic::UNIT, |l| Dynamic::from_float(l.as_usd())))
    }
}
