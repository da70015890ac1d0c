//! Tests of the checker as a whole: result shape and order, the examples
//! cap, constant memory, and a property test over random logs that a
//! correct executor could have written.

use crate::testing::{Log, Start, all_hold, only_broken, req, world};
use crate::{INVARIANT_NAMES, InvariantChecker, MAX_EXAMPLES, World, select};
use proptest::prelude::*;
use windtunnel_core::{
    AttemptError, AttemptReport, BreakerState, EndpointFacts, EndpointIdx, ErrorKind, Event, EventSink, Nanodollars,
    Outcome, Request, Usage,
};

#[test]
fn an_empty_log_reports_every_invariant_in_spec_order() {
    let results = Log::new().results();
    let names: Vec<_> = results.iter().map(|r| r.name).collect();
    assert_eq!(names, INVARIANT_NAMES);
    all_hold(&results);
    assert_eq!(
        INVARIANT_NAMES,
        [
            "conservation",
            "breaker_respected",
            "retry_after_respected",
            "no_retry_on_fatal",
            "context_fits",
            "attempt_limit",
            "deadline",
            "budget"
        ]
    );
}

#[test]
fn examples_stop_at_five_but_the_count_goes_on() {
    let a = req(0, 0);
    let mut log = Log::new();
    log.arrive(&a);
    for n in 1..=12 {
        log.start(u64::from(n), &a, Start::new(n, 2).limit(0));
    }
    log.finish(20, &a, Outcome::Succeeded);
    let r = only_broken(&log.results(), "attempt_limit", 12);
    assert_eq!(r.examples.len(), MAX_EXAMPLES);
    let at: Vec<_> = r.examples.iter().map(|e| e.at_ms).collect();
    assert_eq!(at, [1, 2, 3, 4, 5], "the first ones, in log order");
}

#[test]
fn per_request_state_is_dropped_when_requests_finish() {
    let fatal = AttemptError::new(ErrorKind::BadRequest);
    let mut log = Log::new();
    for seq in 0..10_000 {
        let r = req(seq, seq);
        log.arrive(&r).start(seq, &r, Start::new(1, 0)).fail(seq, &r, 1, 0, fatal.clone(), 0);
        log.start(seq, &r, Start::new(2, 1)).ok(seq, &r, 2, 1, 0);
        assert_eq!(log.open_entries(), 2, "one record, one fatal-error entry for the one open request");
        log.finish(seq, &r, Outcome::Succeeded);
        assert_eq!(log.open_entries(), 0);
    }
    all_hold(&log.results());
}

#[test]
fn results_serialize_as_the_report_embeds_them() {
    let a = req(0, 7);
    let mut log = Log::new();
    log.arrive(&a).start(7, &a, Start::new(1, 0).tokens(2_000, 1));
    let results = log.results();
    let json = serde_json::to_value(&results).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(8));
    assert_eq!(
        json[4],
        serde_json::json!({
            "name": "context_fits",
            "violations": 1,
            "examples": [{
                "request": "1",
                "at_ms": 7,
                "endpoint": "a/small",
                "detail": "2000 input + 1 max_tokens exceed the 1000-token window",
            }],
        })
    );
    assert_eq!(json[0]["examples"][0]["endpoint"], serde_json::Value::Null);
}

#[test]
fn select_keeps_the_named_invariants_in_spec_order() {
    let results = Log::new().results();
    let names = ["budget".to_string(), "conservation".to_string()];
    let picked: Vec<_> = select(results.clone(), Some(&names)).iter().map(|r| r.name).collect();
    assert_eq!(picked, ["conservation", "budget"]);
    assert_eq!(select(results.clone(), None), results);
}

