//! The functions policy tests get on top of the policy API: builders for the
//! hook arguments and assertions.
//!
//! - `request(#{...})`: keys `id, tenant, class, model, input_tokens,
//!   output_tokens, max_tokens, stream, lang, deadline_ms, tags, at_ms`;
//!   missing keys take SPEC's trace defaults (`tenant`/`class` `"default"`,
//!   `max_tokens` = `output_tokens`, no stream) and lint's sample sizes (800
//!   input and 200 output tokens).
//! - `context(#{ now_ms, endpoints: [...], budgets, params })`: an endpoint is
//!   a name or a map `#{ name, price_in, price_out, context_window,
//!   max_output_tokens, tokenizer_ratio, tokenizer_lang, quality, breaker,
//!   healthy, p50_ms, p95_ms, p99_ms, error_rate, inflight,
//!   rate_limited_until_ms }`. A sample endpoint's name (`openai/gpt-4o`)
//!   starts from its sample facts and health, any other name from $1/$4 per
//!   Mtok, a 128k window and no latency data. `healthy: false` alone means an
//!   open breaker. Without `endpoints` the four samples are used. `budgets`
//!   is `#{ tenant: #{ spent, limit } }` in USD; `params` override the
//!   policy's declared ones.
//! - `error(#{ kind, status, retry_after_ms })` or `error("kind")`,
//!   `attempt(#{ number, endpoint, elapsed_ms })`,
//!   `response(#{ endpoint, quality, latency_ms, ttft_ms, output_tokens, cost_usd })`.
//! - `assert(cond)`, `assert(cond, message)`, `assert_eq(actual, expected)`,
//!   `assert_ne(actual, other)`.
//!
//! Every key is checked: an unknown one is an error with a "did you mean",
//! so a typo in a test does not silently test the default.

use crate::api::{Res, fail};
use crate::convert::{describe, type_label};
use crate::sample;
use crate::suggest::Hint;
use crate::views::{
    AttemptView, BudgetView, CtxView, EndpointList, EndpointTable, EndpointView, ErrView, ReqView, RespView, Snapshot,
    Tags,
};
use rhai::{Array, Dynamic, Engine, ImmutableString, Map, NativeCallContext};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use windtunnel_core::{BreakerState, EndpointFacts, ErrorKind, Health, Nanodollars, Request, Sym};

/// Registers the helpers; `params` are the policy's declared parameters.
pub(super) fn register(engine: &mut Engine, params: Rc<Map>) {
    engine.register_fn("request", |ctx: NativeCallContext| -> Res<ReqView> {
        request(&Map::new()).map_err(|m| fail(&ctx, m))
    });
    engine.register_fn("request", |ctx: NativeCallContext, m: Map| -> Res<ReqView> {
        request(&m).map_err(|e| fail(&ctx, e))
    });
    let p = params.clone();
    engine.register_fn("context", move |ctx: NativeCallContext| -> Res<CtxView> {
        context(&Map::new(), &p).map_err(|m| fail(&ctx, m))
    });
    engine.register_fn("context", move |ctx: NativeCallContext, m: Map| -> Res<CtxView> {
        context(&m, &params).map_err(|e| fail(&ctx, e))
    });
    engine.register_fn("error", |ctx: NativeCallContext, m: Map| -> Res<ErrView> {
        error(&m).map_err(|e| fail(&ctx, e))
    });
    engine.register_fn("error", |ctx: NativeCallContext, kind: &str| -> Res<ErrView> {
        let mut m = Map::new();
        m.insert("kind".into(), kind.into());
        error(&m).map_err(|e| fail(&ctx, e))
    });
    engine.register_fn("attempt", |ctx: NativeCallContext, m: Map| -> Res<AttemptView> {
        attempt(&m).map_err(|e| fail(&ctx, e))
    });
    engine.register_fn("response", |ctx: NativeCallContext, m: Map| -> Res<RespView> {
        response(&m).map_err(|e| fail(&ctx, e))
    });

    engine.register_fn("assert", |ctx: NativeCallContext, cond: Dynamic| -> Res<()> { check(&ctx, &cond, None) });
    engine.register_fn("assert", |ctx: NativeCallContext, cond: Dynamic, msg: Dynamic| -> Res<()> {
        check(&ctx, &cond, Some(&msg))
    });
    engine.register_fn("assert_eq", |ctx: NativeCallContext, actual: Dynamic, expected: Dynamic| -> Res<()> {
        if same(&actual, &expected) {
            Ok(())
        } else {
            Err(fail(&ctx, format!("assertion failed: found {}, expected {}", show(&actual), show(&expected))))
        }
    });
    engine.register_fn("assert_ne", |ctx: NativeCallContext, actual: Dynamic, other: Dynamic| -> Res<()> {
        if same(&actual, &other) {
            Err(fail(&ctx, format!("assertion failed: both are {}", show(&actual))))
        } else {
            Ok(())
        }
    });
}

