//! `report.json`: the schema types, serialized in SPEC's key order. Maps are
//! `BTreeMap`s so output is byte-identical run to run; money is integer and
//! printed in USD.
//!
//! # Keys beyond SPEC's required ones
//! SPEC allows more keys; these do not bump [`SCHEMA_VERSION`]:
//! - `trace.skipped_lines`: bad trace lines skipped with `--skip-bad-lines`;
//! - `failover.windows_total`, `failover.windows_omitted`: `failover.windows`
//!   lists at most [`Report::MAX_LISTED_WINDOWS`] windows (the first by start
//!   time), so that a fault every millisecond cannot make a report of
//!   hundreds of megabytes; these two count every window and those left out;
//! - `timeseries`: the bucketed series and the latency histogram, kept in
//!   memory for the HTML charts and not serialized (report.json stays small
//!   enough to commit as a `--baseline`), see [`TimeSeries`].

use serde::Serialize;
use std::collections::BTreeMap;
use windtunnel_core::{FirstPolicyError, Nanodollars};

/// Bumped when a required key changes.
pub const SCHEMA_VERSION: u32 = 1;

impl Report {
    /// Most fault windows listed in `failover.windows`; `failover.windows_total`
    /// and `failover.windows_omitted` count the rest.
    pub const MAX_LISTED_WINDOWS: usize = crate::fault_windows::MAX_LISTED_WINDOWS;
}

/// What the aggregator cannot know from the event log alone.
#[derive(Clone, Debug)]
pub struct ReportHead {
    /// Scenario name.
    pub scenario: String,
    /// Policy description (script path or `chain: a > b`).
    pub policy: String,
    /// The seed.
    pub seed: u64,
    /// Trace lines skipped with `skip_bad_lines`.
    pub skipped_lines: u64,
    /// Failed policy calls.
    pub policy_errors: u64,
    /// The first failed policy call, if any.
    pub first_policy_error: Option<FirstPolicyError>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Schema version.
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Policy.
    pub policy: String,
    /// Seed.
    pub seed: u64,
    /// Trace.
    pub trace: TraceSection,
    /// Outcomes.
    pub outcomes: OutcomesSection,
    /// Cost.
    pub cost: CostSection,
    /// End-to-end latency of successes.
    pub latency_ms: LatencySection,
    /// TTFT of streamed successes, from arrival; `null` when no streamed
    /// request succeeded (nothing was measured, which is not 0 ms).
    pub ttft_ms: Option<TtftSection>,
    /// SLA.
    pub sla: SlaSection,
    /// Attempts.
    pub attempts: AttemptsSection,
    /// Failover.
    pub failover: FailoverSection,
    /// Invariant results, in SPEC order; filled in by the caller with
    /// [`Report::set_invariants`] (the checker is another crate).
    pub invariants: Vec<InvariantEntry>,
    /// Assertion results, filled in by [`Report::evaluate`].
    pub assertions: Vec<Assertion>,
    /// Failed policy calls.
    pub policy_errors: u64,
    /// The first failed policy call: which hook, what, where, on which
    /// request; `null` when there was none.
    pub policy_error_first: Option<PolicyErrorSample>,
    /// Quality.
    pub quality: QualitySection,
    /// The gateway's response cache and the providers' prompt caches.
    pub cache: CacheSection,
    /// Live reports only: the chaos faults the proxy injected; absent from
    /// simulated runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chaos: Option<ChaosSection>,
    /// Bucketed series for charts (not a SPEC key).
    #[serde(skip_serializing)]
    pub timeseries: TimeSeries,
}

/// `trace`.
#[derive(Clone, Debug, Serialize)]
pub struct TraceSection {
    /// Requests replayed.
    pub requests: u64,
    /// First to last arrival.
    pub span_ms: u64,
    /// Bad lines skipped (with `skip_bad_lines`).
    pub skipped_lines: u64,
}

/// `outcomes`: the four counts sum to `trace.requests`.
#[derive(Clone, Debug, Serialize)]
pub struct OutcomesSection {
    /// Succeeded.
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Rejected.
    pub rejected: u64,
    /// Cached.
    pub cached: u64,
    /// Failed and rejected requests by reason.
    pub by_reason: BTreeMap<String, u64>,
}

/// `cost`.
#[derive(Clone, Debug, Serialize)]
pub struct CostSection {
    /// Everything billed.
    pub total_usd: Nanodollars,
    /// Total over successes.
    pub per_success_usd: Nanodollars,
    /// Billed for attempts that failed (partial streams, timeouts after the first token, malformed bodies).
    pub wasted_usd: Nanodollars,
    /// Per endpoint.
    pub by_endpoint: BTreeMap<String, Nanodollars>,
}

