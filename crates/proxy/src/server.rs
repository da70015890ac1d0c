//! The HTTP face of the proxy (axum): SPEC's routes, headers and OpenAI
//! error shape. `POST /v1/chat/completions` hands the request to the driver
//! and turns what comes back into a JSON answer or a server-sent-event
//! stream; `GET /v1/models`, `GET /healthz`, `GET /metrics` and, behind the
//! admin token, `GET /admin/report` and `GET`/`PUT`/`DELETE /admin/chaos`
//! (with no token configured the admin routes answer 404, as if absent).
//!
//! Client keys: when configured, every `/v1/*` call needs
//! `Authorization: Bearer <one of them>`; when not, a client's bearer token is
//! ignored (and the proxy may only listen on loopback).

use crate::chaos::{ChaosRules, keep_header};
use crate::driver::{ClientEvent, DriverMsg};
use crate::request::{Headers, Incoming};
use crate::secret::Secret;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use windtunnel_config::Scenario;
use windtunnel_openai::{ChatRequest, error_body, sse_data};

/// What every handler shares.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    /// The driver.
    pub(crate) driver: mpsc::UnboundedSender<DriverMsg>,
    /// Keys clients must present; empty = no client auth (loopback only).
    pub(crate) client_keys: Arc<Vec<Secret>>,
    /// The admin token; `None` = no admin routes.
    pub(crate) admin: Option<Arc<Secret>>,
    /// Endpoint names, for `/v1/models`.
    pub(crate) models: Arc<Vec<String>>,
    /// The scenario, to check chaos rules against.
    pub(crate) scenario: Arc<Scenario>,
}

/// The router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/admin/report", get(admin_report))
        .route("/admin/chaos", get(chaos_get).put(chaos_put).delete(chaos_delete))
        .with_state(state)
}