fn check(ctx: &NativeCallContext, cond: &Dynamic, msg: Option<&Dynamic>) -> Res<()> {
    match (cond.as_bool(), msg) {
        (Ok(true), _) => Ok(()),
        (Ok(false), None) => Err(fail(ctx, "assertion failed")),
        (Ok(false), Some(m)) => {
            let m = m.clone().into_immutable_string().map_or_else(|_| m.to_string(), |s| s.to_string());
            Err(fail(ctx, format!("assertion failed: {m}")))
        }
        (Err(_), _) => Err(fail(ctx, format!("assert expects a bool, found {}", describe(cond)))),
    }
}

/// Equality for assertions: numbers across int and float, arrays and maps
/// deeply, an endpoint equal to its name, a list equal to an array of names.
pub(super) fn same(a: &Dynamic, b: &Dynamic) -> bool {
    let (a, b) = (a.flatten_clone(), b.flatten_clone());
    if let (Some(x), Some(y)) = (crate::convert::number(&a), crate::convert::number(&b)) {
        return x == y;
    }
    if let Some(x) = endpoint_name(&a) {
        return endpoint_name(&b).or_else(|| string(&b)).is_some_and(|y| x == y);
    }
    if let Some(y) = endpoint_name(&b) {
        return string(&a).is_some_and(|x| x == y);
    }
    if let (Some(x), Some(y)) = (items(&a), items(&b)) {
        return x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| same(p, q));
    }
    if let (Some(x), Some(y)) = (a.read_lock::<Map>(), b.read_lock::<Map>()) {
        return x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)));
    }
    if a.is_unit() || b.is_unit() {
        return a.is_unit() && b.is_unit();
    }
    match (a.as_bool(), b.as_bool()) {
        (Ok(x), Ok(y)) => return x == y,
        (Ok(_), _) | (_, Ok(_)) => return false,
        _ => {}
    }
    match (string(&a), string(&b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.type_name() == b.type_name() && a.to_string() == b.to_string(),
    }
}

fn string(v: &Dynamic) -> Option<String> {
    v.read_lock::<ImmutableString>().map(|s| s.to_string())
}

fn endpoint_name(v: &Dynamic) -> Option<String> {
    v.read_lock::<EndpointView>().map(|e| e.name().to_string())
}

/// An array's or an endpoint list's items.
fn items(v: &Dynamic) -> Option<Array> {
    if let Some(l) = v.read_lock::<EndpointList>() {
        return Some(l.to_array());
    }
    v.read_lock::<Array>().map(|a| a.clone())
}

/// A value as an assertion message shows it.
pub(super) fn show(v: &Dynamic) -> String {
    let v = v.flatten_clone();
    let s = if let Some(s) = string(&v) {
        format!("{s:?}")
    } else if let Some(n) = endpoint_name(&v) {
        format!("endpoint({n:?})")
    } else if let Some(l) = v.read_lock::<EndpointList>() {
        let names: Vec<String> = l.to_array().iter().map(show).collect();
        format!("endpoints([{}])", names.join(", "))
    } else if let Some(a) = v.read_lock::<Array>() {
        format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(", "))
    } else if let Some(m) = v.read_lock::<Map>() {
        format!("#{{{}}}", m.iter().map(|(k, x)| format!("{k}: {}", show(x))).collect::<Vec<_>>().join(", "))
    } else if v.is_unit() {
        "()".to_string()
    } else {
        v.to_string()
    };
    if s.chars().count() > 300 { format!("{}...", s.chars().take(297).collect::<String>()) } else { s }
}

