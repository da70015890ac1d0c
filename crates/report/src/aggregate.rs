//! The aggregator: an [`EventSink`] that folds the event log into report
//! metrics as it streams past, in constant memory (integer histograms, fixed
//! per-endpoint and per-kind counters, a fixed number of time buckets, and
//! the fault-window tracker's small per-window records). Nothing here looks
//! at executor or simulator state: the event log is the only input.
//!
//! The hot path (every event of multi-million-request replays) allocates
//! nothing but a latency histogram's growth into a higher power of two (a
//! few dozen times a run): counters are indexed by
//! [`windtunnel_core::EndpointIdx`] and [`ErrorKind`] position, a time
//! bucket is one integer division away, and the only map lookup is the class
//! name on `Finished`, by pointer.

use crate::bin_counts::BinCounts;
use crate::fault_windows::FaultWindows;
use crate::schema::*;
use crate::timeseries::Series;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use windtunnel_config::{Scenario, SlaSpec};
use windtunnel_core::{
    AttemptReport, BreakerState, EndpointFacts, EndpointIdx, ErrorKind, Event, EventSink, Nanodollars, Outcome,
    Request, SymMap,
};

/// Per-endpoint counters, indexed by `EndpointIdx`.
#[derive(Clone, Debug, Default)]
struct EndpointStats {
    attempts: u64,
    succeeded: u64,
    errors: [u64; ErrorKind::COUNT],
    cancelled: u64,
    cost: Nanodollars,
}

#[derive(Clone, Debug, Default)]
struct ClassStats {
    requests: u64,
    violations: u64,
    /// The class's SLA, looked up once.
    sla: Option<SlaSpec>,
}

/// Folds the event log into a [`Report`].
#[derive(Debug)]
pub struct Aggregator {
    endpoint_names: Vec<String>,
    sla: BTreeMap<String, SlaSpec>,
    requests: u64,
    first_arrival: Option<u64>,
    last_arrival: u64,
    succeeded: u64,
    failed: u64,
    rejected: u64,
    cached: u64,
    by_reason: BTreeMap<&'static str, u64>,
    cost: Nanodollars,
    wasted: Nanodollars,
    endpoints: Vec<EndpointStats>,
    latency: BinCounts<SIGFIG>,
    /// The exact largest latency: the histogram only knows its bucket.
    latency_max: u64,
    ttft: BinCounts<SIGFIG>,
    classes: SymMap<ClassStats>,
    failovers: u64,
    failover_reasons: [u64; ErrorKind::COUNT],
    quality_sum: f64,
    quality_n: u64,
    windows: FaultWindows,
    series: Series,
    /// Live runs: chaos injections.
    chaos: Option<ChaosSection>,
    /// Input tokens billed as cached by providers' prompt caches, and what
    /// that saved against the full input price.
    prompt_cached_tokens: u64,
    prompt_cache_saved: Nanodollars,
    /// Each endpoint's prices, for what prompt caching saved.
    facts: Vec<EndpointFacts>,
}

/// Significant figures of the latency histograms: 3 keeps every percentile
/// within 0.1% of the exact value at a few tens of KiB per histogram.
const SIGFIG: u8 = 3;

impl Aggregator {
    /// An aggregator for a run of `scenario`.
    pub fn new(scenario: &Scenario) -> Aggregator {
        Aggregator {
            endpoint_names: scenario.endpoints.iter().map(|e| e.id.to_string()).collect(),
            sla: scenario.sla.clone(),
            requests: 0,
            first_arrival: None,
            last_arrival: 0,
            succeeded: 0,
            failed: 0,
            rejected: 0,
            cached: 0,
            by_reason: BTreeMap::new(),
            cost: Nanodollars::ZERO,
            wasted: Nanodollars::ZERO,
            endpoints: vec![EndpointStats::default(); scenario.endpoints.len()],
            prompt_cached_tokens: 0,
            prompt_cache_saved: Nanodollars::ZERO,
            facts: scenario.endpoints.iter().map(|e| e.facts()).collect(),
            latency: BinCounts::new(),
            latency_max: 0,
            ttft: BinCounts::new(),
            classes: SymMap::new(),
            failovers: 0,
            failover_reasons: [0; ErrorKind::COUNT],
            quality_sum: 0.0,
            quality_n: 0,
            windows: FaultWindows::new(
                scenario.endpoints.iter().map(|e| e.faults.iter().map(|f| f.kind.as_str()).collect()).collect(),
            ),
            series: Series::new(scenario.endpoints.len()),
            chaos: None,
        }
    }

