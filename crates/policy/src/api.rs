//! The windtunnel API as rhai sees it: types, getters and methods (SPEC
//! "Policy API (Rhai)"). Every name here is part of the contract.
//!
//! A number parameter takes an integer or a float (two registrations). A
//! method that can fail (an unknown endpoint, a bad index) raises a runtime
//! error at the call's line and column, which fails that hook call only.

use crate::views::{AttemptView, CtxView, EndpointList, EndpointView, ErrView, ReqView, RespView};
use rhai::{Array, Dynamic, Engine, EvalAltResult, FLOAT, FnPtr, INT, NativeCallContext};

/// A registered function's result.
pub(crate) type Res<T> = Result<T, Box<EvalAltResult>>;

/// A runtime error at the native call's position.
pub(crate) fn fail(ctx: &NativeCallContext, message: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into().into(), ctx.call_position()).into()
}

/// Registers the global `param(name)`: the policy's parameters (declared in
/// `settings().params`, with `--set policy.NAME=VALUE` overrides) in every
/// hook, including `on_error` and `accept`, which get no `ctx`.
pub(crate) fn register_global_param(engine: &mut Engine, params: std::rc::Rc<rhai::Map>) {
    engine.register_fn("param", move |ctx: NativeCallContext, name: &str| -> Res<Dynamic> {
        params.get(name).cloned().ok_or_else(|| {
            let mut declared: Vec<&str> = params.keys().map(|k| k.as_str()).collect();
            declared.sort_unstable();
            fail(&ctx, format!("unknown policy parameter `{name}`, declared: {}", declared.join(", ")))
        })
    });
}

/// Registers every type and function of the policy API on `engine`.
pub(crate) fn register(engine: &mut Engine) {
    register_request(engine);
    register_context(engine);
    register_endpoint(engine);
    register_list(engine);
    register_array_methods(engine);
    register_outcomes(engine);
}

fn register_request(engine: &mut Engine) {
    engine.register_type_with_name::<ReqView>("Request");
    engine.register_get("id", |r: &mut ReqView| r.id());
    engine.register_get("tenant", |r: &mut ReqView| r.tenant());
    engine.register_get("class", |r: &mut ReqView| r.class());
    engine.register_get("model", |r: &mut ReqView| r.model());
    engine.register_get("input_tokens", |r: &mut ReqView| INT::from(r.request().input_tokens));
    engine.register_get("max_tokens", |r: &mut ReqView| INT::from(r.request().max_tokens));
    engine.register_get("stream", |r: &mut ReqView| r.request().stream);
    engine.register_get("lang", |r: &mut ReqView| r.lang());
    engine.register_get("tags", |r: &mut ReqView| r.tags());
    engine.register_get("deadline_ms", |r: &mut ReqView| r.deadline_ms());
    engine.register_get("prompt_hash", |r: &mut ReqView| r.prompt_hash());
    engine.register_fn("to_string", |r: &mut ReqView| format!("request {}", r.id()));
    engine.register_fn("to_debug", |r: &mut ReqView| format!("request {}", r.id()));
}

fn register_context(engine: &mut Engine) {
    engine.register_type_with_name::<CtxView>("Context");
    engine.register_get("now_ms", |c: &mut CtxView| c.now_ms());
    engine.register_get("time_of_day_ms", |c: &mut CtxView| c.time_of_day_ms());
    engine.register_fn("endpoints", |c: &mut CtxView| c.endpoints());
    engine.register_fn("endpoint", |ctx: NativeCallContext, c: &mut CtxView, name: &str| -> Res<EndpointView> {
        c.endpoint(name).map_err(|m| fail(&ctx, m))
    });
    engine.register_fn("candidates", |c: &mut CtxView, r: ReqView| c.candidates(&r));
    engine.register_fn("param", |ctx: NativeCallContext, c: &mut CtxView, name: &str| -> Res<Dynamic> {
        c.param(name).map_err(|m| fail(&ctx, m))
    });
    engine.register_fn("spent", |ctx: NativeCallContext, c: &mut CtxView, tenant: &str| -> Res<FLOAT> {
        c.spent(tenant).map_err(|m| fail(&ctx, m))
    });
    engine.register_fn("budget_left", |ctx: NativeCallContext, c: &mut CtxView, tenant: &str| -> Res<Dynamic> {
        c.budget_left(tenant).map_err(|m| fail(&ctx, m))
    });
    engine.register_fn("to_string", |_: &mut CtxView| "ctx".to_string());
    engine.register_fn("to_debug", |_: &mut CtxView| "ctx".to_string());
}

