//! `--set KEY=VALUE`: what-if edits to a scenario from the command line.
//!
//! A key is a dotted path into the TOML document (`trace.speed`,
//! `budgets.acme.usd`). `endpoints.NAME.rest` addresses the endpoint whose
//! `name` is NAME; since names hold dots and slashes (`openai/gpt-4.1-mini`),
//! the longest endpoint name followed by `.` wins. The same longest-match rule
//! applies to table keys (a tenant called `team.a`), and a numeric segment
//! indexes an array (`faults.0.probability`). A key that does not exist yet is
//! created, so `rate_limit.rpm` can be added to an endpoint that had none.
//!
//! VALUE is read as a TOML value (`15`, `0.5`, `true`, `"x"`, `[1, 2]`,
//! `{ rpm = 5 }`); when it is not one it is taken as a string, so
//! `start=10m` needs no quotes.
//!
//! `policy.NAME=VALUE` is not applied to the document: it is a policy
//! parameter and goes to [`Scenario::policy_params`](crate::Scenario::policy_params).
//! (So `policy.chain` cannot be overridden this way; `policy = { .. }` can.)
//!
//! Why edit the document and parse again, rather than edit the validated
//! [`Scenario`](crate::Scenario): every check and default then applies to the
//! edited value exactly as if it had been in the file.

use crate::error::{ConfigError, ConfigErrorKind, did_you_mean};
use crate::raw::ENDPOINT_KEYS;
use std::fmt;
use std::str::FromStr;
use toml::{Table, Value};

/// The prefix of keys that are policy parameters.
const POLICY_PREFIX: &str = "policy.";

/// One parsed `--set KEY=VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    arg: String,
    key: String,
    value_text: String,
    value: Value,
}

impl Override {
    /// Parses `KEY=VALUE` (the text after `--set`).
    pub fn parse(arg: &str) -> Result<Override, ConfigError> {
        let syntax = || ConfigError::nowhere(ConfigErrorKind::OverrideSyntax { arg: arg.to_string() });
        let (key, value_text) = arg.split_once('=').ok_or_else(syntax)?;
        let key = key.trim();
        if key.is_empty() || key.starts_with('.') || key.ends_with('.') || key.contains("..") {
            return Err(syntax());
        }
        Ok(Override {
            arg: arg.to_string(),
            key: key.to_string(),
            value_text: value_text.to_string(),
            value: parse_value(value_text),
        })
    }

    /// The argument as typed.
    pub fn arg(&self) -> &str {
        &self.arg
    }

    /// The dotted key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value as typed.
    pub fn value_text(&self) -> &str {
        &self.value_text
    }

    /// `Some(NAME)` for `policy.NAME=..`: a policy parameter, not a document edit.
    pub fn policy_param(&self) -> Option<&str> {
        self.key.strip_prefix(POLICY_PREFIX)
    }

    /// Applies this override to `doc` and returns the key path it resolved
    /// to (`endpoints[0].price.output_per_mtok`).
    pub(crate) fn apply(&self, doc: &mut Table) -> Result<String, ConfigErrorKind> {
        set_in_table(doc, &self.key, String::new(), self.value.clone(), true)
    }
}

impl FromStr for Override {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Override, ConfigError> {
        Override::parse(s)
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arg)
    }
}

