//! The executor: a state machine that carries each request's plan out.
//!
//! It is sans-IO. The driver feeds it arrivals ([`Executor::submit`]),
//! attempt reports ([`Executor::on_report`]), cancellations it asked for
//! ([`Executor::on_cancelled`]) and wake-ups ([`Executor::on_wake`]); it
//! answers with [`Action`]s and writes the event log. It never reads a clock
//! and never sleeps: the simulator's event loop and tokio drive the very same
//! code.
//!
//! This file holds the [`Executor`], its public entry points and how a
//! request ends (`finish`). The rest, one concept a module:
//! - `flight` — a request in flight ([`FlightId`], [`AttemptId`], the
//!   attempts it has out, the endpoints it has tried) and the slots holding
//!   flights;
//! - `claim` — which chain entry takes the next attempt, moving on to it
//!   (`advance`), waiting for a held one (plan `max_wait_ms`), and the outcome
//!   when none is left;
//! - `attempt` — starting an attempt ([`Cutoffs`]) and settling it;
//! - `errors` — a failed attempt: Retry-After and quota holds, fatal kinds,
//!   `on_error`, retry and failover (the order is in its docs);
//! - `cascade` — an answer: `accept`, the fallback answer, concluding;
//! - `hedge` — scheduling and starting a hedge.

mod attempt;
mod cascade;
mod claim;
mod errors;
mod flight;
mod hedge;

pub use attempt::Cutoffs;
pub use errors::QUOTA_BENCH_MS;
pub use flight::{AttemptId, FlightId};

use crate::backoff::Backoff;
use crate::breaker::{Breaker, Transition};
use crate::budget::Ledger;
use crate::health::HealthWindow;
use flight::Flight;
use std::collections::BTreeMap;
use windtunnel_core::{
    AttemptReport, EndpointFacts, EndpointIdx, ErrorKind, Event, EventSink, FailReason, Health, KeyedStream,
    Nanodollars, Outcome, Plan, Planner, PolicyErrorTally, PolicySettings, PromptCache, RejectReason, Request,
    RouteContext, Streams, Usage,
};

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
    /// The deferred first attempt is due (plan `start_after_ms`).
    Start,
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

