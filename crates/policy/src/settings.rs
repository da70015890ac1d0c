//! `settings()`: engine settings, the default chain and the policy's
//! parameters, read once at load; and `--set policy.NAME=VALUE` overrides.
//!
//! Anything left out keeps the executor's default. Keys are checked like a
//! scenario's: an unknown key is an error with a "did you mean", so a typo
//! (`open_sec`) does not silently keep the default.

use crate::convert::{describe, number, render, type_label};
use crate::suggest::Hint;
use rhai::{Array, Dynamic, ImmutableString, Map};
use windtunnel_core::{BreakerSettings, JitterKind, PolicySettings, RetrySettings};

/// What `settings()` said.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    /// Breaker and retry settings (`default_chain` is resolved by the caller).
    pub(crate) engine: PolicySettings,
    /// `default_chain` as names.
    pub(crate) default_chain: Option<Vec<String>>,
    /// Declared parameters with their defaults.
    pub(crate) params: Map,
}

/// A bad key or value in `settings()`'s answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Key path.
    pub(crate) key: String,
    /// What is wrong.
    pub(crate) message: String,
}

fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { key: key.into(), message: message.into() }
}

const TOP_KEYS: [&str; 4] = ["breaker", "retry", "default_chain", "params"];
const BREAKER_KEYS: [&str; 6] =
    ["failure_rate", "min_requests", "window_s", "open_s", "half_open_probes", "consecutive_failures"];
const RETRY_KEYS: [&str; 3] = ["base_ms", "max_ms", "jitter"];

/// Reads `settings()`'s answer; `()` (no answer) keeps every default.
pub(crate) fn parse(value: Dynamic) -> Result<Settings, Problem> {
    let value = value.flatten();
    let mut out = Settings::default();
    if value.is_unit() {
        return Ok(out);
    }
    let top = as_map(value, "settings()", &TOP_KEYS, "")?;
    if let Some(b) = top.get("breaker") {
        out.engine.breaker = breaker(b.clone())?;
    }
    if let Some(r) = top.get("retry") {
        out.engine.retry = retry(r.clone())?;
    }
    if let Some(c) = top.get("default_chain").map(Dynamic::flatten_clone).filter(|c| !c.is_unit()) {
        let Some(arr) = c.clone().try_cast::<Array>() else {
            return Err(problem(
                "default_chain",
                format!("expected an array of endpoint names, found {}", type_label(&c)),
            ));
        };
        let mut names = Vec::with_capacity(arr.len());
        for (n, v) in arr.into_iter().enumerate() {
            let v = v.flatten();
            match v.read_lock::<ImmutableString>() {
                Some(s) => names.push(s.to_string()),
                None => {
                    return Err(problem(
                        format!("default_chain[{n}]"),
                        format!("expected an endpoint name, found {}", describe(&v)),
                    ));
                }
            }
        }
        out.default_chain = Some(names);
    }
    if let Some(p) = top.get("params").map(Dynamic::flatten_clone).filter(|p| !p.is_unit()) {
        let Some(map) = p.clone().try_cast::<Map>() else {
            return Err(problem("params", format!("expected a map of parameters, found {}", type_label(&p))));
        };
        out.params = map.into_iter().map(|(k, v)| (k, v.flatten())).collect();
    }
    Ok(out)
}

/// `value` as a map whose keys are all in `keys`; `path` prefixes key names.
fn as_map(value: Dynamic, what: &str, keys: &[&str], path: &str) -> Result<Map, Problem> {
    let Some(map) = value.clone().try_cast::<Map>() else {
        return Err(problem(what, format!("expected a map, found {}", describe(&value))));
    };
    for k in map.keys() {
        if !keys.contains(&k.as_str()) {
            return Err(problem(
                format!("{path}{k}"),
                format!("unknown key{}", Hint::for_name(k, keys.iter().copied())),
            ));
        }
    }
    Ok(map)
}

