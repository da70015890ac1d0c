//! The replay loop: a discrete-event simulation in virtual time.
//!
//! Arrivals come from the trace in order; attempt completions, cut-offs and
//! wake-ups sit in a binary heap keyed by `(time, sequence)`. At equal times,
//! heap events go before the next arrival and among themselves in the order
//! they were scheduled, so the run is a pure function of scenario and seed.
//! The loop feeds the sans-IO executor and turns its actions into calls on the
//! simulated endpoints; the event log flows to the sinks as it is written.

use crate::relay::{RelayError, relayed};
use crate::response_cache::ResponseCache;
use crate::{RunError, source::Requests};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use windtunnel_config::{PolicySpec, Scenario};
use windtunnel_core::{
    AttemptError, AttemptReport, AttemptStart, EndpointIdx, ErrorKind, Event, EventSink, Nanodollars, Outcome, PerKind,
    Planner, PolicyErrorTally, Request, Streams, Sym, TokenRatio,
};
use windtunnel_executor::{Action, AttemptId, Executor, FlightId, WakeKind};
use windtunnel_invariants::{InvariantChecker, InvariantResult, World};
use windtunnel_policy::Policy;
use windtunnel_report::{Aggregator, InvariantEntry, InvariantExample, Report, ReportHead};
use windtunnel_sim::{Adapter, Scheduled, SimEndpoint};

/// What the heap holds between now and its time.
#[expect(
    clippy::large_enum_variant,
    reason = "entries live in a reused slab; boxing the attempt would allocate once per attempt"
)]
enum Pending {
    /// An attempt that ends (`cut` = false) or is cut off (`cut` = true) at
    /// the key's time; `cancelled` once the executor gave it up earlier.
    Attempt { id: AttemptId, endpoint: EndpointIdx, scheduled: Scheduled, cut: bool, cancelled: bool },
    /// A wake-up (retry backoff, hedge delay).
    Wake { flight: FlightId, kind: WakeKind, token: u32 },
    /// A request served from the response cache, answered at the key's time.
    Cached { req: Box<Request> },
}

/// Pending entries live in a slab; the heap orders small keys into it.
struct Agenda {
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slab: Vec<Option<Pending>>,
    free: Vec<u32>,
    seq: u64,
}

impl Agenda {
    fn new() -> Agenda {
        Agenda { heap: BinaryHeap::new(), slab: Vec::new(), free: Vec::new(), seq: 0 }
    }

    fn push(&mut self, at: u64, p: Pending) {
        let idx = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(p);
                i
            }
            None => {
                self.slab.push(Some(p));
                (self.slab.len() - 1) as u32
            }
        };
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, idx)));
    }

    fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|r| r.0.0)
    }

    /// The earliest entry's time and place; the entry stays in the slab, to
    /// be read in place (it is large: moving it out cost two copies per
    /// attempt) and then [`Agenda::release`]d.
    fn pop(&mut self) -> Option<(u64, u32)> {
        let Reverse((at, _, idx)) = self.heap.pop()?;
        Some((at, idx))
    }

    fn get(&self, idx: u32) -> Option<&Pending> {
        self.slab.get(idx as usize)?.as_ref()
    }

    /// Frees a popped entry's place.
    fn release(&mut self, idx: u32) {
        if let Some(slot) = self.slab.get_mut(idx as usize)
            && slot.take().is_some()
        {
            self.free.push(idx);
        }
    }

    fn get_mut(&mut self, idx: u32) -> Option<&mut Pending> {
        self.slab.get_mut(idx as usize)?.as_mut()
    }

    /// The slab index the next `push` will use.
    fn next_index(&self) -> u32 {
        self.free.last().copied().unwrap_or(self.slab.len() as u32)
    }
}

/// Attempts in the agenda per flight slot, so a cancel (a hedge that lost)
/// finds its entry. A flight has at most a few attempts out, so a short
/// vector per slot is all it takes.
#[derive(Default)]
struct Outstanding {
    by_slot: Vec<Vec<(u32, u32)>>,
}

impl Outstanding {
    fn add(&mut self, id: AttemptId, agenda_idx: u32) {
        let slot = id.flight.slot();
        if self.by_slot.len() <= slot {
            self.by_slot.resize_with(slot + 1, Vec::new);
        }
        self.by_slot[slot].push((id.attempt, agenda_idx));
    }

