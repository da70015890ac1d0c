//! [`Metrics`]: the Prometheus counters of `/metrics`, fed by the event log
//! like the report: requests by outcome and reason, attempts by endpoint and
//! result, failovers by endpoint and reason, breaker state, cost, prompt
//! tokens read from and written to providers' prompt caches, and latency
//! and TTFT histograms; and the response cache's gauges, which the driver
//! adds ([`render_response_cache`]). Rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use windtunnel_core::{BreakerState, Event, EventSink, Nanodollars, Outcome};

/// Histogram bucket bounds, milliseconds.
const BUCKETS_MS: [u64; 12] = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000];

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS_MS.len()],
    sum: u64,
    n: u64,
}

impl Histogram {
    fn record(&mut self, ms: u64) {
        for (b, c) in BUCKETS_MS.iter().zip(&mut self.counts) {
            if ms <= *b {
                *c += 1;
            }
        }
        self.sum = self.sum.saturating_add(ms);
        self.n += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in BUCKETS_MS.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ =
            writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}", self.n, self.sum, self.n);
    }
}

/// The proxy's counters.
#[derive(Clone, Debug)]
pub(crate) struct Metrics {
    endpoints: Vec<String>,
    requests: BTreeMap<&'static str, u64>,
    reasons: BTreeMap<&'static str, u64>,
    attempts: BTreeMap<(usize, &'static str), u64>,
    failovers: BTreeMap<(usize, &'static str), u64>,
    breaker: Vec<BreakerState>,
    cost: Vec<Nanodollars>,
    /// Per endpoint, prompt tokens billed as read from its prompt cache, and
    /// as written to it.
    prompt_cache: Vec<[u64; 2]>,
    latency: Histogram,
    ttft: Histogram,
    reloads: [u64; 2],
    rescues: u64,
    /// Chaos injections by (rule, kind).
    chaos: BTreeMap<(String, &'static str), u64>,
}

impl Metrics {
    /// Counters for these endpoint names.
    pub(crate) fn new(endpoints: Vec<String>) -> Metrics {
        let n = endpoints.len();
        Metrics {
            endpoints,
            requests: BTreeMap::new(),
            reasons: BTreeMap::new(),
            attempts: BTreeMap::new(),
            failovers: BTreeMap::new(),
            breaker: vec![BreakerState::Closed; n],
            cost: vec![Nanodollars::ZERO; n],
            prompt_cache: vec![[0; 2]; n],
            latency: Histogram::default(),
            ttft: Histogram::default(),
            reloads: [0; 2],
            rescues: 0,
            chaos: BTreeMap::new(),
        }
    }

    /// A mid-stream rescue started.
    pub(crate) fn rescued(&mut self) {
        self.rescues += 1;
    }

    /// An attempt met the fault of a chaos rule.
    pub(crate) fn chaos_injected(&mut self, rule: &str, kind: &'static str) {
        *self.chaos.entry((rule.to_string(), kind)).or_insert(0) += 1;
    }

    /// A policy reload: loaded, or refused.
    pub(crate) fn policy_reloaded(&mut self, loaded: bool) {
        self.reloads[usize::from(!loaded)] += 1;
    }

    /// An attempt on endpoint `i` was billed `usage`.
    fn billed(&mut self, i: usize, usage: &windtunnel_core::Usage) {
        if let Some(c) = self.cost.get_mut(i) {
            *c += usage.cost;
        }
        if let Some([read, written]) = self.prompt_cache.get_mut(i) {
            *read += u64::from(usage.cached_input_tokens);
            *written += u64::from(usage.cache_write_tokens);
        }
    }

    fn name(&self, i: usize) -> &str {
        self.endpoints.get(i).map_or("?", String::as_str)
    }

    /// The text exposition.
    pub(crate) fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP windtunnel_requests_total Requests by outcome.\n# TYPE windtunnel_requests_total counter"
        );
        for (o, n) in &self.requests {
            let _ = writeln!(s, "windtunnel_requests_total{{outcome=\"{o}\"}} {n}");
        }
        let _ = writeln!(
            s,
            "# HELP windtunnel_request_failures_total Failed and rejected requests by reason.\n# TYPE windtunnel_request_failures_total counter"
        );
        for (r, n) in &self.reasons {
            let _ = writeln!(s, "windtunnel_request_failures_total{{reason=\"{r}\"}} {n}");
        }
        let _ = writeln!(
            s,
            "# HELP windtunnel_attempts_total Attempts by endpoint and result.\n# TYPE windtunnel_attempts_total counter"
        );
        for ((e, r), n) in &self.attempts {
            let _ = writeln!(s, "windtunnel_attempts_total{{endpoint=\"{}\",result=\"{r}\"}} {n}", self.name(*e));
        }
        let _ = writeln!(
            s,
            "# HELP windtunnel_failovers_total Moves to another endpoint by the endpoint left and the reason.\n# TYPE windtunnel_failovers_total counter"
        );
        for ((e, r), n) in &self.failovers {
            let _ = writeln!(s, "windtunnel_failovers_total{{endpoint=\"{}\",reason=\"{r}\"}} {n}", self.name(*e));
        }
        let _ = writeln!(
            s,
            "# HELP windtunnel_breaker_state Circuit breaker: 0 closed, 1 half-open, 2 open.\n# TYPE windtunnel_breaker_state gauge"
        );
        for (i, b) in self.breaker.iter().enumerate() {
            let v = match b {
                BreakerState::Closed => 0,
                BreakerState::HalfOpen => 1,
                BreakerState::Open => 2,
            };
            let _ = writeln!(s, "windtunnel_breaker_state{{endpoint=\"{}\"}} {v}", self.name(i));
        }
        let _ = writeln!(
            s,
            "# HELP windtunnel_cost_usd_total Billed by endpoint.\n# TYPE windtunnel_cost_usd_total counter"
        );
        for (i, c) in self.cost.iter().enumerate() {
            let _ = writeln!(s, "windtunnel_cost_usd_total{{endpoint=\"{}\"}} {c}", self.name(i));
        }
        let _ = writeln!(
            s,
            "# HELP windtunnel_prompt_cache_tokens_total Prompt tokens billed as read from or written to an endpoint's prompt cache.\n# TYPE windtunnel_prompt_cache_tokens_total counter"
        );
        for (i, [read, written]) in self.prompt_cache.iter().enumerate() {
            let e = self.name(i);
            let _ = writeln!(s, "windtunnel_prompt_cache_tokens_total{{endpoint=\"{e}\",op=\"read\"}} {read}");
            let _ = writeln!(s, "windtunnel_prompt_cache_tokens_total{{endpoint=\"{e}\",op=\"write\"}} {written}");
        }
        self.latency.render(&mut s, "windtunnel_request_latency_ms", "End-to-end latency of succeeded requests.");
        self.ttft.render(&mut s, "windtunnel_ttft_ms", "Time to first token of succeeded streamed requests.");
        let _ = writeln!(
            s,
            "# HELP windtunnel_rescues_total Streams continued on another endpoint after a mid-stream failure.\n# TYPE windtunnel_rescues_total counter\nwindtunnel_rescues_total {}",
            self.rescues
        );
        let _ = writeln!(
            s,
            "# HELP windtunnel_policy_reloads_total Policy file changes, loaded or refused.\n# TYPE windtunnel_policy_reloads_total counter\nwindtunnel_policy_reloads_total{{result=\"loaded\"}} {}\nwindtunnel_policy_reloads_total{{result=\"refused\"}} {}",
            self.reloads[0], self.reloads[1]
        );
        let _ = writeln!(
            s,
            "# HELP windtunnel_chaos_injected_total Attempts that met an injected fault, by rule and kind.\n# TYPE windtunnel_chaos_injected_total counter"
        );
        for ((rule, kind), n) in &self.chaos {
            let _ = writeln!(s, "windtunnel_chaos_injected_total{{rule=\"{}\",kind=\"{kind}\"}} {n}", label(rule));
        }
        s
    }
}

/// The live response cache's gauges: answers held and their bytes (kept
/// apart from [`Metrics`], which the event log feeds: the cache is the
/// driver's).
pub(crate) fn render_response_cache(out: &mut String, entries: u64, bytes: u64) {
    let _ = writeln!(
        out,
        "# HELP windtunnel_response_cache_entries Answers the response cache holds.\n# TYPE windtunnel_response_cache_entries gauge\nwindtunnel_response_cache_entries {entries}\n# HELP windtunnel_response_cache_bytes Bytes of the answers the response cache holds.\n# TYPE windtunnel_response_cache_bytes gauge\nwindtunnel_response_cache_bytes {bytes}"
    );
}

/// A label value escaped as the text format asks: backslash, quote, newline.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl EventSink for Metrics {
    fn record(&mut self, e: &Event<'_>) {
        match *e {
            Event::AttemptFinished { endpoint, report, .. } => {
                let result = match &report.result {
                    Ok(_) => "ok",
                    Err(err) => err.kind.as_str(),
                };
                *self.attempts.entry((endpoint.get(), result)).or_insert(0) += 1;
                self.billed(endpoint.get(), &report.usage);
            }
            Event::AttemptCancelled { endpoint, usage, .. } => {
                *self.attempts.entry((endpoint.get(), "cancelled")).or_insert(0) += 1;
                self.billed(endpoint.get(), &usage);
            }
            Event::Failover { from, reason, .. } => {
                *self.failovers.entry((from.get(), reason.as_str())).or_insert(0) += 1
            }
            Event::Breaker { endpoint, to, .. } => {
                if let Some(b) = self.breaker.get_mut(endpoint.get()) {
                    *b = to;
                }
            }
            Event::Finished { at, req, outcome, ttft_ms, .. } => {
                let name = match outcome {
                    Outcome::Succeeded => "succeeded",
                    Outcome::Failed(_) => "failed",
                    Outcome::Rejected(_) => "rejected",
                    Outcome::Cached => "cached",
                };
                *self.requests.entry(name).or_insert(0) += 1;
                if let Some(r) = outcome.reason() {
                    *self.reasons.entry(r).or_insert(0) += 1;
                }
                if outcome == Outcome::Succeeded {
                    self.latency.record(at.saturating_sub(req.at_ms));
                    if let Some(t) = ttft_ms.filter(|_| req.stream) {
                        self.ttft.record(t);
                    }
                }
            }
            _ => {}
        }
    }
}
