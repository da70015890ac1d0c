//! An endpoint list and its native methods.
//!
//! Why native? SPEC asks that common policies cost microseconds. A sort with a
//! script closure calls back into rhai for every comparison; `by_cost(req)`
//! computes each cost once in Rust and sorts indices. Every method returns a
//! new list (rhai values are values), and a list is a shared snapshot plus a
//! small vector of indices, so a chain of four methods makes four small
//! vectors and nothing else.

use crate::views::{EndpointView, ReqView, Snapshot};
use rhai::{Array, Dynamic};
use std::rc::Rc;
use windtunnel_core::Nanodollars;

/// `ctx.endpoints()`, `ctx.candidates(req)` and what their methods return.
#[derive(Clone, Debug)]
pub(crate) struct EndpointList {
    snap: Rc<Snapshot>,
    items: Vec<u16>,
}

impl EndpointList {
    /// The endpoints `items` of `snap`, in that order.
    pub(crate) fn new(snap: Rc<Snapshot>, items: Vec<u16>) -> EndpointList {
        EndpointList { snap, items }
    }

    /// The same snapshot with other items.
    pub(crate) fn with_items(&self, items: Vec<u16>) -> EndpointList {
        EndpointList::new(self.snap.clone(), items)
    }

    fn keep(&self, mut f: impl FnMut(u16) -> bool) -> EndpointList {
        EndpointList::new(self.snap.clone(), self.items.iter().copied().filter(|&i| f(i)).collect())
    }

    /// `by_cost(req)`: cheapest expected cost first; ties keep their order.
    pub(crate) fn by_cost(&self, req: &ReqView) -> EndpointList {
        let s = &self.snap;
        let mut keyed: Vec<(Nanodollars, u16)> =
            self.items.iter().map(|&i| (s.facts(i).est_cost_cached(req.request(), s.now_ms, s.cached(i)), i)).collect();
        keyed.sort_by_key(|&(c, _)| c);
        EndpointList::new(s.clone(), keyed.into_iter().map(|(_, i)| i).collect())
    }

    /// `by_p95()`: fastest p95 first; endpoints without data (p95 = 0) last,
    /// since nothing is known of them; ties keep their order.
    pub(crate) fn by_p95(&self) -> EndpointList {
        let s = &self.snap;
        let mut items = self.items.clone();
        items.sort_by_key(|&i| match s.health(i).p95_ms {
            0 => u64::MAX,
            p => p,
        });
        EndpointList::new(s.clone(), items)
    }

    /// `by_quality()`: best quality first; ties keep their order.
    pub(crate) fn by_quality(&self) -> EndpointList {
        let s = &self.snap;
        let mut items = self.items.clone();
        items.sort_by(|&a, &b| s.health(b).quality.total_cmp(&s.health(a).quality));
        EndpointList::new(s.clone(), items)
    }

    /// `p95_below(ms)`: p95 under `ms`; an endpoint without data counts as under.
    pub(crate) fn p95_below(&self, ms: f64) -> EndpointList {
        let s = &self.snap;
        self.keep(|i| {
            let p = s.health(i).p95_ms;
            p == 0 || (p as f64) < ms
        })
    }

    /// `error_rate_below(x)`.
    pub(crate) fn error_rate_below(&self, x: f64) -> EndpointList {
        let s = &self.snap;
        self.keep(|i| s.health(i).error_rate < x)
    }

    /// `provider_not(name)`.
    pub(crate) fn provider_not(&self, provider: &str) -> EndpointList {
        let s = &self.snap;
        self.keep(|i| s.facts(i).id.provider() != provider)
    }

    /// `cheaper_than(usd, req)`: expected cost strictly under `usd`.
    pub(crate) fn cheaper_than(&self, usd: f64, req: &ReqView) -> EndpointList {
        let s = &self.snap;
        let limit = Nanodollars::from_usd(usd);
        self.keep(|i| s.facts(i).est_cost_cached(req.request(), s.now_ms, s.cached(i)) < limit)
    }