    /// Live runs: gives the report a `chaos` section (zero until
    /// something is injected).
    pub fn enable_chaos(&mut self) {
        self.chaos.get_or_insert_with(ChaosSection::default);
    }

    /// Live runs: an attempt met the fault of chaos rule `rule`, of `kind`.
    pub fn chaos_injected(&mut self, rule: &str, kind: &str) {
        let c = self.chaos.get_or_insert_with(ChaosSection::default);
        c.injected += 1;
        *c.by_rule.entry(rule.to_string()).or_insert(0) += 1;
        *c.by_kind.entry(kind.to_string()).or_insert(0) += 1;
    }

    /// Live runs: names a new fault of `endpoint` (a chaos rule's active
    /// period); returns the index its `FaultWindow` events carry.
    pub fn chaos_fault(&mut self, endpoint: EndpointIdx, kind: &str, rule: &str) -> u16 {
        self.windows.add_fault(endpoint.0, kind, rule)
    }

    /// Live runs: the open window of `fault` on `endpoint` ends at `at`
    /// (its chaos rule was removed).
    pub fn close_window(&mut self, endpoint: EndpointIdx, fault: u16, at: u64) {
        self.windows.close(endpoint.0, fault, at);
    }

    /// Requests that have finished.
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.rejected + self.cached
    }

    /// The report's metrics; `head` supplies the run's identity. `invariants`
    /// and `assertions` are empty: fill them with [`Report::set_invariants`]
    /// and then [`Report::evaluate`].
    pub fn report(&self, head: ReportHead) -> Report {
        let (latency, ttft) = (self.latency.histogram(), self.ttft.histogram());
        let sla_violations: u64 = self.classes.iter().map(|(_, c)| c.violations).sum();
        let pct = |h: &Histogram<u64>, q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
        let per_success =
            if self.succeeded > 0 { Nanodollars(self.cost.0 / self.succeeded as i64) } else { Nanodollars::ZERO };
        let rate = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        let errors_map = |e: &[u64; ErrorKind::COUNT]| -> BTreeMap<String, u64> {
            ErrorKind::ALL.iter().zip(e).filter(|(_, n)| **n > 0).map(|(k, n)| (k.as_str().to_string(), *n)).collect()
        };
        Report {
            schema_version: SCHEMA_VERSION,
            scenario: head.scenario,
            policy: head.policy,
            seed: head.seed,
            trace: TraceSection {
                requests: self.requests,
                span_ms: self.first_arrival.map_or(0, |f| self.last_arrival - f),
                skipped_lines: head.skipped_lines,
            },
            outcomes: OutcomesSection {
                succeeded: self.succeeded,
                failed: self.failed,
                rejected: self.rejected,
                cached: self.cached,
                by_reason: self.by_reason.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            },
            cost: CostSection {
                total_usd: self.cost,
                per_success_usd: per_success,
                wasted_usd: self.wasted,
                by_endpoint: self.endpoint_names.iter().cloned().zip(self.endpoints.iter().map(|e| e.cost)).collect(),
            },
            latency_ms: LatencySection {
                p50: pct(&latency, 0.5),
                p90: pct(&latency, 0.9),
                p95: pct(&latency, 0.95),
                p99: pct(&latency, 0.99),
                max: self.latency_max,
            },
            ttft_ms: (!ttft.is_empty()).then(|| TtftSection {
                p50: pct(&ttft, 0.5),
                p95: pct(&ttft, 0.95),
                p99: pct(&ttft, 0.99),
            }),
            sla: SlaSection {
                violations: sla_violations,
                rate: rate(sla_violations, self.requests),
                by_class: self
                    .classes
                    .iter()
                    .map(|(c, s)| (c.to_string(), ClassSla { requests: s.requests, violations: s.violations }))
                    .collect(),
                classes_without_sla: {
                    let mut v: Vec<String> =
                        self.classes.iter().filter(|(_, s)| s.sla.is_none()).map(|(c, _)| c.to_string()).collect();
                    v.sort();
                    v
                },
            },
            attempts: AttemptsSection {
                total: self.endpoints.iter().map(|e| e.attempts).sum(),
                by_endpoint: self
                    .endpoint_names
                    .iter()
                    .zip(&self.endpoints)
                    .map(|(n, e)| {
                        (
                            n.clone(),
                            EndpointAttempts {
                                attempts: e.attempts,
                                succeeded: e.succeeded,
                                errors: errors_map(&e.errors),
                                cancelled: e.cancelled,
                            },
                        )
                    })
                    .collect(),
            },
            failover: {
                let windows = self.windows.sections(&self.endpoint_names);
                let windows_total = self.windows.total();
                FailoverSection {
                    events: self.failovers,
                    by_reason: errors_map(&self.failover_reasons),
                    windows_omitted: windows_total.saturating_sub(windows.len() as u64),
                    windows,
                    windows_total,
                }
            },
            invariants: Vec::new(),
            assertions: Vec::new(),
            policy_errors: head.policy_errors,
            policy_error_first: head.first_policy_error.as_ref().map(PolicyErrorSample::of),
            quality: QualitySection {
                mean: if self.quality_n > 0 { self.quality_sum / self.quality_n as f64 } else { 0.0 },
            },
            // Hits are the `cached` outcomes; what they saved is known to the
            // driver (the replay loop), which fills in `saved_usd`.
            cache: CacheSection {
                hits: self.cached,
                hit_rate: rate(self.cached, self.requests),
                prompt_cached_tokens: self.prompt_cached_tokens,
                prompt_cache_saved_usd: self.prompt_cache_saved,
                ..CacheSection::default()
            },
            chaos: self.chaos.clone(),
            timeseries: self.series.build(&self.endpoint_names, &latency),
        }
    }
}