fn register_endpoint(engine: &mut Engine) {
    engine.register_type_with_name::<EndpointView>("Endpoint");
    engine.register_get("name", |e: &mut EndpointView| e.name());
    engine.register_get("provider", |e: &mut EndpointView| e.provider());
    engine.register_get("model", |e: &mut EndpointView| e.model());
    engine.register_get("healthy", |e: &mut EndpointView| e.healthy());
    engine.register_get("breaker", |e: &mut EndpointView| e.breaker());
    engine.register_get("p50_ms", |e: &mut EndpointView| e.p50_ms());
    engine.register_get("p95_ms", |e: &mut EndpointView| e.p95_ms());
    engine.register_get("p99_ms", |e: &mut EndpointView| e.p99_ms());
    engine.register_get("error_rate", |e: &mut EndpointView| e.error_rate());
    engine.register_get("inflight", |e: &mut EndpointView| e.inflight());
    engine.register_get("rate_limited_until_ms", |e: &mut EndpointView| e.rate_limited_until_ms());
    engine.register_get("quality", |e: &mut EndpointView| e.quality());
    engine.register_get("price_in", |e: &mut EndpointView| e.price_in());
    engine.register_get("price_out", |e: &mut EndpointView| e.price_out());
    engine.register_get("context_window", |e: &mut EndpointView| e.context_window());
    engine.register_get("max_output_tokens", |e: &mut EndpointView| e.max_output_tokens());
    engine.register_fn("fits", |e: &mut EndpointView, r: ReqView| e.fits(&r));
    engine.register_fn("est_cost", |e: &mut EndpointView, r: ReqView| e.est_cost(&r));
    engine.register_fn("cached_tokens", |e: &mut EndpointView, r: ReqView| e.cached_tokens(&r));
    engine.register_fn("max_cost", |e: &mut EndpointView, r: ReqView| e.max_cost(&r));
    engine.register_fn("tokens", |e: &mut EndpointView, r: ReqView| e.tokens(&r));
    engine.register_fn("to_string", |e: &mut EndpointView| e.name().to_string());
    engine.register_fn("to_debug", |e: &mut EndpointView| format!("endpoint({:?})", e.name().as_str()));
    engine.register_fn("==", |a: &mut EndpointView, b: EndpointView| a.name() == b.name());
    engine.register_fn("!=", |a: &mut EndpointView, b: EndpointView| a.name() != b.name());
    engine.register_fn("==", |a: &mut EndpointView, b: &str| a.name() == b);
    engine.register_fn("!=", |a: &mut EndpointView, b: &str| a.name() != b);
}

