//! [`Mix`]: a weighted choice among interned names (classes, tenants,
//! languages) for the synthetic generator.
//!
//! Why a precomputed cumulative table: a pick is one uniform draw and a scan
//! of a few floats, with no allocation; the names are interned once, so a
//! pick costs one `Arc` clone.

use windtunnel_core::{ChaCha8Rng, Rng, Sym};

/// Above this many entries a pick bisects instead of scanning.
const SCAN_UP_TO: usize = 8;

/// A weighted choice.
#[derive(Clone, Debug)]
pub(crate) struct Mix {
    /// Running sums of the weights; the last is the total.
    cumulative: Vec<f64>,
    names: Vec<Sym>,
    /// The first name, returned by a single-entry mix without a draw.
    first: Sym,
}

impl Mix {
    /// The mix of `entries`; weights need not sum to 1. Entries whose weight
    /// is not a positive number are left out; `None` when none is left.
    pub(crate) fn new(entries: &[(String, f64)]) -> Option<Mix> {
        let mut cumulative = Vec::with_capacity(entries.len());
        let mut names = Vec::with_capacity(entries.len());
        let mut total = 0.0;
        for (name, weight) in entries {
            if *weight > 0.0 && weight.is_finite() {
                total += weight;
                cumulative.push(total);
                names.push(Sym::from(name.as_str()));
            }
        }
        let first = names.first()?.clone();
        Some(Mix { cumulative, names, first })
    }

    /// One pick; a single-entry mix draws nothing.
    pub(crate) fn pick(&self, rng: &mut ChaCha8Rng) -> &Sym {
        let last = self.names.len().saturating_sub(1);
        let Some(total) = self.cumulative.last().filter(|_| last > 0) else {
            return &self.first;
        };
        let u = rng.random::<f64>() * total;
        let i = if self.names.len() <= SCAN_UP_TO {
            self.cumulative.iter().position(|c| u < *c).unwrap_or(last)
        } else {
            self.cumulative.partition_point(|c| *c <= u).min(last)
        };
        self.names.get(i).unwrap_or(&self.first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use windtunnel_core::Streams;

    fn shares(mix: &Mix, n: usize) -> std::collections::BTreeMap<String, f64> {
        let mut rng = Streams::from_seed(3).stream("mix");
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..n {
            *counts.entry(mix.pick(&mut rng).to_string()).or_insert(0.0) += 1.0 / n as f64;
        }
        counts
    }

    #[test]
    fn picks_follow_weights_whatever_their_sum() {
        let mix = Mix::new(&[("a".into(), 7.0), ("b".into(), 3.0)]).unwrap();
        let s = shares(&mix, 20_000);
        assert!((s["a"] - 0.7).abs() < 0.015, "{s:?}");
    }

    #[test]
    fn large_mixes_bisect_to_the_same_shares() {
        let entries: Vec<(String, f64)> =
            (0..20).map(|i| (format!("t{i:02}"), if i == 5 { 10.0 } else { 1.0 })).collect();
        let s = shares(&Mix::new(&entries).unwrap(), 40_000);
        assert!((s["t05"] - 10.0 / 29.0).abs() < 0.015, "{s:?}");
        assert!((s["t19"] - 1.0 / 29.0).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn zero_negative_and_nan_weights_are_left_out() {
        let mix =
            Mix::new(&[("a".into(), 0.0), ("b".into(), -1.0), ("c".into(), f64::NAN), ("d".into(), 2.0)]).unwrap();
        assert_eq!(shares(&mix, 100).keys().collect::<Vec<_>>(), ["d"]);
        assert!(Mix::new(&[("a".into(), 0.0)]).is_none());
        assert!(Mix::new(&[]).is_none());
    }
}