impl EventSink for Aggregator {
    /// Inlined where each event's kind is known, so the match folds away;
    /// the common kinds' work is inlined too, for a [`windtunnel_core::PerKind`]
    /// to outline once for all the report's sinks (see [`EventSink`]).
    #[inline(always)]
    fn record(&mut self, event: &Event<'_>) {
        match *event {
            Event::Arrived { at, req } => self.arrived(at, req),
            Event::AttemptStarted { at, req, attempt, endpoint, .. } => {
                self.attempt_started(at, req.seq, attempt, endpoint)
            }
            Event::AttemptFinished { at, endpoint, report, started_at, .. } => {
                if report.usage.cached_input_tokens > 0 || report.usage.cache_write_tokens > 0 {
                    self.prompt_cached(started_at, endpoint, &report.usage);
                }
                self.attempt_finished(at, endpoint, report);
            }
            Event::AttemptCancelled { at, endpoint, usage, .. } => {
                if usage.cached_input_tokens > 0 || usage.cache_write_tokens > 0 {
                    self.prompt_cached(at, endpoint, &usage);
                }
                self.attempt_cancelled(at, endpoint, usage.cost);
            }
            Event::Breaker { at, endpoint, to, .. } => {
                if to == BreakerState::Open {
                    self.windows.steered_away(at, endpoint.0);
                }
            }
            Event::Failover { at, from, reason, .. } => self.failover(at, from, reason),
            Event::FaultWindow { endpoint, fault, start, end } => self.windows.window(endpoint.0, fault, start, end),
            Event::Finished { at, req, outcome, ttft_ms, quality, .. } => {
                self.request_finished(at, req, outcome, ttft_ms, quality)
            }
        }
    }
}

/// One method per event kind, called from `record`; the rare kinds outlined.
impl Aggregator {
    #[inline(always)]
    fn arrived(&mut self, at: u64, req: &Request) {
        self.requests += 1;
        self.first_arrival.get_or_insert(at);
        self.last_arrival = at;
        self.windows.arrived(req.seq);
    }

    #[inline(always)]
    fn attempt_started(&mut self, at: u64, seq: u64, attempt: u32, endpoint: EndpointIdx) {
        if let Some(e) = self.endpoints.get_mut(endpoint.get()) {
            e.attempts += 1;
        }
        self.series.attempt(at, endpoint.get());
        self.windows.attempt_started(at, seq, endpoint.0, attempt);
    }

