//! Validated scenario types: what the rest of windtunnel reads. Every value
//! here has passed validation; invalid states are not representable where a
//! type can say so (money is [`Nanodollars`], durations are milliseconds,
//! endpoint references are indices).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use windtunnel_core::{
    BreakerSettings, DEFAULT_ATTEMPT_TIMEOUT_MS, Dist, EndpointFacts, EndpointId, EndpointIdx, FixedChain, Nanodollars,
    Plan, Price, RetrySettings, TokenRatio,
};
use windtunnel_trace::{SyntheticSpec, TraceFormat};

/// One scenario file, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// `name`, or the file stem when absent.
    pub name: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// `seed` (default 0), possibly overridden by `--seed`.
    pub seed: u64,
    /// The policy: a script path or a fixed chain.
    pub policy: PolicySpec,
    /// `attempt_timeout_ms` and `max_attempts` of `policy = { chain = [..], .. }`
    /// (defaults when absent, and for a script policy).
    pub chain_limits: ChainLimits,
    /// The traffic.
    pub trace: TraceSpec,
    /// SLA per class; classes absent here have no SLA.
    pub sla: BTreeMap<String, SlaSpec>,
    /// Budget per tenant, for the whole run.
    pub budgets: BTreeMap<String, Nanodollars>,
    /// The endpoints, in file order; [`EndpointIdx`] indexes this list.
    pub endpoints: Vec<EndpointSpec>,
    /// The `[assert]` table.
    pub assert: AssertSpec,
    /// `--set policy.NAME=VALUE` overrides, in command-line order: (NAME, VALUE as typed).
    pub policy_params: Vec<(String, String)>,
    /// `[proxy]` (defaults when absent).
    pub proxy: ProxySpec,
    /// `[cache]`: the gateway's response cache; `None` without the table.
    pub cache: Option<CacheSpec>,
}

/// `[cache]`: an exact-match response cache in front of the policy. A
/// request whose `prompt_hash` was answered within `ttl_ms` is served from
/// it: outcome `cached`, cost 0, after `latency_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSpec {
    /// `ttl` (default 1 h): how long an answer stays servable.
    pub ttl_ms: u64,
    /// `max_entries` (default 100,000): beyond it, the least recently used
    /// entry goes.
    pub max_entries: u64,
    /// `latency_ms` (default 5): the time a hit takes.
    pub latency_ms: u64,
    /// `max_bytes` (default 256 MiB): live, the answers' bodies held at
    /// most; beyond it the least recently used go, and an answer larger
    /// than it is not kept. The simulator keeps no bodies.
    pub max_bytes: u64,
}

impl CacheSpec {
    /// The default `max_bytes`: 256 MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;
}

impl Default for CacheSpec {
    fn default() -> CacheSpec {
        CacheSpec { ttl_ms: 3_600_000, max_entries: 100_000, latency_ms: 5, max_bytes: CacheSpec::DEFAULT_MAX_BYTES }
    }
}

impl Scenario {
    /// The index of an endpoint by name.
    pub fn endpoint_idx(&self, name: &str) -> Option<EndpointIdx> {
        self.endpoints.iter().position(|e| e.id.as_str() == name).map(|i| EndpointIdx(i as u16))
    }

    /// The plan every request gets under a fixed-chain policy (chain plus
    /// [`Scenario::chain_limits`]); `None` for a script policy.
    pub fn chain_plan(&self) -> Option<Plan> {
        match &self.policy {
            PolicySpec::Chain(chain) => Some(self.chain_limits.plan(chain)),
            PolicySpec::Script(_) => None,
        }
    }
}

/// What a fixed-chain policy table may set beside `chain`: every plan field
/// of a script's `route()` and the `breaker` and `retry` of its `settings()`,
/// so a scenario without a script can tune them too.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChainLimits {
    /// `attempt_timeout_ms` (default [`DEFAULT_ATTEMPT_TIMEOUT_MS`]).
    pub attempt_timeout_ms: u64,
    /// `ttft_timeout_ms`: streams, longest wait for the first token.
    pub ttft_timeout_ms: Option<u64>,
    /// `stall_timeout_ms`: streams, longest silence between chunks.
    pub stall_timeout_ms: Option<u64>,
    /// `max_attempts` (default: one per chain entry).
    pub max_attempts: Option<u32>,
    /// `hedge_after_ms`.
    pub hedge_after_ms: Option<u64>,
    /// `deadline_ms`.
    pub deadline_ms: Option<u64>,
    /// `max_wait_ms`.
    pub max_wait_ms: Option<u64>,
    /// `breaker` (default as in `settings()`).
    pub breaker: BreakerSettings,
    /// `retry` (default as in `settings()`).
    pub retry: RetrySettings,
}

