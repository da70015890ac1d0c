//! Executor tests with a scripted adapter: a queue of outcomes per attempt,
//! driven by a minimal event loop. Property tests check SPEC's executor
//! guarantees over random plans and random outcome scripts.

use crate::*;
use proptest::prelude::*;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::rc::Rc;
use windtunnel_core::*;

/// One scripted attempt: after `ms`, this result (None = success).
#[derive(Clone, Copy, Debug)]
struct Step {
    ms: u64,
    error: Option<(ErrorKind, Option<u64>)>,
    cost: i64,
}

/// What a test run needs besides the script.
struct Setup {
    plan: Plan,
    on_error: Option<ErrorAction>,
    backoff: Backoff,
    accept_at: Option<f64>,
    facts: Vec<EndpointFacts>,
    budgets: BTreeMap<String, Nanodollars>,
    quality: f64,
    breaker: Option<BreakerSettings>,
}

impl Setup {
    fn new(plan: Plan) -> Setup {
        Setup {
            plan,
            on_error: None,
            backoff: Backoff::default(),
            accept_at: None,
            facts: facts(4),
            budgets: BTreeMap::new(),
            quality: 0.9,
            breaker: None,
        }
    }
}

/// A policy with a fixed plan, a scripted on_error answer and backoff.
struct Scripted {
    plan: Plan,
    on_error: Option<ErrorAction>,
    backoff: Backoff,
    /// Cascade: accept answers of at least this quality.
    accept_at: Option<f64>,
    breaker: Option<BreakerSettings>,
}

impl Planner for Scripted {
    fn settings(&self) -> PolicySettings {
        PolicySettings {
            retry: self.backoff.0,
            // Breakers out of the way unless a test wants them.
            breaker: self.breaker.unwrap_or(BreakerSettings {
                consecutive_failures: 0,
                min_requests: u32::MAX,
                ..BreakerSettings::default()
            }),
            default_chain: None,
        }
    }
    fn route(&mut self, _: &Request, _: &RouteContext<'_>) -> Result<Plan, PolicyFailure> {
        Ok(self.plan.clone())
    }
    fn on_error(
        &mut self,
        _: &Request,
        _: &AttemptInfo,
        _: &AttemptError,
    ) -> Result<Option<ErrorAction>, PolicyFailure> {
        Ok(self.on_error)
    }
    fn has_accept(&self) -> bool {
        self.accept_at.is_some()
    }
    fn accept(&mut self, _: &Request, resp: &ResponseInfo) -> Result<bool, PolicyFailure> {
        Ok(resp.quality >= self.accept_at.unwrap_or(0.0))
    }
}

fn facts(n: usize) -> Vec<EndpointFacts> {
    windtunnel_test_support::endpoints(n)
}

#[derive(Debug, Clone)]
enum Rec {
    Breaker { endpoint: EndpointIdx, to: BreakerState },
    Start { at: u64, req: u64, endpoint: EndpointIdx, limit: u32, probe: bool },
    End { at: u64, req: u64, endpoint: EndpointIdx, kind: Option<ErrorKind>, retry_after: Option<u64>, cost: i64 },
    Finished { req: u64, outcome: Outcome, attempts: u32, cost: i64 },
}

#[derive(Default, Clone)]
struct Log(Rc<RefCell<Vec<Rec>>>);

impl EventSink for Log {
    fn record(&mut self, e: &Event<'_>) {
        let rec = match *e {
            Event::AttemptCancelled { at, req, endpoint, usage, .. } => {
                Rec::End { at, req: req.seq, endpoint, kind: None, retry_after: None, cost: usage.cost.0 }
            }
            Event::AttemptStarted { at, req, endpoint, attempt_limit, probe, .. } => {
                Rec::Start { at, req: req.seq, endpoint, limit: attempt_limit, probe }
            }
            Event::Breaker { endpoint, to, .. } => Rec::Breaker { endpoint, to },
            Event::AttemptFinished { at, req, endpoint, report, .. } => Rec::End {
                at,
                req: req.seq,
                endpoint,
                kind: report.result.as_ref().err().map(|e| e.kind),
                retry_after: report.result.as_ref().err().and_then(|e| e.retry_after_ms),
                cost: report.usage.cost.0,
            },
            Event::Finished { req, outcome, attempts, cost, .. } => {
                Rec::Finished { req: req.seq, outcome, attempts, cost: cost.0 }
            }
            _ => return,
        };
        self.0.borrow_mut().push(rec);
    }
}

