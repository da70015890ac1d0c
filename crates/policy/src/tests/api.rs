//! The script API on hand-built contexts: list methods, candidates, views,
//! plans, on_error and accept.

use super::*;
use rhai::{Dynamic, Map};
use std::collections::BTreeMap;
use std::sync::Arc;
use windtunnel_core::{
    AttemptError, AttemptInfo, Budgets, DEFAULT_ATTEMPT_TIMEOUT_MS, EndpointIdx, ErrorAction, ErrorKind, Nanodollars,
    ResponseInfo,
};

/// The chain `route` returns when its body is `body`.
fn chain(w: &World, body: &str) -> Vec<String> {
    let mut p = w.policy(&format!("fn route(req, ctx) {{ {body} }}"));
    match w.route(&mut p, &req()) {
        Ok(c) => c,
        Err(e) => panic!("{body}: {e}"),
    }
}

/// The message of `route`'s failure when its body is `body`.
fn failure(w: &World, body: &str) -> String {
    let mut p = w.policy(&format!("fn route(req, ctx) {{ {body} }}"));
    w.route(&mut p, &req()).expect_err(body).message
}

const ALL: [&str; 8] = [
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "anthropic/claude-3-5-sonnet",
    "anthropic/claude-3-5-haiku",
    "google/gemini-1.5-pro",
    "google/gemini-1.5-flash",
    "mistral/mistral-large",
    "deepseek/deepseek-chat",
];

fn rev() -> Vec<String> {
    ALL.iter().rev().map(|s| s.to_string()).collect()
}

#[test]
fn by_cost_is_cheapest_first_and_stable() {
    let mut w = World::eight();
    assert_eq!(chain(&w, "ctx.endpoints().by_cost(req).names()"), rev());
    // Two endpoints at one price keep scenario order.
    w.facts[1].prices = w.facts[0].prices.clone();
    let c = chain(&w, "ctx.endpoints().by_cost(req).take(8).names()");
    assert_eq!(&c[6..], ["openai/gpt-4o", "openai/gpt-4o-mini"]);
}

#[test]
fn by_p95_puts_endpoints_without_data_last() {
    let mut w = World::eight();
    assert_eq!(chain(&w, "ctx.endpoints().by_p95().names()"), ALL);
    w.health[0].p95_ms = 0;
    w.health[5].p95_ms = 50;
    let c = chain(&w, "ctx.endpoints().by_p95().names()");
    assert_eq!(c[0], "google/gemini-1.5-flash");
    assert_eq!(c[7], "openai/gpt-4o");
}

#[test]
fn by_quality_is_best_first() {
    let w = World::eight();
    assert_eq!(chain(&w, "ctx.endpoints().by_quality().names()"), rev());
}

#[test]
fn filters_keep_what_they_say() {
    let mut w = World::eight();
    // p95 is 300, 600, 900, 1200, ...
    assert_eq!(chain(&w, "ctx.endpoints().p95_below(1000).names()"), ALL[..3]);
    assert_eq!(chain(&w, "ctx.endpoints().p95_below(900.5).names()"), ALL[..3]);
    w.health[7].p95_ms = 0; // no data counts as below
    assert_eq!(chain(&w, "ctx.endpoints().p95_below(700).names()"), [ALL[0], ALL[1], ALL[7]]);
    // error_rate is 0.00, 0.01, 0.02, ...
    assert_eq!(chain(&w, "ctx.endpoints().error_rate_below(0.015).names()"), ALL[..2]);
    assert_eq!(chain(&w, "ctx.endpoints().error_rate_below(1).len() == 8; ctx.endpoints().error_rate_below(1)"), ALL);
    assert_eq!(
        chain(&w, "ctx.endpoints().provider_not(\"openai\").provider_not(\"google\").names()"),
        [ALL[2], ALL[3], ALL[6], ALL[7]]
    );
    // est_cost = 1000 in × p + 500 max_tokens × 4p per Mtok = 0.003 p USD, p = 8..1
    // (max_tokens, not the trace's 200 output tokens: the policy cannot know those)
    assert_eq!(chain(&w, "ctx.endpoints().cheaper_than(0.0065, req).names()"), ALL[6..]);
    assert_eq!(chain(&w, "ctx.endpoints().cheaper_than(1, req).len() == 8; ctx.endpoints().cheaper_than(1, req)"), ALL);
}