impl ChainLimits {
    /// `chain` with these limits.
    pub fn plan(&self, chain: &[EndpointIdx]) -> Plan {
        let mut plan = Plan::chain(chain.to_vec());
        plan.attempt_timeout_ms = self.attempt_timeout_ms;
        plan.ttft_timeout_ms = self.ttft_timeout_ms;
        plan.stall_timeout_ms = self.stall_timeout_ms;
        plan.max_attempts = self.max_attempts;
        plan.hedge_after_ms = self.hedge_after_ms;
        plan.deadline_ms = self.deadline_ms;
        plan.max_wait_ms = self.max_wait_ms;
        plan
    }

    /// The built-in planner for `chain`: this plan, these breakers and backoff.
    pub fn planner(&self, chain: &[EndpointIdx]) -> FixedChain {
        FixedChain::with_settings(self.plan(chain), self.breaker, self.retry)
    }
}

impl Default for ChainLimits {
    fn default() -> ChainLimits {
        ChainLimits {
            attempt_timeout_ms: DEFAULT_ATTEMPT_TIMEOUT_MS,
            ttft_timeout_ms: None,
            stall_timeout_ms: None,
            max_attempts: None,
            hedge_after_ms: None,
            deadline_ms: None,
            max_wait_ms: None,
            breaker: BreakerSettings::default(),
            retry: RetrySettings::default(),
        }
    }
}

/// Which policy drives the run.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicySpec {
    /// A Rhai script, path resolved against the scenario's folder.
    Script(PathBuf),
    /// The built-in fixed chain (`policy = { chain = [...] }`); its limits
    /// are [`Scenario::chain_limits`], and [`Scenario::chain_plan`] puts both together.
    Chain(Vec<EndpointIdx>),
}

/// `[trace]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSpec {
    /// Where requests come from.
    pub source: TraceSource,
    /// `limit`: replay only requests arriving before this.
    pub limit_ms: Option<u64>,
    /// `speed`: arrival times are divided by it (> 1 compresses). Default 1.
    pub speed: f64,
    /// `skip_bad_lines`: skip and count bad lines instead of failing.
    pub skip_bad_lines: bool,
    /// `start_at`: the time of day (ms since midnight UTC) of the run's time
    /// 0, for daily price schedules (default 0: midnight).
    pub start_ms_of_day: u64,
}

/// A file or a generator.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceSource {
    /// A trace file, path resolved against the scenario's folder.
    File {
        /// Resolved path.
        path: PathBuf,
        /// Its format (default jsonl).
        format: TraceFormat,
    },
    /// `[trace.synthetic]`.
    Synthetic(SyntheticSpec),
    /// No `[trace]`: a scenario for live mode only.
    None,
}

/// `[sla.CLASS]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlaSpec {
    /// End-to-end latency above which a request is a violation.
    pub latency_ms: Option<u64>,
    /// For streamed requests: time to first token above which it is a violation.
    pub ttft_ms: Option<u64>,
    /// The request is abandoned (failed: deadline) after this.
    pub deadline_ms: Option<u64>,
}

/// One `[[endpoints]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointSpec {
    /// `name`, `provider/model`.
    pub id: EndpointId,
    /// Price at the start of the run (default: free).
    pub price: Price,
    /// `context_window` in this endpoint's tokens; `None` = unlimited.
    pub context_window: Option<u32>,
    /// `max_output_tokens`; `None` = unlimited.
    pub max_output_tokens: Option<u32>,
    /// `tokenizer`.
    pub tokenizer: TokenizerSpec,
    /// `latency`.
    pub latency: LatencySpec,
    /// `rate_limit`.
    pub rate_limit: RateLimitSpec,
    /// `concurrency`: in-flight requests served at once; more queue. `None` = unlimited.
    pub concurrency: Option<u32>,
    /// `errors`.
    pub errors: ErrorsSpec,
    /// `quality`.
    pub quality: QualitySpec,
    /// `[[endpoints.faults]]`, in file order.
    pub faults: Vec<FaultSpec>,
    /// `[[endpoints.price_changes]]`, sorted by time.
    pub price_changes: Vec<PriceChange>,
    /// `upstream`: where live mode sends this endpoint's attempts.
    pub upstream: Option<UpstreamSpec>,
    /// `prompt_cache`: provider prefix caching; `None` without the key.
    pub prompt_cache: Option<PromptCacheSpec>,
    /// `[[endpoints.price_schedule]]`: daily price windows, placed on the
    /// run's clock by the trace's `start_at`; `None` without windows.
    pub price_schedule: Option<windtunnel_core::DailySchedule>,
}