/// Runs `n` requests (one per 10 ms) through the executor; attempt k of any
/// request gets `script[k % len]`.
fn run(plan: Plan, on_error: Option<ErrorAction>, script: &[Step], n: u64, backoff: Backoff) -> Vec<Rec> {
    run_setup(Setup { on_error, backoff, ..Setup::new(plan) }, script, n)
}

fn run_setup(setup: Setup, script: &[Step], n: u64) -> Vec<Rec> {
    let log = Log::default();
    let mut sink = log.clone();
    let planner = Scripted {
        plan: setup.plan,
        on_error: setup.on_error,
        backoff: setup.backoff,
        accept_at: setup.accept_at,
        breaker: setup.breaker,
    };
    let mut ex = Executor::from_seed(planner, setup.facts, &setup.budgets, &Streams::from_seed(1));
    let quality = setup.quality;
    enum Ev {
        Arrive(u64),
        Done(AttemptId, AttemptReport),
        Wake(FlightId, WakeKind, u32),
    }
    let mut cancelled: Vec<AttemptId> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut evs: BTreeMap<u64, Ev> = BTreeMap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, evs: &mut BTreeMap<_, _>, at: u64, ev: Ev| {
        seq += 1;
        heap.push(Reverse((at, seq)));
        evs.insert(seq, ev);
    };
    for i in 0..n {
        push(&mut heap, &mut evs, i * 10, Ev::Arrive(i));
    }
    let mut out = Vec::new();
    let mut k = 0usize;
    while let Some(Reverse((now, s))) = heap.pop() {
        match evs.remove(&s).unwrap() {
            Ev::Arrive(i) => {
                ex.submit(now, Request::new(i, now, 100, 10), None, &mut sink, &mut out);
            }
            Ev::Done(id, report) => {
                if !cancelled.contains(&id) {
                    ex.on_report(now, id, report, &mut sink, &mut out)
                }
            }
            Ev::Wake(f, kind, token) => ex.on_wake(now, f, kind, token, &mut sink, &mut out),
        }
        let mut i = 0;
        while i < out.len() {
            let a = out[i];
            i += 1;
            match a {
                Action::Cancel { id } => {
                    cancelled.push(id);
                    let usage = Usage { input_tokens: 100, output_tokens: 1, cost: Nanodollars(7), ..Usage::default() };
                    ex.on_cancelled(now, id, usage, &mut sink);
                }
                Action::Start { id, cutoffs, .. } => {
                    let step = &script[k % script.len()];
                    k += 1;
                    let usage = Usage {
                        input_tokens: 100,
                        output_tokens: 10,
                        cost: Nanodollars(step.cost),
                        ..Usage::default()
                    };
                    let (at, report) = match (&step.error, cutoffs.cut_at(Some(now + step.ms), now + step.ms, 0)) {
                        (_, Some(cut)) => {
                            (cut, AttemptReport::failure(AttemptError::new(ErrorKind::Timeout), usage, None))
                        }
                        (None, None) => (now + step.ms, AttemptReport::success(usage, quality, Some(step.ms))),
                        (Some((kind, ra)), None) => {
                            let mut e = AttemptError::new(*kind);
                            e.retry_after_ms = *ra;
                            (now + step.ms, AttemptReport::failure(e, usage, None))
                        }
                    };
                    push(&mut heap, &mut evs, at, Ev::Done(id, report));
                }
                Action::Wake { flight, at, kind, token } => {
                    push(&mut heap, &mut evs, at, Ev::Wake(flight, kind, token))
                }
            }
        }
        out.clear();
    }
    assert_eq!(ex.in_flight(), 0);
    log.0.borrow().clone()
}

fn kinds() -> impl Strategy<Value = Option<(ErrorKind, Option<u64>)>> {
    prop_oneof![
        3 => Just(None),
        2 => (0usize..12, proptest::option::of(0u64..3000)).prop_map(|(i, ra)| Some((ErrorKind::ALL[i], ra))),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (1u64..2000, kinds(), 0i64..1_000_000).prop_map(|(ms, error, cost)| Step { ms, error, cost }),
        1..12,
    )
}

