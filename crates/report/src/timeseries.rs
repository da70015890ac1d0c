//! The series behind the HTML charts, in bounded memory: [`BUCKETS`] equal
//! time buckets from time 0. When an event falls past the last bucket, the
//! width doubles and neighbouring buckets merge pairwise, so a ten-second run
//! and a month-long replay both end with between 120 and 240 buckets (fewer
//! only when the whole run fits in the first width), and the aggregator never
//! needs to know the run's length in advance. An event finds its bucket by one
//! integer division.
//!
//! What lands where:
//! - attempts count at their start, per endpoint;
//! - cost counts when it is billed (at the attempt's end or cancellation);
//! - a request's outcome and end-to-end latency count at its *arrival*, so the
//!   latency chart lines up with the fault windows the requests arrived into.
//!
//! Per-bucket latency percentiles come from a small histogram at
//! [`BUCKET_SIGFIG`] significant figures, grown at the bucket's first
//! success; merging buckets adds their histograms, so percentiles stay
//! percentiles of the merged bucket, not averages of percentiles.

use crate::bin_counts::BinCounts;
use crate::schema::{Bucket, HistogramBin, Percentiles, TimeSeries};
use hdrhistogram::Histogram;
use windtunnel_core::Nanodollars;

/// Buckets kept: enough for a smooth 960-pixel-wide chart (one bucket per 4
/// pixels) while a whole series stays a few kilobytes plus its histograms.
pub(crate) const BUCKETS: usize = 240;

/// Width of a bucket before the run outgrows [`BUCKETS`]: a 30-second run
/// still gets 240 buckets; doubling from 125 ms gives whole seconds from
/// 1 s on (1 s, 2 s, 4 s, ..., 512 s for a day).
pub(crate) const FIRST_WIDTH_MS: u64 = 125;

/// Significant figures of the per-bucket histograms: 2 keeps a chart's
/// percentiles within 1% at about 10 KiB per bucket for minute-long latencies
/// (a sixth of what 3 costs).
pub(crate) const BUCKET_SIGFIG: u8 = 2;

/// Bins per decade of the latency distribution: successive bin edges differ
/// by a factor of about 1.26.
const MANTISSAS: [u64; 10] = [100, 126, 158, 200, 251, 316, 398, 501, 631, 794];

/// Cache slot for lookups at an event's own time.
const EVENT_CLOCK: usize = 0;
/// Cache slot for lookups at a request's arrival time.
const ARRIVAL_CLOCK: usize = 1;

/// Accumulates the time series.
#[derive(Debug)]
pub(crate) struct Series {
    width: u64,
    /// The last bucket looked up, per clock: `[start, end)` and its index.
    /// Attempts and costs come at the event's time, outcomes at the request's
    /// arrival; each is nearly in order on its own, so a cache per clock
    /// saves most divisions.
    last: [(u64, u64, usize); 2],
    endpoints: usize,
    /// Buckets touched so far (the highest index plus one).
    used: usize,
    /// `BUCKETS × endpoints`, bucket-major.
    attempts: Vec<u64>,
    cost: Vec<Nanodollars>,
    succeeded: Vec<u64>,
    failed: Vec<u64>,
    latency: Vec<BinCounts<BUCKET_SIGFIG>>,
    /// Requests served from the response cache, by arrival.
    cache_hits: Vec<u64>,
    /// Input tokens billed, and of them those billed as cached, by attempt end.
    input_tokens: Vec<u64>,
    cached_tokens: Vec<u64>,
}

impl Series {
    pub(crate) fn new(endpoints: usize) -> Series {
        Series {
            width: FIRST_WIDTH_MS,
            last: [(0, 0, 0); 2],
            endpoints,
            used: 0,
            attempts: vec![0; BUCKETS * endpoints],
            cost: vec![Nanodollars::ZERO; BUCKETS],
            succeeded: vec![0; BUCKETS],
            failed: vec![0; BUCKETS],
            latency: vec![BinCounts::new(); BUCKETS],
            cache_hits: vec![0; BUCKETS],
            input_tokens: vec![0; BUCKETS],
            cached_tokens: vec![0; BUCKETS],
        }
    }

    /// The bucket of time `at`, widening the buckets if needed. Inline: the
    /// cached bucket; outlined: the division and any widening.
    #[inline(always)]
    fn slot(&mut self, at: u64, clock: usize) -> usize {
        let (lo, hi, i) = self.last[clock];
        if at >= lo && at < hi {
            return i;
        }
        self.look_up(at, clock)
    }