    fn take(&mut self, id: AttemptId) -> Option<u32> {
        let v = self.by_slot.get_mut(id.flight.slot())?;
        let i = v.iter().position(|&(a, _)| a == id.attempt)?;
        Some(v.swap_remove(i).1)
    }
}

/// Options of one run.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Also send the event log here (an event file, an invariant checker).
    pub extra_sink: Option<&'a mut dyn EventSink>,
    /// Called now and then with (requests finished, virtual now) for progress bars.
    pub progress: Option<&'a mut dyn FnMut(u64, u64)>,
    /// Where the event log is folded into the report.
    pub fold: Fold,
}

/// Where a run folds its event log into the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fold {
    /// On a second thread ([`relayed`]) when the machine has a second core,
    /// else on the replay's.
    #[default]
    Auto,
    /// On the replay's thread: for runs that already fill the cores
    /// (`whatif`'s workers).
    Inline,
    /// On a second thread, whatever the cores.
    Relayed,
}

/// How often (in arrivals) the progress callback runs.
const PROGRESS_EVERY: u64 = 1 << 14;

/// Runs a scenario to its report.
pub fn run(scenario: &Scenario, opts: RunOptions<'_>) -> Result<Report, RunError> {
    let description = policy_description(scenario);
    match &scenario.policy {
        PolicySpec::Chain(chain) => {
            if let Some((name, _)) = scenario.policy_params.first() {
                return Err(RunError::ParamOnChain { name: name.clone() });
            }
            run_with(scenario, scenario.chain_limits.planner(chain), description, opts)
        }
        PolicySpec::Script(path) => {
            let facts: Vec<_> = scenario.endpoints.iter().map(|e| e.facts()).collect();
            let policy = Policy::load(path, &facts, &scenario.policy_params)?;
            run_with(scenario, policy, description, opts)
        }
    }
}

/// How reports name the policy.
pub fn policy_description(scenario: &Scenario) -> String {
    match &scenario.policy {
        PolicySpec::Chain(chain) => {
            let names: Vec<&str> = chain.iter().map(|i| scenario.endpoints[i.get()].id.as_str()).collect();
            format!("chain: {}", names.join(" > "))
        }
        PolicySpec::Script(p) => normalize(p).display().to_string(),
    }
}

/// `scenarios/../policies/x.rhai` → `policies/x.rhai`: lexical, no file-system access.
fn normalize(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Runs a scenario with any planner.
pub fn run_with<P: Planner>(
    scenario: &Scenario,
    planner: P,
    policy: String,
    mut opts: RunOptions<'_>,
) -> Result<Report, RunError> {
    let mut aggregator = Aggregator::new(scenario);
    let mut checker = InvariantChecker::new(invariant_world(scenario));
    // One outlined call per event for both (see `PerKind`).
    let mut sinks = PerKind((&mut aggregator, &mut checker));
    let relay = match opts.fold {
        Fold::Auto => std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        Fold::Inline => false,
        Fold::Relayed => true,
    };
    // Taken by whichever replay runs: the relayed one, or the inline one when
    // the relay's thread could not start under `Fold::Auto`.
    let (mut planner, mut extra, mut progress) = (Some(planner), opts.extra_sink.take(), opts.progress.take());
    let mut replayed = None;
    if relay {
        let run = relayed(&mut sinks, |relay| {
            let planner = planner.take()?;
            // Without an extra sink, no dynamic call per event.
            Some(match extra.take() {
                Some(extra) => replay(scenario, planner, &mut (relay, extra), progress.take()),
                None => replay(scenario, planner, relay, progress.take()),
            })
        });
        match run {
            Ok(r) => replayed = r.transpose()?,
            Err(RelayError::Spawn(_)) if opts.fold == Fold::Auto => {}
            Err(e) => return Err(e.into()),
        }
    }
    let replayed = match (replayed, planner.take()) {
        (Some(r), _) => r,
        (None, Some(planner)) => match extra.take() {
            Some(extra) => replay(scenario, planner, &mut (sinks, extra), progress.take())?,
            None => replay(scenario, planner, &mut sinks, progress.take())?,
        },
        // The relayed body takes the planner and always returns a replay.
        #[expect(clippy::unreachable, reason = "the relayed body returns a replay whenever it takes the planner")]
        (None, None) => unreachable!("relayed replay took the planner and returned nothing"),
    };
    let head = ReportHead {
        scenario: scenario.name.clone(),
        policy,
        seed: scenario.seed,
        skipped_lines: replayed.skipped_lines,
        policy_errors: replayed.policy_errors.count,
        first_policy_error: replayed.policy_errors.first,
    };
    let mut report = aggregator.report(head);
    report.cache.saved_usd = replayed.cache_saved;
    report.set_invariants(checker.finish().into_iter().map(invariant_entry).collect());
    report.evaluate(&scenario.assert);
    Ok(report)
}

/// What a replay counted beside its event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replayed {
    /// Requests that arrived.
    pub requests: u64,
    /// Trace lines skipped under `--skip-bad-lines`.
    pub skipped_lines: u64,
    /// Policy hook calls that failed (the default chain served instead), and the first.
    pub policy_errors: PolicyErrorTally,
    /// What the response cache's hits would have cost (`[cache]`).
    pub cache_saved: Nanodollars,
}

