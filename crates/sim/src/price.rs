//! Prices that change at given times; the price at an attempt's start applies.

use windtunnel_config::PriceChange;
use windtunnel_core::Price;

/// An endpoint's price over the run.
#[derive(Clone, Debug)]
pub struct PriceSchedule {
    changes: Vec<(u64, Price)>,
}

impl PriceSchedule {
    /// The initial price and the (sorted) changes.
    pub fn new(initial: Price, changes: &[PriceChange]) -> PriceSchedule {
        let mut v = vec![(0, initial)];
        v.extend(changes.iter().map(|c| (c.at_ms, c.price)));
        PriceSchedule { changes: v }
    }

    /// The price in force at `t`.
    pub fn at(&self, t: u64) -> Price {
        let i = self.changes.partition_point(|(at, _)| *at <= t);
        self.changes[i.saturating_sub(1)].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use windtunnel_core::PricePerMtok;

    #[test]
    fn the_price_at_the_attempt_start_applies() {
        let p = |x| Price {
            input: PricePerMtok::from_usd(x),
            output: PricePerMtok::from_usd(x),
            cached_input: PricePerMtok::from_usd(x),
        };
        let s = PriceSchedule::new(p(2.0), &[PriceChange { at_ms: 1000, price: p(1.0) }]);
        assert_eq!(s.at(999), p(2.0));
        assert_eq!(s.at(1000), p(1.0));
        assert_eq!(s.at(5000), p(1.0));
    }
}
