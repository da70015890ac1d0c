//! Live mode: `windtunnel proxy`, an OpenAI-compatible proxy that runs a
//! scenario's policy and the same failover executor as the simulator in
//! front of real endpoints.
//!
//! It owns the live driver, the HTTP attempts on upstreams, the HTTP server
//! and its routes, and the Prometheus counters. It must not hold routing or
//! failover logic of its own (that is the policy's and the executor's), nor
//! wire-format knowledge (that is `windtunnel-openai`'s).
//!
//! # Design
//! The executor is sans-IO; live mode wraps I/O around it, as the
//! simulator's replay loop does in virtual time:
//! - one driver thread owns the executor and the policy (a Rhai policy is not
//!   `Send`) and is fed by a channel: requests, first tokens, attempt ends;
//! - every attempt runs as a task on the proxy's runtime; a committed
//!   stream's bytes go from that task straight to the client, and the driver
//!   sees only the first token and the end;
//! - the event log feeds the same report aggregator and invariant checker as
//!   in simulation (`GET /admin/report`, `--report DIR` on shutdown).
//!
//! Before the first byte reaches the client, any failure fails over unseen.
//! After it, the request is committed (`Executor::on_first_token`): a
//! failure ends the stream with an error event and no `[DONE]`, so a cut
//! answer never looks complete. A non-streamed request never gets a
//! truncated body: its answer is forwarded only when it arrived whole.
//!
//! # Where things happen
//! - `driver` — the executor's thread: submit, attempts, wakes, answers.
//! - `upstream` — one HTTP attempt: dialects, cut-offs, classification, and
//!   the chaos faults carried out on it.
//! - `chaos` — chaos rules: the format, which attempt meets which fault.
//! - `server` — the axum routes, client keys, admin token, error shape.
//! - `serve_sim` — `windtunnel serve-sim`: the simulated endpoints over HTTP.
//! - `request` — a client's call → the core `Request` (tokens, headers).
//! - `metrics` — `/metrics`.
//! - `record` — `--record`: served traffic as a trace.
//! - `load` — `windtunnel load`: open-loop replay of a trace against a URL.
//! - `secret` — keys that never print.
//! - `clock` — milliseconds since start, the executor's clock.
//!
//! # Dependencies
//! - tokio: the runtime, timers, channels and signals.
//! - axum: the HTTP server (hyper underneath).
//! - reqwest (rustls with ring): the HTTP client for upstreams.
//! - futures-util: the stream behind a server-sent-event body.
//! - bytes, serde_json: bodies.
//! - thiserror: [`ProxyError`].
//! - windtunnel-harness: the invariant checker's world and the policy's
//!   description, shared with `run` so live and simulated reports agree.
//! - (tests) wiremock: the upstream conformance suite's mock providers;
//!   tempfile, proptest.

mod chaos;
mod clock;
mod driver;
mod load;
mod metrics;
mod record;
mod request;
mod secret;
mod serve_sim;
mod server;
mod upstream;

pub use chaos::{ChaosFault, ChaosRule, ChaosRules, RuleMatch};
pub use load::{LoadOptions, LoadReport, Percentiles, run_load, synthetic_prompt};
pub use request::DEFAULT_MAX_TOKENS;
pub use secret::Secret;
pub use serve_sim::{router as serve_sim_router, serve as serve_sim};

use clock::LiveClock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use upstream::Upstream;
use windtunnel_config::Scenario;
use windtunnel_report::Report;

/// Why the proxy could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The listen address is not an address.
    #[error("invalid listen address `{0}`, expected an address and port such as 127.0.0.1:8080")]
    Listen(String),
    /// A non-loopback address without client keys.
    #[error(
        "refusing to listen on {addr} without client keys: set {env} to comma-separated keys, or listen on 127.0.0.1"
    )]
    Exposed {
        /// The address.
        addr: SocketAddr,
        /// The variable that would hold the keys.
        env: String,
    },
    /// An upstream's key variable is not set.
    #[error("endpoint `{endpoint}`: environment variable {env} (its api_key_env) is not set")]
    MissingKey {
        /// The endpoint.
        endpoint: String,
        /// The variable.
        env: String,
    },
    /// The policy does not load.
    #[error(transparent)]
    Policy(#[from] windtunnel_policy::PolicyError),
    /// Binding, the runtime, writing the report.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Reads an environment variable: `std::env::var` in the binary, a map in tests.
pub type EnvSource = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How to run the proxy.
pub struct ProxyOptions {
    /// Overrides `[proxy] listen`.
    pub listen: Option<String>,
    /// Where `report.json`, `report.md` and `report.html` go on shutdown.
    pub report_dir: Option<PathBuf>,
    /// The environment (keys are read from it only); injected for tests.
    pub env: EnvSource,
    /// `--record FILE`: write served traffic as a trace; with the flag, prompts too.
    pub record: Option<(PathBuf, bool)>,
    /// The executor's clock runs this many times faster than the wall clock
    /// (breaker windows, backoff, Retry-After, timeouts), to fly with
    /// serve-sim and load at one speed; 1 for live traffic.
    pub speed: f64,
    /// `--chaos FILE`: the chaos rules in force from the start.
    pub chaos: ChaosRules,
}

impl ProxyOptions {
    /// Loopback on a free port, no report, no recording, no keys in the
    /// environment, real time, no chaos: what tests start from.
    pub fn loopback() -> ProxyOptions {
        ProxyOptions {
            listen: Some("127.0.0.1:0".into()),
            report_dir: None,
            env: Box::new(|_| None),
            record: None,
            speed: 1.0,
            chaos: ChaosRules::default(),
        }
    }
}

impl std::fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyOptions").field("listen", &self.listen).field("report_dir", &self.report_dir).finish()
    }
}

