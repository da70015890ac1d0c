//! A misbehaving script fails its call with a PolicyFailure, never a crash,
//! and the next call works again.

use super::*;
use crate::MAX_RECORDED_FAILURES;

/// A policy that misbehaves with `bad` for tenant `evil` and routes to the
/// candidates otherwise; `extra` adds functions.
fn evil_policy(w: &World, bad: &str, extra: &str) -> Policy {
    w.policy(&format!(
        "{extra}\nfn route(req, ctx) {{\n    if req.tenant == \"evil\" {{\n        {bad}\n    }}\n    ctx.candidates(req).names()\n}}\n"
    ))
}

fn evil() -> Request {
    let mut r = req();
    r.tenant = Sym::from("evil");
    r.id = Some(Sym::from("e1"));
    r
}

/// Runs `bad`, checks the failure, then checks that a normal call works.
fn fails_then_recovers(bad: &str, extra: &str, message: &str, position: Option<(u32, u32)>) {
    let w = World::eight();
    let mut p = evil_policy(&w, bad, extra);
    for _ in 0..2 {
        let f = w.route(&mut p, &evil()).expect_err(bad);
        assert_eq!(f, PolicyFailure { hook: "route", message: message.to_string(), position }, "{bad}");
        assert_eq!(w.route(&mut p, &req()).unwrap().len(), 8, "{bad}: the next call works");
    }
    assert_eq!(p.failure_count(), 2);
    assert_eq!(p.failures()[0].request_id, "e1");
    assert_eq!(p.failures()[0].failure.message, message);
}

#[test]
fn endless_loop_hits_the_operation_limit() {
    fails_then_recovers("loop {}", "", "too many operations (the limit is 200000 per call): an endless loop?", None);
}

#[test]
fn runtime_type_error_names_the_position() {
    fails_then_recovers("return req.input_tokens - \"x\";", "", "function not found: - (i64, string)", Some((4, 33)));
}

#[test]
fn missing_method_names_the_position() {
    fails_then_recovers("return req.nope();", "", "function not found: nope (Request)", Some((4, 20)));
}

#[test]
fn doubling_string_hits_the_size_limit() {
    fails_then_recovers("let s = \"x\"; loop { s += s; }", "", "string longer than the limit of 65536 bytes", None);
}

#[test]
fn growing_array_hits_the_size_limit() {
    fails_then_recovers("let a = []; loop { a.push(1); }", "", "array larger than the limit of 10000 items", None);
}

#[test]
fn endless_recursion_hits_the_call_depth_limit() {
    fails_then_recovers(
        "return down(0);",
        "fn down(n) { down(n + 1) }",
        "too many nested function calls (the limit is 32): endless recursion?",
        None,
    );
    // Through closures too (more Rust stack per level): still an error, not a crash.
    fails_then_recovers(
        "return down(0);",
        "fn down(n) { [1, 2].map(|x| down(n + x)) }",
        "too many nested function calls (the limit is 32): endless recursion?",
        Some((1, 21)),
    );
}

#[test]
fn error_in_a_helper_points_into_the_helper() {
    fails_then_recovers(
        "return helper(req);",
        "fn helper(r) {\n  r.tenant / 2\n}",
        "function not found: / (string, i64)",
        Some((2, 12)),
    );
}

#[test]
fn unknown_endpoint_is_named_with_a_hint() {
    fails_then_recovers(
        "return [\"openai/gpt-4\"];",
        "",
        "unknown endpoint `openai/gpt-4` in chain[0], did you mean `openai/gpt-4o`?",
        Some((2, 1)),
    );
}

#[test]
fn a_number_is_not_a_plan() {
    fails_then_recovers(
        "return 42;",
        "",
        "route returned an integer (42), expected a plan map `#{ chain: [...] }` or an array of endpoints",
        Some((2, 1)),
    );
}

#[test]
fn throw_is_a_failure_with_its_text() {
    fails_then_recovers("throw \"no capacity\";", "", "no capacity", Some((4, 9)));
}

#[test]
fn only_the_first_failures_are_kept() {
    let w = World::eight();
    let mut p = evil_policy(&w, "loop {}", "");
    for _ in 0..MAX_RECORDED_FAILURES + 5 {
        assert!(w.route(&mut p, &evil()).is_err());
    }
    assert_eq!(p.failure_count(), MAX_RECORDED_FAILURES as u64 + 5);
    assert_eq!(p.failures().len(), MAX_RECORDED_FAILURES);
    assert_eq!(
        p.failures()[0].to_string(),
        "request e1: route: too many operations (the limit is 200000 per call): an endless loop?"
    );
}

#[test]
fn no_wall_clock_sleep_or_eval() {
    let w = World::eight();
    for (bad, message, pos) in [
        ("return timestamp();", "function not found: timestamp ()", (4, 16)),
        ("sleep(10);", "function not found: sleep (i64)", (4, 9)),
        ("print(\"hi\"); debug(\"hi\"); throw \"after print\";", "after print", (4, 35)),
    ] {
        let mut p = evil_policy(&w, bad, "");
        assert_eq!(
            w.route(&mut p, &evil()).unwrap_err(),
            PolicyFailure { hook: "route", message: message.into(), position: Some(pos) }
        );
    }
    let e = Policy::from_source("p.rhai", "fn route(req, ctx) {\n  eval(\"[]\")\n}", &w.facts, &[]).unwrap_err();
    assert_eq!(e.to_string(), "p.rhai:2:3: reserved keyword 'eval' is disabled");
    let e =
        Policy::from_source("p.rhai", "import \"fs\" as fs;\nfn route(req, ctx) { [] }", &w.facts, &[]).unwrap_err();
    assert_eq!(e.to_string(), "p.rhai:1:1: 'import' is a reserved keyword");
}

#[test]
fn top_level_statements_are_not_run_per_call() {
    let w = World::eight();
    // A top-level endless loop would hang every call if calls re-ran the script.
    let mut p = w.policy("loop {}\nfn route(req, ctx) { [\"openai/gpt-4o\"] }");
    assert_eq!(w.route(&mut p, &req()).unwrap(), ["openai/gpt-4o"]);
}

#[test]
fn on_error_and_accept_failures_are_counted_too() {
    let w = World::eight();
    let mut p = w.policy(
        "fn route(req, ctx) { [] }\nfn on_error(req, attempt, err) { loop {} }\nfn accept(req, resp) { resp.nope }",
    );
    let attempt = windtunnel_core::AttemptInfo { number: 1, endpoint: windtunnel_core::EndpointIdx(0), elapsed_ms: 0 };
    let err = windtunnel_core::AttemptError::from_status(500);
    let f = p.on_error(&req(), &attempt, &err).unwrap_err();
    assert_eq!(f.hook, "on_error");
    let resp = windtunnel_core::ResponseInfo {
        endpoint: windtunnel_core::EndpointIdx(0),
        quality: 1.0,
        latency_ms: 1,
        ttft_ms: None,
        output_tokens: 1,
        cost: windtunnel_core::Nanodollars::ZERO,
    };
    let f = p.accept(&req(), &resp).unwrap_err();
    assert_eq!(
        f,
        PolicyFailure {
            hook: "accept",
            message: "unknown property 'nope' - a getter is not registered for type 'Response'".into(),
            position: Some((3, 29))
        }
    );
    assert_eq!(p.failure_count(), 2);
}
