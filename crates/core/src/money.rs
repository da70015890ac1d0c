//! Integer money. Every cost in windtunnel is a whole number of nano-dollars, so
//! sums never drift and two runs print the same totals to the last digit.

use serde::{Serialize, Serializer};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub, SubAssign};

/// Nano-dollars: 1 USD = 1e9. `i64` holds ±9.2e9 USD, far beyond any run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanodollars(pub i64);

/// Nano-dollars per US dollar.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

impl Nanodollars {
    /// Zero dollars.
    pub const ZERO: Nanodollars = Nanodollars(0);

    /// Rounds a dollar amount to the nearest nano-dollar. Only used at the edge
    /// (config values); arithmetic stays integer.
    pub fn from_usd(usd: f64) -> Nanodollars {
        Nanodollars((usd * NANOS_PER_USD as f64).round() as i64)
    }

    /// The amount in dollars, for printing.
    pub fn as_usd(self) -> f64 {
        self.0 as f64 / NANOS_PER_USD as f64
    }
}

impl fmt::Display for Nanodollars {
    /// Prints dollars with nine decimals, exactly (no float rounding).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000)
    }
}

impl Serialize for Nanodollars {
    /// Reports carry USD as a JSON number; it is derived from the integer, so it
    /// is the same bytes on every run.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_usd())
    }
}

impl Add for Nanodollars {
    type Output = Nanodollars;
    fn add(self, o: Nanodollars) -> Nanodollars {
        Nanodollars(self.0 + o.0)
    }
}
impl AddAssign for Nanodollars {
    fn add_assign(&mut self, o: Nanodollars) {
        self.0 += o.0;
    }
}
impl Sub for Nanodollars {
    type Output = Nanodollars;
    fn sub(self, o: Nanodollars) -> Nanodollars {
        Nanodollars(self.0 - o.0)
    }
}
impl SubAssign for Nanodollars {
    fn sub_assign(&mut self, o: Nanodollars) {
        self.0 -= o.0;
    }
}
impl Sum for Nanodollars {
    fn sum<I: Iterator<Item = Nanodollars>>(iter: I) -> Nanodollars {
        Nanodollars(iter.map(|n| n.0).sum())
    }
}

/// A per-token price, held as nano-dollars per million tokens so that list
/// prices like $0.0375/Mtok stay exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PricePerMtok(pub i64);

impl PricePerMtok {
    /// From a list price in USD per million tokens.
    pub fn from_usd(usd_per_mtok: f64) -> PricePerMtok {
        PricePerMtok((usd_per_mtok * NANOS_PER_USD as f64).round() as i64)
    }

    /// The cost of `tokens` tokens, rounded half up to a whole nano-dollar.
    pub fn cost(self, tokens: u64) -> Nanodollars {
        let micro = i128::from(self.0) * i128::from(tokens);
        Nanodollars(((micro + 500_000) / 1_000_000) as i64)
    }

    /// The price in USD per million tokens, for display and for policies.
    pub fn as_usd(self) -> f64 {
        self.0 as f64 / NANOS_PER_USD as f64
    }
}

/// Input, cached-input and output prices of one endpoint at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Price {
    /// Uncached input tokens.
    pub input: PricePerMtok,
    /// Output tokens.
    pub output: PricePerMtok,
    /// Cached input tokens (prefix cache hits); equals `input` when unset.
    pub cached_input: PricePerMtok,
}

impl Price {
    /// The cost of one attempt's tokens, as the endpoint counts them.
    pub fn cost(&self, input_tokens: u64, cached_input_tokens: u64, output_tokens: u64) -> Nanodollars {
        self.input.cost(input_tokens) + self.cached_input.cost(cached_input_tokens) + self.output.cost(output_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn list_prices_are_exact() {
        // gpt-4o: $2.50 in, $10 out per Mtok.
        let p = Price {
            input: PricePerMtok::from_usd(2.5),
            output: PricePerMtok::from_usd(10.0),
            cached_input: PricePerMtok::from_usd(1.25),
        };
        assert_eq!(p.cost(1_000_000, 0, 0), Nanodollars(2_500_000_000));
        assert_eq!(p.cost(812, 0, 240), Nanodollars(812 * 2_500 + 240 * 10_000));
        assert_eq!(PricePerMtok::from_usd(0.0375).cost(1), Nanodollars(38)); // 37.5 rounds up
        assert_eq!(PricePerMtok::from_usd(0.0375).cost(1000), Nanodollars(37_500));
    }

    #[test]
    fn display_is_exact_dollars() {
        assert_eq!(Nanodollars(12_345_678_901).to_string(), "12.345678901");
        assert_eq!(Nanodollars(-5).to_string(), "-0.000000005");
    }

    proptest! {
        /// Billing per attempt rounds each attempt to a nano-dollar: splitting
        /// tokens over two attempts costs what one would, within 1 nd.
        #[test]
        fn splitting_tokens_moves_cost_by_at_most_one_nanodollar(
            usd in 0.0f64..100.0, a in 0u64..10_000_000, b in 0u64..10_000_000,
        ) {
            let p = PricePerMtok::from_usd(usd);
            let apart = p.cost(a) + p.cost(b);
            prop_assert!((apart.0 - p.cost(a + b).0).abs() <= 1, "{:?} vs {:?}", apart, p.cost(a + b));
        }
    }
}
