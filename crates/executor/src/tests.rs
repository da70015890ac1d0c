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
#[derive(Clone, Debug)]
struct Step {
    ms: u64,
    error: Option<(ErrorKind, Option<u64>)>,
    cost: i64,
}

/// A policy with a fixed plan and a scripted on_error answer.
struct Scripted {
    plan: Plan,
    on_error: Option<ErrorAction>,
}

impl Planner for Scripted {
    fn route(&mut self, _: u64, _: &Request) -> Result<Plan, PolicyFailure> {
        Ok(self.plan.clone())
    }
    fn on_error(&mut self, _: &Request, _: &AttemptInfo, _: &AttemptError) -> Option<ErrorAction> {
        self.on_error
    }
}

#[derive(Debug, Clone)]
enum Rec {
    Start { at: u64, req: u64, endpoint: EndpointIdx, limit: u32 },
    End { at: u64, req: u64, endpoint: EndpointIdx, kind: Option<ErrorKind>, retry_after: Option<u64>, cost: i64 },
    Finished { req: u64, outcome: Outcome, attempts: u32, cost: i64 },
}

#[derive(Default, Clone)]
struct Log(Rc<RefCell<Vec<Rec>>>);

impl EventSink for Log {
    fn record(&mut self, e: &Event<'_>) {
        let rec = match *e {
            Event::AttemptStarted { at, req, endpoint, attempt_limit, .. } => {
                Rec::Start { at, req: req.seq, endpoint, limit: attempt_limit }
            }
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
    let log = Log::default();
    let mut sink = log.clone();
    let mut ex = Executor::from_seed(Scripted { plan, on_error }, ExecutorSettings { backoff }, &Streams::from_seed(1));
    enum Ev {
        Arrive(u64),
        Done(AttemptId, AttemptReport),
        Wake(FlightId),
    }
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
            Ev::Arrive(i) => ex.submit(now, Request::new(i, now, 100, 10), None, &mut sink, &mut out),
            Ev::Done(id, report) => ex.on_report(now, id, report, &mut sink, &mut out),
            Ev::Wake(f) => ex.on_wake(now, f, &mut sink, &mut out),
        }
        for a in out.drain(..) {
            match a {
                Action::Start { id, cutoffs, .. } => {
                    let step = &script[k % script.len()];
                    k += 1;
                    let usage = Usage { input_tokens: 100, output_tokens: 10, cost: Nanodollars(step.cost) };
                    let (at, report) = match (&step.error, cutoffs.cut_at(Some(now + step.ms), now + step.ms)) {
                        (_, Some(cut)) => {
                            (cut, AttemptReport::failure(AttemptError::new(ErrorKind::Timeout), usage, None))
                        }
                        (None, None) => (now + step.ms, AttemptReport::success(usage, 0.9, Some(step.ms))),
                        (Some((kind, ra)), None) => {
                            let mut e = AttemptError::new(*kind);
                            e.retry_after_ms = *ra;
                            (now + step.ms, AttemptReport::failure(e, usage, None))
                        }
                    };
                    push(&mut heap, &mut evs, at, Ev::Done(id, report));
                }
                Action::Wake { flight, at } => push(&mut heap, &mut evs, at, Ev::Wake(flight)),
            }
        }
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
    )
        .prop_map(|(chain, timeout, max_attempts, deadline)| {
            let mut p = Plan::chain(chain.into_iter().map(EndpointIdx).collect());
            p.attempt_timeout_ms = timeout;
            p.max_attempts = max_attempts;
            p.deadline_ms = deadline;
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
    fn executor_keeps_its_guarantees(plan in plans(), on_error in actions(), script in steps(), n in 1u64..20) {
        let deadline = plan.deadline_ms;
        let recs = run(plan, on_error, &script, n, Backoff::default());
        let mut finished = BTreeMap::new();
        let mut per_req: BTreeMap<u64, Vec<&Rec>> = BTreeMap::new();
        for r in &recs {
            let req = match r { Rec::Start { req, .. } | Rec::End { req, .. } | Rec::Finished { req, .. } => *req };
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
            let starts: Vec<_> = recs.iter().filter_map(|r| match r { Rec::Start { at, endpoint, limit, .. } => Some((*at, *endpoint, *limit)), _ => None }).collect();
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
    let recs =
        run(plan, Some(ErrorAction::Retry), &script, 1, Backoff { base_ms: 100, max_ms: 100, jitter: Jitter::None });
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

#[test]
fn an_empty_chain_fails_with_no_endpoint() {
    let recs = run(Plan::chain(vec![]), None, &[step(1, None)], 1, Backoff::default());
    assert_eq!(outcome_of(&recs), (Outcome::Failed(FailReason::NoEndpoint), 0));
}
