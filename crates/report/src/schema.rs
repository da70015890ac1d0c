//! `report.json`: the schema types, serialized in SPEC's key order. Maps are
//! `BTreeMap`s so output is byte-identical run to run; money is integer and
//! printed in USD.

use serde::Serialize;
use std::collections::BTreeMap;
use windtunnel_core::Nanodollars;

/// Bumped when a required key changes.
pub const SCHEMA_VERSION: u32 = 1;

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
    /// TTFT of streamed successes, from arrival.
    pub ttft_ms: TtftSection,
    /// SLA.
    pub sla: SlaSection,
    /// Attempts.
    pub attempts: AttemptsSection,
    /// Failover.
    pub failover: FailoverSection,
    /// Failed policy calls.
    pub policy_errors: u64,
    /// Quality.
    pub quality: QualitySection,
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
    /// Maximum.
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
}

/// `failover`.
#[derive(Clone, Debug, Serialize)]
pub struct FailoverSection {
    /// Moves to another endpoint after an error.
    pub events: u64,
    /// By the error that caused them.
    pub by_reason: BTreeMap<String, u64>,
}

/// `quality`.
#[derive(Clone, Debug, Serialize)]
pub struct QualitySection {
    /// Mean quality of answers.
    pub mean: f64,
}
