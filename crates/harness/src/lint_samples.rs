//! [`lint_samples`]: the sample requests `policy lint --scenario` runs
//! `route` on: one real request of the scenario's trace for every class,
//! tenant and language it holds, plus one for every class of `[sla]` and every
//! tenant of `[budgets]` the trace does not show.
//!
//! A policy branch taken only for batch traffic, for one tenant or for
//! Chinese prompts then runs at lint time, where a misspelt field is an error
//! with its line and column, instead of a policy error counted at run time.

use crate::{Requests, RunError};
use std::collections::BTreeSet;
use windtunnel_config::Scenario;
use windtunnel_core::{Request, Streams, Sym};

/// How many trace requests are read, at most, looking for new classes,
/// tenants and languages; the trace is streamed, so this bounds lint's time.
pub const LINT_SCAN_REQUESTS: u64 = 200_000;

/// One sample request per class, tenant and language of `scenario`, in the
/// order first met (trace first, then `[sla]` classes, then `[budgets]`
/// tenants). Never empty when the trace has a request or the scenario names
/// a class or tenant.
pub fn lint_samples(scenario: &Scenario) -> Result<Vec<Request>, RunError> {
    let streams = Streams::from_seed(scenario.seed);
    let mut requests = Requests::open(&scenario.trace, &streams).map_err(|e| e.named(&scenario.name))?;
    let mut seen = Seen::default();
    let mut out = Vec::new();
    let mut read = 0;
    while read < LINT_SCAN_REQUESTS {
        let Some(req) = requests.next_request()? else { break };
        read += 1;
        if seen.note(&req) {
            out.push(req);
        }
    }
    // Classes and tenants the scenario names but the scanned trace lacks: a
    // copy of the first sample (or lint's plain request) under that name.
    let template = out.first().cloned().unwrap_or_else(|| {
        let mut r = Request::new(0, 0, 800, 200);
        r.max_tokens = 1024;
        r
    });
    for class in scenario.sla.keys() {
        if !seen.classes.contains(class.as_str()) {
            let mut r = template.clone();
            r.class = Sym::from(class.as_str());
            seen.note(&r);
            out.push(r);
        }
    }
    for tenant in scenario.budgets.keys() {
        if !seen.tenants.contains(tenant.as_str()) {
            let mut r = template.clone();
            r.tenant = Sym::from(tenant.as_str());
            seen.note(&r);
            out.push(r);
        }
    }
    if out.is_empty() {
        out.push(template);
    }
    for (i, r) in out.iter_mut().enumerate() {
        r.seq = i as u64;
        if r.id.is_none() {
            r.id = Some(Sym::from(format!("lint-{}", i + 1).as_str()));
        }
    }
    Ok(out)
}

/// Classes, tenants, languages and stream flags met so far.
#[derive(Default)]
struct Seen {
    classes: BTreeSet<Sym>,
    tenants: BTreeSet<Sym>,
    langs: BTreeSet<Option<Sym>>,
    stream: BTreeSet<bool>,
}

impl Seen {
    /// Records `req`; true when it shows something new.
    fn note(&mut self, req: &Request) -> bool {
        let class = self.classes.insert(req.class.clone());
        let tenant = self.tenants.insert(req.tenant.clone());
        let lang = self.langs.insert(req.lang.clone());
        let stream = self.stream.insert(req.stream);
        class | tenant | lang | stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_tenant_and_language_gets_a_sample() {
        let text = r#"
name = "mix"
policy = { chain = ["a/x"] }
[trace.synthetic]
rate_per_s = 50
duration = "2m"
classes = { interactive = 0.6, batch = 0.4 }
tenants = { acme = 0.5, globex = 0.5 }
langs = { en = 0.8, zh = 0.2 }
[sla.audit]
latency_ms = 1000
[budgets]
initech = { usd = 1.0 }
[[endpoints]]
name = "a/x"
"#;
        let scenario = windtunnel_config::parse_scenario(text, std::path::Path::new("mix.toml"), &[]).unwrap();
        let samples = lint_samples(&scenario).unwrap();
        let has = |f: &dyn Fn(&Request) -> bool| samples.iter().any(f);
        for class in ["interactive", "batch", "audit"] {
            assert!(has(&|r| &*r.class == class), "{class}");
        }
        for tenant in ["acme", "globex", "initech"] {
            assert!(has(&|r| &*r.tenant == tenant), "{tenant}");
        }
        for lang in ["en", "zh"] {
            assert!(has(&|r| r.lang.as_deref() == Some(lang)), "{lang}");
        }
        // Few: one per new value, not one per request.
        assert!(samples.len() <= 12, "{}", samples.len());
        assert!(samples.iter().all(|r| r.id.is_some()));
    }
}
