//! Hook answers → core types: a plan, an error action, an acceptance.
//!
//! The script is trusted with nothing: every answer is checked for shape and
//! range, and a wrong one is a [`PolicyFailure`](windtunnel_core::PolicyFailure)
//! that names what was wrong (`chain[1]`: unknown endpoint, did you mean ...).

use crate::suggest::Hint;
use crate::views::{EndpointList, EndpointTable, EndpointView};
use rhai::{Array, Dynamic, FLOAT, INT, ImmutableString, Map};
use std::rc::Rc;
use windtunnel_core::{EndpointIdx, ErrorAction, Plan};

/// The keys a plan map may have.
const PLAN_KEYS: [&str; 9] = [
    "chain",
    "attempt_timeout_ms",
    "ttft_timeout_ms",
    "stall_timeout_ms",
    "max_attempts",
    "hedge_after_ms",
    "deadline_ms",
    "max_wait_ms",
    "start_after_ms",
];

/// A short name of a value's type, for messages.
pub(crate) fn type_label(v: &Dynamic) -> &'static str {
    if v.is_unit() {
        "()"
    } else if v.is_int() {
        "an integer"
    } else if v.is_float() {
        "a float"
    } else if v.is_bool() {
        "a bool"
    } else if v.is_string() {
        "a string"
    } else if v.is_char() {
        "a character"
    } else if v.is_array() {
        "an array"
    } else if v.is_map() {
        "a map"
    } else if v.is::<EndpointView>() {
        "an endpoint"
    } else if v.is::<EndpointList>() {
        "an endpoint list"
    } else if v.is::<rhai::FnPtr>() {
        "a function pointer"
    } else {
        "a value of another type"
    }
}

/// A value's type and value for a message: `an integer (42)`, `()`.
pub(crate) fn describe(v: &Dynamic) -> String {
    if v.is_unit() { "()".to_string() } else { format!("{} ({})", type_label(v), render(v)) }
}

/// A value for a message: strings quoted, long values cut.
pub(crate) fn render(v: &Dynamic) -> String {
    let s = if v.is_string() { format!("{:?}", v.to_string()) } else { v.to_string() };
    if s.chars().count() > 60 { format!("{}...", s.chars().take(57).collect::<String>()) } else { s }
}

/// `route`'s answer as a plan over `table`.
pub(crate) fn to_plan(value: Dynamic, table: &Rc<EndpointTable>) -> Result<Plan, String> {
    let value = value.flatten();
    if value.is_array() || value.is::<EndpointList>() {
        return Ok(Plan::chain(to_chain(value, table, "route returned")?));
    }
    let Some(map) = value.clone().try_cast::<Map>() else {
        return Err(format!(
            "route returned {}, expected a plan map `#{{ chain: [...] }}` or an array of endpoints",
            describe(&value)
        ));
    };
    for key in map.keys() {
        if !PLAN_KEYS.contains(&key.as_str()) {
            return Err(format!("unknown key `{key}` in the plan{}", Hint::for_name(key, PLAN_KEYS)));
        }
    }
    let Some(chain) = map.get("chain") else {
        return Err("the plan has no `chain`".to_string());
    };
    let mut plan = Plan::chain(to_chain(chain.clone().flatten(), table, "`chain` is")?);
    if let Some(t) = millis(&map, "attempt_timeout_ms", 1)? {
        plan.attempt_timeout_ms = t;
    }
    plan.ttft_timeout_ms = millis(&map, "ttft_timeout_ms", 1)?;
    plan.stall_timeout_ms = millis(&map, "stall_timeout_ms", 1)?;
    plan.hedge_after_ms = millis(&map, "hedge_after_ms", 0)?;
    plan.deadline_ms = millis(&map, "deadline_ms", 1)?;
    plan.max_wait_ms = millis(&map, "max_wait_ms", 0)?.filter(|&w| w > 0);
    plan.start_after_ms = millis(&map, "start_after_ms", 0)?.filter(|&w| w > 0);
    plan.max_attempts = match millis(&map, "max_attempts", 1)? {
        Some(n) => Some(u32::try_from(n).map_err(|_| format!("`max_attempts` in the plan is {n}, too large"))?),
        None => None,
    };
    Ok(plan)
}