#[test]
fn unknown_endpoints_are_named_by_index_and_have_no_window() {
    let a = req(0, 0);
    let mut log = Log::in_world(World::default());
    log.arrive(&a).breaker(0, 9, BreakerState::Closed, BreakerState::Open);
    log.start(1, &a, Start::new(1, 9).tokens(u32::MAX, u32::MAX));
    log.finish(2, &a, Outcome::Succeeded);
    let r = only_broken(&log.results(), "breaker_respected", 1);
    assert_eq!(r.examples[0].endpoint.as_deref(), Some("#9"));
}

#[test]
fn a_world_from_endpoint_facts_keeps_names_windows_and_order() {
    let facts = |name: &str, window| EndpointFacts { context_window: window, ..windtunnel_test_support::facts(name) };
    let w = World::from_facts(&[facts("openai/gpt-4o", Some(128_000)), facts("local/llama", None)]);
    assert_eq!(w, World::new([("openai/gpt-4o", Some(128_000)), ("local/llama", None)]));
    assert_eq!(w.endpoint_name(EndpointIdx(1)), "local/llama");
    assert_eq!(w.context_window(EndpointIdx(0)), Some(128_000));
}

// === property: correct logs pass ===

/// One move of the mini-executor below; it is skipped when it would break a rule.
#[derive(Clone, Debug)]
enum Step {
    /// Time passes.
    Advance(u16),
    /// A request arrives.
    Arrive { input: u16, max: u16, deadline: Option<u16>, interactive: bool, acme: bool, limit: u8 },
    /// An open request starts an attempt, if that is allowed.
    Start { pick: u8, endpoint: u8, probe: bool, plan_deadline: Option<u16> },
    /// An attempt in flight ends: `kind` indexes `ErrorKind::ALL`, past its end a success.
    End { pick: u8, kind: u8, retry_after: Option<u16>, cost: u16, cancel: bool },
    /// An open request with nothing in flight reaches its outcome.
    Finish { pick: u8 },
    /// A breaker changes state.
    Breaker { endpoint: u8, to: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (0..300u16).prop_map(Step::Advance),
        1 => (0..1_200u16, 0..400u16, proptest::option::of(0..2_000u16), any::<bool>(), any::<bool>(), 0..4u8).prop_map(
            |(input, max, deadline, interactive, acme, limit)| Step::Arrive {
                input,
                max,
                deadline,
                interactive,
                acme,
                limit
            }
        ),
        3 => (any::<u8>(), 0..3u8, any::<bool>(), proptest::option::of(0..3_000u16))
            .prop_map(|(pick, endpoint, probe, plan_deadline)| Step::Start { pick, endpoint, probe, plan_deadline }),
        3 => (any::<u8>(), 0..20u8, proptest::option::of(0..500u16), 0..300u16, any::<bool>())
            .prop_map(|(pick, kind, retry_after, cost, cancel)| Step::End { pick, kind, retry_after, cost, cancel }),
        1 => any::<u8>().prop_map(|pick| Step::Finish { pick }),
        1 => (0..3u8, 0..3u8).prop_map(|(endpoint, to)| Step::Breaker { endpoint, to }),
    ]
}

/// An open request in the mini-executor.
struct Open {
    req: Request,
    arrived: u64,
    limit: u32,
    attempts: u32,
    plan_deadline: Option<u64>,
    /// Endpoints a fatal error closed to this request.
    dead: Vec<u16>,
    /// The attempt in flight: (number, endpoint).
    inflight: Option<(u32, u16)>,
}

/// A tiny executor that obeys every rule, writing its log into a checker.
struct Driver {
    world: World,
    checker: InvariantChecker,
    now: u64,
    next_seq: u64,
    breakers: [BreakerState; 3],
    not_before: [u64; 3],
    acme_spent: i64,
    open: Vec<Open>,
}

impl Driver {
    fn new() -> Driver {
        let world = world();
        Driver {
            checker: InvariantChecker::new(world.clone()),
            world,
            now: 0,
            next_seq: 0,
            breakers: [BreakerState::Closed; 3],
            not_before: [0; 3],
            acme_spent: 0,
            open: Vec::new(),
        }
    }