/// A helper's map argument with its keys checked.
struct Fields<'a> {
    map: &'a Map,
    what: String,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map, what: impl Into<String>, allowed: &[&str]) -> Result<Fields<'a>, String> {
        let what = what.into();
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(format!("{what}: unknown key `{k}`{}", Hint::for_name(k, allowed.iter().copied())));
            }
        }
        Ok(Fields { map, what })
    }

    fn get(&self, key: &str) -> Option<Dynamic> {
        self.map.get(key).map(Dynamic::flatten_clone).filter(|v| !v.is_unit())
    }

    fn bad(&self, key: &str, expected: &str, v: &Dynamic) -> String {
        format!("{}: `{key}` expects {expected}, found {}", self.what, describe(v))
    }

    fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => string(&v).map(Some).ok_or_else(|| self.bad(key, "a string", &v)),
        }
    }

    /// A name given as a string or an endpoint view.
    fn name(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => string(&v).or_else(|| endpoint_name(&v)).map(Some).ok_or_else(|| self.bad(key, "a name", &v)),
        }
    }

    fn number(&self, key: &str) -> Result<Option<f64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => crate::convert::number(&v)
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| self.bad(key, "a number", &v)),
        }
    }

    fn whole(&self, key: &str) -> Result<Option<u64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => crate::convert::number(&v)
                .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 9.0e15)
                .map(|x| Some(x as u64))
                .ok_or_else(|| self.bad(key, "a whole number >= 0", &v)),
        }
    }

    fn tokens(&self, key: &str) -> Result<Option<u32>, String> {
        match self.whole(key)? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| format!("{}: `{key}` is too large: {n}", self.what)),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).map_err(|_| self.bad(key, "a bool", &v)),
        }
    }

    fn map(&self, key: &str) -> Result<Option<Map>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.clone().try_cast::<Map>().map(Some).ok_or_else(|| self.bad(key, "a map", &v)),
        }
    }
}

const REQUEST_KEYS: [&str; 13] = [
    "id",
    "tenant",
    "class",
    "model",
    "input_tokens",
    "output_tokens",
    "max_tokens",
    "stream",
    "lang",
    "deadline_ms",
    "tags",
    "at_ms",
    "prompt_hash",
];

fn request(m: &Map) -> Result<ReqView, String> {
    let f = Fields::new(m, "request", &REQUEST_KEYS)?;
    let input = f.tokens("input_tokens")?.unwrap_or(800);
    let output = f.tokens("output_tokens")?.unwrap_or(200);
    let mut r = Request::new(0, f.whole("at_ms")?.unwrap_or(0), input, output);
    r.id = match f.get("id") {
        None => None,
        Some(v) if v.is_int() || v.is_string() => Some(Sym::from(v.to_string())),
        Some(v) => return Err(f.bad("id", "a string or an integer", &v)),
    };
    let sym = |s: String| Sym::from(s);
    if let Some(t) = f.string("tenant")? {
        r.tenant = sym(t);
    }
    if let Some(c) = f.string("class")? {
        r.class = sym(c);
    }
    r.model = f.string("model")?.map(sym);
    r.lang = f.string("lang")?.map(sym);
    r.max_tokens = f.tokens("max_tokens")?.unwrap_or(output);
    r.stream = f.boolean("stream")?.unwrap_or(false);
    r.deadline_ms = f.whole("deadline_ms")?;
    r.prompt_hash = f.whole("prompt_hash")?;
    let tags = f.map("tags")?.map_or(Tags::None, Tags::Map);
    Ok(ReqView::from_parts(r, tags))
}

const CONTEXT_KEYS: [&str; 5] = ["now_ms", "endpoints", "budgets", "params", "start_of_day_ms"];
const ENDPOINT_KEYS: [&str; 17] = [
    "name",
    "price_in",
    "price_out",
    "context_window",
    "max_output_tokens",
    "tokenizer_ratio",
    "tokenizer_lang",
    "quality",
    "breaker",
    "healthy",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "error_rate",
    "inflight",
    "rate_limited_until_ms",
    "cached_tokens",
];