/// A running proxy.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<Report, ProxyError>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish, and returns the final
    /// report (also written to the report folder, if one was given).
    pub async fn shutdown(mut self) -> Result<Report, ProxyError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done.await.map_err(|e| ProxyError::Io(std::io::Error::other(e.to_string())))?
    }
}

/// Starts the proxy on the current tokio runtime.
pub async fn start(scenario: Scenario, opts: ProxyOptions) -> Result<Running, ProxyError> {
    let listen = opts.listen.clone().unwrap_or_else(|| scenario.proxy.listen.clone());
    let addr: SocketAddr = listen.parse().map_err(|_| ProxyError::Listen(listen.clone()))?;
    let env = &opts.env;
    let client_keys: Vec<Secret> = env(&scenario.proxy.client_keys_env)
        .map(|v| v.split(',').map(str::trim).filter(|k| !k.is_empty()).map(|k| Secret::new(k.to_string())).collect())
        .unwrap_or_default();
    if !addr.ip().is_loopback() && client_keys.is_empty() {
        return Err(ProxyError::Exposed { addr, env: scenario.proxy.client_keys_env.clone() });
    }
    // The tokenizer's tables, loaded before the first request needs them.
    tokio::task::spawn_blocking(windtunnel_openai::warm_tokenizer).await.ok();
    let admin = env(&scenario.proxy.admin_token_env).filter(|t| !t.is_empty()).map(|t| Arc::new(Secret::new(t)));
    let mut upstreams = Vec::with_capacity(scenario.endpoints.len());
    for e in &scenario.endpoints {
        let Some(u) = &e.upstream else {
            upstreams.push(None);
            continue;
        };
        let key = match &u.api_key_env {
            Some(var) => Some(Secret::new(
                env(var).ok_or_else(|| ProxyError::MissingKey { endpoint: e.id.to_string(), env: var.clone() })?,
            )),
            None => None,
        };
        upstreams.push(Some(Arc::new(Upstream {
            kind: u.kind,
            url: Upstream::endpoint_url(u.kind, &u.base_url),
            model: u.model.clone(),
            key,
            accepts_prefill: u.accepts_prefill,
            cache_prompts: e.prompt_cache.is_some(),
        })));
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| ProxyError::Client(e.to_string()))?;
    let scenario = Arc::new(scenario);
    let recorder = match &opts.record {
        Some((path, prompts)) => Some(record::Recorder::create(path, *prompts)?),
        None => None,
    };
    let driver = driver::spawn(
        scenario.clone(),
        upstreams,
        tokio::runtime::Handle::current(),
        http,
        LiveClock::with_speed(opts.speed),
        recorder,
        opts.chaos.clone(),
    )?;
    let state = server::AppState {
        driver: driver.clone(),
        client_keys: Arc::new(client_keys),
        admin,
        models: Arc::new(scenario.endpoints.iter().map(|e| e.id.to_string()).collect()),
        scenario: scenario.clone(),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let report_dir = opts.report_dir.clone();
    let done = tokio::spawn(async move {
        axum::serve(no_delay(listener), server::router(state))
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await?;
        let (tx, rx) = oneshot::channel();
        let _ = driver.send(driver::DriverMsg::Shutdown { reply: tx });
        let report = rx.await.map_err(|_| std::io::Error::other("the driver stopped before its report"))?;
        if let Some(dir) = report_dir {
            write_report(&dir, &report)?;
        }
        Ok(report)
    });
    Ok(Running { addr, stop: Some(stop_tx), done })
}

/// `proxy --sim URL`: every endpoint without an `upstream` is pointed at
/// serve-sim's route for it under `url` (`URL/<endpoint name>/v1`), in the
/// Anthropic dialect for endpoints whose provider is anthropic, without a key.
pub fn point_at_sim(scenario: &mut Scenario, url: &str) {
    let url = url.trim_end_matches('/');
    for e in &mut scenario.endpoints {
        if e.upstream.is_some() {
            continue;
        }
        let kind = if e.id.provider() == "anthropic" {
            windtunnel_config::UpstreamKind::Anthropic
        } else {
            windtunnel_config::UpstreamKind::OpenAi
        };
        e.upstream = Some(windtunnel_config::UpstreamSpec {
            kind,
            base_url: format!("{url}/{}/v1", e.id),
            model: e.id.to_string(),
            api_key_env: None,
            accepts_prefill: false,
        });
    }
}

/// Writes `report.json`, `report.md` and `report.html` into `dir`.
fn write_report(dir: &std::path::Path, report: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = windtunnel_report::to_json(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json)?;
    std::fs::write(dir.join("report.md"), windtunnel_report::to_markdown(report))?;
    std::fs::write(dir.join("report.html"), windtunnel_report::to_html(report))?;
    Ok(())
}

/// Runs the proxy until SIGINT or SIGTERM, then drains and writes the report.
/// `ready` is called with the bound address once it listens.
pub fn run(scenario: Scenario, opts: ProxyOptions, ready: impl FnOnce(SocketAddr)) -> Result<Report, ProxyError> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let running = start(scenario, opts).await?;
        ready(running.addr);
        shutdown_signal().await;
        running.shutdown().await
    })
}

/// `listener` with Nagle's algorithm off on every connection: a stream's
/// small chunks must leave at once, not wait for the client's delayed ACK
/// (40 ms on Linux, which would swamp every TTFT measured here).
pub fn no_delay(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    })
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
