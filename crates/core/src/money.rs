//! Integer money. Every cost in windtunnel is a whole number of nano-dollars, so
//! sums never drift and two runs print the same totals to the last digit.

use serde::{Serialize, Serializer};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub, SubAssign};

/// Nano-dollars: 1 USD = 1e9. `i64` holds ±9.2e9 USD, far beyond any run;
/// arithmetic saturates there rather than wrap.
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
        Nanodollars(self.0.saturating_add(o.0))
    }
}
impl AddAssign for Nanodollars {
    fn add_assign(&mut self, o: Nanodollars) {
        self.0 = self.0.saturating_add(o.0);
    }
}
impl Sub for Nanodollars {
    type Output = Nanodollars;
    fn sub(self, o: Nanodollars) -> Nanodollars {
        Nanodollars(self.0.saturating_sub(o.0))
    }
}
impl SubAssign for Nanodollars {
    fn sub_assign(&mut self, o: Nanodollars) {
        self.0 = self.0.saturating_sub(o.0);
    }
}
impl Sum for Nanodollars {
    fn sum<I: Iterator<Item = Nanodollars>>(iter: I) -> Nanodollars {
        iter.fold(Nanodollars::ZERO, |a, b| a + b)
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
        Nanodollars::from_micro_rounded(self.micro_cost(tokens))
    }

    /// The exact cost of `tokens` tokens in millionths of a nano-dollar.
    pub fn micro_cost(self, tokens: u64) -> i128 {
        i128::from(self.0) * i128::from(tokens)
    }

    /// The price in USD per million tokens, for display and for policies.
    pub fn as_usd(self) -> f64 {
        self.0 as f64 / NANOS_PER_USD as f64
    }
}

impl Nanodollars {
    /// Millionths of a nano-dollar, rounded half up to a whole nano-dollar.
    #[inline]
    pub(crate) fn from_micro_rounded(micro: i128) -> Nanodollars {
        if let Ok(m) = i64::try_from(micro)
            && m < i64::MAX - 500_000
        {
            return Nanodollars((m + 500_000).div_euclid(1_000_000));
        }
        Nanodollars(((micro + 500_000).div_euclid(1_000_000)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
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
    /// Input tokens written to the prompt cache (Anthropic bills these at
    /// 1.25 times the input price); equals `input` when unset (OpenAI,
    /// DeepSeek and Gemini's implicit caching charge nothing extra).
    pub cache_write: PricePerMtok,
    /// Long-context pricing: above a prompt size, every token of the request
    /// at other rates (Gemini's and Anthropic's 128k / 200k tiers).
    pub long_context: Option<LongContextPrice>,
}

/// The rates a request pays when its prompt is longer than `above_tokens`,
/// as LiteLLM's `*_above_128k_tokens` and `*_above_200k_tokens` prices say:
/// the whole request (input, cached input and output) moves to these rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongContextPrice {
    /// The prompt size (input plus cached input, as this endpoint counts
    /// them) above which these rates apply.
    pub above_tokens: u64,
    /// Uncached input tokens.
    pub input: PricePerMtok,
    /// Output tokens.
    pub output: PricePerMtok,
    /// Cached input tokens.
    pub cached_input: PricePerMtok,
    /// Input tokens written to the prompt cache.
    pub cache_write: PricePerMtok,
}

/// The per-token rates one request pays ([`Price::rates`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rates {
    /// Uncached input tokens.
    pub input: PricePerMtok,
    /// Cached input tokens.
    pub cached_input: PricePerMtok,
    /// Input tokens written to the prompt cache.
    pub cache_write: PricePerMtok,
    /// Output tokens.
    pub output: PricePerMtok,
}

impl Price {
    /// The cost of one attempt's tokens, as the endpoint counts them, rounded
    /// half up to a whole nano-dollar.
    pub fn cost(&self, input_tokens: u64, cached_input_tokens: u64, output_tokens: u64) -> Nanodollars {
        Nanodollars::from_micro_rounded(self.micro_cost(input_tokens, cached_input_tokens, output_tokens))
    }

    /// The exact cost in millionths of a nano-dollar, in the tier the prompt's
    /// size selects.
    pub fn micro_cost(&self, input_tokens: u64, cached_input_tokens: u64, output_tokens: u64) -> i128 {
        self.micro_cost_with_writes(input_tokens, cached_input_tokens, 0, output_tokens)
    }