fn plans() -> impl Strategy<Value = Plan> {
    (
        proptest::collection::vec(0u16..4, 0..5),
        100u64..3000,
        proptest::option::of(1u32..8),
        proptest::option::of(500u64..8000),
        proptest::option::of(1u64..6000),
    )
        .prop_map(|(chain, timeout, max_attempts, deadline, max_wait)| {
            let mut p = Plan::chain(chain.into_iter().map(EndpointIdx).collect());
            p.attempt_timeout_ms = timeout;
            p.max_attempts = max_attempts;
            p.deadline_ms = deadline;
            p.max_wait_ms = max_wait;
            p
        })
}

fn actions() -> impl Strategy<Value = Option<ErrorAction>> {
    prop_oneof![
        Just(None),
        Just(Some(ErrorAction::Retry)),
        Just(Some(ErrorAction::Next)),
        Just(Some(ErrorAction::Fail))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn executor_keeps_its_guarantees(
        plan in plans(),
        on_error in actions(),
        script in steps(),
        n in 1u64..20,
        streak in 1u32..4,
        open_ms in 10u64..500,
    ) {
        let deadline = plan.deadline_ms;
        let breaker = BreakerSettings {
            failure_rate: 0.5,
            min_requests: 4,
            window_ms: 10_000,
            consecutive_failures: streak,
            open_ms,
            half_open_probes: 1,
        };
        let recs = run_setup(Setup { on_error, breaker: Some(breaker), ..Setup::new(plan) }, &script, n);
        // No attempt reaches an endpoint while its breaker is open; half-open
        // only as a probe.
        let mut state: BTreeMap<EndpointIdx, BreakerState> = BTreeMap::new();
        for r in &recs {
            match r {
                Rec::Breaker { endpoint, to } => { state.insert(*endpoint, *to); }
                Rec::Start { endpoint, probe, .. } => {
                    let s = state.get(endpoint).copied().unwrap_or_default();
                    prop_assert!(s != BreakerState::Open, "attempt on open breaker {:?}", endpoint);
                    prop_assert_eq!(*probe, s == BreakerState::HalfOpen, "probe flag matches the state");
                }
                _ => {}
            }
        }
        let mut finished = BTreeMap::new();
        let mut per_req: BTreeMap<u64, Vec<&Rec>> = BTreeMap::new();
        for r in &recs {
            let req = match r {
                Rec::Start { req, .. } | Rec::End { req, .. } | Rec::Finished { req, .. } => *req,
                Rec::Breaker { .. } => continue,
            };
            per_req.entry(req).or_default().push(r);
            if let Rec::Finished { req, outcome, .. } = r {
                prop_assert!(finished.insert(*req, *outcome).is_none(), "request {} finished twice", req);
            }
        }
        // No attempt reaches an endpoint before a Retry-After it announced
        // (to any request) has passed.
        let mut not_before: BTreeMap<EndpointIdx, u64> = BTreeMap::new();
        for r in &recs {
            match r {
                Rec::Start { at, endpoint, .. } => {
                    prop_assert!(*at >= not_before.get(endpoint).copied().unwrap_or(0), "Retry-After ignored at {}", at);
                }
                Rec::End { at, endpoint, retry_after: Some(ra), .. } => {
                    let e = not_before.entry(*endpoint).or_insert(0);
                    *e = (*e).max(at + ra);
                }
                _ => {}
            }
        }
        // Exactly one outcome per request.
        prop_assert_eq!(finished.len() as u64, n);
        for (req, recs) in per_req {
            let arrived = req * 10;
            let starts: Vec<_> = recs.iter().filter_map(|r| match r {
                Rec::Start { at, endpoint, limit, .. } => Some((*at, *endpoint, *limit)),
                _ => None,
            }).collect();
            // Attempts never exceed the plan's limit.
            if let Some(&(_, _, limit)) = starts.first() {
                prop_assert!(starts.len() as u32 <= limit, "{} attempts, limit {}", starts.len(), limit);
            }
            // No attempt starts at or after the deadline.
            if let Some(d) = deadline {
                for &(at, _, _) in &starts {
                    prop_assert!(at < arrived + d, "attempt at {} after deadline {}", at, arrived + d);
                }
            }
            // No second attempt on an endpoint after a fatal kind.
            let mut dead = Vec::new();
            for r in &recs {
                match r {
                    Rec::Start { endpoint, .. } => {
                        prop_assert!(!dead.contains(endpoint), "retry on {:?} after fatal", endpoint);
                    }
                    Rec::End { endpoint, kind: Some(k), .. } if k.is_fatal_for_endpoint() => dead.push(*endpoint),
                    _ => {}
                }
            }
            // Money is conserved: the outcome's cost is the sum of its attempts'.
            let attempt_cost: i64 = recs.iter().map(|r| match r { Rec::End { cost, .. } => *cost, _ => 0 }).sum();
            let outcome_cost = recs.iter().find_map(|r| match r { Rec::Finished { cost, .. } => Some(*cost), _ => None });
            prop_assert_eq!(Some(attempt_cost), outcome_cost);
        }
    }
}

fn step(ms: u64, error: Option<ErrorKind>) -> Step {
    Step { ms, error: error.map(|k| (k, None)), cost: 1 }
}

fn outcome_of(recs: &[Rec]) -> (Outcome, u32) {
    recs.iter()
        .find_map(|r| match r {
            Rec::Finished { outcome, attempts, .. } => Some((*outcome, *attempts)),
            _ => None,
        })
        .unwrap()
}

#[test]
fn retryable_errors_fail_over_to_the_next_endpoint_by_default() {
    let plan = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]);
    let recs = run(plan, None, &[step(20, Some(ErrorKind::Overloaded)), step(500, None)], 1, Backoff::default());
    assert_eq!(outcome_of(&recs), (Outcome::Succeeded, 2));
}

