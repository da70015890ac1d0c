//! The driver: one thread that owns the executor and the policy (a Rhai
//! policy is not `Send`), fed by a channel. It is the live counterpart of the
//! simulator's replay loop: it submits requests, starts each attempt the
//! executor asks for as a task on the proxy's runtime, keeps the executor's
//! wake-ups on a timer, passes first tokens and attempt ends back in, and
//! answers clients when their requests end. Every event goes to the same
//! report aggregator and invariant checker as in simulation, and to the
//! Prometheus counters.
//!
//! What it must not do: any I/O of its own (attempts run as tasks; the
//! server writes to clients), or block (it serves every request).

use crate::chaos::{ChaosRules, ChaosState, Injection, RequestHeaders, forced_rules};
use crate::clock::LiveClock;
use crate::metrics::Metrics;
use crate::request::Incoming;
use crate::upstream::{AttemptJob, DEFAULT_STALL, Upstream, run_attempt};
use bytes::Bytes;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use windtunnel_config::{PolicySpec, Scenario};
use windtunnel_core::{
    AttemptError, AttemptInfo, AttemptReport, EndpointFacts, EndpointIdx, ErrorAction, ErrorKind, Event, EventSink,
    FailReason, FixedChain, Nanodollars, Outcome, Plan, Planner, PolicyErrorTally, PolicyFailure, PolicySettings,
    RejectReason, Request, ResponseInfo, RouteContext, Streams, Usage, plain_line,
};
use windtunnel_executor::{Action, AttemptId, Concluded, Executor, FlightId, WakeKind};
use windtunnel_harness::ResponseCache;
use windtunnel_invariants::InvariantChecker;
use windtunnel_policy::Policy;
use windtunnel_report::{Aggregator, Report, ReportHead};

/// What the driver is told.
#[derive(Debug)]
pub(crate) enum DriverMsg {
    /// A client's request.
    Submit {
        /// The request.
        incoming: Incoming,
        /// Where its answer goes.
        client: mpsc::UnboundedSender<ClientEvent>,
    },
    /// An attempt's first token arrived; reply whether it may start the client's answer.
    FirstToken {
        /// Which attempt.
        id: AttemptId,
        /// true: forward; false: stop.
        reply: oneshot::Sender<bool>,
    },
    /// An attempt ended.
    Done {
        /// Which attempt.
        id: AttemptId,
        /// How.
        outcome: AttemptOutcome,
    },
    /// The chaos rules in force (`GET /admin/chaos`), after replacing them
    /// when `update` is given (`PUT`, and `DELETE` with an empty set).
    Chaos {
        /// The new rules, already checked.
        update: Option<ChaosRules>,
        /// The rules in force afterwards.
        reply: oneshot::Sender<ChaosRules>,
    },
    /// The report so far and the metrics text.
    Snapshot {
        /// Where the answer goes.
        reply: oneshot::Sender<Snapshot>,
    },
    /// Stop after the requests in flight, and hand the final report back.
    Shutdown {
        /// Where the report goes.
        reply: oneshot::Sender<Report>,
    },
}

/// How an attempt ended, as the upstream task saw it.
#[derive(Debug)]
pub(crate) struct AttemptOutcome {
    /// Success, or the classified failure and its message.
    pub(crate) result: Result<(), (AttemptError, String)>,
    /// Time from the attempt's start to its first token.
    pub(crate) ttft_ms: Option<u64>,
    /// Tokens the upstream reported (or that were counted).
    pub(crate) usage: Option<windtunnel_openai::Usage>,
    /// A non-streamed answer's body, in OpenAI's shape.
    pub(crate) body: Option<Bytes>,
    /// The answer's text from this attempt (the prefix a mid-stream rescue continues).
    pub(crate) text: String,
}

/// What goes to a waiting client.
#[derive(Debug)]
pub(crate) enum ClientEvent {
    /// Bytes of a committed stream (server-sent events).
    Data(Bytes),
    /// The stream ended well: `[DONE]` follows.
    End,
    /// The stream failed after its first byte: an error event, no `[DONE]`.
    Failed {
        /// What failed.
        message: String,
    },
    /// A whole answer.
    Complete {
        /// OpenAI-shaped JSON.
        body: Bytes,
        /// The endpoint that answered.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// Chaos rules injected into its attempts, comma-separated.
        chaos: String,
    },
    /// The request failed before any byte went out.
    Error {
        /// The HTTP status for the client.
        status: u16,
        /// OpenAI error `type`.
        kind: String,
        /// What went wrong.
        message: String,
        /// Seconds to wait, for a 429.
        retry_after_s: Option<u64>,
        /// Attempts made.
        attempts: u32,
        /// Chaos rules injected into its attempts, comma-separated.
        chaos: String,
    },
    /// A committed stream's response headers.
    Head {
        /// The endpoint that serves it.
        endpoint: String,
        /// Attempts made so far.
        attempts: u32,
        /// Chaos rules injected into its attempts so far, comma-separated.
        chaos: String,
    },
}

