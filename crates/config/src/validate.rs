//! [`RawScenario`] → [`Scenario`]: defaults, ranges, cross-field checks, file
//! existence, catalog prices and endpoint references.
//!
//! Why a separate phase: serde checks shapes, one value at a time. What needs
//! two keys (a fault's `start` before its `end`, a chain naming a defined
//! endpoint, a `catalog` needing `price_table`) or the file system (a trace
//! that must exist now, not ten virtual minutes into the run) lives here, and
//! every error names the key path and points at the value it blames.

use crate::catalog::{Catalog, LongContextUsd, LookupError};
use crate::error::{ConfigError, ConfigErrorKind, Location, did_you_mean, line_col};
use crate::raw::{
    RawAssert, RawCache, RawChain, RawDist, RawDuration, RawEndpoint, RawFault, RawInvariants, RawPolicy, RawPrice,
    RawPriceChange, RawPromptCache, RawProxy, RawRepeats, RawScenario, RawScheduleWindow, RawSynthetic, RawTrace,
    RawUpstream,
};
use crate::spec::{
    AssertSpec, CacheSpec, ChainLimits, EndpointSpec, ErrorsSpec, FaultKind, FaultSpec, FaultWindowSpec,
    InvariantSelection, LatencySpec, PolicySpec, PriceChange, PromptCacheSpec, ProxySpec, QualitySpec, RateLimitSpec,
    Scenario, SlaSpec, TokenizerSpec, TraceSource, TraceSpec, UpstreamKind, UpstreamSpec,
};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use windtunnel_core::{
    DAY_MS, DailySchedule, DailyWindow, Dist, EndpointId, EndpointIdx, JitterKind, LongContextPrice, Nanodollars,
    Price, PricePerMtok, parse_duration_ms,
};
use windtunnel_trace::{
    ArrivalPattern, ConversationSpec, MAX_REPEATED_PROMPTS, RepeatSpec, SpecError, SyntheticSpec, TraceFormat,
};

/// SPEC's fault kinds, in SPEC's order.
const FAULT_KINDS: [&str; 8] = FaultKind::NAMES;

/// The distributions a scenario can name.
const DIST_NAMES: [&str; 5] = ["lognormal", "normal", "uniform", "fixed", "exponential"];

/// SPEC's arrival patterns.
const PATTERNS: [&str; 3] = ["poisson", "diurnal", "bursty"];

/// SPEC's invariant names: a misspelt name in `[assert]` fails at load time.
const INVARIANTS: [&str; 8] = windtunnel_core::INVARIANT_NAMES;

/// `retry_after` when a `rate_limit_burst` does not say: one second, the
/// smallest Retry-After real providers commonly send.
const DEFAULT_RETRY_AFTER_MS: u64 = 1_000;

/// The most requests an endpoint may serve at once (`concurrency`): its
/// queue's slots are allocated up front.
const MAX_CONCURRENCY: u32 = 1_000_000;

/// The highest price accepted, USD per million tokens ($1 a token): far above
/// any real price, low enough that no run's bill can overflow.
const MAX_PRICE_PER_MTOK: f64 = 1_000_000.0;

/// Default `latency_spike` multiplier (SPEC: 5).
const DEFAULT_SPIKE_MULTIPLIER: f64 = 5.0;

/// Validates `raw`, read from `text` in `file`.
pub(crate) fn validate(raw: RawScenario, text: &str, file: &Path) -> Result<Scenario, ConfigError> {
    let base = file.parent().unwrap_or(Path::new("")).to_path_buf();
    Validator { text, file, base }.scenario(raw)
}

struct Validator<'a> {
    text: &'a str,
    file: &'a Path,
    /// The scenario's folder: relative paths start here.
    base: PathBuf,
}

/// Prices in USD per Mtok while they are being assembled; `cached` stays
/// `None` until something sets it, and then follows `input`.
#[derive(Clone, Copy, Debug, Default)]
struct PriceUsd {
    input: f64,
    output: f64,
    cached: Option<f64>,
    /// Like `cached`: `None` follows `input`.
    cache_write: Option<f64>,
    long_context: Option<LongContextUsd>,
}

impl PriceUsd {
    fn to_price(self) -> Price {
        Price {
            input: PricePerMtok::from_usd(self.input),
            output: PricePerMtok::from_usd(self.output),
            cached_input: PricePerMtok::from_usd(self.cached.unwrap_or(self.input)),
            cache_write: PricePerMtok::from_usd(self.cache_write.unwrap_or(self.input)),
            long_context: self.long_context.map(|lc| LongContextPrice {
                above_tokens: lc.above,
                input: PricePerMtok::from_usd(lc.input),
                output: PricePerMtok::from_usd(lc.output),
                cached_input: PricePerMtok::from_usd(lc.cached.unwrap_or(lc.input)),
                cache_write: PricePerMtok::from_usd(lc.cache_write.unwrap_or(lc.input)),
            }),
        }
    }
}

/// The `*_per_mtok` keys a price table (`price`, a price change, a
/// schedule window) may set.
struct PriceKeys<'a> {
    input: &'a Option<Spanned<f64>>,
    output: &'a Option<Spanned<f64>>,
    cached: &'a Option<Spanned<f64>>,
    cache_write: &'a Option<Spanned<f64>>,
}

// === impl Validator: the scenario ===