fn error_response(status: u16, message: &str, kind: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = error_body(message, kind, Some(kind)).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

impl Headers for HeaderMap {
    fn get(&self, name: &str) -> Option<String> {
        HeaderMap::get(self, name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
}

fn client_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    state.client_keys.is_empty() || bearer(headers).is_some_and(|t| state.client_keys.iter().any(|k| k.matches(t)))
}

async fn chat(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !client_allowed(&state, &headers) {
        return error_response(401, "missing or unknown client key", "invalid_api_key");
    }
    let chat = match ChatRequest::parse(&body) {
        Ok(c) => c,
        Err(e) => return error_response(400, &e.to_string(), "invalid_request_error"),
    };
    let incoming = match Incoming::new(0, 0, chat, &headers) {
        Ok(i) => i,
        Err(m) => return error_response(400, &m, "invalid_request_error"),
    };
    let mut incoming = incoming;
    incoming.headers = headers
        .iter()
        .filter(|(n, _)| keep_header(n.as_str()))
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let request_id = incoming.request.id().to_string();
    let stream = incoming.request.stream;
    let (tx, mut rx) = mpsc::unbounded_channel();
    if state.driver.send(DriverMsg::Submit { incoming, client: tx }).is_err() {
        return error_response(503, "the proxy is shutting down", "unavailable");
    }
    let Some(first) = rx.recv().await else {
        return error_response(500, "the request ended without an answer", "internal");
    };
    let mut resp = match first {
        ClientEvent::Complete { body, endpoint, attempts, chaos } => {
            let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response();
            set(&mut r, "x-windtunnel-endpoint", &endpoint);
            set(&mut r, "x-windtunnel-attempts", &attempts.to_string());
            set_chaos(&mut r, &chaos);
            r
        }
        ClientEvent::Error { status, kind, message, retry_after_s, attempts, chaos } => {
            let mut r = error_response(status, &message, &kind);
            set(&mut r, "x-windtunnel-attempts", &attempts.to_string());
            set_chaos(&mut r, &chaos);
            if let Some(s) = retry_after_s {
                set(&mut r, "retry-after", &s.to_string());
            }
            r
        }
        ClientEvent::Head { endpoint, attempts, chaos } if stream => {
            let body = futures_util::stream::unfold(Some(rx), |rx| async move {
                let mut rx = rx?;
                let item: Bytes = match rx.recv().await? {
                    ClientEvent::Data(b) => b,
                    ClientEvent::End => return Some((Ok::<_, std::io::Error>(Bytes::from("data: [DONE]\n\n")), None)),
                    ClientEvent::Failed { message } => {
                        // An error event and no [DONE]: a cut answer never looks complete.
                        let e = error_body(&message, "upstream_error", Some("stream_interrupted")).to_string();
                        return Some((Ok(Bytes::from(sse_data(&e))), None));
                    }
                    _ => Bytes::new(),
                };
                Some((Ok(item), Some(rx)))
            });
            let mut r = Response::new(Body::from_stream(body));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            set(&mut r, "x-windtunnel-endpoint", &endpoint);
            set(&mut r, "x-windtunnel-attempts", &attempts.to_string());
            set_chaos(&mut r, &chaos);
            r
        }
        _ => error_response(500, "the request ended without an answer", "internal"),
    };
    set(&mut resp, "x-windtunnel-request-id", &request_id);
    resp
}

/// `x-windtunnel-chaos`: the rules injected, when any was.
fn set_chaos(r: &mut Response, rules: &str) {
    if !rules.is_empty() {
        set(r, "x-windtunnel-chaos", rules);
    }
}

fn set(r: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

async fn models(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !client_allowed(&state, &headers) {
        return error_response(401, "missing or unknown client key", "invalid_api_key");
    }
    let data: Vec<serde_json::Value> = state
        .models
        .iter()
        .map(|m| serde_json::json!({ "id": m, "object": "model", "created": 0, "owned_by": "windtunnel" }))
        .collect();
    axum::Json(serde_json::json!({ "object": "list", "data": data })).into_response()
}

async fn snapshot(state: &AppState) -> Option<crate::driver::Snapshot> {
    let (tx, rx) = oneshot::channel();
    state.driver.send(DriverMsg::Snapshot { reply: tx }).ok()?;
    rx.await.ok()
}

async fn metrics(State(state): State<AppState>) -> Response {
    match snapshot(&state).await {
        Some(s) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics).into_response(),
        None => error_response(503, "the proxy is shutting down", "unavailable"),
    }
}

/// `None` when the admin call may go on; else the answer: 404 with no
/// admin token configured (the routes do not exist), 401 without the token.
fn admin_refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(admin) = &state.admin else { return Some(StatusCode::NOT_FOUND.into_response()) };
    if !bearer(headers).is_some_and(|t| admin.matches(t)) {
        return Some(error_response(401, "missing or wrong admin token", "invalid_api_key"));
    }
    None
}

/// Asks the driver for the rules in force, replacing them first with `update`.
async fn chaos_call(state: &AppState, update: Option<ChaosRules>) -> Response {
    let (tx, rx) = oneshot::channel();
    if state.driver.send(DriverMsg::Chaos { update, reply: tx }).is_err() {
        return error_response(503, "the proxy is shutting down", "unavailable");
    }
    match rx.await {
        Ok(rules) => axum::Json(rules).into_response(),
        Err(_) => error_response(503, "the proxy is shutting down", "unavailable"),
    }
}

async fn chaos_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = admin_refusal(&state, &headers) {
        return r;
    }
    chaos_call(&state, None).await
}

/// Replaces the rule set; a set that does not parse or check is refused
/// with a 400 naming what is wrong, and the rules in force stay.
async fn chaos_put(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = admin_refusal(&state, &headers) {
        return r;
    }
    match ChaosRules::from_json(&body, &state.scenario) {
        Ok(rules) => chaos_call(&state, Some(rules)).await,
        Err(m) => error_response(400, &format!("chaos rules refused, the old ones stay: {m}"), "invalid_request_error"),
    }
}

async fn chaos_delete(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = admin_refusal(&state, &headers) {
        return r;
    }
    chaos_call(&state, Some(ChaosRules::default())).await
}

async fn admin_report(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(r) = admin_refusal(&state, &headers) {
        return r;
    }
    match snapshot(&state).await {
        Some(s) => match windtunnel_report::to_json(&s.report) {
            Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(e) => error_response(500, &e.to_string(), "internal"),
        },
        None => error_response(503, "the proxy is shutting down", "unavailable"),
    }
}