#[test]
fn take_names_len_index_and_iteration() {
    let w = World::eight();
    assert_eq!(chain(&w, "ctx.endpoints().take(3).names()"), ALL[..3]);
    assert_eq!(chain(&w, "ctx.endpoints().take(100)"), ALL);
    assert!(chain(&w, "ctx.endpoints().take(0)").is_empty());
    assert_eq!(failure(&w, "ctx.endpoints().take(-1)"), "take(n) expects n >= 0, found -1");
    assert_eq!(chain(&w, "ctx.endpoints().take(2.0)"), ALL[..2]);
    assert_eq!(failure(&w, "ctx.endpoints().take(1.5)"), "take(n) expects a whole number >= 0, found 1.5");
    assert_eq!(chain(&w, "let l = ctx.endpoints(); [l[0], l[-1], l[l.len() - 2].name]"), [ALL[0], ALL[7], ALL[6]]);
    assert_eq!(failure(&w, "ctx.endpoints()[8]"), "endpoint list index 8 out of bounds: the list has 8");
    let body = "let out = []; for e in ctx.endpoints() { if e.provider == \"anthropic\" { out.push(e.name) } } out";
    assert_eq!(chain(&w, body), [ALL[2], ALL[3]]);
    assert_eq!(
        chain(&w, "if \"openai/gpt-4o\" in ctx.endpoints().take(1) { [\"deepseek/deepseek-chat\"] } else { [] }"),
        [ALL[7]]
    );
}

#[test]
fn closures_and_plain_arrays_work_with_native_methods() {
    let w = World::eight();
    let body = "ctx.endpoints().to_array().filter(|e| e.provider != \"openai\").by_cost(req).take(2).names()";
    assert_eq!(chain(&w, body), [ALL[7], ALL[6]]);
    let body = "ctx.endpoints().filter(|e| e.p95_ms > 1200).by_quality().names()";
    assert_eq!(chain(&w, body), [ALL[7], ALL[6], ALL[5], ALL[4]]);
    let body = "let limit = 1000; ctx.endpoints().to_array().filter(|e| e.p95_ms < limit).map(|e| e.name)";
    assert_eq!(chain(&w, body), ALL[..3]);
    let body = "let a = ctx.endpoints().to_array(); a.sort(|x, y| y.p95_ms - x.p95_ms); a.take(2)";
    assert_eq!(chain(&w, body), [ALL[7], ALL[6]]);
    assert_eq!(chain(&w, "[].by_cost(req)"), Vec::<String>::new());
    assert_eq!(failure(&w, "[1, 2].by_p95()"), "by_p95: item 0 of the array is an integer (1), expected an endpoint");
}

#[test]
fn candidates_are_healthy_and_fitting_in_scenario_order() {
    let mut w = World::eight();
    w.set_breaker(0, BreakerState::Open);
    w.set_breaker(1, BreakerState::HalfOpen); // probes allowed: a candidate
    w.health[2].rate_limited_until_ms = 2_000; // after now (1000)
    w.health[3].rate_limited_until_ms = 500; // over
    // 1000 in + 500 max: 1500 at ratio 1, 3000 at ratio 2.
    w.facts[4].context_window = Some(2_500);
    w.facts[4].tokenizer = TokenRatio { ratio: 2.0, lang: Vec::new() };
    w.facts[5].context_window = Some(2_500);
    w.facts[6].context_window = Some(2_000);
    w.facts[6].tokenizer = TokenRatio { ratio: 1.0, lang: vec![(Arc::from("zh"), 2.0)] };
    let expected = [ALL[1], ALL[3], ALL[5], ALL[6], ALL[7]];
    assert_eq!(chain(&w, "ctx.candidates(req).names()"), expected);

    let mut zh = req();
    zh.lang = Some(Sym::from("zh"));
    let mut p = w.policy("fn route(req, ctx) { ctx.candidates(req) }");
    assert_eq!(w.route(&mut p, &zh).unwrap(), [ALL[1], ALL[3], ALL[5], ALL[7]]);
    // The view agrees.
    let mut p = w.policy("fn route(req, ctx) { ctx.endpoints().healthy().fits(req) }");
    assert_eq!(w.route(&mut p, &req()).unwrap(), expected);
}