fn context(m: &Map, declared: &Map) -> Result<CtxView, String> {
    let f = Fields::new(m, "context", &CONTEXT_KEYS)?;
    let now_ms = f.whole("now_ms")?.unwrap_or(0);
    let mut cached: Vec<windtunnel_core::CacheUse> = Vec::new();
    let (facts, health) = match f.get("endpoints") {
        None => sample::world(&[]),
        Some(v) => {
            let Some(arr) = v.clone().try_cast::<Array>() else {
                return Err(f.bad("endpoints", "an array", &v));
            };
            let mut facts: Vec<EndpointFacts> = Vec::with_capacity(arr.len());
            let mut health = Vec::with_capacity(arr.len());
            cached.clear();
            for (n, item) in arr.into_iter().enumerate() {
                let (fa, he, ca) = endpoint(&item.flatten(), n, now_ms)?;
                cached.push(windtunnel_core::CacheUse { read: ca, written: 0 });
                if facts.iter().any(|x| x.id == fa.id) {
                    return Err(format!("context: endpoints[{n}]: `{}` is listed twice", fa.id));
                }
                facts.push(fa);
                health.push(he);
            }
            (facts, health)
        }
    };
    let mut budgets = BTreeMap::new();
    if let Some(b) = f.map("budgets")? {
        for (tenant, v) in b {
            let what = format!("context: budgets.{tenant}");
            let Some(m) = v.flatten_clone().try_cast::<Map>() else {
                return Err(format!("{what}: expected a map `#{{ spent, limit }}`, found {}", type_label(&v)));
            };
            let bf = Fields::new(&m, what, &["spent", "limit"])?;
            let spent = Nanodollars::from_usd(bf.number("spent")?.unwrap_or(0.0));
            let left = bf.number("limit")?.map(|l| Nanodollars::from_usd(l) - spent);
            budgets.insert(tenant.to_string(), (spent, left));
        }
    }
    let mut params = declared.clone();
    if let Some(p) = f.map("params")? {
        for (k, v) in p {
            if !params.contains_key(&k) {
                let hint = Hint::for_name(&k, declared.keys().map(|k| k.as_str()));
                return Err(format!("context: unknown policy parameter `{k}` in params{hint}"));
            }
            params.insert(k, v.flatten());
        }
    }
    Ok(CtxView(Rc::new(Snapshot {
        table: Rc::new(EndpointTable::new(&facts)),
        health,
        now_ms,
        budgets: BudgetView::Table(budgets),
        params: Rc::new(params),
        cached,
        time_of_day_ms: windtunnel_core::time_of_day_ms(f.whole("start_of_day_ms")?.unwrap_or(0), now_ms),
    })))
}