struct EndpointState {
    breaker: Breaker,
    health: HealthWindow,
    not_before: u64,
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
    /// Per endpoint: whether it continues an assistant message, for a
    /// mid-stream rescue (live mode); empty = no rescues (the simulator).
    rescuers: Vec<bool>,
    /// Per endpoint with `prompt_cache`: the prompt blocks the gateway sent
    /// it within the TTL (its estimate of the provider's cache).
    prefixes: Vec<Option<PromptCache>>,
    /// Per endpoint, the routed request's cached input tokens (empty when no
    /// endpoint has `prompt_cache`), for the policy's `cached_tokens` and
    /// `est_cost`.
    cached_view: Vec<windtunnel_core::CacheUse>,
    /// The UTC time of day at time 0, for `ctx.time_of_day_ms`.
    start_of_day_ms: u64,
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
        // The gateway's view of prompt caches, only for a policy that reads it.
        let (prefixes, cached_view) =
            if planner.needs_cached_tokens() { prompt_cache_view(&facts) } else { (Vec::new(), Vec::new()) };
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
            rescuers: Vec::new(),
            prefixes,
            cached_view,
            start_of_day_ms: 0,
        }
    }

    /// Sets the UTC time of day (ms since midnight) at time 0: the trace's
    /// `start_at` in simulation, the wall clock at start in live mode.
    pub fn set_start_of_day(&mut self, ms: u64) {
        self.start_of_day_ms = ms;
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

    /// Per endpoint, what its prompt cache would do with `req`'s prompt at
    /// `now` (the input tokens it holds, those it would write), into
    /// `cached_view`.
    fn estimate_cached(&mut self, now: u64, req: &Request) {
        for (i, slot) in self.cached_view.iter_mut().enumerate() {
            let (Some(Some(cache)), Some(f)) = (self.prefixes.get(i), self.facts.get(i)) else { continue };
            *slot = cache.peek(now, req, f.tokens(req).0, f.tokenizer.for_request(req));
        }
    }

    /// When `endpoint` may next be tried (a Retry-After or a quota bench).
    pub fn not_before(&self, endpoint: EndpointIdx) -> u64 {
        self.endpoints.get(endpoint.get()).map_or(0, |e| e.not_before)
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
        if !self.cached_view.is_empty() {
            self.estimate_cached(now, &req);
        }
        let ctx = RouteContext {
            now_ms: now,
            facts: &self.facts,
            health: &self.health_view,
            budgets: &self.ledger,
            cached_tokens: &self.cached_view,
            start_of_day_ms: self.start_of_day_ms,
        };
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
        let id = self.vacant_slot();
        let rejected = plan.is_none();
        let plan = plan.unwrap_or_else(|| Plan::chain(Vec::new()));
        let deadline = [req.deadline_ms, plan.deadline_ms, class_deadline_ms].into_iter().flatten().min();
        self.flights[id.slot as usize] = Some(Flight {
            generation: id.generation,
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
            refused_window: None,
        });
        if rejected {
            self.finish(now, id, Outcome::Rejected(RejectReason::Policy), log);
            return id;
        }
        // Deferred (plan `start_after_ms`): the first attempt waits, but
        // never past the deadline.
        if let Some(Some(f)) = self.flights.get(id.slot as usize)
            && let Some(defer) = f.plan.start_after_ms
        {
            let at = now.saturating_add(defer).min(f.deadline_at.saturating_sub(1)).max(now);
            if at > now {
                out.push(Action::Wake { flight: id, at, kind: WakeKind::Start, token: f.wake_token });
                return id;
            }
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
        // A policy that starts reading `cached_tokens` gets the view from
        // now on (empty: what was sent before is not known).
        if planner.needs_cached_tokens() && self.prefixes.is_empty() {
            (self.prefixes, self.cached_view) = prompt_cache_view(&self.facts);
        }
        self.planner = planner;
    }

    /// Asks the executor to keep a [`Concluded`] record of every request that
    /// ends, for [`Executor::take_concluded`]: live drivers answer their
    /// clients from them. Off by default (the simulator reads the event log).
    pub fn keep_concluded(&mut self) {
        self.concluded = Some(Vec::new());
    }

    /// Enables mid-stream rescue: `accepts_prefill[e]` says whether endpoint
    /// `e` continues an assistant message. A committed stream whose attempt
    /// fails then continues on the next chain entry that does (an attempt
    /// like any other), instead of ending with the failure.
    pub fn set_rescue_targets(&mut self, accepts_prefill: Vec<bool>) {
        self.rescuers = accepts_prefill;
    }

    /// The requests that ended since the last call, in order.
    pub fn take_concluded(&mut self) -> Vec<Concluded> {
        self.concluded.as_mut().map(std::mem::take).unwrap_or_default()
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
            Ok(_) => self.on_answer(now, id, r, &report, log, out),
            Err(_) => self.on_failure(now, id, r, &report, log, out),
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
                let Some(w) = f.wait.as_deref().copied() else { return };
                self.advance(now, flight, 0, w.failed, log, out);
            }
            WakeKind::Hedge => self.start_hedge(now, flight, pos, log, out),
            WakeKind::Retry => self.retry_now(now, flight, pos, log, out),
            WakeKind::Start => self.advance(now, flight, 0, None, log, out),
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
            endpoint: answer.map(|a| a.endpoint),
            ttft_ms: answer.and_then(|a| a.ttft_ms),
            cost: f.cost,
            quality: answer.map(|a| a.quality),
        });
        if let Some(c) = self.concluded.as_mut() {
            c.push(Concluded {
                flight: id,
                outcome,
                endpoint: answer.map(|a| a.endpoint),
                attempts: f.attempts,
                cost: f.cost,
            });
        }
        self.release_slot(id);
    }
}

fn breaker_event(at: u64, endpoint: EndpointIdx, t: Transition) -> Event<'static> {
    Event::Breaker { at, endpoint, from: t.from, to: t.to }
}

/// An empty gateway view of every caching endpoint's prompt cache, and the
/// per-endpoint slots `cached_tokens(req)` is read from (none when no
/// endpoint caches).
fn prompt_cache_view(facts: &[EndpointFacts]) -> (Vec<Option<PromptCache>>, Vec<windtunnel_core::CacheUse>) {
    let prefixes: Vec<Option<PromptCache>> = facts.iter().map(|f| f.prompt_cache.map(PromptCache::new)).collect();
    let cached_view = if prefixes.iter().any(Option::is_some) {
        vec![windtunnel_core::CacheUse::default(); facts.len()]
    } else {
        Vec::new()
    };
    (prefixes, cached_view)
}