    #[inline(always)]
    fn attempt_finished(&mut self, at: u64, endpoint: EndpointIdx, report: &AttemptReport) {
        let cost = report.usage.cost;
        self.cost += cost;
        self.series.cost(at, cost);
        self.series.input(at, report.usage.input_tokens, report.usage.cached_input_tokens);
        self.windows.attempt_finished(at, endpoint.0, report.result.is_ok());
        if let Some(e) = self.endpoints.get_mut(endpoint.get()) {
            e.cost += cost;
            match &report.result {
                Ok(_) => e.succeeded += 1,
                Err(err) => e.errors[err.kind.index()] += 1,
            }
        }
        if report.result.is_err() {
            self.wasted += cost;
        }
    }

    /// An attempt on `endpoint` read some of its input from the prompt
    /// cache or wrote some to it: the read tokens are counted, and what the
    /// cache saved at the price in force at `at` (reads below the input
    /// price, less writes above it).
    #[inline(never)]
    fn prompt_cached(&mut self, at: u64, endpoint: EndpointIdx, usage: &windtunnel_core::Usage) {
        let (read, written) = (u64::from(usage.cached_input_tokens), u64::from(usage.cache_write_tokens));
        self.prompt_cached_tokens += read;
        if let Some(f) = self.facts.get(endpoint.get()) {
            // The rates of the tier the prompt was billed in.
            let p = f.price_at(at).rates(u64::from(usage.input_tokens));
            self.prompt_cache_saved += p.input.cost(read) - p.cached_input.cost(read);
            self.prompt_cache_saved -= p.cache_write.cost(written) - p.input.cost(written);
        }
    }

    #[inline(never)]
    fn attempt_cancelled(&mut self, at: u64, endpoint: EndpointIdx, cost: Nanodollars) {
        self.cost += cost;
        self.series.cost(at, cost);
        self.wasted += cost;
        if let Some(e) = self.endpoints.get_mut(endpoint.get()) {
            e.cost += cost;
            e.cancelled += 1;
        }
    }

    #[inline(never)]
    fn failover(&mut self, at: u64, from: EndpointIdx, reason: ErrorKind) {
        self.failovers += 1;
        self.failover_reasons[reason.index()] += 1;
        self.windows.steered_away(at, from.0);
    }

    #[inline(always)]
    fn request_finished(
        &mut self,
        at: u64,
        req: &Request,
        outcome: Outcome,
        ttft_ms: Option<u64>,
        quality: Option<f64>,
    ) {
        let latency = at.saturating_sub(req.at_ms);
        let failed = matches!(outcome, Outcome::Failed(_) | Outcome::Rejected(_));
        self.windows.finished(at, req.seq, failed);
        if failed {
            self.series.failed(req.at_ms);
        }
        match outcome {
            Outcome::Succeeded => {
                self.succeeded += 1;
                self.latency.record(latency);
                self.latency_max = self.latency_max.max(latency);
                self.series.succeeded(req.at_ms, latency);
                if req.stream
                    && let Some(t) = ttft_ms
                {
                    self.ttft.record(t);
                }
                if let Some(q) = quality {
                    self.quality_sum += q;
                    self.quality_n += 1;
                }
            }
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Rejected(_) => self.rejected += 1,
            Outcome::Cached => {
                self.cached += 1;
                self.series.cache_hit(req.at_ms);
            }
        }
        if let Some(r) = outcome.reason() {
            *self.by_reason.entry(r).or_insert(0) += 1;
        }
        let sla = &self.sla;
        let class = self.classes.get_or_insert_with(&req.class, || ClassStats {
            sla: sla.get(&*req.class).copied(),
            ..ClassStats::default()
        });
        class.requests += 1;
        if let Some(sla) = &class.sla
            && violates(sla, outcome, latency, req.stream, ttft_ms)
        {
            class.violations += 1;
        }
    }
}

/// Whether a finished request breaks its class's SLA: a request that did not
/// succeed breaks it (the user got no answer in time), as does one slower
/// than `latency_ms`, or a stream whose first token came after `ttft_ms`.
fn violates(sla: &SlaSpec, outcome: Outcome, latency: u64, stream: bool, ttft: Option<u64>) -> bool {
    if !matches!(outcome, Outcome::Succeeded | Outcome::Cached) {
        return sla.latency_ms.is_some() || sla.ttft_ms.is_some() || sla.deadline_ms.is_some();
    }
    sla.latency_ms.is_some_and(|l| latency > l) || (stream && sla.ttft_ms.zip(ttft).is_some_and(|(l, t)| t > l))
}
