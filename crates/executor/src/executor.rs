//! The executor: a state machine that carries each request's plan out.
//!
//! It is sans-IO. The driver feeds it arrivals ([`Executor::submit`]),
//! attempt reports ([`Executor::on_report`]), cancellations it asked for
//! ([`Executor::on_cancelled`]) and wake-ups ([`Executor::on_wake`]); it
//! answers with [`Action`]s and writes the event log. It never reads a clock
//! and never sleeps: the simulator's event loop and tokio drive the very same
//! code.
//!
//! What happens after a failed attempt (`after_error`), in order:
//! 1. a Retry-After holds the endpoint off for everyone; a quota benches it;
//! 2. a fatal kind marks the endpoint done for this request;
//! 3. the policy's `on_error` answers retry / next / fail (SPEC's defaults
//!    without it); "retry" after a fatal kind becomes "next";
//! 4. past the deadline the request fails with `deadline`; at the attempt
//!    limit with the upstream's reason;
//! 5. retry waits for backoff (and any Retry-After); next takes the next chain
//!    entry that is usable: not done for this request, not held off, its
//!    breaker admitting, the prompt fitting its window, the budget covering it.

use crate::backoff::Backoff;
use crate::breaker::{Admission, Breaker, Transition};
use crate::budget::Ledger;
use crate::health::HealthWindow;
use std::collections::BTreeMap;
use windtunnel_core::{
    AttemptError, AttemptInfo, AttemptReport, EndpointFacts, EndpointIdx, ErrorAction, ErrorKind, Event, EventSink,
    FailReason, Health, KeyedStream, Nanodollars, Outcome, Plan, Planner, PolicyErrorTally, PolicySettings,
    RejectReason, Request, ResponseInfo, RouteContext, Streams, Usage,
};

/// A request in flight: slot and generation, so a late report for a finished
/// request is recognised and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlightId {
    slot: u32,
    generation: u32,
}

impl FlightId {
    /// The slot: dense, reused after the request finishes. Drivers may index by it.
    pub fn slot(self) -> usize {
        self.slot as usize
    }
}

/// One attempt of one flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptId {
    /// The request.
    pub flight: FlightId,
    /// 1-based attempt number across the chain.
    pub attempt: u32,
}

/// Why the executor wants to be woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeKind {
    /// Retry on the same endpoint after backoff.
    Retry,
    /// Start a hedge if the first attempt is still out.
    Hedge,
    /// Every endpoint left was held back (Retry-After, open breaker, quota
    /// bench): try the chain again now that the first has come free (plan
    /// `max_wait_ms`).
    Wait,
}

/// What the driver must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start an attempt now and report it through [`Executor::on_report`].
    Start {
        /// Which attempt.
        id: AttemptId,
        /// Where.
        endpoint: EndpointIdx,
        /// 1-based count of this request's attempts on this endpoint.
        endpoint_attempt: u32,
        /// When to give up on it.
        cutoffs: Cutoffs,
    },
    /// Give up an attempt now and report what it consumed through
    /// [`Executor::on_cancelled`] (before any other call).
    Cancel {
        /// Which attempt.
        id: AttemptId,
    },
    /// Call [`Executor::on_wake`] for this flight at `at`.
    Wake {
        /// The request.
        flight: FlightId,
        /// When.
        at: u64,
        /// Why.
        kind: WakeKind,
        /// Only the latest wake of a flight counts.
        token: u32,
    },
}

/// When the driver cuts an attempt short and reports a timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    /// The whole attempt must end by then (attempt timeout or request deadline).
    pub timeout_at: u64,
    /// The first token must arrive by then (streams with a TTFT timeout).
    pub first_token_by: Option<u64>,
    /// Streams: the longest silence allowed between chunks.
    pub stall_ms: Option<u64>,
}

impl Cutoffs {
    /// When an attempt that would deliver its first token at `first_token_at`,
    /// fall silent for at most `max_silence_ms` between chunks, and end at
    /// `done_at` is cut, if it is.
    pub fn cut_at(&self, first_token_at: Option<u64>, done_at: u64, max_silence_ms: u64) -> Option<u64> {
        let ttft_cut = match (self.first_token_by, first_token_at) {
            (Some(by), Some(ft)) if ft > by => Some(by),
            (Some(by), None) if done_at > by => Some(by),
            _ => None,
        };
        // The first silence longer than the stall timeout ends the attempt.
        let stall_cut = match (self.stall_ms, first_token_at) {
            (Some(stall), Some(ft)) if max_silence_ms > stall => Some(ft.saturating_add(stall)),
            _ => None,
        };
        let cut = ttft_cut.unwrap_or(u64::MAX).min(stall_cut.unwrap_or(u64::MAX)).min(self.timeout_at);
        (cut < done_at).then_some(cut)
    }
}