fn probe(w: &World, src: &str, req: &Request) -> Map {
    let mut p = w.policy(&format!("fn route(req, ctx) {{ [] }}\nfn probe(req, ctx) {{ {src} }}"));
    match p.probe("probe", req, &w.ctx()) {
        Ok(v) => v.cast::<Map>(),
        Err(e) => panic!("{src}: {}", e.message),
    }
}

fn get<'a>(m: &'a Map, k: &str) -> &'a Dynamic {
    &m[k]
}

#[test]
fn endpoint_view_reads_facts_and_health() {
    let mut w = World::eight();
    w.health[3] = Health {
        breaker: BreakerState::HalfOpen,
        p50_ms: 11,
        p95_ms: 22,
        p99_ms: 33,
        error_rate: 0.25,
        inflight: 4,
        rate_limited_until_ms: 5_000,
        quality: 0.7,
    };
    w.facts[3].context_window = None;
    w.facts[3].tokenizer = TokenRatio { ratio: 1.5, lang: Vec::new() };
    let src = "let e = ctx.endpoint(\"anthropic/claude-3-5-haiku\");
        #{ name: e.name, provider: e.provider, model: e.model, healthy: e.healthy, breaker: e.breaker,
           p50: e.p50_ms, p95: e.p95_ms, p99: e.p99_ms, err: e.error_rate, inflight: e.inflight,
           rl: e.rate_limited_until_ms, q: e.quality, pin: e.price_in, pout: e.price_out, win: e.context_window,
           maxout: e.max_output_tokens, fits: e.fits(req), cost: e.est_cost(req), max: e.max_cost(req), tokens: e.tokens(req),
           w0: ctx.endpoint(\"openai/gpt-4o\").context_window }";
    let m = probe(&w, src, &req());
    assert_eq!(get(&m, "name").to_string(), "anthropic/claude-3-5-haiku");
    assert_eq!(get(&m, "provider").to_string(), "anthropic");
    assert_eq!(get(&m, "model").to_string(), "claude-3-5-haiku");
    assert!(!get(&m, "healthy").as_bool().unwrap()); // rate limited until 5000, now 1000
    assert_eq!(get(&m, "breaker").to_string(), "half_open");
    assert_eq!(get(&m, "p50").as_int().unwrap(), 11);
    assert_eq!(get(&m, "p95").as_int().unwrap(), 22);
    assert_eq!(get(&m, "p99").as_int().unwrap(), 33);
    assert_eq!(get(&m, "err").as_float().unwrap(), 0.25);
    assert_eq!(get(&m, "inflight").as_int().unwrap(), 4);
    assert_eq!(get(&m, "rl").as_int().unwrap(), 5_000);
    assert_eq!(get(&m, "q").as_float().unwrap(), 0.7);
    assert_eq!(get(&m, "pin").as_float().unwrap(), 5.0);
    assert_eq!(get(&m, "pout").as_float().unwrap(), 20.0);
    assert!(get(&m, "win").is_unit());
    assert_eq!(get(&m, "w0").as_int().unwrap(), 128_000);
    assert_eq!(get(&m, "maxout").as_int().unwrap(), 8_192);
    assert!(get(&m, "fits").as_bool().unwrap());
    // 1500 in × $5 + 750 max_tokens × $20 per Mtok (never the trace's 300 output tokens)
    assert!((get(&m, "cost").as_float().unwrap() - 0.0225).abs() < 1e-12);
    // 1500 in × $5 + 750 max × $20
    assert!((get(&m, "max").as_float().unwrap() - 0.0225).abs() < 1e-12);
    assert_eq!(get(&m, "tokens").as_int().unwrap(), 1_500);
}

#[test]
fn price_in_follows_price_changes() {
    let mut w = World::eight();
    let mut later = w.facts[0].prices[0].1;
    later.input = windtunnel_core::PricePerMtok::from_usd(1.25);
    w.facts[0].prices.push((5_000, later));
    let m = probe(&w, "#{ p: ctx.endpoint(\"openai/gpt-4o\").price_in }", &req());
    assert_eq!(get(&m, "p").as_float().unwrap(), 8.0);
    w.now_ms = 6_000;
    let m = probe(&w, "#{ p: ctx.endpoint(\"openai/gpt-4o\").price_in }", &req());
    assert_eq!(get(&m, "p").as_float().unwrap(), 1.25);
}

#[test]
fn request_fields() {
    let w = World::eight();
    let src = "#{ id: req.id, tenant: req.tenant, class: req.class, model: req.model, input: req.input_tokens,
        max: req.max_tokens, stream: req.stream, lang: req.lang, tags: req.tags, deadline: req.deadline_ms }";
    let m = probe(&w, src, &req());
    assert_eq!(get(&m, "id").to_string(), "r1");
    assert_eq!(get(&m, "tenant").to_string(), "default");
    assert_eq!(get(&m, "class").to_string(), "interactive");
    assert!(get(&m, "model").is_unit() && get(&m, "lang").is_unit() && get(&m, "tags").is_unit());
    assert!(get(&m, "deadline").is_unit());
    assert_eq!(get(&m, "input").as_int().unwrap(), 1_000);
    assert_eq!(get(&m, "max").as_int().unwrap(), 500);
    assert!(!get(&m, "stream").as_bool().unwrap());

    let mut r = Request::new(6, 0, 10, 10);
    r.model = Some(Sym::from("chat"));
    r.lang = Some(Sym::from("zh"));
    r.stream = true;
    r.deadline_ms = Some(9_000);
    r.tags = Some(Box::new(BTreeMap::from([("team".to_string(), "\"search\"".to_string())])));
    let m = probe(&w, src, &r);
    assert_eq!(get(&m, "id").to_string(), "7");
    assert_eq!(get(&m, "model").to_string(), "chat");
    assert_eq!(get(&m, "lang").to_string(), "zh");
    assert!(get(&m, "stream").as_bool().unwrap());
    assert_eq!(get(&m, "deadline").as_int().unwrap(), 9_000);
    assert_eq!(get(&m, "tags").clone().cast::<Map>()["team"].to_string(), "search");
}

