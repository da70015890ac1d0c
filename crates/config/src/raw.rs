//! `Raw*`: the scenario TOML exactly as written, before any check but its shape.
//!
//! Every table denies unknown keys, so a typo is an error with the key's own
//! line and column. Fields that a later check blames (names, chain entries,
//! durations, paths, numbers with a range) are `Spanned`, so `validate` can
//! point at them. Kinds (`kind`, `dist`, `format`, `pattern`) are plain
//! spanned strings rather than serde enums: `validate` then words the error
//! itself ("did you mean `lognormal`?") and the fault table stays one flat
//! struct, because an internally tagged enum would buffer its content and lose
//! both the spans and the "unknown key" position.
//!
//! Two values take more than one TOML shape and have a hand-written
//! `Deserialize`: `policy` (a path or `{ chain = [..] }`) and a distribution
//! (a number or `{ dist = "..", .. }`). Both hand the table form on to a derived
//! struct, so unknown keys inside are refused the same way as everywhere else.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub(crate) name: Option<String>,
    pub(crate) seed: Option<u64>,
    pub(crate) price_table: Option<Spanned<String>>,
    pub(crate) policy: Spanned<RawPolicy>,
    pub(crate) trace: Option<Spanned<RawTrace>>,
    #[serde(default)]
    pub(crate) sla: BTreeMap<String, RawSla>,
    #[serde(default)]
    pub(crate) budgets: BTreeMap<String, RawBudget>,
    #[serde(default)]
    pub(crate) endpoints: Vec<RawEndpoint>,
    #[serde(default)]
    pub(crate) assert: RawAssert,
    pub(crate) proxy: Option<RawProxy>,
    pub(crate) cache: Option<Spanned<RawCache>>,
}

/// `[cache]`: the gateway's exact-match response cache.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCache {
    pub(crate) ttl: Option<Spanned<RawDuration>>,
    pub(crate) max_entries: Option<Spanned<u64>>,
    pub(crate) latency_ms: Option<u64>,
    pub(crate) max_bytes: Option<u64>,
}

/// `[proxy]`: live mode's listener and secrets (names of environment variables).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProxy {
    pub(crate) listen: Option<Spanned<String>>,
    pub(crate) client_keys_env: Option<String>,
    pub(crate) admin_token_env: Option<String>,
}

/// `upstream = { kind, base_url, model, api_key_env, accepts_prefill }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    pub(crate) kind: Spanned<String>,
    pub(crate) base_url: Spanned<String>,
    pub(crate) model: Option<String>,
    pub(crate) api_key_env: Option<String>,
    pub(crate) accepts_prefill: Option<bool>,
}