fn register_list(engine: &mut Engine) {
    engine.register_type_with_name::<EndpointList>("EndpointList");
    engine.register_iterator::<EndpointList>();
    engine.register_fn("by_cost", |l: &mut EndpointList, r: ReqView| l.by_cost(&r));
    engine.register_fn("by_p95", |l: &mut EndpointList| l.by_p95());
    engine.register_fn("by_quality", |l: &mut EndpointList| l.by_quality());
    engine.register_fn("p95_below", |l: &mut EndpointList, ms: INT| l.p95_below(ms as f64));
    engine.register_fn("p95_below", |l: &mut EndpointList, ms: FLOAT| l.p95_below(ms));
    engine.register_fn("error_rate_below", |l: &mut EndpointList, x: FLOAT| l.error_rate_below(x));
    engine.register_fn("error_rate_below", |l: &mut EndpointList, x: INT| l.error_rate_below(x as f64));
    engine.register_fn("provider_not", |l: &mut EndpointList, p: &str| l.provider_not(p));
    engine.register_fn("cheaper_than", |l: &mut EndpointList, usd: FLOAT, r: ReqView| l.cheaper_than(usd, &r));
    engine.register_fn("cheaper_than", |l: &mut EndpointList, usd: INT, r: ReqView| l.cheaper_than(usd as f64, &r));
    engine.register_fn("healthy", |l: &mut EndpointList| l.healthy());
    engine.register_fn("fits", |l: &mut EndpointList, r: ReqView| l.fits(&r));
    engine.register_fn("take", |ctx: NativeCallContext, l: &mut EndpointList, n: INT| -> Res<EndpointList> {
        Ok(l.take(count(&ctx, n)?))
    });
    engine.register_fn("take", |ctx: NativeCallContext, l: &mut EndpointList, n: FLOAT| -> Res<EndpointList> {
        Ok(l.take(whole(&ctx, n)?))
    });
    engine.register_fn("names", |l: &mut EndpointList| l.names());
    engine.register_fn("len", |l: &mut EndpointList| l.len() as INT);
    engine.register_fn("is_empty", |l: &mut EndpointList| l.len() == 0);
    engine.register_fn("contains", |l: &mut EndpointList, name: &str| l.contains_name(name));
    engine.register_fn("contains", |l: &mut EndpointList, e: EndpointView| l.contains_name(&e.name()));
    engine.register_fn("to_array", |l: &mut EndpointList| l.to_array());
    engine.register_fn("filter", |ctx: NativeCallContext, l: &mut EndpointList, f: FnPtr| -> Res<EndpointList> {
        let mut keep = Vec::with_capacity(l.len());
        for e in l.clone() {
            let idx = e.idx();
            let verdict = f.call_within_context::<Dynamic>(&ctx, (e,))?;
            match verdict.as_bool() {
                Ok(true) => keep.push(idx),
                Ok(false) => {}
                Err(t) => return Err(fail(&ctx, format!("filter: the function returned {t}, expected a bool"))),
            }
        }
        Ok(l.with_items(keep))
    });
    engine.register_indexer_get(|ctx: NativeCallContext, l: &mut EndpointList, i: INT| -> Res<EndpointView> {
        l.get(i).map_err(|m| fail(&ctx, m))
    });
    engine.register_fn("to_string", |l: &mut EndpointList| l.render());
    engine.register_fn("to_debug", |l: &mut EndpointList| l.render());
}

/// `take(n)` with `n >= 0`.
fn count(ctx: &NativeCallContext, n: INT) -> Res<usize> {
    usize::try_from(n).map_err(|_| fail(ctx, format!("take(n) expects n >= 0, found {n}")))
}

/// `take(n)` with a float `n` that is a whole number `>= 0`.
fn whole(ctx: &NativeCallContext, n: FLOAT) -> Res<usize> {
    if n.fract() == 0.0 && (0.0..1e15).contains(&n) {
        Ok(n as usize)
    } else {
        Err(fail(ctx, format!("take(n) expects a whole number >= 0, found {n}")))
    }
}