impl Validator<'_> {
    fn scenario(&self, raw: RawScenario) -> Result<Scenario, ConfigError> {
        let name = match raw.name {
            Some(n) => n,
            None => self.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        let catalog = match &raw.price_table {
            Some(pt) => Some((self.catalog(pt)?, pt.get_ref().as_str())),
            None => None,
        };
        if let RawPolicy::Script(path) = raw.policy.get_ref() {
            self.file_path(raw.policy.span(), path, "policy")?;
        }
        let trace = match &raw.trace {
            Some(t) => self.trace(t)?,
            None => TraceSpec {
                source: TraceSource::None,
                limit_ms: None,
                speed: 1.0,
                skip_bad_lines: false,
                start_ms_of_day: 0,
            },
        };
        let mut endpoints = Vec::with_capacity(raw.endpoints.len());
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, e) in raw.endpoints.iter().enumerate() {
            if let Some(&first) = seen.get(e.name.get_ref().as_str()) {
                let kind = ConfigErrorKind::DuplicateEndpoint { name: e.name.get_ref().clone(), index: i, first };
                return Err(self.err(e.name.span(), kind));
            }
            seen.insert(e.name.get_ref(), i);
            let mut spec = self.endpoint(i, e, catalog.as_ref().map(|(c, p)| (c, *p)))?;
            if let Some(s) = spec.price_schedule.as_mut() {
                s.offset_ms = trace.start_ms_of_day;
            }
            endpoints.push(spec);
        }
        if endpoints.is_empty() {
            return Err(self.err(self.text.len()..self.text.len(), ConfigErrorKind::NoEndpoints));
        }
        if endpoints.len() > usize::from(u16::MAX) {
            let kind = ConfigErrorKind::InvalidValue {
                key: "endpoints".into(),
                found: format!("{} endpoints", endpoints.len()),
                expected: format!("at most {}", u16::MAX),
            };
            return Err(self.err(0..0, kind));
        }
        let (policy, chain_limits) = match raw.policy.get_ref() {
            RawPolicy::Script(path) => (PolicySpec::Script(self.base.join(path)), ChainLimits::default()),
            RawPolicy::Chain(c) => self.chain(c, &endpoints)?,
        };
        let sla = raw
            .sla
            .into_iter()
            .map(|(class, s)| {
                (class, SlaSpec { latency_ms: s.latency_ms, ttft_ms: s.ttft_ms, deadline_ms: s.deadline_ms })
            })
            .collect();
        let mut budgets = BTreeMap::new();
        for (tenant, b) in &raw.budgets {
            let usd = self.at_least_zero(&b.usd, &format!("budgets.{tenant}.usd"))?;
            budgets.insert(tenant.clone(), Nanodollars::from_usd(usd));
        }
        let assert = self.assert(&raw.assert)?;
        Ok(Scenario {
            name,
            file: self.file.to_path_buf(),
            seed: raw.seed.unwrap_or(0),
            policy,
            chain_limits,
            trace,
            sla,
            budgets,
            endpoints,
            assert,
            policy_params: Vec::new(),
            proxy: self.proxy(raw.proxy.as_ref())?,
            cache: raw.cache.as_ref().map(|c| self.cache(c.get_ref())).transpose()?,
        })
    }

    fn cache(&self, c: &RawCache) -> Result<CacheSpec, ConfigError> {
        let mut spec = CacheSpec::default();
        if let Some(t) = &c.ttl {
            spec.ttl_ms = self.positive_duration(t, "cache.ttl")?;
        }
        // 0 is a cache that keeps nothing: how a what-if variant turns it off.
        if let Some(n) = &c.max_entries {
            spec.max_entries = *n.get_ref();
        }
        if let Some(l) = c.latency_ms {
            spec.latency_ms = l;
        }
        if let Some(b) = c.max_bytes {
            spec.max_bytes = b;
        }
        Ok(spec)
    }

    fn proxy(&self, p: Option<&RawProxy>) -> Result<ProxySpec, ConfigError> {
        let mut spec = ProxySpec::default();
        let Some(p) = p else { return Ok(spec) };
        if let Some(l) = &p.listen {
            if l.get_ref().parse::<std::net::SocketAddr>().is_err() {
                let kind = ConfigErrorKind::InvalidValue {
                    key: "proxy.listen".into(),
                    found: format!("`{}`", l.get_ref()),
                    expected: "an address and port such as `127.0.0.1:8080`".into(),
                };
                return Err(self.err(l.span(), kind));
            }
            spec.listen = l.get_ref().clone();
        }
        if let Some(v) = &p.client_keys_env {
            spec.client_keys_env = v.clone();
        }
        if let Some(v) = &p.admin_token_env {
            spec.admin_token_env = v.clone();
        }
        Ok(spec)
    }

    fn upstream(&self, t: &str, name: &str, u: &Spanned<RawUpstream>) -> Result<UpstreamSpec, ConfigError> {
        let raw = u.get_ref();
        let kind = match self.choice(&raw.kind, &format!("{t}.upstream.kind"), &["openai", "anthropic"])? {
            "anthropic" => UpstreamKind::Anthropic,
            _ => UpstreamKind::OpenAi,
        };
        let url = raw.base_url.get_ref().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            let kind = ConfigErrorKind::InvalidValue {
                key: format!("{t}.upstream.base_url"),
                found: format!("`{url}`"),
                expected: "an http:// or https:// URL such as `https://api.openai.com/v1`".into(),
            };
            return Err(self.err(raw.base_url.span(), kind));
        }
        let model = raw.model.clone().unwrap_or_else(|| name.rsplit_once('/').map_or(name, |(_, m)| m).to_string());
        Ok(UpstreamSpec {
            kind,
            base_url: url.to_string(),
            model,
            api_key_env: raw.api_key_env.clone(),
            accepts_prefill: raw.accepts_prefill.unwrap_or(false),
        })
    }

    fn catalog(&self, pt: &Spanned<String>) -> Result<Catalog, ConfigError> {
        let path = self.file_path(pt.span(), pt.get_ref(), "price_table")?;
        let text = crate::read_bounded(&path, 256 << 20).map_err(|e| {
            let kind = ConfigErrorKind::MissingFile {
                key: "price_table".into(),
                path: pt.get_ref().clone(),
                reason: io_reason(&e),
            };
            self.err(pt.span(), kind)
        })?;
        Catalog::parse(&text)
            .map_err(|reason| self.err(pt.span(), ConfigErrorKind::PriceTable { path: pt.get_ref().clone(), reason }))
    }

    fn chain(&self, c: &RawChain, endpoints: &[EndpointSpec]) -> Result<(PolicySpec, ChainLimits), ConfigError> {
        if c.chain.get_ref().is_empty() {
            let kind = ConfigErrorKind::InvalidValue {
                key: "policy.chain".into(),
                found: "an empty list".into(),
                expected: "at least one endpoint".into(),
            };
            return Err(self.err(c.chain.span(), kind));
        }
        let mut chain = Vec::with_capacity(c.chain.get_ref().len());
        for entry in c.chain.get_ref() {
            chain.push(self.endpoint_ref(entry, "policy.chain", endpoints)?);
        }
        let mut limits = ChainLimits::default();
        if let Some(t) = &c.attempt_timeout_ms {
            limits.attempt_timeout_ms = self.positive_int(t, "policy.attempt_timeout_ms")?;
        }
        if let Some(m) = &c.max_attempts {
            limits.max_attempts = Some(self.positive_int(m, "policy.max_attempts")?);
        }
        let ms = |v: &Option<Spanned<u64>>, key: &str| {
            v.as_ref().map(|v| self.positive_int(v, &format!("policy.{key}"))).transpose()
        };
        limits.ttft_timeout_ms = ms(&c.ttft_timeout_ms, "ttft_timeout_ms")?;
        limits.stall_timeout_ms = ms(&c.stall_timeout_ms, "stall_timeout_ms")?;
        limits.hedge_after_ms = ms(&c.hedge_after_ms, "hedge_after_ms")?;
        limits.deadline_ms = ms(&c.deadline_ms, "deadline_ms")?;
        limits.max_wait_ms = c.max_wait_ms.as_ref().map(|v| *v.get_ref()).filter(|&w| w > 0);
        if let Some(b) = &c.breaker {
            let d = &mut limits.breaker;
            if let Some(v) = &b.failure_rate {
                d.failure_rate =
                    self.number(v, "policy.breaker.failure_rate", |x| x > 0.0 && x <= 1.0, "a share in (0, 1]")?;
            }
            if let Some(v) = &b.min_requests {
                d.min_requests = self.positive_int(v, "policy.breaker.min_requests")?;
            }
            if let Some(v) = &b.window_s {
                d.window_ms = (self.above_zero(v, "policy.breaker.window_s")? * 1000.0).round() as u64;
            }
            if let Some(v) = &b.open_s {
                d.open_ms = (self.above_zero(v, "policy.breaker.open_s")? * 1000.0).round() as u64;
            }
            if let Some(v) = &b.half_open_probes {
                d.half_open_probes = self.positive_int(v, "policy.breaker.half_open_probes")?;
            }
            if let Some(v) = b.consecutive_failures {
                d.consecutive_failures = v;
            }
        }
        if let Some(r) = &c.retry {
            let d = &mut limits.retry;
            if let Some(v) = r.base_ms {
                d.base_ms = v;
            }
            if let Some(v) = &r.max_ms {
                d.max_ms = *v.get_ref();
                if d.max_ms < d.base_ms {
                    let kind = ConfigErrorKind::InvalidValue {
                        key: "policy.retry.max_ms".into(),
                        found: d.max_ms.to_string(),
                        expected: format!("at least policy.retry.base_ms ({})", d.base_ms),
                    };
                    return Err(self.err(v.span(), kind));
                }
            }
            if let Some(j) = &r.jitter {
                d.jitter = match self.choice(j, "policy.retry.jitter", &["full", "equal", "none"])? {
                    "equal" => JitterKind::Equal,
                    "none" => JitterKind::None,
                    _ => JitterKind::Full,
                };
            }
        }
        Ok((PolicySpec::Chain(chain), limits))
    }

    fn endpoint_ref(
        &self,
        name: &Spanned<String>,
        key: &str,
        endpoints: &[EndpointSpec],
    ) -> Result<EndpointIdx, ConfigError> {
        match endpoints.iter().position(|e| e.id.as_str() == name.get_ref()) {
            // `scenario` refuses more than u16::MAX endpoints.
            Some(i) => Ok(EndpointIdx(i as u16)),
            None => {
                let names = endpoints.iter().map(|e| e.id.as_str());
                let kind = ConfigErrorKind::UnknownEndpoint {
                    name: name.get_ref().clone(),
                    key: Some(key.to_string()),
                    suggestion: did_you_mean(name.get_ref(), names.clone()),
                    expected: names.map(str::to_string).collect(),
                };
                Err(self.err(name.span(), kind))
            }
        }
    }

    fn assert(&self, a: &RawAssert) -> Result<AssertSpec, ConfigError> {
        let rate =
            |v: &Option<Spanned<f64>>, key| v.as_ref().map(|v| self.unit(v, key, "a rate from 0 to 1")).transpose();
        let invariants = match &a.invariants {
            None | Some(RawInvariants::All) => InvariantSelection::All,
            Some(RawInvariants::Only(names)) => {
                let mut out = Vec::with_capacity(names.len());
                for (i, n) in names.iter().enumerate() {
                    out.push(self.choice(n, &format!("assert.invariants[{i}]"), &INVARIANTS)?.to_string());
                }
                InvariantSelection::Only(out)
            }
        };
        Ok(AssertSpec {
            max_cost_usd: a
                .max_cost_usd
                .as_ref()
                .map(|v| self.at_least_zero(v, "assert.max_cost_usd").map(Nanodollars::from_usd))
                .transpose()?,
            max_error_rate: rate(&a.max_error_rate, "assert.max_error_rate")?,
            max_sla_violation_rate: rate(&a.max_sla_violation_rate, "assert.max_sla_violation_rate")?,
            max_p99_ms: a.max_p99_ms,
            max_p95_ms: a.max_p95_ms,
            min_quality: a
                .min_quality
                .as_ref()
                .map(|v| self.unit(v, "assert.min_quality", "a quality from 0 to 1"))
                .transpose()?,
            max_policy_errors: a.max_policy_errors.unwrap_or(0),
            invariants,
        })
    }
}