/// `latency_ms`.
#[derive(Clone, Debug, Serialize)]
pub struct LatencySection {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// The exact largest latency (not a histogram bucket's edge).
    pub max: u64,
}

/// `ttft_ms`.
#[derive(Clone, Debug, Serialize)]
pub struct TtftSection {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
}

/// `sla`.
#[derive(Clone, Debug, Serialize)]
pub struct SlaSection {
    /// Requests that broke their class's SLA.
    pub violations: u64,
    /// violations / requests.
    pub rate: f64,
    /// Per class.
    pub by_class: BTreeMap<String, ClassSla>,
    /// Classes that had traffic but no `[sla.CLASS]`: their requests can
    /// never violate an SLA, which a gate should not mistake for meeting one.
    pub classes_without_sla: Vec<String>,
}

/// One class's SLA counts.
#[derive(Clone, Debug, Serialize)]
pub struct ClassSla {
    /// Requests of the class.
    pub requests: u64,
    /// Violations.
    pub violations: u64,
}

/// `attempts`.
#[derive(Clone, Debug, Serialize)]
pub struct AttemptsSection {
    /// All attempts.
    pub total: u64,
    /// Per endpoint.
    pub by_endpoint: BTreeMap<String, EndpointAttempts>,
}

/// One endpoint's attempts.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointAttempts {
    /// Attempts sent.
    pub attempts: u64,
    /// Attempts that answered.
    pub succeeded: u64,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Attempts called off before they ended (a hedge's loser, an attempt
    /// still running when its request finished): `attempts` = `succeeded` +
    /// every error + `cancelled` + any still running at the end.
    pub cancelled: u64,
}

/// `failover`.
#[derive(Clone, Debug, Serialize)]
pub struct FailoverSection {
    /// Moves to another endpoint after an error.
    pub events: u64,
    /// By the error that caused them.
    pub by_reason: BTreeMap<String, u64>,
    /// The fault windows by start time, the first
    /// [`MAX_LISTED_WINDOWS`](Report::MAX_LISTED_WINDOWS) of them at most
    /// (see the `fault_windows` module for the definitions).
    pub windows: Vec<FaultWindowSection>,
    /// Every fault window the run announced, listed or not.
    pub windows_total: u64,
    /// Windows not listed in `windows` because of the cap:
    /// `windows_total - windows.len()`.
    pub windows_omitted: u64,
}

/// `cache`: what the gateway's response cache (`[cache]`) served and saved,
/// and the input tokens providers' prompt caches billed at the cached price.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheSection {
    /// Requests served from the response cache (outcome `cached`).
    pub hits: u64,
    /// `hits` over all requests (0 without requests).
    pub hit_rate: f64,
    /// What the hits would have cost: each priced on the endpoint that
    /// answered its prompt, with its own tokens, at the price of its arrival.
    pub saved_usd: Nanodollars,
    /// Input tokens billed as cached by providers' prompt caches.
    pub prompt_cached_tokens: u64,
    /// What those tokens saved against the full input price.
    pub prompt_cache_saved_usd: Nanodollars,
}

/// `chaos` (live reports): injected faults in all, by rule and by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChaosSection {
    /// Attempts that met an injected fault.
    pub injected: u64,
    /// By the rule's name.
    pub by_rule: BTreeMap<String, u64>,
    /// By the fault's kind (`status`, `stall`, ...).
    pub by_kind: BTreeMap<String, u64>,
}

/// One fault window of `failover.windows`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultWindowSection {
    /// The endpoint the fault hit.
    pub endpoint: String,
    /// The fault's kind (`outage`, `rate_limit_burst`, ...; a chaos
    /// rule's fault kind in a live report).
    pub fault: String,
    /// Live reports: the chaos rule whose active period this window is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Start of the window.
    pub start_ms: u64,
    /// End of the window (exclusive); `null` when it lasts to the end of the run.
    pub end_ms: Option<u64>,
    /// From the start until traffic was first steered away from the endpoint;
    /// `null` if it never was.
    pub detected_after_ms: Option<u64>,
    /// Requests that finished failed or rejected inside the window after an
    /// attempt on the endpoint.
    pub failed_requests: u64,
    /// From the end until the endpoint next answered an attempt; `null` if it
    /// never did, or the window never ended.
    pub recovered_after_ms: Option<u64>,
}