/// Replays a scenario with any planner into `log` and nothing else: no
/// report, no invariants. [`run_with`] is this plus the aggregator and the
/// checker; the benchmarks compare the two to price the report.
pub fn replay<P: Planner>(
    scenario: &Scenario,
    planner: P,
    log: &mut impl EventSink,
    mut progress: Option<&mut dyn FnMut(u64, u64)>,
) -> Result<Replayed, RunError> {
    let streams = Streams::from_seed(scenario.seed);
    let mut requests = Requests::open(&scenario.trace, &streams).map_err(|e| e.named(&scenario.name))?;
    let sims = scenario
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| SimEndpoint::from_seed(EndpointIdx(i as u16), e, &streams))
        .collect();
    let facts = scenario.endpoints.iter().map(|e| e.facts()).collect();
    let mut sim = Simulation {
        sims,
        executor: Executor::from_seed(planner, facts, &scenario.budgets, &streams),
        outstanding: Outstanding::default(),
        agenda: Agenda::new(),
        actions: Vec::new(),
        cache: scenario.cache.map(|spec| CacheState {
            cache: ResponseCache::new(spec),
            hashed: std::collections::BTreeMap::new(),
            saved: Nanodollars::ZERO,
        }),
    };
    if sim.cache.is_some() {
        sim.executor.keep_concluded();
    }
    sim.executor.set_start_of_day(scenario.trace.start_ms_of_day);
    let deadlines = ClassDeadlines::new(scenario);
    let mut next = requests.next_request()?;
    let mut last_arrival = 0u64;
    let mut arrivals = 0u64;
    let mut now = 0u64;

    loop {
        let heap_first = match (sim.agenda.peek_time(), &next) {
            (Some(t), Some(r)) => t <= r.at_ms,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if heap_first {
            let Some((at, idx)) = sim.agenda.pop() else { break };
            now = at;
            // Windows are announced up to the last arrival at most: the run's
            // tail (answers still coming in) depends on the policy, and the
            // set of windows must not (common random numbers).
            let horizon = if next.is_none() { now.min(last_arrival) } else { now };
            announce_faults(&mut sim.sims, horizon, log);
            if !sim.on_due(now, idx, log) {
                break;
            }
        } else {
            let Some(req) = next.take() else { break };
            now = req.at_ms;
            last_arrival = now;
            announce_faults(&mut sim.sims, now, log);
            if let Some(req) = sim.serve_from_cache(now, req, scenario, log) {
                let deadline = deadlines.get(&req.class);
                let hash = req.prompt_hash;
                let flight = sim.executor.submit(now, req, deadline, log, &mut sim.actions);
                if let (Some(c), Some(h)) = (sim.cache.as_mut(), hash) {
                    c.hashed.insert(flight, h);
                }
            }
            next = requests.next_request()?;
            arrivals += 1;
            if arrivals.is_multiple_of(PROGRESS_EVERY)
                && let Some(p) = progress.as_mut()
            {
                p(arrivals, now);
            }
        }
        sim.carry_out_actions(now, log)?;
        sim.fill_cache(now);
    }
    if let Some(p) = progress.as_mut() {
        p(arrivals, now);
    }
    Ok(Replayed {
        requests: arrivals,
        skipped_lines: requests.skipped(),
        policy_errors: sim.executor.policy_errors().clone(),
        cache_saved: sim.cache.map_or(Nanodollars::ZERO, |c| c.saved),
    })
}