    /// What a bill may cost: all of `cost`, or what is left of acme's budget.
    fn billable(&mut self, req: &Request, cost: i64) -> i64 {
        if &*req.tenant != "acme" {
            return cost;
        }
        let left = self.world.budgets["acme"].0 - self.acme_spent;
        let c = cost.min(left).max(0);
        self.acme_spent += c;
        c
    }

    fn step(&mut self, s: &Step) {
        let now = self.now;
        match *s {
            Step::Advance(ms) => self.now += u64::from(ms),
            Step::Arrive { input, max, deadline, interactive, acme, limit } => {
                let mut req = Request::new(self.next_seq, now, input.into(), 1);
                self.next_seq += 1;
                req.max_tokens = max.into();
                req.deadline_ms = deadline.map(u64::from);
                if interactive {
                    req.class = "interactive".into();
                }
                if acme {
                    req.tenant = "acme".into();
                }
                self.checker.record(&Event::Arrived { at: now, req: &req });
                let o = Open {
                    req,
                    arrived: now,
                    limit: limit.into(),
                    attempts: 0,
                    plan_deadline: None,
                    dead: Vec::new(),
                    inflight: None,
                };
                self.open.push(o);
            }
            Step::Start { pick, endpoint, probe, plan_deadline } => {
                let Some(i) = pick_index(self.open.len(), pick) else { return };
                let o = &mut self.open[i];
                let e = EndpointIdx(endpoint.into());
                if o.plan_deadline.is_none() {
                    o.plan_deadline = plan_deadline.map(u64::from);
                }
                let deadline = [o.req.deadline_ms, o.plan_deadline, self.world.class_deadline_ms(&o.req.class)]
                    .into_iter()
                    .flatten()
                    .min();
                let tokens = (o.req.input_tokens, o.req.max_tokens);
                let fits = self
                    .world
                    .context_window(e)
                    .is_none_or(|w| u64::from(tokens.0) + u64::from(tokens.1) <= u64::from(w));
                let breaker = self.breakers[e.get()];
                let allowed = o.inflight.is_none()
                    && o.attempts < o.limit
                    && deadline.is_none_or(|d| now < o.arrived + d)
                    && fits
                    && breaker != BreakerState::Open
                    && now >= self.not_before[e.get()]
                    && !o.dead.contains(&e.0);
                if !allowed {
                    return;
                }
                o.attempts += 1;
                o.inflight = Some((o.attempts, e.0));
                let probe = breaker == BreakerState::HalfOpen || probe;
                self.checker.record(&Event::AttemptStarted {
                    at: now,
                    req: &o.req,
                    attempt: o.attempts,
                    endpoint: e,
                    attempt_limit: o.limit,
                    probe,
                    tokens,
                    plan_deadline_ms: o.plan_deadline,
                });
            }
            Step::End { pick, kind, retry_after, cost, cancel } => {
                let Some(i) = pick_index(self.open.len(), pick) else { return };
                let Some((attempt, e)) = self.open[i].inflight.take() else { return };
                let req = self.open[i].req.clone();
                let usage = Usage { cost: Nanodollars(self.billable(&req, cost.into())), ..Usage::default() };
                let endpoint = EndpointIdx(e);
                if cancel {
                    self.checker.record(&Event::AttemptCancelled { at: now, req: &req, attempt, endpoint, usage });
                    return;
                }
                let report = match ErrorKind::ALL.get(usize::from(kind)) {
                    None => AttemptReport::success(usage, 0.8, None),
                    Some(&k) => {
                        let err = AttemptError { kind: k, status: None, retry_after_ms: retry_after.map(u64::from) };
                        if let Some(ra) = err.retry_after_ms {
                            self.not_before[usize::from(e)] = self.not_before[usize::from(e)].max(now + ra);
                        }
                        if k.is_fatal_for_endpoint() {
                            self.open[i].dead.push(e);
                        }
                        AttemptReport::failure(err, usage, None)
                    }
                };
                let ev =
                    Event::AttemptFinished { at: now, req: &req, attempt, endpoint, started_at: now, report: &report };
                self.checker.record(&ev);
            }
            Step::Finish { pick } => {
                let Some(i) = pick_index(self.open.len(), pick) else { return };
                if self.open[i].inflight.is_none() {
                    let o = self.open.swap_remove(i);
                    self.finished(&o);
                }
            }
            Step::Breaker { endpoint, to } => {
                let to = [BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen][usize::from(to)];
                let e = usize::from(endpoint);
                let from = std::mem::replace(&mut self.breakers[e], to);
                self.checker.record(&Event::Breaker { at: now, endpoint: EndpointIdx(endpoint.into()), from, to });
            }
        }
    }