/// How long an endpoint that answered `quota_exceeded` is benched when it
/// gave no Retry-After. Quotas reset on the scale of minutes (per-minute
/// spend caps) to months (credits); a minute keeps a refreshed quota from
/// going unused for long while sparing the endpoint a storm of doomed attempts.
pub const QUOTA_BENCH_MS: u64 = 60_000;

#[derive(Clone, Copy, Debug)]
struct Running {
    attempt: u32,
    endpoint: EndpointIdx,
    pos: usize,
    started_at: u64,
    reserved: Nanodollars,
    probe: bool,
}

struct Flight {
    generation: u32,
    req: Request,
    plan: Plan,
    arrived: u64,
    deadline_at: u64,
    attempts: u32,
    /// Chain position of the latest attempt.
    pos: usize,
    /// Per endpoint tried: attempts made there and whether it is done for
    /// this request (a fatal error).
    tried: Vec<(EndpointIdx, u32, bool)>,
    running: Vec<Running>,
    cost: Nanodollars,
    retries_here: u32,
    wake_token: u32,
    hedged: bool,
    last_error: Option<ErrorKind>,
    /// An accepted answer waiting for cancelled hedges to report.
    answer: Option<(EndpointIdx, f64, Option<u64>)>,
    /// The best answer a cascade's `accept` turned down: if every later tier
    /// fails, the request is answered with it rather than failed.
    fallback: Option<(EndpointIdx, f64, Option<u64>)>,
    /// Plan `max_wait_ms`: set while the request waits for a held endpoint.
    wait: Option<Waiting>,
    /// The first byte of an answer reached the client: no silent failover.
    committed: bool,
}

/// A flight waiting for a held endpoint to come free.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    /// No wait may end after this: the first wait's start plus `max_wait_ms`.
    until: u64,
    /// The failure that led here, for the failover event.
    failed: Option<(EndpointIdx, ErrorKind)>,
}

struct EndpointState {
    breaker: Breaker,
    health: HealthWindow,
    not_before: u64,
}

/// Why no chain entry could take the request, for its outcome.
#[derive(Clone, Copy, Debug, Default)]
struct Skips {
    budget: bool,
    context: bool,
    held_off: bool,
}

/// Carries out plans. Generic over the policy.
pub struct Executor<P> {
    planner: P,
    settings: PolicySettings,
    backoff: Backoff,
    facts: Vec<EndpointFacts>,
    endpoints: Vec<EndpointState>,
    health_view: Vec<Health>,
    ledger: Ledger,
    flights: Vec<Option<Flight>>,
    free: Vec<u32>,
    generations: Vec<u32>,
    backoff_draws: KeyedStream,
    policy_errors: PolicyErrorTally,
    /// Requests that ended, kept for live drivers (see [`Executor::keep_concluded`]).
    concluded: Option<Vec<Concluded>>,
}

/// How a request ended, for a live driver to answer its client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Concluded {
    /// The request.
    pub flight: FlightId,
    /// Its outcome.
    pub outcome: Outcome,
    /// The endpoint whose answer it got, for a success.
    pub endpoint: Option<EndpointIdx>,
    /// Attempts made.
    pub attempts: u32,
    /// What it cost.
    pub cost: Nanodollars,
}

impl<P: Planner> Executor<P> {
    /// An executor for `planner` over endpoints with `facts`, tenants'
    /// `budgets`, and random draws (backoff jitter) from `streams`.
    pub fn from_seed(
        planner: P,
        facts: Vec<EndpointFacts>,
        budgets: &BTreeMap<String, Nanodollars>,
        streams: &Streams,
    ) -> Executor<P> {
        let settings = planner.settings();
        let backoff = Backoff(settings.retry);
        let endpoints = facts
            .iter()
            .map(|f| EndpointState {
                breaker: Breaker::new(settings.breaker),
                health: HealthWindow::new(settings.breaker.window_ms, f.quality),
                not_before: 0,
            })
            .collect();
        let health_view = facts.iter().map(|f| Health { quality: f.quality, ..Health::default() }).collect();
        Executor {
            planner,
            settings,
            backoff,
            facts,
            endpoints,
            health_view,
            ledger: Ledger::new(budgets),
            flights: Vec::new(),
            free: Vec::new(),
            generations: Vec::new(),
            backoff_draws: streams.keyed("executor:backoff"),
            policy_errors: PolicyErrorTally::default(),
            concluded: None,
        }
    }