/// `policy = "path.rhai"` or `policy = { chain = [..], attempt_timeout_ms, max_attempts }`.
#[derive(Debug)]
pub(crate) enum RawPolicy {
    Script(String),
    Chain(Box<RawChain>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChain {
    pub(crate) chain: Spanned<Vec<Spanned<String>>>,
    pub(crate) attempt_timeout_ms: Option<Spanned<u64>>,
    pub(crate) ttft_timeout_ms: Option<Spanned<u64>>,
    pub(crate) stall_timeout_ms: Option<Spanned<u64>>,
    pub(crate) max_attempts: Option<Spanned<u32>>,
    pub(crate) hedge_after_ms: Option<Spanned<u64>>,
    pub(crate) deadline_ms: Option<Spanned<u64>>,
    pub(crate) max_wait_ms: Option<Spanned<u64>>,
    pub(crate) breaker: Option<RawBreaker>,
    pub(crate) retry: Option<RawRetry>,
}

/// `breaker = { .. }` of a fixed-chain policy: the keys of `settings().breaker`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBreaker {
    pub(crate) failure_rate: Option<Spanned<f64>>,
    pub(crate) min_requests: Option<Spanned<u32>>,
    pub(crate) window_s: Option<Spanned<f64>>,
    pub(crate) open_s: Option<Spanned<f64>>,
    pub(crate) half_open_probes: Option<Spanned<u32>>,
    pub(crate) consecutive_failures: Option<u32>,
}

/// `retry = { .. }` of a fixed-chain policy: the keys of `settings().retry`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub(crate) base_ms: Option<u64>,
    pub(crate) max_ms: Option<Spanned<u64>>,
    pub(crate) jitter: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for RawPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawPolicy, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPolicy;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a script path or a table such as { chain = [\"a/x\", \"b/y\"] }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPolicy, E> {
                Ok(RawPolicy::Script(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawPolicy, A::Error> {
                RawChain::deserialize(de::value::MapAccessDeserializer::new(map)).map(|c| RawPolicy::Chain(Box::new(c)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[trace]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrace {
    pub(crate) path: Option<Spanned<String>>,
    pub(crate) format: Option<Spanned<String>>,
    pub(crate) limit: Option<Spanned<RawDuration>>,
    pub(crate) speed: Option<Spanned<f64>>,
    pub(crate) skip_bad_lines: Option<bool>,
    pub(crate) synthetic: Option<Spanned<RawSynthetic>>,
    pub(crate) start_at: Option<Spanned<String>>,
}

/// `[trace.synthetic]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSynthetic {
    pub(crate) rate_per_s: Option<Spanned<f64>>,
    pub(crate) duration: Option<Spanned<RawDuration>>,
    pub(crate) pattern: Option<Spanned<String>>,
    pub(crate) input_tokens: Option<Spanned<RawDist>>,
    pub(crate) output_tokens: Option<Spanned<RawDist>>,
    pub(crate) classes: Option<Spanned<BTreeMap<String, Spanned<f64>>>>,
    pub(crate) tenants: Option<Spanned<BTreeMap<String, Spanned<f64>>>>,
    pub(crate) langs: Option<Spanned<BTreeMap<String, Spanned<f64>>>>,
    pub(crate) stream: Option<Spanned<f64>>,
    pub(crate) conversations: Option<RawConversations>,
    pub(crate) repeats: Option<Spanned<RawRepeats>>,
}

/// `repeats = { share, prompts }` under `[trace.synthetic]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRepeats {
    pub(crate) share: Option<Spanned<f64>>,
    pub(crate) prompts: Option<Spanned<u32>>,
}

/// `conversations = { turns, system_tokens }` under `[trace.synthetic]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConversations {
    pub(crate) turns: Option<Spanned<f64>>,
    pub(crate) system_tokens: Option<u32>,
}

/// `[sla.CLASS]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSla {
    pub(crate) latency_ms: Option<u64>,
    pub(crate) ttft_ms: Option<u64>,
    pub(crate) deadline_ms: Option<u64>,
}

/// `TENANT = { usd = 50.0 }` under `[budgets]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBudget {
    pub(crate) usd: Spanned<f64>,
}

/// One `[[endpoints]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEndpoint {
    pub(crate) name: Spanned<String>,
    pub(crate) price: Option<RawPrice>,
    pub(crate) context_window: Option<Spanned<u32>>,
    pub(crate) max_output_tokens: Option<Spanned<u32>>,
    pub(crate) tokenizer: Option<RawTokenizer>,
    pub(crate) latency: Option<RawLatency>,
    pub(crate) rate_limit: Option<RawRateLimit>,
    pub(crate) concurrency: Option<Spanned<u32>>,
    pub(crate) errors: Option<RawErrors>,
    pub(crate) quality: Option<RawQuality>,
    #[serde(default)]
    pub(crate) faults: Vec<Spanned<RawFault>>,
    #[serde(default)]
    pub(crate) price_changes: Vec<RawPriceChange>,
    pub(crate) upstream: Option<Spanned<RawUpstream>>,
    pub(crate) prompt_cache: Option<RawPromptCache>,
    #[serde(default)]
    pub(crate) price_schedule: Vec<RawScheduleWindow>,
}

/// `[[endpoints.price_schedule]]`: a daily window (UTC) with its own prices.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScheduleWindow {
    pub(crate) from: Spanned<String>,
    pub(crate) to: Spanned<String>,
    pub(crate) input_per_mtok: Option<Spanned<f64>>,
    pub(crate) output_per_mtok: Option<Spanned<f64>>,
    pub(crate) cached_input_per_mtok: Option<Spanned<f64>>,
    pub(crate) cache_write_per_mtok: Option<Spanned<f64>>,
}

/// `prompt_cache = { ttl, min_tokens, block_tokens }`: provider prefix caching.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPromptCache {
    pub(crate) ttl: Option<Spanned<RawDuration>>,
    pub(crate) min_tokens: Option<u32>,
    pub(crate) block_tokens: Option<Spanned<u32>>,
}

/// The keys of [`RawEndpoint`], for `--set endpoints.NAME.KEY` parsing.
pub(crate) const ENDPOINT_KEYS: [&str; 15] = [
    "name",
    "price",
    "context_window",
    "max_output_tokens",
    "tokenizer",
    "latency",
    "rate_limit",
    "concurrency",
    "errors",
    "quality",
    "faults",
    "price_changes",
    "upstream",
    "prompt_cache",
    "price_schedule",
];

/// `price = { input_per_mtok, output_per_mtok, cached_input_per_mtok, cache_write_per_mtok }` or
/// `price = { catalog = "gpt-4o" }`, or explicit prices; not both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrice {
    pub(crate) catalog: Option<Spanned<String>>,
    pub(crate) input_per_mtok: Option<Spanned<f64>>,
    pub(crate) output_per_mtok: Option<Spanned<f64>>,
    pub(crate) cached_input_per_mtok: Option<Spanned<f64>>,
    pub(crate) cache_write_per_mtok: Option<Spanned<f64>>,
    pub(crate) long_context: Option<Spanned<RawLongContext>>,
}