    #[inline(never)]
    fn look_up(&mut self, at: u64, clock: usize) -> usize {
        let mut i = at / self.width;
        if i >= BUCKETS as u64 {
            while at / self.width >= BUCKETS as u64 {
                self.merge();
            }
            i = at / self.width;
        }
        let start = i * self.width;
        let i = i as usize;
        if i >= self.used {
            self.used = i + 1;
        }
        self.last[clock] = (start, start + self.width, i);
        i
    }

    /// Doubles the width: bucket `i` becomes old buckets `2i` and `2i + 1`.
    fn merge(&mut self) {
        self.last = [(0, 0, 0); 2];
        let n = self.endpoints;
        for i in 0..BUCKETS / 2 {
            for e in 0..n {
                self.attempts[i * n + e] = self.attempts[2 * i * n + e] + self.attempts[(2 * i + 1) * n + e];
            }
            self.cost[i] = self.cost[2 * i] + self.cost[2 * i + 1];
            self.succeeded[i] = self.succeeded[2 * i] + self.succeeded[2 * i + 1];
            self.failed[i] = self.failed[2 * i] + self.failed[2 * i + 1];
            self.cache_hits[i] = self.cache_hits[2 * i] + self.cache_hits[2 * i + 1];
            self.input_tokens[i] = self.input_tokens[2 * i] + self.input_tokens[2 * i + 1];
            self.cached_tokens[i] = self.cached_tokens[2 * i] + self.cached_tokens[2 * i + 1];
            let mut h = std::mem::take(&mut self.latency[2 * i]);
            h.add(&self.latency[2 * i + 1]);
            self.latency[i] = h;
        }
        for i in BUCKETS / 2..BUCKETS {
            self.attempts[i * n..(i + 1) * n].fill(0);
            self.cost[i] = Nanodollars::ZERO;
            self.succeeded[i] = 0;
            self.failed[i] = 0;
            self.latency[i] = BinCounts::new();
            self.cache_hits[i] = 0;
            self.input_tokens[i] = 0;
            self.cached_tokens[i] = 0;
        }
        self.width *= 2;
        self.used = self.used.div_ceil(2);
    }

    #[inline]
    pub(crate) fn attempt(&mut self, at: u64, endpoint: usize) {
        let i = self.slot(at, EVENT_CLOCK);
        if endpoint < self.endpoints {
            self.attempts[i * self.endpoints + endpoint] += 1;
        }
    }

    #[inline]
    pub(crate) fn cost(&mut self, at: u64, cost: Nanodollars) {
        if cost != Nanodollars::ZERO {
            let i = self.slot(at, EVENT_CLOCK);
            self.cost[i] += cost;
        }
    }

    #[inline]
    pub(crate) fn succeeded(&mut self, arrived: u64, latency: u64) {
        let i = self.slot(arrived, ARRIVAL_CLOCK);
        self.succeeded[i] += 1;
        self.latency[i].record(latency);
    }

    #[inline]
    pub(crate) fn cache_hit(&mut self, arrived: u64) {
        let i = self.slot(arrived, ARRIVAL_CLOCK);
        self.cache_hits[i] += 1;
    }

    #[inline]
    pub(crate) fn input(&mut self, at: u64, input: u32, cached: u32) {
        let i = self.slot(at, EVENT_CLOCK);
        self.input_tokens[i] += u64::from(input);
        self.cached_tokens[i] += u64::from(cached);
    }

    #[inline]
    pub(crate) fn failed(&mut self, arrived: u64) {
        let i = self.slot(arrived, ARRIVAL_CLOCK);
        self.failed[i] += 1;
    }

    /// The series as the report carries it; `latency` is the whole run's histogram.
    pub(crate) fn build(&self, endpoint_names: &[String], latency: &Histogram<u64>) -> TimeSeries {
        let n = self.endpoints;
        let buckets = (0..self.used)
            .map(|i| Bucket {
                start_ms: i as u64 * self.width,
                attempts: self.attempts[i * n..(i + 1) * n].to_vec(),
                cost_usd: self.cost[i],
                succeeded: self.succeeded[i],
                failed: self.failed[i],
                latency_ms: (!self.latency[i].is_empty()).then(|| self.latency[i].histogram()).map(|h| Percentiles {
                    p50: h.value_at_quantile(0.5),
                    p95: h.value_at_quantile(0.95),
                    p99: h.value_at_quantile(0.99),
                }),
                cache_hits: self.cache_hits[i],
                input_tokens: self.input_tokens[i],
                cached_input_tokens: self.cached_tokens[i],
            })
            .collect();
        TimeSeries {
            bucket_ms: self.width,
            endpoints: endpoint_names.to_vec(),
            buckets,
            latency_histogram: latency_bins(latency),
        }
    }
}