/// The report and metrics at one moment.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// `report.json` so far.
    pub(crate) report: Report,
    /// Prometheus text.
    pub(crate) metrics: String,
}

/// The policy of a live run: a script or the fixed chain.
enum LivePlanner {
    Script(Box<Policy>),
    Chain(FixedChain),
}

impl Planner for LivePlanner {
    fn settings(&self) -> PolicySettings {
        match self {
            LivePlanner::Script(p) => p.settings(),
            LivePlanner::Chain(c) => c.settings(),
        }
    }
    fn needs_health(&self) -> bool {
        match self {
            LivePlanner::Script(p) => p.needs_health(),
            LivePlanner::Chain(c) => c.needs_health(),
        }
    }
    fn needs_cached_tokens(&self) -> bool {
        match self {
            LivePlanner::Script(p) => p.needs_cached_tokens(),
            LivePlanner::Chain(c) => c.needs_cached_tokens(),
        }
    }
    fn route(&mut self, req: &Request, ctx: &RouteContext<'_>) -> Result<Plan, PolicyFailure> {
        match self {
            LivePlanner::Script(p) => p.route(req, ctx),
            LivePlanner::Chain(c) => c.route(req, ctx),
        }
    }
    fn on_error(
        &mut self,
        req: &Request,
        attempt: &AttemptInfo,
        err: &AttemptError,
    ) -> Result<Option<ErrorAction>, PolicyFailure> {
        match self {
            LivePlanner::Script(p) => p.on_error(req, attempt, err),
            LivePlanner::Chain(c) => c.on_error(req, attempt, err),
        }
    }
    fn has_accept(&self) -> bool {
        match self {
            LivePlanner::Script(p) => p.has_accept(),
            LivePlanner::Chain(c) => c.has_accept(),
        }
    }
    fn accept(&mut self, req: &Request, resp: &ResponseInfo) -> Result<bool, PolicyFailure> {
        match self {
            LivePlanner::Script(p) => p.accept(req, resp),
            LivePlanner::Chain(c) => c.accept(req, resp),
        }
    }
}

/// Everything that reads the event log.
struct Sinks {
    aggregator: Aggregator,
    checker: InvariantChecker,
    metrics: Metrics,
}

impl Sinks {
    /// An attempt met an injected fault.
    fn chaos_injected(&mut self, rule: &str, kind: &'static str) {
        self.aggregator.chaos_injected(rule, kind);
        self.metrics.chaos_injected(rule, kind);
    }
}

impl EventSink for Sinks {
    fn record(&mut self, e: &Event<'_>) {
        self.aggregator.record(e);
        self.checker.record(e);
        self.metrics.record(e);
    }
}

/// A client request in flight.
struct Client {
    tx: mpsc::UnboundedSender<ClientEvent>,
    stream: bool,
    committed: bool,
    /// Whole answers by endpoint, with the usage their upstream reported,
    /// until the executor concludes.
    bodies: Vec<(EndpointIdx, Bytes, Option<windtunnel_openai::Usage>)>,
    /// The last failure, for the client's error.
    last_error: Option<(AttemptError, String)>,
    /// Endpoints that answered this request with a rate 429: the client's
    /// `Retry-After` is when the first of them may be tried again.
    rate_limited: Vec<EndpointIdx>,
    /// A committed stream's text so far, for a mid-stream rescue.
    text: String,
    /// `--record`: the request as it arrived, and the output tokens its answer had.
    record: Option<Request>,
    served_output: Option<u32>,
    /// Headers chaos rules may match (never credentials).
    headers: RequestHeaders,
    /// Rules it forces with `x-windtunnel-chaos`.
    forced: Vec<String>,
    /// Chaos rules injected into its attempts so far.
    chaos: Vec<String>,
}

impl Client {
    fn chaos_header(&self) -> String {
        self.chaos.join(",")
    }
}