pub use windtunnel_core::PromptCacheSpec;

/// The API dialect of an upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamKind {
    /// Any OpenAI-compatible chat-completions API.
    OpenAi,
    /// Anthropic's Messages API, translated to and from the OpenAI shape.
    Anthropic,
}

/// `upstream = { .. }` of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamSpec {
    /// The dialect.
    pub kind: UpstreamKind,
    /// The API's base URL, without a trailing slash (`https://api.openai.com/v1`).
    pub base_url: String,
    /// The model name the upstream knows (default: the endpoint name's part after `/`).
    pub model: String,
    /// The environment variable holding the API key; `None` = no auth.
    pub api_key_env: Option<String>,
    /// Whether the upstream continues an assistant message (mid-stream rescue target).
    pub accepts_prefill: bool,
}

/// `[proxy]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxySpec {
    /// `listen`: the address to bind (default `127.0.0.1:8080`).
    pub listen: String,
    /// `client_keys_env`: the variable with comma-separated client keys (default `WINDTUNNEL_CLIENT_KEYS`).
    pub client_keys_env: String,
    /// `admin_token_env`: the variable with the admin token (default `WINDTUNNEL_ADMIN_TOKEN`).
    pub admin_token_env: String,
}

impl Default for ProxySpec {
    fn default() -> ProxySpec {
        ProxySpec {
            listen: "127.0.0.1:8080".into(),
            client_keys_env: "WINDTUNNEL_CLIENT_KEYS".into(),
            admin_token_env: "WINDTUNNEL_ADMIN_TOKEN".into(),
        }
    }
}

impl EndpointSpec {
    /// What the executor and policies know of this endpoint: window, output
    /// cap, tokenizer, prices over time, expected quality.
    pub fn facts(&self) -> EndpointFacts {
        let mut prices = vec![(0, self.price)];
        prices.extend(self.price_changes.iter().map(|c| (c.at_ms, c.price)));
        EndpointFacts {
            id: self.id.clone(),
            context_window: self.context_window,
            max_output_tokens: self.max_output_tokens,
            max_request_tokens: self.rate_limit.tpm,
            tokenizer: TokenRatio {
                ratio: self.tokenizer.ratio,
                lang: self.tokenizer.lang.iter().map(|(k, v)| (Arc::from(k.as_str()), *v)).collect(),
            },
            prices,
            quality: self.quality.mean,
            prompt_cache: self.prompt_cache,
            schedule: self.price_schedule.clone().map(Box::new),
        }
    }
}

/// `tokenizer = { ratio = 1.0, lang = { zh = 1.3 } }`: tokens counted here per reference token.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenizerSpec {
    /// Default ratio (default 1.0).
    pub ratio: f64,
    /// Per-language overrides.
    pub lang: BTreeMap<String, f64>,
}

impl Default for TokenizerSpec {
    fn default() -> TokenizerSpec {
        TokenizerSpec { ratio: 1.0, lang: BTreeMap::new() }
    }
}

/// `latency = { ttft_ms = {...}, tokens_per_s = {...} }`.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencySpec {
    /// Time to first token, ms. Default lognormal median 500, p99 2000.
    pub ttft_ms: Dist,
    /// Decode speed, tokens per second. Default normal mean 80, sd 10.
    pub tokens_per_s: Dist,
}

/// `rate_limit = { rpm = 500, tpm = 800000 }`; absent keys = no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimitSpec {
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens per minute, as this endpoint counts them.
    pub tpm: Option<u64>,
}

/// `errors = { server_error_rate = 0.002 }`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrorsSpec {
    /// Share of attempts that fail with a 500 after their TTFT, outside any fault.
    pub server_error_rate: f64,
}