fn breaker(value: Dynamic) -> Result<BreakerSettings, Problem> {
    let m = as_map(value.flatten(), "breaker", &BREAKER_KEYS, "breaker.")?;
    let mut b = BreakerSettings::default();
    if let Some(v) = m.get("failure_rate") {
        let x = number(v).filter(|x| *x > 0.0 && *x <= 1.0);
        b.failure_rate = x.ok_or_else(|| bad("breaker.failure_rate", "a share in (0, 1]", v))?;
    }
    if let Some(v) = m.get("min_requests") {
        b.min_requests = whole_u32(v, 1).ok_or_else(|| bad("breaker.min_requests", "a whole number >= 1", v))?;
    }
    if let Some(v) = m.get("window_s") {
        b.window_ms = seconds_ms(v).ok_or_else(|| bad("breaker.window_s", "a number of seconds > 0", v))?;
    }
    if let Some(v) = m.get("open_s") {
        b.open_ms = seconds_ms(v).ok_or_else(|| bad("breaker.open_s", "a number of seconds > 0", v))?;
    }
    if let Some(v) = m.get("half_open_probes") {
        b.half_open_probes =
            whole_u32(v, 1).ok_or_else(|| bad("breaker.half_open_probes", "a whole number >= 1", v))?;
    }
    if let Some(v) = m.get("consecutive_failures") {
        b.consecutive_failures =
            whole_u32(v, 0).ok_or_else(|| bad("breaker.consecutive_failures", "a whole number >= 0 (0 = off)", v))?;
    }
    Ok(b)
}

fn retry(value: Dynamic) -> Result<RetrySettings, Problem> {
    let m = as_map(value.flatten(), "retry", &RETRY_KEYS, "retry.")?;
    let mut r = RetrySettings::default();
    if let Some(v) = m.get("base_ms") {
        r.base_ms = whole_u32(v, 0).map(u64::from).ok_or_else(|| bad("retry.base_ms", "a whole number >= 0", v))?;
    }
    if let Some(v) = m.get("max_ms") {
        r.max_ms = whole_u32(v, 0).map(u64::from).ok_or_else(|| bad("retry.max_ms", "a whole number >= 0", v))?;
    }
    if r.max_ms < r.base_ms {
        return Err(problem(
            "retry.max_ms",
            format!("must not be less than retry.base_ms ({}), found {}", r.base_ms, r.max_ms),
        ));
    }
    if let Some(v) = m.get("jitter") {
        let v = v.flatten_clone();
        r.jitter = match v.read_lock::<ImmutableString>().as_deref().map(|s| s.as_str()) {
            Some("full") => JitterKind::Full,
            Some("equal") => JitterKind::Equal,
            Some("none") => JitterKind::None,
            _ => return Err(bad("retry.jitter", "\"full\", \"equal\" or \"none\"", &v)),
        };
    }
    Ok(r)
}

fn bad(key: &str, expected: &str, found: &Dynamic) -> Problem {
    problem(key, format!("expected {expected}, found {}", render(&found.flatten_clone())))
}

/// A whole number `>= min` that fits a `u32` (a float like `20.0` counts).
fn whole_u32(v: &Dynamic, min: u32) -> Option<u32> {
    let x = number(&v.flatten_clone())?;
    (x.fract() == 0.0 && x >= f64::from(min) && x <= f64::from(u32::MAX)).then_some(x as u32)
}

/// Seconds `> 0` (fractions allowed) in milliseconds.
fn seconds_ms(v: &Dynamic) -> Option<u64> {
    let x = number(&v.flatten_clone())?;
    (x.is_finite() && x > 0.0 && x < 1e12).then(|| (x * 1000.0).round() as u64)
}

/// Why an override was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OverrideProblem {
    /// Not declared in `settings().params`.
    Unknown {
        /// The name.
        name: String,
        /// The nearest declared name.
        hint: Hint,
    },
    /// The value does not suit the default's type.
    Type {
        /// The name.
        name: String,
        /// What was expected.
        expected: &'static str,
        /// The text given.
        found: String,
    },
}