// === impl Validator: the trace ===

impl Validator<'_> {
    fn trace(&self, t: &Spanned<RawTrace>) -> Result<TraceSpec, ConfigError> {
        let raw = t.get_ref();
        let source = match (&raw.path, &raw.synthetic) {
            (Some(_), Some(s)) => return Err(self.err(s.span(), ConfigErrorKind::TraceSource { both: true })),
            (None, None) => return Err(self.err(t.span(), ConfigErrorKind::TraceSource { both: false })),
            (Some(p), None) => {
                let format = match &raw.format {
                    Some(f) => {
                        let name = self.choice(f, "trace.format", &TraceFormat::ALL.map(TraceFormat::as_str))?;
                        TraceFormat::from_name(name).unwrap_or(TraceFormat::Jsonl)
                    }
                    None => TraceFormat::Jsonl,
                };
                TraceSource::File { path: self.file_path(p.span(), p.get_ref(), "trace.path")?, format }
            }
            (None, Some(s)) => {
                if let Some(f) = &raw.format {
                    let kind = ConfigErrorKind::NotApplicable {
                        key: "trace.format".into(),
                        what: "trace source",
                        kind: "synthetic".into(),
                    };
                    return Err(self.err(f.span(), kind));
                }
                TraceSource::Synthetic(self.synthetic(s)?)
            }
        };
        Ok(TraceSpec {
            source,
            limit_ms: raw.limit.as_ref().map(|l| self.duration(l, "trace.limit")).transpose()?,
            speed: raw
                .speed
                .as_ref()
                .map(|s| self.number(s, "trace.speed", |x| (0.001..=1e6).contains(&x), "a speed from 0.001 to 1000000"))
                .transpose()?
                .unwrap_or(1.0),
            skip_bad_lines: raw.skip_bad_lines.unwrap_or(false),
            start_ms_of_day: match &raw.start_at {
                Some(v) => self.start_at(v)?,
                None => 0,
            },
        })
    }

    /// `start_at`: an RFC 3339 UTC time (`2023-11-16T09:00:00Z`); its time
    /// of day in ms since midnight.
    fn start_at(&self, v: &Spanned<String>) -> Result<u64, ConfigError> {
        let text = v.get_ref().as_str();
        let time = text
            .split_once('T')
            .map(|(_, t)| t.strip_suffix('Z').or_else(|| t.strip_suffix("+00:00")).unwrap_or("x"))
            .and_then(time_of_day_ms);
        time.ok_or_else(|| {
            self.err(
                v.span(),
                ConfigErrorKind::InvalidValue {
                    key: "trace.start_at".into(),
                    found: format!("`{text}`"),
                    expected: "a UTC time such as `2023-11-16T09:00:00Z`".into(),
                },
            )
        })
    }

    /// `[[endpoints.price_schedule]]`: daily windows, each price key left out
    /// taking the endpoint's base price.
    fn price_schedule(
        &self,
        t: &str,
        base: PriceUsd,
        raw: &[RawScheduleWindow],
    ) -> Result<Option<DailySchedule>, ConfigError> {
        if raw.is_empty() {
            return Ok(None);
        }
        let mut windows = Vec::with_capacity(raw.len());
        for (j, w) in raw.iter().enumerate() {
            let key = format!("{t}.price_schedule[{j}]");
            let clock = |v: &Spanned<String>, k: &str| {
                time_of_day_ms(v.get_ref()).filter(|ms| *ms < DAY_MS).ok_or_else(|| {
                    self.err(
                        v.span(),
                        ConfigErrorKind::InvalidValue {
                            key: format!("{key}.{k}"),
                            found: format!("`{}`", v.get_ref()),
                            expected: "a UTC time of day such as `16:30` or `00:30:00`".into(),
                        },
                    )
                })
            };
            let (from_ms, to_ms) = (clock(&w.from, "from")?, clock(&w.to, "to")?);
            if from_ms == to_ms {
                let kind = ConfigErrorKind::InvalidValue {
                    key: format!("{key}.to"),
                    found: format!("`{}`", w.to.get_ref()),
                    expected: "a time other than `from` (a window of no length)".into(),
                };
                return Err(self.err(w.to.span(), kind));
            }
            let mut usd = base;
            let keys = PriceKeys {
                input: &w.input_per_mtok,
                output: &w.output_per_mtok,
                cached: &w.cached_input_per_mtok,
                cache_write: &w.cache_write_per_mtok,
            };
            self.price_keys(&mut usd, &key, keys)?;
            windows.push(DailyWindow { from_ms, to_ms, price: usd.to_price() });
        }
        Ok(Some(DailySchedule { offset_ms: 0, windows }))
    }

    fn synthetic(&self, s: &Spanned<RawSynthetic>) -> Result<SyntheticSpec, ConfigError> {
        let t = "trace.synthetic";
        let raw = s.get_ref();
        let missing = |key: &str| self.err(s.span(), ConfigErrorKind::MissingKey { table: t.into(), key: key.into() });
        let rate = raw.rate_per_s.as_ref().ok_or_else(|| missing("rate_per_s"))?;
        let duration = raw.duration.as_ref().ok_or_else(|| missing("duration"))?;
        let duration_ms = self.duration(duration, "trace.synthetic.duration")?;
        if duration_ms == 0 {
            let kind = ConfigErrorKind::InvalidValue {
                key: "trace.synthetic.duration".into(),
                found: format!("`{}`", duration.get_ref().0),
                expected: "a duration greater than 0".into(),
            };
            return Err(self.err(duration.span(), kind));
        }
        let pattern = match &raw.pattern {
            None => ArrivalPattern::Poisson,
            Some(p) => match self.choice(p, "trace.synthetic.pattern", &PATTERNS)? {
                "diurnal" => ArrivalPattern::Diurnal,
                "bursty" => ArrivalPattern::Bursty,
                _ => ArrivalPattern::Poisson,
            },
        };
        let spec = SyntheticSpec {
            rate_per_s: self.above_zero(rate, "trace.synthetic.rate_per_s")?,
            duration_ms,
            pattern,
            // SPEC's example token mixes: a chat workload.
            input_tokens: self
                .dist_or(&raw.input_tokens, "trace.synthetic.input_tokens", || Dist::lognormal(800.0, 8000.0))?,
            output_tokens: self
                .dist_or(&raw.output_tokens, "trace.synthetic.output_tokens", || Dist::lognormal(200.0, 1500.0))?,
            classes: self.weights(&raw.classes, "trace.synthetic.classes")?,
            tenants: self.weights(&raw.tenants, "trace.synthetic.tenants")?,
            langs: self.weights(&raw.langs, "trace.synthetic.langs")?,
            stream_share: raw
                .stream
                .as_ref()
                .map(|v| self.unit(v, "trace.synthetic.stream", "a share from 0 to 1"))
                .transpose()?
                .unwrap_or(0.0),
            conversations: match &raw.conversations {
                None => None,
                Some(c) => Some(ConversationSpec {
                    turns: match &c.turns {
                        Some(t) => self.number(
                            t,
                            "trace.synthetic.conversations.turns",
                            |x| (1.0..=1e6).contains(&x),
                            "a mean number of turns from 1 to 1000000",
                        )?,
                        None => 4.0,
                    },
                    system_tokens: c.system_tokens.unwrap_or(1024),
                }),
            },
            repeats: raw.repeats.as_ref().map(|r| self.repeats(r, raw.conversations.is_some())).transpose()?,
        };
        // The generator trusts its spec: a typo such as `rate_per_s = 1e12`
        // would otherwise generate for hours before anything is reported.
        spec.check_limits().map_err(|e| {
            let (key, span) = match e {
                SpecError::Duration { .. } => ("trace.synthetic.duration", duration.span()),
                _ => ("trace.synthetic.rate_per_s", rate.span()),
            };
            self.err(span, ConfigErrorKind::Other { key: key.into(), message: e.to_string() })
        })?;
        Ok(spec)
    }

    /// `repeats = { share, prompts }`; refused beside `conversations` (a
    /// repeated prompt would not be its conversation's turn).
    fn repeats(&self, r: &Spanned<RawRepeats>, conversations: bool) -> Result<RepeatSpec, ConfigError> {
        let t = "trace.synthetic.repeats";
        if conversations {
            let message = "cannot be combined with `conversations` (a repeated prompt is not a conversation's turn)";
            return Err(self.err(r.span(), ConfigErrorKind::Other { key: t.into(), message: message.into() }));
        }
        let raw = r.get_ref();
        let share = match &raw.share {
            Some(v) => self.unit(v, &format!("{t}.share"), "a share from 0 to 1")?,
            None => {
                return Err(self.err(r.span(), ConfigErrorKind::MissingKey { table: t.into(), key: "share".into() }));
            }
        };
        let prompts = match &raw.prompts {
            Some(p) if (1..=MAX_REPEATED_PROMPTS).contains(p.get_ref()) => *p.get_ref(),
            Some(p) => {
                let kind = ConfigErrorKind::InvalidValue {
                    key: format!("{t}.prompts"),
                    found: p.get_ref().to_string(),
                    expected: format!("an integer from 1 to {MAX_REPEATED_PROMPTS}"),
                };
                return Err(self.err(p.span(), kind));
            }
            None => 1000,
        };
        Ok(RepeatSpec { share, prompts })
    }

    fn weights(
        &self,
        w: &Option<Spanned<BTreeMap<String, Spanned<f64>>>>,
        key: &str,
    ) -> Result<Vec<(String, f64)>, ConfigError> {
        let Some(w) = w else { return Ok(Vec::new()) };
        let mut out = Vec::with_capacity(w.get_ref().len());
        for (name, v) in w.get_ref() {
            out.push((name.clone(), self.at_least_zero(v, &format!("{key}.{name}"))?));
        }
        if !out.is_empty() && out.iter().map(|(_, v)| v).sum::<f64>() <= 0.0 {
            let kind = ConfigErrorKind::InvalidValue {
                key: key.to_string(),
                found: "weights summing to 0".into(),
                expected: "a positive sum".into(),
            };
            return Err(self.err(w.span(), kind));
        }
        Ok(out)
    }
}