/// acme has spent $1.50 of $5.
struct AcmeBudget;

impl Budgets for AcmeBudget {
    fn spent(&self, tenant: &str) -> Nanodollars {
        if tenant == "acme" { Nanodollars::from_usd(1.5) } else { Nanodollars::ZERO }
    }
    fn budget_left(&self, tenant: &str) -> Option<Nanodollars> {
        (tenant == "acme").then(|| Nanodollars::from_usd(3.5))
    }
}

#[test]
fn context_now_params_and_budgets() {
    let w = World::eight();
    let src = "fn settings() { #{ params: #{ max_p95_ms: 2500, name: \"x\" } } }
        fn route(req, ctx) { [] }
        fn probe(req, ctx) { #{ now: ctx.now_ms, p: ctx.param(\"max_p95_ms\"), spent: ctx.spent(req.tenant),
            left: ctx.budget_left(req.tenant), n: ctx.endpoints().len() } }
        fn other(req, ctx) { ctx.spent(\"globex\") }
        fn typo(req, ctx) { ctx.param(\"max_p59_ms\") }";
    let mut p = Policy::from_source("p.rhai", src, &w.facts, &[("max_p95_ms".into(), "1800".into())]).unwrap();
    let mut r = req();
    r.tenant = Sym::from("acme");
    let ctx = RouteContext {
        now_ms: 1_000,
        facts: &w.facts,
        health: &w.health,
        budgets: &AcmeBudget,
        cached_tokens: &[],
        start_of_day_ms: 0,
    };
    let m = p.probe("probe", &r, &ctx).unwrap().cast::<Map>();
    assert_eq!(get(&m, "now").as_int().unwrap(), 1_000);
    assert_eq!(get(&m, "p").as_int().unwrap(), 1_800);
    assert_eq!(get(&m, "spent").as_float().unwrap(), 1.5);
    assert_eq!(get(&m, "left").as_float().unwrap(), 3.5);
    assert_eq!(get(&m, "n").as_int().unwrap(), 8);
    let m = p.probe("probe", &req(), &ctx).unwrap().cast::<Map>();
    assert!(get(&m, "left").is_unit(), "no budget: ()");
    let e = p.probe("other", &r, &ctx).unwrap_err();
    assert_eq!(
        e.message,
        "budget of tenant `globex` is not visible here: route sees only its request's tenant (`acme`)"
    );
    let e = p.probe("typo", &r, &ctx).unwrap_err();
    assert_eq!(e.message, "unknown policy parameter `max_p59_ms`, did you mean `max_p95_ms`?");
    assert_eq!(e.position, Some((6, 33)));
}

#[test]
fn plan_map_sets_every_limit() {
    let w = World::eight();
    let mut p = w.policy(
        "fn route(req, ctx) { #{ chain: [\"deepseek/deepseek-chat\", ctx.endpoint(\"openai/gpt-4o\")],
            attempt_timeout_ms: 3000, ttft_timeout_ms: 800.0, stall_timeout_ms: 2000, max_attempts: 3,
            hedge_after_ms: 0, deadline_ms: (), start_after_ms: 60000 } }",
    );
    let plan = p.route(&req(), &w.ctx()).unwrap();
    assert_eq!(
        plan,
        Plan {
            chain: vec![EndpointIdx(7), EndpointIdx(0)],
            attempt_timeout_ms: 3_000,
            ttft_timeout_ms: Some(800),
            stall_timeout_ms: Some(2_000),
            max_attempts: Some(3),
            hedge_after_ms: Some(0),
            deadline_ms: None,
            max_wait_ms: None,
            start_after_ms: Some(60_000),
        }
    );
}

#[test]
fn bare_arrays_and_lists_are_chains() {
    let w = World::eight();
    let mistral_mini = [EndpointIdx(6), EndpointIdx(1)];
    for (body, expected) in [
        ("[\"mistral/mistral-large\", \"openai/gpt-4o-mini\"]", mistral_mini),
        ("[ctx.endpoint(\"mistral/mistral-large\"), \"openai/gpt-4o-mini\"]", mistral_mini),
        (
            "ctx.endpoints().filter(|e| e.name == \"mistral/mistral-large\" || e.model == \"gpt-4o-mini\").by_cost(req)",
            mistral_mini,
        ),
        // cheapest two are deepseek then mistral; by p95 mistral first; by quality deepseek first
        ("#{ chain: ctx.endpoints().by_cost(req).take(2).by_p95().by_quality() }", [EndpointIdx(7), EndpointIdx(6)]),
    ] {
        let mut p = w.policy(&format!("fn route(req, ctx) {{ {body} }}"));
        let plan = p.route(&req(), &w.ctx()).unwrap();
        assert_eq!(plan.chain, expected, "{body}");
        assert_eq!(plan.attempt_timeout_ms, DEFAULT_ATTEMPT_TIMEOUT_MS);
        assert_eq!(plan.max_attempts, None);
    }
}

#[test]
fn bad_plans_are_named() {
    let w = World::eight();
    assert_eq!(failure(&w, "#{ chain: [1] }"), "chain[0] is an integer (1), expected an endpoint name or an endpoint");
    assert_eq!(failure(&w, "#{ attempt_timeout_ms: 5 }"), "the plan has no `chain`");
    assert_eq!(
        failure(&w, "#{ chain: \"openai/gpt-4o\" }"),
        "`chain` is a string (\"openai/gpt-4o\"), expected an array of endpoints"
    );
    assert_eq!(
        failure(&w, "#{ chain: [], max_attempts: 0 }"),
        "`max_attempts` in the plan is 0, expected a number from 1 to 86400000"
    );
    assert_eq!(
        failure(&w, "#{ chain: [], attempt_timeout_ms: -3 }"),
        "`attempt_timeout_ms` in the plan is -3, expected a number from 1 to 86400000"
    );
    assert_eq!(
        failure(&w, "#{ chain: [], attempt_timeout_ms: 1e30 }"),
        "`attempt_timeout_ms` in the plan is 1e30, expected a number from 1 to 86400000"
    );
    assert_eq!(
        failure(&w, "#{ chain: [], hedge_after_ms: \"1s\" }"),
        "`hedge_after_ms` in the plan is a string (\"1s\"), expected a number"
    );
    assert_eq!(
        failure(&w, "#{ chain: [], max_attempt: 3 }"),
        "unknown key `max_attempt` in the plan, did you mean `max_attempts`?"
    );
    assert_eq!(
        failure(&w, "()"),
        "route returned (), expected a plan map `#{ chain: [...] }` or an array of endpoints"
    );
}

fn attempt_failed(w: &World, src: &str, kind: ErrorKind, number: u32) -> Result<Option<ErrorAction>, PolicyFailure> {
    let mut p = w.policy(&format!("fn route(req, ctx) {{ [] }}\n{src}"));
    let attempt = AttemptInfo { number, endpoint: EndpointIdx(3), elapsed_ms: 1_234 };
    let mut err = AttemptError::from_status(429);
    err.kind = kind;
    err.retry_after_ms = Some(2_000);
    p.on_error(&req(), &attempt, &err)
}

#[test]
fn on_error_sees_the_attempt_and_answers() {
    let w = World::eight();
    let src = "fn on_error(req, attempt, err) {
        if err.kind == \"rate_limited\" && attempt.number == 1 && attempt.endpoint == \"anthropic/claude-3-5-haiku\"
            && attempt.elapsed_ms == 1234 && err.status == 429 && err.retry_after_ms == 2000
            && err.message == \"rate_limited (HTTP 429, retry after 2000 ms)\" { \"retry\" }
        else if err.kind == \"server_error\" { \"next\" } else { \"fail\" } }";
    assert_eq!(attempt_failed(&w, src, ErrorKind::RateLimited, 1), Ok(Some(ErrorAction::Retry)));
    assert_eq!(attempt_failed(&w, src, ErrorKind::ServerError, 1), Ok(Some(ErrorAction::Next)));
    assert_eq!(attempt_failed(&w, src, ErrorKind::Auth, 1), Ok(Some(ErrorAction::Fail)));
    assert_eq!(attempt_failed(&w, "", ErrorKind::Auth, 1), Ok(None), "no hook: built-in default");
    let bad = attempt_failed(&w, "fn on_error(req, attempt, err) { \"retyr\" }", ErrorKind::Auth, 1).unwrap_err();
    assert_eq!(
        bad,
        PolicyFailure {
            hook: "on_error",
            message: "on_error returned a string (\"retyr\"), expected \"retry\", \"next\" or \"fail\"".into(),
            position: Some((2, 1)),
        }
    );
}

#[test]
fn accept_sees_the_response() {
    let w = World::eight();
    let mut p = w.policy(
        "fn route(req, ctx) { [] }
         fn accept(req, resp) { resp.quality >= 0.75 && resp.endpoint == \"openai/gpt-4o\" && resp.latency_ms == 900
            && resp.ttft_ms == () && resp.output_tokens == 120 && resp.cost_usd == 0.002 }",
    );
    assert!(p.has_accept());
    let mut resp = ResponseInfo {
        endpoint: EndpointIdx(0),
        quality: 0.8,
        latency_ms: 900,
        ttft_ms: None,
        output_tokens: 120,
        cost: Nanodollars(2_000_000),
    };
    assert_eq!(p.accept(&req(), &resp), Ok(true));
    resp.quality = 0.7;
    assert_eq!(p.accept(&req(), &resp), Ok(false));
    let mut p = w.policy("fn route(req, ctx) { [] }\nfn accept(req, resp) { 1 }");
    assert_eq!(p.accept(&req(), &resp).unwrap_err().message, "accept returned an integer (1), expected a bool");
    let mut p = w.policy("fn route(req, ctx) { [] }");
    assert!(!p.has_accept());
    assert_eq!(p.accept(&req(), &resp), Ok(true));
}

/// The policy reference documents every field and method the engine
/// registers (`api.rs`: each `register_get("name"` and `register_fn("name"`).
#[test]
fn the_policy_reference_documents_every_registered_name() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/reference/policy.md");
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    assert!(!doc.is_empty(), "cannot read {path}");
    let api = include_str!("../api.rs");
    let mut names: Vec<&str> = ["register_get(\"", "register_fn(\""]
        .iter()
        .flat_map(|call| api.split(call).skip(1).filter_map(|rest| rest.split('"').next()))
        .filter(|n| !matches!(*n, "to_string" | "to_debug" | "==" | "!="))
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() > 30, "the registrations were found: {names:?}");
    let missing: Vec<&str> =
        names.into_iter().filter(|n| !doc.contains(&format!("`{n}")) && !doc.contains(&format!(".{n}"))).collect();
    assert!(missing.is_empty(), "names missing from docs/reference/policy.md: {missing:?}");
}