#[test]
fn fatal_kinds_without_failover_fail_with_the_upstream_reason() {
    let plan = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]);
    let recs = run(plan, None, &[step(20, Some(ErrorKind::Auth)), step(500, None)], 1, Backoff::default());
    assert_eq!(outcome_of(&recs), (Outcome::Failed(FailReason::Upstream(ErrorKind::Auth)), 1));
}

#[test]
fn a_timeout_cuts_the_attempt_and_fails_over() {
    let mut plan = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]);
    plan.attempt_timeout_ms = 1000;
    let recs = run(plan, None, &[step(5000, None), step(300, None)], 1, Backoff::default());
    assert_eq!(outcome_of(&recs), (Outcome::Succeeded, 2));
    assert!(recs.iter().any(|r| matches!(r, Rec::End { at: 1000, kind: Some(ErrorKind::Timeout), .. })));
}

#[test]
fn the_deadline_ends_the_request() {
    let mut plan = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]);
    plan.deadline_ms = Some(800);
    let recs = run(plan, None, &[step(5000, None)], 1, Backoff::default());
    assert_eq!(outcome_of(&recs), (Outcome::Failed(FailReason::Deadline), 1));
}

#[test]
fn retry_waits_for_backoff_and_retry_after() {
    let mut plan = Plan::chain(vec![EndpointIdx(0)]);
    plan.max_attempts = Some(3);
    let script = [Step { ms: 20, error: Some((ErrorKind::RateLimited, Some(2000))), cost: 0 }, step(100, None)];
    let recs = run(
        plan,
        Some(ErrorAction::Retry),
        &script,
        1,
        Backoff(RetrySettings { base_ms: 100, max_ms: 100, jitter: JitterKind::None }),
    );
    let starts: Vec<u64> = recs
        .iter()
        .filter_map(|r| match r {
            Rec::Start { at, .. } => Some(*at),
            _ => None,
        })
        .collect();
    assert_eq!(starts, vec![0, 2020], "second attempt after the 2 s Retry-After, not the 100 ms backoff");
    assert_eq!(outcome_of(&recs), (Outcome::Succeeded, 2));
}