    /// Failed policy calls (route, on_error, accept): the count and the first.
    pub fn policy_errors(&self) -> &PolicyErrorTally {
        &self.policy_errors
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.flights.len() - self.free.len()
    }

    /// The request of a flight, for the driver's adapter calls.
    pub fn request(&self, flight: FlightId) -> Option<&Request> {
        self.flight(flight).map(|f| &f.req)
    }

    /// When `endpoint` may next be tried (a Retry-After or a quota bench).
    pub fn not_before(&self, endpoint: EndpointIdx) -> u64 {
        self.endpoints.get(endpoint.get()).map_or(0, |e| e.not_before)
    }

    fn flight(&self, id: FlightId) -> Option<&Flight> {
        self.flights.get(id.slot as usize)?.as_ref().filter(|f| f.generation == id.generation)
    }

    fn flight_mut(&mut self, id: FlightId) -> Option<&mut Flight> {
        self.flights.get_mut(id.slot as usize)?.as_mut().filter(|f| f.generation == id.generation)
    }

    /// Moves breakers whose open period is over to half-open.
    fn poll_breakers(&mut self, now: u64, log: &mut impl EventSink) {
        for (i, e) in self.endpoints.iter_mut().enumerate() {
            if let (_, Some(t)) = e.breaker.poll(now) {
                log.record(&breaker_event(now, EndpointIdx(i as u16), t));
            }
        }
    }