// === impl Validator: endpoints ===

impl Validator<'_> {
    fn endpoint(
        &self,
        i: usize,
        e: &RawEndpoint,
        catalog: Option<(&Catalog, &str)>,
    ) -> Result<EndpointSpec, ConfigError> {
        let t = format!("endpoints[{i}]");
        if e.name.get_ref().trim().is_empty() {
            let kind = ConfigErrorKind::InvalidValue {
                key: format!("{t}.name"),
                found: format!("`{}`", e.name.get_ref()),
                expected: "a name such as `openai/gpt-4o`".into(),
            };
            return Err(self.err(e.name.span(), kind));
        }
        let (price, from_catalog) = match &e.price {
            Some(p) => self.price(p, &format!("{t}.price"), catalog)?,
            None => (PriceUsd::default(), None),
        };
        let tokens = |v: &Option<Spanned<u32>>, key: &str, catalog: Option<u32>| match v {
            Some(v) => self.positive_int(v, &format!("{t}.{key}")).map(Some),
            None => Ok(catalog),
        };
        let tokenizer = match &e.tokenizer {
            None => TokenizerSpec::default(),
            Some(tk) => {
                let mut lang = BTreeMap::new();
                for (l, r) in &tk.lang {
                    lang.insert(l.clone(), self.above_zero(r, &format!("{t}.tokenizer.lang.{l}"))?);
                }
                let ratio =
                    tk.ratio.as_ref().map(|r| self.above_zero(r, &format!("{t}.tokenizer.ratio"))).transpose()?;
                TokenizerSpec { ratio: ratio.unwrap_or(1.0), lang }
            }
        };
        let (ttft, tps) = match &e.latency {
            Some(l) => (&l.ttft_ms, &l.tokens_per_s),
            None => (&None, &None),
        };
        let latency = LatencySpec {
            ttft_ms: self.dist_or(ttft, &format!("{t}.latency.ttft_ms"), || Dist::lognormal(500.0, 2000.0))?,
            tokens_per_s: self.dist_or(tps, &format!("{t}.latency.tokens_per_s"), || Dist::normal(80.0, 10.0))?,
        };
        // A decode speed centred at or below zero would make every answer
        // take the 1 token/s floor: refused rather than silently slow.
        let centre = match latency.tokens_per_s {
            Dist::Fixed(v) => v,
            Dist::Uniform { max, .. } => max,
            Dist::Normal { mean, .. } => mean,
            _ => 1.0,
        };
        if centre <= 0.0
            && let Some(v) = tps
        {
            let kind = ConfigErrorKind::InvalidValue {
                key: format!("{t}.latency.tokens_per_s"),
                found: centre.to_string(),
                expected: "a decode speed above 0 tokens per second (its value, mean or max)".into(),
            };
            return Err(self.err(v.span(), kind));
        }
        let rate_limit = match &e.rate_limit {
            None => RateLimitSpec::default(),
            Some(r) => RateLimitSpec {
                rpm: r.rpm.as_ref().map(|v| self.positive_int(v, &format!("{t}.rate_limit.rpm"))).transpose()?,
                tpm: r.tpm.as_ref().map(|v| self.positive_int(v, &format!("{t}.rate_limit.tpm"))).transpose()?,
            },
        };
        let errors = match e.errors.as_ref().and_then(|er| er.server_error_rate.as_ref()) {
            None => ErrorsSpec::default(),
            Some(r) => ErrorsSpec {
                server_error_rate: self.unit(r, &format!("{t}.errors.server_error_rate"), "a rate from 0 to 1")?,
            },
        };
        let quality = match &e.quality {
            None => QualitySpec::default(),
            Some(q) => QualitySpec {
                mean: q
                    .mean
                    .as_ref()
                    .map(|m| self.unit(m, &format!("{t}.quality.mean"), "a quality from 0 to 1"))
                    .transpose()?
                    .unwrap_or(QualitySpec::default().mean),
                sd: q
                    .sd
                    .as_ref()
                    .map(|s| self.at_least_zero(s, &format!("{t}.quality.sd")))
                    .transpose()?
                    .unwrap_or(0.0),
            },
        };
        let mut faults = Vec::with_capacity(e.faults.len());
        for (j, f) in e.faults.iter().enumerate() {
            faults.push(self.fault(&format!("{t}.faults[{j}]"), f)?);
        }
        let price_changes = self.price_changes(&t, price, &e.price_changes)?;
        let price_schedule = self.price_schedule(&t, price, &e.price_schedule)?;
        Ok(EndpointSpec {
            id: EndpointId::new(e.name.get_ref()),
            price: price.to_price(),
            context_window: tokens(&e.context_window, "context_window", from_catalog.and_then(|c| c.0))?,
            max_output_tokens: tokens(&e.max_output_tokens, "max_output_tokens", from_catalog.and_then(|c| c.1))?,
            tokenizer,
            latency,
            rate_limit,
            concurrency: e
                .concurrency
                .as_ref()
                .map(|c| self.bounded_int(c, &format!("{t}.concurrency"), MAX_CONCURRENCY))
                .transpose()?,
            errors,
            quality,
            faults,
            price_changes,
            upstream: e.upstream.as_ref().map(|u| self.upstream(&t, e.name.get_ref(), u)).transpose()?,
            prompt_cache: e
                .prompt_cache
                .as_ref()
                .map(|p| self.prompt_cache(&t, p, e.upstream.is_some()))
                .transpose()?,
            price_schedule,
        })
    }

    /// `live`: the endpoint has an `upstream`, whose requests carry
    /// `hash_ids` of 512-token blocks (`BLOCK_TOKENS`).
    fn prompt_cache(&self, t: &str, p: &RawPromptCache, live: bool) -> Result<PromptCacheSpec, ConfigError> {
        let mut spec = PromptCacheSpec::default();
        if let Some(ttl) = &p.ttl {
            let key = format!("{t}.prompt_cache.ttl");
            spec.ttl_ms = self.positive_duration(ttl, &key)?;
            if spec.ttl_ms > PromptCacheSpec::MAX_TTL_MS {
                return Err(self.err(
                    ttl.span(),
                    ConfigErrorKind::InvalidValue {
                        key,
                        found: format!("`{}`", ttl.get_ref().0),
                        expected: "a duration of at most 7 days".into(),
                    },
                ));
            }
        }
        if let Some(m) = p.min_tokens {
            spec.min_tokens = m;
        }
        if let Some(b) = &p.block_tokens {
            spec.block_tokens = self.positive_int(b, &format!("{t}.prompt_cache.block_tokens"))?;
            if live && spec.block_tokens != windtunnel_trace::BLOCK_TOKENS {
                let kind = ConfigErrorKind::InvalidValue {
                    key: format!("{t}.prompt_cache.block_tokens"),
                    found: spec.block_tokens.to_string(),
                    expected: format!(
                        "{} on an endpoint with an `upstream` (live requests carry blocks of that size)",
                        windtunnel_trace::BLOCK_TOKENS
                    ),
                };
                return Err(self.err(b.span(), kind));
            }
        }
        Ok(spec)
    }

    /// The price in USD per Mtok and, for a catalog price, the catalog's
    /// (context window, max output tokens).
    #[expect(clippy::type_complexity, reason = "a private helper's two results")]
    fn price(
        &self,
        p: &RawPrice,
        key: &str,
        catalog: Option<(&Catalog, &str)>,
    ) -> Result<(PriceUsd, Option<(Option<u32>, Option<u32>)>), ConfigError> {
        let mut usd = PriceUsd::default();
        let mut limits = None;
        if let Some(model) = &p.catalog {
            // A catalog price is the table's, whole: an explicit price beside
            // it would silently win over the table, so it is refused.
            let explicit = [
                ("input_per_mtok", p.input_per_mtok.as_ref().map(Spanned::span)),
                ("output_per_mtok", p.output_per_mtok.as_ref().map(Spanned::span)),
                ("cached_input_per_mtok", p.cached_input_per_mtok.as_ref().map(Spanned::span)),
                ("cache_write_per_mtok", p.cache_write_per_mtok.as_ref().map(Spanned::span)),
                ("long_context", p.long_context.as_ref().map(Spanned::span)),
            ];
            if let Some((name, Some(span))) = explicit.into_iter().find(|(_, s)| s.is_some()) {
                let kind = ConfigErrorKind::NotApplicable {
                    key: format!("{key}.{name}"),
                    what: "a price from the table, set by `catalog`; drop `catalog` to give your own prices",
                    kind: model.get_ref().clone(),
                };
                return Err(self.err(span, kind));
            }
            let ckey = format!("{key}.catalog");
            let Some((catalog, table)) = catalog else {
                return Err(self.err(model.span(), ConfigErrorKind::CatalogWithoutTable { key: ckey }));
            };
            let entry = catalog.get(model.get_ref()).map_err(|e| {
                let kind = match e {
                    LookupError::Unknown => ConfigErrorKind::UnknownModel {
                        name: model.get_ref().clone(),
                        table: table.to_string(),
                        suggestion: did_you_mean(model.get_ref(), catalog.names()),
                    },
                    LookupError::NoPrice(field) => {
                        ConfigErrorKind::CatalogEntry { key: ckey.clone(), model: model.get_ref().clone(), field }
                    }
                };
                self.err(model.span(), kind)
            })?;
            usd = PriceUsd {
                input: entry.input_per_mtok,
                output: entry.output_per_mtok,
                cached: entry.cached_input_per_mtok,
                cache_write: entry.cache_write_per_mtok,
                long_context: entry.long_context,
            };
            limits = Some((entry.context_window, entry.max_output_tokens));
        }
        let keys = PriceKeys {
            input: &p.input_per_mtok,
            output: &p.output_per_mtok,
            cached: &p.cached_input_per_mtok,
            cache_write: &p.cache_write_per_mtok,
        };
        self.price_keys(&mut usd, key, keys)?;
        if let Some(lc) = &p.long_context {
            let raw = lc.get_ref();
            let k = format!("{key}.long_context");
            let above = *raw.above_tokens.get_ref();
            if above == 0 {
                return Err(self.err(
                    raw.above_tokens.span(),
                    ConfigErrorKind::InvalidValue {
                        key: format!("{k}.above_tokens"),
                        found: "0".into(),
                        expected: "a prompt size in tokens of 1 or more".into(),
                    },
                ));
            }
            let optional = |v: &Option<Spanned<f64>>, name: &str| {
                v.as_ref().map(|v| self.price_value(v, &format!("{k}.{name}"))).transpose()
            };
            usd.long_context = Some(LongContextUsd {
                above,
                input: self.price_value(&raw.input_per_mtok, &format!("{k}.input_per_mtok"))?,
                output: self.price_value(&raw.output_per_mtok, &format!("{k}.output_per_mtok"))?,
                cached: optional(&raw.cached_input_per_mtok, "cached_input_per_mtok")?,
                cache_write: optional(&raw.cache_write_per_mtok, "cache_write_per_mtok")?,
            });
        }
        Ok((usd, limits))
    }

    /// Applies explicit `*_per_mtok` keys over `usd`.
    fn price_keys(&self, usd: &mut PriceUsd, key: &str, keys: PriceKeys<'_>) -> Result<(), ConfigError> {
        if let Some(v) = keys.input {
            usd.input = self.price_value(v, &format!("{key}.input_per_mtok"))?;
        }
        if let Some(v) = keys.output {
            usd.output = self.price_value(v, &format!("{key}.output_per_mtok"))?;
        }
        if let Some(v) = keys.cached {
            usd.cached = Some(self.price_value(v, &format!("{key}.cached_input_per_mtok"))?);
        }
        if let Some(v) = keys.cache_write {
            usd.cache_write = Some(self.price_value(v, &format!("{key}.cache_write_per_mtok"))?);
        }
        Ok(())
    }

    /// Sorted by `at` (stable, so equal times keep file order and the later
    /// one wins); keys a change leaves out keep the price in force before it.
    fn price_changes(&self, t: &str, start: PriceUsd, raw: &[RawPriceChange]) -> Result<Vec<PriceChange>, ConfigError> {
        let mut timed = Vec::with_capacity(raw.len());
        for (j, c) in raw.iter().enumerate() {
            timed.push((self.duration(&c.at, &format!("{t}.price_changes[{j}].at"))?, j, c));
        }
        timed.sort_by_key(|(at, j, _)| (*at, *j));
        let mut cur = start;
        let mut out = Vec::with_capacity(timed.len());
        for (at_ms, j, c) in timed {
            let key = format!("{t}.price_changes[{j}]");
            let keys = PriceKeys {
                input: &c.input_per_mtok,
                output: &c.output_per_mtok,
                cached: &c.cached_input_per_mtok,
                cache_write: &c.cache_write_per_mtok,
            };
            self.price_keys(&mut cur, &key, keys)?;
            out.push(PriceChange { at_ms, price: cur.to_price() });
        }
        Ok(out)
    }

    fn fault(&self, t: &str, f: &Spanned<RawFault>) -> Result<FaultSpec, ConfigError> {
        let raw = f.get_ref();
        let kind_name = self.choice(&raw.kind, &format!("{t}.kind"), &FAULT_KINDS)?;
        // Which kind-specific keys this kind takes.
        let allowed: &[&str] = match kind_name {
            "outage" | "quota" | "error_rate" => &["status"],
            "rate_limit_burst" => &["retry_after"],
            "latency_spike" => &["multiplier"],
            "stream_cut" => &["after_tokens"],
            _ => &[],
        };
        let specific = [
            ("status", raw.status.as_ref().map(Spanned::span)),
            ("retry_after", raw.retry_after.as_ref().map(Spanned::span)),
            ("multiplier", raw.multiplier.as_ref().map(Spanned::span)),
            ("after_tokens", raw.after_tokens.as_ref().map(Spanned::span)),
        ];
        for (key, span) in specific {
            if let Some(span) = span
                && !allowed.contains(&key)
            {
                let kind = ConfigErrorKind::NotApplicable {
                    key: format!("{t}.{key}"),
                    what: "fault kind",
                    kind: kind_name.into(),
                };
                return Err(self.err(span, kind));
            }
        }
        let status = |default: u16| match &raw.status {
            None => Ok(default),
            Some(s) if (100..=599).contains(s.get_ref()) => Ok(*s.get_ref()),
            Some(s) => Err(self.err(
                s.span(),
                ConfigErrorKind::InvalidValue {
                    key: format!("{t}.status"),
                    found: s.get_ref().to_string(),
                    expected: "an HTTP status from 100 to 599".into(),
                },
            )),
        };
        let kind = match kind_name {
            "outage" => FaultKind::Outage { status: status(503)? },
            "hang" => FaultKind::Hang,
            "rate_limit_burst" => FaultKind::RateLimitBurst {
                retry_after_ms: match &raw.retry_after {
                    Some(r) => self.duration(r, &format!("{t}.retry_after"))?,
                    None => DEFAULT_RETRY_AFTER_MS,
                },
            },
            "quota" => FaultKind::Quota { status: status(429)? },
            "latency_spike" => FaultKind::LatencySpike {
                multiplier: match &raw.multiplier {
                    Some(m) => self.above_zero(m, &format!("{t}.multiplier"))?,
                    None => DEFAULT_SPIKE_MULTIPLIER,
                },
            },
            "error_rate" => FaultKind::ErrorRate { status: status(500)? },
            "malformed" => FaultKind::Malformed,
            _ => FaultKind::StreamCut {
                after_tokens: raw
                    .after_tokens
                    .as_ref()
                    .map(|a| self.positive_int(a, &format!("{t}.after_tokens")))
                    .transpose()?,
            },
        };
        Ok(FaultSpec {
            kind,
            window: self.window(t, f)?,
            probability: raw
                .probability
                .as_ref()
                .map(|p| self.unit(p, &format!("{t}.probability"), "a probability from 0 to 1"))
                .transpose()?
                .unwrap_or(1.0),
        })
    }

    fn window(&self, t: &str, f: &Spanned<RawFault>) -> Result<FaultWindowSpec, ConfigError> {
        let raw = f.get_ref();
        let missing = |key: &str| {
            self.err(raw.kind.span(), ConfigErrorKind::MissingKey { table: t.to_string(), key: key.to_string() })
        };
        let fixed = raw.start.is_some() || raw.end.is_some();
        match (fixed, raw.every.as_ref().or(raw.lasting.as_ref())) {
            (true, Some(stochastic)) => {
                Err(self.err(stochastic.span(), ConfigErrorKind::FaultWindow { table: t.to_string(), both: true }))
            }
            (false, None) => {
                Err(self.err(raw.kind.span(), ConfigErrorKind::FaultWindow { table: t.to_string(), both: false }))
            }
            (true, None) => {
                let start = raw.start.as_ref().ok_or_else(|| missing("start"))?;
                let start_ms = self.duration(start, &format!("{t}.start"))?;
                let end_ms = match &raw.end {
                    None => None,
                    Some(end) => {
                        let end_ms = self.duration(end, &format!("{t}.end"))?;
                        if end_ms <= start_ms {
                            let kind = ConfigErrorKind::InvalidValue {
                                key: format!("{t}.end"),
                                found: format!("`{}`", end.get_ref().0),
                                expected: format!("a time after `{t}.start` (`{}`)", start.get_ref().0),
                            };
                            return Err(self.err(end.span(), kind));
                        }
                        Some(end_ms)
                    }
                };
                Ok(FaultWindowSpec::Fixed { start_ms, end_ms })
            }
            (false, Some(_)) => {
                let every = raw.every.as_ref().ok_or_else(|| missing("every"))?;
                let lasting = raw.lasting.as_ref().ok_or_else(|| missing("lasting"))?;
                Ok(FaultWindowSpec::Stochastic {
                    every_ms: self.positive_duration(every, &format!("{t}.every"))?,
                    lasting_ms: self.positive_duration(lasting, &format!("{t}.lasting"))?,
                })
            }
        }
    }
}

