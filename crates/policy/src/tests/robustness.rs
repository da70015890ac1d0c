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
    fails_then_recovers("let a = [1]; loop { a += a; }", "", "array larger than the limit of 10000 items", None);
    // Pushing one at a time reads the whole array each time: the data-read
    // limit stops it first (see `copying_a_large_value_in_a_loop_hits_the_data_limit`).
    fails_then_recovers("let a = []; loop { a.push(1); }", "", &crate::meter::too_much_read(1_000_000), None);
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

/// Fuzzing finding: a map nested 9 999 deep stayed within every limit (rhai
/// counts nested entries against the map limit), took about 11 s in a
/// release build (38 s in a debug one, on a big stack) because every turn
/// deep-copies, checks and drops the whole chain, and on a 2 MiB thread stack
/// its recursive copy overflowed the stack and aborted the process. Now the
/// read of a value nested deeper than 32 levels fails the call.
#[test]
fn deeply_nested_value_hits_the_depth_limit() {
    let too_deep = crate::meter::too_deep();
    // The call stops at the 33rd turn: under a millisecond in a debug build.
    fails_then_recovers("let m = #{}; for i in 0..9999 { m = #{ a: m }; } return [];", "", &too_deep, None);
    for (bad, extra) in [
        ("let m = []; for i in 0..9999 { m = [m]; }", ""),
        ("let m = []; for i in 0..9999 { m = wrap(m); }", "fn wrap(x) { [x] }"),
        ("let m = []; let f = |x| [x]; for i in 0..9999 { m = f.call(m); }", ""),
        ("let m = []; for i in 0..9999 { m = [m].map(|x| [x]); }", ""),
        ("let f = Fn(\"x\"); for i in 0..9999 { f = Fn(\"x\").curry(f); }", ""),
        // A caught limit is still a failure: limits are not catchable.
        ("let m = []; for i in 0..9999 { try { m = [m]; } catch { } }", ""),
    ] {
        fails_then_recovers(bad, extra, &too_deep, None);
    }
    // 32 levels are fine, 33 are not.
    let w = World::eight();
    let mut p = evil_policy(&w, "let m = []; for i in 0..31 { m = [m]; } let n = m; return [];", "");
    assert_eq!(w.route(&mut p, &evil()).unwrap(), Vec::<String>::new());
    fails_then_recovers("let m = []; for i in 0..32 { m = [m]; } let n = m; return [];", "", &too_deep, None);
}

/// Reading a variable copies its value: a loop copying a 10 000-entry map
/// ran 200 000 operations of 10 000 entries each (93 s in a debug build).
/// The data-read limit stops it in a few times the time the operation limit
/// gives an endless loop (0.3 s in a debug build).
#[test]
fn copying_a_large_value_in_a_loop_hits_the_data_limit() {
    let too_much = crate::meter::too_much_read(1_000_000);
    for bad in [
        "let m = #{}; for i in 0..1000 { m[`k${i}`] = i; } loop { let y = m; }",
        "let a = []; a.pad(9999, 0); loop { let y = a; }",
        "let s = \"x\"; s.pad(8000, \"y\"); loop { s.split(\"\"); }",
        "let s = \"x\"; s.pad(60000, \"y\"); loop { let t = s.to_upper(); }",
        "loop { [].pad(9999, #{}); }",
        "loop { \"\".pad(60000, \"x\"); }",
        "let a = []; a.pad(9999, 0); let f = Fn(\"len\").curry(a); loop { f.call(); }",
    ] {
        fails_then_recovers(bad, "", &too_much, None);
    }
    // Each call starts afresh: three calls reading 600 000 items each pass.
    let w = World::eight();
    let mut p = evil_policy(&w, "let a = []; a.pad(1000, 0); for i in 0..600 { let y = a; } return [];", "");
    for _ in 0..3 {
        assert_eq!(w.route(&mut p, &evil()).unwrap(), Vec::<String>::new());
    }
}

/// rhai runs a closure called from a native function (`map`, `filter`, ...)
/// on a copy of the call's state and forgets the operations counted there:
/// 100 closures of 60 000 operations each ran to the end under a limit of
/// 200 000. They count now.
#[test]
fn operations_inside_closures_count() {
    fails_then_recovers(
        "let a = []; a.pad(100, 0); a.map(|x| { let i = 0; while i < 20000 { i += 1; } x });",
        "",
        "too many operations (the limit is 200000 per call): an endless loop?",
        Some((4, 38)),
    );
    fails_then_recovers(
        "let a = []; a.pad(100, 0); let b = a; let c = a; a.map(|x| { b.map(|y| { c.map(|z| z); 0 }); 0 });",
        "",
        "too many operations (the limit is 200000 per call): an endless loop?",
        Some((4, 84)),
    );
}

/// `pad` is charged for what it adds and keeps rhai's meaning, except that
/// an empty padding string no longer loops for ever: rhai's string `pad`
/// hung the call in native code, where no operation is counted.
#[test]
fn pad_keeps_its_meaning() {
    let w = World::eight();
    for (script, want) in [
        ("let s = \"hello\"; s.pad(10, \"(!)\"); s.pad(8, \"***\"); s", "hello(!)(!"),
        ("let s = \"hi\"; s.pad(4, '*'); s.pad(-1, '*'); s", "hi**"),
        ("let s = \"hé\"; s.pad(3, \"\"); s.pad(4, \"ü\"); s", "héüü"),
        ("let a = [1]; a.pad(3, 0); a.pad(2, 9); a.pad(-5, 9); `${a}`", "[1, 0, 0]"),
    ] {
        let mut p = evil_policy(&w, &format!("throw {{ {script} }};"), "");
        assert_eq!(w.route(&mut p, &evil()).unwrap_err().message, want, "{script}");
    }
    fails_then_recovers("let a = []; a.pad(10001, 0);", "", "array larger than the limit of 10000 items", None);
    fails_then_recovers("let a = []; a.pad(5000, [1, 2]);", "", "array larger than the limit of 10000 items", None);
    fails_then_recovers("let s = \"\"; s.pad(65537, 'x');", "", "string longer than the limit of 65536 bytes", None);
    fails_then_recovers("let s = \"\"; s.pad(40000, 'é');", "", "string longer than the limit of 65536 bytes", None);
}

#[test]
fn this_is_disabled() {
    let w = World::eight();
    let e = Policy::from_source("p.rhai", "fn grow() { this = [this]; }\nfn route(req, ctx) { [] }", &w.facts, &[])
        .unwrap_err();
    assert_eq!(e.to_string(), "p.rhai:1:13: reserved keyword 'this' is disabled");
}