/// A TOML value, or the text as a string when it is not one.
fn parse_value(text: &str) -> Value {
    match format!("v = {text}").parse::<Table>() {
        Ok(mut t) if t.len() == 1 => t.remove("v").unwrap_or_else(|| Value::String(text.to_string())),
        _ => Value::String(text.to_string()),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// `rest` split after the longest existing key of `t` that is all of `rest`
/// or followed by `.`; failing that, after the first segment.
fn split_key<'r>(t: &Table, rest: &'r str) -> (&'r str, Option<&'r str>) {
    let best = t.keys().filter(|k| rest == *k || rest.strip_prefix(k.as_str()).is_some_and(|r| r.starts_with('.')));
    match best.map(String::len).max() {
        Some(n) if n == rest.len() => (rest, None),
        Some(n) => (&rest[..n], Some(&rest[n + 1..])),
        None => match rest.split_once('.') {
            Some((k, tail)) => (k, Some(tail)),
            None => (rest, None),
        },
    }
}

fn first_segment(rest: &str) -> &str {
    rest.split_once('.').map_or(rest, |(s, _)| s)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

fn set_in_table(t: &mut Table, rest: &str, path: String, value: Value, root: bool) -> Result<String, ConfigErrorKind> {
    let (key, tail) = split_key(t, rest);
    let path = join(&path, key);
    let Some(tail) = tail else {
        t.insert(key.to_string(), value);
        return Ok(path);
    };
    let child = t.entry(key.to_string()).or_insert_with(|| {
        // A numeric next segment means an array of tables is being started.
        if first_segment(tail).parse::<usize>().is_ok() { Value::Array(Vec::new()) } else { Value::Table(Table::new()) }
    });
    match child {
        Value::Table(sub) => set_in_table(sub, tail, path, value, false),
        Value::Array(arr) if root && key == "endpoints" => set_endpoint(arr, tail, path, value),
        Value::Array(arr) => {
            let (seg, rest) = tail.split_once('.').map_or((tail, None), |(s, r)| (s, Some(r)));
            let idx = seg.parse::<usize>().map_err(|_| ConfigErrorKind::OverridePath {
                key: path.clone(),
                reason: format!("it is an array, expected an index such as `{key}.0`, found `{seg}`"),
            })?;
            set_at(arr, idx, rest, path, value)
        }
        other => {
            Err(ConfigErrorKind::OverridePath { reason: format!("it is {}, not a table", type_name(other)), key: path })
        }
    }
}

/// Sets `rest` inside element `idx` of `arr` (appending when `idx` is its length).
fn set_at(
    arr: &mut Vec<Value>,
    idx: usize,
    rest: Option<&str>,
    path: String,
    value: Value,
) -> Result<String, ConfigErrorKind> {
    if idx > arr.len() {
        return Err(ConfigErrorKind::OverridePath {
            key: format!("{path}[{idx}]"),
            reason: format!(
                "`{path}` has {} {}, expected an index from 0 to {}",
                arr.len(),
                if arr.len() == 1 { "entry" } else { "entries" },
                arr.len()
            ),
        });
    }
    let path = format!("{path}[{idx}]");
    if idx == arr.len() {
        arr.push(Value::Table(Table::new()));
    }
    let Some(slot) = arr.get_mut(idx) else {
        return Err(ConfigErrorKind::OverridePath { key: path, reason: "no such entry".into() });
    };
    match (rest, slot) {
        (None, slot) => {
            *slot = value;
            Ok(path)
        }
        (Some(rest), Value::Table(t)) => set_in_table(t, rest, path, value, false),
        (Some(rest), Value::Array(a)) => {
            let (seg, tail) = rest.split_once('.').map_or((rest, None), |(s, r)| (s, Some(r)));
            let i = seg.parse::<usize>().map_err(|_| ConfigErrorKind::OverridePath {
                key: path.clone(),
                reason: format!("it is an array, expected an index, found `{seg}`"),
            })?;
            set_at(a, i, tail, path, value)
        }
        (Some(_), other) => {
            Err(ConfigErrorKind::OverridePath { reason: format!("it is {}, not a table", type_name(other)), key: path })
        }
    }
}

/// `endpoints.NAME.rest`: NAME is the longest endpoint name followed by `.`
/// (or the whole remainder); a bare index also works when no name matches.
fn set_endpoint(arr: &mut Vec<Value>, tail: &str, path: String, value: Value) -> Result<String, ConfigErrorKind> {
    let names: Vec<&str> = arr.iter().filter_map(|v| v.get("name").and_then(Value::as_str)).collect();
    let found = arr
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let n = v.get("name").and_then(Value::as_str)?;
            if tail == n {
                Some((i, n.len(), None))
            } else {
                let r = tail.strip_prefix(n)?.strip_prefix('.')?;
                Some((i, n.len(), Some(r)))
            }
        })
        .max_by_key(|(_, len, _)| *len);
    if let Some((i, _, rest)) = found {
        return set_at(arr, i, rest, path, value);
    }
    let (seg, rest) = tail.split_once('.').map_or((tail, None), |(s, r)| (s, Some(r)));
    if let Ok(i) = seg.parse::<usize>()
        && i < arr.len()
    {
        return set_at(arr, i, rest, path, value);
    }
    // Guess where the name ends: before the first segment that is an endpoint key.
    let segs: Vec<&str> = tail.split('.').collect();
    let end = (1..segs.len()).find(|&k| segs.get(k).is_some_and(|s| ENDPOINT_KEYS.contains(s))).unwrap_or(segs.len());
    let name = segs.get(..end).map(|s| s.join(".")).unwrap_or_else(|| tail.to_string());
    Err(ConfigErrorKind::UnknownEndpoint {
        suggestion: did_you_mean(&name, names.iter().copied()),
        expected: names.iter().map(|n| n.to_string()).collect(),
        name,
        key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Table {
        r#"
            seed = 1
            [budgets]
            "team.a" = { usd = 1.0 }
            [[endpoints]]
            name = "openai/gpt-4.1"
            [[endpoints]]
            name = "openai/gpt-4.1-mini"
            [[endpoints.faults]]
            kind = "hang"
            start = "1m"
        "#
        .parse()
        .unwrap()
    }

    fn set(doc: &mut Table, arg: &str) -> Result<String, String> {
        Override::parse(arg).unwrap().apply(doc).map_err(|e| e.to_string())
    }

    #[test]
    fn values_are_toml_or_else_strings() {
        assert_eq!(parse_value("15"), Value::Integer(15));
        assert_eq!(parse_value("0.5"), Value::Float(0.5));
        assert_eq!(parse_value("\"x\""), Value::String("x".into()));
        assert_eq!(parse_value("10m"), Value::String("10m".into()));
        assert_eq!(parse_value("1\nseed = 2"), Value::String("1\nseed = 2".into()));
        assert!(matches!(parse_value("{ rpm = 5 }"), Value::Table(_)));
    }

    #[test]
    fn longest_endpoint_name_wins_and_paths_resolve() {
        let mut d = doc();
        assert_eq!(set(&mut d, "endpoints.openai/gpt-4.1-mini.concurrency=4"), Ok("endpoints[1].concurrency".into()));
        assert_eq!(set(&mut d, "endpoints.openai/gpt-4.1.concurrency=2"), Ok("endpoints[0].concurrency".into()));
        assert_eq!(
            set(&mut d, "endpoints.openai/gpt-4.1-mini.faults.0.start=2m"),
            Ok("endpoints[1].faults[0].start".into())
        );
        assert_eq!(set(&mut d, "budgets.team.a.usd=3"), Ok("budgets.team.a.usd".into()));
        assert_eq!(set(&mut d, "endpoints.1.rate_limit.rpm=5"), Ok("endpoints[1].rate_limit.rpm".into()));
        let e1 = &d["endpoints"][1];
        assert_eq!(e1["concurrency"], Value::Integer(4));
        assert_eq!(e1["faults"][0]["start"], Value::String("2m".into()));
        assert_eq!(e1["rate_limit"]["rpm"], Value::Integer(5));
        assert_eq!(d["endpoints"][0]["concurrency"], Value::Integer(2));
        assert_eq!(d["budgets"]["team.a"]["usd"], Value::Integer(3));
    }

    #[test]
    fn bad_paths_are_refused() {
        let mut d = doc();
        assert_eq!(
            set(&mut d, "endpoints.openai/gpt-4.1-mni.concurrency=4"),
            Err("unknown endpoint `openai/gpt-4.1-mni`, did you mean `openai/gpt-4.1-mini`?".into())
        );
        assert_eq!(set(&mut d, "seed.x=1"), Err("cannot set `seed`: it is an integer, not a table".into()));
        assert_eq!(
            set(&mut d, "endpoints.openai/gpt-4.1-mini.faults.3.start=1m"),
            Err(
                "cannot set `endpoints[1].faults[3]`: `endpoints[1].faults` has 1 entry, expected an index from 0 to 1"
                    .into()
            )
        );
        assert!(Override::parse("novalue").is_err());
        assert!(Override::parse("policy.=3").is_err());
        assert_eq!(Override::parse("policy.max_p95_ms=3").unwrap().policy_param(), Some("max_p95_ms"));
    }
}