/// The driver's state.
struct Driver {
    scenario: Arc<Scenario>,
    clock: LiveClock,
    runtime: tokio::runtime::Handle,
    http: reqwest::Client,
    upstreams: Vec<Option<Arc<Upstream>>>,
    facts: Vec<EndpointFacts>,
    executor: Executor<LivePlanner>,
    sinks: Sinks,
    policy: String,
    tx: mpsc::UnboundedSender<DriverMsg>,
    clients: BTreeMap<FlightId, Client>,
    chats: BTreeMap<FlightId, Arc<windtunnel_openai::ChatRequest>>,
    attempts: BTreeMap<AttemptId, (tokio::task::AbortHandle, EndpointIdx, Option<Injection>)>,
    wakes: BinaryHeap<Reverse<(u64, FlightId, u8, u32)>>,
    seq: u64,
    actions: Vec<Action>,
    shutdown: Option<oneshot::Sender<Report>>,
    /// A script policy's file and the modification time last loaded, for hot reload.
    watched: Option<(std::path::PathBuf, Option<std::time::SystemTime>)>,
    /// Policy reloads: (loaded, refused).
    reloads: (u64, u64),
    /// `--record`: served traffic as a trace.
    recorder: Option<crate::record::Recorder>,
    /// Chaos rules and their coin.
    chaos: ChaosState,
    /// Per rule in force, the fault windows it opened: (endpoint, fault index).
    chaos_windows: Vec<Vec<(EndpointIdx, u16)>>,
    /// `[cache]`: answers to non-streamed requests, by request body.
    response_cache: Option<ResponseCache<Arc<CachedAnswer>>>,
    /// Requests in flight whose answer fills the cache, with their key.
    cache_keys: BTreeMap<FlightId, u64>,
    /// What the response cache's hits would have cost.
    cache_saved: Nanodollars,
}

/// A whole answer the response cache keeps.
#[derive(Debug)]
struct CachedAnswer {
    /// The endpoint that answered.
    endpoint: EndpointIdx,
    /// The OpenAI-shaped JSON the client got.
    body: Bytes,
    /// Its usage, read once when it was kept: what each hit saves.
    usage: Option<windtunnel_openai::Usage>,
}

/// An upstream's usage report as the executor's: its cached prompt tokens
/// (at most the prompt) priced at the cached price, those it wrote to its
/// cache (at most the rest) at the cache-write price, the price in force at
/// `now`. Used for attempts and for what a response-cache hit saves.
fn billed(facts: &EndpointFacts, now: u64, u: windtunnel_openai::Usage) -> Usage {
    let (input, output) = (u.prompt_tokens, u.completion_tokens);
    let cached = u.cached_prompt_tokens.min(input);
    let written = u.cache_write_prompt_tokens.min(input - cached);
    let cost = facts.price_at(now).cost_with_writes(
        u64::from(input - cached),
        u64::from(cached),
        u64::from(written),
        u64::from(output),
    );
    Usage { input_tokens: input, cached_input_tokens: cached, cache_write_tokens: written, output_tokens: output, cost }
}

/// How often the policy file is checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Starts the driver thread. Returns its channel.
pub(crate) fn spawn(
    scenario: Arc<Scenario>,
    upstreams: Vec<Option<Arc<Upstream>>>,
    runtime: tokio::runtime::Handle,
    http: reqwest::Client,
    clock: LiveClock,
    recorder: Option<crate::record::Recorder>,
    chaos: ChaosRules,
) -> Result<mpsc::UnboundedSender<DriverMsg>, crate::ProxyError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let tx2 = tx.clone();
    // The policy is loaded on the driver thread, where it lives; a load
    // error comes back before the proxy starts listening.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("windtunnel-driver".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(crate::ProxyError::Io(e)));
                    return;
                }
            };
            let driver = match Driver::new(scenario, upstreams, runtime, http, clock, tx2, recorder) {
                Ok(mut d) => {
                    d.replace_chaos(chaos);
                    let _ = ready_tx.send(Ok(()));
                    d
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(driver.run(rx));
        })
        .map_err(crate::ProxyError::Io)?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(tx),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(crate::ProxyError::Io(std::io::Error::other("the driver thread stopped at start"))),
    }
}