/// The simulated world between arrivals: the endpoints, the executor, and
/// the agenda of what is due.
struct Simulation<P> {
    sims: Vec<SimEndpoint>,
    executor: Executor<P>,
    /// The agenda entries of attempts out, for cancels.
    outstanding: Outstanding,
    agenda: Agenda,
    /// The executor's actions not yet carried out.
    actions: Vec<Action>,
    /// `[cache]`: the response cache, and the prompt of each request in
    /// flight that may fill it.
    cache: Option<CacheState>,
}

/// The response cache and what the replay needs beside it.
struct CacheState {
    cache: ResponseCache,
    /// Requests in flight with a `prompt_hash`: their answer fills the cache.
    hashed: std::collections::BTreeMap<FlightId, u64>,
    /// What the hits would have cost.
    saved: Nanodollars,
}

impl<P: Planner> Simulation<P> {
    /// The agenda entry at `idx`, due at `now`, goes to the executor: an
    /// attempt's end (its report) or cut-off (a timeout with what it had
    /// consumed), or a wake-up. False when the entry is missing.
    fn on_due(&mut self, now: u64, idx: u32, log: &mut impl EventSink) -> bool {
        match self.agenda.get(idx) {
            None => return false,
            Some(Pending::Attempt { cancelled: true, .. }) => self.agenda.release(idx),
            Some(&Pending::Attempt { id, endpoint, ref scheduled, cut, cancelled: false }) => {
                self.outstanding.take(id);
                let report = if cut {
                    let usage = self.sims[endpoint.get()].cancel(now, scheduled);
                    let ttft = scheduled.first_token_at.filter(|&t| t <= now).map(|t| t - scheduled.started_at);
                    AttemptReport::failure(AttemptError::new(ErrorKind::Timeout), usage, ttft)
                } else {
                    scheduled.report.clone()
                };
                self.agenda.release(idx);
                self.executor.on_report(now, id, report, log, &mut self.actions);
            }
            Some(&Pending::Wake { flight, kind, token }) => {
                self.agenda.release(idx);
                self.executor.on_wake(now, flight, kind, token, log, &mut self.actions);
            }
            Some(Pending::Cached { req }) => {
                log.record(&Event::cached(now, req));
                self.agenda.release(idx);
            }
        }
        true
    }

    /// `[cache]`: a request whose prompt was answered within the TTL is
    /// served from the cache (it arrives, and is answered after the cache's
    /// latency, never reaching the policy or an endpoint); `None` then, else
    /// the request back, to be routed.
    fn serve_from_cache(
        &mut self,
        now: u64,
        req: Request,
        scenario: &Scenario,
        log: &mut impl EventSink,
    ) -> Option<Request> {
        let (Some(c), Some(hash)) = (self.cache.as_mut(), req.prompt_hash) else { return Some(req) };
        let Some(endpoint) = c.cache.lookup(hash, now) else { return Some(req) };
        // Saved: this request priced on the endpoint that answered its prompt.
        if let Some(e) = scenario.endpoints.get(endpoint.get()) {
            let facts = e.facts();
            let ratio = facts.tokenizer.for_request(&req);
            let (input, output) =
                (TokenRatio::count(ratio, req.input_tokens), TokenRatio::count(ratio, req.output_tokens));
            c.saved += facts.price_at(now).cost(u64::from(input), 0, u64::from(output));
        }
        log.record(&Event::Arrived { at: now, req: &req });
        let at = now.saturating_add(c.cache.latency_ms());
        self.agenda.push(at, Pending::Cached { req: Box::new(req) });
        None
    }

