//! Per-tenant budgets: cost is reserved before an attempt is sent (the most it
//! can cost: input plus `max_tokens` at the price in force) and settled to
//! the billed cost when it ends. A tenant's spend plus reservations never
//! exceeds its budget, so no interleaving of concurrent attempts can
//! overspend it (SPEC invariant `budget`).

use std::collections::BTreeMap;
use windtunnel_core::{Budgets, Nanodollars, Sym, SymMap};

#[derive(Clone, Debug, Default)]
struct Account {
    limit: Option<Nanodollars>,
    spent: Nanodollars,
    reserved: Nanodollars,
}

/// Every tenant's money.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    limits: BTreeMap<String, Nanodollars>,
    accounts: SymMap<Account>,
}

impl Ledger {
    /// Budgets by tenant; tenants not listed have none (their spend is still tracked).
    pub fn new(budgets: &BTreeMap<String, Nanodollars>) -> Ledger {
        Ledger { limits: budgets.clone(), accounts: SymMap::new() }
    }

    fn account(&mut self, tenant: &Sym) -> &mut Account {
        let limits = &self.limits;
        self.accounts
            .get_or_insert_with(tenant, || Account { limit: limits.get(&**tenant).copied(), ..Account::default() })
    }

    /// Reserves `amount` for an attempt; false when it would not fit the budget.
    pub fn reserve(&mut self, tenant: &Sym, amount: Nanodollars) -> bool {
        let a = self.account(tenant);
        if let Some(limit) = a.limit
            && a.spent + a.reserved + amount > limit
        {
            return false;
        }
        a.reserved += amount;
        true
    }

    /// Replaces a reservation by what the attempt actually cost.
    pub fn settle(&mut self, tenant: &Sym, reserved: Nanodollars, cost: Nanodollars) {
        let a = self.account(tenant);
        a.reserved -= reserved;
        a.spent += cost;
    }
}

impl Budgets for Ledger {
    fn spent(&self, tenant: &str) -> Nanodollars {
        self.accounts.get(tenant).map_or(Nanodollars::ZERO, |a| a.spent + a.reserved)
    }

    fn budget_left(&self, tenant: &str) -> Option<Nanodollars> {
        match self.accounts.get(tenant) {
            Some(a) => a.limit.map(|l| l - a.spent - a.reserved),
            None => self.limits.get(tenant).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_keep_spend_within_the_budget() {
        let mut l = Ledger::new(&BTreeMap::from([("acme".to_string(), Nanodollars(100))]));
        let (acme, nobody) = (Sym::from("acme"), Sym::from("nobody"));
        assert_eq!(l.budget_left("acme"), Some(Nanodollars(100)), "known before any attempt");
        assert!(l.reserve(&acme, Nanodollars(60)));
        assert!(!l.reserve(&acme, Nanodollars(50)), "60 reserved + 50 > 100");
        l.settle(&acme, Nanodollars(60), Nanodollars(20));
        assert_eq!(l.budget_left("acme"), Some(Nanodollars(80)));
        assert!(l.reserve(&acme, Nanodollars(50)));
        assert_eq!(l.spent("acme"), Nanodollars(70));
        assert!(l.reserve(&nobody, Nanodollars(1_000_000)), "no budget, no limit");
        assert_eq!(l.budget_left("nobody"), None);
    }
}