    /// `healthy()`: breaker not open, not rate limited.
    pub(crate) fn healthy(&self) -> EndpointList {
        let s = &self.snap;
        self.keep(|i| s.healthy(i))
    }

    /// `fits(req)`: the prompt and `max_tokens` fit the window.
    pub(crate) fn fits(&self, req: &ReqView) -> EndpointList {
        let s = &self.snap;
        self.keep(|i| s.facts(i).fits(req.request()))
    }

    /// `take(n)`: the first `n` (all when fewer).
    pub(crate) fn take(&self, n: usize) -> EndpointList {
        EndpointList::new(self.snap.clone(), self.items.iter().copied().take(n).collect())
    }

    /// `names()`.
    pub(crate) fn names(&self) -> Array {
        self.items.iter().map(|&i| Dynamic::from(self.snap.table.names[usize::from(i)].clone())).collect()
    }

    /// `len()`.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// `list[i]`; a negative index counts from the end, as for arrays.
    pub(crate) fn get(&self, i: rhai::INT) -> Result<EndpointView, String> {
        let n = self.items.len();
        let at = if i < 0 {
            usize::try_from(i.unsigned_abs()).ok().and_then(|k| n.checked_sub(k))
        } else {
            usize::try_from(i).ok()
        };
        match at.and_then(|a| self.items.get(a)) {
            Some(&idx) => Ok(EndpointView::new(self.snap.clone(), idx)),
            None => Err(format!("endpoint list index {i} out of bounds: the list has {n}")),
        }
    }

    /// `contains(name)` / `contains(view)`.
    pub(crate) fn contains_name(&self, name: &str) -> bool {
        self.items.iter().any(|&i| self.snap.table.names[usize::from(i)] == name)
    }

    /// `to_array()`: the views as a plain array, for closures and array functions.
    pub(crate) fn to_array(&self) -> Array {
        self.clone().into_iter().map(Dynamic::from).collect()
    }

    /// A list of the endpoint views in `arr`, so that native methods work on
    /// arrays too (after `filter`, `retain`, ...). Every item must be an
    /// endpoint of the same call.
    pub(crate) fn from_array(arr: &Array, method: &str) -> Result<EndpointList, String> {
        let mut snap: Option<Rc<Snapshot>> = None;
        let mut items = Vec::with_capacity(arr.len());
        for (n, v) in arr.iter().enumerate() {
            let v = v.flatten_clone();
            let Some(e) = v.read_lock::<EndpointView>() else {
                return Err(format!(
                    "{method}: item {n} of the array is {}, expected an endpoint",
                    crate::convert::describe(&v)
                ));
            };
            match &snap {
                Some(s) if !Rc::ptr_eq(s, e.snapshot()) => {
                    return Err(format!("{method}: the array mixes endpoints of different contexts"));
                }
                Some(_) => {}
                None => snap = Some(e.snapshot().clone()),
            }
            items.push(e.idx());
        }
        Ok(EndpointList::new(snap.unwrap_or_else(Snapshot::empty), items))
    }

    /// Renders as `[a, b]` (names), for `print` and messages.
    pub(crate) fn render(&self) -> String {
        let names: Vec<&str> = self.items.iter().map(|&i| self.snap.table.names[usize::from(i)].as_str()).collect();
        format!("[{}]", names.join(", "))
    }
}

/// Iterates a list's endpoint views (`for e in list`).
#[derive(Debug)]
pub(crate) struct Iter {
    snap: Rc<Snapshot>,
    items: std::vec::IntoIter<u16>,
}

impl Iterator for Iter {
    type Item = EndpointView;

    fn next(&mut self) -> Option<EndpointView> {
        self.items.next().map(|i| EndpointView::new(self.snap.clone(), i))
    }
}

impl IntoIterator for EndpointList {
    type Item = EndpointView;
    type IntoIter = Iter;

    fn into_iter(self) -> Iter {
        Iter { snap: self.snap, items: self.items.into_iter() }
    }
}