/// Plan `max_wait_ms`: a request that finds every endpoint held back by a
/// Retry-After waits for the first to come free instead of failing at once,
/// and without it fails with the upstream's reason.
#[test]
fn with_max_wait_a_request_waits_for_a_held_endpoint_instead_of_failing() {
    // Request 0 gets a 429 with a 1 s Retry-After on each endpoint; request
    // 1 arrives at 10 ms, when both are held.
    let script = [
        Step { ms: 2, error: Some((ErrorKind::RateLimited, Some(1_000))), cost: 0 },
        Step { ms: 2, error: Some((ErrorKind::RateLimited, Some(1_500))), cost: 0 },
        step(100, None),
    ];
    let chain = vec![EndpointIdx(0), EndpointIdx(1)];
    let finished = |recs: &[Rec], req: u64| {
        recs.iter()
            .find_map(|r| match r {
                Rec::Finished { req: q, outcome, .. } if *q == req => Some(*outcome),
                _ => None,
            })
            .unwrap()
    };
    let recs = run(Plan::chain(chain.clone()), None, &script, 2, Backoff::default());
    assert_eq!(finished(&recs, 1), Outcome::Failed(FailReason::Upstream(ErrorKind::RateLimited)));

    let mut plan = Plan::chain(chain.clone());
    plan.max_wait_ms = Some(2_000);
    let recs = run(plan, None, &script, 2, Backoff::default());
    assert_eq!(finished(&recs, 1), Outcome::Succeeded);
    // Its one attempt starts when endpoint 0's Retry-After ends (2 + 1000 ms),
    // not before.
    let first = starts(&recs).into_iter().find(|s| s.0 == 1).unwrap();
    assert_eq!((first.1, first.2), (1_002, EndpointIdx(0)));
    // Request 0 used its whole chain: without more attempts it does not wait.
    assert_eq!(finished(&recs, 0), Outcome::Failed(FailReason::Upstream(ErrorKind::RateLimited)));

    // A wait longer than the allowance is not taken.
    let mut plan = Plan::chain(chain);
    plan.max_wait_ms = Some(500);
    let recs = run(plan, None, &script, 2, Backoff::default());
    assert_eq!(finished(&recs, 1), Outcome::Failed(FailReason::Upstream(ErrorKind::RateLimited)));
}

#[test]
fn an_empty_chain_fails_with_no_endpoint() {
    let recs = run(Plan::chain(vec![]), None, &[step(1, None)], 1, Backoff::default());
    assert_eq!(outcome_of(&recs), (Outcome::Failed(FailReason::NoEndpoint), 0));
}

fn starts(recs: &[Rec]) -> Vec<(u64, u64, EndpointIdx)> {
    recs.iter()
        .filter_map(|r| match r {
            Rec::Start { at, req, endpoint, .. } => Some((*req, *at, *endpoint)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_hedge_starts_after_the_delay_and_the_loser_is_cancelled_and_billed() {
    let mut plan = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]);
    plan.hedge_after_ms = Some(100);
    plan.max_attempts = Some(2);
    let recs = run(plan, None, &[step(1000, None), step(50, None)], 1, Backoff::default());
    assert_eq!(starts(&recs), vec![(0, 0, EndpointIdx(0)), (0, 100, EndpointIdx(1))]);
    let finished = recs.iter().find_map(|r| match r {
        Rec::Finished { outcome, cost, .. } => Some((*outcome, *cost)),
        _ => None,
    });
    assert_eq!(finished, Some((Outcome::Succeeded, 1 + 7)), "winner's cost plus the loser's partial bill");
}

#[test]
fn a_cascade_escalates_until_an_answer_is_accepted_or_the_chain_ends() {
    let plan = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1), EndpointIdx(2)]);
    let setup = Setup { accept_at: Some(0.95), quality: 0.9, ..Setup::new(plan.clone()) };
    let recs = run_setup(setup, &[step(100, None)], 1);
    assert_eq!(outcome_of(&recs), (Outcome::Succeeded, 3), "every tier tried, the last answer stands");
    let finished = recs.iter().find_map(|r| match r {
        Rec::Finished { cost, .. } => Some(*cost),
        _ => None,
    });
    assert_eq!(finished, Some(3), "every step's cost counts");
    let setup = Setup { accept_at: Some(0.5), quality: 0.9, ..Setup::new(plan) };
    assert_eq!(outcome_of(&run_setup(setup, &[step(100, None)], 1)), (Outcome::Succeeded, 1));
}