/// The native list methods on plain arrays of endpoint views, so that
/// `ctx.endpoints().to_array().filter(|e| ...).by_cost(req)` works.
fn register_array_methods(engine: &mut Engine) {
    fn list(ctx: &NativeCallContext, a: &Array) -> Res<EndpointList> {
        EndpointList::from_array(a, ctx.fn_name()).map_err(|m| fail(ctx, m))
    }
    engine.register_fn("by_cost", |ctx: NativeCallContext, a: &mut Array, r: ReqView| -> Res<EndpointList> {
        Ok(list(&ctx, a)?.by_cost(&r))
    });
    engine.register_fn("by_p95", |ctx: NativeCallContext, a: &mut Array| -> Res<EndpointList> {
        Ok(list(&ctx, a)?.by_p95())
    });
    engine.register_fn("by_quality", |ctx: NativeCallContext, a: &mut Array| -> Res<EndpointList> {
        Ok(list(&ctx, a)?.by_quality())
    });
    engine.register_fn("p95_below", |ctx: NativeCallContext, a: &mut Array, ms: INT| -> Res<EndpointList> {
        Ok(list(&ctx, a)?.p95_below(ms as f64))
    });
    engine.register_fn("p95_below", |ctx: NativeCallContext, a: &mut Array, ms: FLOAT| -> Res<EndpointList> {
        Ok(list(&ctx, a)?.p95_below(ms))
    });
    engine.register_fn("error_rate_below", |ctx: NativeCallContext, a: &mut Array, x: FLOAT| -> Res<EndpointList> {
        Ok(list(&ctx, a)?.error_rate_below(x))
    });
    engine.register_fn("error_rate_below", |ctx: NativeCallContext, a: &mut Array, x: INT| -> Res<EndpointList> {
        Ok(list(&ctx, a)?.error_rate_below(x as f64))
    });
    engine.register_fn("provider_not", |ctx: NativeCallContext, a: &mut Array, p: &str| -> Res<EndpointList> {
        Ok(list(&ctx, a)?.provider_not(p))
    });
    engine.register_fn(
        "cheaper_than",
        |ctx: NativeCallContext, a: &mut Array, usd: FLOAT, r: ReqView| -> Res<EndpointList> {
            Ok(list(&ctx, a)?.cheaper_than(usd, &r))
        },
    );
    engine.register_fn(
        "cheaper_than",
        |ctx: NativeCallContext, a: &mut Array, usd: INT, r: ReqView| -> Res<EndpointList> {
            Ok(list(&ctx, a)?.cheaper_than(usd as f64, &r))
        },
    );
    engine.register_fn("take", |ctx: NativeCallContext, a: &mut Array, n: INT| -> Res<EndpointList> {
        let n = count(&ctx, n)?;
        Ok(list(&ctx, a)?.take(n))
    });
    engine.register_fn("names", |ctx: NativeCallContext, a: &mut Array| -> Res<Array> { Ok(list(&ctx, a)?.names()) });
}

fn register_outcomes(engine: &mut Engine) {
    engine.register_type_with_name::<ErrView>("Error");
    engine.register_get("kind", |e: &mut ErrView| e.kind());
    engine.register_get("status", |e: &mut ErrView| e.status());
    engine.register_get("retry_after_ms", |e: &mut ErrView| e.retry_after_ms());
    engine.register_get("message", |e: &mut ErrView| e.message());
    engine.register_fn("to_string", |e: &mut ErrView| e.message().to_string());
    engine.register_fn("to_debug", |e: &mut ErrView| e.message().to_string());

    engine.register_type_with_name::<AttemptView>("Attempt");
    engine.register_get("number", |a: &mut AttemptView| a.number());
    engine.register_get("endpoint", |a: &mut AttemptView| a.endpoint.clone());
    engine.register_get("elapsed_ms", |a: &mut AttemptView| a.elapsed_ms());
    engine.register_fn("to_string", |a: &mut AttemptView| format!("attempt {} on {}", a.number, a.endpoint));
    engine.register_fn("to_debug", |a: &mut AttemptView| format!("attempt {} on {}", a.number, a.endpoint));

    engine.register_type_with_name::<RespView>("Response");
    engine.register_get("endpoint", |r: &mut RespView| r.endpoint.clone());
    engine.register_get("quality", |r: &mut RespView| r.quality);
    engine.register_get("latency_ms", |r: &mut RespView| r.latency_ms());
    engine.register_get("ttft_ms", |r: &mut RespView| r.ttft_ms());
    engine.register_get("output_tokens", |r: &mut RespView| r.output_tokens());
    engine.register_get("cost_usd", |r: &mut RespView| r.cost_usd());
    engine.register_fn("to_string", |r: &mut RespView| format!("response from {}", r.endpoint));
    engine.register_fn("to_debug", |r: &mut RespView| format!("response from {}", r.endpoint));
}