    /// [`Price::cost`] when `written_tokens` of the `input_tokens` (the
    /// uncached ones) were written to the prompt cache, at `cache_write`.
    pub fn cost_with_writes(
        &self,
        input_tokens: u64,
        cached_input_tokens: u64,
        written_tokens: u64,
        output_tokens: u64,
    ) -> Nanodollars {
        Nanodollars::from_micro_rounded(self.micro_cost_with_writes(
            input_tokens,
            cached_input_tokens,
            written_tokens,
            output_tokens,
        ))
    }

    /// [`Price::micro_cost`] with `written_tokens` of the `input_tokens`
    /// (at most all of them) billed at the cache-write price.
    pub fn micro_cost_with_writes(
        &self,
        input_tokens: u64,
        cached_input_tokens: u64,
        written_tokens: u64,
        output_tokens: u64,
    ) -> i128 {
        let r = self.rates(input_tokens.saturating_add(cached_input_tokens));
        let written = written_tokens.min(input_tokens);
        r.input.micro_cost(input_tokens - written)
            + r.cache_write.micro_cost(written)
            + r.cached_input.micro_cost(cached_input_tokens)
            + r.output.micro_cost(output_tokens)
    }

    /// The rates a request whose prompt is `prompt_tokens` long (cached
    /// input included, as this endpoint counts it) pays: the long-context
    /// tier's above its threshold, else the base ones.
    pub fn rates(&self, prompt_tokens: u64) -> Rates {
        match self.long_context {
            Some(lc) if prompt_tokens > lc.above_tokens => {
                Rates { input: lc.input, cached_input: lc.cached_input, cache_write: lc.cache_write, output: lc.output }
            }
            _ => Rates {
                input: self.input,
                cached_input: self.cached_input,
                cache_write: self.cache_write,
                output: self.output,
            },
        }
    }
}

/// Bills one endpoint's attempts without drift at prices below a nano-dollar
/// per token: each bill is rounded down to whole nano-dollars and the
/// fraction carried into the next, so a run's total is what its tokens cost
/// at the exact price, to within one nano-dollar, however many 1-token
/// requests it holds (rounding each half up billed 4.7 nd tokens as 5, 6% high).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Biller {
    /// Millionths of a nano-dollar owed but not yet billed, in `0..1_000_000`.
    carry: i128,
}

impl Biller {
    /// Bills one attempt's tokens at `price`: `input_tokens` uncached, of
    /// which `written_tokens` were written to the prompt cache.
    #[inline]
    pub fn bill(
        &mut self,
        price: &Price,
        input_tokens: u64,
        cached_input_tokens: u64,
        written_tokens: u64,
        output_tokens: u64,
    ) -> Nanodollars {
        let total =
            price.micro_cost_with_writes(input_tokens, cached_input_tokens, written_tokens, output_tokens) + self.carry;
        // Every real bill fits in an i64, where dividing by a constant is a
        // multiplication; i128 division is a library call.
        if let Ok(t) = i64::try_from(total) {
            self.carry = i128::from(t.rem_euclid(1_000_000));
            return Nanodollars(t.div_euclid(1_000_000));
        }
        let whole = total.div_euclid(1_000_000);
        self.carry = total.rem_euclid(1_000_000);
        Nanodollars(whole.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
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
            cache_write: PricePerMtok::from_usd(2.5),
            long_context: None,
        };
        assert_eq!(p.cost(1_000_000, 0, 0), Nanodollars(2_500_000_000));
        assert_eq!(p.cost(812, 0, 240), Nanodollars(812 * 2_500 + 240 * 10_000));
        assert_eq!(PricePerMtok::from_usd(0.0375).cost(1), Nanodollars(38)); // 37.5 rounds up
        assert_eq!(PricePerMtok::from_usd(0.0375).cost(1000), Nanodollars(37_500));
    }

    #[test]
    fn long_context_rates_apply_above_the_threshold_to_the_whole_request() {
        // gemini-1.5-flash: $0.075/$0.30 per Mtok, $0.15/$0.60 above 128k.
        let p = Price {
            input: PricePerMtok::from_usd(0.075),
            output: PricePerMtok::from_usd(0.30),
            cached_input: PricePerMtok::from_usd(0.075),
            cache_write: PricePerMtok::from_usd(0.075),
            long_context: Some(LongContextPrice {
                above_tokens: 128_000,
                input: PricePerMtok::from_usd(0.15),
                output: PricePerMtok::from_usd(0.60),
                cached_input: PricePerMtok::from_usd(0.15),
                cache_write: PricePerMtok::from_usd(0.15),
            }),
        };
        assert_eq!(p.cost(128_000, 0, 1_000), Nanodollars(128_000 * 75 + 1_000 * 300));
        // 200k tokens in, 1k out: 200,000 × 150 nd + 1,000 × 600 nd = $0.0306.
        assert_eq!(p.cost(200_000, 0, 1_000), Nanodollars(30_600_000));
    }