// === impl Validator: values ===

impl Validator<'_> {
    fn err(&self, span: Range<usize>, kind: ConfigErrorKind) -> ConfigError {
        let (line, col) = line_col(self.text, span.start);
        ConfigError::new(Location::File { file: self.file.to_path_buf(), line, col }, kind)
    }

    /// A relative path resolved against the scenario's folder; it must name an existing file.
    fn file_path(&self, span: Range<usize>, written: &str, key: &str) -> Result<PathBuf, ConfigError> {
        let path = self.base.join(written);
        let reason = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => "is a directory, expected a file".to_string(),
            // Devices and pipes too: readers bound what they read.
            Ok(_) => return Ok(path),
            Err(e) => io_reason(&e),
        };
        Err(self.err(span, ConfigErrorKind::MissingFile { key: key.into(), path: written.into(), reason }))
    }

    /// One of `options`, with a did-you-mean when the value is close to one.
    fn choice<'o>(&self, v: &Spanned<String>, key: &str, options: &[&'o str]) -> Result<&'o str, ConfigError> {
        if let Some(o) = options.iter().find(|o| **o == v.get_ref()) {
            return Ok(o);
        }
        let kind = ConfigErrorKind::UnknownName {
            key: key.to_string(),
            found: v.get_ref().clone(),
            suggestion: did_you_mean(v.get_ref(), options.iter().copied()),
            expected: options.iter().map(|o| o.to_string()).collect(),
        };
        Err(self.err(v.span(), kind))
    }

    fn duration(&self, v: &Spanned<RawDuration>, key: &str) -> Result<u64, ConfigError> {
        parse_duration_ms(&v.get_ref().0)
            .map_err(|error| self.err(v.span(), ConfigErrorKind::Duration { key: key.to_string(), error }))
    }

    fn positive_duration(&self, v: &Spanned<RawDuration>, key: &str) -> Result<u64, ConfigError> {
        match self.duration(v, key)? {
            0 => Err(self.err(
                v.span(),
                ConfigErrorKind::InvalidValue {
                    key: key.to_string(),
                    found: format!("`{}`", v.get_ref().0),
                    expected: "a duration greater than 0".into(),
                },
            )),
            ms => Ok(ms),
        }
    }

    fn positive_int<T: Copy + PartialEq + Default + std::fmt::Display>(
        &self,
        v: &Spanned<T>,
        key: &str,
    ) -> Result<T, ConfigError> {
        if *v.get_ref() == T::default() {
            let kind = ConfigErrorKind::InvalidValue {
                key: key.to_string(),
                found: v.get_ref().to_string(),
                expected: "an integer greater than 0".into(),
            };
            return Err(self.err(v.span(), kind));
        }
        Ok(*v.get_ref())
    }

    fn number(
        &self,
        v: &Spanned<f64>,
        key: &str,
        ok: impl Fn(f64) -> bool,
        expected: &str,
    ) -> Result<f64, ConfigError> {
        let x = *v.get_ref();
        if x.is_finite() && ok(x) {
            return Ok(x);
        }
        // Huge values as `1e308`, not as 309 digits.
        let found = if x.abs() >= 1e15 { format!("{x:e}") } else { x.to_string() };
        let kind = ConfigErrorKind::InvalidValue { key: key.to_string(), found, expected: expected.into() };
        Err(self.err(v.span(), kind))
    }

    /// In [0, 1]: probabilities, rates, shares, quality.
    fn unit(&self, v: &Spanned<f64>, key: &str, expected: &str) -> Result<f64, ConfigError> {
        self.number(v, key, |x| (0.0..=1.0).contains(&x), expected)
    }

    fn above_zero(&self, v: &Spanned<f64>, key: &str) -> Result<f64, ConfigError> {
        self.number(v, key, |x| x > 0.0, "a number greater than 0")
    }

    /// An integer from 1 to `max`.
    fn bounded_int(&self, v: &Spanned<u32>, key: &str, max: u32) -> Result<u32, ConfigError> {
        let n = self.positive_int(v, key)?;
        if n > max {
            let kind = ConfigErrorKind::InvalidValue {
                key: key.to_string(),
                found: n.to_string(),
                expected: format!("an integer from 1 to {max}"),
            };
            return Err(self.err(v.span(), kind));
        }
        Ok(n)
    }

    /// A price in USD per million tokens: 0 or more, at most [`MAX_PRICE_PER_MTOK`].
    fn price_value(&self, v: &Spanned<f64>, key: &str) -> Result<f64, ConfigError> {
        self.number(
            v,
            key,
            |x| (0.0..=MAX_PRICE_PER_MTOK).contains(&x),
            "a price from 0 to 1000000 USD per million tokens",
        )
    }

    fn at_least_zero(&self, v: &Spanned<f64>, key: &str) -> Result<f64, ConfigError> {
        self.number(v, key, |x| x >= 0.0, "a number of 0 or more")
    }

    /// The distribution at `key`, or `default` when absent.
    fn dist_or(
        &self,
        v: &Option<Spanned<RawDist>>,
        key: &str,
        default: impl FnOnce() -> Result<Dist, windtunnel_core::DistError>,
    ) -> Result<Dist, ConfigError> {
        match v {
            Some(v) => self.dist(v, key),
            // The defaults are constants that construct.
            None => default().map_err(|error| self.err(0..0, ConfigErrorKind::Dist { key: key.to_string(), error })),
        }
    }

    fn dist(&self, v: &Spanned<RawDist>, key: &str) -> Result<Dist, ConfigError> {
        let t = match v.get_ref() {
            RawDist::Number(x) => {
                let x = self.at_least_zero(&Spanned::new(v.span(), *x), key)?;
                return Ok(Dist::Fixed(x));
            }
            RawDist::Table(t) => t,
        };
        let name = self.choice(&t.dist, &format!("{key}.dist"), &DIST_NAMES)?;
        let params = [
            ("median", &t.median),
            ("p99", &t.p99),
            ("mean", &t.mean),
            ("sd", &t.sd),
            ("min", &t.min),
            ("max", &t.max),
            ("value", &t.value),
        ];
        let needs: &[&str] = match name {
            "lognormal" => &["median", "p99"],
            "normal" => &["mean", "sd"],
            "uniform" => &["min", "max"],
            "exponential" => &["mean"],
            _ => &["value"],
        };
        for (p, value) in params {
            if let Some(value) = value
                && !needs.contains(&p)
            {
                let kind =
                    ConfigErrorKind::NotApplicable { key: format!("{key}.{p}"), what: "dist", kind: name.into() };
                return Err(self.err(value.span(), kind));
            }
        }
        let need = |p: &str| {
            params.iter().find(|(n, _)| *n == p).and_then(|(_, value)| value.as_ref()).ok_or_else(|| {
                self.err(v.span(), ConfigErrorKind::MissingKey { table: key.to_string(), key: p.to_string() })
            })
        };
        let num = |p: &str| self.number(need(p)?, &format!("{key}.{p}"), |_| true, "a finite number");
        let built = match name {
            "lognormal" => Dist::lognormal(num("median")?, num("p99")?),
            "normal" => Dist::normal(num("mean")?, num("sd")?),
            "uniform" => Dist::uniform(num("min")?, num("max")?),
            "exponential" => {
                return Ok(Dist::Exponential { mean: self.above_zero(need("mean")?, &format!("{key}.mean"))? });
            }
            _ => return Ok(Dist::Fixed(self.at_least_zero(need("value")?, &format!("{key}.value"))?)),
        };
        built.map_err(|error| self.err(v.span(), ConfigErrorKind::Dist { key: key.to_string(), error }))
    }
}

/// An I/O error in a message's words: `no such file` for the common case.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// `HH:MM` or `HH:MM:SS` (24 h) as milliseconds since midnight; `24:00` is
/// the end of the day.
fn time_of_day_ms(text: &str) -> Option<u64> {
    let mut parts = text.split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let s: u64 = match parts.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() || m > 59 || s > 59 || h > 24 || (h == 24 && (m, s) != (0, 0)) {
        return None;
    }
    Some(((h * 60 + m) * 60 + s) * 1000)
}