/// One invariant's result, as the invariant checker reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvariantEntry {
    /// SPEC's name (`breaker_respected`).
    pub name: String,
    /// How many times it was broken.
    pub violations: u64,
    /// The first few violations.
    pub examples: Vec<InvariantExample>,
}

/// One violation of an invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvariantExample {
    /// The request's id.
    pub request: String,
    /// When it happened.
    pub at_ms: u64,
    /// The endpoint involved, if any.
    pub endpoint: Option<String>,
    /// What happened.
    pub detail: String,
}

/// One `[assert]` entry checked against the report's own figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Assertion {
    /// The `[assert]` key (`max_cost_usd`) or `invariant:<name>`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// The report's figure.
    pub actual: Figure,
    /// The scenario's bound.
    pub limit: Figure,
}

/// A number an assertion compares, kept in its exact type so the comparison
/// is exact (money in nano-dollars, counts as integers) and the JSON shows the
/// same number as the report section it came from. Serialized as a bare JSON
/// number (`null` for [`Figure::Missing`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Figure {
    /// Money, printed in USD as `cost.total_usd` is.
    Usd(Nanodollars),
    /// A rate, a mean or any other real number.
    Real(f64),
    /// Milliseconds, counts.
    Int(u64),
    /// No figure: a selected invariant the checker did not report.
    Missing,
}

/// The series behind the HTML charts: a fixed number of equal time buckets
/// from time 0, and the whole run's latency histogram.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TimeSeries {
    /// Width of one bucket.
    pub bucket_ms: u64,
    /// Endpoint names in scenario order; `buckets[i].attempts` follows it.
    pub endpoints: Vec<String>,
    /// The buckets, from time 0 to the last one with any event.
    pub buckets: Vec<Bucket>,
    /// End-to-end latency of succeeded requests, in log-spaced bins.
    pub latency_histogram: Vec<HistogramBin>,
}

/// One time bucket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bucket {
    /// Start of the bucket.
    pub start_ms: u64,
    /// Attempts started in the bucket, per endpoint (scenario order).
    pub attempts: Vec<u64>,
    /// Billed in the bucket (at each attempt's end).
    pub cost_usd: Nanodollars,
    /// Requests that arrived in the bucket and succeeded.
    pub succeeded: u64,
    /// Requests that arrived in the bucket and failed or were rejected.
    pub failed: u64,
    /// End-to-end latency of the succeeded requests that arrived in the
    /// bucket; `null` when there were none.
    pub latency_ms: Option<Percentiles>,
    /// Requests that arrived in the bucket and were served from the response cache.
    pub cache_hits: u64,
    /// Input tokens of the attempts that ended in the bucket.
    pub input_tokens: u64,
    /// Of them, those billed as cached by a prompt cache.
    pub cached_input_tokens: u64,
}

/// Three latency percentiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
}

/// One bin of a histogram: `count` values in `[lo_ms, hi_ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HistogramBin {
    /// Lower bound, inclusive.
    pub lo_ms: u64,
    /// Upper bound, exclusive.
    pub hi_ms: u64,
    /// Values in the bin.
    pub count: u64,
}

/// `policy_error_first`: one failed policy call, located.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyErrorSample {
    /// The hook (`route`, `on_error`, `accept`).
    pub hook: String,
    /// What went wrong, in the script engine's words.
    pub message: String,
    /// Line in the script, when known.
    pub line: Option<u32>,
    /// Column in the script, when known.
    pub col: Option<u32>,
    /// The request's id.
    pub request: String,
    /// When it happened.
    pub at_ms: u64,
}

impl PolicyErrorSample {
    /// The report's form of the executor's first policy error.
    pub fn of(first: &FirstPolicyError) -> PolicyErrorSample {
        let f = &first.failure;
        PolicyErrorSample {
            hook: f.hook.to_string(),
            message: f.message.clone(),
            line: f.position.map(|p| p.0),
            col: f.position.map(|p| p.1),
            request: first.request.clone(),
            at_ms: first.at_ms,
        }
    }
}

impl std::fmt::Display for PolicyErrorSample {
    /// `route at 12:5: unknown endpoint `x` (request r7, at 1500 ms)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hook)?;
        if let (Some(l), Some(c)) = (self.line, self.col) {
            write!(f, " at {l}:{c}")?;
        }
        write!(f, ": {} (request {}, at {} ms)", self.message, self.request, self.at_ms)
    }
}

/// `quality`.
#[derive(Clone, Debug, Serialize)]
pub struct QualitySection {
    /// Mean quality of answers.
    pub mean: f64,
}