/// A chain: an array of names or endpoint views, or an endpoint list.
/// `what` starts the message when `value` is neither (`route returned`, `` `chain` is``).
pub(crate) fn to_chain(value: Dynamic, table: &Rc<EndpointTable>, what: &str) -> Result<Vec<EndpointIdx>, String> {
    if let Some(list) = value.read_lock::<EndpointList>() {
        return list.clone().into_iter().map(|e| resolve_view(&e, table)).collect();
    }
    let Some(arr) = value.clone().try_cast::<Array>() else {
        return Err(format!("{what} {}, expected an array of endpoints", describe(&value)));
    };
    arr.into_iter()
        .enumerate()
        .map(|(n, v)| {
            let v = v.flatten();
            if let Some(s) = v.read_lock::<ImmutableString>() {
                let s = s.as_str();
                return match table.find(s) {
                    Some(i) => Ok(EndpointIdx(i)),
                    None => {
                        Err(format!("unknown endpoint `{s}` in chain[{n}]{}", Hint::for_name(s, table.name_strs())))
                    }
                };
            }
            if let Some(e) = v.read_lock::<EndpointView>() {
                return resolve_view(&e, table);
            }
            Err(format!("chain[{n}] is {}, expected an endpoint name or an endpoint", describe(&v)))
        })
        .collect()
}

/// An endpoint of some snapshot as an index of `table`: the same index when
/// the snapshot is of `table` (always, in a hook call), else by name.
fn resolve_view(view: &EndpointView, table: &Rc<EndpointTable>) -> Result<EndpointIdx, String> {
    if Rc::ptr_eq(&view.snapshot().table, table) {
        return Ok(EndpointIdx(view.idx()));
    }
    table.find(&view.name()).map(EndpointIdx).ok_or_else(|| format!("unknown endpoint `{}`", view.name()))
}

/// A plan key that holds a whole number at least `min`; `()` or absent is `None`.
fn millis(map: &Map, key: &str, min: u64) -> Result<Option<u64>, String> {
    let Some(v) = map.get(key) else { return Ok(None) };
    let v = v.flatten_clone();
    if v.is_unit() {
        return Ok(None);
    }
    let n = if let Ok(i) = v.as_int() {
        u64::try_from(i).ok()
    } else if let Ok(f) = v.as_float() {
        (f.is_finite() && f >= 0.0).then(|| f.round() as u64)
    } else {
        return Err(format!("`{key}` in the plan is {}, expected a number", describe(&v)));
    };
    match n {
        Some(n) if n >= min && n <= MAX_PLAN_MS => Ok(Some(n)),
        _ => Err(format!("`{key}` in the plan is {}, expected a number from {min} to {MAX_PLAN_MS}", render(&v))),
    }
}

/// The largest time (and count) a plan may set: a day. Larger values are
/// mistakes, and unbounded ones would let a hung attempt run to the end of
/// virtual time.
const MAX_PLAN_MS: u64 = 86_400_000;

/// `on_error`'s answer.
pub(crate) fn to_action(value: Dynamic) -> Result<ErrorAction, String> {
    let value = value.flatten();
    match value.read_lock::<ImmutableString>().as_deref().map(|s| s.as_str()) {
        Some("retry") => Ok(ErrorAction::Retry),
        Some("next") => Ok(ErrorAction::Next),
        Some("fail") => Ok(ErrorAction::Fail),
        _ => Err(format!("on_error returned {}, expected \"retry\", \"next\" or \"fail\"", describe(&value))),
    }
}

/// `accept`'s answer.
pub(crate) fn to_bool(value: Dynamic, hook: &str) -> Result<bool, String> {
    let value = value.flatten();
    value.as_bool().map_err(|_| format!("{hook} returned {}, expected a bool", describe(&value)))
}

/// A number a setting or parameter holds, integer or float.
pub(crate) fn number(v: &Dynamic) -> Option<f64> {
    v.as_int().map(|i: INT| i as f64).or_else(|_| v.as_float().map(|f: FLOAT| f)).ok()
}