/// `endpoints[n]` of a context: a name or a map.
fn endpoint(v: &Dynamic, n: usize, now_ms: u64) -> Result<(EndpointFacts, Health, u32), String> {
    if let Some(name) = string(v) {
        let (facts, h) = sample::endpoint(&name);
        return Ok((facts, h, 0));
    }
    let Some(m) = v.clone().try_cast::<Map>() else {
        return Err(format!("context: endpoints[{n}] is {}, expected a name or a map", type_label(v)));
    };
    let Some(name) = m.get("name").and_then(|v| string(&v.flatten_clone())) else {
        return Err(format!("context: endpoints[{n}]: missing `name` (a string)"));
    };
    let f = Fields::new(&m, format!("context: endpoints[{n}] (`{name}`)"), &ENDPOINT_KEYS)?;
    let (mut facts, mut h) = sample::endpoint(&name);
    if let Some(p) = f.number("price_in")? {
        let p = windtunnel_core::PricePerMtok::from_usd(p);
        for (_, price) in &mut facts.prices {
            price.input = p;
            price.cached_input = p;
            price.cache_write = p;
        }
    }
    if let Some(p) = f.number("price_out")? {
        let p = windtunnel_core::PricePerMtok::from_usd(p);
        for (_, price) in &mut facts.prices {
            price.output = p;
        }
    }
    if f.map.contains_key("context_window") {
        facts.context_window = f.tokens("context_window")?;
    }
    if f.map.contains_key("max_output_tokens") {
        facts.max_output_tokens = f.tokens("max_output_tokens")?;
    }
    if let Some(r) = f.number("tokenizer_ratio")? {
        facts.tokenizer.ratio = r;
    }
    if let Some(langs) = f.map("tokenizer_lang")? {
        for (lang, r) in langs {
            let Some(r) = crate::convert::number(&r) else {
                return Err(format!("{}: `tokenizer_lang.{lang}` expects a number", f.what));
            };
            facts.tokenizer.lang.push((Arc::from(lang.as_str()), r));
        }
    }
    if let Some(q) = f.number("quality")? {
        facts.quality = q;
        h.quality = q;
    }
    if let Some(x) = f.whole("p50_ms")? {
        h.p50_ms = x;
    }
    if let Some(x) = f.whole("p95_ms")? {
        h.p95_ms = x;
    }
    if let Some(x) = f.whole("p99_ms")? {
        h.p99_ms = x;
    }
    if let Some(x) = f.number("error_rate")? {
        h.error_rate = x;
    }
    if let Some(x) = f.tokens("inflight")? {
        h.inflight = x;
    }
    if let Some(x) = f.whole("rate_limited_until_ms")? {
        h.rate_limited_until_ms = x;
    }
    let breaker = f.string("breaker")?;
    h.breaker = match breaker.as_deref() {
        None => BreakerState::Closed,
        Some("closed") => BreakerState::Closed,
        Some("open") => BreakerState::Open,
        Some("half_open") => BreakerState::HalfOpen,
        Some(b) => {
            return Err(format!(
                "{}: `breaker` expects \"closed\", \"open\" or \"half_open\", found {b:?}{}",
                f.what,
                Hint::for_name(b, ["closed", "open", "half_open"])
            ));
        }
    };
    if let Some(healthy) = f.boolean("healthy")? {
        let limited = h.rate_limited_until_ms > now_ms;
        if !healthy && breaker.is_none() && !limited {
            h.breaker = BreakerState::Open;
        }
        let actual = h.breaker != BreakerState::Open && !limited;
        if healthy != actual {
            let why = if limited {
                format!("rate_limited_until_ms {} is after now_ms {now_ms}", h.rate_limited_until_ms)
            } else {
                format!("breaker is \"{}\"", h.breaker.as_str())
            };
            return Err(format!("{}: `healthy: {healthy}` contradicts the other keys ({why})", f.what));
        }
    }
    Ok((facts, h, f.tokens("cached_tokens")?.unwrap_or(0)))
}

fn error(m: &Map) -> Result<ErrView, String> {
    let f = Fields::new(m, "error", &["kind", "status", "retry_after_ms"])?;
    let Some(kind) = f.string("kind")? else {
        return Err("error: missing `kind`".to_string());
    };
    let Some(kind) = ErrorKind::from_name(&kind) else {
        return Err(format!(
            "error: unknown kind `{kind}`{}",
            Hint::for_name(&kind, ErrorKind::ALL.iter().map(|k| k.as_str()))
        ));
    };
    let status = match f.whole("status")? {
        Some(s) => Some(u16::try_from(s).map_err(|_| format!("error: `status` {s} is not an HTTP status"))?),
        None => None,
    };
    Ok(ErrView { kind, status, retry_after_ms: f.whole("retry_after_ms")? })
}

fn attempt(m: &Map) -> Result<AttemptView, String> {
    let f = Fields::new(m, "attempt", &["number", "endpoint", "elapsed_ms"])?;
    let Some(endpoint) = f.name("endpoint")? else {
        return Err("attempt: missing `endpoint`".to_string());
    };
    let number = match f.tokens("number")? {
        Some(0) => return Err("attempt: `number` is 1-based, found 0".to_string()),
        Some(n) => n,
        None => 1,
    };
    Ok(AttemptView { number, endpoint: endpoint.into(), elapsed_ms: f.whole("elapsed_ms")?.unwrap_or(0) })
}

fn response(m: &Map) -> Result<RespView, String> {
    let keys = ["endpoint", "quality", "latency_ms", "ttft_ms", "output_tokens", "cost_usd"];
    let f = Fields::new(m, "response", &keys)?;
    let Some(endpoint) = f.name("endpoint")? else {
        return Err("response: missing `endpoint`".to_string());
    };
    Ok(RespView {
        endpoint: endpoint.into(),
        quality: f.number("quality")?.unwrap_or(1.0),
        latency_ms: f.whole("latency_ms")?.unwrap_or(1_000),
        ttft_ms: f.whole("ttft_ms")?,
        output_tokens: f.tokens("output_tokens")?.unwrap_or(200),
        cost: Nanodollars::from_usd(f.number("cost_usd")?.unwrap_or(0.0)),
    })
}
