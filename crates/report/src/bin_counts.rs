//! `BinCounts`: the recording side of the report's latency histograms.
//!
//! The aggregator records two or three latencies per request (the whole
//! run's, the time bucket's, the time to first token). `hdrhistogram`'s own
//! `record` checks ranges, resizes, and keeps a minimum, maximum and total
//! at each call, on the report's hottest path (the figures are in
//! `crates/harness/benches/README.md`). Here a value costs an index
//! computation and an increment, and `hdrhistogram` still does the
//! percentiles: the counts become a `Histogram` when the report is built.
//!
//! The bins are `hdrhistogram`'s own for the same significant figures (its
//! bucket and sub-bucket layout, lowest discernible value 1), and each bin
//! is handed over as its lowest value, so every percentile, the maximum and
//! the count equal those of recording each value into a `Histogram`
//! directly (tested against it), for every value but `u64::MAX`, whose
//! maximum `hdrhistogram` reports one higher.

use hdrhistogram::Histogram;

/// Counts of values in `hdrhistogram`'s bins for `SIGFIG` significant
/// figures (1 to 5). The figures are a type parameter so that the bin
/// arithmetic compiles to constant shifts.
#[derive(Clone, Debug, Default)]
pub(crate) struct BinCounts<const SIGFIG: u8> {
    /// By bin; grown to the end of the highest bucket used, so an unused
    /// histogram allocates nothing.
    counts: Vec<u64>,
}

impl<const SIGFIG: u8> BinCounts<SIGFIG> {
    /// `hdrhistogram`'s sub-bucket count magnitude: bucket 0 holds the
    /// values below `2^MAGNITUDE` one per bin; each further bucket holds twice
    /// the range of the one before in half as many bins. The smallest power
    /// of two at or above 2 × 10^SIGFIG, as `hdrhistogram` sizes its sub-buckets.
    const MAGNITUDE: u32 = {
        assert!(SIGFIG >= 1 && SIGFIG <= 5, "hdrhistogram's significant figures are 1 to 5");
        (2 * 10u64.pow(SIGFIG as u32)).next_power_of_two().trailing_zeros()
    };

    /// Empty counts.
    pub(crate) fn new() -> Self {
        BinCounts { counts: Vec::new() }
    }

    /// Counts one value.
    #[inline(always)]
    pub(crate) fn record(&mut self, value: u64) {
        let i = self.bin(value);
        match self.counts.get_mut(i) {
            Some(c) => *c += 1,
            None => self.grow_and_record(i),
        }
    }

    #[cold]
    #[inline(never)]
    fn grow_and_record(&mut self, bin: usize) {
        // To the end of the bin's bucket: a few growths per histogram, not
        // one per new bin.
        let half_magnitude = Self::MAGNITUDE - 1;
        self.counts.resize(((bin >> half_magnitude) + 1) << half_magnitude, 0);
        self.counts[bin] += 1;
    }

    /// The bin of `value`: `hdrhistogram`'s `index_for` with a unit
    /// magnitude of 0.
    #[inline(always)]
    fn bin(&self, value: u64) -> usize {
        let m = Self::MAGNITUDE;
        let bucket = (64 - m) - (value | ((1 << m) - 1)).leading_zeros();
        let sub_bucket = (value >> bucket) as usize;
        ((bucket as usize + 1) << (m - 1)) + sub_bucket - (1 << (m - 1))
    }

    /// The lowest value of bin `i`: `hdrhistogram`'s `value_for`.
    fn lowest_value(&self, i: usize) -> u64 {
        let half_magnitude = Self::MAGNITUDE - 1;
        let half = 1usize << half_magnitude;
        match (i >> half_magnitude).checked_sub(1) {
            // The lower half of bucket 0: one value per bin.
            None => i as u64,
            Some(bucket) => (((i & (half - 1)) + half) as u64) << bucket,
        }
    }