impl Driver {
    fn new(
        scenario: Arc<Scenario>,
        upstreams: Vec<Option<Arc<Upstream>>>,
        runtime: tokio::runtime::Handle,
        http: reqwest::Client,
        clock: LiveClock,
        tx: mpsc::UnboundedSender<DriverMsg>,
        recorder: Option<crate::record::Recorder>,
    ) -> Result<Driver, crate::ProxyError> {
        let facts: Vec<EndpointFacts> = scenario.endpoints.iter().map(|e| e.facts()).collect();
        let watched = match &scenario.policy {
            PolicySpec::Script(path) => Some((path.clone(), modified(path))),
            PolicySpec::Chain(_) => None,
        };
        let planner = match &scenario.policy {
            PolicySpec::Chain(chain) => LivePlanner::Chain(scenario.chain_limits.planner(chain)),
            PolicySpec::Script(path) => {
                LivePlanner::Script(Box::new(Policy::load(path, &facts, &scenario.policy_params)?))
            }
        };
        let mut executor =
            Executor::from_seed(planner, facts.clone(), &scenario.budgets, &Streams::from_seed(scenario.seed));
        executor.keep_concluded();
        // Live: time 0 is now, on the wall clock, for `ctx.time_of_day_ms`.
        #[expect(clippy::disallowed_methods, reason = "live mode's time of day is the wall clock's")]
        let wall = std::time::SystemTime::now();
        let since_epoch = wall.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        executor.set_start_of_day(since_epoch % windtunnel_core::DAY_MS);
        executor.set_rescue_targets(upstreams.iter().map(|u| u.as_ref().is_some_and(|u| u.accepts_prefill)).collect());
        let names = scenario.endpoints.iter().map(|e| e.id.to_string()).collect();
        let mut aggregator = Aggregator::new(&scenario);
        aggregator.enable_chaos();
        Ok(Driver {
            chaos: ChaosState::new(scenario.seed),
            chaos_windows: Vec::new(),
            // `max_entries = 0` keeps nothing: no cache, and no key to compute.
            response_cache: scenario.cache.filter(|c| c.max_entries > 0).map(ResponseCache::new),
            cache_keys: BTreeMap::new(),
            cache_saved: Nanodollars::ZERO,
            sinks: Sinks {
                aggregator,
                checker: InvariantChecker::new(windtunnel_harness::invariant_world(&scenario)),
                metrics: Metrics::new(names),
            },
            policy: windtunnel_harness::policy_description(&scenario),
            scenario,
            clock,
            runtime,
            http,
            upstreams,
            facts,
            executor,
            tx,
            clients: BTreeMap::new(),
            chats: BTreeMap::new(),
            attempts: BTreeMap::new(),
            wakes: BinaryHeap::new(),
            seq: 0,
            actions: Vec::new(),
            shutdown: None,
            watched,
            reloads: (0, 0),
            recorder,
        })
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<DriverMsg>) {
        let mut reload = tokio::time::interval(RELOAD_EVERY);
        reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next = self.wakes.peek().map(|Reverse(w)| self.clock.instant(w.0));
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(m) => self.handle(m),
                    None => break,
                },
                () = sleep_until(next) => self.fire_wakes(),
                _ = reload.tick(), if self.watched.is_some() => self.reload_if_changed(),
            }
            self.drain();
            if self.shutdown.is_some() && self.clients.is_empty() {
                if let Some(rec) = self.recorder.as_mut() {
                    let _ = rec.finish();
                }
                let report = self.report();
                if let Some(reply) = self.shutdown.take() {
                    let _ = reply.send(report);
                }
                break;
            }
        }
    }

    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Hot reload: a policy file that changed is loaded and swapped in for
    /// requests that arrive from now on; one that does not load is refused,
    /// said on stderr with its file, line and column, and the old one keeps
    /// serving.
    #[expect(clippy::print_stderr, reason = "the proxy's log of policy reloads")]
    fn reload_if_changed(&mut self) {
        let Some((path, seen)) = &self.watched else { return };
        let now = modified(path);
        if now == *seen {
            return;
        }
        let path = path.clone();
        self.watched = Some((path.clone(), now));
        match Policy::load(&path, &self.facts, &self.scenario.policy_params) {
            Ok(p) => {
                self.executor.replace_planner(LivePlanner::Script(Box::new(p)));
                self.reloads.0 += 1;
                self.sinks.metrics.policy_reloaded(true);
                eprintln!("windtunnel proxy: policy reloaded from {}", path.display());
            }
            Err(e) => {
                self.reloads.1 += 1;
                self.sinks.metrics.policy_reloaded(false);
                eprintln!("windtunnel proxy: policy change refused, the previous version keeps serving: {e}");
            }
        }
    }

    fn handle(&mut self, msg: DriverMsg) {
        let now = self.now();
        match msg {
            DriverMsg::Submit { mut incoming, client } => {
                incoming.request.seq = self.seq;
                incoming.request.at_ms = now;
                self.seq += 1;
                let class_deadline = self.scenario.sla.get(&*incoming.request.class).and_then(|s| s.deadline_ms);
                let stream = incoming.request.stream;
                let chat = incoming.chat.clone();
                let record = self.recorder.as_ref().map(|rec| {
                    let mut r = incoming.request.clone();
                    if rec.prompts() {
                        r.messages = serde_json::to_string(&chat.messages).ok().map(String::into_boxed_str);
                    } else {
                        // Block and prompt hashes tell which prompts share
                        // text: prompts' business.
                        r.hash_ids = None;
                        r.prompt_hash = None;
                    }
                    r
                });
                let forced = forced_rules(&incoming.headers);
                // Per tenant; a request forcing chaos rules must meet them upstream.
                let key = self.response_cache.as_ref().filter(|_| forced.is_empty()).and(incoming.request.prompt_hash);
                let hit = key.and_then(|k| self.response_cache.as_mut().and_then(|c| c.lookup(k, now)));
                // A stream is served only an answer that tells as a text stream.
                let told = hit.and_then(|hit| {
                    let sse = if stream {
                        Some(Bytes::from(windtunnel_openai::completion_as_stream(&hit.body, chat.wants_usage())?))
                    } else {
                        None
                    };
                    Some((hit, sse))
                });
                if let Some((hit, sse)) = told {
                    self.serve_cached(now, incoming.request, record, &client, &hit, sse);
                    return;
                }
                // Only whole (non-streamed) answers are kept.
                let key = key.filter(|_| !stream);
                let flight =
                    self.executor.submit(now, incoming.request, class_deadline, &mut self.sinks, &mut self.actions);
                if let Some(k) = key {
                    self.cache_keys.insert(flight, k);
                }
                self.clients.insert(
                    flight,
                    Client {
                        tx: client,
                        stream,
                        committed: false,
                        bodies: Vec::new(),
                        last_error: None,
                        rate_limited: Vec::new(),
                        text: String::new(),
                        record,
                        served_output: None,
                        headers: incoming.headers,
                        forced,
                        chaos: Vec::new(),
                    },
                );
                self.chats.insert(flight, chat);
            }
            DriverMsg::FirstToken { id, reply } => {
                let ok = self.attempts.contains_key(&id) && self.clients.get(&id.flight).is_some_and(|c| !c.committed);
                if ok {
                    self.executor.on_first_token(now, id, &mut self.actions);
                    let endpoint = self.attempts.get(&id).map(|a| a.1);
                    if let (Some(c), Some(e)) = (self.clients.get_mut(&id.flight), endpoint) {
                        c.committed = true;
                        let _ = c.tx.send(ClientEvent::Head {
                            endpoint: self.scenario.endpoints[e.get()].id.to_string(),
                            attempts: id.attempt,
                            chaos: c.chaos_header(),
                        });
                    }
                }
                let _ = reply.send(ok);
            }
            DriverMsg::Done { id, outcome } => {
                let Some((_, endpoint, injection)) = self.attempts.remove(&id) else { return };
                if let Some(inj) = &injection {
                    self.chaos.release(inj);
                }
                let report = self.attempt_report(now, endpoint, &outcome);
                if let Some(c) = self.clients.get_mut(&id.flight) {
                    match outcome.result {
                        Ok(()) => {
                            if let Some(b) = outcome.body {
                                c.bodies.push((endpoint, b, outcome.usage));
                            }
                            c.served_output = outcome.usage.map(|u| u.completion_tokens);
                        }
                        Err(e) => {
                            if c.committed {
                                c.text.push_str(&outcome.text);
                            }
                            if e.0.kind == ErrorKind::RateLimited && !c.rate_limited.contains(&endpoint) {
                                c.rate_limited.push(endpoint);
                            }
                            c.last_error = Some(e);
                        }
                    }
                }
                self.executor.on_report(now, id, report, &mut self.sinks, &mut self.actions);
            }
            DriverMsg::Chaos { update, reply } => {
                if let Some(rules) = update {
                    self.replace_chaos(rules);
                }
                let _ = reply.send(self.chaos.rules().clone());
            }
            DriverMsg::Snapshot { reply } => {
                let mut metrics = self.sinks.metrics.render();
                if let Some(cache) = &self.response_cache {
                    crate::metrics::render_response_cache(&mut metrics, cache.len() as u64, cache.bytes());
                }
                let _ = reply.send(Snapshot { report: self.report(), metrics });
            }
            DriverMsg::Shutdown { reply } => self.shutdown = Some(reply),
        }
    }

    /// The executor's report of an attempt: usage priced at this endpoint's
    /// price now, the configured quality standing in for a live score.
    fn attempt_report(&self, now: u64, endpoint: EndpointIdx, o: &AttemptOutcome) -> AttemptReport {
        let facts = &self.facts[endpoint.get()];
        let usage = o.usage.map_or_else(Usage::default, |u| billed(facts, now, u));
        // The upstream task measures wall time; the executor runs on this clock.
        let ttft = o.ttft_ms.map(|t| self.clock.scale(t));
        match &o.result {
            Ok(()) => AttemptReport::success(usage, facts.quality, ttft),
            Err((e, _)) => {
                let mut e = e.clone();
                e.retry_after_ms = e.retry_after_ms.map(|ra| self.clock.scale(ra));
                AttemptReport::failure(e, usage, ttft)
            }
        }
    }

    fn fire_wakes(&mut self) {
        let now = self.now();
        while let Some(Reverse((at, flight, kind, token))) = self.wakes.peek().copied() {
            if at > now {
                break;
            }
            self.wakes.pop();
            let kind = match kind {
                0 => WakeKind::Retry,
                1 => WakeKind::Hedge,
                2 => WakeKind::Wait,
                _ => WakeKind::Start,
            };
            self.executor.on_wake(now, flight, kind, token, &mut self.sinks, &mut self.actions);
        }
    }

    /// Carries out the executor's actions and answers the requests that ended.
    fn drain(&mut self) {
        while !self.actions.is_empty() {
            let now = self.now();
            for a in std::mem::take(&mut self.actions) {
                match a {
                    Action::Start { id, endpoint, cutoffs, .. } => self.start(now, id, endpoint, cutoffs),
                    Action::Cancel { id } => {
                        if let Some((h, _, injection)) = self.attempts.remove(&id) {
                            h.abort();
                            if let Some(inj) = &injection {
                                self.chaos.release(inj);
                            }
                        }
                        self.executor.on_cancelled(now, id, Usage::default(), &mut self.sinks);
                    }
                    Action::Wake { flight, at, kind, token } => {
                        let k = match kind {
                            WakeKind::Retry => 0,
                            WakeKind::Hedge => 1,
                            WakeKind::Wait => 2,
                            WakeKind::Start => 3,
                        };
                        self.wakes.push(Reverse((at, flight, k, token)));
                    }
                }
            }
            for c in self.executor.take_concluded() {
                self.conclude(c);
            }
        }
        for c in self.executor.take_concluded() {
            self.conclude(c);
        }
    }

    #[expect(clippy::print_stderr, reason = "the proxy's log of chaos injections")]
    fn start(&mut self, now: u64, id: AttemptId, endpoint: EndpointIdx, cutoffs: windtunnel_executor::Cutoffs) {
        let (Some(upstream), Some(client), Some(chat)) = (
            self.upstreams.get(endpoint.get()).cloned().flatten(),
            self.clients.get(&id.flight).map(|c| c.tx.clone()),
            self.chats.get(&id.flight).cloned(),
        ) else {
            // No upstream for this endpoint: a connection failure, at once.
            let report = AttemptReport::failure(AttemptError::new(ErrorKind::Connection), Usage::default(), None);
            if let Some(c) = self.clients.get_mut(&id.flight) {
                let name = &self.scenario.endpoints[endpoint.get()].id;
                c.last_error =
                    Some((AttemptError::new(ErrorKind::Connection), format!("endpoint `{name}` has no upstream")));
            }
            self.executor.on_report(now, id, report, &mut self.sinks, &mut self.actions);
            return;
        };
        // A new attempt for a committed stream is a mid-stream rescue: it
        // continues the text so far.
        let prefill = self.clients.get(&id.flight).filter(|c| c.committed).map(|c| c.text.clone());
        if prefill.is_some() {
            self.sinks.metrics.rescued();
        }
        let name = self.scenario.endpoints[endpoint.get()].id.as_str();
        let injection = match self.clients.get_mut(&id.flight) {
            Some(c) => {
                let req = self.executor.request(id.flight);
                let inj = req.and_then(|req| self.chaos.pick(name, req, &c.headers, &c.forced));
                if let Some(inj) = &inj {
                    c.chaos.push(inj.name.clone());
                }
                inj
            }
            None => None,
        };
        if let Some(inj) = &injection {
            self.sinks.chaos_injected(&inj.name, inj.fault.kind());
            // One line per injection: the experiment's log (rule, kind, where,
            // which request; never a credential).
            let request = self.executor.request(id.flight).map(|r| r.id().to_string()).unwrap_or_default();
            eprintln!(
                "windtunnel proxy: chaos: rule `{}` injected `{}` into attempt {} of request {} on {name}",
                plain_line(&inj.name),
                inj.fault.kind(),
                id.attempt,
                plain_line(&request),
            );
        }
        let job = AttemptJob {
            prefill,
            id,
            upstream,
            chat,
            started: self.clock.instant(now),
            timeout_at: self.clock.instant(cutoffs.timeout_at),
            first_token_by: cutoffs.first_token_by.map(|t| self.clock.instant(t)),
            stall: cutoffs.stall_ms.map_or(DEFAULT_STALL, Duration::from_millis),
            deadline: (cutoffs.deadline_at != u64::MAX).then(|| self.clock.instant(cutoffs.deadline_at)),
            client,
            driver: self.tx.clone(),
            chaos: injection.clone().map(|mut inj| {
                inj.fault = inj.fault.on_wall_clock(|ms| self.clock.wall_ms(ms));
                inj
            }),
        };
        let handle = self.runtime.spawn(run_attempt(self.http.clone(), job));
        self.attempts.insert(id, (handle.abort_handle(), endpoint, injection));
    }

    /// `[cache]`: answers a request from the response cache at once (a
    /// stream with `sse`, the kept answer told as events). It
    /// never reaches the policy or an upstream; the event log has it
    /// arrive and end `cached`, at no cost, and what it would have cost on
    /// the endpoint that answered counts as saved.
    #[expect(clippy::print_stderr, reason = "the proxy's log of a recording that failed")]
    fn serve_cached(
        &mut self,
        now: u64,
        req: Request,
        record: Option<Request>,
        client: &mpsc::UnboundedSender<ClientEvent>,
        hit: &CachedAnswer,
        sse: Option<Bytes>,
    ) {
        let usage = hit.usage;
        if let (Some(u), Some(facts)) = (usage, self.facts.get(hit.endpoint.get())) {
            // What the kept answer cost, priced now.
            self.cache_saved += billed(facts, now, u).cost;
        }
        self.sinks.record(&Event::Arrived { at: now, req: &req });
        self.sinks.record(&Event::cached(now, &req));
        if let (Some(rec), Some(mut r)) = (self.recorder.as_mut(), record) {
            r.output_tokens = usage.map_or(r.max_tokens, |u| u.completion_tokens);
            if let Err(e) = rec.ended(r) {
                eprintln!("windtunnel proxy: recording stopped: {e}");
                self.recorder = None;
            }
        }
        let endpoint = self.scenario.endpoints[hit.endpoint.get()].id.to_string();
        match sse {
            Some(events) => {
                let _ = client.send(ClientEvent::Head { endpoint, attempts: 0, chaos: String::new() });
                let _ = client.send(ClientEvent::Data(events));
                let _ = client.send(ClientEvent::End);
            }
            None => {
                let _ = client.send(ClientEvent::Complete {
                    body: hit.body.clone(),
                    endpoint,
                    attempts: 0,
                    chaos: String::new(),
                });
            }
        }
    }

    #[expect(clippy::print_stderr, reason = "the proxy's log of a recording that failed")]
    fn conclude(&mut self, c: Concluded) {
        self.chats.remove(&c.flight);
        let key = self.cache_keys.remove(&c.flight);
        let Some(mut client) = self.clients.remove(&c.flight) else { return };
        if let (Some(rec), Some(mut r)) = (self.recorder.as_mut(), client.record.take()) {
            // What the answer really had; its max_tokens when it got none.
            r.output_tokens = client.served_output.unwrap_or(r.max_tokens);
            if let Err(e) = rec.ended(r) {
                eprintln!("windtunnel proxy: recording stopped: {e}");
                self.recorder = None;
            }
        }
        let name = |e: EndpointIdx| self.scenario.endpoints[e.get()].id.to_string();
        let event = match c.outcome {
            Outcome::Succeeded | Outcome::Cached if client.stream => ClientEvent::End,
            Outcome::Succeeded | Outcome::Cached => {
                let answer = c
                    .endpoint
                    .and_then(|e| client.bodies.iter().rposition(|b| b.0 == e).map(|i| client.bodies.swap_remove(i)));
                let (body, usage) = match answer {
                    Some((_, body, usage)) => (Some(body), usage),
                    None => (None, None),
                };
                let now = self.now();
                if let (Some(k), Some(cache), Some(body), Some(e), Outcome::Succeeded) =
                    (key, self.response_cache.as_mut(), &body, c.endpoint, c.outcome)
                {
                    // The usage as the upstream reported it (an Anthropic
                    // answer's cache writes included), for what a hit saves.
                    // Held against `max_bytes` by the body's size (the
                    // entry's other parts are a few dozen bytes).
                    let bytes = body.len() as u64;
                    cache.store_sized(k, Arc::new(CachedAnswer { endpoint: e, body: body.clone(), usage }), now, bytes);
                }
                match (body, c.endpoint) {
                    (Some(body), Some(e)) => ClientEvent::Complete {
                        body,
                        endpoint: name(e),
                        attempts: c.attempts,
                        chaos: client.chaos_header(),
                    },
                    _ => self.error_event(c.outcome, &client, c.attempts),
                }
            }
            _ if client.committed => {
                let message = client.last_error.as_ref().map_or_else(
                    || "the upstream failed mid-stream".to_string(),
                    |(e, m)| format!("{}: {m}", e.kind.as_str()),
                );
                ClientEvent::Failed { message }
            }
            _ => self.error_event(c.outcome, &client, c.attempts),
        };
        let _ = client.tx.send(event);
    }

    /// The client's error for a request that failed before any byte went out.
    fn error_event(&self, outcome: Outcome, client: &Client, attempts: u32) -> ClientEvent {
        let last = client.last_error.as_ref();
        let message = last.map_or_else(String::new, |(_, m)| m.clone());
        let (status, kind, message) = match outcome {
            Outcome::Rejected(RejectReason::Budget) => {
                (429, "budget_exceeded", "the tenant's budget cannot cover this request".to_string())
            }
            Outcome::Rejected(_) => {
                (503, "policy_error", "the routing policy failed and no default chain is set".into())
            }
            Outcome::Failed(FailReason::Deadline) => (504, "deadline_exceeded", "the request's deadline passed".into()),
            Outcome::Failed(FailReason::NoEndpoint) => {
                (503, "no_endpoint", "no endpoint can take this request now".into())
            }
            Outcome::Failed(FailReason::Upstream(k)) => {
                let status = match k {
                    ErrorKind::RateLimited => 429,
                    ErrorKind::ContextExceeded | ErrorKind::BadRequest | ErrorKind::ContentFilter => {
                        last.and_then(|(e, _)| e.status).filter(|s| (400..500).contains(s)).unwrap_or(400)
                    }
                    ErrorKind::Timeout => 504,
                    ErrorKind::Overloaded | ErrorKind::QuotaExceeded => 503,
                    _ => 502,
                };
                (
                    status,
                    k.as_str(),
                    if message.is_empty() { format!("upstream failed: {}", k.as_str()) } else { message },
                )
            }
            _ => (500, "internal", "the request ended without an answer".into()),
        };
        let retry_after_s = (status == 429 && kind == "rate_limited").then(|| {
            // When the first endpoint that refused it may be tried again;
            // refused before any attempt, when the first endpoint held off
            // now comes back (an endpoint free now did not stop it).
            let now = self.now();
            let soonest = if client.rate_limited.is_empty() {
                (0..self.facts.len())
                    .map(|i| self.executor.not_before(EndpointIdx(i as u16)))
                    .filter(|t| *t > now)
                    .min()
                    .unwrap_or(now)
            } else {
                client.rate_limited.iter().map(|e| self.executor.not_before(*e)).min().unwrap_or(now)
            };
            soonest.saturating_sub(now).div_ceil(1000).max(1)
        });
        ClientEvent::Error {
            status,
            kind: kind.to_string(),
            message,
            retry_after_s,
            attempts,
            chaos: client.chaos_header(),
        }
    }

    /// Puts `rules` in force from now: the old rules' fault windows end, and
    /// each new rule opens one on every endpoint it may hit.
    fn replace_chaos(&mut self, rules: ChaosRules) {
        let now = self.now();
        for windows in std::mem::take(&mut self.chaos_windows) {
            for (endpoint, fault) in windows {
                self.sinks.aggregator.close_window(endpoint, fault, now);
            }
        }
        for rule in &rules.rule {
            let mut opened = Vec::new();
            for (i, e) in self.scenario.endpoints.iter().enumerate() {
                if rule.matcher.endpoint.as_deref().is_some_and(|m| m != e.id.as_str()) {
                    continue;
                }
                let endpoint = EndpointIdx(i as u16);
                let fault = self.sinks.aggregator.chaos_fault(endpoint, rule.fault.kind(), &rule.name);
                self.sinks.record(&Event::FaultWindow { endpoint, fault, start: now, end: u64::MAX });
                opened.push((endpoint, fault));
            }
            self.chaos_windows.push(opened);
        }
        self.chaos.replace(rules, now);
    }

    fn report(&self) -> Report {
        let errors: &PolicyErrorTally = self.executor.policy_errors();
        let head = ReportHead {
            scenario: self.scenario.name.clone(),
            policy: self.policy.clone(),
            seed: self.scenario.seed,
            skipped_lines: 0,
            policy_errors: errors.count,
            first_policy_error: errors.first.clone(),
        };
        let mut report = self.sinks.aggregator.report(head);
        report.cache.saved_usd = self.cache_saved;
        let results = self.sinks.checker.clone().finish();
        report.set_invariants(results.into_iter().map(windtunnel_harness::invariant_entry).collect());
        report.evaluate(&self.scenario.assert);
        report
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
