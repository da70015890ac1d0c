//! `budget`: no tenant's spend exceeds its budget.
//!
//! Spend is what was billed: each `AttemptFinished`'s cost and each
//! `AttemptCancelled`'s (a hedge that lost is billed for what it consumed).
//! The executor reserves an attempt's most possible cost before sending it,
//! so a correct executor never lets billed spend pass the budget, whatever
//! the interleaving of concurrent attempts. Each billed attempt that leaves
//! the tenant over budget is one violation; a free attempt adds no spend
//! and so no violation.
//!
//! Memory: one small entry per tenant seen (found by pointer, as the
//! executor's ledger does); only tenants with a budget keep an account. A
//! world without budgets skips the check at its first branch.

use crate::check::{Check, Tally, kind};
use crate::open::OpenRequests;
use crate::result::Example;
use crate::world::World;
use windtunnel_core::{EndpointIdx, Event, Nanodollars, Request, SymMap};

/// SPEC's name.
pub(crate) const NAME: &str = "budget";

/// One budgeted tenant's money.
#[derive(Clone, Copy, Debug)]
struct Account {
    budget: Nanodollars,
    spent: Nanodollars,
}

/// Billed spend of every budgeted tenant.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    /// Whether any tenant has a budget.
    any: bool,
    /// Per tenant seen, its account if it has a budget.
    accounts: SymMap<Option<Account>>,
}

impl Budget {
    /// Accounts for the world's budgets, nothing spent.
    pub(crate) fn new(world: &World) -> Budget {
        Budget { any: !world.budgets.is_empty(), accounts: SymMap::new() }
    }

    fn bill(
        &mut self,
        at: u64,
        req: &Request,
        endpoint: EndpointIdx,
        cost: Nanodollars,
        world: &World,
        tally: &mut Tally,
    ) {
        let account = self.accounts.get_or_insert_with(&req.tenant, || {
            world.budgets.get(&*req.tenant).map(|&budget| Account { budget, spent: Nanodollars::ZERO })
        });
        let Some(a) = account else { return };
        a.spent += cost;
        if cost > Nanodollars::ZERO && a.spent > a.budget {
            let Account { budget, spent } = *a;
            tally.report(|| {
                let detail =
                    format!("tenant `{}` has spent ${spent} of a ${budget} budget after this attempt", req.tenant);
                Example::new(req, at, Some(endpoint), world, detail)
            });
        }
    }
}

impl Check for Budget {
    fn reads(&self) -> u8 {
        kind::ATTEMPT_FINISHED | kind::ATTEMPT_CANCELLED
    }

    #[inline(always)]
    fn observe(&mut self, event: &Event<'_>, _open: &mut OpenRequests, world: &World, tally: &mut Tally) {
        if !self.any {
            return;
        }
        match *event {
            Event::AttemptFinished { at, req, endpoint, report, .. } => {
                self.bill(at, req, endpoint, report.usage.cost, world, tally);
            }
            Event::AttemptCancelled { at, req, endpoint, usage, .. } => {
                self.bill(at, req, endpoint, usage.cost, world, tally);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{Log, Start, all_hold, only_broken, req};
    use windtunnel_core::{AttemptError, ErrorKind, Outcome, Request};

    fn acme(seq: u64) -> Request {
        let mut r = req(seq, 0);
        r.tenant = "acme".into();
        r
    }

    #[test]
    fn spending_the_whole_budget_and_unbudgeted_tenants_pass() {
        let (a, b, c) = (acme(0), acme(1), req(2, 0));
        let mut log = Log::new();
        log.arrive(&a).arrive(&b).arrive(&c);
        log.start(0, &a, Start::new(1, 0)).start(0, &a, Start::new(2, 1)).start(0, &b, Start::new(1, 0));
        log.cancel(10, &a, 2, 1, 300); // the losing hedge is billed
        log.ok(10, &a, 1, 0, 400);
        log.fail(20, &b, 1, 0, AttemptError::new(ErrorKind::StreamCut), 300); // exactly 1,000
        log.start(20, &c, Start::new(1, 0)).ok(30, &c, 1, 0, 1_000_000); // no budget
        for r in [&a, &b, &c] {
            log.finish(30, r, Outcome::Succeeded);
        }
        all_hold(&log.results());
    }

    #[test]
    fn each_attempt_billed_over_the_budget_is_a_violation() {
        let (a, b) = (acme(0), acme(1));
        let mut log = Log::new();
        log.arrive(&a).arrive(&b);
        log.start(0, &a, Start::new(1, 0)).start(0, &b, Start::new(1, 1)).start(1, &a, Start::new(2, 2));
        log.ok(10, &a, 1, 0, 900);
        log.ok(12, &b, 1, 1, 101); // 1,001 > 1,000
        log.start(12, &b, Start::new(2, 0)).fail(13, &b, 2, 0, AttemptError::new(ErrorKind::Auth), 0); // free
        log.cancel(14, &a, 2, 2, 5); // billed while over: another violation
        log.finish(14, &a, Outcome::Succeeded).finish(14, &b, Outcome::Succeeded);
        let r = only_broken(&log.results(), "budget", 2);
        let e = &r.examples[0];
        assert_eq!((e.request.as_str(), e.at_ms, e.endpoint.as_deref()), ("2", 12, Some("b/large")));
        assert_eq!(e.detail, "tenant `acme` has spent $0.000001001 of a $0.000001000 budget after this attempt");
        assert_eq!((r.examples[1].request.as_str(), r.examples[1].at_ms), ("1", 14));
    }
}
