//! The executor: a state machine that carries each request's plan out.
//!
//! It is sans-IO. The driver feeds it arrivals ([`Executor::submit`]),
//! attempt reports ([`Executor::on_report`]) and wake-ups
//! ([`Executor::on_wake`]); it answers with [`Action`]s (start an attempt with
//! these cut-offs, wake me at `t`) and writes the event log. It never reads a
//! clock and never sleeps: the simulator's event loop and tokio drive the very
//! same code.

use crate::backoff::Backoff;
use windtunnel_core::{
    AttemptError, AttemptInfo, AttemptReport, EndpointIdx, ErrorAction, ErrorKind, Event, EventSink, FailReason,
    KeyedStream, Nanodollars, Outcome, Plan, Planner, Request, Streams,
};

/// A request in flight: slot and generation, so a late report for a finished
/// request is recognised and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlightId {
    slot: u32,
    generation: u32,
}

/// One attempt of one flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttemptId {
    /// The request.
    pub flight: FlightId,
    /// 1-based attempt number across the chain.
    pub attempt: u32,
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
    /// Call [`Executor::on_wake`] for this flight at `at` (retry backoff).
    Wake {
        /// The request.
        flight: FlightId,
        /// When.
        at: u64,
    },
}

/// When the driver cuts an attempt short and reports a timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    /// The whole attempt must end by then (attempt timeout or request deadline).
    pub timeout_at: u64,
    /// The first token must arrive by then (streams with a TTFT timeout).
    pub first_token_by: Option<u64>,
    /// Whether reaching `timeout_at` is the request's deadline.
    pub is_deadline: bool,
}

impl Cutoffs {
    /// When an attempt that would deliver its first token at `first_token_at`
    /// and end at `done_at` is cut, if it is.
    pub fn cut_at(&self, first_token_at: Option<u64>, done_at: u64) -> Option<u64> {
        let ttft_cut = match (self.first_token_by, first_token_at) {
            (Some(by), Some(ft)) if ft > by => Some(by),
            (Some(by), None) if done_at > by => Some(by),
            _ => None,
        };
        let cut = ttft_cut.unwrap_or(u64::MAX).min(self.timeout_at);
        (cut < done_at).then_some(cut)
    }
}

/// Executor settings that are not per-plan.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExecutorSettings {
    /// Backoff between retries on one endpoint.
    pub backoff: Backoff,
}

struct Flight {
    generation: u32,
    req: Request,
    plan: Plan,
    arrived: u64,
    deadline_at: u64,
    attempts: u32,
    /// Position in the chain of the endpoint now tried.
    pos: usize,
    /// Per endpoint tried: attempts made there and whether it is done for this
    /// request (a fatal error).
    tried: Vec<(EndpointIdx, u32, bool)>,
    attempt_started_at: u64,
    cost: Nanodollars,
    last_error: Option<ErrorKind>,
    retries_here: u32,
}

/// Carries out plans. Generic over the policy.
pub struct Executor<P> {
    planner: P,
    settings: ExecutorSettings,
    flights: Vec<Option<Flight>>,
    free: Vec<u32>,
    generations: Vec<u32>,
    backoff_draws: KeyedStream,
    policy_errors: u64,
    /// Per endpoint: no attempt before this time (a Retry-After it announced,
    /// or a quota bench).
    not_before: Vec<u64>,
}

/// How long an endpoint that answered `quota_exceeded` is benched when it
/// gave no Retry-After. Quotas reset on the scale of minutes (per-minute
/// spend caps) to months (credits); a minute keeps a refreshed quota from
/// going unused for long while sparing the endpoint a storm of doomed attempts.
pub const QUOTA_BENCH_MS: u64 = 60_000;

impl<P: Planner> Executor<P> {
    /// An executor for `planner` whose random draws (backoff jitter) come from `streams`.
    pub fn from_seed(planner: P, settings: ExecutorSettings, streams: &Streams) -> Executor<P> {
        Executor {
            planner,
            settings,
            flights: Vec::new(),
            free: Vec::new(),
            generations: Vec::new(),
            backoff_draws: streams.keyed("executor:backoff"),
            policy_errors: 0,
            not_before: Vec::new(),
        }
    }

    /// Calls of `route` that failed and fell back to the default plan.
    pub fn policy_errors(&self) -> u64 {
        self.policy_errors
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.flights.len() - self.free.len()
    }

    /// The request of a flight, for the driver's adapter calls.
    pub fn request(&self, flight: FlightId) -> Option<&Request> {
        self.flight(flight).map(|f| &f.req)
    }