/// `long_context = { above_tokens = 128000, input_per_mtok, output_per_mtok, cached_input_per_mtok,
/// cache_write_per_mtok }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLongContext {
    pub(crate) above_tokens: Spanned<u64>,
    pub(crate) input_per_mtok: Spanned<f64>,
    pub(crate) output_per_mtok: Spanned<f64>,
    pub(crate) cached_input_per_mtok: Option<Spanned<f64>>,
    pub(crate) cache_write_per_mtok: Option<Spanned<f64>>,
}

/// `tokenizer = { ratio, lang = { zh = 1.3 } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTokenizer {
    pub(crate) ratio: Option<Spanned<f64>>,
    #[serde(default)]
    pub(crate) lang: BTreeMap<String, Spanned<f64>>,
}

/// `latency = { ttft_ms = DIST, tokens_per_s = DIST }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLatency {
    pub(crate) ttft_ms: Option<Spanned<RawDist>>,
    pub(crate) tokens_per_s: Option<Spanned<RawDist>>,
}

/// `rate_limit = { rpm, tpm }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateLimit {
    pub(crate) rpm: Option<Spanned<u64>>,
    pub(crate) tpm: Option<Spanned<u64>>,
}

/// `errors = { server_error_rate }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawErrors {
    pub(crate) server_error_rate: Option<Spanned<f64>>,
}

/// `quality = { mean, sd }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuality {
    pub(crate) mean: Option<Spanned<f64>>,
    pub(crate) sd: Option<Spanned<f64>>,
}

/// One `[[endpoints.faults]]`: every kind's keys, checked against `kind` in `validate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub(crate) kind: Spanned<String>,
    pub(crate) start: Option<Spanned<RawDuration>>,
    pub(crate) end: Option<Spanned<RawDuration>>,
    pub(crate) every: Option<Spanned<RawDuration>>,
    pub(crate) lasting: Option<Spanned<RawDuration>>,
    pub(crate) probability: Option<Spanned<f64>>,
    pub(crate) status: Option<Spanned<u16>>,
    pub(crate) retry_after: Option<Spanned<RawDuration>>,
    pub(crate) multiplier: Option<Spanned<f64>>,
    pub(crate) after_tokens: Option<Spanned<u32>>,
}

/// One `[[endpoints.price_changes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPriceChange {
    pub(crate) at: Spanned<RawDuration>,
    pub(crate) input_per_mtok: Option<Spanned<f64>>,
    pub(crate) output_per_mtok: Option<Spanned<f64>>,
    pub(crate) cached_input_per_mtok: Option<Spanned<f64>>,
    pub(crate) cache_write_per_mtok: Option<Spanned<f64>>,
}

/// `[assert]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAssert {
    pub(crate) max_cost_usd: Option<Spanned<f64>>,
    pub(crate) max_error_rate: Option<Spanned<f64>>,
    pub(crate) max_sla_violation_rate: Option<Spanned<f64>>,
    pub(crate) max_p99_ms: Option<u64>,
    pub(crate) max_p95_ms: Option<u64>,
    pub(crate) min_quality: Option<Spanned<f64>>,
    pub(crate) max_policy_errors: Option<u64>,
    pub(crate) invariants: Option<RawInvariants>,
}

/// `invariants = "all"` or `["name", ..]`.
#[derive(Debug)]
pub(crate) enum RawInvariants {
    All,
    Only(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawInvariants {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawInvariants, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawInvariants;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"all\" or a list of invariant names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawInvariants, E> {
                if v == "all" { Ok(RawInvariants::All) } else { Err(E::invalid_value(Unexpected::Str(v), &self)) }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawInvariants, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<Spanned<String>>()? {
                    names.push(n);
                }
                Ok(RawInvariants::Only(names))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration string (`"90s"`, `"6h20m"`), parsed in `validate` so that a bad
/// one is blamed with its key path. A bare number is refused here: a unit
/// must be explicit.
#[derive(Debug)]
pub(crate) struct RawDuration(pub(crate) String);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawDuration, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit such as \"90s\" or \"6h20m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A distribution: a bare number (fixed) or `{ dist = "..", .. }`.
#[derive(Debug)]
pub(crate) enum RawDist {
    Number(f64),
    Table(Box<RawDistTable>),
}

/// `{ dist = "lognormal", median, p99 }` and its siblings; which parameters a
/// `dist` takes is checked in `validate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDistTable {
    pub(crate) dist: Spanned<String>,
    pub(crate) median: Option<Spanned<f64>>,
    pub(crate) p99: Option<Spanned<f64>>,
    pub(crate) mean: Option<Spanned<f64>>,
    pub(crate) sd: Option<Spanned<f64>>,
    pub(crate) min: Option<Spanned<f64>>,
    pub(crate) max: Option<Spanned<f64>>,
    pub(crate) value: Option<Spanned<f64>>,
}

impl<'de> Deserialize<'de> for RawDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawDist, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDist;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a table such as { dist = \"lognormal\", median = 450, p99 = 2500 }")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDist, E> {
                Ok(RawDist::Number(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDist, A::Error> {
                RawDistTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawDist::Table(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}
