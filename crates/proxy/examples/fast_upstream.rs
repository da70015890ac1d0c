//! A loopback upstream that answers every chat completion at once with the
//! same small JSON: the stand-in provider of the proxy benchmark
//! (crates/proxy/benches/README.md). `fast_upstream 127.0.0.1:18090`

#![expect(clippy::unwrap_used, clippy::print_stderr, reason = "a benchmark tool")]

use axum::Router;
use axum::routing::post;

const ANSWER: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9}}"#;

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    let app = Router::new()
        .route("/v1/chat/completions", post(|| async { ([("content-type", "application/json")], ANSWER) }));
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    eprintln!("fast upstream on http://{addr}");
    axum::serve(listener, app).await.unwrap();
}
