//! Load-time errors (whole messages), settings, params and lint.

use super::*;
use crate::{PolicyError, lint, lint_source};
use windtunnel_core::{BreakerSettings, EndpointIdx, JitterKind, RetrySettings};

fn load_err(src: &str, params: &[(&str, &str)]) -> String {
    let w = World::eight();
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    match Policy::from_source("policies/p.rhai", src, &w.facts, &params) {
        Ok(_) => panic!("loaded: {src}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_route_is_named() {
    assert_eq!(
        load_err("fn settings() { #{} }\nfn on_error(req, attempt, err) { \"next\" }", &[]),
        "policies/p.rhai: missing required hook `route(req, ctx)`"
    );
}

#[test]
fn syntax_errors_have_line_and_column() {
    assert_eq!(load_err("fn route(req, ctx) {\n  let x = ;\n}", &[]), "policies/p.rhai:2:11: unexpected ';'");
    assert_eq!(
        load_err("fn route(req, ctx) {\n  [\"a\"\n}", &[]),
        "policies/p.rhai:3:1: expecting ',' to separate the items of this array literal"
    );
    assert_eq!(
        load_err("fn route(req, ctx) {\n  cxt.endpoints()\n}", &[]),
        "policies/p.rhai:2:3: undefined variable: cxt"
    );
    let e = Policy::from_source("p.rhai", "fn route(req, ctx) {\n  let x = ;\n}", &[], &[]).unwrap_err();
    assert!(matches!(e, PolicyError::Compile { line: 2, col: 11, .. }), "{e:?}");
    assert_eq!((e.file(), e.position()), ("p.rhai", Some((2, 11))));
}

#[test]
fn hooks_with_the_wrong_parameters_are_load_errors() {
    assert_eq!(
        load_err("// route\n  fn route(req) { [] }", &[]),
        "policies/p.rhai:2:3: hook `route` takes 2 parameters (req, ctx), found 1"
    );
    assert_eq!(
        load_err("fn route(req, ctx) { [] }\nfn on_error(req, err) { \"next\" }", &[]),
        "policies/p.rhai:2:1: hook `on_error` takes 3 parameters (req, attempt, err), found 2"
    );
    assert_eq!(
        load_err("fn route(req, ctx) { [] }\nfn accept(resp) { true }", &[]),
        "policies/p.rhai:2:1: hook `accept` takes 2 parameters (req, resp), found 1"
    );
    assert_eq!(
        load_err("fn route(req, ctx) { [] }\nfn settings(x) { #{} }", &[]),
        "policies/p.rhai:2:1: hook `settings` takes no parameters, found 1"
    );
}

const SETTINGS: &str = "fn settings() {
    #{
        breaker: #{ failure_rate: 0.25, min_requests: 10, window_s: 30, open_s: 1.5, half_open_probes: 2,
                    consecutive_failures: 0 },
        retry: #{ base_ms: 100, max_ms: 2000, jitter: \"equal\" },
        default_chain: [\"openai/gpt-4o-mini\", \"deepseek/deepseek-chat\"],
        params: #{ max_p95_ms: 2500, min_quality: 0.75, cheap: true, region: \"eu\" },
    }
}
fn route(req, ctx) { ctx.candidates(req).p95_below(ctx.param(\"max_p95_ms\")) }
";

#[test]
fn settings_become_engine_settings() {
    let w = World::eight();
    let p = Policy::from_source("p.rhai", SETTINGS, &w.facts, &[]).unwrap();
    let s = p.settings();
    assert_eq!(
        s.breaker,
        BreakerSettings {
            failure_rate: 0.25,
            min_requests: 10,
            window_ms: 30_000,
            consecutive_failures: 0,
            open_ms: 1_500,
            half_open_probes: 2,
        }
    );
    assert_eq!(s.retry, RetrySettings { base_ms: 100, max_ms: 2_000, jitter: JitterKind::Equal });
    assert_eq!(s.default_chain, Some(vec![EndpointIdx(1), EndpointIdx(7)]));
    assert_eq!(
        p.params(),
        [
            ("cheap".to_string(), "true".to_string()),
            ("max_p95_ms".to_string(), "2500".to_string()),
            ("min_quality".to_string(), "0.75".to_string()),
            ("region".to_string(), "\"eu\"".to_string()),
        ]
    );
    let p = w.policy("fn route(req, ctx) { [] }");
    assert_eq!(p.settings(), windtunnel_core::PolicySettings::default());
    assert!(p.params().is_empty());
}

#[test]
fn bad_settings_are_named() {
    let with = |body: &str| load_err(&format!("fn route(req, ctx) {{ [] }}\nfn settings() {{ {body} }}"), &[]);
    assert_eq!(
        with("#{ breaker: #{ open_sec: 3 } }"),
        "policies/p.rhai:2:1: settings(): `breaker.open_sec`: unknown key, did you mean `open_s`?"
    );
    assert_eq!(with("#{ retyr: #{} }"), "policies/p.rhai:2:1: settings(): `retyr`: unknown key, did you mean `retry`?");
    assert_eq!(
        with("#{ breaker: #{ failure_rate: 1.5 } }"),
        "policies/p.rhai:2:1: settings(): `breaker.failure_rate`: expected a share in (0, 1], found 1.5"
    );
    assert_eq!(
        with("#{ retry: #{ base_ms: 500, max_ms: 100 } }"),
        "policies/p.rhai:2:1: settings(): `retry.max_ms`: must not be less than retry.base_ms (500), found 100"
    );
    assert_eq!(
        with("#{ default_chain: [\"openai/gpt4o\"] }"),
        "policies/p.rhai:2:1: settings(): `default_chain[0]`: unknown endpoint `openai/gpt4o`, did you mean `openai/gpt-4o`?"
    );
    assert_eq!(with("42"), "policies/p.rhai:2:1: settings(): `settings()`: expected a map, found an integer (42)");
    assert_eq!(
        with("let x = 1;\n  x.nope()"),
        "policies/p.rhai:3:5: settings() failed: function not found: nope (i64)"
    );
    assert_eq!(
        with("loop {}"),
        "policies/p.rhai:2:1: settings() failed: too many operations (the limit is 200000 per call): an endless loop?"
    );
}

#[test]
fn params_take_defaults_then_overrides() {
    let w = World::eight();
    let mut h = w.health.clone();
    h[0].p95_ms = 2_000; // below the default 2500, above an override of 1800
    let ctx = RouteContext {
        now_ms: 0,
        facts: &w.facts,
        health: &h,
        budgets: &NoBudgets,
        cached_tokens: &[],
        start_of_day_ms: 0,
    };
    let mut p = Policy::from_source("p.rhai", SETTINGS, &w.facts, &[]).unwrap();
    assert_eq!(p.route(&req(), &ctx).unwrap().chain.len(), 8); // p95 2000, 600, ..., 2400: all under 2500
    let over = [("max_p95_ms".to_string(), "1800".to_string()), ("region".to_string(), "us".to_string())];
    let mut p = Policy::from_source("p.rhai", SETTINGS, &w.facts, &over).unwrap();
    let names: Vec<String> =
        p.route(&req(), &ctx).unwrap().chain.iter().map(|e| w.facts[e.get()].id.to_string()).collect();
    assert_eq!(
        names,
        ["openai/gpt-4o-mini", "anthropic/claude-3-5-sonnet", "anthropic/claude-3-5-haiku", "google/gemini-1.5-pro"]
    );
    assert_eq!(p.params()[1], ("max_p95_ms".to_string(), "1800".to_string()));
    assert_eq!(p.params()[3], ("region".to_string(), "\"us\"".to_string()));
}

#[test]
fn bad_overrides_are_named() {
    assert_eq!(
        load_err(SETTINGS, &[("max_p59_ms", "100")]),
        "policies/p.rhai: unknown policy parameter `max_p59_ms` in --set policy.max_p59_ms=..., did you mean `max_p95_ms`?"
    );
    assert_eq!(
        load_err("fn route(req, ctx) { [] }", &[("x", "1")]),
        "policies/p.rhai: unknown policy parameter `x` in --set policy.x=... (settings() declares no params)"
    );
    assert_eq!(
        load_err(SETTINGS, &[("max_p95_ms", "fast")]),
        "policies/p.rhai: policy parameter `max_p95_ms` expects a number, found `fast`"
    );
    assert_eq!(
        load_err(SETTINGS, &[("cheap", "1")]),
        "policies/p.rhai: policy parameter `cheap` expects true or false, found `1`"
    );
}

#[test]
fn load_reads_the_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cheap.rhai");
    std::fs::write(&path, "fn route(req, ctx) { ctx.candidates(req).by_cost(req).take(3).names() }").unwrap();
    let w = World::eight();
    let mut p = Policy::load(&path, &w.facts, &[]).unwrap();
    assert_eq!(p.file(), path.display().to_string());
    assert_eq!(
        w.route(&mut p, &req()).unwrap(),
        ["deepseek/deepseek-chat", "mistral/mistral-large", "google/gemini-1.5-flash"]
    );
    let missing = dir.path().join("nope.rhai");
    let e = Policy::load(&missing, &w.facts, &[]).unwrap_err();
    assert_eq!(e.to_string(), format!("cannot read {}", missing.display()));
    assert!(std::error::Error::source(&e).is_some());
}

const LINTED: &str = "fn settings() {
    #{ params: #{ max_p95_ms: 2500 }, default_chain: [\"mistral/mistral-small\"] }
}

fn route(req, ctx) {
    let c = ctx.candidates(req).by_cost(req);
    if req.class == \"interactive\" {
        c = c.p95_below(ctx.param(\"max_p95_ms\"));
    }
    #{ chain: c.take(3).names(), attempt_timeout_ms: 3000, max_attempts: 3 }
}

fn on_error(req, attempt, err) {
    if err.kind == \"server_error\" && attempt.number == 1 { \"retry\" } else { \"next\" }
}

fn accept(req, resp) { resp.quality >= 0.75 }
";

#[test]
fn lint_reports_hooks_params_and_the_sample_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.rhai");
    std::fs::write(&path, LINTED).unwrap();
    let report = lint(&path).unwrap();
    // Samples by expected cost of 800 in / 200 out: gpt-4o-mini, deepseek (p95 2500: not below 2500),
    // then mistral-small (named in the script, generic $1/$4, no latency data), haiku, gpt-4o.
    let expected = format!(
        "{}: ok
  hooks: settings(), route(req, ctx), on_error(req, attempt, err), accept(req, resp)
  params: max_p95_ms = 2500
  sample request lint-1 (interactive, 800 input tokens, max_tokens 1024) on 5 sample endpoints:
    route -> [openai/gpt-4o-mini, mistral/mistral-small, anthropic/claude-3-5-haiku], attempt_timeout_ms 3000, max_attempts 3
    on_error(server_error, HTTP 500, attempt 1) -> \"retry\"
    accept(quality 0.8) -> true
",
        path.display()
    );
    assert_eq!(report.to_string(), expected);
}

#[test]
fn lint_fails_on_a_runtime_error_in_the_sample_route() {
    let src = "fn route(req, ctx) {\n  let c = ctx.candidates(req);\n  c.by_cost()\n}";
    let e = lint_source("p.rhai", src).unwrap_err();
    assert_eq!(
        e.to_string(),
        "p.rhai:3:5: route() failed on the sample request: function not found: by_cost (EndpointList)"
    );
    let e =
        lint_source("p.rhai", "fn route(req, ctx) { [] }\n\nfn on_error(req, attempt, err) { err.kind }").unwrap_err();
    assert_eq!(
        e.to_string(),
        "p.rhai:3:1: on_error() failed on the sample request: on_error returned a string (\"server_error\"), expected \"retry\", \"next\" or \"fail\""
    );
    let e = lint_source("p.rhai", "fn route(req) { [] }").unwrap_err();
    assert_eq!(e.to_string(), "p.rhai:1:1: hook `route` takes 2 parameters (req, ctx), found 1");
}
