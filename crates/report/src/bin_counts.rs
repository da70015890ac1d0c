//! `BinCounts`: the recording side of the report's latency histograms.
//!
//! The aggregator records two or three latencies per request (the whole
//! run's, the time bucket's, the time to first token). `hdrhistogram`'s own
//! `record` checks ranges, resizes, and keeps a minimum, maximum and total
//! at each call, about 37 instructions; a million-request replay spent a
//! tenth of its report's time there. Here a value costs an index
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

/// Counts of values in `hdrhistogram`'s bins for some significant figures.
#[derive(Clone, Debug)]
pub(crate) struct BinCounts {
    /// `hdrhistogram`'s sub-bucket count magnitude: bucket 0 holds the
    /// values below `2^magnitude` one per bin; each further bucket holds
    /// twice the range of the one before in half as many bins.
    magnitude: u32,
    /// Significant figures, for the `Histogram` the counts become.
    sigfig: u8,
    /// By bin; grown to the highest bin used, so an unused histogram
    /// allocates nothing.
    counts: Vec<u64>,
}

impl BinCounts {
    /// Empty counts with `sigfig` significant figures: 1 to 5 (`hdrhistogram`
    /// also takes 0, which is taken as 1 here).
    pub(crate) fn new(sigfig: u8) -> BinCounts {
        let sigfig = sigfig.clamp(1, 5);
        // The smallest power of two at or above 2 × 10^sigfig, as
        // `hdrhistogram` sizes its sub-buckets.
        let single_unit_range = 2 * 10u64.pow(u32::from(sigfig));
        BinCounts { magnitude: single_unit_range.next_power_of_two().trailing_zeros(), sigfig, counts: Vec::new() }
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
        let half_magnitude = self.magnitude - 1;
        self.counts.resize(((bin >> half_magnitude) + 1) << half_magnitude, 0);
        self.counts[bin] += 1;
    }

    /// The bin of `value`: `hdrhistogram`'s `index_for` with a unit
    /// magnitude of 0.
    #[inline(always)]
    fn bin(&self, value: u64) -> usize {
        let m = self.magnitude;
        let bucket = (64 - m) - (value | ((1 << m) - 1)).leading_zeros();
        let sub_bucket = (value >> bucket) as usize;
        ((bucket as usize + 1) << (m - 1)) + sub_bucket - (1 << (m - 1))
    }

    /// The lowest value of bin `i`: `hdrhistogram`'s `value_for`.
    fn lowest_value(&self, i: usize) -> u64 {
        let half_magnitude = self.magnitude - 1;
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

    /// Adds `other`'s counts (of the same significant figures) to these.
    pub(crate) fn add(&mut self, other: &BinCounts) {
        debug_assert_eq!(self.magnitude, other.magnitude, "adding counts of other significant figures");
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// The counts as an auto-resizing `hdrhistogram` of the same
    /// significant figures.
    #[expect(clippy::expect_used, reason = "`new` clamps the significant figures to 1..=5, which hdrhistogram accepts")]
    pub(crate) fn histogram(&self) -> Histogram<u64> {
        let mut h = Histogram::new(self.sigfig).expect("valid significant figures");
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

    proptest! {
        #[test]
        fn counts_become_the_histogram_of_recording_each_value(
            // The report uses 2 and 3; 4 and 5 only cost the test time.
            sigfig in 1u8..=3,
            values in prop::collection::vec(value(), 1..400),
        ) {
            let mut c = BinCounts::new(sigfig);
            for &v in &values {
                c.record(v);
            }
            prop_assert!(!c.is_empty());
            same(&c.histogram(), &direct(sigfig, &values))?;
        }

        #[test]
        fn added_counts_are_the_counts_of_both(
            a in prop::collection::vec(value(), 0..200),
            b in prop::collection::vec(value(), 0..200),
        ) {
            let (mut ca, mut cb) = (BinCounts::new(2), BinCounts::new(2));
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

    #[test]
    fn the_top_buckets_bin_as_hdrhistogram_does() {
        // The last buckets' shifts, which random latencies never reach. Not
        // `u64::MAX` itself: there hdrhistogram's maximum differs by one
        // between recording it and recording its bin's lowest value (its
        // `highest_equivalent` saturates), and no latency is 585 million
        // years long.
        for sigfig in [2, 3] {
            let m = BinCounts::new(sigfig).magnitude;
            let edge = 1u64 << (64 - m);
            let values = [0, 1, edge - 1, edge, edge + 1, 1 << 62, 1 << 63, (1 << 63) + 12_345, u64::MAX - 1];
            let mut c = BinCounts::new(sigfig);
            for v in values {
                c.record(v);
            }
            same(&c.histogram(), &direct(sigfig, &values)).unwrap();
        }
    }

    #[test]
    fn the_layout_is_hdrhistograms_at_two_and_three_figures() {
        // hdrhistogram: 256 sub-buckets at 2 figures, 2048 at 3.
        assert_eq!(BinCounts::new(2).magnitude, 8);
        assert_eq!(BinCounts::new(3).magnitude, 11);
        let c = BinCounts::new(2);
        // One value per bin below 256, then bins two wide, then four.
        assert_eq!((c.bin(255), c.bin(256), c.bin(257), c.bin(258)), (255, 256, 256, 257));
        assert_eq!((c.lowest_value(256), c.lowest_value(257), c.lowest_value(384)), (256, 258, 512));
        assert!(c.is_empty());
        assert!(c.counts.is_empty(), "an unused histogram allocates nothing");
    }
}