    fn finished(&mut self, o: &Open) {
        self.checker.record(&Event::Finished {
            at: self.now,
            req: &o.req,
            outcome: Outcome::Succeeded,
            attempts: o.attempts,
            endpoint: None,
            ttft_ms: None,
            cost: Nanodollars::ZERO,
            quality: None,
        });
    }

    /// Cancels what is in flight, closes every open request, and checks.
    fn end(mut self) -> Vec<crate::InvariantResult> {
        for o in std::mem::take(&mut self.open) {
            if let Some((attempt, e)) = o.inflight {
                let usage = Usage::default();
                let ev =
                    Event::AttemptCancelled { at: self.now, req: &o.req, attempt, endpoint: EndpointIdx(e), usage };
                self.checker.record(&ev);
            }
            self.finished(&o);
        }
        self.checker.finish()
    }
}

fn pick_index(len: usize, pick: u8) -> Option<usize> {
    (len > 0).then(|| usize::from(pick) % len)
}

proptest! {
    #[test]
    fn logs_that_follow_every_rule_break_none(steps in proptest::collection::vec(step(), 0..300)) {
        let mut d = Driver::new();
        for s in &steps {
            d.step(s);
        }
        let results = d.end();
        for r in &results {
            prop_assert!(r.holds(), "{} broken: {:#?}", r.name, r.examples);
        }
    }
}

#[test]
fn the_driver_does_exercise_every_kind_of_event() {
    // Guards the property test against a driver that skips everything.
    let mut d = Driver::new();
    let steps = [
        Step::Arrive { input: 100, max: 100, deadline: None, interactive: false, acme: true, limit: 3 },
        Step::Start { pick: 0, endpoint: 0, probe: false, plan_deadline: None },
        Step::End { pick: 0, kind: 0, retry_after: Some(50), cost: 10, cancel: false },
        Step::Breaker { endpoint: 1, to: 2 },
        Step::Start { pick: 0, endpoint: 1, probe: false, plan_deadline: None },
        Step::End { pick: 0, kind: 100, retry_after: None, cost: 2_000, cancel: false },
        Step::Finish { pick: 0 },
    ];
    for s in &steps {
        d.step(s);
    }
    assert_eq!(d.acme_spent, 1_000, "the second bill is cut to what the budget leaves");
    assert!(d.open.is_empty());
    assert_eq!(d.breakers[1], BreakerState::HalfOpen);
    assert_eq!(d.not_before[0], 50);
    all_hold(&d.end());
}

#[test]
fn the_checks_are_the_invariants_core_names() {
    // Config validates `[assert] invariants` and the report orders its
    // entries by core's list; the checks here must be exactly those, in order.
    use crate::*;
    let checks = [
        conservation::NAME,
        breaker_respected::NAME,
        retry_after_respected::NAME,
        no_retry_on_fatal::NAME,
        context_fits::NAME,
        attempt_limit::NAME,
        deadline::NAME,
        budget::NAME,
    ];
    assert_eq!(checks, windtunnel_core::INVARIANT_NAMES);
}