/// Applies `--set policy.NAME=VALUE` overrides to the declared `params`.
///
/// A value takes its default's type: a number default takes a number (an
/// integer text stays an integer unless the default is a float), a bool
/// default `true`/`false`, a string default any text. A default of another
/// kind (`()`, an array) takes an integer, a float, a bool, else the text.
pub(crate) fn apply_overrides(params: &mut Map, overrides: &[(String, String)]) -> Result<(), OverrideProblem> {
    for (name, text) in overrides {
        let Some(default) = params.get(name.as_str()) else {
            return Err(OverrideProblem::Unknown {
                name: name.clone(),
                hint: Hint::for_name(name, params.keys().map(|k| k.as_str())),
            });
        };
        let text = text.trim();
        let type_err = |expected| OverrideProblem::Type { name: name.clone(), expected, found: text.to_string() };
        let value = if default.is_int() {
            match (text.parse::<i64>(), text.parse::<f64>()) {
                (Ok(i), _) => Dynamic::from_int(i),
                (_, Ok(f)) if f.is_finite() => Dynamic::from_float(f),
                _ => return Err(type_err("a number")),
            }
        } else if default.is_float() {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Dynamic::from_float(f),
                _ => return Err(type_err("a number")),
            }
        } else if default.is_bool() {
            match text {
                "true" => Dynamic::TRUE,
                "false" => Dynamic::FALSE,
                _ => return Err(type_err("true or false")),
            }
        } else if default.is_string() {
            Dynamic::from(text.to_string())
        } else {
            parse_value(text)
        };
        params.insert(name.as_str().into(), value);
    }
    Ok(())
}

/// Command-line text as a value: an integer, else a float, else a bool, else the text.
pub(crate) fn parse_value(text: &str) -> Dynamic {
    if let Ok(i) = text.parse::<i64>() {
        Dynamic::from_int(i)
    } else if let Some(f) = text.parse::<f64>().ok().filter(|f| f.is_finite()) {
        Dynamic::from_float(f)
    } else if text == "true" || text == "false" {
        Dynamic::from_bool(text == "true")
    } else {
        Dynamic::from(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Dynamic)]) -> Dynamic {
        let m: Map = pairs.iter().map(|(k, v)| ((*k).into(), v.clone())).collect();
        m.into()
    }

    #[test]
    fn seconds_become_milliseconds_and_defaults_stay() {
        let b = map(&[("window_s", Dynamic::from_int(60)), ("open_s", Dynamic::from_float(2.5))]);
        let s = parse(map(&[("breaker", b)])).unwrap();
        assert_eq!(s.engine.breaker.window_ms, 60_000);
        assert_eq!(s.engine.breaker.open_ms, 2_500);
        assert_eq!(s.engine.breaker.min_requests, BreakerSettings::default().min_requests);
        assert_eq!(s.engine.retry, RetrySettings::default());
    }

    #[test]
    fn unknown_and_bad_keys_are_named() {
        let b = map(&[("open_sec", Dynamic::from_int(1))]);
        let e = parse(map(&[("breaker", b)])).unwrap_err();
        assert_eq!(e, problem("breaker.open_sec", "unknown key, did you mean `open_s`?"));
        let r = map(&[("jitter", Dynamic::from("fulll".to_string()))]);
        let e = parse(map(&[("retry", r)])).unwrap_err();
        assert_eq!(e, problem("retry.jitter", "expected \"full\", \"equal\" or \"none\", found \"fulll\""));
    }

    #[test]
    fn overrides_take_the_default_type() {
        let mut p: Map = Map::new();
        p.insert("max_p95_ms".into(), Dynamic::from_int(2500));
        p.insert("min_q".into(), Dynamic::from_float(0.75));
        p.insert("cheap".into(), Dynamic::TRUE);
        apply_overrides(&mut p, &[("min_q".into(), "1".into()), ("max_p95_ms".into(), "1800".into())]).unwrap();
        assert_eq!(p["min_q"].as_float().unwrap(), 1.0);
        assert_eq!(p["max_p95_ms"].as_int().unwrap(), 1800);
        let e = apply_overrides(&mut p, &[("cheap".into(), "yes".into())]).unwrap_err();
        assert_eq!(e, OverrideProblem::Type { name: "cheap".into(), expected: "true or false", found: "yes".into() });
        assert_eq!(parse_value("0.5").as_float().unwrap(), 0.5);
        assert!(parse_value("openai/gpt-4o").is_string());
    }
}