#[test]
fn endpoints_whose_window_cannot_hold_the_request_are_skipped() {
    let mut setup = Setup::new(Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]));
    setup.facts[0].context_window = Some(50); // 100 input + 10 max_tokens do not fit
    let recs = run_setup(setup, &[step(10, None)], 3);
    assert!(starts(&recs).iter().all(|s| s.2 == EndpointIdx(1)), "{:?}", starts(&recs));
    let mut setup = Setup::new(Plan::chain(vec![EndpointIdx(0)]));
    setup.facts[0].context_window = Some(50);
    let recs = run_setup(setup, &[step(10, None)], 1);
    assert_eq!(outcome_of(&recs), (Outcome::Failed(FailReason::Upstream(ErrorKind::ContextExceeded)), 0));
}

/// Live mode: an upstream refuses a request for its length although the
/// scenario's window (and the proxy's count) said it fits. Failover goes
/// only to a larger window; an unlimited window that refused leaves none.
#[test]
fn after_a_context_length_refusal_only_a_larger_window_is_tried() {
    let chain = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1), EndpointIdx(2)]);
    let mut setup = Setup::new(chain.clone());
    setup.facts[0].context_window = Some(8_000);
    setup.facts[1].context_window = Some(8_000);
    setup.facts[2].context_window = Some(128_000);
    let recs = run_setup(setup, &[step(10, Some(ErrorKind::ContextExceeded)), step(10, None)], 1);
    let went: Vec<EndpointIdx> = starts(&recs).iter().map(|s| s.2).collect();
    assert_eq!(went, [EndpointIdx(0), EndpointIdx(2)], "the equal window is skipped");
    assert_eq!(outcome_of(&recs), (Outcome::Succeeded, 2));
    // Every window unlimited: none is larger than the one that refused.
    let recs = run_setup(Setup::new(chain), &[step(10, Some(ErrorKind::ContextExceeded)), step(10, None)], 1);
    assert_eq!(outcome_of(&recs), (Outcome::Failed(FailReason::Upstream(ErrorKind::ContextExceeded)), 1));
}

#[test]
fn a_request_the_budget_cannot_cover_is_rejected_before_any_attempt() {
    let mut setup = Setup::new(Plan::chain(vec![EndpointIdx(0)]));
    setup.facts[0].prices = vec![(
        0,
        Price {
            input: PricePerMtok::from_usd(1.0),
            output: PricePerMtok::from_usd(1.0),
            cached_input: PricePerMtok::from_usd(1.0),
            cache_write: PricePerMtok::from_usd(1.0),
            long_context: None,
        },
    )];
    // Each request may cost 110 tokens × $1/Mtok = 110,000 nano-dollars; 250,000 covers two.
    setup.budgets.insert("default".into(), Nanodollars(250_000));
    let script = [Step { ms: 10, error: None, cost: 110_000 }];
    let recs = run_setup(setup, &script, 3);
    let outcomes: BTreeMap<u64, Outcome> = recs
        .iter()
        .filter_map(|r| match r {
            Rec::Finished { req, outcome, .. } => Some((*req, *outcome)),
            _ => None,
        })
        .collect();
    // The third arrives while the first is settled and the second still holds its reservation.
    let expected = [(0, Outcome::Succeeded), (1, Outcome::Succeeded), (2, Outcome::Rejected(RejectReason::Budget))];
    assert_eq!(outcomes, BTreeMap::from(expected));
}

#[test]
fn an_open_breaker_diverts_traffic_until_a_probe_succeeds() {
    let mut setup = Setup::new(Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]));
    setup.breaker = Some(BreakerSettings {
        failure_rate: 1.0,
        min_requests: 1000,
        window_ms: 60_000,
        consecutive_failures: 2,
        open_ms: 100,
        half_open_probes: 1,
    });
    // Endpoint 0 fails twice (opens), then works; requests arrive every 10 ms.
    let script =
        [step(1, Some(ErrorKind::Overloaded)), step(1, None), step(1, Some(ErrorKind::Overloaded)), step(1, None)];
    let recs = run_setup(setup, &[script.as_slice(), &[step(1, None); 40]].concat(), 30);
    let on_zero: Vec<u64> = starts(&recs).iter().filter(|s| s.2 == EndpointIdx(0)).map(|s| s.1).collect();
    // Opened at t=11 (second failure); nothing reaches endpoint 0 until t >= 111.
    assert!(on_zero.iter().all(|&t| t <= 10 || t >= 111), "{on_zero:?}");
    assert!(on_zero.iter().any(|&t| t >= 111), "traffic returns after the open period: {on_zero:?}");
}