/// `quality = { mean = 0.9, sd = 0.05 }`: per-response score, clamped to [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QualitySpec {
    /// Mean (default 0.9).
    pub mean: f64,
    /// Standard deviation (default 0).
    pub sd: f64,
}

impl Default for QualitySpec {
    fn default() -> QualitySpec {
        QualitySpec { mean: 0.9, sd: 0.0 }
    }
}

/// One `[[endpoints.faults]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    /// What an affected attempt meets.
    pub kind: FaultKind,
    /// When the fault is active.
    pub window: FaultWindowSpec,
    /// Share of attempts inside a window that are hit (default 1.0).
    pub probability: f64,
}

/// The fault kinds of SPEC with their kind-specific keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// Fails at once with `status` (default 503).
    Outage {
        /// HTTP status.
        status: u16,
    },
    /// Never answers; only a timeout ends it.
    Hang,
    /// A rate 429 with Retry-After.
    RateLimitBurst {
        /// Announced Retry-After.
        retry_after_ms: u64,
    },
    /// A quota error (`quota_exceeded`) with `status` (default 429).
    Quota {
        /// HTTP status.
        status: u16,
    },
    /// TTFT and decode time multiplied.
    LatencySpike {
        /// Factor (default 5).
        multiplier: f64,
    },
    /// Fails with `status` (default 500) after its TTFT.
    ErrorRate {
        /// HTTP status.
        status: u16,
    },
    /// Answers 200 with a body that cannot be parsed.
    Malformed,
    /// Stops after `after_tokens` output tokens (default: half the output).
    StreamCut {
        /// Tokens before the cut.
        after_tokens: Option<u32>,
    },
}

impl FaultKind {
    /// Every kind's name, in SPEC's order: the one list the parser offers
    /// and [`FaultKind::as_str`] answers from (a test keeps them together).
    pub const NAMES: [&'static str; 8] =
        ["outage", "hang", "rate_limit_burst", "quota", "latency_spike", "error_rate", "malformed", "stream_cut"];

    /// SPEC's name (`rate_limit_burst`).
    pub fn as_str(&self) -> &'static str {
        match self {
            FaultKind::Outage { .. } => "outage",
            FaultKind::Hang => "hang",
            FaultKind::RateLimitBurst { .. } => "rate_limit_burst",
            FaultKind::Quota { .. } => "quota",
            FaultKind::LatencySpike { .. } => "latency_spike",
            FaultKind::ErrorRate { .. } => "error_rate",
            FaultKind::Malformed => "malformed",
            FaultKind::StreamCut { .. } => "stream_cut",
        }
    }
}

/// When a fault is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultWindowSpec {
    /// `start`, `end` (absent = to the end of the run).
    Fixed {
        /// Start, ms from the trace start.
        start_ms: u64,
        /// End (exclusive).
        end_ms: Option<u64>,
    },
    /// `every` (mean gap) and `lasting` (mean length), both exponential.
    Stochastic {
        /// Mean gap between windows.
        every_ms: u64,
        /// Mean window length.
        lasting_ms: u64,
    },
}

/// One `[[endpoints.price_changes]]`: the new price from `at_ms` on. Keys left
/// out keep the price in force before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceChange {
    /// When.
    pub at_ms: u64,
    /// The full price from then on.
    pub price: Price,
}

/// `[assert]`: limits the `check` gate enforces. Absent = not asserted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssertSpec {
    /// Total cost.
    pub max_cost_usd: Option<Nanodollars>,
    /// failed / total.
    pub max_error_rate: Option<f64>,
    /// SLA violations / total.
    pub max_sla_violation_rate: Option<f64>,
    /// p99 end-to-end latency of successes.
    pub max_p99_ms: Option<u64>,
    /// p95 end-to-end latency of successes.
    pub max_p95_ms: Option<u64>,
    /// Mean quality of successes.
    pub min_quality: Option<f64>,
    /// Most failed policy calls allowed; 0 unless the scenario says otherwise,
    /// so a policy that fails on any request fails the gate.
    pub max_policy_errors: u64,
    /// Which invariants must hold.
    pub invariants: InvariantSelection,
}

/// `invariants = "all"` or a list of names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum InvariantSelection {
    /// Every invariant (the default).
    #[default]
    All,
    /// Only these.
    Only(Vec<String>),
}