    /// Whether nothing was counted.
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// Adds `other`'s counts to these.
    pub(crate) fn add(&mut self, other: &Self) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// The counts as an auto-resizing `hdrhistogram` of the same
    /// significant figures.
    #[expect(clippy::expect_used, reason = "`MAGNITUDE` checks at compile time that hdrhistogram accepts the figures")]
    pub(crate) fn histogram(&self) -> Histogram<u64> {
        let mut h = Histogram::new(SIGFIG).expect("valid significant figures");
        for (i, &c) in self.counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            // Auto-resizing: every value fits.
            let _ = h.record_n(self.lowest_value(i), c);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Values as latencies come: mostly milliseconds to minutes, some zeros,
    /// some out to weeks.
    fn value() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => 0u64..300,
            8 => 0u64..200_000,
            1 => Just(0u64),
            1 => 0u64..(1 << 32),
        ]
    }

    fn direct(sigfig: u8, values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new(sigfig).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    fn same(a: &Histogram<u64>, b: &Histogram<u64>) -> Result<(), TestCaseError> {
        prop_assert_eq!(a.len(), b.len());
        prop_assert_eq!(a.max(), b.max());
        prop_assert_eq!(a.min(), b.min());
        for q in [0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            prop_assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "quantile {}", q);
        }
        let bins = |h: &Histogram<u64>| {
            h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect::<Vec<_>>()
        };
        prop_assert_eq!(bins(a), bins(b));
        Ok(())
    }

    /// `values` counted with `S` figures against recorded directly.
    fn counted_is_direct<const S: u8>(values: &[u64]) -> Result<(), TestCaseError> {
        let mut c = BinCounts::<S>::new();
        for &v in values {
            c.record(v);
        }
        prop_assert!(!c.is_empty());
        same(&c.histogram(), &direct(S, values))
    }

    proptest! {
        #[test]
        fn counts_become_the_histogram_of_recording_each_value(
            // The report uses 2 and 3; 4 and 5 only cost the test time.
            sigfig in 1u8..=3,
            values in prop::collection::vec(value(), 1..400),
        ) {
            match sigfig {
                1 => counted_is_direct::<1>(&values)?,
                2 => counted_is_direct::<2>(&values)?,
                _ => counted_is_direct::<3>(&values)?,
            }
        }

        #[test]
        fn added_counts_are_the_counts_of_both(
            a in prop::collection::vec(value(), 0..200),
            b in prop::collection::vec(value(), 0..200),
        ) {
            let (mut ca, mut cb) = (BinCounts::<2>::new(), BinCounts::<2>::new());
            a.iter().for_each(|&v| ca.record(v));
            b.iter().for_each(|&v| cb.record(v));
            ca.add(&cb);
            let both: Vec<u64> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(ca.is_empty(), both.is_empty());
            if !both.is_empty() {
                same(&ca.histogram(), &direct(2, &both))?;
            }
        }
    }

    /// The last buckets' shifts, which random latencies never reach, for `S`
    /// figures. Not `u64::MAX` itself: there hdrhistogram's maximum differs
    /// by one between recording it and recording its bin's lowest value (its
    /// `highest_equivalent` saturates), and no latency is 585 million years long.
    fn top_buckets<const S: u8>() {
        let edge = 1u64 << (64 - BinCounts::<S>::MAGNITUDE);
        let values = [0, 1, edge - 1, edge, edge + 1, 1 << 62, 1 << 63, (1 << 63) + 12_345, u64::MAX - 1];
        counted_is_direct::<S>(&values).unwrap();
    }

    #[test]
    fn the_top_buckets_bin_as_hdrhistogram_does() {
        top_buckets::<2>();
        top_buckets::<3>();
    }

    #[test]
    fn the_layout_is_hdrhistograms_at_two_and_three_figures() {
        // hdrhistogram: 256 sub-buckets at 2 figures, 2048 at 3.
        assert_eq!(BinCounts::<2>::MAGNITUDE, 8);
        assert_eq!(BinCounts::<3>::MAGNITUDE, 11);
        let c = BinCounts::<2>::new();
        // One value per bin below 256, then bins two wide, then four.
        assert_eq!((c.bin(255), c.bin(256), c.bin(257), c.bin(258)), (255, 256, 256, 257));
        assert_eq!((c.lowest_value(256), c.lowest_value(257), c.lowest_value(384)), (256, 258, 512));
        assert!(c.is_empty());
        assert!(c.counts.is_empty(), "an unused histogram allocates nothing");
    }
}