    #[test]
    fn cache_writes_and_reads_bill_at_their_own_prices_in_either_tier() {
        // claude-sonnet-4: $3 in, $15 out, $0.30 cache read, $3.75 cache
        // write per Mtok; above 200k tokens $6, $22.50, $0.60 and $7.50.
        let p = Price {
            input: PricePerMtok::from_usd(3.0),
            output: PricePerMtok::from_usd(15.0),
            cached_input: PricePerMtok::from_usd(0.30),
            cache_write: PricePerMtok::from_usd(3.75),
            long_context: Some(LongContextPrice {
                above_tokens: 200_000,
                input: PricePerMtok::from_usd(6.0),
                output: PricePerMtok::from_usd(22.5),
                cached_input: PricePerMtok::from_usd(0.60),
                cache_write: PricePerMtok::from_usd(7.50),
            }),
        };
        // 5,000 uncached tokens of which 4,096 written, 8,192 read, 300 out:
        // 904 × 3,000 + 4,096 × 3,750 + 8,192 × 300 + 300 × 15,000 nd.
        let by_hand = 904 * 3_000 + 4_096 * 3_750 + 8_192 * 300 + 300 * 15_000;
        assert_eq!(p.cost_with_writes(5_000, 8_192, 4_096, 300), Nanodollars(by_hand));
        assert_eq!(Biller::default().bill(&p, 5_000, 8_192, 4_096, 300), Nanodollars(by_hand));
        // Nothing written: the plain bill.
        assert_eq!(p.cost_with_writes(5_000, 8_192, 0, 300), p.cost(5_000, 8_192, 300));
        // Never more written than the uncached input.
        assert_eq!(p.cost_with_writes(100, 0, 1_000, 0), Nanodollars(100 * 3_750));
        // Above 200k tokens of prompt, the tier's rates, writes included.
        let long = 150_000 * 6_000 + 100_000 * 7_500 + 60_000 * 600 + 1_000 * 22_500;
        assert_eq!(p.cost_with_writes(250_000, 60_000, 100_000, 1_000), Nanodollars(long));
    }

    #[test]
    fn a_biller_carries_fractions_so_totals_do_not_drift() {
        // 4.7e-9 $/token: rounding each 1-token bill would charge 5 nd each.
        let p = Price { input: PricePerMtok::from_usd(0.0047), ..Price::default() };
        let mut b = Biller::default();
        let total: Nanodollars = (0..1_000).map(|_| b.bill(&p, 1, 0, 0, 0)).sum();
        assert_eq!(total, Nanodollars(4_700));
        assert_eq!(p.cost(1_000, 0, 0), Nanodollars(4_700));
    }

    #[test]
    fn display_is_exact_dollars() {
        assert_eq!(Nanodollars(12_345_678_901).to_string(), "12.345678901");
        assert_eq!(Nanodollars(-5).to_string(), "-0.000000005");
    }

    proptest! {
        /// A biller's total over any split of tokens is within one
        /// nano-dollar below the exact price of them all.
        #[test]
        fn billed_totals_match_the_exact_price(
            usd in 0.0f64..20.0, bills in proptest::collection::vec((0u64..5_000, 0u64..5_000), 1..200),
        ) {
            let p = Price { input: PricePerMtok::from_usd(usd), output: PricePerMtok::from_usd(usd * 3.0), ..Price::default() };
            let mut b = Biller::default();
            let billed: Nanodollars = bills.iter().map(|&(i, o)| b.bill(&p, i, 0, 0, o)).sum();
            let (ins, outs) = bills.iter().fold((0, 0), |(a, c), &(i, o)| (a + i, c + o));
            let exact = p.micro_cost(ins, 0, outs);
            prop_assert!(i128::from(billed.0) * 1_000_000 <= exact);
            prop_assert!(exact - i128::from(billed.0) * 1_000_000 < 1_000_000);
        }

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