#[test]
fn cutoffs_apply_attempt_ttft_and_stall_timeouts() {
    let c = Cutoffs { timeout_at: 10_000, first_token_by: Some(1_000), stall_ms: Some(200), deadline_at: u64::MAX };
    assert_eq!(c.cut_at(Some(500), 5_000, 50), None, "in time, no long silence");
    assert_eq!(c.cut_at(Some(1_500), 5_000, 50), Some(1_000), "first token too late");
    assert_eq!(c.cut_at(None, 5_000, 0), Some(1_000), "never a first token");
    assert_eq!(c.cut_at(Some(500), 5_000, 300), Some(700), "a 300 ms silence after the first token");
    assert_eq!(c.cut_at(Some(500), 20_000, 50), Some(10_000), "the attempt timeout");
}

#[test]
fn after_a_hedge_fails_first_failover_goes_past_both_attempts() {
    // Review finding: the original attempt's failure used to send the
    // request back to the hedge's endpoint.
    let mut plan = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1), EndpointIdx(2)]);
    plan.hedge_after_ms = Some(100);
    plan.max_attempts = Some(3);
    let script = [step(2000, Some(ErrorKind::Overloaded)), step(50, Some(ErrorKind::Overloaded)), step(10, None)];
    let recs = run(plan, None, &script, 1, Backoff::default());
    assert_eq!(starts(&recs), vec![(0, 0, EndpointIdx(0)), (0, 100, EndpointIdx(1)), (0, 2000, EndpointIdx(2))]);
    assert_eq!(outcome_of(&recs), (Outcome::Succeeded, 3));
}

#[test]
fn a_cascade_whose_next_tier_fails_answers_with_the_answer_it_turned_down() {
    let plan = Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]);
    let setup = Setup { accept_at: Some(0.95), quality: 0.9, ..Setup::new(plan) };
    let recs = run_setup(setup, &[step(100, None), step(100, Some(ErrorKind::Overloaded))], 1);
    assert_eq!(outcome_of(&recs), (Outcome::Succeeded, 2));
}

/// Records the first endpoint's in-flight count at each `route` call, and
/// says it reads no health statistics (as a script reading only
/// `e.inflight` does).
struct SeesInflight(Rc<RefCell<Vec<u32>>>);

impl Planner for SeesInflight {
    fn needs_health(&self) -> bool {
        false
    }

    fn route(&mut self, _: &Request, ctx: &RouteContext<'_>) -> Result<Plan, PolicyFailure> {
        self.0.borrow_mut().push(ctx.health[0].inflight);
        Ok(Plan::chain(vec![EndpointIdx(0)]))
    }
}

#[test]
fn inflight_is_current_even_when_the_planner_reads_no_health_statistics() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut ex = Executor::from_seed(SeesInflight(seen.clone()), facts(1), &BTreeMap::new(), &Streams::from_seed(1));
    let mut out = Vec::new();
    for i in 0..3u64 {
        ex.submit(i, Request::new(i, i, 100, 10), None, &mut NullSink, &mut out);
    }
    assert!(out.iter().filter(|a| matches!(a, Action::Start { .. })).count() == 3, "{out:?}");
    assert_eq!(*seen.borrow(), [0, 1, 2], "each request sees the attempts started before it");
}

