//! Chaos injection: the rule format (`--chaos FILE`, `PUT /admin/chaos`),
//! which attempt meets which fault ([`ChaosState::pick`]), and what is
//! counted of it. The fault itself is carried out in `upstream`, between the
//! executor and the upstream, so the policy meets it as a real failure.
//!
//! What it must not do: carry out faults (that is `upstream`'s), or decide
//! what a failure means for the request (the executor's).
//!
//! # Picking
//! When the executor starts an attempt, the rules are tried in file order;
//! the first whose `match` fits the attempt (endpoint, tenant, class, a
//! request header) and whose coin comes up (`probability`, default 1) and
//! whose `max_concurrent` cap has room injects its fault into that attempt.
//! One fault per attempt at most. A request naming rules in
//! `x-windtunnel-chaos` forces them: the named rules that match the attempt
//! inject whatever their probability (the cap still holds). The coin comes
//! from a generator seeded by the scenario's seed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use windtunnel_config::{Scenario, line_col};
use windtunnel_core::{ChaCha8Rng, Request, Rng, Streams, parse_duration_ms};

/// The longest delay a rule may ask for: an hour.
const MAX_DELAY_MS: u64 = 3_600_000;

/// One chaos rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosRule {
    /// Its name: in `x-windtunnel-chaos`, `/metrics` and the report.
    pub name: String,
    /// Which attempts it may hit; empty matches all.
    #[serde(default, rename = "match")]
    pub matcher: RuleMatch,
    /// The chance that a matching attempt is hit, 0 to 1; default 1.
    #[serde(default = "always")]
    pub probability: f64,
    /// The most faults of this rule in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// What happens to a hit attempt.
    pub fault: ChaosFault,
}

fn always() -> f64 {
    1.0
}

/// Which attempts a rule may hit: every field given must fit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    /// The endpoint's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The request's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The request's class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// A request header: `"x-name"` (present) or `"x-name: value"` (equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// A fault, as SPEC names the kinds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChaosFault {
    /// Answer with this status without calling the upstream.
    Status {
        /// The HTTP status, 400 to 599.
        status: u16,
        /// Sent as `Retry-After` (a duration such as `"2s"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
        /// The answer's body; default an OpenAI-shaped error naming the rule.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Wait this long before the request is sent (it counts against the
    /// attempt's timeout).
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// Hold the answer's first token this long.
    TtftDelay {
        /// Milliseconds.
        ms: u64,
    },
    /// Go silent for `ms` after `after_tokens` chunks.
    Stall {
        /// Chunks passed first.
        #[serde(default)]
        after_tokens: u32,
        /// Milliseconds of silence.
        ms: u64,
    },
    /// Cut the connection after `after_tokens` chunks.
    StreamCut {
        /// Chunks passed first.
        #[serde(default)]
        after_tokens: u32,
    },
    /// The connection is reset before any answer. (Kinds without fields are
    /// empty structs so that a stray field is refused, not ignored.)
    Reset {},
    /// A malformed chunk after `after_tokens` chunks.
    Malformed {
        /// Chunks passed first.
        #[serde(default)]
        after_tokens: u32,
    },
    /// The stream ends without `[DONE]`.
    NoDone {},
    /// The upstream never answers.
    Hang {},
}

impl ChaosFault {
    /// The kind's name, as in the rule file.
    pub fn kind(&self) -> &'static str {
        match self {
            ChaosFault::Status { .. } => "status",
            ChaosFault::Delay { .. } => "delay",
            ChaosFault::TtftDelay { .. } => "ttft_delay",
            ChaosFault::Stall { .. } => "stall",
            ChaosFault::StreamCut { .. } => "stream_cut",
            ChaosFault::Reset {} => "reset",
            ChaosFault::Malformed { .. } => "malformed",
            ChaosFault::NoDone {} => "no_done",
            ChaosFault::Hang {} => "hang",
        }
    }

    /// The fault with its durations (written on the scenario's clock, like
    /// everything in a scenario) turned into wall time by `to_wall`: at
    /// `--speed 20` a `"2s"` Retry-After is 100 ms of wall time.
    pub(crate) fn on_wall_clock(&self, to_wall: impl Fn(u64) -> u64) -> ChaosFault {
        let mut f = self.clone();
        match &mut f {
            ChaosFault::Status { retry_after, .. } => {
                if let Some(ms) = retry_after.as_deref().and_then(|r| parse_duration_ms(r).ok()) {
                    *retry_after = Some(format!("{}ms", to_wall(ms)));
                }
            }
            ChaosFault::Delay { ms } | ChaosFault::TtftDelay { ms } | ChaosFault::Stall { ms, .. } => {
                *ms = to_wall(*ms)
            }
            _ => {}
        }
        f
    }

    /// The `Retry-After` of a status fault, in milliseconds.
    pub(crate) fn retry_after_ms(&self) -> Option<u64> {
        match self {
            ChaosFault::Status { retry_after: Some(r), .. } => parse_duration_ms(r).ok(),
            _ => None,
        }
    }
}