/// Bin edges, log-spaced with [`MANTISSAS`] per decade, from 0 up to the
/// first edge above `max`; integer arithmetic only, so every platform bins alike.
fn bin_edges(max: u64) -> Vec<u64> {
    let mut edges = vec![0];
    let mut decade: u64 = 1;
    loop {
        for m in MANTISSAS {
            let edge = m.saturating_mul(decade) / 100;
            if edge > *edges.last().unwrap_or(&0) {
                edges.push(edge);
                if edge > max {
                    return edges;
                }
            }
        }
        if decade > u64::MAX / 10 {
            return edges;
        }
        decade *= 10;
    }
}

/// The whole run's latency histogram in log-spaced bins, from the first
/// non-empty bin to the last.
pub(crate) fn latency_bins(h: &Histogram<u64>) -> Vec<HistogramBin> {
    if h.is_empty() {
        return Vec::new();
    }
    let edges = bin_edges(h.max());
    let mut counts = vec![0u64; edges.len().saturating_sub(1)];
    for v in h.iter_recorded() {
        // The equivalent range's lowest value keeps a bin edge's own values in
        // that bin even where the histogram rounds.
        let value = h.lowest_equivalent(v.value_iterated_to());
        let bin = edges.partition_point(|&e| e <= value).saturating_sub(1);
        if let Some(c) = counts.get_mut(bin) {
            *c += v.count_at_value();
        }
    }
    let first = counts.iter().position(|&c| c > 0).unwrap_or(0);
    let last = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    (first..=last).map(|i| HistogramBin { lo_ms: edges[i], hi_ms: edges[i + 1], count: counts[i] }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double_and_merge_pairwise() {
        let mut s = Series::new(2);
        s.attempt(0, 0);
        s.attempt(FIRST_WIDTH_MS, 1);
        s.cost(FIRST_WIDTH_MS + 1, Nanodollars(7));
        s.succeeded(10, 100);
        s.succeeded(FIRST_WIDTH_MS + 3, 200);
        assert_eq!(s.width, FIRST_WIDTH_MS);
        // Past the last bucket: one doubling suffices here.
        s.attempt(BUCKETS as u64 * FIRST_WIDTH_MS, 0);
        assert_eq!(s.width, 2 * FIRST_WIDTH_MS);
        let t = s.build(&["a".into(), "b".into()], &Histogram::new(3).unwrap());
        assert_eq!(t.bucket_ms, 2 * FIRST_WIDTH_MS);
        assert_eq!(t.buckets.len(), BUCKETS / 2 + 1);
        assert_eq!(t.buckets[0].attempts, vec![1, 1]);
        assert_eq!(t.buckets[0].cost_usd, Nanodollars(7));
        assert_eq!(t.buckets[0].succeeded, 2);
        let p = t.buckets[0].latency_ms.unwrap();
        assert_eq!((p.p50, p.p99), (100, 200));
        assert_eq!(t.buckets[BUCKETS / 2].attempts, vec![1, 0]);
        assert_eq!(t.buckets[BUCKETS / 2].start_ms, BUCKETS as u64 * FIRST_WIDTH_MS);
        assert!(t.buckets[1].latency_ms.is_none());
    }

    #[test]
    fn a_far_event_doubles_as_often_as_needed() {
        let mut s = Series::new(1);
        s.attempt(86_400_000, 0);
        assert!(s.width * BUCKETS as u64 > 86_400_000);
        assert!(s.width * (BUCKETS as u64) / 2 <= 86_400_000);
        assert_eq!(s.width, FIRST_WIDTH_MS << 12);
    }

    #[test]
    fn latency_bins_are_log_spaced_and_trimmed() {
        assert_eq!(&bin_edges(3)[..5], &[0, 1, 2, 3, 5]);
        let edges = bin_edges(10_000);
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
        assert!(edges.contains(&1000) && edges.contains(&1260) && edges.contains(&7940));
        let mut h = Histogram::<u64>::new_with_max(3_600_000, 3).unwrap();
        for v in [1000, 1000, 1100, 1300, 5000] {
            h.record(v).unwrap();
        }
        let bins = latency_bins(&h);
        assert_eq!(bins.first().unwrap(), &HistogramBin { lo_ms: 1000, hi_ms: 1260, count: 3 });
        assert_eq!(bins.last().unwrap(), &HistogramBin { lo_ms: 3980, hi_ms: 5010, count: 1 });
        assert_eq!(bins.iter().map(|b| b.count).sum::<u64>(), 5);
    }
}