    /// `[cache]`: the answers of requests that ended go into the cache.
    fn fill_cache(&mut self, now: u64) {
        let Some(c) = self.cache.as_mut() else { return };
        for done in self.executor.take_concluded() {
            let Some(hash) = c.hashed.remove(&done.flight) else { continue };
            if let (Outcome::Succeeded, Some(endpoint)) = (done.outcome, done.endpoint) {
                c.cache.store(hash, endpoint, now);
            }
        }
    }

    /// Carries out the executor's actions at `now`: starts attempts on the
    /// simulated endpoints (due at their end or cut-off), cancels them,
    /// schedules wake-ups.
    fn carry_out_actions(&mut self, now: u64, log: &mut impl EventSink) -> Result<(), RunError> {
        // Actions may beget actions (a cancel completes a request), so walk
        // the list by index until it stops growing.
        let mut i = 0;
        while i < self.actions.len() {
            let action = self.actions[i];
            i += 1;
            match action {
                Action::Cancel { id } => {
                    let Some(idx) = self.outstanding.take(id) else { continue };
                    let Some(Pending::Attempt { endpoint, scheduled, cancelled, .. }) = self.agenda.get_mut(idx) else {
                        continue;
                    };
                    *cancelled = true;
                    let usage = self.sims[endpoint.get()].cancel(now, scheduled);
                    self.executor.on_cancelled(now, id, usage, log);
                }
                Action::Start { id, endpoint, endpoint_attempt, cutoffs } => {
                    let Some(req) = self.executor.request(id.flight) else { continue };
                    let start = AttemptStart { req, endpoint, attempt: id.attempt, endpoint_attempt };
                    let scheduled = self.sims[endpoint.get()].start(now, &start);
                    let (at, cut) =
                        match cutoffs.cut_at(scheduled.first_token_at, scheduled.done_at, scheduled.max_silence_ms) {
                            Some(cut) => (cut, true),
                            None => (scheduled.done_at, false),
                        };
                    self.outstanding.add(id, self.agenda.next_index());
                    self.agenda.push(at, Pending::Attempt { id, endpoint, scheduled, cut, cancelled: false });
                }
                Action::Wake { flight, at, kind, token } => self.agenda.push(at, Pending::Wake { flight, kind, token }),
            }
        }
        self.actions.clear();
        Ok(())
    }
}

/// The invariant checker's view of a scenario: endpoint facts, class
/// deadlines, budgets; configuration, never executor state.
pub fn invariant_world(scenario: &Scenario) -> World {
    let facts: Vec<_> = scenario.endpoints.iter().map(|e| e.facts()).collect();
    let deadlines = class_deadlines(scenario).collect();
    World::from_facts(&facts).with_class_deadlines(deadlines).with_budgets(scenario.budgets.clone())
}

/// One invariant result as a report entry.
pub fn invariant_entry(r: InvariantResult) -> InvariantEntry {
    InvariantEntry {
        name: r.name.to_string(),
        violations: r.violations,
        examples: r
            .examples
            .into_iter()
            .map(|e| InvariantExample { request: e.request, at_ms: e.at_ms, endpoint: e.endpoint, detail: e.detail })
            .collect(),
    }
}

fn announce_faults(sims: &mut [SimEndpoint], now: u64, log: &mut impl EventSink) {
    for (i, sim) in sims.iter_mut().enumerate() {
        sim.announce_faults(now, |fault, start, end| {
            log.record(&Event::FaultWindow { endpoint: EndpointIdx(i as u16), fault, start, end });
        });
    }
}

/// SLA deadlines by class, looked up per arrival: a scenario has a handful of
/// classes, so a linear scan beats a map.
struct ClassDeadlines {
    by_class: Vec<(String, u64)>,
}

impl ClassDeadlines {
    fn new(s: &Scenario) -> ClassDeadlines {
        ClassDeadlines { by_class: class_deadlines(s).collect() }
    }

    fn get(&self, class: &Sym) -> Option<u64> {
        self.by_class.iter().find(|(c, _)| c.as_str() == &**class).map(|(_, d)| *d)
    }
}

/// `[sla.CLASS] deadline_ms` of the classes that have one: the executor's
/// deadlines and the invariant checker's world come from this one reading.
fn class_deadlines(s: &Scenario) -> impl Iterator<Item = (String, u64)> + '_ {
    s.sla.iter().filter_map(|(c, sla)| Some((c.clone(), sla.deadline_ms?)))
}