/// A rule set: the file's `[[rule]]` tables, or the admin API's JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosRules {
    /// The rules, tried in order.
    #[serde(default)]
    pub rule: Vec<ChaosRule>,
}

impl ChaosRules {
    /// Reads and checks a rule file; errors are `file:line:col: message`.
    pub fn load(path: &Path, scenario: &Scenario) -> Result<ChaosRules, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let rules: ChaosRules = toml::from_str(&text).map_err(|e| {
            let (line, col) = e.span().map_or((1, 1), |s| line_col(&text, s.start));
            format!("{}:{line}:{col}: {}", path.display(), e.message().trim_end())
        })?;
        rules.check(scenario).map_err(|m| format!("{}: {m}", path.display()))?;
        Ok(rules)
    }

    /// Reads and checks the admin API's JSON: `{"rule": [...]}` or a bare
    /// array of rules. Errors name the line and column, or the rule and field.
    pub fn from_json(body: &[u8], scenario: &Scenario) -> Result<ChaosRules, String> {
        let trimmed = body.iter().position(|b| !b.is_ascii_whitespace()).map_or(&body[..0], |i| &body[i..]);
        let rules = if trimmed.first() == Some(&b'[') {
            ChaosRules { rule: serde_json::from_slice(body).map_err(|e| e.to_string())? }
        } else {
            serde_json::from_slice::<ChaosRules>(body).map_err(|e| e.to_string())?
        };
        rules.check(scenario)?;
        Ok(rules)
    }

    /// The checks serde cannot make: names, ranges, endpoints.
    pub fn check(&self, scenario: &Scenario) -> Result<(), String> {
        let mut seen = BTreeMap::new();
        for (i, r) in self.rule.iter().enumerate() {
            let at = |field: &str, msg: String| format!("rule {} (`{}`): {field}: {msg}", i + 1, r.name);
            if r.name.trim().is_empty() || r.name.contains(',') {
                return Err(format!("rule {}: name: expected a non-empty name without commas", i + 1));
            }
            if let Some(prev) = seen.insert(r.name.as_str(), i) {
                return Err(at("name", format!("the name is already taken by rule {}", prev + 1)));
            }
            if !(r.probability.is_finite() && (0.0..=1.0).contains(&r.probability)) {
                return Err(at("probability", format!("found {}, expected a number from 0 to 1", r.probability)));
            }
            if r.max_concurrent == Some(0) {
                return Err(at("max_concurrent", "found 0, expected at least 1 (leave it out for no cap)".into()));
            }
            if let Some(e) = &r.matcher.endpoint
                && !scenario.endpoints.iter().any(|x| x.id.as_str() == e)
            {
                let names: Vec<&str> = scenario.endpoints.iter().map(|x| x.id.as_str()).collect();
                return Err(at(
                    "match.endpoint",
                    format!("`{e}` is not an endpoint of the scenario; expected one of {}", names.join(", ")),
                ));
            }
            if let Some(h) = &r.matcher.header {
                let name = h.split_once(':').map_or(h.as_str(), |(n, _)| n).trim();
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                    return Err(at("match.header", format!("found `{h}`, expected `x-name` or `x-name: value`")));
                }
            }
            let delay = |ms: u64| {
                if ms > MAX_DELAY_MS {
                    Err(at("fault.ms", format!("found {ms}, expected at most {MAX_DELAY_MS} (an hour)")))
                } else {
                    Ok(())
                }
            };
            match &r.fault {
                ChaosFault::Status { status, retry_after, .. } => {
                    if !(400..=599).contains(status) {
                        return Err(at(
                            "fault.status",
                            format!("found {status}, expected an error status, 400 to 599"),
                        ));
                    }
                    if let Some(ra) = retry_after {
                        parse_duration_ms(ra).map_err(|e| at("fault.retry_after", e.to_string()))?;
                    }
                }
                ChaosFault::Delay { ms } | ChaosFault::TtftDelay { ms } | ChaosFault::Stall { ms, .. } => delay(*ms)?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Headers of a request that rules may match, lower-cased names (keys and
/// authorization headers are never kept).
pub(crate) type RequestHeaders = Vec<(String, String)>;

/// Whether a header may be kept for matching: never a credential.
pub(crate) fn keep_header(name: &str) -> bool {
    !matches!(name, "authorization" | "x-api-key" | "api-key" | "proxy-authorization" | "cookie")
}

/// A fault picked for one attempt.
#[derive(Clone, Debug)]
pub(crate) struct Injection {
    /// The rule's position in the set it came from (for releasing its slot).
    pub(crate) rule: usize,
    /// The set's generation: a slot of a replaced set is not released into the new one.
    pub(crate) generation: u64,
    /// The rule's name.
    pub(crate) name: String,
    /// What to do.
    pub(crate) fault: ChaosFault,
}

/// The live rule set and its counters, owned by the driver.
#[derive(Debug)]
pub(crate) struct ChaosState {
    rules: ChaosRules,
    /// Since when each rule is active (the clock's ms).
    since: Vec<u64>,
    in_flight: Vec<u32>,
    generation: u64,
    rng: ChaCha8Rng,
}

impl ChaosState {
    /// No rules yet.
    pub(crate) fn new(seed: u64) -> ChaosState {
        ChaosState {
            rules: ChaosRules::default(),
            since: Vec::new(),
            in_flight: Vec::new(),
            generation: 0,
            rng: Streams::from_seed(seed).stream("chaos"),
        }
    }

    /// The rules in force.
    pub(crate) fn rules(&self) -> &ChaosRules {
        &self.rules
    }

    /// Replaces the rule set at `now`; returns the old rules with the time
    /// each had been active since (to close their fault windows).
    pub(crate) fn replace(&mut self, rules: ChaosRules, now: u64) -> Vec<(ChaosRule, u64)> {
        let n = rules.rule.len();
        let old = std::mem::replace(&mut self.rules, rules);
        let since = std::mem::replace(&mut self.since, vec![now; n]);
        self.in_flight = vec![0; n];
        self.generation += 1;
        old.rule.into_iter().zip(since).collect()
    }

    /// The fault for an attempt on `endpoint` of `req`, if any.
    pub(crate) fn pick(
        &mut self,
        endpoint: &str,
        req: &Request,
        headers: &RequestHeaders,
        forced: &[String],
    ) -> Option<Injection> {
        for (i, r) in self.rules.rule.iter().enumerate() {
            if !fits(&r.matcher, endpoint, req, headers) {
                continue;
            }
            if r.max_concurrent.is_some_and(|cap| self.in_flight[i] >= cap) {
                continue;
            }
            // Always draw, so that forcing a rule does not shift the coins after it.
            let coin: f64 = self.rng.random();
            let hit = forced.contains(&r.name) || coin < r.probability;
            if hit {
                self.in_flight[i] += 1;
                return Some(Injection {
                    rule: i,
                    generation: self.generation,
                    name: r.name.clone(),
                    fault: r.fault.clone(),
                });
            }
        }
        None
    }

    /// An injected attempt ended: its rule's slot is free again.
    pub(crate) fn release(&mut self, inj: &Injection) {
        if inj.generation == self.generation
            && let Some(n) = self.in_flight.get_mut(inj.rule)
        {
            *n = n.saturating_sub(1);
        }
    }
}

fn fits(m: &RuleMatch, endpoint: &str, req: &Request, headers: &RequestHeaders) -> bool {
    m.endpoint.as_deref().is_none_or(|e| e == endpoint)
        && m.tenant.as_deref().is_none_or(|t| t == &*req.tenant)
        && m.class.as_deref().is_none_or(|c| c == &*req.class)
        && m.header.as_deref().is_none_or(|h| {
            let (name, value) = match h.split_once(':') {
                Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim())),
                None => (h.trim().to_ascii_lowercase(), None),
            };
            headers.iter().any(|(n, v)| *n == name && value.is_none_or(|want| v.trim() == want))
        })
}

/// The rule names a request forces with `x-windtunnel-chaos`.
pub(crate) fn forced_rules(headers: &RequestHeaders) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n == "x-windtunnel-chaos")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        windtunnel_config::parse_scenario(
            r#"
name = "t"
policy = { chain = ["a/x", "b/y"] }
[[endpoints]]
name = "a/x"
[[endpoints]]
name = "b/y"
"#,
            Path::new("t.toml"),
            &[],
        )
        .expect("scenario")
    }

    fn file(text: &str) -> Result<ChaosRules, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("chaos.toml");
        std::fs::write(&path, text).expect("write");
        ChaosRules::load(&path, &scenario()).map_err(|e| e.replace(&path.display().to_string(), "chaos.toml"))
    }

    #[test]
    fn every_fault_kind_of_spec_parses_from_the_file() {
        let rules = file(
            r#"
[[rule]]
name = "mini-429"
match = { endpoint = "a/x", class = "interactive" }
probability = 0.2
max_concurrent = 50
fault = { kind = "status", status = 429, retry_after = "2s" }
[[rule]]
name = "d"
fault = { kind = "delay", ms = 100 }
[[rule]]
name = "t"
fault = { kind = "ttft_delay", ms = 100 }
[[rule]]
name = "s"
fault = { kind = "stall", after_tokens = 5, ms = 100 }
[[rule]]
name = "c"
fault = { kind = "stream_cut", after_tokens = 40 }
[[rule]]
name = "r"
fault = { kind = "reset" }
[[rule]]
name = "m"
fault = { kind = "malformed", after_tokens = 1 }
[[rule]]
name = "n"
fault = { kind = "no_done" }
[[rule]]
name = "h"
match = { tenant = "acme", header = "x-canary: 1" }
fault = { kind = "hang" }
"#,
        )
        .expect("rules");
        let kinds: Vec<&str> = rules.rule.iter().map(|r| r.fault.kind()).collect();
        assert_eq!(
            kinds,
            ["status", "delay", "ttft_delay", "stall", "stream_cut", "reset", "malformed", "no_done", "hang"]
        );
        assert_eq!(rules.rule[0].fault.retry_after_ms(), Some(2000));
        assert_eq!(rules.rule[1].probability, 1.0, "probability defaults to 1");
        // The admin API takes the same fields as JSON, and GET gives them back.
        let json = serde_json::to_vec(&rules).expect("json");
        assert_eq!(ChaosRules::from_json(&json, &scenario()).expect("round trip"), rules);
    }

    #[test]
    fn bad_rules_are_refused_with_where_and_what() {
        let cases = [
            ("[[rule]]\nname = \"x\"\nfault = { kind = \"explode\" }\n", "chaos.toml:3:"),
            (
                "[[rule]]\nname = \"x\"\nprobabilty = 0.5\nfault = { kind = \"reset\" }\n",
                "chaos.toml:3:1: unknown field `probabilty`",
            ),
            (
                "[[rule]]\nname = \"x\"\nprobability = 1.5\nfault = { kind = \"reset\" }\n",
                "rule 1 (`x`): probability: found 1.5",
            ),
            (
                "[[rule]]\nname = \"x\"\nmatch = { endpoint = \"a/z\" }\nfault = { kind = \"reset\" }\n",
                "match.endpoint: `a/z` is not an endpoint",
            ),
            ("[[rule]]\nname = \"x\"\nfault = { kind = \"status\", status = 200 }\n", "fault.status: found 200"),
            (
                "[[rule]]\nname = \"x\"\nfault = { kind = \"status\", status = 429, retry_after = \"soon\" }\n",
                "fault.retry_after",
            ),
            (
                "[[rule]]\nname = \"x\"\nfault = { kind = \"reset\" }\n[[rule]]\nname = \"x\"\nfault = { kind = \"hang\" }\n",
                "rule 2 (`x`): name: the name is already taken by rule 1",
            ),
            ("[[rule]]\nname = \"x\"\nmax_concurrent = 0\nfault = { kind = \"hang\" }\n", "max_concurrent: found 0"),
            ("[[rule]]\nname = \"x\"\nfault = { kind = \"delay\", ms = 99999999 }\n", "fault.ms: found 99999999"),
            ("[[rule]]\nname = \"x\"\nfault = { kind = \"reset\", ms = 5 }\n", "unknown field `ms`"),
        ];
        for (text, want) in cases {
            let err = file(text).expect_err(text);
            assert!(err.contains(want), "{text}\n→ {err}\nwanted {want}");
        }
        let err = ChaosRules::from_json(br#"{"rule": [{"name": "x", "fault": {"kind": "nope"}}]}"#, &scenario())
            .expect_err("unknown kind");
        assert!(err.contains("unknown variant `nope`") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn picks_follow_match_probability_cap_and_forcing() {
        let rules = ChaosRules {
            rule: vec![
                ChaosRule {
                    name: "capped".into(),
                    matcher: RuleMatch { endpoint: Some("a/x".into()), ..RuleMatch::default() },
                    probability: 1.0,
                    max_concurrent: Some(2),
                    fault: ChaosFault::Reset {},
                },
                ChaosRule {
                    name: "never".into(),
                    matcher: RuleMatch { header: Some("x-canary: yes".into()), ..RuleMatch::default() },
                    probability: 0.0,
                    max_concurrent: None,
                    fault: ChaosFault::Hang {},
                },
            ],
        };
        let mut s = ChaosState::new(7);
        s.replace(rules, 0);
        let req = Request::new(0, 0, 10, 10);
        let none = RequestHeaders::new();
        let a = s.pick("a/x", &req, &none, &[]).expect("first");
        let b = s.pick("a/x", &req, &none, &[]).expect("second");
        assert!(s.pick("a/x", &req, &none, &[]).is_none(), "the cap of 2 holds");
        s.release(&a);
        assert!(s.pick("a/x", &req, &none, &[]).is_some(), "a released slot is free");
        s.release(&b);
        assert!(s.pick("b/y", &req, &none, &[]).is_none(), "probability 0 never fires by itself");
        let canary = vec![("x-canary".to_string(), "yes".to_string())];
        let forced = forced_rules(&vec![("x-windtunnel-chaos".into(), " never , other".into())]);
        assert_eq!(forced, ["never", "other"]);
        assert!(s.pick("b/y", &req, &none, &forced).is_none(), "forcing still needs the match");
        assert_eq!(s.pick("b/y", &req, &canary, &forced).map(|i| i.name), Some("never".into()));
        // A replaced set starts with free slots; old injections do not free new ones.
        s.replace(ChaosRules::default(), 5);
        s.release(&a);
        assert!(s.rules().rule.is_empty());
    }

    #[test]
    fn the_injected_share_follows_the_probability() {
        let mut s = ChaosState::new(1);
        s.replace(
            ChaosRules {
                rule: vec![ChaosRule {
                    name: "p".into(),
                    matcher: RuleMatch::default(),
                    probability: 0.2,
                    max_concurrent: None,
                    fault: ChaosFault::Reset {},
                }],
            },
            0,
        );
        let req = Request::new(0, 0, 10, 10);
        let n = 10_000;
        let hits = (0..n).filter(|_| s.pick("a/x", &req, &RequestHeaders::new(), &[]).is_some()).count();
        // Binomial(10000, 0.2): sd 40; 5 sd either side.
        assert!((1800..=2200).contains(&hits), "{hits}");
    }

    #[test]
    fn durations_are_on_the_experiments_clock() {
        let to_wall = |ms: u64| ms.div_ceil(20);
        let f = ChaosFault::Status { status: 429, retry_after: Some("2s".into()), body: None };
        assert_eq!(f.on_wall_clock(to_wall).retry_after_ms(), Some(100));
        let f = ChaosFault::Stall { after_tokens: 3, ms: 1000 };
        assert_eq!(f.on_wall_clock(to_wall), ChaosFault::Stall { after_tokens: 3, ms: 50 });
        assert_eq!(ChaosFault::Hang {}.on_wall_clock(to_wall), ChaosFault::Hang {});
    }

    #[test]
    fn credentials_are_never_kept_for_matching() {
        assert!(!keep_header("authorization") && !keep_header("x-api-key"));
        assert!(keep_header("x-windtunnel-chaos") && keep_header("x-canary"));
    }
}
