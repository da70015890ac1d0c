//! `policy test`: discovery, helpers, assertions, text and JUnit output.

use crate::{PolicyError, TestRun, run_tests};
use std::path::{Path, PathBuf};

const POLICY: &str = "fn settings() { #{ params: #{ max_p95_ms: 2500 } } }

fn route(req, ctx) {
    let c = ctx.candidates(req).by_cost(req);
    if req.class == \"interactive\" {
        c = c.p95_below(ctx.param(\"max_p95_ms\"));
    }
    #{ chain: c.names(), max_attempts: 3 }
}

fn on_error(req, attempt, err) {
    if err.kind == \"rate_limited\" && attempt.number == 1 { \"retry\" } else { \"next\" }
}

fn accept(req, resp) { resp.quality >= 0.75 }
";

const TESTS: &str = "fn test_cheapest_first() {
    let ctx = context(#{ endpoints: [#{ name: \"openai/gpt-4o\" }, \"deepseek/deepseek-chat\"] });
    let plan = route(request(#{ class: \"batch\" }), ctx);
    assert_eq(plan.chain, [\"deepseek/deepseek-chat\", \"openai/gpt-4o\"]);
}

fn test_open_breaker_skipped() {
    let ctx = context(#{ endpoints: [
        #{ name: \"openai/gpt-4o\" },
        #{ name: \"deepseek/deepseek-chat\", breaker: \"open\" },
    ] });
    assert_eq(route(request(), ctx).chain, [\"deepseek/deepseek-chat\"]);
}
";

fn setup(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("policies");
    for (name, text) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    (dir, root)
}

fn show(root: &Path, rel: &str) -> String {
    root.join(rel).display().to_string()
}

#[test]
fn one_pass_one_fail_in_opa_style() {
    let (_dir, root) = setup(&[("cheap.rhai", POLICY), ("cheap_test.rhai", TESTS)]);
    let run = run_tests(&root).unwrap();
    let f = show(&root, "cheap_test.rhai");
    assert_eq!(
        run.render_text(),
        format!(
            "PASS: {f}: test_cheapest_first
FAIL: {f}: test_open_breaker_skipped: 12:5: assertion failed: found [\"openai/gpt-4o\"], expected [\"deepseek/deepseek-chat\"]

1 passed, 1 failed
"
        )
    );
    assert_eq!(run.exit_code(), 1);
    assert_eq!((run.passed(), run.failed()), (1, 1));
    // One file given directly: the same.
    assert_eq!(run_tests(&root.join("cheap_test.rhai")).unwrap(), run);
}

#[test]
fn junit_is_valid_xml_with_one_suite_per_file() {
    let failing = "fn test_escapes() { assert(false, \"<&\\\"'>\") }\nfn test_ok() { assert(true) }";
    let (_dir, root) = setup(&[
        ("cheap.rhai", POLICY),
        ("cheap_test.rhai", TESTS),
        ("nested/other.rhai", "fn route(req, ctx) { [] }"),
        ("nested/other_test.rhai", failing),
    ]);
    let run = run_tests(&root).unwrap();
    let xml = run.render_junit();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let top = doc.root_element();
    assert_eq!(top.tag_name().name(), "testsuites");
    assert_eq!((top.attribute("tests"), top.attribute("failures")), (Some("4"), Some("2")));
    let suites: Vec<_> = top.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 2);
    assert_eq!(suites[0].attribute("name"), Some(show(&root, "cheap_test.rhai").as_str()));
    assert_eq!(suites[1].attribute("name"), Some(show(&root, "nested/other_test.rhai").as_str()));
    let cases: Vec<_> = suites[1].children().filter(|n| n.is_element()).collect();
    assert_eq!(cases[0].attribute("name"), Some("test_escapes"));
    assert_eq!(cases[0].attribute("classname"), suites[1].attribute("name"));
    let failure = cases[0].children().find(|n| n.is_element()).unwrap();
    assert_eq!(failure.tag_name().name(), "failure");
    assert_eq!(failure.attribute("message"), Some("1:21: assertion failed: <&\"'>"));
    assert!(cases[1].children().all(|n| !n.is_element()), "a pass has no failure");
    assert_eq!(run.exit_code(), 1);
}

#[test]
fn helpers_build_every_state_and_hook_argument() {
    let tests = "fn test_states() {
    let ctx = context(#{ now_ms: 10000, endpoints: [
        #{ name: \"openai/gpt-4o\", healthy: false },
        #{ name: \"openai/gpt-4o-mini\", rate_limited_until_ms: 20000 },
        #{ name: \"local/llama\", price_in: 0.0, price_out: 0.0, p95_ms: 3000, context_window: 1000 },
        #{ name: \"deepseek/deepseek-chat\", p95_ms: 900, price_in: 0.1, price_out: 0.2 },
        #{ name: \"anthropic/claude-3-5-haiku\", breaker: \"half_open\", p95_ms: 100 },
    ] });
    assert_eq(ctx.endpoint(\"openai/gpt-4o\").breaker, \"open\");
    assert(!ctx.endpoint(\"openai/gpt-4o-mini\").healthy, \"rate limited\");
    assert_eq(ctx.endpoint(\"openai/gpt-4o\").price_out, 10.0);
    let req = request(#{ input_tokens: 2000, max_tokens: 500 });
    assert_eq(ctx.candidates(req), [\"deepseek/deepseek-chat\", \"anthropic/claude-3-5-haiku\"]);
    assert_eq(ctx.candidates(request(#{ input_tokens: 100, max_tokens: 100 })).len(), 3);
    // interactive: p95 under 2500
    let plan = route(request(#{ class: \"interactive\", input_tokens: 100, max_tokens: 100 }), ctx);
    assert_eq(plan.chain, [\"deepseek/deepseek-chat\", \"anthropic/claude-3-5-haiku\"]);
    assert_eq(plan.max_attempts, 3);
    let plan = route(request(#{ input_tokens: 100, max_tokens: 100 }), context(#{ endpoints: ctx.endpoints().names(), params: #{ max_p95_ms: 100 } }));
    assert_eq(plan.chain.len(), 5);
}

fn test_params_and_budgets() {
    let ctx = context(#{ params: #{ max_p95_ms: 1300 }, budgets: #{ acme: #{ spent: 1.25, limit: 5.0 } } });
    assert_eq(ctx.param(\"max_p95_ms\"), 1300);
    assert_eq(context().param(\"max_p95_ms\"), 2500);
    assert_eq(ctx.spent(\"acme\"), 1.25);
    assert_eq(ctx.budget_left(\"acme\"), 3.75);
    assert_eq(ctx.budget_left(\"other\"), ());
    let plan = route(request(#{ class: \"interactive\" }), ctx);
    assert_eq(plan.chain, [\"openai/gpt-4o-mini\"]);
}

fn test_hooks() {
    let req = request(#{ id: 7, tenant: \"acme\", lang: \"zh\", stream: true, tags: #{ team: \"search\" } });
    assert_eq(req.id, \"7\");
    assert_eq(req.tags.team, \"search\");
    assert_eq(on_error(req, attempt(#{ number: 1, endpoint: \"openai/gpt-4o\" }), error(#{ kind: \"rate_limited\", status: 429 })), \"retry\");
    assert_eq(on_error(req, attempt(#{ number: 2, endpoint: \"openai/gpt-4o\" }), error(\"rate_limited\")), \"next\");
    assert_eq(accept(req, response(#{ endpoint: \"openai/gpt-4o\", quality: 0.7 })), false);
    assert_eq(accept(req, response(#{ endpoint: \"openai/gpt-4o\", quality: 0.9 })), true);
    assert_ne(settings().params.max_p95_ms, 0);
}

fn test_typo_in_a_helper() {
    context(#{ endpoints: [#{ name: \"a/b\", p59_ms: 3 }] });
}

fn test_bad_error_kind() {
    error(\"rate_limit\");
}

fn test_contradiction() {
    context(#{ endpoints: [#{ name: \"a/b\", healthy: true, breaker: \"open\" }] });
}

fn test_error_in_the_policy() {
    route(request(#{ class: \"interactive\" }), context(#{ params: #{ max_p95_ms: \"fast\" } }));
}

fn test_endless() {
    loop {}
}

fn test_with_param(x) {}

private fn helper() { assert(1) }

fn test_helper_failure() { helper() }
";
    let (_dir, root) = setup(&[("p.rhai", POLICY), ("p_test.rhai", tests)]);
    let run = run_tests(&root).unwrap();
    let f = show(&root, "p_test.rhai");
    let p = show(&root, "p.rhai");
    let expected = format!(
        "PASS: {f}: test_states
PASS: {f}: test_params_and_budgets
PASS: {f}: test_hooks
FAIL: {f}: test_typo_in_a_helper: 46:5: context: endpoints[0] (`a/b`): unknown key `p59_ms`, did you mean `p50_ms`?
FAIL: {f}: test_bad_error_kind: 50:5: error: unknown kind `rate_limit`, did you mean `rate_limited`?
FAIL: {f}: test_contradiction: 54:5: context: endpoints[0] (`a/b`): `healthy: true` contradicts the other keys (breaker is \"open\")
FAIL: {f}: test_error_in_the_policy: {p}:6:15: function not found: p95_below (EndpointList, string)
FAIL: {f}: test_endless: too many operations (the limit is 2000000 per call): an endless loop?
FAIL: {f}: test_with_param: 65:1: test functions take no parameters, found 1
FAIL: {f}: test_helper_failure: 67:23: assert expects a bool, found an integer (1)

3 passed, 7 failed
"
    );
    assert_eq!(run.render_text(), expected);
}

#[test]
fn files_that_do_not_compile_or_have_no_policy_are_errors() {
    let (_dir, root) = setup(&[("p.rhai", POLICY), ("p_test.rhai", "fn test_x() {\n  let = 1;\n}")]);
    let e = run_tests(&root).unwrap_err();
    assert_eq!(e.to_string(), format!("{}:2:7: expecting name of a variable", show(&root, "p_test.rhai")));

    let (_dir, root) = setup(&[("p.rhai", "fn route(req) { [] }"), ("p_test.rhai", "fn test_x() {}")]);
    let e = run_tests(&root).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:1:1: hook `route` takes 2 parameters (req, ctx), found 1", show(&root, "p.rhai"))
    );

    let (_dir, root) = setup(&[("lonely_test.rhai", "fn test_x() {}")]);
    let e = run_tests(&root).unwrap_err();
    assert!(matches!(e, PolicyError::MissingPolicy { .. }));
    assert_eq!(
        e.to_string(),
        format!("{}: no policy beside it (expected {})", show(&root, "lonely_test.rhai"), show(&root, "lonely.rhai"))
    );

    let (_dir, root) = setup(&[("p.rhai", POLICY)]);
    let e = run_tests(&root.join("p.rhai")).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: not a folder or a `*_test.rhai` file", show(&root, "p.rhai")));
    let run = run_tests(&root).unwrap();
    assert_eq!(run, TestRun::default());
    assert_eq!(run.render_text(), "0 passed, 0 failed\n");
    assert_eq!(run.exit_code(), 0);
}