    fn flight(&self, id: FlightId) -> Option<&Flight> {
        self.flights.get(id.slot as usize)?.as_ref().filter(|f| f.generation == id.generation)
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
    ) {
        log.record(&Event::Arrived { at: now, req: &req });
        let plan = match self.planner.route(now, &req) {
            Ok(plan) => plan,
            Err(_) => {
                self.policy_errors += 1;
                self.planner.default_plan()
            }
        };
        let deadline = [req.deadline_ms, plan.deadline_ms, class_deadline_ms].into_iter().flatten().min();
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.flights.push(None);
                self.generations.push(0);
                (self.flights.len() - 1) as u32
            }
        };
        let generation = self.generations[slot as usize];
        self.flights[slot as usize] = Some(Flight {
            generation,
            req,
            plan,
            arrived: now,
            deadline_at: deadline.map_or(u64::MAX, |d| now.saturating_add(d)),
            attempts: 0,
            pos: 0,
            tried: Vec::new(),
            attempt_started_at: now,
            cost: Nanodollars::ZERO,
            last_error: None,
            retries_here: 0,
        });
        let id = FlightId { slot, generation };
        match self.next_usable(now, id, 0) {
            Some(pos) => self.start_attempt(now, id, pos, log, out),
            None => self.finish(now, id, Outcome::Failed(FailReason::NoEndpoint), None, None, log),
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
        let Some(f) = self.flight(id.flight) else { return };
        if f.attempts != id.attempt {
            return; // a stale report of an attempt the executor moved past
        }
        let endpoint = f.plan.chain[f.pos];
        log.record(&Event::AttemptFinished {
            at: now,
            req: &f.req,
            attempt: id.attempt,
            endpoint,
            started_at: f.attempt_started_at,
            report: &report,
        });
        let started = f.attempt_started_at;
        let arrived = f.arrived;
        let Some(f) = self.flight_mut(id.flight) else { return };
        f.cost += report.usage.cost;
        match report.result {
            Ok(resp) => {
                let ttft = report.ttft_ms.map(|t| started - arrived + t);
                self.finish(now, id.flight, Outcome::Succeeded, Some((endpoint, resp.quality)), ttft, log);
            }
            Err(err) => self.after_error(now, id.flight, endpoint, &err, log, out),
        }
    }

    /// A wake-up the executor asked for (a retry after backoff).
    pub fn on_wake(&mut self, now: u64, flight: FlightId, log: &mut impl EventSink, out: &mut Vec<Action>) {
        let Some(f) = self.flight(flight) else { return };
        let pos = f.pos;
        let ready = self.not_before(f.plan.chain[pos]);
        if now >= f.deadline_at || ready >= f.deadline_at {
            self.finish(now, flight, Outcome::Failed(FailReason::Deadline), None, None, log);
        } else if ready > now {
            out.push(Action::Wake { flight, at: ready }); // another request's 429 pushed it back
        } else {
            self.start_attempt(now, flight, pos, log, out);
        }
    }

    fn flight_mut(&mut self, id: FlightId) -> Option<&mut Flight> {
        self.flights.get_mut(id.slot as usize)?.as_mut().filter(|f| f.generation == id.generation)
    }

    /// When `endpoint` may next be tried (a Retry-After or a quota bench).
    pub fn not_before(&self, endpoint: EndpointIdx) -> u64 {
        self.not_before.get(endpoint.get()).copied().unwrap_or(0)
    }

    fn hold_off(&mut self, endpoint: EndpointIdx, until: u64) {
        if self.not_before.len() <= endpoint.get() {
            self.not_before.resize(endpoint.get() + 1, 0);
        }
        let slot = &mut self.not_before[endpoint.get()];
        *slot = (*slot).max(until);
    }

    /// The first chain position at or after `from` whose endpoint is not done
    /// for this request and not held off at `now`.
    fn next_usable(&self, now: u64, id: FlightId, from: usize) -> Option<usize> {
        let f = self.flight(id)?;
        (from..f.plan.chain.len()).find(|&p| {
            let e = f.plan.chain[p];
            self.not_before(e) <= now && !f.tried.iter().any(|&(t, _, dead)| t == e && dead)
        })
    }

    fn after_error(
        &mut self,
        now: u64,
        id: FlightId,
        endpoint: EndpointIdx,
        err: &AttemptError,
        log: &mut impl EventSink,
        out: &mut Vec<Action>,
    ) {
        if let Some(ra) = err.retry_after_ms {
            self.hold_off(endpoint, now.saturating_add(ra));
        } else if err.kind == ErrorKind::QuotaExceeded {
            self.hold_off(endpoint, now.saturating_add(QUOTA_BENCH_MS));
        }
        let Some(f) = self.flight_mut(id) else { return };
        f.last_error = Some(err.kind);
        if err.kind.is_fatal_for_endpoint()
            && let Some(t) = f.tried.iter_mut().find(|t| t.0 == endpoint)
        {
            t.2 = true;
        }
        let info = AttemptInfo { number: f.attempts, endpoint, elapsed_ms: now - f.arrived };
        let (attempts, limit, deadline_at, pos, seq) =
            (f.attempts, f.plan.attempt_limit(), f.deadline_at, f.pos, f.req.seq);
        let Some(Some(f)) = self.flights.get(id.slot as usize) else { return };
        let asked = self.planner.on_error(&f.req, &info, err);
        let mut action =
            asked.unwrap_or(if err.kind.fails_over_by_default() { ErrorAction::Next } else { ErrorAction::Fail });
        if action == ErrorAction::Retry && err.kind.is_fatal_for_endpoint() {
            action = ErrorAction::Next; // SPEC: never retry an endpoint after a fatal kind
        }
        let failed = Outcome::Failed(FailReason::Upstream(err.kind));
        if now >= deadline_at {
            return self.finish(now, id, Outcome::Failed(FailReason::Deadline), None, None, log);
        }
        if action == ErrorAction::Fail || attempts >= limit {
            return self.finish(now, id, failed, None, None, log);
        }
        match action {
            ErrorAction::Retry => {
                let Some(f) = self.flight_mut(id) else { return };
                f.retries_here += 1;
                let retry = f.retries_here;
                let backoff = self.settings.backoff.wait_ms(retry, self.backoff_draws.at(seq, u64::from(attempts)));
                let at = (now + backoff).max(self.not_before(endpoint));
                if at >= deadline_at {
                    return self.finish(now, id, Outcome::Failed(FailReason::Deadline), None, None, log);
                }
                out.push(Action::Wake { flight: id, at });
            }
            ErrorAction::Next | ErrorAction::Fail => match self.next_usable(now, id, pos + 1) {
                Some(next) => {
                    if let Some(f) = self.flight(id) {
                        let to = f.plan.chain[next];
                        log.record(&Event::Failover { at: now, req: &f.req, from: endpoint, to, reason: err.kind });
                    }
                    if let Some(f) = self.flight_mut(id) {
                        f.retries_here = 0;
                    }
                    self.start_attempt(now, id, next, log, out);
                }
                None => self.finish(now, id, failed, None, None, log),
            },
        }
    }

    fn start_attempt(&mut self, now: u64, id: FlightId, pos: usize, log: &mut impl EventSink, out: &mut Vec<Action>) {
        let Some(f) = self.flight_mut(id) else { return };
        let endpoint = f.plan.chain[pos];
        f.pos = pos;
        f.attempts += 1;
        f.attempt_started_at = now;
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
        let attempt_end = now.saturating_add(f.plan.attempt_timeout_ms);
        let cutoffs = Cutoffs {
            timeout_at: attempt_end.min(f.deadline_at),
            first_token_by: f.plan.ttft_timeout_ms.filter(|_| f.req.stream).map(|t| now.saturating_add(t)),
            is_deadline: f.deadline_at <= attempt_end,
        };
        log.record(&Event::AttemptStarted {
            at: now,
            req: &f.req,
            attempt: f.attempts,
            endpoint,
            attempt_limit: f.plan.attempt_limit(),
        });
        out.push(Action::Start {
            id: AttemptId { flight: id, attempt: f.attempts },
            endpoint,
            endpoint_attempt,
            cutoffs,
        });
    }

    fn finish(
        &mut self,
        now: u64,
        id: FlightId,
        outcome: Outcome,
        answer: Option<(EndpointIdx, f64)>,
        ttft_ms: Option<u64>,
        log: &mut impl EventSink,
    ) {
        let Some(f) = self.flights.get_mut(id.slot as usize).and_then(Option::take) else { return };
        log.record(&Event::Finished {
            at: now,
            req: &f.req,
            outcome,
            attempts: f.attempts,
            endpoint: answer.map(|a| a.0),
            ttft_ms,
            cost: f.cost,
            quality: answer.map(|a| a.1),
        });
        self.generations[id.slot as usize] = self.generations[id.slot as usize].wrapping_add(1);
        self.free.push(id.slot);
    }
}