/// After the first byte of a streamed answer reached the client, a failure
/// ends the request with that failure: no silent failover to an endpoint that
/// would start the answer again. Before it, failover is invisible.
#[test]
fn a_committed_stream_fails_instead_of_failing_over() {
    let planner = Scripted {
        plan: Plan::chain(vec![EndpointIdx(0), EndpointIdx(1)]),
        on_error: None,
        backoff: Backoff::default(),
        accept_at: None,
        breaker: None,
    };
    let run = |first_token: bool, ttft_in_report: bool| {
        let mut ex = Executor::from_seed(planner_clone(&planner), facts(2), &BTreeMap::new(), &Streams::from_seed(1));
        ex.keep_concluded();
        let (mut out, log) = (Vec::new(), Log::default());
        let mut sink = log.clone();
        let mut req = Request::new(0, 0, 100, 50);
        req.stream = true;
        let flight = ex.submit(0, req, None, &mut sink, &mut out);
        let Some(Action::Start { id, .. }) = out.pop() else { panic!("an attempt starts") };
        if first_token {
            ex.on_first_token(100, id, &mut out);
        }
        let usage = Usage { input_tokens: 100, output_tokens: 20, cost: Nanodollars(5), ..Usage::default() };
        let ttft = ttft_in_report.then_some(100);
        let report = AttemptReport::failure(AttemptError::new(ErrorKind::StreamCut), usage, ttft);
        ex.on_report(500, id, report, &mut sink, &mut out);
        let concluded = ex.take_concluded();
        (flight, concluded, out)
    };
    // Told by the driver (live).
    let (flight, concluded, out) = run(true, false);
    assert!(out.is_empty(), "no failover attempt: {out:?}");
    assert_eq!(concluded.len(), 1);
    assert_eq!(concluded[0].flight, flight);
    assert_eq!(concluded[0].outcome, Outcome::Failed(FailReason::Upstream(ErrorKind::StreamCut)));
    // Inferred from a streamed report with a first token (simulator).
    let (_, concluded, out) = run(false, true);
    assert!(out.is_empty() && concluded.len() == 1, "{out:?}");
    // No first token: the failure fails over, unseen by the client.
    let (_, concluded, out) = run(false, false);
    assert!(concluded.is_empty());
    assert!(matches!(out.as_slice(), [Action::Start { endpoint: EndpointIdx(1), .. }]), "{out:?}");
}

fn planner_clone(p: &Scripted) -> Scripted {
    Scripted {
        plan: p.plan.clone(),
        on_error: p.on_error,
        backoff: Backoff(p.backoff.0),
        accept_at: p.accept_at,
        breaker: p.breaker,
    }
}

/// Routes everything to endpoint 0 and records what `cached_tokens` showed
/// it; `reads` is what it tells the executor of reading them.
struct SeesCached {
    reads: bool,
    seen: Rc<RefCell<Vec<Vec<u32>>>>,
}

impl Planner for SeesCached {
    fn needs_cached_tokens(&self) -> bool {
        self.reads
    }

    fn route(&mut self, _: &Request, ctx: &RouteContext<'_>) -> Result<Plan, PolicyFailure> {
        self.seen.borrow_mut().push(ctx.cached_tokens.iter().map(|c| c.read).collect());
        Ok(Plan::chain(vec![EndpointIdx(0)]))
    }
}

/// A policy swapped in (a live hot reload) that reads `cached_tokens` gets
/// the gateway's view of the prompt caches from then on, where the policy
/// it replaced read none and the executor kept none.
#[test]
fn a_replacing_policy_that_reads_cached_tokens_gets_the_view_from_then_on() {
    let mut f = facts(2);
    for e in &mut f {
        e.prompt_cache = Some(PromptCacheSpec { ttl_ms: 60_000, min_tokens: 1024, block_tokens: 512 });
    }
    let seen = Rc::new(RefCell::new(Vec::new()));
    let planner = |reads| SeesCached { reads, seen: seen.clone() };
    let mut ex = Executor::from_seed(planner(false), f, &BTreeMap::new(), &Streams::from_seed(1));
    let turn = |seq: u64| {
        let mut r = Request::new(seq, seq, 2048, 10);
        r.hash_ids = Some(vec![1, 2, 3, 4].into_boxed_slice());
        r
    };
    let mut out = Vec::new();
    ex.submit(0, turn(0), None, &mut NullSink, &mut out);
    ex.replace_planner(planner(true));
    ex.submit(1, turn(1), None, &mut NullSink, &mut out);
    ex.submit(2, turn(2), None, &mut NullSink, &mut out);
    assert_eq!(out.iter().filter(|a| matches!(a, Action::Start { .. })).count(), 3, "{out:?}");
    // Before: no view. Just after the swap: an empty one (what was sent
    // before is not known). Then: the second turn's blocks, on endpoint 0 only.
    assert_eq!(*seen.borrow(), [vec![], vec![0, 0], vec![2048, 0]]);
}