    /// A request arrives at `now`. `class_deadline_ms` is its SLA class's
    /// deadline, if any.
    pub fn submit(
        &mut self,
        now: u64,
        req: Request,
        class_deadline_ms: Option<u64>,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) -> FlightId {
        log.record(&Event::Arrived { at: now, req: &req });
        self.poll_breakers(now, log);
        let refresh = self.planner.needs_health();
        for (i, e) in self.endpoints.iter_mut().enumerate() {
            let h = &mut self.health_view[i];
            if refresh {
                *h = *e.health.snapshot(now);
            }
            h.breaker = e.breaker.state();
            h.rate_limited_until_ms = e.not_before;
            h.inflight = e.health.inflight();
        }
        let ctx = RouteContext { now_ms: now, facts: &self.facts, health: &self.health_view, budgets: &self.ledger };
        let routed = self.planner.route(&req, &ctx);
        let plan = match routed {
            Ok(mut plan) => {
                plan.chain.retain(|e| e.get() < self.facts.len());
                Some(plan)
            }
            Err(failure) => {
                self.policy_errors.record(failure, &req, now);
                self.settings.default_chain.clone().map(Plan::chain)
            }
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.flights.push(None);
                self.generations.push(0);
                (self.flights.len() - 1) as u32
            }
        };
        let generation = self.generations[slot as usize];
        let id = FlightId { slot, generation };
        let rejected = plan.is_none();
        let plan = plan.unwrap_or_else(|| Plan::chain(Vec::new()));
        let deadline = [req.deadline_ms, plan.deadline_ms, class_deadline_ms].into_iter().flatten().min();
        self.flights[slot as usize] = Some(Flight {
            generation,
            req,
            plan,
            arrived: now,
            deadline_at: deadline.map_or(u64::MAX, |d| now.saturating_add(d)),
            attempts: 0,
            pos: 0,
            tried: Vec::new(),
            running: Vec::new(),
            cost: Nanodollars::ZERO,
            retries_here: 0,
            wake_token: 0,
            hedged: false,
            last_error: None,
            answer: None,
            fallback: None,
            wait: None,
            committed: false,
        });
        if rejected {
            self.finish(now, id, Outcome::Rejected(RejectReason::Policy), log);
            return id;
        }
        self.advance(now, id, 0, None, log, out);
        id
    }

    /// The first byte of attempt `id`'s answer has gone to the client: the
    /// request is committed to it. Other attempts still out (a hedge) are
    /// cancelled, and a failure of this attempt from now on ends the request
    /// with that failure instead of failing over silently (the client already
    /// holds part of an answer). Live drivers call it when they forward the
    /// first chunk; the simulator infers it from a streamed attempt's report.
    pub fn on_first_token(&mut self, _now: u64, id: AttemptId, out: &mut Vec<Action>) {
        let Some(f) = self.flight_mut(id.flight) else { return };
        if f.committed || !f.running.iter().any(|r| r.attempt == id.attempt) {
            return;
        }
        f.committed = true;
        for r in f.running.iter().filter(|r| r.attempt != id.attempt) {
            out.push(Action::Cancel { id: AttemptId { flight: id.flight, attempt: r.attempt } });
        }
    }

    /// Swaps the policy, for requests that arrive from now on (a hot reload).
    /// Requests in flight keep their plans; their later `on_error` and
    /// `accept` calls go to the new policy. Breaker and retry settings stay
    /// those the executor was built with.
    pub fn replace_planner(&mut self, planner: P) {
        self.planner = planner;
    }

    /// Asks the executor to keep a [`Concluded`] record of every request that
    /// ends, for [`Executor::take_concluded`]: live drivers answer their
    /// clients from them. Off by default (the simulator reads the event log).
    pub fn keep_concluded(&mut self) {
        self.concluded = Some(Vec::new());
    }

    /// The requests that ended since the last call, in order.
    pub fn take_concluded(&mut self) -> Vec<Concluded> {
        self.concluded.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Starts the first usable chain entry at or after `from`; when there is
    /// none, ends the request (unless a hedge is still out).
    fn advance(
        &mut self,
        now: u64,
        id: FlightId,
        from: usize,
        failed: Option<(EndpointIdx, ErrorKind)>,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        let mut skips = Skips::default();
        match self.claim(now, id, from, &mut skips) {
            Some(claim) => {
                if let (Some((from_e, kind)), Some(f)) = (failed, self.flight(id))
                    && f.plan.chain[claim.pos] != from_e
                {
                    let to = f.plan.chain[claim.pos];
                    log.record(&Event::Failover { at: now, req: &f.req, from: from_e, to, reason: kind });
                }
                if let Some(f) = self.flight_mut(id) {
                    f.retries_here = 0;
                }
                self.start_attempt(now, id, claim, log, out);
            }
            None => {
                let Some(f) = self.flight(id) else { return };
                if !f.running.is_empty() {
                    return; // a hedge is still out; its report decides
                }
                if self.wait_for_free(now, id, failed, out) {
                    return;
                }
                let Some(f) = self.flight(id) else { return };
                let outcome = match (f.last_error, f.attempts) {
                    _ if now >= f.deadline_at => Outcome::Failed(FailReason::Deadline),
                    (Some(k), _) => Outcome::Failed(FailReason::Upstream(k)),
                    (None, 0) if skips.budget => Outcome::Rejected(RejectReason::Budget),
                    (None, _) if skips.context => Outcome::Failed(FailReason::Upstream(ErrorKind::ContextExceeded)),
                    (None, _) if skips.held_off => Outcome::Failed(FailReason::Upstream(ErrorKind::RateLimited)),
                    (None, _) if skips.budget => Outcome::Rejected(RejectReason::Budget),
                    (None, _) => Outcome::Failed(FailReason::NoEndpoint),
                };
                self.finish(now, id, outcome, log);
            }
        }
    }

    /// Plan `max_wait_ms`: when no chain entry can take the request now but
    /// one is only held back (a Retry-After or quota bench that ends, an open
    /// breaker that turns half-open), asks to be woken when the first comes
    /// free, if that is within the request's waiting allowance, its deadline
    /// and its attempt limit; the chain is then claimed again from its start.
    /// True when the request waits.
    fn wait_for_free(
        &mut self,
        now: u64,
        id: FlightId,
        failed: Option<(EndpointIdx, ErrorKind)>,
        out: &mut Vec<Action>,
    ) -> bool {
        let Some(f) = self.flight(id) else { return false };
        let Some(max_wait) = f.plan.max_wait_ms else { return false };
        if f.attempts >= f.plan.attempt_limit() || now >= f.deadline_at {
            return false;
        }
        let free_at = f
            .plan
            .chain
            .iter()
            .filter(|e| !f.tried.iter().any(|&(t, _, dead)| t == **e && dead))
            .filter_map(|e| {
                let state = &self.endpoints[e.get()];
                if state.not_before > now {
                    Some(state.not_before.max(state.breaker.reopens_at().unwrap_or(0)))
                } else {
                    state.breaker.reopens_at()
                }
            })
            .min();
        let Some(free_at) = free_at.filter(|&t| t > now) else { return false };
        let until = f.wait.map_or(now.saturating_add(max_wait), |w| w.until);
        if free_at > until || free_at >= f.deadline_at {
            return false;
        }
        let Some(f) = self.flight_mut(id) else { return false };
        f.wait = Some(Waiting { until, failed });
        f.wake_token += 1;
        out.push(Action::Wake { flight: id, at: free_at, kind: WakeKind::Wait, token: f.wake_token });
        true
    }

    /// Finds the first usable chain entry at or after `from` and reserves its cost.
    fn claim(&mut self, now: u64, id: FlightId, from: usize, skips: &mut Skips) -> Option<Claim> {
        let f = self.flights.get(id.slot as usize)?.as_ref().filter(|f| f.generation == id.generation)?;
        if f.attempts >= f.plan.attempt_limit() || now >= f.deadline_at {
            return None;
        }
        for pos in from..f.plan.chain.len() {
            let e = f.plan.chain[pos];
            if f.tried.iter().any(|&(t, _, dead)| t == e && dead) {
                continue;
            }
            let state = &mut self.endpoints[e.get()];
            if state.not_before > now {
                skips.held_off = true;
                continue;
            }
            // Counted once for the window and the reservation.
            let facts = &self.facts[e.get()];
            let tokens = facts.tokens(&f.req);
            if !facts.fits_tokens(tokens) {
                skips.context = true;
                continue;
            }
            let probe = match state.breaker.admit() {
                Admission::Allow => false,
                Admission::Probe => true,
                Admission::Deny => continue,
            };
            let amount = facts.max_cost_tokens(tokens, now);
            if !self.ledger.reserve(&f.req.tenant, amount) {
                skips.budget = true;
                continue;
            }
            return Some(Claim { pos, probe, reserved: amount, tokens });
        }
        None
    }

    fn start_attempt(&mut self, now: u64, id: FlightId, claim: Claim, log: &mut impl EventSink, out: &mut Vec<Action>) {
        let Claim { pos, probe, reserved, tokens } = claim;
        let Some(Some(f)) = self.flights.get_mut(id.slot as usize) else { return };
        let endpoint = f.plan.chain[pos];
        f.pos = pos;
        f.attempts += 1;
        let endpoint_attempt = match f.tried.iter_mut().find(|t| t.0 == endpoint) {
            Some(t) => {
                t.1 += 1;
                t.1
            }
            None => {
                f.tried.push((endpoint, 1, false));
                1
            }
        };
        f.running.push(Running { attempt: f.attempts, endpoint, pos, started_at: now, reserved, probe });
        let state = &mut self.endpoints[endpoint.get()];
        state.health.started();
        if probe {
            state.breaker.probe_sent();
        }
        let attempt_end = now.saturating_add(f.plan.attempt_timeout_ms);
        let cutoffs = Cutoffs {
            timeout_at: attempt_end.min(f.deadline_at),
            first_token_by: f.plan.ttft_timeout_ms.filter(|_| f.req.stream).map(|t| now.saturating_add(t)),
            stall_ms: f.plan.stall_timeout_ms.filter(|_| f.req.stream),
        };
        log.record(&Event::AttemptStarted {
            at: now,
            req: &f.req,
            attempt: f.attempts,
            endpoint,
            attempt_limit: f.plan.attempt_limit(),
            probe,
            tokens,
            plan_deadline_ms: f.plan.deadline_ms,
        });
        out.push(Action::Start {
            id: AttemptId { flight: id, attempt: f.attempts },
            endpoint,
            endpoint_attempt,
            cutoffs,
        });
        if let Some(h) = f.plan.hedge_after_ms
            && !f.hedged
            && f.running.len() == 1
            && f.attempts < f.plan.attempt_limit()
        {
            f.wake_token += 1;
            let at = now.saturating_add(h);
            out.push(Action::Wake { flight: id, at, kind: WakeKind::Hedge, token: f.wake_token });
        }
    }

    /// Removes a running attempt, settles its money and health; returns it.
    fn settle(&mut self, now: u64, id: AttemptId, usage: &Usage, health: Option<Result<f64, ()>>) -> Option<Running> {
        let f =
            self.flights.get_mut(id.flight.slot as usize)?.as_mut().filter(|f| f.generation == id.flight.generation)?;
        let i = f.running.iter().position(|r| r.attempt == id.attempt)?;
        let r = f.running.swap_remove(i);
        f.cost += usage.cost;
        self.ledger.settle(&f.req.tenant, r.reserved, usage.cost);
        let state = &mut self.endpoints[r.endpoint.get()];
        state.health.finished(now, health.map(|h| h.map(|q| (now - r.started_at, q))));
        Some(r)
    }

    fn record_breaker(&mut self, now: u64, r: &Running, verdict: Option<bool>, log: &mut impl EventSink) {
        let state = &mut self.endpoints[r.endpoint.get()];
        match verdict {
            Some(success) => {
                if let Some(t) = state.breaker.record(now, success, r.probe) {
                    log.record(&breaker_event(now, r.endpoint, t));
                }
            }
            None if r.probe => state.breaker.probe_abandoned(),
            None => {}
        }
    }

    /// The report of an attempt: its natural end, or a cut-off the driver
    /// applied (then `report` is a timeout with what was consumed).
    pub fn on_report(
        &mut self,
        now: u64,
        id: AttemptId,
        report: AttemptReport,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        self.poll_breakers(now, log);
        let Some(f) = self.flight(id.flight) else { return };
        let Some(r) = f.running.iter().find(|r| r.attempt == id.attempt).copied() else { return };
        log.record(&Event::AttemptFinished {
            at: now,
            req: &f.req,
            attempt: id.attempt,
            endpoint: r.endpoint,
            started_at: r.started_at,
            report: &report,
        });
        // An attempt cut because the *request* ran out of time says nothing
        // about the endpoint: it does not count in breakers or error rates.
        let deadline_cut = now >= f.deadline_at;
        let verdict = match &report.result {
            Ok(_) => Some(true),
            Err(e) if e.kind.counts_against_health() && !deadline_cut => Some(false),
            Err(_) => None,
        };
        let health = match (&report.result, verdict) {
            (Ok(resp), _) => Some(Ok(resp.quality)),
            (Err(_), Some(false)) => Some(Err(())),
            _ => None,
        };
        if self.settle(now, id, &report.usage, health).is_none() {
            return;
        }
        self.record_breaker(now, &r, verdict, log);
        match report.result {
            Ok(resp) => {
                let Some(Some(f)) = self.flights.get(id.flight.slot as usize) else { return };
                let ttft = report.ttft_ms.map(|t| (r.started_at - f.arrived).saturating_add(t));
                let others_running = !f.running.is_empty();
                if self.planner.has_accept() {
                    let info = ResponseInfo {
                        endpoint: r.endpoint,
                        quality: resp.quality,
                        latency_ms: now - r.started_at,
                        ttft_ms: report.ttft_ms,
                        output_tokens: report.usage.output_tokens,
                        cost: report.usage.cost,
                    };
                    let accepted = match self.planner.accept(&f.req, &info) {
                        Ok(a) => a,
                        Err(failure) => {
                            self.policy_errors.record(failure, &f.req, now);
                            true
                        }
                    };
                    if !accepted {
                        let candidate = (r.endpoint, resp.quality, ttft);
                        let Some(f) = self.flight_mut(id.flight) else { return };
                        if f.fallback.is_none_or(|b| candidate.1 > b.1) {
                            f.fallback = Some(candidate);
                        }
                        if others_running {
                            return; // a hedge is still out: its answer may be accepted
                        }
                        let from = f.pos.max(r.pos) + 1;
                        let mut skips = Skips::default();
                        if let Some(claim) = self.claim(now, id.flight, from, &mut skips) {
                            self.start_attempt(now, id.flight, claim, log, out);
                            return;
                        }
                        // No tier left: the last answer stands.
                    }
                }
                self.conclude(now, id.flight, (r.endpoint, resp.quality, ttft), log, out);
            }
            Err(err) => {
                // A streamed answer whose first byte went out cannot fail over
                // unseen: the request ends with this failure.
                let committed =
                    self.flight(id.flight).is_some_and(|f| f.committed || (f.req.stream && report.ttft_ms.is_some()));
                if committed {
                    self.note_error(now, id.flight, r.endpoint, &err);
                    let Some(f) = self.flight_mut(id.flight) else { return };
                    f.last_error = Some(err.kind);
                    f.committed = true;
                    let others: Vec<u32> = f.running.iter().map(|r| r.attempt).collect();
                    if others.is_empty() {
                        return self.finish(now, id.flight, Outcome::Failed(FailReason::Upstream(err.kind)), log);
                    }
                    for attempt in others {
                        out.push(Action::Cancel { id: AttemptId { flight: id.flight, attempt } });
                    }
                    return;
                }
                if self.flight(id.flight).is_some_and(|f| !f.running.is_empty()) {
                    // A hedge is still out: let it answer.
                    if let Some(f) = self.flight_mut(id.flight) {
                        f.last_error = Some(err.kind);
                    }
                    self.note_error(now, id.flight, r.endpoint, &err);
                    return;
                }
                self.after_error(now, id.flight, r, &err, log, out);
            }
        }
    }

    /// Succeeds the request, cancelling other attempts still out first.
    fn conclude(
        &mut self,
        now: u64,
        id: FlightId,
        answer: (EndpointIdx, f64, Option<u64>),
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        let Some(f) = self.flight_mut(id) else { return };
        if f.running.is_empty() {
            f.answer = Some(answer);
            return self.finish(now, id, Outcome::Succeeded, log);
        }
        f.answer = Some(answer);
        for r in &f.running {
            out.push(Action::Cancel { id: AttemptId { flight: id, attempt: r.attempt } });
        }
    }

    /// An attempt the executor asked to cancel, with what it consumed.
    pub fn on_cancelled(&mut self, now: u64, id: AttemptId, usage: Usage, log: &mut impl EventSink) {
        let Some(f) = self.flight(id.flight) else { return };
        let Some(r) = f.running.iter().find(|r| r.attempt == id.attempt).copied() else { return };
        log.record(&Event::AttemptCancelled { at: now, req: &f.req, attempt: id.attempt, endpoint: r.endpoint, usage });
        self.settle(now, id, &usage, None);
        self.record_breaker(now, &r, None, log);
        if let Some(f) = self.flight(id.flight)
            && f.running.is_empty()
        {
            if f.answer.is_some() {
                self.finish(now, id.flight, Outcome::Succeeded, log);
            } else if f.committed {
                // The committed attempt failed; the others are now called off.
                let kind = f.last_error.unwrap_or(ErrorKind::StreamCut);
                self.finish(now, id.flight, Outcome::Failed(FailReason::Upstream(kind)), log);
            }
        }
    }

    /// Retry-After and quota bench, and the fatal mark, for one error.
    fn note_error(&mut self, now: u64, id: FlightId, endpoint: EndpointIdx, err: &AttemptError) {
        let hold = match (err.retry_after_ms, err.kind) {
            (Some(ra), _) => Some(now.saturating_add(ra)),
            (None, ErrorKind::QuotaExceeded) => Some(now.saturating_add(QUOTA_BENCH_MS)),
            _ => None,
        };
        if let Some(until) = hold {
            let nb = &mut self.endpoints[endpoint.get()].not_before;
            *nb = (*nb).max(until);
        }
        if err.kind.is_fatal_for_endpoint()
            && let Some(f) = self.flight_mut(id)
            && let Some(t) = f.tried.iter_mut().find(|t| t.0 == endpoint)
        {
            t.2 = true;
        }
    }

    fn after_error(
        &mut self,
        now: u64,
        id: FlightId,
        r: Running,
        err: &AttemptError,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        self.note_error(now, id, r.endpoint, err);
        let Some(Some(f)) = self.flights.get_mut(id.slot as usize) else { return };
        f.last_error = Some(err.kind);
        let info = AttemptInfo { number: r.attempt, endpoint: r.endpoint, elapsed_ms: now - f.arrived };
        let asked = match self.planner.on_error(&f.req, &info, err) {
            Ok(a) => a,
            Err(failure) => {
                self.policy_errors.record(failure, &f.req, now);
                None
            }
        };
        let default = if err.kind.fails_over_by_default() { ErrorAction::Next } else { ErrorAction::Fail };
        let mut action = asked.unwrap_or(default);
        if action == ErrorAction::Retry && err.kind.is_fatal_for_endpoint() {
            action = ErrorAction::Next; // SPEC: never retry an endpoint after a fatal kind
        }
        let (attempts, limit, deadline_at, seq) = (f.attempts, f.plan.attempt_limit(), f.deadline_at, f.req.seq);
        if now >= deadline_at {
            return self.finish(now, id, Outcome::Failed(FailReason::Deadline), log);
        }
        let failed = Outcome::Failed(FailReason::Upstream(err.kind));
        if action == ErrorAction::Fail || attempts >= limit {
            return self.finish(now, id, failed, log);
        }
        match action {
            ErrorAction::Retry => {
                f.retries_here += 1;
                let retry = f.retries_here;
                let backoff = self.backoff.wait_ms(retry, self.backoff_draws.at(seq, u64::from(attempts)));
                let at = (now + backoff).max(self.endpoints[r.endpoint.get()].not_before);
                if at >= deadline_at {
                    return self.finish(now, id, Outcome::Failed(FailReason::Deadline), log);
                }
                f.pos = r.pos;
                f.wake_token += 1;
                out.push(Action::Wake { flight: id, at, kind: WakeKind::Retry, token: f.wake_token });
            }
            ErrorAction::Next | ErrorAction::Fail => {
                // From the furthest position reached: after a hedge, `r` may
                // be the earlier of two attempts.
                let from = self.flight(id).map_or(r.pos, |f| f.pos.max(r.pos)) + 1;
                self.advance(now, id, from, Some((r.endpoint, err.kind)), log, out);
            }
        }
    }

    /// A wake-up the executor asked for.
    pub fn on_wake(
        &mut self,
        now: u64,
        flight: FlightId,
        kind: WakeKind,
        token: u32,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        if self.flight(flight).is_none_or(|f| f.wake_token != token || f.answer.is_some()) {
            return;
        }
        self.poll_breakers(now, log);
        let Some(f) = self.flight(flight) else { return };
        let pos = f.pos;
        match kind {
            WakeKind::Wait => {
                let Some(w) = f.wait else { return };
                self.advance(now, flight, 0, w.failed, log, out);
            }
            WakeKind::Hedge => {
                if f.running.len() != 1 || f.hedged {
                    return;
                }
                let mut skips = Skips::default();
                if let Some(claim) = self.claim(now, flight, pos + 1, &mut skips) {
                    if let Some(f) = self.flight_mut(flight) {
                        f.hedged = true;
                    }
                    self.start_attempt(now, flight, claim, log, out);
                }
            }
            WakeKind::Retry => {
                let endpoint = f.plan.chain[pos];
                let ready = self.not_before(endpoint);
                let last = f.last_error.unwrap_or(ErrorKind::ServerError);
                if now >= f.deadline_at || ready >= f.deadline_at {
                    return self.finish(now, flight, Outcome::Failed(FailReason::Deadline), log);
                }
                if ready > now {
                    // Another request's 429 pushed the endpoint back.
                    if let Some(f) = self.flight_mut(flight) {
                        f.wake_token += 1;
                        out.push(Action::Wake { flight, at: ready, kind, token: f.wake_token });
                    }
                    return;
                }
                let mut skips = Skips::default();
                match self.claim(now, flight, pos, &mut skips) {
                    Some(claim) if claim.pos == pos => self.start_attempt(now, flight, claim, log, out),
                    Some(Claim { reserved, .. }) => {
                        // The endpoint cannot take it now (breaker, budget): give
                        // the reservation back and move on.
                        if let Some(f) = self.flight(flight) {
                            let tenant = f.req.tenant.clone();
                            self.ledger.settle(&tenant, reserved, Nanodollars::ZERO);
                        }
                        self.advance(now, flight, pos + 1, Some((endpoint, last)), log, out);
                    }
                    None => self.advance(now, flight, pos + 1, Some((endpoint, last)), log, out),
                }
            }
        }
    }

    fn finish(&mut self, now: u64, id: FlightId, outcome: Outcome, log: &mut impl EventSink) {
        // Read in place and dropped in place below: a flight is large, and
        // moving it out cost a copy (or two) per request.
        let Some(Some(f)) = self.flights.get(id.slot as usize) else { return };
        // A cascade that turned an answer down and then found nothing better
        // answers with the best it turned down.
        let (outcome, answer) = match (outcome, f.fallback) {
            (Outcome::Failed(_), Some(fb)) => (Outcome::Succeeded, Some(fb)),
            (o, _) => (o, f.answer.filter(|_| o == Outcome::Succeeded)),
        };
        log.record(&Event::Finished {
            at: now,
            req: &f.req,
            outcome,
            attempts: f.attempts,
            endpoint: answer.map(|a| a.0),
            ttft_ms: answer.and_then(|a| a.2),
            cost: f.cost,
            quality: answer.map(|a| a.1),
        });
        if let Some(c) = self.concluded.as_mut() {
            c.push(Concluded {
                flight: id,
                outcome,
                endpoint: answer.map(|a| a.0),
                attempts: f.attempts,
                cost: f.cost,
            });
        }
        if let Some(slot) = self.flights.get_mut(id.slot as usize) {
            end_flight(slot);
        }
        self.generations[id.slot as usize] = self.generations[id.slot as usize].wrapping_add(1);
        self.free.push(id.slot);
    }
}

/// Drops a finished flight where it lies. A function of its own: written
/// inline in `finish`, the compiler built a whole empty `Option<Flight>` on
/// the stack and copied all 440 bytes of it over the slot.
#[inline(never)]
fn end_flight(slot: &mut Option<Flight>) {
    *slot = None;
}

/// A chain entry that can take the next attempt, its cost reserved.
#[derive(Clone, Copy, Debug)]
struct Claim {
    /// Its position in the chain.
    pos: usize,
    /// A half-open breaker's probe.
    probe: bool,
    /// The budget reservation.
    reserved: Nanodollars,
    /// The request's (input, max_tokens) as the endpoint counts them, for
    /// the `AttemptStarted` event.
    tokens: (u32, u32),
}

fn breaker_event(at: u64, endpoint: EndpointIdx, t: Transition) -> Event<'static> {
    Event::Breaker { at, endpoint, from: t.from, to: t.to }
}
